/*
 * sqlite_wsql: the write connection's statements (sqlite_int.h's enum
 * sq_wstmt), prepared once at open by sqlite.c and kept on the handle.
 * Values are always bound, never spliced in; the few constants in the text
 * (SQ_SLACK) are the store's own.
 */
#include "store/sqlite_int.h"
#include "store/store_sql.h"

const char *const sq_wsql[SQW__COUNT] = {
    [SQW_BEGIN] = "BEGIN IMMEDIATE",
    [SQW_COMMIT] = "COMMIT",
    [SQW_ROLLBACK] = "ROLLBACK",
    [SQW_SESSION_OPEN] =
        "INSERT OR IGNORE INTO sessions(worker_id, opened_ms, group_name, instance, node_id,"
        " last_hb_ms, ttl_s) VALUES(?1, ?2, ?3, ?4, ?5, ?2, ?6)",
    /* A session opening means the worker is alive; keep state_since when it
     * already was (a restart is not a new alive period). */
    [SQW_WORKER_OPEN] =
        "INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES(?1, ?2, ?3, 'alive', ?4, ?4, ?4, ?5)"
        " ON CONFLICT(worker_id) DO UPDATE SET group_name = excluded.group_name,"
        " instance = excluded.instance, state = 'alive',"
        " state_since_ms = CASE WHEN state = 'alive' THEN state_since_ms"
        "  ELSE excluded.state_since_ms END,"
        " first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), ttl_s = excluded.ttl_s",
    [SQW_SESSION_CLOSE] = "UPDATE sessions SET closed_ms = ?3, reason = ?4, exit_code = ?5,"
                          " last_hb_ms = max(last_hb_ms, ?6), requests = ?7, tokens = ?8"
                          " WHERE worker_id = ?1 AND opened_ms = ?2 AND closed_ms IS NULL",
    [SQW_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE worker_id = ?1 AND opened_ms = ?2",
    [SQW_WORKER_STATE] =
        "INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6)"
        " ON CONFLICT(worker_id) DO UPDATE SET state = excluded.state,"
        " state_since_ms = excluded.state_since_ms,"
        " group_name = CASE WHEN excluded.group_name <> '' THEN excluded.group_name"
        "  ELSE group_name END",
    [SQW_GROUP_STATE] = "INSERT INTO \"groups\"(name, state, state_since_ms) VALUES(?1, ?2, ?3)"
                        " ON CONFLICT(name) DO UPDATE SET state = excluded.state,"
                        " state_since_ms = excluded.state_since_ms",
    /* The newest raw row is never deleted (store.h: rowids stay unique for
     * the hourly watermark); a forgotten worker's newest becomes a tombstone. */
    [SQW_FORGET_TOMB] = "UPDATE heartbeats SET worker_id = '' WHERE worker_id = ?1"
                        " AND rowid = (SELECT max(rowid) FROM heartbeats)",
    [SQW_FORGET_HBS] = "DELETE FROM heartbeats WHERE worker_id = ?1",
    [SQW_FORGET_HOURLY] = "DELETE FROM heartbeats_hourly WHERE worker_id = ?1",
    [SQW_FORGET_REL] = "DELETE FROM reliability WHERE worker_id = ?1",
    [SQW_FORGET_SESSIONS] = "DELETE FROM sessions WHERE worker_id = ?1",
    [SQW_FORGET_WORKER] = "DELETE FROM workers WHERE worker_id = ?1",
    [SQW_EVENT] = "INSERT INTO events(ts_ms, type, worker_id, group_name, instance, state,"
                  " prev_state, reason, exit_code, opened_ms, node_id, detail)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [SQW_HB_INSERT] =
        "INSERT INTO heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,"
        " gpu_mem_active_gb, thermal, backlog, capacity, in_flight, requests, tokens,"
        " cpu_ticks) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    /* Lazily (STORE_SEEN_SLACK_MS): an untouched row costs a lookup, not a
     * rewritten page. */
    [SQW_HB_SEEN] = "UPDATE workers SET last_seen_ms = max(last_seen_ms, ?2),"
                    " ttl_s = CASE WHEN ?3 > 0 THEN ?3 ELSE ttl_s END WHERE worker_id = ?1"
                    " AND (last_seen_ms <= ?2 - " SQ_SLACK " OR (?3 > 0 AND ttl_s <> ?3))",
    [SQW_WORKER_EXISTS] = "SELECT 1 FROM workers WHERE worker_id = ?1",
    [SQW_BATCH_MARK] = "INSERT INTO writer_batches(run_id, seq) VALUES(?1, ?2)"
                       " ON CONFLICT(run_id) DO UPDATE SET seq = excluded.seq",
    [SQW_BATCH_APPLIED] = "SELECT seq FROM writer_batches WHERE run_id = ?1",
    [SQW_RUN_BEGIN] = "INSERT INTO node_runs(node_id, started_ms, alive_ms) VALUES(?1, ?2, ?2)",
    [SQW_RUN_ALIVE] = "UPDATE node_runs SET alive_ms = ?2 WHERE id = ?1",
    [SQW_RUN_END] = "UPDATE node_runs SET alive_ms = ?2, stopped_ms = ?2 WHERE id = ?1",
    /* Bounded, oldest first: one prune call is one short transaction however
     * far behind retention is, so the writer never stalls on it. */
    /* Raw samples arrive in time order, so rowid order is age order: look at
     * the oldest ?2 rows only and delete those past retention. No index on
     * ts_ms is kept for this (one less b-tree insert per heartbeat). */
    [SQW_PRUNE_HBS] = "DELETE FROM heartbeats WHERE rowid IN (SELECT rowid FROM"
                      " (SELECT rowid, ts_ms FROM heartbeats ORDER BY rowid LIMIT ?2)"
                      " WHERE ts_ms < ?1 AND rowid < (SELECT max(rowid) FROM heartbeats)"
                      " AND rowid <= coalesce((SELECT value FROM rollup_state"
                      "  WHERE name = 'hourly_rowid'), 0))",
    [SQW_PRUNE_HOURLY] = "DELETE FROM heartbeats_hourly WHERE (worker_id, hour_ms) IN (SELECT"
                         " worker_id, hour_ms FROM heartbeats_hourly WHERE hour_ms < ?1"
                         " ORDER BY hour_ms LIMIT ?2)",
    [SQW_PRUNE_SESSIONS] = "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
                           " WHERE closed_ms < ?1 ORDER BY closed_ms LIMIT ?2)",
    [SQW_PRUNE_TASKS] = "DELETE FROM task_latency WHERE (group_name, bucket_ms) IN (SELECT"
                        " group_name, bucket_ms FROM task_latency WHERE bucket_ms < ?1"
                        " ORDER BY bucket_ms LIMIT ?2)",
    [SQW_PRUNE_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM events"
                         " WHERE ts_ms < ?1 ORDER BY ts_ms LIMIT ?2)",
    [SQW_PRUNE_METRICS] = "DELETE FROM fleet_metrics WHERE (node_id, name, ts_ms) IN (SELECT"
                          " node_id, name, ts_ms FROM fleet_metrics WHERE ts_ms < ?1"
                          " ORDER BY ts_ms LIMIT ?2)",
    [SQW_PRUNE_HUB] = "DELETE FROM hub_summaries WHERE (node_id, run_id, from_ms) IN (SELECT"
                      " node_id, run_id, from_ms FROM hub_summaries WHERE received_ms < ?1"
                      " ORDER BY received_ms LIMIT ?2)",
};
