/*
 * sink: where alert notices go. A `[sink "name"]` section of the config file
 * is one sink_cfg; the notifier (notify.h) delivers each notice to the sinks
 * it names, one attempt at a time, through sink_send.
 *
 * Four kinds, each a pure formatter (tested byte for byte) plus one libcurl
 * transfer:
 *   webhook       POST url, the notice as versioned JSON (docs/alerts.md),
 *                 signed with X-Vigil-Signature: sha256=<hex HMAC of the body>
 *                 when `secret` is set
 *   slack         POST url (an incoming webhook), {"text": readable lines}
 *   smtp          one RFC 5322 message to `to` (comma list) from `from`;
 *                 smtp:// upgrades with STARTTLS when offered, smtps:// is TLS
 *                 from the start
 *   alertmanager  POST url/api/v2/alerts, a one-alert array
 *
 * Config keys (sink_cfg_set): type, url, timeout, secret, dashboard_url, from,
 * to, username, password.
 */
#ifndef VIGIL_SINK_H
#define VIGIL_SINK_H

#include "core/notice.h"

#include <stddef.h>
#include <stdint.h>

#define SINK_STR_MAX 512             /* bytes: url, secret, addresses, credentials */
#define SINK_TIMEOUT_DEFAULT_MS 5000 /* one delivery attempt, connect included */
#define SINK_TIMEOUT_MAX_MS 300000   /* longer is a typo, not a wish */
#define SINK_AM_HOLD_MS (60 * 60000) /* firing: endsAt = at + this (see sink_fmt_alertmanager) */
#define SINK_AM_TEST_HOLD_MS (5 * 60000) /* ... for a --test-sink notice */
#define SINK_ERR_BODY_SHOWN 200          /* bytes of a failed answer's body put into the error */

typedef enum sink_kind {
    SINK_NONE, /* `type` not given yet */
    SINK_WEBHOOK,
    SINK_SLACK,
    SINK_SMTP,
    SINK_ALERTMANAGER,
} sink_kind;

typedef struct sink_cfg {
    char name[NOTICE_NAME_MAX + 1];
    sink_kind kind;
    char url[SINK_STR_MAX];
    int timeout_ms;
    char secret[SINK_STR_MAX];        /* webhook: HMAC key; "" = unsigned */
    char dashboard_url[SINK_STR_MAX]; /* slack, smtp: link; alertmanager: generatorURL */
    char from[SINK_STR_MAX];          /* smtp: envelope and From: address */
    char to[SINK_STR_MAX];            /* smtp: comma-separated recipients */
    char username[SINK_STR_MAX];      /* smtp: AUTH, optional */
    char password[SINK_STR_MAX];
} sink_cfg;

const char *sink_kind_name(sink_kind k); /* "webhook", "slack", "smtp", "alertmanager" */

/* Start a section: defaults, and the name checked (1..NOTICE_NAME_MAX bytes
 * of [A-Za-z0-9._-]). 0 ok, -1 with err set. */
int sink_cfg_init(sink_cfg *s, const char *name, char *err, size_t errlen);

/* Apply one key of the section. 0 ok; -1 with err naming the key and why
 * (unknown key, bad value). The caller adds file and line. */
int sink_cfg_set(sink_cfg *s, const char *key, const char *value, char *err, size_t errlen);

/* The section as a whole, once read: type present, url scheme fits the type,
 * smtp has from and to, keys used only by other types absent. 0 ok; -1 with
 * err naming the key (the caller adds the section, file and line). */
int sink_cfg_check(const sink_cfg *s, char *err, size_t errlen);

/* ---- pure formatters: a malloc'd NUL-terminated string, NULL on OOM ---- */

/* Webhook body: the notice as JSON, schema NOTICE_SCHEMA_VERSION. */
char *sink_fmt_webhook(const notice *n);
/* X-Vigil-Signature value for body under secret: "sha256=<64 hex>" into out
 * (at least 72 bytes). Returns out. */
char *sink_fmt_signature(const char *secret, const char *body, size_t len, char *out);
/* Slack: {"text": "..."} with state, severity, summary, worker, group, and a
 * link to dashboard_url when set. */
char *sink_fmt_slack(const notice *n, const char *dashboard_url);
/* E-mail: RFC 5322 headers (Date, From, To, Subject, Message-ID, MIME) and a
 * plain-text body, CRLF line ends. */
char *sink_fmt_email(const notice *n, const char *from, const char *to, const char *dashboard_url);
/* E-mail Subject line alone (no "Subject: "), e.g.
 * "[vigil] FIRING critical: worker w1 lost". */
void sink_fmt_subject(const notice *n, char *out, size_t len);
/* Alertmanager v2 POST /api/v2/alerts body: [ {labels, annotations,
 * startsAt, endsAt, generatorURL} ]. */
char *sink_fmt_alertmanager(const notice *n, const char *generator_url);
/* The notice's details as readable lines ("worker: w1\n..."), shared by the
 * e-mail body and Alertmanager's description. Returns bytes written. */
size_t sink_fmt_details(const notice *n, char *out, size_t len);
/* Job ids joined by '\n' (hb.h, notice.jobs) as a JSON array of strings,
 * for the webhook body and GET /v1/workers/{id}. NULL on OOM. */
struct cJSON *sink_fmt_jobs(const char *jobs);

/* ---- delivery ---- */

/* One sink's connection: a libcurl easy handle kept across deliveries so
 * HTTP keep-alive and the SMTP connection are reused. Used by one thread. */
typedef struct sink_conn sink_conn;

sink_conn *sink_conn_new(void); /* NULL on OOM or libcurl failure */
void sink_conn_free(sink_conn *c);

/* One delivery attempt of n to s. 0 ok (2xx, or the SMTP server took the
 * message); -1 with err saying why ("HTTP 503 from URL: <start of body>",
 * libcurl's transport or SMTP error). err does not repeat the sink's name:
 * the caller's message does. */
int sink_send(sink_conn *c, const sink_cfg *s, const notice *n, char *err, size_t errlen);

#endif
