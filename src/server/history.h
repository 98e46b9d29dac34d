/*
 * history: the fleet series sampler (DESIGN §5, fleet_metrics).
 *
 * Every [history] sample_s (default 30 s, cfg.c) a thread of its
 * own (vigil-history) takes one sample of the fleet from memory and stores
 * it (store_put_metrics), one row per series:
 *
 *   alive:<group>             alive workers of each group (reg_groups)
 *   workers:<state>           workers in each state, fleet-wide (reg_counts)
 *   ingest_rate               heartbeats accepted per second since the last sample
 *   rejected_rate             heartbeats refused (4xx) per second, likewise
 *   dropped_rate              raw samples the write queue dropped per second
 *   queue_depth               items waiting for the writer (samples + events)
 *   sessions_closed:<reason>  sessions closed with that reason since the last sample
 *
 * Rates and counts are over the span since the previous sample (the
 * thread's start for the first), measured on the monotonic clock so a wall
 * clock step does not bend a rate; each row is stamped with the wall clock.
 *
 * Why a thread of its own: a store write may wait (SQLite's lock behind a
 * long batch, a PostgreSQL reconnect), and that must hold up neither the
 * sweeper (liveness) nor the rollup. It writes on the store's analytics
 * connection, never the writer's. Samples the store refuses are kept and
 * sent again with the next ones (an upsert: a batch whose commit was lost
 * and is sent again changes nothing), up to HISTORY_PENDING_MAX rows; past
 * that the oldest go, counted. Between samples it sleeps on a condition
 * variable, so a stop wakes it at once; a stop waits at most
 * HISTORY_STOP_WAIT_MS for a store call in flight, and history_free (before
 * the store closes) waits out the rest.
 */
#ifndef VIGIL_HISTORY_H
#define VIGIL_HISTORY_H

#include "server/app.h"

/* Rows kept while the store refuses them: ~22 MiB at most; a day of 30
 * series, an hour of 800. */
#define HISTORY_PENDING_MAX 100000
#define HISTORY_STOP_WAIT_MS 1000 /* history_stop waits this long for a store call in flight */

/* The counters at the previous sample, and when it was taken. */
typedef struct history_mark {
    int64_t mono_ms; /* 0: no sample yet: rates and counts are left out */
    uint64_t accepted, rejected, dropped;
    uint64_t closed[REG_R__COUNT];
} history_mark;

/* Rows of samples, oldest first. */
typedef struct history_buf {
    store_metric *v;
    size_t n, cap;
} history_buf;

/* Append one sample of a's fleet stamped now_ms to b: every series above,
 * the per-interval ones over (mark->mono_ms, mono_ms] (left out when the
 * mark is unset or the span is not positive), then move the mark to
 * mono_ms. Reads only memory (registry, counters, queue stats). Returns
 * rows appended, -1 when out of memory (b holds what fitted; the mark moves
 * anyway, so the next sample is not a double interval). */
int history_sample(app *a, history_mark *mark, int64_t now_ms, int64_t mono_ms, history_buf *b);
/* The mark at mono_ms with a's counters as they are now (the thread's start). */
void history_mark_now(app *a, history_mark *mark, int64_t mono_ms);

/* The thread: start (a->history set), stop (see the banner), free. Stop
 * and free are no-ops when it never started. */
int history_start(app *a, char *err, size_t errlen);
void history_stop(app *a);
void history_free(app *a);

#endif
