/*
 * sqlite_read: the read half of the SQLite backend.
 *
 * All reads share one connection (q->rdb) behind q->rmu. Under WAL a reader
 * sees the last committed snapshot and never blocks the writer, so the only
 * waiting is among readers themselves, for the length of one query. Queries
 * with optional filters get one prepared statement per filter combination
 * (built at open from fixed fragments, never from values), so each one walks
 * the index that fits instead of scanning with "(? IS NULL OR ...)" terms.
 *
 * The open session's last heartbeat is read as max(session.last_hb_ms,
 * the worker's last seen): the writer advances only the worker row on the
 * hot path (and that lazily: SQ_SEEN_W), and a worker's newest
 * heartbeat always belongs to its open session.
 */
#include "store/sqlite_int.h"
#include "store/store_sql.h"

#include <stdio.h>
#include <string.h>

#define WORKER_SELECT                                                                              \
    "SELECT w.worker_id, w.group_name, w.instance, w.state, w.state_since_ms,"                     \
    " w.first_seen_ms, w.seen_ms, w.ttl_s, s.opened_ms, max(s.last_hb_ms, w.seen_ms), s.node_id"   \
    " FROM (SELECT *, " SQ_SEEN_W " AS seen_ms FROM workers AS w) AS w"                            \
    " LEFT JOIN sessions AS s ON s.id = (SELECT id FROM sessions"                                  \
    "  WHERE worker_id = w.worker_id AND closed_ms IS NULL AND node_id <> '" STORE_IMPORT_NODE "'" \
    "  ORDER BY opened_ms DESC LIMIT 1)"

static const char *const rsql[SQR__COUNT] = {
    [SQR_PING] = "SELECT version FROM schema_version LIMIT 1",
    [SQR_GROUPS] = "SELECT name, state, state_since_ms FROM \"groups\" ORDER BY name",
    [SQR_WORKERS_ALL] = WORKER_SELECT " ORDER BY w.worker_id",
    [SQR_WORKER_ONE] = WORKER_SELECT " WHERE w.worker_id = ?1",
    [SQR_SESSIONS] =
        "SELECT s.worker_id, s.group_name, s.instance, s.node_id, s.opened_ms, s.closed_ms,"
        " CASE WHEN s.closed_ms IS NULL THEN max(s.last_hb_ms, coalesce((SELECT " SQ_SEEN_W
        " FROM workers AS w WHERE w.worker_id = s.worker_id), 0)) ELSE s.last_hb_ms END,"
        " s.reason, s.exit_code, s.requests, s.tokens, s.ttl_s FROM sessions AS s"
        " WHERE s.worker_id = ?1 AND s.opened_ms < ?2 ORDER BY s.opened_ms DESC LIMIT ?3",
    /* rowid breaks ties in the order they were written; the index holds it. */
    [SQR_HEARTBEATS] =
        "SELECT ts_ms, seq, status, cpu, mem, mem_available_gb, gpu_mem_active_gb, thermal,"
        " backlog, capacity, in_flight, requests, tokens, cpu_ticks, worker_id FROM heartbeats"
        " WHERE worker_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, rowid LIMIT ?4",
    [SQR_LAST_RUN] = STORE_RUN_SELECT " WHERE node_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1",
    [SQR_RUNS] = STORE_RUN_SELECT " ORDER BY id",
    [SQR_HOURLY] = "SELECT hour_ms, n, cpu_sum, cpu_n, mem_sum, mem_n, mema_sum, mema_n,"
                   " thermal_max FROM heartbeats_hourly WHERE worker_id = ?1 AND hour_ms >= ?2"
                   " AND hour_ms < ?3 ORDER BY hour_ms LIMIT ?4",
    [SQR_TASKS_ALL] = STORE_TASK_SELECT " WHERE bucket_ms >= ?2 AND bucket_ms < ?3"
                                        " ORDER BY bucket_ms, group_name LIMIT ?4",
    [SQR_TASKS_GROUP] =
        STORE_TASK_SELECT " WHERE group_name = ?1 AND bucket_ms >= ?2 AND bucket_ms < ?3"
                          " ORDER BY bucket_ms LIMIT ?4",
    /* The series names in [?2, ?3): one seek of the key per name (a
     * loose index scan), not a walk over every sample (sqlite_metrics.c). */
    [SQR_METRIC_NAMES] = STORE_METRIC_NAMES("?1", "?2", "?3"),
    [SQR_METRIC_SERIES] = "SELECT ts_ms, value FROM fleet_metrics WHERE node_id = ?1"
                          " AND name = ?2 AND ts_ms >= ?3 AND ts_ms < ?4 ORDER BY ts_ms",
    /* sqlite_hub.c */
    [SQR_HUB_ALL] = STORE_HUB_SELECT " WHERE from_ms >= ?2 AND from_ms < ?3"
                                     " ORDER BY node_id, run_id, from_ms LIMIT ?4",
    [SQR_HUB_NODE] = STORE_HUB_SELECT " WHERE node_id = ?1 AND from_ms >= ?2 AND from_ms < ?3"
                                      " ORDER BY node_id, run_id, from_ms LIMIT ?4",
    [SQR_HUB_LATEST] = STORE_HUB_LATEST,
};

/* Append to a fixed buffer; the fragments are ours, so overflow is a bug we
 * would see at open as a prepare error on the truncated text. */
static void cat(char *buf, size_t n, const char *s)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "%s", s);
}

static int prepare(sq_store *q, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(q->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return 0;
    err_set(err, errlen, "sqlite: prepare: %s", sqlite3_errmsg(q->rdb));
    return -1;
}

int sq_read_prepare(sq_store *q, char *err, size_t errlen)
{
    for (int i = 0; i < SQR__COUNT; i++)
        if (prepare(q, rsql[i], &q->r[i], err, errlen) != 0) return -1;
    char sql[1024];
    for (int m = 0; m < SQ_WQ__N; m++) {
        snprintf(sql, sizeof sql, "%s WHERE 1", WORKER_SELECT);
        if (m & SQ_WQ_GROUP) cat(sql, sizeof sql, " AND w.group_name = ?1");
        if (m & SQ_WQ_STATE) cat(sql, sizeof sql, " AND w.state = ?2");
        if (m & SQ_WQ_AFTER) cat(sql, sizeof sql, " AND w.worker_id > ?3");
        cat(sql, sizeof sql, " ORDER BY w.worker_id LIMIT ?4");
        if (prepare(q, sql, &q->wq[m], err, errlen) != 0) return -1;
    }
    for (int m = 0; m < SQ_EQ__N; m++) {
        snprintf(sql, sizeof sql, "%s WHERE %s", STORE_EVENT_SELECT,
                 (m & SQ_EQ_ASC) ? "id > ?1" : "id < ?2");
        if (m & SQ_EQ_WORKER) cat(sql, sizeof sql, " AND worker_id = ?3");
        if (m & SQ_EQ_GROUP) cat(sql, sizeof sql, " AND group_name = ?4");
        if (m & SQ_EQ_TYPE) cat(sql, sizeof sql, " AND type = ?5");
        if (m & SQ_EQ_FROM) cat(sql, sizeof sql, " AND ts_ms >= ?6");
        if (m & SQ_EQ_TO) cat(sql, sizeof sql, " AND ts_ms < ?7");
        cat(sql, sizeof sql,
            (m & SQ_EQ_ASC) ? " ORDER BY id LIMIT ?8" : " ORDER BY id DESC LIMIT ?8");
        if (prepare(q, sql, &q->eq[m], err, errlen) != 0) return -1;
    }
    return 0;
}

void sq_read_finalize(sq_store *q)
{
    for (int i = 0; i < SQR__COUNT; i++)
        sqlite3_finalize(q->r[i]);
    for (int i = 0; i < SQ_WQ__N; i++)
        sqlite3_finalize(q->wq[i]);
    for (int i = 0; i < SQ_EQ__N; i++)
        sqlite3_finalize(q->eq[i]);
}

/* ---- row helpers ------------------------------------------------------- */

static bool col_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL;
}

static void worker_row(sqlite3_stmt *st, store_worker *w)
{
    memset(w, 0, sizeof *w);
    sq_col_text(st, 0, w->worker_id, sizeof w->worker_id);
    sq_col_text(st, 1, w->group, sizeof w->group);
    sq_col_text(st, 2, w->instance, sizeof w->instance);
    w->state = sq_col_enum(st, 3, reg_wstate_parse);
    w->state_since_ms = sqlite3_column_int64(st, 4);
    w->first_seen_ms = sqlite3_column_int64(st, 5);
    w->last_seen_ms = sqlite3_column_int64(st, 6);
    w->ttl_s = sqlite3_column_int(st, 7);
    w->open_opened_ms = sqlite3_column_int64(st, 8); /* NULL (no session) reads 0 */
    w->open_last_hb_ms = sqlite3_column_int64(st, 9);
    sq_col_text(st, 10, w->open_node_id, sizeof w->open_node_id);
}

static void session_row(sqlite3_stmt *st, store_session *x)
{
    memset(x, 0, sizeof *x);
    sq_col_text(st, 0, x->worker_id, sizeof x->worker_id);
    sq_col_text(st, 1, x->group, sizeof x->group);
    sq_col_text(st, 2, x->instance, sizeof x->instance);
    sq_col_text(st, 3, x->node_id, sizeof x->node_id);
    x->opened_ms = sqlite3_column_int64(st, 4);
    x->closed_ms = sqlite3_column_int64(st, 5);
    x->last_hb_ms = sqlite3_column_int64(st, 6);
    x->reason = sq_col_enum(st, 7, reg_reason_parse);
    x->has_exit_code = !col_null(st, 8);
    x->exit_code = sqlite3_column_int(st, 8);
    x->has_requests = !col_null(st, 9);
    x->requests = sqlite3_column_int64(st, 9);
    x->has_tokens = !col_null(st, 10);
    x->tokens = sqlite3_column_int64(st, 10);
    x->ttl_s = sqlite3_column_int(st, 11);
}

/* Sets the has-bit and reads column i when it is not NULL. */
static int64_t opt_i64(sqlite3_stmt *st, int i, uint32_t bit, uint32_t *has)
{
    if (col_null(st, i)) return 0;
    *has |= bit;
    return sqlite3_column_int64(st, i);
}

static float opt_f(sqlite3_stmt *st, int i, uint32_t bit, uint32_t *has)
{
    if (col_null(st, i)) return 0;
    *has |= bit;
    return (float)sqlite3_column_double(st, i);
}

static void hb_row(sqlite3_stmt *st, store_hb *h)
{
    memset(h, 0, sizeof *h);
    h->ts_ms = sqlite3_column_int64(st, 0);
    h->seq = opt_i64(st, 1, HB_HAS_SEQ, &h->has);
    if (!col_null(st, 2)) {
        h->has |= HB_HAS_STATUS;
        sq_col_text(st, 2, h->status, sizeof h->status);
    }
    h->cpu = opt_f(st, 3, HB_HAS_CPU, &h->has);
    h->mem = opt_f(st, 4, HB_HAS_MEM, &h->has);
    h->mem_available_gb = opt_f(st, 5, HB_HAS_MEM_AVAIL, &h->has);
    h->gpu_mem_active_gb = opt_f(st, 6, HB_HAS_GPU_MEM, &h->has);
    h->thermal = (uint8_t)sq_thermal_parse((const char *)sqlite3_column_text(st, 7));
    if (h->thermal) h->has |= HB_HAS_THERMAL;
    h->backlog = opt_i64(st, 8, HB_HAS_BACKLOG, &h->has);
    h->capacity = opt_i64(st, 9, HB_HAS_CAPACITY, &h->has);
    h->in_flight = opt_i64(st, 10, HB_HAS_IN_FLIGHT, &h->has);
    h->requests = opt_i64(st, 11, HB_HAS_REQUESTS, &h->has);
    h->tokens = opt_i64(st, 12, HB_HAS_TOKENS, &h->has);
    h->cpu_ticks = opt_i64(st, 13, HB_HAS_CPU_TICKS, &h->has);
    sq_col_text(st, 14, h->worker_id, sizeof h->worker_id);
}

static void event_row(sqlite3_stmt *st, store_event *e)
{
    memset(e, 0, sizeof *e);
    e->id = sqlite3_column_int64(st, 0);
    e->ts_ms = sqlite3_column_int64(st, 1);
    sq_col_text(st, 2, e->type, sizeof e->type);
    sq_col_text(st, 3, e->worker_id, sizeof e->worker_id);
    sq_col_text(st, 4, e->group, sizeof e->group);
    sq_col_text(st, 5, e->instance, sizeof e->instance);
    sq_col_text(st, 6, e->state, sizeof e->state);
    sq_col_text(st, 7, e->prev_state, sizeof e->prev_state);
    e->reason = sq_col_enum(st, 8, reg_reason_parse);
    e->has_exit_code = !col_null(st, 9);
    e->exit_code = sqlite3_column_int(st, 9);
    e->opened_ms = sqlite3_column_int64(st, 10);
    sq_col_text(st, 11, e->node_id, sizeof e->node_id);
    sq_col_text(st, 12, e->detail, sizeof e->detail);
}

/* Statement done: reset releases its read snapshot (or WAL checkpoints
 * could not pass it); clearing drops pointers to the caller's strings. */
static void finish(sq_store *q, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rmu);
}

/* SQLite reads LIMIT -1 as "no limit". */
static int lim(int limit)
{
    return limit > 0 ? limit : -1;
}

/* Bounds of [from, to): 0 means open-ended. */
static int64_t upper(int64_t v)
{
    return v > 0 ? v : INT64_MAX;
}

/* One loop shape for every list call: convert, hand over, count, stop when
 * asked. Returns rows handed over, or -1. */
#define ROWS(q, st, T, conv, cb, ctx)                                                              \
    do {                                                                                           \
        int n_ = 0, rc_;                                                                           \
        while ((rc_ = sqlite3_step(st)) == SQLITE_ROW) {                                           \
            T row_;                                                                                \
            conv(st, &row_);                                                                       \
            n_++;                                                                                  \
            if (cb(ctx, &row_) != 0) {                                                             \
                rc_ = SQLITE_DONE;                                                                 \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        finish(q, st);                                                                             \
        return rc_ == SQLITE_DONE ? n_ : -1;                                                       \
    } while (0)

/* ---- backend entry points ----------------------------------------------- */

int sq_ping(store *s)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_PING];
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    finish(q, st);
    return rc;
}

int sq_last_run(store *s, int64_t before_id, store_run *out)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_LAST_RUN];
    int rc = sqlite3_bind_text(st, 1, q->base.node_id, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(st, 2, upper(before_id));
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        out->started_ms = sqlite3_column_int64(st, 1);
        out->alive_ms = sqlite3_column_int64(st, 2);
        out->stopped_ms = sqlite3_column_int64(st, 3);
    }
    finish(q, st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static void group_row(sqlite3_stmt *st, store_group *g)
{
    memset(g, 0, sizeof *g);
    sq_col_text(st, 0, g->name, sizeof g->name);
    g->state = sq_col_enum(st, 1, reg_gstate_parse);
    g->state_since_ms = sqlite3_column_int64(st, 2);
}

int sq_load_groups(store *s, int (*cb)(void *, const store_group *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_GROUPS];
    ROWS(q, st, store_group, group_row, cb, ctx);
}

int sq_load_workers(store *s, int (*cb)(void *, const store_worker *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_WORKERS_ALL];
    ROWS(q, st, store_worker, worker_row, cb, ctx);
}

int sq_list_workers(store *s, const store_worker_query *wq, int (*cb)(void *, const store_worker *),
                    void *ctx)
{
    sq_store *q = (sq_store *)s;
    int m = (wq->group ? SQ_WQ_GROUP : 0) | (wq->state >= 0 ? SQ_WQ_STATE : 0) |
            (wq->after_id ? SQ_WQ_AFTER : 0);
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->wq[m];
    int rc = sqlite3_bind_int(st, 4, lim(wq->limit));
    if (wq->group) rc |= sqlite3_bind_text(st, 1, wq->group, -1, SQLITE_STATIC);
    if (wq->state >= 0)
        rc |= sqlite3_bind_text(st, 2, reg_wstate_name(wq->state), -1, SQLITE_STATIC);
    if (wq->after_id) rc |= sqlite3_bind_text(st, 3, wq->after_id, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        finish(q, st);
        return -1;
    }
    ROWS(q, st, store_worker, worker_row, cb, ctx);
}

int sq_get_worker(store *s, const char *worker_id, store_worker *out)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_WORKER_ONE];
    int rc = sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) worker_row(st, out);
    finish(q, st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int sq_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                     int (*cb)(void *, const store_session *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_SESSIONS];
    int rc = sqlite3_bind_text(st, 1, worker_id, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(st, 2, upper(before_opened_ms)) |
             sqlite3_bind_int(st, 3, lim(limit));
    if (rc != SQLITE_OK) {
        finish(q, st);
        return -1;
    }
    ROWS(q, st, store_session, session_row, cb, ctx);
}

/* The range reads (heartbeats, hourly rows, task buckets) share one shape:
 * ?1 a key (NULL: the statement has none), [?2, ?3) a time range, ?4 a
 * limit. Takes rmu and binds; NULL (rmu released) when binding failed. */
static sqlite3_stmt *range_stmt(sq_store *q, enum sq_rstmt k, const char *key, int64_t from_ms,
                                int64_t to_ms, int limit)
{
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[k];
    int rc = sqlite3_bind_int64(st, 2, from_ms) | sqlite3_bind_int64(st, 3, upper(to_ms)) |
             sqlite3_bind_int(st, 4, lim(limit));
    if (key) rc |= sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) return st;
    finish(q, st);
    return NULL;
}

int sq_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                       int (*cb)(void *, const store_hb *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st = range_stmt(q, SQR_HEARTBEATS, worker_id, from_ms, to_ms, limit);
    if (!st) return -1;
    ROWS(q, st, store_hb, hb_row, cb, ctx);
}

int sq_list_events(store *s, const store_event_query *eq, int (*cb)(void *, const store_event *),
                   void *ctx)
{
    sq_store *q = (sq_store *)s;
    bool asc = eq->after_id > 0;
    int m = (asc ? SQ_EQ_ASC : 0) | (eq->worker_id ? SQ_EQ_WORKER : 0) |
            (eq->group ? SQ_EQ_GROUP : 0) | (eq->type ? SQ_EQ_TYPE : 0) |
            (eq->from_ms > 0 ? SQ_EQ_FROM : 0) | (eq->to_ms > 0 ? SQ_EQ_TO : 0);
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->eq[m];
    int rc = asc ? sqlite3_bind_int64(st, 1, eq->after_id)
                 : sqlite3_bind_int64(st, 2, upper(eq->before_id));
    if (eq->worker_id) rc |= sqlite3_bind_text(st, 3, eq->worker_id, -1, SQLITE_STATIC);
    if (eq->group) rc |= sqlite3_bind_text(st, 4, eq->group, -1, SQLITE_STATIC);
    if (eq->type) rc |= sqlite3_bind_text(st, 5, eq->type, -1, SQLITE_STATIC);
    if (eq->from_ms > 0) rc |= sqlite3_bind_int64(st, 6, eq->from_ms);
    if (eq->to_ms > 0) rc |= sqlite3_bind_int64(st, 7, eq->to_ms);
    rc |= sqlite3_bind_int(st, 8, lim(eq->limit));
    if (rc != SQLITE_OK) {
        finish(q, st);
        return -1;
    }
    ROWS(q, st, store_event, event_row, cb, ctx);
}

static void run_row(sqlite3_stmt *st, store_run *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->started_ms = sqlite3_column_int64(st, 1);
    r->alive_ms = sqlite3_column_int64(st, 2);
    r->stopped_ms = sqlite3_column_int64(st, 3);
}

int sq_list_runs(store *s, int (*cb)(void *, const store_run *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_RUNS];
    ROWS(q, st, store_run, run_row, cb, ctx);
}

/* An average over the samples that carried the field; none: absent. */
static double avg_col(sqlite3_stmt *st, int sum, int n, bool *has)
{
    int64_t k = sqlite3_column_int64(st, n);
    *has = k > 0;
    return k > 0 ? sqlite3_column_double(st, sum) / (double)k : 0;
}

static void hourly_row(sqlite3_stmt *st, store_hourly *h)
{
    memset(h, 0, sizeof *h);
    h->hour_ms = sqlite3_column_int64(st, 0);
    h->count = sqlite3_column_int64(st, 1);
    h->cpu = avg_col(st, 2, 3, &h->has_cpu);
    h->mem = avg_col(st, 4, 5, &h->has_mem);
    h->mem_available_gb = avg_col(st, 6, 7, &h->has_mem_available);
    h->thermal_max = (uint8_t)sqlite3_column_int(st, 8); /* NULL reads 0 = none */
}

int sq_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *, const store_hourly *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st = range_stmt(q, SQR_HOURLY, worker_id, from_ms, to_ms, limit);
    if (!st) return -1;
    ROWS(q, st, store_hourly, hourly_row, cb, ctx);
}

static void task_row(sqlite3_stmt *st, tlat_row *t)
{
    memset(t, 0, sizeof *t);
    sq_col_text(st, 0, t->group, sizeof t->group);
    t->bucket_ms = sqlite3_column_int64(st, 1);
    t->count = (uint64_t)sqlite3_column_int64(st, 2);
    t->mean_ms = sqlite3_column_double(st, 3);
    t->min_ms = sqlite3_column_double(st, 4);
    t->max_ms = sqlite3_column_double(st, 5);
    t->p50_ms = sqlite3_column_double(st, 6);
    t->p90_ms = sqlite3_column_double(st, 7);
    t->p95_ms = sqlite3_column_double(st, 8);
    t->p99_ms = sqlite3_column_double(st, 9);
}

int sq_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                  int (*cb)(void *, const tlat_row *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st =
        range_stmt(q, group ? SQR_TASKS_GROUP : SQR_TASKS_ALL, group, from_ms, to_ms, limit);
    if (!st) return -1;
    ROWS(q, st, tlat_row, task_row, cb, ctx);
}
