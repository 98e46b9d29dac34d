/*
 * rel: reliability features of one worker. The work is a few sorted sweeps:
 *
 *   sessions -> normalised intervals -> sorted, merged: the union (up time)
 *   [obs_from, now) minus gaps       -> observed segments
 *   union ∩ observed (two pointers)  -> up_ms, or per hour cell (rel_hourly)
 *   closed lengths, quickselect      -> nearest rank percentiles
 *   (length, event?) pairs, sorted   -> Kaplan–Meier steps
 *
 * Everything sorted lives in the caller's rel_work, which only grows, and is
 * a pair of int64 ordered by both, with our own introsort and quickselect:
 * qsort would cost a call per comparison and (glibc) a malloc per sort past
 * 1 KiB, and this is the hot loop of the rollup. The keys are complete (ties
 * are indistinguishable), so the input order cannot change any result, not
 * even in the last bit.
 */
#include "core/rel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REL_HOUR_MS (3600LL * 1000)
#define REL_DAY_MS (24 * REL_HOUR_MS)
#define REL_WEEK_MS (7 * REL_DAY_MS)
#define REL_EPOCH_DOW 3 /* 1970-01-01 was a Thursday; 0 = Monday */
#define REL_CELLS (7 * 24)
#define REL_GROW_MIN 16   /* first allocation, elements */
#define REL_SORT_SMALL 16 /* insertion sort at or below this many elements */

/* The one sorted element: an interval [lo, hi), a KM observation (lo =
 * length ms, hi = 0 event / 1 censored: events sort first) or a closed
 * length (hi = 0). Ordered by lo, then hi. */
typedef struct rel_iv {
    int64_t lo, hi;
} rel_iv;

struct rel_work {
    rel_iv *iv; /* session intervals, then their union */
    size_t iv_cap;
    rel_iv *obs; /* observed segments */
    size_t obs_cap;
    rel_iv *km; /* KM sample */
    size_t km_cap;
    rel_iv *len; /* closed lengths in the window */
    size_t len_cap;
    rel_km_step *steps;
    size_t steps_cap;
};

/* A session reduced to what the features need, after clamping to now. */
typedef struct rel_norm {
    int64_t o, e;   /* interval [o, e), e >= o */
    int64_t closed; /* min(closed_ms, now); 0 while open */
    bool is_closed;
} rel_norm;

/* What rel_compute and rel_hourly share: the union and the observed segments. */
typedef struct rel_prep {
    int64_t now, ws;
    size_t niv, nobs;
} rel_prep;

rel_work *rel_work_new(void)
{
    return calloc(1, sizeof(rel_work));
}

void rel_work_free(rel_work *w)
{
    if (!w) return;
    free(w->iv);
    free(w->obs);
    free(w->km);
    free(w->len);
    free(w->steps);
    free(w);
}

/* Make room for `need` elements of `size` bytes; doubles, so a run of
 * workers settles after O(log max) reallocations. 0 ok, -1 OOM (the old
 * buffer stays valid). */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t n = *cap * 2;
    if (n < need) n = need;
    if (n < REL_GROW_MIN) n = REL_GROW_MIN;
    if (n > SIZE_MAX / size) return -1;
    void *q = realloc(*p, n * size);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Floor division (b > 0), so times before the epoch fall in the right cell. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t window_of(const rel_input *in)
{
    return in->window_ms > 0 ? in->window_ms : REL_WINDOW_DEFAULT_MS;
}

/* Clamp a session to now and to itself: nothing past now, no negative
 * length (a clock that went backwards yields the empty interval at opened). */
static rel_norm normalize(const rel_session *s, int64_t now)
{
    rel_norm r;
    r.o = min64(s->opened_ms, now);
    r.is_closed = s->closed_ms != 0;
    r.closed = r.is_closed ? min64(s->closed_ms, now) : 0;
    r.e = r.is_closed ? max64(r.closed, r.o) : now;
    return r;
}

/* Open, or closed at/after the window start (see the header). */
static bool in_window(const rel_norm *r, int64_t ws)
{
    return !r->is_closed || r->closed >= ws;
}

static bool is_failure(int reason)
{
    return reason == REG_R_FAILED || reason == REG_R_TIMEOUT || reason == REG_R_RESTARTED ||
           reason == REG_R_EVICTED;
}

static int cmp_gap(const void *a, const void *b)
{
    const rel_gap *x = a, *y = b;
    if (x->from_ms != y->from_ms) return x->from_ms < y->from_ms ? -1 : 1;
    if (x->to_ms != y->to_ms) return x->to_ms < y->to_ms ? -1 : 1;
    return 0;
}

static bool iv_less(rel_iv x, rel_iv y)
{
    return x.lo < y.lo || (x.lo == y.lo && x.hi < y.hi);
}

static void iv_swap(rel_iv *a, rel_iv *b)
{
    rel_iv t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(rel_iv *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        rel_iv x = v[i];
        size_t j = i;
        for (; j > 0 && iv_less(x, v[j - 1]); j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static void sift_down(rel_iv *v, size_t root, size_t n)
{
    for (size_t c; (c = 2 * root + 1) < n; root = c) {
        if (c + 1 < n && iv_less(v[c], v[c + 1])) c++;
        if (!iv_less(v[root], v[c])) return;
        iv_swap(&v[root], &v[c]);
    }
}

static void heap_sort(rel_iv *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t i = n; i-- > 1;) {
        iv_swap(&v[0], &v[i]);
        sift_down(v, 0, i);
    }
}

/* Hoare partition around a median of three (n >= 3): returns left with
 * v[0, left) <= v[left, n), both sides non-empty. */
static size_t partition(rel_iv *v, size_t n)
{
    size_t mid = n / 2;
    if (iv_less(v[mid], v[0])) iv_swap(&v[mid], &v[0]);
    if (iv_less(v[n - 1], v[0])) iv_swap(&v[n - 1], &v[0]);
    if (iv_less(v[n - 1], v[mid])) iv_swap(&v[n - 1], &v[mid]);
    rel_iv pivot = v[mid]; /* v[0] <= pivot <= v[n - 1] stop both scans */
    size_t i = 0, j = n - 1;
    for (;;) {
        while (iv_less(v[++i], pivot)) {
        }
        while (iv_less(pivot, v[--j])) {
        }
        if (i >= j) return j + 1;
        iv_swap(&v[i], &v[j]);
    }
}

/* Introsort: quicksort, heapsort past `depth` levels (2 log2 n: so O(n log
 * n) whatever the input), insertion sort for short runs. Recurses into the
 * smaller side only: stack depth <= log2 n. */
static void intro_sort(rel_iv *v, size_t n, int depth)
{
    while (n > REL_SORT_SMALL) {
        if (depth-- == 0) {
            heap_sort(v, n);
            return;
        }
        size_t left = partition(v, n);
        if (left < n - left) {
            intro_sort(v, left, depth);
            v += left;
            n -= left;
        } else {
            intro_sort(v + left, n - left, depth);
            n = left;
        }
    }
    insertion_sort(v, n);
}

static int sort_depth(size_t n)
{
    int depth = 0;
    for (size_t k = n; k > 1; k >>= 1)
        depth += 2;
    return depth;
}

/* Quickselect (k < n): puts the k-th smallest at v[k], nothing larger
 * before it, nothing smaller after. O(n) expected; heapsort past `depth`. */
static void intro_select(rel_iv *v, size_t n, size_t k, int depth)
{
    while (n > REL_SORT_SMALL) {
        if (depth-- == 0) {
            heap_sort(v, n);
            return;
        }
        size_t left = partition(v, n);
        if (k < left) {
            n = left;
        } else {
            v += left;
            n -= left;
            k -= left;
        }
    }
    insertion_sort(v, n);
}

/* Sorted ascending; a linear pass first, because the store hands sessions
 * over ordered by opened, so the intervals usually need no sorting at all. */
static void sort_iv(rel_iv *v, size_t n)
{
    size_t k = 1;
    while (k < n && !iv_less(v[k], v[k - 1]))
        k++;
    if (k < n) intro_sort(v, n, sort_depth(n));
}

size_t rel_gaps_from_runs(const rel_run *runs, size_t n, rel_gap *out, int64_t *first_run_ms)
{
    if (first_run_ms) *first_run_ms = 0;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        out[i].from_ms = runs[i].started_ms;
        out[i].to_ms = max64(runs[i].ended_ms, runs[i].started_ms);
    }
    qsort(out, n, sizeof *out, cmp_gap);
    if (first_run_ms) *first_run_ms = out[0].from_ms;
    /* Sweep the runs by start, keeping the end of the covered stretch; a run
     * starting past it leaves a gap. Gap g is written to out[g] with g < i,
     * i.e. over runs already read. Gaps that touch (around an empty run) are
     * joined: the empty run saw nothing measurable. */
    size_t g = 0;
    int64_t cover = out[0].to_ms;
    for (size_t i = 1; i < n; i++) {
        int64_t from = out[i].from_ms, to = out[i].to_ms;
        if (from > cover) {
            if (g > 0 && out[g - 1].to_ms == cover) {
                out[g - 1].to_ms = from;
            } else {
                out[g].from_ms = cover;
                out[g].to_ms = from;
                g++;
            }
        }
        if (to > cover) cover = to;
    }
    return g;
}

/* Fill w->iv with the union of the session intervals and w->obs with the
 * observed segments (both sorted, disjoint). 0 ok, -1 OOM. */
static int prepare(const rel_input *in, rel_work *w, rel_prep *p)
{
    p->now = in->now_ms;
    p->ws = in->now_ms - window_of(in);
    p->niv = p->nobs = 0;
    if (grow((void **)&w->iv, &w->iv_cap, in->n, sizeof *w->iv) ||
        grow((void **)&w->obs, &w->obs_cap, in->ngaps + 1, sizeof *w->obs))
        return -1;

    bool imported = false;
    int64_t imp_first = 0;
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        rel_norm r = normalize(&in->s[i], p->now);
        if (in->s[i].imported) {
            imp_first = imported ? min64(imp_first, r.o) : r.o;
            imported = true;
        }
        if (r.e > r.o) w->iv[k++] = (rel_iv){r.o, r.e}; /* empty ones add no up time */
    }

    /* Union: sort by start, merge in place. */
    sort_iv(w->iv, k);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && w->iv[i].lo <= w->iv[m - 1].hi)
            w->iv[m - 1].hi = max64(w->iv[m - 1].hi, w->iv[i].hi);
        else
            w->iv[m++] = w->iv[i];
    }
    p->niv = m;

    /* Observed: [obs_from, now) minus the gaps. */
    int64_t first = in->first_seen_ms;
    if (imported) first = first > 0 ? min64(first, imp_first) : imp_first;
    int64_t from = p->ws;
    if (first > 0) from = max64(from, first);
    if (!imported && in->first_run_ms > 0) from = max64(from, in->first_run_ms);
    int64_t cur = from;
    for (size_t i = 0; i < in->ngaps && cur < p->now; i++) {
        const rel_gap *g = &in->gaps[i];
        if (g->to_ms <= cur) continue;
        if (g->from_ms >= p->now) break;
        if (g->from_ms > cur) w->obs[p->nobs++] = (rel_iv){cur, g->from_ms};
        cur = max64(cur, g->to_ms);
    }
    if (cur < p->now) w->obs[p->nobs++] = (rel_iv){cur, p->now};
    return 0;
}

/* Add [a, b) to the 7x24 cells it crosses. Whole weeks add one hour to
 * every cell, so a long segment costs at most a week of hour steps. */
static void spread(int64_t a, int64_t b, int64_t cell[REL_CELLS])
{
    if (b - a >= REL_WEEK_MS) {
        int64_t weeks = (b - a) / REL_WEEK_MS;
        for (int i = 0; i < REL_CELLS; i++)
            cell[i] += weeks * REL_HOUR_MS;
        b -= weeks * REL_WEEK_MS; /* shifting by whole weeks keeps the cells */
    }
    while (a < b) {
        int64_t hour = floordiv(a, REL_HOUR_MS);
        int64_t end = min64(b, (hour + 1) * REL_HOUR_MS);
        int64_t day = floordiv(hour, 24);
        int dow = (int)((day + REL_EPOCH_DOW) % 7);
        if (dow < 0) dow += 7;
        int h = (int)(hour - day * 24);
        cell[dow * 24 + h] += end - a;
        a = end;
    }
}

/* |union ∩ observed|; with `cell`, also spread per hour. Two sorted,
 * disjoint lists walked together. */
static int64_t up_in_observed(const rel_work *w, const rel_prep *p, int64_t *cell)
{
    int64_t up = 0;
    size_t i = 0, j = 0;
    while (i < p->niv && j < p->nobs) {
        int64_t lo = max64(w->iv[i].lo, w->obs[j].lo);
        int64_t hi = min64(w->iv[i].hi, w->obs[j].hi);
        if (lo < hi) {
            up += hi - lo;
            if (cell) spread(lo, hi, cell);
        }
        if (w->iv[i].hi < w->obs[j].hi)
            i++;
        else
            j++;
    }
    return up;
}

/* Nearest rank, 0-based: ceil(pct/100 * n) - 1. Integer arithmetic, so 10 %
 * of 10 is rank 1, not 1.0000000000000002 -> 2. n > 0. */
static size_t nearest_rank(size_t n, unsigned pct)
{
    size_t rank = (pct * n + 99) / 100;
    return rank < 1 ? 0 : rank > n ? n - 1 : rank - 1;
}

/* p10, p50, p90 of the lengths v[0..n) in seconds, by selection rather than
 * sorting (only three ranks are needed): p50 first, then p10 among what lies
 * below it and p90 among what lies above. Reorders v. */
static void percentiles(rel_iv *v, size_t n, rel_features *out)
{
    if (n == 0) return; /* stay NAN */
    size_t r10 = nearest_rank(n, 10), r50 = nearest_rank(n, 50), r90 = nearest_rank(n, 90);
    int depth = sort_depth(n);
    intro_select(v, n, r50, depth);
    if (r10 < r50) intro_select(v, r50, r10, depth);
    if (r90 > r50) intro_select(v + r50 + 1, n - r50 - 1, r90 - r50 - 1, depth);
    out->p10_session_s = (double)v[r10].lo / 1000.0;
    out->p50_session_s = (double)v[r50].lo / 1000.0;
    out->p90_session_s = (double)v[r90].lo / 1000.0;
}

/* Kaplan–Meier over w->km[0..n): steps into w->steps, returns their count. */
static size_t kaplan_meier(rel_work *w, size_t n)
{
    sort_iv(w->km, n); /* by length, events first: a tie group is counted whole anyway */
    size_t at_risk = n, ns = 0;
    double s = 1.0;
    for (size_t i = 0; i < n;) {
        int64_t t = w->km[i].lo;
        size_t d = 0, c = 0;
        for (; i < n && w->km[i].lo == t; i++) {
            if (w->km[i].hi == 0)
                d++;
            else
                c++;
        }
        if (d > 0) {
            s *= 1.0 - (double)d / (double)at_risk;
            w->steps[ns++] = (rel_km_step){(double)t / 1000.0, s};
        }
        at_risk -= d + c;
    }
    return ns;
}

double rel_p_stays(const rel_km_step *steps, size_t n, double t_max_s, double h_s)
{
    if (isnan(h_s)) return NAN;
    if (!(t_max_s >= 0.0)) return 0.0; /* empty sample */
    if (h_s > t_max_s) return 0.0;     /* Efron's tail */
    /* The last step with t < h: binary search for the first with t >= h. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (steps[mid].t_s < h_s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 1.0 : steps[lo - 1].s;
}

double rel_score(const rel_features *f, int64_t now_ms)
{
    if (f->sessions_count == 0) return 0.0;
    double penalty = 0.0;
    if (f->last_failure_ms != 0) {
        penalty = 1.0 - (double)(now_ms - f->last_failure_ms) / (double)REL_PENALTY_MS;
        if (penalty < 0.0) penalty = 0.0;
        if (penalty > 1.0) penalty = 1.0;
    }
    double sig = 1.0 / (1.0 + exp(-(f->mtbf_s - REL_MTBF_MID_S) / REL_MTBF_SCALE_S));
    double v = REL_W_UPTIME * f->uptime_pct + REL_W_STAYS_4H * f->p_stays_4h +
               REL_W_STAYS_8H * f->p_stays_8h + REL_W_MTBF * sig - REL_W_PENALTY * penalty;
    if (!(v > 0.0)) return 0.0; /* also NaN, which valid features never give */
    return v > 1.0 ? 1.0 : v;
}

int rel_compute(const rel_input *in, rel_work *w, rel_features *out, const rel_km_step **steps,
                size_t *nsteps)
{
    memset(out, 0, sizeof *out);
    out->p10_session_s = out->p50_session_s = out->p90_session_s = NAN;
    out->last_session_s = NAN;
    out->km_t_max_s = NAN;
    if (steps) *steps = NULL;
    if (nsteps) *nsteps = 0;

    rel_prep p;
    if (prepare(in, w, &p) || grow((void **)&w->km, &w->km_cap, in->n, sizeof *w->km) ||
        grow((void **)&w->len, &w->len_cap, in->n, sizeof *w->len) ||
        grow((void **)&w->steps, &w->steps_cap, in->n, sizeof *w->steps))
        return -1;

    for (size_t i = 0; i < p.nobs; i++)
        out->observed_ms += w->obs[i].hi - w->obs[i].lo;
    out->up_ms = up_in_observed(w, &p, NULL);
    out->uptime_pct = out->observed_ms > 0 ? (double)out->up_ms / (double)out->observed_ms : 0.0;

    size_t nkm = 0, nlen = 0;
    int64_t last_closed = 0, last_opened = 0;
    bool any_closed = false, any_failure = false;
    for (size_t i = 0; i < in->n; i++) {
        const rel_session *s = &in->s[i];
        rel_norm r = normalize(s, p.now);
        int reason = s->reason < REG_R__COUNT ? s->reason : REG_R_NONE;
        if (r.is_closed) {
            /* Newest by (closed, opened): both decide the length, so a tie
             * on closed cannot make the answer depend on the input order. */
            if (!any_closed || r.closed > last_closed ||
                (r.closed == last_closed && r.o > last_opened)) {
                last_closed = r.closed;
                last_opened = r.o;
                out->last_session_s = (double)(r.e - r.o) / 1000.0;
            }
            any_closed = true;
            out->last_disconnect_ms = last_closed;
            if (is_failure(reason) && (!any_failure || r.closed > out->last_failure_ms)) {
                out->last_failure_ms = r.closed;
                any_failure = true;
            }
        }
        if (!in_window(&r, p.ws)) continue;
        out->sessions_count++;
        /* KM takes full lengths, not clipped to W, on purpose: a session
         * that opened before the window and is still running is the best
         * evidence of staying power we have; clipping would censor it at
         * the window length and understate it. */
        rel_iv *it = &w->km[nkm++];
        if (!r.is_closed) {
            *it = (rel_iv){r.e - r.o, 1}; /* open: censored at its age */
            continue;
        }
        out->closed_count++;
        out->reasons[reason]++;
        if (is_failure(reason)) out->failures++;
        w->len[nlen++] = (rel_iv){r.e - r.o, 0};
        if (reason == REG_R_MONITOR_GAP) {
            /* Nobody saw it end: alive until its last heartbeat, then unknown. */
            int64_t hb = min64(max64(s->last_hb_ms, r.o), r.e);
            *it = (rel_iv){hb - r.o, 1};
        } else {
            *it = (rel_iv){r.e - r.o, 0};
        }
    }

    double up_s = (double)out->up_ms / 1000.0;
    out->mtbf_s = out->failures > 0 ? up_s / (double)out->failures : up_s;

    percentiles(w->len, nlen, out);

    size_t ns = kaplan_meier(w, nkm);
    if (nkm > 0) out->km_t_max_s = (double)w->km[nkm - 1].lo / 1000.0; /* sorted */
    out->p_stays_4h = rel_p_stays(w->steps, ns, out->km_t_max_s, REL_H4_S);
    out->p_stays_8h = rel_p_stays(w->steps, ns, out->km_t_max_s, REL_H8_S);

    out->score = rel_score(out, p.now); /* 0 without sessions in W */
    if (steps) *steps = w->steps;
    if (nsteps) *nsteps = ns;
    return 0;
}

int rel_hourly(const rel_input *in, rel_work *w, double out[7][24])
{
    rel_prep p;
    if (prepare(in, w, &p)) return -1;
    int64_t obs[REL_CELLS] = {0}, up[REL_CELLS] = {0};
    for (size_t i = 0; i < p.nobs; i++)
        spread(w->obs[i].lo, w->obs[i].hi, obs);
    up_in_observed(w, &p, up);
    for (int d = 0; d < 7; d++) {
        for (int h = 0; h < 24; h++) {
            int c = d * 24 + h;
            out[d][h] = obs[c] > 0 ? (double)up[c] / (double)obs[c] : NAN;
        }
    }
    return 0;
}
