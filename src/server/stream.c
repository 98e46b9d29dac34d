/*
 * stream: the live stream of stream.h (mechanism in its banner): the ring
 * of encoded messages and the subscribers reading it. The stream thread
 * that fills the ring is stream_enc.c.
 *
 * Locks: the incoming queue's (evq.h) is a leaf, taken by app_event under a
 * registry shard lock. mu
 * guards the ring and the subscriber list; the HTTP threads hold it only
 * to copy bytes out, the stream thread only to append. Connections are
 * resumed outside mu: a suspended connection cannot be closed, so the
 * pointers collected under mu stay valid until MHD_resume_connection.
 */
#include "server/stream.h"

#include "core/sse.h"
#include "server/app.h"
#include "server/evq.h"
#include "server/http.h"
#include "server/stream_int.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

stream *stream_new(app *a)
{
    stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->a = a;
    s->cap = (size_t)(a->cfg.stream_buffer > 0 ? a->cfg.stream_buffer : 8192);
    s->ring = calloc(s->cap, sizeof *s->ring);
    s->view = calloc(1, sizeof *s->view);
    if (!s->ring || !s->view) {
        free(s->ring);
        free(s->view);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    evq_init(&s->q, STREAM_QUEUE_MAX);
    return s;
}

/* Changes an operator waits for: a worker or group going away, an alert.
 * Opens and recoveries keep the tick, so a registration storm still wakes
 * subscribers only every STREAM_TICK_MS. */
static bool stream_urgent(const reg_event *ev)
{
    switch (ev->kind) {
    case REG_EV_SESSION_CLOSE:
    case REG_EV_GROUP_STATE:
    case REG_EV_ALERT:
        return true;
    case REG_EV_WORKER_STATE:
        return ev->state != REG_W_ALIVE;
    default:
        return false;
    }
}

void stream_push(stream *s, const reg_event *ev)
{
    if (!s) return;
    if (atomic_load(&s->listening) == 0 && app_mono_ms() > atomic_load(&s->linger_until)) {
        /* A subscriber that registers after this read builds its snapshot
         * from the registry after it, which already holds this change. */
        atomic_store(&s->skipped, true);
        return;
    }
    evq_push(&s->q, ev);
    if (stream_urgent(ev)) ticker_poke(&s->tk);
}

/* ---- the ring -------------------------------------------------------------- */

static uint64_t oldest(const stream *s)
{
    return s->tail ? s->tail : 1;
}

static void evict(stream *s)
{
    smsg *m = &s->ring[s->tail % s->cap];
    s->bytes -= m->len;
    free(m->buf);
    *m = (smsg){0, NULL, 0};
    s->tail++;
}

void stream_forget_history(stream *s)
{
    if (!atomic_exchange(&s->skipped, false)) return;
    while (s->tail && s->tail <= s->head)
        evict(s);
    s->tail = s->head + 1;
}

void stream_append(stream *s, char *buf, size_t len)
{
    uint64_t seq = ++s->head;
    if (!s->tail) s->tail = seq;
    if (seq - s->tail + 1 > s->cap) evict(s);
    s->ring[seq % s->cap] = (smsg){seq, buf, len};
    s->bytes += len;
    while (s->bytes > STREAM_RING_BYTES && s->tail < s->head)
        evict(s);
    s->since_wake++;
}

void stream_publish_text(stream *s, const char *event, char *data)
{
    if (!data) return;
    size_t dl = strlen(data);
    char id[SSE_ID_MAX];
    pthread_mutex_lock(&s->mu);
    sse_format_id(id, s->a->boot_ms, s->head + 1);
    size_t need = sse_size(id, event, data, dl) + 1;
    char *buf = malloc(need);
    if (buf) stream_append(s, buf, sse_encode(buf, need, id, event, data, dl));
    bool wake_now = s->since_wake >= STREAM_WAKE_EVERY;
    pthread_mutex_unlock(&s->mu);
    free(data);
    if (wake_now) stream_wake(s);
}

void stream_publish(stream *s, const char *event, cJSON *doc)
{
    char *data = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    stream_publish_text(s, event, data);
}

void stream_wake(stream *s)
{
    struct MHD_Connection *stackv[64], **v = stackv;
    size_t n = 0, cap = 64;
    pthread_mutex_lock(&s->mu);
    s->since_wake = 0;
    for (sub *x = s->subs; x; x = x->next) {
        if (!x->suspended) continue;
        if (n == cap) {
            struct MHD_Connection **nv =
                malloc(2 * cap * sizeof *nv); /* rare: more than 64 idle subscribers */
            if (!nv) break;
            memcpy(nv, v, n * sizeof *v);
            if (v != stackv) free(v);
            v = nv;
            cap *= 2;
        }
        x->suspended = false;
        v[n++] = x->conn;
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(v[i]);
    if (v != stackv) free(v);
}

/* ---- subscribers (HTTP threads) -------------------------------------------- */

/* A subscriber cut off ends now, as its client sees it. After an error
 * from the reader, libmicrohttpd (TURBO) closes the socket only when the
 * connection's own thread of the pool next wakes, and a connection the
 * front door hands over wakes only the thread it goes to: the client could
 * wait until the connection timeout to learn it must reconnect. shutdown()
 * sends what the kernel holds, then FIN, and the hang-up wakes that thread,
 * which then closes the fd. */
static void hang_up(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) shutdown(ci->connect_fd, SHUT_RDWR);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sub *x = cls;
    stream *s = x->st;
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    if (x->first) {
        size_t k = x->first_len - x->first_off;
        if (k > max) k = max;
        memcpy(buf, x->first + x->first_off, k);
        n = k;
        x->first_off += k;
        if (x->first_off == x->first_len) {
            free(x->first);
            x->first = NULL;
        }
    }
    while (n < max && !x->dead && x->next_seq <= s->head) {
        /* The ring overtook it: cut off (hang_up). */
        if (x->next_seq < oldest(s)) {
            x->dead = true;
            s->cut_off++;
            break;
        }
        const smsg *m = &s->ring[x->next_seq % s->cap];
        size_t k = m->len - x->off;
        if (k > max - n) k = max - n;
        memcpy(buf + n, m->buf + x->off, k);
        n += k;
        x->off += k;
        if (x->off == m->len) {
            x->next_seq++;
            x->off = 0;
        }
    }
    if (n == 0 && (x->dead || s->closing)) {
        bool closing = s->closing;
        pthread_mutex_unlock(&s->mu);
        if (closing) return MHD_CONTENT_READER_END_OF_STREAM;
        hang_up(x->conn);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0) {
        /* Caught up: sleep until the stream thread appends (wake). Under mu,
         * so no append can slip between the check and the suspend. */
        x->suspended = true;
        MHD_suspend_connection(x->conn);
    }
    pthread_mutex_unlock(&s->mu);
    return (ssize_t)n;
}

static void sub_free(void *cls)
{
    sub *x = cls;
    stream *s = x->st;
    pthread_mutex_lock(&s->mu);
    *x->pprev = x->next;
    if (x->next) x->next->pprev = x->pprev;
    s->nsubs--;
    atomic_store(&s->listening, s->nsubs);
    if (!s->nsubs) atomic_store(&s->linger_until, app_mono_ms() + STREAM_LINGER_MS);
    pthread_mutex_unlock(&s->mu);
    free(x->first);
    free(x);
}

typedef struct snap_ctx {
    cJSON *arr;
    int64_t now;
    size_t total, max;
} snap_ctx;

static void snap_group(void *ctx, const reg_group_view *g)
{
    cJSON_AddItemToArray(((snap_ctx *)ctx)->arr, json_group(g));
}

static void snap_worker(void *ctx, const reg_view *v)
{
    snap_ctx *c = ctx;
    if (c->total++ < c->max) cJSON_AddItemToArray(c->arr, json_worker(NULL, v, c->now));
}

static int snap_event(void *ctx, const store_event *e)
{
    cJSON_AddItemToArray(ctx, json_event(e));
    return 0;
}

char *stream_snapshot_json(stream *s)
{
    app *a = s->a;
    int64_t now = app_now_ms();
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "at", (double)now);
    snap_ctx c = {cJSON_AddArrayToObject(doc, "groups"), now, 0, 0};
    reg_groups(a->reg, snap_group, &c);
    c.arr = cJSON_AddArrayToObject(doc, "workers");
    c.max = (size_t)a->cfg.stream_snapshot_workers;
    reg_view *v = calloc(1, sizeof *v); /* an hb_msg: too big for an HTTP thread's stack */
    for (unsigned sh = 0; v && sh < REG_SHARDS; sh++)
        reg_scan(a->reg, sh, now, snap_worker, &c, v);
    free(v);
    cJSON_AddNumberToObject(doc, "workers_total", (double)c.total);
    cJSON_AddBoolToObject(doc, "workers_truncated", c.total > c.max);
    cJSON *evs = cJSON_AddArrayToObject(doc, "events");
    store_event_query q = {.limit = STREAM_RECENT_EVENTS};
    store_list_events(a->store, &q, snap_event, evs); /* a store error leaves it empty */
    char *data = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return data;
}

/* The snapshot message a new subscriber starts with, id'd at seq. */
static char *snapshot(stream *s, uint64_t seq, size_t *len)
{
    char *data = stream_snapshot_json(s);
    if (!data) return NULL;
    size_t dl = strlen(data);
    char id[SSE_ID_MAX];
    sse_format_id(id, s->a->boot_ms, seq);
    size_t need = sse_size(id, "snapshot", data, dl) + 1;
    char *buf = malloc(need);
    if (buf) *len = sse_encode(buf, need, id, "snapshot", data, dl);
    free(data);
    return buf;
}

enum MHD_Result route_stream(app *a, req *r)
{
    stream *s = a->stream;
    if (r->method != HTTP_GET) return http_error(r, 405, "method", "this endpoint takes GET");
    sub *x = calloc(1, sizeof *x);
    if (!x) return http_error(r, 503, "stream", "out of memory");
    x->st = s;
    x->conn = r->conn;
    int64_t run = 0;
    uint64_t last = 0;
    const char *lei = http_header(r, "Last-Event-ID");
    bool resume = lei && sse_parse_id(lei, strlen(lei), &run, &last) && run == a->boot_ms;

    pthread_mutex_lock(&s->mu);
    if (s->closing || s->nsubs >= (size_t)a->cfg.stream_max_subscribers) {
        pthread_mutex_unlock(&s->mu);
        free(x);
        return http_error(r, 503, "stream", "too many subscribers (see [stream] max_subscribers)");
    }
    stream_forget_history(s);
    resume = resume && last <= s->head && last + 1 >= oldest(s);
    uint64_t at = s->head;
    x->next_seq = resume ? last + 1 : at + 1;
    /* Listed before the snapshot is built: what happens meanwhile follows it. */
    x->next = s->subs;
    x->pprev = &s->subs;
    if (s->subs) s->subs->pprev = &x->next;
    s->subs = x;
    s->nsubs++;
    atomic_store(&s->listening, s->nsubs);
    pthread_mutex_unlock(&s->mu);

    if (!resume) {
        char *snap = snapshot(s, at, &x->first_len);
        pthread_mutex_lock(&s->mu);
        x->first = snap;
        if (!snap) x->dead = true; /* out of memory: the client retries */
        pthread_mutex_unlock(&s->mu);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, reader, x, sub_free);
    if (!resp) {
        sub_free(x);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: do not hold it back */
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)STREAM_CONN_TIMEOUT_S);
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
