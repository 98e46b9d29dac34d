/*
 * postgres_hb: a batch's raw heartbeats on their way into PostgreSQL.
 *
 * store_apply (postgres.c) needs two things from them: the arrays of one
 * UPDATE that advances workers.last_seen_ms for the batch's workers whose
 * row is due (per worker: the newest timestamp, the last ttl given; due:
 * pg_seen, below), and the rows themselves as COPY heartbeats FROM STDIN
 * data. COPY costs the server no statement per row or per few hundred
 * rows; the raw heartbeat table's b-tree is then most of what a row costs.
 *
 * Binary format, not text: no number to print here nor to parse there
 * (measured: see docs/benchmarks.md, "Store write rate"), floats go bit for
 * bit, and strings need no escaping. Its one demand: every value in its
 * column's exact type (text, int8, float4), which copy_row follows
 * postgres_schema.c in.
 *
 * The rows go in worker order (arrival order within a worker): a batch's
 * index inserts then walk the (worker_id, ts_ms) b-tree left to right, and
 * ids (the tie break of equal timestamps) still follow arrival.
 */
#include "store/postgres_int.h"

#include "core/hash.h"
#include "core/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* The COPY column list; copy_row writes them in this order. */
#define HB_COPY                                                                                    \
    "COPY heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,"                   \
    " gpu_mem_active_gb, thermal, backlog, capacity, in_flight, requests, tokens, cpu_ticks)"      \
    " FROM STDIN (FORMAT binary)"
#define HB_COPY_COLS 15

#define HB_ROW_MAX 1024     /* bytes of one COPY tuple, at most */
#define HB_COPY_CHUNK 65536 /* bytes of COPY data sent at a time */

/* ---- a growing byte buffer (COPY data, arrays) -------------------------- */

static int buf_need(pg_buf *b, size_t more)
{
    void *g = vec_grow(b->p, &b->cap, b->n + more + 1, 1, 1 << 16);
    if (!g) return -1;
    b->p = g;
    return 0;
}

/* COPY BINARY: every value as its type's send format, big-endian, after a
 * 4-byte length (-1: NULL). No text to format here, none to parse on the
 * server; floats go bit for bit. */
static void bin_u16(pg_buf *b, uint16_t v)
{
    b->p[b->n++] = (char)(v >> 8);
    b->p[b->n++] = (char)v;
}

static void bin_u32(pg_buf *b, uint32_t v)
{
    bin_u16(b, (uint16_t)(v >> 16));
    bin_u16(b, (uint16_t)v);
}

static void bin_null(pg_buf *b)
{
    bin_u32(b, UINT32_MAX);
}

static void bin_i64(pg_buf *b, bool has, int64_t v)
{
    if (!has) {
        bin_null(b);
        return;
    }
    bin_u32(b, 8);
    bin_u32(b, (uint32_t)((uint64_t)v >> 32));
    bin_u32(b, (uint32_t)v);
}

static void bin_f32(pg_buf *b, bool has, float v)
{
    if (!has) {
        bin_null(b);
        return;
    }
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    bin_u32(b, 4);
    bin_u32(b, u);
}

static void bin_text(pg_buf *b, const char *s)
{
    if (!s) {
        bin_null(b);
        return;
    }
    size_t n = strlen(s);
    bin_u32(b, (uint32_t)n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* One-dimensional arrays in binary (array_send's layout): a header with the
 * element type and the length, patched in by arr_end, then the elements as
 * in COPY BINARY. Binary, as the COPY: array_in parsing 3 x 8,192 text
 * elements was a fifth of the UPDATE (measured). */
#define ARR_HEAD 20 /* ndim, flags, element type, length, lower bound */
#define OID_INT8 20 /* pg_type.oid: fixed for built-in types */
#define OID_INT4 23
#define OID_TEXT 25

static void arr_begin(pg_buf *b, uint32_t elem_oid)
{
    bin_u32(b, 1);
    bin_u32(b, 0);
    bin_u32(b, elem_oid);
    bin_u32(b, 0);
    bin_u32(b, 1);
}

static void arr_end(pg_buf *b, size_t count)
{
    size_t n = b->n;
    b->n = 12;
    bin_u32(b, (uint32_t)count);
    b->n = n;
}

/* ---- what the writer last wrote (pg_seen, postgres_int.h) ----------------------- */

/* Seeded per process (pg_seen_init): ids are chosen by clients, so the
 * probe sequences must not be. Never 0 (an empty slot). */
static uint64_t seen_hash(const pg_seen *c, const char *id)
{
    uint64_t h = hash_mix64(hash_fnv1a64(id, strlen(id), c->seed));
    return h ? h : 1;
}

static pg_seen_slot *seen_slot(const pg_seen *c, uint64_t h)
{
    size_t m = c->cap - 1, i = (size_t)h & m;
    while (c->v[i].h && c->v[i].h != h)
        i = (i + 1) & m;
    return &c->v[i];
}

static const pg_seen_slot *seen_get(const pg_seen *c, uint64_t h)
{
    if (!c->cap) return NULL;
    const pg_seen_slot *e = seen_slot(c, h);
    return e->h ? e : NULL;
}

/* Room for one more entry: doubled while under PG_SEEN_SLOTS_MAX, emptied
 * at its 3/4 (a fleet that large is written in full once more, no worse
 * than without the table). -1: out of memory, the table as it was. */
static int seen_room(pg_seen *c)
{
    if (c->cap && (c->n + 1) * 2 <= c->cap) return 0;
    if (c->cap >= PG_SEEN_SLOTS_MAX) {
        if ((c->n + 1) * 4 <= c->cap * 3) return 0;
        memset(c->v, 0, c->cap * sizeof *c->v);
        c->n = 0;
        return 0;
    }
    size_t cap = c->cap ? c->cap * 2 : PG_SEEN_SLOTS_MIN;
    pg_seen_slot *v = calloc(cap, sizeof *v);
    if (!v) return -1;
    pg_seen old = *c;
    c->v = v;
    c->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.v[i].h) *seen_slot(c, old.v[i].h) = old.v[i];
    free(old.v);
    return 0;
}

void pg_seen_init(pg_seen *c)
{
    memset(c, 0, sizeof *c);
    if (getrandom(&c->seed, sizeof c->seed, GRND_NONBLOCK) != (ssize_t)sizeof c->seed)
        c->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
}

void pg_seen_free(pg_seen *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Whether a worker's row is due, given its entry e (NULL: unknown): a
 * slack behind last_ms, or given a ttl other than the one written. */
static bool seen_due(const pg_seen_slot *e, int64_t last_ms, int32_t ttl)
{
    return !e || !e->seen_s || last_ms / 1000 - e->seen_s >= STORE_SEEN_SLACK_MS / 1000 ||
           (ttl > 0 && ttl != e->ttl_s);
}

/* ---- the batch ------------------------------------------------------------------ */

void pg_hb_free(pg_hb_batch *b)
{
    free(b->v);
    free(b->put);
    free(b->ids.p);
    free(b->seen.p);
    free(b->ttl.p);
    free(b->gone);
    free(b->alive);
}

int pg_hb_build(pg_hb_batch *b, const pg_seen *c, const store_hb *hbs, size_t nhb,
                const reg_event *evs, size_t nev)
{
    memset(b, 0, sizeof *b);
    b->n = nhb;
    b->v = store_hb_sorted(hbs, nhb); /* one last_seen value per worker */
    b->put = malloc(nhb * sizeof *b->put);
    b->gone = malloc(nhb * sizeof *b->gone);
    b->alive = calloc(nhb, sizeof *b->alive);
    if (!b->v || !b->put || !b->gone || !b->alive) return -1;
    pg_buf *ids = &b->ids, *seen = &b->seen, *ttl = &b->ttl;
    if (buf_need(ids, ARR_HEAD) || buf_need(seen, ARR_HEAD) || buf_need(ttl, ARR_HEAD)) return -1;
    arr_begin(ids, OID_TEXT);
    arr_begin(seen, OID_INT8);
    arr_begin(ttl, OID_INT4);
    bool forgets = store_forgets_any(evs, nev);
    for (size_t i = 0, j; i < nhb; i = j) {
        int64_t last;
        int32_t t;
        j = store_hb_run(b->v, nhb, i, &last, &t);
        const char *id = b->v[i]->worker_id;
        bool gone = forgets && store_forgotten_in(evs, nev, id);
        uint64_t h = seen_hash(c, id);
        const pg_seen_slot *e = seen_get(c, h);
        if (!gone && !seen_due(e, last, t)) continue;
        if (buf_need(ids, HB_ID_MAX + 4) || buf_need(seen, 12) || buf_need(ttl, 8)) return -1;
        bin_text(ids, id);
        bin_i64(seen, true, last);
        bin_u32(ttl, 4);
        bin_u32(ttl, (uint32_t)t);
        if (gone) {
            b->gone[b->ngone++] = id; /* its row may not be there: not put */
        } else {
            b->put[b->nput++] = (pg_seen_slot){.h = h,
                                               .seen_s = (uint32_t)(last / 1000),
                                               .ttl_s = t > 0 ? t
                                                        : e   ? e->ttl_s
                                                              : 0};
        }
    }
    arr_end(ids, b->nput + b->ngone);
    arr_end(seen, b->nput + b->ngone);
    arr_end(ttl, b->nput + b->ngone);
    return 0;
}

void pg_seen_forget(pg_seen *c, const reg_event *evs, size_t nev)
{
    for (size_t i = 0; i < nev && c->cap; i++) {
        if (!evs[i].worker_id[0]) continue; /* a group's */
        pg_seen_slot *e = seen_slot(c, seen_hash(c, evs[i].worker_id));
        if (e->h) *e = (pg_seen_slot){.h = e->h};
    }
}

void pg_hb_committed(pg_seen *c, const pg_hb_batch *b)
{
    for (size_t i = 0; i < b->nput; i++) {
        if (seen_room(c) != 0) return; /* unknown stays due: written again */
        pg_seen_slot *e = seen_slot(c, b->put[i].h);
        if (!e->h) c->n++;
        *e = b->put[i];
    }
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

_Static_assert(2 + HB_COPY_COLS * 4 + HB_ID_MAX + HB_STATUS_MAX + 16 + 10 * 8 + 4 * 4 <= HB_ROW_MAX,
               "HB_ROW_MAX too small for one binary COPY row");

/* One tuple, in HB_COPY's column order. The caller reserved HB_ROW_MAX. */
static void copy_row(pg_buf *b, const store_hb *h)
{
    uint32_t has = h->has;
    bin_u16(b, HB_COPY_COLS);
    bin_text(b, h->worker_id);
    bin_i64(b, true, h->ts_ms);
    bin_i64(b, has & HB_HAS_SEQ, h->seq);
    bin_text(b, has & HB_HAS_STATUS ? h->status : NULL);
    bin_f32(b, has & HB_HAS_CPU, h->cpu);
    bin_f32(b, has & HB_HAS_MEM, h->mem);
    bin_f32(b, has & HB_HAS_MEM_AVAIL, h->mem_available_gb);
    bin_f32(b, has & HB_HAS_GPU_MEM, h->gpu_mem_active_gb);
    bin_text(b, (has & HB_HAS_THERMAL) && h->thermal > 0 && h->thermal <= HB_THERMAL_CRITICAL
                    ? hb_thermal_name(h->thermal)
                    : NULL);
    bin_i64(b, has & HB_HAS_BACKLOG, h->backlog);
    bin_i64(b, has & HB_HAS_CAPACITY, h->capacity);
    bin_i64(b, has & HB_HAS_IN_FLIGHT, h->in_flight);
    bin_i64(b, has & HB_HAS_REQUESTS, h->requests);
    bin_i64(b, has & HB_HAS_TOKENS, h->tokens);
    bin_i64(b, has & HB_HAS_CPU_TICKS, h->cpu_ticks);
}

/* The signature, flags and header extension length of COPY BINARY data. */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

/* Build and send the COPY data, HB_COPY_CHUNK bytes at a time: the server
 * inserts one chunk's rows while the next is built. */
static int copy_send(pg_conn *k, const pg_hb_batch *hb, pg_buf *d)
{
    if (buf_need(d, sizeof copy_header)) return -1;
    memcpy(d->p, copy_header, sizeof copy_header);
    d->n = sizeof copy_header;
    for (size_t i = 0; i < hb->n; i++) {
        if (hb->ngone && hb_dropped(hb, hb->v[i]->worker_id)) continue;
        if (buf_need(d, HB_ROW_MAX) != 0) return -1;
        copy_row(d, hb->v[i]);
        if (d->n >= HB_COPY_CHUNK) {
            if (PQputCopyData(k->c, d->p, (int)d->n) != 1) return -1;
            d->n = 0;
        }
    }
    bin_u16(d, UINT16_MAX); /* the trailer: a tuple of -1 fields */
    return PQputCopyData(k->c, d->p, (int)d->n) == 1 ? 0 : -1;
}

/* COPY the batch's rows (minus those of workers forgotten in it). */
int pg_hb_copy(pg_conn *k, const pg_hb_batch *hb, char *err, size_t errlen)
{
    size_t keep = 0;
    for (size_t i = 0; i < hb->n && keep == 0; i++)
        if (!hb->ngone || !hb_dropped(hb, hb->v[i]->worker_id)) keep++;
    if (keep == 0) return 0;
    PGresult *r = PQexec(k->c, HB_COPY);
    bool in = PQresultStatus(r) == PGRES_COPY_IN;
    if (!in) pg_errmsg(k, r, err, errlen);
    PQclear(r);
    if (!in) return -1;
    pg_buf d = {0};
    bool sent = copy_send(k, hb, &d) == 0;
    free(d.p);
    int rc = -1;
    if (PQputCopyEnd(k->c, sent ? NULL : "vigil: building or sending COPY data failed") == 1 &&
        sent)
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
    return rc;
}
