/* Unit tests for the hub summary window and push schedule (core/hubw.h):
 * failures widen the window, commits advance it only to what was sent,
 * nothing is counted twice or lost; backoff and jitter stay in bounds for
 * every random value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/hubw.h"

typedef struct fixture {
    hubw w;
    hubw_counts now;
    hubw_window out;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    hubw_init(&f->w, 1000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static const hubw_task *task(const hubw_counts *c, const char *g)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (strcmp(c->tasks[i].group, g) == 0) return &c->tasks[i];
    return NULL;
}

static void test_first_window_counts_from_start(void **state)
{
    fixture *f = *state;
    f->now.closed[REG_R_FAILED] = 3;
    f->now.accepted = 100;
    hubw_task_add(&f->now, "gpu", 4, 400);
    hubw_take(&f->w, &f->now, 61000, &f->out);
    assert_int_equal(f->out.from_ms, 1000);
    assert_int_equal(f->out.to_ms, 61000);
    assert_int_equal(f->out.delta.closed[REG_R_FAILED], 3);
    assert_int_equal(f->out.delta.accepted, 100);
    const hubw_task *t = task(&f->out.delta, "gpu");
    assert_non_null(t);
    assert_int_equal(t->count, 4);
    assert_true(t->sum_ms == 400);
}

static void test_failure_widens_success_advances(void **state)
{
    fixture *f = *state;
    f->now.closed[REG_R_CLEAN_SHUTDOWN] = 2;
    hubw_take(&f->w, &f->now, 2000, &f->out); /* the push fails: no commit */
    f->now.closed[REG_R_CLEAN_SHUTDOWN] = 5;
    hubw_take(&f->w, &f->now, 3000, &f->out);
    assert_int_equal(f->out.from_ms, 1000); /* still from the start */
    assert_int_equal(f->out.delta.closed[REG_R_CLEAN_SHUTDOWN], 5);
    hubw_commit(&f->w, &f->out);
    assert_int_equal(f->w.sent, 1);
    f->now.closed[REG_R_CLEAN_SHUTDOWN] = 6;
    hubw_take(&f->w, &f->now, 4000, &f->out);
    assert_int_equal(f->out.from_ms, 3000);
    assert_int_equal(f->out.delta.closed[REG_R_CLEAN_SHUTDOWN], 1);
}

/* Counts that arrive while a push is in flight belong to the next window:
 * commit moves the base to what was sent, not to the counters at commit. */
static void test_commit_is_what_was_sent(void **state)
{
    fixture *f = *state;
    f->now.accepted = 10;
    hubw_task_add(&f->now, "", 1, 5);
    hubw_take(&f->w, &f->now, 2000, &f->out);
    f->now.accepted = 15; /* during the send */
    hubw_task_add(&f->now, "", 2, 20);
    hubw_commit(&f->w, &f->out);
    hubw_take(&f->w, &f->now, 3000, &f->out);
    assert_int_equal(f->out.delta.accepted, 5);
    const hubw_task *t = task(&f->out.delta, "");
    assert_non_null(t);
    assert_int_equal(t->count, 2);
    assert_true(t->sum_ms == 20);
}

/* Whatever the pattern of failures, the windows committed tile time and
 * their counts add up to the counters: nothing lost, nothing twice. */
static void test_sum_of_committed_windows(void **state)
{
    fixture *f = *state;
    uint64_t sum_closed = 0, sum_tasks = 0;
    int64_t last_to = 1000;
    uint32_t x = 12345;
    for (int i = 1; i <= 500; i++) {
        x = x * 1103515245u + 12345u;
        f->now.closed[1 + (x >> 8) % (REG_R__COUNT - 1)] += (x >> 4) % 3;
        hubw_task_add(&f->now, (x >> 12) % 2 ? "a" : "b", (x >> 16) % 4, 1.0);
        hubw_take(&f->w, &f->now, 1000 + i * 10, &f->out);
        if ((x >> 20) % 3 == 0) continue; /* this push failed */
        assert_int_equal(f->out.from_ms, last_to);
        last_to = f->out.to_ms;
        for (int k = 0; k < REG_R__COUNT; k++)
            sum_closed += f->out.delta.closed[k];
        for (size_t t = 0; t < f->out.delta.ntasks; t++)
            sum_tasks += f->out.delta.tasks[t].count;
        hubw_commit(&f->w, &f->out);
    }
    /* A last, successful push. */
    hubw_take(&f->w, &f->now, 99999, &f->out);
    for (int k = 0; k < REG_R__COUNT; k++)
        sum_closed += f->out.delta.closed[k];
    for (size_t t = 0; t < f->out.delta.ntasks; t++)
        sum_tasks += f->out.delta.tasks[t].count;
    uint64_t total_closed = 0, total_tasks = 0;
    for (int k = 0; k < REG_R__COUNT; k++)
        total_closed += f->now.closed[k];
    for (size_t t = 0; t < f->now.ntasks; t++)
        total_tasks += f->now.tasks[t].count;
    assert_int_equal(sum_closed, total_closed);
    assert_int_equal(sum_tasks, total_tasks);
    assert_true(total_closed > 100 && total_tasks > 100);
}

static void test_groups_past_cap_share_star(void **state)
{
    fixture *f = *state;
    char g[16];
    for (int i = 0; i < HUBW_GROUPS_MAX + 10; i++) {
        snprintf(g, sizeof g, "g%d", i);
        hubw_task_add(&f->now, g, 1, 2);
    }
    assert_int_equal(f->now.ntasks, HUBW_GROUPS_MAX + 1);
    const hubw_task *star = task(&f->now, "*");
    assert_non_null(star);
    assert_int_equal(star->count, 10);
    hubw_task_add(&f->now, "g0", 1, 2); /* a known group still counts apart */
    assert_int_equal(task(&f->now, "g0")->count, 2);
    assert_int_equal(f->now.ntasks, HUBW_GROUPS_MAX + 1);
}

static void test_groups_without_news_left_out(void **state)
{
    fixture *f = *state;
    hubw_task_add(&f->now, "a", 1, 1);
    hubw_task_add(&f->now, "b", 1, 1);
    hubw_take(&f->w, &f->now, 2000, &f->out);
    hubw_commit(&f->w, &f->out);
    hubw_task_add(&f->now, "b", 1, 1);
    hubw_take(&f->w, &f->now, 3000, &f->out);
    assert_int_equal(f->out.delta.ntasks, 1);
    assert_string_equal(f->out.delta.tasks[0].group, "b");
}

static void test_clock_back_and_counter_shrink(void **state)
{
    fixture *f = *state;
    f->now.accepted = 10;
    hubw_take(&f->w, &f->now, 2000, &f->out);
    hubw_commit(&f->w, &f->out);
    f->now.accepted = 4;                     /* never expected: reads as no change */
    hubw_take(&f->w, &f->now, 500, &f->out); /* clock stepped back */
    assert_int_equal(f->out.delta.accepted, 0);
    assert_int_equal(f->out.from_ms, 2000);
    assert_int_equal(f->out.to_ms, 2000); /* an empty window, never a negative one */
}

static void test_delay_bounds(void **state)
{
    (void)state;
    uint32_t probes[] = {0, 1, 2, 12345, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        uint32_t r = probes[i];
        int64_t d = hubw_delay_ms(60000, 0, r);
        assert_true(d >= 51000 && d <= 69000);
        d = hubw_delay_ms(0, 0, r); /* 0: the default interval */
        assert_true(d >= 51000 && d <= 69000);
        d = hubw_delay_ms(1000, 0, r);
        assert_true(d >= 850 && d <= 1150);
        for (int n = 1; n <= 40; n++) {
            int64_t want = n >= 7 ? 60000 : 1000LL << (n - 1);
            d = hubw_delay_ms(60000, n, r);
            assert_true(d >= HUBW_BACKOFF_MIN_MS);
            assert_true(d >= want * 85 / 100 || d == HUBW_BACKOFF_MIN_MS);
            assert_true(d <= want * 115 / 100);
        }
    }
    /* The jitter really spreads: over many draws both ends are reached. */
    int64_t lo = INT64_MAX, hi = 0;
    uint32_t x = 1;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int64_t d = hubw_delay_ms(60000, 0, x);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 51500 && hi > 68500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_window_counts_from_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_widens_success_advances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_is_what_was_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sum_of_committed_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_past_cap_share_star, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_without_news_left_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_back_and_counter_shrink, setup, teardown),
        cmocka_unit_test(test_delay_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
