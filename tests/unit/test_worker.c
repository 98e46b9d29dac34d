/* Unit tests for the pure parts of libvigil's worker handle
 * (src/client/libvigil_worker.c): the wait between heartbeats and its
 * backoff after failures with an injected random source, the default
 * instance and the POST /v1/tasks body. Nothing here starts a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/libvigil_int.h"

#include <string.h>

/* A random source that always gives *(double *)ctx. */
static double fixed(void *ctx)
{
    return *(double *)ctx;
}

static long delay(long interval, double jitter, int failures, double u)
{
    return lv_worker_delay_ms(interval, jitter, failures, fixed, &u);
}

static void test_delay_no_failure(void **state)
{
    (void)state;
    assert_int_equal(delay(5000, 0.1, 0, 0.5), 5000);  /* the middle of the range */
    assert_int_equal(delay(5000, 0.1, 0, 0.0), 4500);  /* -10% */
    assert_int_equal(delay(5000, 0.1, 0, 0.99), 5490); /* just under +10% */
    assert_int_equal(delay(5000, 0, 0, 0.0), 5000);    /* no jitter: u is not used */
    assert_int_equal(lv_worker_delay_ms(200, 0.5, 0, NULL, NULL), 200);
    assert_int_equal(delay(1, 0.5, 0, 0.0), 1); /* never below 1 ms */
}

/* 1 s doubling, capped by the interval, jittered the same way. */
static void test_backoff(void **state)
{
    (void)state;
    const long want[] = {1000, 2000, 4000, 5000, 5000};
    for (int f = 1; f <= 5; f++)
        assert_int_equal(delay(5000, 0.1, f, 0.5), want[f - 1]);
    assert_int_equal(delay(5000, 0.1, 1, 0.0), 900);
    assert_int_equal(delay(5000, 0.1, 2, 0.0), 1800);
    assert_int_equal(delay(60000, 0.1, 3, 0.5), 4000);
    assert_int_equal(delay(200, 0.1, 1, 0.5), 200);      /* an interval under 1 s caps at once */
    assert_int_equal(delay(60000, 0, 1000, 0.5), 60000); /* no overflow after many failures */
    assert_int_equal(delay(60000, 0, 31, 0.5), 60000);
}

static void test_xorshift_range(void **state)
{
    (void)state;
    uint64_t s = 42;
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double u = lv_rand_xorshift(&s);
        assert_true(u >= 0 && u < 1);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    assert_true(lo < 0.01 && hi > 0.99); /* it spreads over the range */
    /* Through the delay: always within interval +- jitter. */
    for (int i = 0; i < 1000; i++) {
        long d = lv_worker_delay_ms(5000, 0.1, 0, lv_rand_xorshift, &s);
        assert_true(d >= 4500 && d <= 5500);
    }
}

static void test_default_instance(void **state)
{
    (void)state;
    char buf[129];
    assert_true(lv_default_instance("box-1", 4242, 1796160000123LL, buf, sizeof buf));
    assert_string_equal(buf, "box-1:4242:1796160000123");
    assert_true(lv_default_instance("", 7, 5, buf, sizeof buf));
    assert_string_equal(buf, "localhost:7:5");
    char host[300];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    assert_true(lv_default_instance(host, 7, 5, buf, sizeof buf)); /* cut to 128 bytes */
    assert_int_equal(strlen(buf), 128);
    assert_string_equal(buf + 124, ":7:5");
    char small[8];
    assert_false(lv_default_instance("h", 4242, 1796160000123LL, small, sizeof small));
    assert_false(lv_default_instance("bad\nhost", 1, 1, buf, sizeof buf));
}

static void test_tasks_json(void **state)
{
    (void)state;
    char buf[256];
    const double ms[] = {812, 640.5, 0};
    size_t n = lv_tasks_json("gpu-17", "inference", ms, 3, buf, sizeof buf);
    assert_string_equal(buf,
                        "{\"worker_id\":\"gpu-17\",\"group\":\"inference\",\"durations_ms\":[812,"
                        "640.5,0]}");
    assert_int_equal(n, strlen(buf));
    lv_tasks_json("w", NULL, ms, 1, buf, sizeof buf);
    assert_string_equal(buf, "{\"worker_id\":\"w\",\"durations_ms\":[812]}");
    assert_int_equal(lv_tasks_json("w", NULL, ms, 3, buf, 20), 0); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_no_failure), cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_xorshift_range),   cmocka_unit_test(test_default_instance),
        cmocka_unit_test(test_tasks_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
