/*
 * rel: one worker's reliability features from its sessions (DESIGN §6).
 *
 * The 5-minute rollup hands us every session of one worker that touches the
 * window, the gaps in vigild's own watch (from node_runs) and `now`, and we
 * answer: how much of the time we watched was it up (the union of its
 * sessions over the observed time), how long do its sessions last (nearest
 * rank percentiles, and a Kaplan–Meier survival curve that counts sessions
 * still running, or whose end nobody saw, as right-censored rather than
 * dropping or misreading them), when did it last fail, and one liveness
 * score in [0,1] that mixes all of these.
 *
 * Pure functions: no I/O, no clock, no globals. The only memory is a
 * caller-owned workspace (rel_work) that grows to the largest worker seen and
 * is then reused, so a rollup over 100,000 workers allocates only a handful of
 * times. Each worker costs O(n log n) in its session count (sorts), plus
 * O(gaps).
 *
 * Times are Unix epoch milliseconds (int64); lengths in the output are
 * seconds (double).
 *
 * Definitions (the contract):
 *
 * - Window W = [now - window_ms, now). A session's interval is [opened, end)
 *   with end = closed_ms, or now while open. Anything past now is clamped to
 *   now (opened, closed, last heartbeat). A session with closed < opened (the
 *   clock went backwards) has length 0 and contributes no up time. Sessions
 *   may come in any order and may overlap (imports): up time is the UNION of
 *   their intervals.
 *
 * - "In the window" (sessions overlapping W): a session still open, or one
 *   closed at or after W's start (closed_ms >= now - window_ms, after
 *   clamping). For every session of positive length this is exactly "its
 *   interval meets W"; it also keeps zero-length sessions inside W.
 *
 * - Observed = [obs_from, now) minus vigild's gaps, where obs_from = max(W
 *   start, first sighting if known) and, unless the worker has at least one
 *   `imported` session, also >= first_run_ms: time before vigild's first run
 *   is observed only when history was imported, because then another system
 *   watched it. With imported sessions the first sighting is the min of
 *   first_seen_ms (if > 0) and the earliest imported opened_ms.
 *
 * - up_ms = |union(sessions) ∩ observed|, observed_ms = |observed|,
 *   uptime_pct = up / observed (0 when nothing was observed), in [0,1].
 *
 * - sessions_count = sessions in the window. closed_count and reasons[] count
 *   the closed ones in the window (a closed session with a reason outside the
 *   enum counts under REG_R_NONE). failures = those ending FAILED, TIMEOUT,
 *   RESTARTED or EVICTED. CLEAN_SHUTDOWN is not a failure; MONITOR_GAP is not
 *   either: nobody saw it end, vigild was down.
 *
 * - mtbf_s = up_ms / 1000 / failures; with no failure, up_ms / 1000.
 *
 * - p10/p50/p90_session_s: nearest rank over the lengths (full length, not
 *   clipped to W) of the closed sessions in the window: the rank-th smallest,
 *   rank = ceil(p/100 * n), 1-based. NAN when there is none.
 *
 * - Kaplan–Meier of session length over the sessions in the window, full
 *   lengths, not clipped to W. A closed session is an event at its length,
 *   except MONITOR_GAP, censored at last_hb_ms - opened_ms (clamped to [0,
 *   length]); an open one is censored at now - opened. Ties: events at t
 *   before censorings at t (a session censored at t was still at risk at t).
 *   One step per distinct event time: S(t) = prod over t_i <= t of
 *   (1 - d_i / n_i). P(T >= h) = S just before h = the product over event
 *   times t_i < h (1 if none); for h > km_t_max_s it is 0 (Efron's tail: no
 *   evidence that anything lasts longer than the longest observation); with
 *   an empty sample it is 0.
 *
 * - last_disconnect_ms, last_failure_ms (a failure as above), last_session_s
 *   are over all sessions given, not only the window.
 *
 * - liveness_score (rel_score): see REL_W_* below; exactly 0 for a worker
 *   without sessions in the window.
 */
#ifndef VIGIL_REL_H
#define VIGIL_REL_H

#include "core/reg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REL_WINDOW_DEFAULT_MS (14LL * 86400 * 1000) /* also used when window_ms <= 0 */
#define REL_PENALTY_MS (24LL * 3600 * 1000)         /* recency penalty decays to 0 over this */
#define REL_H4_S (4 * 3600.0)                       /* p_stays_4h horizon, seconds */
#define REL_H8_S (8 * 3600.0)                       /* p_stays_8h horizon, seconds */

/* liveness_score = W_UPTIME * uptime_pct + W_STAYS_4H * p_stays_4h
 *                + W_STAYS_8H * p_stays_8h
 *                + W_MTBF * sigmoid((mtbf_s - MTBF_MID_S) / MTBF_SCALE_S)
 *                - W_PENALTY * penalty,
 * penalty = 1 - (now - last_failure_ms) / REL_PENALTY_MS clamped to [0,1]
 * (0 without a failure), then the whole clamped to [0,1].
 * sigmoid(x) = 1 / (1 + e^-x). The positive weights sum to 1. */
#define REL_W_UPTIME 0.35
#define REL_W_STAYS_4H 0.25
#define REL_W_STAYS_8H 0.15
#define REL_W_MTBF 0.25
#define REL_W_PENALTY 0.10
#define REL_MTBF_MID_S 14400.0  /* seconds: an MTBF of 4 h scores half its weight */
#define REL_MTBF_SCALE_S 3600.0 /* seconds per unit of the sigmoid's argument */

typedef struct rel_session {
    int64_t opened_ms;
    int64_t closed_ms;  /* 0 = still open */
    int64_t last_hb_ms; /* last heartbeat seen in it (monitor_gap censoring) */
    uint8_t reason;     /* reg_reason; REG_R_NONE while open */
    bool imported;      /* came from POST /v1/import/sessions (another system watched it) */
} rel_session;

/* A vigild run (node_runs); ended = stopped or last alive. The caller passes
 * the current run with ended = now. */
typedef struct rel_run {
    int64_t started_ms, ended_ms;
} rel_run;

/* vigild was down in [from, to). */
typedef struct rel_gap {
    int64_t from_ms, to_ms;
} rel_gap;

/* From all runs (any order, any node, may overlap): the gaps between them,
 * sorted, disjoint and not touching, and the first run's start (0 when
 * n == 0). A run with ended < started counts as the instant it started.
 * Time after the last run is not a gap (the caller's current run ends at
 * now). Returns the number of gaps written; `out` has room for n and must
 * not overlap `runs` (the runs are sorted in it, in place: no workspace).
 * O(n log n); once per rollup, not per worker. */
size_t rel_gaps_from_runs(const rel_run *runs, size_t n, rel_gap *out, int64_t *first_run_ms);

typedef struct rel_input {
    const rel_session *s; /* any order; not modified (copied into the workspace to sort) */
    size_t n;
    int64_t now_ms, window_ms; /* window = [now - window_ms, now); <= 0: REL_WINDOW_DEFAULT_MS */
    int64_t first_seen_ms;     /* worker's first sighting; 0 = unknown */
    int64_t first_run_ms;      /* start of vigild's first run; 0 = unknown */
    const rel_gap *gaps;       /* sorted, disjoint (rel_gaps_from_runs) */
    size_t ngaps;
} rel_input;

/* S just after an event at t_s (seconds). */
typedef struct rel_km_step {
    double t_s;
    double s;
} rel_km_step;

typedef struct rel_features {
    double uptime_pct; /* fraction 0..1 (the name is the DESIGN's); 0 when nothing observed */
    int64_t up_ms, observed_ms;
    uint32_t sessions_count; /* sessions in the window */
    uint32_t closed_count, failures;
    double mtbf_s;
    double p10_session_s, p50_session_s, p90_session_s; /* NAN when no closed session */
    double p_stays_4h, p_stays_8h;
    uint32_t reasons[REG_R__COUNT]; /* closed sessions in the window by reason */
    int64_t last_disconnect_ms;     /* newest closed_ms of any reason; 0 = none */
    int64_t last_failure_ms;        /* newest closed_ms of a failure; 0 = none */
    double last_session_s; /* newest closed session's length (ties: later opened); NAN = none */
    double km_t_max_s;     /* largest length (event or censored) in the KM sample; NAN = empty */
    double score;          /* liveness_score at now_ms */
} rel_features;

/* Workspace: grows to the largest worker, reused across calls. One per thread. */
typedef struct rel_work rel_work;
rel_work *rel_work_new(void); /* NULL when out of memory */
void rel_work_free(rel_work *w);

/* Compute every feature for one worker. *steps / *nsteps (either may be
 * NULL) receive the Kaplan–Meier curve, valid until the next call on w.
 * Deterministic: the same sessions in any order give bit-identical results.
 * 0 ok, -1 out of memory (then *out holds no meaningful values). */
int rel_compute(const rel_input *in, rel_work *w, rel_features *out, const rel_km_step **steps,
                size_t *nsteps);

/* P(session length >= h_s) from a curve: the S of the last step before h_s
 * (1 if none), 0 when h_s > t_max_s or the sample was empty (t_max_s NAN or
 * negative). O(log n). NAN when h_s is NAN. */
double rel_p_stays(const rel_km_step *steps, size_t n, double t_max_s, double h_s);

/* liveness_score from features at now_ms, so a caller can re-evaluate the
 * recency penalty later without the sessions (only the penalty uses now). */
double rel_score(const rel_features *f, int64_t now_ms);

/* 7x24 hourly availability (UTC day of week 0 = Monday .. 6 = Sunday x hour
 * 0..23): up / observed within that cell over the window, with up and
 * observed as in rel_compute and split at UTC hour boundaries; NAN where
 * nothing was observed. 0 ok, -1 out of memory. */
int rel_hourly(const rel_input *in, rel_work *w, double out[7][24]);

#endif
