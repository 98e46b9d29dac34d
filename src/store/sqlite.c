/*
 * sqlite: the SQLite backend of store.h (open, close, writes).
 *
 * One WAL database, two connections. The write connection belongs to the
 * writer thread: each store_apply batch is one BEGIN IMMEDIATE .. COMMIT, so
 * a heartbeat costs a few b-tree inserts and shares one WAL append with
 * thousands of others (synchronous=NORMAL: a power cut may lose the last
 * batches, never corrupts). The read connection (sqlite_read.c) serves the
 * HTTP threads behind a mutex; under WAL it reads the last committed snapshot
 * and never waits for the writer. Every statement is prepared once at open
 * and kept on the handle; values are always bound, never spliced into SQL.
 *
 * The schema and its migrations live in sqlite_schema.c, the write
 * connection's statements in sqlite_wsql.c.
 *
 * Enums are stored as their names (state 'alive', reason 'timeout') so the
 * database reads well in the sqlite3 shell and survives enum renumbering.
 *
 * Replays (a batch applied again after a commit whose outcome was unknown):
 * a session is keyed by (worker_id, opened_ms), so an open that finds its
 * session already there, or a close that finds it already closed, is skipped
 * with its events row, and the worker, group and session rows come out the
 * same. Heartbeats, state-change and alert events have no natural key: their
 * rows would be added again, which is why the writer marks each batch
 * (store_batch_mark) and asks before it retries one (store_batch_applied).
 */
#include "store/sqlite_int.h"
#include "store/store_sql.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_WAL_CHECKPOINT_PAGES 100000 /* WAL frames (4 KiB pages each) between checkpoints */
/* The write connection's page cache (sq_size_cache): while the fleet's hot
 * index pages fit, and once they cannot. */
#define SQ_WCACHE_HOT_KIB 32768     /* a page per busy worker, for up to ~8k workers */
#define SQ_WCACHE_COLD_KIB 4096     /* interior pages only: fleets past SQ_WCACHE_HOT_WORKERS */
#define SQ_WCACHE_HOT_WORKERS 16384 /* past this it holds under half the hot set */
#define SQ_WCACHE_HOT_SQL "PRAGMA cache_size=-" STORE_STR(SQ_WCACHE_HOT_KIB)
#define SQ_WCACHE_COLD_SQL "PRAGMA cache_size=-" STORE_STR(SQ_WCACHE_COLD_KIB)

/* Names come from hb.c, so the store and the wire spell them alike. */
const char *sq_thermal_name(int t)
{
    return t > 0 && t <= HB_THERMAL_CRITICAL ? hb_thermal_name(t) : NULL;
}

int sq_thermal_parse(const char *s)
{
    for (int t = 1; s && t <= HB_THERMAL_CRITICAL; t++)
        if (strcmp(s, hb_thermal_name(t)) == 0) return t;
    return HB_THERMAL_NONE;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    /* STATIC: every caller's string outlives the step that reads it. */
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    return s && *s ? bind_text(st, i, s) : sqlite3_bind_null(st, i);
}

static int bind_opt_f(sqlite3_stmt *st, int i, bool has, float v)
{
    return has ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

/* ---- writes ------------------------------------------------------------ */

/* The events row of e, as store_event_of maps it for every backend (and
 * the live stream): one mapping, so a row reads the same however it came. */
static int insert_event(sq_store *q, const reg_event *e)
{
    store_event r;
    store_event_of(e, q->base.node_id, &r);
    sqlite3_stmt *st = q->w[SQW_EVENT];
    int rc = sqlite3_bind_int64(st, 1, r.ts_ms);
    rc |= bind_text(st, 2, r.type);
    rc |= bind_text_or_null(st, 3, r.worker_id);
    rc |= bind_text_or_null(st, 4, r.group);
    rc |= bind_text_or_null(st, 5, r.instance);
    rc |= bind_text_or_null(st, 6, r.state);
    rc |= bind_text_or_null(st, 7, r.prev_state);
    rc |= bind_text_or_null(st, 8, r.reason ? reg_reason_name(r.reason) : NULL);
    rc |= sq_bind_opt_i64(st, 9, r.has_exit_code, r.exit_code);
    rc |= sq_bind_opt_i64(st, 10, r.opened_ms != 0, r.opened_ms);
    rc |= bind_text(st, 11, r.node_id);
    rc |= bind_text_or_null(st, 12, r.detail);
    return rc || sq_exec(st) ? -1 : 0;
}

static int event_open(sq_store *q, const reg_event *e)
{
    sqlite3_stmt *st = q->w[SQW_SESSION_OPEN];
    int rc = bind_text(st, 1, e->worker_id);
    rc |= sqlite3_bind_int64(st, 2, e->opened_ms);
    rc |= bind_text(st, 3, e->group);
    rc |= bind_text(st, 4, e->instance);
    rc |= bind_text(st, 5, q->base.node_id);
    rc |= sqlite3_bind_int(st, 6, e->ttl_s);
    if (rc || sq_exec(st)) return -1;
    if (sqlite3_changes(q->wdb) == 0) return 0; /* replay: recorded, event and all */

    st = q->w[SQW_WORKER_OPEN];
    rc = bind_text(st, 1, e->worker_id);
    rc |= bind_text(st, 2, e->group);
    rc |= bind_text(st, 3, e->instance);
    rc |= sqlite3_bind_int64(st, 4, e->opened_ms);
    rc |= sqlite3_bind_int(st, 5, e->ttl_s);
    if (rc || sq_exec(st)) return -1;
    return insert_event(q, e);
}

static int event_close(sq_store *q, const reg_event *e)
{
    sqlite3_stmt *st = q->w[SQW_SESSION_CLOSE];
    int rc = bind_text(st, 1, e->worker_id);
    rc |= sqlite3_bind_int64(st, 2, e->opened_ms);
    rc |= sqlite3_bind_int64(st, 3, e->at_ms);
    rc |= bind_text_or_null(st, 4, reg_reason_name(e->reason));
    rc |= sq_bind_opt_i64(st, 5, e->has_exit_code, e->exit_code);
    rc |= sqlite3_bind_int64(st, 6, e->last_hb_ms);
    rc |= sq_bind_opt_i64(st, 7, e->has_requests, e->requests);
    rc |= sq_bind_opt_i64(st, 8, e->has_tokens, e->tokens);
    if (rc || sq_exec(st)) return -1;
    if (sqlite3_changes(q->wdb) == 0) {
        /* Already closed means a replay. Missing altogether (its open was
         * never stored) still deserves its line in the history. */
        st = q->w[SQW_SESSION_EXISTS];
        rc = bind_text(st, 1, e->worker_id);
        rc |= sqlite3_bind_int64(st, 2, e->opened_ms);
        if (rc) return -1;
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) return 0;
        if (rc != SQLITE_DONE) return -1;
    }
    return insert_event(q, e);
}

static int event_worker_state(sq_store *q, const reg_event *e)
{
    const char *state = reg_wstate_name(e->state);
    sqlite3_stmt *st = q->w[SQW_WORKER_STATE];
    int rc = bind_text(st, 1, e->worker_id);
    rc |= bind_text(st, 2, e->group);
    rc |= bind_text(st, 3, e->instance);
    rc |= bind_text(st, 4, state);
    rc |= sqlite3_bind_int64(st, 5, e->at_ms);
    rc |= sqlite3_bind_int(st, 6, e->ttl_s);
    if (rc || sq_exec(st)) return -1;
    return insert_event(q, e);
}

static int event_group_state(sq_store *q, const reg_event *e)
{
    const char *state = reg_gstate_name(e->state);
    sqlite3_stmt *st = q->w[SQW_GROUP_STATE];
    int rc = bind_text(st, 1, e->group);
    rc |= bind_text(st, 2, state);
    rc |= sqlite3_bind_int64(st, 3, e->at_ms);
    if (rc || sq_exec(st)) return -1;
    return insert_event(q, e);
}

static int event_forget(sq_store *q, const reg_event *e)
{
    static const enum sq_wstmt del[] = {SQW_FORGET_TOMB, SQW_FORGET_HBS,      SQW_FORGET_HOURLY,
                                        SQW_FORGET_REL,  SQW_FORGET_SESSIONS, SQW_FORGET_WORKER};
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *st = q->w[del[i]];
        if (bind_text(st, 1, e->worker_id) || sq_exec(st)) return -1;
    }
    return insert_event(q, e);
}

/* The alert engine's event: only its events row (store_event_of puts its
 * rule, severity and type in detail, not in the session columns). */
static int event_alert(sq_store *q, const reg_event *e)
{
    return insert_event(q, e);
}

/* True when this batch forgot the worker: its heartbeats queued before the
 * forget must not bring rows back for a worker that no longer exists. */
static int insert_hb(sq_store *q, const store_hb *h)
{
    uint32_t has = h->has;
    sqlite3_stmt *st = q->w[SQW_HB_INSERT];
    int rc = bind_text(st, 1, h->worker_id);
    rc |= sqlite3_bind_int64(st, 2, h->ts_ms);
    rc |= sq_bind_opt_i64(st, 3, has & HB_HAS_SEQ, h->seq);
    rc |= (has & HB_HAS_STATUS) ? bind_text(st, 4, h->status) : sqlite3_bind_null(st, 4);
    rc |= bind_opt_f(st, 5, has & HB_HAS_CPU, h->cpu);
    rc |= bind_opt_f(st, 6, has & HB_HAS_MEM, h->mem);
    rc |= bind_opt_f(st, 7, has & HB_HAS_MEM_AVAIL, h->mem_available_gb);
    rc |= bind_opt_f(st, 8, has & HB_HAS_GPU_MEM, h->gpu_mem_active_gb);
    rc |= bind_text_or_null(st, 9, (has & HB_HAS_THERMAL) ? sq_thermal_name(h->thermal) : NULL);
    rc |= sq_bind_opt_i64(st, 10, has & HB_HAS_BACKLOG, h->backlog);
    rc |= sq_bind_opt_i64(st, 11, has & HB_HAS_CAPACITY, h->capacity);
    rc |= sq_bind_opt_i64(st, 12, has & HB_HAS_IN_FLIGHT, h->in_flight);
    rc |= sq_bind_opt_i64(st, 13, has & HB_HAS_REQUESTS, h->requests);
    rc |= sq_bind_opt_i64(st, 14, has & HB_HAS_TOKENS, h->tokens);
    rc |= sq_bind_opt_i64(st, 15, has & HB_HAS_CPU_TICKS, h->cpu_ticks);
    return rc || sq_exec(st) ? -1 : 0;
}

/* 1: worker_id has no row (forgotten), 0: it has, -1: the lookup failed. */
static int sq_worker_gone(sq_store *q, const char *worker_id)
{
    sqlite3_stmt *st = q->w[SQW_WORKER_EXISTS];
    if (bind_text(st, 1, worker_id) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* Heartbeats go in grouped by worker (store_hb_sorted): rowids still follow
 * arrival within a worker. Returns -2 when out of memory. */
static int apply_hbs(sq_store *q, const store_hb *hbs, size_t nhb, const reg_event *evs, size_t nev)
{
    const store_hb **v = store_hb_sorted(hbs, nhb);
    if (!v) return -2;
    int rc = 0;
    bool forgets = store_forgets_any(evs, nev);
    for (size_t i = 0, j; i < nhb && rc == 0; i = j) {
        int64_t seen;
        int32_t ttl;
        j = store_hb_run(v, nhb, i, &seen, &ttl);
        sqlite3_stmt *st = q->w[SQW_HB_SEEN];
        rc = bind_text(st, 1, v[i]->worker_id);
        rc |= sqlite3_bind_int64(st, 2, seen);
        rc |= sqlite3_bind_int(st, 3, ttl);
        if (rc || sq_exec(st)) {
            rc = -1;
            break;
        }
        /* No row changed: fresh enough, or gone. Only a worker this batch
         * forgot can be gone, and then its samples stay out. */
        if (forgets && sqlite3_changes(q->wdb) == 0 &&
            store_forgotten_in(evs, nev, v[i]->worker_id)) {
            int gone = sq_worker_gone(q, v[i]->worker_id);
            if (gone < 0) {
                rc = -1;
                break;
            }
            if (gone) continue;
        }
        for (size_t k = i; k < j && rc == 0; k++)
            rc = insert_hb(q, v[k]);
    }
    free((void *)v);
    return rc;
}

/* How each event kind is written (and named in errors). */
static const struct {
    const char *what;
    int (*apply)(sq_store *q, const reg_event *e);
} event_ops[] = {
    [REG_EV_SESSION_OPEN] = {"session open", event_open},
    [REG_EV_SESSION_CLOSE] = {"session close", event_close},
    [REG_EV_WORKER_STATE] = {"worker state", event_worker_state},
    [REG_EV_GROUP_STATE] = {"group state", event_group_state},
    [REG_EV_WORKER_FORGET] = {"worker forget", event_forget},
    [REG_EV_ALERT] = {"alert", event_alert},
};

/* The writer's hot set is about a page per worker: each worker's newest
 * entries in the (worker_id, ts_ms) index sit on a page of their own, and
 * its workers row is updated once per batch. SQ_WCACHE_HOT_KIB holds that
 * for ~8k workers and most of it up to SQ_WCACHE_HOT_WORKERS (store_bench,
 * 10,000 workers, batches of 4,096: 49-50k rows/s at 32 MiB, 44-46k at
 * 4 MiB; 2,000 workers, batches of 32,768: 184-190k vs 151-158k). Past
 * that the big cache still buys ~10 % (100,000 workers, batches of 4,096:
 * 47-48k vs 43-44k rows/s; of 32,768: 117-120k vs 111-117k), which at that
 * fleet's usual rate (10,000 rows/s for a 10 s interval) is ~2 % of a core,
 * for 28 MiB: 280 B a worker at 100,000 workers against the 256 B budget.
 * A quarter's hysteresis keeps a fleet at the edge from resizing it back
 * and forth. Shrinking frees pages to malloc, and malloc_trim hands them to
 * the kernel. Caller holds wmu. */
static void sq_size_cache(sq_store *q)
{
    size_t n = q->base.fleet;
    int want = q->wcache_kib;
    if (n > SQ_WCACHE_HOT_WORKERS)
        want = SQ_WCACHE_COLD_KIB;
    else if (n < SQ_WCACHE_HOT_WORKERS / 4 * 3)
        want = SQ_WCACHE_HOT_KIB;
    if (want == q->wcache_kib) return;
    const char *sql = want == SQ_WCACHE_COLD_KIB ? SQ_WCACHE_COLD_SQL : SQ_WCACHE_HOT_SQL;
    if (sqlite3_exec(q->wdb, sql, NULL, NULL, NULL) != SQLITE_OK) return; /* next batch again */
    if (want < q->wcache_kib) {
        sqlite3_db_release_memory(q->wdb);
        malloc_trim(0);
    }
    q->wcache_kib = want;
}

static int sq_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                    char *err, size_t errlen)
{
    sq_store *q = (sq_store *)s;
    const char *what = "begin";
    int rc = 0;
    pthread_mutex_lock(&q->wmu);
    sq_size_cache(q);
    if (sq_exec(q->w[SQW_BEGIN]) != 0) goto fail;
    for (size_t i = 0; i < nev; i++) {
        const reg_event *e = &evs[i];
        if (e->kind < REG_EV_SESSION_OPEN || e->kind > REG_EV_ALERT) {
            err_set(err, errlen, "store_apply: unknown event kind %d", e->kind);
            goto rollback;
        }
        what = event_ops[e->kind].what;
        rc = event_ops[e->kind].apply(q, e);
        if (rc != 0) goto fail;
    }
    what = "heartbeat";
    rc = nhb ? apply_hbs(q, hbs, nhb, evs, nev) : 0;
    if (rc == -2) {
        err_set(err, errlen, "store_apply: out of memory");
        goto rollback;
    }
    if (rc != 0) goto fail;
    if (q->base.mark_run > 0) {
        what = "batch mark";
        sqlite3_stmt *st = q->w[SQW_BATCH_MARK];
        if ((sqlite3_bind_int64(st, 1, q->base.mark_run) |
             sqlite3_bind_int64(st, 2, q->base.mark_seq)) ||
            sq_exec(st))
            goto fail;
    }
    what = "commit";
    if (sq_exec(q->w[SQW_COMMIT]) != 0) goto fail;
    pthread_mutex_unlock(&q->wmu);
    return 0;

fail:
    /* Take the message before ROLLBACK replaces it. */
    err_set(err, errlen, "store_apply: %s: %s", what, sqlite3_errmsg(q->wdb));
rollback:
    if (!sqlite3_get_autocommit(q->wdb)) sq_exec(q->w[SQW_ROLLBACK]);
    pthread_mutex_unlock(&q->wmu);
    return -1;
}

/* On the write connection, which sees its own commits at once. */
static int sq_batch_applied(store *s, int64_t run_id, int64_t seq)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st = q->w[SQW_BATCH_APPLIED];
    pthread_mutex_lock(&q->wmu);
    int rc = sqlite3_bind_int64(st, 1, run_id) ? -1 : 0;
    if (rc == 0) {
        int step = sqlite3_step(st);
        rc = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) >= seq : step == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&q->wmu);
    return rc;
}

static int sq_run_begin(store *s, int64_t now_ms, int64_t *run_id)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st = q->w[SQW_RUN_BEGIN];
    pthread_mutex_lock(&q->wmu);
    int rc = bind_text(st, 1, q->base.node_id) | sqlite3_bind_int64(st, 2, now_ms);
    rc = rc || sq_exec(st) ? -1 : 0;
    if (rc == 0) *run_id = sqlite3_last_insert_rowid(q->wdb);
    pthread_mutex_unlock(&q->wmu);
    return rc;
}

/* Shared by run_alive and run_end: -1 also when the run does not exist, which
 * is always a caller bug worth hearing about. */
static int run_update(sq_store *q, enum sq_wstmt k, int64_t run_id, int64_t now_ms)
{
    sqlite3_stmt *st = q->w[k];
    pthread_mutex_lock(&q->wmu);
    int rc = sqlite3_bind_int64(st, 1, run_id) | sqlite3_bind_int64(st, 2, now_ms);
    rc = rc || sq_exec(st) || sqlite3_changes(q->wdb) != 1 ? -1 : 0;
    pthread_mutex_unlock(&q->wmu);
    return rc;
}

static int sq_run_alive(store *s, int64_t run_id, int64_t now_ms)
{
    return run_update((sq_store *)s, SQW_RUN_ALIVE, run_id, now_ms);
}

static int sq_run_end(store *s, int64_t run_id, int64_t now_ms)
{
    return run_update((sq_store *)s, SQW_RUN_END, run_id, now_ms);
}

static int64_t sq_prune(store *s, const char *table, int64_t before_ms, int limit)
{
    sq_store *q = (sq_store *)s;
    static const struct {
        const char *table;
        enum sq_wstmt k;
    } by_table[] = {
        {"heartbeats", SQW_PRUNE_HBS},           {"events", SQW_PRUNE_EVENTS},
        {"heartbeats_hourly", SQW_PRUNE_HOURLY}, {"sessions", SQW_PRUNE_SESSIONS},
        {"task_latency", SQW_PRUNE_TASKS},       {"fleet_metrics", SQW_PRUNE_METRICS},
        {"hub_summaries", SQW_PRUNE_HUB},
    };
    int k = -1;
    for (size_t i = 0; i < sizeof by_table / sizeof by_table[0]; i++)
        if (strcmp(table, by_table[i].table) == 0) k = by_table[i].k;
    if (k < 0) return -1;
    if (limit <= 0) return 0;
    sqlite3_stmt *st = q->w[k];
    pthread_mutex_lock(&q->wmu);
    int rc = sqlite3_bind_int64(st, 1, before_ms) | sqlite3_bind_int(st, 2, limit);
    int64_t n = rc || sq_exec(st) ? -1 : sqlite3_changes(q->wdb);
    pthread_mutex_unlock(&q->wmu);
    return n;
}

/* ---- open, close ---------------------------------------------------------- */

static int first_col(void *ctx, int n, char **vals, char **names)
{
    (void)names;
    if (n > 0 && vals[0]) snprintf(ctx, 16, "%s", vals[0]);
    return 0;
}

static int open_conn(const char *path, int flags, sqlite3 **db, char *err, size_t errlen)
{
    /* NOMUTEX: each connection is only ever used under our own mutex. */
    if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        err_set(err, errlen, "sqlite: open %s: %s", path,
                *db ? sqlite3_errmsg(*db) : "out of memory");
        return -1;
    }
    /* Short: the writer retries a failed batch with its own backoff and must
     * keep turning meanwhile (readyz watches it), so a lock held elsewhere
     * should fail a batch soon rather than park the writer inside SQLite. */
    sqlite3_busy_timeout(*db, 1000);
    sqlite3_extended_result_codes(*db, 1);
    return 0;
}

static void sq_close(store *s)
{
    sq_store *q = (sq_store *)s;
    sq_read_finalize(q);
    sq_rel_finalize(q);
    for (int i = 0; i < SQW__COUNT; i++)
        sqlite3_finalize(q->w[i]);
    sqlite3_close(q->adb);
    sqlite3_close(q->rdb);
    sqlite3_close(q->wdb);
    if (q->wmu_ok) pthread_mutex_destroy(&q->wmu);
    if (q->rmu_ok) pthread_mutex_destroy(&q->rmu);
    if (q->amu_ok) pthread_mutex_destroy(&q->amu);
    free(q);
}

static const store_backend sqlite_backend = {
    .name = "sqlite",
    .close = sq_close,
    .ping = sq_ping,
    .apply = sq_apply,
    .run_begin = sq_run_begin,
    .run_alive = sq_run_alive,
    .batch_applied = sq_batch_applied,
    .run_end = sq_run_end,
    .last_run = sq_last_run,
    .prune = sq_prune,
    .load_groups = sq_load_groups,
    .load_workers = sq_load_workers,
    .list_workers = sq_list_workers,
    .get_worker = sq_get_worker,
    .list_sessions = sq_list_sessions,
    .list_heartbeats = sq_list_heartbeats,
    .list_events = sq_list_events,
    .rel_scan = sq_rel_scan,
    .rel_put = sq_rel_put,
    .rel_load = sq_rel_load,
    .hourly_rollup = sq_hourly_rollup,
    .list_hourly = sq_list_hourly,
    .tasks_put = sq_tasks_put,
    .list_tasks = sq_list_tasks,
    .list_runs = sq_list_runs,
    .import_sessions = sq_import_sessions,
    .put_metrics = sq_put_metrics,
    .metric_names = sq_metric_names,
    .metric_series = sq_metric_series,
    .hub_put = sq_hub_put,
    .hub_list = sq_hub_list,
    .hub_latest = sq_hub_latest,
};

store *store_sqlite_open(const char *path, const char *node_id, char *err, size_t errlen)
{
    sq_store *q = calloc(1, sizeof *q);
    if (!q) {
        err_set(err, errlen, "sqlite: out of memory");
        return NULL;
    }
    q->base.be = &sqlite_backend;
    snprintf(q->base.node_id, sizeof q->base.node_id, "%s", node_id ? node_id : "");
    q->wmu_ok = pthread_mutex_init(&q->wmu, NULL) == 0;
    q->rmu_ok = pthread_mutex_init(&q->rmu, NULL) == 0;
    q->amu_ok = pthread_mutex_init(&q->amu, NULL) == 0;
    if (!q->wmu_ok || !q->rmu_ok || !q->amu_ok) {
        err_set(err, errlen, "sqlite: mutex init failed");
        goto fail;
    }
    if (open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &q->wdb, err, errlen) != 0)
        goto fail;
    char mode[16] = "";
    if (sqlite3_exec(q->wdb, "PRAGMA journal_mode=WAL", first_col, mode, NULL) != SQLITE_OK ||
        strcmp(mode, "wal") != 0) {
        err_set(err, errlen, "sqlite: %s: cannot use WAL mode: %s", path,
                *mode ? mode : sqlite3_errmsg(q->wdb));
        goto fail;
    }
    /* The page cache starts at SQ_WCACHE_HOT_KIB and follows the fleet
     * (sq_size_cache); journal_size_limit stops one burst from leaving
     * a huge WAL behind. Heartbeats land all over the (worker_id, ts_ms)
     * index, so a batch dirties about a page per worker (a full batch of
     * 8192 from a shuffled fleet: ~4000 pages, 16 MiB of WAL). Checkpointing
     * every SQ_WAL_CHECKPOINT_PAGES copies back once a page that many
     * batches touched, and pays the checkpoint's fsyncs that much less often
     * (measured, issue 5: at 10000 pages a checkpoint came every 2-3 full
     * batches; 100000 took the writer from ~108k to ~135k rows/s). The WAL
     * then grows to ~400 MiB under full load before a checkpoint (which
     * the writer runs, in the commit that crosses the mark: that one batch
     * takes longer), and journal_size_limit shrinks it back after. */
    if (sqlite3_exec(q->wdb,
                     "PRAGMA synchronous=NORMAL; " SQ_WCACHE_HOT_SQL
                     "; PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864;"
                     " PRAGMA wal_autocheckpoint=" STORE_STR(SQ_WAL_CHECKPOINT_PAGES),
                     NULL, NULL, NULL) != SQLITE_OK) {
        err_set(err, errlen, "sqlite: %s: %s", path, sqlite3_errmsg(q->wdb));
        goto fail;
    }
    q->wcache_kib = SQ_WCACHE_HOT_KIB;
    if (sq_migrate(q->wdb, err, errlen) != 0) goto fail;
    for (int i = 0; i < SQW__COUNT; i++) {
        if (sqlite3_prepare_v3(q->wdb, sq_wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->w[i], NULL) !=
            SQLITE_OK) {
            err_set(err, errlen, "sqlite: prepare: %s", sqlite3_errmsg(q->wdb));
            goto fail;
        }
    }
    /* query_only: the read side can never write, whatever a bug asks of it. */
    if (open_conn(path, SQLITE_OPEN_READWRITE, &q->rdb, err, errlen) != 0) goto fail;
    if (sqlite3_exec(q->rdb, "PRAGMA query_only=1; PRAGMA cache_size=-4096", NULL, NULL, NULL) !=
        SQLITE_OK) {
        err_set(err, errlen, "sqlite: %s: %s", path, sqlite3_errmsg(q->rdb));
        goto fail;
    }
    if (sq_read_prepare(q, err, errlen) != 0) goto fail;
    /* Analytics: its writes are short transactions that may wait behind the
     * writer's batches, so it can afford to wait longer for the lock. */
    if (open_conn(path, SQLITE_OPEN_READWRITE, &q->adb, err, errlen) != 0) goto fail;
    sqlite3_busy_timeout(q->adb, SQ_ANALYTICS_BUSY_MS);
    if (sqlite3_exec(
            q->adb,
            "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY;"
            " PRAGMA mmap_size=1073741824",
            NULL, NULL, NULL) != SQLITE_OK) {
        err_set(err, errlen, "sqlite: %s: %s", path, sqlite3_errmsg(q->adb));
        goto fail;
    }
    if (sq_rel_prepare(q, err, errlen) != 0) goto fail;
    return &q->base;
fail:
    sq_close(&q->base);
    return NULL;
}
