/*
 * hub: the hub role. Nodes push summaries (server/hubp.c) to
 * POST /v1/hub/nodes/{node_id}/summary with the hub's own token; the hub
 * checks them (core/hubs), stores each window (store_hub_put: a window
 * sent again replaces its row, see core/hubw.h) and keeps every node's
 * latest in memory, so GET /v1/hub/nodes answers from memory even while
 * the store is away, and staleness is measured against when the hub last
 * heard from the node rather than against the node's clock.
 *
 * A summary is taken only once it is stored: a 503 leaves the node's
 * window where it was, and the node sends it again, wider. A window that
 * starts inside the node's last one (and not at its start) is refused with
 * 409: it would count that overlap twice, and only a node with a broken
 * clock or another node with the same id sends one.
 */
#include "server/hub.h"

#include "core/hubs.h"
#include "server/http.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUB_NODES_MAX 10000   /* nodes a hub keeps; past it new ones get 507 */
#define HUB_STALE_INTERVALS 3 /* a node is stale after this many of its intervals unheard */
#define HUB_LIST_DEFAULT 1000 /* windows per GET .../summaries by default */
#define HUB_LIST_MAX 10000    /* and at most */
#define HUB_RANGE_DEFAULT_MS 86400000LL /* ms: GET .../summaries without from: the last day */

typedef struct hub_node {
    char node_id[HUBS_NODE_MAX + 1];
    int64_t run_id, from_ms, to_ms, received_ms;
    int interval_s;
    char *body; /* the last summary, as stored */
} hub_node;

struct hub {
    app *a;
    pthread_mutex_t mu;
    hub_node *v; /* by node_id, sorted */
    size_t n, cap;
    atomic_uint_least64_t taken, refused;
};

static hub_node *find(hub *h, const char *id, size_t *at)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(h->v[mid].node_id, id);
        if (c == 0) return &h->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

/* The node's record, made if new (NULL: out of room). Under mu. */
static hub_node *node_of(hub *h, const char *id)
{
    size_t at = 0;
    hub_node *x = find(h, id, &at);
    if (x) return x;
    if (h->n >= HUB_NODES_MAX) return NULL;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        hub_node *v = realloc(h->v, cap * sizeof *v);
        if (!v) return NULL;
        h->v = v;
        h->cap = cap;
    }
    memmove(h->v + at + 1, h->v + at, (h->n - at) * sizeof *h->v);
    h->n++;
    x = &h->v[at];
    memset(x, 0, sizeof *x);
    snprintf(x->node_id, sizeof x->node_id, "%s", id);
    return x;
}

static void remember(hub *h, const store_hub_row *r, int interval_s)
{
    hub_node *x = node_of(h, r->node_id);
    if (!x) return;
    char *body = strdup(r->body);
    if (!body) return;
    free(x->body);
    x->body = body;
    x->run_id = r->run_id;
    x->from_ms = r->from_ms;
    x->to_ms = r->to_ms;
    x->received_ms = r->received_ms;
    x->interval_s = interval_s;
}

static int interval_of(const char *body)
{
    cJSON *doc = cJSON_Parse(body);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "interval_s");
    int s = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (int)v->valuedouble : 60;
    cJSON_Delete(doc);
    return s;
}

static int load_one(void *ctx, const store_hub_row *r)
{
    remember(ctx, r, interval_of(r->body));
    return 0;
}

hub *hub_new(app *a, char *err, size_t errlen)
{
    if (strcmp(a->cfg.hub_role, "hub") != 0) return NULL;
    hub *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "hub: out of memory");
        return NULL;
    }
    h->a = a;
    pthread_mutex_init(&h->mu, NULL);
    /* A store away at boot is not fatal: nodes fill the table again
     * within one interval. */
    if (a->store && store_hub_latest(a->store, load_one, h) < 0)
        vlog("warn", "hub: cannot read the nodes' last summaries; they come back as nodes push");
    vlog("info", "hub: role hub, %zu nodes known", h->n);
    return h;
}

void hub_free(hub *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].body);
    free(h->v);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void hub_get_stats(hub *h, hub_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!h) return;
    out->taken = atomic_load(&h->taken);
    out->refused = atomic_load(&h->refused);
    pthread_mutex_lock(&h->mu);
    out->nodes = h->n;
    int64_t now = app_now_ms();
    for (size_t i = 0; i < h->n; i++)
        out->stale +=
            now - h->v[i].received_ms > (int64_t)HUB_STALE_INTERVALS * h->v[i].interval_s * 1000;
    pthread_mutex_unlock(&h->mu);
}

/* ---- POST /v1/hub/nodes/{node_id}/summary ----------------------------------------- */

static enum MHD_Result refuse(hub *h, req *r, unsigned status, const char *field, const char *why)
{
    atomic_fetch_add(&h->refused, 1);
    return http_error(r, status, field, why);
}

enum MHD_Result route_hub_summary(app *a, req *r, const char *node_id)
{
    hub *h = a->hub; /* method, token and content type: checked by the dispatch */
    cJSON *doc = cJSON_ParseWithLength(r->body, r->len);
    if (!doc) return refuse(h, r, 400, "json", "body is not valid JSON");
    hubs_meta m;
    hb_err e;
    if (hubs_check(doc, node_id, &m, &e) != 0) {
        cJSON_Delete(doc);
        return refuse(h, r, 400, e.field, e.reason);
    }
    char *body = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!body) return refuse(h, r, 503, "memory", "out of memory");
    store_hub_row row = {.run_id = m.run_id,
                         .from_ms = m.from_ms,
                         .to_ms = m.to_ms,
                         .received_ms = app_now_ms(),
                         .body = body};
    snprintf(row.node_id, sizeof row.node_id, "%s", node_id);
    /* One node pushes one summary at a time, so checking against the last
     * and storing under the lock orders them, and costs nothing. */
    pthread_mutex_lock(&h->mu);
    size_t at;
    hub_node *x = find(h, node_id, &at);
    if (x && x->run_id == m.run_id && m.from_ms != x->from_ms && m.from_ms < x->to_ms) {
        pthread_mutex_unlock(&h->mu);
        free(body);
        return refuse(h, r, 409, "window.from_ms",
                      "starts inside the node's last window (would count it twice)");
    }
    if (!x && h->n >= HUB_NODES_MAX) {
        pthread_mutex_unlock(&h->mu);
        free(body);
        return refuse(h, r, 507, "node_id", "the hub keeps no more nodes");
    }
    char err[256];
    if (store_hub_put(a->store, &row, err, sizeof err) != 0) {
        pthread_mutex_unlock(&h->mu);
        free(body);
        vlog("warn", "hub: summary of %s not stored: %s", node_id, err);
        return refuse(h, r, 503, "store", "cannot store the summary now; send it again");
    }
    remember(h, &row, m.interval_s);
    pthread_mutex_unlock(&h->mu);
    free(body);
    atomic_fetch_add(&h->taken, 1);
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddStringToObject(ok, "node_id", node_id);
    cJSON_AddNumberToObject(ok, "run_id", (double)m.run_id);
    cJSON_AddNumberToObject(ok, "from_ms", (double)m.from_ms);
    cJSON_AddNumberToObject(ok, "to_ms", (double)m.to_ms);
    return http_cjson(r, 200, ok);
}

/* ---- GET /v1/hub/nodes -------------------------------------------------------------- */

static cJSON *node_json(const hub_node *x, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node_id", x->node_id);
    cJSON_AddNumberToObject(o, "run_id", (double)x->run_id);
    http_add_time(o, "received_at", x->received_ms);
    double age = (double)(now - x->received_ms) / 1000.0;
    cJSON_AddNumberToObject(o, "age_s", age < 0 ? 0 : age);
    cJSON_AddNumberToObject(o, "interval_s", x->interval_s);
    cJSON_AddBoolToObject(o, "stale", age > (double)HUB_STALE_INTERVALS * x->interval_s);
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    cJSON_AddNumberToObject(w, "from_ms", (double)x->from_ms);
    cJSON_AddNumberToObject(w, "to_ms", (double)x->to_ms);
    cJSON *s = cJSON_Parse(x->body);
    cJSON_AddItemToObject(o, "summary", s ? s : cJSON_CreateNull());
    return o;
}

enum MHD_Result route_hub_nodes(app *a, req *r)
{
    hub *h = a->hub;
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "nodes");
    int64_t now = app_now_ms();
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++)
        cJSON_AddItemToArray(arr, node_json(&h->v[i], now));
    pthread_mutex_unlock(&h->mu);
    cJSON_AddNumberToObject(doc, "stale_after_intervals", HUB_STALE_INTERVALS);
    return http_cjson(r, 200, doc);
}

/* ---- GET /v1/hub/nodes/{node_id}/summaries ------------------------------------------ */

typedef struct list_ctx {
    cJSON *arr, *closed; /* closed: totals by reason */
    double accepted, rejected, tasks, task_ms;
    bool oom;
} list_ctx;

static void add_counts(cJSON *into, const cJSON *from)
{
    for (const cJSON *c = from ? from->child : NULL; c; c = c->next) {
        if (!cJSON_IsNumber(c) || !c->string) continue;
        cJSON *t = cJSON_GetObjectItemCaseSensitive(into, c->string);
        if (t)
            cJSON_SetNumberValue(t, t->valuedouble + c->valuedouble);
        else
            cJSON_AddNumberToObject(into, c->string, c->valuedouble);
    }
}

static int list_one(void *ctx, const store_hub_row *row)
{
    list_ctx *c = ctx;
    cJSON *o = cJSON_CreateObject(), *s = cJSON_Parse(row->body);
    if (!o || !s) {
        cJSON_Delete(o);
        cJSON_Delete(s);
        c->oom = true;
        return 1;
    }
    cJSON_AddNumberToObject(o, "run_id", (double)row->run_id);
    cJSON_AddNumberToObject(o, "from_ms", (double)row->from_ms);
    cJSON_AddNumberToObject(o, "to_ms", (double)row->to_ms);
    http_add_time(o, "received_at", row->received_ms);
    add_counts(c->closed, cJSON_GetObjectItemCaseSensitive(s, "sessions_closed"));
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(s, "heartbeats");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(hb, "accepted");
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(hb, "rejected");
    c->accepted += cJSON_IsNumber(acc) ? acc->valuedouble : 0;
    c->rejected += cJSON_IsNumber(rej) ? rej->valuedouble : 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(s, "tasks"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "count");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(t, "mean_ms");
        if (!cJSON_IsNumber(n) || !cJSON_IsNumber(m)) continue;
        c->tasks += n->valuedouble;
        c->task_ms += n->valuedouble * m->valuedouble;
    }
    cJSON_AddItemToObject(o, "summary", s);
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

enum MHD_Result route_hub_node(app *a, req *r, const char *node_id, const char *sub)
{
    if (strcmp(sub, "summaries") != 0) return http_error(r, 404, "path", "no such endpoint");
    if (!(r->method & (HTTP_GET | HTTP_HEAD))) return http_error(r, 405, "method", "must be GET");
    enum MHD_Result res;
    int64_t now = app_now_ms(), from = 0, to = now + 1, limit = HUB_LIST_DEFAULT;
    if (!http_query_time(r, "from", &from, &res) || !http_query_time(r, "to", &to, &res) ||
        !http_query_int(r, "limit", 1, HUB_LIST_MAX, &limit, &res))
        return res;
    if (!http_query(r, "from")) from = to - HUB_RANGE_DEFAULT_MS;
    if (from >= to) return http_error(r, 400, "from", "must be before to");
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "node_id", node_id);
    list_ctx c = {.arr = cJSON_AddArrayToObject(doc, "summaries"), .closed = cJSON_CreateObject()};
    int n = store_hub_list(a->store, node_id, from, to, (int)limit, list_one, &c);
    if (n < 0 || c.oom) {
        cJSON_Delete(c.closed);
        cJSON_Delete(doc);
        return http_error(r, 503, "store", c.oom ? "out of memory" : "cannot read the store now");
    }
    /* Totals over the windows listed: a window sent twice is one row, so
     * these add up to what the node counted. */
    cJSON *tot = cJSON_AddObjectToObject(doc, "totals");
    cJSON_AddNumberToObject(tot, "windows", n);
    cJSON_AddItemToObject(tot, "sessions_closed", c.closed);
    cJSON *hb = cJSON_AddObjectToObject(tot, "heartbeats");
    cJSON_AddNumberToObject(hb, "accepted", c.accepted);
    cJSON_AddNumberToObject(hb, "rejected", c.rejected);
    cJSON *t = cJSON_AddObjectToObject(tot, "tasks");
    cJSON_AddNumberToObject(t, "count", c.tasks);
    cJSON_AddNumberToObject(t, "mean_ms", c.tasks > 0 ? c.task_ms / c.tasks : 0);
    return http_cjson(r, 200, doc);
}
