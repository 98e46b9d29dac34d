/*
 * store: vigil's persistent state, behind one interface for every backend.
 *
 * Two backends implement the same `store_backend` table of functions, and
 * the same test suite runs against both: SQLite (WAL; sqlite*.c), the
 * default, and PostgreSQL (libpq; postgres*.c) when several vigild nodes
 * share one database. Writes come from one thread only (the writer, in
 * batches, one transaction a batch); reads may come from any thread at the
 * same time and never wait for a write transaction (WAL readers on SQLite,
 * a connection of their own on PostgreSQL). Rollups and imports run on a
 * third handle/connection so they hold up neither.
 *
 * Several nodes (PostgreSQL): every row a node owns (sessions, events,
 * node_runs) carries its node_id, and a node's boot reconciles only its own
 * open sessions (DESIGN §4).
 *
 * Times are Unix epoch milliseconds (int64). Strings are NUL-terminated and
 * already validated (hb.h rules). Row callbacks return 0 to go on, non-zero
 * to stop early; a row's strings live only during the callback.
 *
 * Logical schema (DESIGN §5), versioned migrations, idempotent:
 *   workers(worker_id PK, group_name, instance, state, state_since_ms,
 *           first_seen_ms, last_seen_ms, ttl_s)
 *   groups(name PK, state, state_since_ms)
 *   sessions(worker_id, opened_ms, group_name, instance, node_id, closed_ms NULL,
 *            reason NULL, exit_code NULL, last_hb_ms, requests NULL, tokens NULL,
 *            ttl_s; UNIQUE(worker_id, opened_ms))
 *   heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,
 *            gpu_mem_active_gb, thermal, backlog, capacity, in_flight,
 *            requests, tokens, cpu_ticks; absent samples are NULL;
 *            index (worker_id, ts_ms))
 *   events(id autoincrement PK, ts_ms, type, worker_id, group_name, instance,
 *            state, prev_state, reason, exit_code, opened_ms, node_id, detail NULL;
 *            index ts_ms) -- registry state changes, and alerts (alert_firing,
 *            alert_resolved: worker_id / group_name the subject, the other
 *            columns NULL, detail a JSON object {"rule", "alert_type",
 *            "severity", "since_ms"}); a session_closed by a bye that gave a
 *            status has detail {"status"})
 *   node_runs(id PK, node_id, started_ms, alive_ms, stopped_ms NULL)
 *   writer_batches(run_id PK, seq) -- the writer's last committed batch of
 *            each run (store_batch_mark), so a retry after an unanswered
 *            COMMIT does not store the batch twice
 *   reliability(worker_id PK, group_name, computed_ms, the rel_features,
 *            reason counts, Kaplan–Meier curve as a blob)      -- rollup, current
 *   heartbeats_hourly(worker_id, hour_ms, n, sums and counts of cpu, mem,
 *            mem_available_gb, max thermal rank; PK(worker_id, hour_ms))
 *   task_latency(group_name, bucket_ms, count, mean/min/max/p50/p90/p95/p99
 *            ms; PK(group_name, bucket_ms))
 *   rollup_state(name PK, value)   -- the hourly rollup's watermark
 *   fleet_metrics(node_id, name, ts_ms, value; PK(node_id, name, ts_ms);
 *            index ts_ms) -- the fleet series the history sampler takes every
 *            30 s (server/history.h): one row per series per sample, upserted
 *            by key, so a retried batch changes nothing. Each node writes and
 *            reads only its own series (node_id: this store's); retention,
 *            like every table's, deletes old rows of all nodes
 *   hub_summaries(node_id, run_id, from_ms, to_ms, received_ms, body;
 *            PK(node_id, run_id, from_ms); index received_ms) -- a hub's
 *            nodes' summaries (core/hubw.h), one row per window; a window
 *            sent again (the answer lost) with a later end replaces the row
 *            of the same start, so it is never counted twice
 *   schema_version(version)
 *
 * The hourly rollup is exactly once on both backends, by different means
 * (each backend's banner has the details). SQLite folds raw rows past a
 * rowid watermark into running sums; that needs rowids never handed out
 * twice, and SQLite reuses a rowid only when the newest row is deleted, so
 * neither retention nor forget deletes the newest row there (a forgotten
 * worker's newest row stays as a tombstone with worker_id ''). PostgreSQL,
 * where ids become visible at commit in another order when several nodes
 * write, recomputes whole hours from a watermark hour instead. Either way
 * retention deletes raw rows only once their hour is final in
 * heartbeats_hourly.
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include "core/err.h"
#include "core/hb.h"
#include "core/imp.h"
#include "core/reg.h"
#include "core/rel.h"
#include "core/tlat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NODE_MAX 64 /* bytes of a node_id */

/* One raw heartbeat as the writer persists it (compact: the queue holds many). */
typedef struct store_hb {
    int64_t ts_ms;
    int64_t seq;
    uint32_t has; /* HB_HAS_* bits of the sample fields below */
    uint8_t thermal;
    int32_t ttl_s; /* 0 = none given */
    float cpu, mem, mem_available_gb, gpu_mem_active_gb;
    int64_t backlog, capacity, in_flight, requests, tokens, cpu_ticks;
    char worker_id[HB_ID_MAX + 1];
    char status[HB_STATUS_MAX + 1];
} store_hb;

/* Fill a store_hb from a parsed heartbeat. */
void store_hb_from_msg(store_hb *h, const hb_msg *m, int64_t ts_ms);

typedef struct store_worker {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    int state; /* reg_wstate */
    int64_t state_since_ms, first_seen_ms, last_seen_ms;
    int32_t ttl_s;
    /* Its open session, if any (opened_ms 0 = none); open_last_hb_ms is the
     * later of the session's last_hb_ms and last_seen_ms. */
    int64_t open_opened_ms, open_last_hb_ms;
    char open_node_id[STORE_NODE_MAX + 1];
} store_worker;

typedef struct store_group {
    char name[HB_ID_MAX + 1];
    int state; /* reg_gstate */
    int64_t state_since_ms;
} store_group;

typedef struct store_session {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    char node_id[STORE_NODE_MAX + 1];
    int64_t opened_ms, closed_ms; /* closed_ms 0 = open */
    int64_t last_hb_ms;
    int reason; /* reg_reason, REG_R_NONE while open */
    bool has_exit_code, has_requests, has_tokens;
    int32_t exit_code;
    int64_t requests, tokens;
    int32_t ttl_s;
} store_session;

#define STORE_EVENT_DETAIL_MAX 512 /* bytes of events.detail, NUL included */

typedef struct store_event {
    int64_t id, ts_ms;
    char type[32]; /* session_opened, session_closed, worker_<state>, group_<state>,
                      worker_forgotten, alert_firing, alert_resolved */
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    char state[16], prev_state[16]; /* names, "" when not applicable */
    int reason;                     /* reg_reason */
    bool has_exit_code;
    int32_t exit_code;
    int64_t opened_ms;
    char node_id[STORE_NODE_MAX + 1];
    char detail[STORE_EVENT_DETAIL_MAX]; /* alerts, and a bye's status: JSON (banner); "" when NULL
                                          */
} store_event;

typedef struct store_run {
    int64_t id, started_ms, alive_ms, stopped_ms; /* stopped_ms 0 = did not stop cleanly */
} store_run;

/* --- analytics rows --------------------------------------------------- */

#define STORE_IMPORT_NODE "import" /* sessions.node_id of imported history */

/* One worker as the reliability rollup sees it: its sessions overlapping the
 * window, oldest first (imported ones flagged). Valid during the callback. */
typedef struct store_rel_worker {
    const char *worker_id, *group;
    int64_t first_seen_ms;
    const rel_session *s;
    size_t n;
} store_rel_worker;

/* A reliability row: the features at computed_ms and the survival curve. */
typedef struct store_rel_row {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    int64_t computed_ms, window_ms;
    rel_features f;
    const rel_km_step *km; /* f.km_t_max_s closes it */
    size_t nkm;
} store_rel_row;

/* One hour of a worker's samples (averages over the samples that had the field). */
typedef struct store_hourly {
    int64_t hour_ms, count;
    bool has_cpu, has_mem, has_mem_available;
    double cpu, mem, mem_available_gb;
    uint8_t thermal_max; /* hb_thermal, NONE when no sample had one */
} store_hourly;

typedef struct store_worker_query {
    const char *group;    /* NULL = any */
    int state;            /* reg_wstate, -1 = any */
    const char *after_id; /* cursor: worker_id strictly after this; NULL = from the start */
    int limit;            /* rows */
} store_worker_query;

typedef struct store_event_query {
    int64_t after_id;       /* > 0: ascending, ids strictly after it */
    int64_t before_id;      /* > 0 (and after_id 0): descending, ids strictly before it */
    int64_t from_ms, to_ms; /* 0 = unbounded; ts_ms in [from, to) */
    const char *worker_id, *group, *type; /* NULL = any */
    int limit;
} store_event_query;

typedef struct store store;

/* Open (creating and migrating as needed). url: "sqlite:PATH", a plain
 * path, or postgres://… / postgresql://…. node_id names this vigild in rows
 * it owns. NULL with err on failure. */
store *store_open(const char *url, const char *node_id, char *err, size_t errlen);
void store_close(store *s);
const char *store_backend_name(const store *s); /* "sqlite" or "postgres" */
/* Whether several vigild nodes may share this store (PostgreSQL). When not,
 * every open session in it is this node's, whatever node_id it was opened
 * under (the default, the hostname, may have changed since). */
bool store_shared(const store *s);

/* Cheap reachability check (readyz). 0 ok. */
int store_ping(store *s);

/* Writer: apply events (in order) then raw heartbeats, in one transaction.
 * SESSION_OPEN upserts the worker and inserts the session; SESSION_CLOSE
 * updates it; WORKER_STATE / GROUP_STATE upsert workers / groups;
 * WORKER_FORGET deletes the worker, its sessions and heartbeats; ALERT
 * (the alert engine's, reg.h) changes no table but `events`. Every event
 * is also inserted into `events`. Each heartbeat is inserted and advances
 * workers.last_seen_ms (never backwards; lazily, up to STORE_SEEN_SLACK_MS
 * behind, store_sql.h: readers take the newest raw row into account). All
 * or nothing; 0 ok, -1 with err. */
int store_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                char *err, size_t errlen);

/* Writer: the next store_apply calls are batch `seq` (> 0, rising) of run
 * `run_id`; the batch's transaction also records seq for the run (table
 * writer_batches), so after a failure whose outcome is unknown (a COMMIT
 * went out and no answer came back) store_batch_applied can tell whether
 * it was committed, and the batch is not stored twice. run_id 0: nothing
 * is recorded (boot's spill replay, tools). */
void store_batch_mark(store *s, int64_t run_id, int64_t seq);
/* 1: run_id's batch seq (or a later one) is committed; 0: it is not; -1
 * error (the store still unreachable: ask again later). */
int store_batch_applied(store *s, int64_t run_id, int64_t seq);

/* Writer, now and then: the fleet's size (workers tracked), which a backend
 * may size its caches by from the next store_apply on. 0 (the default):
 * unknown. SQLite: the write connection's page cache (sqlite.c says why). */
void store_fleet_hint(store *s, size_t workers);

/* node_runs bookkeeping (writer thread). */
int store_run_begin(store *s, int64_t now_ms, int64_t *run_id);
int store_run_alive(store *s, int64_t run_id, int64_t now_ms);
int store_run_end(store *s, int64_t run_id, int64_t now_ms);
/* The latest run of this node before run `before_id` (0 = latest of all).
 * Returns 0 and fills out, 1 when there is none, -1 on error. */
int store_last_run(store *s, int64_t before_id, store_run *out);

/* Retention: delete at most `limit` rows of `table` ("heartbeats",
 * "events", "heartbeats_hourly", "sessions" (closed ones, by closed_ms),
 * "task_latency", "fleet_metrics" or "hub_summaries" (by received_ms)) older than before_ms, oldest
 * first, so each call is bounded however far behind retention is. Raw heartbeats go only once their
 * hour is final in heartbeats_hourly (see the banner). On SQLite, which keeps no time index on
 * them, "oldest" means first arrived (they arrive in time order): only the `limit` first-arrived
 * rows are looked at, never the newest. Returns rows deleted, -1 on error. */
int64_t store_prune(store *s, const char *table, int64_t before_ms, int limit);

/* Boot: every group, and every worker with its open session (any node). */
int store_load_groups(store *s, int (*cb)(void *ctx, const store_group *g), void *ctx);
int store_load_workers(store *s, int (*cb)(void *ctx, const store_worker *w), void *ctx);

/* Reads. Return 0 (or rows seen for list calls), -1 on error. */
int store_list_workers(store *s, const store_worker_query *q,
                       int (*cb)(void *ctx, const store_worker *w), void *ctx);
/* 0 found, 1 not found, -1 error. */
int store_get_worker(store *s, const char *worker_id, store_worker *out);
/* Newest first; before_opened_ms > 0 is a cursor. */
int store_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                        int (*cb)(void *ctx, const store_session *x), void *ctx);
/* Oldest first within [from_ms, to_ms). */
int store_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                          int limit, int (*cb)(void *ctx, const store_hb *h), void *ctx);
int store_list_events(store *s, const store_event_query *q,
                      int (*cb)(void *ctx, const store_event *e), void *ctx);

/* --- analytics (rollup thread and imports; a connection of their own, so a
 * long scan never holds up the HTTP reads or the writer's batches) -------- */

/* Every worker, worker_id order, with its sessions whose end is at or after
 * from_ms (closed_ms >= from_ms, or open). 0 ok, -1 error. */
int store_rel_scan(store *s, int64_t from_ms, int (*cb)(void *ctx, const store_rel_worker *w),
                   void *ctx);
/* Upsert rows in one transaction; rows of workers no longer in `workers`
 * (forgotten meanwhile) are skipped. 0 ok, -1 error. */
int store_rel_put(store *s, const store_rel_row *rows, size_t n);
/* Every stored reliability row (boot: serve rankings before the first rollup). */
int store_rel_load(store *s, int (*cb)(void *ctx, const store_rel_row *r), void *ctx);

/* Bring heartbeats_hourly up to date with the raw rows stored since the
 * last call, at most about max_rows raw rows a call, in one transaction that
 * also advances the watermark (so it is exactly once: re-running changes
 * nothing). Returns raw rows folded (0: caught up; less than max_rows: call
 * no more for now), -1 on error. */
int64_t store_hourly_rollup(store *s, int64_t max_rows);
/* Hourly rows of a worker with hour_ms in [from, to), oldest first. */
int store_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                      int (*cb)(void *ctx, const store_hourly *h), void *ctx);

/* Task latency buckets (tlat.h): upsert; a bucket already stored (a restart
 * within its 30 s) is merged: count, mean, min and max exactly, percentiles
 * from the larger part. */
int store_tasks_put(store *s, const tlat_row *rows, size_t n);
/* Buckets with bucket_ms in [from, to), group NULL = all, oldest first. */
int store_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                     int (*cb)(void *ctx, const tlat_row *r), void *ctx);

/* --- fleet series (the history sampler writes, GET /v1/history/metrics
 * reads) ------------------------------------------------------------------- */

#define STORE_METRIC_NAME_MAX 200 /* bytes of a series name */

/* One sample of one series. */
typedef struct store_metric {
    char name[STORE_METRIC_NAME_MAX + 1];
    int64_t ts_ms;
    double value;
} store_metric;

/* Whether s[0..len) is a series name: 1..STORE_METRIC_NAME_MAX bytes of
 * [A-Za-z0-9._:@-] (group names fit in it after a "alive:" prefix); as a
 * pattern, the last byte may also be '*': every name with that prefix ("*"
 * alone: every name). Those bytes need no escaping in SQL, URLs or JSON,
 * and are all below 0x7f, which the prefix ranges rely on (store.c). */
bool store_metric_name_ok(const char *s, size_t len, bool pattern);

/* Upsert samples of this node in one transaction, on the analytics
 * connection (any thread; never the writer's): a sample already there
 * (same name and ts_ms) takes the new value, so writing a batch again
 * changes nothing. Names must pass store_metric_name_ok, values be finite.
 * 0 ok, -1 with err (nothing written). */
int store_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen);
/* This node's samples with ts_ms in [from_ms, to_ms) of every series that
 * names[0..nnames) match (exact names, or patterns ending in '*'), ordered
 * by name, then ts_ms; each series once however many names match it.
 * Returns rows handed over, -1 on error (a bad name included). */
int store_metrics_range(store *s, const char *const *names, size_t nnames, int64_t from_ms,
                        int64_t to_ms, int (*cb)(void *ctx, const store_metric *m), void *ctx);

/* --- hub role: the nodes' summaries (server/hub.h) ------------------------- */

/* One node's summary of one window. body: the summary as JSON (the hub's
 * normalized text), NUL-terminated; on reads it is valid during the
 * callback only. */
typedef struct store_hub_row {
    char node_id[STORE_NODE_MAX + 1];
    int64_t run_id, from_ms, to_ms, received_ms;
    const char *body;
} store_hub_row;

/* Upsert by (node_id, run_id, from_ms), on the analytics connection: a
 * window stored again replaces the row (a wider window that starts where
 * the stored one starts supersedes it). 0, or -1 with err. */
int store_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen);
/* Windows of node_id (NULL: every node) with from_ms in [from_ms, to_ms),
 * by node, run, from_ms; at most limit. Rows handed over, or -1. */
int store_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *ctx, const store_hub_row *r), void *ctx);
/* Each node's most recently received window (the hub's boot), by node; a
 * node with two received in the same ms gives both, oldest window first. */
int store_hub_latest(store *s, int (*cb)(void *ctx, const store_hub_row *r), void *ctx);

/* Every node run (all nodes), for vigild's downtime in uptime figures. */
int store_list_runs(store *s, int (*cb)(void *ctx, const store_run *r), void *ctx);

/* Import sessions (imp.h rows, already validated) in one transaction,
 * idempotent on (worker_id, opened): a row already there with the same
 * instance is skipped; one there with another instance is a conflict and
 * nothing is written. Workers are created or their first_seen moved back.
 * An open imported session gets last_hb_ms = now_ms: the other system saw it
 * up until the export, nobody has seen it since.
 * 0 ok (counts filled), 1 conflict (*bad = row index, err says why), -1 error. */
int store_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                          size_t *skipped, size_t *bad, char *err, size_t errlen);

/* --- backends ---------------------------------------------------------- */

/* What a backend implements; store.c dispatches to it. */
typedef struct store_backend {
    const char *name;
    bool shared; /* store_shared */
    void (*close)(store *s);
    int (*ping)(store *s);
    int (*apply)(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                 char *err, size_t errlen);
    int (*batch_applied)(store *s, int64_t run_id, int64_t seq);
    int (*run_begin)(store *s, int64_t now_ms, int64_t *run_id);
    int (*run_alive)(store *s, int64_t run_id, int64_t now_ms);
    int (*run_end)(store *s, int64_t run_id, int64_t now_ms);
    int (*last_run)(store *s, int64_t before_id, store_run *out);
    int64_t (*prune)(store *s, const char *table, int64_t before_ms, int limit);
    int (*load_groups)(store *s, int (*cb)(void *, const store_group *), void *ctx);
    int (*load_workers)(store *s, int (*cb)(void *, const store_worker *), void *ctx);
    int (*list_workers)(store *s, const store_worker_query *q,
                        int (*cb)(void *, const store_worker *), void *ctx);
    int (*get_worker)(store *s, const char *worker_id, store_worker *out);
    int (*list_sessions)(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                         int (*cb)(void *, const store_session *), void *ctx);
    int (*list_heartbeats)(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                           int limit, int (*cb)(void *, const store_hb *), void *ctx);
    int (*list_events)(store *s, const store_event_query *q, int (*cb)(void *, const store_event *),
                       void *ctx);
    int (*rel_scan)(store *s, int64_t from_ms, int (*cb)(void *, const store_rel_worker *),
                    void *ctx);
    int (*rel_put)(store *s, const store_rel_row *rows, size_t n);
    int (*rel_load)(store *s, int (*cb)(void *, const store_rel_row *), void *ctx);
    int64_t (*hourly_rollup)(store *s, int64_t max_rows);
    int (*list_hourly)(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                       int (*cb)(void *, const store_hourly *), void *ctx);
    int (*tasks_put)(store *s, const tlat_row *rows, size_t n);
    int (*list_tasks)(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                      int (*cb)(void *, const tlat_row *), void *ctx);
    int (*list_runs)(store *s, int (*cb)(void *, const store_run *), void *ctx);
    int (*import_sessions)(store *s, const imp_row *rows, size_t n, int64_t now_ms,
                           size_t *inserted, size_t *skipped, size_t *bad, char *err,
                           size_t errlen);
    /* store_put_metrics, arguments checked. */
    int (*put_metrics)(store *s, const store_metric *m, size_t n, char *err, size_t errlen);
    /* store_metrics_range in two steps (store.c composes them): the names
     * of this node's series in [lo, hi), in order, found by index seeks
     * (one per name, not one per row); one series' rows in [from, to). */
    int (*metric_names)(store *s, const char *lo, const char *hi,
                        int (*cb)(void *, const char *name), void *ctx);
    int (*metric_series)(store *s, const char *name, int64_t from_ms, int64_t to_ms,
                         int (*cb)(void *, const store_metric *), void *ctx);
    /* store_hub_*, arguments checked. */
    int (*hub_put)(store *s, const store_hub_row *r, char *err, size_t errlen);
    int (*hub_list)(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                    int (*cb)(void *, const store_hub_row *), void *ctx);
    int (*hub_latest)(store *s, int (*cb)(void *, const store_hub_row *), void *ctx);
} store_backend;

/* ---- for backends: a batch's raw heartbeats, grouped by worker ---------------- */

/* Pointers to hbs[0..n) sorted by worker, arrival order within a worker (so
 * ids, the tie break of equal timestamps, still follow it): one workers
 * update per worker per batch, and consecutive index inserts land on the
 * same page. Caller frees; NULL when out of memory. */
const store_hb **store_hb_sorted(const store_hb *hbs, size_t n);
/* The run of v[i]'s worker in sorted v[0..n): returns its end, with the
 * newest timestamp in *last_ms and the last ttl given in *ttl_s (0: none),
 * as if the heartbeats had been applied one by one. */
size_t store_hb_run(const store_hb *const *v, size_t n, size_t i, int64_t *last_ms, int32_t *ttl_s);
/* Whether worker_id is forgotten among evs[0..nev) (its rows then go only
 * if the worker row exists again by the end of the batch's events). A scan
 * of the events: a backend asks per worker only when store_forgets_any. */
bool store_forgotten_in(const reg_event *evs, size_t nev, const char *worker_id);
/* Whether evs[0..nev) forgets any worker (rare): one scan for the batch. */
bool store_forgets_any(const reg_event *evs, size_t nev);
/* A REG_EV_ALERT's events row, the same on every backend: its type
 * ("alert_firing", "alert_resolved"), and its detail JSON into buf (n bytes;
 * STORE_EVENT_DETAIL_MAX always holds a valid rule name). Always a whole
 * object: a rule name that would not fit is cut, never the JSON ("" only
 * when n cannot hold even the fixed parts). */
const char *store_alert_type(const reg_event *e);
void store_alert_detail(const reg_event *e, char *buf, size_t n);
/* The events row a backend stores for e (id 0: not stored yet), for readers
 * that see events before the store does (the live stream). */
void store_event_of(const reg_event *e, const char *node_id, store_event *out);

/* Every backend's handle starts with this. */
struct store {
    const store_backend *be;
    char node_id[STORE_NODE_MAX + 1];
    int64_t mark_run, mark_seq; /* store_batch_mark: recorded by apply when mark_run > 0 */
    size_t fleet;               /* store_fleet_hint, read by apply */
};

/* SQLite backend constructor (sqlite.c): path to the database file. */
store *store_sqlite_open(const char *path, const char *node_id, char *err, size_t errlen);
/* PostgreSQL backend constructor (postgres.c): a libpq URL, postgres://…
 * or postgresql://… (tables go in the connection's search_path). */
store *store_pg_open(const char *url, const char *node_id, char *err, size_t errlen);

#endif
