/*
 * tlat: task latency aggregation, per group, in 30-second buckets.
 *
 * Workers report how long their tasks took (POST /v1/tasks, or `task_ms` in a
 * heartbeat). tlat keeps, per group, one *open* bucket: the 30 s window
 * (aligned to the epoch: bucket_ms = floor(now / 30000) * 30000) that samples
 * are going into. When a sample for a later window arrives, the open bucket
 * is *closed* (queued) and a new one opened; a periodic tlat_flush hands
 * every closed bucket, and every open bucket whose window has passed, to a
 * callback as one row: count, mean, min, max and nearest-rank p50/p90/p95/p99
 * (rank = ceil(p/100 * n), 1-based, of the sorted samples).
 *
 * Concurrency. tlat_add runs on HTTP threads, possibly on the heartbeat path,
 * so it takes one lock: the groups are split over TLAT_SHARDS shards by a
 * hash of the group name, each a small chained table behind its own mutex.
 * The common case (a sample for a group's open bucket) is a hash, a lock, a
 * chain walk and a store into an array; an allocation happens only when a
 * bucket opens or its sample array grows. tlat_flush takes each shard's lock
 * just long enough to unlink what is due; sorting and the callback run with
 * no tlat lock held. The number of open groups is one atomic counter.
 *
 * Memory is bounded. A bucket keeps its first TLAT_EXACT_MAX samples
 * exactly; after that it keeps a uniform sample of them (reservoir sampling,
 * Algorithm R) drawn with a per-bucket xorshift generator seeded from the
 * group's hash and bucket_ms, so the same input in the same order gives the
 * same row on every run. count, mean, min and max are always exact;
 * percentiles are exact while count <= TLAT_EXACT_MAX. At most
 * TLAT_GROUPS_MAX groups have an open bucket at once (a new group past that
 * gets TLAT_FULL), so open buckets hold at most TLAT_GROUPS_MAX *
 * TLAT_EXACT_MAX * 8 bytes (128 MiB, reached only by 4096 busy groups).
 * Closed buckets waiting for the next flush are not capped by count: each
 * group closes at most one per TLAT_BUCKET_MS, and the server flushes far
 * more often than that.
 *
 * Time. Nothing here reads a clock: `now_ms` (Unix epoch ms) is passed in.
 * A sample stamped in an older window than its group's open bucket (the
 * clock stepped back) goes into the open bucket: the bucket never reopens
 * in the past. The same (group, bucket_ms) can still be handed over twice if
 * the clock steps back across a flush, or if an add that read the clock just
 * before a window's end loses the race to a flush that read it just after
 * (the flusher can pass now minus a second of grace to make that rare); a
 * consumer that upserts should merge (counts add; min/max combine; mean is
 * count-weighted).
 */
#ifndef VIGIL_TLAT_H
#define VIGIL_TLAT_H

#include "core/hb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLAT_BUCKET_MS 30000 /* ms: one bucket's window, aligned to the epoch */
#define TLAT_EXACT_MAX 4096  /* samples kept exactly per (group, bucket); then a reservoir */
#define TLAT_GROUPS_MAX 4096 /* groups with an open bucket at once */
#define TLAT_MS_MAX 1e9      /* ms: largest duration accepted (11.6 days) */
#define TLAT_SHARDS 64       /* power of two: lock stripes */

enum { TLAT_OK = 0, TLAT_BAD = -1, TLAT_FULL = -2, TLAT_NOMEM = -3 };

typedef struct tlat tlat;

/* One closed (group, bucket). Percentiles and mean are 0 when count is 0. */
typedef struct tlat_row {
    char group[HB_ID_MAX + 1]; /* "" = no group */
    int64_t bucket_ms;         /* start of the window, a multiple of TLAT_BUCKET_MS */
    uint64_t count;
    double mean_ms, min_ms, max_ms;
    double p50_ms, p90_ms, p95_ms, p99_ms;
} tlat_row;

/* NULL when out of memory. */
tlat *tlat_new(void);

/* Frees everything, including buckets never flushed. NULL is a no-op. */
void tlat_free(tlat *t);

/* Record one duration `ms` for `group` (NULL or "" = no group; at most
 * HB_ID_MAX bytes; the caller has validated its characters) at now_ms.
 * TLAT_OK; TLAT_BAD for a NaN, negative or > TLAT_MS_MAX duration or a too
 * long group; TLAT_FULL when the group has no open bucket and
 * TLAT_GROUPS_MAX others do; TLAT_NOMEM. Thread-safe. */
int tlat_add(tlat *t, const char *group, int64_t now_ms, double ms);

/* Record n durations for one group under one lock (POST /v1/tasks). Either
 * all are recorded or none: any bad value gives TLAT_BAD before anything is
 * added. Same results as tlat_add otherwise (n == 0 is TLAT_OK and creates
 * nothing). */
int tlat_add_many(tlat *t, const char *group, int64_t now_ms, const double *ms, size_t n);

/* Receives one row; returns 0 when it took it. Non-zero means "not now" (a
 * full write queue): the bucket that row came from, and every bucket this
 * flush has not handed over yet, stay queued for the next flush. */
typedef int (*tlat_row_fn)(void *ctx, const tlat_row *row);

/* Hand over, and forget, every bucket that has closed by now_ms
 * (bucket_ms + TLAT_BUCKET_MS <= now_ms, or closed early by a later sample),
 * or every bucket when `all` (shutdown). Rows come in no particular order.
 * `cb` runs with no tlat lock held, so it may call tlat_add. Returns the
 * number of rows cb took. Safe alongside tlat_add and other flushes (each
 * bucket goes to exactly one of them); one timer thread is the usual
 * caller, plus a final `all` at shutdown. */
size_t tlat_flush(tlat *t, int64_t now_ms, bool all, tlat_row_fn cb, void *ctx);

/* Summarise samples[0..n_kept) (sorted in place) of a bucket that saw
 * `count` samples in all, with the exact sum, min and max, into out's
 * statistics (group and bucket_ms are left alone). Percentiles are nearest
 * rank over the kept samples. Used by tlat_flush; exported for tests and for
 * merging two rows' samples. */
void tlat_summarise(double *samples, size_t n_kept, uint64_t count, double sum, double min,
                    double max, tlat_row *out);

/* The bucket a time falls in: floor(now_ms / TLAT_BUCKET_MS) * TLAT_BUCKET_MS
 * (floor, also for times before the epoch). */
int64_t tlat_bucket_of(int64_t now_ms);

/* Summaries of the open buckets (group NULL = every group) without closing
 * them: the current 30 s so far, for readers that must not wait for the
 * close. cb runs with no lock held; its return value is only counted.
 * Returns rows cb took (returned 0 for). */
size_t tlat_peek(tlat *t, const char *group, tlat_row_fn cb, void *ctx);

/* Groups with an open bucket right now (for /metrics). */
size_t tlat_open_groups(tlat *t);

#endif
