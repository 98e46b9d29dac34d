/* Unit tests for the reliability features: hand-computed cases (the seeded
 * property test is test_rel_prop.c). Pure numbers, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "near.h"
#include "rel_fx.h"

#include "core/rel.h"

#include <math.h>
#include <string.h>
#include <time.h>

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

/* One rel_compute on the group's workspace (reused by every test, at every
 * size, as the rollup reuses it); the KM curve is copied out. */
typedef struct res {
    rel_features f;
    const rel_km_step *st;
    size_t ns;
} res;

static res run(void **state, const rel_input *in)
{
    static rel_km_step copy[64];
    res r;
    assert_int_equal(rel_compute(in, *state, &r.f, &r.st, &r.ns), 0);
    assert_true(r.ns <= 64);
    if (r.ns) memcpy(copy, r.st, r.ns * sizeof *r.st);
    r.st = copy;
    return r;
}

/* Every feature against hand-computed values, in three groups (NAN matches NAN). */
static void expect_up(const res *r, int64_t up, int64_t observed, double pct, double mtbf_s,
                      double p4, double p8, double score)
{
    assert_int_equal(r->f.up_ms, up);
    assert_int_equal(r->f.observed_ms, observed);
    assert_near(r->f.uptime_pct, pct, EPS);
    assert_near(r->f.mtbf_s, mtbf_s, 1e-9);
    assert_near(r->f.p_stays_4h, p4, EPS);
    assert_near(r->f.p_stays_8h, p8, EPS);
    assert_near(r->f.score, score, EPS);
}

static void expect_counts(const res *r, uint32_t n, uint32_t closed, uint32_t failures,
                          const uint32_t reasons[REG_R__COUNT], int64_t last_disconnect_ms,
                          int64_t last_failure_ms)
{
    assert_int_equal(r->f.sessions_count, n);
    assert_int_equal(r->f.closed_count, closed);
    assert_int_equal(r->f.failures, failures);
    assert_memory_equal(r->f.reasons, reasons, sizeof r->f.reasons);
    assert_int_equal(r->f.last_disconnect_ms, last_disconnect_ms);
    assert_int_equal(r->f.last_failure_ms, last_failure_ms);
}

static void expect_lengths(const res *r, double p10, double p50, double p90, double last_s,
                           double t_max_s)
{
    assert_near(r->f.p10_session_s, p10, 1e-9);
    assert_near(r->f.p50_session_s, p50, 1e-9);
    assert_near(r->f.p90_session_s, p90, 1e-9);
    assert_near(r->f.last_session_s, last_s, 1e-9);
    assert_near(r->f.km_t_max_s, t_max_s, 1e-9);
}

#define REASONS(...) ((const uint32_t[REG_R__COUNT]){__VA_ARGS__})
#define NONE REASONS(0)

/* The KM curve: n steps, want = t_s, S, t_s, S, ... */
static void expect_curve(const res *r, size_t n, const double *want)
{
    assert_int_equal(r->ns, n);
    for (size_t i = 0; i < n; i++) {
        assert_near(r->st[i].t_s, want[2 * i], 1e-9);
        assert_near(r->st[i].s, want[2 * i + 1], EPS);
    }
}

/* rel_p_stays at n horizons, want = h_s, P(T >= h), h_s, P, ... */
static void expect_stays(const res *r, size_t n, const double *want)
{
    for (size_t i = 0; i < n; i++)
        assert_near(rel_p_stays(r->st, r->ns, r->f.km_t_max_s, want[2 * i]), want[2 * i + 1], EPS);
}

static void test_no_sessions(void **state)
{
    rel_input in = input(NULL, 0, T0, T0 - 5 * HOUR, T0 - 10 * DAY);
    res r = run(state, &in);
    expect_up(&r, 0, 5 * HOUR, 0, 0, 0, 0, 0);
    expect_counts(&r, 0, 0, 0, NONE, 0, 0);
    expect_lengths(&r, NAN, NAN, NAN, NAN, NAN);
    assert_true(r.f.score == 0.0); /* exactly */
    assert_true(rel_p_stays(NULL, 0, r.f.km_t_max_s, 0.0) == 0.0);
    in = input(NULL, 0, T0, 0, 0); /* nothing known: the whole (default) window */
    in.window_ms = 0;
    r = run(state, &in);
    assert_int_equal(r.f.observed_ms, REL_WINDOW_DEFAULT_MS);
    /* Sessions, but none in the window: 0 as well. */
    rel_session old = closed(T0 - 20 * DAY, T0 - 15 * DAY, REG_R_TIMEOUT);
    in = input(&old, 1, T0, T0 - 30 * DAY, T0 - 30 * DAY);
    r = run(state, &in);
    expect_up(&r, 0, 14 * DAY, 0, 0, 0, 0, 0);
    expect_counts(&r, 0, 0, 0, NONE, T0 - 15 * DAY, T0 - 15 * DAY);
    expect_lengths(&r, NAN, NAN, NAN, 5 * 86400.0, NAN);
    assert_true(r.f.score == 0.0);
}

/* First seen 14 d ago, 42 back-to-back 8 h sessions all ending clean. */
static void test_perfect(void **state)
{
    rel_session s[42];
    for (int i = 0; i < 42; i++)
        s[i] = closed(T0 - (i + 1) * 8 * HOUR, T0 - i * 8 * HOUR, REG_R_CLEAN_SHUTDOWN);
    rel_input in = input(s, 42, T0, T0 - 14 * DAY, T0 - 30 * DAY);
    res r = run(state, &in);
    expect_up(&r, 14 * DAY, 14 * DAY, 1, 14 * 86400.0, 1, 1, 1);
    expect_counts(&r, 42, 42, 0, REASONS([REG_R_CLEAN_SHUTDOWN] = 42), T0, 0);
    expect_lengths(&r, 28800, 28800, 28800, 28800, 28800);
    expect_curve(&r, 1, (const double[]){28800, 0});
    assert_true(r.f.score <= 1.0);
    assert_near(r.f.score, 1.0, 1e-9);
}

/* 2 h sessions ending in timeout, 72 s apart, the last one just now. */
static void test_flaky_recent(void **state)
{
    enum { N = 168 };
    rel_session s[N];
    for (int k = 0; k < N; k++) {
        int64_t end = T0 - k * 7272 * SEC;
        s[k] = closed(end - 7200 * SEC, end, REG_R_TIMEOUT);
    }
    rel_input in = input(s, N, T0, s[N - 1].opened_ms, T0 - 30 * DAY);
    res r = run(state, &in);
    /* Sessions 0..165 lie inside the window; 166 straddles its start (2448 s
     * inside); 167 closed before it. */
    double up = 166 * 7200 + 2448, mtbf = up / 167;
    double score = 0.35 * (up / 1209600) + 0.25 * sigmoid((mtbf - 14400) / 3600) - 0.10;
    expect_up(&r, (int64_t)up * SEC, 14 * DAY, up / 1209600, mtbf, 0, 0, score);
    expect_counts(&r, 167, 167, 167, REASONS([REG_R_TIMEOUT] = 167), T0, T0);
    expect_lengths(&r, 7200, 7200, 7200, 7200, 7200);
    expect_curve(&r, 1, (const double[]){7200, 0});
    assert_near(r.f.score, 0.28, 0.02);
    /* The penalty fades: half at 12 h, gone at 24 h. */
    assert_true(rel_score(&r.f, T0) == r.f.score);
    assert_near(rel_score(&r.f, T0 + 12 * HOUR), r.f.score + 0.05, EPS);
    assert_true(rel_score(&r.f, T0 + 24 * HOUR) > r.f.score);
    assert_near(rel_score(&r.f, T0 + 24 * HOUR), r.f.score + 0.10, EPS);
    assert_near(rel_score(&r.f, T0 + 48 * HOUR), r.f.score + 0.10, EPS);
}

/* 1h event, 2h censored (monitor_gap: last beat at 2h, closed at 2.5h),
 * 3h event, 4h event, 5h censored (still open); unsorted. */
static void test_km_censoring(void **state)
{
    rel_session s[5] = {
        closed(T0 - 11 * HOUR, T0 - 7 * HOUR, REG_R_TIMEOUT),
        open_at(T0 - 5 * HOUR),
        closed(T0 - 18 * HOUR, T0 - 15 * HOUR - 30 * MINUTE, REG_R_MONITOR_GAP),
        closed(T0 - 20 * HOUR, T0 - 19 * HOUR, REG_R_FAILED),
        closed(T0 - 15 * HOUR, T0 - 12 * HOUR, REG_R_CLEAN_SHUTDOWN),
    };
    s[2].last_hb_ms = T0 - 16 * HOUR;
    rel_input in = input(s, 5, T0, T0 - 20 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    /* n=5. 1h: 1 of 5 -> .8; 2h: censored, 3 left; 3h: 1 of 3 -> .8*2/3;
     * 4h: 1 of 2 -> .8*2/3*1/2; 5h censored. */
    double s1 = 0.8, s3 = 0.8 * 2 / 3, s4 = s3 / 2;
    expect_curve(&r, 3, (const double[]){3600, s1, 10800, s3, 14400, s4});
    /* P(T >= 1h) = 1: the 1h event counts; past the longest (5h) 0 (Efron). */
    expect_stays(&r, 12, (const double[]){-5,    1,  0,     1,  3600,  1,  3601,     s1,
                                          7200,  s1, 10800, s1, 12600, s3, 14400,    s3,
                                          16200, s4, 18000, s4, 18001, 0,  REL_H8_S, 0});
    assert_true(isnan(rel_p_stays(r.st, r.ns, r.f.km_t_max_s, NAN)));
    /* Percentiles over the closed lengths 1h, 2.5h, 3h, 4h: ranks 1, 2, 4. */
    double score = 0.35 * 0.775 + 0.25 * s3 + 0.25 * sigmoid(3.75) - 0.10 * (1 - 7.0 / 24);
    expect_up(&r, 15 * HOUR + 30 * MINUTE, 20 * HOUR, 0.775, 27900, s3, 0, score);
    expect_counts(&r, 5, 4, 2,
                  REASONS([REG_R_FAILED] = 1, [REG_R_TIMEOUT] = 1, [REG_R_CLEAN_SHUTDOWN] = 1,
                          [REG_R_MONITOR_GAP] = 1),
                  T0 - 7 * HOUR, T0 - 7 * HOUR);
    expect_lengths(&r, 3600, 9000, 14400, 14400, 18000);
}

static void test_km_ties_and_monitor_gap(void **state)
{
    /* Two events and a censoring at 2h: the censored one is at risk at 2h. */
    rel_session s[4] = {
        closed(T0 - 10 * HOUR, T0 - 8 * HOUR, REG_R_CLEAN_SHUTDOWN),
        open_at(T0 - 2 * HOUR),
        closed(T0 - 7 * HOUR, T0 - 5 * HOUR, REG_R_FAILED),
        closed(T0 - 4 * HOUR, T0 - 1 * HOUR, REG_R_CLEAN_SHUTDOWN),
    };
    rel_input in = input(s, 4, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    expect_curve(&r, 2, (const double[]){7200, 0.5 /* 2 of 4, not of 3 */, 10800, 0});
    expect_stays(&r, 4, (const double[]){7200, 1, 7201, 0.5, 10800, 0.5, 10801, 0});

    /* monitor_gap: censored at the last beat, clamped into [0, length]. */
    rel_session g[3] = {
        closed(T0 - 10 * HOUR, T0 - 6 * HOUR, REG_R_MONITOR_GAP),   /* beat before open: 0 */
        closed(T0 - 3 * HOUR, T0 - 1 * HOUR, REG_R_MONITOR_GAP),    /* beat in the future: 2h */
        closed(T0 - 5 * HOUR, T0 - 4 * HOUR, REG_R_CLEAN_SHUTDOWN), /* 1h event */
    };
    g[0].last_hb_ms = T0 - 12 * HOUR;
    g[1].last_hb_ms = T0 + 5 * HOUR;
    in = input(g, 3, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    r = run(state, &in);
    /* At 1h: 1 of 2 at risk (the one censored at 0 is gone). */
    expect_curve(&r, 1, (const double[]){3600, 0.5});
    expect_stays(&r, 4, (const double[]){3600, 1, 5400, 0.5, 7200, 0.5, 7201, 0});
    expect_up(&r, 7 * HOUR, 10 * HOUR, 0.7, 25200, 0, 0, 0.35 * 0.7 + 0.25 * sigmoid(3));
    expect_counts(&r, 3, 3, 0, REASONS([REG_R_MONITOR_GAP] = 2, [REG_R_CLEAN_SHUTDOWN] = 1),
                  T0 - HOUR, 0);
    expect_lengths(&r, 3600, 7200, 14400, 7200, 7200);
    /* A last beat of 0 (unknown) censors at 0 too: only the event at risk at 1h. */
    g[1].last_hb_ms = 0;
    r = run(state, &in);
    expect_curve(&r, 1, (const double[]){3600, 0});
    assert_near(r.f.km_t_max_s, 3600, EPS);
}

static void test_only_open(void **state)
{
    rel_session s = open_at(T0 - 10 * HOUR);
    rel_input in = input(&s, 1, T0, T0 - 10 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    expect_up(&r, 10 * HOUR, 10 * HOUR, 1, 36000, 1, 1, 0.75 + 0.25 * sigmoid(6));
    expect_counts(&r, 1, 0, 0, NONE, 0, 0);
    expect_lengths(&r, NAN, NAN, NAN, NAN, 36000);
    /* Open for 3 h: no evidence of 4 h yet (Efron). */
    s = open_at(T0 - 3 * HOUR);
    in.first_seen_ms = T0 - 3 * HOUR;
    r = run(state, &in);
    expect_up(&r, 3 * HOUR, 3 * HOUR, 1, 10800, 0, 0, 0.35 + 0.25 * sigmoid(-1));
    expect_counts(&r, 1, 0, 0, NONE, 0, 0);
    expect_lengths(&r, NAN, NAN, NAN, NAN, 10800);
}

static void test_straddle_window_start(void **state)
{
    rel_session s[3] = {
        closed(T0 - 12 * HOUR, T0 - 8 * HOUR, REG_R_CLEAN_SHUTDOWN), /* straddles */
        closed(T0 - 13 * HOUR, T0 - 11 * HOUR, REG_R_TIMEOUT),       /* before W */
        open_at(T0 - 3 * HOUR),
    };
    rel_input in = input(s, 3, T0, T0 - 30 * HOUR, T0 - 100 * HOUR);
    in.window_ms = 10 * HOUR;
    res r = run(state, &in);
    expect_curve(&r, 1, (const double[]){14400, 0});
    /* Percentiles and KM take the full 4 h; last_* look at every session. */
    expect_up(&r, 5 * HOUR, 10 * HOUR, 0.5, 18000, 1, 0,
              0.35 * 0.5 + 0.25 + 0.25 * sigmoid(1) - 0.10 * (1 - 11.0 / 24));
    expect_counts(&r, 2, 1, 0, REASONS([REG_R_CLEAN_SHUTDOWN] = 1), T0 - 8 * HOUR, T0 - 11 * HOUR);
    expect_lengths(&r, 14400, 14400, 14400, 14400, 14400);
}

static void test_vigild_outage(void **state)
{
    rel_run runs[2] = {{T0 - 4 * HOUR, T0}, {T0 - 20 * HOUR, T0 - 6 * HOUR}};
    rel_gap gaps[2];
    int64_t first_run;
    assert_int_equal(rel_gaps_from_runs(runs, 2, gaps, &first_run), 1);
    assert_true(gaps[0].from_ms == T0 - 6 * HOUR && gaps[0].to_ms == T0 - 4 * HOUR);
    assert_int_equal(first_run, T0 - 20 * HOUR);
    rel_session s = open_at(T0 - 10 * HOUR); /* open across the outage */
    rel_input in = input(&s, 1, T0, T0 - 10 * HOUR, first_run);
    in.gaps = gaps;
    in.ngaps = 1;
    res r = run(state, &in);
    /* The gap is out of both up and observed; the length keeps it. */
    expect_up(&r, 8 * HOUR, 8 * HOUR, 1, 28800, 1, 1, 0.75 + 0.25 * sigmoid(4));
    expect_counts(&r, 1, 0, 0, NONE, 0, 0);
    expect_lengths(&r, NAN, NAN, NAN, NAN, 36000);
    /* Timed out at its last beat inside the outage, back later. */
    rel_session t[2] = {closed(T0 - 10 * HOUR, T0 - 5 * HOUR, REG_R_TIMEOUT),
                        open_at(T0 - 3 * HOUR)};
    in.s = t;
    in.n = 2;
    r = run(state, &in);
    assert_int_equal(r.f.observed_ms, 8 * HOUR);
    assert_int_equal(r.f.up_ms, 7 * HOUR);
    assert_near(r.f.uptime_pct, 7.0 / 8, EPS);
}

static void test_clock_backwards_unsorted(void **state)
{
    rel_session s[4] = {
        closed(T0 - 1 * HOUR, T0 + 2 * HOUR, REG_R_CLEAN_SHUTDOWN), /* past now: ends now */
        closed(T0 - 5 * HOUR, T0 - 6 * HOUR, REG_R_CLEAN_SHUTDOWN), /* backwards: length 0 */
        open_at(T0 + 1 * HOUR),                                     /* future: age 0 */
        closed(T0 - 4 * HOUR, T0 - 2 * HOUR, REG_R_FAILED),
    };
    rel_input in = input(s, 4, T0, T0 - 8 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    /* Sample: 0 event, 0 censored, 1h event, 2h event. */
    expect_curve(&r, 3, (const double[]){0, 0.75, 3600, 0.375, 7200, 0});
    expect_stays(&r, 4, (const double[]){0, 1, 1800, 0.75, 5400, 0.375, 7201, 0});
    expect_up(&r, 3 * HOUR, 8 * HOUR, 0.375, 10800, 0, 0,
              0.35 * 0.375 + 0.25 * sigmoid(-1) - 0.10 * (1 - 2.0 / 24));
    expect_counts(&r, 4, 3, 1, REASONS([REG_R_CLEAN_SHUTDOWN] = 2, [REG_R_FAILED] = 1), T0,
                  T0 - 2 * HOUR);
    expect_lengths(&r, 0, 3600, 7200, 3600, 7200);
}

static void test_one_session(void **state)
{
    rel_session s = closed(T0 - 6 * HOUR, T0 - 1 * HOUR, REG_R_CLEAN_SHUTDOWN);
    rel_input in = input(&s, 1, T0, T0 - 6 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    expect_curve(&r, 1, (const double[]){18000, 0});
    expect_up(&r, 5 * HOUR, 6 * HOUR, 5.0 / 6, 18000, 1, 0,
              0.35 * 5 / 6 + 0.25 + 0.25 * sigmoid(1));
    expect_counts(&r, 1, 1, 0, REASONS([REG_R_CLEAN_SHUTDOWN] = 1), T0 - HOUR, 0);
    expect_lengths(&r, 18000, 18000, 18000, 18000, 18000);
}

/* Closed sessions of the given lengths (minutes), back to back, unsorted. */
static void percentiles_of(void **state, const int *min, size_t n, double p10, double p50,
                           double p90)
{
    rel_session s[16];
    int64_t t = T0 - 2 * DAY;
    for (size_t i = 0; i < n; i++) {
        s[i] = closed(t, t + min[i] * MINUTE, REG_R_CLEAN_SHUTDOWN);
        t += min[i] * MINUTE + MINUTE;
    }
    rel_input in = input(s, n, T0, T0 - 3 * DAY, T0 - 30 * DAY);
    res r = run(state, &in);
    assert_near(r.f.p10_session_s, p10 * 60, EPS);
    assert_near(r.f.p50_session_s, p50 * 60, EPS);
    assert_near(r.f.p90_session_s, p90 * 60, EPS);
}

static void test_percentile_ties(void **state)
{
    percentiles_of(state, (int[]){2, 2, 3, 2, 2, 1, 2, 2, 2, 2}, 10, 1, 2, 2); /* ranks 1, 5, 9 */
    percentiles_of(state, (int[]){7, 7, 7, 7, 7, 9, 9, 9, 9, 9}, 10, 7, 7,
                   9);                                               /* rank 5: the last 7 */
    percentiles_of(state, (int[]){5, 1, 3}, 3, 1, 3, 5);             /* ranks 1, 2, 3 */
    percentiles_of(state, (int[]){2, 1}, 2, 1, 1, 2);                /* ranks 1, 1, 2 */
    percentiles_of(state, (int[]){7, 3, 5, 1, 6, 2, 4}, 7, 1, 4, 7); /* 6.3 -> 7: ceil, not round */
    percentiles_of(state, (int[]){6, 1, 5, 2, 4, 3}, 6, 1, 3, 6);    /* 5.4 -> 6 */
}

/* Every reason once, plus one outside the enum; which ones are failures. */
static void test_reasons(void **state)
{
    rel_session s[8];
    for (int k = 0; k < 8; k++)
        s[k] = closed(T0 - (20 - 2 * k) * HOUR, T0 - (19 - 2 * k) * HOUR, k);
    s[7].reason = 200; /* counts under none */
    rel_input in = input(s, 8, T0, T0 - 20 * HOUR, T0 - 30 * DAY);
    res r = run(state, &in);
    /* Failures: failed, timeout, restarted, evicted (the last one, k = 5). */
    expect_counts(&r, 8, 8, 4, REASONS(2, 1, 1, 1, 1, 1, 1), T0 - 5 * HOUR, T0 - 9 * HOUR);
    assert_near(r.f.mtbf_s, 8 * 3600.0 / 4, EPS);
    in.s = &s[6]; /* only the monitor gap: no failure, no penalty */
    in.n = 1;
    r = run(state, &in);
    assert_true(r.f.failures == 0 && r.f.last_failure_ms == 0);
    assert_int_equal(r.f.last_disconnect_ms, T0 - 7 * HOUR);
}

static void test_imported_history(void **state)
{
    rel_session s[3] = {
        closed(T0 - 30 * HOUR, T0 - 20 * HOUR, REG_R_CLEAN_SHUTDOWN),
        closed(T0 - 25 * HOUR, T0 - 15 * HOUR, REG_R_TIMEOUT), /* overlaps the first */
        open_at(T0 - 10 * HOUR),
    };
    s[0].imported = s[1].imported = true;
    rel_input in = input(s, 3, T0, T0 - 10 * HOUR, T0 - 12 * HOUR);
    res r = run(state, &in);
    /* Observed from the first imported opening, before vigild's first run;
     * up is the union [-30h, -15h) + [-10h, now). */
    assert_int_equal(r.f.observed_ms, 30 * HOUR);
    assert_int_equal(r.f.up_ms, 25 * HOUR);
    assert_near(r.f.uptime_pct, 25.0 / 30, EPS);
    assert_int_equal(r.f.failures, 1);
    in.first_seen_ms = 0; /* unknown: the imports alone give the first sighting */
    r = run(state, &in);
    assert_int_equal(r.f.observed_ms, 30 * HOUR);
    /* The same history not imported: vigild saw nothing before its first run. */
    s[0].imported = s[1].imported = false;
    in.first_seen_ms = T0 - 10 * HOUR;
    r = run(state, &in);
    assert_true(r.f.observed_ms == 10 * HOUR && r.f.up_ms == 10 * HOUR);
    in.first_seen_ms = T0 - 30 * HOUR;
    r = run(state, &in);
    assert_true(r.f.observed_ms == 12 * HOUR && r.f.up_ms == 10 * HOUR); /* from the first run */
}

static void test_gaps_from_runs(void **state)
{
    (void)state;
    const int64_t B = T0;
    /* Node a: [0,100) [300,400) [700,1000); node b: [50,250) [380,500) [600,650)
     * [650,700) (touching); one contained; two backwards (the instants 900,
     * inside a run, and 550, inside a gap: it measures nothing). */
    rel_run runs[] = {{B + 700, B + 1000}, {B + 50, B + 250},  {B + 300, B + 400},
                      {B + 600, B + 650},  {B + 0, B + 100},   {B + 380, B + 500},
                      {B + 650, B + 700},  {B + 120, B + 200}, {B + 900, B + 800},
                      {B + 550, B + 540}};
    rel_gap gaps[10];
    int64_t first = -1;
    assert_int_equal(rel_gaps_from_runs(runs, 10, gaps, &first), 2);
    assert_int_equal(first, B);
    assert_true(gaps[0].from_ms == B + 250 && gaps[0].to_ms == B + 300);
    assert_true(gaps[1].from_ms == B + 500 && gaps[1].to_ms == B + 600);
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
    rel_work *w = *state;
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
    assert_true(h[0][10] == 1.0 && h[0][11] == 1.0 && h[0][12] == 0.5);
    assert_true(h[0][13] == 0.0); /* 30 min observed, none up */
    /* Across Sunday -> Monday midnight; now at Monday 01:00 sharp. */
    s = closed(MON + 6 * DAY + 23 * HOUR + 30 * MINUTE, MON + 7 * DAY + 30 * MINUTE,
               REG_R_CLEAN_SHUTDOWN);
    in = input(&s, 1, MON + 7 * DAY + HOUR, MON + 6 * DAY + 23 * HOUR, MON - DAY);
    assert_int_equal(rel_hourly(&in, w, h), 0);
    assert_int_equal(count_observed(h), 2);
    assert_true(h[6][23] == 0.5 && h[0][0] == 0.5);
    /* Two whole weeks observed (not hour-aligned), up the first: 0.5 each. */
    int64_t now = MON + 14 * DAY + 37 * MINUTE;
    s = closed(now - 14 * DAY, now - 7 * DAY, REG_R_TIMEOUT);
    in = input(&s, 1, now, now - 20 * DAY, MON - 30 * DAY);
    assert_int_equal(rel_hourly(&in, w, h), 0);
    for (int d = 0; d < 7; d++)
        for (int k = 0; k < 24; k++)
            assert_true(h[d][k] == 0.5);
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
