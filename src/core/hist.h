/*
 * hist: a fixed-bucket histogram that any thread may add to without a lock,
 * for latencies exported as Prometheus histograms (/metrics).
 *
 * Mechanism. One atomic counter per bucket, not cumulative, so an
 * observation is a bucket search plus one fetch_add (and a compare-and-swap
 * loop on the double sum): the observing thread (the writer) never waits on
 * a reader. A reader folds the buckets into Prometheus' cumulative `le`
 * counts; the total count is the last cumulative value, so count and
 * buckets always agree within one snapshot (the sum may lag them by the
 * observations in flight). Bounds are inclusive upper bounds (`le`), as in
 * Prometheus; above the last one is the implicit +Inf bucket.
 */
#ifndef VIGIL_HIST_H
#define VIGIL_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_MAX_BOUNDS 24 /* finite bucket bounds, at most */

typedef struct hist {
    size_t n;                                          /* finite bounds in le */
    double le[HIST_MAX_BOUNDS];                        /* strictly ascending */
    atomic_uint_least64_t bucket[HIST_MAX_BOUNDS + 1]; /* [i]: le[i-1] < v <= le[i]; [n]: +Inf */
    _Atomic double sum;
} hist;

/* A consistent read of the counts (cumulative, as exposed). */
typedef struct hist_snap {
    size_t n;
    double le[HIST_MAX_BOUNDS];
    uint64_t cum[HIST_MAX_BOUNDS + 1]; /* observations <= le[i]; cum[n] = count */
    uint64_t count;
    double sum;
} hist_snap;

/* n bounds, strictly ascending and finite, n <= HIST_MAX_BOUNDS. 0, or -1
 * (h unchanged). Not thread-safe: before anyone observes. */
int hist_init(hist *h, const double *le, size_t n);
/* Any thread. NaN is ignored (it would poison the sum). */
void hist_observe(hist *h, double v);
/* Any thread. */
void hist_read(hist *h, hist_snap *out);

#endif
