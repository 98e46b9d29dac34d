/*
 * wq: ring of raw heartbeats + vector of events, one mutex, one condvar.
 * The writer is the only consumer; any request thread (and the sweeper) may
 * produce. Waking the writer on every push would cost a syscall per
 * heartbeat, so producers only signal when a lane crosses from empty; the
 * writer otherwise wakes on its flush timer.
 */
#include "server/wq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WQ_EV_MIN_CAP 256

struct wq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_hb *ring;
    size_t cap, head, len; /* ring: items at head .. head+len (mod cap) */
    reg_event *ev;
    size_t nev, evcap;
    bool closed;
    uint64_t hb_pushed, hb_dropped, ev_pushed;
};

wq *wq_new(size_t raw_cap)
{
    wq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->ring = malloc(raw_cap * sizeof *q->ring);
    if (!q->ring) {
        free(q);
        return NULL;
    }
    q->cap = raw_cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

void wq_free(wq *q)
{
    if (!q) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->ring);
    free(q->ev);
    free(q);
}

bool wq_push_hb(wq *q, const hb_msg *m, int64_t ts_ms)
{
    pthread_mutex_lock(&q->mu);
    if (q->len == q->cap) {
        q->hb_dropped++;
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    size_t i = q->head + q->len;
    if (i >= q->cap) i -= q->cap;
    store_hb_from_msg(&q->ring[i], m, ts_ms);
    q->len++;
    q->hb_pushed++;
    pthread_mutex_unlock(&q->mu);
    return true;
}

void wq_push_event(void *ctx, const reg_event *ev)
{
    wq *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (q->nev == q->evcap) {
        size_t nc = q->evcap ? q->evcap * 2 : WQ_EV_MIN_CAP;
        reg_event *nv = realloc(q->ev, nc * sizeof *nv);
        /* Out of memory for a state change: nothing sane is left to do
         * that keeps the promise "a disconnect is never lost". */
        if (!nv) abort();
        q->ev = nv;
        q->evcap = nc;
    }
    q->ev[q->nev++] = *ev;
    q->ev_pushed++;
    if (q->nev == 1) pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t wq_take(wq *q, reg_event **evs, size_t *nev, store_hb *hbs, size_t max_hb, size_t *nhb,
               int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    /* Wait for the timer, not for the first heartbeat: batching is the
     * point. Events and close cut the wait short. */
    while (!q->closed && q->nev == 0 && q->len < max_hb)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) break;
    *evs = q->ev;
    *nev = q->nev;
    q->ev = NULL;
    q->nev = q->evcap = 0;
    size_t n = q->len < max_hb ? q->len : max_hb;
    for (size_t k = 0; k < n;) {
        size_t run = q->cap - q->head; /* contiguous part before the wrap */
        if (run > n - k) run = n - k;
        memcpy(&hbs[k], &q->ring[q->head], run * sizeof *hbs);
        q->head = (q->head + run) % q->cap;
        q->len -= run;
        k += run;
    }
    *nhb = n;
    pthread_mutex_unlock(&q->mu);
    return n + *nev;
}

void wq_close(wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool wq_closed(wq *q)
{
    pthread_mutex_lock(&q->mu);
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

void wq_get_stats(wq *q, wq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->hb_pushed = q->hb_pushed;
    out->hb_dropped = q->hb_dropped;
    out->ev_pushed = q->ev_pushed;
    out->hb_depth = q->len;
    out->ev_depth = q->nev;
    out->hb_cap = q->cap;
    pthread_mutex_unlock(&q->mu);
}
