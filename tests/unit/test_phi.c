/* Unit tests for the phi-accrual detector: pure numbers, no clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/phi.h"

#include <math.h>

static void test_needs_samples(void **state)
{
    (void)state;
    phi_state p;
    phi_reset(&p);
    double z = phi_threshold_z(8.0);
    assert_true(phi_suspect_after_ms(&p, z) < 0);
    phi_observe(&p, 1000);
    phi_observe(&p, 1000);
    assert_true(phi_suspect_after_ms(&p, z) < 0);
    assert_true(phi_value(&p, 1e9) == 0.0);
    phi_observe(&p, 1000);
    assert_true(phi_suspect_after_ms(&p, z) > 1000);
}

static void test_monotone_and_consistent_with_inverse(void **state)
{
    (void)state;
    phi_state p;
    phi_reset(&p);
    for (int i = 0; i < 50; i++)
        phi_observe(&p, 900 + (i % 5) * 50); /* 900..1100 */
    assert_true(fabs(p.mean_ms - 1000) < 60);
    double prev = -1;
    for (double t = 0; t < 5000; t += 100) {
        double v = phi_value(&p, t);
        assert_true(v >= prev);
        prev = v;
    }
    assert_true(phi_value(&p, 1000) < 1.0); /* on time is not late */
    for (double th = 1; th <= 16; th *= 2) {
        double z = phi_threshold_z(th);
        double t = phi_suspect_after_ms(&p, z);
        assert_true(phi_value(&p, t - 1) < th);
        assert_true(phi_value(&p, t + 1) > th);
    }
}

static void test_std_floor_and_adaptation(void **state)
{
    (void)state;
    phi_state p;
    phi_reset(&p);
    for (int i = 0; i < 100; i++)
        phi_observe(&p, 1000); /* a perfect metronome */
    double z = phi_threshold_z(8.0);
    double t = phi_suspect_after_ms(&p, z);
    /* floor: std >= 10 % of the mean, so not suspect the instant it is late */
    assert_true(t > 1400 && t < 1700);
    /* the worker slows to 5 s: the detector follows within a few dozen beats */
    for (int i = 0; i < 80; i++)
        phi_observe(&p, 5000);
    assert_true(phi_suspect_after_ms(&p, z) > 5000);
    assert_true(phi_value(&p, 5000) < 1.0);
}

static void test_bad_input(void **state)
{
    (void)state;
    phi_state p;
    phi_reset(&p);
    phi_observe(&p, -5);
    phi_observe(&p, NAN);
    assert_int_equal(p.n, 0);
    assert_true(isnan(phi_threshold_z(0)));
    for (int i = 0; i < 5; i++)
        phi_observe(&p, 1000);
    assert_true(phi_suspect_after_ms(&p, NAN) < 0);
    assert_true(phi_value(&p, 1e12) <= 300.0);
}

/* The floor rw_expire tries first: never above the exact deadline (else a
 * late worker would be taken for on time), equal to it for a metronome whose
 * std sits at the floor, and absent where there is no bound. */
static void test_suspect_floor(void **state)
{
    (void)state;
    phi_state p;
    phi_reset(&p);
    double z8 = phi_threshold_z(8.0), zneg = phi_threshold_z(0.1);
    assert_true(zneg < 0);
    assert_true(phi_suspect_floor_ms(&p, z8) < 0); /* too few samples */
    unsigned seed = 12345;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        phi_observe(&p, 200 + (seed >> 16) % 20000); /* jittery: std often above the floor */
        for (double th = 0.5; th <= 64; th *= 2) {
            double z = phi_threshold_z(th);
            double fl = phi_suspect_floor_ms(&p, z), ex = phi_suspect_after_ms(&p, z);
            if (p.n < 3) {
                assert_true(fl < 0);
                continue;
            }
            assert_true(fl >= 0);
            assert_true(fl <= ex);
        }
    }
    assert_true(phi_suspect_floor_ms(&p, zneg) < 0);
    assert_true(phi_suspect_floor_ms(&p, NAN) < 0);
    phi_reset(&p);
    for (int i = 0; i < 100; i++)
        phi_observe(&p, 1000);
    assert_true(fabs(phi_suspect_floor_ms(&p, z8) - phi_suspect_after_ms(&p, z8)) < 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needs_samples),
        cmocka_unit_test(test_monotone_and_consistent_with_inverse),
        cmocka_unit_test(test_std_floor_and_adaptation),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_suspect_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
