/* csv: see csv.h. */
#include "server/csv.h"

#include "core/tfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void csv_put(csv_buf *b, const char *s, size_t len)
{
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + len + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void csv_field(csv_buf *b, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        csv_put(b, "\"", 1);
        for (const char *c = s; *c; c++) {
            if (*c == '"') csv_put(b, "\"", 1); /* a quote inside is doubled */
            csv_put(b, c, 1);
        }
        csv_put(b, "\"", 1);
    } else {
        csv_put(b, s, strlen(s));
    }
    csv_put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

void csv_num(csv_buf *b, double v, int decimals, bool last)
{
    char t[64] = "";
    if (v == v) snprintf(t, sizeof t, "%.*f", decimals, v);
    csv_field(b, t, last);
}

void csv_time(csv_buf *b, int64_t ms, bool last)
{
    char t[TFMT_ISO_LEN] = "";
    if (ms > 0) tfmt_iso(ms, t);
    csv_field(b, t, last);
}
