/*
 * store_sql: the logical schema's column lists that both backends select
 * (SQLite and PostgreSQL), so their row decoders agree on column positions
 * by construction instead of by two copies kept in step by hand.
 */
#ifndef VIGIL_STORE_SQL_H
#define VIGIL_STORE_SQL_H

/* A number #defined with its unit, as SQL text (pragmas, settings, SQL
 * constants): one definition, used by both backends. */
#define STORE_STR_(x) #x
#define STORE_STR(x) STORE_STR_(x)

/* workers.last_seen_ms lags: both writers advance it from raw samples
 * only once it is STORE_SEEN_SLACK_MS or more behind the batch's newest (or
 * the ttl changes), because rewriting every worker's row in every batch
 * cost a second page (SQLite) or a row version and an index probe
 * (PostgreSQL) per worker per batch: store_bench, 10,000 workers at a 10 s
 * interval, batches of 8,192: SQLite 72-76 k -> 81-88 k rows/s,
 * PostgreSQL 126-148 k -> 170-228 k (docs/benchmarks.md). Reads stay
 * exact: a worker's last heartbeat is read as the later of that column and
 * STORE_NEWEST_HB(w), its newest raw row (one seek on the (worker_id,
 * ts_ms) index), and every sample the column would have been advanced from
 * is such a row. The column alone speaks only for a worker whose raw rows
 * retention has pruned (days old by then), and the slack is its error. */
#define STORE_SEEN_SLACK_MS 60000
#define STORE_NEWEST_HB_SELECT(w)                                                                  \
    "SELECT max(h.ts_ms) AS ts FROM heartbeats AS h WHERE h.worker_id = " w ".worker_id"
#define STORE_NEWEST_HB(w) "(" STORE_NEWEST_HB_SELECT(w) ")"

#define STORE_EVENT_SELECT                                                                         \
    "SELECT id, ts_ms, type, worker_id, group_name, instance, state, prev_state, reason,"          \
    " exit_code, opened_ms, node_id, detail FROM events"

#define STORE_TASK_SELECT                                                                          \
    "SELECT group_name, bucket_ms, count, mean_ms, min_ms, max_ms, p50_ms, p90_ms, p95_ms,"        \
    " p99_ms FROM task_latency"

/* The names of node `node`'s series in [lo, hi), in order, where node, lo
 * and hi are the backend's placeholders. A loose index scan: each step
 * seeks the key (node_id, name, ts_ms) for the next name past the last one,
 * so listing the series costs one seek each, not a walk over their
 * samples (a month of one series is 86,400 of them). */
#define STORE_METRIC_NAMES(node, lo, hi)                                                           \
    "WITH RECURSIVE n(name) AS (SELECT (SELECT name FROM fleet_metrics WHERE node_id = " node      \
    " AND name >= " lo " AND name < " hi " ORDER BY name LIMIT 1) UNION ALL SELECT (SELECT"        \
    " m.name FROM fleet_metrics AS m WHERE m.node_id = " node " AND m.name > n.name"               \
    " AND m.name < " hi " ORDER BY m.name LIMIT 1) FROM n WHERE n.name IS NOT NULL)"               \
    " SELECT name FROM n WHERE name IS NOT NULL ORDER BY name"

#define STORE_HUB_SELECT                                                                           \
    "SELECT node_id, run_id, from_ms, to_ms, received_ms, body FROM hub_summaries"

/* Each node's most recently received window: a loose index scan over the
 * node ids of (node_id, received_ms) (one seek per node, not a walk over
 * every window), then each one's newest row by the same index. */
#define STORE_HUB_LATEST                                                                           \
    "WITH RECURSIVE n(id) AS (SELECT min(node_id) FROM hub_summaries UNION ALL SELECT"             \
    " (SELECT min(node_id) FROM hub_summaries WHERE node_id > n.id)"                               \
    " FROM n WHERE n.id IS NOT NULL) " STORE_HUB_SELECT                                            \
    " WHERE (node_id, received_ms) IN (SELECT id, (SELECT max(received_ms)"                        \
    " FROM hub_summaries WHERE node_id = n.id) FROM n WHERE id IS NOT NULL)"                       \
    " ORDER BY node_id, run_id, from_ms"

#define STORE_RUN_SELECT "SELECT id, started_ms, alive_ms, stopped_ms FROM node_runs"

/* reliability, in this order; the reason counts are columns
 * STORE_REL_REASON_COL + k - 1 (0-based) for k = REG_R_CLEAN_SHUTDOWN.. */
#define STORE_REL_COLS                                                                             \
    "worker_id, group_name, computed_ms, window_ms, uptime_pct, up_ms, observed_ms,"               \
    " sessions_count, closed_count, failures, mtbf_s, p10_session_s, p50_session_s,"               \
    " p90_session_s, p_stays_4h, p_stays_8h, score, last_disconnect_ms, last_failure_ms,"          \
    " last_session_s, n_clean_shutdown, n_failed, n_timeout, n_restarted, n_evicted,"              \
    " n_monitor_gap, km_t_max_s, km"
#define STORE_REL_REASON_COL 20

#endif
