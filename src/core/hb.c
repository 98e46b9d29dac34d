/*
 * hb: heartbeat / bye parsing and validation (contract and rules: hb.h).
 *
 * One table (`fields`) describes every message field: its JSON key, kind of
 * value, bounds, presence bit and where it lives in hb_msg. The JSON parser
 * and the text form (hb_set_kv) both reduce a value to either a string or a
 * double and hand it to the same two validators, so the two doors cannot
 * drift apart in what they accept or in the words they refuse with. A UDP
 * line's words take shorter ways to the same stores (set_word: a number read
 * where it lies, an ASCII string checked in the scan for its end); test_hb_text
 * holds them to the general way's outcome, word for word.
 */
#include "core/hb.h"
#include "core/hb_json.h"
#include "core/hb_jobs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum ftype {
    F_ID,      /* worker_id, group: restricted ASCII alphabet */
    F_TEXT,    /* instance, status: UTF-8 without control characters */
    F_THERMAL, /* one of the hb_thermal names */
    F_I32,     /* integer stored in an int32_t */
    F_I64,     /* integer stored in an int64_t */
    F_REAL,    /* double */
    F_JOBS,    /* array of job ids, stored joined by '\n' */
} ftype;

typedef struct field_spec {
    const char *key;
    uint8_t klen;  /* strlen(key): KEY() */
    uint8_t type;  /* ftype */
    bool bye_only; /* a heartbeat treats it as an unknown key */
    uint32_t bit;  /* HB_HAS_*; 0 for worker_id, whose presence is required instead */
    size_t off;    /* offset in hb_msg */
    double lo, hi; /* value bounds; byte-length bounds for strings */
    const char *reason;
} field_spec;

/* A field name and its length, for field_spec's first two members. */
#define KEY(k) k, sizeof k - 1

/* The six counters and seq differ only in name and bit. */
// clang-format off
#define COUNTER(k, b) \
    {KEY(#k), F_I64, false, b, offsetof(hb_msg, k), 0, (double)HB_COUNTER_MAX, \
     "must be a non-negative integer"}
// clang-format on

static const field_spec fields[] = {
    {KEY("worker_id"), F_ID, false, 0, offsetof(hb_msg, worker_id), 1, HB_ID_MAX,
     "must be 1-128 bytes of [A-Za-z0-9._:@-]"},
    {KEY("group"), F_ID, false, HB_HAS_GROUP, offsetof(hb_msg, group), 1, HB_ID_MAX,
     "must be 1-128 bytes of [A-Za-z0-9._:@-]"},
    {KEY("instance"), F_TEXT, false, HB_HAS_INSTANCE, offsetof(hb_msg, instance), 1,
     HB_INSTANCE_MAX, "must be 1-128 bytes of UTF-8 without control characters"},
    {KEY("status"), F_TEXT, false, HB_HAS_STATUS, offsetof(hb_msg, status), 0, HB_STATUS_MAX,
     "must be at most 64 bytes of UTF-8 without control characters"},
    COUNTER(seq, HB_HAS_SEQ),
    {KEY("ttl_s"), F_I32, false, HB_HAS_TTL, offsetof(hb_msg, ttl_s), HB_TTL_MIN_S, HB_TTL_MAX_S,
     "must be an integer between 1 and 86400"},
    {KEY("cpu"), F_REAL, false, HB_HAS_CPU, offsetof(hb_msg, cpu), 0, 1,
     "must be a number between 0 and 1"},
    {KEY("mem"), F_REAL, false, HB_HAS_MEM, offsetof(hb_msg, mem), 0, 1,
     "must be a number between 0 and 1"},
    {KEY("mem_available_gb"), F_REAL, false, HB_HAS_MEM_AVAIL, offsetof(hb_msg, mem_available_gb),
     0, HB_GB_MAX, "must be a number between 0 and 1000000"},
    {KEY("gpu_mem_active_gb"), F_REAL, false, HB_HAS_GPU_MEM, offsetof(hb_msg, gpu_mem_active_gb),
     0, HB_GB_MAX, "must be a number between 0 and 1000000"},
    {KEY("thermal"), F_THERMAL, false, HB_HAS_THERMAL, offsetof(hb_msg, thermal), 0, 0,
     "must be one of nominal, fair, serious, critical"},
    COUNTER(backlog, HB_HAS_BACKLOG),
    COUNTER(capacity, HB_HAS_CAPACITY),
    COUNTER(in_flight, HB_HAS_IN_FLIGHT),
    COUNTER(requests, HB_HAS_REQUESTS),
    COUNTER(tokens, HB_HAS_TOKENS),
    COUNTER(cpu_ticks, HB_HAS_CPU_TICKS),
    {KEY("task_ms"), F_REAL, false, HB_HAS_TASK_MS, offsetof(hb_msg, task_ms), 0, HB_TASK_MS_MAX,
     "must be a number of milliseconds between 0 and 1000000000"},
    /* lo > hi: no number passes set_number, so on_member can test for an
     * array only after the number test fails, off the common path. */
    {KEY("jobs"), F_JOBS, false, HB_HAS_JOBS, offsetof(hb_msg, jobs), 1, 0,
     "must be an array of strings"},
    {KEY("exit_code"), F_I32, true, HB_HAS_EXIT_CODE, offsetof(hb_msg, exit_code), INT32_MIN,
     INT32_MAX, "must be an integer between -2147483648 and 2147483647"},
};

const char *hb_field_name(size_t i)
{
    return i < sizeof fields / sizeof fields[0] ? fields[i].key : NULL;
}

static const char *const thermal_names[] = {"", "nominal", "fair", "serious", "critical"};

void hb_init(hb_msg *m)
{
    /* The numbers, and each string's first byte: not the ~450 bytes of
     * string buffers past their NULs (5 % of a UDP line's time as one
     * memset, perf), nor the jobs buffer (4 KiB). */
    memset(m, 0, offsetof(hb_msg, worker_id));
    m->worker_id[0] = m->group[0] = m->instance[0] = m->status[0] = '\0';
    m->njobs = 0;
    m->jobs_len = 0;
    m->jobs[0] = '\0';
    m->kind = HB_BEAT;
}

void hb_copy(hb_msg *dst, const hb_msg *src)
{
    memcpy(dst, src, offsetof(hb_msg, jobs) + (size_t)src->jobs_len + 1);
}

int hb_fail(hb_err *e, const char *field, const char *reason)
{
    if (e) {
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
        snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "");
    }
    return -1;
}

const char *hb_thermal_name(int thermal)
{
    if (thermal < 0 || thermal > HB_THERMAL_CRITICAL) return "";
    return thermal_names[thermal];
}

/* ---- the shared validators --------------------------------------------- */

/* Called once per key of every heartbeat: the first-byte test skips the
 * compare for nearly every row of the table. A key with an embedded NUL
 * (from \u0000) has the wrong length and matches nothing. */
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Candidates by first byte: up to BY_FIRST_MAX indices (+1; 0 ends) into
 * fields[] per ASCII first byte, made once from fields[] itself at load time
 * (so the table cannot disagree with it). */
#define BY_FIRST_MAX 6
static uint8_t by_first[128][BY_FIRST_MAX];

__attribute__((constructor)) static void by_first_make(void)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        uint8_t *c = by_first[(unsigned char)fields[i].key[0] & 127];
        size_t k = 0;
        while (k < BY_FIRST_MAX - 1 && c[k])
            k++;
        c[k] = (uint8_t)(i + 1); /* a sixth field on one letter would need BY_FIRST_MAX up */
    }
}

static uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v); /* one unaligned load */
    return v;
}

static uint32_t load4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Inline, and in whole words: memcmp's call cost more than a short key, and
 * a byte loop ~4 instructions a byte (20 % of a full UDP line, callgrind).
 * Each length is covered by two loads that may overlap, first and last, so
 * nothing past key[n) or f->key[n) is read. */
static inline __attribute__((always_inline)) bool key_is(const field_spec *f, const char *key,
                                                         size_t n)
{
    if (f->klen != n) return false;
    const char *k = f->key;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load8(k + i) != load8(key + i)) return false;
        return load8(k + n - 8) == load8(key + n - 8);
    }
    if (n >= 4) return load4(k) == load4(key) && load4(k + n - 4) == load4(key + n - 4);
    return k[0] == key[0] && k[n / 2] == key[n / 2] && k[n - 1] == key[n - 1];
}

/* The field named key[0..n). fields[*hint] is tried first and a match leaves
 * *hint just past it: clients send a heartbeat's fields in the same order
 * every time, mostly this table's, so a JSON body costs about one comparison
 * per member. Otherwise the few fields with the key's first byte are tried:
 * the scan from *hint that this replaced cost ~100 instructions a key on a
 * UDP line ("seq= cpu= mem= in_flight=" are not in table order). */
static const field_spec *find_field_n(const char *key, size_t n, size_t *hint)
{
    if (!n) return NULL;
    if (*hint < NFIELDS && key_is(&fields[*hint], key, n)) return &fields[(*hint)++];
    if ((unsigned char)key[0] >= 128) return NULL;
    for (const uint8_t *c = by_first[(unsigned char)key[0]]; *c; c++) {
        const field_spec *f = &fields[*c - 1];
        if (key_is(f, key, n)) {
            *hint = *c; /* just past it */
            return f;
        }
    }
    return NULL;
}

/* As in JSON, a bye-only field (exit_code) is an unknown key to a
 * heartbeat: set on one, its JSON form would lose it on the way back. */
static bool takes(const field_spec *f, bool bye)
{
    return !f->bye_only || bye;
}

static bool len_ok(const field_spec *f, size_t n)
{
    return (double)n >= f->lo && (double)n <= f->hi;
}

/* A string whose bytes passed its field's check, or are not read because
 * its length is out of bounds, which is checked here. */
static inline __attribute__((always_inline)) int put_string(hb_msg *m, const field_spec *f,
                                                            const char *s, size_t n, hb_err *err)
{
    char *dst = (char *)m + f->off;
    if (!len_ok(f, n)) return hb_fail(err, f->key, f->reason);
    memcpy(dst, s, n);
    dst[n] = '\0';
    m->has |= f->bit;
    return 0;
}

/* A string value from either door. `s` may hold no NUL within n bytes. */
static int set_string(hb_msg *m, const field_spec *f, const char *s, size_t n, hb_err *err)
{
    char *dst = (char *)m + f->off;
    if (f->type == F_THERMAL) {
        for (int t = HB_THERMAL_NOMINAL; t <= HB_THERMAL_CRITICAL; t++) {
            if (strlen(thermal_names[t]) == n && memcmp(thermal_names[t], s, n) == 0) {
                *(uint8_t *)dst = (uint8_t)t;
                m->has |= f->bit;
                return 0;
            }
        }
        return hb_fail(err, f->key, f->reason);
    }
    /* The bytes only when the length is in bounds (put_string refuses it
     * otherwise): past the JSON scanner's buffer, n is the string's length,
     * not what the buffer holds of it. */
    if (len_ok(f, n) && (f->type == F_ID ? !hb_id_valid(s, n) : !hb_text_valid(s, n)))
        return hb_fail(err, f->key, f->reason);
    return put_string(m, f, s, n, err);
}

/* An integer field's value, checked: stored as its type says, marked present. */
static inline __attribute__((always_inline)) int put_int(hb_msg *m, const field_spec *f, int64_t v)
{
    char *dst = (char *)m + f->off;
    if (f->type == F_I32) {
        int32_t x = (int32_t)v;
        memcpy(dst, &x, sizeof x);
    } else {
        memcpy(dst, &v, sizeof v);
    }
    m->has |= f->bit;
    return 0;
}

/* A numeric value from either door. Integers travel as doubles: every bound is
 * within 2^53, so the conversion is exact for every value that can pass. */
static int set_number(hb_msg *m, const field_spec *f, double v, hb_err *err)
{
    /* Written as !(in range) so that NaN fails too. */
    if (!isfinite(v) || !(v >= f->lo && v <= f->hi)) return hb_fail(err, f->key, f->reason);
    if (f->type != F_REAL) {
        if (v != trunc(v)) return hb_fail(err, f->key, f->reason);
        return put_int(m, f, (int64_t)v);
    }
    memcpy((char *)m + f->off, &v, sizeof v);
    m->has |= f->bit;
    return 0;
}

/* An integer field from the text form, already whole: within +-2^53 the
 * conversion to a double is exact, so only the field's bounds are left of
 * set_number's checks (its finiteness and whole-number tests and the round
 * trip through a double were 6 % of a UDP line's time, perf). */
static inline __attribute__((always_inline)) int set_int(hb_msg *m, const field_spec *f,
                                                         long long v, hb_err *err)
{
    if (v < -HB_COUNTER_MAX || v > HB_COUNTER_MAX) return hb_fail(err, f->key, f->reason);
    double d = (double)v;
    if (!(d >= f->lo && d <= f->hi)) return hb_fail(err, f->key, f->reason);
    return put_int(m, f, v);
}

static bool is_string_type(const field_spec *f)
{
    return f->type == F_ID || f->type == F_TEXT || f->type == F_THERMAL;
}

/* ---- JSON -------------------------------------------------------------- */

typedef struct member_ctx {
    hb_msg *m;
    hb_err *err;
    bool bye;
    int rc;      /* first field error; later members are still scanned for syntax */
    size_t hint; /* find_field_n's: where the next member's field probably is */
} member_ctx;

/* Each top-level member, in document order, so a repeated key ends with its
 * last value (every copy is still validated). */
static void on_member(void *ctx, const char *key, size_t klen, const hbj_value *v)
{
    member_ctx *c = ctx;
    if (c->rc) return;
    const field_spec *f = find_field_n(key, klen, &c->hint);
    if (!f || !takes(f, c->bye) || v->type == HBJ_NULL) return;
    if (is_string_type(f))
        c->rc = v->type == HBJ_STRING ? set_string(c->m, f, v->str, v->len, c->err)
                                      : hb_fail(c->err, f->key, f->reason);
    else if (v->type == HBJ_NUMBER)
        c->rc = set_number(c->m, f, v->num, c->err); /* refuses any number for jobs */
    else if (v->type == HBJ_ARRAY && f->type == F_JOBS)
        c->rc = hb_jobs_json(c->m, v, c->err);
    else
        c->rc = hb_fail(c->err, f->key, f->reason);
}

static int parse_json(const char *json, size_t n, bool bye, hb_msg *out, hb_err *err)
{
    if (n > HB_BODY_MAX) return hb_fail(err, "body", "is larger than the 64 KiB limit");
    if (!json) n = 0;
    if (!hb_utf8_valid(json, n)) return hb_fail(err, "body", "invalid UTF-8");
    /* A raw NUL is never valid JSON; say so plainly rather than by offset. */
    if (n && memchr(json, '\0', n)) return hb_fail(err, "json", "contains a NUL byte");

    hb_msg m;
    hb_init(&m);
    member_ctx c = {&m, err, bye, 0, 0};
    size_t at = 0;
    int rc = hbj_parse_object(json ? json : "", n, on_member, &c, &at);
    /* Syntax first: a body that is not one JSON document is refused as such,
     * whatever its fields held. */
    if (rc == -1) {
        hb_fail(err, "json", NULL);
        if (err) snprintf(err->reason, sizeof err->reason, "is not valid JSON (at byte %zu)", at);
        return -1;
    }
    if (rc == -2) return hb_fail(err, "json", "must be a JSON object");
    if (c.rc) return c.rc;
    if (!m.worker_id[0]) return hb_fail(err, "worker_id", "is required");
    m.kind = bye ? HB_BYE : HB_BEAT;
    hb_copy(out, &m);
    return 0;
}

int hb_parse_heartbeat(const char *json, size_t n, hb_msg *out, hb_err *err)
{
    return parse_json(json, n, false, out, err);
}

int hb_parse_bye(const char *json, size_t n, hb_msg *out, hb_err *err)
{
    return parse_json(json, n, true, out, err);
}

/* ---- text forms -------------------------------------------------------- */

/* strtod alone would take " 1", "0x1p-1", "inf" and "nan"; the character
 * set keeps the text form to plain decimal notation. */
#define FAST_DIGITS                                                                                \
    15 /* significant digits exact in a double (and in 10^n): Clinger's fast path                  \
        */
#define FAST_INT_DIGITS 18 /* digits that cannot overflow an int64 */

/* The common "-?D+(.D+)?" with at most FAST_DIGITS digits at s, as hb_json's
 * scanner does it: the digits as an integer, exact in a double, divided by
 * an exact power of ten, one correctly rounded IEEE division, so the result
 * is bit-identical to strtod's. *end is the first byte after it. False for
 * anything else (the caller then uses strtod): the UDP door sends every
 * metric through here, and strtod was the largest single cost of a line. */
static inline __attribute__((always_inline)) bool scan_decimal(const char *s, const char **end,
                                                               double *v)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    bool neg = *s == '-';
    const char *p = s + neg, *d0 = p;
    /* Unsigned: past FAST_DIGITS it may wrap, and is then refused anyway. */
    uint64_t n = 0;
    while ((unsigned)(*p - '0') < 10)
        n = n * 10 + (uint64_t)(*p++ - '0');
    size_t nint = (size_t)(p - d0), nfrac = 0;
    if (nint == 0) return false;
    if (*p == '.') {
        const char *f0 = ++p;
        while ((unsigned)(*p - '0') < 10)
            n = n * 10 + (uint64_t)(*p++ - '0');
        nfrac = (size_t)(p - f0);
        if (nfrac == 0) return false; /* "1." and the like: strtod's call */
    }
    if (nint + nfrac > FAST_DIGITS) return false;
    double r = (double)n / pow10[nfrac];
    *v = neg ? -r : r;
    *end = p;
    return true;
}

/* Up to FAST_INT_DIGITS plain digits, signed, at s (no overflow possible);
 * *end is the first byte after them. False for anything else. */
static inline __attribute__((always_inline)) bool scan_int(const char *s, const char **end,
                                                           long long *v)
{
    const char *q = (*s == '-' || *s == '+') ? s + 1 : s;
    long long n = 0;
    int nd = 0;
    while (*q >= '0' && *q <= '9' && nd < FAST_INT_DIGITS) {
        n = n * 10 + (*q++ - '0');
        nd++;
    }
    if (nd == 0) return false;
    *v = *s == '-' ? -n : n;
    *end = q;
    return true;
}

static bool parse_real(const char *s, double *v)
{
    const char *e;
    if (scan_decimal(s, &e, v) && !*e) return true;
    if (!*s || strspn(s, "0123456789.eE+-") != strlen(s)) return false;
    char *end;
    *v = strtod(s, &end);
    return *end == '\0';
}

/* strtoll, not strtod: "9007199254740993" must be refused, not rounded to 2^53.
 * Up to FAST_INT_DIGITS plain digits are converted here (no overflow
 * possible); a 19th digit stops scan_int on a digit: strtoll below. */
static bool parse_int(const char *s, long long *v)
{
    const char *e;
    if (scan_int(s, &e, v) && !*e) return true;
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!*d || strspn(d, "0123456789") != strlen(d)) return false;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *end == '\0' && errno == 0;
}

/* Field f's value from its text, value[0..vlen) NUL-terminated. */
static int set_text(hb_msg *m, const field_spec *f, const char *value, size_t vlen, hb_err *err)
{
    if (!value) return hb_fail(err, f->key, "is missing a value");
    if (f->type == F_JOBS) return hb_jobs_text(m, value, err);
    if (is_string_type(f)) return set_string(m, f, value, vlen, err);
    if (f->type == F_REAL) {
        double v;
        if (!parse_real(value, &v)) return hb_fail(err, f->key, f->reason);
        return set_number(m, f, v, err);
    }
    long long v;
    if (!parse_int(value, &v)) return hb_fail(err, f->key, f->reason);
    return set_int(m, f, v, err);
}

/* The field a text form's key names, NULL when it is to be ignored: an
 * unknown key, or one the message does not take. */
static const field_spec *text_field(const hb_msg *m, const char *key, size_t klen, size_t *hint)
{
    const field_spec *f = key ? find_field_n(key, klen, hint) : NULL;
    return f && takes(f, m->kind == HB_BYE) ? f : NULL;
}

int hb_set_kvn(hb_msg *m, const char *key, size_t klen, const char *value, size_t vlen,
               size_t *hint, hb_err *err)
{
    const field_spec *f = text_field(m, key, klen, hint);
    return f ? set_text(m, f, value, vlen, err) : 1;
}

static bool word_end(char c)
{
    return c == ' ' || c == '\t' || c == '\0';
}

/* Field f (NULL: an ignored key) from the word at value: hb_set_kvw once
 * the key is known. */
static inline __attribute__((always_inline)) int set_word(hb_msg *m, const field_spec *f,
                                                          char *value, size_t *vlen, hb_err *err)
{
    /* A number is read where it lies, and where it stops is the word's end:
     * the value is not scanned once for its end and again for its digits. */
    const char *e;
    if (f && f->type == F_REAL) {
        double d;
        if (scan_decimal(value, &e, &d) && word_end(*e)) {
            *vlen = (size_t)(e - value);
            return set_number(m, f, d, err);
        }
    } else if (f && (f->type == F_I64 || f->type == F_I32)) {
        long long v;
        if (scan_int(value, &e, &v) && word_end(*e)) {
            *vlen = (size_t)(e - value);
            return set_int(m, f, v, err);
        }
    } else if (f && (f->type == F_ID || f->type == F_TEXT)) {
        /* The scan for the word's end is the check of its bytes: an id's
         * alphabet, or for text printable ASCII (valid UTF-8 without a
         * control character). Anything else is left to set_string. */
        size_t n = f->type == F_ID ? hb_id_span(value) : hb_ascii_span(value);
        if (word_end(value[n])) {
            *vlen = n;
            return put_string(m, f, value, n, err);
        }
    }
    size_t n = 0;
    while (!word_end(value[n]))
        n++;
    *vlen = n;
    if (!f) return 1;
    char c = value[n];
    value[n] = '\0';
    int rc = set_text(m, f, value, n, err);
    value[n] = c;
    return rc;
}

int hb_set_kvw(hb_msg *m, const char *key, size_t klen, char *value, size_t *vlen, size_t *hint,
               hb_err *err)
{
    return set_word(m, text_field(m, key, klen, hint), value, vlen, err);
}

int hb_set_hinted(hb_msg *m, char *w, size_t room, size_t *hint, size_t *used, hb_err *err)
{
    /* Not worker_id (field 0, and a zeroed hint), which a line's words
     * already said, nor a bye-only field on a heartbeat: those take the
     * general way, and what it does with them. */
    if (*hint == 0 || *hint >= NFIELDS) return HB_NOT_HINTED;
    const field_spec *f = &fields[*hint];
    size_t klen = f->klen, vlen;
    if (klen >= room || w[klen] != '=' || !key_is(f, w, klen) || !takes(f, m->kind == HB_BYE))
        return HB_NOT_HINTED;
    ++*hint;
    int rc = set_word(m, f, w + klen + 1, &vlen, err);
    *used = klen + 1 + vlen;
    return rc;
}

int hb_set_kv(hb_msg *m, const char *key, const char *value, hb_err *err)
{
    size_t hint = 0;
    return hb_set_kvn(m, key, key ? strlen(key) : 0, value, value ? strlen(value) : 0, &hint, err);
}
