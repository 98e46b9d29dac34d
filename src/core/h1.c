/*
 * h1.c: the fast-path request scanner (h1.h). One pass over the head, line
 * by line; every line that is not plainly what a JSON heartbeat client sends
 * makes the request H1_OTHER, so that libmicrohttpd, not this file, decides
 * what an unusual request means.
 */
#include "core/h1.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *line; /* request line, CRLF included */
    size_t len;
    h1_route route;
} routes[] = {
    {"POST /v1/heartbeat HTTP/1.1\r\n", sizeof "POST /v1/heartbeat HTTP/1.1\r\n" - 1, H1_HEARTBEAT},
    {"POST /v1/bye HTTP/1.1\r\n", sizeof "POST /v1/bye HTTP/1.1\r\n" - 1, H1_BYE},
};
#define NROUTES (sizeof routes / sizeof routes[0])
#define START_LEN(i) (routes[i].len - (sizeof "HTTP/1.1\r\n" - 1)) /* "POST /path " */

int h1_fast_start(const char *buf, size_t n, int *decided)
{
    for (size_t i = 0; i < NROUTES; i++) {
        size_t k = n < START_LEN(i) ? n : START_LEN(i);
        if (memcmp(buf, routes[i].line, k) == 0) {
            *decided = n >= START_LEN(i);
            return 1;
        }
    }
    *decided = 1;
    return 0;
}

int h1_stream_start(const char *buf, size_t n)
{
    static const char start[] = "GET /v1/stream";
    size_t k = sizeof start - 1;
    return n > k && memcmp(buf, start, k) == 0 && (buf[k] == ' ' || buf[k] == '?');
}

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Header name equals lit (lower case), case-insensitively. */
static bool named(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* One complete header line s[0..n) (CRLF not included). Returns false when
 * it makes the request OTHER; counts and records what the fast path needs. */
typedef struct seen {
    int cl, host, auth;
    size_t body_len;
} seen;

static bool header(const char *s, size_t n, size_t body_max, seen *sn, h1_req *out)
{
    size_t c = 0;
    while (c < n && tchar((unsigned char)s[c]))
        c++;
    if (c == 0 || c == n || s[c] != ':') return false; /* obs-fold, no name, no colon */
    const char *v = s + c + 1, *e = s + n;
    for (const char *p = v; p < e; p++) /* VCHAR, obs-text, SP, HT only */
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) return false;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t vn = (size_t)(e - v);
    if (named(s, c, "content-length")) {
        if (sn->cl++ || vn == 0 || vn > 9) return false;
        size_t len = 0;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9') return false;
            len = len * 10 + (size_t)(v[i] - '0');
        }
        if (len > body_max) return false;
        sn->body_len = len;
    } else if (named(s, c, "transfer-encoding") || named(s, c, "expect") ||
               named(s, c, "upgrade")) {
        return false;
    } else if (named(s, c, "connection")) {
        if (!named(v, vn, "keep-alive")) return false;
    } else if (named(s, c, "content-type")) {
        size_t t = 0;
        while (t < vn && v[t] != ';' && v[t] != ' ' && v[t] != '\t')
            t++;
        if (vn && !named(v, t, "application/json")) return false;
    } else if (named(s, c, "authorization")) {
        if (sn->auth++) return false;
        out->auth = v;
        out->auth_len = vn;
    } else if (named(s, c, "host")) {
        if (sn->host++) return false;
    }
    return true;
}

h1_verdict h1_scan(const char *buf, size_t n, size_t body_max, h1_req *out)
{
    out->auth = NULL;
    out->auth_len = 0;
    out->head_len = out->body_len = 0;
    size_t i = 0;
    for (; i < NROUTES; i++) {
        size_t k = n < routes[i].len ? n : routes[i].len;
        if (memcmp(buf, routes[i].line, k) == 0) break;
    }
    if (i == NROUTES) return H1_OTHER;
    if (n < routes[i].len) return H1_MORE;
    out->route = routes[i].route;
    seen sn = {0, 0, 0, 0};
    size_t pos = routes[i].len;
    size_t lim = n < H1_HEAD_MAX ? n : H1_HEAD_MAX;
    for (;;) {
        const char *lf = memchr(buf + pos, '\n', lim - pos);
        if (!lf) return n >= H1_HEAD_MAX ? H1_OTHER : H1_MORE;
        size_t end = (size_t)(lf - buf);
        if (end == pos || buf[end - 1] != '\r') return H1_OTHER; /* a bare LF */
        if (end - 1 == pos) {                                    /* the blank line */
            pos = end + 1;
            break;
        }
        if (!header(buf + pos, end - 1 - pos, body_max, &sn, out)) return H1_OTHER;
        pos = end + 1;
    }
    if (sn.cl != 1 || sn.host != 1) return H1_OTHER;
    out->head_len = pos;
    out->body_len = sn.body_len;
    return n - pos >= sn.body_len ? H1_FAST : H1_MORE;
}
