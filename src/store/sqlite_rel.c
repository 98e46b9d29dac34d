/*
 * sqlite_rel: the analytics half of the SQLite backend: the reliability
 * rollup's scan and upserts, the hourly fold of raw heartbeats, task latency
 * buckets, and history imports.
 *
 * They run on a third connection (q->adb, behind q->amu), so the rollup's
 * second-long scan of every worker's sessions never holds the HTTP readers'
 * mutex, and its writes queue behind the writer's short batches on SQLite's
 * own lock rather than inside the writer thread. Each write here is a short
 * transaction of its own (the caller chunks), so the writer, whose busy
 * timeout is 1 s, never waits long for one.
 *
 * The hourly fold is exactly once: it reads raw rows past a watermark (the
 * last rowid folded, in rollup_state) and adds their sums into the hours,
 * and moves the watermark in the same transaction. Rowids are unique for
 * ever because the newest raw row is never deleted (see store.h).
 */
#include "store/sqlite_int.h"
#include "store/store_sql.h"

#include "core/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reason-count columns, in reg_reason order from REG_R_CLEAN_SHUTDOWN. */

static const char *const asql[SQA__COUNT] = {
    [SQA_BEGIN] = "BEGIN IMMEDIATE",
    [SQA_COMMIT] = "COMMIT",
    [SQA_ROLLBACK] = "ROLLBACK",
    [SQA_WORKERS] = "SELECT worker_id, group_name, first_seen_ms FROM workers ORDER BY worker_id",
    /* INDEXED BY: the plan must stay the covering walk in worker order; if
     * the index were ever missing this fails loudly instead of sorting. */
    [SQA_SESSIONS] = "SELECT worker_id, opened_ms, closed_ms, last_hb_ms, reason,"
                     " node_id = '" STORE_IMPORT_NODE "' FROM sessions INDEXED BY sessions_rel"
                     " WHERE closed_ms IS NULL OR closed_ms >= ?1 ORDER BY worker_id, opened_ms",
    [SQA_REL_PUT] =
        "INSERT OR REPLACE INTO reliability(" STORE_REL_COLS ") SELECT ?1, ?2, ?3, ?4, ?5,"
        " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
        " ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28"
        " WHERE EXISTS (SELECT 1 FROM workers WHERE worker_id = ?1)",
    [SQA_REL_LOAD] = "SELECT " STORE_REL_COLS " FROM reliability",
    [SQA_STATE_GET] = "SELECT value FROM rollup_state WHERE name = ?1",
    [SQA_STATE_SET] = "INSERT INTO rollup_state(name, value) VALUES(?1, ?2)"
                      " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
    [SQA_MAX_ROWID] = "SELECT coalesce(max(rowid), 0) FROM heartbeats",
    /* Tombstones (worker_id '') are skipped. max() of two values is NULL
     * when either is, hence the coalesce. */
    [SQA_HOURLY_FOLD] =
        "INSERT INTO heartbeats_hourly(worker_id, hour_ms, n, cpu_sum, cpu_n, mem_sum, mem_n,"
        " mema_sum, mema_n, thermal_max)"
        " SELECT worker_id, (ts_ms / 3600000) * 3600000, count(*), total(cpu), count(cpu),"
        " total(mem), count(mem), total(mem_available_gb), count(mem_available_gb),"
        " max(CASE thermal WHEN 'nominal' THEN 1 WHEN 'fair' THEN 2 WHEN 'serious' THEN 3"
        "  WHEN 'critical' THEN 4 END)"
        " FROM heartbeats WHERE rowid > ?1 AND rowid <= ?2 AND worker_id <> ''"
        " GROUP BY 1, 2"
        " ON CONFLICT(worker_id, hour_ms) DO UPDATE SET n = n + excluded.n,"
        " cpu_sum = cpu_sum + excluded.cpu_sum, cpu_n = cpu_n + excluded.cpu_n,"
        " mem_sum = mem_sum + excluded.mem_sum, mem_n = mem_n + excluded.mem_n,"
        " mema_sum = mema_sum + excluded.mema_sum, mema_n = mema_n + excluded.mema_n,"
        " thermal_max = coalesce(max(thermal_max, excluded.thermal_max), thermal_max,"
        "  excluded.thermal_max)",
    [SQA_TASK_GET] = "SELECT count, mean_ms, min_ms, max_ms, p50_ms, p90_ms, p95_ms, p99_ms"
                     " FROM task_latency"
                     " WHERE group_name = ?1 AND bucket_ms = ?2",
    [SQA_TASK_PUT] = "INSERT OR REPLACE INTO task_latency(group_name, bucket_ms, count, mean_ms,"
                     " min_ms, max_ms, p50_ms, p90_ms, p95_ms, p99_ms)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQA_IMP_FIND] = "SELECT instance FROM sessions WHERE worker_id = ?1 AND opened_ms = ?2",
    [SQA_IMP_INSERT] = "INSERT INTO sessions(worker_id, opened_ms, group_name, instance, node_id,"
                       " closed_ms, reason, exit_code, last_hb_ms, ttl_s)"
                       " VALUES(?1, ?2, ?3, ?4, '" STORE_IMPORT_NODE "', ?5, ?6, ?7, ?8, 0)",
    /* An imported worker vigild never watched is dead or left, as boot would
     * restore it; one it knows keeps its state and only learns its past. */
    [SQA_IMP_WORKER] =
        "INSERT INTO workers(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)"
        " ON CONFLICT(worker_id) DO UPDATE SET"
        " first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),"
        " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),"
        " group_name = CASE WHEN group_name = '' THEN excluded.group_name ELSE group_name END",
    /* sqlite_metrics.c: a sample again takes its new value (store.h). */
    [SQA_METRIC_PUT] =
        "INSERT INTO fleet_metrics(node_id, name, ts_ms, value) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(node_id, name, ts_ms) DO UPDATE SET value = excluded.value",
    /* sqlite_hub.c: a window sent again replaces its row (store.h). */
    [SQA_HUB_PUT] =
        "INSERT INTO hub_summaries(node_id, run_id, from_ms, to_ms, received_ms, body)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(node_id, run_id, from_ms) DO UPDATE"
        " SET to_ms = excluded.to_ms, received_ms = excluded.received_ms,"
        " body = excluded.body",
};

int sq_rel_prepare(sq_store *q, char *err, size_t errlen)
{
    for (int i = 0; i < SQA__COUNT; i++)
        if (sqlite3_prepare_v3(q->adb, asql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->a[i], NULL) !=
            SQLITE_OK) {
            err_set(err, errlen, "sqlite: prepare analytics: %s", sqlite3_errmsg(q->adb));
            return -1;
        }
    return 0;
}

void sq_rel_finalize(sq_store *q)
{
    for (int i = 0; i < SQA__COUNT; i++)
        sqlite3_finalize(q->a[i]);
}

int sq_abegin(sq_store *q)
{
    pthread_mutex_lock(&q->amu);
    if (sq_exec(q->a[SQA_BEGIN]) == 0) return 0;
    pthread_mutex_unlock(&q->amu);
    return -1;
}

int sq_aend(sq_store *q, int rc)
{
    if (rc == 0 && sq_exec(q->a[SQA_COMMIT]) != 0) rc = -1;
    if (rc != 0 && !sqlite3_get_autocommit(q->adb)) sq_exec(q->a[SQA_ROLLBACK]);
    pthread_mutex_unlock(&q->amu);
    return rc;
}

/* ---- reliability scan ---------------------------------------------------- */

typedef struct scan_buf {
    rel_session *s;
    size_t n, cap;
} scan_buf;

static int scan_push(scan_buf *b, const rel_session *x)
{
    void *grown = vec_grow(b->s, &b->cap, b->n + 1, sizeof *b->s, 64);
    if (!grown) return -1;
    b->s = grown;
    b->s[b->n++] = *x;
    return 0;
}

/* A merge join in C of two ordered walks (workers by id, sessions by worker
 * then opened): SQLite would otherwise look each worker's sessions up one by
 * one, a seek per worker instead of one pass. Both sort by BINARY collation,
 * the same order as strcmp. */
int sq_rel_scan(store *s, int64_t from_ms, int (*cb)(void *, const store_rel_worker *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *ws = q->a[SQA_WORKERS], *ss = q->a[SQA_SESSIONS];
    scan_buf b = {0};
    char wid[HB_ID_MAX + 1], grp[HB_ID_MAX + 1];
    int rc = 0;
    pthread_mutex_lock(&q->amu);
    /* One read transaction for both walks: one snapshot, so a session and
     * its worker row agree. */
    if (sqlite3_exec(q->adb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&q->amu);
        return -1;
    }
    sqlite3_bind_int64(ss, 1, from_ms);
    int src = sqlite3_step(ss), wrc;
    while ((wrc = sqlite3_step(ws)) == SQLITE_ROW) {
        sq_col_text(ws, 0, wid, sizeof wid);
        sq_col_text(ws, 1, grp, sizeof grp);
        b.n = 0;
        while (src == SQLITE_ROW) {
            int c = strcmp((const char *)sqlite3_column_text(ss, 0), wid);
            if (c > 0) break;
            if (c == 0) {
                rel_session x = {.opened_ms = sqlite3_column_int64(ss, 1),
                                 .closed_ms = sqlite3_column_int64(ss, 2),
                                 .last_hb_ms = sqlite3_column_int64(ss, 3),
                                 .reason = (uint8_t)sq_col_enum(ss, 4, reg_reason_parse),
                                 .imported = sqlite3_column_int(ss, 5) != 0};
                if (scan_push(&b, &x) != 0) {
                    rc = -1;
                    goto out;
                }
            }
            /* c < 0: a session of no known worker (forgotten mid-write). */
            src = sqlite3_step(ss);
        }
        if (src != SQLITE_ROW && src != SQLITE_DONE) {
            rc = -1;
            goto out;
        }
        store_rel_worker w = {.worker_id = wid,
                              .group = grp,
                              .first_seen_ms = sqlite3_column_int64(ws, 2),
                              .s = b.s,
                              .n = b.n};
        if (cb(ctx, &w) != 0) break;
    }
    if (wrc != SQLITE_ROW && wrc != SQLITE_DONE) rc = -1;
out:
    sqlite3_reset(ws);
    sqlite3_reset(ss);
    sqlite3_exec(q->adb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&q->amu);
    free(b.s);
    return rc;
}

/* ---- reliability rows ------------------------------------------------------ */

static int bind_real_or_null(sqlite3_stmt *st, int i, double v)
{
    return v == v ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i); /* NAN: null */
}

/* The curve as float pairs (t_s, s): 8 bytes a step, in host byte order
 * (the file never leaves the host that wrote it; PostgreSQL stores its own). */
static int bind_km(sqlite3_stmt *st, int i, const rel_km_step *km, size_t n, float **buf,
                   size_t *cap)
{
    void *grown = vec_grow(*buf, cap, n * 2, sizeof **buf, 64);
    if (!grown) return -1;
    *buf = grown;
    for (size_t k = 0; k < n; k++) {
        (*buf)[2 * k] = (float)km[k].t_s;
        (*buf)[2 * k + 1] = (float)km[k].s;
    }
    return sqlite3_bind_blob(st, i, *buf, (int)(n * 2 * sizeof(float)), SQLITE_STATIC);
}

static int rel_bind(sqlite3_stmt *st, const store_rel_row *r, float **buf, size_t *cap)
{
    const rel_features *f = &r->f;
    int rc = sqlite3_bind_text(st, 1, r->worker_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 2, r->group, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(st, 3, r->computed_ms);
    rc |= sqlite3_bind_int64(st, 4, r->window_ms);
    rc |= sqlite3_bind_double(st, 5, f->uptime_pct);
    rc |= sqlite3_bind_int64(st, 6, f->up_ms);
    rc |= sqlite3_bind_int64(st, 7, f->observed_ms);
    rc |= sqlite3_bind_int64(st, 8, f->sessions_count);
    rc |= sqlite3_bind_int64(st, 9, f->closed_count);
    rc |= sqlite3_bind_int64(st, 10, f->failures);
    rc |= sqlite3_bind_double(st, 11, f->mtbf_s);
    rc |= bind_real_or_null(st, 12, f->p10_session_s);
    rc |= bind_real_or_null(st, 13, f->p50_session_s);
    rc |= bind_real_or_null(st, 14, f->p90_session_s);
    rc |= sqlite3_bind_double(st, 15, f->p_stays_4h);
    rc |= sqlite3_bind_double(st, 16, f->p_stays_8h);
    rc |= sqlite3_bind_double(st, 17, f->score);
    rc |= sq_bind_opt_i64(st, 18, f->last_disconnect_ms > 0, f->last_disconnect_ms);
    rc |= sq_bind_opt_i64(st, 19, f->last_failure_ms > 0, f->last_failure_ms);
    rc |= bind_real_or_null(st, 20, f->last_session_s);
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
        rc |= sqlite3_bind_int64(st, STORE_REL_REASON_COL + k, f->reasons[k]);
    rc |= bind_real_or_null(st, 27, f->km_t_max_s); /* NAN: no sessions to estimate from */
    rc |= bind_km(st, 28, r->km, r->nkm, buf, cap);
    return rc;
}

int sq_rel_put(store *s, const store_rel_row *rows, size_t n)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0) return -1;
    float *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    sqlite3_stmt *st = q->a[SQA_REL_PUT];
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rel_bind(st, &rows[i], &buf, &cap) != SQLITE_OK ? -1 : sq_exec(st);
    sqlite3_clear_bindings(st);
    free(buf);
    return sq_aend(q, rc);
}

static double col_real_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(st, i);
}

int sq_rel_load(store *s, int (*cb)(void *, const store_rel_row *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    sqlite3_stmt *st = q->a[SQA_REL_LOAD];
    rel_km_step *km = NULL;
    size_t cap = 0;
    int rc;
    pthread_mutex_lock(&q->amu);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_rel_row r;
        memset(&r, 0, sizeof r);
        rel_features *f = &r.f;
        sq_col_text(st, 0, r.worker_id, sizeof r.worker_id);
        sq_col_text(st, 1, r.group, sizeof r.group);
        r.computed_ms = sqlite3_column_int64(st, 2);
        r.window_ms = sqlite3_column_int64(st, 3);
        f->uptime_pct = sqlite3_column_double(st, 4);
        f->up_ms = sqlite3_column_int64(st, 5);
        f->observed_ms = sqlite3_column_int64(st, 6);
        f->sessions_count = (uint32_t)sqlite3_column_int64(st, 7);
        f->closed_count = (uint32_t)sqlite3_column_int64(st, 8);
        f->failures = (uint32_t)sqlite3_column_int64(st, 9);
        f->mtbf_s = sqlite3_column_double(st, 10);
        f->p10_session_s = col_real_or_nan(st, 11);
        f->p50_session_s = col_real_or_nan(st, 12);
        f->p90_session_s = col_real_or_nan(st, 13);
        f->p_stays_4h = sqlite3_column_double(st, 14);
        f->p_stays_8h = sqlite3_column_double(st, 15);
        f->score = sqlite3_column_double(st, 16);
        f->last_disconnect_ms = sqlite3_column_int64(st, 17);
        f->last_failure_ms = sqlite3_column_int64(st, 18);
        f->last_session_s = col_real_or_nan(st, 19);
        for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
            f->reasons[k] = (uint32_t)sqlite3_column_int64(st, STORE_REL_REASON_COL - 1 + k);
        f->km_t_max_s = col_real_or_nan(st, 26);
        size_t nb = (size_t)sqlite3_column_bytes(st, 27) / (2 * sizeof(float));
        const float *blob = sqlite3_column_blob(st, 27);
        void *grown = vec_grow(km, &cap, nb, sizeof *km, 64);
        if (!grown) {
            rc = SQLITE_NOMEM;
            break;
        }
        km = grown;
        for (size_t k = 0; k < nb; k++) {
            float t, v;
            memcpy(&t, (const char *)blob + k * 8, 4);
            memcpy(&v, (const char *)blob + k * 8 + 4, 4);
            km[k] = (rel_km_step){t, v};
        }
        r.km = km;
        r.nkm = nb;
        if (cb(ctx, &r) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&q->amu);
    free(km);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- hourly fold ------------------------------------------------------------ */

static int state_get(sq_store *q, const char *name, int64_t *v)
{
    sqlite3_stmt *st = q->a[SQA_STATE_GET];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int state_set(sq_store *q, const char *name, int64_t v)
{
    sqlite3_stmt *st = q->a[SQA_STATE_SET];
    return sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 2, v)
               ? -1
               : sq_exec(st);
}

int64_t sq_hourly_rollup(store *s, int64_t max_rows)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0) return -1;
    int64_t w = 0, top = 0;
    sqlite3_stmt *mx = q->a[SQA_MAX_ROWID];
    int rc = state_get(q, "hourly_rowid", &w);
    if (rc == 0 && sqlite3_step(mx) == SQLITE_ROW)
        top = sqlite3_column_int64(mx, 0);
    else
        rc = -1;
    sqlite3_reset(mx);
    /* Bounded: the fold holds SQLite's write lock, and the writer waits at
     * most its busy timeout for it. */
    int64_t hi = top - w > max_rows ? w + max_rows : top;
    if (rc == 0 && hi > w) {
        sqlite3_stmt *st = q->a[SQA_HOURLY_FOLD];
        rc = sqlite3_bind_int64(st, 1, w) | sqlite3_bind_int64(st, 2, hi) ? -1 : sq_exec(st);
        if (rc == 0) rc = state_set(q, "hourly_rowid", hi);
    }
    if (sq_aend(q, rc) != 0) return -1;
    return hi > w ? hi - w : 0;
}

/* ---- task latency ------------------------------------------------------------ */

int sq_tasks_put(store *s, const tlat_row *rows, size_t n)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        tlat_row r = rows[i];
        sqlite3_stmt *g = q->a[SQA_TASK_GET];
        sqlite3_bind_text(g, 1, r.group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(g, 2, r.bucket_ms);
        int s_rc = sqlite3_step(g);
        if (s_rc == SQLITE_ROW) {
            /* Same bucket written before (a restart inside its 30 s): merge
             * what merges exactly; percentiles come from the larger part. */
            uint64_t c0 = (uint64_t)sqlite3_column_int64(g, 0), c = c0 + r.count;
            double m0 = sqlite3_column_double(g, 1), lo = sqlite3_column_double(g, 2),
                   hi = sqlite3_column_double(g, 3);
            if (c0 > r.count) {
                r.p50_ms = sqlite3_column_double(g, 4);
                r.p90_ms = sqlite3_column_double(g, 5);
                r.p95_ms = sqlite3_column_double(g, 6);
                r.p99_ms = sqlite3_column_double(g, 7);
            }
            r.mean_ms = c ? (m0 * (double)c0 + r.mean_ms * (double)r.count) / (double)c : 0;
            r.count = c;
            if (lo < r.min_ms) r.min_ms = lo;
            if (hi > r.max_ms) r.max_ms = hi;
        } else if (s_rc != SQLITE_DONE) {
            rc = -1;
        }
        sqlite3_reset(g);
        if (rc) break;
        sqlite3_stmt *st = q->a[SQA_TASK_PUT];
        int b = sqlite3_bind_text(st, 1, r.group, -1, SQLITE_STATIC);
        b |= sqlite3_bind_int64(st, 2, r.bucket_ms);
        b |= sqlite3_bind_int64(st, 3, (int64_t)r.count);
        b |= sqlite3_bind_double(st, 4, r.mean_ms);
        b |= sqlite3_bind_double(st, 5, r.min_ms);
        b |= sqlite3_bind_double(st, 6, r.max_ms);
        b |= sqlite3_bind_double(st, 7, r.p50_ms);
        b |= sqlite3_bind_double(st, 8, r.p90_ms);
        b |= sqlite3_bind_double(st, 9, r.p95_ms);
        b |= sqlite3_bind_double(st, 10, r.p99_ms);
        rc = b ? -1 : sq_exec(st);
    }
    return sq_aend(q, rc);
}

/* ---- history import --------------------------------------------------------- */

/* Rows come sorted by (worker_id, opened) (imp.h), so a worker's rows are
 * adjacent: its worker row is upserted once, from its first and last rows. */
static int import_worker(sq_store *q, const imp_row *first, const imp_row *last, int64_t now_ms)
{
    (void)now_ms;
    /* Seen last when the other system last saw it: not now. */
    int64_t end = last->closed_ms ? last->closed_ms : last->opened_ms;
    const char *state = last->closed_ms && last->reason == REG_R_CLEAN_SHUTDOWN
                            ? reg_wstate_name(REG_W_LEFT)
                            : reg_wstate_name(REG_W_DEAD);
    sqlite3_stmt *st = q->a[SQA_IMP_WORKER];
    int rc = sqlite3_bind_text(st, 1, first->worker_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 2, last->group, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 3, last->instance, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(st, 5, end);
    rc |= sqlite3_bind_int64(st, 6, first->opened_ms);
    rc |= sqlite3_bind_int64(st, 7, end);
    return rc ? -1 : sq_exec(st);
}

/* 0 inserted, 1 already there (same instance), 2 conflict, -1 error. */
static int import_one(sq_store *q, const imp_row *r, int64_t now_ms)
{
    sqlite3_stmt *f = q->a[SQA_IMP_FIND];
    sqlite3_bind_text(f, 1, r->worker_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(f, 2, r->opened_ms);
    int rc = sqlite3_step(f);
    int out = rc == SQLITE_DONE                                                   ? 0
              : rc != SQLITE_ROW                                                  ? -1
              : strcmp((const char *)sqlite3_column_text(f, 0), r->instance) == 0 ? 1
                                                                                  : 2;
    sqlite3_reset(f);
    if (out != 0) return out;
    sqlite3_stmt *st = q->a[SQA_IMP_INSERT];
    int b = sqlite3_bind_text(st, 1, r->worker_id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 2, r->opened_ms);
    b |= sqlite3_bind_text(st, 3, r->group, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 4, r->instance, -1, SQLITE_STATIC);
    b |= sq_bind_opt_i64(st, 5, r->closed_ms != 0, r->closed_ms);
    b |= r->closed_ms ? sqlite3_bind_text(st, 6, reg_reason_name(r->reason), -1, SQLITE_STATIC)
                      : sqlite3_bind_null(st, 6);
    b |= sq_bind_opt_i64(st, 7, r->has_exit_code, r->exit_code);
    b |= sqlite3_bind_int64(st, 8, r->closed_ms ? r->closed_ms : now_ms);
    return b ? -1 : sq_exec(st);
}

int sq_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                       size_t *skipped, size_t *bad, char *err, size_t errlen)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0) {
        err_set(err, errlen, "sqlite: import: %s", sqlite3_errmsg(q->adb));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0, j; i < n && rc == 0; i = j) {
        for (j = i; j < n && strcmp(rows[j].worker_id, rows[i].worker_id) == 0; j++) {
            int r = import_one(q, &rows[j], now_ms);
            if (r == 0) (*inserted)++;
            if (r == 1) (*skipped)++;
            if (r == 2) {
                *bad = j;
                err_set(err, errlen,
                        "a session of this worker opened at the same time exists with"
                        " another instance");
                rc = 1;
            }
            if (r < 0) {
                err_set(err, errlen, "sqlite: import: %s", sqlite3_errmsg(q->adb));
                rc = -1;
            }
            if (rc) break;
        }
        if (rc == 0 && import_worker(q, &rows[i], &rows[j - 1], now_ms) != 0) {
            err_set(err, errlen, "sqlite: import: %s", sqlite3_errmsg(q->adb));
            rc = -1;
        }
    }
    if (rc != 0) *inserted = *skipped = 0;
    int e = sq_aend(q, rc == 0 ? 0 : -1);
    return rc != 0 ? rc : e;
}
