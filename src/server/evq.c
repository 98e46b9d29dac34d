/*
 * evq: registry events from the heartbeat path to a consumer (evq.h).
 */
#include "server/evq.h"

#include <stdlib.h>
#include <string.h>

#define EVQ_FIRST 1024 /* events the queue starts with room for */

void evq_init(evq *q, size_t max)
{
    memset(q, 0, sizeof *q);
    q->max = max;
    pthread_mutex_init(&q->mu, NULL);
}

void evq_destroy(evq *q)
{
    free(q->q);
    q->q = NULL;
    pthread_mutex_destroy(&q->mu);
}

bool evq_push(evq *q, const reg_event *ev)
{
    pthread_mutex_lock(&q->mu);
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : EVQ_FIRST;
        reg_event *nq = q->n < q->max ? realloc(q->q, nc * sizeof *nq) : NULL;
        if (!nq) {
            q->overflow = true;
            pthread_mutex_unlock(&q->mu);
            q->dropped++;
            return false;
        }
        q->q = nq;
        q->cap = nc;
    }
    q->q[q->n++] = *ev;
    pthread_mutex_unlock(&q->mu);
    return true;
}

size_t evq_take(evq *q, reg_event **batch, size_t *cap, bool *overflow)
{
    pthread_mutex_lock(&q->mu);
    reg_event *t = q->q;
    size_t tc = q->cap, n = q->n;
    q->q = *batch; /* the producers get the emptied old batch */
    q->cap = *cap;
    q->n = 0;
    if (overflow) *overflow = q->overflow;
    q->overflow = false;
    pthread_mutex_unlock(&q->mu);
    *batch = t;
    *cap = tc;
    return n;
}
