/*
 * rollup: vigild's analytics thread.
 *
 * Every rollup_interval_s (default 5 min), and whenever POST
 * /v1/admin/rollup asks, it runs one full rollup:
 *   1. folds the raw heartbeats that arrived since the last run into
 *      heartbeats_hourly (exactly once, by rowid watermark; store.h),
 *   2. recomputes every worker's reliability features over the window from
 *      the store's sessions (rel.c), builds a new in-memory ranking (rank.c),
 *      persists it in chunks and swaps it in for the HTTP threads.
 * Between rollups it wakes every ROLLUP_TICK_MS to hand closed task latency
 * buckets (tlat.c) to the store.
 *
 * Nothing here is on the heartbeat path: the HTTP threads only read the
 * ranking under a read lock (swapped by pointer, so a request never sees half
 * of two rollups) and add task durations to tlat's striped buckets.
 *
 * Vigild's own downtime (gaps between node_runs) is excluded from observed
 * time, so a restart does not read as the fleet being down.
 */
#include "server/alerts.h"
#include "server/app.h"
#include "server/hubp.h"

#include "core/vec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROLLUP_TICK_MS 1000           /* task buckets reach the store within this of closing */
#define ROLLUP_HOURLY_BATCH 50000     /* raw rows per fold transaction (holds the write lock) */
#define ROLLUP_HOURLY_MAX_BATCHES 400 /* per run (20M rows); a longer backlog waits a run */
#define ROLLUP_REL_CHUNK 10000        /* reliability rows per transaction (~0.1 s of lock) */
#define ROLLUP_FORGOT_MAX 4096        /* forgets remembered across one rollup */
#define ROLLUP_BARRIER_MS 5000        /* longest wait for the writer to store what came before */

/* Forgets that happen while a rollup computes would come back with its
 * result (it scanned before them): remember them and apply at the swap. */
static char *forgot[ROLLUP_FORGOT_MAX];
static size_t nforgot;

int rollup_init(app *a, char *err, size_t errlen)
{
    a->tlat = tlat_new();
    if (!a->tlat || pthread_rwlock_init(&a->rank_lock, NULL) != 0 ||
        pthread_mutex_init(&a->rollup_mu, NULL) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = app_cond_init(&a->rollup_cv);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create a condition variable");
        return -1;
    }
    return 0;
}

/* score_below rules (alerts.h) see every ranked worker's new score. A
 * worker without sessions in the window has no score worth judging (rel.h:
 * exactly 0), so it is left out. */
static void feed_scores(app *a)
{
    if (!a->alerts) return;
    pthread_rwlock_rdlock(&a->rank_lock);
    for (size_t i = 0, n = a->rank ? rank_size(a->rank) : 0; i < n; i++) {
        const rank_entry *e = rank_at(a->rank, i);
        if (!e->gone && e->f.sessions_count)
            alerts_measure(a->alerts, "liveness_score", e->worker_id, e->group, e->f.score);
    }
    pthread_rwlock_unlock(&a->rank_lock);
}

/* ---- boot: the last persisted ranking, until the first rollup ------------- */

static int load_row(void *ctx, const store_rel_row *row)
{
    rank *rk = *(rank **)ctx;
    if (!rk) {
        rk = rank_new(row->computed_ms, row->window_ms);
        if (!rk) return -1;
        *(rank **)ctx = rk;
    }
    return rank_add(rk, row->worker_id, row->group, &row->f, row->km, row->nkm);
}

static void load_rank(app *a)
{
    rank *rk = NULL;
    if (store_rel_load(a->store, load_row, &rk) != 0 || (rk && rank_seal(rk) != 0)) {
        vlog("warn", "cannot load the stored reliability ranking; the first rollup will");
        rank_free(rk);
        return;
    }
    a->rank = rk;
}

/* ---- reliability ------------------------------------------------------------ */

typedef struct runs_buf {
    rel_run *v;
    size_t n, cap;
    int64_t cur_id, now;
} runs_buf;

static int on_run(void *ctx, const store_run *r)
{
    runs_buf *b = ctx;
    void *grown = vec_grow(b->v, &b->cap, b->n + 1, sizeof *b->v, 64);
    if (!grown) return -1;
    b->v = grown;
    /* This run is up now; an older one was up until it stopped, or until it
     * last said it was alive when it died. */
    int64_t end = r->id == b->cur_id ? b->now : r->stopped_ms ? r->stopped_ms : r->alive_ms;
    b->v[b->n++] = (rel_run){r->started_ms, end};
    return 0;
}

int rollup_gaps(app *a, int64_t now, rel_gap **gaps, size_t *ngaps, int64_t *first_run_ms)
{
    runs_buf rb = {.cur_id = a->run_id, .now = now};
    *gaps = NULL;
    *ngaps = 0;
    *first_run_ms = 0;
    if (store_list_runs(a->store, on_run, &rb) < 0 ||
        !(*gaps = malloc((rb.n ? rb.n : 1) * sizeof **gaps))) {
        free(rb.v);
        return -1;
    }
    *ngaps = rel_gaps_from_runs(rb.v, rb.n, *gaps, first_run_ms);
    free(rb.v);
    return 0;
}

/* An imported session still open at export is up until the import (its
 * last_hb_ms) and unknown after: censored there, like a monitor gap. */
void rollup_prepare(rel_session *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].imported && !s[i].closed_ms) {
            s[i].closed_ms = s[i].last_hb_ms > s[i].opened_ms ? s[i].last_hb_ms : s[i].opened_ms;
            s[i].reason = REG_R_MONITOR_GAP;
        }
}

typedef struct scan_ctx {
    rank *rk;
    rel_work *w;
    rel_input base;
    rel_session *tmp;
    size_t tcap;
    int64_t workers;
    int failed;
} scan_ctx;

static int on_worker(void *ctx, const store_rel_worker *w)
{
    scan_ctx *c = ctx;
    void *grown = vec_grow(c->tmp, &c->tcap, w->n, sizeof *c->tmp, 64);
    if (!grown) goto oom;
    c->tmp = grown;
    if (w->n) memcpy(c->tmp, w->s, w->n * sizeof *c->tmp);
    rollup_prepare(c->tmp, w->n);
    rel_input in = c->base;
    in.s = c->tmp;
    in.n = w->n;
    in.first_seen_ms = w->first_seen_ms;
    rel_features f;
    const rel_km_step *km;
    size_t nkm;
    if (rel_compute(&in, c->w, &f, &km, &nkm) != 0 ||
        rank_add(c->rk, w->worker_id, w->group, &f, km, nkm) != 0)
        goto oom;
    c->workers++;
    return 0;
oom:
    c->failed = 1;
    return 1;
}

static int persist(app *a, const rank *rk)
{
    store_rel_row *rows = malloc(ROLLUP_REL_CHUNK * sizeof *rows);
    if (!rows) return -1;
    size_t n = 0, total = rank_size(rk);
    int rc = 0;
    for (size_t i = 0; i < total && rc == 0; i++) {
        /* Key order: each chunk appends to the b-tree's pages instead of
         * touching pages all over it (measured 2.6x faster than rank order). */
        const rank_entry *e = rank_at_id(rk, i);
        store_rel_row *r = &rows[n++];
        snprintf(r->worker_id, sizeof r->worker_id, "%s", e->worker_id);
        snprintf(r->group, sizeof r->group, "%s", e->group);
        r->computed_ms = rank_computed_ms(rk);
        r->window_ms = rank_window_ms(rk);
        r->f = e->f;
        r->km = rank_km(rk, e);
        r->nkm = e->nkm;
        if (n == ROLLUP_REL_CHUNK || i + 1 == total) {
            rc = store_rel_put(a->store, rows, n);
            n = 0;
        }
    }
    free(rows);
    return rc;
}

static int reliability(app *a, int64_t now, rollup_stats *st)
{
    int64_t window = (int64_t)a->cfg.window_days * 86400000LL;
    scan_ctx c = {.rk = rank_new(now, window), .w = rel_work_new()};
    rel_gap *gaps = NULL;
    size_t ngaps = 0;
    int rc = -1;
    pthread_rwlock_wrlock(&a->rank_lock);
    for (size_t i = 0; i < nforgot; i++)
        free(forgot[i]);
    nforgot = 0;
    pthread_rwlock_unlock(&a->rank_lock);
    c.base = (rel_input){.now_ms = now, .window_ms = window};
    pthread_rwlock_rdlock(&a->rank_lock);
    size_t hint_n = a->rank ? rank_size(a->rank) : 0, hint_km = a->rank ? rank_steps(a->rank) : 0;
    pthread_rwlock_unlock(&a->rank_lock);
    if (c.rk && rank_reserve(c.rk, hint_n + hint_n / 16, hint_km + hint_km / 16) != 0) goto out;
    if (!c.rk || !c.w || rollup_gaps(a, now, &gaps, &ngaps, &c.base.first_run_ms) != 0) goto out;
    c.base.gaps = gaps;
    c.base.ngaps = ngaps;
    int64_t t0 = app_mono_ms();
    if (store_rel_scan(a->store, now - window, on_worker, &c) != 0 || c.failed ||
        rank_seal(c.rk) != 0)
        goto out;
    st->rel_workers = c.workers;
    int64_t t1 = app_mono_ms();
    st->rel_scan_ms = t1 - t0;
    if (persist(a, c.rk) != 0) vlog("warn", "rollup: cannot store reliability rows");
    st->rel_store_ms = app_mono_ms() - t1;
    pthread_rwlock_wrlock(&a->rank_lock);
    for (size_t i = 0; i < nforgot; i++)
        rank_forget(c.rk, forgot[i]);
    rank *old = a->rank;
    a->rank = c.rk;
    c.rk = NULL;
    pthread_rwlock_unlock(&a->rank_lock);
    rank_free(old);
    feed_scores(a);
    rc = 0;
out:
    rank_free(c.rk);
    rel_work_free(c.w);
    free(c.tmp);
    free(gaps);
    return rc;
}

void rollup_forget(app *a, const char *worker_id)
{
    pthread_rwlock_wrlock(&a->rank_lock);
    if (a->rank) rank_forget(a->rank, worker_id);
    if (nforgot < ROLLUP_FORGOT_MAX) forgot[nforgot++] = strdup(worker_id);
    pthread_rwlock_unlock(&a->rank_lock);
}

/* ---- task latency -------------------------------------------------------------- */

typedef struct task_buf {
    tlat_row *v;
    size_t n, cap;
} task_buf;

static int on_task(void *ctx, const tlat_row *row)
{
    task_buf *b = ctx;
    /* Out of memory is "not now": tlat keeps the bucket for the next flush. */
    void *grown = vec_grow(b->v, &b->cap, b->n + 1, sizeof *b->v, 64);
    if (!grown) return -1;
    b->v = grown;
    b->v[b->n++] = *row;
    return 0;
}

/* Buckets flushed from tlat are gone from memory: if the store refuses them
 * they are lost (counted), like raw samples, never retried forever. */
static int64_t flush_tasks(app *a, int64_t now, bool all)
{
    task_buf b = {0};
    tlat_flush(a->tlat, now, all, on_task, &b);
    hubp_tasks(a->hubp, b.v, b.n); /* done tasks, for the hub, stored here or not */
    if (b.n && store_tasks_put(a->store, b.v, b.n) != 0) {
        vlog("warn", "rollup: cannot store %zu task latency buckets", b.n);
        a->tasks_dropped += b.n;
        b.n = 0;
    }
    free(b.v);
    return (int64_t)b.n;
}

int rollup_task(app *a, const char *group, int64_t now_ms, const double *ms, size_t n)
{
    int rc = n == 1 ? tlat_add(a->tlat, group, now_ms, ms[0])
                    : tlat_add_many(a->tlat, group, now_ms, ms, n);
    if (rc == TLAT_OK) a->tasks_accepted += n;
    return rc;
}

/* ---- the thread ----------------------------------------------------------------- */

/* Wait (a bounded time) until the writer has stored everything queued
 * before now, so a rollup reflects every heartbeat, bye and forget accepted
 * before it was asked for. With the store down it goes ahead on what is
 * there, and the next run catches up. */
static void writer_barrier(app *a)
{
    wq_stats q;
    wq_get_stats(a->wq, &q);
    uint64_t target = q.hb_pushed + q.ev_pushed;
    int64_t until = app_mono_ms() + ROLLUP_BARRIER_MS;
    while (atomic_load(&a->persisted) < target && app_mono_ms() < until)
        app_sleep_ms(5);
}

static void full_run(app *a, rollup_stats *st)
{
    int64_t t0 = app_mono_ms();
    memset(st, 0, sizeof *st);
    writer_barrier(a);
    st->at_ms = app_now_ms();
    bool ok = true;
    for (int b = 0; b < ROLLUP_HOURLY_MAX_BATCHES; b++) {
        int64_t n = store_hourly_rollup(a->store, ROLLUP_HOURLY_BATCH);
        if (n < 0) ok = false;
        if (n <= 0) break;
        st->hourly_rows += n;
        if (n < ROLLUP_HOURLY_BATCH) break;
    }
    int64_t t1 = app_mono_ms();
    st->hourly_ms = t1 - t0;
    if (reliability(a, st->at_ms, st) != 0) ok = false;
    st->rel_ms = app_mono_ms() - t1;
    st->task_rows = flush_tasks(a, app_now_ms(), false);
    st->total_ms = app_mono_ms() - t0;
    st->ok = ok;
    if (ok)
        a->rollups++;
    else {
        a->rollup_failures++;
        vlog("warn", "rollup: incomplete (store errors); the next run retries");
    }
}

static void *rollup_main(void *arg)
{
    app *a = arg;
    pthread_setname_np(pthread_self(), "vigil-rollup");
    int64_t last_full = 0, every = (int64_t)a->cfg.rollup_interval_s * 1000;
    pthread_mutex_lock(&a->rollup_mu);
    for (;;) {
        bool asked = a->rollup_asked > a->rollup_done;
        if (!a->rollup_running) break;
        if (!asked && last_full && app_mono_ms() - last_full < every) {
            struct timespec ts = app_deadline(ROLLUP_TICK_MS);
            pthread_cond_timedwait(&a->rollup_cv, &a->rollup_mu, &ts);
            asked = a->rollup_asked > a->rollup_done;
        }
        if (!a->rollup_running) break;
        uint64_t gen = a->rollup_asked;
        pthread_mutex_unlock(&a->rollup_mu);
        rollup_stats st;
        bool full = asked || !last_full || app_mono_ms() - last_full >= every;
        if (full) {
            full_run(a, &st);
            last_full = app_mono_ms();
        } else {
            flush_tasks(a, app_now_ms(), false);
        }
        pthread_mutex_lock(&a->rollup_mu);
        if (full) {
            a->rollup_last = st;
            if (gen > a->rollup_done) a->rollup_done = gen;
            pthread_cond_broadcast(&a->rollup_cv);
        }
    }
    pthread_mutex_unlock(&a->rollup_mu);
    return NULL;
}

int rollup_start(app *a, char *err, size_t errlen)
{
    load_rank(a);
    a->rollup_running = true;
    if (pthread_create(&a->rollup_th, NULL, rollup_main, a) != 0) {
        a->rollup_running = false;
        snprintf(err, errlen, "cannot start the rollup thread");
        return -1;
    }
    return 0;
}

int rollup_now(app *a, int timeout_ms, rollup_stats *out)
{
    struct timespec ts = app_deadline(timeout_ms);
    pthread_mutex_lock(&a->rollup_mu);
    uint64_t my = ++a->rollup_asked;
    pthread_cond_broadcast(&a->rollup_cv);
    int rc = 0;
    while (a->rollup_done < my && a->rollup_running && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&a->rollup_cv, &a->rollup_mu, &ts);
    bool done = a->rollup_done >= my;
    if (done) *out = a->rollup_last;
    pthread_mutex_unlock(&a->rollup_mu);
    return done && out->ok ? 0 : -1;
}

void rollup_stop(app *a)
{
    pthread_mutex_lock(&a->rollup_mu);
    bool was = a->rollup_running;
    a->rollup_running = false;
    pthread_cond_broadcast(&a->rollup_cv);
    pthread_mutex_unlock(&a->rollup_mu);
    if (was) pthread_join(a->rollup_th, NULL);
    /* Open buckets too: a stop must not lose the last 30 s of task figures. */
    if (a->tlat && a->store) flush_tasks(a, app_now_ms(), true);
}

void rollup_free(app *a)
{
    rank_free(a->rank);
    a->rank = NULL;
    tlat_free(a->tlat);
    a->tlat = NULL;
    for (size_t i = 0; i < nforgot; i++)
        free(forgot[i]);
    nforgot = 0;
}
