/* Unit tests for core/hb's text forms: ping paths, hb_set_kv (query strings,
 * CLI flags), NDJSON line framing, and hb_set_kvw, the UDP line's way to set
 * a field: for every key and value it must do exactly what hb_set_kvn does
 * with the same word (same result, same message, same error), say where the
 * word ended, and leave the buffer as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/hb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"cpu",       "mem",    "seq",     "ttl_s",   "exit_code",
                                   "in_flight", "group",  "thermal", "jobs",    "status",
                                   "task_ms",   "nosuch", "backlog", "instance"};

/* One comparison: key, the value's word w, followed in the buffer by tail. */
static void same(const char *key, const char *w, const char *tail, bool bye)
{
    static hb_msg a, b; /* static: 4 KiB of jobs each */
    hb_err ea, eb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    hb_init(&a);
    hb_init(&b);
    a.kind = b.kind = bye ? HB_BYE : HB_BEAT;

    size_t wl = strcspn(w, " \t"); /* the word: what a line's value is */
    char word[64], buf[128];
    assert_true(wl < sizeof word && strlen(w) + strlen(tail) < sizeof buf);
    memcpy(word, w, wl);
    word[wl] = '\0';
    snprintf(buf, sizeof buf, "%s%s", w, tail);
    char before[128];
    memcpy(before, buf, sizeof buf);

    size_t ha = 0, hb = 0, vlen = 999;
    int ra = hb_set_kvn(&a, key, strlen(key), word, wl, &ha, &ea);
    int rb = hb_set_kvw(&b, key, strlen(key), buf, &vlen, &hb, &eb);
    if (ra != rb || vlen != wl || memcmp(&a, &b, sizeof a) != 0 || memcmp(&ea, &eb, sizeof ea))
        fail_msg("key %s value \"%s\" tail \"%s\": kvn %d kvw %d (vlen %zu, word %zu)", key, w,
                 tail, ra, rb, vlen, wl);
    assert_memory_equal(buf, before, sizeof buf);
    assert_int_equal(ha, hb);
}

static void each(const char *w)
{
    static const char *const tails[] = {"", " seq=1", "\tx"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        for (size_t t = 0; t < 3; t++) {
            same(keys[k], w, tails[t], false);
            same(keys[k], w, tails[t], true);
        }
}

static void test_picked_values(void **state)
{
    (void)state;
    static const char *const vals[] = {
        "0.5",
        "1",
        "0",
        "-0",
        "+1",
        "007",
        "1.",
        ".5",
        "1e-3",
        "1E2",
        "0.1e1",
        "nan",
        "inf",
        "-inf",
        "0x10",
        "",
        "-",
        "+",
        "1.2.3",
        "12abc",
        "2 3",
        "3\t4",
        "fair",
        "serious",
        "a,b",
        "gpu-a1",
        "h\xc3\xa9",
        "9007199254740992",
        "9007199254740993",
        "123456789012345678",
        "1234567890123456789",
        "0.123456789012345",
        "0.1234567890123456",
        "99999999999999999999",
        "-5",
        "2147483648",
        "300",
        "86400",
        "1.0",
        "0.999999999999999",
        "1.000000000000001",
        /* text and ids: each byte class the one-pass string scans stop at */
        "a\x7f",
        "\x7f",
        "a\x01b",
        "h\xc2\x85",
        "h\xc2\xa0",
        "h\xc3",
        "\xff",
        "~!",
        "x:y@z_1",
        "a=b",
        "a/b",
    };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        each(vals[i]);
}

static void test_random_values(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789012345678901234567890123456789..--+eEx \tafr"
                                "\x7f\x01\xc3\xa9\x80~:@_";
    uint32_t x = 2463534242u;
    for (int i = 0; i < 4000; i++) {
        char w[24];
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = x % 21;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            w[j] = alpha[x % (sizeof alpha - 1)];
        }
        w[n] = '\0';
        each(w);
    }
}

/* Every field's name is found, and no name one byte away from it is: the
 * table lookup compares keys in whole words, first and last, overlapping. */
static void test_key_names(void **state)
{
    (void)state;
    static hb_msg m;
    hb_err e;
    size_t i = 0;
    for (const char *name; (name = hb_field_name(i)) != NULL; i++) {
        size_t n = strlen(name);
        hb_init(&m);
        m.kind = HB_BYE;
        if (hb_set_kv(&m, name, "nominal", &e) == 1) fail_msg("%s: ignored", name);
        for (size_t j = 0; j < n; j++) {
            char k[32];
            memcpy(k, name, n + 1);
            k[j] = (char)(k[j] ^ 0x01);
            hb_init(&m);
            m.kind = HB_BYE;
            if (hb_set_kv(&m, k, "1", &e) != 1) fail_msg("%s matched a field", k);
        }
        char longer[34];
        snprintf(longer, sizeof longer, "%sx", name);
        assert_int_equal(hb_set_kv(&m, longer, "1", &e), 1);
        snprintf(longer, sizeof longer, "%.*s", (int)n - 1, name);
        if (n > 1) assert_int_equal(hb_set_kv(&m, longer, "1", &e), 1);
    }
    assert_int_equal(i, 20); /* the table's 20 fields, none left out of the walk */
}

static void test_ping_paths(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        int kind;
        bool has_code;
        int code;
    } good[] = {
        {"gpu-17", HB_BEAT, false, 0},        {"gpu-17/", HB_BEAT, false, 0},
        {"gpu-17/start", HB_START, false, 0}, {"gpu-17/start/", HB_START, false, 0},
        {"gpu-17/fail", HB_BYE, true, 1},     {"gpu-17/bye", HB_BYE, true, 0},
        {"gpu-17/3", HB_BYE, true, 3},        {"gpu-17/0", HB_BYE, true, 0},
        {"gpu-17/255", HB_BYE, true, 255},    {"gpu-17/007/", HB_BYE, true, 7},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        hb_msg m;
        hb_err e = {{0}, {0}};
        if (hb_parse_ping_path(good[i].path, &m, &e) != 0)
            fail_msg("%s refused: %s %s", good[i].path, e.field, e.reason);
        assert_string_equal(m.worker_id, "gpu-17");
        assert_int_equal(m.kind, good[i].kind);
        assert_int_equal(!!(m.has & HB_HAS_EXIT_CODE), good[i].has_code);
        if (good[i].has_code) assert_int_equal(m.exit_code, good[i].code);
        assert_int_equal(m.has & ~(uint32_t)HB_HAS_EXIT_CODE, 0);
    }

    static const struct {
        const char *path;
        const char *field;
    } bad[] = {
        {"", "worker_id"},
        {"/", "worker_id"},
        {"/start", "worker_id"},
        {"gpu 17", "worker_id"},
        {"gpu%2017", "worker_id"},
        {"gpu-17?x=1", "worker_id"},
        {"caf\xc3\xa9/start", "worker_id"},
        {"gpu-17/foo", "path"},
        {"gpu-17/START", "path"},
        {"gpu-17/start/x", "path"},
        {"gpu-17/a/b/c", "path"},
        {"gpu-17//", "path"},
        {"gpu-17//start", "path"},
        {"gpu-17/start//", "path"},
        {"gpu-17/3x", "path"},
        {"gpu-17/-", "path"},
        {"gpu-17/256", "exit_code"},
        {"gpu-17/-1", "exit_code"},
        {"gpu-17/99999999999999999999999", "exit_code"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_msg m;
        hb_err e = {{0}, {0}};
        if (hb_parse_ping_path(bad[i].path, &m, &e) != -1)
            fail_msg("ping path '%s' accepted", bad[i].path);
        if (strcmp(e.field, bad[i].field) != 0)
            fail_msg("ping path '%s': error on %s, expected %s", bad[i].path, e.field,
                     bad[i].field);
    }

    char path[200];
    hb_msg m;
    hb_err e;
    memset(path, 'x', 128);
    strcpy(path + 128, "/bye");
    assert_int_equal(hb_parse_ping_path(path, &m, &e), 0);
    assert_int_equal(strlen(m.worker_id), 128);
    memset(path, 'x', 129);
    strcpy(path + 129, "/bye");
    assert_int_equal(hb_parse_ping_path(path, &m, &e), -1);
    assert_string_equal(e.field, "worker_id");
    assert_int_equal(hb_parse_ping_path(NULL, &m, &e), -1);
}

static void test_set_kv(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    memset(&m, 0, sizeof m); /* hb_init leaves the jobs buffer; we compare whole structs below */
    hb_init(&m);

    assert_int_equal(hb_set_kv(&m, "cpu", "0.5", &e), 0);
    assert_true(m.cpu == 0.5 && (m.has & HB_HAS_CPU));
    assert_int_equal(hb_set_kv(&m, "mem", "1e-1", &e), 0);
    assert_true(m.mem == 0.1);
    assert_int_equal(hb_set_kv(&m, "ttl_s", "30", &e), 0);
    assert_int_equal(m.ttl_s, 30);
    assert_true(m.has & HB_HAS_TTL);
    assert_int_equal(hb_set_kv(&m, "thermal", "fair", &e), 0);
    assert_int_equal(m.thermal, HB_THERMAL_FAIR);
    assert_int_equal(hb_set_kv(&m, "group", "x", &e), 0);
    assert_string_equal(m.group, "x");
    assert_int_equal(hb_set_kv(&m, "instance", "h\xc3\xa9:1", &e), 0);
    assert_string_equal(m.instance, "h\xc3\xa9:1");
    assert_int_equal(hb_set_kv(&m, "status", "", &e), 0);
    assert_true(m.has & HB_HAS_STATUS);
    assert_int_equal(hb_set_kv(&m, "seq", "9007199254740992", &e), 0);
    assert_true(m.seq == HB_COUNTER_MAX);
    assert_int_equal(hb_set_kv(&m, "backlog", "7", &e), 0);
    assert_int_equal(hb_set_kv(&m, "capacity", "8", &e), 0);
    assert_int_equal(hb_set_kv(&m, "in_flight", "+2", &e), 0);
    assert_int_equal(hb_set_kv(&m, "requests", "0", &e), 0);
    assert_int_equal(hb_set_kv(&m, "tokens", "11", &e), 0);
    assert_int_equal(hb_set_kv(&m, "cpu_ticks", "12", &e), 0);
    assert_int_equal(hb_set_kv(&m, "mem_available_gb", "3.5", &e), 0);
    assert_int_equal(hb_set_kv(&m, "gpu_mem_active_gb", "1000000", &e), 0);
    /* A heartbeat has no exit code: unknown to it, as in JSON (its wire form
     * would lose it; found by fuzz_query). A bye takes it. */
    static hb_msg was;
    memcpy(&was, &m, sizeof m);
    assert_int_equal(hb_set_kv(&m, "exit_code", "-1", &e), 1);
    assert_memory_equal(&m, &was, sizeof m);
    m.kind = HB_BYE;
    assert_int_equal(hb_set_kv(&m, "exit_code", "-1", &e), 0);
    assert_int_equal(m.exit_code, -1);
    assert_true(m.has & HB_HAS_EXIT_CODE);
    m.kind = HB_BEAT;
    assert_int_equal(hb_set_kv(&m, "worker_id", "w-2", &e), 0);
    assert_string_equal(m.worker_id, "w-2");
    assert_int_equal(m.backlog, 7);
    assert_int_equal(m.capacity, 8);
    assert_int_equal(m.in_flight, 2);
    assert_int_equal(m.tokens, 11);
    assert_int_equal(m.cpu_ticks, 12);
    assert_true(m.mem_available_gb == 3.5);
    assert_true(m.gpu_mem_active_gb == 1e6);

    /* unknown keys are ignored and change nothing */
    hb_msg before = m;
    assert_int_equal(hb_set_kv(&m, "colour", "blue", &e), 1);
    assert_int_equal(hb_set_kv(&m, "CPU", "0.1", &e), 1);
    assert_int_equal(hb_set_kv(&m, "kind", "bye", &e), 1);
    assert_memory_equal(&m, &before, sizeof m);

    static const struct {
        const char *key, *value;
    } bad[] = {
        {"cpu", ""},
        {"cpu", "0.5x"},
        {"cpu", " 0.5"},
        {"cpu", "0.5 "},
        {"cpu", "nan"},
        {"cpu", "inf"},
        {"cpu", "0x1p-1"},
        {"cpu", "1.5"},
        {"cpu", "-0.1"},
        {"cpu", "."},
        {"cpu", "1e"},
        {"mem", "2"},
        {"mem_available_gb", "1e7"},
        {"gpu_mem_active_gb", "abc"},
        {"ttl_s", "0"},
        {"ttl_s", "86401"},
        {"ttl_s", "30.5"},
        {"ttl_s", "30.0"},
        {"ttl_s", "3e1"},
        {"ttl_s", ""},
        {"ttl_s", "-"},
        {"ttl_s", "99999999999999999999999"},
        {"ttl_s", "0x10"},
        {"seq", "-1"},
        {"seq", "9007199254740993"},
        {"backlog", "-5"},
        {"capacity", "x"},
        {"in_flight", "1 "},
        {"requests", "1.0"},
        {"tokens", "++1"},
        {"cpu_ticks", "9223372036854775808"},
        {"thermal", "hot"},
        {"thermal", ""},
        {"thermal", "fair "},
        {"group", ""},
        {"group", "a b"},
        {"worker_id", ""},
        {"worker_id", "a/b"},
        {"instance", ""},
        {"instance", "a\tb"},
        {"instance", "\xc0\xaf"},
        {"status", "line\nbreak"},
        {"status", "\xed\xa0\x80"},
        {"cpu", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_err be = {{0}, {0}};
        if (hb_set_kv(&m, bad[i].key, bad[i].value, &be) != -1)
            fail_msg("%s=%s accepted", bad[i].key, bad[i].value ? bad[i].value : "(null)");
        assert_string_equal(be.field, bad[i].key);
        assert_true(be.reason[0] != '\0');
        /* a refused value leaves the message as it was */
        assert_memory_equal(&m, &before, sizeof m);
    }
    /* exit_code's bounds, on the one kind of message that takes it */
    static hb_msg bye;
    hb_init(&bye);
    bye.kind = HB_BYE;
    const char *bad_codes[] = {"2147483648", "-2147483649", "1.5", ""};
    for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
        hb_err be = {{0}, {0}};
        assert_int_equal(hb_set_kv(&bye, "exit_code", bad_codes[i], &be), -1);
        assert_string_equal(be.field, "exit_code");
        assert_false(bye.has & HB_HAS_EXIT_CODE);
    }

    /* same words as the JSON door */
    assert_int_equal(hb_set_kv(&m, "cpu", "2", &e), -1);
    assert_string_equal(e.reason, "must be a number between 0 and 1");
    assert_int_equal(hb_set_kv(&m, "ttl_s", "0", &e), -1);
    assert_string_equal(e.reason, "must be an integer between 1 and 86400");
}

/* The text form's own number fast paths (hb.c fast_decimal, parse_int) must
 * accept exactly what strtod / strtoll did and give bit-identical values:
 * random decimals and integers of 1-20 digits, signs, leading zeros, "1."
 * and ".5" forms, through hb_set_kv against the plain library calls. */
static void test_set_kv_numbers_match_libc(void **state)
{
    (void)state;
    uint64_t r = 88172645463325252ull; /* xorshift: fixed, repeatable */
    char num[48];
    hb_msg m;
    hb_err e;
    for (int i = 0; i < 200000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int digits = 1 + (int)(r % 20), dot = (int)((r >> 8) % (unsigned)(digits + 2)) - 1;
        int k = 0;
        if ((r >> 20) % 4 == 0) num[k++] = (r >> 22) & 1 ? '-' : '+';
        uint64_t d = r >> 24;
        for (int j = 0; j < digits; j++, d = d / 10 + (r >> (j % 40))) {
            if (j == dot) num[k++] = '.';
            num[k++] = (char)('0' + d % 10);
        }
        if (dot == digits) num[k++] = '.';
        num[k] = '\0';
        bool real = i % 2 == 0;
        hb_init(&m);
        int rc = hb_set_kv(&m, real ? "mem_available_gb" : "tokens", num, &e);
        char *end;
        errno = 0;
        if (real) {
            double want = strtod(num, &end);
            bool ok = *end == '\0' && want >= 0 && want <= HB_GB_MAX;
            if (ok != (rc == 0)) fail_msg("%s: rc %d, strtod says %s", num, rc, ok ? "ok" : "no");
            if (ok && memcmp(&want, &m.mem_available_gb, sizeof want) != 0)
                fail_msg("%s: got %.17g want %.17g", num, m.mem_available_gb, want);
        } else {
            long long want = strtoll(num, &end, 10);
            bool ok = *end == '\0' && errno == 0 && strchr(num, '.') == NULL && want >= 0 &&
                      want <= HB_COUNTER_MAX; /* counters: non-negative */
            if (ok != (rc == 0)) fail_msg("%s: rc %d, strtoll says %s", num, rc, ok ? "ok" : "no");
            if (ok && m.tokens != want)
                fail_msg("%s: got %lld want %lld", num, (long long)m.tokens, want);
        }
    }
}

static void test_ndjson(void **state)
{
    (void)state;
    static const char buf[] = "{\"worker_id\":\"a\"}\n"
                              "\n"
                              "  \t \r\n"
                              "{\"worker_id\":\"b\"}\r\n"
                              "\r\n"
                              "{\"worker_id\":\"c\"}";
    size_t n = sizeof buf - 1, pos = 0, len = 0;
    const char *line = NULL;
    int lineno = 0;
    static const struct {
        int lineno;
        const char *id;
    } want[] = {{1, "a"}, {4, "b"}, {6, "c"}};
    for (size_t i = 0; i < 3; i++) {
        assert_true(hb_ndjson_next(buf, n, &pos, &line, &len, &lineno));
        assert_int_equal(lineno, want[i].lineno);
        assert_true(len > 0 && line[len - 1] == '}'); /* '\r' stripped, no '\n' */
        hb_msg m;
        hb_err e;
        assert_int_equal(hb_parse_heartbeat(line, len, &m, &e), 0);
        assert_string_equal(m.worker_id, want[i].id);
    }
    assert_false(hb_ndjson_next(buf, n, &pos, &line, &len, &lineno));
    assert_int_equal(pos, n);
    assert_false(hb_ndjson_next(buf, n, &pos, &line, &len, &lineno));

    /* final newline and trailing blank lines: no phantom line */
    static const char b2[] = "x\ny\n\n  \n";
    pos = 0;
    lineno = 0;
    assert_true(hb_ndjson_next(b2, sizeof b2 - 1, &pos, &line, &len, &lineno));
    assert_int_equal(len, 1);
    assert_memory_equal(line, "x", 1);
    assert_int_equal(lineno, 1);
    assert_true(hb_ndjson_next(b2, sizeof b2 - 1, &pos, &line, &len, &lineno));
    assert_memory_equal(line, "y", 1);
    assert_int_equal(lineno, 2);
    assert_false(hb_ndjson_next(b2, sizeof b2 - 1, &pos, &line, &len, &lineno));

    /* empty input */
    pos = 0;
    lineno = 0;
    assert_false(hb_ndjson_next("", 0, &pos, &line, &len, &lineno));
    assert_int_equal(lineno, 0);

    /* a bad line does not stop the iteration; its number is reported */
    static const char b3[] = "{\"worker_id\":\"a\"}\n{\"cpu\":2}\n{\"worker_id\":\"c\"}\n";
    pos = 0;
    lineno = 0;
    int ok = 0, bad_line = 0;
    while (hb_ndjson_next(b3, sizeof b3 - 1, &pos, &line, &len, &lineno)) {
        hb_msg m;
        hb_err e;
        if (hb_parse_heartbeat(line, len, &m, &e) == 0)
            ok++;
        else
            bad_line = lineno;
    }
    assert_int_equal(ok, 2);
    assert_int_equal(bad_line, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_paths),
        cmocka_unit_test(test_set_kv),
        cmocka_unit_test(test_set_kv_numbers_match_libc),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_picked_values),
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_key_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
