/*
 * prom: Prometheus text exposition escaping and number spelling (prom.h).
 */
#include "core/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

size_t prom_escape(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += (s[i] == '\\' || s[i] == '"' || s[i] == '\n') ? 2 : 1;
    if (n >= cap) {
        if (cap) out[0] = '\0';
        return n;
    }
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\' || c == '"' || c == '\n') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : c;
        } else {
            *o++ = c;
        }
    }
    *o = '\0';
    return n;
}

char *prom_num(char *out, double v)
{
    if (isnan(v)) return snprintf(out, PROM_NUM_MAX, "NaN"), out;
    if (isinf(v)) return snprintf(out, PROM_NUM_MAX, v > 0 ? "+Inf" : "-Inf"), out;
    /* Whole numbers in the exactly representable range print as integers. */
    if (v == trunc(v) && fabs(v) < 9007199254740992.0)
        return snprintf(out, PROM_NUM_MAX, "%.0f", v), out;
    /* Fewest digits that read back as the same double. */
    for (int p = 1; p <= 17; p++) {
        snprintf(out, PROM_NUM_MAX, "%.*g", p, v);
        if (strtod(out, NULL) == v) break;
    }
    return out;
}
