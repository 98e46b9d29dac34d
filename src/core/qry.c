/*
 * qry: query-parameter values (contract: qry.h). strtoll/strtod do the
 * reading; what they leave unsaid (nothing read, bytes after the number,
 * ERANGE) is checked here, once, instead of in every route.
 */
#include "core/qry.h"

#include <errno.h>
#include <stdlib.h>

int qry_int(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno == ERANGE || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int qry_num(const char *v, double lo, double hi, double *out)
{
    if (!v || !*v) return -1;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) return -1; /* !(>=) also refuses NaN */
    *out = x;
    return 0;
}

/* Digits at *p, up to stop (or the end): a value <= INT64_MAX. */
static int digits(const char **p, char stop, int64_t *out)
{
    const char *s = *p;
    int64_t x = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        int d = *s - '0';
        if (x > (INT64_MAX - d) / 10) return -1;
        x = x * 10 + d;
    }
    if (*s != stop) return -1;
    *p = s;
    *out = x;
    return 0;
}

int qry_cursor(const char *v, int64_t kmax, int64_t *t, int64_t *k)
{
    if (!v) return -1;
    int64_t tt, kk;
    if (digits(&v, ':', &tt) != 0) return -1;
    v++;
    if (digits(&v, '\0', &kk) != 0 || kk > kmax) return -1;
    *t = tt;
    *k = kk;
    return 0;
}
