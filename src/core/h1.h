/*
 * h1: the HTTP/1.1 requests the ingest ring (server/ring.c) answers itself,
 * told apart from every other request, which it hands to libmicrohttpd.
 *
 * The ring's fast path is narrow on purpose: a POST of a JSON heartbeat or
 * bye with one Content-Length and nothing unusual about it. Anything else
 * (another path or method, HTTP/1.0, Transfer-Encoding, Expect, Connection:
 * close, a Content-Type other than JSON, a repeated framing or auth header,
 * a malformed or oversized head, a body over the limit) is H1_OTHER, and
 * libmicrohttpd answers it with the same code that always has, refusals
 * included. So this scanner never refuses a request, and a request it
 * misjudges as OTHER costs only speed.
 *
 * Pure: no I/O, no allocation; the buffer is only read.
 */
#ifndef VIGIL_H1_H
#define VIGIL_H1_H

#include <stddef.h>

#define H1_HEAD_MAX 8192 /* bytes of request line + headers the fast path takes */

typedef enum h1_route { H1_HEARTBEAT = 1, H1_BYE = 2 } h1_route;

typedef enum h1_verdict {
    H1_MORE = 0,  /* a fast request so far, not complete yet: read more */
    H1_FAST = 1,  /* a complete fast request at buf[0..head_len + body_len) */
    H1_OTHER = 2, /* not for the fast path */
} h1_verdict;

typedef struct h1_req {
    h1_route route;
    size_t head_len;  /* request line and headers, the blank line included */
    size_t body_len;  /* its Content-Length */
    const char *auth; /* the Authorization value, blanks trimmed; NULL if absent */
    size_t auth_len;
} h1_req;

/* Judge the request at the start of buf[0..n). body_max: the largest body
 * the fast path takes. out is filled for H1_FAST (and partly for H1_MORE). */
h1_verdict h1_scan(const char *buf, size_t n, size_t body_max, h1_req *out);

/* True when the n bytes seen so far of a connection could still begin a
 * fast request ("POST /v1/heartbeat " or "POST /v1/bye " and what follows):
 * the ring peeks at a new connection's first bytes with this and hands
 * every other connection to libmicrohttpd untouched. *decided is set when
 * n is enough to tell. */
int h1_fast_start(const char *buf, size_t n, int *decided);

/* True when the n bytes seen begin a /v1/stream request ("GET /v1/stream"
 * and then a blank or a query): the ring hands such a connection to the
 * daemon whose pool suits a stream. False when n is too short to tell;
 * that connection goes where any other does, which serves it as well. */
int h1_stream_start(const char *buf, size_t n);

#endif
