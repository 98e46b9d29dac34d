/*
 * Unit tests for one fleet sample (server/history.h: history_sample): the
 * series and their values from a registry, the app's counters and the
 * write queue, with time passed in (no thread, no store, no sleeping).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What app_event (boot.c) does for the sampler: count closes by reason. */
static void count_closes(void *ctx, const reg_event *ev)
{
    app *a = ctx;
    if (ev->kind == REG_EV_SESSION_CLOSE) a->sessions_closed[ev->reason]++;
}

static int setup(void **state)
{
    app *a = calloc(1, sizeof *a);
    reg_config c = {.default_ttl_s = 10, .phi_threshold = 0};
    a->reg = reg_new(&c, count_closes, a);
    a->wq = wq_new(1024);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    app *a = *state;
    reg_free(a->reg);
    wq_free(a->wq);
    free(a);
    return 0;
}

static void beat(app *a, const char *id, const char *group, int64_t now)
{
    hb_msg m;
    hb_init(&m);
    snprintf(m.worker_id, sizeof m.worker_id, "%s", id);
    snprintf(m.group, sizeof m.group, "%s", group);
    m.has |= HB_HAS_GROUP;
    reg_heartbeat(a->reg, &m, now);
}

static void bye(app *a, const char *id, int64_t now)
{
    hb_msg m;
    hb_init(&m);
    m.kind = HB_BYE;
    snprintf(m.worker_id, sizeof m.worker_id, "%s", id);
    reg_bye(a->reg, &m, now);
}

/* The value of series `name` in b, asserting it is there exactly once. */
static double value(const history_buf *b, const char *name)
{
    int found = -1;
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0) {
            if (found >= 0) fail_msg("series %s twice", name);
            found = (int)i;
        }
    if (found < 0) fail_msg("no series %s", name);
    return b->v[found].value;
}

static bool has(const history_buf *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0) return true;
    return false;
}

static void test_series_and_values(void **state)
{
    app *a = *state;
    const int64_t t0 = 1000000, m0 = 50000;
    beat(a, "w1", "gpu", t0);
    beat(a, "w2", "gpu", t0);
    beat(a, "w3", "cpu", t0);
    history_mark mark;
    history_mark_now(a, &mark, m0);

    /* 30 s later: 90 heartbeats accepted, 6 refused, w3 left, w2 timed out. */
    a->hb_accepted += 90;
    a->hb_rejected += 6;
    bye(a, "w3", t0 + 1000);
    reg_sweep(a->reg, t0 + 30000); /* w1 and w2 silent past their 10 s */
    beat(a, "w1", "gpu", t0 + 30000);
    hb_msg m;
    hb_init(&m);
    snprintf(m.worker_id, sizeof m.worker_id, "w1");
    assert_true(wq_push_hb(a->wq, &m, t0 + 30000));
    history_buf b = {0};
    int n = history_sample(a, &mark, t0 + 30000, m0 + 30000, &b);
    assert_int_equal(n, (int)b.n);
    assert_int_equal(b.n, 2 + 5 + 1 + 3 + 6); /* groups, states, queue, rates, reasons */
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.v[i].ts_ms, t0 + 30000);
        assert_true(store_metric_name_ok(b.v[i].name, strlen(b.v[i].name), false));
    }
    assert_true(value(&b, "alive:gpu") == 1);
    assert_true(value(&b, "alive:cpu") == 0);
    assert_true(value(&b, "workers:alive") == 1);
    assert_true(value(&b, "workers:dead") == 1);
    assert_true(value(&b, "workers:left") == 1);
    assert_true(value(&b, "workers:suspect") == 0);
    assert_true(value(&b, "workers:evicted") == 0);
    assert_true(value(&b, "queue_depth") == 1); /* the raw sample queued */
    assert_true(value(&b, "ingest_rate") == 3.0);
    assert_true(value(&b, "rejected_rate") == 0.2);
    assert_true(value(&b, "dropped_rate") == 0);
    assert_true(value(&b, "sessions_closed:clean_shutdown") == 1);
    assert_true(value(&b, "sessions_closed:timeout") == 2); /* w1 and w2 both lapsed */
    assert_true(value(&b, "sessions_closed:failed") == 0);
    assert_true(value(&b, "sessions_closed:monitor_gap") == 0);

    /* The next interval counts only what happened in it. */
    b.n = 0;
    a->hb_accepted += 10;
    assert_int_equal(history_sample(a, &mark, t0 + 40000, m0 + 40000, &b), 17);
    assert_true(value(&b, "ingest_rate") == 1.0);
    assert_true(value(&b, "sessions_closed:timeout") == 0);
    assert_true(value(&b, "sessions_closed:clean_shutdown") == 0);
    free(b.v);
}

static void test_no_rates_without_a_span(void **state)
{
    app *a = *state;
    beat(a, "w1", "gpu", 1000);
    history_mark mark = {0}; /* no sample yet */
    history_buf b = {0};
    history_sample(a, &mark, 2000, 7000, &b);
    assert_true(has(&b, "alive:gpu"));
    assert_true(has(&b, "queue_depth"));
    assert_false(has(&b, "ingest_rate"));
    assert_false(has(&b, "sessions_closed:timeout"));
    /* The monotonic clock did not move: still no rate (no division by 0). */
    b.n = 0;
    history_sample(a, &mark, 2000, 7000, &b);
    assert_false(has(&b, "ingest_rate"));
    b.n = 0;
    a->hb_accepted += 5;
    history_sample(a, &mark, 4000, 9500, &b);
    assert_true(value(&b, "ingest_rate") == 2.0);
    free(b.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_series_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_rates_without_a_span, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
