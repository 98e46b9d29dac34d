/* Unit tests for the lock-free histogram (core/hist.h) and the Prometheus
 * text helpers (core/prom.h): label escaping and sample values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/hist.h"
#include "core/prom.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define PER_THREAD 100000

static const double B[] = {0.001, 0.01, 0.1, 1, 10};
#define NB (sizeof B / sizeof B[0])

static void test_init_bounds(void **state)
{
    (void)state;
    hist h;
    assert_int_equal(hist_init(&h, B, NB), 0);
    assert_int_equal(hist_init(&h, B, 0), 0); /* only +Inf: allowed */
    const double down[] = {1, 0.5}, same[] = {1, 1}, inf[] = {1, INFINITY};
    assert_int_equal(hist_init(&h, down, 2), -1);
    assert_int_equal(hist_init(&h, same, 2), -1);
    assert_int_equal(hist_init(&h, inf, 2), -1);
    double many[HIST_MAX_BOUNDS + 1];
    for (size_t i = 0; i < HIST_MAX_BOUNDS + 1; i++)
        many[i] = (double)i;
    assert_int_equal(hist_init(&h, many, HIST_MAX_BOUNDS + 1), -1);
    assert_int_equal(hist_init(&h, many, HIST_MAX_BOUNDS), 0);
}

/* Bounds are inclusive (Prometheus `le`), counts cumulative, +Inf = count. */
static void test_buckets(void **state)
{
    (void)state;
    hist h;
    hist_init(&h, B, NB);
    const double v[] = {0, 0.001, 0.0011, 0.05, 1, 1.5, 10, 11, 1e9, -3};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        hist_observe(&h, v[i]);
    hist_observe(&h, NAN); /* ignored */
    hist_snap s;
    hist_read(&h, &s);
    assert_int_equal(s.n, NB);
    /* <=0.001: 0, 0.001, -3 | <=0.01: +0.0011 | <=0.1: +0.05 | <=1: +1 |
     * <=10: +1.5, 10 | +Inf: +11, 1e9 */
    const uint64_t want[] = {3, 4, 5, 6, 8, 10};
    for (size_t i = 0; i <= NB; i++)
        assert_int_equal(s.cum[i], want[i]);
    assert_int_equal(s.count, 10);
    double sum = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        sum += v[i];
    assert_true(fabs(s.sum - sum) < 1e-6);
    assert_true(s.le[0] == 0.001 && s.le[NB - 1] == 10);
}

static void *observer(void *arg)
{
    hist *h = arg;
    for (int i = 0; i < PER_THREAD; i++)
        hist_observe(h, (i % 4) * 0.5); /* 0, 0.5, 1, 1.5 */
    return NULL;
}

/* Concurrent observers lose nothing: counts and the (exact in binary) sum. */
static void test_concurrent(void **state)
{
    (void)state;
    hist h;
    hist_init(&h, B, NB);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, observer, &h), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    hist_snap s;
    hist_read(&h, &s);
    assert_int_equal(s.count, (uint64_t)THREADS * PER_THREAD);
    assert_int_equal(s.cum[3], (uint64_t)THREADS * PER_THREAD * 3 / 4); /* <= 1 */
    assert_true(s.sum == (double)THREADS * PER_THREAD / 4 * 3.0);
}

static void test_escape(void **state)
{
    (void)state;
    char out[64];
    const char *in = "a\\b\"c\nd";
    assert_int_equal(prom_escape(out, sizeof out, in, strlen(in)), 10);
    assert_string_equal(out, "a\\\\b\\\"c\\nd");
    /* Nothing else is touched: tabs, UTF-8, braces, commas, '='. */
    const char *plain = "gpu-17 \t{x=1,y}\xc3\xa9";
    assert_int_equal(prom_escape(out, sizeof out, plain, strlen(plain)), strlen(plain));
    assert_string_equal(out, plain);
    assert_int_equal(prom_escape(out, sizeof out, "", 0), 0);
    assert_string_equal(out, "");
    /* Too small: says how much is needed, writes nothing. */
    char small[5] = "zzzz";
    assert_int_equal(prom_escape(small, sizeof small, "\"\"\"", 3), 6);
    assert_string_equal(small, "");
    assert_int_equal(prom_escape(small, sizeof small, "abcd", 4), 4);
    assert_string_equal(small, "abcd");
    assert_int_equal(prom_escape(small, sizeof small, "abcde", 5), 5);
    assert_string_equal(small, "");
}

static void test_num(void **state)
{
    (void)state;
    char b[PROM_NUM_MAX];
    assert_string_equal(prom_num(b, 0), "0");
    assert_string_equal(prom_num(b, 42), "42");
    assert_string_equal(prom_num(b, -7), "-7");
    assert_string_equal(prom_num(b, 18446744073709551615.0), "1.8446744073709552e+19");
    assert_string_equal(prom_num(b, 0.1), "0.1");
    assert_string_equal(prom_num(b, 0.0025), "0.0025");
    assert_string_equal(prom_num(b, 1712345678.123), "1712345678.123");
    assert_string_equal(prom_num(b, NAN), "NaN");
    assert_string_equal(prom_num(b, INFINITY), "+Inf");
    assert_string_equal(prom_num(b, -INFINITY), "-Inf");
    double x = 1.0 / 3.0;
    assert_true(strtod(prom_num(b, x), NULL) == x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_bounds), cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_concurrent),  cmocka_unit_test(test_escape),
        cmocka_unit_test(test_num),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
