/*
 * rank: see rank.h. Entries sit in one array in insertion order; `order`
 * holds their indices in API order and `by_id` in worker_id order (for
 * rank_find's binary search). Strings go to one arena and curves to one
 * step array, so a rank of 100,000 workers is a handful of allocations and
 * freeing it is instant.
 */
#include "core/rank.h"

#include "core/vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rank {
    int64_t computed_ms, window_ms;
    rank_entry *e;
    size_t n, cap;
    char *arena; /* NUL-terminated strings; entries hold offsets until sealed */
    size_t alen, acap;
    rel_km_step *km;
    size_t nkm, kmcap;
    uint32_t *order, *by_id;
    size_t ngone; /* forgotten since sealing */
    bool sealed;
};

rank *rank_new(int64_t computed_ms, int64_t window_ms)
{
    rank *r = calloc(1, sizeof *r);
    if (r) {
        r->computed_ms = computed_ms;
        r->window_ms = window_ms;
    }
    return r;
}

void rank_free(rank *r)
{
    if (!r) return;
    free(r->e);
    free(r->arena);
    free(r->km);
    free(r->order);
    free(r->by_id);
    free(r);
}

int rank_reserve(rank *r, size_t n, size_t nkm)
{
    void *e = vec_grow(r->e, &r->cap, n, sizeof *r->e, 64);
    if (!e) return -1;
    r->e = e;
    void *km = vec_grow(r->km, &r->kmcap, nkm, sizeof *r->km, 64);
    if (!km) return -1;
    r->km = km;
    /* Strings: an id and a group, ~16 bytes each with their NULs, is typical. */
    void *ar = vec_grow(r->arena, &r->acap, n * 32, 1, 64);
    if (!ar) return -1;
    r->arena = ar;
    return 0;
}

size_t rank_steps(const rank *r)
{
    return r->nkm;
}

/* Offsets are stored in the pointer fields until rank_seal, because the
 * arena may move while it grows. */
static int arena_put(rank *r, const char *s, uintptr_t *off)
{
    size_t len = strlen(s) + 1;
    void *grown = vec_grow(r->arena, &r->acap, r->alen + len, 1, 64);
    if (!grown) return -1;
    r->arena = grown;
    memcpy(r->arena + r->alen, s, len);
    *off = r->alen;
    r->alen += len;
    return 0;
}

int rank_add(rank *r, const char *worker_id, const char *group, const rel_features *f,
             const rel_km_step *km, size_t nkm)
{
    if (r->sealed || r->n >= UINT32_MAX - 1) return -1;
    if (rank_reserve(r, r->n + 1, r->nkm + nkm) != 0) return -1;
    uintptr_t id_off, g_off;
    if (arena_put(r, worker_id, &id_off) != 0 || arena_put(r, group ? group : "", &g_off) != 0)
        return -1;
    rank_entry *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    e->worker_id = (const char *)id_off;
    e->group = (const char *)g_off;
    e->f = *f;
    e->km_off = (uint32_t)r->nkm;
    e->nkm = (uint32_t)nkm;
    if (nkm) memcpy(r->km + r->nkm, km, nkm * sizeof *km);
    r->nkm += nkm;
    return 0;
}

/* qsort has no context argument; sealing happens on the rollup thread only,
 * one rank at a time, so a thread-local pointer carries it. */
static _Thread_local const rank *sort_r;

/* NAN sorts last: a missing figure never outranks a real one. */
static int desc(double a, double b)
{
    if (a != a) return b != b ? 0 : 1;
    if (b != b) return -1;
    return (a < b) - (a > b);
}

static int by_rank(const void *x, const void *y)
{
    const rank_entry *a = &sort_r->e[*(const uint32_t *)x], *b = &sort_r->e[*(const uint32_t *)y];
    int c = desc(a->f.score, b->f.score);
    if (!c) c = desc(a->f.uptime_pct, b->f.uptime_pct);
    return c ? c : strcmp(a->worker_id, b->worker_id);
}

static int by_id(const void *x, const void *y)
{
    const rank_entry *a = &sort_r->e[*(const uint32_t *)x], *b = &sort_r->e[*(const uint32_t *)y];
    return strcmp(a->worker_id, b->worker_id);
}

int rank_seal(rank *r)
{
    if (r->sealed) return 0;
    size_t n = r->n ? r->n : 1;
    r->order = malloc(n * sizeof *r->order);
    r->by_id = malloc(n * sizeof *r->by_id);
    if (!r->order || !r->by_id) return -1;
    for (size_t i = 0; i < r->n; i++) {
        r->e[i].worker_id = r->arena + (uintptr_t)r->e[i].worker_id;
        r->e[i].group = r->arena + (uintptr_t)r->e[i].group;
        r->order[i] = r->by_id[i] = (uint32_t)i;
    }
    sort_r = r;
    qsort(r->order, r->n, sizeof *r->order, by_rank);
    qsort(r->by_id, r->n, sizeof *r->by_id, by_id);
    sort_r = NULL;
    r->sealed = true;
    return 0;
}

int64_t rank_computed_ms(const rank *r)
{
    return r->computed_ms;
}

int64_t rank_window_ms(const rank *r)
{
    return r->window_ms;
}

size_t rank_size(const rank *r)
{
    return r->n;
}

const rank_entry *rank_at(const rank *r, size_t i)
{
    return i < r->n && r->sealed ? &r->e[r->order[i]] : NULL;
}

const rank_entry *rank_at_id(const rank *r, size_t i)
{
    return i < r->n && r->sealed ? &r->e[r->by_id[i]] : NULL;
}

const rel_km_step *rank_km(const rank *r, const rank_entry *e)
{
    return r->km + e->km_off;
}

double rank_p_stays(const rank *r, const rank_entry *e, double h_s)
{
    if (e->f.sessions_count == 0) return 0;
    return rel_p_stays(rank_km(r, e), e->nkm, e->f.km_t_max_s, h_s);
}

static rank_entry *find(const rank *r, const char *worker_id)
{
    if (!r->sealed) return NULL;
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        rank_entry *e = &r->e[r->by_id[mid]];
        int c = strcmp(e->worker_id, worker_id);
        if (c == 0) return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const rank_entry *rank_find(const rank *r, const char *worker_id)
{
    const rank_entry *e = find(r, worker_id);
    return e && !e->gone ? e : NULL;
}

bool rank_forget(rank *r, const char *worker_id)
{
    rank_entry *e = find(r, worker_id);
    if (!e || e->gone) return false;
    e->gone = true;
    r->ngone++;
    return true;
}

static bool matches(const rank *r, const rank_query *q, const rank_entry *e, double *p)
{
    const rel_features *f = &e->f;
    if (e->gone || (q->group && strcmp(q->group, e->group) != 0)) return false;
    /* Written so a NAN figure fails any bound set on it: a missing figure
     * never passes for a good one. */
    if ((q->min_uptime > 0 && !(f->uptime_pct >= q->min_uptime)) ||
        (q->min_stays_4h > 0 && !(f->p_stays_4h >= q->min_stays_4h)) ||
        (q->min_score > 0 && !(f->score >= q->min_score)) ||
        (q->max_score > 0 && !(f->score <= q->max_score)))
        return false;
    *p = NAN;
    if (q->stays_for_s > 0) {
        *p = rank_p_stays(r, e, q->stays_for_s);
        if (q->min_p_stays > 0 && !(*p >= q->min_p_stays)) return false;
    }
    return true;
}

size_t rank_query_run(const rank *r, const rank_query *q, size_t *total,
                      int (*cb)(void *ctx, const rank_entry *e, double p_stays), void *ctx)
{
    size_t given = 0, all = 0;
    bool stopped = false;
    /* No filter: every live entry matches, so the walk can stop at `limit`
     * and the total is known (the common "top N" query costs O(limit)). */
    if (!q->group && q->min_uptime <= 0 && q->min_stays_4h <= 0 && q->min_score <= 0 &&
        q->max_score <= 0 && q->stays_for_s <= 0 && q->limit) {
        for (size_t i = 0; r->sealed && i < r->n && given < q->limit && !stopped; i++) {
            const rank_entry *e = &r->e[r->order[i]];
            if (e->gone) continue;
            given++;
            stopped = cb(ctx, e, NAN) != 0;
        }
        if (total) *total = r->sealed ? r->n - r->ngone : 0;
        return given;
    }
    for (size_t i = 0; r->sealed && i < r->n; i++) {
        const rank_entry *e = &r->e[r->order[i]];
        double p;
        if (!matches(r, q, e, &p)) continue;
        all++;
        if (stopped || (q->limit && given >= q->limit)) continue;
        given++;
        if (cb(ctx, e, p) != 0) stopped = true;
    }
    if (total) *total = all;
    return given;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Nearest rank over sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
    if (!n) return NAN;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return v[k ? k - 1 : 0];
}

static unsigned bin_of(double x)
{
    if (x != x) return 0; /* NAN: cannot happen (rel_score), but must not be UB */
    int b = (int)floor(x * RANK_DIST_BINS);
    return (unsigned)(b < 0 ? 0 : b >= RANK_DIST_BINS ? RANK_DIST_BINS - 1 : b);
}

int rank_distribution(const rank *r, const char *group, rank_dist *out)
{
    static const double ps[5] = {10, 25, 50, 75, 90};
    memset(out, 0, sizeof *out);
    double *u = malloc((r->n ? r->n : 1) * sizeof *u), *s = malloc((r->n ? r->n : 1) * sizeof *s);
    if (!u || !s) {
        free(u);
        free(s);
        return -1;
    }
    size_t n = 0;
    double su = 0, ss = 0;
    for (size_t i = 0; i < r->n; i++) {
        const rank_entry *e = &r->e[i];
        if (e->gone || (group && strcmp(group, e->group) != 0)) continue;
        u[n] = e->f.uptime_pct;
        s[n] = e->f.score;
        su += u[n];
        ss += s[n];
        out->uptime_hist[bin_of(u[n])]++;
        out->score_hist[bin_of(s[n])]++;
        n++;
    }
    qsort(u, n, sizeof *u, cmp_double);
    qsort(s, n, sizeof *s, cmp_double);
    out->n = n;
    out->uptime_mean = n ? su / (double)n : NAN;
    out->score_mean = n ? ss / (double)n : NAN;
    for (int k = 0; k < 5; k++) {
        out->uptime_p[k] = pct(u, n, ps[k]);
        out->score_p[k] = pct(s, n, ps[k]);
    }
    free(u);
    free(s);
    return 0;
}
