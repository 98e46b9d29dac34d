/*
 * test_store_pg: the PostgreSQL backend's query plans (issue 5: "no
 * sequential scan on heartbeats or sessions for the endpoint queries at
 * 100k rows"). PostgreSQL only: without a URL (VIGIL_TEST_STORE_URL or
 * VIGIL_TEST_STORE_URL_FILE, store_fx.h) every test is skipped.
 *
 * A fresh schema is filled through libpq (generate_series: 120k raw
 * heartbeats over 1,000 workers and 10 days, 100k sessions, 100k events,
 * 690k fleet series samples, ...), rolled up once by the store itself and
 * analysed. Then every
 * statement the backend prepares on its three connections (the texts are
 * taken from the store's own handle, so a statement changed in the backend
 * is the statement planned here) is prepared again on a connection of the
 * test's and EXPLAINed with realistic values, under a custom plan and under
 * the generic one the plan cache may switch to. No plan may read
 * heartbeats, sessions or fleet_metrics by a sequential scan; the statements that read
 * most of a table by design must use the index meant for it.
 */
#include "store/postgres_int.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "store_fx.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define T_START (472000LL * HOUR) /* an hour boundary, 2023-11 */
#define T_END (T_START + 10 * DAY)
#define I64_MAX "9223372036854775807"
#define S_START (T_END - 60 * DAY) /* sessions: 100 a worker from here */
#define S_STEP 51840000LL          /* 14.4 h */

/* ---- a connection of the test's own ----------------------------------------------- */

static PGconn *conn(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) fail_msg("postgres: %s", PQerrorMessage(c));
    return c;
}

static PGresult *px(PGconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static PGresult *px(PGconn *c, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof sql);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("postgres: %s: %s", sql, PQerrorMessage(c));
    return r;
}

#define PX(c, ...) PQclear(px(c, __VA_ARGS__))

/* ---- the data --------------------------------------------------------------------- */

#define WID(x) "'w' || lpad((" x ")::text, 4, '0')"

static void seed(fx *f)
{
    PGconn *c = conn(f->url);
    PX(c,
       "INSERT INTO \"groups\"(name, state, state_since_ms) SELECT 'g' || g, 'alive', %lld"
       " FROM generate_series(0, 9) AS g",
       T_START);
    PX(c,
       "INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms, first_seen_ms,"
       " last_seen_ms, ttl_s) SELECT " WID("i") ", 'g' || (i %% 10), 'inst-' || i,"
                                                " (ARRAY['alive','alive','alive','suspect','dead','"
                                                "left'])[1 + i %% 6], %lld, %lld, %lld,"
                                                " 15 FROM generate_series(0, 999) AS i",
       T_END - HOUR, T_START, T_END);
    /* Arrival order is time order, as from live workers: one row every 7.2 s
     * across the fleet, each worker every 2 h, over 10 days. */
    PX(c,
       "INSERT INTO heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,"
       " gpu_mem_active_gb, thermal, backlog, capacity, in_flight, requests, tokens, cpu_ticks)"
       " SELECT " WID(
           "i %% 1000") ", %lld + i * 7200, i / 1000, 'serving', (i %% 100) / 100.0,"
                        " (i %% 37) / 37.0, 8 + i %% 8, 1.5,"
                        " (ARRAY[NULL, 'nominal', 'fair', 'serious', 'critical'])[1 + i %% 5], i "
                        "%% 7, 8, i %% 3,"
                        " i, i * 10, i * 100 FROM generate_series(0, 119999) AS i ORDER BY i",
       T_START);
    /* 100 sessions a worker over 60 days, one every 14.4 h; the newest one
     * open; the ten oldest imported, the rest from three nodes. */
    PX(c,
       "INSERT INTO sessions(worker_id, opened_ms, group_name, instance, node_id, closed_ms,"
       " reason, exit_code, last_hb_ms, requests, tokens, ttl_s)"
       " SELECT " WID(
           "w") ", o, 'g' || (w %% 10), 'inst-' || w,"
                " CASE WHEN j < 10 THEN 'import' ELSE "
                "(ARRAY['node-a','node-b','node-c'])[1 + (w + j) %% 3]"
                " END, CASE WHEN j < 99 THEN o + 50000000 END,"
                " CASE WHEN j < 99 THEN "
                "(ARRAY['clean_shutdown','failed','timeout','restarted'])[1 + j %% 4]"
                " END, CASE WHEN j < 99 AND j %% 4 = 1 THEN 1 END,"
                " o + CASE WHEN j < 99 THEN 50000000 ELSE 5000 END, j, j * 10, 15"
                " FROM generate_series(0, 999) AS w, generate_series(0, 99) AS j,"
                " LATERAL (SELECT %lld + j::bigint * %lld + w * 1000 AS o) AS x ORDER BY o",
       S_START, S_STEP);
    PX(c,
       "INSERT INTO events(ts_ms, type, worker_id, group_name, instance, node_id)"
       " SELECT %lld + i * 8640, (ARRAY['session_opened', 'session_closed', 'worker_alive',"
       " 'worker_dead', 'group_alive'])[1 + i %% 5], " WID(
           "i %% 1000") ", 'g' || (i %% 10),"
                        " 'inst', 'node-a' FROM generate_series(0, 99999) AS i ORDER BY i",
       T_START);
    PX(c,
       "INSERT INTO node_runs(node_id, started_ms, alive_ms, stopped_ms)"
       " SELECT (ARRAY['node-a','node-b','node-c'])[1 + i %% 3], %lld + i * 14400000,"
       " %lld + i * 14400000 + 14000000, %lld + i * 14400000 + 14000000"
       " FROM generate_series(0, 59) AS i",
       T_START, T_START, T_START);
    PX(c,
       "INSERT INTO reliability(worker_id, group_name, computed_ms, window_ms, uptime_pct, up_ms,"
       " observed_ms, sessions_count, closed_count, failures, mtbf_s, p_stays_4h, p_stays_8h,"
       " score, n_clean_shutdown, n_failed, n_timeout, n_restarted, n_evicted, n_monitor_gap)"
       " SELECT worker_id, group_name, %lld, %lld, 0.9, 1, 1, 100, 99, 25, 3600, 0.5, 0.25, 0.7,"
       " 25, 25, 25, 24, 0, 0 FROM workers",
       T_END, 14 * DAY);
    PX(c,
       "INSERT INTO task_latency(group_name, bucket_ms, count, mean_ms, min_ms, max_ms, p50_ms,"
       " p90_ms, p95_ms, p99_ms) SELECT 'g' || g, %lld + b * 30000, 5, 10, 1, 20, 9, 18, 19, 20"
       " FROM generate_series(0, 9) AS g, generate_series(0, 2879) AS b",
       T_END - DAY);
    /* Fleet series: two nodes, 12 series each, a sample every 30 s for 10
     * days (the table's retention is 30). */
    PX(c,
       "INSERT INTO fleet_metrics(node_id, name, ts_ms, value) SELECT n, s, %lld + i * 30000,"
       " i %% 17 FROM unnest(ARRAY['node-a','node-b']) AS n, unnest(ARRAY['alive:g0','alive:g1',"
       "'alive:g2','alive:g3','alive:g4','alive:g5','ingest_rate','dropped_rate','rejected_rate',"
       "'queue_depth','workers:alive','workers:dead']) AS s, generate_series(0, 28799) AS i",
       T_START);
    /* Hub windows: 20 nodes, one a minute for 5 days. */
    PX(c,
       "INSERT INTO hub_summaries(node_id, run_id, from_ms, to_ms, received_ms, body)"
       " SELECT 'node-' || n, 1, %lld + i * 60000, %lld + (i + 1) * 60000,"
       " %lld + (i + 1) * 60000 + 5, '{}' FROM generate_series(0, 19) AS n,"
       " generate_series(0, 7199) AS i",
       T_END - 5 * DAY, T_END - 5 * DAY, T_END - 5 * DAY);
    /* heartbeats_hourly and the watermark, as the rollup thread leaves them. */
    int64_t n = store_hourly_rollup(f->s, 1000000000);
    assert_int_equal(n, 120000);
    PX(c, "VACUUM (ANALYZE) heartbeats, sessions, workers, \"groups\", events, node_runs,"
          " reliability, task_latency, heartbeats_hourly, rollup_state, fleet_metrics,"
          " hub_summaries");
    PQfinish(c);
}

/* ---- the statements, with values ----------------------------------------------------- */

typedef struct stmt {
    char name[48];
    const char *sql;
    char args[640];         /* EXECUTE's arguments, SQL literals */
    const char *want_index; /* NULL, or the index a read of (most of) a table must use
                               ("a|b": either) */
    bool whole_table;       /* reads every row by design: a sequential scan is the plan */
} stmt;

#define MAX_STMTS 160

typedef struct stmts {
    int n;
    stmt v[MAX_STMTS];
} stmts;

static stmt *add(stmts *l, const char *name, const char *sql, const char *want, const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));
static stmt *add(stmts *l, const char *name, const char *sql, const char *want, const char *fmt,
                 ...)
{
    assert_true(l->n < MAX_STMTS);
    stmt *s = &l->v[l->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->sql = sql;
    s->want_index = want;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->args, sizeof s->args, fmt, ap);
    va_end(ap);
    return s;
}

static void cat_arg(char *args, size_t n, const char *a)
{
    size_t len = strlen(args);
    snprintf(args + len, n - len, "%s%s", len ? ", " : "", a);
}

/* The reader's texts (postgres_read.c: rsql and the built variants). */
static void reader_stmts(stmts *l, const pg_store *q)
{
    char *const *t = q->rtext;
    add(l, "r.ping", t[PGR_PING], NULL, "%s", "");
    add(l, "r.groups", t[PGR_GROUPS], NULL, "%s", "");
    /* Boot reads every worker with its open session: all of workers by
     * design, but of sessions only the open ones, through their partial
     * index (1,000 of 100,000 rows). */
    add(l, "r.workers_all", t[PGR_WORKERS_ALL], "sessions_open", "%s", "");
    add(l, "r.worker_one", t[PGR_WORKER_ONE], NULL, "'w0500'");
    add(l, "r.sessions", t[PGR_SESSIONS], NULL, "'w0500', " I64_MAX ", 50");
    add(l, "r.sessions_cursor", t[PGR_SESSIONS], NULL, "'w0500', %lld, 50", T_END - 30 * DAY);
    add(l, "r.heartbeats", t[PGR_HEARTBEATS], NULL, "'w0500', %lld, " I64_MAX ", 1000",
        T_END - DAY);
    add(l, "r.heartbeats_all", t[PGR_HEARTBEATS], NULL, "'w0500', 0, " I64_MAX ", NULL");
    add(l, "r.last_run", t[PGR_LAST_RUN], NULL, "'node-a', " I64_MAX);
    add(l, "r.runs", t[PGR_RUNS], NULL, "%s", "");
    add(l, "r.hourly", t[PGR_HOURLY], NULL, "'w0500', %lld, " I64_MAX ", 1000", T_END - 7 * DAY);
    add(l, "r.tasks_all", t[PGR_TASKS_ALL], NULL, "%lld, %lld, 1000", T_END - HOUR, T_END);
    add(l, "r.tasks_group", t[PGR_TASKS_GROUP], NULL, "'g5', %lld, %lld, 1000", T_END - HOUR,
        T_END);
    /* The history endpoint: a prefix's series names by seeks of the key, then
     * each series' range; never a walk over every sample. */
    add(l, "r.metric_names", t[PGR_METRIC_NAMES], "fleet_metrics_pkey",
        "'node-a', 'alive:', 'alive;'");
    add(l, "r.metric_series", t[PGR_METRIC_SERIES], "fleet_metrics_pkey",
        "'node-a', 'alive:g5', %lld, %lld", T_END - HOUR, T_END);
    add(l, "r.metric_series_all", t[PGR_METRIC_SERIES], "fleet_metrics_pkey",
        "'node-a', 'alive:g5', %lld, %lld", T_START, T_END);
    add(l, "r.hub_node", t[PGR_HUB_NODE], "hub_summaries_pkey|hub_summaries_recv",
        "'node-3', %lld, %lld, 1000", T_END - DAY, T_END);
    /* Every node's windows of a range: a walk by design (tests and tools). */
    add(l, "r.hub_all", t[PGR_HUB_ALL], NULL, "%lld, %lld, 1000", T_END - DAY, T_END)->whole_table =
        true;
    add(l, "r.hub_latest", t[PGR_HUB_LATEST], "hub_summaries_recv", "%s", "");
    for (int m = 0; m < PG_WQ__N; m++) {
        char name[32];
        snprintf(name, sizeof name, "r.workers[%s%s%s]", m & PG_WQ_GROUP ? "g" : "",
                 m & PG_WQ_STATE ? "s" : "", m & PG_WQ_AFTER ? "a" : "");
        stmt *s = add(l, name, t[PGR_WQ_BASE + m], NULL, "%s", "");
        if (m & PG_WQ_GROUP) cat_arg(s->args, sizeof s->args, "'g5'");
        if (m & PG_WQ_STATE) cat_arg(s->args, sizeof s->args, "'dead'");
        if (m & PG_WQ_AFTER) cat_arg(s->args, sizeof s->args, "'w0500'");
        cat_arg(s->args, sizeof s->args, "100");
    }
    for (int m = 0; m < PG_EQ__N; m++) {
        char name[48], v[32];
        snprintf(name, sizeof name, "r.events[%s%s%s%s%s%s]", m & PG_EQ_ASC ? "asc" : "desc",
                 m & PG_EQ_WORKER ? ",w" : "", m & PG_EQ_GROUP ? ",g" : "",
                 m & PG_EQ_TYPE ? ",t" : "", m & PG_EQ_FROM ? ",f" : "", m & PG_EQ_TO ? ",to" : "");
        stmt *s = add(l, name, t[PGR_EQ_BASE + m], NULL, "%s", m & PG_EQ_ASC ? "50000" : I64_MAX);
        if (m & PG_EQ_WORKER) cat_arg(s->args, sizeof s->args, "'w0500'");
        if (m & PG_EQ_GROUP) cat_arg(s->args, sizeof s->args, "'g5'");
        if (m & PG_EQ_TYPE) cat_arg(s->args, sizeof s->args, "'worker_dead'");
        snprintf(v, sizeof v, "%lld", T_END - DAY);
        if (m & PG_EQ_FROM) cat_arg(s->args, sizeof s->args, v);
        snprintf(v, sizeof v, "%lld", T_END);
        if (m & PG_EQ_TO) cat_arg(s->args, sizeof s->args, v);
        cat_arg(s->args, sizeof s->args, "100");
    }
}

/* The analytics connection's (postgres_rel.c pg_asql). */
static void analytics_stmts(stmts *l, int64_t wm)
{
    const char *const *t = pg_asql;
    /* The reliability scan reads every worker's sessions of the window (14
     * days of 60 here) by design: through the index on the open ones and
     * the one on closed_ms, or the unique key's index-only walk in worker
     * order. Over a window that holds every session (a deployment younger
     * than the window) it reads the whole table, and then a sequential scan
     * is the plan to expect: no index makes reading every row cheaper. */
    add(l, "a.rel_scan", t[PGA_REL_SCAN], "sessions_key|sessions_closed", "%lld", T_END - 14 * DAY);
    add(l, "a.rel_scan_1d", t[PGA_REL_SCAN], "sessions_key|sessions_closed", "%lld", T_END - DAY);
    add(l, "a.rel_scan_young", t[PGA_REL_SCAN], NULL, "%lld", S_START - DAY)->whole_table = true;
    add(l, "a.rel_put", t[PGA_REL_PUT], NULL,
        "'w0500', 'g0', %lld, %lld, 0.9, 1, 2, 3, 4, 5, 6.5, 7.5, 8.5, 9.5, 0.5, 0.25, 0.75,"
        " %lld, %lld, 10.5, 1, 2, 3, 4, 5, 6, 20000.5, NULL",
        T_END, 14 * DAY, T_END - HOUR, T_END - HOUR);
    add(l, "a.rel_load", t[PGA_REL_LOAD], NULL, "%s", "");
    add(l, "a.hourly_lock", t[PGA_HOURLY_LOCK], NULL, "%s", "");
    add(l, "a.state_get", t[PGA_STATE_GET], NULL, "%s", "");
    /* The hourly rollup reads every raw row from the watermark hour on by
     * design: a BRIN range over ts_ms (the table is in arrival = time
     * order), never the whole table. */
    add(l, "a.hourly_fold", t[PGA_HOURLY_FOLD], "heartbeats_ts", "%lld", (long long)wm);
    add(l, "a.hourly_mark", t[PGA_HOURLY_MARK], NULL, "%lld", T_END);
    add(l, "a.task_put", t[PGA_TASK_PUT], NULL, "'g5', %lld, 3, 1.5, 1, 2, 1.5, 2, 2, 2", T_END);
    add(l, "a.imp_session", t[PGA_IMP_SESSION], NULL,
        "'w0500', %lld, 'g0', 'inst-500', %lld, 'timeout', NULL, %lld", T_START - DAY,
        T_START - HOUR, T_START - HOUR);
    add(l, "a.imp_worker", t[PGA_IMP_WORKER], NULL,
        "'w0500', 'g0', 'inst-500', 'dead', %lld, %lld, %lld", T_START - HOUR, T_START - DAY,
        T_START - HOUR);
    add(l, "a.metric_put", t[PGA_METRIC_PUT], NULL, "'node-a', 'alive:g5', %lld, 3", T_END);
    add(l, "a.hub_put", t[PGA_HUB_PUT], NULL, "'node-3', 1, %lld, %lld, %lld, '{}'", T_END,
        T_END + 60000, T_END + 60005);
}

/* The writer's (postgres.c pg_wsql, reached through the handle). */
static void writer_stmts(stmts *l, const pg_store *q)
{
    const char *const *t = q->w.sql;
    assert_int_equal(q->w.nsql, PGW__COUNT);
    /* $1..$11: the events row; then the kind's own. */
#define EVROW(type, state, prev, reason, code, opened)                                             \
    "'w0500', 'g0', 'inst-500', %lld, '" type "', " state ", " prev ", " reason ", " code          \
    ", " opened ", 'node-a'"
    add(l, "w.session_open", t[PGW_SESSION_OPEN], NULL,
        EVROW("session_opened", "NULL", "NULL", "NULL", "NULL", "%lld") ", 15", T_END, T_END);
    add(l, "w.session_close", t[PGW_SESSION_CLOSE], NULL,
        EVROW("session_closed", "NULL", "NULL", "'failed'", "1", "%lld") ", %lld, 5, 50", T_END,
        S_START + 99 * S_STEP + 500 * 1000, T_END - 1000);
    add(l, "w.worker_state", t[PGW_WORKER_STATE], NULL,
        EVROW("worker_dead", "'dead'", "'alive'", "NULL", "NULL", "NULL") ", 15", T_END);
    add(l, "w.group_state", t[PGW_GROUP_STATE], NULL,
        EVROW("group_alive", "'alive'", "'unknown'", "NULL", "NULL", "NULL"), T_END);
    add(l, "w.forget", t[PGW_FORGET], NULL,
        EVROW("worker_forgotten", "NULL", "NULL", "NULL", "NULL", "NULL"), T_END);
    add(l, "w.alert", t[PGW_ALERT], NULL,
        EVROW("alert_firing", "NULL", "NULL", "NULL", "NULL", "NULL") ", '{\"rule\":\"lost\"}'",
        T_END);
#undef EVROW
    add(l, "w.hb_seen", t[PGW_HB_SEEN], NULL,
        "'{w0500,w0501,w0502}', '{%lld,%lld,%lld}', '{15,0,20}'", T_END, T_END, T_END);
    add(l, "w.batch_mark", t[PGW_BATCH_MARK], NULL, "60, 12");
    add(l, "w.batch_applied", t[PGW_BATCH_APPLIED], NULL, "60");
    add(l, "w.run_begin", t[PGW_RUN_BEGIN], NULL, "'node-a', %lld", T_END);
    add(l, "w.run_alive", t[PGW_RUN_ALIVE], NULL, "60, %lld", T_END);
    add(l, "w.run_end", t[PGW_RUN_END], NULL, "60, %lld", T_END);
    /* Retention: 7 days of raw rows (3 to delete), 30 of events, 400 of
     * sessions and hourly rows; and a cutoff that finds the most to do. */
    add(l, "w.prune_hbs", t[PGW_PRUNE_HBS], "heartbeats_ts", "%lld, 10000", T_END - 7 * DAY);
    add(l, "w.prune_hbs_all", t[PGW_PRUNE_HBS], "heartbeats_ts", I64_MAX ", 10000");
    add(l, "w.prune_events", t[PGW_PRUNE_EVENTS], NULL, "%lld, 10000", T_END - 7 * DAY);
    add(l, "w.prune_hourly", t[PGW_PRUNE_HOURLY], NULL, "%lld, 10000", T_END - 7 * DAY);
    add(l, "w.prune_sessions", t[PGW_PRUNE_SESSIONS], NULL, "%lld, 10000", T_END - 7 * DAY);
    add(l, "w.prune_sessions_all", t[PGW_PRUNE_SESSIONS], NULL, I64_MAX ", 10000");
    add(l, "w.prune_tasks", t[PGW_PRUNE_TASKS], NULL, "%lld, 10000", T_END - HOUR);
    add(l, "w.prune_metrics", t[PGW_PRUNE_METRICS], "fleet_metrics_ts", "%lld, 10000",
        T_END - 7 * DAY);
    add(l, "w.prune_hub", t[PGW_PRUNE_HUB], "hub_summaries_age", "%lld, 10000", T_END - 4 * DAY);
}

/* ---- plans ------------------------------------------------------------------------------- */

/* Arguments in an EXECUTE list: commas outside quotes and braces. */
static int nargs(const char *a)
{
    int n = 0, depth = 0;
    bool quoted = false, any = false;
    for (; *a; a++) {
        if (*a == '\'') quoted = !quoted;
        if (!quoted && *a == '{') depth++;
        if (!quoted && *a == '}') depth--;
        if (!quoted && !depth && *a == ',') n++;
        if (*a != ' ') any = true;
    }
    return any ? n + 1 : 0;
}

static void cat_str(char *dst, size_t n, const char *s)
{
    size_t len = strlen(dst);
    snprintf(dst + len, n - len, "%s%s", len ? " " : "", s);
}

/* Every node: sequential scans of the guarded tables into seq, of others
 * into other, index names into idx. */
typedef struct found {
    char seq[256], other[256], idx[1024];
} found;

static void walk(const cJSON *node, found *fd)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "Node Type");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(node, "Relation Name");
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(node, "Index Name");
    if (cJSON_IsString(type) && cJSON_IsString(rel) && strcmp(type->valuestring, "Seq Scan") == 0) {
        bool guarded = strcmp(rel->valuestring, "heartbeats") == 0 ||
                       strcmp(rel->valuestring, "sessions") == 0 ||
                       strcmp(rel->valuestring, "fleet_metrics") == 0;
        if (guarded)
            cat_str(fd->seq, sizeof fd->seq, rel->valuestring);
        else
            cat_str(fd->other, sizeof fd->other, rel->valuestring);
    }
    if (cJSON_IsString(ix)) cat_str(fd->idx, sizeof fd->idx, ix->valuestring);
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "Plans")) walk(child, fd);
}

static bool has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
    return false;
}

/* Any of the '|'-separated names in want. */
static bool has_any(const char *list, const char *want)
{
    char w[128];
    snprintf(w, sizeof w, "%s", want);
    for (char *sv, *t = strtok_r(w, "|", &sv); t; t = strtok_r(NULL, "|", &sv))
        if (has_word(list, t)) return true;
    return false;
}

/* EXPLAIN one statement in one plan cache mode; the number of problems
 * found (each printed with its plan). */
static int check(PGconn *c, const stmt *s, const char *mode)
{
    PX(c, "SET plan_cache_mode = %s", mode);
    PGresult *r = px(c, "EXPLAIN (FORMAT JSON) EXECUTE x%s%s%s", *s->args ? "(" : "", s->args,
                     *s->args ? ")" : "");
    const char *json = PQgetvalue(r, 0, 0);
    cJSON *plan = cJSON_Parse(json);
    assert_non_null(plan);
    found fd = {0};
    walk(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(plan, 0), "Plan"), &fd);
    cJSON_Delete(plan);
    int bad = 0;
    if (*fd.seq && !s->whole_table) {
        fprintf(stderr, "%s (%s): Seq Scan on %s\n", s->name, mode, fd.seq);
        bad++;
    }
    if (s->want_index && !has_any(fd.idx, s->want_index)) {
        fprintf(stderr, "%s (%s): uses none of the indexes %s (uses: %s)\n", s->name, mode,
                s->want_index, *fd.idx ? fd.idx : "none");
        bad++;
    }
    if (bad)
        fprintf(stderr, "  statement: %s\n  EXECUTE (%s)\n  plan: %s\n", s->sql, s->args, json);
    if (getenv("VIGIL_TEST_PLANS")) /* a look at every plan: make it print them */
        printf("%-24s %-19s indexes: %s; seq scans: %s %s\n", s->name, mode + 6,
               *fd.idx ? fd.idx : "-", fd.seq, fd.other);
    PQclear(r);
    return bad;
}

static void test_explain(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    seed(f);
    assert_string_equal(store_backend_name(f->s), "postgres");
    const pg_store *q = (const pg_store *)f->s;
    int64_t wm = q_int_url(f->url, "SELECT value FROM rollup_state WHERE name = 'hourly_hour'");
    assert_int_equal(wm, T_END - 2 * HOUR); /* the newest row's hour is T_END - 1h */

    stmts *l = calloc(1, sizeof *l);
    assert_non_null(l);
    reader_stmts(l, q);
    analytics_stmts(l, wm);
    writer_stmts(l, q);
    /* Every statement of every connection is here. */
    const char *const *all[] = {(const char *const *)q->rtext, pg_asql, q->w.sql};
    const int nall[] = {PGR__TOTAL, PGA__COUNT, PGW__COUNT};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < nall[k]; i++) {
            int j = 0;
            while (j < l->n && l->v[j].sql != all[k][i])
                j++;
            if (j == l->n) fail_msg("statement %d of connection %d is not planned here", i, k);
        }

    PGconn *c = conn(f->url);
    PX(c, "SET jit = off"); /* as the store's sessions */
    int bad = 0;
    for (int i = 0; i < l->n; i++) {
        const stmt *s = &l->v[i];
        PGresult *r = PQprepare(c, "x", s->sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("%s: prepare: %s", s->name, PQerrorMessage(c));
        PQclear(r);
        r = PQdescribePrepared(c, "x");
        if (PQnparams(r) != nargs(s->args))
            fail_msg("%s: takes %d values, the test gives %d (%s)", s->name, PQnparams(r),
                     nargs(s->args), s->args);
        PQclear(r);
        bad += check(c, s, "force_custom_plan");
        bad += check(c, s, "force_generic_plan");
        PX(c, "DEALLOCATE x");
    }
    PQfinish(c);
    free(l);
    if (bad) fail_msg("%d plan problem(s), printed above", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
