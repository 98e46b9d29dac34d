/*
 * postgres_read: the read half of the PostgreSQL backend.
 *
 * All reads share one connection (q->r) behind its mutex, as SQLite's rdb:
 * each statement reads one committed snapshot and never waits for the
 * writer (MVCC), so the only waiting is among readers, for the length of
 * one query. Rows are streamed (single-row mode), so loading a million
 * workers at boot never holds them all in one result. Queries with optional
 * filters get one prepared statement per filter combination, built at open
 * from fixed fragments with their placeholders numbered in order, so each
 * walks the index that fits.
 *
 * As on SQLite, the open session's last heartbeat is the later of
 * session.last_hb_ms and the worker's last seen: the writer advances only
 * the worker row on the hot path, and that lazily (PG_SEEN_W).
 *
 * Event ids come from a sequence: never reused, increasing in the order one
 * writer commits. With several nodes writing, a node's event may commit
 * after a sibling's higher id, so an after_id cursor can step over it;
 * ts_ms bounds, not ids, are the exact way to read across nodes.
 */
#include "store/postgres_int.h"
#include "store/store_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The worker row `w`'s last seen, exactly (STORE_SEEN_SLACK_MS). */
#define PG_SEEN_W "GREATEST(w.last_seen_ms, " STORE_NEWEST_HB("w") ")"

/* The worker columns and its open session's (s, joined by the caller).
 * The newest raw row is a lateral join (an aggregate: the planner keeps
 * it a join), so the two columns that need it share one probe. As two
 * subplans, boot's 1,000,000 workers took 6.1-6.7 s; so, 4.0-4.4 s; 2.0 s
 * when the column alone was read. */
#define WORKER_COLS                                                                                \
    "SELECT w.worker_id, w.group_name, w.instance, w.state, w.state_since_ms,"                     \
    " w.first_seen_ms, GREATEST(w.last_seen_ms, n.ts), w.ttl_s, s.opened_ms,"                      \
    " CASE WHEN s.opened_ms IS NOT NULL THEN GREATEST(s.last_hb_ms, w.last_seen_ms, n.ts) END,"    \
    " s.node_id FROM workers AS w"                                                                 \
    " LEFT JOIN LATERAL (" STORE_NEWEST_HB_SELECT("w") ") AS n ON true"

#define WORKER_SELECT                                                                              \
    WORKER_COLS " LEFT JOIN LATERAL (SELECT opened_ms, last_hb_ms, node_id FROM sessions"          \
                " WHERE worker_id = w.worker_id AND closed_ms IS NULL"                             \
                " AND node_id <> '" STORE_IMPORT_NODE "' ORDER BY opened_ms DESC LIMIT 1)"         \
                " AS s ON true"

static const char *const rsql[PGR__COUNT] = {
    [PGR_PING] = "SELECT version FROM schema_version LIMIT 1",
    [PGR_GROUPS] = "SELECT name, state, state_since_ms FROM \"groups\" ORDER BY name",
    /* Every worker (boot): one pass over the open sessions merged with the
     * workers, instead of a probe per worker (measured 4x faster at 100k). */
    [PGR_WORKERS_ALL] = WORKER_COLS " LEFT JOIN (SELECT DISTINCT ON (worker_id) worker_id,"
                                    "  opened_ms, last_hb_ms, node_id FROM sessions"
                                    "  WHERE closed_ms IS NULL AND node_id <> '" STORE_IMPORT_NODE
                                    "' ORDER BY worker_id, opened_ms DESC) AS s"
                                    " ON s.worker_id = w.worker_id ORDER BY w.worker_id",
    [PGR_WORKER_ONE] = WORKER_SELECT " WHERE w.worker_id = $1::text",
    [PGR_SESSIONS] =
        "SELECT s.worker_id, s.group_name, s.instance, s.node_id, s.opened_ms, s.closed_ms,"
        " CASE WHEN s.closed_ms IS NULL THEN GREATEST(s.last_hb_ms, coalesce((SELECT " PG_SEEN_W
        " FROM workers AS w WHERE w.worker_id = s.worker_id), 0)) ELSE s.last_hb_ms END,"
        " s.reason, s.exit_code, s.requests, s.tokens, s.ttl_s FROM sessions AS s"
        " WHERE s.worker_id = $1::text AND s.opened_ms < $2::bigint"
        " ORDER BY s.opened_ms DESC LIMIT $3::bigint",
    /* id breaks ties in the order rows arrived (an incremental sort over
     * the index order, within equal timestamps only). */
    [PGR_HEARTBEATS] =
        "SELECT ts_ms, seq, status, cpu, mem, mem_available_gb, gpu_mem_active_gb, thermal,"
        " backlog, capacity, in_flight, requests, tokens, cpu_ticks, worker_id FROM heartbeats"
        " WHERE worker_id = $1::text AND ts_ms >= $2::bigint AND ts_ms < $3::bigint"
        " ORDER BY ts_ms, id LIMIT $4::bigint",
    [PGR_LAST_RUN] = STORE_RUN_SELECT " WHERE node_id = $1::text AND id < $2::bigint"
                                      " ORDER BY id DESC LIMIT 1",
    [PGR_RUNS] = STORE_RUN_SELECT " ORDER BY id",
    [PGR_HOURLY] = "SELECT hour_ms, n, cpu_sum, cpu_n, mem_sum, mem_n, mema_sum, mema_n,"
                   " thermal_max FROM heartbeats_hourly WHERE worker_id = $1::text"
                   " AND hour_ms >= $2::bigint AND hour_ms < $3::bigint ORDER BY hour_ms"
                   " LIMIT $4::bigint",
    [PGR_TASKS_ALL] = STORE_TASK_SELECT " WHERE bucket_ms >= $1::bigint AND bucket_ms < $2::bigint"
                                        " ORDER BY bucket_ms, group_name LIMIT $3::bigint",
    [PGR_TASKS_GROUP] = STORE_TASK_SELECT " WHERE group_name = $1::text AND bucket_ms >= $2::bigint"
                                          " AND bucket_ms < $3::bigint ORDER BY bucket_ms"
                                          " LIMIT $4::bigint",
    /* The series names in [$2, $3): a seek of the key per name
     * (postgres_metrics.c). */
    [PGR_METRIC_NAMES] = STORE_METRIC_NAMES("$1::text", "$2::text", "$3::text"),
    [PGR_METRIC_SERIES] = "SELECT ts_ms, value FROM fleet_metrics WHERE node_id = $1::text"
                          " AND name = $2::text AND ts_ms >= $3::bigint AND ts_ms < $4::bigint"
                          " ORDER BY ts_ms",
    /* postgres_hub.c */
    [PGR_HUB_ALL] = STORE_HUB_SELECT " WHERE from_ms >= $1::bigint AND from_ms < $2::bigint"
                                     " ORDER BY node_id, run_id, from_ms LIMIT $3::bigint",
    [PGR_HUB_NODE] = STORE_HUB_SELECT " WHERE node_id = $1::text AND from_ms >= $2::bigint"
                                      " AND from_ms < $3::bigint ORDER BY node_id, run_id, from_ms"
                                      " LIMIT $4::bigint",
    [PGR_HUB_LATEST] = STORE_HUB_LATEST,
};

#define VARIANT_MAX 1024 /* bytes of one variant's text */

/* Append a fragment; "%d" in it becomes the next placeholder number. */
static void cat(char *sql, int *arg, const char *frag)
{
    size_t len = strlen(sql);
    if (strstr(frag, "%d"))
        snprintf(sql + len, VARIANT_MAX - len, frag, ++*arg);
    else
        snprintf(sql + len, VARIANT_MAX - len, "%s", frag);
}

int pg_read_texts(pg_store *q, char *err, size_t errlen)
{
    for (int i = 0; i < PGR__COUNT; i++)
        if (!(q->rtext[i] = strdup(rsql[i]))) goto oom;
    for (int m = 0; m < PG_WQ__N; m++) {
        char *sql = q->rtext[PGR_WQ_BASE + m] = calloc(1, VARIANT_MAX);
        int arg = 0;
        if (!sql) goto oom;
        cat(sql, &arg, WORKER_SELECT " WHERE true");
        if (m & PG_WQ_GROUP) cat(sql, &arg, " AND w.group_name = $%d::text");
        if (m & PG_WQ_STATE) cat(sql, &arg, " AND w.state = $%d::text");
        if (m & PG_WQ_AFTER) cat(sql, &arg, " AND w.worker_id > $%d::text");
        cat(sql, &arg, " ORDER BY w.worker_id LIMIT $%d::bigint");
    }
    for (int m = 0; m < PG_EQ__N; m++) {
        char *sql = q->rtext[PGR_EQ_BASE + m] = calloc(1, VARIANT_MAX);
        int arg = 0;
        if (!sql) goto oom;
        cat(sql, &arg, STORE_EVENT_SELECT);
        cat(sql, &arg, (m & PG_EQ_ASC) ? " WHERE id > $%d::bigint" : " WHERE id < $%d::bigint");
        if (m & PG_EQ_WORKER) cat(sql, &arg, " AND worker_id = $%d::text");
        if (m & PG_EQ_GROUP) cat(sql, &arg, " AND group_name = $%d::text");
        if (m & PG_EQ_TYPE) cat(sql, &arg, " AND type = $%d::text");
        if (m & PG_EQ_FROM) cat(sql, &arg, " AND ts_ms >= $%d::bigint");
        if (m & PG_EQ_TO) cat(sql, &arg, " AND ts_ms < $%d::bigint");
        cat(sql, &arg,
            (m & PG_EQ_ASC) ? " ORDER BY id LIMIT $%d::bigint"
                            : " ORDER BY id DESC LIMIT $%d::bigint");
    }
    return 0;
oom:
    err_set(err, errlen, "postgres: out of memory");
    return -1;
}

void pg_read_free(pg_store *q)
{
    for (int i = 0; i < PGR__TOTAL; i++)
        free(q->rtext[i]);
}

/* ---- row helpers ------------------------------------------------------------ */

/* Enum names back to values; NULL, "" or a name this build does not know
 * (a newer vigild wrote it) read as the enum's zero. */
static int col_enum(const PGresult *r, int i, int (*parse)(const char *))
{
    const char *t = pg_null(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
    int v = t && *t ? parse(t) : 0;
    return v < 0 ? 0 : v;
}

static void worker_row(const PGresult *r, store_worker *w)
{
    memset(w, 0, sizeof *w);
    pg_text(r, 0, 0, w->worker_id, sizeof w->worker_id);
    pg_text(r, 0, 1, w->group, sizeof w->group);
    pg_text(r, 0, 2, w->instance, sizeof w->instance);
    w->state = col_enum(r, 3, reg_wstate_parse);
    w->state_since_ms = pg_i64(r, 0, 4);
    w->first_seen_ms = pg_i64(r, 0, 5);
    w->last_seen_ms = pg_i64(r, 0, 6);
    w->ttl_s = (int32_t)pg_i64(r, 0, 7);
    w->open_opened_ms = pg_i64(r, 0, 8); /* NULL (no session) reads 0 */
    w->open_last_hb_ms = pg_i64(r, 0, 9);
    pg_text(r, 0, 10, w->open_node_id, sizeof w->open_node_id);
}

static void group_row(const PGresult *r, store_group *g)
{
    memset(g, 0, sizeof *g);
    pg_text(r, 0, 0, g->name, sizeof g->name);
    g->state = col_enum(r, 1, reg_gstate_parse);
    g->state_since_ms = pg_i64(r, 0, 2);
}

static void session_row(const PGresult *r, store_session *x)
{
    memset(x, 0, sizeof *x);
    pg_text(r, 0, 0, x->worker_id, sizeof x->worker_id);
    pg_text(r, 0, 1, x->group, sizeof x->group);
    pg_text(r, 0, 2, x->instance, sizeof x->instance);
    pg_text(r, 0, 3, x->node_id, sizeof x->node_id);
    x->opened_ms = pg_i64(r, 0, 4);
    x->closed_ms = pg_i64(r, 0, 5);
    x->last_hb_ms = pg_i64(r, 0, 6);
    x->reason = col_enum(r, 7, reg_reason_parse);
    x->has_exit_code = !pg_null(r, 0, 8);
    x->exit_code = (int32_t)pg_i64(r, 0, 8);
    x->has_requests = !pg_null(r, 0, 9);
    x->requests = pg_i64(r, 0, 9);
    x->has_tokens = !pg_null(r, 0, 10);
    x->tokens = pg_i64(r, 0, 10);
    x->ttl_s = (int32_t)pg_i64(r, 0, 11);
}

/* Sets the has-bit and reads column i when it is not NULL. */
static int64_t opt_i64(const PGresult *r, int i, uint32_t bit, uint32_t *has)
{
    if (pg_null(r, 0, i)) return 0;
    *has |= bit;
    return pg_i64(r, 0, i);
}

/* REAL columns: strtof, so the float stored comes back bit for bit. */
static float opt_f(const PGresult *r, int i, uint32_t bit, uint32_t *has)
{
    if (pg_null(r, 0, i)) return 0;
    *has |= bit;
    return strtof(PQgetvalue(r, 0, i), NULL);
}

static int thermal_parse(const char *s)
{
    for (int t = 1; s && t <= HB_THERMAL_CRITICAL; t++)
        if (strcmp(s, hb_thermal_name(t)) == 0) return t;
    return HB_THERMAL_NONE;
}

static void hb_row(const PGresult *r, store_hb *h)
{
    memset(h, 0, sizeof *h);
    h->ts_ms = pg_i64(r, 0, 0);
    h->seq = opt_i64(r, 1, HB_HAS_SEQ, &h->has);
    if (!pg_null(r, 0, 2)) {
        h->has |= HB_HAS_STATUS;
        pg_text(r, 0, 2, h->status, sizeof h->status);
    }
    h->cpu = opt_f(r, 3, HB_HAS_CPU, &h->has);
    h->mem = opt_f(r, 4, HB_HAS_MEM, &h->has);
    h->mem_available_gb = opt_f(r, 5, HB_HAS_MEM_AVAIL, &h->has);
    h->gpu_mem_active_gb = opt_f(r, 6, HB_HAS_GPU_MEM, &h->has);
    h->thermal = (uint8_t)col_enum(r, 7, thermal_parse);
    if (h->thermal) h->has |= HB_HAS_THERMAL;
    h->backlog = opt_i64(r, 8, HB_HAS_BACKLOG, &h->has);
    h->capacity = opt_i64(r, 9, HB_HAS_CAPACITY, &h->has);
    h->in_flight = opt_i64(r, 10, HB_HAS_IN_FLIGHT, &h->has);
    h->requests = opt_i64(r, 11, HB_HAS_REQUESTS, &h->has);
    h->tokens = opt_i64(r, 12, HB_HAS_TOKENS, &h->has);
    h->cpu_ticks = opt_i64(r, 13, HB_HAS_CPU_TICKS, &h->has);
    pg_text(r, 0, 14, h->worker_id, sizeof h->worker_id);
}

static void event_row(const PGresult *r, store_event *e)
{
    memset(e, 0, sizeof *e);
    e->id = pg_i64(r, 0, 0);
    e->ts_ms = pg_i64(r, 0, 1);
    pg_text(r, 0, 2, e->type, sizeof e->type);
    pg_text(r, 0, 3, e->worker_id, sizeof e->worker_id);
    pg_text(r, 0, 4, e->group, sizeof e->group);
    pg_text(r, 0, 5, e->instance, sizeof e->instance);
    pg_text(r, 0, 6, e->state, sizeof e->state);
    pg_text(r, 0, 7, e->prev_state, sizeof e->prev_state);
    e->reason = col_enum(r, 8, reg_reason_parse);
    e->has_exit_code = !pg_null(r, 0, 9);
    e->exit_code = (int32_t)pg_i64(r, 0, 9);
    e->opened_ms = pg_i64(r, 0, 10);
    pg_text(r, 0, 11, e->node_id, sizeof e->node_id);
    pg_text(r, 0, 12, e->detail, sizeof e->detail);
}

static void run_row(const PGresult *r, store_run *x)
{
    x->id = pg_i64(r, 0, 0);
    x->started_ms = pg_i64(r, 0, 1);
    x->alive_ms = pg_i64(r, 0, 2);
    x->stopped_ms = pg_i64(r, 0, 3);
}

/* An average over the samples that carried the field; none: absent. */
static double avg_col(const PGresult *r, int sum, int n, bool *has)
{
    int64_t k = pg_i64(r, 0, n);
    *has = k > 0;
    return k > 0 ? pg_f64(r, 0, sum) / (double)k : 0;
}

static void hourly_row(const PGresult *r, store_hourly *h)
{
    memset(h, 0, sizeof *h);
    h->hour_ms = pg_i64(r, 0, 0);
    h->count = pg_i64(r, 0, 1);
    h->cpu = avg_col(r, 2, 3, &h->has_cpu);
    h->mem = avg_col(r, 4, 5, &h->has_mem);
    h->mem_available_gb = avg_col(r, 6, 7, &h->has_mem_available);
    h->thermal_max = (uint8_t)pg_i64(r, 0, 8); /* NULL reads 0 = none */
}

static void task_row(const PGresult *r, tlat_row *t)
{
    memset(t, 0, sizeof *t);
    pg_text(r, 0, 0, t->group, sizeof t->group);
    t->bucket_ms = pg_i64(r, 0, 1);
    t->count = (uint64_t)pg_i64(r, 0, 2);
    t->mean_ms = pg_f64(r, 0, 3);
    t->min_ms = pg_f64(r, 0, 4);
    t->max_ms = pg_f64(r, 0, 5);
    t->p50_ms = pg_f64(r, 0, 6);
    t->p90_ms = pg_f64(r, 0, 7);
    t->p95_ms = pg_f64(r, 0, 8);
    t->p99_ms = pg_f64(r, 0, 9);
}

/* One forwarding callback per row type: convert, hand over. */
#define FORWARD(T, conv)                                                                           \
    typedef struct T##_fwd {                                                                       \
        int (*cb)(void *, const T *);                                                              \
        void *ctx;                                                                                 \
    } T##_fwd;                                                                                     \
    static int T##_each(void *c, const PGresult *r)                                                \
    {                                                                                              \
        T##_fwd *f = c;                                                                            \
        T row;                                                                                     \
        conv(r, &row);                                                                             \
        return f->cb(f->ctx, &row);                                                                \
    }

FORWARD(store_worker, worker_row)
FORWARD(store_group, group_row)
FORWARD(store_session, session_row)
FORWARD(store_hb, hb_row)
FORWARD(store_event, event_row)
FORWARD(store_run, run_row)
FORWARD(store_hourly, hourly_row)
FORWARD(tlat_row, task_row)

/* A single row into *out, for the lookups. */
static int take_worker(void *out, const store_worker *w)
{
    *(store_worker *)out = *w;
    return 1;
}

static int take_run(void *out, const store_run *r)
{
    *(store_run *)out = *r;
    return 1;
}

/* LIMIT NULL is no limit. */
static void pp_limit(pg_params *p, int limit)
{
    pp_opt_i64(p, limit > 0, limit);
}

/* Bounds of [from, to): 0 means open-ended. */
static int64_t upper(int64_t v)
{
    return v > 0 ? v : INT64_MAX;
}

/* ---- backend entry points -------------------------------------------------- */

static int ignore_row(void *ctx, const PGresult *r)
{
    (void)ctx;
    (void)r;
    return 0;
}

int pg_ping(store *s)
{
    pg_store *q = (pg_store *)s;
    return pg_stream(&q->r, PGR_PING, NULL, ignore_row, NULL) >= 0 ? 0 : -1;
}

int pg_last_run(store *s, int64_t before_id, store_run *out)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    pp_text(&p, q->base.node_id);
    pp_i64(&p, upper(before_id));
    store_run_fwd f = {take_run, out};
    int n = pg_stream(&q->r, PGR_LAST_RUN, &p, store_run_each, &f);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

int pg_load_groups(store *s, int (*cb)(void *, const store_group *), void *ctx)
{
    store_group_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_GROUPS, NULL, store_group_each, &f);
}

int pg_load_workers(store *s, int (*cb)(void *, const store_worker *), void *ctx)
{
    store_worker_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_WORKERS_ALL, NULL, store_worker_each, &f);
}

int pg_list_workers(store *s, const store_worker_query *wq, int (*cb)(void *, const store_worker *),
                    void *ctx)
{
    int m = (wq->group ? PG_WQ_GROUP : 0) | (wq->state >= 0 ? PG_WQ_STATE : 0) |
            (wq->after_id ? PG_WQ_AFTER : 0);
    pg_params p = {0};
    if (wq->group) pp_text(&p, wq->group);
    if (wq->state >= 0) pp_text(&p, reg_wstate_name(wq->state));
    if (wq->after_id) pp_text(&p, wq->after_id);
    pp_limit(&p, wq->limit);
    store_worker_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_WQ_BASE + m, &p, store_worker_each, &f);
}

int pg_get_worker(store *s, const char *worker_id, store_worker *out)
{
    pg_params p = {0};
    pp_text(&p, worker_id);
    store_worker_fwd f = {take_worker, out};
    int n = pg_stream(&((pg_store *)s)->r, PGR_WORKER_ONE, &p, store_worker_each, &f);
    return n < 0 ? -1 : n == 0 ? 1 : 0;
}

int pg_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                     int (*cb)(void *, const store_session *), void *ctx)
{
    pg_params p = {0};
    pp_text(&p, worker_id);
    pp_i64(&p, upper(before_opened_ms));
    pp_limit(&p, limit);
    store_session_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_SESSIONS, &p, store_session_each, &f);
}

int pg_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                       int (*cb)(void *, const store_hb *), void *ctx)
{
    pg_params p = {0};
    pp_text(&p, worker_id);
    pp_i64(&p, from_ms);
    pp_i64(&p, upper(to_ms));
    pp_limit(&p, limit);
    store_hb_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_HEARTBEATS, &p, store_hb_each, &f);
}

int pg_list_events(store *s, const store_event_query *eq, int (*cb)(void *, const store_event *),
                   void *ctx)
{
    bool asc = eq->after_id > 0;
    int m = (asc ? PG_EQ_ASC : 0) | (eq->worker_id ? PG_EQ_WORKER : 0) |
            (eq->group ? PG_EQ_GROUP : 0) | (eq->type ? PG_EQ_TYPE : 0) |
            (eq->from_ms > 0 ? PG_EQ_FROM : 0) | (eq->to_ms > 0 ? PG_EQ_TO : 0);
    pg_params p = {0};
    pp_i64(&p, asc ? eq->after_id : upper(eq->before_id));
    if (eq->worker_id) pp_text(&p, eq->worker_id);
    if (eq->group) pp_text(&p, eq->group);
    if (eq->type) pp_text(&p, eq->type);
    if (eq->from_ms > 0) pp_i64(&p, eq->from_ms);
    if (eq->to_ms > 0) pp_i64(&p, eq->to_ms);
    pp_limit(&p, eq->limit);
    store_event_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_EQ_BASE + m, &p, store_event_each, &f);
}

int pg_list_runs(store *s, int (*cb)(void *, const store_run *), void *ctx)
{
    store_run_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_RUNS, NULL, store_run_each, &f);
}

int pg_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *, const store_hourly *), void *ctx)
{
    pg_params p = {0};
    pp_text(&p, worker_id);
    pp_i64(&p, from_ms);
    pp_i64(&p, upper(to_ms));
    pp_limit(&p, limit);
    store_hourly_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, PGR_HOURLY, &p, store_hourly_each, &f);
}

int pg_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                  int (*cb)(void *, const tlat_row *), void *ctx)
{
    pg_params p = {0};
    if (group) pp_text(&p, group);
    pp_i64(&p, from_ms);
    pp_i64(&p, upper(to_ms));
    pp_limit(&p, limit);
    tlat_row_fwd f = {cb, ctx};
    return pg_stream(&((pg_store *)s)->r, group ? PGR_TASKS_GROUP : PGR_TASKS_ALL, &p,
                     tlat_row_each, &f);
}
