/* Unit tests for task latency aggregation: percentiles, buckets, flush, the
 * reservoir, the group cap, bad input and concurrent adds. Time is passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tlat.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795426800000LL /* 2026-11-23T09:40:00Z, a bucket boundary */

/* Collects flushed rows. */
typedef struct sink {
    tlat_row rows[64];
    size_t n;
    int refuse; /* refuse this many rows before taking any */
} sink;

static int collect(void *ctx, const tlat_row *row)
{
    sink *s = ctx;
    if (s->refuse > 0) {
        s->refuse--;
        return -1;
    }
    if (s->n < sizeof s->rows / sizeof *s->rows) s->rows[s->n] = *row;
    s->n++;
    return 0;
}

static const tlat_row *find_row(const sink *s, const char *group, int64_t bucket_ms)
{
    for (size_t i = 0; i < s->n && i < sizeof s->rows / sizeof *s->rows; i++)
        if (strcmp(s->rows[i].group, group) == 0 && s->rows[i].bucket_ms == bucket_ms)
            return &s->rows[i];
    return NULL;
}

static void summarise(const double *in, size_t n, tlat_row *out)
{
    double buf[256];
    double sum = 0, min = n ? in[0] : 0, max = n ? in[0] : 0;
    for (size_t i = 0; i < n; i++) {
        buf[i] = in[i];
        sum += in[i];
        if (in[i] < min) min = in[i];
        if (in[i] > max) max = in[i];
    }
    memset(out, 0, sizeof *out);
    tlat_summarise(buf, n, n, sum, min, max, out);
}

static void test_nearest_rank_by_hand(void **state)
{
    (void)state;
    tlat_row r;
    /* n = 1: every percentile is the one sample */
    summarise((double[]){7}, 1, &r);
    assert_true(r.p50_ms == 7 && r.p90_ms == 7 && r.p95_ms == 7 && r.p99_ms == 7);
    assert_true(r.mean_ms == 7 && r.min_ms == 7 && r.max_ms == 7);
    /* n = 2: p50 rank ceil(1.0) = 1; p90 rank ceil(1.8) = 2 */
    summarise((double[]){20, 10}, 2, &r);
    assert_true(r.p50_ms == 10 && r.p90_ms == 20 && r.p95_ms == 20 && r.p99_ms == 20);
    assert_true(r.mean_ms == 15);
    /* ties: sorted 1 5 5 5 9; p50 rank ceil(2.5) = 3; p90 rank ceil(4.5) = 5 */
    summarise((double[]){5, 9, 5, 1, 5}, 5, &r);
    assert_true(r.p50_ms == 5 && r.p90_ms == 9 && r.p95_ms == 9 && r.p99_ms == 9);
    assert_true(r.mean_ms == 5 && r.min_ms == 1 && r.max_ms == 9);
    /* n = 10 (10..100): ranks 5, 9, ceil(9.5) = 10, ceil(9.9) = 10 */
    summarise((double[]){100, 90, 80, 70, 60, 50, 40, 30, 20, 10}, 10, &r);
    assert_true(r.p50_ms == 50 && r.p90_ms == 90 && r.p95_ms == 100 && r.p99_ms == 100);
    assert_true(r.mean_ms == 55);
    /* n = 20 (1..20): p95's rank is exactly 19, p99's ceil(19.8) = 20 */
    double v[100];
    for (int i = 0; i < 20; i++)
        v[i] = 20 - i;
    summarise(v, 20, &r);
    assert_true(r.p50_ms == 10 && r.p90_ms == 18 && r.p95_ms == 19 && r.p99_ms == 20);
    /* n = 100 (1..100, shuffled by a stride coprime to 100): p = value */
    for (int i = 0; i < 100; i++)
        v[i] = (double)(i * 37 % 100 + 1);
    summarise(v, 100, &r);
    assert_true(r.p50_ms == 50 && r.p90_ms == 90 && r.p95_ms == 95 && r.p99_ms == 99);
    assert_true(r.mean_ms == 50.5 && r.min_ms == 1 && r.max_ms == 100);
    /* nothing kept: zeros, not garbage */
    summarise(NULL, 0, &r);
    assert_true(r.count == 0 && r.mean_ms == 0 && r.p99_ms == 0);
}

static void test_add_and_flush_stats(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    assert_non_null(t);
    double v[] = {12.5, 3.25, 40, 3.25, 100};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(tlat_add(t, "inference", T0 + 1000 + (int64_t)i, v[i]), TLAT_OK);
    assert_int_equal(tlat_add_many(t, "", T0 + 2000, v, 2), TLAT_OK); /* no group */
    assert_int_equal(tlat_open_groups(t), 2);
    sink s = {0};
    assert_int_equal(tlat_flush(t, T0 + TLAT_BUCKET_MS, false, collect, &s), 2);
    const tlat_row *r = find_row(&s, "inference", T0);
    assert_non_null(r);
    assert_int_equal(r->count, 5);
    assert_true(r->mean_ms == 31.8 && r->min_ms == 3.25 && r->max_ms == 100);
    assert_true(r->p50_ms == 12.5 && r->p90_ms == 100 && r->p99_ms == 100);
    r = find_row(&s, "", T0);
    assert_non_null(r);
    assert_int_equal(r->count, 2);
    assert_true(r->mean_ms == 7.875);
    assert_int_equal(tlat_open_groups(t), 0);
    tlat_free(t);
}

/* A peek summarises the open buckets and leaves them open: the flush that
 * follows hands over the same figures (plus what came after the peek). */
static void test_peek(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    assert_non_null(t);
    double v[] = {10, 20, 30, 40};
    assert_int_equal(tlat_add_many(t, "a", T0 + 5, v, 4), TLAT_OK);
    assert_int_equal(tlat_add(t, "b", T0 + 6, 7), TLAT_OK);
    sink s = {0};
    assert_int_equal(tlat_peek(t, NULL, collect, &s), 2);
    const tlat_row *r = find_row(&s, "a", T0);
    assert_non_null(r);
    assert_int_equal(r->count, 4);
    assert_true(r->mean_ms == 25 && r->p50_ms == 20 && r->max_ms == 40);
    sink one = {0};
    assert_int_equal(tlat_peek(t, "b", collect, &one), 1);
    assert_string_equal(one.rows[0].group, "b");
    assert_int_equal(tlat_peek(t, "nobody", collect, &one), 0);
    assert_int_equal(tlat_open_groups(t), 2); /* still open */
    assert_int_equal(tlat_add(t, "a", T0 + 7, 50), TLAT_OK);
    sink f = {0};
    assert_int_equal(tlat_flush(t, T0 + TLAT_BUCKET_MS, false, collect, &f), 2);
    r = find_row(&f, "a", T0);
    assert_int_equal(r->count, 5);
    assert_true(r->mean_ms == 30 && r->p50_ms == 30);
    assert_int_equal(tlat_peek(t, NULL, collect, &f), 0); /* nothing open any more */
    tlat_free(t);
}

static void test_bucket_alignment_and_timing(void **state)
{
    (void)state;
    assert_int_equal(tlat_bucket_of(0), 0);
    assert_int_equal(tlat_bucket_of(29999), 0);
    assert_int_equal(tlat_bucket_of(30000), 30000);
    assert_int_equal(tlat_bucket_of(-1), -30000);
    assert_int_equal(tlat_bucket_of(T0 + 12345), T0);

    tlat *t = tlat_new();
    sink s = {0};
    assert_int_equal(tlat_add(t, "g", T0 + 12345, 5), TLAT_OK);
    assert_int_equal(tlat_add(t, "g", T0 + 29999, 7), TLAT_OK);
    /* still open at its last millisecond */
    assert_int_equal(tlat_flush(t, T0 + 29999, false, collect, &s), 0);
    assert_int_equal(tlat_flush(t, T0 + 30000, false, collect, &s), 1);
    assert_int_equal(s.rows[0].bucket_ms, T0);
    assert_int_equal(s.rows[0].count, 2);
    /* forgotten once handed over */
    assert_int_equal(tlat_flush(t, T0 + 90000, false, collect, &s), 0);
    assert_int_equal(tlat_open_groups(t), 0);
    tlat_free(t);
}

static void test_rollover_and_clock_step_back(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    sink s = {0};
    assert_int_equal(tlat_add(t, "g", T0 + 100, 1), TLAT_OK);
    assert_int_equal(tlat_add(t, "g", T0 + 200, 2), TLAT_OK);
    /* a later window: the first bucket is queued closed, not lost */
    assert_int_equal(tlat_add(t, "g", T0 + 30000 + 5, 10), TLAT_OK);
    /* the clock steps back: the sample joins the open (later) bucket */
    assert_int_equal(tlat_add(t, "g", T0 + 300, 20), TLAT_OK);
    assert_int_equal(tlat_open_groups(t), 1);
    /* the closed bucket goes out even though now is its own window's */
    assert_int_equal(tlat_flush(t, T0 + 400, false, collect, &s), 1);
    assert_int_equal(s.rows[0].bucket_ms, T0);
    assert_int_equal(s.rows[0].count, 2);
    assert_true(s.rows[0].max_ms == 2);
    assert_int_equal(tlat_flush(t, T0 + 59999, false, collect, &s), 0);
    assert_int_equal(tlat_flush(t, T0 + 60000, false, collect, &s), 1);
    assert_int_equal(s.rows[1].bucket_ms, T0 + 30000);
    assert_int_equal(s.rows[1].count, 2);
    assert_true(s.rows[1].min_ms == 10 && s.rows[1].max_ms == 20 && s.rows[1].mean_ms == 15);
    /* several windows skipped at once: only the buckets that saw samples */
    assert_int_equal(tlat_add(t, "g", T0 + 60000, 1), TLAT_OK);
    assert_int_equal(tlat_add(t, "g", T0 + 10 * 30000LL, 1), TLAT_OK);
    assert_int_equal(tlat_flush(t, T0 + 11 * 30000LL, false, collect, &s), 2);
    assert_non_null(find_row(&s, "g", T0 + 60000));
    assert_non_null(find_row(&s, "g", T0 + 10 * 30000LL));
    tlat_free(t);
}

static void test_flush_all_and_refusal(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    char g[16];
    for (int i = 0; i < 10; i++) {
        snprintf(g, sizeof g, "grp-%d", i);
        assert_int_equal(tlat_add(t, g, T0 + 5, i), TLAT_OK);
    }
    assert_int_equal(tlat_add(t, "grp-0", T0 + 30000, 1), TLAT_OK); /* one closed too */
    sink s = {0};
    /* nothing has closed by the clock, but `all` takes everything */
    s.refuse = 1; /* the sink is full: nothing is lost, all stays queued */
    assert_int_equal(tlat_flush(t, T0 + 30001, true, collect, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(tlat_flush(t, T0 + 30001, true, collect, &s), 11);
    assert_int_equal(tlat_open_groups(t), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(g, sizeof g, "grp-%d", i);
        const tlat_row *r = find_row(&s, g, T0);
        assert_non_null(r);
        assert_int_equal(r->count, 1);
        assert_true(r->p50_ms == i);
    }
    assert_non_null(find_row(&s, "grp-0", T0 + 30000));
    assert_int_equal(tlat_flush(t, T0 + 30001, true, collect, &s), 0);
    tlat_free(t);
}

/* 10,000 samples: the uniform sequence 0..9999, ascending, so the first
 * 4096 alone (0..4095) would give p50 2048: only a true reservoir passes. */
static void reservoir_run(tlat_row *out)
{
    tlat *t = tlat_new();
    for (int i = 0; i < 10000; i++)
        assert_int_equal(tlat_add(t, "big", T0 + i, (double)i), TLAT_OK);
    sink s = {0};
    assert_int_equal(tlat_flush(t, T0 + 30000, false, collect, &s), 1);
    *out = s.rows[0];
    tlat_free(t);
}

static void test_reservoir(void **state)
{
    (void)state;
    tlat_row a, b;
    reservoir_run(&a);
    /* exact whatever the reservoir kept */
    assert_int_equal(a.count, 10000);
    assert_true(a.min_ms == 0 && a.max_ms == 9999 && a.mean_ms == 4999.5);
    /* a uniform sample of 4096: the standard error of p50 is ~60 here */
    assert_true(fabs(a.p50_ms - 5000) < 400);
    assert_true(fabs(a.p90_ms - 9000) < 300);
    assert_true(fabs(a.p95_ms - 9500) < 250);
    assert_true(fabs(a.p99_ms - 9900) < 150);
    /* same input, same order: the same row */
    reservoir_run(&b);
    assert_int_equal(b.count, a.count);
    assert_true(a.p50_ms == b.p50_ms && a.p90_ms == b.p90_ms && a.p95_ms == b.p95_ms &&
                a.p99_ms == b.p99_ms && a.mean_ms == b.mean_ms);
}

static void test_exact_up_to_the_limit(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    /* exactly TLAT_EXACT_MAX samples, 1..4096 descending: percentiles exact */
    for (int i = TLAT_EXACT_MAX; i >= 1; i--)
        assert_int_equal(tlat_add(t, "x", T0, i), TLAT_OK);
    sink s = {0};
    assert_int_equal(tlat_flush(t, T0 + 30000, false, collect, &s), 1);
    /* ranks ceil(0.5*4096)=2048, ceil(3686.4)=3687, ceil(3891.2)=3892, ceil(4055.04)=4056 */
    assert_true(s.rows[0].p50_ms == 2048 && s.rows[0].p90_ms == 3687);
    assert_true(s.rows[0].p95_ms == 3892 && s.rows[0].p99_ms == 4056);
    tlat_free(t);
}

static void test_group_cap(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    char g[32];
    for (int i = 0; i < TLAT_GROUPS_MAX; i++) {
        snprintf(g, sizeof g, "g%d", i);
        assert_int_equal(tlat_add(t, g, T0, 1), TLAT_OK);
    }
    assert_int_equal(tlat_open_groups(t), TLAT_GROUPS_MAX);
    assert_int_equal(tlat_add(t, "one-too-many", T0, 1), TLAT_FULL);
    assert_int_equal(tlat_add_many(t, "", T0, (double[]){1}, 1), TLAT_FULL);
    /* groups already open still take samples, and may roll over */
    assert_int_equal(tlat_add(t, "g7", T0, 2), TLAT_OK);
    assert_int_equal(tlat_add(t, "g8", T0 + 30000, 2), TLAT_OK);
    assert_int_equal(tlat_open_groups(t), TLAT_GROUPS_MAX);
    /* once the old buckets are flushed there is room again */
    sink s = {0};
    assert_int_equal(tlat_flush(t, T0 + 30000, false, collect, &s), TLAT_GROUPS_MAX);
    assert_int_equal(tlat_open_groups(t), 1); /* g8's new bucket */
    assert_int_equal(tlat_add(t, "one-too-many", T0 + 30000, 1), TLAT_OK);
    tlat_free(t);
}

static void test_bad_input(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    assert_int_equal(tlat_add(t, "g", T0, NAN), TLAT_BAD);
    assert_int_equal(tlat_add(t, "g", T0, -1), TLAT_BAD);
    assert_int_equal(tlat_add(t, "g", T0, INFINITY), TLAT_BAD);
    assert_int_equal(tlat_add(t, "g", T0, TLAT_MS_MAX * 1.0000001), TLAT_BAD);
    char longg[HB_ID_MAX + 2];
    memset(longg, 'a', sizeof longg - 1);
    longg[sizeof longg - 1] = '\0';
    assert_int_equal(tlat_add(t, longg, T0, 1), TLAT_BAD);
    /* one bad value in a batch: nothing of it is recorded */
    assert_int_equal(tlat_add_many(t, "g", T0, (double[]){1, 2, NAN}, 3), TLAT_BAD);
    assert_int_equal(tlat_add_many(t, "g", T0, NULL, 0), TLAT_OK);
    assert_int_equal(tlat_open_groups(t), 0);
    /* the edges are fine; -0 is stored as 0; a NULL group is "" */
    assert_int_equal(tlat_add(t, NULL, T0, TLAT_MS_MAX), TLAT_OK);
    assert_int_equal(tlat_add(t, "", T0, -0.0), TLAT_OK);
    longg[HB_ID_MAX] = '\0';
    assert_int_equal(tlat_add(t, longg, T0, 0), TLAT_OK);
    sink s = {0};
    assert_int_equal(tlat_flush(t, 0, true, collect, &s), 2);
    const tlat_row *r = find_row(&s, "", T0);
    assert_non_null(r);
    assert_int_equal(r->count, 2);
    assert_true(r->min_ms == 0 && !signbit(r->min_ms) && r->max_ms == TLAT_MS_MAX);
    assert_non_null(find_row(&s, longg, T0));
    tlat_free(t);
}

/* ---- concurrency -------------------------------------------------------- */

#define C_THREADS 4
#define C_ADDS 50000
#define C_GROUPS 8

typedef struct cctx {
    tlat *t;
    int id;
} cctx;

static atomic_int adders_left;

static void *adder(void *arg)
{
    cctx *c = arg;
    char g[16];
    for (int k = 0; k < C_ADDS; k++) {
        snprintf(g, sizeof g, "c%d", (k + c->id) % C_GROUPS);
        /* five windows per thread; threads drift apart, so some samples
         * arrive "in the past" for a bucket another thread rolled over */
        int64_t now = T0 + (k / 10000) * (int64_t)TLAT_BUCKET_MS + c->id;
        if (tlat_add(c->t, g, now, (double)(k % 1000)) != TLAT_OK) abort();
    }
    atomic_fetch_sub(&adders_left, 1);
    return NULL;
}

typedef struct counts {
    uint64_t per_group[C_GROUPS];
    uint64_t total;
} counts;

static int count_rows(void *ctx, const tlat_row *row)
{
    counts *c = ctx;
    int gi = atoi(row->group + 1);
    if (gi >= 0 && gi < C_GROUPS) c->per_group[gi] += row->count;
    c->total += row->count;
    return 0;
}

typedef struct fctx {
    tlat *t;
    counts c;
    size_t flushes;
} fctx;

/* Flushes while the adders run, with a "now" that keeps pace with nothing in
 * particular: whatever it takes must not be counted twice or lost. */
static void *flusher(void *arg)
{
    fctx *f = arg;
    while (atomic_load(&adders_left) > 0) {
        int64_t now = T0 + (int64_t)(f->flushes % 6) * TLAT_BUCKET_MS;
        tlat_flush(f->t, now, false, count_rows, &f->c);
        f->flushes++;
    }
    return NULL;
}

static void test_concurrent_adds(void **state)
{
    (void)state;
    tlat *t = tlat_new();
    pthread_t th[C_THREADS + 1];
    cctx c[C_THREADS];
    fctx f = {.t = t};
    atomic_store(&adders_left, C_THREADS);
    for (int i = 0; i < C_THREADS; i++) {
        c[i] = (cctx){t, i};
        assert_int_equal(pthread_create(&th[i], NULL, adder, &c[i]), 0);
    }
    assert_int_equal(pthread_create(&th[C_THREADS], NULL, flusher, &f), 0);
    for (int i = 0; i <= C_THREADS; i++)
        pthread_join(th[i], NULL);
    tlat_flush(t, 0, true, count_rows, &f.c);
    assert_int_equal(f.c.total, (uint64_t)C_THREADS * C_ADDS);
    for (int g = 0; g < C_GROUPS; g++)
        assert_int_equal(f.c.per_group[g], (uint64_t)C_THREADS * C_ADDS / C_GROUPS);
    assert_int_equal(tlat_open_groups(t), 0);
    tlat_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_rank_by_hand),
        cmocka_unit_test(test_add_and_flush_stats),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_bucket_alignment_and_timing),
        cmocka_unit_test(test_rollover_and_clock_step_back),
        cmocka_unit_test(test_flush_all_and_refusal),
        cmocka_unit_test(test_reservoir),
        cmocka_unit_test(test_exact_up_to_the_limit),
        cmocka_unit_test(test_group_cap),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_concurrent_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
