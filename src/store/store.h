/*
 * store: vigil's persistent state, behind one interface for every backend.
 *
 * SQLite (WAL) today; PostgreSQL later implements the same `store_backend`
 * table of functions, and the same test suite runs against both. Writes come
 * from one thread only (the writer, in batches, one transaction a batch);
 * reads may come from any thread at the same time and never wait for a write
 * transaction (WAL readers, or a pool on PostgreSQL).
 *
 * Times are Unix epoch milliseconds (int64). Strings are NUL-terminated and
 * already validated (hb.h rules). Row callbacks return 0 to go on, non-zero
 * to stop early; a row's strings live only during the callback.
 *
 * Logical schema (DESIGN §5), versioned migrations, idempotent:
 *   workers(worker_id PK, group_name, instance, state, state_since_ms,
 *           first_seen_ms, last_seen_ms, ttl_s)
 *   groups(name PK, state, state_since_ms)
 *   sessions(worker_id, opened_ms, group_name, instance, node_id, closed_ms NULL,
 *            reason NULL, exit_code NULL, last_hb_ms, requests NULL, tokens NULL,
 *            ttl_s; UNIQUE(worker_id, opened_ms))
 *   heartbeats(worker_id, ts_ms, seq, status, cpu, mem, mem_available_gb,
 *            gpu_mem_active_gb, thermal, backlog, capacity, in_flight,
 *            requests, tokens, cpu_ticks; absent samples are NULL;
 *            index (worker_id, ts_ms); rowid order = arrival order)
 *   events(id autoincrement PK, ts_ms, type, worker_id, group_name, instance,
 *            state, prev_state, reason, exit_code, opened_ms, node_id; index ts_ms)
 *   node_runs(id PK, node_id, started_ms, alive_ms, stopped_ms NULL)
 *   schema_version(version)
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include "core/hb.h"
#include "core/reg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_NODE_MAX 64 /* bytes of a node_id */

/* One raw heartbeat as the writer persists it (compact: the queue holds many). */
typedef struct store_hb {
    int64_t ts_ms;
    int64_t seq;
    uint32_t has; /* HB_HAS_* bits of the sample fields below */
    uint8_t thermal;
    int32_t ttl_s; /* 0 = none given */
    float cpu, mem, mem_available_gb, gpu_mem_active_gb;
    int64_t backlog, capacity, in_flight, requests, tokens, cpu_ticks;
    char worker_id[HB_ID_MAX + 1];
    char status[HB_STATUS_MAX + 1];
} store_hb;

/* Fill a store_hb from a parsed heartbeat. */
void store_hb_from_msg(store_hb *h, const hb_msg *m, int64_t ts_ms);

typedef struct store_worker {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    int state; /* reg_wstate */
    int64_t state_since_ms, first_seen_ms, last_seen_ms;
    int32_t ttl_s;
    /* Its open session, if any (opened_ms 0 = none); open_last_hb_ms is the
     * later of the session's last_hb_ms and last_seen_ms. */
    int64_t open_opened_ms, open_last_hb_ms;
    char open_node_id[STORE_NODE_MAX + 1];
} store_worker;

typedef struct store_group {
    char name[HB_ID_MAX + 1];
    int state; /* reg_gstate */
    int64_t state_since_ms;
} store_group;

typedef struct store_session {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    char node_id[STORE_NODE_MAX + 1];
    int64_t opened_ms, closed_ms; /* closed_ms 0 = open */
    int64_t last_hb_ms;
    int reason; /* reg_reason, REG_R_NONE while open */
    bool has_exit_code, has_requests, has_tokens;
    int32_t exit_code;
    int64_t requests, tokens;
    int32_t ttl_s;
} store_session;

typedef struct store_event {
    int64_t id, ts_ms;
    char type[32]; /* session_opened, session_closed, worker_<state>, group_<state>,
                      worker_forgotten */
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    char state[16], prev_state[16]; /* names, "" when not applicable */
    int reason;                     /* reg_reason */
    bool has_exit_code;
    int32_t exit_code;
    int64_t opened_ms;
    char node_id[STORE_NODE_MAX + 1];
} store_event;

typedef struct store_run {
    int64_t id, started_ms, alive_ms, stopped_ms; /* stopped_ms 0 = did not stop cleanly */
} store_run;

typedef struct store_worker_query {
    const char *group;    /* NULL = any */
    int state;            /* reg_wstate, -1 = any */
    const char *after_id; /* cursor: worker_id strictly after this; NULL = from the start */
    int limit;            /* rows */
} store_worker_query;

typedef struct store_event_query {
    int64_t after_id;       /* > 0: ascending, ids strictly after it */
    int64_t before_id;      /* > 0 (and after_id 0): descending, ids strictly before it */
    int64_t from_ms, to_ms; /* 0 = unbounded; ts_ms in [from, to) */
    const char *worker_id, *group, *type; /* NULL = any */
    int limit;
} store_event_query;

typedef struct store store;

/* Open (creating and migrating as needed). url: "sqlite:PATH", or a plain
 * path. node_id names this vigild in rows it owns. NULL with err on failure. */
store *store_open(const char *url, const char *node_id, char *err, size_t errlen);
void store_close(store *s);
const char *store_backend_name(const store *s); /* "sqlite" */

/* Cheap reachability check (readyz). 0 ok. */
int store_ping(store *s);

/* Writer: apply events (in order) then raw heartbeats, in one transaction.
 * SESSION_OPEN upserts the worker and inserts the session; SESSION_CLOSE
 * updates it; WORKER_STATE / GROUP_STATE upsert workers / groups;
 * WORKER_FORGET deletes the worker, its sessions and heartbeats. Every event
 * is also inserted into `events`. Each heartbeat is inserted and advances
 * workers.last_seen_ms (never backwards). All or nothing; 0 ok, -1 with err. */
int store_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                char *err, size_t errlen);

/* node_runs bookkeeping (writer thread). */
int store_run_begin(store *s, int64_t now_ms, int64_t *run_id);
int store_run_alive(store *s, int64_t run_id, int64_t now_ms);
int store_run_end(store *s, int64_t run_id, int64_t now_ms);
/* The latest run of this node before run `before_id` (0 = latest of all).
 * Returns 0 and fills out, 1 when there is none, -1 on error. */
int store_last_run(store *s, int64_t before_id, store_run *out);

/* Retention: delete at most `limit` rows of `table` ("heartbeats" or
 * "events") older than before_ms, oldest first. For heartbeats "oldest"
 * means first arrived (they arrive in time order; no time index is kept):
 * only the `limit` first-arrived rows are looked at, so each call is
 * bounded. Returns rows deleted, -1 on error. */
int64_t store_prune(store *s, const char *table, int64_t before_ms, int limit);

/* Boot: every group, and every worker with its open session (any node). */
int store_load_groups(store *s, int (*cb)(void *ctx, const store_group *g), void *ctx);
int store_load_workers(store *s, int (*cb)(void *ctx, const store_worker *w), void *ctx);

/* Reads. Return 0 (or rows seen for list calls), -1 on error. */
int store_list_workers(store *s, const store_worker_query *q,
                       int (*cb)(void *ctx, const store_worker *w), void *ctx);
/* 0 found, 1 not found, -1 error. */
int store_get_worker(store *s, const char *worker_id, store_worker *out);
/* Newest first; before_opened_ms > 0 is a cursor. */
int store_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                        int (*cb)(void *ctx, const store_session *x), void *ctx);
/* Oldest first within [from_ms, to_ms). */
int store_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                          int limit, int (*cb)(void *ctx, const store_hb *h), void *ctx);
int store_list_events(store *s, const store_event_query *q,
                      int (*cb)(void *ctx, const store_event *e), void *ctx);

/* --- backends ---------------------------------------------------------- */

/* What a backend implements; store.c dispatches to it. */
typedef struct store_backend {
    const char *name;
    void (*close)(store *s);
    int (*ping)(store *s);
    int (*apply)(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                 char *err, size_t errlen);
    int (*run_begin)(store *s, int64_t now_ms, int64_t *run_id);
    int (*run_alive)(store *s, int64_t run_id, int64_t now_ms);
    int (*run_end)(store *s, int64_t run_id, int64_t now_ms);
    int (*last_run)(store *s, int64_t before_id, store_run *out);
    int64_t (*prune)(store *s, const char *table, int64_t before_ms, int limit);
    int (*load_groups)(store *s, int (*cb)(void *, const store_group *), void *ctx);
    int (*load_workers)(store *s, int (*cb)(void *, const store_worker *), void *ctx);
    int (*list_workers)(store *s, const store_worker_query *q,
                        int (*cb)(void *, const store_worker *), void *ctx);
    int (*get_worker)(store *s, const char *worker_id, store_worker *out);
    int (*list_sessions)(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                         int (*cb)(void *, const store_session *), void *ctx);
    int (*list_heartbeats)(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                           int limit, int (*cb)(void *, const store_hb *), void *ctx);
    int (*list_events)(store *s, const store_event_query *q, int (*cb)(void *, const store_event *),
                       void *ctx);
} store_backend;

/* Format an error into err (NULL or 0 length: nothing), for backends. */
void store_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every backend's handle starts with this. */
struct store {
    const store_backend *be;
    char node_id[STORE_NODE_MAX + 1];
};

/* SQLite backend constructor (sqlite.c): path to the database file. */
store *store_sqlite_open(const char *path, const char *node_id, char *err, size_t errlen);

#endif
