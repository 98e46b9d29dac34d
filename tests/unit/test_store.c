/*
 * test_store: the store contract (store.h) against the SQLite backend.
 *
 * Each test gets a fresh database in its own mkdtemp directory under /tmp,
 * removed afterwards. What the store API cannot show (schema_version, the
 * text stored for enums, row counts) is checked through a separate raw
 * sqlite3 connection, the way an operator would look with the sqlite3 shell.
 */
#include "store/store.h"

#include "core/alert.h"
#include "core/notice.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_fx.h"

/* ---- raw look at the database ------------------------------------------ */

static int64_t q_int(const fx *f, const char *sql)
{
    return q_int_url(f->url, sql);
}

static void q_text(const fx *f, const char *sql, char *out, size_t n)
{
    q_text_url(f->url, sql, out, n);
}

static void q_exec(const fx *f, const char *sql)
{
    q_exec_url(f->url, sql);
}

/* ---- building batches ---------------------------------------------------- */

static reg_event ev_open(const char *w, const char *g, const char *inst, int64_t opened, int ttl)
{
    reg_event e = ev(REG_EV_SESSION_OPEN, w, g, opened);
    snprintf(e.instance, sizeof e.instance, "%s", inst);
    e.opened_ms = e.last_hb_ms = opened;
    e.ttl_s = ttl;
    return e;
}

static reg_event ev_close(const char *w, const char *g, int64_t opened, int64_t at, int reason,
                          int64_t last_hb)
{
    reg_event e = ev(REG_EV_SESSION_CLOSE, w, g, at);
    e.opened_ms = opened;
    e.reason = (uint8_t)reason;
    e.last_hb_ms = last_hb;
    return e;
}

static reg_event ev_state(int kind, const char *w, const char *g, int st, int prev, int64_t at)
{
    reg_event e = ev(kind, w, g, at);
    e.state = (uint8_t)st;
    e.prev_state = (uint8_t)prev;
    return e;
}

static store_hb hb_full(const char *w, int64_t ts)
{
    store_hb h = hb(w, ts);
    h.has = HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS | HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL |
            HB_HAS_GPU_MEM | HB_HAS_THERMAL | HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT |
            HB_HAS_REQUESTS | HB_HAS_TOKENS | HB_HAS_CPU_TICKS;
    h.seq = 1;
    h.ttl_s = 20;
    snprintf(h.status, sizeof h.status, "serving");
    h.cpu = 0.5f;
    h.mem = 0.3f; /* not exact in binary: must still come back identical */
    h.mem_available_gb = 12.5f;
    h.gpu_mem_active_gb = 3.1f;
    h.thermal = HB_THERMAL_FAIR;
    h.backlog = 7;
    h.capacity = 8;
    h.in_flight = 2;
    h.requests = 100;
    h.tokens = HB_COUNTER_MAX;
    h.cpu_ticks = 12345;
    return h;
}

/* ---- collecting rows ----------------------------------------------------- */

#define MAXROWS 64
ROW_LIST(wlist, store_worker);
ROW_LIST(slist, store_session);
ROW_LIST(hlist, store_hb);
ROW_LIST(elist, store_event);
ROW_LIST(glist, store_group);

COLLECTOR(got_w, wlist, store_worker)
COLLECTOR(got_s, slist, store_session)
COLLECTOR(got_h, hlist, store_hb)
COLLECTOR(got_e, elist, store_event)
COLLECTOR(got_g, glist, store_group)

/* ---- tests ---------------------------------------------------------------- */

static void test_open_urls(void **state)
{
    fx *f = *state;
    char err[128];
    /* Nothing listens on port 1: a clear error, quickly (connect_timeout). */
    assert_null(store_open("postgresql://nobody@127.0.0.1:1/vigil", "n", err, sizeof err));
    assert_true(strlen(err) > 0);
    assert_null(store_open("sqlite:", "n", err, sizeof err));
    assert_null(store_open(":memory:", "n", err, sizeof err));
    assert_null(store_open("/nonexistent-dir/x/y.db", "n", err, sizeof err));
    assert_true(strlen(err) > 0);
    char longnode[STORE_NODE_MAX + 2];
    memset(longnode, 'n', sizeof longnode - 1);
    longnode[sizeof longnode - 1] = '\0';
    assert_null(store_open(f->url, longnode, err, sizeof err));
    assert_int_equal(store_ping(f->s), 0);
    if (f->pg) {
        assert_string_equal(store_backend_name(f->s), "postgres");
        return;
    }

    store *bare = store_open(f->path, "node-b", err, sizeof err); /* a plain path works too */
    assert_non_null(bare);
    assert_string_equal(store_backend_name(bare), "sqlite");
    assert_int_equal(store_ping(bare), 0);
    store_close(bare);
    assert_int_equal(store_ping(f->s), 0);
    char mode[16];
    q_text(f, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
}

static void *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    rewind(fp);
    void *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, fp), *n);
    fclose(fp);
    return b;
}

static void test_migrations_idempotent(void **state)
{
    fx *f = *state;
    SQLITE_ONLY(f); /* compares the file's bytes and sqlite_master */
    reg_event e = ev_open("w1", "g1", "i1", 1000, 15);
    store_hb h = hb_full("w1", 1500);
    apply_ok(f->s, &e, 1, &h, 1);
    store_close(f->s);

    assert_int_equal(q_int(f, "SELECT count(*) FROM schema_version"), 1);
    int64_t version = q_int(f, "SELECT version FROM schema_version");
    assert_true(version >= 1);
    char schema[8192];
    q_text(f, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)",
           schema, sizeof schema);
    size_t n0, n1;
    void *before = read_file(f->path, &n0);

    /* Reopen twice: same version, same schema, same bytes, same data. */
    for (int i = 0; i < 2; i++) {
        f->s = open_at(f->url, "node-a");
        store_close(f->s);
    }
    void *after = read_file(f->path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(before);
    free(after);
    assert_int_equal(q_int(f, "SELECT version FROM schema_version"), version);
    char schema2[8192];
    q_text(f, "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)",
           schema2, sizeof schema2);
    assert_string_equal(schema, schema2);

    f->s = open_at(f->url, "node-a");
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "w1", &w), 0);
    assert_int_equal(w.open_opened_ms, 1000);
    assert_int_equal(w.last_seen_ms, 1500);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 1);

    /* A database from a newer vigild is refused, not silently downgraded. */
    store_close(f->s);
    q_exec(f, "UPDATE schema_version SET version = 999");
    char url[160], err[256];
    snprintf(url, sizeof url, "sqlite:%s", f->path);
    assert_null(store_open(url, "node-a", err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    char back[64];
    snprintf(back, sizeof back, "UPDATE schema_version SET version = %lld", (long long)version);
    q_exec(f, back);
    f->s = open_at(f->url, "node-a");
}

static void test_apply_roundtrip(void **state)
{
    fx *f = *state;
    store *s = f->s;
    reg_event b1[] = {
        ev_state(REG_EV_GROUP_STATE, "w1", "g1", REG_G_ALIVE, REG_G_UNKNOWN, 1000),
        ev_open("w1", "g1", "inst-1", 1000, 15),
    };
    store_hb h1[] = {hb_full("w1", 1000), hb("w1", 2000)};
    apply_ok(s, b1, 2, h1, 2);

    store_worker w;
    assert_int_equal(store_get_worker(s, "w1", &w), 0);
    assert_string_equal(w.worker_id, "w1");
    assert_string_equal(w.group, "g1");
    assert_string_equal(w.instance, "inst-1");
    assert_int_equal(w.state, REG_W_ALIVE);
    assert_int_equal(w.state_since_ms, 1000);
    assert_int_equal(w.first_seen_ms, 1000);
    assert_int_equal(w.last_seen_ms, 2000);
    assert_int_equal(w.ttl_s, 20); /* the heartbeat's ttl overrides the session's 15 */
    assert_int_equal(w.open_opened_ms, 1000);
    assert_int_equal(w.open_last_hb_ms, 2000);
    assert_string_equal(w.open_node_id, "node-a");
    assert_int_equal(store_get_worker(s, "nobody", &w), 1);

    glist g = {0};
    assert_int_equal(store_load_groups(s, got_g, &g), 1);
    assert_string_equal(g.r[0].name, "g1");
    assert_int_equal(g.r[0].state, REG_G_ALIVE);
    assert_int_equal(g.r[0].state_since_ms, 1000);

    hlist hl = {0};
    assert_int_equal(store_list_heartbeats(s, "w1", 0, 0, 0, got_h, &hl), 2);
    store_hb want = hb_full("w1", 1000);
    want.has &= ~(uint32_t)HB_HAS_TTL; /* ttl lives on the worker row, not per heartbeat */
    want.ttl_s = 0;
    assert_memory_equal(&hl.r[0], &want, sizeof want);
    store_hb bare = hb("w1", 2000);
    assert_memory_equal(&hl.r[1], &bare, sizeof bare);
    assert_int_equal(hl.r[1].has, 0);
    hl.n = 0;
    assert_int_equal(store_list_heartbeats(s, "w1", 1500, 2500, 0, got_h, &hl), 1);
    assert_int_equal(hl.r[0].ts_ms, 2000);
    hl.n = 0;
    assert_int_equal(store_list_heartbeats(s, "w1", 1000, 2000, 0, got_h, &hl), 1);
    assert_int_equal(hl.r[0].ts_ms, 1000);

    reg_event b2 = ev_state(REG_EV_WORKER_STATE, "w1", "g1", REG_W_SUSPECT, REG_W_ALIVE, 5000);
    apply_ok(s, &b2, 1, NULL, 0);
    assert_int_equal(store_get_worker(s, "w1", &w), 0);
    assert_int_equal(w.state, REG_W_SUSPECT);
    assert_int_equal(w.state_since_ms, 5000);

    reg_event b3[] = {
        ev_close("w1", "g1", 1000, 6000, REG_R_TIMEOUT, 2000),
        ev_state(REG_EV_WORKER_STATE, "w1", "g1", REG_W_DEAD, REG_W_SUSPECT, 6000),
        ev_state(REG_EV_GROUP_STATE, "w1", "g1", REG_G_CRASHED, REG_G_ALIVE, 6000),
    };
    b3[0].has_requests = true;
    b3[0].requests = 100;
    snprintf(b3[0].instance, sizeof b3[0].instance, "inst-1");
    apply_ok(s, b3, 3, NULL, 0);
    assert_int_equal(store_get_worker(s, "w1", &w), 0);
    assert_int_equal(w.state, REG_W_DEAD);
    assert_int_equal(w.open_opened_ms, 0);
    assert_string_equal(w.open_node_id, "");

    /* A new run: alive again, first_seen kept, new open session. */
    reg_event b4 = ev_open("w1", "g1", "inst-2", 7000, 15);
    apply_ok(s, &b4, 1, NULL, 0);
    assert_int_equal(store_get_worker(s, "w1", &w), 0);
    assert_int_equal(w.state, REG_W_ALIVE);
    assert_int_equal(w.state_since_ms, 7000);
    assert_int_equal(w.first_seen_ms, 1000);
    assert_int_equal(w.ttl_s, 15);
    assert_string_equal(w.instance, "inst-2");

    slist sl = {0};
    assert_int_equal(store_list_sessions(s, "w1", 0, 0, got_s, &sl), 2);
    assert_int_equal(sl.r[0].opened_ms, 7000); /* newest first */
    assert_int_equal(sl.r[0].closed_ms, 0);
    assert_int_equal(sl.r[0].reason, REG_R_NONE);
    assert_int_equal(sl.r[0].last_hb_ms, 7000);
    store_session *x = &sl.r[1];
    assert_string_equal(x->worker_id, "w1");
    assert_string_equal(x->group, "g1");
    assert_string_equal(x->instance, "inst-1");
    assert_string_equal(x->node_id, "node-a");
    assert_int_equal(x->opened_ms, 1000);
    assert_int_equal(x->closed_ms, 6000);
    assert_int_equal(x->last_hb_ms, 2000);
    assert_int_equal(x->reason, REG_R_TIMEOUT);
    assert_false(x->has_exit_code);
    assert_true(x->has_requests);
    assert_int_equal(x->requests, 100);
    assert_false(x->has_tokens);
    assert_int_equal(x->ttl_s, 15);
    sl.n = 0;
    assert_int_equal(store_list_sessions(s, "w1", 7000, 0, got_s, &sl), 1); /* cursor */
    assert_int_equal(sl.r[0].opened_ms, 1000);
    sl.n = 0;
    assert_int_equal(store_list_sessions(s, "w1", 0, 1, got_s, &sl), 1); /* limit */
    assert_int_equal(sl.r[0].opened_ms, 7000);

    reg_event b5 = ev_close("w1", "g1", 7000, 8000, REG_R_FAILED, 7500);
    b5.has_exit_code = b5.has_requests = b5.has_tokens = true;
    b5.exit_code = -3;
    b5.requests = 5;
    b5.tokens = 6;
    apply_ok(s, &b5, 1, NULL, 0);
    sl.n = 0;
    assert_int_equal(store_list_sessions(s, "w1", 0, 1, got_s, &sl), 1);
    assert_int_equal(sl.r[0].closed_ms, 8000);
    assert_int_equal(sl.r[0].reason, REG_R_FAILED);
    assert_true(sl.r[0].has_exit_code);
    assert_int_equal(sl.r[0].exit_code, -3);
    assert_int_equal(sl.r[0].last_hb_ms, 7500);
    assert_int_equal(sl.r[0].tokens, 6);

    /* Enums are stored as names an operator can read. */
    char txt[64];
    q_text(f, "SELECT state FROM workers WHERE worker_id = 'w1'", txt, sizeof txt);
    assert_string_equal(txt, "alive");
    q_text(f, "SELECT reason FROM sessions WHERE opened_ms = 1000", txt, sizeof txt);
    assert_string_equal(txt, "timeout");
    q_text(f, "SELECT thermal FROM heartbeats WHERE ts_ms = 1000", txt, sizeof txt);
    assert_string_equal(txt, "fair");

    elist el = {0};
    store_event_query eq = {0};
    assert_int_equal(store_list_events(s, &eq, got_e, &el), 8);
    static const char *const types[] = {"session_closed", "session_opened", "group_crashed",
                                        "worker_dead",    "session_closed", "worker_suspect",
                                        "session_opened", "group_alive"};
    for (int i = 0; i < 8; i++) {
        assert_string_equal(el.r[i].type, types[i]);
        assert_string_equal(el.r[i].node_id, "node-a");
        if (i) assert_true(el.r[i].id < el.r[i - 1].id);
    }
    store_event *c = &el.r[4];
    assert_int_equal(c->ts_ms, 6000);
    assert_string_equal(c->worker_id, "w1");
    assert_string_equal(c->group, "g1");
    assert_string_equal(c->instance, "inst-1");
    assert_int_equal(c->reason, REG_R_TIMEOUT);
    assert_int_equal(c->opened_ms, 1000);
    assert_false(c->has_exit_code);
    assert_string_equal(c->state, "");
    assert_true(el.r[0].has_exit_code);
    assert_int_equal(el.r[0].exit_code, -3);
    assert_string_equal(el.r[3].state, "dead");
    assert_string_equal(el.r[3].prev_state, "suspect");
    assert_int_equal(el.r[3].opened_ms, 0);
    assert_string_equal(el.r[2].state, "crashed");
    assert_string_equal(el.r[2].prev_state, "alive");
    assert_string_equal(el.r[2].group, "g1");
    assert_string_equal(el.r[2].worker_id, "w1");
    assert_string_equal(el.r[7].prev_state, "unknown");
    assert_int_equal(el.r[1].ts_ms, 7000);
    assert_string_equal(el.r[1].instance, "inst-2");

    /* Forget: worker, sessions and heartbeats go, including heartbeats of
     * this very batch; the group and the history stay. */
    reg_event b6 = ev(REG_EV_WORKER_FORGET, "w1", "g1", 9000);
    store_hb h6 = hb("w1", 8500);
    apply_ok(s, &b6, 1, &h6, 1);
    assert_int_equal(store_get_worker(s, "w1", &w), 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats WHERE worker_id <> ''"), 0);
    /* SQLite keeps its newest raw row as a nameless tombstone: rowids are
     * never handed out twice (store.h), so the hourly watermark stays exact. */
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats WHERE worker_id = ''"), !f->pg);
    wlist wl = {0};
    assert_int_equal(store_load_workers(s, got_w, &wl), 0);
    g.n = 0;
    assert_int_equal(store_load_groups(s, got_g, &g), 1);
    el.n = 0;
    eq.limit = 1;
    assert_int_equal(store_list_events(s, &eq, got_e, &el), 1);
    assert_string_equal(el.r[0].type, "worker_forgotten");
    assert_int_equal(el.r[0].ts_ms, 9000);
}

static void test_replay(void **state)
{
    fx *f = *state;
    reg_event b1[] = {ev_open("w1", "g1", "i1", 1000, 15)};
    reg_event b2[] = {ev_close("w1", "g1", 1000, 2000, REG_R_RESTARTED, 1900),
                      ev_open("w1", "g1", "i2", 2000, 15)};
    for (int i = 0; i < 2; i++)
        apply_ok(f->s, b1, 1, NULL, 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sessions"), 1);
    for (int i = 0; i < 2; i++)
        apply_ok(f->s, b2, 2, NULL, 0);
    apply_ok(f->s, b1, 1, NULL, 0); /* an old batch, late: changes nothing either */
    assert_int_equal(q_int(f, "SELECT count(*) FROM sessions"), 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 3);
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "w1", &w), 0);
    assert_int_equal(w.open_opened_ms, 2000);
    assert_string_equal(w.instance, "i2");
    assert_int_equal(w.first_seen_ms, 1000);
    assert_int_equal(w.last_seen_ms, 2000);
}

static void test_worker_paging(void **state)
{
    fx *f = *state;
    reg_event e[50];
    size_t n = 0;
    for (int i = 24; i >= 0; i--) { /* applied out of order on purpose */
        char id[16];
        snprintf(id, sizeof id, "w%02d", i);
        e[n++] = ev_open(id, i % 2 ? "gB" : "gA", "inst", 1000 + i, 10);
        if (i % 5 == 0)
            e[n++] = ev_state(REG_EV_WORKER_STATE, id, "", REG_W_DEAD, REG_W_ALIVE, 5000);
    }
    apply_ok(f->s, e, n, NULL, 0);

    char seen[25] = {0}, after[HB_ID_MAX + 1] = "";
    int pages = 0, total = 0;
    for (;;) {
        wlist wl = {0};
        store_worker_query q = {.state = -1, .limit = 10, .after_id = pages ? after : NULL};
        int got = store_list_workers(f->s, &q, got_w, &wl);
        assert_int_equal(got, wl.n);
        if (got == 0) break;
        pages++;
        for (int i = 0; i < wl.n; i++) {
            int k = atoi(wl.r[i].worker_id + 1);
            assert_false(seen[k]);
            seen[k] = 1;
            if (i) assert_true(strcmp(wl.r[i - 1].worker_id, wl.r[i].worker_id) < 0);
        }
        total += got;
        snprintf(after, sizeof after, "%s", wl.r[wl.n - 1].worker_id);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(total, 25);

    wlist wl = {0};
    store_worker_query q = {.group = "gA", .state = -1};
    assert_int_equal(store_list_workers(f->s, &q, got_w, &wl), 13);
    wl.n = 0;
    q = (store_worker_query){.state = REG_W_DEAD};
    assert_int_equal(store_list_workers(f->s, &q, got_w, &wl), 5);
    assert_string_equal(wl.r[1].worker_id, "w05");
    assert_int_equal(wl.r[1].state_since_ms, 5000);
    assert_string_equal(wl.r[1].group, "gB"); /* an empty group in the event keeps the row's */
    wl.n = 0;
    q = (store_worker_query){.group = "gA", .state = REG_W_DEAD, .after_id = "w00", .limit = 1};
    assert_int_equal(store_list_workers(f->s, &q, got_w, &wl), 1);
    assert_string_equal(wl.r[0].worker_id, "w10");
    wl.n = 0;
    assert_int_equal(store_list_workers(f->s, NULL, got_w, &wl), 25);
    assert_int_equal(wl.r[7].open_opened_ms, 1007);
    wl.n = 0;
    assert_int_equal(store_load_workers(f->s, got_w, &wl), 25);
}

static int stop_after_two(void *ctx, const store_event *e)
{
    (void)e;
    return ++*(int *)ctx >= 2;
}

static void test_events_query(void **state)
{
    fx *f = *state;
    /* 3 workers x (open, suspect, close): 9 events at ts 100*k. */
    reg_event e[9];
    const char *ws[] = {"a", "b", "c"}, *gs[] = {"g1", "g1", "g2"};
    for (int i = 0; i < 3; i++) {
        e[i] = ev_open(ws[i], gs[i], "x", 100 * (i + 1), 10);
        e[3 + i] =
            ev_state(REG_EV_WORKER_STATE, ws[i], gs[i], REG_W_SUSPECT, REG_W_ALIVE, 100 * (i + 4));
        e[6 + i] = ev_close(ws[i], gs[i], 100 * (i + 1), 100 * (i + 7), REG_R_TIMEOUT, 0);
    }
    apply_ok(f->s, e, 9, NULL, 0);

    elist all = {0};
    store_event_query q = {0};
    assert_int_equal(store_list_events(f->s, &q, got_e, &all), 9);
    int64_t first = all.r[8].id;
    elist el = {0};
    q.after_id = first;
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(el.r[i].id, all.r[7 - i].id); /* ascending */

    /* Descending pages of 4 through before_id. */
    int64_t before = 0, ids[9];
    int n = 0;
    for (;;) {
        el.n = 0;
        q = (store_event_query){.before_id = before, .limit = 4};
        if (store_list_events(f->s, &q, got_e, &el) == 0) break;
        for (int i = 0; i < el.n; i++)
            ids[n++] = el.r[i].id;
        before = el.r[el.n - 1].id;
    }
    assert_int_equal(n, 9);
    for (int i = 0; i < 9; i++)
        assert_int_equal(ids[i], all.r[i].id);

    el.n = 0;
    q = (store_event_query){.worker_id = "b"};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 3);
    el.n = 0;
    q = (store_event_query){.group = "g1", .type = "worker_suspect"};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 2);
    assert_string_equal(el.r[0].worker_id, "b");
    el.n = 0;
    q = (store_event_query){.from_ms = 300, .to_ms = 700};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 4); /* ts 300..600 */
    assert_int_equal(el.r[0].ts_ms, 600);
    assert_int_equal(el.r[3].ts_ms, 300);
    el.n = 0;
    q = (store_event_query){
        .after_id = first, .type = "session_closed", .worker_id = "c", .from_ms = 900};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 1);
    assert_int_equal(el.r[0].ts_ms, 900);
    el.n = 0;
    q = (store_event_query){.type = "nothing-like-this"};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 0);

    int calls = 0; /* a callback may stop early */
    q = (store_event_query){0};
    assert_int_equal(store_list_events(f->s, &q, stop_after_two, &calls), 2);
    assert_int_equal(calls, 2);
}

/* ---- alerts in the history ------------------------------------------------ */

/* As the alert engine hands one to the write queue (reg.h REG_EV_ALERT). */
static reg_event ev_alert(const char *w, const char *g, int st, int sev, int type, const char *rule,
                          int64_t at, int64_t since)
{
    reg_event e = ev(REG_EV_ALERT, w, g, at);
    e.state = (uint8_t)st;
    e.reason = (uint8_t)sev;
    e.exit_code = type;
    e.has_exit_code = true; /* must not reach the exit_code column either */
    e.opened_ms = since;
    snprintf(e.instance, sizeof e.instance, "%s", rule);
    return e;
}

/* Every table but events, as text: what an alert must leave alone. */
static char *dump_but_events(const fx *f)
{
    static const char *const sql[] = {
        "SELECT * FROM workers ORDER BY worker_id",
        "SELECT * FROM \"groups\" ORDER BY name",
        "SELECT worker_id, opened_ms, group_name, instance, node_id, closed_ms, reason,"
        " exit_code, last_hb_ms, requests, tokens, ttl_s FROM sessions ORDER BY worker_id, "
        "opened_ms",
        "SELECT worker_id, ts_ms, seq, status, cpu FROM heartbeats ORDER BY worker_id, ts_ms",
        "SELECT * FROM heartbeats_hourly ORDER BY worker_id, hour_ms",
        "SELECT worker_id, computed_ms FROM reliability ORDER BY worker_id",
        "SELECT * FROM node_runs ORDER BY id",
    };
    size_t cap = 1, len = 0;
    char *all = calloc(1, cap);
    assert_non_null(all);
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        char *d = q_dump(f->url, sql[i]);
        size_t n = strlen(d);
        assert_non_null(all = realloc(all, cap += n + 2));
        memcpy(all + len, d, n);
        len += n;
        all[len++] = '#';
        all[len] = '\0';
        free(d);
    }
    return all;
}

static void test_alert_events(void **state)
{
    fx *f = *state;
    reg_event b1[] = {ev_state(REG_EV_GROUP_STATE, "w1", "g1", REG_G_ALIVE, REG_G_UNKNOWN, 1000),
                      ev_open("w1", "g1", "i1", 1000, 15)};
    store_hb h1 = hb_full("w1", 1500);
    apply_ok(f->s, b1, 2, &h1, 1);
    elist el = {0};
    assert_int_equal(store_list_events(f->s, &(store_event_query){.limit = 1}, got_e, &el), 1);
    int64_t last_reg = el.r[0].id; /* the registry's newest */
    char *before = dump_but_events(f);

    reg_event a[] = {
        ev_alert("w1", "g1", NOTICE_FIRING, NOTICE_CRITICAL, ALERT_WORKER_LOST, "lost-w", 5000,
                 5000),
        ev_alert("", "g1", NOTICE_FIRING, NOTICE_WARNING, ALERT_GROUP_DOWN, "grp.down_1", 6000,
                 6000),
        ev_alert("w1", "g1", NOTICE_RESOLVED, NOTICE_CRITICAL, ALERT_WORKER_LOST, "lost-w", 7000,
                 5000),
        /* A repeat is never sent; should one come it is still firing. A
         * subject the store has never seen creates no worker. */
        ev_alert("w9", "", NOTICE_REPEAT, NOTICE_INFO, ALERT_STUCK, "stuck", 8000, 4000),
    };
    apply_ok(f->s, a, 4, NULL, 0);
    char *after = dump_but_events(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(store_get_worker(f->s, "w9", &(store_worker){0}), 1);

    el.n = 0;
    store_event_query q = {.after_id = last_reg};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 4);
    static const struct {
        const char *type, *worker, *group, *detail;
        int64_t ts;
    } want[] = {
        {"alert_firing", "w1", "g1",
         "{\"rule\":\"lost-w\",\"alert_type\":\"worker_lost\",\"severity\":\"critical\","
         "\"since_ms\":5000}",
         5000},
        {"alert_firing", "", "g1",
         "{\"rule\":\"grp.down_1\",\"alert_type\":\"group_down\",\"severity\":\"warning\","
         "\"since_ms\":6000}",
         6000},
        {"alert_resolved", "w1", "g1",
         "{\"rule\":\"lost-w\",\"alert_type\":\"worker_lost\",\"severity\":\"critical\","
         "\"since_ms\":5000}",
         7000},
        {"alert_firing", "w9", "",
         "{\"rule\":\"stuck\",\"alert_type\":\"stuck\",\"severity\":\"info\",\"since_ms\":4000}",
         8000},
    };
    for (int i = 0; i < 4; i++) {
        const store_event *e = &el.r[i];
        assert_string_equal(e->type, want[i].type);
        assert_int_equal(e->ts_ms, want[i].ts);
        assert_string_equal(e->worker_id, want[i].worker);
        assert_string_equal(e->group, want[i].group);
        assert_string_equal(e->detail, want[i].detail);
        assert_string_equal(e->instance, "");
        assert_string_equal(e->state, "");
        assert_string_equal(e->prev_state, "");
        assert_int_equal(e->reason, REG_R_NONE);
        assert_false(e->has_exit_code);
        assert_int_equal(e->opened_ms, 0);
        assert_string_equal(e->node_id, "node-a");
    }
    /* Empty subjects and the session-only columns are NULL, not ''. */
    assert_int_equal(q_int(f, "SELECT count(*) FROM events WHERE type LIKE 'alert%' AND instance"
                              " IS NULL AND state IS NULL AND prev_state IS NULL AND reason IS"
                              " NULL AND exit_code IS NULL AND opened_ms IS NULL"),
                     4);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events WHERE worker_id IS NULL"), 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events WHERE group_name IS NULL"), 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events WHERE detail IS NOT NULL"), 4);
    el.n = 0; /* registry events read detail "" */
    q = (store_event_query){.before_id = last_reg + 1};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 2);
    assert_string_equal(el.r[0].detail, "");

    /* Filters: by type, and with the subject's. */
    el.n = 0;
    assert_int_equal(
        store_list_events(f->s, &(store_event_query){.type = "alert_firing"}, got_e, &el), 3);
    assert_int_equal(el.r[0].ts_ms, 8000); /* newest first */
    el.n = 0;
    assert_int_equal(
        store_list_events(f->s, &(store_event_query){.type = "alert_resolved"}, got_e, &el), 1);
    assert_int_equal(el.r[0].ts_ms, 7000);
    el.n = 0;
    q = (store_event_query){.group = "g1", .type = "alert_firing", .after_id = last_reg};
    assert_int_equal(store_list_events(f->s, &q, got_e, &el), 2);
    assert_string_equal(el.r[0].worker_id, "w1");
    assert_string_equal(el.r[1].worker_id, "");
    el.n = 0;
    assert_int_equal(store_list_events(f->s, &(store_event_query){.worker_id = "w1"}, got_e, &el),
                     4); /* the group's tipping worker, its session, its two alerts */

    /* The kind past the last is still refused. */
    reg_event bad = ev(REG_EV_ALERT + 1, "w1", "g1", 9000);
    char err[256] = "";
    assert_int_equal(store_apply(f->s, &bad, 1, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown event kind"));

    /* detail is whole JSON whatever the rule: escaped, and cut (the rule
     * only) to fit. */
    char d[STORE_EVENT_DETAIL_MAX];
    reg_event odd =
        ev_alert("w", "", NOTICE_FIRING, NOTICE_INFO, ALERT_FLAPPING, "a\"b\\c\n\xff", 1, -1);
    store_alert_detail(&odd, d, sizeof d);
    assert_string_equal(d, "{\"rule\":\"a\\\"b\\\\c\\u000a\\u00ff\",\"alert_type\":\"flapping\","
                           "\"severity\":\"info\",\"since_ms\":-1}");
    memset(odd.instance, 1, HB_INSTANCE_MAX); /* 128 x \u0001: 768 bytes */
    odd.instance[HB_INSTANCE_MAX] = '\0';
    odd.exit_code = 1000; /* out of range: named, not trusted */
    store_alert_detail(&odd, d, sizeof d);
    const char *tail = "\",\"alert_type\":\"unknown\",\"severity\":\"info\",\"since_ms\":-1}";
    size_t len = strlen(d), body = len - strlen(tail) - strlen("{\"rule\":\"");
    assert_true(len < sizeof d && len > strlen(tail));
    assert_string_equal(d + len - strlen(tail), tail);
    assert_int_equal(strncmp(d, "{\"rule\":\"\\u0001\\u0001", 21), 0);
    assert_true(body > 0 && body % 6 == 0); /* cut between escapes */
    char small[32];
    store_alert_detail(&odd, small, sizeof small); /* not even the fixed parts fit */
    assert_string_equal(small, "");
}

/* A database made before events had detail upgrades in place. */
static void test_migrate_detail(void **state)
{
    fx *f = *state;
    reg_event e = ev_open("w1", "g1", "i1", 1000, 15);
    apply_ok(f->s, &e, 1, NULL, 0);
    store_close(f->s);
    int64_t version = q_int(f, "SELECT version FROM schema_version");
    /* The version before detail: PostgreSQL step 1, SQLite step 2. */
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", f->pg ? 1 : 2);
    q_exec(f, "ALTER TABLE events DROP COLUMN detail");
    q_exec(f, sql);
    const char *has_col =
        f->pg ? "SELECT count(*) FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = 'events' AND column_name = 'detail'"
              : "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'detail'";
    assert_int_equal(q_int(f, has_col), 0);

    for (int i = 0; i < 2; i++) { /* upgrades once; the second open changes nothing */
        f->s = open_at(f->url, "node-a");
        assert_int_equal(q_int(f, "SELECT version FROM schema_version"), version);
        assert_int_equal(q_int(f, "SELECT count(*) FROM schema_version"), 1);
        assert_int_equal(q_int(f, has_col), 1);
        if (i == 0) store_close(f->s);
    }
    reg_event a =
        ev_alert("w1", "g1", NOTICE_FIRING, NOTICE_CRITICAL, ALERT_WORKER_LOST, "lost", 2000, 2000);
    apply_ok(f->s, &a, 1, NULL, 0);
    elist el = {0};
    assert_int_equal(store_list_events(f->s, &(store_event_query){0}, got_e, &el), 2);
    assert_string_equal(el.r[0].type, "alert_firing");
    assert_non_null(strstr(el.r[0].detail, "\"rule\":\"lost\""));
    assert_string_equal(el.r[1].type, "session_opened"); /* the old row, detail NULL */
    assert_string_equal(el.r[1].detail, "");
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "w1", &w), 0);
    assert_int_equal(w.open_opened_ms, 1000);
}

static void test_prune(void **state)
{
    fx *f = *state;
    SQLITE_ONLY(f); /* the rowid watermark and newest-row rules are SQLite's */
    store_hb h[100];
    reg_event e[10];
    for (int i = 0; i < 100; i++)
        h[i] = hb("w1", i + 1); /* raw samples arrive in time order */
    for (int i = 0; i < 10; i++)
        e[i] = ev_state(REG_EV_GROUP_STATE, "", "g", REG_G_ALIVE, REG_G_UNKNOWN, 10 * (i + 1));
    apply_ok(f->s, e, 10, h, 100);

    /* Raw rows go only once they are in heartbeats_hourly. */
    assert_int_equal(store_prune(f->s, "heartbeats", 51, 20), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1000), 100);
    assert_int_equal(store_prune(f->s, "heartbeats", 51, 20), 20);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 80);
    assert_int_equal(q_int(f, "SELECT min(ts_ms) FROM heartbeats"), 21);
    assert_int_equal(store_prune(f->s, "heartbeats", 51, 1000), 30);
    assert_int_equal(store_prune(f->s, "heartbeats", 51, 1000), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 50);
    assert_int_equal(q_int(f, "SELECT min(ts_ms) FROM heartbeats"), 51);

    assert_int_equal(store_prune(f->s, "events", 55, 3), 3);
    assert_int_equal(store_prune(f->s, "events", 55, 0), 0);
    assert_int_equal(store_prune(f->s, "events", 55, 100), 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 5);
    assert_int_equal(q_int(f, "SELECT min(ts_ms) FROM events"), 60);

    /* Bounded work: only the oldest-arrived `limit` rows are looked at, so a
     * row that arrived out of time order waits for a later pass. */
    store_hb late[3] = {hb("w1", 200), hb("w1", 5), hb("w1", 6)};
    /* Never the newest row: SQLite would hand its rowid out again. */
    assert_int_equal(store_prune(f->s, "heartbeats", 1000, 1000), 49);
    apply_ok(f->s, NULL, 0, late, 3);
    assert_int_equal(store_prune(f->s, "heartbeats", 100, 3), 0); /* not rolled up yet */
    assert_int_equal(store_hourly_rollup(f->s, 1000), 3);
    assert_int_equal(store_prune(f->s, "heartbeats", 100, 1), 0);
    assert_int_equal(store_prune(f->s, "heartbeats", 100, 3), 1);
    assert_int_equal(store_prune(f->s, "heartbeats", 100, 10), 0); /* ts 6 is the newest */
    assert_int_equal(q_int(f, "SELECT max(ts_ms) FROM heartbeats WHERE rowid = "
                              "(SELECT max(rowid) FROM heartbeats)"),
                     6);

    assert_int_equal(store_prune(f->s, "workers", 1000, 10), -1);
    assert_int_equal(store_prune(f->s, "heartbeats; DROP TABLE events", 1000, 10), -1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 5);
}

static void test_runs(void **state)
{
    fx *f = *state;
    store_run r;
    int64_t id1, id2, idb;
    assert_int_equal(store_last_run(f->s, 0, &r), 1);
    assert_int_equal(store_run_begin(f->s, 1000, &id1), 0);
    assert_int_equal(store_last_run(f->s, 0, &r), 0);
    assert_int_equal(r.id, id1);
    assert_int_equal(r.started_ms, 1000);
    assert_int_equal(r.alive_ms, 1000);
    assert_int_equal(r.stopped_ms, 0);
    assert_int_equal(store_run_alive(f->s, id1, 2000), 0);
    assert_int_equal(store_run_end(f->s, id1, 3000), 0);
    assert_int_equal(store_run_alive(f->s, 999999, 2000), -1);

    store *b = open_at(f->url, "node-b"); /* another vigild sharing the database */
    assert_int_equal(store_run_begin(b, 3500, &idb), 0);
    assert_int_equal(store_run_begin(f->s, 4000, &id2), 0);
    assert_true(id2 > idb && idb > id1);
    assert_int_equal(store_last_run(f->s, 0, &r), 0);
    assert_int_equal(r.id, id2);
    assert_int_equal(store_last_run(f->s, id2, &r), 0); /* skips node-b's run */
    assert_int_equal(r.id, id1);
    assert_int_equal(r.started_ms, 1000);
    assert_int_equal(r.alive_ms, 3000);
    assert_int_equal(r.stopped_ms, 3000);
    assert_int_equal(store_last_run(f->s, id1, &r), 1);
    assert_int_equal(store_last_run(b, 0, &r), 0);
    assert_int_equal(r.id, idb);
    store_close(b);
}

static void test_hb_absent_and_from_msg(void **state)
{
    fx *f = *state;
    hb_msg m;
    memset(&m, 0, sizeof m);
    m.has = HB_HAS_GROUP | HB_HAS_INSTANCE | HB_HAS_EXIT_CODE | HB_HAS_CPU | HB_HAS_SEQ;
    m.cpu = 0.0;
    m.seq = 42;
    m.mem = 0.9; /* no bit: must not travel */
    snprintf(m.worker_id, sizeof m.worker_id, "w1");
    snprintf(m.status, sizeof m.status, "stale");
    store_hb h[3];
    store_hb_from_msg(&h[0], &m, 1000);
    assert_int_equal(h[0].has, HB_HAS_CPU | HB_HAS_SEQ);
    assert_int_equal(h[0].seq, 42);
    assert_true(h[0].mem == 0.0f);
    assert_string_equal(h[0].status, "");
    assert_string_equal(h[0].worker_id, "w1");
    h[1] = hb("w1", 2000);
    h[1].has = HB_HAS_STATUS; /* present but empty is not absent */
    h[2] = hb("w1", 3000);
    apply_ok(f->s, NULL, 0, h, 3);

    hlist hl = {0};
    assert_int_equal(store_list_heartbeats(f->s, "w1", 0, 0, 0, got_h, &hl), 3);
    assert_int_equal(hl.r[0].has, HB_HAS_CPU | HB_HAS_SEQ);
    assert_true(hl.r[0].cpu == 0.0f);
    assert_int_equal(hl.r[1].has, HB_HAS_STATUS);
    assert_string_equal(hl.r[1].status, "");
    assert_int_equal(hl.r[2].has, 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats WHERE mem IS NULL"), 3);
    hl.n = 0;
    assert_int_equal(store_list_heartbeats(f->s, "w1", 0, 0, 2, got_h, &hl), 2);
    hl.n = 0;
    assert_int_equal(store_list_heartbeats(f->s, "w2", 0, 0, 0, got_h, &hl), 0);
}

/* Several heartbeats of one worker in one batch, out of timestamp order:
 * last_seen is the newest, the ttl is the last one given, equal timestamps
 * keep their arrival order, and other workers' rows are unaffected. */
static void test_hb_batch_order(void **state)
{
    fx *f = *state;
    reg_event e[] = {ev_open("a", "g", "i", 1000, 10), ev_open("b", "g", "i", 1000, 10)};
    store_hb h[6] = {hb("b", 1500), hb("a", 3000), hb("a", 2000),
                     hb("b", 1400), hb("a", 2000), hb("a", 2500)};
    h[1].has = h[2].has = HB_HAS_TTL;
    h[1].ttl_s = 30;
    h[2].ttl_s = 40; /* given after h[1]'s in the batch: wins although older */
    h[4].has = HB_HAS_SEQ;
    h[4].seq = 7;
    apply_ok(f->s, e, 2, h, 6);
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "a", &w), 0);
    assert_int_equal(w.last_seen_ms, 3000);
    assert_int_equal(w.ttl_s, 40);
    assert_int_equal(store_get_worker(f->s, "b", &w), 0);
    assert_int_equal(w.last_seen_ms, 1500);
    assert_int_equal(w.ttl_s, 10);
    hlist hl = {0};
    assert_int_equal(store_list_heartbeats(f->s, "a", 0, 0, 0, got_h, &hl), 4);
    assert_int_equal(hl.r[0].ts_ms, 2000);
    assert_int_equal(hl.r[0].has, 0); /* h[2]: first of the two at 2000 */
    assert_int_equal(hl.r[1].ts_ms, 2000);
    assert_int_equal(hl.r[1].seq, 7); /* h[4] */
    assert_int_equal(hl.r[2].ts_ms, 2500);
    assert_int_equal(hl.r[3].ts_ms, 3000);
    hl.n = 0;
    assert_int_equal(store_list_heartbeats(f->s, "b", 0, 0, 0, got_h, &hl), 2);
    assert_int_equal(hl.r[0].ts_ms, 1400);
}

static void test_atomic(void **state)
{
    fx *f = *state;
    reg_event e1 = ev_open("w1", "g1", "i", 1000, 10);
    store_hb h1[] = {hb("w1", 1000), hb("w1", 1100)};
    apply_ok(f->s, &e1, 1, h1, 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 2);

    /* Make the last row of the next batch fail, from outside the store. */
    if (f->pg)
        q_exec(f, "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
                  " IF NEW.worker_id = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF;"
                  " RETURN NEW; END$$; CREATE TRIGGER boom BEFORE INSERT ON heartbeats"
                  " FOR EACH ROW EXECUTE FUNCTION boom()");
    else
        q_exec(f, "CREATE TRIGGER boom BEFORE INSERT ON heartbeats WHEN NEW.worker_id = 'boom'"
                  " BEGIN SELECT RAISE(ABORT, 'boom refused'); END");
    reg_event e2[] = {ev_open("w2", "g2", "i", 2000, 10),
                      ev_state(REG_EV_GROUP_STATE, "w2", "g2", REG_G_ALIVE, 0, 2000),
                      ev_close("w1", "g1", 1000, 2000, REG_R_RESTARTED, 1100)};
    store_hb h2[] = {hb("w1", 2000), hb("w2", 2000), hb("boom", 2000)};
    char err[256] = "";
    assert_int_equal(store_apply(f->s, e2, 3, h2, 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "boom refused"));
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM workers"), 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM sessions WHERE closed_ms IS NULL"), 1);
    assert_int_equal(q_int(f, "SELECT count(*) FROM \"groups\""), 0);
    assert_int_equal(q_int(f, "SELECT count(*) FROM events"), 1);
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "w1", &w), 0);
    assert_int_equal(w.last_seen_ms, 1100);

    /* An unknown event kind after good ones rolls them back too. */
    reg_event bad[] = {ev_open("w3", "g3", "i", 3000, 10), ev(99, "w3", "g3", 3000)};
    assert_int_equal(store_apply(f->s, bad, 2, NULL, 0, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    assert_int_equal(store_get_worker(f->s, "w3", &w), 1);

    /* The store is still usable, and the same batch minus the bad row goes in. */
    q_exec(f, f->pg ? "DROP TRIGGER boom ON heartbeats" : "DROP TRIGGER boom");
    apply_ok(f->s, e2, 3, h2, 2);
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), 4);
    assert_int_equal(q_int(f, "SELECT count(*) FROM workers"), 2);
    assert_int_equal(store_apply(f->s, NULL, 0, NULL, 0, err, sizeof err), 0);
}

/* ---- concurrency and throughput ------------------------------------------- */

#define NREADERS 4
#define NBATCH 40
#define NWORKERS 200

typedef struct reader {
    store *s;
    int failures, rounds;
} reader;

static int count_w(void *ctx, const store_worker *w)
{
    (void)w;
    ++*(int *)ctx;
    return 0;
}
static int count_e(void *ctx, const store_event *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}
static int count_h(void *ctx, const store_hb *h)
{
    (void)h;
    ++*(int *)ctx;
    return 0;
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    int64_t last_seen = 0;
    for (int i = 0; i < 300; i++) {
        int n = 0;
        store_worker_query wq = {.state = -1, .limit = 50};
        store_event_query eq = {.limit = 20};
        store_worker w;
        if (store_list_workers(r->s, &wq, count_w, &n) < 0) r->failures++;
        if (store_list_events(r->s, &eq, count_e, &n) < 0) r->failures++;
        if (store_list_heartbeats(r->s, "w00007", 0, 0, 100, count_h, &n) < 0) r->failures++;
        if (store_ping(r->s) != 0) r->failures++;
        int rc = store_get_worker(r->s, "w00007", &w);
        if (rc < 0) r->failures++;
        if (rc == 0) { /* committed snapshots only: never goes backwards */
            if (w.last_seen_ms < last_seen) r->failures++;
            last_seen = w.last_seen_ms;
        }
        r->rounds++;
    }
    return NULL;
}

static void open_workers(store *s, int n)
{
    reg_event *e = calloc((size_t)n, sizeof *e);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%05d", i);
        e[i] = ev_open(id, i % 2 ? "odd" : "even", "inst", 1000, 30);
    }
    apply_ok(s, e, (size_t)n, NULL, 0);
    free(e);
}

static void test_concurrent_reads(void **state)
{
    fx *f = *state;
    open_workers(f->s, NWORKERS);
    pthread_t t[NREADERS];
    reader r[NREADERS];
    for (int i = 0; i < NREADERS; i++) {
        r[i] = (reader){.s = f->s};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
    }
    store_hb h[NWORKERS];
    for (int b = 0; b < NBATCH; b++) {
        for (int i = 0; i < NWORKERS; i++) {
            char id[16];
            snprintf(id, sizeof id, "w%05d", i);
            h[i] = hb_full(id, 2000 + b);
        }
        reg_event e = ev_state(REG_EV_WORKER_STATE, "w00001", "odd",
                               b % 2 ? REG_W_ALIVE : REG_W_SUSPECT, REG_W_ALIVE, 2000 + b);
        apply_ok(f->s, &e, 1, h, NWORKERS);
    }
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].failures, 0);
        assert_int_equal(r[i].rounds, 300);
    }
    assert_int_equal(q_int(f, "SELECT count(*) FROM heartbeats"), NBATCH * NWORKERS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One timed run on a fresh database of its own: FLEET workers, each beating
 * once per round; `shuffled` gives every round a new random order (as a real
 * fleet arrives), otherwise workers come in id order, which flatters the
 * (worker_id, ts_ms) index: a batch then touches a few adjacent pages instead
 * of one page per worker. Returns rows per second. */
static double timed_run(const fx *f, bool shuffled)
{
    enum { FLEET = 10000, BATCH = 2000, BATCHES = 100 };
    char url[768];
    fx_other_url(f, shuffled ? "rate1.db" : "rate0.db", url, sizeof url);
    store *s = open_at(url, "node-a");
    open_workers(s, FLEET);
    store_hb *h = calloc(BATCH, sizeof *h);
    int *order = malloc(FLEET * sizeof *order);
    for (int i = 0; i < FLEET; i++)
        order[i] = i;
    uint64_t rnd = 42;
    double t0 = now_s();
    for (int b = 0; b < BATCHES; b++) {
        for (int i = 0; i < BATCH; i++) {
            int k = (b * BATCH + i) % FLEET;
            for (int j = FLEET - 1; shuffled && k == 0 && j > 0; j--) { /* Fisher-Yates */
                rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
                int r = (int)((rnd >> 33) % (uint64_t)(j + 1)), t = order[j];
                order[j] = order[r];
                order[r] = t;
            }
            char id[16];
            snprintf(id, sizeof id, "w%05d", order[k]);
            h[i] = hb_full(id, 10000 + b * BATCH + i);
        }
        apply_ok(s, NULL, 0, h, BATCH);
    }
    double rate = BATCH * BATCHES / (now_s() - t0);
    print_message("store: %d full heartbeats, %d workers %s, batches of %d: %.0f rows/s\n",
                  BATCH * BATCHES, FLEET, shuffled ? "in random order" : "in id order", BATCH,
                  rate);
    store_worker w;
    assert_int_equal(store_get_worker(s, "w00000", &w), 0);
    assert_true(w.last_seen_ms >= 10000 + BATCH * BATCHES - 2 * FLEET);
    store_close(s);
    free(h);
    free(order);
    return rate;
}

/* Reports the writer's raw heartbeat rate; asserts only correctness, since
 * timing depends on the machine (and on sanitizers). */
static void test_throughput(void **state)
{
    fx *f = *state;
    assert_true(timed_run(f, false) > 0);
    assert_true(timed_run(f, true) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hb_absent_and_from_msg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hb_batch_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
