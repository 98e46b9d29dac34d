/*
 * fuzz_h1: a byte stream through h1_scan, the ingest ring's request
 * scanner (core/h1). It reads only the n bytes it is given (ASan sees the
 * exact-size copy), and what it says holds:
 *   - FAST: head and body lie within the input, the head ends in the blank
 *     line, the Authorization value lies within the head, the start is one
 *     h1_fast_start takes, and the verdict and lengths stay the same with
 *     more bytes after the request (a pipelined next one);
 *   - every proper prefix of a FAST request is MORE: a request cut anywhere
 *     is waited for, never misjudged or answered early;
 *   - MORE never comes for an input past H1_HEAD_MAX + the body limit.
 */
#include "core/h1.h"
#include "fuzz.h"

#define BODY_MAX 4096

static h1_verdict scan(const uint8_t *data, size_t n, h1_req *r)
{
    char *b = malloc(n ? n : 1);
    FUZZ_CHECK(b);
    memcpy(b, data, n);
    h1_verdict v = h1_scan(b, n, BODY_MAX, r);
    if (v == H1_FAST && r->auth) { /* before b goes: auth points into it */
        FUZZ_CHECK(r->auth >= b && r->auth + r->auth_len <= b + r->head_len);
    }
    free(b);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    h1_req r;
    h1_verdict v = scan(data, n, &r);
    FUZZ_CHECK(v == H1_MORE || v == H1_FAST || v == H1_OTHER);
    if (v == H1_MORE) FUZZ_CHECK(n < H1_HEAD_MAX + BODY_MAX);
    if (v != H1_FAST) return 0;
    size_t whole = r.head_len + r.body_len;
    FUZZ_CHECK(r.head_len >= 4 && whole <= n && r.body_len <= BODY_MAX);
    FUZZ_CHECK(memcmp(data + r.head_len - 4, "\r\n\r\n", 4) == 0);
    FUZZ_CHECK(r.route == H1_HEARTBEAT || r.route == H1_BYE);
    int decided;
    FUZZ_CHECK(h1_fast_start((const char *)data, n < 32 ? n : 32, &decided) && decided);
    h1_req p;
    for (size_t k = 0; k < whole; k += 1 + k / 8) /* a spread of cuts, the last byte too */
        FUZZ_CHECK(scan(data, k, &p) == H1_MORE);
    FUZZ_CHECK(scan(data, whole - 1, &p) == H1_MORE);
    FUZZ_CHECK(scan(data, whole, &p) == H1_FAST && p.head_len == r.head_len &&
               p.body_len == r.body_len && p.route == r.route);
    return 0;
}
