/*
 * hubw: what a node tells its hub, and when: the summary window and the
 * push schedule. Pure: the clock and the random source are arguments.
 *
 * The node keeps counters that only grow (sessions closed by reason,
 * heartbeats accepted, tasks per group). A summary carries the *difference*
 * between the counters now and the counters at the last summary the hub
 * took, over the window [from_ms, to_ms). The window advances only when the
 * hub answered 2xx (hubw_commit), and then only to what that summary held:
 * what happened while it was in flight goes into the next one. A push that
 * failed leaves the window where it was, so the next one covers both spans.
 *
 * Counted twice? A hub that stored a summary but whose answer was lost gets
 * the same from_ms again with a later to_ms and larger counts. The hub
 * keys windows by (node, run, from_ms) and replaces, so the wider window
 * supersedes the narrower one: nothing is counted twice. Lost? Only what a
 * node had not yet handed over when it died (its counters live in memory);
 * a clean stop pushes once more before it exits.
 *
 * Schedule: after a success, the next push is one interval away with ±15 %
 * jitter, so nodes started together drift apart instead of hitting the hub
 * in step. After n failures in a row it is 1 s · 2^(n-1), capped at 60 s,
 * with the same jitter, but never below 1 s.
 */
#ifndef VIGIL_HUBW_H
#define VIGIL_HUBW_H

#include "core/hb.h"
#include "core/reg.h"

#include <stddef.h>
#include <stdint.h>

#define HUBW_INTERVAL_MS 60000    /* ms: default push interval */
#define HUBW_JITTER_PCT 15        /* ± percent of the delay */
#define HUBW_BACKOFF_MIN_MS 1000  /* ms: first retry after a failure */
#define HUBW_BACKOFF_MAX_MS 60000 /* ms: retries never wait longer (before jitter) */
#define HUBW_GROUPS_MAX 256       /* task groups counted apart; the rest as one "*" */

/* Tasks of one group: how many, and their durations added up. */
typedef struct hubw_task {
    char group[HB_ID_MAX + 1]; /* "" = no group, "*" = groups past HUBW_GROUPS_MAX */
    uint64_t count;
    double sum_ms;
} hubw_task;

/* The node's counters, all since its start; they only grow. */
typedef struct hubw_counts {
    uint64_t closed[REG_R__COUNT]; /* sessions closed, by reason ([REG_R_NONE] unused) */
    uint64_t accepted;             /* heartbeats accepted */
    uint64_t rejected;             /* heartbeats refused */
    size_t ntasks;
    hubw_task tasks[HUBW_GROUPS_MAX + 1]; /* +1: "*" */
} hubw_counts;

/* Add a group's tasks (count, summed ms) to c. */
void hubw_task_add(hubw_counts *c, const char *group, uint64_t count, double sum_ms);

/* Where the window stands: its start and the counters at that start. */
typedef struct hubw {
    int64_t from_ms;
    hubw_counts base;
    uint64_t sent; /* summaries the hub took */
} hubw;

/* One summary's window and what happened in it. */
typedef struct hubw_window {
    int64_t from_ms, to_ms;
    hubw_counts delta; /* now minus base; tasks of groups with nothing new left out */
    hubw_counts upto;  /* the counters at to_ms (what commit moves the base to) */
} hubw_window;

/* A window that starts at from_ms with every counter at zero. */
void hubw_init(hubw *w, int64_t from_ms);

/* The window from w's start to to_ms given the counters now. A counter
 * found smaller than its base (never expected) counts as no change. */
void hubw_take(const hubw *w, const hubw_counts *now, int64_t to_ms, hubw_window *out);

/* The hub took out: the next window starts where it ended. */
void hubw_commit(hubw *w, const hubw_window *out);

/* ms until the next push: `failures` in a row so far (0: the last one
 * succeeded, or none was tried), interval_ms the configured period, rnd any
 * 32-bit random number (the jitter). */
int64_t hubw_delay_ms(int64_t interval_ms, int failures, uint32_t rnd);

#endif
