/*
 * postgres_hb: a batch's raw heartbeats on their way into PostgreSQL.
 *
 * store_apply (postgres.c) needs two things from them: the arrays of one
 * UPDATE that advances workers.last_seen_ms for every worker of the batch
 * at once (per worker: the newest timestamp, the last ttl given), and the
 * rows themselves as COPY heartbeats FROM STDIN data, text format. COPY
 * costs the server one parse per field instead of one statement per row
 * or per few hundred rows; the raw heartbeat table's b-tree is then most of
 * what a row costs.
 *
 * Text format: fields separated by tabs, NULL as \N, and backslash escapes
 * for backslash, tab, newline and carriage return (hb.h refuses control
 * characters already; escaping them anyway keeps a bad byte from splitting
 * a row). Integers are formatted by hand, floats with 9 significant digits
 * (a C float round-trips through REAL exactly).
 */
#include "store/postgres_int.h"

#include "core/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The COPY column list; copy_row writes them in this order. */
#define HB_COPY                                                                                    \
    "COPY heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,"                   \
    " gpu_mem_active_gb, thermal, backlog, capacity, in_flight, requests, tokens, cpu_ticks)"      \
    " FROM STDIN"

#define HB_ROW_MAX 1024 /* bytes of one COPY line, at most (escaped strings and 15 fields) */

/* ---- a growing text buffer (COPY data, array literals) -------------------- */

static int buf_need(pg_buf *b, size_t more)
{
    void *g = vec_grow(b->p, &b->cap, b->n + more + 1, 1, 1 << 16);
    if (!g) return -1;
    b->p = g;
    return 0;
}

static void buf_ch(pg_buf *b, char c)
{
    b->p[b->n++] = c;
}

/* COPY text format: backslash escapes for the characters it gives meaning
 * to (hb.h already refuses control characters; this is belt and braces). */
static void buf_copy_text(pg_buf *b, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            buf_ch(b, '\\');
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        buf_ch(b, c);
    }
}

/* An array literal element: double-quoted, quotes and backslashes escaped. */
static void buf_array_text(pg_buf *b, const char *s)
{
    buf_ch(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf_ch(b, '\\');
        buf_ch(b, *s);
    }
    buf_ch(b, '"');
}

static void buf_i64(pg_buf *b, int64_t v)
{
    char t[24];
    int k = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        t[k++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0) buf_ch(b, '-');
    while (k)
        buf_ch(b, t[--k]);
}

/* ---- the batch ------------------------------------------------------------------ */

/* By worker, then arrival order (the array index, via the address): one
 * last_seen value per worker, and ids (the tie break of equal timestamps)
 * still follow arrival within a worker. */
static int hb_cmp(const void *a, const void *b)
{
    const store_hb *x = *(const store_hb *const *)a, *y = *(const store_hb *const *)b;
    int c = strcmp(x->worker_id, y->worker_id);
    return c ? c : (x > y) - (x < y);
}

static bool forgotten_in(const reg_event *evs, size_t nev, const char *worker_id)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == REG_EV_WORKER_FORGET && strcmp(evs[i].worker_id, worker_id) == 0)
            return true;
    return false;
}

void pg_hb_free(pg_hb_batch *b)
{
    free(b->v);
    free(b->ids.p);
    free(b->seen.p);
    free(b->ttl.p);
    free(b->gone);
    free(b->alive);
}

int pg_hb_build(pg_hb_batch *b, const store_hb *hbs, size_t nhb, const reg_event *evs, size_t nev)
{
    memset(b, 0, sizeof *b);
    b->n = nhb;
    b->v = malloc(nhb * sizeof *b->v);
    b->gone = malloc(nhb * sizeof *b->gone);
    b->alive = calloc(nhb, sizeof *b->alive);
    if (!b->v || !b->gone || !b->alive) return -1;
    for (size_t i = 0; i < nhb; i++)
        b->v[i] = &hbs[i];
    qsort(b->v, nhb, sizeof *b->v, hb_cmp);
    pg_buf *ids = &b->ids, *seen = &b->seen, *ttl = &b->ttl;
    if (buf_need(ids, 2) || buf_need(seen, 2) || buf_need(ttl, 2)) return -1;
    buf_ch(ids, '{');
    buf_ch(seen, '{');
    buf_ch(ttl, '{');
    for (size_t i = 0, j; i < nhb; i = j) {
        int64_t last = b->v[i]->ts_ms;
        int32_t t = 0; /* the last one given wins, as if applied one by one */
        for (j = i; j < nhb && strcmp(b->v[j]->worker_id, b->v[i]->worker_id) == 0; j++) {
            if (b->v[j]->ts_ms > last) last = b->v[j]->ts_ms;
            if ((b->v[j]->has & HB_HAS_TTL) && b->v[j]->ttl_s > 0) t = b->v[j]->ttl_s;
        }
        if (buf_need(ids, 2 * HB_ID_MAX + 4) || buf_need(seen, 24) || buf_need(ttl, 16)) return -1;
        if (i) {
            buf_ch(ids, ',');
            buf_ch(seen, ',');
            buf_ch(ttl, ',');
        }
        buf_array_text(ids, b->v[i]->worker_id);
        buf_i64(seen, last);
        buf_i64(ttl, t);
        if (nev && forgotten_in(evs, nev, b->v[i]->worker_id))
            b->gone[b->ngone++] = b->v[i]->worker_id;
    }
    buf_ch(ids, '}');
    buf_ch(seen, '}');
    buf_ch(ttl, '}');
    ids->p[ids->n] = seen->p[seen->n] = ttl->p[ttl->n] = '\0';
    return 0;
}

static bool hb_dropped(const pg_hb_batch *b, const char *worker_id)
{
    for (size_t i = 0; i < b->ngone; i++)
        if (!b->alive[i] && strcmp(b->gone[i], worker_id) == 0) return true;
    return false;
}

int pg_hb_reply(void *ctx, int64_t tag, const PGresult *r)
{
    pg_hb_batch *b = ctx;
    if (tag != PG_TAG_SEEN || !b || b->ngone == 0) return 0;
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < b->ngone; i++)
            if (strcmp(PQgetvalue(r, row, 0), b->gone[i]) == 0) b->alive[i] = true;
    return 0;
}

static void copy_f(pg_buf *b, bool has, float v)
{
    if (!has) {
        b->p[b->n++] = '\\';
        b->p[b->n++] = 'N';
        return;
    }
    /* 9 significant digits: the float comes back bit for bit. */
    b->n += (size_t)snprintf(b->p + b->n, 32, "%.9g", (double)v);
}

static void copy_i(pg_buf *b, bool has, int64_t v)
{
    if (has)
        buf_i64(b, v);
    else {
        buf_ch(b, '\\');
        buf_ch(b, 'N');
    }
}

/* One COPY line, in HB_COPY's column order. The caller reserved HB_ROW_MAX. */
static void copy_row(pg_buf *b, const store_hb *h)
{
    uint32_t has = h->has;
    buf_copy_text(b, h->worker_id);
    buf_ch(b, '\t');
    buf_i64(b, h->ts_ms);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_SEQ, h->seq);
    buf_ch(b, '\t');
    if (has & HB_HAS_STATUS)
        buf_copy_text(b, h->status);
    else
        copy_i(b, false, 0);
    buf_ch(b, '\t');
    copy_f(b, has & HB_HAS_CPU, h->cpu);
    buf_ch(b, '\t');
    copy_f(b, has & HB_HAS_MEM, h->mem);
    buf_ch(b, '\t');
    copy_f(b, has & HB_HAS_MEM_AVAIL, h->mem_available_gb);
    buf_ch(b, '\t');
    copy_f(b, has & HB_HAS_GPU_MEM, h->gpu_mem_active_gb);
    buf_ch(b, '\t');
    const char *th = (has & HB_HAS_THERMAL) && h->thermal > 0 && h->thermal <= HB_THERMAL_CRITICAL
                         ? hb_thermal_name(h->thermal)
                         : NULL;
    if (th)
        buf_copy_text(b, th);
    else
        copy_i(b, false, 0);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_BACKLOG, h->backlog);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_CAPACITY, h->capacity);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_IN_FLIGHT, h->in_flight);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_REQUESTS, h->requests);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_TOKENS, h->tokens);
    buf_ch(b, '\t');
    copy_i(b, has & HB_HAS_CPU_TICKS, h->cpu_ticks);
    buf_ch(b, '\n');
}

/* COPY the batch's rows (minus those of workers forgotten in it). */
int pg_hb_copy(pg_conn *k, const pg_hb_batch *hb, char *err, size_t errlen)
{
    pg_buf d = {0};
    for (size_t i = 0; i < hb->n; i++) {
        if (hb->ngone && hb_dropped(hb, hb->v[i]->worker_id)) continue;
        if (buf_need(&d, HB_ROW_MAX) != 0) {
            free(d.p);
            store_set_err(err, errlen, "store_apply: out of memory");
            return -1;
        }
        copy_row(&d, hb->v[i]);
    }
    if (d.n == 0) return 0;
    PGresult *r = PQexec(k->c, HB_COPY);
    bool in = PQresultStatus(r) == PGRES_COPY_IN;
    if (!in) pg_errmsg(k, r, err, errlen);
    PQclear(r);
    int rc = -1;
    if (in) {
        bool sent = PQputCopyData(k->c, d.p, (int)d.n) == 1;
        if (PQputCopyEnd(k->c, sent ? NULL : "vigil: sending COPY data failed") == 1 && sent)
            rc = 0;
        /* The COPY's outcome, then the end of its results. */
        while ((r = PQgetResult(k->c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                if (rc == 0) pg_errmsg(k, r, err, errlen);
                rc = -1;
            }
            PQclear(r);
        }
        if (rc != 0 && err && !*err) pg_errmsg(k, NULL, err, errlen);
    }
    free(d.p);
    return rc;
}
