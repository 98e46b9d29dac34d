/*
 * http: libmicrohttpd in epoll mode, one access handler, a path router.
 *
 * MHD calls the handler several times per request: once with the headers
 * (we allocate the request context and may refuse early, e.g. a declared
 * body over the limit), once per chunk of body (we append, up to the
 * route's limit, then only count), and once at the end (we dispatch). Small
 * bodies live in the context itself, so a typical heartbeat costs one
 * allocation for the whole request.
 */
#include "server/http.h"
#include "server/cguard.h"
#include "server/hub.h"
#include "server/metrics.h"
#include "server/ring.h"

#include "core/hb.h"
#include "core/hubs.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#define HTTP_CONN_TIMEOUT_S 30 /* idle keep-alive connections are closed after this */
/* Open connections at most (beyond it MHD closes new ones at once). Was 4096:
 * 10,000 idle sockets then locked every new client out until the timeout.
 * An idle connection costs an fd and an untouched 8 KiB pool mapping. */
#define HTTP_CONN_LIMIT 16384
#define HTTP_FD_RESERVE 256 /* fds kept for the store, logs, sinks, UDP, spill */
/* Per-connection pool (headers + read buffer; bodies stream through it).
 * libmicrohttpd zeroes the pool between requests, so its 32 KiB default
 * cost a 32 KiB memset per heartbeat; 8 KiB still holds any sane header set. */
#define HTTP_CONN_POOL_BYTES 8192
/* The pool of a /v1/stream connection (the ring hands those to a daemon of
 * their own). libmicrohttpd fills a streamed response's chunks into what is
 * left of the pool, so 8 KiB cut a subscriber's tick of changes into ~8 KB
 * sends; on loopback each send cost ~26 µs of the server's core, whatever
 * its size. This pool holds a whole STREAM_BLOCK (64 KiB): one send a tick.
 * A stream connection makes one request for its life, so the pool's reset
 * (a memset of all of it) is paid once, not per heartbeat. */
#define HTTP_STREAM_POOL_BYTES (72 * 1024)
#define HTTP_DISCARD_MAX (1 << 20)  /* bytes of a too-big body read before the connection is cut */
#define HTTP_REQ_CACHE 64           /* request contexts kept per thread for reuse */
#define HTTP_PRESIZE_MAX (1u << 20) /* body bytes allocated ahead of those received */
#define HTTP_SPARE_BODY_MAX (1u << 20) /* a body buffer kept for the next big body, at most */
#define HTTP_SPARE_BODIES 32           /* body buffers kept per thread */
#define HTTP_SPARE_BYTES (16u << 20)   /* their capacity together, per thread */

/* Request contexts are ~2 KiB (the inline body): big enough that malloc
 * treats each as a large request and consolidates its fast bins every time.
 * Each MHD thread keeps a few for reuse instead. */
static __thread req *req_cache[HTTP_REQ_CACHE];
static __thread int req_cached;

/* A big body (an NDJSON batch) used to grow by doubling into fresh heap
 * each time: the copies and the page faults of new memory were 15 % of the
 * MHD thread at 1,000-line batches. Each thread now keeps body buffers
 * (each up to HTTP_SPARE_BODY_MAX) for the next ones, whose pages are
 * already there, and sizes a body from its Content-Length at once. 1 MiB
 * keeps a 1,000-line batch (~250 KB); a body past it pays its faults over
 * thousands of lines, where a kept 5,000-line buffer (1.3 MB) was 13 B a
 * worker at 100,000 workers, idle or not. It kept one until 2026-12-07: a
 * client with 32 connections has 32 bodies in flight on one thread, so 31
 * were new mmap'd memory (above M_MMAP_THRESHOLD) faulted in page by page
 * and unmapped after (perf: 12 % of the thread in page faults under the
 * copy, 2 % in munmap). Now up to HTTP_SPARE_BODIES, HTTP_SPARE_BYTES of
 * capacity together: after a burst of big bodies a thread holds at most
 * that, and only the pages the bodies touched are resident. */
static __thread char *spare_body[HTTP_SPARE_BODIES];
static __thread size_t spare_cap[HTTP_SPARE_BODIES];
static __thread int spares;
static __thread size_t spare_total;

static pthread_key_t req_key;
static pthread_once_t req_once = PTHREAD_ONCE_INIT;

/* Runs in each MHD thread as it exits, while its thread-locals still exist. */
static void req_cache_drop(void *unused)
{
    (void)unused;
    while (req_cached)
        free(req_cache[--req_cached]);
    while (spares)
        free(spare_body[--spares]);
    spare_total = 0;
}

/* A kept body buffer of at least need bytes (*cap set), or NULL. */
static char *spare_take(size_t need, size_t *cap)
{
    for (int i = 0; i < spares; i++) {
        if (spare_cap[i] < need) continue;
        char *b = spare_body[i];
        *cap = spare_cap[i];
        spare_total -= spare_cap[i];
        spares--;
        spare_body[i] = spare_body[spares];
        spare_cap[i] = spare_cap[spares];
        return b;
    }
    return NULL;
}

static void req_key_make(void)
{
    pthread_key_create(&req_key, req_cache_drop);
}

static req *req_get(void)
{
    if (req_cached) return req_cache[--req_cached];
    pthread_once(&req_once, req_key_make);
    pthread_setspecific(req_key, (void *)1); /* arms the destructor for this thread */
    return malloc(sizeof(req));
}

static void req_put(req *r)
{
    if (r->heap) {
        if (r->cap <= HTTP_SPARE_BODY_MAX && spares < HTTP_SPARE_BODIES &&
            spare_total + r->cap <= HTTP_SPARE_BYTES) {
            spare_body[spares] = r->body;
            spare_cap[spares++] = r->cap;
            spare_total += r->cap;
        } else {
            free(r->body);
        }
    }
    if (req_cached < HTTP_REQ_CACHE)
        req_cache[req_cached++] = r;
    else
        free(r);
}

/* Media type of the body, compared without parameters; absent is allowed
 * (curl --data-binary sends none with -H ''), anything else must match. */
static bool content_type_ok(req *r, const char *const *allowed)
{
    const char *ct = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || !*ct) return true;
    size_t n = strcspn(ct, "; \t");
    for (; *allowed; allowed++)
        if (strlen(*allowed) == n && strncasecmp(ct, *allowed, n) == 0) return true;
    return false;
}

static int method_of(const char *m)
{
    if (strcmp(m, "GET") == 0) return HTTP_GET;
    if (strcmp(m, "POST") == 0) return HTTP_POST;
    if (strcmp(m, "DELETE") == 0) return HTTP_DELETE;
    if (strcmp(m, "HEAD") == 0) return HTTP_HEAD;
    return HTTP_OTHER;
}

static enum MHD_Result bad_method(req *r, const char *allow)
{
    char why[96];
    snprintf(why, sizeof why, "this endpoint takes %s", allow);
    cJSON *doc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(doc, "error");
    cJSON_AddStringToObject(e, "field", "method");
    cJSON_AddStringToObject(e, "reason", why);
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(r->conn, 405, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char *const JSON_TYPES[] = {"application/json", NULL};
static const char *const NDJSON_TYPES[] = {"application/x-ndjson", "application/jsonl",
                                           "application/json-lines", "application/json", NULL};

static enum MHD_Result ingest_post(app *a, req *r, const char *const *types,
                                   enum MHD_Result (*fn)(app *, req *))
{
    if (r->method != HTTP_POST) return bad_method(r, "POST");
    if (a->ingest_token[0] && !http_bearer_ok(r, a->ingest_token, a->admin_token)) {
        metrics_reject(a, "authorization");
        return http_error(r, 401, "authorization", "missing or wrong ingest token (Bearer)");
    }
    if (!content_type_ok(r, types)) {
        metrics_reject(a, "content-type");
        char why[160];
        snprintf(why, sizeof why, "must be %s (with curl: -H 'Content-Type: %s')", types[0],
                 types[0]);
        return http_error(r, 415, "content-type", why);
    }
    return fn(a, r);
}

/* /v1/hub/…: the summaries nodes push carry the hub's token; the lists are
 * the read side (admin token). A vigild that is not a hub has none of it. */
static enum MHD_Result hub_dispatch(app *a, req *r, const char *rest)
{
    bool nodes = strncmp(rest, "nodes", 5) == 0 && (rest[5] == '\0' || rest[5] == '/');
    const char *p = nodes && rest[5] ? rest + 6 : "", *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    const char *sub = slash ? slash + 1 : "";
    char id[HUBS_NODE_MAX + 1] = "";
    bool id_ok = n && hubs_node_valid(p, n);
    if (id_ok) memcpy(id, p, n), id[n] = '\0';
    if (nodes && n && strcmp(sub, "summary") == 0) { /* the nodes' door: the hub's token */
        if (!a->hub)
            return http_error(r, 404, "path", "this vigild is not a hub ([hub] role = hub)");
        if (!id_ok) return http_error(r, 400, "node_id", "must be 1-64 bytes of [A-Za-z0-9._:@-]");
        if (r->method != HTTP_POST) return bad_method(r, "POST");
        if (!http_bearer_ok(r, a->hub_accept_token, NULL))
            return http_error(r, 401, "authorization", "missing or wrong hub token (Bearer)");
        if (!content_type_ok(r, JSON_TYPES))
            return http_error(r, 415, "content-type", "must be application/json");
        return route_hub_summary(a, r, id);
    }
    /* The rest is the read side: the admin token before anything is told. */
    if (!http_bearer_ok(r, a->admin_token, NULL))
        return http_error(r, 401, "authorization", "missing or wrong admin token (Bearer)");
    if (!a->hub) return http_error(r, 404, "path", "this vigild is not a hub ([hub] role = hub)");
    if (!nodes || (n == 0 && slash)) return http_error(r, 404, "path", "no such endpoint");
    if (n && !id_ok) return http_error(r, 400, "node_id", "must be 1-64 bytes of [A-Za-z0-9._:@-]");
    if (!n)
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_hub_nodes(a, r) : bad_method(r, "GET");
    return route_hub_node(a, r, id, sub);
}

static enum MHD_Result dispatch(app *a, req *r)
{
    const char *u = r->url;
    if (strcmp(u, "/v1/heartbeat") == 0) return ingest_post(a, r, JSON_TYPES, route_heartbeat);
    if (strcmp(u, "/v1/bye") == 0) return ingest_post(a, r, JSON_TYPES, route_bye);
    if (strcmp(u, "/v1/heartbeats") == 0) return ingest_post(a, r, NDJSON_TYPES, route_heartbeats);
    if (strcmp(u, "/v1/tasks") == 0) return ingest_post(a, r, JSON_TYPES, route_tasks);
    bool ping = strncmp(u, "/ping/", 6) == 0, connect = strncmp(u, "/v1/connect/", 12) == 0;
    if (ping || connect) {
        if (!(r->method & (ping ? HTTP_GET | HTTP_POST | HTTP_HEAD : HTTP_GET)))
            return bad_method(r, ping ? "GET, POST" : "GET");
        if (a->ingest_token[0] && !http_bearer_ok(r, a->ingest_token, a->admin_token)) {
            metrics_reject(a, "authorization");
            return http_error(r, 401, "authorization", "missing or wrong ingest token (Bearer)");
        }
        return ping ? route_ping(a, r, u + 6) : route_connect(a, r, u + 12);
    }
    if (strcmp(u, "/healthz") == 0 || strcmp(u, "/readyz") == 0) {
        if (!(r->method & (HTTP_GET | HTTP_HEAD))) return bad_method(r, "GET");
        return u[1] == 'h' ? route_healthz(a, r) : route_readyz(a, r);
    }
    if (strcmp(u, "/") == 0 || (strncmp(u, "/ui", 3) == 0 && (u[3] == '\0' || u[3] == '/')))
        return route_web(a, r);
    if (strcmp(u, "/metrics") == 0) /* its own auth: metrics_public */
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_metrics(a, r) : bad_method(r, "GET");
    if (strncmp(u, "/v1/", 4) != 0) return http_error(r, 404, "path", "no such endpoint");
    if (strncmp(u, "/v1/hub/", 8) == 0) return hub_dispatch(a, r, u + 8);
    /* Everything else under /v1/ is the read side: admin token. */
    if (!http_bearer_ok(r, a->admin_token, NULL))
        return http_error(r, 401, "authorization", "missing or wrong admin token (Bearer)");
    if (strcmp(u, "/v1/workers") == 0)
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_workers(a, r) : bad_method(r, "GET");
    if (strcmp(u, "/v1/groups") == 0)
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_groups(a, r) : bad_method(r, "GET");
    if (strcmp(u, "/v1/events") == 0)
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_events(a, r) : bad_method(r, "GET");
    if (strcmp(u, "/v1/stream") == 0) return route_stream(a, r);
    static const struct {
        const char *path;
        int methods;
        enum MHD_Result (*fn)(app *, req *);
    } admin_routes[] = {
        {"/v1/fleet/availability", HTTP_GET | HTTP_HEAD, route_fleet_availability},
        {"/v1/tasks/latency", HTTP_GET | HTTP_HEAD, route_tasks_latency},
        {"/v1/history/metrics", HTTP_GET | HTTP_HEAD, route_history_metrics},
        {"/v1/snapshot", HTTP_GET | HTTP_HEAD, route_snapshot},
        {"/v1/import/sessions", HTTP_POST, route_import_sessions},
        {"/v1/admin/rollup", HTTP_POST, route_admin_rollup},
        {"/v1/admin/udp", HTTP_GET | HTTP_HEAD, route_admin_udp},
    };
    for (size_t i = 0; i < sizeof admin_routes / sizeof admin_routes[0]; i++)
        if (strcmp(u, admin_routes[i].path) == 0)
            return r->method & admin_routes[i].methods
                       ? admin_routes[i].fn(a, r)
                       : bad_method(r, admin_routes[i].methods & HTTP_POST ? "POST" : "GET");
    if (strcmp(u, "/v1/silences") == 0) return route_silences(a, r);
    if (strncmp(u, "/v1/silences/", 13) == 0) return route_silence(a, r, u + 13);
    if (strcmp(u, "/v1/reliability") == 0 || strcmp(u, "/v1/reliability.csv") == 0)
        return r->method & (HTTP_GET | HTTP_HEAD) ? route_reliability(a, r, u[15] == '.')
                                                  : bad_method(r, "GET");
    if (strncmp(u, "/v1/workers/", 12) == 0) {
        char id[HB_ID_MAX + 2];
        const char *p = u + 12, *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!hb_id_valid(p, n))
            return http_error(r, 400, "worker_id", "must be 1-128 bytes of [A-Za-z0-9._:@-]");
        memcpy(id, p, n);
        id[n] = '\0';
        return route_worker(a, r, id, slash ? slash + 1 : "");
    }
    return http_error(r, 404, "path", "no such endpoint");
}

/* Framing headers a request may carry once: two Content-Lengths, or a
 * Content-Length beside Transfer-Encoding, are how requests are smuggled past
 * a proxy that reads the other one (RFC 9112 6.1, 6.3). */
typedef struct framing {
    int cl, te;
    bool te_chunked;
} framing;

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->cl++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te++;
        f->te_chunked = value && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* 0 when the framing is sound, else the refusal queued in *res. */
static int framing_refuse(app *a, req *r, enum MHD_Result *res)
{
    framing f = {0, 0, false};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
    const char *field = NULL, *why = NULL;
    unsigned status = 400;
    if (f.cl > 1) {
        field = "content-length";
        why = "must be given once";
    } else if (f.te > 1 || (f.te && f.cl)) {
        field = "transfer-encoding";
        why = "must be given once and not with Content-Length";
    } else if (f.te && !f.te_chunked) {
        field = "transfer-encoding";
        why = "only chunked is supported";
        status = 501; /* RFC 9112 6.1: a coding the server does not know */
    }
    if (!field) return 0;
    metrics_reject(a, "body");
    *res = http_error(r, status, field, why);
    return -1;
}

/* MHD's unescaper, but "%00" stays as it is: decoded, it would end the C
 * string MHD hands over, so "/ping/job%00x" would beat for "job" and
 * "?status=a%00b" would store "a". Left encoded, an id with it is refused
 * (no '%' in ids) and a text keeps every byte it was sent. */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *p = s; *p;) {
        unsigned v;
        if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]) &&
            sscanf(p + 1, "%2x", &v) == 1 && v != 0) {
            *w++ = (char)v;
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    app *a = cls;
    req *r = *con_cls;
    if (!r) {
        r = req_get();
        if (!r) return MHD_NO;
        r->conn = conn;
        r->url = url;
        r->method = method_of(method);
        r->len = 0;
        r->declared = 0;
        r->body = r->inline_body;
        r->cap = sizeof r->inline_body;
        r->heap = false;
        r->too_big = false;
        r->dropped = 0;
        r->held = NULL;
        r->limit = strcmp(url, "/v1/heartbeats") == 0        ? (size_t)a->cfg.max_batch_bytes
                   : strcmp(url, "/v1/import/sessions") == 0 ? (size_t)HTTP_IMPORT_MAX
                   : strncmp(url, "/v1/hub/", 8) == 0        ? (size_t)HUBS_BODY_MAX
                                                             : (size_t)HB_BODY_MAX;
        *con_cls = r;
        cguard_request_begin(conn);
        enum MHD_Result res;
        if (framing_refuse(a, r, &res) != 0) {
            r->too_big = true; /* the body, if any, is not read */
            return res;
        }
        /* A declared length over the limit is refused before a byte is read. */
        const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) r->declared = (size_t)strtoull(cl, NULL, 10);
        if (r->declared > r->limit) {
            r->too_big = true;
            metrics_reject(a, "body");
            char why[96];
            snprintf(why, sizeof why, "is larger than the %zu KiB limit", r->limit / 1024);
            return http_error(r, 413, "body", why);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cguard_body_late(conn)) return MHD_NO; /* a body trickled in: drop the connection */
        /* Past the limit the body is only counted, so the client gets its 413
         * once it is done; one that goes on and on is cut off instead. */
        if (r->too_big || r->len + n > r->limit) {
            r->too_big = true;
            r->dropped += n;
            return r->dropped > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t need = r->len + n + 1, nc = r->cap * 2, ahead = need + HTTP_PRESIZE_MAX;
            /* All of a declared body at once, but a declaration alone never
             * buys a client more than HTTP_PRESIZE_MAX ahead of its bytes. */
            if (r->declared + 1 > need) need = r->declared + 1 < ahead ? r->declared + 1 : ahead;
            while (nc < need)
                nc *= 2;
            if (nc > r->limit + 1) nc = r->limit + 1;
            /* a kept buffer first: its pages are already mapped */
            char *nb = r->heap ? NULL : spare_take(need, &nc);
            if (!nb) nb = r->heap ? realloc(r->body, nc) : malloc(nc);
            if (!nb) return MHD_NO;
            if (!r->heap) memcpy(nb, r->inline_body, r->len);
            r->body = nb;
            r->heap = true;
            r->cap = nc;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        return MHD_YES;
    }
    r->body[r->len] = '\0';
    if (r->too_big) {
        metrics_reject(a, "body");
        char why[96];
        snprintf(why, sizeof why, "is larger than the %zu KiB limit", r->limit / 1024);
        return http_error(r, 413, "body", why);
    }
    return dispatch(a, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    cguard_request_end(conn);
    req *r = *con_cls;
    if (!r) return;
    if (r->held) held_closed(cls, r->held, (int)toe);
    req_put(r);
    *con_cls = NULL;
}

static struct MHD_Daemon *start_daemon(app *a, unsigned flags, uint16_t port,
                                       const struct sockaddr *sa, struct MHD_OptionItem *pool_opt,
                                       unsigned conn_limit, size_t pool_bytes)
{
    return MHD_start_daemon(
        flags, port, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_ARRAY, pool_opt,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        conn_limit, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        pool_bytes, MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_NOTIFY_CONNECTION,
        cguard_notify, a, MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, NULL, MHD_OPTION_END);
}

int http_start(app *a, char *err, size_t errlen)
{
    char host[256];
    uint16_t port;
    if (cfg_parse_listen(a->cfg.listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "bad listen address %s", a->cfg.listen);
        return -1;
    }
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    struct sockaddr *sa;
    socklen_t sl;
    /* Suspend/resume: a caught-up /v1/stream subscriber sleeps instead of
     * being polled (stream.c). */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    if (inet_pton(AF_INET, host, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons(port);
        sa = (struct sockaddr *)&sa4;
        sl = sizeof sa4;
    } else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons(port);
        sa = (struct sockaddr *)&sa6;
        sl = sizeof sa6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "listen host %s is not an IP address", host);
        return -1;
    }
    /* Raise the soft fd limit towards the connection limit (the hard limit
     * is the operator's); connections are capped by what is left. */
    unsigned conn_limit = HTTP_CONN_LIMIT;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)HTTP_CONN_LIMIT + HTTP_FD_RESERVE;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur < want) {
            conn_limit = rl.rlim_cur > 2 * HTTP_FD_RESERVE
                             ? (unsigned)(rl.rlim_cur - HTTP_FD_RESERVE)
                             : (unsigned)rl.rlim_cur / 2;
            vlog("warn",
                 "open files limited to %llu: at most %u HTTP connections (raise LimitNOFILE)",
                 (unsigned long long)rl.rlim_cur, conn_limit);
        }
    }
    if (cguard_start() != 0) {
        snprintf(err, errlen, "cannot start the connection sweeper thread");
        return -1;
    }
    routes_ingest_init();
    /* The ring accepts every connection and hands MHD the ones it does not
     * serve (ring.h); without io_uring MHD listens itself, as it always did. */
    a->ring = NULL;
    if (a->cfg.http_ring) {
        int bind_failed;
        char why[200];
        a->ring =
            ring_prepare(a, sa, sl, a->cfg.http_threads, conn_limit, &bind_failed, why, sizeof why);
        if (!a->ring && bind_failed) {
            cguard_stop();
            snprintf(err, errlen, "cannot listen on %s (%s)", a->cfg.listen, why);
            return -1;
        }
        if (!a->ring) vlog("warn", "http: no io_uring front door (%s): libmicrohttpd listens", why);
    }
    if (a->ring) flags |= MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    /* One thread is no pool, and MHD warns at a pool size of 1 or 0: the
     * option is left out (an array that ends at once) unless there is one. */
    unsigned pool = (unsigned)a->cfg.http_threads;
    struct MHD_OptionItem pool_opt[] = {
        {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)pool, NULL},
        {MHD_OPTION_END, 0, NULL}};
    a->mhd = start_daemon(a, flags, port, sa, pool_opt, conn_limit, HTTP_CONN_POOL_BYTES);
    /* Streams get their own daemon only behind the ring, which alone can
     * tell a stream's connection before libmicrohttpd reads it. Without it
     * (NULL) the ring hands streams to a->mhd, which serves them as well. */
    struct MHD_OptionItem one_thread[] = {{MHD_OPTION_END, 0, NULL}};
    a->mhd_stream = a->mhd && a->ring ? start_daemon(a, flags, 0, sa, one_thread, conn_limit,
                                                     HTTP_STREAM_POOL_BYTES)
                                      : NULL;
    if (a->mhd && a->ring && !a->mhd_stream)
        vlog("warn", "http: no daemon of its own for /v1/stream: streams share the other");
    if (!a->mhd) {
        ring_stop(a->ring);
        a->ring = NULL;
        cguard_stop();
        snprintf(err, errlen, "cannot listen on %s (in use, or not allowed)", a->cfg.listen);
        return -1;
    }
    if (a->ring) {
        ring_run(a->ring);
        vlog("info", "http: io_uring front door, %d ring thread(s)", a->cfg.http_threads);
    }
    return 0;
}

void http_stop(app *a)
{
    ring_stop(a->ring); /* first: it hands connections to MHD */
    a->ring = NULL;
    if (a->mhd_stream) MHD_stop_daemon(a->mhd_stream);
    a->mhd_stream = NULL;
    if (a->mhd) MHD_stop_daemon(a->mhd);
    a->mhd = NULL;
    cguard_stop();
    routes_ingest_free();
}
