/*
 * test_store_batch: the writer's batch marks (store.h: store_batch_mark,
 * store_batch_applied) on both backends: SQLite by default, PostgreSQL with
 * a URL (store_fx.h; CTest runs this program both ways). A marked batch is
 * known committed exactly when its transaction committed: not before, not
 * when it rolled back, not for another run; a later mark answers for the
 * earlier ones; an unmarked apply records nothing.
 */
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"

static void test_marks(void **state)
{
    fx *f = *state;
    int64_t run, other;
    assert_int_equal(store_run_begin(f->s, 1000, &run), 0);
    assert_int_equal(store_run_begin(f->s, 1000, &other), 0);
    assert_int_equal(store_batch_applied(f->s, run, 1), 0); /* nothing yet */

    reg_event open = ev(REG_EV_SESSION_OPEN, "bw1", "bg", 1000);
    open.opened_ms = 1000;
    open.ttl_s = 15;
    store_hb h = hb("bw1", 1100);
    store_batch_mark(f->s, run, 1);
    apply_ok(f->s, &open, 1, &h, 1);
    assert_int_equal(store_batch_applied(f->s, run, 1), 1);
    assert_int_equal(store_batch_applied(f->s, run, 2), 0);
    assert_int_equal(store_batch_applied(f->s, other, 1), 0);

    /* A batch that rolls back (an unknown event kind) leaves no mark. */
    reg_event bad = ev(99, "bw1", "bg", 1200);
    char err[256];
    store_batch_mark(f->s, run, 2);
    assert_int_equal(store_apply(f->s, &bad, 1, NULL, 0, err, sizeof err), -1);
    assert_int_equal(store_batch_applied(f->s, run, 2), 0);
    h = hb("bw1", 1300);
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(store_batch_applied(f->s, run, 2), 1);
    assert_int_equal(store_batch_applied(f->s, run, 1), 1); /* a later mark covers it */
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = 'bw1'"),
                     2);

    /* Unmarked (run 0): recorded nowhere, the marks stay as they were. */
    store_batch_mark(f->s, 0, 0);
    h = hb("bw1", 1400);
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(store_batch_applied(f->s, run, 3), 0);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM writer_batches"), 1);

    /* The other run's marks are its own. */
    store_batch_mark(f->s, other, 7);
    h = hb("bw1", 1500);
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(store_batch_applied(f->s, other, 7), 1);
    assert_int_equal(store_batch_applied(f->s, run, 3), 0);
}

/* A reopened store still knows (the retry may come from the same run after
 * a reconnect, so the mark must be in the database, not in memory). */
static void test_marks_survive_reopen(void **state)
{
    fx *f = *state;
    int64_t run;
    assert_int_equal(store_run_begin(f->s, 1000, &run), 0);
    store_hb h = hb("bw2", 1000);
    store_batch_mark(f->s, run, 5);
    apply_ok(f->s, NULL, 0, &h, 1);
    store_close(f->s);
    f->s = open_at(f->url, "node-a");
    assert_int_equal(store_batch_applied(f->s, run, 5), 1);
    assert_int_equal(store_batch_applied(f->s, run, 6), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks_survive_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
