/* Unit tests for the in-memory reliability ranking (rank.h): API order,
 * every query filter, forget, p_stays from each worker's own curve, the fleet
 * distribution, then a seeded property test against a brute-force oracle.
 * Pure numbers, no clock: computed_ms and every figure are constants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "near.h"

#include "core/rank.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000000LL /* computed_ms of every rank here */
#define WINDOW (14LL * 86400 * 1000)
#define EPS 1e-12

/* Features with the figures rank looks at; the rest are plausible constants. */
static rel_features feat(double score, double uptime, double ps4, uint32_t sessions, double t_max)
{
    rel_features f;
    memset(&f, 0, sizeof f);
    f.score = score;
    f.uptime_pct = uptime;
    f.p_stays_4h = ps4;
    f.sessions_count = sessions;
    f.km_t_max_s = t_max;
    f.p10_session_s = f.p50_session_s = f.p90_session_s = f.last_session_s = NAN;
    return f;
}

static void add(rank *r, const char *id, const char *group, rel_features f, const rel_km_step *km,
                size_t nkm)
{
    assert_int_equal(rank_add(r, id, group, &f, km, nkm), 0);
}

/* ---- collecting a query's output ----------------------------------------- */

#define MAXGOT 64
typedef struct got {
    size_t n;
    const char *id[MAXGOT];
    double p[MAXGOT];
    size_t stop_after; /* 0: never stop */
} got;

static int collect(void *ctx, const rank_entry *e, double p)
{
    got *g = ctx;
    assert_true(g->n < MAXGOT);
    g->id[g->n] = e->worker_id;
    g->p[g->n] = p;
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

/* Run q and check the ids handed over, in order ("a,b,c"; "" for none), and
 * the total. Returns the collected rows for further checks. */
static got run(const rank *r, const rank_query *q, const char *want, size_t want_total)
{
    got g = {0};
    size_t total = 12345;
    size_t given = rank_query_run(r, q, &total, collect, &g);
    assert_int_equal(given, g.n);
    char ids[512] = "";
    for (size_t i = 0; i < g.n; i++) {
        size_t len = strlen(ids);
        snprintf(ids + len, sizeof ids - len, "%s%s", i ? "," : "", g.id[i]);
    }
    assert_string_equal(ids, want);
    assert_int_equal(total, want_total);
    return g;
}

/* ---- curves ----------------------------------------------------------------- */

/* A: S drops at 1 h, 2 h and 4 h; longest observation 20000 s. */
static const rel_km_step KM_A[] = {{3600, 0.75}, {7200, 0.5}, {14400, 0.25}};
#define KM_A_TMAX 20000.0
/* B: one drop at 30 min, which is also the longest observation. */
static const rel_km_step KM_B[] = {{1800, 0.5}};
#define KM_B_TMAX 1800.0
/* C: no event at all (every session censored), longest 5000 s. */
#define KM_C_TMAX 5000.0

/* Six workers in a known rank order w1..w6. */
static rank *fleet(void)
{
    rank *r = rank_new(T0, WINDOW);
    assert_non_null(r);
    /* Inserted out of order: the seal sorts. */
    add(r, "w4", "cpu", feat(0.4, 0.80, 0.3, 3, KM_B_TMAX), KM_B, 1);
    add(r, "w1", "gpu", feat(0.9, 0.99, 0.8, 5, KM_A_TMAX), KM_A, 3);
    add(r, "w6", "", feat(0.0, 0.0, 0.0, 0, KM_A_TMAX), KM_A, 3); /* no session: p 0 */
    add(r, "w3", "cpu", feat(0.6, 0.90, 0.5, 4, KM_A_TMAX), KM_A, 3);
    add(r, "w5", "gpu", feat(0.2, 0.50, 0.1, 2, KM_C_TMAX), NULL, 0);
    add(r, "w2", "gpu", feat(0.7, 0.95, 0.6, 6, KM_B_TMAX), KM_B, 1);
    assert_int_equal(rank_seal(r), 0);
    return r;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_order(void **state)
{
    (void)state;
    rank *r = rank_new(T0, WINDOW);
    assert_non_null(r);
    assert_int_equal(rank_computed_ms(r), T0);
    assert_int_equal(rank_window_ms(r), WINDOW);
    add(r, "b", "g", feat(0.5, 0.9, 0, 1, 10), NULL, 0);
    add(r, "g", "g", feat(NAN, NAN, 0, 1, 10), NULL, 0);
    add(r, "f", "g", feat(NAN, 0.5, 0, 1, 10), NULL, 0);
    add(r, "h", "g", feat(0.0, 0.0, 0, 1, 10), NULL, 0);
    add(r, "a", "g", feat(0.5, 0.9, 0, 1, 10), NULL, 0);
    add(r, "e", "g", feat(NAN, 1.0, 0, 1, 10), NULL, 0);
    add(r, "c", "g", feat(0.5, 0.95, 0, 1, 10), NULL, 0);
    add(r, "d", "g", feat(0.8, 0.1, 0, 1, 10), NULL, 0);
    add(r, "i", "g", feat(0.5, NAN, 0, 1, 10), NULL, 0);
    assert_int_equal(rank_size(r), 9);
    assert_null(rank_at(r, 0)); /* not sealed yet */
    assert_null(rank_find(r, "a"));

    assert_int_equal(rank_seal(r), 0);
    assert_int_equal(rank_seal(r), 0); /* twice is harmless */
    /* score desc (d 0.8; a, b, c, i 0.5; h 0; NAN last), then uptime desc
     * (c 0.95 before a, b 0.9; i's NAN uptime last among the 0.5s; e 1.0,
     * f 0.5, g NAN among the NAN scores), then id asc (a before b). */
    const char *want[] = {"d", "c", "a", "b", "i", "h", "e", "f", "g"};
    for (size_t i = 0; i < 9; i++) {
        const rank_entry *e = rank_at(r, i);
        assert_non_null(e);
        assert_string_equal(e->worker_id, want[i]);
        assert_string_equal(e->group, "g");
        assert_false(e->gone);
    }
    assert_null(rank_at(r, 9));
    rank_query q = {0};
    run(r, &q, "d,c,a,b,i,h,e,f,g", 9);
    /* A sealed rank takes no more entries. */
    rel_features f = feat(1, 1, 1, 1, 10);
    assert_int_equal(rank_add(r, "z", "g", &f, NULL, 0), -1);
    assert_int_equal(rank_size(r), 9);
    rank_free(r);
    rank_free(NULL);
}

static void test_entry_fields(void **state)
{
    (void)state;
    rank *r = fleet();
    const rank_entry *e = rank_find(r, "w3");
    assert_non_null(e);
    assert_string_equal(e->worker_id, "w3");
    assert_string_equal(e->group, "cpu");
    assert_near(e->f.score, 0.6, 0);
    assert_near(e->f.uptime_pct, 0.90, 0);
    assert_int_equal(e->f.sessions_count, 4);
    assert_true(isnan(e->f.p50_session_s));
    assert_int_equal(e->nkm, 3);
    const rel_km_step *km = rank_km(r, e);
    for (size_t i = 0; i < 3; i++) {
        assert_near(km[i].t_s, KM_A[i].t_s, 0);
        assert_near(km[i].s, KM_A[i].s, 0);
    }
    e = rank_find(r, "w2");
    assert_int_equal(e->nkm, 1);
    assert_near(rank_km(r, e)[0].t_s, 1800, 0);
    assert_int_equal(rank_find(r, "w5")->nkm, 0);
    assert_string_equal(rank_find(r, "w6")->group, ""); /* no group: "" */
    assert_string_equal(rank_at(r, 0)->worker_id, "w1");
    assert_string_equal(rank_at(r, 5)->worker_id, "w6");
    rank_free(r);
}

static void test_query_filters(void **state)
{
    (void)state;
    rank *r = fleet();
    rank_query q = {0};
    got g = run(r, &q, "w1,w2,w3,w4,w5,w6", 6);
    for (size_t i = 0; i < g.n; i++)
        assert_true(isnan(g.p[i])); /* no stays_for: p NAN */
    run(r, &q, "w1,w2,w3,w4,w5,w6", 6);
    assert_int_equal(rank_query_run(r, &q, NULL, collect, &(got){0}), 6); /* total may be NULL */

    /* group */
    q = (rank_query){.group = "gpu"};
    run(r, &q, "w1,w2,w5", 3);
    q = (rank_query){.group = "cpu"};
    run(r, &q, "w3,w4", 2);
    q = (rank_query){.group = "nope"};
    run(r, &q, "", 0);

    /* thresholds are inclusive */
    q = (rank_query){.min_uptime = 0.9};
    run(r, &q, "w1,w2,w3", 3);
    q = (rank_query){.min_uptime = 0.91};
    run(r, &q, "w1,w2", 2);
    q = (rank_query){.min_stays_4h = 0.5};
    run(r, &q, "w1,w2,w3", 3);
    q = (rank_query){.min_stays_4h = 0.1};
    run(r, &q, "w1,w2,w3,w4,w5", 5);
    q = (rank_query){.min_score = 0.6};
    run(r, &q, "w1,w2,w3", 3);
    q = (rank_query){.max_score = 0.6};
    run(r, &q, "w3,w4,w5,w6", 4);
    q = (rank_query){.max_score = 0}; /* 0 = unbounded */
    run(r, &q, "w1,w2,w3,w4,w5,w6", 6);
    q = (rank_query){.min_score = 0.3, .max_score = 0.7};
    run(r, &q, "w2,w3,w4", 3);
    q = (rank_query){.min_score = 0.95};
    run(r, &q, "", 0);

    /* stays_for: p from each entry's own curve. 10000 s: A -> 0.5 (last
     * step before is 7200 s); B -> 0 (past its 1800 s); C -> 0 (past 5000 s);
     * w6 has no session -> 0. */
    q = (rank_query){.stays_for_s = 10000};
    g = run(r, &q, "w1,w2,w3,w4,w5,w6", 6);
    const double p10k[] = {0.5, 0, 0.5, 0, 0, 0};
    for (size_t i = 0; i < 6; i++)
        assert_near(g.p[i], p10k[i], 0);
    q.min_p_stays = 0.5;
    run(r, &q, "w1,w3", 2);
    /* 4000 s: A -> 0.75, B -> 0, C -> 1 (no event, within 5000 s). */
    q = (rank_query){.stays_for_s = 4000, .min_p_stays = 0.7};
    g = run(r, &q, "w1,w3,w5", 3);
    assert_near(g.p[0], 0.75, 0);
    assert_near(g.p[1], 0.75, 0);
    assert_near(g.p[2], 1.0, 0);
    /* min_p_stays without stays_for does nothing. */
    q = (rank_query){.min_p_stays = 0.99};
    run(r, &q, "w1,w2,w3,w4,w5,w6", 6);

    /* limit: the first matches only, total counts them all. */
    q = (rank_query){.limit = 2};
    run(r, &q, "w1,w2", 6);
    q = (rank_query){.limit = 1, .group = "cpu"};
    run(r, &q, "w3", 2);
    q = (rank_query){.limit = 50, .group = "gpu"};
    run(r, &q, "w1,w2,w5", 3);
    q = (rank_query){.limit = 2, .stays_for_s = 4000, .min_p_stays = 0.7};
    run(r, &q, "w1,w3", 3);

    /* Everything at once. */
    q = (rank_query){.group = "gpu",
                     .min_uptime = 0.5,
                     .min_stays_4h = 0.1,
                     .min_score = 0.2,
                     .max_score = 0.9,
                     .stays_for_s = 4000,
                     .min_p_stays = 0.5};
    run(r, &q, "w1,w5", 2);

    /* A callback may stop the walk: it still counts as handed over, and
     * total still counts every match. */
    got s = {.stop_after = 2};
    size_t total = 0;
    q = (rank_query){0};
    assert_int_equal(rank_query_run(r, &q, &total, collect, &s), 2);
    assert_int_equal(s.n, 2);
    assert_int_equal(total, 6);
    rank_free(r);
}

static void test_find_forget(void **state)
{
    (void)state;
    rank *r = fleet();
    assert_null(rank_find(r, "w0"));
    assert_null(rank_find(r, "w7"));
    assert_null(rank_find(r, ""));
    for (int i = 1; i <= 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "w%d", i);
        const rank_entry *e = rank_find(r, id);
        assert_non_null(e);
        assert_string_equal(e->worker_id, id);
    }

    assert_false(rank_forget(r, "nobody"));
    assert_true(rank_forget(r, "w3"));
    assert_false(rank_forget(r, "w3")); /* twice: it was not there any more */
    assert_null(rank_find(r, "w3"));
    assert_int_equal(rank_size(r), 6);   /* the slot stays, flagged */
    assert_true(rank_at(r, 2)->gone);    /* w3's place in rank order */
    assert_non_null(rank_find(r, "w4")); /* neighbours are untouched */

    rank_query q = {0};
    run(r, &q, "w1,w2,w4,w5,w6", 5);
    q = (rank_query){.group = "cpu"};
    run(r, &q, "w4", 1);
    q = (rank_query){.limit = 2, .min_score = 0.3};
    run(r, &q, "w1,w2", 3);

    rank_dist d;
    assert_int_equal(rank_distribution(r, "cpu", &d), 0);
    assert_int_equal(d.n, 1);
    assert_near(d.score_mean, 0.4, EPS);
    assert_int_equal(rank_distribution(r, NULL, &d), 0);
    assert_int_equal(d.n, 5);
    assert_near(d.score_mean, (0.9 + 0.7 + 0.4 + 0.2 + 0.0) / 5, EPS);

    /* Forgetting before the seal finds nothing (there is no index yet). */
    rank *u = rank_new(T0, WINDOW);
    add(u, "x", "g", feat(0.5, 0.5, 0, 1, 10), NULL, 0);
    assert_false(rank_forget(u, "x"));
    assert_int_equal(rank_seal(u), 0);
    assert_true(rank_forget(u, "x"));
    rank_free(u);
    rank_free(r);
}

static void test_p_stays(void **state)
{
    (void)state;
    rank *r = fleet();
    const rank_entry *a = rank_find(r, "w1"), *b = rank_find(r, "w2"), *c = rank_find(r, "w5"),
                     *none = rank_find(r, "w6");
    /* A: S just before h = the step of the last event time < h. */
    const struct {
        double h, p;
    } ca[] = {{1, 1.0},     {3600, 1.0},   {3600.5, 0.75},    {7200, 0.75},   {7201, 0.5},
              {14400, 0.5}, {14401, 0.25}, {KM_A_TMAX, 0.25}, {20000.5, 0.0}, {86400, 0.0}};
    for (size_t i = 0; i < sizeof ca / sizeof ca[0]; i++)
        assert_near(rank_p_stays(r, a, ca[i].h), ca[i].p, 0);
    /* B: the event at t_max itself: P(T >= 1800) = 1, anything longer 0. */
    assert_near(rank_p_stays(r, b, 1000), 1.0, 0);
    assert_near(rank_p_stays(r, b, 1800), 1.0, 0);
    assert_near(rank_p_stays(r, b, 1800.5), 0.0, 0);
    /* C: no step at all: 1 up to t_max, 0 past it. */
    assert_near(rank_p_stays(r, c, 4999), 1.0, 0);
    assert_near(rank_p_stays(r, c, 5000), 1.0, 0);
    assert_near(rank_p_stays(r, c, 5001), 0.0, 0);
    /* A worker with no session in the window: 0 whatever its curve says. */
    assert_near(rank_p_stays(r, none, 1), 0.0, 0);
    assert_near(rank_p_stays(r, none, 10000), 0.0, 0);
    /* No horizon: NAN. */
    assert_true(isnan(rank_p_stays(r, a, NAN)));
    rank_free(r);

    /* An empty sample (t_max NAN) with sessions: 0. */
    rank *e = rank_new(T0, WINDOW);
    add(e, "x", "g", feat(0.1, 0.1, 0, 1, NAN), NULL, 0);
    assert_int_equal(rank_seal(e), 0);
    assert_near(rank_p_stays(e, rank_find(e, "x"), 10), 0.0, 0);
    rank_free(e);
}

/* 10 workers in group "g" with hand-picked figures, 2 in "other". */
static rank *dist_fleet(void)
{
    static const double up[10] = {1.0, 0.0, 0.55, 0.25, 0.75, 0.92, 0.12, 0.97, 0.35, 0.62};
    static const double sc[10] = {0.05, 0.15, 0.45, 0.45, 0.85, 1.0, 0.33, 0.72, 0.65, 0.22};
    rank *r = rank_new(T0, WINDOW);
    for (int i = 0; i < 10; i++) {
        char id[8];
        snprintf(id, sizeof id, "g%02d", i);
        add(r, id, "g", feat(sc[i], up[i], 0, 1, 10), NULL, 0);
    }
    add(r, "o1", "other", feat(0.0, 0.0, 0, 1, 10), NULL, 0);
    add(r, "o2", "other", feat(0.5, 0.5, 0, 1, 10), NULL, 0);
    assert_int_equal(rank_seal(r), 0);
    return r;
}

static void test_distribution(void **state)
{
    (void)state;
    rank *r = dist_fleet();
    rank_dist d;
    /* Uptime sorted: 0 .12 .25 .35 .55 .62 .75 .92 .97 1; sum 5.53.
     * Nearest rank of 10: p10 -> 1st, p25 -> 3rd, p50 -> 5th, p75 -> 8th,
     * p90 -> 9th. */
    assert_int_equal(rank_distribution(r, "g", &d), 0);
    assert_int_equal(d.n, 10);
    assert_near(d.uptime_mean, 0.553, EPS);
    const double up_p[5] = {0.0, 0.25, 0.55, 0.92, 0.97};
    for (int k = 0; k < 5; k++)
        assert_near(d.uptime_p[k], up_p[k], 0);
    /* Bins [k/10, (k+1)/10): 0 | .12 | .25 | .35 | - | .55 | .62 | .75 | - |
     * .92 .97 and 1.0 (the top value lands in the last bin). */
    const uint32_t up_h[RANK_DIST_BINS] = {1, 1, 1, 1, 0, 1, 1, 1, 0, 3};
    for (int k = 0; k < RANK_DIST_BINS; k++)
        assert_int_equal(d.uptime_hist[k], up_h[k]);
    /* Score sorted: .05 .15 .22 .33 .45 .45 .65 .72 .85 1; sum 4.87. */
    assert_near(d.score_mean, 0.487, EPS);
    const double sc_p[5] = {0.05, 0.22, 0.45, 0.72, 0.85};
    for (int k = 0; k < 5; k++)
        assert_near(d.score_p[k], sc_p[k], 0);
    const uint32_t sc_h[RANK_DIST_BINS] = {1, 1, 1, 1, 2, 0, 1, 1, 1, 1};
    for (int k = 0; k < RANK_DIST_BINS; k++)
        assert_int_equal(d.score_hist[k], sc_h[k]);

    /* Two values: p10, p25 and p50 -> 1st; p75 and p90 -> 2nd. */
    assert_int_equal(rank_distribution(r, "other", &d), 0);
    assert_int_equal(d.n, 2);
    assert_near(d.uptime_mean, 0.25, EPS);
    assert_near(d.score_mean, 0.25, EPS);
    const double two[5] = {0.0, 0.0, 0.0, 0.5, 0.5};
    for (int k = 0; k < 5; k++) {
        assert_near(d.uptime_p[k], two[k], 0);
        assert_near(d.score_p[k], two[k], 0);
    }
    assert_int_equal(d.uptime_hist[0], 1);
    assert_int_equal(d.uptime_hist[5], 1);

    /* The whole fleet. */
    assert_int_equal(rank_distribution(r, NULL, &d), 0);
    assert_int_equal(d.n, 12);
    assert_near(d.uptime_mean, (5.53 + 0.5) / 12, EPS);
    assert_near(d.score_mean, (4.87 + 0.5) / 12, EPS);
    /* 12 values: p50 -> 6th of 0 0 .12 .25 .35 .5 .55 ...; p90 -> ceil(10.8) = 11th. */
    assert_near(d.uptime_p[2], 0.5, 0);
    assert_near(d.uptime_p[4], 0.97, 0);
    uint32_t sum = 0;
    for (int k = 0; k < RANK_DIST_BINS; k++)
        sum += d.uptime_hist[k];
    assert_int_equal(sum, 12);
    assert_int_equal(d.uptime_hist[0], 2);
    assert_int_equal(d.uptime_hist[5], 2);

    /* No such group: nothing, NAN figures, empty histogram. */
    assert_int_equal(rank_distribution(r, "nope", &d), 0);
    assert_int_equal(d.n, 0);
    assert_true(isnan(d.uptime_mean));
    assert_true(isnan(d.score_mean));
    for (int k = 0; k < 5; k++) {
        assert_true(isnan(d.uptime_p[k]));
        assert_true(isnan(d.score_p[k]));
    }
    for (int k = 0; k < RANK_DIST_BINS; k++)
        assert_int_equal(d.uptime_hist[k] + d.score_hist[k], 0);
    rank_free(r);
}

static void test_empty(void **state)
{
    (void)state;
    rank *r = rank_new(T0, 0);
    assert_non_null(r);
    assert_int_equal(rank_seal(r), 0);
    assert_int_equal(rank_size(r), 0);
    assert_int_equal(rank_window_ms(r), 0);
    assert_null(rank_at(r, 0));
    assert_null(rank_find(r, "x"));
    assert_false(rank_forget(r, "x"));
    rank_query q = {0};
    run(r, &q, "", 0);
    q = (rank_query){.group = "g", .stays_for_s = 100, .limit = 5};
    run(r, &q, "", 0);
    rank_dist d;
    memset(&d, 0xff, sizeof d);
    assert_int_equal(rank_distribution(r, NULL, &d), 0);
    assert_int_equal(d.n, 0);
    assert_true(isnan(d.uptime_mean));
    assert_true(isnan(d.score_mean));
    assert_true(isnan(d.uptime_p[2]));
    for (int k = 0; k < RANK_DIST_BINS; k++)
        assert_int_equal(d.uptime_hist[k] + d.score_hist[k], 0);
    rank_free(r);
}

/* ---- property test ------------------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) /* xorshift64* */
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static uint32_t below(rng *r, uint32_t n)
{
    return (uint32_t)(next(r) % n);
}

#define NRAND 5000
#define MAXSTEP 4

typedef struct ref {
    char id[16];
    const char *group;
    rel_features f;
    rel_km_step km[MAXSTEP];
    size_t nkm;
} ref;

static const char *const GROUPS[] = {"", "alpha", "beta", "gamma"};

/* Figures from a small grid, so ties are common. (NAN figures are covered
 * by test_order; what a threshold does with one is not part of the contract.) */
static double grid(rng *r)
{
    return below(r, 11) / 10.0;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The oracle: P(T >= h) written out directly. */
static double ref_p(const ref *x, double h)
{
    if (x->f.sessions_count == 0 || !(x->f.km_t_max_s >= 0) || h > x->f.km_t_max_s) return 0;
    double p = 1;
    for (size_t k = 0; k < x->nkm; k++)
        if (x->km[k].t_s < h) p = x->km[k].s;
    return p;
}

static bool ref_match(const ref *x, const rank_query *q, bool gone)
{
    const rel_features *f = &x->f;
    if (gone || (q->group && strcmp(q->group, x->group) != 0)) return false;
    if (f->uptime_pct < q->min_uptime || f->p_stays_4h < q->min_stays_4h ||
        f->score < q->min_score || (q->max_score > 0 && f->score > q->max_score))
        return false;
    return !(q->stays_for_s > 0) || !(ref_p(x, q->stays_for_s) < q->min_p_stays);
}

/* -1, 0, 1: a before, tied with, after b, descending with NAN last. */
static int desc_nan_last(double a, double b)
{
    if (isnan(a) || isnan(b)) return !!isnan(a) - !!isnan(b);
    return a > b ? -1 : a < b ? 1 : 0;
}

typedef struct walk {
    const rank_entry *prev;
    size_t n;
    const ref *refs;
    const char **expect; /* ids the oracle expects, in order */
    double h;
} walk;

static int check_walk(void *ctx, const rank_entry *e, double p)
{
    walk *w = ctx;
    if (w->prev) {
        int c = desc_nan_last(w->prev->f.score, e->f.score);
        if (!c) c = desc_nan_last(w->prev->f.uptime_pct, e->f.uptime_pct);
        if (!c) c = strcmp(w->prev->worker_id, e->worker_id) < 0 ? -1 : 1;
        assert_int_equal(c, -1); /* strictly in API order */
    }
    assert_string_equal(e->worker_id, w->expect[w->n]);
    const ref *x = &w->refs[atoi(e->worker_id + 1)];
    if (w->h > 0)
        assert_near(p, ref_p(x, w->h), 0);
    else
        assert_true(isnan(p));
    w->prev = e;
    w->n++;
    return 0;
}

static void test_random(void **state)
{
    (void)state;
    rng g = {0x9E3779B97F4A7C15ULL};
    ref *refs = calloc(NRAND, sizeof *refs);
    bool *gone = calloc(NRAND, sizeof *gone);
    const char **expect = malloc(NRAND * sizeof *expect);
    uint32_t *perm = malloc(NRAND * sizeof *perm);
    assert_true(refs && gone && expect && perm);
    for (uint32_t i = 0; i < NRAND; i++) {
        ref *x = &refs[i];
        snprintf(x->id, sizeof x->id, "w%05u", i);
        x->group = GROUPS[below(&g, 4)];
        uint32_t sessions = below(&g, 8) == 0 ? 0 : 1 + below(&g, 20);
        double t_max = below(&g, 10) == 0 ? NAN : 600.0 * (1 + below(&g, 40));
        x->f = feat(grid(&g), grid(&g), grid(&g), sessions, t_max);
        x->nkm = isnan(t_max) ? 0 : below(&g, MAXSTEP + 1);
        double t = 0, s = 1;
        for (size_t k = 0; k < x->nkm; k++) {
            t += 600.0 * (1 + below(&g, 8));
            s *= (1 + below(&g, 9)) / 10.0;
            x->km[k] = (rel_km_step){t, s};
        }
        perm[i] = i;
    }
    for (uint32_t i = NRAND - 1; i > 0; i--) { /* insert in a shuffled order */
        uint32_t j = below(&g, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    rank *r = rank_new(T0, WINDOW);
    for (uint32_t i = 0; i < NRAND; i++) {
        const ref *x = &refs[perm[i]];
        add(r, x->id, x->group, x->f, x->km, x->nkm);
    }
    assert_int_equal(rank_seal(r), 0);
    assert_int_equal(rank_size(r), NRAND);

    /* Every id exactly once, and findable. */
    for (uint32_t i = 0; i < NRAND; i++)
        gone[i] = false;
    for (size_t i = 0; i < NRAND; i++) {
        uint32_t k = (uint32_t)atoi(rank_at(r, i)->worker_id + 1);
        assert_false(gone[k]);
        gone[k] = true;
        assert_ptr_equal(rank_find(r, refs[k].id), rank_at(r, i));
    }
    /* Forget a few hundred. */
    for (uint32_t i = 0; i < NRAND; i++)
        gone[i] = below(&g, 16) == 0;
    for (uint32_t i = 0; i < NRAND; i++)
        if (gone[i]) assert_true(rank_forget(r, refs[i].id));

    for (int round = 0; round < 200; round++) {
        rank_query q = {0};
        if (below(&g, 3) == 0) q.group = GROUPS[below(&g, 4)];
        if (below(&g, 3) == 0) q.min_uptime = below(&g, 11) / 10.0;
        if (below(&g, 3) == 0) q.min_stays_4h = below(&g, 11) / 10.0;
        if (below(&g, 3) == 0) q.min_score = below(&g, 11) / 10.0;
        if (below(&g, 3) == 0) q.max_score = below(&g, 11) / 10.0;
        if (below(&g, 2) == 0) {
            q.stays_for_s = 300.0 * (1 + below(&g, 100));
            if (below(&g, 2) == 0) q.min_p_stays = below(&g, 11) / 10.0;
        }
        if (below(&g, 2) == 0) q.limit = 1 + below(&g, 300);

        /* Oracle: walk the rank order and keep what matches. */
        size_t want_total = 0, want_given = 0;
        for (size_t i = 0; i < NRAND; i++) {
            const rank_entry *e = rank_at(r, i);
            uint32_t k = (uint32_t)atoi(e->worker_id + 1);
            if (!ref_match(&refs[k], &q, gone[k])) continue;
            want_total++;
            if (!q.limit || want_given < q.limit) expect[want_given++] = e->worker_id;
        }
        /* And the total again, by brute force over the inputs alone. */
        size_t brute = 0;
        for (uint32_t k = 0; k < NRAND; k++)
            brute += ref_match(&refs[k], &q, gone[k]);
        assert_int_equal(brute, want_total);

        walk w = {.refs = refs, .expect = expect, .h = q.stays_for_s};
        size_t total = 0;
        assert_int_equal(rank_query_run(r, &q, &total, check_walk, &w), want_given);
        assert_int_equal(w.n, want_given);
        assert_int_equal(total, want_total);
    }

    /* The distribution of one group against the same inputs. */
    rank_dist d;
    assert_int_equal(rank_distribution(r, "alpha", &d), 0);
    size_t n = 0;
    double su = 0, ss = 0, *u = malloc(NRAND * sizeof *u), *sc = malloc(NRAND * sizeof *sc);
    uint32_t uh[RANK_DIST_BINS] = {0}, sh[RANK_DIST_BINS] = {0};
    assert_true(u && sc);
    for (uint32_t k = 0; k < NRAND; k++) {
        if (gone[k] || strcmp(refs[k].group, "alpha") != 0) continue;
        u[n] = refs[k].f.uptime_pct;
        sc[n] = refs[k].f.score;
        su += u[n];
        ss += sc[n];
        int bu = (int)lround(u[n] * 10), bs = (int)lround(sc[n] * 10); /* grid: k/10 */
        uh[bu > 9 ? 9 : bu]++;
        sh[bs > 9 ? 9 : bs]++;
        n++;
    }
    assert_true(n > 1000);
    assert_int_equal(d.n, n);
    assert_near(d.uptime_mean, su / (double)n, 1e-9);
    assert_near(d.score_mean, ss / (double)n, 1e-9);
    for (int k = 0; k < RANK_DIST_BINS; k++) {
        assert_int_equal(d.uptime_hist[k], uh[k]);
        assert_int_equal(d.score_hist[k], sh[k]);
    }
    qsort(u, n, sizeof *u, cmp_dbl);
    qsort(sc, n, sizeof *sc, cmp_dbl);
    static const size_t ps[5] = {10, 25, 50, 75, 90};
    for (int k = 0; k < 5; k++) {
        size_t rk = (ps[k] * n + 99) / 100; /* nearest rank, in integers */
        assert_near(d.uptime_p[k], u[rk - 1], 0);
        assert_near(d.score_p[k], sc[rk - 1], 0);
    }
    free(u);
    free(sc);
    rank_free(r);
    free(refs);
    free(gone);
    free(expect);
    free(perm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),         cmocka_unit_test(test_entry_fields),
        cmocka_unit_test(test_query_filters), cmocka_unit_test(test_find_forget),
        cmocka_unit_test(test_p_stays),       cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_empty),         cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
