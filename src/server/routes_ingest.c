/*
 * routes_ingest: the doors workers knock on. Each parses into one hb_msg
 * (hb.c: same validation whichever door) and hands it to ingest_apply
 * (ingest.c: registry, write queue, counters). Nothing here waits on the store.
 *
 * The common answer ({"ok":true,"state":"alive"}) is a response object
 * built once and shared: MHD reference-counts it, so the hot path creates
 * no response and copies no body.
 */
#include "server/http.h"
#include "server/metrics.h"

#include "core/ct.h"
#include "core/hb.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NDJSON_MAX_ERRORS 100 /* listed in a batch answer; the count stays exact */
#define REGISTRY_FULL "registry full (memory or group limit)"

static struct MHD_Response *ok_resp[REG_W__COUNT];
static char ok_json[REG_W__COUNT][64]; /* the same bodies, for the ring */
static size_t ok_json_len[REG_W__COUNT];

void routes_ingest_init(void)
{
    for (int s = 0; s < REG_W__COUNT; s++) {
        if (ok_resp[s]) continue;
        char body[64];
        int n =
            s == REG_W_NONE
                ? snprintf(body, sizeof body, "{\"ok\":true,\"state\":null,\"ignored\":true}")
                : snprintf(body, sizeof body, "{\"ok\":true,\"state\":\"%s\"}", reg_wstate_name(s));
        memcpy(ok_json[s], body, (size_t)n + 1);
        ok_json_len[s] = (size_t)n;
        ok_resp[s] = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(ok_resp[s], MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
}

void routes_ingest_free(void)
{
    for (int s = 0; s < REG_W__COUNT; s++) {
        if (ok_resp[s]) MHD_destroy_response(ok_resp[s]);
        ok_resp[s] = NULL;
    }
}

static enum MHD_Result answer(app *a, req *r, const hb_msg *m)
{
    int st = ingest_apply(a, m, app_now_ms());
    if (st < 0) {
        metrics_reject(a, "registry_full");
        return http_error(r, 503, "worker_id", REGISTRY_FULL);
    }
    return http_static(r, 200, ok_resp[st]);
}

const char *ingest_fast(app *a, bool bye, const char *auth, size_t auth_len, const char *body,
                        size_t len, size_t *json_len)
{
    if (a->ingest_token[0]) { /* as http_bearer_ok (whose body test_security pins) */
        if (!auth || auth_len < 7 || strncasecmp(auth, "Bearer ", 7) != 0) return NULL;
        const char *t = auth + 7;
        size_t n = auth_len - 7;
        bool ok = ct_equal(t, n, a->ingest_token, strlen(a->ingest_token));
        if (a->admin_token[0]) ok |= ct_equal(t, n, a->admin_token, strlen(a->admin_token));
        if (!ok) return NULL;
    }
    hb_msg m;
    hb_err e;
    if ((bye ? hb_parse_bye : hb_parse_heartbeat)(body, len, &m, &e) != 0) return NULL;
    int st = ingest_apply(a, &m, app_now_ms());
    if (st < 0) return NULL;
    *json_len = ok_json_len[st];
    return ok_json[st];
}

enum MHD_Result ingest_refuse(app *a, req *r, const hb_err *e)
{
    metrics_reject(a, e->field);
    /* Oversized bodies never get here: http.c answers 413 before parsing. */
    return http_error(r, 400, e->field, e->reason);
}

enum MHD_Result route_heartbeat(app *a, req *r)
{
    hb_msg m;
    hb_err e;
    if (hb_parse_heartbeat(r->body, r->len, &m, &e) != 0) return ingest_refuse(a, r, &e);
    return answer(a, r, &m);
}

enum MHD_Result route_bye(app *a, req *r)
{
    hb_msg m;
    hb_err e;
    if (hb_parse_bye(r->body, r->len, &m, &e) != 0) return ingest_refuse(a, r, &e);
    return answer(a, r, &m);
}

enum MHD_Result route_heartbeats(app *a, req *r)
{
    size_t pos = 0, len;
    const char *line;
    int lineno = 0, first_line = 0;
    uint64_t accepted = 0, rejected = 0;
    hb_err first;
    cJSON *errs = cJSON_CreateArray();
    int64_t now = app_now_ms();
    ingest_tally t = {0, 0, 0};
    while (hb_ndjson_next(r->body, r->len, &pos, &line, &len, &lineno)) {
        hb_msg m;
        hb_err e;
        int st = -1;
        bool full = false; /* parsed, but the registry could not take it */
        if (hb_parse_heartbeat(line, len, &m, &e) == 0) {
            st = ingest_apply_t(a, &m, now, &t);
            if (st < 0) hb_fail(&e, "worker_id", REGISTRY_FULL);
            full = st < 0;
        }
        if (st >= 0) {
            accepted++;
            continue;
        }
        rejected++;
        metrics_reject(a, full ? "registry_full" : e.field);
        if (!first_line) {
            first = e;
            first_line = lineno;
        }
        if (rejected <= NDJSON_MAX_ERRORS) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "line", lineno);
            cJSON_AddStringToObject(x, "field", e.field);
            cJSON_AddStringToObject(x, "reason", e.reason);
            cJSON_AddItemToArray(errs, x);
        }
    }
    ingest_flush(a, &t);
    if (accepted + rejected == 0) {
        cJSON_Delete(errs);
        return http_error(r, 400, "body", "holds no heartbeat lines");
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "accepted", (double)accepted);
    cJSON_AddNumberToObject(doc, "rejected", (double)rejected);
    /* With nothing accepted the request as a whole failed: say why up front,
     * in the same shape as every other error. */
    if (accepted == 0) {
        cJSON *e = cJSON_AddObjectToObject(doc, "error");
        char why[256];
        snprintf(why, sizeof why, "line %d: %s", first_line, first.reason);
        cJSON_AddStringToObject(e, "field", first.field);
        cJSON_AddStringToObject(e, "reason", why);
    }
    cJSON_AddItemToObject(doc, "errors", errs);
    return http_cjson(r, accepted ? 200 : 400, doc);
}

typedef struct kv_ctx {
    hb_msg *m;
    hb_err *e;
    int bad;
} kv_ctx;

static enum MHD_Result kv_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    kv_ctx *k = cls;
    if (k->bad) return MHD_NO;
    if (strcmp(key, "worker_id") == 0 || strcmp(key, "exit_code") == 0) return MHD_YES;
    if (hb_set_kv(k->m, key, value ? value : "", k->e) < 0) k->bad = 1;
    return k->bad ? MHD_NO : MHD_YES;
}

enum MHD_Result route_ping(app *a, req *r, const char *rest)
{
    hb_msg m;
    hb_err e;
    if (hb_parse_ping_path(rest, &m, &e) != 0) return ingest_refuse(a, r, &e);
    /* Query keys set the same fields a JSON heartbeat would (group, ttl_s, cpu…);
     * the path alone decides the id and how the run ended. */
    if (!ingest_query_fields(r, &m, &e)) return ingest_refuse(a, r, &e);
    return answer(a, r, &m);
}

bool ingest_query_fields(req *r, hb_msg *m, hb_err *e)
{
    kv_ctx k = {m, e, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, kv_iter, &k);
    return !k.bad;
}
