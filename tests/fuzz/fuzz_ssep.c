/*
 * fuzz_ssep: the incremental SSE parser (core/ssep), two ways.
 *
 * 1. Split independence: the input is fed whole to one parser and in
 *    chunks (sizes from the first byte) to another; both must report the
 *    same messages and errors, in the same order (compared by a running
 *    hash), and end with the same last id and retry. max_msg is small
 *    (SMALL_MAX) so the oversized-message path is reached too. Each message
 *    has its NUL after data_len bytes and fits max_msg.
 * 2. Round trip: the input, with the CR and NUL bytes sse_encode cannot
 *    carry replaced by spaces, is encoded as one message (core/sse) and fed
 *    to a fresh parser, which must give back exactly one message with that
 *    data, event and id (what the dashboard gets from vigild).
 */
#include "core/sse.h"
#include "core/ssep.h"
#include "fuzz.h"

#define SMALL_MAX 256 /* bytes: max_msg of the split-independence parsers */

typedef struct acc {
    uint64_t h;
    size_t msgs, errs;
    size_t max;
} acc;

static void mix(acc *a, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        a->h = (a->h ^ b[i]) * 1099511628211ULL; /* FNV-1a */
}

static void mix_msg(acc *a, const ssep_msg *m)
{
    mix(a, m->id, strlen(m->id) + 1);
    mix(a, m->event, strlen(m->event) + 1);
    mix(a, &m->size, sizeof m->size);
    if (m->data) {
        mix(a, &m->data_len, sizeof m->data_len);
        mix(a, m->data, m->data_len);
    }
}

static int on_msg(void *ctx, const ssep_msg *m)
{
    acc *a = ctx;
    FUZZ_CHECK(m->id && m->event && m->data && m->data[m->data_len] == '\0');
    FUZZ_CHECK(m->size <= a->max && m->data_len <= m->size);
    a->msgs++;
    mix(a, "M", 1);
    mix_msg(a, m);
    return 0;
}

static int on_error(void *ctx, ssep_err err, const ssep_msg *m)
{
    acc *a = ctx;
    FUZZ_CHECK(err == SSEP_ERR_TOO_BIG && !m->data && m->size > a->max);
    a->errs++;
    mix(a, "E", 1);
    mix_msg(a, m);
    return 0;
}

typedef struct one {
    size_t n;
    char *data;
    size_t len;
    char id[SSE_ID_MAX], event[16];
} one;

static int on_one(void *ctx, const ssep_msg *m)
{
    one *o = ctx;
    if (o->n++ == 0) {
        o->data = malloc(m->data_len + 1);
        FUZZ_CHECK(o->data);
        memcpy(o->data, m->data, m->data_len);
        o->len = m->data_len;
        snprintf(o->id, sizeof o->id, "%s", m->id);
        snprintf(o->event, sizeof o->event, "%s", m->event);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] % 13 + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;

    acc whole = {.h = 14695981039346656037ULL, .max = SMALL_MAX}, split = whole;
    ssep_cfg cw = {.max_msg = SMALL_MAX, .on_msg = on_msg, .on_error = on_error, .ctx = &whole};
    ssep_cfg cs = cw;
    cs.ctx = &split;
    ssep *pw = ssep_new(&cw), *ps = ssep_new(&cs);
    FUZZ_CHECK(pw && ps);
    FUZZ_CHECK(ssep_feed(pw, in, n) == 0);
    for (size_t off = 0, k = 0; off < n; k++) {
        size_t c = (step + k) % 7 + 1; /* 1..7 bytes, varying: cuts land everywhere */
        if (c > n - off) c = n - off;
        FUZZ_CHECK(ssep_feed(ps, in + off, c) == 0);
        off += c;
    }
    FUZZ_CHECK(ssep_feed(ps, NULL, 0) == 0);
    FUZZ_CHECK(whole.h == split.h && whole.msgs == split.msgs && whole.errs == split.errs);
    FUZZ_CHECK(strcmp(ssep_last_id(pw), ssep_last_id(ps)) == 0);
    FUZZ_CHECK(ssep_retry(pw) == ssep_retry(ps));
    /* A reset keeps the last id and retry (a reconnecting client sends them). */
    long long retry = ssep_retry(pw);
    ssep_reset(pw);
    FUZZ_CHECK(ssep_retry(pw) == retry && strcmp(ssep_last_id(pw), ssep_last_id(ps)) == 0);
    ssep_free(pw);
    ssep_free(ps);

    char *d = malloc(n ? n : 1);
    FUZZ_CHECK(d);
    for (size_t i = 0; i < n; i++)
        d[i] = in[i] == '\r' || in[i] == '\0' ? ' ' : in[i];
    char id[SSE_ID_MAX];
    sse_format_id(id, (int64_t)n, step);
    size_t need = sse_size(id, "change", d, n);
    char *wire = malloc(need + 1);
    FUZZ_CHECK(wire);
    FUZZ_CHECK(sse_encode(wire, need, id, "change", d, n) == need);
    FUZZ_CHECK(sse_encode(wire, need - 1, id, "change", d, n) == 0);
    one o = {0};
    ssep_cfg c1 = {.on_msg = on_one, .ctx = &o};
    ssep *p1 = ssep_new(&c1);
    FUZZ_CHECK(p1);
    FUZZ_CHECK(ssep_feed(p1, wire, need) == 0);
    FUZZ_CHECK(o.n == 1 && o.len == n && memcmp(o.data, d, n) == 0);
    FUZZ_CHECK(strcmp(o.id, id) == 0 && strcmp(o.event, "change") == 0);
    FUZZ_CHECK(strcmp(ssep_last_id(p1), id) == 0);
    ssep_free(p1);
    free(o.data);
    free(wire);
    free(d);
    return 0;
}
