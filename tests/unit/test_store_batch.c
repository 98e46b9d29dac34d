/*
 * test_store_batch: the writer's batch marks (store.h: store_batch_mark,
 * store_batch_applied) on both backends: SQLite by default, PostgreSQL with
 * a URL (store_fx.h; CTest runs this program both ways). A marked batch is
 * known committed exactly when its transaction committed: not before, not
 * when it rolled back, not for another run; a later mark answers for the
 * earlier ones; an unmarked apply records nothing. The fleet hint
 * (store_fleet_hint) sizes SQLite's write cache: large for a small fleet,
 * small past a hot set it cannot hold, and large again when the fleet
 * shrinks well below that. A worker's last seen is read exactly on both,
 * where the row is written lazily (once it is STORE_SEEN_SLACK_MS behind or
 * its ttl changes: from its newest raw row), and the lazy write still tells
 * a forgotten worker from one that is merely fresh.
 */
#include "store/store.h"
#include "store/sqlite_int.h"

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

/* The workers row's column as stored. */
static int64_t raw_seen(const fx *f, const char *col)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s FROM workers WHERE worker_id = 'lz'", col);
    return q_int_url(f->url, sql);
}

static int64_t read_seen(const fx *f)
{
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "lz", &w), 0);
    assert_int_equal(w.open_last_hb_ms, w.last_seen_ms); /* the open session's too */
    return w.last_seen_ms;
}

static void test_last_seen_lazy_write_exact_read(void **state)
{
    fx *f = *state;
    const int64_t S = STORE_SEEN_SLACK_MS;
    reg_event open = ev(REG_EV_SESSION_OPEN, "lz", "lg", 1000);
    open.opened_ms = 1000;
    open.ttl_s = 15;
    store_hb h = hb("lz", 1000 + S / 2);
    apply_ok(f->s, &open, 1, &h, 1);
    /* Within the slack: SQLite leaves the row the open wrote. PostgreSQL's
     * writer goes by what it wrote itself, and had written nothing. */
    int64_t w1 = f->pg ? 1000 + S / 2 : 1000;
    assert_int_equal(raw_seen(f, "last_seen_ms"), w1);
    assert_int_equal(read_seen(f), 1000 + S / 2);

    h = hb("lz", w1 + S / 2); /* less than a slack past what is written: left */
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "last_seen_ms"), w1);
    assert_int_equal(read_seen(f), w1 + S / 2);

    h = hb("lz", w1 + S); /* a slack behind: rewritten */
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "last_seen_ms"), w1 + S);

    h = hb("lz", w1 + S + 100); /* a new ttl is written at once */
    h.has = HB_HAS_TTL;
    h.ttl_s = 40;
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "ttl_s"), 40);
    assert_int_equal(raw_seen(f, "last_seen_ms"), w1 + S + 100);

    h = hb("lz", w1 + S + 200); /* the same ttl again: not due */
    h.has = HB_HAS_TTL;
    h.ttl_s = 40;
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "last_seen_ms"), w1 + S + 100);
    assert_int_equal(read_seen(f), w1 + S + 200);
    /* Raw rows gone (retention): what is left is less than a slack behind. */
    q_exec_url(f->url, "DELETE FROM heartbeats WHERE worker_id = 'lz'");
    assert_int_equal(read_seen(f), w1 + S + 100);

    /* Forgotten in a batch: its samples in that batch stay out. Forgotten
     * and back in the same batch, with a sample too fresh to rewrite the
     * new row: the sample goes in (the row is there, only not changed). */
    int64_t t = w1 + 4 * S;
    reg_event forget = ev(REG_EV_WORKER_FORGET, "lz", "lg", t);
    h = hb("lz", t);
    apply_ok(f->s, &forget, 1, &h, 1);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = 'lz'"),
                     0);
    t += 1000;
    reg_event again[] = {ev(REG_EV_WORKER_FORGET, "lz", "lg", t),
                         ev(REG_EV_SESSION_OPEN, "lz", "lg", t)};
    again[1].opened_ms = t;
    again[1].ttl_s = 15;
    h = hb("lz", t);
    apply_ok(f->s, again, 2, &h, 1);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats WHERE worker_id = 'lz'"),
                     1);
    assert_int_equal(read_seen(f), t);

    /* An event rewrites the row beside the writer's lazy update: a ttl the
     * row held before it is due again after it (PostgreSQL's writer must
     * not go by what it wrote before the event). */
    h = hb("lz", t + 100);
    h.has = HB_HAS_TTL;
    h.ttl_s = 40;
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "ttl_s"), 40);
    reg_event restart[] = {ev(REG_EV_SESSION_CLOSE, "lz", "lg", t + 200),
                           ev(REG_EV_SESSION_OPEN, "lz", "lg", t + 200)};
    restart[0].opened_ms = t;
    restart[0].last_hb_ms = t + 100;
    restart[1].opened_ms = t + 200;
    restart[1].ttl_s = 15;
    apply_ok(f->s, restart, 2, NULL, 0);
    assert_int_equal(raw_seen(f, "ttl_s"), 15);
    h = hb("lz", t + 300);
    h.has = HB_HAS_TTL;
    h.ttl_s = 40;
    apply_ok(f->s, NULL, 0, &h, 1);
    assert_int_equal(raw_seen(f, "ttl_s"), 40);
    assert_int_equal(read_seen(f), t + 300);
}

#define FLEET_WORKERS 20000 /* distinct workers of the cache test: past the hot limit */
#define FLEET_BATCH 4096
#define MIB (1 << 20)

/* rounds x FLEET_WORKERS raw rows in batches, workers in an order that
 * spreads each batch over the index; returns SQLite's memory after. */
static int64_t fill(store *s, store_hb *buf, int rounds, int64_t *ts)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < FLEET_WORKERS;) {
            int n = 0;
            for (; n < FLEET_BATCH && i < FLEET_WORKERS; n++, i++) {
                char id[96]; /* long ids: the index alone outgrows the small cache */
                snprintf(id, sizeof id, "fleet-worker-%05d-%064d", (i * 7919) % FLEET_WORKERS, 0);
                buf[n] = hb(id, ++*ts);
            }
            apply_ok(s, NULL, 0, buf, (size_t)n);
        }
    }
    return sqlite3_memory_used();
}

static void test_fleet_hint_sizes_the_write_cache(void **state)
{
    fx *f = *state;
    SQLITE_ONLY(f);
    store_hb *buf = malloc(FLEET_BATCH * sizeof *buf);
    assert_non_null(buf);
    int64_t ts = 1000;
    int64_t big = fill(f->s, buf, 8, &ts); /* no hint: the cache grows to its 32 MiB */
    if (big < 16 * MIB) fail_msg("SQLite holds %lld bytes after 160,000 rows", (long long)big);
    store_fleet_hint(f->s, 100000);
    int64_t small = fill(f->s, buf, 1, &ts);
    if (small > big - 12 * MIB || small > 12 * MIB)
        fail_msg("SQLite holds %lld bytes with a fleet of 100,000 (%lld before)", (long long)small,
                 (long long)big);
    store_fleet_hint(f->s, 14000); /* within the hysteresis: stays small */
    int64_t edge = fill(f->s, buf, 2, &ts);
    if (edge > small + 4 * MIB) fail_msg("cache grew at 14,000: %lld", (long long)edge);
    store_fleet_hint(f->s, 100);
    int64_t again = fill(f->s, buf, 3, &ts);
    if (again < small + 8 * MIB) fail_msg("cache did not grow back: %lld", (long long)again);
    print_message("SQLite memory, MiB: no hint %.1f, 100,000 %.1f, 14,000 %.1f, 100 %.1f\n",
                  (double)big / MIB, (double)small / MIB, (double)edge / MIB, (double)again / MIB);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_seen_lazy_write_exact_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fleet_hint_sizes_the_write_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
