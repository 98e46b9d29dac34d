/*
 * ds: downsampling a time series for a chart.
 *
 * A range [from, to) is cut into at most `points` equal slices of
 * step = ceil((to - from) / points) ms (the last one may be shorter, and
 * fewer slices are needed when the division is not exact); each slice that
 * holds samples becomes one point: [slice start, mean of its values]. A
 * slice without samples gives no point, so a chart shows a gap there, not a
 * zero that never happened.
 *
 * Sums and counts are kept per slice (an accumulator of DS_POINTS_MAX
 * slots), so a series is folded as the store streams it, however many raw
 * samples it has: memory is fixed, one pass, no copy of the rows. ds_points
 * does the same over an array. Pure functions: no clock, no I/O.
 */
#ifndef VIGIL_DS_H
#define VIGIL_DS_H

#include <stddef.h>
#include <stdint.h>

#define DS_POINTS_MAX 200 /* slices of one range, at most */

typedef struct ds_point {
    int64_t ts_ms;
    double value;
} ds_point;

/* The slice width for `points` slices over [from, to): ceil((to - from) /
 * points) ms. 0 when the range is empty (from >= to) or wider than
 * INT64_MAX ms, or points is not in 1..DS_POINTS_MAX. */
int64_t ds_step(int64_t from, int64_t to, int points);

typedef struct ds_acc {
    int64_t from, to, step;
    int slices; /* slices that [from, to) needs at this step (<= points) */
    double sum[DS_POINTS_MAX];
    uint32_t count[DS_POINTS_MAX];
} ds_acc;

/* Start an empty accumulator for [from, to) in `points` slices. 0, or -1
 * (d untouched) when ds_step would be 0. */
int ds_init(ds_acc *d, int64_t from, int64_t to, int points);
/* Add one sample; outside [from, to) it is ignored. Any order. */
void ds_add(ds_acc *d, int64_t ts_ms, double value);
/* The non-empty slices, oldest first, into out (room for DS_POINTS_MAX);
 * returns how many. The accumulator is left as it was. */
size_t ds_out(const ds_acc *d, ds_point *out);
/* Empty every slice again (same range): the next series. */
void ds_clear(ds_acc *d);

/* The whole thing over in[0..n) (sorted by ts_ms, as the store returns a
 * series; samples outside [from, to) are ignored): points into out (room
 * for DS_POINTS_MAX), returns how many; 0 also for bad arguments (see
 * ds_step). */
size_t ds_points(const ds_point *in, size_t n, int64_t from, int64_t to, int points, ds_point *out);

#endif
