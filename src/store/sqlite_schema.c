/*
 * sqlite_schema: the SQLite schema, as a list of migration steps.
 *
 * schema_version holds the step the database is at. Each step runs in its
 * own BEGIN IMMEDIATE transaction, and only while the version is below it:
 * opening an up-to-date database writes nothing, a crash mid-migration leaves
 * the previous version whole, and two processes opening one file at once
 * cannot both apply a step (the second re-reads the version under the lock).
 * A database from a newer vigild (a step we do not know) is refused rather
 * than half understood.
 */
#include "store/sqlite_int.h"

/* Bump only by appending a step; never edit a step that has shipped. */
static const char *const migrations[] = {
    /* 1: initial schema (store.h banner). */
    "CREATE TABLE workers("
    " worker_id TEXT PRIMARY KEY NOT NULL, group_name TEXT NOT NULL,"
    " instance TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,"
    " state_since_ms INTEGER NOT NULL, first_seen_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL, ttl_s INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX workers_group ON workers(group_name, worker_id);"
    "CREATE INDEX workers_state ON workers(state, worker_id);"
    "CREATE TABLE \"groups\"(name TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL,"
    " state_since_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sessions("
    " id INTEGER PRIMARY KEY, worker_id TEXT NOT NULL, opened_ms INTEGER NOT NULL,"
    " group_name TEXT NOT NULL, instance TEXT NOT NULL DEFAULT '', node_id TEXT NOT NULL,"
    " closed_ms INTEGER, reason TEXT, exit_code INTEGER, last_hb_ms INTEGER NOT NULL,"
    " requests INTEGER, tokens INTEGER, ttl_s INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(worker_id, opened_ms));"
    /* Boot and the worker pages look up each worker's open session: a
     * partial index keeps that lookup off the (ever growing) closed ones. */
    "CREATE INDEX sessions_open ON sessions(worker_id, opened_ms) WHERE closed_ms IS NULL;"
    "CREATE TABLE heartbeats("
    " worker_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, seq INTEGER, status TEXT,"
    " cpu REAL, mem REAL, mem_available_gb REAL, gpu_mem_active_gb REAL, thermal TEXT,"
    " backlog INTEGER, capacity INTEGER, in_flight INTEGER, requests INTEGER,"
    " tokens INTEGER, cpu_ticks INTEGER);"
    "CREATE INDEX heartbeats_worker ON heartbeats(worker_id, ts_ms);"
    /* AUTOINCREMENT: ids are API cursors, so they must never be reused after
     * the newest rows are pruned or forgotten. */
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, type TEXT NOT NULL,"
    " worker_id TEXT, group_name TEXT, instance TEXT, state TEXT, prev_state TEXT,"
    " reason TEXT, exit_code INTEGER, opened_ms INTEGER, node_id TEXT NOT NULL);"
    "CREATE INDEX events_ts ON events(ts_ms);"
    "CREATE INDEX events_worker ON events(worker_id, id);"
    "CREATE INDEX events_group ON events(group_name, id);"
    "CREATE TABLE node_runs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, node_id TEXT NOT NULL,"
    " started_ms INTEGER NOT NULL, alive_ms INTEGER NOT NULL, stopped_ms INTEGER);"
    "CREATE INDEX node_runs_node ON node_runs(node_id, id);",
    /* 2: analytics (issue 4). */
    "CREATE TABLE reliability("
    " worker_id TEXT PRIMARY KEY NOT NULL, group_name TEXT NOT NULL,"
    " computed_ms INTEGER NOT NULL, window_ms INTEGER NOT NULL, uptime_pct REAL NOT NULL,"
    " up_ms INTEGER NOT NULL, observed_ms INTEGER NOT NULL, sessions_count INTEGER NOT NULL,"
    " closed_count INTEGER NOT NULL, failures INTEGER NOT NULL, mtbf_s REAL NOT NULL,"
    " p10_session_s REAL, p50_session_s REAL, p90_session_s REAL,"
    " p_stays_4h REAL NOT NULL, p_stays_8h REAL NOT NULL, score REAL NOT NULL,"
    " last_disconnect_ms INTEGER, last_failure_ms INTEGER, last_session_s REAL,"
    " n_clean_shutdown INTEGER NOT NULL, n_failed INTEGER NOT NULL,"
    " n_timeout INTEGER NOT NULL, n_restarted INTEGER NOT NULL, n_evicted INTEGER NOT NULL,"
    " n_monitor_gap INTEGER NOT NULL, km_t_max_s REAL, km BLOB) WITHOUT ROWID;"
    /* Sums and counts, not averages: folding a new batch into an hour is
     * then one addition, exactly as if the hour had been read in one go. */
    "CREATE TABLE heartbeats_hourly("
    " worker_id TEXT NOT NULL, hour_ms INTEGER NOT NULL, n INTEGER NOT NULL,"
    " cpu_sum REAL NOT NULL, cpu_n INTEGER NOT NULL, mem_sum REAL NOT NULL,"
    " mem_n INTEGER NOT NULL, mema_sum REAL NOT NULL, mema_n INTEGER NOT NULL,"
    " thermal_max INTEGER, PRIMARY KEY(worker_id, hour_ms)) WITHOUT ROWID;"
    "CREATE INDEX heartbeats_hourly_hour ON heartbeats_hourly(hour_ms);"
    "CREATE TABLE task_latency("
    " group_name TEXT NOT NULL, bucket_ms INTEGER NOT NULL, count INTEGER NOT NULL,"
    " mean_ms REAL NOT NULL, min_ms REAL NOT NULL, max_ms REAL NOT NULL, p50_ms REAL NOT NULL,"
    " p90_ms REAL NOT NULL, p95_ms REAL NOT NULL, p99_ms REAL NOT NULL,"
    " PRIMARY KEY(group_name, bucket_ms)) WITHOUT ROWID;"
    "CREATE INDEX task_latency_bucket ON task_latency(bucket_ms);"
    "CREATE TABLE rollup_state(name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    /* The rollup reads every worker's recent sessions in worker order: a
     * covering index makes that one ordered walk with no table lookups.
     * Retention of closed sessions goes by closed_ms. */
    "CREATE INDEX sessions_rel ON sessions(worker_id, opened_ms, closed_ms, last_hb_ms, reason,"
    " node_id);"
    "CREATE INDEX sessions_closed ON sessions(closed_ms) WHERE closed_ms IS NOT NULL;",
    /* 3: alerts in the history (store.h banner). A nullable column with no
     * default only rewrites the table's CREATE text in sqlite_master: no
     * row is touched, so a big events table upgrades at once. */
    "ALTER TABLE events ADD COLUMN detail TEXT;",
    /* 4: the fleet series (store.h banner). Keyed by what a sample is, so
     * the sampler's upsert and the reads (one series' time range, a seek)
     * walk the key; retention goes by ts_ms. IF NOT EXISTS: a database some
     * tool or test put back to an older version, table left in place,
     * still upgrades. */
    "CREATE TABLE IF NOT EXISTS fleet_metrics("
    " node_id TEXT NOT NULL, name TEXT NOT NULL, ts_ms INTEGER NOT NULL, value REAL NOT NULL,"
    " PRIMARY KEY(node_id, name, ts_ms)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS fleet_metrics_ts ON fleet_metrics(ts_ms);",
    /* 5: a hub's nodes' summaries (store.h banner): keyed by the window's
     * start, so a window sent again replaces its row; latest-per-node and
     * retention go by received_ms. */
    "CREATE TABLE IF NOT EXISTS hub_summaries("
    " node_id TEXT NOT NULL, run_id INTEGER NOT NULL, from_ms INTEGER NOT NULL,"
    " to_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY(node_id, run_id, from_ms)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS hub_summaries_recv ON hub_summaries(node_id, received_ms);"
    "CREATE INDEX IF NOT EXISTS hub_summaries_age ON hub_summaries(received_ms);",
    /* 6: the writer's last committed batch per run (store_batch_mark), so a
     * batch whose COMMIT went unanswered is not stored a second time. */
    "CREATE TABLE IF NOT EXISTS writer_batches("
    " run_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int schema_version(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static int set_schema_version(sqlite3 *db, int v)
{
    sqlite3_stmt *st;
    if (sqlite3_exec(db, "DELETE FROM schema_version", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO schema_version(version) VALUES(?1)", -1, &st, NULL) !=
            SQLITE_OK)
        return -1;
    sqlite3_bind_int(st, 1, v);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int sq_migrate(sqlite3 *db, char *err, size_t errlen)
{
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    int v = schema_version(db);
    if (v < 0) goto fail;
    for (int step = v + 1; step <= N_MIGRATIONS; step++) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto fail;
        /* Re-read under the write lock: another process may have migrated. */
        v = schema_version(db);
        if (v < 0) goto fail_tx;
        if (v < step && (sqlite3_exec(db, migrations[step - 1], NULL, NULL, NULL) != SQLITE_OK ||
                         set_schema_version(db, step) != 0))
            goto fail_tx;
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail_tx;
    }
    if (v > N_MIGRATIONS) {
        err_set(err, errlen, "sqlite: database schema version %d is newer than this vigild (%d)", v,
                N_MIGRATIONS);
        return -1;
    }
    return 0;
fail_tx:
    err_set(err, errlen, "sqlite: migrating schema: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
fail:
    err_set(err, errlen, "sqlite: migrating schema: %s", sqlite3_errmsg(db));
    return -1;
}
