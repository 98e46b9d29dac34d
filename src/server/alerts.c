/*
 * alerts: the alert engine (core/alert.h) inside vigild.
 *
 * The registry hands every state change to app_event (boot.c) under the
 * lock that ordered it; alerts_push copies it into a queue of its own and
 * returns, so ingest never waits for alerting. A thread (vigil-alert) takes
 * the queue every ALERTS_TICK_MS, feeds the events to the engine in order,
 * samples the fleet series (alive per group, ingest rate, dropped samples)
 * every ALERTS_SERIES_MS, and ticks the engine. Notices to send go to the
 * notifier (notify.h), which has its own queue and thread, so a slow sink
 * holds up neither. The engine sits behind one mutex, because the HTTP
 * threads change silences and the rollup feeds liveness scores.
 *
 * The queue is bounded: past ALERTS_QUEUE_MAX events waiting (the thread
 * stalled), events are dropped for alerting only and counted; the store
 * still gets every one of them through the write queue.
 */
#include "server/alerts.h"

#include "core/err.h"
#include "server/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALERTS_TICK_MS 200       /* events to engine, engine tick */
#define ALERTS_SERIES_MS 10000   /* fleet series sampled (and rates averaged) over this */
#define ALERTS_QUEUE_MAX 1000000 /* events waiting for the engine, at most (~450 MB) */

struct alerts {
    app *a;
    alert_engine *eng;
    pthread_mutex_t eng_mu;
    notify *nf;
    pthread_mutex_t qmu;
    reg_event *q;
    size_t n, cap;
    atomic_uint_least64_t dropped;
    pthread_t th;
    atomic_bool stop;
    bool running;
    int64_t series_at_ms;
    uint64_t series_accepted, series_dropped;
};

alerts *alerts_new(app *a, char *err, size_t errlen)
{
    if (a->cfg.nrules == 0) return NULL; /* nothing to alert on: no thread, no queue */
    alerts *al = calloc(1, sizeof *al);
    if (!al) goto oom;
    al->a = a;
    al->eng =
        alert_new(a->cfg.rules, (int)a->cfg.nrules, app_now_ms(), a->cfg.alert_grace_s * 1000LL);
    notify_opts o;
    notify_opts_default(&o);
    al->nf = notify_new(a->cfg.sinks, (int)a->cfg.nsinks, &o);
    if (!al->eng || !al->nf) goto oom;
    pthread_mutex_init(&al->eng_mu, NULL);
    pthread_mutex_init(&al->qmu, NULL);
    return al;
oom:
    err_set(err, errlen, "alerts: out of memory");
    if (al) {
        alert_free(al->eng);
        notify_free(al->nf);
    }
    free(al);
    return NULL;
}

void alerts_push(alerts *al, const reg_event *ev)
{
    if (!al) return;
    pthread_mutex_lock(&al->qmu);
    if (al->n == al->cap) {
        size_t nc = al->cap ? al->cap * 2 : 1024;
        reg_event *nq = al->n < ALERTS_QUEUE_MAX ? realloc(al->q, nc * sizeof *nq) : NULL;
        if (!nq) {
            pthread_mutex_unlock(&al->qmu);
            al->dropped++;
            return;
        }
        al->q = nq;
        al->cap = nc;
    }
    al->q[al->n++] = *ev;
    pthread_mutex_unlock(&al->qmu);
}

/* ---- the engine's outputs ------------------------------------------------ */

static void on_change(void *ctx, const notice *n)
{
    (void)ctx;
    vlog(n->state == NOTICE_FIRING ? "warn" : "info", "alert %s %s: %s", n->key,
         n->state == NOTICE_FIRING ? "firing" : "resolved", n->summary);
}

static void on_send(void *ctx, const notice *n)
{
    alerts *al = ctx;
    if (n->nsinks) notify_push(al->nf, n);
}

/* ---- the thread ------------------------------------------------------------ */

typedef struct series_ctx {
    alerts *al;
    const alert_out *out;
    int64_t now;
} series_ctx;

static void group_alive(void *ctx, const reg_group_view *g)
{
    series_ctx *c = ctx;
    alert_measure(c->al->eng, "alive", NULL, g->name, g->count[REG_W_ALIVE], c->now, c->out);
}

/* Fleet series every ALERTS_SERIES_MS: rates over that span. Caller holds
 * eng_mu. */
static void series(alerts *al, int64_t now, const alert_out *out)
{
    app *a = al->a;
    wq_stats st;
    wq_get_stats(a->wq, &st);
    uint64_t acc = atomic_load(&a->hb_accepted);
    if (al->series_at_ms) {
        double s = (double)(now - al->series_at_ms) / 1000.0;
        alert_measure(al->eng, "ingest_rate", NULL, NULL, (double)(acc - al->series_accepted) / s,
                      now, out);
        alert_measure(al->eng, "dropped", NULL, NULL,
                      (double)(st.hb_dropped - al->series_dropped) / s, now, out);
    }
    al->series_at_ms = now;
    al->series_accepted = acc;
    al->series_dropped = st.hb_dropped;
    series_ctx c = {al, out, now};
    reg_groups(a->reg, group_alive, &c);
}

static void *alerts_main(void *arg)
{
    alerts *al = arg;
    pthread_setname_np(pthread_self(), "vigil-alert");
    const alert_out out = {on_change, on_send, al};
    reg_event *batch = NULL;
    size_t nb = 0, cb = 0;
    while (!atomic_load(&al->stop)) {
        pthread_mutex_lock(&al->qmu);
        reg_event *t = al->q; /* swap: the producers get the emptied old batch */
        size_t tc = al->cap;
        al->q = batch;
        al->cap = cb;
        batch = t;
        cb = tc;
        nb = al->n;
        al->n = 0;
        pthread_mutex_unlock(&al->qmu);

        int64_t now = app_now_ms();
        pthread_mutex_lock(&al->eng_mu);
        for (size_t i = 0; i < nb; i++) {
            const reg_event *ev = &batch[i];
            alert_worker_info wi = {.in_flight = -1};
            reg_view v;
            if (ev->kind == REG_EV_SESSION_CLOSE && ev->reason == REG_R_TIMEOUT &&
                reg_get(al->a->reg, ev->worker_id, now, &v) && (v.last.has & HB_HAS_IN_FLIGHT))
                wi.in_flight = v.last.in_flight;
            alert_event(al->eng, ev, &wi, now, &out);
        }
        if (now - al->series_at_ms >= ALERTS_SERIES_MS) series(al, now, &out);
        alert_tick(al->eng, now, &out);
        pthread_mutex_unlock(&al->eng_mu);
        app_sleep_ms(ALERTS_TICK_MS);
    }
    free(batch);
    return NULL;
}

int alerts_start(alerts *al, char *err, size_t errlen)
{
    if (!al) return 0;
    if (notify_start(al->nf, err, errlen) != 0) return -1;
    if (pthread_create(&al->th, NULL, alerts_main, al) != 0) {
        snprintf(err, errlen, "cannot start the alert thread");
        return -1;
    }
    al->running = true;
    return 0;
}

void alerts_stop(alerts *al)
{
    if (!al) return;
    atomic_store(&al->stop, true);
    if (al->running) pthread_join(al->th, NULL);
    al->running = false;
    notify_stop(al->nf); /* delivers what is queued, for at most NOTIFY_DRAIN_MS */
}

void alerts_free(alerts *al)
{
    if (!al) return;
    alerts_stop(al);
    notify_free(al->nf);
    alert_free(al->eng);
    pthread_mutex_destroy(&al->eng_mu);
    pthread_mutex_destroy(&al->qmu);
    free(al->q);
    free(al);
}

void alerts_measure(alerts *al, const char *field, const char *worker_id, const char *group,
                    double value)
{
    if (!al) return;
    const alert_out out = {on_change, on_send, al};
    pthread_mutex_lock(&al->eng_mu);
    alert_measure(al->eng, field, worker_id, group, value, app_now_ms(), &out);
    pthread_mutex_unlock(&al->eng_mu);
}

int64_t alerts_silence_add(alerts *al, alert_silence *s)
{
    pthread_mutex_lock(&al->eng_mu);
    int64_t id = alert_silence_add(al->eng, s, app_now_ms());
    pthread_mutex_unlock(&al->eng_mu);
    return id;
}

int alerts_silence_del(alerts *al, int64_t id)
{
    pthread_mutex_lock(&al->eng_mu);
    int rc = alert_silence_del(al->eng, id);
    pthread_mutex_unlock(&al->eng_mu);
    return rc;
}

void alerts_silences(alerts *al, void (*fn)(void *ctx, const alert_silence *s), void *ctx)
{
    pthread_mutex_lock(&al->eng_mu);
    alert_silences(al->eng, app_now_ms(), fn, ctx);
    pthread_mutex_unlock(&al->eng_mu);
}

void alerts_get_stats(alerts *al, alert_stats *st, uint64_t *queue_dropped)
{
    memset(st, 0, sizeof *st);
    *queue_dropped = 0;
    if (!al) return;
    pthread_mutex_lock(&al->eng_mu);
    alert_get_stats(al->eng, st);
    pthread_mutex_unlock(&al->eng_mu);
    *queue_dropped = atomic_load(&al->dropped);
}
