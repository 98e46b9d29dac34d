/*
 * routes_web: the dashboard. GET/HEAD / (and /ui, /ui/) serves index.html,
 * /ui/<file> the other files of web/ and uPlot, all embedded in the binary (web_assets.h).
 * No token: the files hold nothing secret; the page asks for the admin
 * token and sends it on its own API calls. Every answer carries a strict
 * Content-Security-Policy (the page has no inline script or style) and
 * revalidates by ETag, so a new vigild's dashboard is picked up at once.
 */
#include "server/http.h"
#include "server/web_assets.h"

#include <stdio.h>
#include <string.h>

static const char CSP[] = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                          "script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

static void web_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

/* The API's error shape, with the dashboard's headers (and Allow for a 405). */
static enum MHD_Result web_error(req *r, unsigned status, const char *field, const char *reason)
{
    struct MHD_Response *resp = http_error_response(status, field, reason);
    if (!resp) return MHD_NO;
    if (status == 405) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    web_headers(resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const web_asset *web_find(const char *path)
{
    for (size_t i = 0; i < web_assets_n; i++)
        if (strcmp(web_assets[i].path, path) == 0) return &web_assets[i];
    return NULL;
}

/* If-None-Match: "*" or a comma-separated list of (possibly weak) tags. */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm) return false;
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || strchr(" \t,", p[n]))) return true;
        p += strcspn(p, ",");
    }
    return false;
}

enum MHD_Result route_web(app *a, req *r)
{
    (void)a;
    if (!(r->method & (HTTP_GET | HTTP_HEAD)))
        return web_error(r, 405, "method", "this endpoint takes GET, HEAD");
    /* "/ui" too: the alert sinks' dashboard_url examples link there. */
    bool index =
        strcmp(r->url, "/") == 0 || strcmp(r->url, "/ui") == 0 || strcmp(r->url, "/ui/") == 0;
    const web_asset *f = web_find(index ? "/ui/index.html" : r->url);
    if (!f) return web_error(r, 404, "path", "no such file in the dashboard");
    bool fresh = etag_matches(http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), f->etag);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : f->len, fresh ? NULL : (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    if (!fresh) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    web_headers(resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, fresh ? 304 : 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
