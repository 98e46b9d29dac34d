/* Unit tests for query-parameter values (core/qry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "core/qry.h"

static void test_int(void **state)
{
    (void)state;
    int64_t x = 7;
    assert_int_equal(qry_int("42", 1, 100, &x), 0);
    assert_int_equal(x, 42);
    assert_int_equal(qry_int("-3", -5, 5, &x), 0);
    assert_int_equal(x, -3);
    assert_int_equal(qry_int("9223372036854775807", 1, INT64_MAX, &x), 0);
    assert_int_equal(x, INT64_MAX);
    const char *bad[] = {"", "x", "12x", "1.5", "0", "101", "-1",
                         /* past int64: strtoll clamps to INT64_MAX, which would pass */
                         "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        x = 7;
        assert_int_equal(qry_int(bad[i], 1, i >= 7 ? INT64_MAX : 100, &x), -1);
        assert_int_equal(x, 7); /* left as it was */
    }
    assert_int_equal(qry_int(NULL, 0, 1, &x), -1);
}

static void test_num(void **state)
{
    (void)state;
    double d = 9;
    assert_int_equal(qry_num("0.25", 0, 1, &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(qry_num("1", 0, 1, &d), 0);
    assert_true(d == 1);
    const char *bad[] = {"", "nan", "NAN", "inf", "1.01", "-0.1", "0.5x", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        d = 9;
        assert_int_equal(qry_num(bad[i], 0, 1, &d), -1);
        assert_true(d == 9);
    }
}

static void test_cursor(void **state)
{
    (void)state;
    int64_t t = -1, k = -1;
    assert_int_equal(qry_cursor("1795426800123:2", 1000, &t, &k), 0);
    assert_int_equal(t, 1795426800123LL);
    assert_int_equal(k, 2);
    assert_int_equal(qry_cursor("0:0", 0, &t, &k), 0);
    assert_int_equal(t, 0);
    assert_int_equal(k, 0);
    assert_int_equal(qry_cursor("9223372036854775807:1000", 1000, &t, &k), 0);
    assert_int_equal(t, INT64_MAX);
    const char *bad[] = {"",
                         ":",
                         "1:",
                         ":1",
                         "1",
                         "1:2:3",
                         "-1:2",
                         "1:-2",
                         " 1:2",
                         "1: 2",
                         "1:2 ",
                         "+1:2",
                         "1:1001",
                         "9223372036854775808:1",
                         "1:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = k = 5;
        assert_int_equal(qry_cursor(bad[i], 1000, &t, &k), -1);
        assert_int_equal(t, 5);
        assert_int_equal(k, 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_num),
        cmocka_unit_test(test_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
