/*
 * libvigil: the client handle, HTTP transport, heartbeat/bye and raw GET/POST/DELETE
 * (the endless GET of vigil_stream is in libvigil_stream.c; libvigil_int.h is what both share).
 *
 * Mechanism: a vigil_client owns one libcurl easy handle for its whole life.
 * libcurl keeps the TCP (or TLS) connection of an easy handle alive between
 * transfers, so a worker beating every few seconds pays one connect, not one
 * per beat. Headers (auth, JSON content type) are built once at creation;
 * only vigil_post() with another content type builds a list per call. Every
 * call ends in one request() -> perform(), so GET, POST and DELETE share the URL
 * building, error mapping and body handling.
 *
 * Messages are not serialized here: the text fields go through hb_set_kv
 * (the validation vigild runs on ping query strings and UDP lines) into an
 * hb_msg, and hb_write_json turns it into the wire JSON (the inverse of the
 * server's parser). So a value refused locally is refused with the server's
 * own words, and what is sent is exactly what the server reads back.
 *
 * Errors are kept per client (text + field + HTTP status), not in a global,
 * so clients in different threads do not overwrite each other's.
 */
#include "client/libvigil_int.h"

#include "core/hb.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0-dev" /* CMake defines the real one */
#endif

/* A /v1/workers page of a big fleet is a few MB; anything far beyond is a
 * wrong URL streaming something else, not an answer worth holding. */
#define RESP_MAX (256u * 1024 * 1024)
#define WIRE_MAX                                                                                   \
    16384 /* a full hb_msg in JSON, every string (64 job ids too) at its limit, escaped */

/* vigil_client_new has no client to record its failure in. */
static _Thread_local char new_err[LV_ERR_MAX];

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe on older libcurl: run it exactly once.
 * It is never undone: a library cannot know when the host is done with curl. */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *vigil_version(void)
{
    return VIGIL_VERSION;
}

const char *vigil_status_name(int status)
{
    switch (status) {
    case VIGIL_OK:
        return "ok";
    case VIGIL_ERR_INVALID:
        return "invalid";
    case VIGIL_ERR_REFUSED:
        return "refused";
    case VIGIL_ERR_TRANSPORT:
        return "unreachable";
    case VIGIL_ERR_PROTOCOL:
        return "bad answer";
    case VIGIL_ERR_NOMEM:
        return "out of memory";
    default:
        return "unknown";
    }
}

void lv_clear_err(vigil_client *c)
{
    if (!c) return;
    c->err[0] = c->err_field[0] = '\0';
    c->http_status = 0;
}

int lv_set_err(vigil_client *c, int status, const char *field, const char *fmt, ...)
{
    if (!c) return status;
    snprintf(c->err_field, sizeof c->err_field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return status;
}

int lv_set_thread_err(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(new_err, sizeof new_err, fmt, ap);
    va_end(ap);
    return status;
}

/* Header values must not be able to smuggle in another header or request. */
bool lv_printable_token(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return false;
    return true;
}

static char *make_base(const char *url)
{
    if (!url || !*url) url = VIGIL_DEFAULT_URL;
    if (!lv_printable_token(url)) {
        snprintf(new_err, sizeof new_err, "URL holds spaces or control characters");
        errno = EINVAL;
        return NULL;
    }
    const char *sep = strstr(url, "://");
    const char *prefix = "";
    if (!sep)
        prefix = "http://"; /* "host:port" is what people type */
    else if (!((sep - url == 4 && !strncasecmp(url, "http", 4)) ||
               (sep - url == 5 && !strncasecmp(url, "https", 5)))) {
        snprintf(new_err, sizeof new_err, "URL must start with http:// or https://: %s", url);
        errno = EINVAL;
        return NULL;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    size_t pn = strlen(prefix);
    char *base = malloc(pn + n + 1);
    if (!base) {
        snprintf(new_err, sizeof new_err, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    memcpy(base, prefix, pn);
    memcpy(base + pn, url, n);
    base[pn + n] = '\0';
    return base;
}

struct curl_slist *lv_add_header(struct curl_slist *l, const char *h, bool *ok)
{
    struct curl_slist *n = curl_slist_append(l, h);
    if (!n) *ok = false;
    return n ? n : l;
}

vigil_client *vigil_client_new(const char *url, const char *token)
{
    new_err[0] = '\0';
    if (token && *token && !lv_printable_token(token)) {
        snprintf(new_err, sizeof new_err, "token holds spaces or control characters");
        errno = EINVAL;
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(new_err, sizeof new_err, "libcurl init failed: %s",
                 curl_easy_strerror(curl_init_rc));
        errno = ENOMEM;
        return NULL;
    }
    vigil_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(new_err, sizeof new_err, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    c->base = make_base(url);
    if (!c->base) {
        free(c);
        return NULL;
    }
    c->connect_ms = VIGIL_DEFAULT_CONNECT_TIMEOUT_MS;
    c->total_ms = VIGIL_DEFAULT_TIMEOUT_MS;

    bool ok = true;
    char *auth = NULL;
    if (token && *token) {
        size_t an = strlen(token) + sizeof "Authorization: Bearer ";
        auth = malloc(an);
        if (auth)
            snprintf(auth, an, "Authorization: Bearer %s", token);
        else
            ok = false;
    }
    c->hdr_get = lv_add_header(NULL, "Accept: application/json", &ok);
    c->hdr_post = lv_add_header(NULL, "Accept: application/json", &ok);
    c->hdr_post = lv_add_header(c->hdr_post, "Content-Type: application/json", &ok);
    /* No "Expect: 100-continue" round trip: bodies are small. */
    c->hdr_post = lv_add_header(c->hdr_post, "Expect:", &ok);
    if (auth) {
        c->hdr_get = lv_add_header(c->hdr_get, auth, &ok);
        c->hdr_post = lv_add_header(c->hdr_post, auth, &ok);
        /* The header copies hold the secret; do not leave another in the heap. */
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    c->h = ok ? curl_easy_init() : NULL;
    if (!c->h) {
        snprintf(new_err, sizeof new_err, "out of memory");
        vigil_client_free(c);
        errno = ENOMEM;
        return NULL;
    }
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM games in a host's threads */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect would drop the body/auth */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libvigil/" VIGIL_VERSION);
    return c;
}

void vigil_client_free(vigil_client *c)
{
    if (!c) return;
    if (c->h) curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdr_get);
    curl_slist_free_all(c->hdr_post);
    free(c->base);
    free(c);
}

int vigil_client_set_timeouts(vigil_client *c, long connect_ms, long total_ms)
{
    if (!c || connect_ms < 0 || total_ms < 0)
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "timeouts must be >= 0 ms");
    if (connect_ms > 0) c->connect_ms = connect_ms;
    if (total_ms > 0) c->total_ms = total_ms;
    return VIGIL_OK;
}

const char *vigil_last_error(const vigil_client *c)
{
    return c ? c->err : new_err;
}

const char *vigil_last_error_field(const vigil_client *c)
{
    return c ? c->err_field : "";
}

long vigil_last_http_status(const vigil_client *c)
{
    return c ? c->http_status : 0;
}

/* ---- message building ------------------------------------------------------ */

/* Fill m from worker_id + fields through hb_set_kv. `bye` admits exit_code. */
static int build_msg(vigil_client *c, hb_msg *m, const char *worker_id, const vigil_field *fields,
                     size_t n, bool bye)
{
    hb_init(m);
    if (!worker_id) return lv_set_err(c, VIGIL_ERR_INVALID, "worker_id", "worker_id: is required");
    if (n > 0 && !fields)
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "fields is NULL but n is %zu", n);
    /* hb_set_kv knows worker_id too: same check and words as the server's. */
    hb_err e = {{0}, {0}};
    if (bye) m->kind = HB_BYE; /* before the fields: hb_set_kv takes exit_code only on a bye */
    if (hb_set_kv(m, "worker_id", worker_id, &e) != 0)
        return lv_set_err(c, VIGIL_ERR_INVALID, "worker_id", "worker_id: %s",
                          e.reason[0] ? e.reason : "is not a known field");
    for (size_t i = 0; i < n; i++) {
        const char *k = fields[i].key, *v = fields[i].value;
        if (!k) return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "field %zu has no key", i);
        if (!v) continue;
        if (!strcmp(k, "worker_id"))
            return lv_set_err(c, VIGIL_ERR_INVALID, k, "%s: give it as the worker_id argument", k);
        if (!bye && !strcmp(k, "exit_code"))
            return lv_set_err(c, VIGIL_ERR_INVALID, k, "%s: only a bye carries an exit code", k);
        memset(&e, 0, sizeof e);
        int rc = hb_set_kv(m, k, v, &e);
        if (rc < 0)
            return lv_set_err(c, VIGIL_ERR_INVALID, e.field[0] ? e.field : k, "%s: %s",
                              e.field[0] ? e.field : k, e.reason);
        if (rc > 0) /* The server would ignore it silently; a caller's typo should not be. */
            return lv_set_err(c, VIGIL_ERR_INVALID, k, "%s: unknown field", k);
    }
    return VIGIL_OK;
}

int vigil_heartbeat_check(vigil_client *c, const char *worker_id, const vigil_field *fields,
                          size_t n)
{
    lv_clear_err(c);
    hb_msg m;
    return build_msg(c, &m, worker_id, fields, n, false);
}

/* ---- HTTP ------------------------------------------------------------------ */

typedef struct growbuf {
    char *p;
    size_t len, cap;
    bool too_big, nomem;
} growbuf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    growbuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > RESP_MAX) {
        b->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->nomem = true;
            return 0;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* Turn a refusal's body into c->err: {"error":{"field":F,"reason":R}} gives
 * "F: R"; {"error":"R"} gives "R"; anything else its first line. */
void lv_refusal_text(vigil_client *c, const char *body, size_t len)
{
    cJSON *doc = body ? cJSON_ParseWithLength(body, len) : NULL;
    cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const char *field = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "field"));
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "reason"));
    if (!reason) reason = cJSON_GetStringValue(err);
    if (reason && field && *field)
        lv_set_err(c, VIGIL_ERR_REFUSED, field, "%s: %s", field, reason);
    else if (reason)
        lv_set_err(c, VIGIL_ERR_REFUSED, NULL, "%s", reason);
    else if (body && len > 0) {
        /* Not our server's JSON (a proxy page?): show a clean first line. */
        char line[200];
        size_t i = 0;
        for (; i < len && i < sizeof line - 1 && body[i] != '\n' && body[i] != '\r'; i++)
            line[i] = (unsigned char)body[i] < 0x20 ? '?' : body[i];
        line[i] = '\0';
        lv_set_err(c, VIGIL_ERR_REFUSED, NULL, "%s", line);
    } else
        lv_set_err(c, VIGIL_ERR_REFUSED, NULL, "no details given");
    cJSON_Delete(doc);
}

/* One transfer. body == NULL means GET (or `method`, when given, with no
 * body), anything else (even "") a POST of body_len bytes with `hdrs`. On any
 * answer, *resp (if given) gets the body; otherwise the body is dropped after
 * refusal_text has read it. */
static int perform(vigil_client *c, const char *method, const char *url,
                   const struct curl_slist *hdrs, const char *body, size_t body_len,
                   vigil_response *resp)
{
    CURL *h = c->h;
    growbuf b = {0};
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->total_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        /* _LARGE: an import body may pass 2 GiB on a 32-bit long. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(h);
    /* POSTFIELDS and HTTPHEADER may point at the caller's memory: do not let
     * the handle keep them past this call; nor a custom method, which would
     * turn the next GET on this handle into a DELETE. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);

    int status = VIGIL_OK;
    if (rc != CURLE_OK) {
        if (b.nomem || rc == CURLE_OUT_OF_MEMORY)
            status = lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory reading the answer");
        else if (b.too_big)
            status = lv_set_err(c, VIGIL_ERR_PROTOCOL, NULL, "answer from %s is larger than %u MiB",
                                c->base, RESP_MAX >> 20);
        else
            status = lv_set_err(c, VIGIL_ERR_TRANSPORT, NULL, "cannot reach %s: %s", c->base,
                                c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
        free(b.p);
        return status;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    c->http_status = code;
    if (code < 200 || code > 299) {
        lv_refusal_text(c, b.p, b.len);
        status = VIGIL_ERR_REFUSED;
    }
    if (resp) {
        resp->http_status = code;
        resp->body = b.p;
        resp->body_len = b.len;
        if (!resp->body) {
            /* Promise a NUL-terminated body even when the answer had none. */
            resp->body = calloc(1, 1);
            if (!resp->body) return lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
        }
    } else
        free(b.p);
    return status;
}

/* base + path + "?k=v&…" into *url (malloc'd), keys and values
 * percent-encoded by curl; a NULL value skips its parameter. */
int lv_make_url(vigil_client *c, const char *path, const vigil_field *query, size_t nquery,
                char **url_out)
{
    size_t cap = strlen(c->base) + strlen(path) + 1, len = 0;
    char *url = malloc(cap);
    if (!url) return lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
    len = (size_t)snprintf(url, cap, "%s%s", c->base, path);
    char sep = strchr(path, '?') ? '&' : '?';
    for (size_t i = 0; i < nquery; i++) {
        if (!query[i].key || !query[i].value) continue;
        char *k = curl_easy_escape(c->h, query[i].key, 0);
        char *v = curl_easy_escape(c->h, query[i].value, 0);
        size_t need = len + 1 + (k ? strlen(k) : 0) + 1 + (v ? strlen(v) : 0) + 1;
        char *grown = k && v ? realloc(url, need) : NULL;
        if (!grown) {
            curl_free(k);
            curl_free(v);
            free(url);
            return lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
        }
        url = grown;
        len += (size_t)snprintf(url + len, need - len, "%c%s=%s", sep, k, v);
        sep = '&';
        curl_free(k);
        curl_free(v);
    }
    *url_out = url;
    return VIGIL_OK;
}

/* Every request goes through here: the checks all calls share, the URL,
 * and the transfer. method and body as in perform. */
static int request(vigil_client *c, const char *method, const char *path, const vigil_field *query,
                   size_t nquery, const struct curl_slist *hdrs, const char *body, size_t body_len,
                   vigil_response *out)
{
    if (!path || path[0] != '/')
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "path must start with '/'");
    if (nquery > 0 && !query)
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "query is NULL but nquery is %zu", nquery);
    char *url = NULL;
    int rc = lv_make_url(c, path, query, nquery, &url);
    if (rc != VIGIL_OK) return rc;
    rc = perform(c, method, url, hdrs, body, body_len, out);
    free(url);
    return rc;
}

static int post_msg(vigil_client *c, const char *path, const hb_msg *m)
{
    char wire[WIRE_MAX];
    size_t n = hb_write_json(m, wire, sizeof wire);
    if (n == 0) return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "message cannot be written as JSON");
    return request(c, NULL, path, NULL, 0, c->hdr_post, wire, n, NULL);
}

int vigil_heartbeat(vigil_client *c, const char *worker_id, const vigil_field *fields, size_t n)
{
    if (!c) return VIGIL_ERR_INVALID;
    lv_clear_err(c);
    hb_msg m;
    int rc = build_msg(c, &m, worker_id, fields, n, false);
    return rc != VIGIL_OK ? rc : post_msg(c, "/v1/heartbeat", &m);
}

int vigil_bye(vigil_client *c, const char *worker_id, const vigil_field *fields, size_t n)
{
    if (!c) return VIGIL_ERR_INVALID;
    lv_clear_err(c);
    hb_msg m;
    int rc = build_msg(c, &m, worker_id, fields, n, true);
    return rc != VIGIL_OK ? rc : post_msg(c, "/v1/bye", &m);
}

int vigil_get(vigil_client *c, const char *path, const vigil_field *query, size_t nquery,
              vigil_response *out)
{
    if (!c || !out) return VIGIL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    lv_clear_err(c);
    return request(c, NULL, path, query, nquery, c->hdr_get, NULL, 0, out);
}

int vigil_delete(vigil_client *c, const char *path, vigil_response *out)
{
    if (!c || !out) return VIGIL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    lv_clear_err(c);
    return request(c, "DELETE", path, NULL, 0, c->hdr_get, NULL, 0, out);
}

/* The copies hold the bearer token: wipe them before they go back to the heap. */
void lv_free_headers(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i; i = i->next)
        memset(i->data, 0, strlen(i->data));
    curl_slist_free_all(l);
}

int vigil_post(vigil_client *c, const char *path, const char *content_type, const char *body,
               size_t len, vigil_response *out)
{
    if (!c || !out) return VIGIL_ERR_INVALID;
    memset(out, 0, sizeof *out);
    lv_clear_err(c);
    if (!body && len > 0)
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "body is NULL but len is %zu", len);
    if (!content_type || !*content_type || !strcasecmp(content_type, "application/json"))
        return request(c, NULL, path, NULL, 0, c->hdr_post, body ? body : "", len, out);

    /* Spaces are fine ("text/csv; charset=utf-8"); CR/LF would start a new header. */
    for (const unsigned char *p = (const unsigned char *)content_type; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            return lv_set_err(c, VIGIL_ERR_INVALID, "content_type",
                              "content type holds control or non-ASCII characters");
    char ct[256];
    if ((size_t)snprintf(ct, sizeof ct, "Content-Type: %s", content_type) >= sizeof ct)
        return lv_set_err(c, VIGIL_ERR_INVALID, "content_type", "content type is too long");
    /* The GET headers (Accept, Authorization) plus this content type; built
     * per call because a curl_slist cannot share a tail with c->hdr_get. */
    bool ok = true;
    struct curl_slist *hdrs = lv_add_header(NULL, ct, &ok);
    for (const struct curl_slist *i = c->hdr_get; i; i = i->next)
        hdrs = lv_add_header(hdrs, i->data, &ok);
    /* No 100-continue round trip: curl would wait up to a second for it. */
    hdrs = lv_add_header(hdrs, "Expect:", &ok);
    int rc = ok ? request(c, NULL, path, NULL, 0, hdrs, body ? body : "", len, out)
                : lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
    lv_free_headers(hdrs);
    return rc;
}

void vigil_response_free(vigil_response *r)
{
    if (!r) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}
