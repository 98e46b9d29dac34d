/*
 * Unit tests for core/hb: JSON heartbeat/bye parsing, validation rules and
 * UTF-8. The text forms (ping paths, hb_set_kv, NDJSON lines): test_hb_text.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hb.h"
#include "core/hb_json.h"

/* Parse a NUL-terminated body. */
static int beat(const char *json, hb_msg *m, hb_err *e)
{
    return hb_parse_heartbeat(json, strlen(json), m, e);
}

/* Assert that `json` is refused, naming `field`. */
static void expect_fail(const char *json, const char *field)
{
    hb_msg m;
    hb_err e = {{0}, {0}};
    int rc = beat(json, &m, &e);
    if (rc != -1) fail_msg("accepted %s (expected error on %s)", json, field);
    if (strcmp(e.field, field) != 0)
        fail_msg("%s: error on '%s' (%s), expected '%s'", json, e.field, e.reason, field);
    if (e.reason[0] == '\0') fail_msg("%s: empty reason", json);
}

static void expect_ok(const char *json, hb_msg *m)
{
    hb_err e = {{0}, {0}};
    if (beat(json, m, &e) != 0) fail_msg("%s refused: %s %s", json, e.field, e.reason);
}

static void test_full_heartbeat(void **state)
{
    (void)state;
    hb_msg m;
    expect_ok("{\"worker_id\":\"gpu-17\",\"group\":\"train.a\",\"instance\":\"host:42\","
              "\"status\":\"epoch 3\",\"seq\":12,\"ttl_s\":30,\"cpu\":0.25,\"mem\":0.5,"
              "\"mem_available_gb\":12.5,\"gpu_mem_active_gb\":70.25,\"thermal\":\"serious\","
              "\"backlog\":4,\"capacity\":8,\"in_flight\":2,\"requests\":1000,"
              "\"tokens\":123456789,\"cpu_ticks\":9007199254740992}",
              &m);
    assert_int_equal(m.kind, HB_BEAT);
    assert_string_equal(m.worker_id, "gpu-17");
    assert_string_equal(m.group, "train.a");
    assert_string_equal(m.instance, "host:42");
    assert_string_equal(m.status, "epoch 3");
    assert_int_equal(m.seq, 12);
    assert_int_equal(m.ttl_s, 30);
    assert_true(m.cpu == 0.25);
    assert_true(m.mem == 0.5);
    assert_true(m.mem_available_gb == 12.5);
    assert_true(m.gpu_mem_active_gb == 70.25);
    assert_int_equal(m.thermal, HB_THERMAL_SERIOUS);
    assert_int_equal(m.backlog, 4);
    assert_int_equal(m.capacity, 8);
    assert_int_equal(m.in_flight, 2);
    assert_int_equal(m.requests, 1000);
    assert_int_equal(m.tokens, 123456789);
    assert_true(m.cpu_ticks == HB_COUNTER_MAX);
    uint32_t all = HB_HAS_GROUP | HB_HAS_INSTANCE | HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS |
                   HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL | HB_HAS_GPU_MEM | HB_HAS_THERMAL |
                   HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT | HB_HAS_REQUESTS |
                   HB_HAS_TOKENS | HB_HAS_CPU_TICKS;
    assert_int_equal(m.has, all);
}

static void test_only_worker_id(void **state)
{
    (void)state;
    hb_msg m;
    memset(&m, 0xAB, sizeof m); /* the parser must not rely on a zeroed output */
    expect_ok("{\"worker_id\":\"w1\"}", &m);
    assert_string_equal(m.worker_id, "w1");
    assert_int_equal(m.has, 0);
    assert_int_equal(m.kind, HB_BEAT);
    assert_int_equal(m.thermal, HB_THERMAL_NONE);
    assert_string_equal(m.group, "");
}

static void test_unknown_fields_and_null(void **state)
{
    (void)state;
    hb_msg m;
    expect_ok("{\"worker_id\":\"w1\",\"colour\":\"blue\",\"nested\":{\"a\":[1,2,{}]},"
              "\"CPU\":7,\"exit_code\":\"not-a-heartbeat-field\"}",
              &m);
    assert_int_equal(m.has, 0); /* keys are case-sensitive; exit_code is bye-only */

    expect_ok("{\"worker_id\":\"w1\",\"cpu\":null,\"group\":null,\"ttl_s\":null,"
              "\"thermal\":null,\"status\":null}",
              &m);
    assert_int_equal(m.has, 0);

    expect_fail("{\"worker_id\":null}", "worker_id");
    expect_fail("{}", "worker_id");
    expect_fail("{\"cpu\":0.5}", "worker_id");
}

static void test_required_reason(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    assert_int_equal(beat("{\"cpu\":0.5}", &m, &e), -1);
    assert_string_equal(e.field, "worker_id");
    assert_string_equal(e.reason, "is required");
    assert_int_equal(beat("{\"worker_id\":\"a\",\"cpu\":2}", &m, &e), -1);
    assert_string_equal(e.field, "cpu");
    assert_string_equal(e.reason, "must be a number between 0 and 1");
    assert_int_equal(beat("{\"worker_id\":\"a\",\"ttl_s\":0}", &m, &e), -1);
    assert_string_equal(e.reason, "must be an integer between 1 and 86400");
    assert_int_equal(beat("{\"worker_id\":\"a\",\"backlog\":-1}", &m, &e), -1);
    assert_string_equal(e.reason, "must be a non-negative integer");
    assert_int_equal(beat("{\"worker_id\":\"a b\"}", &m, &e), -1);
    assert_string_equal(e.reason, "must be 1-128 bytes of [A-Za-z0-9._:@-]");
}

/* Every field: at least one value of the wrong JSON type and one out of range. */
static void test_every_field_type_and_range(void **state)
{
    (void)state;
    static const struct {
        const char *kv;
        const char *field;
    } cases[] = {
        {"\"worker_id\":5", "worker_id"},
        {"\"worker_id\":\"\"", "worker_id"},
        {"\"group\":true", "group"},
        {"\"group\":\"a/b\"", "group"},
        {"\"group\":\"\"", "group"},
        {"\"instance\":[]", "instance"},
        {"\"instance\":\"\"", "instance"},
        {"\"instance\":\"tab\\there\"", "instance"},
        {"\"instance\":\"del\\u007f\"", "instance"},
        {"\"instance\":\"c1\\u0085\"", "instance"},
        {"\"status\":{}", "status"},
        {"\"status\":\"line\\nbreak\"", "status"},
        {"\"status\":\"0123456789012345678901234567890123456789012345678901234567890123X\"",
         "status"},
        {"\"seq\":\"1\"", "seq"},
        {"\"seq\":-1", "seq"},
        {"\"seq\":1.5", "seq"},
        {"\"seq\":9007199254740994", "seq"},
        {"\"ttl_s\":\"30\"", "ttl_s"},
        {"\"ttl_s\":0", "ttl_s"},
        {"\"ttl_s\":86401", "ttl_s"},
        {"\"ttl_s\":3.5", "ttl_s"},
        {"\"ttl_s\":1e400", "ttl_s"},
        {"\"cpu\":\"0.5\"", "cpu"},
        {"\"cpu\":1.01", "cpu"},
        {"\"cpu\":-0.01", "cpu"},
        {"\"cpu\":1e400", "cpu"},
        {"\"mem\":false", "mem"},
        {"\"mem\":2", "mem"},
        {"\"mem_available_gb\":\"1\"", "mem_available_gb"},
        {"\"mem_available_gb\":1000001", "mem_available_gb"},
        {"\"mem_available_gb\":-1", "mem_available_gb"},
        {"\"gpu_mem_active_gb\":[1]", "gpu_mem_active_gb"},
        {"\"gpu_mem_active_gb\":1e7", "gpu_mem_active_gb"},
        {"\"thermal\":1", "thermal"},
        {"\"thermal\":\"hot\"", "thermal"},
        {"\"thermal\":\"Nominal\"", "thermal"},
        {"\"thermal\":\"\"", "thermal"},
        {"\"backlog\":\"4\"", "backlog"},
        {"\"backlog\":-1", "backlog"},
        {"\"capacity\":true", "capacity"},
        {"\"capacity\":-3", "capacity"},
        {"\"in_flight\":\"x\"", "in_flight"},
        {"\"in_flight\":0.5", "in_flight"},
        {"\"requests\":{}", "requests"},
        {"\"requests\":1e300", "requests"},
        {"\"tokens\":[]", "tokens"},
        {"\"tokens\":-1", "tokens"},
        {"\"cpu_ticks\":\"1\"", "cpu_ticks"},
        {"\"cpu_ticks\":9007199254740994", "cpu_ticks"},
        /* an object's own keys must not hide the member's key (it was ignored) */
        {"\"status\":{\"k\":1}", "status"},
        {"\"requests\":{\"x\":[{\"y\":2}]}", "requests"},
        {"\"jobs\":\"a\"", "jobs"},
        {"\"jobs\":[1]", "jobs"},
        {"\"jobs\":[\"\"]", "jobs"},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* worker_id first so the case's own key decides the outcome */
        if (strncmp(cases[i].kv, "\"worker_id\"", 11) == 0)
            snprintf(buf, sizeof buf, "{%s}", cases[i].kv);
        else
            snprintf(buf, sizeof buf, "{\"worker_id\":\"w\",%s}", cases[i].kv);
        expect_fail(buf, cases[i].field);
    }
}

static void test_boundaries_accepted(void **state)
{
    (void)state;
    hb_msg m;
    expect_ok("{\"worker_id\":\"w\",\"ttl_s\":1,\"cpu\":0,\"mem\":1,\"seq\":0,"
              "\"mem_available_gb\":1000000,\"gpu_mem_active_gb\":0,\"status\":\"\"}",
              &m);
    assert_int_equal(m.ttl_s, 1);
    assert_true(m.mem == 1.0);
    assert_true(m.mem_available_gb == 1e6);
    assert_true(m.has & HB_HAS_STATUS);
    assert_string_equal(m.status, "");

    /* An integer field takes a number without a fractional part, in any notation. */
    expect_ok("{\"worker_id\":\"w\",\"ttl_s\":86400.0,\"backlog\":1e3}", &m);
    assert_int_equal(m.ttl_s, 86400);
    assert_int_equal(m.backlog, 1000);

    /* 64-byte status is the maximum. */
    expect_ok("{\"worker_id\":\"w\",\"status\":"
              "\"0123456789012345678901234567890123456789012345678901234567890123\"}",
              &m);
    assert_int_equal(strlen(m.status), 64);

    for (int t = HB_THERMAL_NOMINAL; t <= HB_THERMAL_CRITICAL; t++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"worker_id\":\"w\",\"thermal\":\"%s\"}", hb_thermal_name(t));
        expect_ok(buf, &m);
        assert_int_equal(m.thermal, t);
    }
    assert_string_equal(hb_thermal_name(HB_THERMAL_NONE), "");
    assert_string_equal(hb_thermal_name(HB_THERMAL_FAIR), "fair");
    assert_string_equal(hb_thermal_name(99), "");
    assert_string_equal(hb_thermal_name(-1), "");
}

static void test_ids(void **state)
{
    (void)state;
    char id[200], buf[512];
    hb_msg m;

    memset(id, 'a', 128);
    id[128] = '\0';
    snprintf(buf, sizeof buf, "{\"worker_id\":\"%s\",\"group\":\"%s\"}", id, id);
    expect_ok(buf, &m);
    assert_int_equal(strlen(m.worker_id), 128);
    assert_int_equal(strlen(m.group), 128);

    memset(id, 'a', 129);
    id[129] = '\0';
    snprintf(buf, sizeof buf, "{\"worker_id\":\"%s\"}", id);
    expect_fail(buf, "worker_id");
    snprintf(buf, sizeof buf, "{\"worker_id\":\"w\",\"group\":\"%s\"}", id);
    expect_fail(buf, "group");

    /* Longer than the JSON scanner keeps of a string it decodes (an escape
     * in it): it keeps 512 bytes and the length, and the field refuses the
     * length (tests/fuzz/corpus/fuzz_hb/long-escaped-instance: read before
     * the length was checked, it ran past the buffer). */
    static char big[3 * HBJ_STR_CAP], body[4 * HBJ_STR_CAP];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "\\u0041", 6);
    big[sizeof big - 1] = '\0';
    static const char *const named[] = {"group", "instance", "status"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"worker_id\":\"w\",\"%s\":\"%s\"}", named[i], big);
        expect_fail(body, named[i]);
    }

    expect_ok("{\"worker_id\":\"Az09._:@-\"}", &m);
    expect_fail("{\"worker_id\":\"\"}", "worker_id");
    expect_fail("{\"worker_id\":\"a b\"}", "worker_id");
    expect_fail("{\"worker_id\":\"a/b\"}", "worker_id");
    expect_fail("{\"worker_id\":\"caf\xc3\xa9\"}", "worker_id");
    expect_fail("{\"worker_id\":\"a%20b\"}", "worker_id");

    /* hb_id_valid against a straightforward reference, every byte value */
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        bool want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        if (hb_id_valid(s, 1) != want) fail_msg("hb_id_valid wrong for byte %d", c);
    }
    assert_false(hb_id_valid("", 0));
    assert_false(hb_id_valid(NULL, 3));
}

static void test_embedded_nul(void **state)
{
    (void)state;
    hb_msg m;
    expect_fail("{\"worker_id\":\"ab\\u0000cd\"}", "worker_id");
    expect_fail("{\"worker_id\":\"ab\\u0000\"}", "worker_id");
    expect_fail("{\"worker_id\":\"w\",\"group\":\"g\\u0000\"}", "group");
    expect_fail("{\"worker_id\":\"w\",\"instance\":\"i\\u0000x\"}", "instance");
    expect_fail("{\"worker_id\":\"w\",\"status\":\"\\u0000\"}", "status");
    expect_fail("{\"worker_id\":\"w\",\"thermal\":\"fair\\u0000\"}", "thermal");

    /* A key with a NUL is not the key before it. */
    expect_ok("{\"worker_id\":\"w\",\"cpu\\u0000\":5}", &m);
    assert_false(m.has & HB_HAS_CPU);
    /* NUL inside an unknown field is nobody's business. */
    expect_ok("{\"worker_id\":\"w\",\"note\":\"x\\u0000y\"}", &m);
    /* An escaped backslash followed by "u0000" is six plain characters. */
    expect_ok("{\"worker_id\":\"w\",\"instance\":\"x\\\\u0000\"}", &m);
    assert_string_equal(m.instance, "x\\u0000");

    /* A raw NUL byte is not JSON at all. */
    static const char raw[] = "{\"worker_id\":\"ab\0cd\"}";
    hb_err e;
    assert_int_equal(hb_parse_heartbeat(raw, sizeof raw - 1, &m, &e), -1);
    assert_string_equal(e.field, "json");
}

static void test_utf8_bodies(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{\"worker_id\":\"w\",\"instance\":\"\xc0\xaf\"}",         /* overlong '/' */
        "{\"worker_id\":\"w\",\"instance\":\"\xe0\x80\xaf\"}",     /* overlong 3-byte */
        "{\"worker_id\":\"w\",\"instance\":\"\xf0\x80\x80\xaf\"}", /* overlong 4-byte */
        "{\"worker_id\":\"w\",\"instance\":\"\xed\xa0\x80\"}",     /* surrogate U+D800 */
        "{\"worker_id\":\"w\",\"instance\":\"\xed\xbf\xbf\"}",     /* surrogate U+DFFF */
        "{\"worker_id\":\"w\",\"instance\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
        "{\"worker_id\":\"w\",\"instance\":\"\xe2\x82\"}",         /* truncated */
        "{\"worker_id\":\"w\",\"instance\":\"\x80\"}",             /* stray continuation */
        "{\"worker_id\":\"w\",\"instance\":\"\xff\"}",
        "{\"worker_id\":\"w\",\"x\":1}\xe2\x82", /* truncated at the very end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_msg m;
        hb_err e;
        assert_int_equal(beat(bad[i], &m, &e), -1);
        assert_string_equal(e.field, "body");
        assert_string_equal(e.reason, "invalid UTF-8");
    }

    hb_msg m;
    expect_ok("{\"worker_id\":\"w\",\"instance\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
              "\"status\":\"\xe6\x97\xa5\xe6\x9c\xac\"}",
              &m);
    assert_string_equal(m.instance, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(m.status, "\xe6\x97\xa5\xe6\x9c\xac");
    /* A JSON escape of a non-BMP character arrives as UTF-8. */
    expect_ok("{\"worker_id\":\"w\",\"instance\":\"\\ud83d\\ude00\"}", &m);
    assert_string_equal(m.instance, "\xf0\x9f\x98\x80");
    /* ...and a lone surrogate escape is not JSON cJSON accepts. */
    expect_fail("{\"worker_id\":\"w\",\"instance\":\"\\ud800\"}", "json");
}

static void test_utf8_valid_direct(void **state)
{
    (void)state;
    assert_true(hb_utf8_valid("", 0));
    assert_true(hb_utf8_valid(NULL, 0));
    assert_true(hb_utf8_valid("plain ascii", 11));
    assert_true(hb_utf8_valid("\xc2\x80", 2));         /* U+0080 */
    assert_true(hb_utf8_valid("\xdf\xbf", 2));         /* U+07FF */
    assert_true(hb_utf8_valid("\xe0\xa0\x80", 3));     /* U+0800 */
    assert_true(hb_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    assert_true(hb_utf8_valid("\xee\x80\x80", 3));     /* U+E000 */
    assert_true(hb_utf8_valid("\xef\xbf\xbf", 3));     /* U+FFFF */
    assert_true(hb_utf8_valid("\xf0\x90\x80\x80", 4)); /* U+10000 */
    assert_true(hb_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    assert_true(hb_utf8_valid("a\0b", 3));             /* NUL is well-formed */

    assert_false(hb_utf8_valid("\xc0\xaf", 2));
    assert_false(hb_utf8_valid("\xc1\xbf", 2));
    assert_false(hb_utf8_valid("\xe0\x9f\xbf", 3));
    assert_false(hb_utf8_valid("\xf0\x8f\xbf\xbf", 4));
    assert_false(hb_utf8_valid("\xed\xa0\x80", 3));
    assert_false(hb_utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(hb_utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(hb_utf8_valid("\xc2", 1));
    assert_false(hb_utf8_valid("\xe2\x82", 2));
    assert_false(hb_utf8_valid("\xf0\x9f\x98", 3));
    assert_false(hb_utf8_valid("\xe2\x82"
                               "A",
                               3)); /* bad continuation */
    assert_false(hb_utf8_valid("\xc2\xc2\x80", 3));
    /* n is honoured: the bad byte just past n does not count */
    assert_true(hb_utf8_valid("abc\xff", 3));
    assert_false(hb_utf8_valid("\xe2\x82\xac", 2));

    /* One bad byte at every offset of a long ASCII run, through the 8-byte
     * fast path and its tail. */
    char buf[40];
    for (size_t at = 0; at < sizeof buf; at++) {
        memset(buf, 'x', sizeof buf);
        assert_true(hb_utf8_valid(buf, sizeof buf));
        buf[at] = (char)0x80;
        if (hb_utf8_valid(buf, sizeof buf)) fail_msg("stray 0x80 at %zu accepted", at);
        /* and a valid 3-byte char at every offset */
        if (at + 3 <= sizeof buf) {
            memcpy(buf + at, "\xe2\x82\xac", 3);
            if (!hb_utf8_valid(buf, sizeof buf)) fail_msg("euro at %zu refused", at);
        }
    }
}

static void test_body_size(void **state)
{
    (void)state;
    size_t n = HB_BODY_MAX + 1;
    char *body = malloc(n);
    assert_non_null(body);
    static const char head[] = "{\"worker_id\":\"w\"}";
    memcpy(body, head, sizeof head - 1);
    memset(body + sizeof head - 1, ' ', n - (sizeof head - 1));

    hb_msg m;
    hb_err e;
    assert_int_equal(hb_parse_heartbeat(body, n, &m, &e), -1);
    assert_string_equal(e.field, "body");
    assert_non_null(strstr(e.reason, "64 KiB"));

    /* exactly at the limit is fine */
    assert_int_equal(hb_parse_heartbeat(body, HB_BODY_MAX, &m, &e), 0);
    assert_string_equal(m.worker_id, "w");
    free(body);
}

static void test_malformed_json(void **state)
{
    (void)state;
    expect_fail("{\"worker_id\":\"w\"", "json");
    expect_fail("{\"worker_id\":\"w\",}", "json");
    expect_fail("{worker_id:\"w\"}", "json");
    expect_fail("", "json");
    expect_fail("   ", "json");
    expect_fail("{\"worker_id\":\"w\"} {}", "json"); /* two documents */
    expect_fail("{\"worker_id\":\"w\"} x", "json");
    expect_fail("[{\"worker_id\":\"w\"}]", "json");
    expect_fail("\"w\"", "json");
    expect_fail("42", "json");
    expect_fail("null", "json");

    hb_msg m;
    hb_err e;
    assert_int_equal(beat("[1,2]", &m, &e), -1);
    assert_string_equal(e.reason, "must be a JSON object");
    assert_int_equal(beat("{\"a\":}", &m, &e), -1);
    assert_non_null(strstr(e.reason, "not valid JSON"));

    /* trailing whitespace and newline are not junk */
    expect_ok("{\"worker_id\":\"w\"}\r\n", &m);
    expect_ok("  {\"worker_id\":\"w\"}\t", &m);
    assert_int_equal(hb_parse_heartbeat(NULL, 0, &m, &e), -1);
    assert_string_equal(e.field, "json");
}

/* Nesting in an unknown field: accepted or refused, but never a crash. */
static void test_deep_nesting(void **state)
{
    (void)state;
    static const int depths[] = {10, 900, 1001, 30000};
    for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
        int depth = depths[d];
        size_t cap = 64 + 2 * (size_t)depth;
        char *body = malloc(cap);
        assert_non_null(body);
        size_t n = (size_t)sprintf(body, "{\"worker_id\":\"w\",\"deep\":");
        memset(body + n, '[', (size_t)depth);
        n += (size_t)depth;
        memset(body + n, ']', (size_t)depth);
        n += (size_t)depth;
        body[n++] = '}';

        hb_msg m;
        hb_err e;
        int rc = hb_parse_heartbeat(body, n, &m, &e);
        if (rc == 0)
            assert_string_equal(m.worker_id, "w");
        else
            assert_string_equal(e.field, "json");
        if (depth <= 900) assert_int_equal(rc, 0);
        free(body);
    }
}

static void test_bye(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    const char *with = "{\"worker_id\":\"w\",\"exit_code\":3,\"cpu\":0.5}";
    assert_int_equal(hb_parse_bye(with, strlen(with), &m, &e), 0);
    assert_int_equal(m.kind, HB_BYE);
    assert_true(m.has & HB_HAS_EXIT_CODE);
    assert_int_equal(m.exit_code, 3);
    assert_true(m.has & HB_HAS_CPU);
    assert_true(m.cpu == 0.5);

    const char *without = "{\"worker_id\":\"w\"}";
    assert_int_equal(hb_parse_bye(without, strlen(without), &m, &e), 0);
    assert_int_equal(m.kind, HB_BYE);
    assert_false(m.has & HB_HAS_EXIT_CODE);

    const char *null_code = "{\"worker_id\":\"w\",\"exit_code\":null}";
    assert_int_equal(hb_parse_bye(null_code, strlen(null_code), &m, &e), 0);
    assert_false(m.has & HB_HAS_EXIT_CODE);

    const char *lo = "{\"worker_id\":\"w\",\"exit_code\":-2147483648}";
    assert_int_equal(hb_parse_bye(lo, strlen(lo), &m, &e), 0);
    assert_int_equal(m.exit_code, INT32_MIN);
    const char *hi = "{\"worker_id\":\"w\",\"exit_code\":2147483647}";
    assert_int_equal(hb_parse_bye(hi, strlen(hi), &m, &e), 0);
    assert_int_equal(m.exit_code, INT32_MAX);

    static const char *bad[] = {
        "{\"worker_id\":\"w\",\"exit_code\":\"3\"}",
        "{\"worker_id\":\"w\",\"exit_code\":true}",
        "{\"worker_id\":\"w\",\"exit_code\":2147483648}",
        "{\"worker_id\":\"w\",\"exit_code\":-2147483649}",
        "{\"worker_id\":\"w\",\"exit_code\":1.5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hb_parse_bye(bad[i], strlen(bad[i]), &m, &e), -1);
        assert_string_equal(e.field, "exit_code");
    }
    /* the heartbeat rules still apply to a bye */
    const char *badcpu = "{\"worker_id\":\"w\",\"cpu\":9}";
    assert_int_equal(hb_parse_bye(badcpu, strlen(badcpu), &m, &e), -1);
    assert_string_equal(e.field, "cpu");
    const char *noid = "{\"exit_code\":0}";
    assert_int_equal(hb_parse_bye(noid, strlen(noid), &m, &e), -1);
    assert_string_equal(e.field, "worker_id");

    /* a heartbeat ignores exit_code rather than half-accepting it */
    expect_ok("{\"worker_id\":\"w\",\"exit_code\":3}", &m);
    assert_int_equal(m.kind, HB_BEAT);
    assert_false(m.has & HB_HAS_EXIT_CODE);
}

static void test_fail_helper(void **state)
{
    (void)state;
    hb_err e;
    assert_int_equal(hb_fail(&e, "cpu", "bad"), -1);
    assert_string_equal(e.field, "cpu");
    assert_string_equal(e.reason, "bad");
    assert_int_equal(hb_fail(&e, NULL, NULL), -1);
    assert_string_equal(e.field, "");
    assert_string_equal(e.reason, "");
    assert_int_equal(hb_fail(NULL, "x", "y"), -1);
    char longr[400];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    hb_fail(&e, "f", longr);
    assert_int_equal(strlen(e.reason), sizeof e.reason - 1);

    hb_msg m;
    memset(&m, 0x5A, sizeof m);
    hb_init(&m);
    assert_int_equal(m.has, 0);
    assert_int_equal(m.kind, HB_BEAT);
    assert_string_equal(m.worker_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_heartbeat),
        cmocka_unit_test(test_only_worker_id),
        cmocka_unit_test(test_unknown_fields_and_null),
        cmocka_unit_test(test_required_reason),
        cmocka_unit_test(test_every_field_type_and_range),
        cmocka_unit_test(test_boundaries_accepted),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_utf8_bodies),
        cmocka_unit_test(test_utf8_valid_direct),
        cmocka_unit_test(test_body_size),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_bye),
        cmocka_unit_test(test_fail_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
