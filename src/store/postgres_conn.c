/*
 * postgres_conn: the PostgreSQL backend's connections and the three ways it
 * runs a prepared statement.
 *
 * A connection never blocks a store call for long. Its URL gets a
 * connect_timeout and TCP keepalives unless it sets its own, so a dead
 * server or a silent network is noticed in seconds. A connection found lost
 * (PQstatus not OK, or a command failing because the socket went) is reset
 * at most once per store call, and its setup and prepared statements are
 * redone on the new session; if that fails the call fails and the next call
 * tries again. The writer retries failed batches with its own backoff, the
 * HTTP reads report the error, the rollup waits for its next run.
 *
 * Statements run in one of three ways:
 *   pg_exec / pg_fetch  one statement, one result (the writer's and the
 *                       analytics' single steps);
 *   pg_stream           rows in single-row mode, handed to a callback one
 *                       at a time, so a million-row scan costs one row of
 *                       client memory;
 *   pg_pipe             many executions sent without waiting for each
 *                       reply (pipeline mode), synced every PG_PIPE_CHUNK, so
 *                       a batch of thousands of small statements costs a few
 *                       round trips instead of thousands.
 */
#include "store/postgres_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------------ */

static void pp_put(pg_params *p, const char *v, int len, int fmt)
{
    if (p->n >= PG_PARAMS_MAX) abort(); /* a statement of ours with too many values: a bug */
    p->v[p->n] = v;
    p->len[p->n] = len;
    p->fmt[p->n] = fmt;
    p->n++;
}

void pp_i64(pg_params *p, int64_t v)
{
    char *b = p->num[p->n < PG_PARAMS_MAX ? p->n : 0];
    snprintf(b, PG_NUM_LEN, "%lld", (long long)v);
    pp_put(p, b, 0, 0);
}

void pp_opt_i64(pg_params *p, bool has, int64_t v)
{
    if (has)
        pp_i64(p, v);
    else
        pp_put(p, NULL, 0, 0);
}

void pp_f64(pg_params *p, double v)
{
    if (isnan(v)) {
        pp_put(p, NULL, 0, 0);
        return;
    }
    char *b = p->num[p->n < PG_PARAMS_MAX ? p->n : 0];
    /* 17 significant digits: the double comes back bit for bit. */
    if (isinf(v))
        snprintf(b, PG_NUM_LEN, "%s", v > 0 ? "Infinity" : "-Infinity");
    else
        snprintf(b, PG_NUM_LEN, "%.17g", v);
    pp_put(p, b, 0, 0);
}

void pp_text(pg_params *p, const char *s)
{
    pp_put(p, s, 0, 0);
}

void pp_bin(pg_params *p, const void *data, int len)
{
    pp_put(p, data, len, 1);
}

/* ---- result columns -------------------------------------------------------- */

bool pg_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) != 0;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    return pg_null(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double pg_f64(const PGresult *r, int row, int col)
{
    return pg_null(r, row, col) ? (double)NAN : strtod(PQgetvalue(r, row, col), NULL);
}

void pg_text(const PGresult *r, int row, int col, char *dst, size_t n)
{
    size_t len = pg_null(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
    if (len > n - 1) len = n - 1;
    if (len) memcpy(dst, PQgetvalue(r, row, col), len);
    dst[len] = '\0';
}

/* ---- connections ------------------------------------------------------------- */

void pg_errmsg(pg_conn *k, const PGresult *r, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m) m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m) m = k->c ? PQerrorMessage(k->c) : "out of memory";
    size_t n = strcspn(m, "\n");
    err_set(err, errlen, "postgres %s: %.*s", k->role, (int)n, *m ? m : "unknown error");
}

/* Notices ("relation already exists, skipping") are not for vigild's
 * stderr; errors come back with their results. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_connect(pg_conn *k, const char *url, char *err, size_t errlen)
{
    /* Keywords before dbname are defaults the URL may override; those after
     * it are forced: COPY data is built as UTF-8. */
    static const char *const kw[] = {"connect_timeout",
                                     "keepalives",
                                     "keepalives_idle",
                                     "keepalives_interval",
                                     "keepalives_count",
                                     "fallback_application_name",
                                     "dbname",
                                     "client_encoding",
                                     NULL};
    const char *const val[] = {STORE_STR(PG_CONNECT_TIMEOUT_S),
                               "1",
                               STORE_STR(PG_KEEPALIVE_IDLE_S),
                               STORE_STR(PG_KEEPALIVE_INTERVAL_S),
                               STORE_STR(PG_KEEPALIVE_COUNT),
                               "vigild",
                               url,
                               "UTF8",
                               NULL};
    k->c = PQconnectdbParams(kw, val, 1);
    if (k->c) PQsetNoticeProcessor(k->c, quiet, NULL); /* kept across PQreset */
    if (k->c && PQstatus(k->c) == CONNECTION_OK) return 0;
    pg_errmsg(k, NULL, err, errlen);
    return -1;
}

int pg_conn_prepare(pg_conn *k, char *err, size_t errlen)
{
    /* Statements of an earlier attempt may be there: start clean. */
    k->prepared = false;
    PQclear(PQexec(k->c, "DEALLOCATE ALL"));
    if (k->setup) {
        PGresult *r = PQexec(k->c, k->setup);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) pg_errmsg(k, r, err, errlen);
        PQclear(r);
        if (!ok) return -1;
    }
    for (int i = 0; i < k->nsql; i++) {
        char name[16];
        snprintf(name, sizeof name, "%c%d", k->letter, i);
        PGresult *r = PQprepare(k->c, name, k->sql[i], 0, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            char m[256];
            pg_errmsg(k, r, m, sizeof m);
            err_set(err, errlen, "%s (preparing %s)", m, name);
        }
        PQclear(r);
        if (!ok) return -1;
    }
    k->prepared = true;
    return 0;
}

int pg_ready(pg_conn *k, char *err, size_t errlen)
{
    if (!k->c) {
        err_set(err, errlen, "postgres %s: no connection", k->role);
        return -1;
    }
    if (PQstatus(k->c) == CONNECTION_OK && PQpipelineStatus(k->c) == PQ_PIPELINE_OFF) {
        PGTransactionStatusType t = PQtransactionStatus(k->c);
        /* A call that failed half-way left a transaction open: end it. */
        bool idle = t == PQTRANS_IDLE || ((t == PQTRANS_INTRANS || t == PQTRANS_INERROR) &&
                                          pg_exec_sql(k, "ROLLBACK", NULL, 0) == 0);
        /* Preparing failed last time (a lock held elsewhere past the
         * timeout): the session is fine, its statements are not. */
        if (idle) return k->prepared ? 0 : pg_conn_prepare(k, err, errlen);
    }
    PQreset(k->c);
    if (PQstatus(k->c) != CONNECTION_OK) {
        pg_errmsg(k, NULL, err, errlen);
        return -1;
    }
    return pg_conn_prepare(k, err, errlen);
}

bool pg_alive(const pg_conn *k)
{
    return k->c && PQstatus(k->c) == CONNECTION_OK;
}

bool pg_retry(pg_conn *k, bool looked_ok, char *err, size_t errlen)
{
    if (!looked_ok || pg_alive(k)) return false;
    return pg_ready(k, err, errlen) == 0;
}

void pg_conn_close(pg_conn *k)
{
    if (k->c) PQfinish(k->c);
    k->c = NULL;
    if (k->mu_ok) pthread_mutex_destroy(&k->mu);
    k->mu_ok = false;
}

/* ---- one statement, one result ----------------------------------------------- */

static PGresult *exec_prepared(pg_conn *k, int stmt, const pg_params *p)
{
    static const pg_params none = {0};
    char name[16];
    snprintf(name, sizeof name, "%c%d", k->letter, stmt);
    if (!p) p = &none;
    return PQexecPrepared(k->c, name, p->n, p->v, p->len, p->fmt, 0);
}

int64_t pg_exec(pg_conn *k, int stmt, const pg_params *p, char *err, size_t errlen)
{
    PGresult *r = exec_prepared(k, stmt, p);
    ExecStatusType st = PQresultStatus(r);
    int64_t n = -1;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        n = strtoll(PQcmdTuples(r), NULL, 10);
    else
        pg_errmsg(k, r, err, errlen);
    PQclear(r);
    return n;
}

int pg_exec_sql(pg_conn *k, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(k->c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc) pg_errmsg(k, r, err, errlen);
    PQclear(r);
    return rc;
}

PGresult *pg_fetch(pg_conn *k, int stmt, const pg_params *p, char *err, size_t errlen)
{
    PGresult *r = exec_prepared(k, stmt, p);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) return r;
    pg_errmsg(k, r, err, errlen);
    PQclear(r);
    return NULL;
}

/* ---- streamed rows --------------------------------------------------------------- */

/* One attempt: rows handed over, or -1; *handed tells whether any was. */
static int stream_once(pg_conn *k, int stmt, const pg_params *p,
                       int (*fn)(void *, const PGresult *), void *ctx, bool *handed)
{
    static const pg_params none = {0};
    char name[16];
    snprintf(name, sizeof name, "%c%d", k->letter, stmt);
    if (!p) p = &none;
    if (!PQsendQueryPrepared(k->c, name, p->n, p->v, p->len, p->fmt, 0)) return -1;
    int n = 0;
    /* Callbacks read row 0 of each result: without single-row mode they
     * would see one row of many, so refuse rather than drop rows. */
    bool ok = PQsetSingleRowMode(k->c) == 1, stop = !ok;
    PGresult *r;
    /* Drained to the end even after the callback stops, so the connection
     * is idle again for the next call. */
    while ((r = PQgetResult(k->c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !stop) {
            n++;
            *handed = true;
            if (fn(ctx, r) != 0) stop = true;
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !stop) {
            ok = false;
        }
        PQclear(r);
    }
    return ok ? n : -1;
}

int pg_stream(pg_conn *k, int stmt, const pg_params *p, int (*fn)(void *, const PGresult *),
              void *ctx)
{
    pthread_mutex_lock(&k->mu);
    bool looked_ok = pg_alive(k), handed = false;
    int n = pg_ready(k, NULL, 0) == 0 ? stream_once(k, stmt, p, fn, ctx, &handed) : -1;
    if (n < 0 && !handed && pg_retry(k, looked_ok, NULL, 0))
        n = stream_once(k, stmt, p, fn, ctx, &handed);
    pthread_mutex_unlock(&k->mu);
    return n;
}

/* ---- pipelines ------------------------------------------------------------------- */

static void pipe_fail(pg_pipe *pp, const PGresult *r, int64_t tag)
{
    if (pp->failed) return;
    pp->failed = true;
    pp->failed_tag = tag;
    pg_errmsg(pp->k, r, pp->err, pp->errlen);
}

/* Sync and take the replies of everything queued, in order. */
static int pipe_sync(pg_pipe *pp)
{
    PGconn *c = pp->k->c;
    if (!PQpipelineSync(c)) {
        pipe_fail(pp, NULL, -1);
        pp->queued = 0;
        return -1;
    }
    for (int i = 0; i < pp->queued; i++) {
        PGresult *r = PQgetResult(c);
        if (!r) { /* nothing more will come: the connection is gone */
            pipe_fail(pp, NULL, pp->tags[i]);
            pp->queued = 0;
            return -1;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (!pp->failed && pp->fn && pp->fn(pp->ctx, pp->tags[i], r) != 0) {
                pp->failed = true;
                pp->failed_tag = pp->tags[i];
            }
        } else if (st != PGRES_PIPELINE_ABORTED) {
            pipe_fail(pp, r, pp->tags[i]);
        }
        PQclear(r);
        while ((r = PQgetResult(c)) != NULL) /* the NULL that ends each statement */
            PQclear(r);
    }
    pp->queued = 0;
    PGresult *r = PQgetResult(c);
    bool synced = r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced) pipe_fail(pp, NULL, -1);
    return pp->failed ? -1 : 0;
}

int pg_pipe_begin(pg_pipe *pp, pg_conn *k, int (*fn)(void *, int64_t, const PGresult *), void *ctx,
                  char *err, size_t errlen)
{
    memset(pp, 0, sizeof *pp);
    pp->k = k;
    pp->fn = fn;
    pp->ctx = ctx;
    pp->err = err;
    pp->errlen = errlen;
    pp->failed_tag = -1;
    if (PQenterPipelineMode(k->c)) return 0;
    pipe_fail(pp, NULL, -1);
    return -1;
}

static int pipe_queued(pg_pipe *pp, int ok, int64_t tag)
{
    if (!ok) {
        pipe_fail(pp, NULL, tag);
        return -1;
    }
    pp->tags[pp->queued++] = tag;
    return pp->queued == PG_PIPE_CHUNK ? pipe_sync(pp) : 0;
}

int pg_pipe_send(pg_pipe *pp, int stmt, const pg_params *p, int64_t tag)
{
    if (pp->failed) return -1;
    char name[16];
    snprintf(name, sizeof name, "%c%d", pp->k->letter, stmt);
    return pipe_queued(pp, PQsendQueryPrepared(pp->k->c, name, p->n, p->v, p->len, p->fmt, 0), tag);
}

int pg_pipe_send_sql(pg_pipe *pp, const char *sql)
{
    if (pp->failed) return -1;
    return pipe_queued(pp, PQsendQueryParams(pp->k->c, sql, 0, NULL, NULL, NULL, NULL, 0), -1);
}

int pg_pipe_end(pg_pipe *pp)
{
    if (pp->queued) pipe_sync(pp);
    if (PQstatus(pp->k->c) == CONNECTION_OK && !PQexitPipelineMode(pp->k->c))
        pipe_fail(pp, NULL, -1);
    return pp->failed ? -1 : 0;
}
