/*
 * test_hb_write: hb_write_json is the exact inverse of the parsers.
 *
 * Mechanism: build a message by hand, write it, parse the output back with
 * hb_parse_heartbeat (or hb_parse_bye for exit_code) and compare every field;
 * doubles must come back bit-for-bit. The escaping and the short-buffer
 * contract are checked on the raw bytes too, since the parser's validation
 * would refuse some of those strings before we could compare them.
 */
#include "core/hb.h"

#include <cjson/cJSON.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void assert_msg_equal(const hb_msg *a, const hb_msg *b)
{
    assert_int_equal(a->has, b->has);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->worker_id, b->worker_id);
    if (a->has & HB_HAS_GROUP) assert_string_equal(a->group, b->group);
    if (a->has & HB_HAS_INSTANCE) assert_string_equal(a->instance, b->instance);
    if (a->has & HB_HAS_STATUS) assert_string_equal(a->status, b->status);
    if (a->has & HB_HAS_SEQ) assert_true(a->seq == b->seq);
    if (a->has & HB_HAS_TTL) assert_int_equal(a->ttl_s, b->ttl_s);
    if (a->has & HB_HAS_EXIT_CODE) assert_int_equal(a->exit_code, b->exit_code);
    if (a->has & HB_HAS_THERMAL) assert_int_equal(a->thermal, b->thermal);
    /* Bit-for-bit, not within an epsilon: the writer promises a round trip. */
    if (a->has & HB_HAS_CPU) assert_memory_equal(&a->cpu, &b->cpu, sizeof a->cpu);
    if (a->has & HB_HAS_MEM) assert_memory_equal(&a->mem, &b->mem, sizeof a->mem);
    if (a->has & HB_HAS_MEM_AVAIL)
        assert_memory_equal(&a->mem_available_gb, &b->mem_available_gb, sizeof(double));
    if (a->has & HB_HAS_GPU_MEM)
        assert_memory_equal(&a->gpu_mem_active_gb, &b->gpu_mem_active_gb, sizeof(double));
    const struct {
        uint32_t bit;
        int64_t x, y;
    } counters[] = {
        {HB_HAS_BACKLOG, a->backlog, b->backlog},
        {HB_HAS_CAPACITY, a->capacity, b->capacity},
        {HB_HAS_IN_FLIGHT, a->in_flight, b->in_flight},
        {HB_HAS_REQUESTS, a->requests, b->requests},
        {HB_HAS_TOKENS, a->tokens, b->tokens},
        {HB_HAS_CPU_TICKS, a->cpu_ticks, b->cpu_ticks},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        if (a->has & counters[i].bit) assert_true(counters[i].x == counters[i].y);
    /* Absent or not, b's list is well-formed: the parser leaves "" when absent. */
    const hb_msg *j = (a->has & HB_HAS_JOBS) ? a : NULL;
    assert_int_equal(b->njobs, j ? j->njobs : 0);
    assert_int_equal(b->jobs_len, j ? j->jobs_len : 0);
    assert_string_equal(b->jobs, j ? j->jobs : "");
}

/* Write m, check the length contract, parse it back and compare. */
static void round_trip(const hb_msg *m)
{
    char buf[HB_BODY_MAX];
    size_t n = hb_write_json(m, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(n, strlen(buf));
    hb_msg back;
    hb_err err = {{0}, {0}};
    int rc = m->kind == HB_BYE ? hb_parse_bye(buf, n, &back, &err)
                               : hb_parse_heartbeat(buf, n, &back, &err);
    if (rc != 0) fail_msg("parse of %s failed: %s: %s", buf, err.field, err.reason);
    assert_msg_equal(m, &back);
}

static void only_id(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "gpu-17");
    char buf[64];
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), strlen("{\"worker_id\":\"gpu-17\"}"));
    assert_string_equal(buf, "{\"worker_id\":\"gpu-17\"}");
    round_trip(&m);
}

static void fill_every_field(hb_msg *m)
{
    hb_init(m);
    strcpy(m->worker_id, "A-z_0.9:x@y");
    strcpy(m->group, "inference");
    strcpy(m->instance, "3f2a");
    strcpy(m->status, "serving");
    m->seq = HB_COUNTER_MAX;
    m->ttl_s = HB_TTL_MAX_S;
    m->cpu = 0.1;               /* not exact in binary: needs the shortest round trip */
    m->mem = 1.0 / 3.0;         /* needs all 17 digits */
    m->mem_available_gb = 1e-7; /* written with an exponent */
    m->gpu_mem_active_gb = HB_GB_MAX;
    m->thermal = HB_THERMAL_SERIOUS;
    m->backlog = 0;
    m->capacity = 64;
    m->in_flight = 7;
    m->requests = 123456789012345;
    m->tokens = HB_COUNTER_MAX - 1;
    m->cpu_ticks = 1;
    strcpy(m->jobs, "job-1\nq/42");
    m->jobs_len = (uint16_t)strlen(m->jobs);
    m->njobs = 2;
    m->has = HB_HAS_GROUP | HB_HAS_INSTANCE | HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS | HB_HAS_CPU |
             HB_HAS_MEM | HB_HAS_MEM_AVAIL | HB_HAS_GPU_MEM | HB_HAS_THERMAL | HB_HAS_BACKLOG |
             HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT | HB_HAS_REQUESTS | HB_HAS_TOKENS |
             HB_HAS_CPU_TICKS | HB_HAS_JOBS;
}

static void every_field(void **state)
{
    (void)state;
    hb_msg m;
    fill_every_field(&m);
    round_trip(&m);

    /* Integers stay integers, shortest doubles stay short, thermal is a name. */
    char buf[1024];
    assert_true(hb_write_json(&m, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"seq\":9007199254740992,"));
    assert_non_null(strstr(buf, "\"backlog\":0,"));
    assert_non_null(strstr(buf, "\"cpu\":0.1,"));
    assert_non_null(strstr(buf, "\"thermal\":\"serious\""));
    assert_non_null(strstr(buf, "\"jobs\":[\"job-1\",\"q/42\"]"));
    assert_null(strstr(buf, "exit_code"));
    assert_true(strncmp(buf, "{\"worker_id\":", 13) == 0);

    /* Each thermal value round-trips by name. */
    for (int t = HB_THERMAL_NOMINAL; t <= HB_THERMAL_CRITICAL; t++) {
        m.thermal = (uint8_t)t;
        round_trip(&m);
    }
    /* A few more doubles at the edges of the ranges. */
    const double reals[] = {0.0, 1.0, 0.30000000000000004, 5e-324, 0.999999999999999, 1e-300};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        m.cpu = m.mem = reals[i];
        m.mem_available_gb = m.gpu_mem_active_gb = reals[i] * 1e6;
        round_trip(&m);
    }
}

static void bye_exit_code(void **state)
{
    (void)state;
    const int32_t codes[] = {0, 1, 255, -1, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        hb_msg m;
        hb_init(&m);
        m.kind = HB_BYE;
        strcpy(m.worker_id, "w");
        strcpy(m.instance, "i-1");
        m.exit_code = codes[i];
        m.has = HB_HAS_INSTANCE | HB_HAS_EXIT_CODE;
        round_trip(&m);
    }
    /* Without the bit, no exit_code key at all. */
    hb_msg m;
    hb_init(&m);
    m.kind = HB_BYE;
    strcpy(m.worker_id, "w");
    m.exit_code = 3;
    char buf[128];
    assert_true(hb_write_json(&m, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"worker_id\":\"w\"}");
    round_trip(&m);

    /* A bye with every sample field too. */
    fill_every_field(&m);
    m.kind = HB_BYE;
    m.exit_code = 137;
    m.has |= HB_HAS_EXIT_CODE;
    round_trip(&m);
}

static void tricky_strings(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w-1");
    /* Quotes, backslashes, a JSON-looking tail, and 2/3/4-byte UTF-8. */
    strcpy(m.instance, "a\"b\\c\\\\\"d\",\"x\":\"y");
    strcpy(m.status, "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5 \xf0\x9f\x98\x80 /\\u0041");
    m.has = HB_HAS_INSTANCE | HB_HAS_STATUS;
    round_trip(&m);

    /* Strings at their byte limits survive whole. */
    memset(m.worker_id, 'w', HB_ID_MAX);
    m.worker_id[HB_ID_MAX] = '\0';
    memset(m.group, 'g', HB_ID_MAX);
    m.group[HB_ID_MAX] = '\0';
    memset(m.instance, '"', HB_INSTANCE_MAX);
    m.instance[HB_INSTANCE_MAX] = '\0';
    memset(m.status, '\\', HB_STATUS_MAX);
    m.status[HB_STATUS_MAX] = '\0';
    m.has |= HB_HAS_GROUP;
    round_trip(&m);
    /* An empty status is present, not absent. */
    m.status[0] = '\0';
    round_trip(&m);
}

static void set_jobs(hb_msg *m, const char *joined, uint16_t n)
{
    strcpy(m->jobs, joined);
    m->jobs_len = (uint16_t)strlen(joined);
    m->njobs = n;
    m->has |= HB_HAS_JOBS;
}

static void jobs_lists(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w");
    char buf[HB_BODY_MAX];

    /* The empty list is present: written as [], read back as present and empty. */
    set_jobs(&m, "", 0);
    assert_true(hb_write_json(&m, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"worker_id\":\"w\",\"jobs\":[]}");
    round_trip(&m);

    set_jobs(&m, "one", 1);
    assert_true(hb_write_json(&m, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"worker_id\":\"w\",\"jobs\":[\"one\"]}");
    round_trip(&m);

    /* Quotes, backslashes, commas (fine in JSON, not in the text form), UTF-8. */
    set_jobs(&m, "a\"b\nc\\d\ne,f\n\xc3\xa9\xf0\x9f\x98\x80\n\"],[\"", 5);
    round_trip(&m);

    /* At the limits, every byte escaped on the wire: 63 ids of 63 bytes and
     * one of 64 are 64 ids in 4096 bytes joined. */
    char joined[HB_JOBS_BYTES + 1];
    memset(joined, '"', HB_JOBS_BYTES);
    joined[HB_JOBS_BYTES] = '\0';
    for (int i = 1; i < HB_JOBS_MAX; i++)
        joined[i * 64 - 1] = '\n';
    set_jobs(&m, joined, HB_JOBS_MAX);
    round_trip(&m);
    /* 31 ids at 128 bytes and one of 97: 4096 joined. */
    memset(joined, '\\', HB_JOBS_BYTES);
    for (int i = 1; i < 32; i++)
        joined[i * (HB_JOB_ID_MAX + 1) - 1] = '\n';
    set_jobs(&m, joined, 32);
    round_trip(&m);

    /* A bye keeps them too. */
    m.kind = HB_BYE;
    set_jobs(&m, "j1\nj2", 2);
    m.exit_code = 9;
    m.has |= HB_HAS_EXIT_CODE;
    round_trip(&m);
}

/* A list that does not split into njobs ids, or overruns its buffer, is not
 * something the parser could have produced: no half-true wire form. */
static void jobs_inconsistent(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w");
    char buf[256];
    set_jobs(&m, "a\nb", 1);
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    set_jobs(&m, "a", 2);
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    set_jobs(&m, "a", 0);
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    set_jobs(&m, "", 1);
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    set_jobs(&m, "a", 1);
    m.jobs_len = HB_JOBS_BYTES + 1;
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    /* Without the bit the buffer is not looked at. */
    m.has = 0;
    assert_true(hb_write_json(&m, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"worker_id\":\"w\"}");
}

/* Control characters are not valid in any field, so the parser would refuse
 * them; check the escaping itself with a plain JSON parser instead. */
static void control_chars_escaped(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w");
    strcpy(m.status, "\x01tab\there\nnl\x1f\x7f");
    m.has = HB_HAS_STATUS;
    char buf[256];
    size_t n = hb_write_json(&m, buf, sizeof buf);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++)
        assert_true((unsigned char)buf[i] >= 0x20);
    assert_non_null(strstr(buf, "\\u0001tab\\u0009here\\u000anl\\u001f\x7f\""));
    cJSON *doc = cJSON_Parse(buf);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), m.status);
    cJSON_Delete(doc);
}

static void short_buffer(void **state)
{
    (void)state;
    hb_msg m;
    fill_every_field(&m);
    char full[1024];
    size_t n = hb_write_json(&m, full, sizeof full);
    assert_true(n > 0);
    /* Every capacity up to and including n (no room for the NUL) fails, and
     * nothing is written past cap. */
    char buf[1024 + 16];
    for (size_t cap = 0; cap <= n; cap++) {
        memset(buf, 0x5a, sizeof buf);
        assert_int_equal(hb_write_json(&m, buf, cap), 0);
        for (size_t i = cap; i < sizeof buf; i++)
            assert_int_equal((unsigned char)buf[i], 0x5a);
    }
    assert_int_equal(hb_write_json(&m, buf, n + 1), n);
    assert_string_equal(buf, full);
    assert_int_equal(hb_write_json(&m, NULL, 100), 0);
    assert_int_equal(hb_write_json(NULL, buf, sizeof buf), 0);
}

static void unwritable_values(void **state)
{
    (void)state;
    char buf[256];
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w");
    m.cpu = NAN;
    m.has = HB_HAS_CPU;
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    m.cpu = INFINITY;
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    m.has = HB_HAS_THERMAL;
    m.thermal = HB_THERMAL_NONE;
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
    m.thermal = 200;
    assert_int_equal(hb_write_json(&m, buf, sizeof buf), 0);
}

/* A host program of libvigil may run under a locale with a decimal comma. */
static void decimal_comma_locale(void **state)
{
    (void)state;
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *got = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !got; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    if (!got) skip(); /* no such locale installed here */
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, "w");
    m.cpu = 0.25;
    m.has = HB_HAS_CPU;
    char buf[128];
    size_t n = hb_write_json(&m, buf, sizeof buf);
    setlocale(LC_NUMERIC, "C");
    assert_true(n > 0);
    assert_string_equal(buf, "{\"worker_id\":\"w\",\"cpu\":0.25}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_id),
        cmocka_unit_test(every_field),
        cmocka_unit_test(bye_exit_code),
        cmocka_unit_test(tricky_strings),
        cmocka_unit_test(jobs_lists),
        cmocka_unit_test(jobs_inconsistent),
        cmocka_unit_test(control_chars_escaped),
        cmocka_unit_test(short_buffer),
        cmocka_unit_test(unwritable_values),
        cmocka_unit_test(decimal_comma_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
