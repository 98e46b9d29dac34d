/*
 * history: the fleet series sampler thread (history.h has the series and
 * the why).
 *
 * One mutex and condition variable (monotonic clock) carry the stop: the
 * thread waits on them until the next sample is due, takes the sample and
 * stores it with the mutex released, and says `done` under it when it
 * leaves. history_stop flips `running` and waits (bounded) for `done`, so
 * the join that follows never blocks; when a store call outlasts that wait,
 * the join is left to history_free, which runs before the store is closed.
 *
 * The schedule is fixed-rate on the monotonic clock: a sample is due every
 * period after the thread's start, and one that comes late (a slow store
 * write) does not make the next ones bunch up: missed ticks are skipped.
 */
#include "server/history.h"

#include "core/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct history {
    app *a;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, done, joined; /* under mu */
    history_mark mark;
    history_buf pending;   /* sampled, not yet stored; the thread's alone */
    uint64_t dropped_rows; /* pending rows given up (store refusing too long) */
};

/* ---- one sample ------------------------------------------------------------ */

typedef struct sample_ctx {
    history_buf *b;
    int64_t ts;
    int added;
    bool oom;
} sample_ctx;

static void add(sample_ctx *c, const char *prefix, const char *name, double v)
{
    if (c->oom) return;
    void *grown = vec_grow(c->b->v, &c->b->cap, c->b->n + 1, sizeof *c->b->v, 64);
    if (!grown) {
        c->oom = true;
        return;
    }
    c->b->v = grown;
    store_metric *m = &c->b->v[c->b->n++];
    /* Group names are 1-128 bytes of the series charset (hb.h), so every
     * name fits the 200 bytes and passes store_metric_name_ok. */
    snprintf(m->name, sizeof m->name, "%s%s", prefix, name);
    m->ts_ms = c->ts;
    m->value = v;
    c->added++;
}

static void on_group(void *ctx, const reg_group_view *g)
{
    add(ctx, "alive:", g->name, (double)g->count[REG_W_ALIVE]);
}

/* Counters only grow; a smaller value (never expected) reads as no change
 * rather than as a huge unsigned difference. */
static double delta(uint64_t now, uint64_t before)
{
    return now >= before ? (double)(now - before) : 0;
}

void history_mark_now(app *a, history_mark *mark, int64_t mono_ms)
{
    wq_stats st;
    wq_get_stats(a->wq, &st);
    mark->mono_ms = mono_ms;
    mark->accepted = atomic_load(&a->hb_accepted);
    mark->rejected = atomic_load(&a->hb_rejected);
    mark->dropped = st.hb_dropped;
    for (int k = 0; k < REG_R__COUNT; k++)
        mark->closed[k] = atomic_load(&a->sessions_closed[k]);
}

int history_sample(app *a, history_mark *mark, int64_t now_ms, int64_t mono_ms, history_buf *b)
{
    sample_ctx c = {.b = b, .ts = now_ms};
    history_mark was = *mark;
    history_mark_now(a, mark, mono_ms);
    reg_groups(a->reg, on_group, &c);
    uint64_t counts[REG_W__COUNT];
    reg_counts(a->reg, counts);
    for (int s = REG_W_ALIVE; s < REG_W__COUNT; s++)
        add(&c, "workers:", reg_wstate_name(s), (double)counts[s]);
    wq_stats st;
    wq_get_stats(a->wq, &st);
    add(&c, "queue_depth", "", (double)(st.hb_depth + st.ev_depth));
    double span_s = (double)(mono_ms - was.mono_ms) / 1000.0;
    if (was.mono_ms && span_s > 0) {
        add(&c, "ingest_rate", "", delta(mark->accepted, was.accepted) / span_s);
        add(&c, "rejected_rate", "", delta(mark->rejected, was.rejected) / span_s);
        add(&c, "dropped_rate", "", delta(mark->dropped, was.dropped) / span_s);
        for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
            add(&c, "sessions_closed:", reg_reason_name(k), delta(mark->closed[k], was.closed[k]));
    }
    return c.oom ? -1 : c.added;
}

/* ---- the thread -------------------------------------------------------------- */

/* Past HISTORY_PENDING_MAX rows waiting, the oldest go (whole rows; a
 * sample cut at its start still reads right, its series are independent). */
static void cap_pending(history *h)
{
    history_buf *p = &h->pending;
    if (p->n <= HISTORY_PENDING_MAX) return;
    size_t drop = p->n - HISTORY_PENDING_MAX;
    memmove(p->v, p->v + drop, (p->n - drop) * sizeof *p->v);
    p->n -= drop;
    h->dropped_rows += drop;
}

/* Sample, then store everything pending. The store's refusal is logged
 * once per streak; the rows wait for the next turn. */
static void turn(history *h, bool *store_ok)
{
    app *a = h->a;
    if (history_sample(a, &h->mark, app_now_ms(), app_mono_ms(), &h->pending) < 0)
        vlog("warn", "history: out of memory: sample incomplete");
    cap_pending(h);
    if (h->pending.n == 0) return;
    char err[256];
    if (store_put_metrics(a->store, h->pending.v, h->pending.n, err, sizeof err) == 0) {
        if (!*store_ok)
            vlog("info", "history: fleet series stored again (%llu rows given up meanwhile)",
                 (unsigned long long)h->dropped_rows);
        *store_ok = true;
        h->pending.n = 0;
        return;
    }
    if (*store_ok) vlog("warn", "history: cannot store the fleet series (%s); keeping them", err);
    *store_ok = false;
}

static void *history_main(void *arg)
{
    history *h = arg;
    pthread_setname_np(pthread_self(), "vigil-history");
    int64_t period = (int64_t)h->a->cfg.history_sample_s * 1000;
    int64_t next = app_mono_ms() + period;
    bool store_ok = true;
    pthread_mutex_lock(&h->mu);
    while (h->running) {
        int64_t wait = next - app_mono_ms();
        if (wait > 0) {
            struct timespec ts = app_deadline(wait);
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
            continue; /* re-check running and the time */
        }
        next += period;
        int64_t now = app_mono_ms();
        if (next < now) next = now + period - (now - next) % period; /* skip missed ticks */
        pthread_mutex_unlock(&h->mu);
        turn(h, &store_ok);
        pthread_mutex_lock(&h->mu);
    }
    h->done = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int history_start(app *a, char *err, size_t errlen)
{
    history *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->a = a;
    int rc = app_cond_init(&h->cv);
    if (rc != 0 || pthread_mutex_init(&h->mu, NULL) != 0) {
        if (rc == 0) pthread_cond_destroy(&h->cv);
        free(h);
        snprintf(err, errlen, "cannot create the history sampler's locks");
        return -1;
    }
    /* The first sample's rates are over the span from here. */
    history_mark_now(a, &h->mark, app_mono_ms());
    h->running = true;
    if (pthread_create(&h->th, NULL, history_main, h) != 0) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        snprintf(err, errlen, "cannot start the history sampler thread");
        return -1;
    }
    a->history = h;
    return 0;
}

void history_stop(app *a)
{
    history *h = a->history;
    if (!h || h->joined) return;
    struct timespec ts = app_deadline(HISTORY_STOP_WAIT_MS);
    pthread_mutex_lock(&h->mu);
    h->running = false;
    pthread_cond_broadcast(&h->cv);
    int rc = 0;
    while (!h->done && rc == 0)
        rc = pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    bool done = h->done;
    pthread_mutex_unlock(&h->mu);
    if (!done) {
        vlog("warn", "history: a store write is still running; not waiting for it now");
        return;
    }
    pthread_join(h->th, NULL);
    h->joined = true;
}

void history_free(app *a)
{
    history *h = a->history;
    if (!h) return;
    if (!h->joined) { /* stop timed out, or was never called */
        pthread_mutex_lock(&h->mu);
        h->running = false;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->th, NULL);
    }
    if (h->pending.n)
        vlog("warn", "history: %zu fleet series rows not stored at stop", h->pending.n);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->pending.v);
    free(h);
    a->history = NULL;
}
