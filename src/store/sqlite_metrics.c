/*
 * sqlite_metrics: the fleet series (table fleet_metrics) on the SQLite
 * backend.
 *
 * The sampler's batches go through the analytics connection, as the
 * rollup's reliability rows and task buckets do: a short transaction of
 * its own that queues behind the writer's batches on SQLite's lock, so it
 * never runs on (or holds up) the writer thread, and the writer, whose busy
 * timeout is 1 s, never waits long for it. Reads take the readers'
 * connection like every other read. Statements: SQA_METRIC_PUT
 * (sqlite_rel.c), SQR_METRIC_NAMES and SQR_METRIC_SERIES (sqlite_read.c),
 * SQW_PRUNE_METRICS (sqlite.c).
 *
 * Every statement is scoped to this handle's node_id: several nodes never
 * share one SQLite file, but a file copied from another host (node_id the
 * hostname) keeps its old series apart, as PostgreSQL does.
 */
#include "store/sqlite_int.h"

#include <stdio.h>

int sq_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0) /* amu is released: the connection's message is not ours to read */
        return err_set(err, errlen, "sqlite: fleet_metrics: cannot begin (database locked?)");
    sqlite3_stmt *st = q->a[SQA_METRIC_PUT];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int b = sqlite3_bind_text(st, 1, q->base.node_id, -1, SQLITE_STATIC);
        b |= sqlite3_bind_text(st, 2, m[i].name, -1, SQLITE_STATIC);
        b |= sqlite3_bind_int64(st, 3, m[i].ts_ms);
        b |= sqlite3_bind_double(st, 4, m[i].value);
        rc = b ? -1 : sq_exec(st);
    }
    /* The message before the rollback replaces it. */
    if (rc) err_set(err, errlen, "sqlite: fleet_metrics: %s", sqlite3_errmsg(q->adb));
    sqlite3_clear_bindings(st);
    if (sq_aend(q, rc) != 0) {
        if (!rc) err_set(err, errlen, "sqlite: fleet_metrics: commit failed");
        return -1;
    }
    return 0;
}

/* Statement done: reset releases its read snapshot; clearing drops the
 * pointers to the caller's strings. Releases rmu. */
static void finish(sq_store *q, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rmu);
}

int sq_metric_names(store *s, const char *lo, const char *hi, int (*cb)(void *, const char *),
                    void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_METRIC_NAMES];
    int rc = sqlite3_bind_text(st, 1, q->base.node_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
    int n = 0;
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            n++;
            char name[STORE_METRIC_NAME_MAX + 1];
            sq_col_text(st, 0, name, sizeof name);
            if (cb(ctx, name) != 0) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    finish(q, st);
    return rc == SQLITE_DONE ? n : -1;
}

int sq_metric_series(store *s, const char *name, int64_t from_ms, int64_t to_ms,
                     int (*cb)(void *, const store_metric *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[SQR_METRIC_SERIES];
    int rc = sqlite3_bind_text(st, 1, q->base.node_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(st, 3, from_ms);
    rc |= sqlite3_bind_int64(st, 4, to_ms);
    int n = 0;
    if (rc == SQLITE_OK) {
        store_metric m;
        /* Every row is of this one series: the name once. */
        snprintf(m.name, sizeof m.name, "%s", name);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            n++;
            m.ts_ms = sqlite3_column_int64(st, 0);
            m.value = sqlite3_column_double(st, 1);
            if (cb(ctx, &m) != 0) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    finish(q, st);
    return rc == SQLITE_DONE ? n : -1;
}
