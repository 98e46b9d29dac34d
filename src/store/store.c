/*
 * store: the backend-independent half of store.h.
 *
 * store_open picks a backend from the URL; every other store_* call is a thin
 * dispatch through the handle's `store_backend` table, so callers never know
 * (or #ifdef on) which database they talk to, and a new backend is one
 * constructor plus one table. Arguments are checked here once, not in every
 * backend.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

store *store_open(const char *url, const char *node_id, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!url || !*url) {
        err_set(err, errlen, "store: empty database url");
        return NULL;
    }
    if (!node_id) node_id = "";
    if (strlen(node_id) > STORE_NODE_MAX) {
        err_set(err, errlen, "store: node_id longer than %d bytes", STORE_NODE_MAX);
        return NULL;
    }
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
        return store_pg_open(url, node_id, err, errlen);
    /* "sqlite:PATH" or a bare path; PATH is taken verbatim (no URL decoding),
     * so any file name the shell can type works. */
    const char *path = has_prefix(url, "sqlite:") ? url + strlen("sqlite:") : url;
    if (!*path) {
        err_set(err, errlen, "store: empty sqlite path in '%s'", url);
        return NULL;
    }
    /* The reader and the writer are two connections to one file: a private
     * in-memory database would be two unrelated databases. */
    if (strcmp(path, ":memory:") == 0) {
        err_set(err, errlen, "store: sqlite needs a plain file path, not '%s'", path);
        return NULL;
    }
    return store_sqlite_open(path, node_id, err, errlen);
}

void store_close(store *s)
{
    if (s) s->be->close(s);
}

const char *store_backend_name(const store *s)
{
    return s ? s->be->name : "";
}

bool store_shared(const store *s)
{
    return s && s->be->shared;
}

int store_ping(store *s)
{
    return s ? s->be->ping(s) : -1;
}

int store_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                char *err, size_t errlen)
{
    if (!s || (nev && !evs) || (nhb && !hbs)) {
        err_set(err, errlen, "store_apply: bad arguments");
        return -1;
    }
    if (nev == 0 && nhb == 0) return 0;
    return s->be->apply(s, evs, nev, hbs, nhb, err, errlen);
}

int store_run_begin(store *s, int64_t now_ms, int64_t *run_id)
{
    return s && run_id ? s->be->run_begin(s, now_ms, run_id) : -1;
}

int store_run_alive(store *s, int64_t run_id, int64_t now_ms)
{
    return s ? s->be->run_alive(s, run_id, now_ms) : -1;
}

int store_run_end(store *s, int64_t run_id, int64_t now_ms)
{
    return s ? s->be->run_end(s, run_id, now_ms) : -1;
}

int store_last_run(store *s, int64_t before_id, store_run *out)
{
    return s && out ? s->be->last_run(s, before_id, out) : -1;
}

int64_t store_prune(store *s, const char *table, int64_t before_ms, int limit)
{
    return s && table ? s->be->prune(s, table, before_ms, limit) : -1;
}

int store_load_groups(store *s, int (*cb)(void *ctx, const store_group *g), void *ctx)
{
    return s && cb ? s->be->load_groups(s, cb, ctx) : -1;
}

int store_load_workers(store *s, int (*cb)(void *ctx, const store_worker *w), void *ctx)
{
    return s && cb ? s->be->load_workers(s, cb, ctx) : -1;
}

int store_list_workers(store *s, const store_worker_query *q,
                       int (*cb)(void *ctx, const store_worker *w), void *ctx)
{
    static const store_worker_query all = {.state = -1};
    return s && cb ? s->be->list_workers(s, q ? q : &all, cb, ctx) : -1;
}

int store_get_worker(store *s, const char *worker_id, store_worker *out)
{
    return s && worker_id && out ? s->be->get_worker(s, worker_id, out) : -1;
}

int store_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                        int (*cb)(void *ctx, const store_session *x), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_sessions(s, worker_id, before_opened_ms, limit, cb, ctx);
}

int store_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                          int limit, int (*cb)(void *ctx, const store_hb *h), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_heartbeats(s, worker_id, from_ms, to_ms, limit, cb, ctx);
}

int store_list_events(store *s, const store_event_query *q,
                      int (*cb)(void *ctx, const store_event *e), void *ctx)
{
    static const store_event_query all = {0};
    return s && cb ? s->be->list_events(s, q ? q : &all, cb, ctx) : -1;
}

int store_rel_scan(store *s, int64_t from_ms, int (*cb)(void *ctx, const store_rel_worker *w),
                   void *ctx)
{
    return s && cb ? s->be->rel_scan(s, from_ms, cb, ctx) : -1;
}

int store_rel_put(store *s, const store_rel_row *rows, size_t n)
{
    if (!s || (n && !rows)) return -1;
    return n ? s->be->rel_put(s, rows, n) : 0;
}

int store_rel_load(store *s, int (*cb)(void *ctx, const store_rel_row *r), void *ctx)
{
    return s && cb ? s->be->rel_load(s, cb, ctx) : -1;
}

int64_t store_hourly_rollup(store *s, int64_t max_rows)
{
    return s && max_rows > 0 ? s->be->hourly_rollup(s, max_rows) : -1;
}

int store_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                      int (*cb)(void *ctx, const store_hourly *h), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_hourly(s, worker_id, from_ms, to_ms, limit, cb, ctx);
}

int store_tasks_put(store *s, const tlat_row *rows, size_t n)
{
    if (!s || (n && !rows)) return -1;
    return n ? s->be->tasks_put(s, rows, n) : 0;
}

int store_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                     int (*cb)(void *ctx, const tlat_row *r), void *ctx)
{
    return s && cb ? s->be->list_tasks(s, group, from_ms, to_ms, limit, cb, ctx) : -1;
}

int store_list_runs(store *s, int (*cb)(void *ctx, const store_run *r), void *ctx)
{
    return s && cb ? s->be->list_runs(s, cb, ctx) : -1;
}

int store_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                          size_t *skipped, size_t *bad, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!s || (n && !rows) || !inserted || !skipped || !bad) return -1;
    *inserted = *skipped = *bad = 0;
    return n ? s->be->import_sessions(s, rows, n, now_ms, inserted, skipped, bad, err, errlen) : 0;
}

/* Bounded copy: hb.h already validated the lengths, this only guards. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t k = strnlen(src, n - 1);
    memcpy(dst, src, k);
    dst[k] = '\0';
}

/* The sample bits a store_hb carries; group/instance/exit_code live elsewhere
 * (workers, sessions), so their bits would only mislead a reader. */
#define STORE_HB_BITS                                                                              \
    (HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS | HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL |        \
     HB_HAS_GPU_MEM | HB_HAS_THERMAL | HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT |       \
     HB_HAS_REQUESTS | HB_HAS_TOKENS | HB_HAS_CPU_TICKS)

void store_hb_from_msg(store_hb *h, const hb_msg *m, int64_t ts_ms)
{
    memset(h, 0, sizeof *h);
    h->ts_ms = ts_ms;
    h->has = m->has & STORE_HB_BITS;
    /* Absent fields are zeroed rather than copied, so two store_hb of the
     * same heartbeat compare equal whatever the parser left behind. */
    if (h->has & HB_HAS_SEQ) h->seq = m->seq;
    if (h->has & HB_HAS_TTL) h->ttl_s = m->ttl_s;
    if (h->has & HB_HAS_THERMAL) h->thermal = m->thermal;
    if (h->has & HB_HAS_CPU) h->cpu = (float)m->cpu;
    if (h->has & HB_HAS_MEM) h->mem = (float)m->mem;
    if (h->has & HB_HAS_MEM_AVAIL) h->mem_available_gb = (float)m->mem_available_gb;
    if (h->has & HB_HAS_GPU_MEM) h->gpu_mem_active_gb = (float)m->gpu_mem_active_gb;
    if (h->has & HB_HAS_BACKLOG) h->backlog = m->backlog;
    if (h->has & HB_HAS_CAPACITY) h->capacity = m->capacity;
    if (h->has & HB_HAS_IN_FLIGHT) h->in_flight = m->in_flight;
    if (h->has & HB_HAS_REQUESTS) h->requests = m->requests;
    if (h->has & HB_HAS_TOKENS) h->tokens = m->tokens;
    if (h->has & HB_HAS_CPU_TICKS) h->cpu_ticks = m->cpu_ticks;
    copy_str(h->worker_id, sizeof h->worker_id, m->worker_id);
    if (h->has & HB_HAS_STATUS) copy_str(h->status, sizeof h->status, m->status);
}

/* By worker, then arrival order (the array index, via the address). */
static int hb_cmp(const void *a, const void *b)
{
    const store_hb *x = *(const store_hb *const *)a, *y = *(const store_hb *const *)b;
    int c = strcmp(x->worker_id, y->worker_id);
    return c ? c : (x > y) - (x < y);
}

const store_hb **store_hb_sorted(const store_hb *hbs, size_t n)
{
    const store_hb **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = &hbs[i];
    qsort(v, n, sizeof *v, hb_cmp);
    return v;
}

size_t store_hb_run(const store_hb *const *v, size_t n, size_t i, int64_t *last_ms, int32_t *ttl_s)
{
    size_t j = i;
    *last_ms = v[i]->ts_ms;
    *ttl_s = 0;
    for (; j < n && strcmp(v[j]->worker_id, v[i]->worker_id) == 0; j++) {
        if (v[j]->ts_ms > *last_ms) *last_ms = v[j]->ts_ms;
        if ((v[j]->has & HB_HAS_TTL) && v[j]->ttl_s > 0) *ttl_s = v[j]->ttl_s;
    }
    return j;
}

bool store_forgotten_in(const reg_event *evs, size_t nev, const char *worker_id)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == REG_EV_WORKER_FORGET && strcmp(evs[i].worker_id, worker_id) == 0)
            return true;
    return false;
}
