/*
 * test_store_hub: a hub's nodes' summaries (store.h: store_hub_put,
 * store_hub_list, store_hub_latest, retention of hub_summaries) on both
 * backends: SQLite by default, PostgreSQL with a URL (store_fx.h; CTest
 * runs this program both ways).
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

/* Rows copied out of the callback (its body pointer is the store's). */
typedef struct got {
    int n;
    store_hub_row r[64];
    char body[64][128];
} got;

static int collect(void *ctx, const store_hub_row *r)
{
    got *g = ctx;
    if (g->n >= 64) return 1;
    g->r[g->n] = *r;
    snprintf(g->body[g->n], sizeof g->body[0], "%s", r->body);
    g->r[g->n].body = g->body[g->n];
    g->n++;
    return 0;
}

static void put(store *s, const char *node, int64_t run, int64_t from, int64_t to, int64_t recv,
                const char *body)
{
    store_hub_row r = {
        .run_id = run, .from_ms = from, .to_ms = to, .received_ms = recv, .body = body};
    snprintf(r.node_id, sizeof r.node_id, "%s", node);
    char err[256] = "";
    if (store_hub_put(s, &r, err, sizeof err) != 0) fail_msg("store_hub_put: %s", err);
}

static void test_put_list_replace(void **state)
{
    fx *f = *state;
    put(f->s, "n1", 7, 1000, 2000, 2001, "{\"a\":1}");
    put(f->s, "n1", 7, 2000, 3000, 3001, "{\"a\":2}");
    put(f->s, "n2", 3, 1500, 2500, 2501, "{\"b\":1}");
    /* The answer to n1's second window was lost: it comes again, wider. */
    put(f->s, "n1", 7, 2000, 4000, 4001, "{\"a\":3}");
    got g = {0};
    assert_int_equal(store_hub_list(f->s, "n1", 0, 10000, 100, collect, &g), 2);
    assert_int_equal(g.r[0].from_ms, 1000);
    assert_int_equal(g.r[1].from_ms, 2000);
    assert_int_equal(g.r[1].to_ms, 4000);
    assert_int_equal(g.r[1].received_ms, 4001);
    assert_string_equal(g.r[1].body, "{\"a\":3}");
    assert_string_equal(g.r[1].node_id, "n1");
    assert_int_equal(g.r[1].run_id, 7);
    /* Every node, node then time; [from, to) on from_ms; the limit. */
    memset(&g, 0, sizeof g);
    assert_int_equal(store_hub_list(f->s, NULL, 0, 10000, 100, collect, &g), 3);
    assert_string_equal(g.r[2].node_id, "n2");
    memset(&g, 0, sizeof g);
    assert_int_equal(store_hub_list(f->s, NULL, 1500, 2000, 100, collect, &g), 1);
    assert_string_equal(g.r[0].node_id, "n2");
    memset(&g, 0, sizeof g);
    assert_int_equal(store_hub_list(f->s, "n1", 0, 10000, 1, collect, &g), 1);
    memset(&g, 0, sizeof g);
    assert_int_equal(store_hub_list(f->s, "nobody", 0, 10000, 100, collect, &g), 0);
}

static void test_latest_per_node(void **state)
{
    fx *f = *state;
    put(f->s, "n1", 1, 1000, 2000, 2001, "{\"w\":1}");
    put(f->s, "n1", 1, 2000, 3000, 3001, "{\"w\":2}");
    put(f->s, "n1", 2, 500, 900, 5000, "{\"w\":3}"); /* a new run, received last */
    put(f->s, "n2", 1, 1000, 2000, 2500, "{\"w\":4}");
    got g = {0};
    assert_int_equal(store_hub_latest(f->s, collect, &g), 2);
    assert_string_equal(g.r[0].node_id, "n1");
    assert_string_equal(g.r[0].body, "{\"w\":3}");
    assert_int_equal(g.r[0].run_id, 2);
    assert_string_equal(g.r[1].node_id, "n2");
    assert_string_equal(g.r[1].body, "{\"w\":4}");
}

static void test_bad_args(void **state)
{
    fx *f = *state;
    char err[256] = "";
    store_hub_row r = {.run_id = 1, .from_ms = 5, .to_ms = 4, .body = "{}"};
    snprintf(r.node_id, sizeof r.node_id, "n");
    assert_int_equal(store_hub_put(f->s, &r, err, sizeof err), -1); /* ends before it starts */
    assert_non_null(strstr(err, "bad arguments"));
    r.to_ms = 6;
    r.body = NULL;
    assert_int_equal(store_hub_put(f->s, &r, err, sizeof err), -1);
    r.body = "{}";
    r.node_id[0] = '\0';
    assert_int_equal(store_hub_put(f->s, &r, err, sizeof err), -1);
    got g = {0};
    assert_int_equal(store_hub_list(f->s, NULL, 0, 1, -1, collect, &g), -1);
    assert_int_equal(store_hub_list(f->s, NULL, 0, 10, 10, collect, &g), 0);
}

static void test_prune(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 30; i++)
        put(f->s, i % 2 ? "a" : "b", 1, i * 10, i * 10 + 10, 1000 + i, "{}");
    assert_int_equal(store_prune(f->s, "hub_summaries", 1020, 5), 5); /* oldest first, bounded */
    assert_int_equal(q_int_url(f->url, "SELECT min(received_ms) FROM hub_summaries"), 1005);
    assert_int_equal(store_prune(f->s, "hub_summaries", 1020, 100), 15);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM hub_summaries"), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_list_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_per_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
