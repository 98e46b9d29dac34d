/* ifl: workers' last job lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ifl.h"

#include <string.h>

static void test_set_get_replace_drop(void **state)
{
    (void)state;
    ifl *t = ifl_new();
    assert_non_null(t);
    char buf[64];
    assert_int_equal(ifl_get(t, "w1", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(ifl_set(t, "w1", "a\nb", 3, 2), 0);
    assert_int_equal(ifl_set(t, "w2", "c", 1, 1), 0);
    assert_int_equal(ifl_get(t, "w1", buf, sizeof buf), 2);
    assert_string_equal(buf, "a\nb");
    size_t nw, nb;
    ifl_stats(t, &nw, &nb);
    assert_int_equal(nw, 2);
    assert_int_equal(nb, (2 + 3 + 2) + (2 + 1 + 2));
    assert_int_equal(ifl_set(t, "w1", "a\nb", 3, 2), 0); /* same list: unchanged */
    assert_int_equal(ifl_set(t, "w1", "zz", 2, 1), 0);   /* new list replaces */
    assert_int_equal(ifl_get(t, "w1", buf, sizeof buf), 1);
    assert_string_equal(buf, "zz");
    assert_int_equal(ifl_set(t, "w1", "", 0, 0), 0); /* empty list drops it */
    assert_int_equal(ifl_get(t, "w1", buf, sizeof buf), 0);
    ifl_del(t, "w2");
    ifl_stats(t, &nw, &nb);
    assert_int_equal(nw, 0);
    assert_int_equal(nb, 0);
    ifl_free(t);
}

/* A buffer too small keeps whole ids only. */
static void test_cut_at_whole_ids(void **state)
{
    (void)state;
    ifl *t = ifl_new();
    assert_int_equal(ifl_set(t, "w", "job-1\njob-2\njob-3", 17, 3), 0);
    char buf[14];
    assert_int_equal(ifl_get(t, "w", buf, sizeof buf), 2);
    assert_string_equal(buf, "job-1\njob-2");
    char tiny[4];
    assert_int_equal(ifl_get(t, "w", tiny, sizeof tiny), 0);
    assert_string_equal(tiny, "");
    ifl_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_drop),
        cmocka_unit_test(test_cut_at_whole_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
