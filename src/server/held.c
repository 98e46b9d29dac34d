/*
 * held: GET /v1/connect/{worker_id}, the held connection. A worker keeps
 * one request open instead of (or besides) heartbeating; while it is open
 * the worker is alive, and when it drops without a bye the worker turns
 * suspect at once and dead [liveness] held_grace_ms later (reg_drop),
 * rather than after its whole TTL: the low-latency option for long jobs.
 *
 * Mechanism. The answer is a chunked response that never ends: a first
 * line ({"ok":true,...}) and then one "\n" every HELD_TICK_MS. Between
 * those, the connection is suspended in libmicrohttpd (no polling); a
 * thread (vigil-held) resumes every held connection each tick, which makes
 * its reader write the keep-alive byte. A peer that has gone makes that
 * write fail, libmicrohttpd ends the request, and http.c's
 * request-completed hook calls held_closed, which reports the drop. So a
 * kill is seen within about two ticks. Each HELD_BEAT_MS the thread also
 * counts every open connection as a heartbeat of its worker (registry only:
 * no raw sample is stored for it). A connection ended by vigild's own stop
 * is not a drop.
 *
 * An open connection says the worker's process and network are there, not
 * that its work moves: pair it with the stuck rule (cpu_ticks) for that.
 */
#include "server/held.h"

#include "core/err.h"
#include "server/http.h"
#include "server/ticker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELD_TICK_MS 100       /* keep-alive byte: a dead peer shows within ~2 ticks */
#define HELD_BEAT_MS 1000      /* an open connection counts as a heartbeat this often */
#define HELD_CONN_TIMEOUT_S 30 /* libmicrohttpd's idle limit for it: far above a tick */
#define HELD_MAX 65536         /* held connections at once */

/* Who a connection beats for: a heartbeat with no samples. */
typedef struct who {
    uint32_t has; /* HB_HAS_GROUP, HB_HAS_INSTANCE */
    char worker_id[HB_ID_MAX + 1], group[HB_ID_MAX + 1], instance[HB_INSTANCE_MAX + 1];
} who;

typedef struct hconn {
    struct hconn *next, **pprev;
    held *h;
    struct MHD_Connection *conn;
    who w;
    char first[256]; /* the first line, sent once */
    size_t first_len, first_off;
    bool due, suspended;
} hconn;

struct held {
    app *a;
    pthread_mutex_t mu;
    hconn *list;
    size_t n;
    bool closing;
    ticker tk; /* the held thread */
    int64_t last_beat_ms;
    atomic_uint_least64_t drops;
    hb_msg beat; /* the thread's, reused: an hb_msg is large */
};

held *held_new(app *a)
{
    held *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->a = a;
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    hconn *c = cls;
    held *h = c->h;
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    if (h->closing) {
        pthread_mutex_unlock(&h->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (c->first_off < c->first_len) {
        n = c->first_len - c->first_off < max ? c->first_len - c->first_off : max;
        memcpy(buf, c->first + c->first_off, n);
        c->first_off += n;
    } else if (c->due && max > 0) {
        buf[0] = '\n';
        n = 1;
        c->due = false;
    } else {
        c->suspended = true; /* under mu: the thread resumes it after marking it due */
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&h->mu);
    return (ssize_t)n;
}

void held_closed(app *a, void *p, int toe)
{
    (void)toe;
    hconn *c = p;
    held *h = c->h;
    pthread_mutex_lock(&h->mu);
    *c->pprev = c->next;
    if (c->next) c->next->pprev = c->pprev;
    h->n--;
    bool ours = h->closing; /* vigild stopping: not the worker's doing */
    pthread_mutex_unlock(&h->mu);
    if (!ours && reg_drop(a->reg, c->w.worker_id, c->w.instance, app_now_ms()) == 0) h->drops++;
    free(c);
}

enum MHD_Result route_connect(app *a, req *r, const char *worker_id)
{
    held *h = a->held;
    hb_msg m;
    hb_err e;
    /* The ping path's parser: the same id rules and words; no suffix here. */
    if (hb_parse_ping_path(worker_id, &m, &e) != 0) return ingest_refuse(a, r, &e);
    if (m.kind != HB_BEAT || (m.has & HB_HAS_EXIT_CODE)) {
        hb_fail(&e, "path", "is /v1/connect/{worker_id}, with nothing after the id");
        return ingest_refuse(a, r, &e);
    }
    if (!ingest_query_fields(r, &m, &e)) return ingest_refuse(a, r, &e);
    int st = ingest_apply(a, &m, app_now_ms()); /* connecting is a heartbeat */
    if (st < 0) return http_error(r, 503, "worker_id", "the registry is full");

    hconn *c = calloc(1, sizeof *c);
    if (!c) return http_error(r, 503, "connect", "out of memory");
    c->h = h;
    c->conn = r->conn;
    c->w.has = m.has & (HB_HAS_GROUP | HB_HAS_INSTANCE); /* its beats carry no samples */
    memcpy(c->w.worker_id, m.worker_id, sizeof m.worker_id);
    memcpy(c->w.group, m.group, sizeof m.group);
    memcpy(c->w.instance, m.instance, sizeof m.instance);
    c->first_len = (size_t)snprintf(c->first, sizeof c->first,
                                    "{\"ok\":true,\"state\":\"%s\",\"keepalive_ms\":%d}\n",
                                    reg_wstate_name(st), HELD_TICK_MS);
    pthread_mutex_lock(&h->mu);
    if (h->closing || h->n >= HELD_MAX) {
        pthread_mutex_unlock(&h->mu);
        free(c);
        return http_error(r, 503, "connect", "too many held connections");
    }
    c->next = h->list;
    c->pprev = &h->list;
    if (h->list) h->list->pprev = &c->next;
    h->list = c;
    h->n++;
    pthread_mutex_unlock(&h->mu);

    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, reader, c, NULL);
    if (!resp) {
        r->held = c; /* the completed hook unlinks it */
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned)HELD_CONN_TIMEOUT_S);
    r->held = c;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Every tick: mark every connection due, resume the sleeping ones; every
 * HELD_BEAT_MS also beat for each. Connections are resumed outside mu (a
 * suspended one cannot end, so the pointers stay good until resumed). */
static void tick(held *h, bool beat)
{
    size_t cap = 0, n = 0, nb = 0;
    struct MHD_Connection **v = NULL;
    who *beats = NULL;
    pthread_mutex_lock(&h->mu);
    cap = h->n;
    if (cap) {
        v = malloc(cap * sizeof *v);
        if (beat) beats = malloc(cap * sizeof *beats);
    }
    for (hconn *c = h->list; c && v; c = c->next) {
        c->due = true;
        if (beats) beats[nb++] = c->w;
        if (c->suspended) {
            c->suspended = false;
            v[n++] = c->conn;
        }
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(v[i]);
    int64_t now = app_now_ms();
    hb_msg *m = &h->beat;
    for (size_t i = 0; i < nb; i++) {
        hb_init(m);
        m->has = beats[i].has;
        memcpy(m->worker_id, beats[i].worker_id, sizeof m->worker_id);
        memcpy(m->group, beats[i].group, sizeof m->group);
        memcpy(m->instance, beats[i].instance, sizeof m->instance);
        reg_heartbeat(h->a->reg, m, now);
    }
    free(v);
    free(beats);
}

/* One turn of the held thread (a ticker every HELD_TICK_MS). */
static void held_turn(void *arg)
{
    held *h = arg;
    int64_t mono = app_mono_ms();
    bool beat = mono - h->last_beat_ms >= HELD_BEAT_MS;
    if (beat) h->last_beat_ms = mono;
    tick(h, beat);
}

int held_start(held *h, char *err, size_t errlen)
{
    if (!h) return 0;
    h->last_beat_ms = app_mono_ms();
    return ticker_start(&h->tk, "vigil-held", HELD_TICK_MS, HELD_TICK_MS, held_turn, h, err,
                        errlen);
}

void held_stop(held *h)
{
    if (!h) return;
    ticker_stop(&h->tk);
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    pthread_mutex_unlock(&h->mu);
    tick(h, false); /* their readers now end the responses */
}

void held_free(held *h)
{
    if (!h) return;
    held_stop(h);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void held_get_stats(held *h, size_t *open, uint64_t *drops)
{
    *open = 0;
    *drops = 0;
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    *open = h->n;
    pthread_mutex_unlock(&h->mu);
    *drops = atomic_load(&h->drops);
}
