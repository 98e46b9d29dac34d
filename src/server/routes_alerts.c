/*
 * routes_alerts: silences, POST/GET /v1/silences and DELETE
 * /v1/silences/{id} (docs/api.md). A silence holds back the notices of the
 * alerts it matches (rule, group and worker globs, at least one given)
 * until it ends; the alerts still fire and resolve as events meanwhile, and
 * one still active when the silence goes is notified then (core/alert.h).
 * Silences live in memory: a restart forgets them.
 */
#include "core/alert_rule.h"
#include "core/qry.h"
#include "core/tfmt.h"
#include "server/alerts.h"
#include "server/http.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SILENCE_MAX_MS (366LL * 86400000LL) /* a silence longer than a year is a mistake */

static enum MHD_Result no_rules(req *r)
{
    return http_error(r, 409, "rules",
                      "alerting is off: the configuration has no [rule \"…\"] section");
}

/* A glob member of the body: absent/null leaves "", else a valid glob. */
static bool glob_member(const cJSON *doc, const char *key, char *out, const char **why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsString(v) || !v->valuestring[0] || !alert_glob_valid(v->valuestring)) {
        *why = "must be a non-empty glob (* ? [..]) of at most 128 bytes";
        return false;
    }
    snprintf(out, ALERT_GLOB_MAX + 1, "%s", v->valuestring);
    return true;
}

static enum MHD_Result silence_add(app *a, req *r)
{
    cJSON *doc = cJSON_ParseWithLength(r->body, r->len);
    if (!doc || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return http_error(r, 400, "json", "must be a JSON object");
    }
    alert_silence s = {0};
    const char *why = NULL, *field = NULL;
    int64_t now = app_now_ms(), dur;
    const cJSON *ends = cJSON_GetObjectItemCaseSensitive(doc, "ends_at");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "duration");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "comment");
    if (!glob_member(doc, "rule", s.rule_glob, &why))
        field = "rule";
    else if (!glob_member(doc, "group", s.group_glob, &why))
        field = "group";
    else if (!glob_member(doc, "worker", s.worker_glob, &why))
        field = "worker";
    else if (!s.rule_glob[0] && !s.group_glob[0] && !s.worker_glob[0])
        field = "rule", why = "give at least one of rule, group, worker";
    else if ((ends != NULL) == (d != NULL))
        field = "ends_at", why = "give either ends_at (ISO-8601) or duration (\"2h\")";
    else if (ends && (!cJSON_IsString(ends) || tfmt_parse(ends->valuestring, &s.ends_ms) != 0))
        field = "ends_at", why = "must be an ISO-8601 time";
    else if (d &&
             (!cJSON_IsString(d) || tfmt_parse_duration(d->valuestring, &dur) != 0 || dur <= 0))
        field = "duration", why = "must be a positive duration (30m, 2h, 7d)";
    else if (c && !cJSON_IsNull(c) &&
             (!cJSON_IsString(c) || strlen(c->valuestring) >= NOTICE_TEXT_MAX))
        field = "comment", why = "must be a string of fewer than 512 bytes";
    if (!field) {
        if (d) s.ends_ms = now + dur;
        if (s.ends_ms <= now)
            field = ends ? "ends_at" : "duration", why = "must end in the future";
        else if (s.ends_ms - now > SILENCE_MAX_MS)
            field = ends ? "ends_at" : "duration", why = "must end within a year";
    }
    if (field) {
        cJSON_Delete(doc);
        return http_error(r, 400, field, why);
    }
    if (cJSON_IsString(c)) snprintf(s.comment, sizeof s.comment, "%s", c->valuestring);
    cJSON_Delete(doc);
    /* The now its end was counted from: "for 2h" lasts 2 h to the millisecond
     * (the engine's own clock, read later, made it 7,199,999 ms at times). */
    s.starts_ms = now;
    if (alerts_silence_add(a->alerts, &s) < 0)
        return http_error(r, 503, "silence", "could not be stored (out of memory)");
    char body[64];
    int n = snprintf(body, sizeof body, "{\"id\":%lld}", (long long)s.id);
    return http_json(r, 201, body, (size_t)n);
}

static void silence_row(void *ctx, const alert_silence *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddStringToObject(o, "rule", s->rule_glob);
    cJSON_AddStringToObject(o, "group", s->group_glob);
    cJSON_AddStringToObject(o, "worker", s->worker_glob);
    http_add_time(o, "starts_at", s->starts_ms);
    http_add_time(o, "ends_at", s->ends_ms);
    cJSON_AddStringToObject(o, "comment", s->comment);
    cJSON_AddItemToArray(ctx, o);
}

enum MHD_Result route_silences(app *a, req *r)
{
    if (r->method & HTTP_POST) return a->alerts ? silence_add(a, r) : no_rules(r);
    if (!(r->method & (HTTP_GET | HTTP_HEAD)))
        return http_error(r, 405, "method", "this endpoint takes GET, POST");
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "silences");
    if (a->alerts) alerts_silences(a->alerts, silence_row, arr);
    return http_cjson(r, 200, doc);
}

enum MHD_Result route_silence(app *a, req *r, const char *id)
{
    if (!(r->method & HTTP_DELETE))
        return http_error(r, 405, "method", "this endpoint takes DELETE");
    int64_t n;
    if (qry_int(id, 1, INT64_MAX, &n) != 0) return http_error(r, 400, "id", "must be a silence id");
    if (!a->alerts || alerts_silence_del(a->alerts, n) != 0)
        return http_error(r, 404, "id", "no such silence");
    return http_json(r, 200, "{\"deleted\":true}", 16);
}
