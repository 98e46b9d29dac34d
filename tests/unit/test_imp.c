/* Unit tests for the session import parser: both formats, CSV quoting, each
 * rule's error (row and column exactly), sorting, the open-session rules,
 * and a large input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/imp.h"
#include "core/reg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1795426800000LL /* 2026-11-23T09:40:00Z */
#define H07 1795417200000LL /* 07:00 */
#define H0730 1795419000000LL
#define H08 1795420800000LL
#define H0900_5 1795424400500LL /* 09:00:00.500 */

static int parse(imp_format fmt, const char *body, imp_row **rows, size_t *n, imp_err *e)
{
    return imp_parse(body, strlen(body), fmt, NOW, rows, n, e);
}

/* The body must fail with exactly this row and column, and a reason that
 * contains `reason` (NULL: any). */
static void expect_err_at(int line, imp_format fmt, const char *body, size_t row,
                          const char *column, const char *reason)
{
    imp_row *rows = (imp_row *)&rows; /* not NULL: imp_parse must clear it */
    size_t n = 7;
    imp_err e;
    int rc = parse(fmt, body, &rows, &n, &e);
    if (rc != -1 || e.row != row || strcmp(e.column, column) != 0 ||
        (reason && !strstr(e.reason, reason)))
        print_error("line %d: want row %zu %s (%s)\n  got rc %d row %zu %s: %s\n", line, row,
                    column, reason ? reason : "*", rc, e.row, e.column, e.reason);
    assert_int_equal(rc, -1);
    assert_null(rows);
    assert_int_equal(n, 0);
    assert_int_equal(e.row, row);
    assert_string_equal(e.column, column);
    if (reason) assert_non_null(strstr(e.reason, reason));
}
#define expect_err(...) expect_err_at(__LINE__, __VA_ARGS__)

static const char *const csv_ok =
    "opened,worker_id,group,instance,closed,reason,exit_code\n"
    "2026-11-23T08:00:00Z,gpu-2,inference,\"pid 7, host \"\"a\"\"\",2026-11-23T09:00:00.5Z,"
    "failed,137\n"
    "1795420800000,gpu-1,,,,,\n"
    "2026-11-23T07:00:00Z,gpu-1,inference,boot-1,2026-11-23T07:30:00Z,clean_shutdown,0\n";

static const char *const ndjson_ok =
    "{\"worker_id\":\"gpu-2\",\"group\":\"inference\",\"instance\":\"pid 7, host \\\"a\\\"\","
    "\"opened\":1795420800000,\"closed\":\"2026-11-23T09:00:00.500Z\",\"reason\":\"failed\","
    "\"exit_code\":137}\n"
    "\n"
    "{\"worker_id\":\"gpu-1\",\"opened\":\"1795420800000\",\"closed\":null,\"group\":\"\"}\r\n"
    "{\"worker_id\":\"gpu-1\",\"group\":\"inference\",\"instance\":\"boot-1\","
    "\"opened\":\"2026-11-23T07:00:00Z\",\"closed\":\"2026-11-23T07:30:00+00:00\","
    "\"reason\":\"clean_shutdown\",\"exit_code\":0.0}";

static void check_ok_rows(const imp_row *r, size_t n)
{
    assert_int_equal(n, 3);
    /* sorted by (worker_id, opened) */
    assert_string_equal(r[0].worker_id, "gpu-1");
    assert_int_equal(r[0].opened_ms, H07);
    assert_int_equal(r[0].closed_ms, H0730);
    assert_int_equal(r[0].reason, REG_R_CLEAN_SHUTDOWN);
    assert_true(r[0].has_exit_code);
    assert_int_equal(r[0].exit_code, 0);
    assert_string_equal(r[0].group, "inference");
    assert_string_equal(r[0].instance, "boot-1");
    assert_int_equal(r[0].row, 3);

    assert_string_equal(r[1].worker_id, "gpu-1");
    assert_int_equal(r[1].opened_ms, H08);
    assert_int_equal(r[1].closed_ms, 0);
    assert_int_equal(r[1].reason, REG_R_NONE);
    assert_false(r[1].has_exit_code);
    assert_string_equal(r[1].group, "");
    assert_string_equal(r[1].instance, "");
    assert_int_equal(r[1].row, 2);

    assert_string_equal(r[2].worker_id, "gpu-2");
    assert_int_equal(r[2].opened_ms, H08);
    assert_int_equal(r[2].closed_ms, H0900_5);
    assert_int_equal(r[2].reason, REG_R_FAILED);
    assert_int_equal(r[2].exit_code, 137);
    assert_string_equal(r[2].instance, "pid 7, host \"a\"");
    assert_int_equal(r[2].row, 1);
}

static void test_csv_and_ndjson_agree(void **state)
{
    (void)state;
    imp_row *a, *b;
    size_t na, nb;
    imp_err e;
    assert_int_equal(parse(IMP_CSV, csv_ok, &a, &na, &e), 0);
    check_ok_rows(a, na);
    assert_int_equal(parse(IMP_NDJSON, ndjson_ok, &b, &nb, &e), 0);
    check_ok_rows(b, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].worker_id, b[i].worker_id);
        assert_string_equal(a[i].group, b[i].group);
        assert_string_equal(a[i].instance, b[i].instance);
        assert_int_equal(a[i].opened_ms, b[i].opened_ms);
        assert_int_equal(a[i].closed_ms, b[i].closed_ms);
        assert_int_equal(a[i].reason, b[i].reason);
        assert_int_equal(a[i].has_exit_code, b[i].has_exit_code);
        assert_int_equal(a[i].exit_code, b[i].exit_code);
        assert_int_equal(a[i].row, b[i].row);
    }
    free(a);
    free(b);
}

static void test_csv_quoting_crlf_bom(void **state)
{
    (void)state;
    imp_row *r;
    size_t n;
    imp_err e;
    /* BOM, CRLF, quoted header names and values, "" as an absent group, a
     * blank line, no final newline */
    const char *body = "\xEF\xBB\xBF\"worker_id\",opened,closed,reason,group,instance\r\n"
                       "\"w.1\",\"2026-11-23T07:00:00Z\",1795419000000,timeout,\"\",\"a,b\"\r\n"
                       "\r\n"
                       "w.2,1795420800000,,,g,\"say \"\"hi\"\"\"";
    assert_int_equal(parse(IMP_CSV, body, &r, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].worker_id, "w.1");
    assert_int_equal(r[0].opened_ms, H07);
    assert_int_equal(r[0].reason, REG_R_TIMEOUT);
    assert_string_equal(r[0].group, "");
    assert_string_equal(r[0].instance, "a,b");
    assert_string_equal(r[1].instance, "say \"hi\"");
    assert_int_equal(r[1].row, 2); /* the blank line is not a row */
    free(r);
    /* a trailing LF and a trailing CR are fine too */
    assert_int_equal(parse(IMP_CSV, "worker_id,opened\nw,1000\n\n", &r, &n, &e), 0);
    assert_int_equal(n, 1);
    free(r);
    assert_int_equal(parse(IMP_CSV, "worker_id,opened\r\nw,1000\r", &r, &n, &e), 0);
    assert_int_equal(n, 1);
    free(r);
    /* a newline inside quotes belongs to the field (and rows count records) */
    expect_err(IMP_CSV,
               "worker_id,opened,instance\nw,1000,\"x\"\nv,1000,\"two\nlines\"\nu,1000,ok\n", 2,
               "instance", "control characters");
    expect_err(IMP_CSV, "worker_id,opened,instance\r\nw,1000,\"a\r\nb\"\r\n", 1, "instance", NULL);
}

static void test_csv_structure_errors(void **state)
{
    (void)state;
    expect_err(IMP_CSV, "", 0, "body", "is empty");
    expect_err(IMP_CSV, "\xEF\xBB\xBF", 0, "body", "is empty");
    expect_err(IMP_CSV, "\n\r\n", 0, "body", "is empty");
    expect_err(IMP_CSV, "worker_id,opened\n", 0, "body", "has no rows");
    expect_err(IMP_CSV, "worker_id,opend\nw,1\n", 0, "opend", "is not a known column");
    expect_err(IMP_CSV, "worker_id,opened,worker_id\n", 0, "worker_id", "appears twice");
    expect_err(IMP_CSV, "worker_id,group\nw,g\n", 0, "opened", "is a required column");
    expect_err(IMP_CSV, "opened\n1000\n", 0, "worker_id", "is a required column");
    expect_err(IMP_CSV, "worker_id,,opened\n", 0, "header", "column 2 has no name");
    expect_err(IMP_CSV, "worker_id,\"opened\n", 0, "header", "never closed");
    /* a column name with bytes that do not belong in an error are masked */
    expect_err(IMP_CSV, "worker_id,op\x01ned\n", 0, "op?ned", "is not a known column");

    const char *h = "worker_id,opened,closed,reason\n";
    char body[256];
    snprintf(body, sizeof body, "%sw,1000,2000,timeout\nw,x\n", h);
    expect_err(IMP_CSV, body, 2, "fields", "has 2 fields, the header has 4");
    snprintf(body, sizeof body, "%sw,1000,2000,timeout,\n", h);
    expect_err(IMP_CSV, body, 1, "fields", "has 5 fields");
    snprintf(body, sizeof body, "%sw,\"1000\"x,,\n", h);
    expect_err(IMP_CSV, body, 1, "opened", "text after a closing quote");
    snprintf(body, sizeof body, "%sw,10\"00,,\n", h);
    expect_err(IMP_CSV, body, 1, "opened", "quote inside an unquoted field");
    snprintf(body, sizeof body, "%sw,1000,,\nw,\"2000,,\n", h);
    expect_err(IMP_CSV, body, 2, "opened", "never closed");
}

/* One CSV row after a full header. */
static void expect_row_err(int line, const char *row, const char *column, const char *reason)
{
    char body[1024];
    snprintf(body, sizeof body,
             "worker_id,group,instance,opened,closed,reason,exit_code\n"
             "ok-1,,,1000,2000,timeout,\n%s\n",
             row);
    expect_err_at(line, IMP_CSV, body, 2, column, reason);
}
#define expect_row(...) expect_row_err(__LINE__, __VA_ARGS__)

static void test_value_rules(void **state)
{
    (void)state;
    char longid[HB_ID_MAX + 2], row[512];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';

    expect_row(",,,1000,,,", "worker_id", "is required");
    expect_row("bad id!,,,1000,,,", "worker_id", "[A-Za-z0-9._:@-]");
    snprintf(row, sizeof row, "%s,,,1000,,,", longid);
    expect_row(row, "worker_id", "1-128 bytes");
    expect_row("w,g g,,1000,,,", "group", "must be empty or");
    snprintf(row, sizeof row, "w,%s,,1000,,,", longid);
    expect_row(row, "group", NULL);
    expect_row("w,,\"a\x01\",1000,,,", "instance", "without control characters");
    expect_row("w,,\xff,1000,,,", "instance", "UTF-8");
    expect_row("w,,\xc2\x85,1000,,,", "instance", NULL); /* C1 control */
    snprintf(row, sizeof row, "w,,%s,1000,,,", longid);
    expect_row(row, "instance", "at most 128 bytes");

    expect_row("w,,,,,,", "opened", "is required");
    expect_row("w,,,yesterday,,,", "opened", "must be ISO-8601 UTC or epoch milliseconds");
    expect_row("w,,,2026-11-23T07:00:00+02:00,,,", "opened", "ISO-8601");
    expect_row("w,,,-5,,,", "opened", "ISO-8601");
    expect_row("w,,,0,,,", "opened", "must be after 1970");
    expect_row("w,,,1960-01-01T00:00:00Z,,,", "opened", "must be after 1970");
    expect_row("w,,,1795426800001,,,", "opened", "is in the future");
    expect_row("w,,,1000,soon,timeout,", "closed", "ISO-8601");
    expect_row("w,,,1000,1795426800001,timeout,", "closed", "is in the future");
    expect_row("w,,,3000,2000,timeout,", "opened", "is after closed");
    expect_row("w,,,1000,2000,,", "reason", "is required when closed is given");
    expect_row("w,,,1000,,timeout,", "reason", "must be empty while the session is open");
    expect_row("w,,,1000,2000,crashed,", "reason",
               "must be one of clean_shutdown, failed, timeout, restarted, evicted, "
               "monitor_gap");
    expect_row("w,,,1000,2000,Timeout,", "reason", NULL);
    expect_row("w,,,1000,2000,failed,1.5", "exit_code", "must be an integer in int32 range");
    expect_row("w,,,1000,2000,failed,2147483648", "exit_code", "int32");
    expect_row("w,,,1000,2000,failed,-2147483649", "exit_code", "int32");
    expect_row("w,,,1000,2000,failed,-", "exit_code", "int32");
    expect_row("w,,,1000,2000,failed, 1", "exit_code", "int32");
    expect_row("w,,,1000,,,1", "exit_code", "must be empty while the session is open");

    /* the edges that pass: opened == closed == now, int32 extremes */
    imp_row *r;
    size_t n;
    imp_err e;
    const char *ok = "worker_id,opened,closed,reason,exit_code\n"
                     "a,1795426800000,1795426800000,restarted,-2147483648\n"
                     "b,1,2,evicted,+2147483647\n"
                     "c,1,2,monitor_gap,\n";
    assert_int_equal(parse(IMP_CSV, ok, &r, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].exit_code, INT32_MIN);
    assert_int_equal(r[1].exit_code, INT32_MAX);
    assert_int_equal(r[1].reason, REG_R_EVICTED);
    assert_false(r[2].has_exit_code);
    assert_int_equal(r[2].reason, REG_R_MONITOR_GAP);
    free(r);
}

static void test_ndjson_errors(void **state)
{
    (void)state;
    const char *good = "{\"worker_id\":\"w\",\"opened\":1000}\n";
    char body[512];
#define ND(second) (snprintf(body, sizeof body, "%s\n%s\n", good, second), body)
    expect_err(IMP_NDJSON, "", 0, "body", "is empty");
    expect_err(IMP_NDJSON, "\n \n\r\n", 0, "body", "is empty");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000"), 2, "json", "not valid JSON");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000} x"), 2, "json", "text after");
    expect_err(IMP_NDJSON, ND("[1]"), 2, "json", "must be a JSON object");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000,\"x\":\"\xff\"}"), 2, "json",
               "UTF-8");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opend\":1000}"), 2, "opend",
               "is not a known key");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000,\"worker_id\":\"u\"}"), 2,
               "worker_id", "appears twice");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":7,\"opened\":1000}"), 2, "worker_id",
               "must be a string");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000.5}"), 2, "opened", "ISO-8601");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":true}"), 2, "opened",
               "must be a string or an integer");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":-1000}"), 2, "opened",
               "must be after 1970");
    expect_err(IMP_NDJSON,
               ND("{\"worker_id\":\"v\",\"opened\":1000,\"closed\":2000,\"reason\":\"failed\","
                  "\"exit_code\":\"3\"}"),
               2, "exit_code", "must be a JSON integer");
    expect_err(IMP_NDJSON,
               ND("{\"worker_id\":\"v\",\"opened\":1000,\"closed\":2000,\"reason\":\"failed\","
                  "\"exit_code\":3.5}"),
               2, "exit_code", "int32");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000,\"reason\":\"failed\"}"), 2,
               "reason", "must be empty while the session is open");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":\"v\",\"opened\":1000,\"closed\":2000}"), 2, "reason",
               "is required");
    expect_err(IMP_NDJSON, ND("{\"worker_id\":null,\"opened\":1000}"), 2, "worker_id",
               "is required");
    /* blank lines are not rows */
    expect_err(IMP_NDJSON, "\n\n{\"worker_id\":\"w\",\"opened\":1000}\n\n{\"opened\":1000}\n", 2,
               "worker_id", "is required");
#undef ND
}

static void test_across_rows(void **state)
{
    (void)state;
    const char *h = "worker_id,opened,closed,reason\n";
    char body[512];
#define CSV(rows) (snprintf(body, sizeof body, "%s%s", h, rows), body)
    /* duplicate (worker_id, opened): the later row in the input is named */
    expect_err(IMP_CSV, CSV("w,1000,2000,timeout\nv,1000,2000,timeout\nw,1000,1500,failed\n"), 3,
               "opened", "same worker_id and opened as row 1");
    /* overlap: the session that opened later is named, with the one it overlaps */
    expect_err(IMP_CSV, CSV("w,1000,2000,timeout\nw,1999,3000,timeout\n"), 2, "opened",
               "overlaps row 1");
    expect_err(IMP_CSV, CSV("w,1500,3000,timeout\nw,1000,2000,timeout\n"), 1, "opened",
               "overlaps row 2");
    /* of several conflicts, the smallest row is reported, wherever its
     * worker sorts */
    expect_err(IMP_CSV,
               CSV("a,100,200,failed\nb,100,200,failed\nb,150,300,failed\na,150,160,failed\n"), 3,
               "opened", "overlaps row 2");
    expect_err(IMP_CSV,
               CSV("a,100,200,failed\nb,100,200,failed\na,150,160,failed\nb,150,300,failed\n"), 3,
               "opened", "overlaps row 1");
    /* open sessions: at most one per worker, and it must be the latest */
    expect_err(IMP_CSV, CSV("w,1000,,\nw,5000,6000,timeout\n"), 2, "opened",
               "overlaps row 1, which is still open");
    expect_err(IMP_CSV, CSV("w,5000,,\nw,1000,,\n"), 1, "opened", "still open");

    imp_row *r;
    size_t n;
    imp_err e;
    /* touching sessions, then the open one last; other workers do not interfere */
    assert_int_equal(parse(IMP_CSV,
                           CSV("w,3000,,\nw,1000,2000,timeout\nw,2000,3000,restarted\n"
                               "v,1500,,\nu,1000,5000,failed\n"),
                           &r, &n, &e),
                     0);
    assert_int_equal(n, 5);
    const char *want_w[] = {"u", "v", "w", "w", "w"};
    const int64_t want_o[] = {1000, 1500, 1000, 2000, 3000};
    const size_t want_row[] = {5, 4, 2, 3, 1};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(r[i].worker_id, want_w[i]);
        assert_int_equal(r[i].opened_ms, want_o[i]);
        assert_int_equal(r[i].row, want_row[i]);
    }
    assert_int_equal(r[4].closed_ms, 0);
    free(r);
#undef CSV
}

static void test_bad_format_argument(void **state)
{
    (void)state;
    expect_err((imp_format)9, "worker_id,opened\nw,1\n", 0, "body", "format");
    imp_row *r;
    size_t n;
    imp_err e;
    assert_int_equal(imp_parse(NULL, 0, IMP_CSV, NOW, &r, &n, &e), -1);
    assert_string_equal(e.column, "body");
}

/* vigil's own sessions.csv export imports as it is: its extra columns are
 * known and ignored, while a typo is still refused. */
static void test_export_columns(void **state)
{
    (void)state;
    imp_row *rows;
    size_t n;
    imp_err e;
    const char *body =
        "worker_id,group,instance,opened,closed,reason,exit_code,node_id,last_heartbeat,"
        "duration_s,requests,tokens\r\n"
        "w1,g,i1,2026-11-20T00:00:00.000Z,2026-11-20T01:00:00.000Z,timeout,,vm,"
        "2026-11-20T01:00:00.000Z,3600.000,12,34\r\n";
    assert_int_equal(parse(IMP_CSV, body, &rows, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].instance, "i1");
    assert_int_equal(rows[0].closed_ms - rows[0].opened_ms, 3600000);
    assert_int_equal(rows[0].reason, REG_R_TIMEOUT);
    free(rows);
    assert_int_equal(parse(IMP_NDJSON,
                           "{\"worker_id\":\"w1\",\"opened\":5,\"node_id\":\"vm\","
                           "\"requests\":3}\n",
                           &rows, &n, &e),
                     0);
    free(rows);
    expect_err_at(__LINE__, IMP_CSV, "worker_id,opened,node\nw1,5,vm\n", 0, "node",
                  "is not a known column");
}

static void test_large_input(void **state)
{
    (void)state;
    enum { ROWS = 100000, WORKERS = 1000 };
    size_t cap = (size_t)ROWS * 80 + 64, len = 0;
    char *body = malloc(cap);
    assert_non_null(body);
    len += (size_t)snprintf(body, cap, "worker_id,group,opened,closed,reason,exit_code\n");
    for (int i = ROWS - 1; i >= 0; i--) { /* newest first: the output must be re-sorted */
        int64_t opened = NOW - 1000000000LL + (int64_t)i * 1000;
        len += (size_t)snprintf(body + len, cap - len, "wk-%d,pool,%lld,%lld,failed,%d\n",
                                i % WORKERS, (long long)opened, (long long)(opened + 500), i);
    }
    imp_row *r;
    size_t n;
    imp_err e;
    int rc = imp_parse(body, len, IMP_CSV, NOW, &r, &n, &e);
    if (rc) print_error("row %zu %s: %s\n", e.row, e.column, e.reason);
    assert_int_equal(rc, 0);
    assert_int_equal(n, ROWS);
    for (size_t i = 1; i < n; i++) {
        int c = strcmp(r[i - 1].worker_id, r[i].worker_id);
        assert_true(c < 0 || (c == 0 && r[i - 1].opened_ms < r[i].opened_ms));
    }
    free(r);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_and_ndjson_agree), cmocka_unit_test(test_csv_quoting_crlf_bom),
        cmocka_unit_test(test_csv_structure_errors), cmocka_unit_test(test_value_rules),
        cmocka_unit_test(test_ndjson_errors),        cmocka_unit_test(test_across_rows),
        cmocka_unit_test(test_bad_format_argument),  cmocka_unit_test(test_large_input),
        cmocka_unit_test(test_export_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
