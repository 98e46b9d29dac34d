/*
 * postgres_int: what the PostgreSQL backend's files share. Private to it.
 *
 *   postgres_conn.c    connections, reconnects, parameters, and the three
 *                      ways a statement runs (one result, streamed rows,
 *                      pipelined batches)
 *   postgres_schema.c  migrations
 *   postgres.c         open, close, writes (store_apply, runs, prune)
 *   postgres_hb.c      a batch's raw heartbeats: the last_seen arrays, COPY
 *   postgres_read.c    reads (HTTP threads)
 *   postgres_rel.c     analytics (rollup thread, imports)
 *   postgres_metrics.c the fleet series (history sampler, its endpoint)
 *
 * The handle owns three connections, as the SQLite backend owns three
 * database handles: the writer's (store_apply, runs, prune), the readers'
 * (shared by the HTTP threads) and the analytics one (rollups, imports).
 * Each has its own mutex, held for the length of one store call, row
 * callbacks included: a callback must not call back into the store.
 *
 * Every statement a connection runs is prepared on it once (names: the
 * connection's letter and the statement's index, "w3", "r17") right after
 * it connects, and again after every reconnect, so a store call never sends
 * SQL text with values in it.
 */
#ifndef VIGIL_STORE_POSTGRES_INT_H
#define VIGIL_STORE_POSTGRES_INT_H

#include "store/store.h"
#include "store/store_sql.h"

#include <libpq-fe.h>
#include <pthread.h>

#define PG_CONNECT_TIMEOUT_S 5              /* default when the URL names none */
#define PG_WRITER_STATEMENT_TIMEOUT_MS 5000 /* one slow flush fails, the writer backs off */
#define PG_KEEPALIVE_IDLE_S 10              /* a silent dead peer is noticed within ~25 s */
#define PG_KEEPALIVE_INTERVAL_S 5
#define PG_KEEPALIVE_COUNT 3
#define PG_PIPE_CHUNK 512         /* statements in flight before a pipeline syncs */
#define PG_PARAMS_MAX 32          /* bound values of one statement */
#define PG_NUM_LEN 32             /* bytes of a formatted number */
#define PG_HOUR_MS 3600000        /* heartbeats_hourly bucket */
#define PG_ROLLUP_WORK_MEM "64MB" /* per sort/hash of the hourly rollup (~1M groups) */

/* One connection and the statements it prepares. */
typedef struct pg_conn {
    PGconn *c;
    pthread_mutex_t mu;
    bool mu_ok;
    char letter;            /* statement names: letter + index */
    const char *role;       /* "writer", "reader", "analytics": for errors */
    const char *setup;      /* run after each (re)connect, before preparing; NULL: none */
    const char *const *sql; /* statement texts, indexed */
    int nsql;
    bool prepared; /* setup and statements done on the current session */
} pg_conn;

/* Values of one statement, $1.. in the order they are added; numbers are
 * formatted into the struct, strings are borrowed (they must outlive the
 * send, and libpq copies them at send). */
typedef struct pg_params {
    int n;
    const char *v[PG_PARAMS_MAX];
    int len[PG_PARAMS_MAX], fmt[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][PG_NUM_LEN];
} pg_params;

void pp_i64(pg_params *p, int64_t v);
void pp_opt_i64(pg_params *p, bool has, int64_t v);
void pp_f64(pg_params *p, double v);       /* NAN: NULL */
void pp_text(pg_params *p, const char *s); /* NULL: NULL */
void pp_bin(pg_params *p, const void *data, int len);

/* Reading a result's text columns (NULL reads as 0, "" or NAN). */
bool pg_null(const PGresult *r, int row, int col);
int64_t pg_i64(const PGresult *r, int row, int col);
double pg_f64(const PGresult *r, int row, int col); /* NULL: NAN */
void pg_text(const PGresult *r, int row, int col, char *dst, size_t n);

/* Connections (postgres_conn.c). pg_connect opens k->c from the url (adding
 * connect_timeout, keepalives and application_name where the URL sets none,
 * and client_encoding UTF8 always) without preparing; pg_conn_prepare runs the setup and
 * prepares every statement. pg_ready makes sure the connection is usable:
 * a lost one is reset once (a call never blocks longer than
 * PG_CONNECT_TIMEOUT_S on it) and its statements prepared again. 0 or -1
 * with err. */
int pg_connect(pg_conn *k, const char *url, char *err, size_t errlen);
int pg_conn_prepare(pg_conn *k, char *err, size_t errlen);
int pg_ready(pg_conn *k, char *err, size_t errlen);
void pg_conn_close(pg_conn *k);
/* PQstatus is OK: true also for a connection whose server went away since
 * its last command (nobody has noticed yet). */
bool pg_alive(const pg_conn *k);
/* After a failed attempt of a call that began with pg_alive true
 * (looked_ok): if the connection is gone now (the server restarted, the
 * network dropped since the last call), reset it (the call's one reset) and
 * say whether to try once more. Only for attempts that committed nothing. */
bool pg_retry(pg_conn *k, bool looked_ok, char *err, size_t errlen);
/* The server's message of a failed result (or the connection's), one line. */
void pg_errmsg(pg_conn *k, const PGresult *r, char *err, size_t errlen);

/* Run prepared statement stmt with no rows wanted: rows affected (or
 * returned), or -1 with err. pg_exec_sql runs a fixed text that carries no
 * values (BEGIN, COMMIT, SET LOCAL): 0 or -1 with err. The caller holds
 * k->mu and has called pg_ready. */
int64_t pg_exec(pg_conn *k, int stmt, const pg_params *p, char *err, size_t errlen);
int pg_exec_sql(pg_conn *k, const char *sql, char *err, size_t errlen);
/* Run a statement and keep its result (TUPLES_OK), or NULL with err. */
PGresult *pg_fetch(pg_conn *k, int stmt, const pg_params *p, char *err, size_t errlen);

/* Stream a statement's rows to fn (one at a time, single-row mode, so a
 * million rows never sit in memory at once) until it returns non-zero.
 * Takes k->mu itself; a connection found lost is reset and the statement
 * retried once, before any row was handed over. Returns rows handed over,
 * or -1. */
int pg_stream(pg_conn *k, int stmt, const pg_params *p, int (*fn)(void *ctx, const PGresult *r),
              void *ctx);

/* Pipelined statements: sent without waiting for each result, synced every
 * PG_PIPE_CHUNK statements; each result goes to fn (NULL: success is enough)
 * with the tag it was sent with. After the first failure the rest are
 * skipped and the pipe reports -1 with that failure's message. */
typedef struct pg_pipe {
    pg_conn *k;
    int (*fn)(void *ctx, int64_t tag, const PGresult *r); /* non-zero: fail the pipe */
    void *ctx;
    int64_t tags[PG_PIPE_CHUNK];
    int queued;
    bool failed;
    int64_t failed_tag; /* the tag of the statement that failed (-1: none known) */
    char *err;
    size_t errlen;
} pg_pipe;
int pg_pipe_begin(pg_pipe *pp, pg_conn *k, int (*fn)(void *, int64_t, const PGresult *), void *ctx,
                  char *err, size_t errlen);
int pg_pipe_send(pg_pipe *pp, int stmt, const pg_params *p, int64_t tag);
int pg_pipe_send_sql(pg_pipe *pp, const char *sql); /* fixed text: BEGIN */
int pg_pipe_end(pg_pipe *pp);                       /* 0, or -1 (err set) */

/* ---- statements --------------------------------------------------------- */

enum pg_wstmt {
    PGW_SESSION_OPEN,
    PGW_SESSION_CLOSE,
    PGW_WORKER_STATE,
    PGW_GROUP_STATE,
    PGW_FORGET,
    PGW_ALERT,
    PGW_HB_SEEN,
    PGW_BATCH_MARK,
    PGW_BATCH_APPLIED,
    PGW_RUN_BEGIN,
    PGW_RUN_ALIVE,
    PGW_RUN_END,
    PGW_PRUNE_HBS,
    PGW_PRUNE_EVENTS,
    PGW_PRUNE_HOURLY,
    PGW_PRUNE_SESSIONS,
    PGW_PRUNE_TASKS,
    PGW_PRUNE_METRICS,
    PGW_PRUNE_HUB,
    PGW__COUNT
};

enum pg_rstmt {
    PGR_PING,
    PGR_GROUPS,
    PGR_WORKERS_ALL,
    PGR_WORKER_ONE,
    PGR_SESSIONS,
    PGR_HEARTBEATS,
    PGR_LAST_RUN,
    PGR_RUNS,
    PGR_HOURLY,
    PGR_TASKS_ALL,
    PGR_TASKS_GROUP,
    PGR_METRIC_NAMES,
    PGR_METRIC_SERIES,
    PGR_HUB_ALL,
    PGR_HUB_NODE,
    PGR_HUB_LATEST,
    PGR__COUNT
};

/* Worker and event list variants: one statement per filter combination, as
 * in sqlite_read.c, so each one walks the index that fits. */
enum { PG_WQ_GROUP = 1, PG_WQ_STATE = 2, PG_WQ_AFTER = 4, PG_WQ__N = 8 };
enum {
    PG_EQ_ASC = 1,
    PG_EQ_WORKER = 2,
    PG_EQ_GROUP = 4,
    PG_EQ_TYPE = 8,
    PG_EQ_FROM = 16,
    PG_EQ_TO = 32,
    PG_EQ__N = 64
};
#define PGR_WQ_BASE PGR__COUNT              /* + mask */
#define PGR_EQ_BASE (PGR__COUNT + PG_WQ__N) /* + mask */
#define PGR__TOTAL (PGR_EQ_BASE + PG_EQ__N)

enum pg_astmt {
    PGA_REL_SCAN,
    PGA_REL_PUT,
    PGA_REL_LOAD,
    PGA_HOURLY_LOCK,
    PGA_STATE_GET,
    PGA_HOURLY_FOLD,
    PGA_HOURLY_MARK,
    PGA_TASK_PUT,
    PGA_IMP_SESSION,
    PGA_IMP_WORKER,
    PGA_METRIC_PUT,
    PGA_HUB_PUT,
    PGA__COUNT
};

/* What this writer last wrote to each worker's workers.last_seen_ms and
 * ttl_s (postgres_hb.c), so a batch updates only the rows a slack behind
 * (STORE_SEEN_SLACK_MS), as SQLite's writer decides in its UPDATE's WHERE.
 * PostgreSQL cannot: a conditional UPDATE still probes every worker's row,
 * and that probe, not the write, was most of the statement's cost
 * (docs/benchmarks.md). Open addressing on a seeded 64-bit hash of the id,
 * 16 bytes a worker; a shared hash is taken for the same worker (a
 * needless skip is bounded by the next write; reads are exact anyway).
 * Advisory only: an entry says "the column is at least this", and
 * anything unknown is written. Writer connection's mutex. */
#define PG_SEEN_SLOTS_MIN 1024
#define PG_SEEN_SLOTS_MAX (1u << 22) /* 64 MiB; past 3/4 of it the table starts over */
typedef struct pg_seen_slot {
    uint64_t h;      /* 0: empty */
    uint32_t seen_s; /* last_seen_ms / 1000 written; 0: write next time */
    int32_t ttl_s;   /* ttl written; 0: not known */
} pg_seen_slot;
typedef struct pg_seen {
    pg_seen_slot *v;
    size_t cap, n;
    uint64_t seed;
} pg_seen;
void pg_seen_init(pg_seen *c); /* empty, with a fresh seed */
void pg_seen_free(pg_seen *c);

typedef struct pg_store {
    store base; /* first: a store * is a pg_store * */
    pg_conn w, r, a;
    char *rtext[PGR__TOTAL]; /* the read statements' texts, built at open */
    pg_seen seen;            /* the writer's: w.mu */
} pg_store;

/* postgres_hb.c: a batch's heartbeats (store_apply). */
typedef struct pg_buf {
    char *p;
    size_t n, cap;
} pg_buf;

/* Sorted by worker (arrival order within one), the per-worker arrays of
 * the last_seen UPDATE in binary (text[], int8[], int4[]) for the workers
 * whose row is due (pg_seen), and the workers forgotten in the same batch
 * (always in the UPDATE: their rows are dropped unless the worker row
 * exists again by the end of the events). */
typedef struct pg_hb_batch {
    const store_hb **v;
    size_t n;
    pg_buf ids, seen, ttl;
    pg_seen_slot *put; /* what the arrays write, for pg_seen once committed */
    size_t nput;       /* the arrays hold nput + ngone workers; none: no UPDATE */
    const char **gone; /* forgotten in the batch and with heartbeats in it */
    bool *alive;       /* gone[i] found by the update (opened again after the forget) */
    size_t ngone;
} pg_hb_batch;

#define PG_TAG_SEEN (-2) /* pipeline tag of the last_seen UPDATE */
#define PG_TAG_MARK (-3) /* pipeline tag of the batch mark (store_batch_mark) */

/* An event's statement may rewrite a worker's row (open, state) or delete
 * it (forget): c forgets what it knew of the events' workers. Before the
 * batch, whatever becomes of it. */
void pg_seen_forget(pg_seen *c, const reg_event *evs, size_t nev);
/* 0, -1 out of memory (pg_hb_free it anyway). */
int pg_hb_build(pg_hb_batch *b, const pg_seen *c, const store_hb *hbs, size_t nhb,
                const reg_event *evs, size_t nev);
/* The batch committed: c learns what its UPDATE wrote. */
void pg_hb_committed(pg_seen *c, const pg_hb_batch *b);
void pg_hb_free(pg_hb_batch *b);
/* Pipeline reply handler: the UPDATE's RETURNING rows (ctx: the batch). */
int pg_hb_reply(void *ctx, int64_t tag, const PGresult *r);
/* COPY the batch's rows inside the caller's transaction. 0 or -1 with err. */
int pg_hb_copy(pg_conn *k, const pg_hb_batch *hb, char *err, size_t errlen);

/* postgres_schema.c: create or migrate the schema (writer connection, at
 * open, serialised across processes by an advisory lock). 0 or -1 with err. */
int pg_migrate(pg_conn *k, char *err, size_t errlen);

/* postgres_read.c */
int pg_read_texts(pg_store *q, char *err, size_t errlen); /* fills q->rtext */
void pg_read_free(pg_store *q);
int pg_ping(store *s);
int pg_last_run(store *s, int64_t before_id, store_run *out);
int pg_load_groups(store *s, int (*cb)(void *, const store_group *), void *ctx);
int pg_load_workers(store *s, int (*cb)(void *, const store_worker *), void *ctx);
int pg_list_workers(store *s, const store_worker_query *q, int (*cb)(void *, const store_worker *),
                    void *ctx);
int pg_get_worker(store *s, const char *worker_id, store_worker *out);
int pg_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                     int (*cb)(void *, const store_session *), void *ctx);
int pg_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                       int (*cb)(void *, const store_hb *), void *ctx);
int pg_list_events(store *s, const store_event_query *q, int (*cb)(void *, const store_event *),
                   void *ctx);
int pg_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *, const store_hourly *), void *ctx);
int pg_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                  int (*cb)(void *, const tlat_row *), void *ctx);
int pg_list_runs(store *s, int (*cb)(void *, const store_run *), void *ctx);

/* postgres_rel.c */
extern const char *const pg_asql[PGA__COUNT];
/* A pipelined transaction on the analytics connection: what it sends, and
 * how its replies are taken. pg_tx_run runs it (BEGIN, the statements,
 * COMMIT) under the connection's mutex, tried again once on a fresh session
 * when the connection turned out gone before the COMMIT went out (nothing
 * written). 0 or -1 with err. */
typedef struct pg_tx {
    int (*send)(pg_pipe *pp, void *ctx); /* queue the statements (after BEGIN) */
    int (*reply)(void *ctx, int64_t tag, const PGresult *r); /* NULL: success is enough */
    void (*again)(void *ctx); /* before a retry: forget the first attempt's replies */
    void *ctx;
} pg_tx;
int pg_tx_run(pg_store *q, const pg_tx *t, char *err, size_t errlen);
int pg_rel_scan(store *s, int64_t from_ms, int (*cb)(void *, const store_rel_worker *), void *ctx);
int pg_rel_put(store *s, const store_rel_row *rows, size_t n);
int pg_rel_load(store *s, int (*cb)(void *, const store_rel_row *), void *ctx);
int64_t pg_hourly_rollup(store *s, int64_t max_rows);
int pg_tasks_put(store *s, const tlat_row *rows, size_t n);
int pg_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                       size_t *skipped, size_t *bad, char *err, size_t errlen);

/* postgres_metrics.c: the fleet series (writes on the analytics
 * connection, reads on the readers'). */
int pg_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen);
int pg_metric_names(store *s, const char *lo, const char *hi, int (*cb)(void *, const char *),
                    void *ctx);
int pg_metric_series(store *s, const char *name, int64_t from_ms, int64_t to_ms,
                     int (*cb)(void *, const store_metric *), void *ctx);

/* postgres_hub.c: a hub's nodes' summaries (writes on the analytics
 * connection, reads on the readers'). */
int pg_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen);
int pg_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                int (*cb)(void *, const store_hub_row *), void *ctx);
int pg_hub_latest(store *s, int (*cb)(void *, const store_hub_row *), void *ctx);

#endif
