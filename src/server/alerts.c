/*
 * alerts: the alert engine (core/alert.h) inside vigild.
 *
 * The registry hands every state change to app_event (boot.c) under the
 * lock that ordered it; alerts_push copies it into a queue of its own and
 * returns, so ingest never waits for alerting. A thread (vigil-alert) takes
 * the queue every ALERTS_TICK_MS, feeds the events to the engine in order,
 * samples the fleet series (alive per group, ingest rate, dropped samples)
 * and, when rules judge workers' own samples (threshold on a worker field,
 * stuck), every matching live worker, every [alerts] sample_s, and ticks the
 * engine. Alerts that begin or end become events in the write queue's event
 * lane (so /v1/events has them, never dropped). Notices to send go to the
 * notifier (notify.h), which has its own queue and thread, so a slow sink
 * holds up neither. The engine sits behind one mutex, because the HTTP
 * threads change silences and the rollup feeds liveness scores.
 *
 * The queue is bounded: past ALERTS_QUEUE_MAX events waiting (the thread
 * stalled), events are dropped for alerting only and counted; the store
 * still gets every one of them through the write queue.
 */
#include "server/alerts.h"

#include "core/alert_rule.h"
#include "core/err.h"
#include "core/ifl.h"
#include "server/evq.h"
#include "server/notify.h"
#include "server/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALERTS_TICK_MS 200       /* events to engine, engine tick */
#define ALERTS_QUEUE_MAX 1000000 /* events waiting for the engine, at most (~450 MB) */
#define ALERTS_FIELDS_MAX 10     /* distinct worker fields rules name (9 + cpu_ticks_still_ms) */

struct alerts {
    app *a;
    alert_engine *eng;
    pthread_mutex_t eng_mu;
    notify *nf;
    evq q;
    pthread_t th;
    atomic_bool stop;
    bool running;
    int64_t series_at_ms;
    uint64_t series_accepted, series_dropped;
    /* Rules on workers' own samples (threshold on a worker field, stuck):
     * the fields they name, and the globs that pick the workers to copy. */
    int nfields;
    const char *fields[ALERTS_FIELDS_MAX];
    int nwrules;
    const alert_rule *wrules[CFG_MAX_RULES];
    struct samp *samp; /* one shard's matching workers, reused scan to scan */
    size_t nsamp, csamp;
    reg_view view;                /* the alert thread's: an hb_msg is too big for its stack */
    char jobs[HB_JOBS_BYTES + 1]; /* a lost worker's job ids, for its notice */
};

/* What the worker sampler copies of a worker under its shard's lock. */
typedef struct samp {
    hb_msg m;               /* worker_id, group and the samples, nothing else */
    int64_t ticks_moved_ms; /* 0: never reported cpu_ticks */
} samp;

/* The rules judged on workers' own samples, and the fields they name, from
 * the app's rules (at start, and after a reload under eng_mu). */
static void worker_rules(alerts *al)
{
    app *a = al->a;
    al->nwrules = al->nfields = 0;
    for (size_t i = 0; i < a->cfg.nrules; i++) {
        const alert_rule *r = &a->cfg.rules[i];
        if (!alert_rule_on_workers(r)) continue;
        al->wrules[al->nwrules++] = r;
        int k = 0;
        while (k < al->nfields && strcmp(al->fields[k], r->field) != 0)
            k++;
        if (k == al->nfields && k < ALERTS_FIELDS_MAX) al->fields[al->nfields++] = r->field;
    }
}

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
    worker_rules(al);
    pthread_mutex_init(&al->eng_mu, NULL);
    evq_init(&al->q, ALERTS_QUEUE_MAX);
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
    if (al) evq_push(&al->q, ev);
}

/* ---- the engine's outputs ------------------------------------------------ */

/* An alert began or ended: logged, and an event for the store (/v1/events)
 * through the same lane as the registry's, so it is never dropped. */
static void on_change(void *ctx, const notice *n)
{
    alerts *al = ctx;
    vlog(n->state == NOTICE_FIRING ? "warn" : "info", "alert %s %s: %s", n->key,
         n->state == NOTICE_FIRING ? "firing" : "resolved", n->summary);
    reg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = REG_EV_ALERT;
    ev.state = (uint8_t)n->state;
    ev.reason = (uint8_t)n->severity;
    int t = alert_type_parse(n->type);
    ev.exit_code = t < 0 ? 0 : t;
    ev.at_ms = n->at_ms;
    ev.opened_ms = n->starts_ms;
    snprintf(ev.instance, sizeof ev.instance, "%s", n->rule);
    snprintf(ev.worker_id, sizeof ev.worker_id, "%s", n->worker_id);
    snprintf(ev.group, sizeof ev.group, "%s", n->group);
    wq_push_event(al->a->wq, &ev);
    stream_push(al->a->stream, &ev);
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

/* Fleet series every [alerts] sample_s: rates over that span. Caller holds
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

/* Under a shard's lock: copy a live worker that some worker rule may judge. */
static void pick(void *ctx, const reg_view *v)
{
    alerts *al = ctx;
    if (v->state != REG_W_ALIVE && v->state != REG_W_SUSPECT) return;
    int k = 0;
    while (k < al->nwrules && !(alert_glob(al->wrules[k]->group_glob, v->last.group) &&
                                alert_glob(al->wrules[k]->worker_glob, v->last.worker_id)))
        k++;
    if (k == al->nwrules) return;
    if (al->nsamp == al->csamp) {
        size_t nc = al->csamp ? al->csamp * 2 : 256;
        samp *ns = realloc(al->samp, nc * sizeof *ns);
        if (!ns) return; /* this round misses it; the next one may not */
        al->samp = ns;
        al->csamp = nc;
    }
    samp *x = &al->samp[al->nsamp++];
    memcpy(&x->m, &v->last, offsetof(hb_msg, njobs));
    x->ticks_moved_ms = v->ticks_moved_ms;
}

/* Workers' own samples, for threshold rules on worker fields and stuck:
 * the registry is scanned shard by shard, the matching workers copied under
 * the shard's lock and judged after it is released, so ingest on a shard
 * waits only for the copy. Caller holds eng_mu. */
static void worker_series(alerts *al, int64_t now, const alert_out *out)
{
    memset(&al->view, 0, sizeof al->view);
    for (unsigned sh = 0; sh < REG_SHARDS; sh++) {
        al->nsamp = 0;
        reg_scan(al->a->reg, sh, now, pick, al, &al->view);
        for (size_t i = 0; i < al->nsamp; i++) {
            const samp *x = &al->samp[i];
            for (int f = 0; f < al->nfields; f++) {
                double val;
                bool have;
                if (strcmp(al->fields[f], "cpu_ticks_still_ms") == 0) {
                    have = x->ticks_moved_ms > 0 && (x->m.has & HB_HAS_CPU_TICKS);
                    val = have && now > x->ticks_moved_ms ? (double)(now - x->ticks_moved_ms) : 0;
                } else {
                    have = alert_worker_value(al->fields[f], &x->m, &val);
                }
                if (have)
                    alert_measure(al->eng, al->fields[f], x->m.worker_id, x->m.group, val, now,
                                  out);
            }
        }
    }
}

static void *alerts_main(void *arg)
{
    alerts *al = arg;
    pthread_setname_np(pthread_self(), "vigil-alert");
    const alert_out out = {on_change, on_send, al};
    reg_event *batch = NULL;
    size_t nb = 0, cb = 0;
    reg_view *view = &al->view;
    char *jobs = al->jobs;
    while (!atomic_load(&al->stop)) {
        nb = evq_take(&al->q, &batch, &cb, NULL);

        int64_t now = app_now_ms();
        pthread_mutex_lock(&al->eng_mu);
        for (size_t i = 0; i < nb; i++) {
            const reg_event *ev = &batch[i];
            alert_worker_info wi = {.in_flight = -1, .jobs = jobs};
            if (ev->kind == REG_EV_SESSION_CLOSE && ev->reason == REG_R_TIMEOUT) {
                if (reg_get(al->a->reg, ev->worker_id, now, view) &&
                    (view->last.has & HB_HAS_IN_FLIGHT))
                    wi.in_flight = view->last.in_flight;
                wi.njobs =
                    al->a->ifl ? ifl_get(al->a->ifl, ev->worker_id, jobs, sizeof al->jobs) : 0;
            }
            alert_event(al->eng, ev, &wi, now, &out);
        }
        if (now - al->series_at_ms >= al->a->cfg.alert_sample_s * 1000LL) {
            series(al, now, &out);
            if (al->nwrules) worker_series(al, now, &out);
        }
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
    evq_destroy(&al->q);
    free(al->samp);
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
    *queue_dropped = atomic_load(&al->q.dropped);
}

int alerts_set_rules(alerts *al, const alert_rule *rules, size_t n, char *err, size_t errlen)
{
    pthread_mutex_lock(&al->eng_mu);
    int rc = alert_set_rules(al->eng, rules, (int)n);
    if (rc == 0) {
        memcpy(al->a->cfg.rules, rules, n * sizeof *rules);
        al->a->cfg.nrules = n;
        worker_rules(al);
    }
    pthread_mutex_unlock(&al->eng_mu);
    if (rc != 0) err_set(err, errlen, "alerts: out of memory taking the new rules");
    return rc;
}
