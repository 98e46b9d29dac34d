/*
 * wq: the queue between the request threads and the writer thread.
 *
 * Two lanes behind one mutex. Raw heartbeats go into a fixed ring: when it is
 * full the new sample is dropped and counted, because a sample is only
 * history and the heartbeat path must never wait. State events (sessions,
 * worker and group states) go into a growable array that is never dropped:
 * losing one would lose a disconnect. One mutex for both lanes means the
 * writer always takes an event together with, or before, any heartbeat
 * pushed after it, so a worker's row exists before its samples refer to it.
 */
#ifndef VIGIL_WQ_H
#define VIGIL_WQ_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wq wq;

typedef struct wq_stats {
    uint64_t hb_pushed, hb_dropped, ev_pushed;
    size_t hb_depth, ev_depth, hb_cap;
} wq_stats;

/* raw_cap: raw heartbeats held at most (the ring's size). */
wq *wq_new(size_t raw_cap);
void wq_free(wq *q);

/* Queue one raw heartbeat. False when the ring is full (dropped, counted). */
bool wq_push_hb(wq *q, const hb_msg *m, int64_t ts_ms);

/* Queue one state event; never drops (grows). Usable as a reg_sink_fn. */
void wq_push_event(void *q, const reg_event *ev);

/* Writer: wait up to timeout_ms for work (or wq_close), then take every
 * queued event (*evs becomes the caller's to free) and up to max_hb raw
 * heartbeats into hbs. Returns the number of items taken. */
size_t wq_take(wq *q, reg_event **evs, size_t *nev, store_hb *hbs, size_t max_hb, size_t *nhb,
               int timeout_ms);

/* Wake the writer for its final drain. Pushes are still accepted. */
void wq_close(wq *q);
bool wq_closed(wq *q);

void wq_get_stats(wq *q, wq_stats *out);

#endif
