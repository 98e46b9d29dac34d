/*
 * routes_rel: the analytics side of the API (DESIGN §6–7).
 *
 * Rankings (/v1/reliability, its CSV, /v1/fleet/availability) read the
 * in-memory rank the last rollup swapped in, under a read lock, so they cost
 * a walk of the sorted order, not a query. A single worker's liveness is
 * computed fresh from its sessions (one index range), so it is exact at the
 * moment asked. Task durations go into tlat's striped buckets; imports are
 * parsed and validated whole (imp.c) before the store sees a row.
 */
#include "server/http.h"

#include "core/imp.h"
#include "server/tbuf.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REL_LIMIT_DEFAULT 100
#define REL_LIMIT_MAX 100000
#define TASKS_MAX_DURATIONS 1000 /* per POST /v1/tasks */
#define TASKS_RANGE_DEFAULT_MS 3600000
#define TASKS_LIMIT_DEFAULT 1000
#define TASKS_LIMIT_MAX 20000
#define ROLLUP_WAIT_MS 120000 /* POST /v1/admin/rollup gives up after this */

/* Fractions to 6 decimals and seconds to milliseconds: what the figures
 * carry, without binary noise. NAN becomes null. */
void routes_add_frac(cJSON *o, const char *k, double v)
{
    if (v != v)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, round(v * 1e6) / 1e6);
}

void routes_add_secs(cJSON *o, const char *k, double v)
{
    if (v != v)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, round(v * 1e3) / 1e3);
}

/* The figures as JSON members, each after a comma (the caller opened the
 * object and wrote at least one member). Fractions to 6 decimals, seconds to
 * 3: what they carry, without binary noise; NAN is null. */
void routes_features_json(tbuf *b, const rel_features *f, double p_stays)
{
    static const struct {
        const char *key;
        size_t off;
        int dec;
    } num[] = {
        {"liveness_score", offsetof(rel_features, score), 6},
        {"uptime_pct", offsetof(rel_features, uptime_pct), 6},
        {"mtbf_s", offsetof(rel_features, mtbf_s), 3},
        {"p10_session_s", offsetof(rel_features, p10_session_s), 3},
        {"p50_session_s", offsetof(rel_features, p50_session_s), 3},
        {"p90_session_s", offsetof(rel_features, p90_session_s), 3},
        {"p_stays_4h", offsetof(rel_features, p_stays_4h), 6},
        {"p_stays_8h", offsetof(rel_features, p_stays_8h), 6},
        {"last_session_s", offsetof(rel_features, last_session_s), 3},
    };
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        tbuf_jkey(b, num[i].key, false);
        tbuf_fixed(b, *(const double *)((const char *)f + num[i].off), num[i].dec, "null");
    }
    tbuf_jkey(b, "sessions_count", false);
    tbuf_fixed(b, f->sessions_count, 0, "null");
    if (p_stays == p_stays) {
        tbuf_jkey(b, "p_stays", false);
        tbuf_fixed(b, p_stays, 6, "null");
    }
    tbuf_jtime(b, "last_disconnect_at", f->last_disconnect_ms, false);
    tbuf_jkey(b, "disconnect_reasons", false);
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++) {
        tbuf_put(b, k == REG_R_CLEAN_SHUTDOWN ? "{" : ",", 1);
        tbuf_jstr(b, reg_reason_name(k));
        tbuf_put(b, ":", 1);
        tbuf_fixed(b, f->reasons[k], 0, "0");
    }
    tbuf_put(b, "}", 1);
    tbuf_jkey(b, "failures", false);
    tbuf_fixed(b, f->failures, 0, "0");
    tbuf_jkey(b, "up_s", false);
    tbuf_fixed(b, (double)f->up_ms / 1000.0, 3, "null");
    tbuf_jkey(b, "observed_s", false);
    tbuf_fixed(b, (double)f->observed_ms / 1000.0, 3, "null");
}

/* ---- GET /v1/reliability[.csv] -------------------------------------------- */

static bool reliability_query(req *r, bool csv, rank_query *q, enum MHD_Result *res)
{
    int64_t limit = csv ? 0 : REL_LIMIT_DEFAULT, stays = 0;
    memset(q, 0, sizeof *q);
    if (!http_query_id(r, "group", &q->group, res) ||
        !http_query_int(r, "limit", 1, REL_LIMIT_MAX, &limit, res) ||
        !http_query_num(r, "min_uptime", 0, 1, &q->min_uptime, res) ||
        !http_query_num(r, "min_stays_4h", 0, 1, &q->min_stays_4h, res) ||
        !http_query_num(r, "min_score", 0, 1, &q->min_score, res) ||
        !http_query_num(r, "max_score", 0, 1, &q->max_score, res) ||
        !http_query_num(r, "min_p_stays", 0, 1, &q->min_p_stays, res) ||
        !http_query_duration(r, "stays_for", &stays, res))
        return false;
    if (q->min_p_stays > 0 && !stays) {
        *res = http_error(r, 400, "min_p_stays", "needs stays_for (the horizon it applies to)");
        return false;
    }
    q->limit = (size_t)limit;
    q->stays_for_s = (double)stays / 1000.0;
    return true;
}

typedef struct json_ctx {
    tbuf b;
    size_t n;
} json_ctx;

static int rel_row_json(void *ctx, const rank_entry *e, double p)
{
    json_ctx *c = ctx;
    if (c->n++) tbuf_put(&c->b, ",", 1);
    tbuf_put(&c->b, "{", 1);
    tbuf_jkey(&c->b, "worker_id", true);
    tbuf_jstr(&c->b, e->worker_id);
    tbuf_jkey(&c->b, "group", false);
    tbuf_jstr(&c->b, e->group);
    routes_features_json(&c->b, &e->f, p);
    tbuf_put(&c->b, "}", 1);
    return 0;
}

typedef struct csv_ctx {
    tbuf b;
    bool stays;
    size_t rank;
} csv_ctx;

static int rel_row_csv(void *ctx, const rank_entry *e, double p)
{
    csv_ctx *c = ctx;
    const rel_features *f = &e->f;
    tbuf_csv_num(&c->b, (double)++c->rank, 0, false);
    tbuf_csv_field(&c->b, e->worker_id, false);
    tbuf_csv_field(&c->b, e->group, false);
    tbuf_csv_num(&c->b, f->score, 6, false);
    tbuf_csv_num(&c->b, f->uptime_pct, 6, false);
    tbuf_csv_num(&c->b, f->sessions_count, 0, false);
    tbuf_csv_num(&c->b, f->mtbf_s, 3, false);
    tbuf_csv_num(&c->b, f->p10_session_s, 3, false);
    tbuf_csv_num(&c->b, f->p50_session_s, 3, false);
    tbuf_csv_num(&c->b, f->p90_session_s, 3, false);
    tbuf_csv_num(&c->b, f->p_stays_4h, 6, false);
    tbuf_csv_num(&c->b, f->p_stays_8h, 6, false);
    if (c->stays) tbuf_csv_num(&c->b, p, 6, false);
    tbuf_csv_time(&c->b, f->last_disconnect_ms, false);
    tbuf_csv_num(&c->b, f->last_session_s, 3, true);
    return 0;
}

enum MHD_Result route_reliability(app *a, req *r, bool csv)
{
    rank_query q;
    enum MHD_Result res;
    if (!reliability_query(r, csv, &q, &res)) return res;
    size_t total = 0;
    if (csv) {
        csv_ctx c = {.stays = q.stays_for_s > 0};
        const char *head = "rank,worker_id,group,liveness_score,uptime_pct,sessions_count,mtbf_s,"
                           "p10_session_s,p50_session_s,p90_session_s,p_stays_4h,p_stays_8h,";
        tbuf_put(&c.b, head, strlen(head));
        if (c.stays) tbuf_put(&c.b, "p_stays,", 8);
        tbuf_put(&c.b, "last_disconnect_at,last_session_s\r\n", 35);
        pthread_rwlock_rdlock(&a->rank_lock);
        if (a->rank) rank_query_run(a->rank, &q, &total, rel_row_csv, &c);
        pthread_rwlock_unlock(&a->rank_lock);
        if (c.b.oom) {
            free(c.b.p);
            return http_error(r, 503, "memory", "out of memory building the CSV");
        }
        return http_text(r, 200, "text/csv; charset=utf-8; header=present", c.b.p, c.b.n);
    }
    /* Written by hand, not through cJSON: this is the endpoint a scheduler
     * polls, and printing ~1,000 numbers through a tree cost ~2 ms. */
    json_ctx c = {.n = 0};
    pthread_rwlock_rdlock(&a->rank_lock);
    int64_t at = a->rank ? rank_computed_ms(a->rank) : 0;
    int64_t window = a->rank ? rank_window_ms(a->rank) : (int64_t)a->cfg.window_days * 86400000LL;
    tbuf_puts(&c.b, "{");
    tbuf_jtime(&c.b, "computed_at", at, true);
    tbuf_jkey(&c.b, "window_s", false);
    tbuf_fixed(&c.b, (double)window / 1000.0, 3, "null");
    if (q.stays_for_s > 0) {
        tbuf_jkey(&c.b, "stays_for_s", false);
        tbuf_fixed(&c.b, q.stays_for_s, 3, "null");
    }
    tbuf_puts(&c.b, ",\"workers\":[");
    if (a->rank) rank_query_run(a->rank, &q, &total, rel_row_json, &c);
    pthread_rwlock_unlock(&a->rank_lock);
    tbuf_puts(&c.b, "],\"total\":");
    tbuf_fixed(&c.b, (double)total, 0, "0");
    tbuf_puts(&c.b, "}");
    if (c.b.oom) {
        free(c.b.p);
        return http_error(r, 503, "memory", "out of memory building the answer");
    }
    return http_text(r, 200, "application/json", c.b.p, c.b.n);
}

/* ---- GET /v1/fleet/availability --------------------------------------------- */

static void dist_json(cJSON *doc, const char *key, double mean, const double *p,
                      const uint32_t *hist)
{
    static const char *const pk[5] = {"p10", "p25", "p50", "p75", "p90"};
    cJSON *o = cJSON_AddObjectToObject(doc, key);
    routes_add_frac(o, "mean", mean);
    for (int k = 0; k < 5; k++)
        routes_add_frac(o, pk[k], p[k]);
    cJSON *h = cJSON_AddArrayToObject(o, "histogram");
    for (int k = 0; k < RANK_DIST_BINS; k++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "from", (double)k / RANK_DIST_BINS);
        cJSON_AddNumberToObject(b, "to", (double)(k + 1) / RANK_DIST_BINS);
        cJSON_AddNumberToObject(b, "count", hist[k]);
        cJSON_AddItemToArray(h, b);
    }
}

enum MHD_Result route_fleet_availability(app *a, req *r)
{
    const char *group;
    enum MHD_Result res;
    if (!http_query_id(r, "group", &group, &res)) return res;
    rank_dist d;
    int64_t at = 0;
    int rc = 0;
    memset(&d, 0, sizeof d);
    pthread_rwlock_rdlock(&a->rank_lock);
    if (a->rank) {
        at = rank_computed_ms(a->rank);
        rc = rank_distribution(a->rank, group, &d);
    } else {
        d.uptime_mean = d.score_mean = NAN;
        for (int k = 0; k < 5; k++)
            d.uptime_p[k] = d.score_p[k] = NAN;
    }
    pthread_rwlock_unlock(&a->rank_lock);
    if (rc != 0) return http_error(r, 503, "memory", "out of memory");
    cJSON *doc = cJSON_CreateObject();
    http_add_time(doc, "computed_at", at);
    if (group)
        cJSON_AddStringToObject(doc, "group", group);
    else
        cJSON_AddNullToObject(doc, "group");
    cJSON_AddNumberToObject(doc, "workers", (double)d.n);
    dist_json(doc, "uptime_pct", d.uptime_mean, d.uptime_p, d.uptime_hist);
    dist_json(doc, "liveness_score", d.score_mean, d.score_p, d.score_hist);
    return http_cjson(r, 200, doc);
}

/* ---- POST /v1/tasks, GET /v1/tasks/latency ------------------------------------ */

static bool duration_ok(const cJSON *x)
{
    return cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble <= TLAT_MS_MAX;
}

enum MHD_Result route_tasks(app *a, req *r)
{
    static const char bad_ms[] = "must be a number of milliseconds between 0 and 1000000000";
    cJSON *doc = cJSON_ParseWithLength(r->body, r->len);
    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return http_error(r, 400, "json", "must be a JSON object");
    }
    enum MHD_Result res;
    double ms[TASKS_MAX_DURATIONS];
    size_t n = 0;
    char group[HB_ID_MAX + 1] = "";
    const cJSON *wid = cJSON_GetObjectItemCaseSensitive(doc, "worker_id");
    const cJSON *grp = cJSON_GetObjectItemCaseSensitive(doc, "group");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(doc, "task_ms");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(doc, "durations_ms");
    if (wid && !cJSON_IsNull(wid) &&
        (!cJSON_IsString(wid) || !hb_id_valid(wid->valuestring, strlen(wid->valuestring)))) {
        res = http_error(r, 400, "worker_id", "must be 1-128 bytes of [A-Za-z0-9._:@-]");
        goto out;
    }
    if (grp && !cJSON_IsNull(grp) &&
        (!cJSON_IsString(grp) || !hb_id_valid(grp->valuestring, strlen(grp->valuestring)))) {
        res = http_error(r, 400, "group", "must be 1-128 bytes of [A-Za-z0-9._:@-]");
        goto out;
    }
    if (cJSON_IsString(grp)) {
        snprintf(group, sizeof group, "%s", grp->valuestring);
    } else if (cJSON_IsString(wid)) {
        reg_view v;
        if (!reg_get(a->reg, wid->valuestring, app_now_ms(), &v)) {
            res = http_error(r, 404, "worker_id", "unknown worker (give group to record anyway)");
            goto out;
        }
        snprintf(group, sizeof group, "%s", v.last.group);
    } else {
        res = http_error(r, 400, "worker_id", "give worker_id or group");
        goto out;
    }
    if (one && !cJSON_IsNull(one)) {
        if (!duration_ok(one)) {
            res = http_error(r, 400, "task_ms", bad_ms);
            goto out;
        }
        ms[n++] = one->valuedouble;
    }
    if (many && !cJSON_IsNull(many)) {
        if (!cJSON_IsArray(many) || cJSON_GetArraySize(many) > TASKS_MAX_DURATIONS) {
            res = http_error(r, 400, "durations_ms", "must be an array of at most 1000 numbers");
            goto out;
        }
        const cJSON *x;
        cJSON_ArrayForEach(x, many)
        {
            if (!duration_ok(x) || n >= TASKS_MAX_DURATIONS) {
                res = http_error(r, 400, "durations_ms", bad_ms);
                goto out;
            }
            ms[n++] = x->valuedouble;
        }
    }
    if (!n) {
        res = http_error(r, 400, "durations_ms", "give durations_ms (an array) or task_ms");
        goto out;
    }
    int rc = rollup_task(a, group, app_now_ms(), ms, n);
    if (rc == TLAT_FULL) {
        res = http_error(r, 503, "group", "too many groups reporting tasks at once");
        goto out;
    }
    if (rc != TLAT_OK) {
        res = http_error(r, 503, "memory", "cannot record task durations");
        goto out;
    }
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddBoolToObject(ok, "ok", 1);
    cJSON_AddNumberToObject(ok, "accepted", (double)n);
    cJSON_AddStringToObject(ok, "group", group);
    res = http_cjson(r, 200, ok);
out:
    cJSON_Delete(doc);
    return res;
}

typedef struct task_ctx {
    cJSON *arr;
    uint64_t count;
    double sum, min, max;
    bool open;        /* rows from tlat_peek: the bucket still filling */
    int64_t from, to; /* peeked rows outside the range are left out */
} task_ctx;

static int task_row(void *ctx, const tlat_row *t)
{
    task_ctx *c = ctx;
    if (c->open && (t->bucket_ms < c->from - TLAT_BUCKET_MS + 1 || t->bucket_ms >= c->to)) return 1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "group", t->group);
    http_add_time(o, "bucket", t->bucket_ms);
    cJSON_AddNumberToObject(o, "count", (double)t->count);
    routes_add_secs(o, "mean_ms", t->mean_ms);
    routes_add_secs(o, "min_ms", t->min_ms);
    routes_add_secs(o, "max_ms", t->max_ms);
    routes_add_secs(o, "p50_ms", t->p50_ms);
    routes_add_secs(o, "p90_ms", t->p90_ms);
    routes_add_secs(o, "p95_ms", t->p95_ms);
    routes_add_secs(o, "p99_ms", t->p99_ms);
    cJSON_AddBoolToObject(o, "open", c->open);
    cJSON_AddItemToArray(c->arr, o);
    if (!c->count || t->min_ms < c->min) c->min = t->min_ms;
    if (!c->count || t->max_ms > c->max) c->max = t->max_ms;
    c->count += t->count;
    c->sum += t->mean_ms * (double)t->count;
    return 0;
}

enum MHD_Result route_tasks_latency(app *a, req *r)
{
    enum MHD_Result res;
    int64_t now = app_now_ms(), from = now - TASKS_RANGE_DEFAULT_MS, to = now + 1,
            limit = TASKS_LIMIT_DEFAULT;
    const char *group;
    if (!http_query_id(r, "group", &group, &res) || !http_query_time(r, "from", &from, &res) ||
        !http_query_time(r, "to", &to, &res) ||
        !http_query_int(r, "limit", 1, TASKS_LIMIT_MAX, &limit, &res))
        return res;
    if (from >= to) return http_error(r, 400, "from", "must be before to");
    task_ctx c = {.arr = cJSON_CreateArray(), .from = from, .to = to};
    if (store_list_tasks(a->store, group, from, to, (int)limit, task_row, &c) < 0) {
        cJSON_Delete(c.arr);
        return http_error(r, 503, "store", "cannot read task latency");
    }
    /* The buckets still filling (the last 30 s) come from memory. */
    c.open = true;
    tlat_peek(a->tlat, group, task_row, &c);
    cJSON *doc = cJSON_CreateObject();
    if (group)
        cJSON_AddStringToObject(doc, "group", group);
    else
        cJSON_AddNullToObject(doc, "group");
    http_add_time(doc, "from", from);
    http_add_time(doc, "to", to);
    cJSON_AddNumberToObject(doc, "bucket_s", TLAT_BUCKET_MS / 1000);
    cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
    cJSON_AddNumberToObject(sum, "count", (double)c.count);
    routes_add_secs(sum, "mean_ms", c.count ? c.sum / (double)c.count : NAN);
    routes_add_secs(sum, "min_ms", c.count ? c.min : NAN);
    routes_add_secs(sum, "max_ms", c.count ? c.max : NAN);
    cJSON_AddItemToObject(doc, "buckets", c.arr);
    return http_cjson(r, 200, doc);
}

/* ---- POST /v1/import/sessions, POST /v1/admin/rollup ---------------------------- */

enum MHD_Result route_import_sessions(app *a, req *r)
{
    const char *ct = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t ctn = ct ? strcspn(ct, "; \t") : 0;
    imp_format fmt;
    if (ct && ctn == 8 && strncasecmp(ct, "text/csv", 8) == 0)
        fmt = IMP_CSV;
    else if (ct && ((ctn == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0) ||
                    (ctn == 17 && strncasecmp(ct, "application/jsonl", 17) == 0)))
        fmt = IMP_NDJSON;
    else
        return http_error(r, 415, "content-type",
                          "must be text/csv or application/x-ndjson (with curl: -H "
                          "'Content-Type: text/csv')");
    int64_t now = app_now_ms();
    imp_row *rows = NULL;
    size_t n = 0, inserted = 0, skipped = 0, bad = 0;
    imp_err e;
    if (imp_parse(r->body, r->len, fmt, now, &rows, &n, &e) != 0)
        return http_error_row(r, 400, e.row, e.column, e.reason);
    char err[256];
    int rc =
        store_import_sessions(a->store, rows, n, now, &inserted, &skipped, &bad, err, sizeof err);
    enum MHD_Result res;
    if (rc == 1) {
        /* Rows are sorted now; name the row by its worker and time instead. */
        char why[512];
        char iso[TFMT_ISO_LEN];
        snprintf(why, sizeof why, "%s (worker %s, opened %s)", err, rows[bad].worker_id,
                 tfmt_iso(rows[bad].opened_ms, iso));
        res = http_error(r, 409, "instance", why);
    } else if (rc != 0) {
        vlog("error", "import: %s", err);
        res = http_error(r, 503, "store", "cannot write the import; nothing was written");
    } else {
        cJSON *ok = cJSON_CreateObject();
        cJSON_AddNumberToObject(ok, "rows", (double)n);
        cJSON_AddNumberToObject(ok, "inserted", (double)inserted);
        cJSON_AddNumberToObject(ok, "skipped", (double)skipped);
        res = http_cjson(r, 200, ok);
    }
    free(rows);
    return res;
}

void routes_rollup_json(cJSON *o, const rollup_stats *st)
{
    http_add_time(o, "at", st->at_ms);
    cJSON *rel = cJSON_AddObjectToObject(o, "reliability");
    cJSON_AddNumberToObject(rel, "workers", (double)st->rel_workers);
    cJSON_AddNumberToObject(rel, "ms", (double)st->rel_ms);
    cJSON_AddNumberToObject(rel, "scan_ms", (double)st->rel_scan_ms);
    cJSON_AddNumberToObject(rel, "store_ms", (double)st->rel_store_ms);
    cJSON *hr = cJSON_AddObjectToObject(o, "hourly");
    cJSON_AddNumberToObject(hr, "rows", (double)st->hourly_rows);
    cJSON_AddNumberToObject(hr, "ms", (double)st->hourly_ms);
}

enum MHD_Result route_admin_rollup(app *a, req *r)
{
    rollup_stats st;
    if (rollup_now(a, ROLLUP_WAIT_MS, &st) != 0)
        return http_error(r, 503, "store", "the rollup did not complete (see the log)");
    cJSON *doc = cJSON_CreateObject();
    routes_rollup_json(doc, &st);
    cJSON *tk = cJSON_AddObjectToObject(doc, "tasks");
    cJSON_AddNumberToObject(tk, "rows", (double)st.task_rows);
    cJSON_AddNumberToObject(doc, "ms", (double)st.total_ms);
    return http_cjson(r, 200, doc);
}
