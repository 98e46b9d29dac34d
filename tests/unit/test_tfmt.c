/* Unit tests for timestamp formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tfmt.h"

static void test_roundtrip(void **state)
{
    (void)state;
    char buf[TFMT_ISO_LEN];
    assert_string_equal(tfmt_iso(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(tfmt_iso(1795426800123LL, buf), "2026-11-23T09:40:00.123Z");
    int64_t ms;
    assert_int_equal(tfmt_parse("2026-11-23T09:40:00.123Z", &ms), 0);
    assert_int_equal(ms, 1795426800123LL);
    assert_int_equal(tfmt_parse("2026-11-23T09:40:00Z", &ms), 0);
    assert_int_equal(ms, 1795426800000LL);
    assert_int_equal(tfmt_parse("2026-11-23T09:40:00.5+00:00", &ms), 0);
    assert_int_equal(ms, 1795426800500LL);
    assert_int_equal(tfmt_parse("1795426800123", &ms), 0);
    assert_int_equal(ms, 1795426800123LL);
}

static void test_bad(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23 09:40:00Z",
                         "2026-11-23T09:40:00", "2026-11-23T09:40:00.Z", "-5",
                         "2026-11-23T09:40:00+02:00", "99999999999999999999",
                         /* found by fuzz_query: signs, blanks and days past the month's
                          * end were read and normalised into another time */
                         "2026-11-23T-1:40:00Z", "2026-11-23T07:-1:00Z", "2026-11-23T 7:40:00Z",
                         " 2026-11-23T07:40:00Z", "+026-11-23T07:40:00Z", "2026-02-29T00:00:00Z",
                         "2026-02-31T00:00:00Z", "2026-04-31T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tfmt_parse(bad[i], &ms), -1);
}

static void test_calendar(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(tfmt_parse("2028-02-29T00:00:00Z", &ms), 0); /* leap year */
    assert_int_equal(ms, 1835395200000LL);
    assert_int_equal(tfmt_parse("2000-02-29T00:00:00Z", &ms), 0);  /* divisible by 400 */
    assert_int_equal(tfmt_parse("2100-02-29T00:00:00Z", &ms), -1); /* by 100, not 400 */
    assert_int_equal(tfmt_parse("2026-12-31T23:59:60Z", &ms), 0);  /* a leap second */
    assert_int_equal(ms, 1798761600000LL);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(tfmt_parse_duration("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(tfmt_parse_duration("15", &ms), 0);
    assert_int_equal(ms, 15000);
    assert_int_equal(tfmt_parse_duration("6h", &ms), 0);
    assert_int_equal(ms, 6 * 3600000LL);
    assert_int_equal(tfmt_parse_duration("7d", &ms), 0);
    assert_int_equal(ms, 7 * 86400000LL);
    assert_int_equal(tfmt_parse_duration("5 parsecs", &ms), -1);
    assert_int_equal(tfmt_parse_duration("-1s", &ms), -1);
    assert_int_equal(tfmt_parse_duration("", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
