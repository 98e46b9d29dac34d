/*
 * sse: Server-Sent Events encoding (format and ids in sse.h).
 */
#include "core/sse.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

size_t sse_size(const char *id, const char *event, const char *data, size_t len)
{
    size_t n = 0;
    if (id) n += 4 + strlen(id) + 1;       /* "id: " ID "\n" */
    if (event) n += 7 + strlen(event) + 1; /* "event: " NAME "\n" */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    n += lines * 7 + len - (lines - 1); /* "data: " + line + "\n", the '\n's become line ends */
    return n + 1;                       /* the empty line that dispatches it */
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

size_t sse_encode(char *buf, size_t cap, const char *id, const char *event, const char *data,
                  size_t len)
{
    size_t need = sse_size(id, event, data, len);
    if (need > cap) return 0;
    char *p = buf;
    if (id) {
        p = put(p, "id: ", 4);
        p = put(p, id, strlen(id));
        *p++ = '\n';
    }
    if (event) {
        p = put(p, "event: ", 7);
        p = put(p, event, strlen(event));
        *p++ = '\n';
    }
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != '\n') continue;
        p = put(p, "data: ", 6);
        p = put(p, data + start, i - start);
        *p++ = '\n';
        start = i + 1;
    }
    *p++ = '\n';
    if (p < buf + cap) *p = '\0';
    return (size_t)(p - buf);
}

size_t sse_comment(char *buf, size_t cap, const char *text)
{
    int n = snprintf(buf, cap, ": %s\n\n", text);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void sse_format_id(char *out, int64_t run, uint64_t seq)
{
    snprintf(out, SSE_ID_MAX, "%" PRId64 "-%" PRIu64, run, seq);
}

/* Digits s[0..n) into *out, false when empty, not all digits or past max. */
static bool digits(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool sse_parse_id(const char *s, size_t len, int64_t *run, uint64_t *seq)
{
    const char *dash = s ? memchr(s, '-', len) : NULL;
    if (!dash) return false;
    size_t a = (size_t)(dash - s);
    uint64_t r, q;
    if (!digits(s, a, INT64_MAX, &r) || !digits(dash + 1, len - a - 1, UINT64_MAX, &q))
        return false;
    *run = (int64_t)r;
    *seq = q;
    return true;
}
