/*
 * hist: lock-free fixed-bucket histogram (mechanism in hist.h).
 */
#include "core/hist.h"

#include <math.h>
#include <string.h>

int hist_init(hist *h, const double *le, size_t n)
{
    if (n > HIST_MAX_BOUNDS) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(le[i]) || (i && !(le[i] > le[i - 1]))) return -1;
    h->n = n;
    memcpy(h->le, le, n * sizeof *le);
    for (size_t i = 0; i <= HIST_MAX_BOUNDS; i++)
        atomic_init(&h->bucket[i], 0);
    atomic_init(&h->sum, 0.0);
    return 0;
}

void hist_observe(hist *h, double v)
{
    if (isnan(v)) return;
    /* Binary search for the first bound >= v; n when none (+Inf). */
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->le[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->bucket[lo], 1, memory_order_relaxed);
    double old = atomic_load_explicit(&h->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum, &old, old + v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void hist_read(hist *h, hist_snap *out)
{
    memset(out, 0, sizeof *out);
    out->n = h->n;
    memcpy(out->le, h->le, h->n * sizeof *h->le);
    uint64_t run = 0;
    for (size_t i = 0; i <= h->n; i++) {
        run += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        out->cum[i] = run;
    }
    out->count = run;
    out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
}
