/*
 * hb_json: one-pass scanner for a flat JSON object (contract: hb_json.h).
 * Grammar per RFC 8259, except that raw control bytes inside strings are let
 * through (as cJSON did) so the field validators, not the tokenizer, name
 * the field that holds them. The caller has already checked UTF-8 and NUL.
 */
#include "core/hb_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    const char *p, *e;
    char buf[HBJ_STR_CAP];
    char key[HBJ_KEY_CAP];
} scan;

static void ws(scan *x)
{
    while (x->p < x->e && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t utf8_put(unsigned cp, char *u)
{
    if (cp < 0x80) {
        u[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static void keep(char *buf, size_t cap, size_t n, const char *src, size_t k)
{
    if (n < cap) memcpy(buf + n, src, k < cap - n ? k : cap - n);
}

/* At an opening quote: decode into buf (up to cap bytes), *len = full length. */
static int string(scan *x, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    x->p++;
    for (;;) {
        const char *q = x->p;
        while (q < x->e && *q != '"' && *q != '\\')
            q++;
        keep(buf, cap, n, x->p, (size_t)(q - x->p));
        n += (size_t)(q - x->p);
        x->p = q;
        if (x->p >= x->e) return -1;
        if (*x->p++ == '"') break;
        if (x->p >= x->e) return -1;
        unsigned cp;
        switch (*x->p++) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (x->e - x->p < 4 || hex4(x->p, &cp)) return -1;
            x->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return -1; /* a low surrogate alone */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (x->e - x->p < 6 || x->p[0] != '\\' || x->p[1] != 'u' || hex4(x->p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                x->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default:
            return -1;
        }
        char u[4];
        size_t ul = utf8_put(cp, u);
        keep(buf, cap, n, u, ul);
        n += ul;
    }
    *len = n;
    return 0;
}

static bool digit(const scan *x, const char *q)
{
    return q < x->e && *q >= '0' && *q <= '9';
}

#define NUM_TMP 64 /* numbers longer than this (rare) are copied to the heap for strtod */

static int number(scan *x, double *out)
{
    const char *st = x->p, *q = st;
    bool neg = q < x->e && *q == '-';
    q += neg;
    if (!digit(x, q)) return -1;
    if (*q == '0')
        q++;
    else
        while (digit(x, q))
            q++;
    size_t ndig = (size_t)(q - st) - neg, nfrac = 0;
    bool exp = false;
    if (q < x->e && *q == '.') {
        const char *f = ++q;
        if (!digit(x, q)) return -1;
        while (digit(x, q))
            q++;
        nfrac = (size_t)(q - f);
    }
    if (q < x->e && (*q == 'e' || *q == 'E')) {
        exp = true;
        q++;
        if (q < x->e && (*q == '+' || *q == '-')) q++;
        if (!digit(x, q)) return -1;
        while (digit(x, q))
            q++;
    }
    x->p = q;
    /* Fast path (Clinger): with no exponent and at most 15 significant
     * digits, the digits form an integer exact in a double, 10^nfrac is exact
     * too, and one IEEE division rounds correctly, as strtod would. */
    if (!exp && ndig + nfrac <= 15) {
        static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        int64_t v = 0;
        for (const char *d = st + neg; d < q; d++)
            if (*d != '.') v = v * 10 + (*d - '0');
        double r = (double)v / pow10[nfrac];
        *out = neg ? -r : r;
        return 0;
    }
    size_t len = (size_t)(q - st);
    char tmp[NUM_TMP], *b = len < sizeof tmp ? tmp : malloc(len + 1);
    if (!b) return -1;
    memcpy(b, st, len);
    b[len] = '\0';
    *out = strtod(b, NULL);
    if (b != tmp) free(b);
    return 0;
}

static int literal(scan *x, const char *word, size_t n)
{
    if ((size_t)(x->e - x->p) < n || memcmp(x->p, word, n) != 0) return -1;
    x->p += n;
    return 0;
}

static int value(scan *x, hbj_value *v, int depth);

/* At '{' or '[': check the container's syntax and skip it. */
static int container(scan *x, int depth)
{
    if (depth > HBJ_MAX_DEPTH) return -1;
    char close = *x->p == '{' ? '}' : ']';
    x->p++;
    ws(x);
    if (x->p < x->e && *x->p == close) {
        x->p++;
        return 0;
    }
    for (;;) {
        hbj_value v;
        if (close == '}') {
            size_t kl;
            ws(x);
            /* Not into x->key: that still holds the top-level member's key,
             * which the callback is about to be given. */
            if (x->p >= x->e || *x->p != '"' || string(x, x->buf, sizeof x->buf, &kl)) return -1;
            ws(x);
            if (x->p >= x->e || *x->p != ':') return -1;
            x->p++;
        }
        if (value(x, &v, depth + 1)) return -1;
        ws(x);
        if (x->p >= x->e) return -1;
        if (*x->p == close) {
            x->p++;
            return 0;
        }
        if (*x->p++ != ',') return -1;
    }
}

static int value(scan *x, hbj_value *v, int depth)
{
    ws(x);
    if (x->p >= x->e) return -1;
    switch (*x->p) {
    case '"':
        v->type = HBJ_STRING;
        v->str = x->buf;
        return string(x, x->buf, sizeof x->buf, &v->len);
    case '{':
    case '[': {
        v->type = *x->p == '{' ? HBJ_OBJECT : HBJ_ARRAY;
        v->str = x->p;
        int rc = container(x, depth);
        v->len = (size_t)(x->p - v->str);
        return rc;
    }
    case 't':
        v->type = HBJ_TRUE;
        return literal(x, "true", 4);
    case 'f':
        v->type = HBJ_FALSE;
        return literal(x, "false", 5);
    case 'n':
        v->type = HBJ_NULL;
        return literal(x, "null", 4);
    default:
        v->type = HBJ_NUMBER;
        return number(x, &v->num);
    }
}

int hbj_parse_object(const char *s, size_t n, hbj_member_fn fn, void *ctx, size_t *at)
{
    scan x;
    x.p = s;
    x.e = s + n;
    int rc = 0;
    ws(&x);
    if (x.p < x.e && *x.p != '{') {
        hbj_value v;
        rc = value(&x, &v, 0) ? -1 : -2; /* a valid non-object still must end cleanly */
    } else if (x.p < x.e) {
        x.p++;
        ws(&x);
        if (x.p < x.e && *x.p == '}') {
            x.p++;
        } else {
            for (;;) {
                size_t kl;
                hbj_value v;
                ws(&x);
                if (x.p >= x.e || *x.p != '"' || string(&x, x.key, sizeof x.key, &kl)) goto bad;
                ws(&x);
                if (x.p >= x.e || *x.p != ':') goto bad;
                x.p++;
                if (value(&x, &v, 1)) goto bad;
                fn(ctx, x.key, kl, &v);
                ws(&x);
                if (x.p >= x.e) goto bad;
                if (*x.p == '}') {
                    x.p++;
                    break;
                }
                if (*x.p++ != ',') goto bad;
            }
        }
    } else {
        goto bad; /* empty */
    }
    if (rc == -1) goto bad;
    ws(&x);
    if (x.p != x.e) goto bad; /* one document, nothing after it */
    return rc;
bad:
    if (at) *at = (size_t)(x.p - s);
    return -1;
}

/* Elements are scanned as container() does, but reported: kept apart from
 * it so the skip path of every unknown member stays callback-free. */
int hbj_parse_array(const char *s, size_t n, hbj_elem_fn fn, void *ctx)
{
    scan x;
    x.p = s;
    x.e = s + n;
    ws(&x);
    if (x.p >= x.e) return -1;
    if (*x.p != '[') {
        hbj_value v;
        if (value(&x, &v, 0)) return -1;
        ws(&x);
        return x.p == x.e ? -2 : -1;
    }
    x.p++;
    ws(&x);
    if (x.p < x.e && *x.p == ']') {
        x.p++;
    } else {
        for (;;) {
            hbj_value v;
            if (value(&x, &v, 1)) return -1;
            fn(ctx, &v);
            ws(&x);
            if (x.p >= x.e) return -1;
            if (*x.p == ']') {
                x.p++;
                break;
            }
            if (*x.p++ != ',') return -1;
        }
    }
    ws(&x);
    return x.p == x.e ? 0 : -1;
}
