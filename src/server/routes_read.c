/*
 * routes_read: the admin side. Live state (state, last heartbeat, phi, the
 * latest samples) comes from the registry; lists, history and anything
 * older come from the store. A worker list is paged by the store's index on
 * worker_id (so a million workers page as cheaply as ten) and each row is
 * then overlaid with the registry's live view, which is never behind.
 * The store lags the registry by at most one flush interval.
 */
#include "server/http.h"
#include "server/sink.h"

#include "core/hb.h"
#include "core/qry.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define HB_PAGE_DEFAULT 1000
#define HB_PAGE_MAX 10000
#define HB_RANGE_DEFAULT_MS 3600000 /* heartbeats: last hour unless told */

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s && s[0])
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

/* Samples are kept as floats; print them as the 6 digits they carry, not as
 * binary noise (0.31, not 0.31000000238418579). */
static double tidy(float v)
{
    return round((double)v * 1e6) / 1e6;
}

static cJSON *samples_json(const store_hb *h)
{
    cJSON *o = cJSON_CreateObject();
    struct {
        uint32_t bit;
        const char *key;
        double v;
    } f[] = {{HB_HAS_SEQ, "seq", (double)h->seq},
             {HB_HAS_CPU, "cpu", tidy(h->cpu)},
             {HB_HAS_MEM, "mem", tidy(h->mem)},
             {HB_HAS_MEM_AVAIL, "mem_available_gb", tidy(h->mem_available_gb)},
             {HB_HAS_GPU_MEM, "gpu_mem_active_gb", tidy(h->gpu_mem_active_gb)},
             {HB_HAS_BACKLOG, "backlog", (double)h->backlog},
             {HB_HAS_CAPACITY, "capacity", (double)h->capacity},
             {HB_HAS_IN_FLIGHT, "in_flight", (double)h->in_flight},
             {HB_HAS_REQUESTS, "requests", (double)h->requests},
             {HB_HAS_TOKENS, "tokens", (double)h->tokens},
             {HB_HAS_CPU_TICKS, "cpu_ticks", (double)h->cpu_ticks}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (h->has & f[i].bit) cJSON_AddNumberToObject(o, f[i].key, f[i].v);
    if (h->has & HB_HAS_THERMAL) cJSON_AddStringToObject(o, "thermal", hb_thermal_name(h->thermal));
    if (h->has & HB_HAS_STATUS) cJSON_AddStringToObject(o, "status", h->status);
    return o;
}

/* One worker: its live view v, plus first_seen from its stored row w (may be
 * NULL: not flushed yet). */
cJSON *json_worker(const store_worker *w, const reg_view *v, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "worker_id", v->last.worker_id);
    add_str_or_null(o, "group", v->last.group);
    add_str_or_null(o, "instance", v->last.instance);
    cJSON_AddStringToObject(o, "state", reg_wstate_name(v->state));
    http_add_time(o, "state_since", v->state_since_ms);
    http_add_time(o, "last_heartbeat", v->last_hb_ms);
    if (v->last_hb_ms > 0)
        cJSON_AddNumberToObject(o, "age_s", (double)(now - v->last_hb_ms) / 1000.0);
    else
        cJSON_AddNullToObject(o, "age_s");
    cJSON_AddNumberToObject(o, "ttl_s", v->ttl_s);
    http_add_time(o, "session_opened", v->opened_ms);
    http_add_time(o, "first_seen", w ? w->first_seen_ms : 0);
    cJSON_AddNumberToObject(o, "phi", round(v->phi * 100) / 100);
    store_hb h;
    store_hb_from_msg(&h, &v->last, v->last_hb_ms);
    cJSON_AddItemToObject(o, "samples", samples_json(&h));
    return o;
}

typedef struct list_ctx {
    app *a;
    cJSON *arr;
    int n, limit;
    int64_t now;
    char last_id[HB_ID_MAX + 1];
    int64_t last_ms;
    int64_t skip;    /* heartbeats: rows at the cursor's time already shown on earlier pages */
    int64_t same_ts; /* heartbeats: rows shown here with ts == last_ms */
} list_ctx;

static int worker_row(void *ctx, const store_worker *w)
{
    list_ctx *c = ctx;
    if (c->n++ >= c->limit) return 1; /* the extra row only says "there is more" */
    reg_view v;
    snprintf(c->last_id, sizeof c->last_id, "%s", w->worker_id);
    /* The registry says who exists: a row it lacks was just forgotten and
     * the store has not caught up yet. */
    if (reg_get(c->a->reg, w->worker_id, c->now, &v))
        cJSON_AddItemToArray(c->arr, json_worker(w, &v, c->now));
    return 0;
}

static bool page_limit(req *r, int64_t def, int64_t max, int *out, enum MHD_Result *res)
{
    int64_t l = def;
    if (!http_query_int(r, "limit", 1, max, &l, res)) return false;
    *out = (int)l;
    return true;
}

enum MHD_Result route_workers(app *a, req *r)
{
    enum MHD_Result res;
    store_worker_query q = {.state = -1, .after_id = http_query(r, "cursor")};
    if (!page_limit(r, PAGE_DEFAULT, PAGE_MAX, &q.limit, &res) ||
        !http_query_id(r, "group", &q.group, &res))
        return res;
    const char *st = http_query(r, "state");
    if (st && (q.state = reg_wstate_parse(st)) < 0)
        return http_error(r, 400, "state", "must be alive, suspect, dead, left or evicted");
    if (q.after_id && !hb_id_valid(q.after_id, strlen(q.after_id)))
        return http_error(r, 400, "cursor", "is not a cursor this API gave out");
    list_ctx c = {.a = a, .arr = cJSON_CreateArray(), .limit = q.limit, .now = app_now_ms()};
    q.limit++;
    if (store_list_workers(a->store, &q, worker_row, &c) < 0) {
        cJSON_Delete(c.arr);
        return http_error(r, 503, "store", "cannot read workers");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "workers", c.arr);
    add_str_or_null(doc, "next_cursor", c.n > c.limit ? c.last_id : NULL);
    return http_cjson(r, 200, doc);
}

static cJSON *session_json(const store_session *x, const reg_view *v, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "worker_id", x->worker_id);
    add_str_or_null(o, "group", x->group);
    add_str_or_null(o, "instance", x->instance);
    cJSON_AddStringToObject(o, "node_id", x->node_id);
    http_add_time(o, "opened", x->opened_ms);
    http_add_time(o, "closed", x->closed_ms);
    bool open = x->closed_ms == 0;
    int64_t last = x->last_hb_ms;
    /* The store's last heartbeat of an open session lags; the registry's does not. */
    if (open && v && v->opened_ms == x->opened_ms) last = v->last_hb_ms;
    cJSON_AddBoolToObject(o, "open", open);
    cJSON_AddNumberToObject(o, "duration_s",
                            (double)((open ? now : x->closed_ms) - x->opened_ms) / 1000.0);
    add_str_or_null(o, "reason", open ? NULL : reg_reason_name(x->reason));
    if (x->has_exit_code)
        cJSON_AddNumberToObject(o, "exit_code", x->exit_code);
    else
        cJSON_AddNullToObject(o, "exit_code");
    http_add_time(o, "last_heartbeat", last);
    if (x->has_requests) cJSON_AddNumberToObject(o, "requests", (double)x->requests);
    if (x->has_tokens) cJSON_AddNumberToObject(o, "tokens", (double)x->tokens);
    cJSON_AddNumberToObject(o, "ttl_s", x->ttl_s);
    return o;
}

typedef struct sess_ctx {
    list_ctx l;
    reg_view v;
    bool live;
} sess_ctx;

static int session_row(void *ctx, const store_session *x)
{
    sess_ctx *c = ctx;
    if (c->l.n++ >= c->l.limit) return 1;
    cJSON_AddItemToArray(c->l.arr, session_json(x, c->live ? &c->v : NULL, c->l.now));
    c->l.last_ms = x->opened_ms;
    return 0;
}

static int hb_row(void *ctx, const store_hb *h)
{
    list_ctx *c = ctx;
    if (c->skip > 0 && c->n == 0 && h->ts_ms == c->last_ms) {
        c->skip--; /* shown on an earlier page */
        c->same_ts++;
        return 0;
    }
    if (c->n++ >= c->limit) return 1;
    c->same_ts = h->ts_ms == c->last_ms ? c->same_ts + 1 : 1;
    cJSON *o = samples_json(h);
    char buf[TFMT_ISO_LEN];
    cJSON_AddStringToObject(o, "ts", tfmt_iso(h->ts_ms, buf));
    if (h->ttl_s) cJSON_AddNumberToObject(o, "ttl_s", h->ttl_s);
    cJSON_AddItemToArray(c->arr, o);
    c->last_ms = h->ts_ms;
    return 0;
}

static enum MHD_Result worker_sessions(app *a, req *r, const char *id)
{
    enum MHD_Result res;
    int64_t before = 0;
    sess_ctx c = {.l = {.a = a, .now = app_now_ms()}};
    if (!page_limit(r, PAGE_DEFAULT, PAGE_MAX, &c.l.limit, &res)) return res;
    if (!http_query_time(r, "before", &before, &res)) return res;
    c.live = reg_get(a->reg, id, c.l.now, &c.v);
    c.l.arr = cJSON_CreateArray();
    if (store_list_sessions(a->store, id, before, c.l.limit + 1, session_row, &c) < 0) {
        cJSON_Delete(c.l.arr);
        return http_error(r, 503, "store", "cannot read sessions");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "worker_id", id);
    cJSON_AddItemToObject(doc, "sessions", c.l.arr);
    if (c.l.n > c.l.limit)
        http_add_time(doc, "next_cursor", c.l.last_ms);
    else
        cJSON_AddNullToObject(doc, "next_cursor");
    return http_cjson(r, 200, doc);
}

/* Raw heartbeats page by "T:k": from time T on, after the first k rows at T
 * (several samples can share a millisecond, so T alone would skip some). */
static enum MHD_Result worker_heartbeats(app *a, req *r, const char *id)
{
    const char *resol = http_query(r, "resolution");
    if (resol && strcmp(resol, "hour") == 0) return route_worker_hourly(a, r, id);
    if (resol && strcmp(resol, "raw") != 0)
        return http_error(r, 400, "resolution", "must be raw or hour");
    enum MHD_Result res;
    list_ctx c = {.a = a, .now = app_now_ms()};
    int64_t from = c.now - HB_RANGE_DEFAULT_MS, to = c.now + 1;
    if (!page_limit(r, HB_PAGE_DEFAULT, HB_PAGE_MAX, &c.limit, &res)) return res;
    if (!http_query_time(r, "from", &from, &res) || !http_query_time(r, "to", &to, &res))
        return res;
    const char *cur = http_query(r, "cursor");
    if (cur) {
        int64_t t, k;
        if (qry_cursor(cur, HB_PAGE_MAX * 1000LL, &t, &k) != 0)
            return http_error(r, 400, "cursor", "is not a cursor this API gave out");
        from = t;
        c.skip = k;
        c.last_ms = t;
    }
    if (from >= to) return http_error(r, 400, "from", "must be before to");
    c.arr = cJSON_CreateArray();
    if (store_list_heartbeats(a->store, id, from, to, (int)(c.limit + 1 + c.skip), hb_row, &c) <
        0) {
        cJSON_Delete(c.arr);
        return http_error(r, 503, "store", "cannot read heartbeats");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "worker_id", id);
    cJSON_AddStringToObject(doc, "resolution", "raw");
    cJSON_AddItemToObject(doc, "heartbeats", c.arr);
    if (c.n > c.limit) {
        char next[64];
        snprintf(next, sizeof next, "%lld:%lld", (long long)c.last_ms, (long long)c.same_ts);
        cJSON_AddStringToObject(doc, "next_cursor", next);
    } else {
        cJSON_AddNullToObject(doc, "next_cursor");
    }
    return http_cjson(r, 200, doc);
}

static enum MHD_Result unknown_worker(req *r)
{
    return http_error(r, 404, "worker_id", "unknown worker");
}

enum MHD_Result route_worker(app *a, req *r, const char *id, const char *sub)
{
    int64_t now = app_now_ms();
    if (!*sub) {
        if (r->method == HTTP_DELETE) {
            if (reg_forget(a->reg, id, now) != 0) return unknown_worker(r);
            rollup_forget(a, id);
            ifl_del(a->ifl, id);
            char body[256];
            int n = snprintf(body, sizeof body, "{\"ok\":true,\"forgotten\":\"%s\"}", id);
            return http_json(r, 200, body, (size_t)n);
        }
        if (!(r->method & (HTTP_GET | HTTP_HEAD)))
            return http_error(r, 405, "method", "this endpoint takes GET, DELETE");
        reg_view v;
        store_worker w;
        if (!reg_get(a->reg, id, now, &v)) return unknown_worker(r); /* the registry knows all */
        int sr = store_get_worker(a->store, id, &w); /* first_seen; lags by a flush */
        cJSON *doc = json_worker(sr == 0 ? &w : NULL, &v, now);
        char jobs[HB_JOBS_BYTES + 1];
        ifl_get(a->ifl, id, jobs, sizeof jobs);
        cJSON_AddItemToObject(doc, "jobs", sink_fmt_jobs(jobs));
        return http_cjson(r, 200, doc);
    }
    if (strcmp(sub, "sessions") == 0 || strcmp(sub, "heartbeats") == 0) {
        if (!(r->method & (HTTP_GET | HTTP_HEAD)))
            return http_error(r, 405, "method", "this endpoint takes GET");
        return sub[0] == 's' ? worker_sessions(a, r, id) : worker_heartbeats(a, r, id);
    }
    if (strcmp(sub, "liveness") == 0 || strcmp(sub, "sessions.csv") == 0) {
        if (!(r->method & (HTTP_GET | HTTP_HEAD)))
            return http_error(r, 405, "method", "this endpoint takes GET");
        return sub[0] == 'l' ? route_worker_liveness(a, r, id)
                             : route_worker_sessions_csv(a, r, id);
    }
    if (strcmp(sub, "evict") == 0) {
        if (r->method != HTTP_POST) return http_error(r, 405, "method", "this endpoint takes POST");
        if (reg_evict(a->reg, id, now) != 0) return unknown_worker(r);
        static const char ok[] = "{\"ok\":true,\"state\":\"evicted\"}";
        return http_json(r, 200, ok, sizeof ok - 1);
    }
    return http_error(r, 404, "path", "no such endpoint");
}

cJSON *json_group(const reg_group_view *g)
{
    cJSON *o = cJSON_CreateObject(), *ws = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "group", g->name);
    cJSON_AddStringToObject(o, "state", reg_gstate_name(g->state));
    http_add_time(o, "state_since", g->state_since_ms);
    if (g->ttl_s)
        cJSON_AddNumberToObject(o, "ttl_s", g->ttl_s);
    else
        cJSON_AddNullToObject(o, "ttl_s");
    uint32_t total = 0;
    for (int s = REG_W_ALIVE; s < REG_W__COUNT; s++) {
        cJSON_AddNumberToObject(ws, reg_wstate_name(s), g->count[s]);
        total += g->count[s];
    }
    cJSON_AddItemToObject(o, "workers", ws);
    cJSON_AddNumberToObject(o, "total", total);
    return o;
}

static void group_row(void *ctx, const reg_group_view *g)
{
    cJSON_AddItemToArray(ctx, json_group(g));
}

enum MHD_Result route_groups(app *a, req *r)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "groups");
    reg_groups(a->reg, group_row, arr);
    return http_cjson(r, 200, doc);
}

cJSON *json_event(const store_event *e)
{
    cJSON *o = cJSON_CreateObject();
    if (e->id)
        cJSON_AddNumberToObject(o, "id", (double)e->id);
    else
        cJSON_AddNullToObject(o, "id"); /* not stored yet (the live stream) */
    http_add_time(o, "ts", e->ts_ms);
    cJSON_AddStringToObject(o, "type", e->type);
    add_str_or_null(o, "worker_id", e->worker_id);
    add_str_or_null(o, "group", e->group);
    add_str_or_null(o, "instance", e->instance);
    add_str_or_null(o, "state", e->state);
    add_str_or_null(o, "prev_state", e->prev_state);
    add_str_or_null(o, "reason", reg_reason_name(e->reason));
    if (e->has_exit_code) cJSON_AddNumberToObject(o, "exit_code", e->exit_code);
    if (e->opened_ms) http_add_time(o, "session_opened", e->opened_ms);
    cJSON_AddStringToObject(o, "node_id", e->node_id);
    /* Alert events: rule, alert_type, severity, since_ms, as stored. */
    cJSON *d = e->detail[0] ? cJSON_Parse(e->detail) : NULL;
    for (cJSON *f = d ? d->child : NULL, *nx; f; f = nx) {
        nx = f->next;
        cJSON_AddItemToObject(o, f->string, cJSON_DetachItemViaPointer(d, f));
    }
    cJSON_Delete(d);
    return o;
}

static int event_row(void *ctx, const store_event *e)
{
    list_ctx *c = ctx;
    if (c->n++ >= c->limit) return 1;
    cJSON_AddItemToArray(c->arr, json_event(e));
    c->last_ms = e->id;
    return 0;
}

enum MHD_Result route_events(app *a, req *r)
{
    enum MHD_Result res;
    store_event_query q = {.type = http_query(r, "type")};
    list_ctx c = {.a = a, .now = app_now_ms()};
    /* A bad id or type could match nothing, and an empty page would say
     * "no such events" where the truth is "not a question we understand". */
    if (!http_query_id(r, "worker_id", &q.worker_id, &res) ||
        !http_query_id(r, "group", &q.group, &res))
        return res;
    if (q.type && (!q.type[0] || strlen(q.type) > 31 ||
                   strspn(q.type, "abcdefghijklmnopqrstuvwxyz_") != strlen(q.type)))
        return http_error(r, 400, "type",
                          "must be an event type (session_opened, worker_dead, ...)");
    if (!page_limit(r, PAGE_DEFAULT, PAGE_MAX, &c.limit, &res)) return res;
    if (!http_query_int(r, "after_id", 0, INT64_MAX, &q.after_id, &res) ||
        !http_query_int(r, "before_id", 0, INT64_MAX, &q.before_id, &res) ||
        !http_query_time(r, "from", &q.from_ms, &res) || !http_query_time(r, "to", &q.to_ms, &res))
        return res;
    q.limit = c.limit + 1;
    c.arr = cJSON_CreateArray();
    if (store_list_events(a->store, &q, event_row, &c) < 0) {
        cJSON_Delete(c.arr);
        return http_error(r, 503, "store", "cannot read events");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "events", c.arr);
    /* Ascending pages continue with after_id, descending ones with before_id. */
    if (c.n > c.limit)
        cJSON_AddNumberToObject(doc, q.after_id ? "next_after_id" : "next_before_id",
                                (double)c.last_ms);
    return http_cjson(r, 200, doc);
}

enum MHD_Result route_healthz(app *a, req *r)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"ok\",\"version\":\"%s\",\"node_id\":\"%s\",\"uptime_s\":%.3f}",
                     VIGIL_VERSION, a->cfg.node_id, (double)(app_now_ms() - a->boot_ms) / 1000.0);
    return http_json(r, 200, body, (size_t)n);
}

enum MHD_Result route_readyz(app *a, req *r)
{
    bool store_up = store_ping(a->store) == 0 && atomic_load(&a->store_ok);
    bool writer_up = app_now_ms() - atomic_load(&a->writer_alive_ms) < APP_WRITER_STALE_MS;
    wq_stats st;
    wq_get_stats(a->wq, &st);
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"store\":\"%s\",\"writer\":\"%s\",\"queue_depth\":%zu,"
                     "\"spilled\":%llu,\"dropped\":%llu}",
                     store_up && writer_up ? "ready" : "not_ready", store_up ? "ok" : "down",
                     writer_up ? "ok" : "stalled", st.hb_depth + st.ev_depth,
                     (unsigned long long)st.spilled, (unsigned long long)st.hb_dropped);
    return http_json(r, store_up && writer_up ? 200 : 503, body, (size_t)n);
}
