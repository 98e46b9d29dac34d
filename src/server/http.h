/*
 * http: the request plumbing shared by the route files: a request context
 * with its body, JSON error/response helpers, auth, query parameters.
 * Routes are functions `int route(app *, req *)` that queue one response and
 * return MHD's result.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include "server/app.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct cJSON;

#define HTTP_INLINE_BODY 2048      /* most heartbeats fit: no heap body buffer */
#define HTTP_IMPORT_MAX (64 << 20) /* bytes: POST /v1/import/sessions body */

typedef enum http_method {
    HTTP_GET = 1,
    HTTP_POST = 2,
    HTTP_DELETE = 4,
    HTTP_HEAD = 8,
    HTTP_OTHER = 16
} http_method;

typedef struct req {
    struct MHD_Connection *conn;
    const char *url;
    int method;      /* http_method */
    size_t limit;    /* body bytes allowed */
    size_t len, cap; /* body */
    size_t declared; /* Content-Length, when given (and within limit) */
    char *body;      /* inline or heap */
    bool too_big;    /* body passed the limit: answered 413 once complete */
    size_t dropped;  /* body bytes past the limit, counted, not kept */
    void *held;      /* GET /v1/connect: its held.c record, told when the connection ends */
    bool heap;
    char inline_body[HTTP_INLINE_BODY];
} req;

/* Responses. Each queues exactly one response and returns MHD's result. */
enum MHD_Result http_json(req *r, unsigned status, const char *json, size_t len);
enum MHD_Result http_cjson(req *r, unsigned status, struct cJSON *doc); /* frees doc */
enum MHD_Result http_error(req *r, unsigned status, const char *field, const char *reason);
/* The error response alone, not queued: for routes that add headers of
 * their own (the dashboard's). NULL when out of memory. */
struct MHD_Response *http_error_response(unsigned status, const char *field, const char *reason);
enum MHD_Result http_static(req *r, unsigned status, struct MHD_Response *resp);

/* Auth: true when the request carries `Authorization: Bearer <token>` equal
 * (in constant time) to one of the tokens given (NULL/"" entries skipped). */
bool http_bearer_ok(req *r, const char *tok1, const char *tok2);

/* Query parameter, or NULL. */
const char *http_query(req *r, const char *key);
/* Header, or NULL. */
const char *http_header(req *r, const char *key);

/* Parse an optional integer query parameter in [lo, hi]; on a bad value
 * queues a 400 naming it and returns false (caller returns *res). */
bool http_query_int(req *r, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    enum MHD_Result *res);
/* Same for a timestamp (ISO-8601 or epoch ms). */
bool http_query_time(req *r, const char *key, int64_t *out, enum MHD_Result *res);

/* Same for an id-valued parameter (a group, a worker): absent leaves *out
 * NULL; present must be 1-128 bytes of [A-Za-z0-9._:@-]. */
bool http_query_id(req *r, const char *key, const char **out, enum MHD_Result *res);
/* Same for a number in [lo, hi] (NaN refused). */
bool http_query_num(req *r, const char *key, double lo, double hi, double *out,
                    enum MHD_Result *res);
/* Same for a positive duration ("6h", "90s", "7d"; tfmt_parse_duration). */
bool http_query_duration(req *r, const char *key, int64_t *out_ms, enum MHD_Result *res);

/* {"error":{"field":F,"reason":R,"row":N}}: a bad row of an uploaded file. */
enum MHD_Result http_error_row(req *r, unsigned status, size_t row, const char *field,
                               const char *reason);
/* A malloc'd body of another type (CSV); takes ownership of body. */
enum MHD_Result http_text(req *r, unsigned status, const char *type, char *body, size_t len);

/* ISO-8601 time under key, or null for ms <= 0. */
void http_add_time(struct cJSON *o, const char *key, int64_t ms);

/* routes_ingest.c */
enum MHD_Result route_heartbeat(app *a, req *r);
enum MHD_Result route_bye(app *a, req *r);
enum MHD_Result route_heartbeats(app *a, req *r);
enum MHD_Result route_ping(app *a, req *r, const char *rest);
void routes_ingest_init(void);
/* The ingest ring's fast path (ring.c): a heartbeat (bye: a bye) body that
 * parses and applies, with the Authorization value auth[0..auth_len) (NULL:
 * none). Returns the JSON answer for the state it left the worker in (its
 * length in *json_len), or NULL when it did not apply: the request then goes
 * to libmicrohttpd, whose route above answers it (400, 401, 503) and counts
 * the refusal. */
const char *ingest_fast(app *a, bool bye, const char *auth, size_t auth_len, const char *body,
                        size_t len, size_t *json_len);
void routes_ingest_free(void);

/* routes_rel.c: analytics (reliability, liveness, fleet, tasks, import, rollup) */
enum MHD_Result route_silences(app *a, req *r);
enum MHD_Result route_silence(app *a, req *r, const char *id);
enum MHD_Result route_reliability(app *a, req *r, bool csv);
enum MHD_Result route_fleet_availability(app *a, req *r);
enum MHD_Result route_tasks(app *a, req *r);
enum MHD_Result route_tasks_latency(app *a, req *r);
enum MHD_Result route_import_sessions(app *a, req *r);
enum MHD_Result route_admin_rollup(app *a, req *r);
enum MHD_Result route_admin_udp(app *a, req *r); /* udp.c: UDP ingest counters */
enum MHD_Result route_worker_liveness(app *a, req *r, const char *id);
enum MHD_Result route_worker_sessions_csv(app *a, req *r, const char *id);
enum MHD_Result route_worker_hourly(app *a, req *r, const char *id);
/* Shared JSON of the figures: fractions to 6 decimals, seconds to 3, NAN null. */
/* One rollup's figures: at, reliability {…}, hourly {…} (POST /v1/admin/rollup,
 * GET /v1/snapshot). */
void routes_rollup_json(struct cJSON *o, const rollup_stats *st);
void routes_add_frac(struct cJSON *o, const char *k, double v);
void routes_add_secs(struct cJSON *o, const char *k, double v);
/* Every rel_features field under its API name, as JSON members each after a
 * comma; p_stays NAN = not asked. */
struct tbuf;
void routes_features_json(struct tbuf *b, const rel_features *f, double p_stays);

/* routes_web.c: the dashboard (GET/HEAD /, /ui and /ui/<file>, embedded; no token) */
enum MHD_Result route_web(app *a, req *r);

/* routes_history.c: GET /v1/history/metrics (the fleet series, history.h) */
enum MHD_Result route_history_metrics(app *a, req *r);

/* routes_read.c */
enum MHD_Result route_workers(app *a, req *r);
enum MHD_Result route_worker(app *a, req *r, const char *id, const char *sub);
enum MHD_Result route_groups(app *a, req *r);
enum MHD_Result route_events(app *a, req *r);
enum MHD_Result route_healthz(app *a, req *r);
enum MHD_Result route_readyz(app *a, req *r);
/* The read side's JSON shapes, shared with the live stream (stream.c) so a
 * worker, group or event looks the same however it is read. w may be NULL
 * (first_seen null); e->id 0 gives "id": null. */
struct cJSON *json_worker(const store_worker *w, const reg_view *v, int64_t now);
struct cJSON *json_group(const reg_group_view *g);
struct cJSON *json_event(const store_event *e);

/* stream.c */
enum MHD_Result route_stream(app *a, req *r);

/* routes_ingest.c, for the other ingest doors (held.c): query parameters
 * as heartbeat fields (the ping rules: worker_id and exit_code are the
 * path's), and the 400 for a refused message (counted like the others). */
bool ingest_query_fields(req *r, hb_msg *m, hb_err *e);
enum MHD_Result ingest_refuse(app *a, req *r, const hb_err *e);

/* held.c */
enum MHD_Result route_connect(app *a, req *r, const char *worker_id);
/* http.c's request-completed hook: r->held's connection ended. */
void held_closed(app *a, void *held, int toe);

/* metrics.c: GET /metrics (Prometheus text; admin token unless metrics_public) */
enum MHD_Result route_metrics(app *a, req *r);

/* routes_snapshot.c: GET /v1/snapshot, the raw-state envelope (snapshot.h) */
enum MHD_Result route_snapshot(app *a, req *r);

#endif
