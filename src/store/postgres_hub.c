/*
 * postgres_hub: a hub's nodes' summaries (table hub_summaries) on the
 * PostgreSQL backend.
 *
 * A summary's upsert is one transaction on the analytics connection
 * (pg_tx_run), as the fleet series' are: never on the writer's, and
 * retried once on a fresh session only when nothing was committed; the
 * upsert makes a replay harmless anyway. Reads stream from the readers'
 * connection. Several hubs may share the database: rows are the nodes',
 * not the hub's, so reads are not scoped to this handle's node_id.
 * Statements: PGA_HUB_PUT (postgres_rel.c), PGR_HUB_* (postgres_read.c),
 * PGW_PRUNE_HUB (postgres.c).
 */
#include "store/postgres_int.h"

static int put_send(pg_pipe *pp, void *ctx)
{
    const store_hub_row *r = ctx;
    pg_params p = {0};
    pp_text(&p, r->node_id);
    pp_i64(&p, r->run_id);
    pp_i64(&p, r->from_ms);
    pp_i64(&p, r->to_ms);
    pp_i64(&p, r->received_ms);
    pp_text(&p, r->body);
    return pg_pipe_send(pp, PGA_HUB_PUT, &p, 0);
}

int pg_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen)
{
    pg_store *q = (pg_store *)s;
    pg_tx t = {.send = put_send, .ctx = (void *)r};
    char why[256] = "";
    if (pg_tx_run(q, &t, why, sizeof why) == 0) return 0;
    return err_set(err, errlen, "postgres: hub_summaries: %s", why);
}

typedef struct rows_fn {
    int (*cb)(void *, const store_hub_row *);
    void *ctx;
} rows_fn;

static int hub_row(void *ctx, const PGresult *res)
{
    const rows_fn *f = ctx;
    store_hub_row r;
    pg_text(res, 0, 0, r.node_id, sizeof r.node_id);
    r.run_id = pg_i64(res, 0, 1);
    r.from_ms = pg_i64(res, 0, 2);
    r.to_ms = pg_i64(res, 0, 3);
    r.received_ms = pg_i64(res, 0, 4);
    r.body = PQgetvalue(res, 0, 5);
    return f->cb(f->ctx, &r);
}

int pg_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                int (*cb)(void *, const store_hub_row *), void *ctx)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    if (node_id) pp_text(&p, node_id);
    pp_i64(&p, from_ms);
    pp_i64(&p, to_ms);
    pp_i64(&p, limit);
    rows_fn f = {cb, ctx};
    return pg_stream(&q->r, node_id ? PGR_HUB_NODE : PGR_HUB_ALL, &p, hub_row, &f);
}

int pg_hub_latest(store *s, int (*cb)(void *, const store_hub_row *), void *ctx)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    rows_fn f = {cb, ctx};
    return pg_stream(&q->r, PGR_HUB_LATEST, &p, hub_row, &f);
}
