/*
 * Unit tests for core/h1: which requests the ingest ring answers itself.
 * A plain heartbeat and bye are FAST once whole, MORE while a byte is
 * missing at any cut, and every unusual request is OTHER (libmicrohttpd's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/h1.h"

#define BODY "{\"worker_id\":\"w1\",\"cpu\":0.5}"
#define HEAD_HB "POST /v1/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:9470\r\n"

static h1_verdict scan(const char *s, h1_req *r)
{
    return h1_scan(s, strlen(s), 65536, r);
}

static void test_fast_and_every_cut(void **state)
{
    (void)state;
    const char *req = HEAD_HB "Content-Type: application/json; charset=utf-8\r\n"
                              "Authorization:  Bearer tok \r\nContent-Length: 28\r\n\r\n" BODY;
    h1_req r;
    assert_int_equal(scan(req, &r), H1_FAST);
    assert_int_equal(r.route, H1_HEARTBEAT);
    assert_int_equal(r.body_len, 28);
    assert_int_equal(r.head_len, strlen(req) - 28);
    assert_memory_equal(req + r.head_len, BODY, 28);
    assert_int_equal(r.auth_len, strlen("Bearer tok"));
    assert_memory_equal(r.auth, "Bearer tok", r.auth_len);
    /* Every proper prefix is MORE: a request cut anywhere waits for the rest. */
    for (size_t k = 0; k < strlen(req); k++)
        assert_int_equal(h1_scan(req, k, 65536, &r), H1_MORE);
    /* What follows the body (the next pipelined request) is not this one's. */
    char two[1024];
    snprintf(two, sizeof two, "%s%s", req, req);
    assert_int_equal(scan(two, &r), H1_FAST);
    assert_int_equal(r.head_len + r.body_len, strlen(req));

    const char *bye = "POST /v1/bye HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n"
                      "connection: Keep-Alive\r\n\r\n{}";
    assert_int_equal(scan(bye, &r), H1_FAST);
    assert_int_equal(r.route, H1_BYE);
    assert_null(r.auth);
}

static void test_other(void **state)
{
    (void)state;
    static const char *const other[] = {
        "GET /v1/heartbeat HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/heartbeats HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v1/heartbeat?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v1/heartbeat HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST  /v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\n\r\n", /* no Content-Length */
        HEAD_HB "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        HEAD_HB "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        HEAD_HB "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        HEAD_HB "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n{}",
        HEAD_HB "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
        HEAD_HB "Content-Length: 2\r\nUpgrade: h2c\r\n\r\n{}",
        HEAD_HB "Content-Length: 2\r\nContent-Type: text/plain\r\n\r\n{}",
        HEAD_HB "Content-Length: 2\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n{}",
        HEAD_HB "Host: y\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v1/heartbeat HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", /* no Host */
        HEAD_HB "Content-Length: -2\r\n\r\n{}",
        HEAD_HB "Content-Length: 2x\r\n\r\n{}",
        HEAD_HB "Content-Length: 99999999999\r\n\r\n{}",
        HEAD_HB "Content-Length: 65537\r\n\r\n{}", /* over body_max */
        HEAD_HB "Content-Length: 2\n\r\n{}",       /* bare LF */
        HEAD_HB "Content-Length: 2\r\n folded\r\n\r\n{}",
        HEAD_HB "No-Colon\r\nContent-Length: 2\r\n\r\n{}",
        HEAD_HB "Bad Name: 1\r\nContent-Length: 2\r\n\r\n{}",
        HEAD_HB "X: a\x01"
                "b\r\nContent-Length: 2\r\n\r\n{}",
        "PUT /v1/heartbeat HTTP/1.1\r\n",
        "\r\n",
    };
    h1_req r;
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (scan(other[i], &r) != H1_OTHER) fail_msg("case %zu is not OTHER: %s", i, other[i]);
    }
    /* A head that never ends within H1_HEAD_MAX is OTHER, not MORE forever. */
    char big[H1_HEAD_MAX + 64];
    size_t n = (size_t)snprintf(big, sizeof big, "%s", HEAD_HB);
    while (n < H1_HEAD_MAX + 10)
        n += (size_t)snprintf(big + n, sizeof big - n, "X-Pad: aaaaaaaaaaaa\r\n");
    assert_int_equal(h1_scan(big, n, 65536, &r), H1_OTHER);
    assert_int_equal(h1_scan(big, H1_HEAD_MAX - 100, 65536, &r), H1_MORE);
}

static void test_fast_start(void **state)
{
    (void)state;
    int d;
    assert_true(h1_fast_start("POST /v1/heartbeat HTTP/1.1\r\n", 28, &d));
    assert_true(d);
    assert_true(h1_fast_start("POST /v1/bye ", 13, &d));
    assert_true(d);
    assert_true(h1_fast_start("POST /v1/h", 10, &d));
    assert_false(d); /* could still be either */
    assert_false(h1_fast_start("POST /v1/heartbeats HTTP/1.1", 28, &d));
    assert_true(d);
    assert_false(h1_fast_start("GET / HTTP/1.1\r\n", 16, &d));
    assert_true(d);
    assert_false(h1_fast_start("PUT", 3, &d));
    assert_true(d);
    assert_true(h1_fast_start("", 0, &d));
    assert_false(d);
}

static void test_stream_start(void **state)
{
    (void)state;
    const char *yes[] = {"GET /v1/stream HTTP/1.1\r\n", "GET /v1/stream?groups=a HTTP/1.1"};
    for (size_t i = 0; i < 2; i++)
        assert_true(h1_stream_start(yes[i], strlen(yes[i])));
    /* another route, a longer path, another method, or too few bytes to tell */
    const char *no[] = {"GET /v1/streams HTTP/1.1",
                        "GET /v1/stream/x HTTP/1.1",
                        "POST /v1/stream HTTP/1.1",
                        "GET /v1/strea",
                        "GET /v1/stream",
                        "get /v1/stream HTTP/1.1",
                        ""};
    for (size_t i = 0; i < 7; i++)
        assert_false(h1_stream_start(no[i], strlen(no[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_and_every_cut),
        cmocka_unit_test(test_other),
        cmocka_unit_test(test_fast_start),
        cmocka_unit_test(test_stream_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
