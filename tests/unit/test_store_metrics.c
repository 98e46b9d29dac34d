/*
 * test_store_metrics: the fleet series (store.h: store_put_metrics,
 * store_metrics_range, retention of fleet_metrics, its migration) on both
 * backends: SQLite by default, PostgreSQL with a URL (store_fx.h; CTest runs
 * this program both ways).
 */
#include "store/store.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"

#define MAXROWS 512
ROW_LIST(mlist, store_metric);
COLLECTOR(got_m, mlist, store_metric)

/* The schema version before fleet_metrics (SQLite step 3, PostgreSQL step 2). */
#define SQ_V_BEFORE 3
#define PG_V_BEFORE 2

static store_metric met(const char *name, int64_t ts, double v)
{
    store_metric m;
    memset(&m, 0, sizeof m);
    memcpy(m.name, name, strnlen(name, sizeof m.name - 1));
    m.ts_ms = ts;
    m.value = v;
    return m;
}

static void put_ok(store *s, const store_metric *m, size_t n)
{
    char err[256] = "";
    if (store_put_metrics(s, m, n, err, sizeof err) != 0) fail_msg("store_put_metrics: %s", err);
}

/* Rows for names (NULL-terminated) in [from, to), into l; returns the count. */
static int range(store *s, mlist *l, int64_t from, int64_t to, const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    l->n = 0;
    return store_metrics_range(s, names, n, from, to, got_m, l);
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void assert_row(const store_metric *m, const char *name, int64_t ts, double v)
{
    assert_string_equal(m->name, name);
    assert_int_equal(m->ts_ms, ts);
    assert_true(m->value == v);
}

static void seed(store *s)
{
    store_metric m[] = {
        met("ingest_rate", 3000, 12.5),
        met("alive:b", 1000, 2),
        met("alive:a", 2000, 3),
        met("alive:a", 1000, 4),
        met("ingest_rate", 1000, 10),
        met("alive_total", 1000, 9),
        met("alive:a", 3000, 5),
        met("alivex", 1000, 7),
        met("queue_depth", 2000, 0),
        met("a_b", 1000, 1),
        met("axb", 1000, 2),
        met("alive:", 1000, 8),
    };
    put_ok(s, m, sizeof m / sizeof *m);
}

static void test_put_and_read(void **state)
{
    fx *f = *state;
    seed(f->s);
    mlist l;
    /* Exact names, in name order whatever order they are asked in. */
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("queue_depth", "ingest_rate")), 3);
    assert_row(&l.r[0], "ingest_rate", 1000, 10);
    assert_row(&l.r[1], "ingest_rate", 3000, 12.5);
    assert_row(&l.r[2], "queue_depth", 2000, 0);
    /* A prefix: every series under it ("alive:" itself too), name then time. */
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("alive:*")), 5);
    assert_row(&l.r[0], "alive:", 1000, 8);
    assert_row(&l.r[1], "alive:a", 1000, 4);
    assert_row(&l.r[2], "alive:a", 2000, 3);
    assert_row(&l.r[3], "alive:a", 3000, 5);
    assert_row(&l.r[4], "alive:b", 1000, 2);
    /* [from, to): from in, to out. */
    assert_int_equal(range(f->s, &l, 2000, 3000, NAMES("alive:a", "ingest_rate")), 1);
    assert_row(&l.r[0], "alive:a", 2000, 3);
    /* Nothing asked, an empty range, a series with no row: nothing. */
    assert_int_equal(store_metrics_range(f->s, NULL, 0, 0, 10000, got_m, &l), 0);
    assert_int_equal(range(f->s, &l, 3000, 3000, NAMES("alive:*")), 0);
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("dropped_rate", "nothing:*")), 0);
}

static void test_patterns(void **state)
{
    fx *f = *state;
    seed(f->s);
    mlist l;
    /* '_' and the other name bytes are literal (no LIKE wildcards). */
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("a_*")), 1);
    assert_string_equal(l.r[0].name, "a_b");
    /* A prefix that is not at a ':' boundary: alive, alive:…, alive_total, alivex. */
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("alive*")), 7);
    assert_string_equal(l.r[0].name, "alive:");
    assert_string_equal(l.r[5].name, "alive_total");
    assert_string_equal(l.r[6].name, "alivex");
    /* Overlaps give each series once: duplicates, exact names under a
     * prefix, a prefix under a shorter one; order is still by name. */
    assert_int_equal(range(f->s, &l, 0, 10000,
                           NAMES("alive:a", "alive:*", "ingest_rate", "alive:*", "ingest_rate",
                                 "alive:b*", "a*")),
                     11); /* every a… row and ingest_rate's, once; not queue_depth */
    for (int i = 1; i < l.n; i++) {
        int c = strcmp(l.r[i - 1].name, l.r[i].name);
        assert_true(c < 0 || (c == 0 && l.r[i - 1].ts_ms < l.r[i].ts_ms));
    }
    assert_string_equal(l.r[0].name, "a_b");
    assert_string_equal(l.r[l.n - 1].name, "ingest_rate");
    /* "*": every series of this node. */
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("*")), 12);
    assert_string_equal(l.r[11].name, "queue_depth");
    /* Exact and prefix of the same text: the prefix wins, "alive:" once. */
    assert_int_equal(range(f->s, &l, 0, 1001, NAMES("alive:", "alive:*")), 3);
    assert_string_equal(l.r[0].name, "alive:");
    assert_string_equal(l.r[1].name, "alive:a");
}

static int stop_after_two(void *ctx, const store_metric *m)
{
    (void)m;
    return ++*(int *)ctx >= 2;
}

static void test_stop_early(void **state)
{
    fx *f = *state;
    seed(f->s);
    int seen = 0;
    const char *names[] = {"alive:*", "ingest_rate"};
    /* The callback said stop on the second row: no more rows, from no series. */
    assert_int_equal(store_metrics_range(f->s, names, 2, 0, 10000, stop_after_two, &seen), 2);
    assert_int_equal(seen, 2);
}

static void test_upsert(void **state)
{
    fx *f = *state;
    store_metric m[] = {met("ingest_rate", 1000, 1), met("ingest_rate", 2000, 2)};
    put_ok(f->s, m, 2);
    put_ok(f->s, m, 2); /* again: changes nothing */
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM fleet_metrics"), 2);
    store_metric again = met("ingest_rate", 2000, 7.25);
    put_ok(f->s, &again, 1);
    mlist l;
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("ingest_rate")), 2);
    assert_row(&l.r[0], "ingest_rate", 1000, 1);
    assert_row(&l.r[1], "ingest_rate", 2000, 7.25);
    /* Values come back bit for bit. */
    store_metric odd = met("x", 5, 0.1 + 0.2);
    put_ok(f->s, &odd, 1);
    assert_int_equal(range(f->s, &l, 0, 10, NAMES("x")), 1);
    assert_true(l.r[0].value == 0.1 + 0.2);
    char node[64];
    q_text_url(f->url, "SELECT node_id FROM fleet_metrics WHERE name = 'x'", node, sizeof node);
    assert_string_equal(node, "node-a");
}

static void test_bad_args(void **state)
{
    fx *f = *state;
    char err[256];
    store_metric bad[] = {met("", 1, 1),    met("a*", 1, 1),  met("a b", 1, 1),
                          met("a'b", 1, 1), met("x", 1, NAN), met("x", 1, INFINITY),
                          met("é", 1, 1)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        store_metric two[] = {met("fine", 1, 1), bad[i]};
        err[0] = '\0';
        assert_int_equal(store_put_metrics(f->s, two, 2, err, sizeof err), -1);
        assert_true(err[0]);
    }
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM fleet_metrics"), 0); /* all or none */
    assert_int_equal(store_put_metrics(f->s, NULL, 0, err, sizeof err), 0);
    assert_int_equal(store_put_metrics(NULL, bad, 1, err, sizeof err), -1);

    char longest[STORE_METRIC_NAME_MAX + 2];
    memset(longest, 'n', sizeof longest - 2);
    longest[STORE_METRIC_NAME_MAX] = '\0';
    store_metric lm = met(longest, 1, 1); /* 200 bytes: fine */
    put_ok(f->s, &lm, 1);
    assert_true(store_metric_name_ok(longest, STORE_METRIC_NAME_MAX, false));
    assert_false(store_metric_name_ok(longest, STORE_METRIC_NAME_MAX + 1, false));
    longest[STORE_METRIC_NAME_MAX - 1] = '*';
    assert_true(store_metric_name_ok(longest, STORE_METRIC_NAME_MAX, true));
    assert_false(store_metric_name_ok(longest, STORE_METRIC_NAME_MAX, false));

    /* Patterns: '*' only last; a bad one fails the whole read. */
    mlist l = {0};
    const char *const bad_pat[] = {"a*b", "**", "", "a,b", "a%"};
    for (size_t i = 0; i < sizeof bad_pat / sizeof *bad_pat; i++) {
        const char *two[] = {"fine", bad_pat[i]};
        assert_int_equal(store_metrics_range(f->s, two, 2, 0, 10, got_m, &l), -1);
    }
    assert_true(store_metric_name_ok("*", 1, true));
    assert_true(store_metric_name_ok("alive:gpu.a-b@c_d*", 18, true));
}

static void test_nodes_apart(void **state)
{
    fx *f = *state;
    store *b = open_at(f->url, "node-b"); /* a sibling on the same database */
    store_metric ma[] = {met("alive:g", 1000, 1), met("ingest_rate", 1000, 10)};
    store_metric mb[] = {met("alive:g", 1000, 5), met("alive:h", 1000, 6)};
    put_ok(f->s, ma, 2);
    put_ok(b, mb, 2); /* same name and time, another node: its own row */
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM fleet_metrics"), 4);
    mlist l;
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("alive:*")), 1);
    assert_row(&l.r[0], "alive:g", 1000, 1);
    assert_int_equal(range(b, &l, 0, 10000, NAMES("*")), 2);
    assert_row(&l.r[0], "alive:g", 1000, 5);
    assert_row(&l.r[1], "alive:h", 1000, 6);
    store_close(b);
}

static void test_prune(void **state)
{
    fx *f = *state;
    store *b = open_at(f->url, "node-b");
    store_metric m[40];
    for (int i = 0; i < 40; i++)
        m[i] = met(i % 2 ? "alive:g" : "ingest_rate", 1000 * (i + 1), i);
    put_ok(f->s, m, 20);
    put_ok(b, m + 20, 20);
    /* Oldest first, at most limit a call, every node's rows. */
    assert_int_equal(store_prune(f->s, "fleet_metrics", 30500, 10), 10);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM fleet_metrics"), 11000);
    assert_int_equal(store_prune(f->s, "fleet_metrics", 30500, 1000), 20);
    assert_int_equal(store_prune(f->s, "fleet_metrics", 30500, 1000), 0);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM fleet_metrics"), 10);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM fleet_metrics"), 31000);
    mlist l;
    assert_int_equal(range(b, &l, 0, 100000, NAMES("*")), 10);
    store_close(b);
}

static void test_migrate(void **state)
{
    fx *f = *state;
    store_metric m = met("ingest_rate", 1000, 1);
    put_ok(f->s, &m, 1);
    store_close(f->s);
    int64_t version = q_int_url(f->url, "SELECT version FROM schema_version");
    assert_true(version > (f->pg ? PG_V_BEFORE : SQ_V_BEFORE));
    /* A database from before the fleet series. */
    q_exec_url(f->url, "DROP TABLE fleet_metrics");
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d",
             f->pg ? PG_V_BEFORE : SQ_V_BEFORE);
    q_exec_url(f->url, sql);
    const char *has_table =
        f->pg ? "SELECT count(*) FROM information_schema.tables WHERE table_schema ="
                " current_schema() AND table_name = 'fleet_metrics'"
              : "SELECT count(*) FROM sqlite_master WHERE name = 'fleet_metrics'";
    assert_int_equal(q_int_url(f->url, has_table), 0);
    for (int i = 0; i < 2; i++) { /* upgrades once; the second open changes nothing */
        f->s = open_at(f->url, "node-a");
        assert_int_equal(q_int_url(f->url, "SELECT version FROM schema_version"), version);
        assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM schema_version"), 1);
        assert_int_equal(q_int_url(f->url, has_table), 1);
        if (i == 0) store_close(f->s);
    }
    /* A version put back with the table left in place still upgrades. */
    store_close(f->s);
    q_exec_url(f->url, sql);
    f->s = open_at(f->url, "node-a");
    assert_int_equal(q_int_url(f->url, "SELECT version FROM schema_version"), version);
    put_ok(f->s, &m, 1);
    mlist l;
    assert_int_equal(range(f->s, &l, 0, 10000, NAMES("ingest_rate")), 1);
}

/* The sampler writes from a thread of its own while the writer applies
 * batches: neither fails, nothing is lost. */
typedef struct putter {
    store *s;
    int failures;
} putter;

static void *putter_main(void *arg)
{
    putter *p = arg;
    for (int i = 0; i < 200; i++) {
        store_metric m[3] = {met("alive:g", i, i), met("ingest_rate", i, 2 * i),
                             met("queue_depth", i, 0)};
        char err[256];
        if (store_put_metrics(p->s, m, 3, err, sizeof err) != 0) p->failures++;
    }
    return NULL;
}

static void test_concurrent_with_writer(void **state)
{
    fx *f = *state;
    putter p = {.s = f->s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, putter_main, &p), 0);
    for (int b = 0; b < 200; b++) {
        char id[16];
        snprintf(id, sizeof id, "w%03d", b);
        reg_event e = ev(REG_EV_SESSION_OPEN, id, "g", 1000 + b);
        e.opened_ms = e.last_hb_ms = 1000 + b;
        e.ttl_s = 15;
        store_hb h;
        memset(&h, 0, sizeof h);
        snprintf(h.worker_id, sizeof h.worker_id, "%s", id);
        h.ts_ms = 1500 + b;
        apply_ok(f->s, &e, 1, &h, 1);
    }
    pthread_join(t, NULL);
    assert_int_equal(p.failures, 0);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM fleet_metrics"), 600);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats"), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nodes_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_with_writer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
