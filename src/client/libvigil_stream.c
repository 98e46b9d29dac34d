/*
 * libvigil_stream: vigil_stream(), a GET whose answer does not end (the
 * Server-Sent Events of GET /v1/stream).
 *
 * Mechanism: the client's own easy handle (its URL, token and TLS settings)
 * runs under a multi handle made for the call, so that the wait for bytes is
 * a curl_multi_poll() that also watches the caller's fd and wakes on the
 * caller's tick. A terminal UI thus reads keys and redraws between chunks
 * without a second thread. The easy handle leaves the multi handle before
 * returning, so the client's later requests run as before.
 *
 * A quiet stream is told from a dead one by the time since its last byte:
 * idle_ms without one ends it. vigild's keep-alive comment every 15 s keeps a
 * live but idle stream well inside that. (libcurl's low-speed limit would
 * average over a window of its own and notice seconds late.)
 *
 * The first chunk decides what the answer is: a 2xx text/event-stream goes to
 * on_data; another 2xx ends the call as a protocol error; any other status is
 * a refusal whose body (bounded) becomes the error words. So a caller's
 * parser never sees a proxy's HTML page or vigild's 401 JSON.
 */
#include "client/libvigil_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define REFUSAL_MAX (64u * 1024) /* error bodies are small; more is a wrong URL */

typedef struct lv_stream {
    vigil_client *c;
    const vigil_stream_opts *o;
    bool checked; /* the answer's status and type have been looked at */
    bool events;  /* a 2xx text/event-stream: bytes go to on_data */
    bool not_sse; /* a 2xx of another type */
    bool stopped; /* a callback asked to stop */
    CURLMcode mc; /* the multi handle failed (a bad wait_fd, no memory) */
    bool idle;    /* nothing came for idle_ms */
    long long last_rx_ms;
    char *body; /* a refusal's body, at most REFUSAL_MAX bytes */
    size_t len;
} lv_stream;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void look_at_answer(lv_stream *s)
{
    s->checked = true;
    long code = 0;
    char *ct = NULL;
    curl_easy_getinfo(s->c->h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->c->h, CURLINFO_CONTENT_TYPE, &ct);
    if (code < 200 || code > 299) return;
    static const char sse[] = "text/event-stream";
    if (ct && !strncasecmp(ct, sse, sizeof sse - 1) &&
        (ct[sizeof sse - 1] == '\0' || strchr("; \t", ct[sizeof sse - 1])))
        s->events = true;
    else
        s->not_sse = true;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    lv_stream *s = ud;
    size_t n = size * nmemb;
    s->last_rx_ms = mono_ms();
    if (!s->checked) look_at_answer(s);
    if (s->not_sse) return 0; /* CURLE_WRITE_ERROR: nothing of it is wanted */
    if (s->events) {
        if (s->o->on_data(s->o->ctx, data, n) == 0) return n;
        s->stopped = true;
        return 0;
    }
    /* A refusal: keep its beginning for the error words, drop the rest. */
    size_t room = REFUSAL_MAX - s->len, take = n < room ? n : room;
    if (take > 0) {
        char *p = realloc(s->body, s->len + take + 1);
        if (!p) return n; /* the status alone still says it was refused */
        memcpy(p + s->len, data, take);
        s->body = p;
        s->len += take;
        s->body[s->len] = '\0';
    }
    return n;
}

/* Accept, Authorization (from the client's GET headers) and Last-Event-ID. */
static struct curl_slist *stream_headers(vigil_client *c, const char *last_id, bool *ok)
{
    struct curl_slist *l = lv_add_header(NULL, "Accept: text/event-stream", ok);
    /* No cached copy of an answer that is live by nature. */
    l = lv_add_header(l, "Cache-Control: no-cache", ok);
    for (const struct curl_slist *i = c->hdr_get; i; i = i->next)
        if (strncasecmp(i->data, "Accept:", 7)) l = lv_add_header(l, i->data, ok);
    if (last_id && *last_id) {
        size_t n = strlen(last_id) + sizeof "Last-Event-ID: ";
        char *h = malloc(n);
        if (h) {
            snprintf(h, n, "Last-Event-ID: %s", last_id);
            l = lv_add_header(l, h, ok);
            free(h);
        } else
            *ok = false;
    }
    return l;
}

/* Run the transfer until it ends or a callback stops it. Returns the
 * transfer's result (CURLE_OK when stopped by a callback). */
static CURLcode run(lv_stream *s, CURLM *m)
{
    const vigil_stream_opts *o = s->o;
    long wait_ms = o->wait_ms > 0 ? o->wait_ms : VIGIL_DEFAULT_STREAM_WAIT_MS;
    long idle_ms = o->idle_ms > 0 ? o->idle_ms : VIGIL_DEFAULT_STREAM_IDLE_MS;
    bool watch = o->on_wait && o->wait_fd >= 0;
    long long next = mono_ms() + wait_ms;
    s->last_rx_ms = mono_ms();
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        if ((s->mc = mc) != CURLM_OK) return CURLE_OK;
        if (s->stopped || !running) break;
        long long now = mono_ms();
        if (now - s->last_rx_ms >= idle_ms) {
            s->idle = true;
            break;
        }
        struct curl_waitfd fd = {.fd = watch ? o->wait_fd : -1, .events = CURL_WAIT_POLLIN};
        int timeout = o->on_wait ? (int)(next > now ? next - now : 0) : (int)wait_ms;
        mc = curl_multi_poll(m, watch ? &fd : NULL, watch ? 1 : 0, timeout, NULL);
        if ((s->mc = mc) != CURLM_OK) return CURLE_OK;
        if (!o->on_wait) continue;
        bool ready = watch && (fd.revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI));
        now = mono_ms();
        if (!ready && now < next) continue;
        if (now >= next) next = now + wait_ms;
        if (o->on_wait(o->ctx, ready)) {
            s->stopped = true;
            break;
        }
    }
    if (s->stopped || s->idle) return CURLE_OK;
    int left;
    for (CURLMsg *msg; (msg = curl_multi_info_read(m, &left)) != NULL;)
        if (msg->msg == CURLMSG_DONE) return msg->data.result;
    return CURLE_OK;
}

int vigil_stream(vigil_client *c, const char *path, const vigil_stream_opts *o)
{
    if (!c) return VIGIL_ERR_INVALID;
    lv_clear_err(c);
    if (!o || !o->on_data) return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "on_data is required");
    if (!path || path[0] != '/')
        return lv_set_err(c, VIGIL_ERR_INVALID, NULL, "path must start with '/'");
    /* Spaces are allowed in an id; CR/LF would start a new header. */
    for (const unsigned char *p = (const unsigned char *)(o->last_event_id ? o->last_event_id : "");
         *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return lv_set_err(c, VIGIL_ERR_INVALID, "last_event_id",
                              "last_event_id holds control characters");
    char *url = NULL;
    int rc = lv_make_url(c, path, NULL, 0, &url);
    if (rc != VIGIL_OK) return rc;
    bool ok = true;
    struct curl_slist *hdrs = stream_headers(c, o->last_event_id, &ok);
    CURLM *m = ok ? curl_multi_init() : NULL;
    if (!m) {
        lv_free_headers(hdrs);
        free(url);
        return lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
    }

    CURL *h = c->h;
    lv_stream s = {.c = c, .o = o};
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    CURLcode res = CURLE_OK;
    if ((s.mc = curl_multi_add_handle(m, h)) == CURLM_OK) {
        res = run(&s, m);
        curl_multi_remove_handle(m, h);
    }
    curl_multi_cleanup(m);
    /* The next request on this handle is an ordinary one: no stream settings,
     * and nothing pointing at this call's memory. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    lv_free_headers(hdrs);
    free(url);

    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    c->http_status = code;
    if (s.stopped)
        rc = VIGIL_OK;
    else if (code != 0 && (code < 200 || code > 299)) {
        lv_refusal_text(c, s.body, s.len);
        rc = VIGIL_ERR_REFUSED;
    } else if (s.not_sse) {
        char *ct = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
        rc = lv_set_err(c, VIGIL_ERR_PROTOCOL, NULL,
                        "answer from %s%s is not an event stream (Content-Type: %s)", c->base, path,
                        ct ? ct : "none");
    } else if (res == CURLE_OUT_OF_MEMORY || s.mc == CURLM_OUT_OF_MEMORY)
        rc = lv_set_err(c, VIGIL_ERR_NOMEM, NULL, "out of memory");
    else if (s.mc != CURLM_OK)
        rc = lv_set_err(c, VIGIL_ERR_TRANSPORT, NULL, "waiting for %s: %s", c->base,
                        curl_multi_strerror(s.mc));
    else if (s.idle)
        rc = lv_set_err(
            c, VIGIL_ERR_TRANSPORT, NULL, "nothing from %s for %.0fs (not even a keep-alive)",
            c->base, (double)(o->idle_ms > 0 ? o->idle_ms : VIGIL_DEFAULT_STREAM_IDLE_MS) / 1000);
    else if (res != CURLE_OK && code != 0)
        rc = lv_set_err(c, VIGIL_ERR_TRANSPORT, NULL, "stream from %s broke: %s", c->base,
                        c->curl_err[0] ? c->curl_err : curl_easy_strerror(res));
    else if (res != CURLE_OK)
        rc = lv_set_err(c, VIGIL_ERR_TRANSPORT, NULL, "cannot reach %s: %s", c->base,
                        c->curl_err[0] ? c->curl_err : curl_easy_strerror(res));
    else
        rc = VIGIL_OK; /* the server ended the stream */
    free(s.body);
    return rc;
}
