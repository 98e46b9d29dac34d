/*
 * Unit tests for the jobs field of core/hb: the JSON door (heartbeat and
 * bye), the text door (hb_set_kv) and that both refuse with the same words.
 * Kept apart from test_hb.c, which is long enough already.
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

#define R_ARRAY "must be an array of strings"
#define R_MANY "has more than 64 job ids"
#define R_ID "has a job id that is not 1-128 bytes of UTF-8 without control characters"
#define R_TOTAL "must total at most 4096 bytes (ids joined by newlines)"

/* Big enough for 64 ids at their limit, quoted, plus the rest of a body. */
static char body[HB_BODY_MAX];

static int beat(const char *json, hb_msg *m, hb_err *e)
{
    return hb_parse_heartbeat(json, strlen(json), m, e);
}

static void expect_ok(const char *json, hb_msg *m)
{
    hb_err e = {{0}, {0}};
    if (beat(json, m, &e) != 0) fail_msg("%.200s refused: %s %s", json, e.field, e.reason);
}

/* Refused on field jobs with exactly `reason`. */
static void expect_jobs_fail(const char *json, const char *reason)
{
    hb_msg m;
    hb_err e = {{0}, {0}};
    if (beat(json, &m, &e) != -1) fail_msg("accepted %.200s", json);
    if (strcmp(e.field, "jobs") != 0 || strcmp(e.reason, reason) != 0)
        fail_msg("%.200s: '%s' %s, expected jobs %s", json, e.field, e.reason, reason);
}

/* {"worker_id":"w","jobs":[ n ids of `len` bytes of `c` ]} into body. */
static const char *jobs_body(size_t n, size_t len, char c)
{
    size_t at = (size_t)snprintf(body, sizeof body, "{\"worker_id\":\"w\",\"jobs\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) body[at++] = ',';
        body[at++] = '"';
        memset(body + at, c, len);
        at += len;
        body[at++] = '"';
    }
    snprintf(body + at, sizeof body - at, "]}");
    return body;
}

static void test_valid_list(void **state)
{
    (void)state;
    hb_msg m;
    expect_ok("{\"worker_id\":\"w\",\"jobs\":[\"job-1\", \"q/42\",\"h\\u00e9 x\",\"a,b\"]}", &m);
    assert_true(m.has & HB_HAS_JOBS);
    assert_int_equal(m.njobs, 4);
    assert_string_equal(m.jobs, "job-1\nq/42\nh\xc3\xa9 x\na,b");
    assert_int_equal(m.jobs_len, strlen(m.jobs));

    expect_ok("{\"worker_id\":\"w\",\"jobs\":[\"only\"]}", &m);
    assert_int_equal(m.njobs, 1);
    assert_string_equal(m.jobs, "only");

    /* 64 ids, and ids of exactly 128 bytes. */
    expect_ok(jobs_body(HB_JOBS_MAX, 10, 'j'), &m);
    assert_int_equal(m.njobs, HB_JOBS_MAX);
    assert_int_equal(m.jobs_len, HB_JOBS_MAX * 11 - 1);
    expect_ok(jobs_body(2, HB_JOB_ID_MAX, 'k'), &m);
    assert_int_equal(m.njobs, 2);
    assert_int_equal(m.jobs_len, 2 * HB_JOB_ID_MAX + 1);
    assert_int_equal(m.jobs[HB_JOB_ID_MAX], '\n');
    assert_int_equal(m.jobs[m.jobs_len], '\0');
}

static void test_empty_null_absent(void **state)
{
    (void)state;
    hb_msg m;
    /* [] is present: "no jobs now" clears the previous list. */
    expect_ok("{\"worker_id\":\"w\",\"jobs\":[ ]}", &m);
    assert_int_equal(m.has, HB_HAS_JOBS);
    assert_int_equal(m.njobs, 0);
    assert_int_equal(m.jobs_len, 0);
    assert_string_equal(m.jobs, "");

    /* null and absent are alike, and leave an empty list behind even in an
     * output that held garbage. */
    memset(&m, 0xAB, sizeof m);
    expect_ok("{\"worker_id\":\"w\",\"jobs\":null}", &m);
    assert_int_equal(m.has, 0);
    assert_int_equal(m.njobs, 0);
    assert_int_equal(m.jobs_len, 0);
    assert_string_equal(m.jobs, "");
    memset(&m, 0xAB, sizeof m);
    expect_ok("{\"worker_id\":\"w\",\"cpu\":0.5}", &m);
    assert_int_equal(m.has, HB_HAS_CPU);
    assert_int_equal(m.njobs, 0);
    assert_string_equal(m.jobs, "");

    /* A repeated key ends with its last value. */
    expect_ok("{\"worker_id\":\"w\",\"jobs\":[\"a\",\"b\"],\"jobs\":[\"c\"]}", &m);
    assert_int_equal(m.njobs, 1);
    assert_string_equal(m.jobs, "c");
    expect_ok("{\"worker_id\":\"w\",\"jobs\":[\"a\",\"b\"],\"jobs\":[]}", &m);
    assert_int_equal(m.njobs, 0);
    assert_string_equal(m.jobs, "");
    expect_ok("{\"worker_id\":\"w\",\"jobs\":[\"a\",\"b\"],\"jobs\":null}", &m);
    assert_int_equal(m.njobs, 2); /* null is absent, so the earlier value stands */
}

static void test_not_array_of_strings(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"a\"",
        "\"a,b\"",
        "1",
        "true",
        "false",
        "{}",
        "{\"a\":\"b\"}",
        "[1]",
        "[\"a\",2]",
        "[\"a\",null]",
        "[true]",
        "[[\"a\"]]",
        "[\"a\",{}]",
        "[[]]",
        "[{\"a\":1}]",
        "[\"a\",{\"jobs\":[\"b\"]}]",
    };
    char json[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"worker_id\":\"w\",\"jobs\":%s}", bad[i]);
        expect_jobs_fail(json, R_ARRAY);
    }
    /* Syntax first: a broken array is a JSON error, not a jobs error. */
    hb_msg m;
    hb_err e;
    assert_int_equal(beat("{\"worker_id\":\"w\",\"jobs\":[\"a\",]}", &m, &e), -1);
    assert_string_equal(e.field, "json");
    assert_int_equal(beat("{\"worker_id\":\"w\",\"jobs\":[1],\"cpu\":}", &m, &e), -1);
    assert_string_equal(e.field, "json");
    assert_int_equal(beat("{\"worker_id\":\"w\",\"jobs\":[\"\\ud800\"]}", &m, &e), -1);
    assert_string_equal(e.field, "json");
}

static void test_bad_ids(void **state)
{
    (void)state;
    expect_jobs_fail(jobs_body(HB_JOBS_MAX + 1, 1, 'j'), R_MANY);
    expect_jobs_fail(jobs_body(1, HB_JOB_ID_MAX + 1, 'k'), R_ID);
    expect_jobs_fail(jobs_body(1, 3 * HB_JOB_ID_MAX, 'k'), R_ID);
    expect_jobs_fail(jobs_body(1, 0, 'k'), R_ID);
    static const char *const bad[] = {
        "[\"a\",\"\"]",     "[\"a\\tb\"]",   "[\"a\\nb\"]", /* would split into two ids once joined
                                                             */
        "[\"a\tb\"]",                                       /* a raw tab */
        "[\"a\\u0000b\"]",  "[\"\\u001f\"]", "[\"x\\u007f\"]", "[\"x\\u0085\"]", /* C1 */
        "[\"ok\",\"\\r\"]",
    };
    char json[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"worker_id\":\"w\",\"jobs\":%s}", bad[i]);
        expect_jobs_fail(json, R_ID);
    }
    /* 128 bytes decoded, from more bytes of escapes: the decoded length counts. */
    char esc[64 * 6 + 64];
    size_t at = 0;
    for (int i = 0; i < 64; i++)
        at += (size_t)snprintf(esc + at, sizeof esc - at, "\\u00e9"); /* 2 bytes each */
    snprintf(body, sizeof body, "{\"worker_id\":\"w\",\"jobs\":[\"%s\"]}", esc);
    hb_msg m;
    expect_ok(body, &m);
    assert_int_equal(m.jobs_len, HB_JOB_ID_MAX);
    snprintf(body, sizeof body, "{\"worker_id\":\"w\",\"jobs\":[\"%sx\"]}", esc);
    expect_jobs_fail(body, R_ID);
}

static void test_total_length(void **state)
{
    (void)state;
    /* 31 ids of 128 bytes and 30 separators are 3998 bytes; one more id of
     * 97 bytes (and its separator) makes exactly 4096. */
    const size_t last = HB_JOBS_BYTES - (31 * HB_JOB_ID_MAX + 30) - 1;
    assert_int_equal(last, 97);
    for (int extra = 0; extra <= 1; extra++) {
        jobs_body(31, HB_JOB_ID_MAX, 'j');
        size_t at = strlen(body) - 2; /* before "]}" */
        at += (size_t)snprintf(body + at, sizeof body - at, ",\"");
        memset(body + at, 'z', last + (size_t)extra);
        at += last + (size_t)extra;
        snprintf(body + at, sizeof body - at, "\"]}");
        hb_msg m;
        if (!extra) {
            expect_ok(body, &m);
            assert_int_equal(m.njobs, 32);
            assert_int_equal(m.jobs_len, HB_JOBS_BYTES);
            assert_int_equal(strlen(m.jobs), HB_JOBS_BYTES);
        } else {
            expect_jobs_fail(body, R_TOTAL);
        }
    }
    /* 64 ids of 128 bytes: too long by far, refused on the total. */
    expect_jobs_fail(jobs_body(HB_JOBS_MAX, HB_JOB_ID_MAX, 'j'), R_TOTAL);
}

static void test_bye(void **state)
{
    (void)state;
    const char *json = "{\"worker_id\":\"w\",\"exit_code\":3,\"jobs\":[\"j1\",\"j2\"]}";
    hb_msg m;
    hb_err e;
    assert_int_equal(hb_parse_bye(json, strlen(json), &m, &e), 0);
    assert_int_equal(m.kind, HB_BYE);
    assert_int_equal(m.has, HB_HAS_EXIT_CODE | HB_HAS_JOBS);
    assert_int_equal(m.njobs, 2);
    assert_string_equal(m.jobs, "j1\nj2");
    json = "{\"worker_id\":\"w\",\"jobs\":[3]}";
    assert_int_equal(hb_parse_bye(json, strlen(json), &m, &e), -1);
    assert_string_equal(e.field, "jobs");
    assert_string_equal(e.reason, R_ARRAY);
}

static void test_set_kv(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    memset(&m, 0, sizeof m); /* whole-struct compares below */
    hb_init(&m);

    assert_int_equal(hb_set_kv(&m, "jobs", "a,b,c", &e), 0);
    assert_true(m.has & HB_HAS_JOBS);
    assert_int_equal(m.njobs, 3);
    assert_int_equal(m.jobs_len, 5);
    assert_string_equal(m.jobs, "a\nb\nc");
    assert_int_equal(hb_set_kv(&m, "jobs", "h\xc3\xa9 1", &e), 0);
    assert_int_equal(m.njobs, 1);
    assert_string_equal(m.jobs, "h\xc3\xa9 1");
    /* An empty value is the empty list, still present. */
    assert_int_equal(hb_set_kv(&m, "jobs", "", &e), 0);
    assert_int_equal(m.has, HB_HAS_JOBS);
    assert_int_equal(m.njobs, 0);
    assert_int_equal(m.jobs_len, 0);
    assert_string_equal(m.jobs, "");

    static char many[HB_JOBS_MAX * 2 + 8], longid[HB_JOB_ID_MAX + 2], total[HB_JOBS_BYTES + 3];
    for (int i = 0; i < HB_JOBS_MAX; i++)
        memcpy(many + 2 * i, "j,", 2);
    many[2 * HB_JOBS_MAX - 1] = '\0';
    assert_int_equal(hb_set_kv(&m, "jobs", many, &e), 0); /* 64: the limit */
    assert_int_equal(m.njobs, HB_JOBS_MAX);
    many[2 * HB_JOBS_MAX - 1] = ',';
    many[2 * HB_JOBS_MAX] = 'j'; /* 65 */
    memset(longid, 'k', HB_JOB_ID_MAX);
    assert_int_equal(hb_set_kv(&m, "jobs", longid, &e), 0); /* 128 bytes: the limit */
    assert_int_equal(m.jobs_len, HB_JOB_ID_MAX);
    longid[HB_JOB_ID_MAX] = 'k'; /* 129 */
    /* 31 ids of 127 bytes, each with its comma, and one of 128: exactly
     * 4096; then one more id makes it too long. */
    for (size_t i = 0; i < HB_JOBS_BYTES; i++)
        total[i] = i % 128 == 127 && i < HB_JOBS_BYTES - 1 ? ',' : 't';
    assert_int_equal(hb_set_kv(&m, "jobs", total, &e), 0);
    assert_int_equal(m.njobs, 32);
    assert_int_equal(m.jobs_len, HB_JOBS_BYTES);
    memcpy(total + HB_JOBS_BYTES, ",t", 2);

    static const struct {
        const char *value, *reason;
    } bad[] = {
        {",", R_ID},        {"a,", R_ID},
        {",a", R_ID},       {"a,,b", R_ID},
        {"a\tb", R_ID},     {"a\nb", R_ID},
        {"a,\x7f", R_ID},   {"\xc2\x85", R_ID},
        {"\xc0\xaf", R_ID}, {"ok,\xed\xa0\x80", R_ID},
        {many, R_MANY},     {longid, R_ID},
        {total, R_TOTAL},   {NULL, "is missing a value"},
    };
    hb_msg before = m;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hb_err be = {{0}, {0}};
        if (hb_set_kv(&m, "jobs", bad[i].value, &be) != -1)
            fail_msg("jobs=%.40s accepted", bad[i].value ? bad[i].value : "(null)");
        assert_string_equal(be.field, "jobs");
        assert_string_equal(be.reason, bad[i].reason);
        /* a refused value leaves the message, and its previous list, as it was */
        assert_memory_equal(&m, &before, sizeof m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_list),
        cmocka_unit_test(test_empty_null_absent),
        cmocka_unit_test(test_not_array_of_strings),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test(test_total_length),
        cmocka_unit_test(test_bye),
        cmocka_unit_test(test_set_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
