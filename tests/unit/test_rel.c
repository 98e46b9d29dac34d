/* Unit tests for the reliability features: hand-computed cases, then a
 * seeded property test against brute-force oracles. Pure numbers, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SEC 1000LL
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define T0 1700000000000LL  /* 2023-11-14 22:13:20 UTC */
#define MON 1704067200000LL /* 2024-01-01 00:00 UTC, a Monday */

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps))) {                                                           \
            print_error("%s = %.15g, want %.15g (±%g)\n", #a, a_, b_, (double)(eps));              \
            fail();                                                                                \
        }                                                                                          \
    } while (0)
#define EPS 1e-12

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static rel_session closed(int64_t o, int64_t c, int reason)
{
    return (rel_session){
        .opened_ms = o, .closed_ms = c, .last_hb_ms = c, .reason = (uint8_t)reason};
}

static rel_session open_at(int64_t o)
{
    return (rel_session){.opened_ms = o, .last_hb_ms = o};
}

static rel_input input(const rel_session *s, size_t n, int64_t now, int64_t first_seen,
                       int64_t first_run)
{
    return (rel_input){.s = s,
                       .n = n,
                       .now_ms = now,
                       .window_ms = REL_WINDOW_DEFAULT_MS,
                       .first_seen_ms = first_seen,
                       .first_run_ms = first_run};
}

/* rel_compute into *f; returns the number of KM steps (into *st). */
static size_t compute(const rel_input *in, rel_features *f, const rel_km_step **st)
{
    rel_work *w = rel_work_new();
    assert_non_null(w);
    const rel_km_step *steps;
    size_t ns;
    assert_int_equal(rel_compute(in, w, f, &steps, &ns), 0);
    static rel_km_step copy[64];
    assert_true(ns <= 64);
    if (ns) memcpy(copy, steps, ns * sizeof *steps);
    if (st) *st = copy;
    rel_work_free(w);
    return ns;
}

static double stays(const rel_km_step *st, size_t ns, const rel_features *f, double h_s)
{
    return rel_p_stays(st, ns, f->km_t_max_s, h_s);
}

static void test_no_sessions(void **state)
{
    (void)state;
    rel_input in = input(NULL, 0, T0, T0 - 5 * HOUR, T0 - 10 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_true(f.score == 0.0);
    assert_int_equal(ns, 0);
    assert_int_equal(f.up_ms, 0);
    assert_int_equal(f.observed_ms, 5 * HOUR);
    assert_true(f.uptime_pct == 0.0);
    assert_int_equal(f.sessions_count, 0);
    assert_int_equal(f.closed_count, 0);
    assert_int_equal(f.failures, 0);
    assert_true(f.mtbf_s == 0.0);
    assert_true(isnan(f.p10_session_s) && isnan(f.p50_session_s) && isnan(f.p90_session_s));
    assert_true(f.p_stays_4h == 0.0 && f.p_stays_8h == 0.0);
    assert_true(isnan(f.km_t_max_s));
    assert_true(rel_p_stays(NULL, 0, f.km_t_max_s, 0.0) == 0.0);
    assert_int_equal(f.last_disconnect_ms, 0);
    assert_int_equal(f.last_failure_ms, 0);
    assert_true(isnan(f.last_session_s));
    for (int r = 0; r < REG_R__COUNT; r++)
        assert_int_equal(f.reasons[r], 0);
    /* Nothing known at all: nothing observed either. */
    in = input(NULL, 0, T0, 0, 0);
    in.window_ms = 0; /* default */
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, REL_WINDOW_DEFAULT_MS);
    assert_true(f.score == 0.0);
    /* Sessions, but none in the window: 0 as well. */
    rel_session old = closed(T0 - 20 * DAY, T0 - 15 * DAY, REG_R_CLEAN_SHUTDOWN);
    in = input(&old, 1, T0, T0 - 30 * DAY, T0 - 30 * DAY);
    compute(&in, &f, NULL);
    assert_int_equal(f.sessions_count, 0);
    assert_true(f.score == 0.0);
    assert_int_equal(f.last_disconnect_ms, T0 - 15 * DAY);
    assert_near(f.last_session_s, 5 * 86400.0, EPS);
}

/* First seen 14 d ago, 42 back-to-back 8 h sessions all ending clean. */
static void test_perfect(void **state)
{
    (void)state;
    rel_session s[42];
    for (int i = 0; i < 42; i++)
        s[i] = closed(T0 - (i + 1) * 8 * HOUR, T0 - i * 8 * HOUR, REG_R_CLEAN_SHUTDOWN);
    rel_input in = input(s, 42, T0, T0 - 14 * DAY, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_int_equal(f.observed_ms, 14 * DAY);
    assert_int_equal(f.up_ms, 14 * DAY);
    assert_true(f.uptime_pct == 1.0);
    assert_int_equal(f.sessions_count, 42);
    assert_int_equal(f.closed_count, 42);
    assert_int_equal(f.failures, 0);
    assert_int_equal(f.reasons[REG_R_CLEAN_SHUTDOWN], 42);
    assert_near(f.mtbf_s, 14 * 86400.0, EPS);
    assert_near(f.p10_session_s, 28800, EPS);
    assert_near(f.p50_session_s, 28800, EPS);
    assert_near(f.p90_session_s, 28800, EPS);
    assert_int_equal(ns, 1);
    assert_near(st[0].t_s, 28800, EPS);
    assert_near(st[0].s, 0.0, EPS);
    assert_near(f.km_t_max_s, 28800, EPS);
    assert_true(f.p_stays_4h == 1.0 && f.p_stays_8h == 1.0);
    assert_int_equal(f.last_disconnect_ms, T0);
    assert_int_equal(f.last_failure_ms, 0);
    assert_near(f.last_session_s, 28800, EPS);
    assert_near(f.score, 1.0, 1e-9);
    assert_true(f.score <= 1.0);
}

/* 2 h sessions ending in timeout, 72 s apart, the last one just now. */
static void test_flaky_recent(void **state)
{
    (void)state;
    enum { N = 168 };
    rel_session s[N];
    for (int k = 0; k < N; k++) {
        int64_t end = T0 - k * 7272 * SEC;
        s[k] = closed(end - 7200 * SEC, end, REG_R_TIMEOUT);
    }
    rel_input in = input(s, N, T0, s[N - 1].opened_ms, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    /* Sessions 0..165 lie inside the window; 166 straddles its start (2448 s
     * inside); 167 closed before it. */
    assert_int_equal(f.observed_ms, 14 * DAY);
    assert_int_equal(f.up_ms, (166 * 7200 + 2448) * SEC);
    double up = 1197648.0;
    assert_near(f.uptime_pct, up / 1209600.0, EPS);
    assert_int_equal(f.sessions_count, 167);
    assert_int_equal(f.closed_count, 167);
    assert_int_equal(f.failures, 167);
    assert_int_equal(f.reasons[REG_R_TIMEOUT], 167);
    assert_near(f.mtbf_s, up / 167, 1e-9);
    assert_near(f.p10_session_s, 7200, EPS);
    assert_near(f.p90_session_s, 7200, EPS);
    assert_int_equal(ns, 1);
    assert_near(st[0].s, 0.0, EPS);
    assert_true(f.p_stays_4h == 0.0 && f.p_stays_8h == 0.0);
    assert_int_equal(f.last_disconnect_ms, T0);
    assert_int_equal(f.last_failure_ms, T0);
    assert_near(f.last_session_s, 7200, EPS);
    double want = 0.35 * (up / 1209600.0) + 0.25 * sigmoid((up / 167 - 14400) / 3600) - 0.10;
    assert_near(f.score, want, 1e-12);
    assert_near(f.score, 0.28, 0.02);
    /* The penalty fades: half at 12 h, gone at 24 h. */
    assert_near(rel_score(&f, T0), f.score, 0.0);
    assert_near(rel_score(&f, T0 + 12 * HOUR), f.score + 0.05, 1e-12);
    assert_true(rel_score(&f, T0 + 24 * HOUR) > f.score);
    assert_near(rel_score(&f, T0 + 24 * HOUR), f.score + 0.10, 1e-12);
    assert_near(rel_score(&f, T0 + 48 * HOUR), f.score + 0.10, 1e-12);
}

/* 1h event, 2h censored (monitor_gap: last beat at 2h, closed at 2.5h),
 * 3h event, 4h event, 5h censored (still open). */
static void test_km_censoring(void **state)
{
    (void)state;
    rel_session s[5] = {
        closed(T0 - 11 * HOUR, T0 - 7 * HOUR, REG_R_TIMEOUT), /* 4h */
        open_at(T0 - 5 * HOUR),                               /* 5h+ */
        closed(T0 - 18 * HOUR, T0 - 15 * HOUR - 30 * MINUTE, REG_R_MONITOR_GAP),
        closed(T0 - 20 * HOUR, T0 - 19 * HOUR, REG_R_FAILED),         /* 1h */
        closed(T0 - 15 * HOUR, T0 - 12 * HOUR, REG_R_CLEAN_SHUTDOWN), /* 3h */
    };
    s[2].last_hb_ms = T0 - 16 * HOUR; /* 2h */
    rel_input in = input(s, 5, T0, T0 - 20 * HOUR, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    /* n=5. 1h: 1 of 5 -> .8; 2h: one censored leaves 3; 3h: 1 of 3 -> .8*2/3;
     * 4h: 1 of 2 -> .8*2/3*1/2; 5h censored. */
    double s1 = 0.8, s3 = 0.8 * 2 / 3, s4 = s3 / 2;
    assert_int_equal(ns, 3);
    assert_near(st[0].t_s, 3600, EPS);
    assert_near(st[0].s, s1, EPS);
    assert_near(st[1].t_s, 10800, EPS);
    assert_near(st[1].s, s3, EPS);
    assert_near(st[2].t_s, 14400, EPS);
    assert_near(st[2].s, s4, EPS);
    assert_near(f.km_t_max_s, 18000, EPS);
    assert_near(stays(st, ns, &f, -5), 1.0, 0);
    assert_near(stays(st, ns, &f, 0), 1.0, 0);
    assert_near(stays(st, ns, &f, 1800), 1.0, 0);
    assert_near(stays(st, ns, &f, 3600), 1.0, 0); /* P(T >= 1h): the 1h event still counts */
    assert_near(stays(st, ns, &f, 3601), s1, EPS);
    assert_near(stays(st, ns, &f, 7200), s1, EPS);
    assert_near(stays(st, ns, &f, 10800), s1, EPS);
    assert_near(stays(st, ns, &f, 12600), s3, EPS);
    assert_near(stays(st, ns, &f, 14400), s3, EPS);
    assert_near(stays(st, ns, &f, 16200), s4, EPS);
    assert_near(stays(st, ns, &f, 18000), s4, EPS);
    assert_near(stays(st, ns, &f, 18001), 0.0, 0); /* Efron: past the longest */
    assert_true(isnan(stays(st, ns, &f, NAN)));
    assert_near(f.p_stays_4h, s3, EPS);
    assert_near(f.p_stays_8h, 0.0, 0);
    /* Percentiles over the closed lengths 1h, 2.5h, 3h, 4h: ranks 1, 2, 4. */
    assert_near(f.p10_session_s, 3600, EPS);
    assert_near(f.p50_session_s, 9000, EPS);
    assert_near(f.p90_session_s, 14400, EPS);
    assert_int_equal(f.up_ms, 15 * HOUR + 30 * MINUTE);
    assert_int_equal(f.observed_ms, 20 * HOUR);
    assert_near(f.uptime_pct, 0.775, EPS);
    assert_int_equal(f.sessions_count, 5);
    assert_int_equal(f.closed_count, 4);
    assert_int_equal(f.failures, 2);
    assert_int_equal(f.reasons[REG_R_FAILED], 1);
    assert_int_equal(f.reasons[REG_R_TIMEOUT], 1);
    assert_int_equal(f.reasons[REG_R_CLEAN_SHUTDOWN], 1);
    assert_int_equal(f.reasons[REG_R_MONITOR_GAP], 1);
    assert_near(f.mtbf_s, 27900, EPS);
    assert_int_equal(f.last_disconnect_ms, T0 - 7 * HOUR);
    assert_int_equal(f.last_failure_ms, T0 - 7 * HOUR);
    assert_near(f.last_session_s, 14400, EPS);
    double want = 0.35 * 0.775 + 0.25 * s3 + 0.25 * sigmoid(3.75) - 0.10 * (1 - 7.0 / 24);
    assert_near(f.score, want, 1e-12);
}

static void test_km_ties_and_monitor_gap(void **state)
{
    (void)state;
    /* An event and a censoring at 2h: the censored one is at risk at 2h. */
    rel_session s[4] = {
        closed(T0 - 10 * HOUR, T0 - 8 * HOUR, REG_R_CLEAN_SHUTDOWN), /* 2h event */
        open_at(T0 - 2 * HOUR),                                      /* 2h censored */
        closed(T0 - 7 * HOUR, T0 - 5 * HOUR, REG_R_FAILED),          /* 2h event */
        closed(T0 - 4 * HOUR, T0 - 1 * HOUR, REG_R_CLEAN_SHUTDOWN),  /* 3h event */
    };
    rel_input in = input(s, 4, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_int_equal(ns, 2);
    assert_near(st[0].t_s, 7200, EPS);
    assert_near(st[0].s, 0.5, EPS); /* 2 of 4, not 2 of 3 */
    assert_near(st[1].t_s, 10800, EPS);
    assert_near(st[1].s, 0.0, EPS);
    assert_near(stays(st, ns, &f, 7200), 1.0, 0);
    assert_near(stays(st, ns, &f, 7201), 0.5, EPS);
    assert_near(stays(st, ns, &f, 10800), 0.5, EPS);
    assert_near(stays(st, ns, &f, 10801), 0.0, 0);

    /* monitor_gap: censored at the last beat, clamped into [0, length]. */
    rel_session g[3] = {
        closed(T0 - 10 * HOUR, T0 - 6 * HOUR, REG_R_MONITOR_GAP),   /* beat before open: 0 */
        closed(T0 - 3 * HOUR, T0 - 1 * HOUR, REG_R_MONITOR_GAP),    /* beat in the future: 2h */
        closed(T0 - 5 * HOUR, T0 - 4 * HOUR, REG_R_CLEAN_SHUTDOWN), /* 1h event */
    };
    g[0].last_hb_ms = T0 - 12 * HOUR;
    g[1].last_hb_ms = T0 + 5 * HOUR;
    in = input(g, 3, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    ns = compute(&in, &f, &st);
    assert_int_equal(ns, 1); /* at 1h: 1 of 2 at risk (the 0 one is gone) */
    assert_near(st[0].t_s, 3600, EPS);
    assert_near(st[0].s, 0.5, EPS);
    assert_near(f.km_t_max_s, 7200, EPS);
    assert_near(stays(st, ns, &f, 3600), 1.0, 0);
    assert_near(stays(st, ns, &f, 5400), 0.5, EPS);
    assert_near(stays(st, ns, &f, 7200), 0.5, EPS);
    assert_near(stays(st, ns, &f, 7201), 0.0, 0);
    assert_int_equal(f.reasons[REG_R_MONITOR_GAP], 2);
    assert_int_equal(f.failures, 0);
    assert_int_equal(f.last_failure_ms, 0);
    assert_near(f.mtbf_s, 7 * 3600.0, EPS); /* no failure: the up time */
    /* Percentiles use the closed lengths 1h, 2h, 4h. */
    assert_near(f.p10_session_s, 3600, EPS);
    assert_near(f.p50_session_s, 7200, EPS);
    assert_near(f.p90_session_s, 14400, EPS);
    /* A last beat of 0 (unknown) censors at 0 too. */
    g[1].last_hb_ms = 0;
    ns = compute(&in, &f, &st);
    assert_near(f.km_t_max_s, 3600, EPS);
    assert_int_equal(ns, 1);
    assert_near(st[0].s, 0.0, EPS); /* only the event left at risk at 1h */
}

static void test_only_open(void **state)
{
    (void)state;
    rel_session s = open_at(T0 - 10 * HOUR);
    rel_input in = input(&s, 1, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_int_equal(ns, 0);
    assert_true(f.uptime_pct == 1.0);
    assert_int_equal(f.sessions_count, 1);
    assert_int_equal(f.closed_count, 0);
    assert_true(isnan(f.p50_session_s));
    assert_near(f.km_t_max_s, 36000, EPS);
    assert_true(f.p_stays_4h == 1.0 && f.p_stays_8h == 1.0);
    assert_near(f.mtbf_s, 36000, EPS);
    assert_int_equal(f.last_disconnect_ms, 0);
    assert_true(isnan(f.last_session_s));
    assert_near(f.score, 0.75 + 0.25 * sigmoid(6), 1e-12);
    /* Open for 3 h: no evidence of 4 h yet (Efron). */
    s = open_at(T0 - 3 * HOUR);
    in.first_seen_ms = T0 - 3 * HOUR;
    compute(&in, &f, NULL);
    assert_true(f.p_stays_4h == 0.0 && f.p_stays_8h == 0.0);
    assert_near(f.score, 0.35 + 0.25 * sigmoid(-1), 1e-12);
}

static void test_straddle_window_start(void **state)
{
    (void)state;
    rel_session s[3] = {
        closed(T0 - 12 * HOUR, T0 - 8 * HOUR, REG_R_CLEAN_SHUTDOWN), /* straddles */
        closed(T0 - 13 * HOUR, T0 - 11 * HOUR, REG_R_TIMEOUT),       /* before W */
        open_at(T0 - 3 * HOUR),
    };
    rel_input in = input(s, 3, T0, T0 - 30 * HOUR, T0 - 100 * HOUR);
    in.window_ms = 10 * HOUR;
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_int_equal(f.observed_ms, 10 * HOUR);
    assert_int_equal(f.up_ms, 5 * HOUR);
    assert_near(f.uptime_pct, 0.5, EPS);
    assert_int_equal(f.sessions_count, 2);
    assert_int_equal(f.closed_count, 1);
    assert_int_equal(f.reasons[REG_R_CLEAN_SHUTDOWN], 1);
    assert_int_equal(f.reasons[REG_R_TIMEOUT], 0);
    assert_int_equal(f.failures, 0);
    assert_near(f.mtbf_s, 18000, EPS);
    assert_near(f.p10_session_s, 14400, EPS); /* full length, not clipped */
    assert_near(f.p90_session_s, 14400, EPS);
    assert_int_equal(ns, 1);
    assert_near(st[0].t_s, 14400, EPS);
    assert_near(st[0].s, 0.0, EPS);
    assert_near(f.km_t_max_s, 14400, EPS);
    assert_true(f.p_stays_4h == 1.0 && f.p_stays_8h == 0.0);
    /* last_* look at every session given, also the one before W. */
    assert_int_equal(f.last_disconnect_ms, T0 - 8 * HOUR);
    assert_int_equal(f.last_failure_ms, T0 - 11 * HOUR);
    assert_near(f.last_session_s, 14400, EPS);
    double want = 0.35 * 0.5 + 0.25 + 0.25 * sigmoid(1) - 0.10 * (1 - 11.0 / 24);
    assert_near(f.score, want, 1e-12);
}

static void test_vigild_outage(void **state)
{
    (void)state;
    rel_run runs[2] = {{T0 - 4 * HOUR, T0}, {T0 - 20 * HOUR, T0 - 6 * HOUR}};
    rel_gap gaps[2];
    int64_t first_run;
    size_t ng = rel_gaps_from_runs(runs, 2, gaps, &first_run);
    assert_int_equal(ng, 1);
    assert_int_equal(gaps[0].from_ms, T0 - 6 * HOUR);
    assert_int_equal(gaps[0].to_ms, T0 - 4 * HOUR);
    assert_int_equal(first_run, T0 - 20 * HOUR);
    rel_session s = open_at(T0 - 10 * HOUR); /* open across the outage */
    rel_input in = input(&s, 1, T0, T0 - 10 * HOUR, first_run);
    in.gaps = gaps;
    in.ngaps = ng;
    rel_features f;
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, 8 * HOUR);
    assert_int_equal(f.up_ms, 8 * HOUR);
    assert_true(f.uptime_pct == 1.0);
    assert_near(f.km_t_max_s, 36000, EPS); /* its length is not cut by the outage */
    assert_true(f.p_stays_8h == 1.0);
    /* Timed out at its last beat inside the outage, back later. */
    rel_session t[2] = {closed(T0 - 10 * HOUR, T0 - 5 * HOUR, REG_R_TIMEOUT),
                        open_at(T0 - 3 * HOUR)};
    in.s = t;
    in.n = 2;
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, 8 * HOUR);
    assert_int_equal(f.up_ms, 7 * HOUR);
    assert_near(f.uptime_pct, 7.0 / 8, EPS);
}

static void test_clock_backwards_unsorted(void **state)
{
    (void)state;
    rel_session s[4] = {
        closed(T0 - 1 * HOUR, T0 + 2 * HOUR, REG_R_CLEAN_SHUTDOWN), /* past now: ends now */
        closed(T0 - 5 * HOUR, T0 - 6 * HOUR, REG_R_CLEAN_SHUTDOWN), /* backwards: length 0 */
        open_at(T0 + 1 * HOUR),                                     /* future: age 0 */
        closed(T0 - 4 * HOUR, T0 - 2 * HOUR, REG_R_FAILED),
    };
    rel_input in = input(s, 4, T0, T0 - 8 * HOUR, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_int_equal(f.observed_ms, 8 * HOUR);
    assert_int_equal(f.up_ms, 3 * HOUR);
    assert_near(f.uptime_pct, 0.375, EPS);
    assert_int_equal(f.sessions_count, 4);
    assert_int_equal(f.closed_count, 3);
    assert_int_equal(f.failures, 1);
    assert_int_equal(f.reasons[REG_R_CLEAN_SHUTDOWN], 2);
    assert_int_equal(f.reasons[REG_R_FAILED], 1);
    assert_near(f.p10_session_s, 0, EPS);
    assert_near(f.p50_session_s, 3600, EPS);
    assert_near(f.p90_session_s, 7200, EPS);
    /* Sample: 0 event, 0 censored, 1h event, 2h event. */
    assert_int_equal(ns, 3);
    assert_near(st[0].t_s, 0, EPS);
    assert_near(st[0].s, 0.75, EPS);
    assert_near(st[1].t_s, 3600, EPS);
    assert_near(st[1].s, 0.375, EPS);
    assert_near(st[2].s, 0.0, EPS);
    assert_near(stays(st, ns, &f, 0), 1.0, 0);
    assert_near(stays(st, ns, &f, 1800), 0.75, EPS);
    assert_near(stays(st, ns, &f, 5400), 0.375, EPS);
    assert_true(f.p_stays_4h == 0.0);
    assert_int_equal(f.last_disconnect_ms, T0);
    assert_int_equal(f.last_failure_ms, T0 - 2 * HOUR);
    assert_near(f.last_session_s, 3600, EPS);
    assert_near(f.mtbf_s, 10800, EPS);
}

static void test_one_session(void **state)
{
    (void)state;
    rel_session s = closed(T0 - 6 * HOUR, T0 - 1 * HOUR, REG_R_CLEAN_SHUTDOWN);
    rel_input in = input(&s, 1, T0, T0 - 6 * HOUR, T0 - 30 * DAY);
    rel_features f;
    const rel_km_step *st;
    size_t ns = compute(&in, &f, &st);
    assert_near(f.uptime_pct, 5.0 / 6, EPS);
    assert_near(f.p10_session_s, 18000, EPS);
    assert_near(f.p50_session_s, 18000, EPS);
    assert_near(f.p90_session_s, 18000, EPS);
    assert_int_equal(ns, 1);
    assert_near(st[0].t_s, 18000, EPS);
    assert_near(st[0].s, 0.0, EPS);
    assert_true(f.p_stays_4h == 1.0 && f.p_stays_8h == 0.0);
    assert_near(f.mtbf_s, 18000, EPS);
    assert_int_equal(f.last_disconnect_ms, T0 - HOUR);
    assert_int_equal(f.last_failure_ms, 0);
    assert_near(f.score, 0.35 * 5 / 6 + 0.25 + 0.25 * sigmoid(1), 1e-12);
}

/* Closed sessions of the given lengths (minutes), back to back, unsorted. */
static void percentiles_of(const int *min, size_t n, double want[3])
{
    rel_session s[16];
    int64_t t = T0 - 2 * DAY;
    for (size_t i = 0; i < n; i++) {
        s[i] = closed(t, t + min[i] * MINUTE, REG_R_CLEAN_SHUTDOWN);
        t += min[i] * MINUTE + MINUTE;
    }
    rel_input in = input(s, n, T0, T0 - 3 * DAY, T0 - 30 * DAY);
    rel_features f;
    compute(&in, &f, NULL);
    assert_near(f.p10_session_s, want[0] * 60, EPS);
    assert_near(f.p50_session_s, want[1] * 60, EPS);
    assert_near(f.p90_session_s, want[2] * 60, EPS);
}

static void test_percentile_ties(void **state)
{
    (void)state;
    int ten[10] = {2, 2, 3, 2, 2, 1, 2, 2, 2, 2}; /* ranks 1, 5, 9 */
    percentiles_of(ten, 10, (double[3]){1, 2, 2});
    int three[3] = {5, 1, 3}; /* ranks 1, 2, 3 */
    percentiles_of(three, 3, (double[3]){1, 3, 5});
    int two[2] = {2, 1}; /* ranks 1, 1, 2 */
    percentiles_of(two, 2, (double[3]){1, 1, 2});
    int dup[10] = {7, 7, 7, 7, 7, 9, 9, 9, 9, 9}; /* rank 5 is the last 7 */
    percentiles_of(dup, 10, (double[3]){7, 7, 9});
    int seven[7] = {7, 3, 5, 1, 6, 2, 4}; /* ranks 1, 4, 7: ceil, not round (6.3 -> 7) */
    percentiles_of(seven, 7, (double[3]){1, 4, 7});
    int six[6] = {6, 1, 5, 2, 4, 3}; /* ranks 1, 3, 6 (5.4 -> 6) */
    percentiles_of(six, 6, (double[3]){1, 3, 6});
}

/* Every reason once, plus one outside the enum; which ones are failures. */
static void test_reasons(void **state)
{
    (void)state;
    rel_session s[8];
    for (int r = 0; r < 8; r++)
        s[r] = closed(T0 - (20 - 2 * r) * HOUR, T0 - (19 - 2 * r) * HOUR, r);
    s[7].reason = 200;
    rel_input in = input(s, 8, T0, T0 - 20 * HOUR, T0 - 30 * DAY);
    rel_features f;
    compute(&in, &f, NULL);
    assert_int_equal(f.closed_count, 8);
    assert_int_equal(f.reasons[REG_R_NONE], 2); /* 0 and the stray 200 */
    for (int r = 1; r < REG_R__COUNT; r++)
        assert_int_equal(f.reasons[r], 1);
    assert_int_equal(f.failures, 4);                       /* failed, timeout, restarted, evicted */
    assert_int_equal(f.last_failure_ms, T0 - 9 * HOUR);    /* evicted (r = 5) */
    assert_int_equal(f.last_disconnect_ms, T0 - 5 * HOUR); /* the stray one (r = 7) */
    assert_near(f.mtbf_s, 8 * 3600.0 / 4, EPS);
    /* Only the monitor gap, after the restart: no failure, no penalty. */
    in.s = &s[6];
    in.n = 1;
    compute(&in, &f, NULL);
    assert_int_equal(f.failures, 0);
    assert_int_equal(f.last_failure_ms, 0);
    assert_int_equal(f.last_disconnect_ms, T0 - 7 * HOUR);
}

static void test_imported_history(void **state)
{
    (void)state;
    rel_session s[3] = {
        closed(T0 - 30 * HOUR, T0 - 20 * HOUR, REG_R_CLEAN_SHUTDOWN),
        closed(T0 - 25 * HOUR, T0 - 15 * HOUR, REG_R_TIMEOUT), /* overlaps the first */
        open_at(T0 - 10 * HOUR),
    };
    s[0].imported = s[1].imported = true;
    rel_input in = input(s, 3, T0, T0 - 10 * HOUR, T0 - 12 * HOUR);
    rel_features f;
    compute(&in, &f, NULL);
    /* Observed from the first imported opening, before vigild's first run. */
    assert_int_equal(f.observed_ms, 30 * HOUR);
    assert_int_equal(f.up_ms, 25 * HOUR); /* union: [-30h, -15h) + [-10h, now) */
    assert_near(f.uptime_pct, 25.0 / 30, EPS);
    assert_int_equal(f.failures, 1);
    in.first_seen_ms = 0; /* unknown: the imports alone give the first sighting */
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, 30 * HOUR);

    /* The same history not imported: vigild saw nothing before its first run. */
    s[0].imported = s[1].imported = false;
    in.first_seen_ms = T0 - 10 * HOUR;
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, 10 * HOUR);
    assert_int_equal(f.up_ms, 10 * HOUR);
    in.first_seen_ms = T0 - 30 * HOUR;
    compute(&in, &f, NULL);
    assert_int_equal(f.observed_ms, 12 * HOUR); /* from the first run */
    assert_int_equal(f.up_ms, 10 * HOUR);
    assert_near(f.uptime_pct, 10.0 / 12, EPS);
}

static void test_gaps_from_runs(void **state)
{
    (void)state;
    const int64_t B = T0;
    rel_run runs[] = {
        {B + 700, B + 1000}, /* node a */
        {B + 50, B + 250},   /* node b */
        {B + 300, B + 400},  /* a */
        {B + 600, B + 650},  /* b */
        {B + 0, B + 100},    /* a: the first */
        {B + 380, B + 500},  /* b, overlaps a */
        {B + 650, B + 700},  /* b, touches */
        {B + 120, B + 200},  /* contained */
        {B + 900, B + 800},  /* backwards: the instant 900, inside */
        {B + 550, B + 540},  /* backwards in a gap: measures nothing */
    };
    size_t n = sizeof runs / sizeof runs[0];
    rel_gap gaps[sizeof runs / sizeof runs[0]];
    int64_t first = -1;
    size_t ng = rel_gaps_from_runs(runs, n, gaps, &first);
    assert_int_equal(first, B);
    assert_int_equal(ng, 2);
    assert_int_equal(gaps[0].from_ms, B + 250);
    assert_int_equal(gaps[0].to_ms, B + 300);
    assert_int_equal(gaps[1].from_ms, B + 500);
    assert_int_equal(gaps[1].to_ms, B + 600);
    assert_int_equal(runs[0].started_ms, B + 700); /* input untouched */
    assert_int_equal(rel_gaps_from_runs(runs, 0, gaps, &first), 0);
    assert_int_equal(first, 0);
    assert_int_equal(rel_gaps_from_runs(runs, 1, gaps, &first), 0);
    assert_int_equal(first, B + 700);
}

static int count_observed(double h[7][24])
{
    int n = 0;
    for (int d = 0; d < 7; d++)
        for (int k = 0; k < 24; k++)
            n += !isnan(h[d][k]);
    return n;
}

static void test_hourly(void **state)
{
    (void)state;
    rel_work *w = rel_work_new();
    double h[7][24];
    /* Monday 10:00-12:30, observed 08:00-14:00 except 13:00-13:30. */
    rel_session s = closed(MON + 10 * HOUR, MON + 12 * HOUR + 30 * MINUTE, REG_R_CLEAN_SHUTDOWN);
    rel_gap gap = {MON + 13 * HOUR, MON + 13 * HOUR + 30 * MINUTE};
    rel_input in = input(&s, 1, MON + 14 * HOUR, MON + 8 * HOUR, MON - DAY);
    in.gaps = &gap;
    in.ngaps = 1;
    assert_int_equal(rel_hourly(&in, w, h), 0);
    assert_int_equal(count_observed(h), 6);
    assert_true(h[0][8] == 0.0 && h[0][9] == 0.0);
    assert_true(h[0][10] == 1.0 && h[0][11] == 1.0);
    assert_true(h[0][12] == 0.5);
    assert_true(h[0][13] == 0.0); /* 30 min observed, none up */
    assert_true(isnan(h[0][14]) && isnan(h[1][10]) && isnan(h[6][10]));

    /* Across Sunday -> Monday midnight; now at Monday 01:00 sharp. */
    s = closed(MON + 6 * DAY + 23 * HOUR + 30 * MINUTE, MON + 7 * DAY + 30 * MINUTE,
               REG_R_CLEAN_SHUTDOWN);
    in = input(&s, 1, MON + 7 * DAY + HOUR, MON + 6 * DAY + 23 * HOUR, MON - DAY);
    assert_int_equal(rel_hourly(&in, w, h), 0);
    assert_int_equal(count_observed(h), 2);
    assert_true(h[6][23] == 0.5 && h[0][0] == 0.5);
    assert_true(isnan(h[0][1]));

    /* Two whole weeks observed (not hour-aligned), up the first: 0.5 each. */
    int64_t now = MON + 14 * DAY + 37 * MINUTE;
    s = closed(now - 14 * DAY, now - 7 * DAY, REG_R_TIMEOUT);
    in = input(&s, 1, now, now - 20 * DAY, MON - 30 * DAY);
    assert_int_equal(rel_hourly(&in, w, h), 0);
    for (int d = 0; d < 7; d++)
        for (int k = 0; k < 24; k++)
            assert_true(h[d][k] == 0.5);
    rel_work_free(w);
}

/* ---- property test ---------------------------------------------------- */

typedef struct rng {
    uint64_t x;
} rng;

static uint64_t next(rng *r) /* xorshift64* */
{
    r->x ^= r->x >> 12;
    r->x ^= r->x << 25;
    r->x ^= r->x >> 27;
    return r->x * 0x2545F4914F6CDD1DULL;
}

static int64_t between(rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(next(r) % (uint64_t)(hi - lo + 1));
}

static bool chance(rng *r, int pct)
{
    return between(r, 1, 100) <= pct;
}

static bool same_d(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void assert_same(const rel_features *a, const rel_features *b)
{
    assert_true(same_d(a->uptime_pct, b->uptime_pct));
    assert_true(a->up_ms == b->up_ms && a->observed_ms == b->observed_ms);
    assert_true(a->sessions_count == b->sessions_count && a->closed_count == b->closed_count);
    assert_true(a->failures == b->failures);
    assert_true(same_d(a->mtbf_s, b->mtbf_s));
    assert_true(same_d(a->p10_session_s, b->p10_session_s));
    assert_true(same_d(a->p50_session_s, b->p50_session_s));
    assert_true(same_d(a->p90_session_s, b->p90_session_s));
    assert_true(same_d(a->p_stays_4h, b->p_stays_4h) && same_d(a->p_stays_8h, b->p_stays_8h));
    assert_memory_equal(a->reasons, b->reasons, sizeof a->reasons);
    assert_true(a->last_disconnect_ms == b->last_disconnect_ms);
    assert_true(a->last_failure_ms == b->last_failure_ms);
    assert_true(same_d(a->last_session_s, b->last_session_s));
    assert_true(same_d(a->km_t_max_s, b->km_t_max_s));
    assert_true(same_d(a->score, b->score));
}

/* The spec restated the slow way, over time units of U ms (every generated
 * time is a multiple of U): up/observed by walking each unit of the window,
 * per hour cell by gmtime, and P(T >= h) by the Kaplan–Meier product. */
#define U (15 * MINUTE)
#define NMAX 256

typedef struct oracle {
    int64_t up, obs, cell_up[7][24], cell_obs[7][24];
    int64_t t[NMAX];
    int ev[NMAX];
    size_t n;
    int64_t len[NMAX]; /* closed lengths in the window, sorted */
    size_t nlen;
    double t_max;
} oracle;

static void run_oracle(const rel_input *in, oracle *o)
{
    memset(o, 0, sizeof *o);
    int64_t now = in->now_ms;
    int64_t ws = now - (in->window_ms > 0 ? in->window_ms : REL_WINDOW_DEFAULT_MS);
    bool imp = false;
    int64_t imp_first = INT64_MAX;
    for (size_t i = 0; i < in->n; i++) {
        if (in->s[i].imported) {
            imp = true;
            int64_t op = in->s[i].opened_ms < now ? in->s[i].opened_ms : now;
            if (op < imp_first) imp_first = op;
        }
    }
    int64_t first = in->first_seen_ms;
    if (imp && (first <= 0 || imp_first < first)) first = imp_first;
    for (int64_t t = ws; t < now; t += U) {
        if (first > 0 && t < first) continue;
        if (!imp && in->first_run_ms > 0 && t < in->first_run_ms) continue;
        bool gap = false;
        for (size_t g = 0; g < in->ngaps; g++)
            gap |= in->gaps[g].from_ms <= t && t < in->gaps[g].to_ms;
        if (gap) continue;
        time_t secs = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        int d = (tm.tm_wday + 6) % 7;
        o->obs += U;
        o->cell_obs[d][tm.tm_hour] += U;
        bool up = false;
        for (size_t i = 0; i < in->n; i++) {
            const rel_session *s = &in->s[i];
            int64_t op = s->opened_ms < now ? s->opened_ms : now;
            int64_t end = s->closed_ms == 0 ? now : (s->closed_ms < now ? s->closed_ms : now);
            up |= op <= t && t < end;
        }
        if (up) {
            o->up += U;
            o->cell_up[d][tm.tm_hour] += U;
        }
    }
    o->t_max = -1;
    for (size_t i = 0; i < in->n; i++) {
        const rel_session *s = &in->s[i];
        int64_t op = s->opened_ms < now ? s->opened_ms : now;
        int64_t cl = s->closed_ms < now ? s->closed_ms : now;
        if (s->closed_ms != 0 && cl < ws) continue;
        int64_t len = s->closed_ms == 0 ? now - op : (cl > op ? cl - op : 0);
        int ev = s->closed_ms != 0;
        if (ev) {
            size_t j = o->nlen++;
            for (; j > 0 && o->len[j - 1] > len; j--)
                o->len[j] = o->len[j - 1];
            o->len[j] = len;
        }
        if (ev && s->reason == REG_R_MONITOR_GAP) {
            int64_t hb = s->last_hb_ms - op;
            len = hb < 0 ? 0 : hb > len ? len : hb;
            ev = 0;
        }
        o->t[o->n] = len;
        o->ev[o->n++] = ev;
        if ((double)len / 1000.0 > o->t_max) o->t_max = (double)len / 1000.0;
    }
}

/* The smallest 1-based rank r with r >= pct/100 * n, in seconds. */
static double oracle_pct(const oracle *o, int pct)
{
    if (o->nlen == 0) return NAN;
    size_t r = 1;
    while (100 * r < (size_t)pct * o->nlen)
        r++;
    return (double)o->len[r - 1] / 1000.0;
}

static double oracle_stays(const oracle *o, double h_s)
{
    if (o->n == 0 || h_s > o->t_max) return 0.0;
    double s = 1.0;
    int64_t prev = INT64_MIN;
    for (;;) { /* distinct event times ascending, below h */
        int64_t t = INT64_MAX;
        for (size_t i = 0; i < o->n; i++)
            if (o->ev[i] && o->t[i] > prev && o->t[i] < t) t = o->t[i];
        if (t == INT64_MAX || !((double)t / 1000.0 < h_s)) return s;
        size_t d = 0, at_risk = 0;
        for (size_t i = 0; i < o->n; i++) {
            at_risk += o->t[i] >= t;
            d += o->ev[i] && o->t[i] == t;
        }
        s *= 1.0 - (double)d / (double)at_risk;
        prev = t;
    }
}

static void test_property(void **state)
{
    (void)state;
    rng r = {0x9E3779B97F4A7C15ULL};
    rel_work *w1 = rel_work_new(), *w2 = rel_work_new();
    assert_true(w1 && w2);
    static rel_session s[NMAX], sh[NMAX];
    static rel_km_step st1[NMAX];
    rel_run runs[6];
    rel_gap gaps[6];
    oracle o;
    for (int iter = 0; iter < 3000; iter++) {
        rel_input in = {0};
        int64_t now = chance(&r, 10) ? between(&r, 0, 3000) * U : MON + between(&r, 0, 100000) * U;
        in.now_ms = now;
        in.window_ms = chance(&r, 5) ? 0 : between(&r, 1, 2880) * U;
        size_t nr = (size_t)between(&r, 0, 4);
        for (size_t i = 0; i < nr; i++) {
            runs[i].started_ms = now - between(&r, 0, 4000) * U;
            runs[i].ended_ms = runs[i].started_ms + between(&r, -5, 800) * U;
        }
        if (chance(&r, 50)) runs[nr++] = (rel_run){now - between(&r, 0, 500) * U, now};
        int64_t first_run = 0;
        in.ngaps = rel_gaps_from_runs(runs, nr, gaps, &first_run);
        in.gaps = gaps;
        for (size_t g = 0; g < in.ngaps; g++) {
            assert_true(gaps[g].from_ms < gaps[g].to_ms);
            if (g > 0) assert_true(gaps[g - 1].to_ms < gaps[g].from_ms);
        }
        in.first_run_ms = chance(&r, 20) ? 0 : first_run;
        in.first_seen_ms = chance(&r, 30) ? 0 : now - between(&r, 0, 4000) * U;
        size_t n = (size_t)(chance(&r, 2)   ? between(&r, 0, NMAX)
                            : chance(&r, 5) ? between(&r, 0, 60)
                                            : between(&r, 0, 12));
        for (size_t i = 0; i < n; i++) {
            rel_session *x = &s[i];
            x->opened_ms = now - between(&r, -8, 4000) * U;
            x->closed_ms = chance(&r, 20) ? 0 : x->opened_ms + between(&r, -40, 1000) * U;
            x->reason = x->closed_ms ? (uint8_t)between(&r, 0, REG_R__COUNT) : REG_R_NONE;
            x->last_hb_ms = chance(&r, 20) ? 0 : x->opened_ms + between(&r, -20, 1000) * U;
            x->imported = chance(&r, 15);
        }
        in.s = s;
        in.n = n;

        rel_features f, g;
        const rel_km_step *st;
        size_t ns;
        assert_int_equal(rel_compute(&in, w1, &f, &st, &ns), 0);
        memcpy(st1, st, ns * sizeof *st);

        assert_true(f.uptime_pct >= 0.0 && f.uptime_pct <= 1.0);
        assert_true(f.up_ms >= 0 && f.up_ms <= f.observed_ms);
        assert_true(f.score >= 0.0 && f.score <= 1.0);
        if (f.sessions_count == 0) assert_true(f.score == 0.0);
        assert_true(same_d(rel_score(&f, now), f.score));
        assert_true(f.p_stays_4h >= f.p_stays_8h);
        assert_true(f.failures <= f.closed_count && f.closed_count <= f.sessions_count);
        uint32_t sum = 0;
        for (int k = 0; k < REG_R__COUNT; k++)
            sum += f.reasons[k];
        assert_int_equal(sum, f.closed_count);
        if (f.closed_count > 0) {
            assert_true(f.p10_session_s >= 0);
            assert_true(f.p10_session_s <= f.p50_session_s);
            assert_true(f.p50_session_s <= f.p90_session_s);
        } else {
            assert_true(isnan(f.p10_session_s) && isnan(f.p90_session_s));
        }

        run_oracle(&in, &o);
        assert_int_equal(f.up_ms, o.up);
        assert_int_equal(f.observed_ms, o.obs);
        assert_int_equal(o.n, f.sessions_count);
        assert_int_equal(o.nlen, f.closed_count);
        assert_true(same_d(f.p10_session_s, oracle_pct(&o, 10)));
        assert_true(same_d(f.p50_session_s, oracle_pct(&o, 50)));
        assert_true(same_d(f.p90_session_s, oracle_pct(&o, 90)));
        if (o.n == 0)
            assert_true(isnan(f.km_t_max_s));
        else
            assert_true(f.km_t_max_s == o.t_max);
        double prev = 1.0;
        for (double h = -3600; h <= 300 * 3600.0; h += 900) {
            double p = rel_p_stays(st1, ns, f.km_t_max_s, h);
            assert_true(p <= prev && p >= 0.0);
            prev = p;
            assert_near(p, oracle_stays(&o, h), 1e-12);
        }
        for (size_t k = 0; k < ns; k++) { /* just around each step */
            double t = st1[k].t_s;
            assert_near(rel_p_stays(st1, ns, f.km_t_max_s, t), oracle_stays(&o, t), 1e-12);
            assert_near(rel_p_stays(st1, ns, f.km_t_max_s, t + 0.001), oracle_stays(&o, t + 0.001),
                        1e-12);
        }

        double hh[7][24];
        assert_int_equal(rel_hourly(&in, w1, hh), 0);
        for (int d = 0; d < 7; d++)
            for (int k = 0; k < 24; k++)
                if (o.cell_obs[d][k] == 0)
                    assert_true(isnan(hh[d][k]));
                else
                    assert_true(hh[d][k] == (double)o.cell_up[d][k] / (double)o.cell_obs[d][k]);

        /* Idempotent, and blind to the input order (fresh copy, shuffled). */
        assert_int_equal(rel_compute(&in, w1, &g, &st, &ns), 0);
        assert_same(&f, &g);
        memcpy(sh, s, n * sizeof *s);
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)between(&r, 0, (int64_t)i - 1);
            rel_session t = sh[i - 1];
            sh[i - 1] = sh[j];
            sh[j] = t;
        }
        in.s = sh;
        size_t ns2;
        assert_int_equal(rel_compute(&in, w2, &g, &st, &ns2), 0);
        assert_same(&f, &g);
        assert_int_equal(ns2, ns);
        if (ns) assert_memory_equal(st, st1, ns * sizeof *st);
    }
    rel_work_free(w1);
    rel_work_free(w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_sessions),
        cmocka_unit_test(test_perfect),
        cmocka_unit_test(test_flaky_recent),
        cmocka_unit_test(test_km_censoring),
        cmocka_unit_test(test_km_ties_and_monitor_gap),
        cmocka_unit_test(test_only_open),
        cmocka_unit_test(test_straddle_window_start),
        cmocka_unit_test(test_vigild_outage),
        cmocka_unit_test(test_clock_backwards_unsorted),
        cmocka_unit_test(test_one_session),
        cmocka_unit_test(test_percentile_ties),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_imported_history),
        cmocka_unit_test(test_gaps_from_runs),
        cmocka_unit_test(test_hourly),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
