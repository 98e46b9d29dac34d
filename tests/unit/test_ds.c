/* Unit tests for downsampling (core/ds.h): slices, means, gaps, edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ds.h"

#define P(t, v) ((ds_point){(t), (v)})

static void assert_point(ds_point p, int64_t ts, double v)
{
    assert_int_equal(p.ts_ms, ts);
    /* Means of small integers and halves are exact in binary. */
    assert_true(p.value == v);
}

static void test_step(void **state)
{
    (void)state;
    assert_int_equal(ds_step(0, 1000, 10), 100);
    assert_int_equal(ds_step(0, 1001, 10), 101); /* ceil */
    assert_int_equal(ds_step(0, 5, 200), 1);     /* never 0 for a non-empty range */
    assert_int_equal(ds_step(1000, 1000, 10), 0);
    assert_int_equal(ds_step(1000, 999, 10), 0);
    assert_int_equal(ds_step(0, 1000, 0), 0);
    assert_int_equal(ds_step(0, 1000, DS_POINTS_MAX + 1), 0);
    assert_int_equal(ds_step(0, INT64_MAX, 1), INT64_MAX); /* no overflow on the way */
    assert_int_equal(ds_step(INT64_MIN, INT64_MAX, 1), 0); /* wider than any int64 */
}

static void test_exact_means(void **state)
{
    (void)state;
    /* [0, 100) in 4 slices of 25: 1,2,3 | 10 | 4,6 | 7,8,9,10 */
    ds_point in[] = {P(0, 1),  P(10, 2), P(24, 3), P(25, 10), P(50, 4),
                     P(74, 6), P(75, 7), P(80, 8), P(90, 9),  P(99, 10)};
    ds_point out[DS_POINTS_MAX];
    size_t n = ds_points(in, sizeof in / sizeof *in, 0, 100, 4, out);
    assert_int_equal(n, 4);
    assert_point(out[0], 0, 2.0);
    assert_point(out[1], 25, 10.0);
    assert_point(out[2], 50, 5.0);
    assert_point(out[3], 75, 8.5);
}

static void test_gaps(void **state)
{
    (void)state;
    /* 10 slices of 10 ms; samples only in slices 0, 3 and 9. */
    ds_point in[] = {P(5, 1), P(30, 2), P(39, 4), P(95, 7)};
    ds_point out[DS_POINTS_MAX];
    size_t n = ds_points(in, 4, 0, 100, 10, out);
    assert_int_equal(n, 3);
    assert_point(out[0], 0, 1);
    assert_point(out[1], 30, 3);
    assert_point(out[2], 90, 7);
}

static void test_more_points_than_data(void **state)
{
    (void)state;
    /* 200 slices of 5 ms over a second, three samples: three points, as they were. */
    ds_point in[] = {P(1000, 1.5), P(1400, 2.5), P(1995, 3.5)};
    ds_point out[DS_POINTS_MAX];
    size_t n = ds_points(in, 3, 1000, 2000, 200, out);
    assert_int_equal(n, 3);
    assert_point(out[0], 1000, 1.5);
    assert_point(out[1], 1400, 2.5);
    assert_point(out[2], 1995, 3.5);
    /* A range shorter than the points asked for: 1 ms slices, never more than the range. */
    ds_point in2[] = {P(10, 1), P(11, 2), P(12, 3)};
    n = ds_points(in2, 3, 10, 13, 200, out);
    assert_int_equal(n, 3);
    assert_point(out[2], 12, 3);
}

static void test_edges(void **state)
{
    (void)state;
    /* from is in, to is out, to - 1 is in the last slice; outside is ignored. */
    ds_point in[] = {P(99, 100), P(100, 1), P(149, 3), P(150, 5), P(199, 7), P(200, 100)};
    ds_point out[DS_POINTS_MAX];
    size_t n = ds_points(in, 6, 100, 200, 2, out);
    assert_int_equal(n, 2);
    assert_point(out[0], 100, 2);
    assert_point(out[1], 150, 6);
}

static void test_not_divisible(void **state)
{
    (void)state;
    /* [0, 10) in 3 slices: step ceil(10/3) = 4, slices [0,4) [4,8) [8,10). */
    ds_acc d;
    assert_int_equal(ds_init(&d, 0, 10, 3), 0);
    assert_int_equal(d.step, 4);
    assert_int_equal(d.slices, 3);
    for (int t = 0; t < 10; t++)
        ds_add(&d, t, t);
    ds_point out[DS_POINTS_MAX];
    assert_int_equal(ds_out(&d, out), 3);
    assert_point(out[0], 0, 1.5);
    assert_point(out[1], 4, 5.5);
    assert_point(out[2], 8, 8.5);
    /* [0, 1000) in 7 slices: step 143; the last slice [858, 1000) is shorter,
     * and 7 slices are enough (not 8). */
    assert_int_equal(ds_init(&d, 0, 1000, 7), 0);
    assert_int_equal(d.step, 143);
    assert_int_equal(d.slices, 7);
    ds_add(&d, 999, 4);
    ds_add(&d, 858, 2);
    ds_add(&d, 857, 1);
    assert_int_equal(ds_out(&d, out), 2);
    assert_point(out[0], 715, 1);
    assert_point(out[1], 858, 3);
    /* [0, 10) in 4 slices: step 3 needs 4 slices, the last [9, 10). */
    assert_int_equal(ds_init(&d, 0, 10, 4), 0);
    assert_int_equal(d.slices, 4);
    ds_add(&d, 9, 1);
    assert_int_equal(ds_out(&d, out), 1);
    assert_point(out[0], 9, 1);
}

static void test_one_and_none(void **state)
{
    (void)state;
    ds_point out[DS_POINTS_MAX];
    ds_point one = P(1234, 42.25);
    assert_int_equal(ds_points(&one, 1, 0, 1000000, 200, out), 1);
    assert_point(out[0], 0, 42.25); /* slice 0 of 5000 ms starts at from */
    assert_int_equal(ds_points(&one, 1, 1234, 1235, 1, out), 1);
    assert_point(out[0], 1234, 42.25);
    assert_int_equal(ds_points(NULL, 0, 0, 1000, 200, out), 0);
    assert_int_equal(ds_points(&one, 1, 2000, 3000, 200, out), 0); /* all outside */
    /* Bad arguments give nothing (and never write). */
    assert_int_equal(ds_points(&one, 1, 1000, 1000, 10, out), 0);
    assert_int_equal(ds_points(&one, 1, 0, 1000, 0, out), 0);
    ds_acc d;
    assert_int_equal(ds_init(&d, 5, 5, 10), -1);
}

static void test_clear_reuses(void **state)
{
    (void)state;
    ds_acc d;
    ds_point out[DS_POINTS_MAX];
    assert_int_equal(ds_init(&d, 0, 200, 200), 0);
    for (int t = 0; t < 200; t++)
        ds_add(&d, t, 1);
    assert_int_equal(ds_out(&d, out), 200); /* the most a range ever gives */
    ds_clear(&d);
    assert_int_equal(ds_out(&d, out), 0);
    ds_add(&d, 7, 3);
    assert_int_equal(ds_out(&d, out), 1);
    assert_point(out[0], 7, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step),         cmocka_unit_test(test_exact_means),
        cmocka_unit_test(test_gaps),         cmocka_unit_test(test_more_points_than_data),
        cmocka_unit_test(test_edges),        cmocka_unit_test(test_not_divisible),
        cmocka_unit_test(test_one_and_none), cmocka_unit_test(test_clear_reuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
