/*
 * test_store_rel: the analytics half of the store contract (store.h,
 * "analytics") against the SQLite backend: the hourly fold and its
 * watermark, the forget tombstone, retention of the analytics tables,
 * reliability rows, the rollup's scan, task latency buckets, history imports
 * and node runs.
 *
 * Each test gets a fresh database in its own mkdtemp directory (as in
 * test_store.c); what the API cannot show is read through a raw sqlite3
 * connection. Times are constants.
 */
#include "store/store.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "near.h"

#include "store_fx.h"

#define HOUR 3600000LL
#define H0 (472222LL * HOUR) /* 2023-11-14 22:00 UTC, an hour boundary */
#define H1 (H0 + HOUR)
#define H2 (H0 + 2 * HOUR)

/* Another database beside the test's own (removed by teardown). */
static store *open_other(const fx *f, const char *name, char *url, size_t n)
{
    fx_other_url(f, name, url, n);
    return open_at(url, "node-a");
}

/* ---- raw look at a database (store_fx.h's, by URL) ------------------------------- */

static int64_t q_int(const char *url, const char *sql)
{
    return q_int_url(url, sql);
}

/* q_int over a formatted statement (numbers only: no quoting needed). */
static int64_t q_intf(const char *url, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t q_intf(const char *url, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return q_int(url, sql);
}

#define HOURLY_DUMP "SELECT * FROM heartbeats_hourly ORDER BY worker_id, hour_ms"
#define SESSIONS_DUMP "SELECT * FROM sessions ORDER BY worker_id, opened_ms"
#define WORKERS_DUMP "SELECT * FROM workers ORDER BY worker_id"

static void assert_same_dump(const char *p1, const char *p2, const char *sql)
{
    char *a = q_dump(p1, sql), *b = q_dump(p2, sql);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* ---- building input ------------------------------------------------------------ */

static reg_event ev_open(const char *w, const char *g, const char *inst, int64_t opened)
{
    reg_event e = ev(REG_EV_SESSION_OPEN, w, g, opened);
    snprintf(e.instance, sizeof e.instance, "%s", inst);
    e.opened_ms = e.last_hb_ms = opened;
    e.ttl_s = 15;
    return e;
}

static reg_event ev_close(const char *w, const char *g, int64_t opened, int64_t at, int reason)
{
    reg_event e = ev(REG_EV_SESSION_CLOSE, w, g, at);
    e.opened_ms = opened;
    e.reason = (uint8_t)reason;
    e.last_hb_ms = at;
    return e;
}

enum { C = HB_HAS_CPU, M = HB_HAS_MEM, A = HB_HAS_MEM_AVAIL, T = HB_HAS_THERMAL };

/* A raw heartbeat with only the fields named in `has` (values are exact in
 * binary, so sums come out the same in any order). */
static store_hb hbs(const char *w, int64_t ts, uint32_t has, float cpu, float mem, float mema,
                    int thermal)
{
    store_hb h;
    memset(&h, 0, sizeof h);
    snprintf(h.worker_id, sizeof h.worker_id, "%s", w);
    h.ts_ms = ts;
    h.has = has;
    h.cpu = cpu;
    h.mem = mem;
    h.mem_available_gb = mema;
    h.thermal = (uint8_t)thermal;
    return h;
}

static imp_row imp(const char *w, const char *g, const char *inst, int64_t opened, int64_t closed,
                   int reason)
{
    imp_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.worker_id, sizeof r.worker_id, "%s", w);
    snprintf(r.group, sizeof r.group, "%s", g);
    snprintf(r.instance, sizeof r.instance, "%s", inst);
    r.opened_ms = opened;
    r.closed_ms = closed;
    r.reason = closed ? reason : REG_R_NONE;
    return r;
}

static tlat_row task(const char *g, int64_t bucket, uint64_t count, double mean, double lo,
                     double hi, double p50, double p90, double p95, double p99)
{
    tlat_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.group, sizeof r.group, "%s", g);
    r.bucket_ms = bucket;
    r.count = count;
    r.mean_ms = mean;
    r.min_ms = lo;
    r.max_ms = hi;
    r.p50_ms = p50;
    r.p90_ms = p90;
    r.p95_ms = p95;
    r.p99_ms = p99;
    return r;
}

/* ---- collecting rows ------------------------------------------------------------ */

#define MAXROWS 16
#define MAXKM 8

ROW_LIST(hrlist, store_hourly);

ROW_LIST(tklist, tlat_row);

ROW_LIST(runlist, store_run);

ROW_LIST(wlist, store_worker);

ROW_LIST(slist, store_session);

COLLECTOR(got_hr, hrlist, store_hourly)
COLLECTOR(got_tk, tklist, tlat_row)
COLLECTOR(got_run, runlist, store_run)
COLLECTOR(got_w, wlist, store_worker)
COLLECTOR(got_s, slist, store_session)

/* Reliability rows: the curve is only valid during the callback. */
typedef struct relrow {
    store_rel_row r;
    rel_km_step km[MAXKM];
} relrow;
ROW_LIST(rellist, relrow);

static int got_rel(void *ctx, const store_rel_row *row)
{
    rellist *l = ctx;
    assert_true(l->n < MAXROWS);
    assert_true(row->nkm <= MAXKM);
    relrow *x = &l->r[l->n++];
    x->r = *row;
    if (row->nkm) memcpy(x->km, row->km, row->nkm * sizeof *row->km);
    x->r.km = NULL;
    return 0;
}

static const relrow *find_rel(const rellist *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->r[i].r.worker_id, id) == 0) return &l->r[i];
    return NULL;
}

/* The rollup's scan: the sessions are only valid during the callback. */
typedef struct scanw {
    char id[HB_ID_MAX + 1], group[HB_ID_MAX + 1];
    int64_t first_seen_ms;
    size_t n;
    rel_session s[MAXROWS];
} scanw;
typedef struct scanlist {
    int n, stop_after; /* stop_after 0: never stop */
    scanw w[MAXROWS];
} scanlist;

static int got_scan(void *ctx, const store_rel_worker *w)
{
    scanlist *l = ctx;
    assert_true(l->n < MAXROWS);
    assert_true(w->n <= MAXROWS);
    scanw *x = &l->w[l->n++];
    snprintf(x->id, sizeof x->id, "%s", w->worker_id);
    snprintf(x->group, sizeof x->group, "%s", w->group);
    x->first_seen_ms = w->first_seen_ms;
    x->n = w->n;
    if (w->n) memcpy(x->s, w->s, w->n * sizeof *w->s);
    return l->stop_after && l->n >= l->stop_after;
}

static void assert_session(const rel_session *s, int64_t opened, int64_t closed, int64_t last_hb,
                           int reason, bool imported)
{
    assert_int_equal(s->opened_ms, opened);
    assert_int_equal(s->closed_ms, closed);
    assert_int_equal(s->last_hb_ms, last_hb);
    assert_int_equal(s->reason, reason);
    assert_int_equal(s->imported, imported);
}

/* ---- hourly fold ------------------------------------------------------------------ */

static void assert_hour(const store_hourly *h, int64_t hour, int64_t count, int has_cpu, double cpu,
                        int has_mem, double mem, int has_mema, double mema, int thermal)
{
    assert_int_equal(h->hour_ms, hour);
    assert_int_equal(h->count, count);
    assert_int_equal(h->has_cpu, has_cpu);
    if (has_cpu) assert_near(h->cpu, cpu, 1e-12);
    assert_int_equal(h->has_mem, has_mem);
    if (has_mem) assert_near(h->mem, mem, 1e-12);
    assert_int_equal(h->has_mem_available, has_mema);
    if (has_mema) assert_near(h->mem_available_gb, mema, 1e-12);
    assert_int_equal(h->thermal_max, thermal);
}

static void test_hourly_fold(void **state)
{
    fx *f = *state;
    store_hb h[] = {
        hbs("w1", H0 + 1000, C | M | A | T, 0.5f, 0.25f, 8, HB_THERMAL_FAIR),
        hbs("w1", H0 + 2000, C | A | T, 0.25f, 0, 4, HB_THERMAL_NOMINAL),
        hbs("w1", H0 + 3000, M, 0.9f /* no bit */, 0.75f, 0, HB_THERMAL_CRITICAL /* no bit */),
        hbs("w1", H1, C | T, 1, 0, 0, HB_THERMAL_CRITICAL), /* on the boundary: the next hour */
        hbs("w1", H1 + HOUR - 1, T, 0, 0, 0, HB_THERMAL_NOMINAL),
        hbs("w2", H0 + 10, 0, 0, 0, 0, 0),
        hbs("w2", H0 + 20, C, 0, 0, 0, 0), /* cpu 0 is a sample, not an absence */
        hbs("w2", H1 + 5, C | T, 0.125f, 0, 0, HB_THERMAL_SERIOUS),
    };
    apply_ok(f->s, NULL, 0, h, 8);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats_hourly"), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1000), 8);

    hrlist l = {0};
    assert_int_equal(store_list_hourly(f->s, "w1", 0, 0, 0, got_hr, &l), 2);
    /* cpu over the 2 samples with it, mem over 2, mem_available over 2;
     * thermal by severity (fair > nominal; critical > nominal, although
     * "nominal" sorts after "critical" as text). */
    assert_hour(&l.r[0], H0, 3, 1, 0.375, 1, 0.5, 1, 6.0, HB_THERMAL_FAIR);
    assert_hour(&l.r[1], H1, 2, 1, 1.0, 0, 0, 0, 0, HB_THERMAL_CRITICAL);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w2", 0, 0, 0, got_hr, &l), 2);
    assert_hour(&l.r[0], H0, 2, 1, 0.0, 0, 0, 0, 0, HB_THERMAL_NONE);
    assert_hour(&l.r[1], H1, 1, 1, 0.125, 0, 0, 0, 0, HB_THERMAL_SERIOUS);

    /* [from, to), limit, unknown worker. */
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w1", H1, 0, 0, got_hr, &l), 1);
    assert_int_equal(l.r[0].hour_ms, H1);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w1", H0, H1, 0, got_hr, &l), 1);
    assert_int_equal(l.r[0].hour_ms, H0);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w1", H0 + 1, H1 + 1, 0, got_hr, &l), 1);
    assert_int_equal(l.r[0].hour_ms, H1);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w1", 0, 0, 1, got_hr, &l), 1);
    assert_int_equal(l.r[0].hour_ms, H0);
    assert_int_equal(store_list_hourly(f->s, "w3", 0, 0, 0, got_hr, &l), 0);

    /* Exactly once: a second run folds nothing and changes no row. */
    char *before = q_dump(f->url, HOURLY_DUMP);
    assert_int_equal(store_hourly_rollup(f->s, 1000), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1), 0);
    char *after = q_dump(f->url, HOURLY_DUMP);
    assert_string_equal(before, after);
    free(before);
    free(after);
    if (!f->pg) /* SQLite folds by rowid watermark (store.h) */
        assert_int_equal(
            q_int(f->url, "SELECT value FROM rollup_state WHERE name = 'hourly_rowid'"),
            q_int(f->url, "SELECT max(rowid) FROM heartbeats"));
    assert_int_equal(store_hourly_rollup(f->s, 0), -1);
}

/* Two batches into the same hours (plus a new one). */
static void batches(store_hb a[5], store_hb b[4])
{
    a[0] = hbs("w1", H0 + 1, C | M | T, 0.5f, 0.125f, 0, HB_THERMAL_NOMINAL);
    a[1] = hbs("w1", H0 + 2, C | A, 0.25f, 0, 2, 0);
    a[2] = hbs("w2", H0 + 3, M | T, 0, 0.5f, 0, HB_THERMAL_SERIOUS);
    a[3] = hbs("w1", H1 + 4, 0, 0, 0, 0, 0);
    a[4] = hbs("w2", H1 + 5, C, 0.75f, 0, 0, 0);
    b[0] = hbs("w1", H0 + 6, C | T, 0.125f, 0, 0, HB_THERMAL_CRITICAL); /* raises the max */
    b[1] = hbs("w2", H0 + 7, T, 0, 0, 0, HB_THERMAL_FAIR);              /* does not */
    b[2] = hbs("w1", H1 + 8, C | M | A | T, 1, 1, 16, HB_THERMAL_FAIR); /* first thermal of H1 */
    b[3] = hbs("w2", H2 + 9, A, 0, 0, 0.5f, 0);
}

static void test_hourly_incremental(void **state)
{
    fx *f = *state;
    SQLITE_ONLY(f); /* rowid watermark and tombstones are SQLite's */
    store_hb a[5], b[4], all[9];
    batches(a, b);
    memcpy(all, a, sizeof a);
    memcpy(all + 5, b, sizeof b);

    /* In two steps here... */
    apply_ok(f->s, NULL, 0, a, 5);
    assert_int_equal(store_hourly_rollup(f->s, 1000), 5);
    apply_ok(f->s, NULL, 0, b, 4);
    assert_int_equal(store_hourly_rollup(f->s, 1000), 4);
    /* ...all at once in a fresh database... */
    char p2[768], p3[768];
    store *s2 = open_other(f, "once.db", p2, sizeof p2);
    apply_ok(s2, NULL, 0, all, 9);
    assert_int_equal(store_hourly_rollup(s2, 1000), 9);
    assert_same_dump(f->url, p2, HOURLY_DUMP);

    hrlist l = {0};
    assert_int_equal(store_list_hourly(f->s, "w1", 0, 0, 0, got_hr, &l), 2);
    assert_hour(&l.r[0], H0, 3, 1, 0.875 / 3, 1, 0.125, 1, 2, HB_THERMAL_CRITICAL);
    assert_hour(&l.r[1], H1, 2, 1, 1, 1, 1, 1, 16, HB_THERMAL_FAIR);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w2", 0, 0, 0, got_hr, &l), 3);
    assert_hour(&l.r[0], H0, 2, 0, 0, 1, 0.5, 0, 0, HB_THERMAL_SERIOUS);
    assert_hour(&l.r[1], H1, 1, 1, 0.75, 0, 0, 0, 0, HB_THERMAL_NONE);
    assert_hour(&l.r[2], H2, 1, 0, 0, 0, 0, 1, 0.5, HB_THERMAL_NONE);

    /* ...and in calls of at most 4 raw rows: 4, 4, 1, then caught up. */
    store *s3 = open_other(f, "bounded.db", p3, sizeof p3);
    apply_ok(s3, NULL, 0, all, 9);
    assert_int_equal(store_hourly_rollup(s3, 4), 4);
    assert_int_equal(q_int(p3, "SELECT sum(n) FROM heartbeats_hourly"), 4);
    assert_int_equal(q_int(p3, "SELECT value FROM rollup_state WHERE name = 'hourly_rowid'"), 4);
    assert_int_equal(store_hourly_rollup(s3, 4), 4);
    assert_int_equal(q_int(p3, "SELECT sum(n) FROM heartbeats_hourly"), 8);
    assert_int_equal(store_hourly_rollup(s3, 4), 1);
    assert_int_equal(store_hourly_rollup(s3, 4), 0);
    assert_same_dump(p2, p3, HOURLY_DUMP);
    store_close(s2);
    store_close(s3);
}

/* ---- forget: tombstone and watermark ------------------------------------------------ */

static store_rel_row rel_row(const char *w, const char *g, double score)
{
    store_rel_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.worker_id, sizeof r.worker_id, "%s", w);
    snprintf(r.group, sizeof r.group, "%s", g);
    r.computed_ms = H2;
    r.window_ms = 14 * 24 * HOUR;
    r.f.score = score;
    r.f.sessions_count = 1;
    r.f.p10_session_s = r.f.p50_session_s = r.f.p90_session_s = r.f.last_session_s = NAN;
    r.f.km_t_max_s = 60;
    return r;
}

static void test_forget_tombstone(void **state)
{
    fx *f = *state;
    SQLITE_ONLY(f); /* rowid watermark and tombstones are SQLite's */
    reg_event open[] = {ev_open("w1", "g", "i", H0), ev_open("w2", "g", "i", H0)};
    store_hb h2[] = {hbs("w2", H0 + 1, C, 0.5f, 0, 0, 0), hbs("w2", H0 + 2, C, 0.25f, 0, 0, 0)};
    store_hb h1[] = {hb("w1", H0 + 3), hb("w1", H0 + 4)};
    apply_ok(f->s, open, 2, h2, 2);
    apply_ok(f->s, NULL, 0, h1, 2); /* w1 owns the newest raw row, rowid 4 */
    assert_int_equal(store_hourly_rollup(f->s, 100), 4);
    store_rel_row rr[] = {rel_row("w1", "g", 0.5), rel_row("w2", "g", 0.25)};
    assert_int_equal(store_rel_put(f->s, rr, 2), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability"), 2);
    assert_int_equal(q_int(f->url, "SELECT max(rowid) FROM heartbeats"), 4);

    reg_event fg = ev(REG_EV_WORKER_FORGET, "w1", "g", H0 + 10);
    apply_ok(f->s, &fg, 1, NULL, 0);
    /* Exactly one nameless row: w1's newest, keeping rowid 4 in use. */
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = ''"), 1);
    assert_int_equal(q_int(f->url, "SELECT rowid FROM heartbeats WHERE worker_id = ''"), 4);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'"), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats"), 3);
    /* Its hourly and reliability rows go; w2's stay. */
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE worker_id = 'w1'"),
                     0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE worker_id = 'w2'"),
                     1);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability WHERE worker_id = 'w1'"), 0);
    rellist rl = {0};
    assert_int_equal(store_rel_load(f->s, got_rel, &rl), 0);
    assert_int_equal(rl.n, 1);
    assert_string_equal(rl.r[0].r.worker_id, "w2");
    hrlist l = {0};
    assert_int_equal(store_list_hourly(f->s, "w1", 0, 0, 0, got_hr, &l), 0);
    assert_int_equal(store_list_hourly(f->s, "", 0, 0, 0, got_hr, &l), 0);

    /* New rows get new rowids (not 4 again), and the fold takes them once. */
    store_hb h3 = hbs("w2", H0 + 20, C, 1, 0, 0, 0);
    apply_ok(f->s, NULL, 0, &h3, 1);
    assert_int_equal(
        q_intf(f->url, "SELECT rowid FROM heartbeats WHERE ts_ms = %lld", (long long)(H0 + 20)), 5);
    assert_int_equal(store_hourly_rollup(f->s, 100), 1);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "w2", 0, 0, 0, got_hr, &l), 1);
    assert_hour(&l.r[0], H0, 3, 1, 1.75 / 3, 0, 0, 0, 0, HB_THERMAL_NONE);

    /* A worker forgotten before its rows were folded: the tombstone is not
     * folded either, and nothing of it reaches heartbeats_hourly. */
    reg_event o3 = ev_open("w3", "g", "i", H0);
    store_hb h4[] = {hb("w3", H0 + 30), hb("w3", H0 + 31)};
    apply_ok(f->s, &o3, 1, h4, 2);
    reg_event fg3 = ev(REG_EV_WORKER_FORGET, "w3", "g", H0 + 40);
    apply_ok(f->s, &fg3, 1, NULL, 0);
    assert_int_equal(q_int(f->url, "SELECT rowid FROM heartbeats WHERE worker_id = '' "
                                   "ORDER BY rowid DESC LIMIT 1"),
                     7);
    assert_true(store_hourly_rollup(f->s, 100) >= 0);
    assert_int_equal(store_hourly_rollup(f->s, 100), 0);
    assert_int_equal(
        q_int(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE worker_id IN ('', 'w3')"), 0);
    l.n = 0;
    assert_int_equal(store_list_hourly(f->s, "", 0, 0, 0, got_hr, &l), 0);

    /* Forgetting a worker that does not own the newest row leaves no tombstone. */
    reg_event fg2 = ev(REG_EV_WORKER_FORGET, "w2", "g", H0 + 50);
    apply_ok(f->s, &fg2, 1, NULL, 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = ''"), 2);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats"), 2);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats_hourly"), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability"), 0);
    store_hb h5 = hb("w9", H0 + 60);
    apply_ok(f->s, NULL, 0, &h5, 1);
    assert_int_equal(q_int(f->url, "SELECT rowid FROM heartbeats WHERE worker_id = 'w9'"), 8);
}

/* ---- retention of the analytics tables ---------------------------------------------- */

static void test_prune_analytics(void **state)
{
    fx *f = *state;
    /* heartbeats_hourly: w1 and w2 in H0, H1, H2. */
    store_hb h[6];
    for (int i = 0; i < 6; i++)
        h[i] = hb(i % 2 ? "w2" : "w1", H0 + (i / 2) * HOUR + i);
    apply_ok(f->s, NULL, 0, h, 6);
    assert_int_equal(store_hourly_rollup(f->s, 100), 6);
    assert_int_equal(store_prune(f->s, "heartbeats_hourly", H2, 0), 0);
    assert_int_equal(store_prune(f->s, "heartbeats_hourly", H2, 3), 3); /* oldest first */
    assert_int_equal(q_intf(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE hour_ms = %lld",
                            (long long)H0),
                     0);
    assert_int_equal(store_prune(f->s, "heartbeats_hourly", H2, 10), 1);
    assert_int_equal(store_prune(f->s, "heartbeats_hourly", H2, 10), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM heartbeats_hourly"), 2);
    assert_int_equal(q_int(f->url, "SELECT min(hour_ms) FROM heartbeats_hourly"), H2);
    assert_int_equal(q_intf(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE hour_ms < %lld",
                            (long long)H2),
                     0);

    /* sessions: closed ones, oldest closed_ms first (c opened before b but
     * closed after it); the open one, opened long ago, never goes. */
    reg_event e[] = {
        ev_open("a", "g", "i", 100), ev_close("a", "g", 100, 3000, REG_R_TIMEOUT),
        ev_open("b", "g", "i", 200), ev_close("b", "g", 200, 1000, REG_R_FAILED),
        ev_open("c", "g", "i", 150), ev_close("c", "g", 150, 2000, REG_R_CLEAN_SHUTDOWN),
        ev_open("old", "g", "i", 1),
    };
    apply_ok(f->s, e, 7, NULL, 0);
    assert_int_equal(store_prune(f->s, "sessions", 2500, 0), 0);
    assert_int_equal(store_prune(f->s, "sessions", 2500, 1), 1);
    assert_int_equal(q_int(f->url, "SELECT min(closed_ms) FROM sessions"), 2000);
    assert_int_equal(store_prune(f->s, "sessions", 2500, 10), 1);
    assert_int_equal(store_prune(f->s, "sessions", 2500, 10), 0);
    assert_int_equal(store_prune(f->s, "sessions", 3000, 10), 0); /* before: strictly older */
    assert_int_equal(store_prune(f->s, "sessions", INT64_MAX, 10), 1);
    assert_int_equal(store_prune(f->s, "sessions", INT64_MAX, 10), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM sessions"), 1);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM sessions WHERE worker_id = 'old' AND "
                                   "closed_ms IS NULL"),
                     1);

    /* task_latency: by bucket_ms. */
    tlat_row t[] = {
        task("a", 0, 1, 1, 1, 1, 1, 1, 1, 1),     task("b", 0, 1, 1, 1, 1, 1, 1, 1, 1),
        task("a", 30000, 1, 1, 1, 1, 1, 1, 1, 1), task("b", 30000, 1, 1, 1, 1, 1, 1, 1, 1),
        task("a", 60000, 1, 1, 1, 1, 1, 1, 1, 1), task("", 90000, 1, 1, 1, 1, 1, 1, 1, 1)};
    assert_int_equal(store_tasks_put(f->s, t, 6), 0);
    assert_int_equal(store_prune(f->s, "task_latency", 60000, 0), 0);
    assert_int_equal(store_prune(f->s, "task_latency", 60000, 3), 3);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM task_latency WHERE bucket_ms = 0"), 0);
    assert_int_equal(store_prune(f->s, "task_latency", 60000, 10), 1);
    assert_int_equal(store_prune(f->s, "task_latency", 60000, 10), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM task_latency"), 2);
    assert_int_equal(q_int(f->url, "SELECT min(bucket_ms) FROM task_latency"), 60000);
}

/* ---- reliability rows ------------------------------------------------------------------ */

static const rel_km_step KM[] = {{3600.1, 0.9}, {7200.25, 2.0 / 3}, {14400.5, 0.1}};

static store_rel_row full_row(void)
{
    store_rel_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.worker_id, sizeof r.worker_id, "w1");
    snprintf(r.group, sizeof r.group, "gpu");
    r.computed_ms = H2 + 12345;
    r.window_ms = 14 * 24 * HOUR;
    rel_features *f = &r.f;
    f->uptime_pct = 0.875;
    f->up_ms = 123456789;
    f->observed_ms = 234567890;
    f->sessions_count = 7;
    f->closed_count = 6;
    f->failures = 3;
    f->mtbf_s = 41152.263;
    f->p10_session_s = 10.5;
    f->p50_session_s = 100.25;
    f->p90_session_s = 1000.125;
    f->p_stays_4h = 0.1;
    f->p_stays_8h = 0.0;
    f->reasons[REG_R_CLEAN_SHUTDOWN] = 1;
    f->reasons[REG_R_FAILED] = 2;
    f->reasons[REG_R_TIMEOUT] = 3;
    f->reasons[REG_R_RESTARTED] = 4;
    f->reasons[REG_R_EVICTED] = 5;
    f->reasons[REG_R_MONITOR_GAP] = 6;
    f->last_disconnect_ms = H2 - 5000;
    f->last_failure_ms = H2 - 10000;
    f->last_session_s = 77.5;
    f->km_t_max_s = 20000.75;
    f->score = 0.8125;
    r.km = KM;
    r.nkm = 3;
    return r;
}

static void test_rel_roundtrip(void **state)
{
    fx *f = *state;
    reg_event e[] = {ev_open("w1", "gpu", "i", 1000), ev_open("w2", "cpu", "i", 1000)};
    apply_ok(f->s, e, 2, NULL, 0);

    store_rel_row rows[3];
    rows[0] = full_row();
    rows[1] = rel_row("w2", "cpu", 0.0); /* NAN percentiles and last session, no curve */
    rows[1].f.km_t_max_s = 0;
    rows[2] = full_row();
    snprintf(rows[2].worker_id, sizeof rows[2].worker_id, "ghost"); /* not in workers */
    assert_int_equal(store_rel_put(f->s, rows, 3), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability"), 2);
    assert_int_equal(
        q_int(f->url, "SELECT count(*) FROM reliability WHERE worker_id = 'w2' AND "
                      "p10_session_s IS NULL AND p50_session_s IS NULL AND p90_session_s IS NULL "
                      "AND last_session_s IS NULL AND last_disconnect_ms IS NULL AND "
                      "last_failure_ms IS NULL"),
        1);

    rellist l = {0};
    assert_int_equal(store_rel_load(f->s, got_rel, &l), 0);
    assert_int_equal(l.n, 2);
    assert_null(find_rel(&l, "ghost"));
    const relrow *x = find_rel(&l, "w1");
    assert_non_null(x);
    const store_rel_row *w = &rows[0];
    assert_string_equal(x->r.group, "gpu");
    assert_int_equal(x->r.computed_ms, w->computed_ms);
    assert_int_equal(x->r.window_ms, w->window_ms);
    const rel_features *a = &x->r.f, *b = &w->f;
    assert_near(a->uptime_pct, b->uptime_pct, 0);
    assert_int_equal(a->up_ms, b->up_ms);
    assert_int_equal(a->observed_ms, b->observed_ms);
    assert_int_equal(a->sessions_count, 7);
    assert_int_equal(a->closed_count, 6);
    assert_int_equal(a->failures, 3);
    assert_near(a->mtbf_s, b->mtbf_s, 0);
    assert_near(a->p10_session_s, 10.5, 0);
    assert_near(a->p50_session_s, 100.25, 0);
    assert_near(a->p90_session_s, 1000.125, 0);
    assert_near(a->p_stays_4h, 0.1, 0);
    assert_near(a->p_stays_8h, 0.0, 0);
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
        assert_int_equal(a->reasons[k], k);
    assert_int_equal(a->last_disconnect_ms, H2 - 5000);
    assert_int_equal(a->last_failure_ms, H2 - 10000);
    assert_near(a->last_session_s, 77.5, 0);
    assert_near(a->km_t_max_s, 20000.75, 0);
    assert_near(a->score, 0.8125, 0);
    /* The curve is stored as float pairs: equal to float precision. */
    assert_int_equal(x->r.nkm, 3);
    for (int k = 0; k < 3; k++) {
        assert_near(x->km[k].t_s, KM[k].t_s, KM[k].t_s * 1e-6);
        assert_near(x->km[k].s, KM[k].s, 1e-6);
    }
    assert_int_equal(q_int(f->url, "SELECT length(km) FROM reliability WHERE worker_id = 'w1'"),
                     3 * 2 * (int64_t)sizeof(float));

    x = find_rel(&l, "w2");
    assert_non_null(x);
    assert_string_equal(x->r.group, "cpu");
    assert_true(isnan(x->r.f.p10_session_s));
    assert_true(isnan(x->r.f.p50_session_s));
    assert_true(isnan(x->r.f.p90_session_s));
    assert_true(isnan(x->r.f.last_session_s));
    assert_int_equal(x->r.f.last_disconnect_ms, 0);
    assert_int_equal(x->r.f.last_failure_ms, 0);
    assert_int_equal(x->r.nkm, 0);
    assert_near(x->r.f.score, 0.0, 0);

    /* Re-put replaces the whole row, curve included. */
    store_rel_row again = full_row();
    again.f.score = 0.25;
    again.f.p50_session_s = NAN;
    again.computed_ms = H2 + 99999;
    again.nkm = 1;
    assert_int_equal(store_rel_put(f->s, &again, 1), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability"), 2);
    l.n = 0;
    assert_int_equal(store_rel_load(f->s, got_rel, &l), 0);
    x = find_rel(&l, "w1");
    assert_near(x->r.f.score, 0.25, 0);
    assert_true(isnan(x->r.f.p50_session_s));
    assert_int_equal(x->r.computed_ms, H2 + 99999);
    assert_int_equal(x->r.nkm, 1);
    assert_near(x->km[0].t_s, 3600.1, 3600.1 * 1e-6);
    assert_near(find_rel(&l, "w2")->r.f.score, 0.0, 0);

    /* Only ghosts: nothing written, not an error. */
    assert_int_equal(store_rel_put(f->s, &rows[2], 1), 0);
    assert_int_equal(store_rel_put(f->s, NULL, 0), 0);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM reliability"), 2);
}

/* rel_compute gives km_t_max_s = NAN for a worker without sessions in the
 * window (rel.h: "NAN = empty"): a dead worker older than the window, or one
 * known only from a state event. The rollup puts such rows like any other,
 * and rel_p_stays must still answer 0 for it after a reload. */
static void test_rel_put_empty_sample(void **state)
{
    fx *f = *state;
    reg_event e[] = {ev_open("w1", "g", "i", 1000), ev_open("w2", "g", "i", 1000)};
    apply_ok(f->s, e, 2, NULL, 0);
    store_rel_row rows[2] = {rel_row("w1", "g", 0.5), rel_row("w2", "g", 0.0)};
    rows[1].f.sessions_count = 0;
    rows[1].f.km_t_max_s = NAN;
    assert_int_equal(store_rel_put(f->s, rows, 2), 0);
    rellist l = {0};
    assert_int_equal(store_rel_load(f->s, got_rel, &l), 0);
    assert_int_equal(l.n, 2);
    const relrow *x = find_rel(&l, "w2");
    assert_non_null(x);
    assert_int_equal(x->r.nkm, 0);
    assert_true(isnan(x->r.f.km_t_max_s));
    assert_near(rel_p_stays(x->km, x->r.nkm, x->r.f.km_t_max_s, 0), 0.0, 0);
    assert_near(find_rel(&l, "w1")->r.f.km_t_max_s, 60, 0); /* its neighbour went in too */
    assert_int_equal(
        q_int(f->url,
              "SELECT count(*) FROM reliability WHERE km_t_max_s IS NULL AND worker_id = 'w2'"),
        1);
}

/* ---- the rollup's scan ---------------------------------------------------------------- */

static void test_rel_scan(void **state)
{
    fx *f = *state;
    reg_event e[] = {
        /* a: four sessions; from = 2500 keeps the one closed exactly then. */
        ev_open("a", "ga", "i", 500),
        ev_close("a", "ga", 500, 1000, REG_R_TIMEOUT),
        ev_open("a", "ga", "i", 1500),
        ev_close("a", "ga", 1500, 2500, REG_R_FAILED),
        ev_open("a", "ga", "i", 2600),
        ev_close("a", "ga", 2600, 3000, REG_R_CLEAN_SHUTDOWN),
        ev_open("a", "ga", "i", 4000),
        /* b: a worker row without any session. */
        ev(REG_EV_WORKER_STATE, "b", "gb", 1234),
        /* d: all its sessions ended before from. */
        ev_open("d", "gd", "i", 100),
        ev_close("d", "gd", 100, 2499, REG_R_EVICTED),
    };
    e[7].state = REG_W_DEAD;
    e[7].prev_state = REG_W_ALIVE;
    apply_ok(f->s, e, sizeof e / sizeof e[0], NULL, 0);
    /* c: imported history, one closed before from, one after, one open. */
    imp_row ir[] = {imp("c", "gc", "x", 1000, 2000, REG_R_RESTARTED),
                    imp("c", "gc", "x", 2100, 2900, REG_R_MONITOR_GAP),
                    imp("c", "gc", "x", 3000, 0, REG_R_NONE)};
    size_t ins, skip, bad;
    char err[128];
    assert_int_equal(store_import_sessions(f->s, ir, 3, 5000, &ins, &skip, &bad, err, sizeof err),
                     0);

    scanlist l = {0};
    assert_int_equal(store_rel_scan(f->s, 2500, got_scan, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.w[0].id, "a");
    assert_string_equal(l.w[0].group, "ga");
    assert_int_equal(l.w[0].first_seen_ms, 500);
    assert_int_equal(l.w[0].n, 3);
    assert_session(&l.w[0].s[0], 1500, 2500, 2500, REG_R_FAILED, false);
    assert_session(&l.w[0].s[1], 2600, 3000, 3000, REG_R_CLEAN_SHUTDOWN, false);
    assert_session(&l.w[0].s[2], 4000, 0, 4000, REG_R_NONE, false);
    assert_string_equal(l.w[1].id, "b");
    assert_string_equal(l.w[1].group, "gb");
    assert_int_equal(l.w[1].first_seen_ms, 1234);
    assert_int_equal(l.w[1].n, 0);
    assert_string_equal(l.w[2].id, "c");
    assert_int_equal(l.w[2].first_seen_ms, 1000);
    assert_int_equal(l.w[2].n, 2);
    assert_session(&l.w[2].s[0], 2100, 2900, 2900, REG_R_MONITOR_GAP, true);
    assert_session(&l.w[2].s[1], 3000, 0, 5000, REG_R_NONE, true); /* last_hb = import's now */
    assert_string_equal(l.w[3].id, "d");
    assert_int_equal(l.w[3].n, 0);

    /* from 0: everything. */
    l = (scanlist){0};
    assert_int_equal(store_rel_scan(f->s, 0, got_scan, &l), 0);
    assert_int_equal(l.w[0].n, 4);
    assert_session(&l.w[0].s[0], 500, 1000, 1000, REG_R_TIMEOUT, false);
    assert_int_equal(l.w[2].n, 3);
    assert_session(&l.w[2].s[0], 1000, 2000, 2000, REG_R_RESTARTED, true);
    assert_int_equal(l.w[3].n, 1);
    assert_session(&l.w[3].s[0], 100, 2499, 2499, REG_R_EVICTED, false);

    /* A callback returning non-zero stops the walk. */
    l = (scanlist){.stop_after = 2};
    assert_int_equal(store_rel_scan(f->s, 2500, got_scan, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.w[1].id, "b");
    /* And the store is usable afterwards (the scan's transaction ended). */
    l = (scanlist){0};
    assert_int_equal(store_rel_scan(f->s, 1 << 30, got_scan, &l), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.w[0].n, 1); /* only the open one */
    assert_int_equal(l.w[2].n, 1);
}

/* ---- task latency ------------------------------------------------------------------------ */

static void assert_task(const tlat_row *r, const char *g, int64_t bucket, uint64_t count,
                        double mean, double lo, double hi, double p50, double p90, double p95,
                        double p99)
{
    assert_string_equal(r->group, g);
    assert_int_equal(r->bucket_ms, bucket);
    assert_int_equal(r->count, count);
    assert_near(r->mean_ms, mean, 1e-9);
    assert_near(r->min_ms, lo, 0);
    assert_near(r->max_ms, hi, 0);
    assert_near(r->p50_ms, p50, 0);
    assert_near(r->p90_ms, p90, 0);
    assert_near(r->p95_ms, p95, 0);
    assert_near(r->p99_ms, p99, 0);
}

static void test_tasks(void **state)
{
    fx *f = *state;
    tlat_row t[] = {task("a", 0, 4, 10, 1, 30, 8, 25, 28, 30),
                    task("b", 0, 2, 5.5, 5, 6, 5, 6, 6, 6),
                    task("a", 30000, 1, 7.25, 7.25, 7.25, 7.25, 7.25, 7.25, 7.25),
                    task("", 60000, 3, 2, 1, 3, 2, 3, 3, 3)};
    assert_int_equal(store_tasks_put(f->s, t, 4), 0);
    assert_int_equal(store_tasks_put(f->s, NULL, 0), 0);

    tklist l = {0};
    assert_int_equal(store_list_tasks(f->s, NULL, 0, 0, 0, got_tk, &l), 4);
    /* Oldest first; within a bucket by group. */
    assert_task(&l.r[0], "a", 0, 4, 10, 1, 30, 8, 25, 28, 30);
    assert_task(&l.r[1], "b", 0, 2, 5.5, 5, 6, 5, 6, 6, 6);
    assert_task(&l.r[2], "a", 30000, 1, 7.25, 7.25, 7.25, 7.25, 7.25, 7.25, 7.25);
    assert_task(&l.r[3], "", 60000, 3, 2, 1, 3, 2, 3, 3, 3);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, "a", 0, 0, 0, got_tk, &l), 2);
    assert_int_equal(l.r[1].bucket_ms, 30000);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, NULL, 30000, 60000, 0, got_tk, &l), 1);
    assert_string_equal(l.r[0].group, "a");
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, NULL, 1, 60001, 0, got_tk, &l), 2);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, NULL, 0, 0, 2, got_tk, &l), 2);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, "b", 30000, 0, 0, got_tk, &l), 0);
    assert_int_equal(store_list_tasks(f->s, "nope", 0, 0, 0, got_tk, &l), 0);

    /* The same bucket again (a restart inside its 30 s): merged. The new
     * part is larger (6 > 4): its percentiles win. count 10, mean
     * (4*10 + 6*20)/10 = 16, min 0.5, max 30. */
    tlat_row m1 = task("a", 0, 6, 20, 0.5, 25, 18, 22, 24, 25);
    assert_int_equal(store_tasks_put(f->s, &m1, 1), 0);
    /* And once more, smaller (3 < 10): the stored percentiles stay. count
     * 13, mean (10*16 + 3*6)/13 = 178/13, max 40. */
    tlat_row m2 = task("a", 0, 3, 6, 2, 40, 1, 2, 3, 4);
    assert_int_equal(store_tasks_put(f->s, &m2, 1), 0);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, "a", 0, 30000, 0, got_tk, &l), 1);
    assert_task(&l.r[0], "a", 0, 13, 178.0 / 13, 0.5, 40, 18, 22, 24, 25);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM task_latency"), 4);

    /* Two parts of one bucket in a single call merge too. */
    tlat_row pair[] = {task("z", 90000, 1, 100, 100, 100, 100, 100, 100, 100),
                       task("z", 90000, 3, 4, 1, 8, 3, 7, 8, 8)};
    assert_int_equal(store_tasks_put(f->s, pair, 2), 0);
    l.n = 0;
    assert_int_equal(store_list_tasks(f->s, "z", 0, 0, 0, got_tk, &l), 1);
    assert_task(&l.r[0], "z", 90000, 4, 28, 1, 100, 3, 7, 8, 8);
}

/* ---- history import --------------------------------------------------------------------- */

static void test_import(void **state)
{
    fx *f = *state;
    imp_row r[] = {
        imp("i1", "g1", "x1", 1000, 2000, REG_R_CLEAN_SHUTDOWN),
        imp("i1", "g1", "x2", 3000, 4000, REG_R_CLEAN_SHUTDOWN), /* ends clean: left */
        imp("i2", "g2", "y1", 1500, 2500, REG_R_FAILED),
        imp("i2", "g2", "y2", 5000, 0, REG_R_NONE), /* still open at export: dead */
        imp("i3", "", "", 100, 200, REG_R_TIMEOUT), /* ends badly: dead */
    };
    r[2].has_exit_code = true;
    r[2].exit_code = 3;
    size_t ins = 99, skip = 99, bad = 99;
    char err[256] = "x";
    assert_int_equal(store_import_sessions(f->s, r, 5, 10000, &ins, &skip, &bad, err, sizeof err),
                     0);
    assert_int_equal(ins, 5);
    assert_int_equal(skip, 0);
    assert_int_equal(
        q_int(f->url, "SELECT count(*) FROM sessions WHERE node_id = '" STORE_IMPORT_NODE "'"), 5);
    assert_int_equal(q_int(f->url, "SELECT last_hb_ms FROM sessions WHERE worker_id = 'i2' AND "
                                   "closed_ms IS NULL"),
                     10000);
    assert_int_equal(q_int(f->url, "SELECT exit_code FROM sessions WHERE worker_id = 'i2' AND "
                                   "opened_ms = 1500"),
                     3);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM sessions WHERE exit_code IS NULL"), 4);

    store_worker w;
    assert_int_equal(store_get_worker(f->s, "i1", &w), 0);
    assert_int_equal(w.state, REG_W_LEFT);
    assert_string_equal(w.group, "g1");
    assert_string_equal(w.instance, "x2");
    assert_int_equal(w.first_seen_ms, 1000);
    assert_int_equal(w.last_seen_ms, 4000);
    assert_int_equal(w.state_since_ms, 4000);
    assert_int_equal(w.open_opened_ms, 0);
    assert_int_equal(store_get_worker(f->s, "i2", &w), 0);
    assert_int_equal(w.state, REG_W_DEAD);
    assert_int_equal(w.first_seen_ms, 1500);
    /* An imported open session is not the worker's open session: vigild
     * never saw it and must not resume or time it out. */
    assert_int_equal(w.open_opened_ms, 0);
    assert_int_equal(store_get_worker(f->s, "i3", &w), 0);
    assert_int_equal(w.state, REG_W_DEAD);
    assert_int_equal(w.first_seen_ms, 100);
    wlist wl = {0};
    assert_int_equal(store_load_workers(f->s, got_w, &wl), 3);
    for (int i = 0; i < wl.n; i++)
        assert_int_equal(wl.r[i].open_opened_ms, 0);
    slist sl = {0};
    assert_int_equal(store_list_sessions(f->s, "i2", 0, 0, got_s, &sl), 2);
    assert_string_equal(sl.r[0].node_id, STORE_IMPORT_NODE);
    assert_int_equal(sl.r[0].closed_ms, 0);
    assert_int_equal(sl.r[1].reason, REG_R_FAILED);
    assert_true(sl.r[1].has_exit_code);

    /* Again: every row already there, nothing changes. */
    char *s0 = q_dump(f->url, SESSIONS_DUMP), *w0 = q_dump(f->url, WORKERS_DUMP);
    assert_int_equal(store_import_sessions(f->s, r, 5, 20000, &ins, &skip, &bad, err, sizeof err),
                     0);
    assert_int_equal(ins, 0);
    assert_int_equal(skip, 5);
    char *s1 = q_dump(f->url, SESSIONS_DUMP), *w1 = q_dump(f->url, WORKERS_DUMP);
    assert_string_equal(s0, s1);
    assert_string_equal(w0, w1);
    free(s1);
    free(w1);

    /* A conflict (same worker and opened, another instance) after a row
     * that would insert, and one more after it: 1, the row named, and not
     * a single row written. */
    imp_row c[] = {imp("i0", "g0", "z", 50, 60, REG_R_FAILED),
                   imp("i1", "g1", "other", 1000, 2000, REG_R_CLEAN_SHUTDOWN),
                   imp("i1", "g1", "x3", 9000, 9500, REG_R_FAILED)};
    err[0] = '\0';
    assert_int_equal(store_import_sessions(f->s, c, 3, 20000, &ins, &skip, &bad, err, sizeof err),
                     1);
    assert_int_equal(bad, 1);
    assert_true(strlen(err) > 0);
    assert_int_equal(ins, 0);
    assert_int_equal(skip, 0);
    s1 = q_dump(f->url, SESSIONS_DUMP);
    w1 = q_dump(f->url, WORKERS_DUMP);
    assert_string_equal(s0, s1);
    assert_string_equal(w0, w1);
    assert_int_equal(q_int(f->url, "SELECT count(*) FROM workers WHERE worker_id = 'i0'"), 0);
    free(s0);
    free(w0);
    free(s1);
    free(w1);

    /* A worker vigild watches keeps its state, group and open session; its
     * first sighting moves back to the imported history. */
    reg_event o = ev_open("live", "g-live", "now", 50000);
    apply_ok(f->s, &o, 1, NULL, 0);
    imp_row past[] = {imp("live", "g-old", "then", 8000, 9000, REG_R_FAILED)};
    assert_int_equal(
        store_import_sessions(f->s, past, 1, 60000, &ins, &skip, &bad, err, sizeof err), 0);
    assert_int_equal(ins, 1);
    assert_int_equal(store_get_worker(f->s, "live", &w), 0);
    assert_int_equal(w.state, REG_W_ALIVE);
    assert_int_equal(w.state_since_ms, 50000);
    assert_string_equal(w.group, "g-live");
    assert_string_equal(w.instance, "now");
    assert_int_equal(w.first_seen_ms, 8000);
    assert_int_equal(w.last_seen_ms, 50000);
    assert_int_equal(w.open_opened_ms, 50000);
    assert_string_equal(w.open_node_id, "node-a");

    /* Nothing to import is fine. */
    assert_int_equal(
        store_import_sessions(f->s, NULL, 0, 60000, &ins, &skip, &bad, err, sizeof err), 0);
    assert_int_equal(ins + skip, 0);
}

/* ---- node runs -------------------------------------------------------------------------- */

static void test_list_runs(void **state)
{
    fx *f = *state;
    runlist l = {0};
    assert_int_equal(store_list_runs(f->s, got_run, &l), 0);
    int64_t id1, id2, id3;
    assert_int_equal(store_run_begin(f->s, 1000, &id1), 0);
    assert_int_equal(store_run_end(f->s, id1, 2000), 0);
    store *b = open_at(f->url, "node-b"); /* another vigild on the same database */
    assert_int_equal(store_run_begin(b, 1500, &id2), 0);
    assert_int_equal(store_run_alive(b, id2, 2500), 0);
    store_close(b);
    assert_int_equal(store_run_begin(f->s, 3000, &id3), 0);

    assert_int_equal(store_list_runs(f->s, got_run, &l), 3);
    assert_int_equal(l.r[0].id, id1);
    assert_int_equal(l.r[0].started_ms, 1000);
    assert_int_equal(l.r[0].alive_ms, 2000);
    assert_int_equal(l.r[0].stopped_ms, 2000);
    assert_int_equal(l.r[1].id, id2);
    assert_int_equal(l.r[1].started_ms, 1500);
    assert_int_equal(l.r[1].alive_ms, 2500);
    assert_int_equal(l.r[1].stopped_ms, 0);
    assert_int_equal(l.r[2].id, id3);
    assert_int_equal(l.r[2].started_ms, 3000);
    assert_int_equal(l.r[2].alive_ms, 3000);
    assert_true(id1 < id2 && id2 < id3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hourly_fold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hourly_incremental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_analytics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rel_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rel_put_empty_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rel_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
