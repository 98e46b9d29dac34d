/*
 * hubs: checking a node's summary (see hubs.h).
 */
#include "core/hubs.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define EXACT_MAX 9007199254740991.0 /* 2^53 - 1: the largest integer a double holds exactly */

bool hubs_node_valid(const char *s, size_t n)
{
    return n <= HUBS_NODE_MAX && hb_id_valid(s, n);
}

static int bad(hb_err *e, const char *field, const char *reason)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    return -1;
}

/* A non-negative integer up to max, into *out. */
static int whole(const cJSON *v, double max, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d > max || floor(d) != d) return -1;
    if (out) *out = (int64_t)d;
    return 0;
}

/* Every member of obj (an object, if present) a count. */
static int counts(const cJSON *doc, const char *key, bool required, hb_err *e)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!o) return required ? bad(e, key, "is required (an object of counts)") : 0;
    if (!cJSON_IsObject(o)) return bad(e, key, "must be an object of counts");
    for (const cJSON *c = o->child; c; c = c->next)
        if (whole(c, EXACT_MAX, NULL) != 0) {
            char f[64];
            snprintf(f, sizeof f, "%s.%.40s", key, c->string ? c->string : "");
            return bad(e, f, "must be a non-negative integer");
        }
    return 0;
}

static int check_tasks(const cJSON *doc, hb_err *e)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "tasks");
    if (!t) return 0;
    if (!cJSON_IsArray(t)) return bad(e, "tasks", "must be an array");
    if (cJSON_GetArraySize(t) > HUBS_LIST_MAX) return bad(e, "tasks", "has too many entries");
    int i = 0;
    char f[64];
    for (const cJSON *x = t->child; x; x = x->next, i++) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(x, "group");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(x, "count");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, "mean_ms");
        const char *gs = cJSON_IsString(g) ? g->valuestring : NULL;
        size_t gl = gs ? strlen(gs) : 0;
        if (!gs || (gl && strcmp(gs, "*") != 0 && !hb_id_valid(gs, gl))) {
            snprintf(f, sizeof f, "tasks[%d].group", i);
            return bad(e, f, "must be a group name, \"\" or \"*\"");
        }
        if (whole(c, EXACT_MAX, NULL) != 0) {
            snprintf(f, sizeof f, "tasks[%d].count", i);
            return bad(e, f, "must be a non-negative integer");
        }
        if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble) || m->valuedouble < 0) {
            snprintf(f, sizeof f, "tasks[%d].mean_ms", i);
            return bad(e, f, "must be a non-negative number");
        }
    }
    return 0;
}

static int check_groups(const cJSON *doc, hb_err *e)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "groups");
    if (!g) return 0;
    if (!cJSON_IsArray(g)) return bad(e, "groups", "must be an array");
    if (cJSON_GetArraySize(g) > HUBS_LIST_MAX) return bad(e, "groups", "has too many entries");
    int i = 0;
    char f[64];
    for (const cJSON *x = g->child; x; x = x->next, i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "name");
        if (!cJSON_IsString(n) || !hb_id_valid(n->valuestring, strlen(n->valuestring))) {
            snprintf(f, sizeof f, "groups[%d].name", i);
            return bad(e, f, "must be a group name");
        }
        hb_err inner;
        if (counts(x, "workers", false, &inner) != 0) {
            snprintf(f, sizeof f, "groups[%d].%.40s", i, inner.field);
            return bad(e, f, inner.reason);
        }
    }
    return 0;
}

int hubs_check(const cJSON *doc, const char *node_id, hubs_meta *out, hb_err *e)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(doc)) return bad(e, "body", "must be a JSON object");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "schema_version");
    int64_t n;
    if (whole(v, EXACT_MAX, &n) != 0 || n != 1) return bad(e, "schema_version", "must be 1");
    v = cJSON_GetObjectItemCaseSensitive(doc, "node_id");
    if (v && (!cJSON_IsString(v) || strcmp(v->valuestring, node_id) != 0))
        return bad(e, "node_id", "must be the node id of the path");
    if (whole(cJSON_GetObjectItemCaseSensitive(doc, "run_id"), EXACT_MAX, &out->run_id) != 0)
        return bad(e, "run_id", "must be a non-negative integer");
    v = cJSON_GetObjectItemCaseSensitive(doc, "seq");
    if (v && whole(v, EXACT_MAX, &out->seq) != 0)
        return bad(e, "seq", "must be a non-negative integer");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(doc, "window");
    if (!cJSON_IsObject(w)) return bad(e, "window", "must be an object {from_ms, to_ms}");
    if (whole(cJSON_GetObjectItemCaseSensitive(w, "from_ms"), EXACT_MAX, &out->from_ms) != 0)
        return bad(e, "window.from_ms", "must be a non-negative integer (Unix ms)");
    if (whole(cJSON_GetObjectItemCaseSensitive(w, "to_ms"), EXACT_MAX, &out->to_ms) != 0)
        return bad(e, "window.to_ms", "must be a non-negative integer (Unix ms)");
    if (out->to_ms < out->from_ms) return bad(e, "window.to_ms", "must not be before from_ms");
    int64_t iv;
    if (whole(cJSON_GetObjectItemCaseSensitive(doc, "interval_s"), 86400, &iv) != 0 || iv < 1)
        return bad(e, "interval_s", "must be an integer 1..86400");
    out->interval_s = (int)iv;
    if (counts(doc, "sessions_closed", true, e) || counts(doc, "heartbeats", false, e) ||
        counts(doc, "workers", false, e) || check_tasks(doc, e) || check_groups(doc, e))
        return -1;
    return 0;
}
