/*
 * sqlite_hub: a hub's nodes' summaries (table hub_summaries) on the SQLite
 * backend.
 *
 * A summary arrives on an HTTP thread about once a minute per node: its
 * upsert is one short transaction on the analytics connection (as the
 * fleet series' are), never the writer's, so it waits behind a heartbeat
 * batch at most and never holds one up. Reads take the readers'
 * connection. Statements: SQA_HUB_PUT (sqlite_rel.c), SQR_HUB_*
 * (sqlite_read.c), SQW_PRUNE_HUB (sqlite.c).
 */
#include "store/sqlite_int.h"

int sq_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen)
{
    sq_store *q = (sq_store *)s;
    if (sq_abegin(q) != 0)
        return err_set(err, errlen, "sqlite: hub_summaries: cannot begin (database locked?)");
    sqlite3_stmt *st = q->a[SQA_HUB_PUT];
    int rc = sqlite3_bind_text(st, 1, r->node_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int64(st, 2, r->run_id);
    rc |= sqlite3_bind_int64(st, 3, r->from_ms);
    rc |= sqlite3_bind_int64(st, 4, r->to_ms);
    rc |= sqlite3_bind_int64(st, 5, r->received_ms);
    rc |= sqlite3_bind_text(st, 6, r->body, -1, SQLITE_STATIC);
    rc = rc ? -1 : sq_exec(st);
    if (rc) err_set(err, errlen, "sqlite: hub_summaries: %s", sqlite3_errmsg(q->adb));
    sqlite3_clear_bindings(st);
    if (sq_aend(q, rc) != 0) {
        if (!rc) err_set(err, errlen, "sqlite: hub_summaries: commit failed");
        return -1;
    }
    return 0;
}

/* Step st to its end, one row per callback; releases rmu. */
static int rows(sq_store *q, sqlite3_stmt *st, int rc, int (*cb)(void *, const store_hub_row *),
                void *ctx)
{
    int n = 0;
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            store_hub_row r;
            sq_col_text(st, 0, r.node_id, sizeof r.node_id);
            r.run_id = sqlite3_column_int64(st, 1);
            r.from_ms = sqlite3_column_int64(st, 2);
            r.to_ms = sqlite3_column_int64(st, 3);
            r.received_ms = sqlite3_column_int64(st, 4);
            r.body = (const char *)sqlite3_column_text(st, 5);
            if (!r.body) r.body = "{}";
            n++;
            if (cb(ctx, &r) != 0) {
                rc = SQLITE_DONE;
                break;
            }
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rmu);
    return rc == SQLITE_DONE ? n : -1;
}

int sq_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                int (*cb)(void *, const store_hub_row *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    sqlite3_stmt *st = q->r[node_id ? SQR_HUB_NODE : SQR_HUB_ALL];
    int rc = node_id ? sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC) : SQLITE_OK;
    rc |= sqlite3_bind_int64(st, 2, from_ms);
    rc |= sqlite3_bind_int64(st, 3, to_ms);
    rc |= sqlite3_bind_int(st, 4, limit);
    return rows(q, st, rc, cb, ctx);
}

int sq_hub_latest(store *s, int (*cb)(void *, const store_hub_row *), void *ctx)
{
    sq_store *q = (sq_store *)s;
    pthread_mutex_lock(&q->rmu);
    return rows(q, q->r[SQR_HUB_LATEST], SQLITE_OK, cb, ctx);
}
