/*
 * postgres: the PostgreSQL backend of store.h (open, close, writes).
 *
 * Three connections (postgres_int.h): the writer's, the readers' and the
 * analytics one, each behind its own mutex, as SQLite's wdb/rdb/adb. Every
 * statement is prepared at connect (and again after a reconnect); values are
 * always bound. The writer's session has a statement_timeout, so one slow
 * flush fails (and the writer retries with its backoff) instead of stalling.
 *
 * store_apply is one transaction a batch, in three round trips for a
 * typical batch: (1) BEGIN, every event, and one UPDATE advancing
 * workers.last_seen_ms for the batch's workers whose row is due (arrays,
 * GREATEST; lazily, STORE_SEEN_SLACK_MS: most batches have none, and the
 * UPDATE is left out), sent as a pipeline (a round trip per PG_PIPE_CHUNK
 * statements); (2) the raw heartbeats as COPY heartbeats FROM STDIN
 * (postgres_hb.c); (3) COMMIT. Each event kind is a single statement
 * (data-modifying CTEs) that decides replays in SQL, so nothing has to wait
 * for a reply halfway. A batch that finds the writer's connection gone
 * before its COMMIT went out (the server restarted since the last batch)
 * is sent again at once on a fresh session; a COMMIT whose reply is lost
 * is reported as a failure, and the writer's retry is a replay:
 *
 * Replays (a batch applied again after a commit whose outcome was unknown)
 * come out as on SQLite: a session is keyed by (worker_id, opened_ms); an
 * open that finds it there, or a close that finds it already closed, is
 * skipped with its events row. Heartbeats, state-change and alert events
 * have no natural key: their rows would be added again.
 *
 * Forget deletes the worker's raw and hourly heartbeats, its reliability
 * row, sessions and worker row. Unlike SQLite no tombstone is kept: the
 * hourly rollup here recomputes hours from raw rows (postgres_rel.c), it has
 * no row-id watermark to protect. Heartbeats of a worker forgotten in the
 * same batch are not inserted.
 *
 * Enums are stored as their names, as on SQLite.
 */
#include "store/postgres_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1..$11 of every event statement: the events row (empty strings stored
 * as NULL); kind-specific values follow from $12. EVENT_COLS and
 * EVENT_VALS are EVENT_INSERT in two, so a kind can add columns of its own
 * between them. */
#define EVENT_COLS                                                                                 \
    " INSERT INTO events(ts_ms, type, worker_id, group_name, instance, state, prev_state, reason," \
    " exit_code, opened_ms, node_id"
#define EVENT_VALS                                                                                 \
    ") SELECT $4::bigint, $5::text, NULLIF($1::text, ''), NULLIF($2::text, ''),"                   \
    " NULLIF($3::text, ''), NULLIF($6::text, ''), NULLIF($7::text, ''), NULLIF($8::text, ''),"     \
    " $9::integer, $10::bigint, $11::text"
#define EVENT_INSERT EVENT_COLS EVENT_VALS

static const char *const pg_wsql[PGW__COUNT] = {
    /* A session opening means the worker is alive; keep state_since when it
     * already was (a restart is not a new alive period). $12: ttl_s. */
    [PGW_SESSION_OPEN] =
        "WITH s AS (INSERT INTO sessions(worker_id, opened_ms, group_name, instance, node_id,"
        " last_hb_ms, ttl_s) VALUES($1::text, $10::bigint, $2::text, $3::text, $11::text,"
        " $10::bigint, $12::integer) ON CONFLICT (worker_id, opened_ms) DO NOTHING RETURNING 1),"
        " w AS (INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) SELECT $1::text, $2::text, $3::text, 'alive',"
        " $10::bigint, $10::bigint, $10::bigint, $12::integer FROM s"
        " ON CONFLICT (worker_id) DO UPDATE SET group_name = excluded.group_name,"
        " instance = excluded.instance, state = 'alive',"
        " state_since_ms = CASE WHEN workers.state = 'alive' THEN workers.state_since_ms"
        "  ELSE excluded.state_since_ms END,"
        " first_seen_ms = LEAST(workers.first_seen_ms, excluded.first_seen_ms),"
        " last_seen_ms = GREATEST(workers.last_seen_ms, excluded.last_seen_ms),"
        " ttl_s = excluded.ttl_s)" EVENT_INSERT " FROM s",
    /* Already closed is a replay: no events row. Missing altogether (its
     * open was never stored) still deserves its line in the history. The
     * EXISTS below sees the row as it was before this statement.
     * $12: last_hb_ms, $13: requests, $14: tokens. */
    [PGW_SESSION_CLOSE] =
        "WITH u AS (UPDATE sessions SET closed_ms = $4::bigint, reason = NULLIF($8::text, ''),"
        " exit_code = $9::integer, last_hb_ms = GREATEST(last_hb_ms, $12::bigint),"
        " requests = $13::bigint, tokens = $14::bigint"
        " WHERE worker_id = $1::text AND opened_ms = $10::bigint AND closed_ms IS NULL"
        " RETURNING 1)" EVENT_INSERT " WHERE EXISTS (SELECT 1 FROM u) OR NOT EXISTS (SELECT 1"
        " FROM sessions WHERE worker_id = $1::text AND opened_ms = $10::bigint)",
    /* $12: ttl_s. An empty group in the event keeps the row's. */
    [PGW_WORKER_STATE] =
        "WITH w AS (INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES($1::text, $2::text, $3::text, $6::text,"
        " $4::bigint, $4::bigint, $4::bigint, $12::integer)"
        " ON CONFLICT (worker_id) DO UPDATE SET state = excluded.state,"
        " state_since_ms = excluded.state_since_ms,"
        " group_name = CASE WHEN excluded.group_name <> '' THEN excluded.group_name"
        "  ELSE workers.group_name END)" EVENT_INSERT,
    [PGW_GROUP_STATE] =
        "WITH g AS (INSERT INTO \"groups\"(name, state, state_since_ms)"
        " VALUES($2::text, $6::text, $4::bigint) ON CONFLICT (name) DO UPDATE"
        " SET state = excluded.state, state_since_ms = excluded.state_since_ms)" EVENT_INSERT,
    [PGW_FORGET] = "WITH a AS (DELETE FROM heartbeats WHERE worker_id = $1::text),"
                   " b AS (DELETE FROM heartbeats_hourly WHERE worker_id = $1::text),"
                   " c AS (DELETE FROM reliability WHERE worker_id = $1::text),"
                   " d AS (DELETE FROM sessions WHERE worker_id = $1::text),"
                   " e AS (DELETE FROM workers WHERE worker_id = $1::text)" EVENT_INSERT,
    /* The alert engine's event: its events row and nothing else. $12: detail. */
    [PGW_ALERT] = EVENT_COLS ", detail" EVENT_VALS ", $12::text",
    /* One statement for the batch's due workers (pg_seen): per worker the
     * newest timestamp and the last ttl given (0: keep). Returns the
     * workers it found. */
    [PGW_HB_SEEN] =
        "UPDATE workers AS w SET last_seen_ms = GREATEST(w.last_seen_ms, v.seen),"
        " ttl_s = CASE WHEN v.ttl > 0 THEN v.ttl ELSE w.ttl_s END"
        " FROM unnest($1::text[], $2::bigint[], $3::integer[]) AS v(worker_id, seen, ttl)"
        " WHERE w.worker_id = v.worker_id RETURNING w.worker_id",
    [PGW_RUN_BEGIN] = "INSERT INTO node_runs(node_id, started_ms, alive_ms)"
                      " VALUES($1::text, $2::bigint, $2::bigint) RETURNING id",
    [PGW_BATCH_MARK] = "INSERT INTO writer_batches(run_id, seq) VALUES($1::bigint, $2::bigint)"
                       " ON CONFLICT(run_id) DO UPDATE SET seq = excluded.seq",
    [PGW_BATCH_APPLIED] = "SELECT seq FROM writer_batches WHERE run_id = $1::bigint",
    [PGW_RUN_ALIVE] = "UPDATE node_runs SET alive_ms = $2::bigint WHERE id = $1::bigint",
    [PGW_RUN_END] =
        "UPDATE node_runs SET alive_ms = $2::bigint, stopped_ms = $2::bigint WHERE id = $1::bigint",
    /* Bounded, oldest first: at most $2 rows a call, so retention never
     * holds the writer long however far behind it is. ctid = ANY(ARRAY(..))
     * makes the delete itself a TID scan. Raw heartbeats go only below the
     * hourly rollup's watermark hour: hours from there on are still
     * recomputed from raw rows (postgres_rel.c), none of which may be gone.
     * No watermark yet (no rollup ran): nothing is pruned. */
    [PGW_PRUNE_HBS] = "DELETE FROM heartbeats WHERE ctid = ANY(ARRAY(SELECT ctid FROM heartbeats"
                      " WHERE ts_ms < $1::bigint AND ts_ms < (SELECT value FROM rollup_state"
                      "  WHERE name = 'hourly_hour') ORDER BY ts_ms LIMIT $2::integer))",
    [PGW_PRUNE_EVENTS] = "DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events"
                         " WHERE ts_ms < $1::bigint ORDER BY ts_ms LIMIT $2::integer))",
    [PGW_PRUNE_HOURLY] =
        "DELETE FROM heartbeats_hourly WHERE ctid = ANY(ARRAY(SELECT ctid FROM heartbeats_hourly"
        " WHERE hour_ms < $1::bigint ORDER BY hour_ms LIMIT $2::integer))",
    [PGW_PRUNE_SESSIONS] = "DELETE FROM sessions WHERE ctid = ANY(ARRAY(SELECT ctid FROM sessions"
                           " WHERE closed_ms < $1::bigint ORDER BY closed_ms LIMIT $2::integer))",
    [PGW_PRUNE_TASKS] = "DELETE FROM task_latency WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
                        " task_latency WHERE bucket_ms < $1::bigint ORDER BY bucket_ms"
                        " LIMIT $2::integer))",
    [PGW_PRUNE_METRICS] = "DELETE FROM fleet_metrics WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
                          " fleet_metrics WHERE ts_ms < $1::bigint ORDER BY ts_ms"
                          " LIMIT $2::integer))",
    [PGW_PRUNE_HUB] = "DELETE FROM hub_summaries WHERE ctid = ANY(ARRAY(SELECT ctid FROM"
                      " hub_summaries WHERE received_ms < $1::bigint ORDER BY received_ms"
                      " LIMIT $2::integer))",
};

/* ---- events ------------------------------------------------------------------- */

static const struct {
    const char *what;
    enum pg_wstmt k;
} event_ops[] = {
    [REG_EV_SESSION_OPEN] = {"session open", PGW_SESSION_OPEN},
    [REG_EV_SESSION_CLOSE] = {"session close", PGW_SESSION_CLOSE},
    [REG_EV_WORKER_STATE] = {"worker state", PGW_WORKER_STATE},
    [REG_EV_GROUP_STATE] = {"group state", PGW_GROUP_STATE},
    [REG_EV_WORKER_FORGET] = {"worker forget", PGW_FORGET},
    [REG_EV_ALERT] = {"alert", PGW_ALERT},
};

/* The values of one event statement (EVENT_INSERT's $1..$11, then the
 * kind's own). The events row is store_event_of's, the mapping every
 * backend and the live stream share; r holds its strings and must outlive
 * the send. */
static void event_params(const pg_store *q, const reg_event *e, pg_params *p, store_event *r)
{
    store_event_of(e, q->base.node_id, r);
    bool alert = e->kind == REG_EV_ALERT;
    memset(p, 0, sizeof *p);
    pp_text(p, r->worker_id);
    pp_text(p, r->group);
    pp_text(p, alert ? NULL : r->instance);
    pp_i64(p, r->ts_ms);
    pp_text(p, r->type);
    pp_text(p, r->state[0] ? r->state : NULL);
    pp_text(p, r->prev_state[0] ? r->prev_state : NULL);
    pp_text(p, r->reason ? reg_reason_name(r->reason) : NULL);
    pp_opt_i64(p, r->has_exit_code, r->exit_code);
    pp_opt_i64(p, r->opened_ms != 0, r->opened_ms);
    pp_text(p, r->node_id);
    if (alert) pp_text(p, r->detail);
    if (e->kind == REG_EV_SESSION_OPEN || e->kind == REG_EV_WORKER_STATE) pp_i64(p, e->ttl_s);
    if (e->kind == REG_EV_SESSION_CLOSE) {
        pp_i64(p, e->last_hb_ms);
        pp_opt_i64(p, e->has_requests, e->requests);
        pp_opt_i64(p, e->has_tokens, e->tokens);
    }
}

/* ---- store_apply ----------------------------------------------------------------------- */

/* One attempt at the batch. Returns 0, or -1 with m and *what set (what
 * "commit": the outcome is unknown, the transaction may have committed). */
static int apply_once(pg_store *q, const reg_event *evs, size_t nev, pg_hb_batch *hb, size_t nhb,
                      char *m, size_t mlen, const char **what)
{
    pg_conn *k = &q->w;
    pg_pipe pp;
    *what = "begin";
    if (pg_pipe_begin(&pp, k, pg_hb_reply, nhb ? hb : NULL, m, mlen) != 0) return -1;
    pg_pipe_send_sql(&pp, "BEGIN");
    for (size_t i = 0; i < nev; i++) {
        pg_params p;
        store_event row;
        event_params(q, &evs[i], &p, &row);
        pg_pipe_send(&pp, event_ops[evs[i].kind].k, &p, (int64_t)i);
    }
    if (nhb && hb->nput + hb->ngone) {
        pg_params p = {0};
        pp_bin(&p, hb->ids.p, (int)hb->ids.n);
        pp_bin(&p, hb->seen.p, (int)hb->seen.n);
        pp_bin(&p, hb->ttl.p, (int)hb->ttl.n);
        pg_pipe_send(&pp, PGW_HB_SEEN, &p, PG_TAG_SEEN);
    }
    if (q->base.mark_run > 0) {
        pg_params p = {0};
        pp_i64(&p, q->base.mark_run);
        pp_i64(&p, q->base.mark_seq);
        pg_pipe_send(&pp, PGW_BATCH_MARK, &p, PG_TAG_MARK);
    }
    if (pg_pipe_end(&pp) != 0) {
        *what = pp.failed_tag >= 0             ? event_ops[evs[pp.failed_tag].kind].what
                : pp.failed_tag == PG_TAG_SEEN ? "heartbeat"
                : pp.failed_tag == PG_TAG_MARK ? "batch mark"
                                               : "begin";
        return -1;
    }
    *what = "heartbeat";
    if (nhb && pg_hb_copy(k, hb, m, mlen) != 0) return -1;
    *what = "commit";
    return pg_exec_sql(k, "COMMIT", m, mlen);
}

/* Rolled back here, or by pg_ready on the next call if the connection is
 * gone (the server rolled back already). */
static void abandon(pg_conn *k)
{
    if (pg_alive(k) && PQpipelineStatus(k->c) == PQ_PIPELINE_OFF &&
        PQtransactionStatus(k->c) != PQTRANS_IDLE)
        pg_exec_sql(k, "ROLLBACK", NULL, 0);
}

static int pg_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                    char *err, size_t errlen)
{
    pg_store *q = (pg_store *)s;
    pg_conn *k = &q->w;
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind < REG_EV_SESSION_OPEN || evs[i].kind > REG_EV_ALERT) {
            err_set(err, errlen, "store_apply: unknown event kind %d", evs[i].kind);
            return -1;
        }
    char m[256] = "";
    const char *what = "connect";
    int rc = -1;
    pthread_mutex_lock(&k->mu);
    pg_seen_forget(&q->seen, evs, nev);
    pg_hb_batch hb;
    if (nhb && pg_hb_build(&hb, &q->seen, hbs, nhb, evs, nev) != 0) {
        pthread_mutex_unlock(&k->mu);
        pg_hb_free(&hb);
        err_set(err, errlen, "store_apply: out of memory");
        return -1;
    }
    bool looked_ok = pg_alive(k);
    if (pg_ready(k, m, sizeof m) == 0) {
        rc = apply_once(q, evs, nev, &hb, nhb, m, sizeof m, &what);
        if (rc != 0) abandon(k);
        /* Gone before the COMMIT went out: nothing was written, so the
         * batch may go again at once on a fresh session. */
        if (rc != 0 && strcmp(what, "commit") != 0 && looked_ok && !pg_alive(k)) {
            what = "reconnect";
            if (pg_retry(k, looked_ok, m, sizeof m)) {
                rc = apply_once(q, evs, nev, &hb, nhb, m, sizeof m, &what);
                if (rc != 0) abandon(k);
            }
        }
    }
    if (rc == 0 && nhb) pg_hb_committed(&q->seen, &hb);
    if (rc != 0) err_set(err, errlen, "store_apply: %s: %s", what, m);
    pthread_mutex_unlock(&k->mu);
    if (nhb) pg_hb_free(&hb);
    return rc;
}

/* ---- node runs --------------------------------------------------------------------------- */

static int pg_run_begin(store *s, int64_t now_ms, int64_t *run_id)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    pp_text(&p, q->base.node_id);
    pp_i64(&p, now_ms);
    int rc = -1;
    pthread_mutex_lock(&q->w.mu);
    PGresult *r =
        pg_ready(&q->w, NULL, 0) == 0 ? pg_fetch(&q->w, PGW_RUN_BEGIN, &p, NULL, 0) : NULL;
    if (r && PQntuples(r) == 1) {
        *run_id = pg_i64(r, 0, 0);
        rc = 0;
    }
    PQclear(r);
    pthread_mutex_unlock(&q->w.mu);
    return rc;
}

/* -1 also when the run does not exist: always a caller bug worth hearing. */
static int run_update(pg_store *q, enum pg_wstmt k, int64_t run_id, int64_t now_ms)
{
    pg_params p = {0};
    pp_i64(&p, run_id);
    pp_i64(&p, now_ms);
    pthread_mutex_lock(&q->w.mu);
    bool looked_ok = pg_alive(&q->w);
    int64_t n = pg_ready(&q->w, NULL, 0) == 0 ? pg_exec(&q->w, k, &p, NULL, 0) : -1;
    if (n < 0 && pg_retry(&q->w, looked_ok, NULL, 0)) n = pg_exec(&q->w, k, &p, NULL, 0);
    pthread_mutex_unlock(&q->w.mu);
    return n == 1 ? 0 : -1;
}

static int take_seq(void *ctx, const PGresult *r)
{
    *(int64_t *)ctx = pg_i64(r, 0, 0);
    return 0;
}

/* On the write connection, as the marks are written (pg_stream: one retry on
 * a fresh session when the old one was gone). */
static int pg_batch_applied(store *s, int64_t run_id, int64_t seq)
{
    pg_params p = {0};
    pp_i64(&p, run_id);
    int64_t got = 0;
    int n = pg_stream(&((pg_store *)s)->w, PGW_BATCH_APPLIED, &p, take_seq, &got);
    return n < 0 ? -1 : n == 1 && got >= seq;
}

static int pg_run_alive(store *s, int64_t run_id, int64_t now_ms)
{
    return run_update((pg_store *)s, PGW_RUN_ALIVE, run_id, now_ms);
}

static int pg_run_end(store *s, int64_t run_id, int64_t now_ms)
{
    return run_update((pg_store *)s, PGW_RUN_END, run_id, now_ms);
}

/* ---- retention ------------------------------------------------------------------------------ */

static int64_t pg_prune(store *s, const char *table, int64_t before_ms, int limit)
{
    pg_store *q = (pg_store *)s;
    static const struct {
        const char *table;
        enum pg_wstmt k;
    } by_table[] = {
        {"heartbeats", PGW_PRUNE_HBS},           {"events", PGW_PRUNE_EVENTS},
        {"heartbeats_hourly", PGW_PRUNE_HOURLY}, {"sessions", PGW_PRUNE_SESSIONS},
        {"task_latency", PGW_PRUNE_TASKS},       {"fleet_metrics", PGW_PRUNE_METRICS},
        {"hub_summaries", PGW_PRUNE_HUB},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof by_table / sizeof by_table[0]; i++)
        if (strcmp(table, by_table[i].table) == 0) k = by_table[i].k;
    if (k < 0) return -1;
    if (limit <= 0) return 0;
    pg_params p = {0};
    pp_i64(&p, before_ms);
    pp_i64(&p, limit);
    pthread_mutex_lock(&q->w.mu);
    bool looked_ok = pg_alive(&q->w);
    int64_t n = pg_ready(&q->w, NULL, 0) == 0 ? pg_exec(&q->w, k, &p, NULL, 0) : -1;
    if (n < 0 && pg_retry(&q->w, looked_ok, NULL, 0)) n = pg_exec(&q->w, k, &p, NULL, 0);
    pthread_mutex_unlock(&q->w.mu);
    return n;
}

/* ---- open, close ------------------------------------------------------------------------------
 */

static void pg_close(store *s)
{
    pg_store *q = (pg_store *)s;
    pg_conn_close(&q->a);
    pg_conn_close(&q->r);
    pg_conn_close(&q->w);
    pg_read_free(q);
    pg_seen_free(&q->seen);
    free(q);
}

static const store_backend postgres_backend = {
    .name = "postgres",
    .shared = true,
    .close = pg_close,
    .ping = pg_ping,
    .apply = pg_apply,
    .run_begin = pg_run_begin,
    .run_alive = pg_run_alive,
    .batch_applied = pg_batch_applied,
    .run_end = pg_run_end,
    .last_run = pg_last_run,
    .prune = pg_prune,
    .load_groups = pg_load_groups,
    .load_workers = pg_load_workers,
    .list_workers = pg_list_workers,
    .get_worker = pg_get_worker,
    .list_sessions = pg_list_sessions,
    .list_heartbeats = pg_list_heartbeats,
    .list_events = pg_list_events,
    .rel_scan = pg_rel_scan,
    .rel_put = pg_rel_put,
    .rel_load = pg_rel_load,
    .hourly_rollup = pg_hourly_rollup,
    .list_hourly = pg_list_hourly,
    .tasks_put = pg_tasks_put,
    .list_tasks = pg_list_tasks,
    .list_runs = pg_list_runs,
    .import_sessions = pg_import_sessions,
    .put_metrics = pg_put_metrics,
    .metric_names = pg_metric_names,
    .metric_series = pg_metric_series,
    .hub_put = pg_hub_put,
    .hub_list = pg_hub_list,
    .hub_latest = pg_hub_latest,
};

static int conn_init(pg_conn *k, char letter, const char *role, const char *setup,
                     const char *const *sql, int nsql)
{
    k->letter = letter;
    k->role = role;
    k->setup = setup;
    k->sql = sql;
    k->nsql = nsql;
    k->mu_ok = pthread_mutex_init(&k->mu, NULL) == 0;
    return k->mu_ok ? 0 : -1;
}

store *store_pg_open(const char *url, const char *node_id, char *err, size_t errlen)
{
    pg_store *q = calloc(1, sizeof *q);
    if (!q) {
        err_set(err, errlen, "postgres: out of memory");
        return NULL;
    }
    q->base.be = &postgres_backend;
    pg_seen_init(&q->seen);
    snprintf(q->base.node_id, sizeof q->base.node_id, "%s", node_id ? node_id : "");
    if (pg_read_texts(q, err, errlen) != 0) goto fail;
    if (conn_init(
            &q->w, 'w', "writer",
            "SET statement_timeout = " STORE_STR(PG_WRITER_STATEMENT_TIMEOUT_MS) "; SET jit = off",
            pg_wsql, PGW__COUNT) != 0 ||
        conn_init(&q->r, 'r', "reader", "SET jit = off", (const char *const *)q->rtext,
                  PGR__TOTAL) != 0 ||
        conn_init(&q->a, 'a', "analytics", "SET jit = off", pg_asql, PGA__COUNT) != 0) {
        err_set(err, errlen, "postgres: mutex init failed");
        goto fail;
    }
    /* JIT is off everywhere: the writer's and readers' statements are
     * index probes JIT spent a quarter second compiling for, and the
     * rollup's scan of 2.7M sessions ran 2x slower with it (measured).
     *
     * Migrate before the writer's setup: its statement timeout would cut a
     * long migration (or the wait for a sibling's) short. */
    if (pg_connect(&q->w, url, err, errlen) != 0 || pg_migrate(&q->w, err, errlen) != 0 ||
        pg_conn_prepare(&q->w, err, errlen) != 0)
        goto fail;
    if (pg_connect(&q->r, url, err, errlen) != 0 || pg_conn_prepare(&q->r, err, errlen) != 0)
        goto fail;
    if (pg_connect(&q->a, url, err, errlen) != 0 || pg_conn_prepare(&q->a, err, errlen) != 0)
        goto fail;
    return &q->base;
fail:
    pg_close(&q->base);
    return NULL;
}
