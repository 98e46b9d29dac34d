/*
 * routes_rel_worker: one worker's analytics: its liveness figures computed
 * fresh (GET /v1/workers/{id}/liveness), its sessions as CSV, and its hourly
 * heartbeat rollup (GET /v1/workers/{id}/heartbeats?resolution=hour).
 *
 * Liveness is exact at the moment asked: the store's sessions plus, when the
 * store is a flush behind, the open session the registry already knows.
 */
#include "server/http.h"

#include "core/tfmt.h"
#include "core/vec.h"
#include "server/tbuf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVENESS_MAX_SESSIONS 100000 /* sessions read for one worker's figures */
#define SURVIVAL_POINTS_MAX 200      /* Kaplan–Meier steps listed (evenly thinned past it) */
#define EXPORT_MAX_SESSIONS 1000000  /* rows in one sessions.csv */
#define HOURLY_RANGE_DEFAULT_MS (7LL * 86400000)
#define HOURLY_LIMIT_DEFAULT 1000
#define HOURLY_LIMIT_MAX 10000

static const char *const DAY_NAMES[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static enum MHD_Result unknown(req *r)
{
    return http_error(r, 404, "worker_id", "unknown worker");
}

typedef struct live_ctx {
    rel_session *s;
    size_t n, cap;
    int64_t from;
    bool oom;
} live_ctx;

static int on_session(void *ctx, const store_session *x)
{
    live_ctx *c = ctx;
    if (x->closed_ms && x->closed_ms < c->from) return 0; /* ended before the window */
    void *grown = vec_grow(c->s, &c->cap, c->n + 1, sizeof *c->s, 64);
    if (!grown) {
        c->oom = true;
        return 1;
    }
    c->s = grown;
    c->s[c->n++] = (rel_session){.opened_ms = x->opened_ms,
                                 .closed_ms = x->closed_ms,
                                 .last_hb_ms = x->last_hb_ms,
                                 .reason = (uint8_t)x->reason,
                                 .imported = strcmp(x->node_id, STORE_IMPORT_NODE) == 0};
    return 0;
}

static void survival_json(tbuf *b, const rel_km_step *km, size_t n, double t_max)
{
    tbuf_jkey(b, "survival", false);
    tbuf_put(b, "[", 1);
    size_t step = n > SURVIVAL_POINTS_MAX ? (n + SURVIVAL_POINTS_MAX - 1) / SURVIVAL_POINTS_MAX : 1;
    for (size_t i = 0; i < n; i += step) {
        /* Thinning keeps the last step of each stride: the curve's lower envelope. */
        size_t k = i + step - 1 < n ? i + step - 1 : n - 1;
        tbuf_puts(b, i ? ",{\"t_s\":" : "{\"t_s\":");
        tbuf_fixed(b, km[k].t_s, 3, "null");
        tbuf_puts(b, ",\"p\":");
        tbuf_fixed(b, km[k].s, 6, "null");
        tbuf_put(b, "}", 1);
    }
    tbuf_put(b, "]", 1);
    tbuf_jkey(b, "survival_t_max_s", false);
    tbuf_fixed(b, t_max, 3, "null");
}

static void hourly_json(tbuf *b, double h[7][24])
{
    tbuf_jkey(b, "hourly_availability", false);
    tbuf_puts(b, "{\"days\":[");
    for (int d = 0; d < 7; d++) {
        if (d) tbuf_put(b, ",", 1);
        tbuf_jstr(b, DAY_NAMES[d]);
    }
    tbuf_puts(b, "],\"matrix\":[");
    for (int d = 0; d < 7; d++) {
        tbuf_put(b, d ? ",[" : "[", d ? 2 : 1);
        for (int k = 0; k < 24; k++) {
            if (k) tbuf_put(b, ",", 1);
            tbuf_fixed(b, h[d][k], 6, "null");
        }
        tbuf_put(b, "]", 1);
    }
    tbuf_puts(b, "]}");
}

enum MHD_Result route_worker_liveness(app *a, req *r, const char *id)
{
    enum MHD_Result res;
    int64_t now = app_now_ms(), window = (int64_t)a->cfg.window_days * 86400000LL, stays = 0;
    if (!http_query_duration(r, "stays_for", &stays, &res)) return res;
    store_worker w;
    reg_view v;
    int sr = store_get_worker(a->store, id, &w);
    bool live = reg_get(a->reg, id, now, &v);
    if (sr < 0) return http_error(r, 503, "store", "cannot read the worker");
    if (sr == 1 && !live) return unknown(r);
    live_ctx c = {.from = now - window};
    if (store_list_sessions(a->store, id, 0, LIVENESS_MAX_SESSIONS, on_session, &c) < 0 || c.oom) {
        free(c.s);
        return http_error(r, 503, "store", "cannot read sessions");
    }
    /* The registry may know an open session the writer has not stored yet. */
    bool have_open = false;
    for (size_t i = 0; i < c.n; i++)
        if (live && c.s[i].opened_ms == v.opened_ms) have_open = true;
    if (live && v.opened_ms && !have_open) {
        on_session(&c, &(store_session){.opened_ms = v.opened_ms, .last_hb_ms = v.last_hb_ms});
        if (c.oom) {
            free(c.s);
            return http_error(r, 503, "memory", "out of memory");
        }
    }
    rollup_prepare(c.s, c.n);
    rel_input in = {.s = c.s, .n = c.n, .now_ms = now, .window_ms = window};
    in.first_seen_ms = sr == 0 ? w.first_seen_ms : v.state_since_ms;
    rel_gap *gaps = NULL;
    size_t ngaps = 0;
    rel_work *wk = rel_work_new();
    rel_features f;
    const rel_km_step *km = NULL;
    size_t nkm = 0;
    double hourly[7][24];
    res = MHD_NO;
    if (!wk || rollup_gaps(a, now, &gaps, &ngaps, &in.first_run_ms) != 0) {
        res = http_error(r, 503, "store", "cannot read vigild's run history");
        goto out;
    }
    in.gaps = gaps;
    in.ngaps = ngaps;
    /* rel_hourly first: km points into the workspace until the next call. */
    if (rel_hourly(&in, wk, hourly) != 0 || rel_compute(&in, wk, &f, &km, &nkm) != 0) {
        res = http_error(r, 503, "memory", "out of memory");
        goto out;
    }
    tbuf b = {0};
    tbuf_puts(&b, "{");
    tbuf_jkey(&b, "worker_id", true);
    tbuf_jstr(&b, id);
    tbuf_jkey(&b, "group", false);
    tbuf_jstr(&b, sr == 0 ? w.group : v.last.group);
    tbuf_jtime(&b, "computed_at", now, false);
    tbuf_jkey(&b, "window_s", false);
    tbuf_fixed(&b, (double)window / 1000.0, 3, "null");
    double p = NAN;
    if (stays) {
        tbuf_jkey(&b, "stays_for_s", false);
        tbuf_fixed(&b, (double)stays / 1000.0, 3, "null");
        p = rel_p_stays(km, nkm, f.km_t_max_s, (double)stays / 1000.0); /* 0 with no sessions */
    }
    routes_features_json(&b, &f, p);
    tbuf_jtime(&b, "last_failure_at", f.last_failure_ms, false);
    survival_json(&b, km, nkm, f.km_t_max_s);
    hourly_json(&b, hourly);
    tbuf_puts(&b, "}");
    if (b.oom) {
        free(b.p);
        res = http_error(r, 503, "memory", "out of memory");
    } else {
        res = http_text(r, 200, "application/json", b.p, b.n);
    }
out:
    rel_work_free(wk);
    free(gaps);
    free(c.s);
    return res;
}

/* ---- GET /v1/workers/{id}/sessions.csv ---------------------------------------- */

/* The first seven columns are exactly what POST /v1/import/sessions takes, so
 * an export imports elsewhere as it is; the rest are informative. */
#define SESSIONS_CSV_HEAD                                                                          \
    "worker_id,group,instance,opened,closed,reason,exit_code,node_id,last_heartbeat,duration_s,"   \
    "requests,tokens\r\n"

typedef struct export_ctx {
    tbuf b;
    int64_t now;
} export_ctx;

static int export_row(void *ctx, const store_session *x)
{
    export_ctx *c = ctx;
    tbuf *b = &c->b;
    char t[32];
    tbuf_csv_field(b, x->worker_id, false);
    tbuf_csv_field(b, x->group, false);
    tbuf_csv_field(b, x->instance, false);
    tbuf_csv_time(b, x->opened_ms, false);
    tbuf_csv_time(b, x->closed_ms, false);
    tbuf_csv_field(b, x->closed_ms ? reg_reason_name(x->reason) : "", false);
    snprintf(t, sizeof t, "%d", (int)x->exit_code);
    tbuf_csv_field(b, x->has_exit_code ? t : "", false);
    tbuf_csv_field(b, x->node_id, false);
    tbuf_csv_time(b, x->last_hb_ms, false);
    int64_t end = x->closed_ms ? x->closed_ms : c->now;
    tbuf_csv_num(b, end > x->opened_ms ? (double)(end - x->opened_ms) / 1000.0 : 0, 3, false);
    snprintf(t, sizeof t, "%lld", (long long)x->requests);
    tbuf_csv_field(b, x->has_requests ? t : "", false);
    snprintf(t, sizeof t, "%lld", (long long)x->tokens);
    tbuf_csv_field(b, x->has_tokens ? t : "", true);
    return b->oom;
}

enum MHD_Result route_worker_sessions_csv(app *a, req *r, const char *id)
{
    store_worker w;
    reg_view v;
    export_ctx c = {.now = app_now_ms()};
    int sr = store_get_worker(a->store, id, &w);
    if (sr < 0) return http_error(r, 503, "store", "cannot read the worker");
    if (sr == 1 && !reg_get(a->reg, id, c.now, &v)) return unknown(r);
    tbuf_put(&c.b, SESSIONS_CSV_HEAD, sizeof SESSIONS_CSV_HEAD - 1);
    if (store_list_sessions(a->store, id, 0, EXPORT_MAX_SESSIONS, export_row, &c) < 0 || c.b.oom) {
        free(c.b.p);
        return http_error(r, 503, "store", "cannot read sessions");
    }
    return http_text(r, 200, "text/csv; charset=utf-8; header=present", c.b.p, c.b.n);
}

/* ---- GET /v1/workers/{id}/heartbeats?resolution=hour ----------------------------- */

typedef struct hourly_ctx {
    cJSON *arr;
    int64_t limit, n, last_hour;
} hourly_ctx;

static int hourly_row(void *ctx, const store_hourly *h)
{
    hourly_ctx *c = ctx;
    if (c->n++ >= c->limit) return 1;
    cJSON *o = cJSON_CreateObject();
    http_add_time(o, "hour", h->hour_ms);
    cJSON_AddNumberToObject(o, "count", (double)h->count);
    routes_add_frac(o, "cpu", h->has_cpu ? h->cpu : NAN);
    routes_add_frac(o, "mem", h->has_mem ? h->mem : NAN);
    routes_add_secs(o, "mem_available_gb", h->has_mem_available ? h->mem_available_gb : NAN);
    if (h->thermal_max)
        cJSON_AddStringToObject(o, "thermal_max", hb_thermal_name(h->thermal_max));
    else
        cJSON_AddNullToObject(o, "thermal_max");
    cJSON_AddItemToArray(c->arr, o);
    c->last_hour = h->hour_ms;
    return 0;
}

enum MHD_Result route_worker_hourly(app *a, req *r, const char *id)
{
    enum MHD_Result res;
    int64_t now = app_now_ms(), from = now - HOURLY_RANGE_DEFAULT_MS, to = now + 1;
    hourly_ctx c = {.limit = HOURLY_LIMIT_DEFAULT};
    if (!http_query_int(r, "limit", 1, HOURLY_LIMIT_MAX, &c.limit, &res) ||
        !http_query_time(r, "from", &from, &res) || !http_query_time(r, "to", &to, &res) ||
        !http_query_time(r, "cursor", &from, &res))
        return res;
    if (from >= to) return http_error(r, 400, "from", "must be before to");
    /* Hours are labelled by their start: an hour that began before `from`
     * but reaches into it belongs in the answer. */
    from -= from % 3600000;
    c.arr = cJSON_CreateArray();
    if (store_list_hourly(a->store, id, from, to, (int)c.limit + 1, hourly_row, &c) < 0) {
        cJSON_Delete(c.arr);
        return http_error(r, 503, "store", "cannot read hourly heartbeats");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "worker_id", id);
    cJSON_AddStringToObject(doc, "resolution", "hour");
    cJSON_AddItemToObject(doc, "heartbeats", c.arr);
    http_add_time(doc, "next_cursor", c.n > c.limit ? c.last_hour + 3600000 : 0);
    return http_cjson(r, 200, doc);
}
