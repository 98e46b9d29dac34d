/*
 * hb_write: hb_msg -> JSON, the exact inverse of hb_parse_heartbeat/hb_parse_bye.
 *
 * Mechanism: one table lists every optional field with its presence bit, its
 * JSON key, its kind (string / integer / number / thermal) and where it sits
 * in hb_msg; the writer walks it in wire order after worker_id and appends
 * into the caller's buffer through a small cursor that remembers overflow, so
 * there is one length check per append and no allocation at all.
 *
 * Why these choices:
 *   - Only present fields are written, so absent stays absent after a round
 *     trip (the parser treats a missing key and null alike, but a written 0
 *     would become present).
 *   - Doubles are written in the shortest of %.15g/%.16g/%.17g that strtod
 *     reads back bit-for-bit: "0.31" rather than "0.30999999999999999", and
 *     never a lossy value. The locale's decimal point is mapped to '.', since
 *     a host program of libvigil may have called setlocale().
 *   - Integers are written as integers (PRId64): every counter is <= 2^53.
 *   - jobs, kept joined by '\n', is split back into a JSON array of strings.
 *   - Strings are JSON-escaped: '"' and '\\' with a backslash, bytes < 0x20 as
 *     \u00XX; every other byte (UTF-8 included) is copied as is.
 *   - kind is not written: the wire form has no such key; the endpoint
 *     (/v1/heartbeat or /v1/bye) carries it.
 *   - A value that JSON cannot carry (NaN, infinity, an unknown thermal code)
 *     makes the whole write fail with 0, like a short buffer: a message the
 *     parser would refuse must not be sent half-written.
 */
#include "core/hb.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append cursor: `ok` turns false at the first append that does not fit, and
 * every later append is a no-op, so callers check once at the end. */
typedef struct wbuf {
    char *buf;
    size_t cap, len;
    bool ok;
} wbuf;

static void put_mem(wbuf *w, const char *s, size_t n)
{
    /* Keep one byte for the NUL that hb_write_json promises. */
    if (!w->ok || n >= w->cap - w->len) {
        w->ok = false;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_str(wbuf *w, const char *s)
{
    put_mem(w, s, strlen(s));
}

/* s[0..n), which holds no NUL. */
static void put_json_mem(wbuf *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put_mem(w, "\"", 1);
    const char *run = s; /* start of bytes that need no escaping */
    const unsigned char *end = (const unsigned char *)s + n;
    for (const unsigned char *p = (const unsigned char *)s; p < end; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20) continue;
        put_mem(w, run, (size_t)((const char *)p - run));
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            put_mem(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            put_mem(w, esc, 6);
        }
        run = (const char *)p + 1;
    }
    put_mem(w, run, (size_t)((const char *)end - run));
    put_mem(w, "\"", 1);
}

static void put_json_string(wbuf *w, const char *s)
{
    put_json_mem(w, s, strlen(s));
}

/* The joined list back into an array. A list that does not split into njobs
 * ids is a message the parser could not have made: refuse to write it. */
static void put_jobs(wbuf *w, const hb_msg *m)
{
    size_t len = m->jobs_len;
    if (len > HB_JOBS_BYTES || m->jobs[len] != '\0' || (m->njobs == 0) != (len == 0)) {
        w->ok = false;
        return;
    }
    put_mem(w, "[", 1);
    size_t n = 0;
    for (const char *p = m->jobs, *end = m->jobs + len; p < end && w->ok; n++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (n) put_mem(w, ",", 1);
        put_json_mem(w, p, (size_t)(e - p));
        p = nl ? nl + 1 : end;
    }
    if (n != m->njobs) w->ok = false;
    put_mem(w, "]", 1);
}

static void put_key(wbuf *w, const char *key)
{
    /* Keys are our own identifiers: no escaping needed. */
    put_mem(w, ",\"", 2);
    put_str(w, key);
    put_mem(w, "\":", 2);
}

static void put_int(wbuf *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put_mem(w, tmp, (size_t)n);
}

static void put_double(wbuf *w, double v)
{
    if (!isfinite(v)) {
        w->ok = false;
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break; /* %.17g always round-trips, so the loop ends here at the latest */
    }
    /* Both snprintf and strtod above used the current locale; JSON wants '.'. */
    const char *dp = localeconv()->decimal_point;
    size_t dpn = dp ? strlen(dp) : 0;
    if (dpn == 0 || (dpn == 1 && dp[0] == '.')) {
        put_str(w, tmp);
        return;
    }
    char *hit = strstr(tmp, dp);
    if (!hit) {
        put_str(w, tmp);
        return;
    }
    put_mem(w, tmp, (size_t)(hit - tmp));
    put_mem(w, ".", 1);
    put_str(w, hit + dpn);
}

typedef enum fkind { F_STR, F_INT64, F_INT32, F_DOUBLE, F_THERMAL, F_JOBS } fkind;

typedef struct field {
    uint32_t bit;
    const char *key;
    fkind kind;
    size_t off; /* offsetof(hb_msg, …) */
} field;

/* Wire order. worker_id is written first, outside the table (always present). */
static const field fields[] = {
    {HB_HAS_GROUP, "group", F_STR, offsetof(hb_msg, group)},
    {HB_HAS_INSTANCE, "instance", F_STR, offsetof(hb_msg, instance)},
    {HB_HAS_SEQ, "seq", F_INT64, offsetof(hb_msg, seq)},
    {HB_HAS_TTL, "ttl_s", F_INT32, offsetof(hb_msg, ttl_s)},
    {HB_HAS_STATUS, "status", F_STR, offsetof(hb_msg, status)},
    {HB_HAS_CPU, "cpu", F_DOUBLE, offsetof(hb_msg, cpu)},
    {HB_HAS_MEM, "mem", F_DOUBLE, offsetof(hb_msg, mem)},
    {HB_HAS_MEM_AVAIL, "mem_available_gb", F_DOUBLE, offsetof(hb_msg, mem_available_gb)},
    {HB_HAS_GPU_MEM, "gpu_mem_active_gb", F_DOUBLE, offsetof(hb_msg, gpu_mem_active_gb)},
    {HB_HAS_THERMAL, "thermal", F_THERMAL, offsetof(hb_msg, thermal)},
    {HB_HAS_BACKLOG, "backlog", F_INT64, offsetof(hb_msg, backlog)},
    {HB_HAS_CAPACITY, "capacity", F_INT64, offsetof(hb_msg, capacity)},
    {HB_HAS_IN_FLIGHT, "in_flight", F_INT64, offsetof(hb_msg, in_flight)},
    {HB_HAS_REQUESTS, "requests", F_INT64, offsetof(hb_msg, requests)},
    {HB_HAS_TOKENS, "tokens", F_INT64, offsetof(hb_msg, tokens)},
    {HB_HAS_CPU_TICKS, "cpu_ticks", F_INT64, offsetof(hb_msg, cpu_ticks)},
    {HB_HAS_TASK_MS, "task_ms", F_DOUBLE, offsetof(hb_msg, task_ms)},
    {HB_HAS_JOBS, "jobs", F_JOBS, offsetof(hb_msg, jobs)},
    {HB_HAS_EXIT_CODE, "exit_code", F_INT32, offsetof(hb_msg, exit_code)},
};

size_t hb_write_json(const hb_msg *m, char *buf, size_t cap)
{
    if (!m || !buf || cap == 0) return 0;
    wbuf w = {buf, cap, 0, true};
    put_str(&w, "{\"worker_id\":");
    put_json_string(&w, m->worker_id);

    const char *base = (const char *)m;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && w.ok; i++) {
        const field *f = &fields[i];
        if (!(m->has & f->bit)) continue;
        put_key(&w, f->key);
        const void *p = base + f->off;
        switch (f->kind) {
        case F_STR:
            put_json_string(&w, (const char *)p);
            break;
        case F_INT64: {
            int64_t v;
            memcpy(&v, p, sizeof v);
            put_int(&w, v);
            break;
        }
        case F_INT32: {
            int32_t v;
            memcpy(&v, p, sizeof v);
            put_int(&w, v);
            break;
        }
        case F_DOUBLE: {
            double v;
            memcpy(&v, p, sizeof v);
            put_double(&w, v);
            break;
        }
        case F_THERMAL: {
            const char *name = hb_thermal_name(*(const uint8_t *)p);
            if (!name || !*name)
                w.ok = false; /* NONE or out of range: nothing the parser would accept */
            else
                put_json_string(&w, name);
            break;
        }
        case F_JOBS:
            put_jobs(&w, m);
            break;
        }
    }
    put_mem(&w, "}", 1);
    if (!w.ok) return 0;
    buf[w.len] = '\0';
    return w.len;
}
