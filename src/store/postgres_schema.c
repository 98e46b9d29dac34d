/*
 * postgres_schema: the PostgreSQL schema, as a list of migration steps.
 *
 * The logical schema is SQLite's (store.h banner) in PostgreSQL types:
 * BIGINT epoch milliseconds, TEXT, DOUBLE PRECISION, REAL for the raw
 * samples (they are C floats at the source, so nothing is lost and the
 * biggest table stores 16 bytes less a row), BYTEA for the Kaplan–Meier
 * curve. Worker and group ids are COLLATE "C": byte order, as strcmp and
 * SQLite's BINARY sort them, so a cursor page and the rollup's merge walk
 * agree with the C side, and comparisons skip the locale.
 *
 * Tables are created unqualified, so they land in the connection's
 * search_path (one schema per deployment or per test).
 *
 * All pending steps run in one transaction that first takes an advisory
 * lock (scoped to the schema): two vigild nodes booting at once serialise
 * here, the second sees the version the first committed and writes nothing.
 * DDL is transactional, so a crash mid-migration leaves the previous version
 * whole. A database from a newer vigild (a step we do not know) is refused.
 */
#include "store/postgres_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Bump only by appending a step; never edit a step that has shipped. */
static const char *const migrations[] = {
    /* 1: the whole schema (SQLite's steps 1 and 2). */
    /* fillfactor: last_seen_ms moves on every batch; free room on the page
     * lets that be a HOT update (no index touched). */
    "CREATE TABLE workers("
    " worker_id TEXT COLLATE \"C\" PRIMARY KEY, group_name TEXT COLLATE \"C\" NOT NULL,"
    " instance TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, state_since_ms BIGINT NOT NULL,"
    " first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL,"
    " ttl_s INTEGER NOT NULL DEFAULT 0) WITH (fillfactor = 70);"
    "CREATE INDEX workers_group ON workers(group_name, worker_id);"
    "CREATE INDEX workers_state ON workers(state, worker_id);"
    "CREATE TABLE \"groups\"(name TEXT COLLATE \"C\" PRIMARY KEY, state TEXT NOT NULL,"
    " state_since_ms BIGINT NOT NULL);"
    /* The unique key carries the rollup's columns (INCLUDE): its scan of
     * every worker's recent sessions is an index-only walk in worker order,
     * and one index serves both. Open sessions have a partial index of
     * their own, covering what the worker pages read of them, so finding a
     * worker's open session is one index-only probe however long its
     * history; retention goes by closed_ms. */
    "CREATE TABLE sessions("
    " worker_id TEXT COLLATE \"C\" NOT NULL, opened_ms BIGINT NOT NULL,"
    " group_name TEXT COLLATE \"C\" NOT NULL, instance TEXT NOT NULL DEFAULT '',"
    " node_id TEXT NOT NULL, closed_ms BIGINT, reason TEXT, exit_code INTEGER,"
    " last_hb_ms BIGINT NOT NULL, requests BIGINT, tokens BIGINT,"
    " ttl_s INTEGER NOT NULL DEFAULT 0,"
    " CONSTRAINT sessions_key UNIQUE (worker_id, opened_ms)"
    "  INCLUDE (closed_ms, last_hb_ms, reason, node_id));"
    "CREATE INDEX sessions_open ON sessions(worker_id, opened_ms) INCLUDE (last_hb_ms, node_id)"
    " WHERE closed_ms IS NULL;"
    "CREATE INDEX sessions_closed ON sessions(closed_ms) WHERE closed_ms IS NOT NULL;"
    /* id: arrival order (COPY numbers rows in the order sent), the tie
     * break of equal timestamps; its sequence hands the writer's session
     * ids a thousand at a time (still increasing within a session, and a
     * worker's rows come through one node's writer). The (worker_id, ts_ms)
     * b-tree is most of the cost of a raw row (measured: 3x the heap
     * insert), so it carries nothing more. BRIN on ts_ms: a few pages for
     * the whole append-mostly table, enough for the hourly rollup's and
     * retention's time ranges. */
    "CREATE TABLE heartbeats("
    " id BIGSERIAL, worker_id TEXT COLLATE \"C\" NOT NULL, ts_ms BIGINT NOT NULL, seq BIGINT,"
    " status TEXT, cpu REAL, mem REAL, mem_available_gb REAL, gpu_mem_active_gb REAL,"
    " thermal TEXT, backlog BIGINT, capacity BIGINT, in_flight BIGINT, requests BIGINT,"
    " tokens BIGINT, cpu_ticks BIGINT);"
    "ALTER SEQUENCE heartbeats_id_seq CACHE 1000;"
    "CREATE INDEX heartbeats_worker ON heartbeats(worker_id, ts_ms);"
    "CREATE INDEX heartbeats_ts ON heartbeats USING brin(ts_ms);"
    /* A sequence never hands an id out twice: ids are API cursors. */
    "CREATE TABLE events("
    " id BIGSERIAL PRIMARY KEY, ts_ms BIGINT NOT NULL, type TEXT NOT NULL,"
    " worker_id TEXT COLLATE \"C\", group_name TEXT COLLATE \"C\", instance TEXT, state TEXT,"
    " prev_state TEXT, reason TEXT, exit_code INTEGER, opened_ms BIGINT, node_id TEXT NOT NULL);"
    "CREATE INDEX events_ts ON events(ts_ms);"
    "CREATE INDEX events_worker ON events(worker_id, id);"
    "CREATE INDEX events_group ON events(group_name, id);"
    "CREATE TABLE node_runs("
    " id BIGSERIAL PRIMARY KEY, node_id TEXT NOT NULL, started_ms BIGINT NOT NULL,"
    " alive_ms BIGINT NOT NULL, stopped_ms BIGINT);"
    "CREATE INDEX node_runs_node ON node_runs(node_id, id);"
    "CREATE TABLE reliability("
    " worker_id TEXT COLLATE \"C\" PRIMARY KEY, group_name TEXT COLLATE \"C\" NOT NULL,"
    " computed_ms BIGINT NOT NULL, window_ms BIGINT NOT NULL,"
    " uptime_pct DOUBLE PRECISION NOT NULL, up_ms BIGINT NOT NULL, observed_ms BIGINT NOT NULL,"
    " sessions_count BIGINT NOT NULL, closed_count BIGINT NOT NULL, failures BIGINT NOT NULL,"
    " mtbf_s DOUBLE PRECISION NOT NULL, p10_session_s DOUBLE PRECISION,"
    " p50_session_s DOUBLE PRECISION, p90_session_s DOUBLE PRECISION,"
    " p_stays_4h DOUBLE PRECISION NOT NULL, p_stays_8h DOUBLE PRECISION NOT NULL,"
    " score DOUBLE PRECISION NOT NULL, last_disconnect_ms BIGINT, last_failure_ms BIGINT,"
    " last_session_s DOUBLE PRECISION, n_clean_shutdown BIGINT NOT NULL,"
    " n_failed BIGINT NOT NULL, n_timeout BIGINT NOT NULL, n_restarted BIGINT NOT NULL,"
    " n_evicted BIGINT NOT NULL, n_monitor_gap BIGINT NOT NULL, km_t_max_s DOUBLE PRECISION,"
    " km BYTEA);"
    /* Sums and counts, not averages, as on SQLite. */
    "CREATE TABLE heartbeats_hourly("
    " worker_id TEXT COLLATE \"C\" NOT NULL, hour_ms BIGINT NOT NULL, n BIGINT NOT NULL,"
    " cpu_sum DOUBLE PRECISION NOT NULL, cpu_n BIGINT NOT NULL,"
    " mem_sum DOUBLE PRECISION NOT NULL, mem_n BIGINT NOT NULL,"
    " mema_sum DOUBLE PRECISION NOT NULL, mema_n BIGINT NOT NULL, thermal_max INTEGER,"
    " PRIMARY KEY (worker_id, hour_ms));"
    "CREATE INDEX heartbeats_hourly_hour ON heartbeats_hourly(hour_ms);"
    "CREATE TABLE task_latency("
    " group_name TEXT COLLATE \"C\" NOT NULL, bucket_ms BIGINT NOT NULL, count BIGINT NOT NULL,"
    " mean_ms DOUBLE PRECISION NOT NULL, min_ms DOUBLE PRECISION NOT NULL,"
    " max_ms DOUBLE PRECISION NOT NULL, p50_ms DOUBLE PRECISION NOT NULL,"
    " p90_ms DOUBLE PRECISION NOT NULL, p95_ms DOUBLE PRECISION NOT NULL,"
    " p99_ms DOUBLE PRECISION NOT NULL, PRIMARY KEY (group_name, bucket_ms));"
    "CREATE INDEX task_latency_bucket ON task_latency(bucket_ms);"
    "CREATE TABLE rollup_state(name TEXT PRIMARY KEY, value BIGINT NOT NULL);",
    /* 2: alerts in the history (SQLite's step 3). Nullable, no default: a
     * catalog change only, no table rewrite, so the exclusive lock on events
     * is held for a moment. Nodes still running an older vigild name their
     * columns, so they go on reading and writing events meanwhile. */
    "ALTER TABLE events ADD COLUMN detail TEXT;",
    /* 3: the fleet series (SQLite's step 4). Names COLLATE "C": byte order,
     * so a prefix is the key range [stem, successor) (store.c) and reads
     * come in the order the C side expects. Reads walk the key, which
     * carries the value (INCLUDE), so once vacuumed a series' range is read
     * index-only; retention goes by a BRIN on ts_ms, as heartbeats': the
     * sampler writes in time order, so a few pages cover the whole table
     * (a b-tree there drew the planner to it for one-hour reads, filtering
     * every series' rows of the hour). A new table: no lock on any other, so
     * older nodes sharing the database go on meanwhile. IF NOT EXISTS, as
     * on SQLite. */
    "CREATE TABLE IF NOT EXISTS fleet_metrics("
    " node_id TEXT NOT NULL, name TEXT COLLATE \"C\" NOT NULL, ts_ms BIGINT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL, PRIMARY KEY (node_id, name, ts_ms) INCLUDE (value));"
    "CREATE INDEX IF NOT EXISTS fleet_metrics_ts ON fleet_metrics USING brin(ts_ms);",
    /* 4: a hub's nodes' summaries (store.h banner), as on SQLite. A new
     * table: older nodes sharing the database go on meanwhile. */
    "CREATE TABLE IF NOT EXISTS hub_summaries("
    " node_id TEXT NOT NULL, run_id BIGINT NOT NULL, from_ms BIGINT NOT NULL,"
    " to_ms BIGINT NOT NULL, received_ms BIGINT NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (node_id, run_id, from_ms));"
    "CREATE INDEX IF NOT EXISTS hub_summaries_recv ON hub_summaries(node_id, received_ms);"
    "CREATE INDEX IF NOT EXISTS hub_summaries_age ON hub_summaries(received_ms);",
    /* 5: the writer's last committed batch per run (store_batch_mark). */
    "CREATE TABLE IF NOT EXISTS writer_batches("
    " run_id BIGINT PRIMARY KEY, seq BIGINT NOT NULL);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static int fail(pg_conn *k, PGresult *r, char *err, size_t errlen)
{
    char m[256];
    pg_errmsg(k, r, m, sizeof m);
    err_set(err, errlen, "%s (migrating schema)", m);
    PQclear(r);
    PQclear(PQexec(k->c, "ROLLBACK"));
    return -1;
}

/* Fixed texts only: nothing here carries a value. */
static int run(pg_conn *k, const char *sql, ExecStatusType want, PGresult **out, char *err,
               size_t errlen)
{
    PGresult *r = PQexec(k->c, sql);
    if (PQresultStatus(r) != want) return fail(k, r, err, errlen);
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

int pg_migrate(pg_conn *k, char *err, size_t errlen)
{
    PGresult *r = NULL;
    /* The lock is taken before anything else, so two first boots cannot
     * both create schema_version. No statement timeout here: a sibling's
     * migration may hold the lock for a while. */
    if (run(k, "BEGIN", PGRES_COMMAND_OK, NULL, err, errlen) ||
        run(k, "SET LOCAL statement_timeout = 0", PGRES_COMMAND_OK, NULL, err, errlen) ||
        run(k, "SELECT current_schema() IS NOT NULL", PGRES_TUPLES_OK, &r, err, errlen))
        return -1;
    bool has_schema = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!has_schema) {
        err_set(err, errlen, "postgres: no schema of the search_path exists to create in");
        PQclear(PQexec(k->c, "ROLLBACK"));
        return -1;
    }
    if (run(k, "SELECT pg_advisory_xact_lock(hashtext('vigil.migrate.' || current_schema()))",
            PGRES_TUPLES_OK, NULL, err, errlen) ||
        run(k, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
            PGRES_COMMAND_OK, NULL, err, errlen) ||
        run(k, "SELECT coalesce(max(version), 0) FROM schema_version", PGRES_TUPLES_OK, &r, err,
            errlen))
        return -1;
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (v > N_MIGRATIONS) {
        err_set(err, errlen, "postgres: database schema version %d is newer than this vigild (%d)",
                v, N_MIGRATIONS);
        PQclear(PQexec(k->c, "ROLLBACK"));
        return -1;
    }
    for (int step = v + 1; step <= N_MIGRATIONS; step++)
        if (run(k, migrations[step - 1], PGRES_COMMAND_OK, NULL, err, errlen)) return -1;
    if (v < N_MIGRATIONS) {
        /* The version is a number of ours, not a value from outside; still
         * bound, as everywhere. */
        char num[16];
        snprintf(num, sizeof num, "%d", N_MIGRATIONS);
        const char *vals[] = {num};
        if (run(k, "DELETE FROM schema_version", PGRES_COMMAND_OK, NULL, err, errlen)) return -1;
        r = PQexecParams(k->c, "INSERT INTO schema_version(version) VALUES($1::integer)", 1, NULL,
                         vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) return fail(k, r, err, errlen);
        PQclear(r);
    }
    return run(k, "COMMIT", PGRES_COMMAND_OK, NULL, err, errlen);
}
