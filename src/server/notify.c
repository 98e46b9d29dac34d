/*
 * notify: a fixed array of delivery slots (one notice copy + which sink +
 * attempt count + when it may next be tried), one mutex, one condvar on the
 * monotonic clock, one thread.
 *
 * Picking the next delivery. Each sink's head is its oldest slot (lowest
 * sequence number); only heads are eligible, which keeps per-sink order. The
 * thread takes the ready head (next_ms <= now) with the lowest sequence, or
 * sleeps until the earliest head becomes ready or a push arrives. A scan of
 * queue_max slots per delivery is nothing next to an HTTP round trip.
 *
 * The mutex is never held across sink_send: the slot being delivered stays in
 * the array marked busy (still its sink's head, so nothing overtakes it), and
 * notify_push only ever waits for a memcpy.
 *
 * Backoff after the k-th failed attempt: base * 2^(k-1), capped at max. A
 * delivery is given up after max_attempts attempts or once older than
 * max_age_ms, whichever comes first.
 */
#include "server/notify.h"

#include "server/app.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTIFY_ERR_MAX 512 /* bytes of one delivery error */

typedef struct slot {
    notice n;
    int sink;
    int attempts;
    int64_t first_ms, next_ms; /* monotonic */
    uint64_t seq;              /* 0: free */
    bool busy;                 /* being delivered, outside the mutex */
} slot;

struct notify {
    notify_opts o;
    sink_cfg *sinks;
    sink_conn **conns;
    notify_stats *st;
    int nsinks;
    slot *q;
    int nq;
    uint64_t seq, unrouted;
    int *head; /* per sink: scratch for the pick */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool started, stopping, stopped;
};

void notify_opts_default(notify_opts *o)
{
    o->queue_max = NOTIFY_QUEUE_DEFAULT;
    o->max_attempts = NOTIFY_ATTEMPTS_DEFAULT;
    o->max_age_ms = NOTIFY_MAX_AGE_DEFAULT_MS;
    o->backoff_base_ms = NOTIFY_BACKOFF_BASE_MS;
    o->backoff_max_ms = NOTIFY_BACKOFF_MAX_MS;
    o->drain_ms = NOTIFY_DRAIN_MS;
}

notify *notify_new(const sink_cfg *sinks, int nsinks, const notify_opts *o)
{
    notify *nf = calloc(1, sizeof *nf);
    if (!nf) return NULL;
    if (o)
        nf->o = *o;
    else
        notify_opts_default(&nf->o);
    if (nf->o.queue_max < 1) nf->o.queue_max = 1;
    if (nf->o.max_attempts < 1) nf->o.max_attempts = 1;
    nf->nsinks = nsinks;
    nf->sinks = calloc((size_t)nsinks + 1, sizeof *nf->sinks);
    nf->conns = calloc((size_t)nsinks + 1, sizeof *nf->conns);
    nf->st = calloc((size_t)nsinks + 1, sizeof *nf->st);
    nf->head = calloc((size_t)nsinks + 1, sizeof *nf->head);
    nf->q = calloc((size_t)nf->o.queue_max, sizeof *nf->q);
    pthread_mutex_init(&nf->mu, NULL);
    app_cond_init(&nf->cv);
    if (!nf->sinks || !nf->conns || !nf->st || !nf->head || !nf->q) {
        notify_free(nf);
        return NULL;
    }
    if (nsinks) memcpy(nf->sinks, sinks, (size_t)nsinks * sizeof *sinks);
    return nf;
}

static int64_t backoff(const notify_opts *o, int attempts)
{
    int64_t d = o->backoff_base_ms;
    for (int i = 1; i < attempts && d < o->backoff_max_ms; i++)
        d *= 2;
    return d < o->backoff_max_ms ? d : o->backoff_max_ms;
}

/* Under mu: the ready head with the lowest seq, or -1 with *wake_ms the
 * earliest moment a head becomes ready (INT64_MAX: none queued or all busy). */
static int pick(notify *nf, int64_t now, int64_t *wake_ms)
{
    for (int s = 0; s < nf->nsinks; s++)
        nf->head[s] = -1;
    for (int i = 0; i < nf->o.queue_max; i++) {
        slot *d = &nf->q[i];
        if (d->seq && (nf->head[d->sink] < 0 || d->seq < nf->q[nf->head[d->sink]].seq))
            nf->head[d->sink] = i;
    }
    int best = -1;
    *wake_ms = INT64_MAX;
    for (int s = 0; s < nf->nsinks; s++) {
        int i = nf->head[s];
        if (i < 0 || nf->q[i].busy) continue;
        if (nf->q[i].next_ms > now) {
            if (nf->q[i].next_ms < *wake_ms) *wake_ms = nf->q[i].next_ms;
        } else if (best < 0 || nf->q[i].seq < nf->q[best].seq) {
            best = i;
        }
    }
    return best;
}

static void wait_until(notify *nf, int64_t ms)
{
    if (ms == INT64_MAX) {
        pthread_cond_wait(&nf->cv, &nf->mu);
        return;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    pthread_cond_timedwait(&nf->cv, &nf->mu, &ts);
}

/* One attempt of slot i, the mutex released around it. Under mu on return. */
static void deliver(notify *nf, int i, int64_t deadline)
{
    slot *d = &nf->q[i];
    d->busy = true;
    int s = d->sink;
    notice n = d->n;
    sink_cfg cfg = nf->sinks[s];
    pthread_mutex_unlock(&nf->mu);

    int64_t now = app_mono_ms();
    if (deadline != INT64_MAX && deadline - now < cfg.timeout_ms) /* draining: fit the deadline */
        cfg.timeout_ms = deadline - now > 1 ? (int)(deadline - now) : 1;
    char err[NOTIFY_ERR_MAX] = "";
    if (!nf->conns[s]) nf->conns[s] = sink_conn_new();
    int rc = nf->conns[s] ? sink_send(nf->conns[s], &cfg, &n, err, sizeof err) : -1;
    if (!nf->conns[s]) snprintf(err, sizeof err, "cannot create a libcurl handle");
    now = app_mono_ms();

    pthread_mutex_lock(&nf->mu);
    d->busy = false;
    d->attempts++;
    if (rc == 0) {
        nf->st[s].sent++;
        d->seq = 0;
        nf->nq--;
        return;
    }
    nf->st[s].failed++;
    bool give_up = d->attempts >= nf->o.max_attempts || now - d->first_ms >= nf->o.max_age_ms;
    int attempts = d->attempts;
    if (give_up) {
        nf->st[s].given_up++;
        d->seq = 0;
        nf->nq--;
    } else {
        d->next_ms = now + backoff(&nf->o, attempts);
    }
    pthread_mutex_unlock(&nf->mu);
    if (give_up)
        vlog("error", "notify: gave up on %s notice %s to sink %s after %d attempts: %s",
             notice_state_name(n.state), n.key, cfg.name, attempts, err);
    else
        vlog("warn", "notify: attempt %d of %s notice %s to sink %s failed, retrying: %s", attempts,
             notice_state_name(n.state), n.key, cfg.name, err);
    pthread_mutex_lock(&nf->mu);
}

static void *run(void *arg)
{
    notify *nf = arg;
    int64_t deadline = INT64_MAX; /* set once stopping */
    pthread_mutex_lock(&nf->mu);
    for (;;) {
        int64_t now = app_mono_ms(), wake;
        if (nf->stopping && deadline == INT64_MAX) deadline = now + nf->o.drain_ms;
        if (nf->stopping && (nf->nq == 0 || now >= deadline)) break;
        int i = pick(nf, now, &wake);
        if (i >= 0) {
            deliver(nf, i, deadline);
            continue;
        }
        wait_until(nf, wake < deadline ? wake : deadline);
    }
    /* Drain time is up: what is left was never delivered. */
    int left = nf->nq;
    for (int i = 0; i < nf->o.queue_max; i++)
        if (nf->q[i].seq) {
            nf->st[nf->q[i].sink].dropped++;
            nf->q[i].seq = 0;
        }
    nf->nq = 0;
    pthread_mutex_unlock(&nf->mu);
    if (left) vlog("warn", "notify: stopped with %d deliveries undelivered (dropped)", left);
    return NULL;
}

int notify_start(notify *nf, char *err, size_t errlen)
{
    int rc = pthread_create(&nf->th, NULL, run, nf);
    if (rc) {
        snprintf(err, errlen, "notify: cannot start thread: %s", strerror(rc));
        return -1;
    }
    nf->started = true;
    return 0;
}

static int sink_index(const notify *nf, const char *name)
{
    for (int s = 0; s < nf->nsinks; s++)
        if (strcmp(nf->sinks[s].name, name) == 0) return s;
    return -1;
}

int notify_push(notify *nf, const notice *n)
{
    int queued = 0, nsinks = n->nsinks < NOTICE_SINKS_MAX ? n->nsinks : NOTICE_SINKS_MAX;
    int64_t now = app_mono_ms();
    struct drop_log {
        const char *why;
        int sink;
        uint64_t count;
    } logs[NOTICE_SINKS_MAX];
    int nlogs = 0;
    pthread_mutex_lock(&nf->mu);
    for (int k = 0; k < nsinks; k++) {
        int s = sink_index(nf, n->sinks[k]);
        if (s < 0) {
            if (nf->unrouted++ % NOTIFY_DROP_LOG_EVERY == 0)
                logs[nlogs++] = (struct drop_log){"unknown sink", k, nf->unrouted};
            continue;
        }
        if (nf->nq >= nf->o.queue_max || nf->stopping) {
            if (nf->st[s].dropped++ % NOTIFY_DROP_LOG_EVERY == 0)
                logs[nlogs++] = (struct drop_log){nf->stopping ? "stopping" : "queue full", k,
                                                  nf->st[s].dropped};
            continue;
        }
        slot *d = nf->q;
        while (d->seq) /* nq < queue_max: a free slot exists */
            d++;
        d->n = *n;
        d->sink = s;
        d->attempts = 0;
        d->first_ms = d->next_ms = now;
        d->seq = ++nf->seq;
        d->busy = false;
        nf->nq++;
        queued++;
    }
    if (queued) pthread_cond_signal(&nf->cv);
    pthread_mutex_unlock(&nf->mu);
    for (int i = 0; i < nlogs; i++)
        vlog("warn", "notify: %s notice %s to sink %s dropped (%s; %llu so far)",
             notice_state_name(n->state), n->key, n->sinks[logs[i].sink], logs[i].why,
             (unsigned long long)logs[i].count);
    return queued;
}

void notify_stop(notify *nf)
{
    pthread_mutex_lock(&nf->mu);
    nf->stopping = true;
    pthread_cond_signal(&nf->cv);
    pthread_mutex_unlock(&nf->mu);
    if (nf->started && !nf->stopped) pthread_join(nf->th, NULL);
    nf->stopped = true;
}

void notify_free(notify *nf)
{
    if (!nf) return;
    if (nf->started && !nf->stopped) notify_stop(nf);
    for (int s = 0; nf->conns && s < nf->nsinks; s++)
        sink_conn_free(nf->conns[s]);
    pthread_cond_destroy(&nf->cv);
    pthread_mutex_destroy(&nf->mu);
    free(nf->sinks);
    free(nf->conns);
    free(nf->st);
    free(nf->head);
    free(nf->q);
    free(nf);
}

int notify_stats_get(notify *nf, const char *name, notify_stats *out)
{
    pthread_mutex_lock(&nf->mu);
    int s = sink_index(nf, name);
    if (s >= 0) *out = nf->st[s];
    pthread_mutex_unlock(&nf->mu);
    return s >= 0 ? 0 : -1;
}

uint64_t notify_unrouted(notify *nf)
{
    pthread_mutex_lock(&nf->mu);
    uint64_t u = nf->unrouted;
    pthread_mutex_unlock(&nf->mu);
    return u;
}

void notify_example(notice *n, const char *name, int64_t now_ms)
{
    memset(n, 0, sizeof *n);
    n->state = NOTICE_FIRING;
    n->severity = NOTICE_INFO;
    snprintf(n->rule, sizeof n->rule, "vigil-test");
    snprintf(n->type, sizeof n->type, "test");
    snprintf(n->key, sizeof n->key, "vigil-test/%s", name);
    snprintf(n->worker_id, sizeof n->worker_id, "example-worker");
    snprintf(n->group, sizeof n->group, "example");
    snprintf(n->instance, sizeof n->instance, "vigild-test");
    snprintf(n->summary, sizeof n->summary, "test notice from vigild: sink %s works", name);
    n->at_ms = n->starts_ms = now_ms;
    n->in_flight = -1;
    n->nsinks = 1;
    snprintf(n->sinks[0], sizeof n->sinks[0], "%s", name);
}

int notify_test_sink(const sink_cfg *s, char *err, size_t errlen)
{
    notice n;
    notify_example(&n, s->name, app_now_ms());
    sink_conn *c = sink_conn_new();
    if (!c) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    int rc = sink_send(c, s, &n, err, errlen);
    sink_conn_free(c);
    return rc;
}
