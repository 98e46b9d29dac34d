/*
 * rank: the fleet's reliability ranking, in memory, as the last rollup left it.
 *
 * GET /v1/reliability must answer in well under 2 ms at 100,000 workers,
 * which rules out reading and sorting the reliability table per request. The
 * rollup builds a rank once (rank_add for every worker, then rank_seal,
 * which sorts) and the server swaps it in whole; requests then walk the
 * sorted order and stop at `limit`, filtering as they go. A rank is
 * immutable once sealed except for rank_forget (a tombstone flag), so many
 * readers can share it under a read lock.
 *
 * Each worker keeps its Kaplan–Meier curve, so `stays_for=6h` can ask any
 * horizon at query time without touching the store. Pure: no I/O, no clock.
 */
#ifndef VIGIL_RANK_H
#define VIGIL_RANK_H

#include "core/rel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RANK_DIST_BINS 10 /* histogram bins over [0,1] in fleet distributions */

typedef struct rank rank;

/* One worker's row. Strings live in the rank. */
typedef struct rank_entry {
    const char *worker_id, *group;
    rel_features f;
    uint32_t km_off, nkm; /* its curve: steps [km_off, km_off + nkm) */
    bool gone;            /* forgotten since the rollup */
} rank_entry;

/* A new, empty rank for a rollup computed at computed_ms over window_ms. */
rank *rank_new(int64_t computed_ms, int64_t window_ms);
void rank_free(rank *r);

/* Make room for n workers and nkm curve steps in all (a hint: the last
 * rollup's size), so building a rank does not copy it while it grows. 0 or -1. */
int rank_reserve(rank *r, size_t n, size_t nkm);

/* Add a worker (before rank_seal). 0, or -1 out of memory. */
int rank_add(rank *r, const char *worker_id, const char *group, const rel_features *f,
             const rel_km_step *km, size_t nkm);

/* Sort into API order (score desc, uptime desc, worker_id asc) and index by
 * id. 0, or -1 out of memory. */
int rank_seal(rank *r);

int64_t rank_computed_ms(const rank *r);
int64_t rank_window_ms(const rank *r);
size_t rank_size(const rank *r);
size_t rank_steps(const rank *r); /* curve steps held, all workers */

/* The i-th entry in rank order (i < rank_size). */
const rank_entry *rank_at(const rank *r, size_t i);
/* The i-th entry in worker_id order (i < rank_size): key order for bulk writes. */
const rank_entry *rank_at_id(const rank *r, size_t i);
/* The curve of an entry. */
const rel_km_step *rank_km(const rank *r, const rank_entry *e);
/* P(session >= h_s) for this entry (Kaplan–Meier, rel_p_stays). */
double rank_p_stays(const rank *r, const rank_entry *e, double h_s);

/* Lookup by id (after rank_seal); NULL when absent or forgotten. */
const rank_entry *rank_find(const rank *r, const char *worker_id);
/* Flag a worker as forgotten: later queries skip it. Returns whether it was there. */
bool rank_forget(rank *r, const char *worker_id);

/* A query of GET /v1/reliability. Zero fields mean "no filter"; max_score 0
 * means unbounded (the API's rule); stays_for_s > 0 computes p_stays for
 * that horizon (and min_p_stays filters on it). */
typedef struct rank_query {
    const char *group;
    double min_uptime, min_stays_4h, min_score, max_score;
    double stays_for_s, min_p_stays;
    size_t limit; /* 0 = all */
} rank_query;

/* Walk matching entries in rank order: cb(ctx, entry, p_stays) for the first
 * `limit` (p_stays NAN without stays_for). *total counts every match.
 * Returns entries handed to cb. */
size_t rank_query_run(const rank *r, const rank_query *q, size_t *total,
                      int (*cb)(void *ctx, const rank_entry *e, double p_stays), void *ctx);

/* Distribution of uptime_pct and liveness_score over a group (NULL: all). */
typedef struct rank_dist {
    size_t n;
    double uptime_mean, score_mean;
    double uptime_p[5], score_p[5]; /* p10, p25, p50, p75, p90 (nearest rank) */
    uint32_t uptime_hist[RANK_DIST_BINS], score_hist[RANK_DIST_BINS]; /* [k/10, (k+1)/10) */
} rank_dist;

/* 0, or -1 out of memory. */
int rank_distribution(const rank *r, const char *group, rank_dist *out);

#endif
