/*
 * sink_fmt: a notice as each sink wants it. Pure: everything comes from the
 * notice and the sink's settings (the e-mail Date is the notice's at_ms, its
 * Message-ID a hash of key, state and at_ms), so the same notice always
 * formats to the same bytes and tests compare them exactly.
 *
 * Absent figures are JSON null in the webhook body (an empty worker_id, a
 * last heartbeat of 0, in_flight -1), never 0 or "", so a receiver cannot
 * mistake "unknown" for a value.
 */
#include "server/sink.h"

#include "core/sha256.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FMT_DETAILS_MAX 8192 /* bytes: the details block (up to 4 KiB of job ids in it) */
#define FMT_TEXT_MAX 16384   /* bytes: a Slack text or an e-mail body */

static const char *state_upper(notice_state s)
{
    return s == NOTICE_RESOLVED ? "RESOLVED" : s == NOTICE_REPEAT ? "FIRING (repeat)" : "FIRING";
}

/* cJSON: a string, or null when empty. */
static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (*v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* name_ms as a number and name_at as ISO-8601, both null when ms is 0. */
static void add_time(cJSON *o, const char *name, int64_t ms)
{
    char k[48], iso[TFMT_ISO_LEN];
    snprintf(k, sizeof k, "%s_at", name);
    if (ms)
        cJSON_AddStringToObject(o, k, tfmt_iso(ms, iso));
    else
        cJSON_AddNullToObject(o, k);
    snprintf(k, sizeof k, "%s_ms", name);
    if (ms)
        cJSON_AddNumberToObject(o, k, (double)ms);
    else
        cJSON_AddNullToObject(o, k);
}

char *sink_fmt_webhook(const notice *n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char iso[TFMT_ISO_LEN];
    cJSON_AddNumberToObject(o, "schema_version", NOTICE_SCHEMA_VERSION);
    cJSON_AddStringToObject(o, "state", notice_state_name(n->state));
    cJSON_AddStringToObject(o, "severity", notice_severity_name(n->severity));
    cJSON_AddStringToObject(o, "rule", n->rule);
    cJSON_AddStringToObject(o, "type", n->type);
    cJSON_AddStringToObject(o, "key", n->key);
    add_str_or_null(o, "worker_id", n->worker_id);
    add_str_or_null(o, "group", n->group);
    add_str_or_null(o, "instance", n->instance);
    cJSON_AddStringToObject(o, "summary", n->summary);
    cJSON_AddStringToObject(o, "at", tfmt_iso(n->at_ms, iso)); /* always known */
    cJSON_AddNumberToObject(o, "at_ms", (double)n->at_ms);
    add_time(o, "starts", n->starts_ms);
    add_time(o, "ends", n->ends_ms);
    add_time(o, "last_heartbeat", n->last_hb_ms);
    if (n->session_ms > 0)
        cJSON_AddNumberToObject(o, "session_ms", (double)n->session_ms);
    else
        cJSON_AddNullToObject(o, "session_ms");
    if (n->in_flight >= 0)
        cJSON_AddNumberToObject(o, "in_flight", (double)n->in_flight);
    else
        cJSON_AddNullToObject(o, "in_flight");
    /* Always an array (empty when the worker reported none), so a scheduler
     * can requeue without a null check. */
    cJSON_AddItemToObject(o, "jobs", sink_fmt_jobs(n->njobs ? n->jobs : ""));
    cJSON_AddBoolToObject(o, "clean", n->clean);
    cJSON_AddNumberToObject(o, "folded", n->folded);
    cJSON *ids = cJSON_AddArrayToObject(o, "folded_ids");
    int shown = n->folded < NOTICE_FOLDED_SHOWN ? n->folded : NOTICE_FOLDED_SHOWN;
    for (int i = 0; ids && i < shown; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(n->folded_ids[i]));
    add_str_or_null(o, "field", n->field);
    if (*n->field) {
        cJSON_AddNumberToObject(o, "value", n->value);
        cJSON_AddNumberToObject(o, "limit", n->limit);
    } else {
        cJSON_AddNullToObject(o, "value");
        cJSON_AddNullToObject(o, "limit");
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

cJSON *sink_fmt_jobs(const char *jobs)
{
    cJSON *arr = cJSON_CreateArray();
    for (const char *p = jobs; arr && *p;) {
        size_t l = strcspn(p, "\n");
        char id[HB_JOB_ID_MAX + 1];
        snprintf(id, sizeof id, "%.*s", (int)l, p);
        cJSON_AddItemToArray(arr, cJSON_CreateString(id));
        p += l + (p[l] == '\n');
    }
    return arr;
}

char *sink_fmt_signature(const char *secret, const char *body, size_t len, char *out)
{
    uint8_t d[SHA256_LEN];
    sha256_hmac(secret, strlen(secret), body, len, d);
    memcpy(out, "sha256=", 7);
    sha256_hex(d, sizeof d, out + 7);
    return out;
}

/* "1h 02m 03s", "4m 10s", "12s", "850ms". */
static void fmt_span(int64_t ms, char *out, size_t len)
{
    int64_t s = ms / 1000;
    if (s >= 3600)
        snprintf(out, len, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s", s / 3600, s / 60 % 60,
                 s % 60);
    else if (s >= 60)
        snprintf(out, len, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
    else if (s > 0)
        snprintf(out, len, "%" PRId64 "s", s);
    else
        snprintf(out, len, "%" PRId64 "ms", ms);
}

/* Append to out[len] at *at; past the end it only counts, like snprintf. */
static void put(char *out, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *out, size_t len, size_t *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*at < len ? out + *at : NULL, *at < len ? len - *at : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *at += (size_t)w;
}

size_t sink_fmt_details(const notice *n, char *out, size_t len)
{
    size_t at = 0;
    char iso[TFMT_ISO_LEN], span[48];
    if (len) out[0] = '\0';
    put(out, len, &at, "state: %s\nseverity: %s\nrule: %s (%s)\n", notice_state_name(n->state),
        notice_severity_name(n->severity), n->rule, n->type);
    if (*n->worker_id) put(out, len, &at, "worker: %s\n", n->worker_id);
    if (*n->group) put(out, len, &at, "group: %s\n", n->group);
    if (*n->instance) put(out, len, &at, "instance: %s\n", n->instance);
    if (n->starts_ms) put(out, len, &at, "started: %s\n", tfmt_iso(n->starts_ms, iso));
    if (n->ends_ms) put(out, len, &at, "ended: %s\n", tfmt_iso(n->ends_ms, iso));
    if (n->last_hb_ms) put(out, len, &at, "last heartbeat: %s\n", tfmt_iso(n->last_hb_ms, iso));
    if (n->session_ms > 0) {
        fmt_span(n->session_ms, span, sizeof span);
        put(out, len, &at, "session length: %s\n", span);
    }
    if (n->in_flight >= 0) put(out, len, &at, "in flight: %" PRId64 "\n", n->in_flight);
    if (n->njobs) {
        /* One id a line: 64 ids on one line would pass the 998-byte line
         * limit of mail (RFC 5322). */
        put(out, len, &at, "jobs (%d):\n", n->njobs);
        for (const char *p = n->jobs; *p;) {
            size_t l = strcspn(p, "\n");
            put(out, len, &at, "  %.*s\n", (int)l, p);
            p += l + (p[l] == '\n');
        }
    }
    if (strcmp(n->type, "group_down") == 0)
        put(out, len, &at, "went down: %s\n",
            n->clean ? "scaled down to zero (last worker left cleanly)" : "crashed");
    if (n->folded > 0) {
        put(out, len, &at, "folded worker alerts: %d (", n->folded);
        int shown = n->folded < NOTICE_FOLDED_SHOWN ? n->folded : NOTICE_FOLDED_SHOWN;
        for (int i = 0; i < shown; i++)
            put(out, len, &at, "%s%s", i ? ", " : "", n->folded_ids[i]);
        put(out, len, &at, "%s)\n", n->folded > shown ? ", ..." : "");
    }
    if (*n->field) put(out, len, &at, "%s: %g (limit %g)\n", n->field, n->value, n->limit);
    put(out, len, &at, "key: %s\n", n->key);
    return at < len ? at : (len ? len - 1 : 0);
}

/* Slack mrkdwn: &, <, > are control characters and must be escaped. */
static void put_slack_escaped(char *out, size_t len, size_t *at, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            put(out, len, at, "&amp;");
        else if (*s == '<')
            put(out, len, at, "&lt;");
        else if (*s == '>')
            put(out, len, at, "&gt;");
        else
            put(out, len, at, "%c", *s);
    }
}

char *sink_fmt_slack(const notice *n, const char *dashboard_url)
{
    char text[FMT_TEXT_MAX], iso[TFMT_ISO_LEN];
    size_t at = 0;
    const char *icon = n->state == NOTICE_RESOLVED      ? ":large_green_circle:"
                       : n->severity == NOTICE_CRITICAL ? ":red_circle:"
                                                        : ":large_orange_circle:";
    put(text, sizeof text, &at, "%s *%s* %s: ", icon, state_upper(n->state),
        notice_severity_name(n->severity));
    put_slack_escaped(text, sizeof text, &at, n->summary);
    put(text, sizeof text, &at, "\n");
    if (*n->worker_id) {
        put(text, sizeof text, &at, "worker: `");
        put_slack_escaped(text, sizeof text, &at, n->worker_id);
        put(text, sizeof text, &at, "` · ");
    }
    if (*n->group) {
        put(text, sizeof text, &at, "group: `");
        put_slack_escaped(text, sizeof text, &at, n->group);
        put(text, sizeof text, &at, "` · ");
    }
    put(text, sizeof text, &at, "rule: `");
    put_slack_escaped(text, sizeof text, &at, n->rule);
    put(text, sizeof text, &at, "`");
    if (n->state == NOTICE_RESOLVED && n->ends_ms)
        put(text, sizeof text, &at, " · ended %s", tfmt_iso(n->ends_ms, iso));
    else if (n->starts_ms)
        put(text, sizeof text, &at, " · since %s", tfmt_iso(n->starts_ms, iso));
    if (dashboard_url && *dashboard_url)
        put(text, sizeof text, &at, "\n<%s|Open the vigil dashboard>", dashboard_url);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "text", text);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* RFC 2047: a header with any byte past ASCII goes as one UTF-8 base64
 * encoded-word (the summary holds worker ids, which may be UTF-8). */
static void put_header_text(char *out, size_t len, size_t *at, const char *s)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        ascii &= *p < 0x80;
    if (ascii) {
        put(out, len, at, "%s", s);
        return;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    put(out, len, at, "=?UTF-8?B?");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        put(out, len, at, "%c%c%c%c", b64[v >> 18 & 63], b64[v >> 12 & 63],
            i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '=');
    }
    put(out, len, at, "?=");
}

void sink_fmt_subject(const notice *n, char *out, size_t len)
{
    snprintf(out, len, "[vigil] %s %s: %s", state_upper(n->state),
             notice_severity_name(n->severity), n->summary);
}

char *sink_fmt_email(const notice *n, const char *from, const char *to, const char *dashboard_url)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char *out = malloc(FMT_TEXT_MAX), subject[NOTICE_TEXT_MAX + 64], details[FMT_DETAILS_MAX];
    if (!out) return NULL;
    size_t at = 0, len = FMT_TEXT_MAX;
    time_t t = (time_t)(n->at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    put(out, len, &at, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
        tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    put(out, len, &at, "From: %s\r\nTo: %s\r\nSubject: ", from, to);
    sink_fmt_subject(n, subject, sizeof subject);
    put_header_text(out, len, &at, subject);
    /* Message-ID: unique per notice, stable for the same one (a retried
     * delivery is recognisably the same message). */
    char idsrc[sizeof n->key + 48], hex[SHA256_HEX_LEN];
    uint8_t d[SHA256_LEN];
    int il = snprintf(idsrc, sizeof idsrc, "%s|%d|%" PRId64, n->key, (int)n->state, n->at_ms);
    sha256(idsrc, (size_t)il, d);
    const char *dom = strrchr(from, '@');
    size_t domlen = dom ? strcspn(dom + 1, "> ") : 0;
    put(out, len, &at, "\r\nMessage-ID: <vigil.%" PRId64 ".%.16s@%.*s>\r\n", n->at_ms,
        sha256_hex(d, sizeof d, hex), domlen ? (int)domlen : 9, domlen ? dom + 1 : "localhost");
    put(out, len, &at,
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\nX-Vigil-Key: ");
    put_header_text(out, len, &at, n->key);
    put(out, len, &at, "\r\n\r\n%s\r\n\r\n", n->summary);
    sink_fmt_details(n, details, sizeof details);
    for (const char *p = details; *p; p++) /* the body's lines end in CRLF too */
        put(out, len, &at, *p == '\n' ? "\r\n" : "%c", *p);
    if (dashboard_url && *dashboard_url) put(out, len, &at, "\r\nDashboard: %s\r\n", dashboard_url);
    put(out, len, &at, "\r\n-- \r\nvigil\r\n");
    if (at >= len) memcpy(out + len - 3, "\r\n", 3); /* cut short: still ends in CRLF */
    return out;
}

char *sink_fmt_alertmanager(const notice *n, const char *generator_url)
{
    cJSON *arr = cJSON_CreateArray(), *a = cJSON_CreateObject();
    if (!arr || !a) {
        cJSON_Delete(arr);
        cJSON_Delete(a);
        return NULL;
    }
    cJSON_AddItemToArray(arr, a);
    cJSON *l = cJSON_AddObjectToObject(a, "labels");
    cJSON_AddStringToObject(l, "alertname", n->rule);
    cJSON_AddStringToObject(l, "severity", notice_severity_name(n->severity));
    cJSON_AddStringToObject(l, "type", n->type);
    cJSON_AddStringToObject(l, "vigil_key", n->key);
    /* Alertmanager treats an empty label as absent; leave those out. */
    if (*n->worker_id) cJSON_AddStringToObject(l, "worker_id", n->worker_id);
    if (*n->group) cJSON_AddStringToObject(l, "group", n->group);
    if (*n->instance) cJSON_AddStringToObject(l, "instance", n->instance);
    char details[FMT_DETAILS_MAX], iso[TFMT_ISO_LEN];
    sink_fmt_details(n, details, sizeof details);
    cJSON *an = cJSON_AddObjectToObject(a, "annotations");
    cJSON_AddStringToObject(an, "summary", n->summary);
    cJSON_AddStringToObject(an, "description", details);
    /* Alertmanager resolves an alert by itself at endsAt (or resolve_timeout
     * after the last POST when endsAt is absent) and expects clients to
     * re-send while it fires. vigil re-sends only on repeat reminders, so a
     * firing alert is held for SINK_AM_HOLD_MS: rules sending to
     * Alertmanager should repeat more often than that. A resolved one ends
     * when it ended. */
    int64_t starts = n->starts_ms ? n->starts_ms : n->at_ms;
    int64_t ends =
        n->state == NOTICE_RESOLVED
            ? (n->ends_ms ? n->ends_ms : n->at_ms)
            : n->at_ms + (strcmp(n->type, "test") == 0 ? SINK_AM_TEST_HOLD_MS : SINK_AM_HOLD_MS);
    if (ends < starts) ends = starts;
    cJSON_AddStringToObject(a, "startsAt", tfmt_iso(starts, iso));
    cJSON_AddStringToObject(a, "endsAt", tfmt_iso(ends, iso));
    if (generator_url && *generator_url) cJSON_AddStringToObject(a, "generatorURL", generator_url);
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}
