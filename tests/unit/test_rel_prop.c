/* Property test of the reliability features: seeded random session sets
 * (gaps, reasons, open/closed, imports, unsorted, clocks going backwards)
 * checked for invariants and against brute-force oracles. Pure numbers, no
 * clock. The hand-computed cases are in test_rel.c. */
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

#define SAME(x) assert_true(same_d(a->x, b->x))
static void assert_same(const rel_features *a, const rel_features *b)
{
    SAME(uptime_pct), SAME(mtbf_s), SAME(p10_session_s), SAME(p50_session_s);
    SAME(p90_session_s), SAME(p_stays_4h), SAME(p_stays_8h), SAME(last_session_s);
    SAME(km_t_max_s), SAME(score);
    assert_true(a->up_ms == b->up_ms && a->observed_ms == b->observed_ms);
    assert_true(a->sessions_count == b->sessions_count && a->closed_count == b->closed_count);
    assert_true(a->failures == b->failures && a->last_failure_ms == b->last_failure_ms);
    assert_true(a->last_disconnect_ms == b->last_disconnect_ms);
    assert_memory_equal(a->reasons, b->reasons, sizeof a->reasons);
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

/* [o, e) as the spec clamps it: nothing past now, e = o if closed < opened. */
static void clamp(const rel_session *s, int64_t now, int64_t *o, int64_t *e)
{
    *o = s->opened_ms < now ? s->opened_ms : now;
    *e = s->closed_ms == 0 || s->closed_ms > now ? now : s->closed_ms;
    if (*e < *o) *e = *o;
}

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
            int64_t op, end;
            clamp(&in->s[i], now, &op, &end);
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
        int64_t op, end;
        clamp(s, now, &op, &end);
        if (s->closed_ms != 0 && (s->closed_ms < now ? s->closed_ms : now) < ws) continue;
        int64_t len = end - op;
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
    rng r = {0x9E3779B97F4A7C15ULL};
    rel_work *w1 = *state, *w2 = rel_work_new();
    assert_non_null(w2);
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
    rel_work_free(w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
