/*
 * evq: a queue of registry events between the thread that made them and a
 * thread that consumes them in batches (the alert engine, the live stream).
 *
 * The producer side runs inside the registry's sink, under a shard lock, on
 * the heartbeat path: evq_push is a copy under a leaf mutex and nothing
 * else. The consumer swaps the whole queue for its emptied previous batch
 * (evq_take), so neither side allocates in the steady state. Bounded: past
 * `max` events waiting (the consumer stalled) new ones are dropped, counted,
 * and the next take says so, so the consumer can resynchronize.
 */
#ifndef VIGIL_EVQ_H
#define VIGIL_EVQ_H

#include "core/reg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct evq {
    pthread_mutex_t mu;
    reg_event *q;
    size_t n, cap, max;
    bool overflow; /* dropped since the last take */
    atomic_uint_least64_t dropped;
} evq;

void evq_init(evq *q, size_t max);
void evq_destroy(evq *q);

/* Any thread, quick. false when it was dropped (full, or out of memory). */
bool evq_push(evq *q, const reg_event *ev);

/* The consumer: hand in the previous batch (*batch, *cap; NULL/0 at first)
 * and get the waiting events in its place; returns how many. *overflow:
 * events were dropped since the last take. */
size_t evq_take(evq *q, reg_event **batch, size_t *cap, bool *overflow);

#endif
