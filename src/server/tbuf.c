/* tbuf: see tbuf.h. */
#include "server/tbuf.h"

#include "core/tfmt.h"
#include "core/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tbuf_put(tbuf *b, const char *s, size_t len)
{
    if (b->oom) return;
    void *grown = vec_grow(b->p, &b->cap, b->n + len + 1, 1, 4096);
    if (!grown) {
        b->oom = true;
        return;
    }
    b->p = grown;
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void tbuf_puts(tbuf *b, const char *s)
{
    tbuf_put(b, s, strlen(s));
}

void tbuf_fixed(tbuf *b, double v, int dec, const char *nan_text)
{
    static const uint64_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (dec < 0) dec = 0;
    if (dec > 6) dec = 6;
    if (v != v || isinf(v)) {
        tbuf_puts(b, nan_text);
        return;
    }
    double sc = v * (double)p10[dec];
    char t[48];
    if (fabs(sc) >= 9e15) { /* past exact integers: let printf round */
        int n = snprintf(t, sizeof t, "%.17g", v);
        tbuf_put(b, t, (size_t)n);
        return;
    }
    int64_t k = llround(sc);
    uint64_t u = k < 0 ? (uint64_t)(-k) : (uint64_t)k;
    uint64_t ip = u / p10[dec], fp = u % p10[dec];
    int n = snprintf(t, sizeof t, "%s%llu", k < 0 ? "-" : "", (unsigned long long)ip);
    if (fp) {
        int d = dec;
        while (fp % 10 == 0) { /* trim trailing zeros */
            fp /= 10;
            d--;
        }
        n += snprintf(t + n, sizeof t - (size_t)n, ".%0*llu", d, (unsigned long long)fp);
    }
    tbuf_put(b, t, (size_t)n);
}

void tbuf_iso(tbuf *b, int64_t ms, const char *none_text)
{
    char t[TFMT_ISO_LEN];
    tbuf_puts(b, ms > 0 ? tfmt_iso(ms, t) : none_text);
}

void tbuf_jkey(tbuf *b, const char *key, bool first)
{
    if (!first) tbuf_put(b, ",", 1);
    tbuf_put(b, "\"", 1);
    tbuf_puts(b, key);
    tbuf_put(b, "\":", 2);
}

void tbuf_jtime(tbuf *b, const char *key, int64_t ms, bool first)
{
    tbuf_jkey(b, key, first);
    if (ms > 0) tbuf_put(b, "\"", 1);
    tbuf_iso(b, ms, "null");
    if (ms > 0) tbuf_put(b, "\"", 1);
}

void tbuf_jstr(tbuf *b, const char *s)
{
    tbuf_put(b, "\"", 1);
    for (const char *c = s; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            tbuf_put(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            int n = snprintf(e, sizeof e, "\\u%04x", ch);
            tbuf_put(b, e, (size_t)n);
        } else {
            tbuf_put(b, c, 1);
        }
    }
    tbuf_put(b, "\"", 1);
}

void tbuf_csv_field(tbuf *b, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        tbuf_put(b, "\"", 1);
        for (const char *c = s; *c; c++) {
            if (*c == '"') tbuf_put(b, "\"", 1); /* a quote inside is doubled */
            tbuf_put(b, c, 1);
        }
        tbuf_put(b, "\"", 1);
    } else {
        tbuf_puts(b, s);
    }
    tbuf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

void tbuf_csv_num(tbuf *b, double v, int decimals, bool last)
{
    tbuf_fixed(b, v, decimals, "");
    tbuf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

void tbuf_csv_time(tbuf *b, int64_t ms, bool last)
{
    tbuf_iso(b, ms, "");
    tbuf_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}
