/*
 * http_io: what route handlers answer with and read their parameters
 * through (contract in http.h): JSON, text and error responses, query
 * values checked by the pure parsers (core/qry, core/tfmt) into a 400 naming
 * the parameter, and the bearer-token check. Split from http.c, which keeps
 * the server, the request lifecycle and the router.
 */
#include "server/http.h"

#include "core/ct.h"
#include "core/hb.h"
#include "core/qry.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum MHD_Result http_json(req *r, unsigned status, const char *json, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result http_cjson(req *r, unsigned status, cJSON *doc)
{
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!s) return http_error(r, 500, "server", "out of memory");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct MHD_Response *http_error_response(unsigned status, const char *field, const char *reason)
{
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "reason", reason);
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!s) return NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(s);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    return resp;
}

enum MHD_Result http_error(req *r, unsigned status, const char *field, const char *reason)
{
    struct MHD_Response *resp = http_error_response(status, field, reason);
    if (!resp) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result http_static(req *r, unsigned status, struct MHD_Response *resp)
{
    return MHD_queue_response(r->conn, status, resp);
}

const char *http_query(req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

bool http_bearer_ok(req *r, const char *tok1, const char *tok2)
{
    const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    const char *t = h + 7;
    size_t n = strlen(t);
    bool ok = false;
    if (tok1 && tok1[0]) ok |= ct_equal(t, n, tok1, strlen(tok1));
    if (tok2 && tok2[0]) ok |= ct_equal(t, n, tok2, strlen(tok2));
    return ok;
}

bool http_query_int(req *r, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    enum MHD_Result *res)
{
    const char *v = http_query(r, key);
    if (!v) return true;
    if (qry_int(v, lo, hi, out) != 0) {
        char why[96];
        snprintf(why, sizeof why, "must be an integer between %lld and %lld", (long long)lo,
                 (long long)hi);
        *res = http_error(r, 400, key, why);
        return false;
    }
    return true;
}

bool http_query_time(req *r, const char *key, int64_t *out, enum MHD_Result *res)
{
    const char *v = http_query(r, key);
    if (!v) return true;
    if (tfmt_parse(v, out) != 0) {
        *res = http_error(r, 400, key,
                          "must be an ISO-8601 UTC time (2026-11-23T07:40:00Z) or epoch ms");
        return false;
    }
    return true;
}

bool http_query_id(req *r, const char *key, const char **out, enum MHD_Result *res)
{
    const char *v = http_query(r, key);
    *out = v;
    if (!v || hb_id_valid(v, strlen(v))) return true;
    *res = http_error(r, 400, key, "must be 1-128 bytes of [A-Za-z0-9._:@-]");
    return false;
}

bool http_query_num(req *r, const char *key, double lo, double hi, double *out,
                    enum MHD_Result *res)
{
    const char *v = http_query(r, key);
    if (!v) return true;
    if (qry_num(v, lo, hi, out) != 0) {
        char why[96];
        snprintf(why, sizeof why, "must be a number between %g and %g", lo, hi);
        *res = http_error(r, 400, key, why);
        return false;
    }
    return true;
}

bool http_query_duration(req *r, const char *key, int64_t *out_ms, enum MHD_Result *res)
{
    const char *v = http_query(r, key);
    if (!v) return true;
    if (tfmt_parse_duration(v, out_ms) != 0 || *out_ms <= 0) {
        *res = http_error(r, 400, key, "must be a positive duration (90s, 30m, 6h, 7d)");
        return false;
    }
    return true;
}

void http_add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[TFMT_ISO_LEN];
    if (ms > 0)
        cJSON_AddStringToObject(o, key, tfmt_iso(ms, buf));
    else
        cJSON_AddNullToObject(o, key);
}

enum MHD_Result http_error_row(req *r, unsigned status, size_t row, const char *field,
                               const char *reason)
{
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddNumberToObject(e, "row", (double)row);
    return http_cjson(r, status, doc);
}

enum MHD_Result http_text(req *r, unsigned status, const char *type, char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}
