/*
 * postgres_metrics: the fleet series (table fleet_metrics) on the
 * PostgreSQL backend.
 *
 * A sampler's batch is one pipelined transaction on the analytics
 * connection, as the rollup's reliability rows are (pg_tx_run): never on the
 * writer's connection, whose statement timeout and backoff belong to the
 * heartbeat batches, and retried once on a fresh session only when nothing
 * was committed. The upsert makes a replay harmless anyway. Reads stream
 * from the readers' connection. Statements: PGA_METRIC_PUT
 * (postgres_rel.c), PGR_METRIC_NAMES and PGR_METRIC_SERIES
 * (postgres_read.c), PGW_PRUNE_METRICS (postgres.c).
 *
 * Several nodes share the table: every row carries its node's id, and
 * every read here is of this node's rows only.
 */
#include "store/postgres_int.h"

#include <stdio.h>

typedef struct put {
    const pg_store *q;
    const store_metric *m;
    size_t n;
} put;

static int put_send(pg_pipe *pp, void *ctx)
{
    const put *u = ctx;
    int rc = 0;
    for (size_t i = 0; i < u->n && rc == 0; i++) {
        pg_params p = {0};
        pp_text(&p, u->q->base.node_id);
        pp_text(&p, u->m[i].name);
        pp_i64(&p, u->m[i].ts_ms);
        pp_f64(&p, u->m[i].value); /* finite: store.c checked */
        rc = pg_pipe_send(pp, PGA_METRIC_PUT, &p, (int64_t)i);
    }
    return rc;
}

int pg_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen)
{
    pg_store *q = (pg_store *)s;
    put u = {q, m, n};
    pg_tx t = {.send = put_send, .ctx = &u};
    char why[256] = "";
    if (pg_tx_run(q, &t, why, sizeof why) == 0) return 0;
    return err_set(err, errlen, "postgres: fleet_metrics: %s", why);
}

typedef struct names_fn {
    int (*cb)(void *, const char *);
    void *ctx;
} names_fn;

static int name_row(void *ctx, const PGresult *r)
{
    const names_fn *f = ctx;
    char name[STORE_METRIC_NAME_MAX + 1];
    pg_text(r, 0, 0, name, sizeof name);
    return f->cb(f->ctx, name);
}

int pg_metric_names(store *s, const char *lo, const char *hi, int (*cb)(void *, const char *),
                    void *ctx)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    pp_text(&p, q->base.node_id);
    pp_text(&p, lo);
    pp_text(&p, hi);
    names_fn f = {cb, ctx};
    return pg_stream(&q->r, PGR_METRIC_NAMES, &p, name_row, &f);
}

typedef struct series_fn {
    int (*cb)(void *, const store_metric *);
    void *ctx;
    store_metric m; /* the name once: every row is of this series */
} series_fn;

static int series_row(void *ctx, const PGresult *r)
{
    series_fn *f = ctx;
    f->m.ts_ms = pg_i64(r, 0, 0);
    f->m.value = pg_f64(r, 0, 1);
    return f->cb(f->ctx, &f->m);
}

int pg_metric_series(store *s, const char *name, int64_t from_ms, int64_t to_ms,
                     int (*cb)(void *, const store_metric *), void *ctx)
{
    pg_store *q = (pg_store *)s;
    pg_params p = {0};
    pp_text(&p, q->base.node_id);
    pp_text(&p, name);
    pp_i64(&p, from_ms);
    pp_i64(&p, to_ms);
    series_fn f = {.cb = cb, .ctx = ctx};
    snprintf(f.m.name, sizeof f.m.name, "%s", name);
    return pg_stream(&q->r, PGR_METRIC_SERIES, &p, series_row, &f);
}
