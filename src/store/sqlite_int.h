/*
 * sqlite_int: what sqlite.c (open, writes), sqlite_schema.c (migrations) and
 * sqlite_read.c (reads) share. Private to the SQLite backend.
 *
 * The handle owns two connections and every prepared statement. The write
 * side is for the writer thread; `wmu` only turns a misuse (a second writing
 * thread) into waiting instead of corrupting a statement mid-step. The read
 * side is shared by the HTTP threads and serialised by `rmu`, which is held
 * while row callbacks run: a callback must not call back into the store.
 */
#ifndef VIGIL_STORE_SQLITE_INT_H
#define VIGIL_STORE_SQLITE_INT_H

#include "store/store.h"
#include "store/store_sql.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

/* The worker row `w`'s last seen, exactly (STORE_SEEN_SLACK_MS). */
#define SQ_SEEN_W "max(w.last_seen_ms, coalesce(" STORE_NEWEST_HB("w") ", 0))"
#define SQ_SLACK STORE_STR(STORE_SEEN_SLACK_MS) /* as SQL text */

#define SQ_ANALYTICS_BUSY_MS 10000 /* rollup/import wait for SQLite's write lock */

enum sq_wstmt {
    SQW_BEGIN,
    SQW_COMMIT,
    SQW_ROLLBACK,
    SQW_SESSION_OPEN,
    SQW_WORKER_OPEN,
    SQW_SESSION_CLOSE,
    SQW_SESSION_EXISTS,
    SQW_WORKER_STATE,
    SQW_GROUP_STATE,
    SQW_FORGET_TOMB,
    SQW_FORGET_HBS,
    SQW_FORGET_HOURLY,
    SQW_FORGET_REL,
    SQW_FORGET_SESSIONS,
    SQW_FORGET_WORKER,
    SQW_EVENT,
    SQW_HB_INSERT,
    SQW_HB_SEEN,
    SQW_WORKER_EXISTS,
    SQW_BATCH_MARK,
    SQW_BATCH_APPLIED,
    SQW_RUN_BEGIN,
    SQW_RUN_ALIVE,
    SQW_RUN_END,
    SQW_PRUNE_HBS,
    SQW_PRUNE_EVENTS,
    SQW_PRUNE_HOURLY,
    SQW_PRUNE_SESSIONS,
    SQW_PRUNE_TASKS,
    SQW_PRUNE_METRICS,
    SQW_PRUNE_HUB,
    SQW__COUNT
};

/* Their SQL (sqlite_wsql.c), by enum sq_wstmt. */
extern const char *const sq_wsql[SQW__COUNT];

enum sq_rstmt {
    SQR_PING,
    SQR_GROUPS,
    SQR_WORKERS_ALL,
    SQR_WORKER_ONE,
    SQR_SESSIONS,
    SQR_HEARTBEATS,
    SQR_LAST_RUN,
    SQR_RUNS,
    SQR_HOURLY,
    SQR_TASKS_ALL,
    SQR_TASKS_GROUP,
    SQR_METRIC_NAMES,
    SQR_METRIC_SERIES,
    SQR_HUB_ALL,
    SQR_HUB_NODE,
    SQR_HUB_LATEST,
    SQR__COUNT
};

/* Worker list variants: one statement per filter combination, so each uses
 * its own index instead of a catch-all "(? IS NULL OR col = ?)" that defeats
 * the planner. */
enum { SQ_WQ_GROUP = 1, SQ_WQ_STATE = 2, SQ_WQ_AFTER = 4, SQ_WQ__N = 8 };

/* Event list variants, likewise: direction x five optional filters. */
enum {
    SQ_EQ_ASC = 1,
    SQ_EQ_WORKER = 2,
    SQ_EQ_GROUP = 4,
    SQ_EQ_TYPE = 8,
    SQ_EQ_FROM = 16,
    SQ_EQ_TO = 32,
    SQ_EQ__N = 64
};

/* Analytics connection statements (sqlite_rel.c). */
enum sq_astmt {
    SQA_BEGIN,
    SQA_COMMIT,
    SQA_ROLLBACK,
    SQA_WORKERS,
    SQA_SESSIONS,
    SQA_REL_PUT,
    SQA_REL_LOAD,
    SQA_STATE_GET,
    SQA_STATE_SET,
    SQA_MAX_ROWID,
    SQA_HOURLY_FOLD,
    SQA_TASK_GET,
    SQA_TASK_PUT,
    SQA_IMP_FIND,
    SQA_IMP_INSERT,
    SQA_IMP_WORKER,
    SQA_METRIC_PUT,
    SQA_HUB_PUT,
    SQA__COUNT
};

typedef struct sq_store {
    store base; /* first: a store * is an sq_store * */
    sqlite3 *wdb, *rdb, *adb;
    pthread_mutex_t wmu, rmu, amu;
    bool wmu_ok, rmu_ok, amu_ok;
    sqlite3_stmt *w[SQW__COUNT];
    sqlite3_stmt *r[SQR__COUNT];
    sqlite3_stmt *a[SQA__COUNT];
    sqlite3_stmt *wq[SQ_WQ__N];
    sqlite3_stmt *eq[SQ_EQ__N];
    int wcache_kib; /* the write connection's cache_size now (sq_size_cache) */
} sq_store;

/* ---- helpers every part of the backend uses ----------------------------- */

/* Run a statement for its effect and reset it at once, so it holds no read
 * lock between batches. Write statements bind every parameter each time, so
 * clear_bindings would only cost. 0, or -1. */
static inline int sq_exec(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Column i as text into dst (n bytes, truncated, NUL-terminated; NULL reads ""). */
static inline void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t len = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
    if (len > n - 1) len = n - 1;
    if (len) memcpy(dst, t, len);
    dst[len] = '\0';
}

/* Enum names back to values; NULL, "" or a name this build does not know
 * (a newer vigild wrote it) read as the enum's zero. */
static inline int sq_col_enum(sqlite3_stmt *st, int i, int (*parse)(const char *))
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    int v = t && *t ? parse(t) : 0;
    return v < 0 ? 0 : v;
}

/* An integer, or NULL when it is not there. */
static inline int sq_bind_opt_i64(sqlite3_stmt *st, int i, bool has, int64_t v)
{
    return has ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* sqlite.c */
const char *sq_thermal_name(int thermal); /* NULL for none / out of range */
int sq_thermal_parse(const char *s);      /* HB_THERMAL_NONE when unknown */

/* sqlite_schema.c: create or migrate the schema on the write connection;
 * 0, or -1 with err. */
int sq_migrate(sqlite3 *db, char *err, size_t errlen);

/* sqlite_read.c: prepare every read statement on q->rdb (0, or -1 with err);
 * finalize them. */
int sq_read_prepare(sq_store *q, char *err, size_t errlen);
void sq_read_finalize(sq_store *q);

int sq_ping(store *s);
int sq_last_run(store *s, int64_t before_id, store_run *out);
int sq_load_groups(store *s, int (*cb)(void *, const store_group *), void *ctx);
int sq_load_workers(store *s, int (*cb)(void *, const store_worker *), void *ctx);
int sq_list_workers(store *s, const store_worker_query *q, int (*cb)(void *, const store_worker *),
                    void *ctx);
int sq_get_worker(store *s, const char *worker_id, store_worker *out);
int sq_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                     int (*cb)(void *, const store_session *), void *ctx);
int sq_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                       int (*cb)(void *, const store_hb *), void *ctx);
int sq_list_events(store *s, const store_event_query *q, int (*cb)(void *, const store_event *),
                   void *ctx);
int sq_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *, const store_hourly *), void *ctx);
int sq_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                  int (*cb)(void *, const tlat_row *), void *ctx);
int sq_list_runs(store *s, int (*cb)(void *, const store_run *), void *ctx);

/* sqlite_rel.c: the analytics connection (rollups, imports). Open prepares
 * its statements on q->adb (opened by the caller); 0 or -1 with err. */
int sq_rel_prepare(sq_store *q, char *err, size_t errlen);
void sq_rel_finalize(sq_store *q);
int sq_rel_scan(store *s, int64_t from_ms, int (*cb)(void *, const store_rel_worker *), void *ctx);
int sq_rel_put(store *s, const store_rel_row *rows, size_t n);
int sq_rel_load(store *s, int (*cb)(void *, const store_rel_row *), void *ctx);
int64_t sq_hourly_rollup(store *s, int64_t max_rows);
int sq_tasks_put(store *s, const tlat_row *rows, size_t n);
int sq_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                       size_t *skipped, size_t *bad, char *err, size_t errlen);
/* A transaction on the analytics connection: sq_abegin takes amu and
 * begins (0, or -1 with amu released); sq_aend commits when rc is 0, else
 * rolls back, and releases amu (0 or -1). */
int sq_abegin(sq_store *q);
int sq_aend(sq_store *q, int rc);

/* sqlite_metrics.c: the fleet series (store_put_metrics on the analytics
 * connection, reads on the readers'). */
int sq_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen);
int sq_metric_names(store *s, const char *lo, const char *hi, int (*cb)(void *, const char *),
                    void *ctx);
int sq_metric_series(store *s, const char *name, int64_t from_ms, int64_t to_ms,
                     int (*cb)(void *, const store_metric *), void *ctx);

/* sqlite_hub.c: a hub's nodes' summaries (writes on the analytics
 * connection, reads on the readers'). */
int sq_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen);
int sq_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                int (*cb)(void *, const store_hub_row *), void *ctx);
int sq_hub_latest(store *s, int (*cb)(void *, const store_hub_row *), void *ctx);

#endif
