/*
 * ds: fixed-slice downsampling by mean (ds.h).
 *
 * A sample's slice is (ts - from) / step: integer arithmetic on epoch
 * milliseconds, so slice edges are exact and a sample at from + k * step
 * starts slice k. The step is computed without forming (span + points - 1),
 * which would overflow for a range near the int64 limits.
 */
#include "core/ds.h"

#include <string.h>

int64_t ds_step(int64_t from, int64_t to, int points)
{
    if (from >= to || points < 1 || points > DS_POINTS_MAX) return 0;
    /* to - from can itself overflow when from is negative enough: unsigned,
     * and a span no int64 holds is refused. */
    uint64_t span = (uint64_t)to - (uint64_t)from, p = (uint64_t)points;
    if (span > (uint64_t)INT64_MAX) return 0;
    return (int64_t)(span / p + (span % p != 0));
}

int ds_init(ds_acc *d, int64_t from, int64_t to, int points)
{
    int64_t step = ds_step(from, to, points);
    if (step == 0) return -1;
    uint64_t span = (uint64_t)to - (uint64_t)from;
    d->from = from;
    d->to = to;
    d->step = step;
    /* ceil(span / step) <= points, by the choice of step. */
    d->slices = (int)(span / (uint64_t)step + (span % (uint64_t)step != 0));
    ds_clear(d);
    return 0;
}

void ds_clear(ds_acc *d)
{
    memset(d->sum, 0, sizeof d->sum);
    memset(d->count, 0, sizeof d->count);
}

void ds_add(ds_acc *d, int64_t ts_ms, double value)
{
    if (ts_ms < d->from || ts_ms >= d->to) return;
    uint64_t k = ((uint64_t)ts_ms - (uint64_t)d->from) / (uint64_t)d->step;
    d->sum[k] += value;
    d->count[k]++;
}

size_t ds_out(const ds_acc *d, ds_point *out)
{
    size_t n = 0;
    for (int k = 0; k < d->slices; k++)
        if (d->count[k])
            out[n++] = (ds_point){d->from + (int64_t)k * d->step, d->sum[k] / d->count[k]};
    return n;
}

size_t ds_points(const ds_point *in, size_t n, int64_t from, int64_t to, int points, ds_point *out)
{
    ds_acc d;
    if (ds_init(&d, from, to, points) != 0) return 0;
    for (size_t i = 0; i < n; i++)
        ds_add(&d, in[i].ts_ms, in[i].value);
    return ds_out(&d, out);
}
