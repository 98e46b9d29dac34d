/* Unit tests for the pure parts of `vigil run` (src/client/cli_proc.c):
 * /proc/<pid>/stat parsing, a process tree's ticks, a wait status as a bye,
 * --every's next slot, the default worker id. cli_proc.c is part of the CLI
 * executable, not of a library, so it is compiled into this test directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/cli_proc.c"

static void test_parse_stat(void **state)
{
    (void)state;
    cli_proc_stat s;
    const char *line = "4242 (sh) R 4200 4242 4200 34816 4242 4194304 120 0 0 0 "
                       "37 5 11 2 20 0 1 0 12345 2400000 300 18446744073709551615";
    assert_true(cli_proc_parse_stat(line, &s));
    assert_int_equal(s.pid, 4242);
    assert_int_equal(s.ppid, 4200);
    assert_int_equal(s.ticks, 37 + 5 + 11 + 2);
    /* comm holding spaces and ')' */
    const char *odd = "77 (a) b (c)) S 1 77 77 0 -1 0 0 0 0 0 9 1 0 0 20 0 1 0 5 0 0";
    assert_true(cli_proc_parse_stat(odd, &s));
    assert_int_equal(s.ppid, 1);
    assert_int_equal(s.ticks, 10);
    assert_false(cli_proc_parse_stat("", &s));
    assert_false(cli_proc_parse_stat("12 (x) S 1 2 3", &s)); /* cut short */
    assert_false(cli_proc_parse_stat("(x) S 1", &s));
}

static void test_tree_ticks(void **state)
{
    (void)state;
    /* 10 -> 11 -> 12, 10 -> 13; 20 unrelated; 12 listed before its parent */
    const cli_proc_stat p[] = {{12, 11, 4}, {20, 1, 100}, {10, 1, 1},
                               {13, 10, 8}, {11, 10, 2},  {30, 12, 16}};
    assert_int_equal(cli_proc_tree_ticks(p, 6, 10), 1 + 2 + 4 + 8 + 16);
    assert_int_equal(cli_proc_tree_ticks(p, 6, 11), 2 + 4 + 16);
    assert_int_equal(cli_proc_tree_ticks(p, 6, 99), 0); /* gone */
    assert_int_equal(cli_proc_tree_ticks(p, 0, 10), 0);
}

static void test_outcome(void **state)
{
    (void)state;
    char t[65];
    assert_int_equal(cli_run_outcome(0, t, sizeof t), 0);
    assert_string_equal(t, "");
    assert_int_equal(cli_run_outcome(3 << 8, t, sizeof t), 3);
    assert_string_equal(t, "");
    assert_int_equal(cli_run_outcome(SIGKILL, t, sizeof t), 137);
    assert_string_equal(t, "killed by signal 9 (SIGKILL)");
    assert_int_equal(cli_run_outcome(SIGTERM | 0x80, t, sizeof t), 143); /* with a core flag */
    assert_string_equal(t, "killed by signal 15 (SIGTERM)");
}

static void test_next_slot(void **state)
{
    (void)state;
    assert_int_equal(cli_run_next_slot(1000, 500, 1000), 1500);
    assert_int_equal(cli_run_next_slot(1000, 500, 1200), 1500);
    assert_int_equal(cli_run_next_slot(1000, 500, 1500), 2000);
    assert_int_equal(cli_run_next_slot(1000, 500, 2740), 3000); /* missed slots skipped */
    assert_int_equal(cli_run_next_slot(1000, 500, 900), 1000);
}

static void test_default_id(void **state)
{
    (void)state;
    char id[129];
    cli_run_default_id("/usr/bin/backup.sh", id, sizeof id);
    assert_string_equal(id, "backup.sh");
    cli_run_default_id("my job", id, sizeof id);
    assert_string_equal(id, "my-job");
    cli_run_default_id("/", id, sizeof id);
    assert_string_equal(id, "run");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stat), cmocka_unit_test(test_tree_ticks),
        cmocka_unit_test(test_outcome),    cmocka_unit_test(test_next_slot),
        cmocka_unit_test(test_default_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
