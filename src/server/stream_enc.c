/*
 * stream_enc: the stream thread of stream.h. Every STREAM_TICK_MS (sooner
 * for a loss) it takes the changes queued by app_event, encodes each as an
 * `event` message and the workers and groups they touched as `worker` and
 * `group` messages, appends them to the ring (stream.c) and wakes the
 * subscribers; a burst goes out as one snapshot instead, and a summary
 * every STREAM_SUMMARY_MS.
 */
#include "core/sse.h"
#include "server/app.h"
#include "server/http.h"
#include "server/stream_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct touched {
    char key[HB_ID_MAX + 1];
    UT_hash_handle hh;
} touched;

static void touch(touched **set, const char *key)
{
    if (!key[0]) return;
    touched *t;
    HASH_FIND_STR(*set, key, t);
    if (t || !(t = calloc(1, sizeof *t))) return;
    snprintf(t->key, sizeof t->key, "%s", key);
    HASH_ADD_STR(*set, key, t);
}

static void clear(touched **set)
{
    touched *t, *tmp;
    HASH_ITER(hh, *set, t, tmp)
    {
        HASH_DEL(*set, t);
        free(t);
    }
}

typedef struct group_ctx {
    stream *s;
    touched *groups;
} group_ctx;

static void touched_group(void *ctx, const reg_group_view *g)
{
    group_ctx *c = ctx;
    touched *t;
    HASH_FIND_STR(c->groups, g->name, t);
    if (t) stream_publish(c->s, "group", json_group(g));
}

/* A burst: more messages than half the ring in one batch would overtake
 * even subscribers that keep up, so the changes go out as one shared
 * snapshot instead (at most every STREAM_RESYNC_MS; batches in between are
 * covered by it). Workers and groups are counted with repeats: an
 * estimate is enough. */
static bool burst(const stream *s, const reg_event *b, size_t n)
{
    size_t msgs = 0;
    for (size_t i = 0; i < n; i++)
        msgs += b[i].kind == REG_EV_GROUP_STATE || b[i].kind == REG_EV_ALERT ? 1 : 2;
    return msgs > s->cap / 2;
}

/* One batch of changes: an `event` each, then the touched workers and groups. */
static void encode(stream *s, const reg_event *b, size_t n, reg_view *v)
{
    app *a = s->a;
    if (n && (s->resync || burst(s, b, n))) {
        s->resync = true;
        return;
    }
    touched *workers = NULL, *groups = NULL;
    int64_t now = app_now_ms();
    store_event se;
    for (size_t i = 0; i < n; i++) {
        const reg_event *e = &b[i];
        store_event_of(e, a->cfg.node_id, &se);
        stream_publish(s, "event", json_event(&se));
        if (e->kind == REG_EV_WORKER_FORGET) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "worker_id", e->worker_id);
            stream_publish(s, "forget", f);
            touched *t;
            HASH_FIND_STR(workers, e->worker_id, t);
            if (t) {
                HASH_DEL(workers, t);
                free(t);
            }
        } else if (e->kind != REG_EV_GROUP_STATE && e->kind != REG_EV_ALERT) {
            touch(&workers, e->worker_id);
        }
        if (e->kind != REG_EV_ALERT) touch(&groups, e->group);
    }
    touched *t, *tmp;
    HASH_ITER(hh, workers, t, tmp)
    if (reg_get(a->reg, t->key, now, v)) stream_publish(s, "worker", json_worker(NULL, v, now));
    if (groups) {
        group_ctx c = {s, groups};
        reg_groups(a->reg, touched_group, &c);
    }
    clear(&workers);
    clear(&groups);
}

static void summary(stream *s, int64_t now)
{
    app *a = s->a;
    uint64_t counts[REG_W__COUNT];
    reg_counts(a->reg, counts);
    wq_stats ws;
    wq_get_stats(a->wq, &ws);
    uint64_t acc = atomic_load(&a->hb_accepted);
    double secs = s->summary_ms ? (double)(now - s->summary_ms) / 1000.0 : 0;
    cJSON *doc = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(doc, "counts");
    cJSON_AddNumberToObject(doc, "at", (double)now);
    for (int st = REG_W_ALIVE; st < REG_W__COUNT; st++)
        cJSON_AddNumberToObject(c, reg_wstate_name(st), (double)counts[st]);
    cJSON_AddNumberToObject(doc, "ingest_rate",
                            secs > 0 ? (double)(acc - s->sum_accepted) / secs : 0);
    cJSON_AddNumberToObject(doc, "dropped_rate",
                            secs > 0 ? (double)(ws.hb_dropped - s->sum_dropped) / secs : 0);
    cJSON_AddNumberToObject(doc, "queue_depth", (double)(ws.hb_depth + ws.ev_depth));
    pthread_mutex_lock(&s->mu);
    size_t nsubs = s->nsubs;
    pthread_mutex_unlock(&s->mu);
    cJSON_AddNumberToObject(doc, "subscribers", (double)nsubs);
    s->summary_ms = now;
    s->sum_accepted = acc;
    s->sum_dropped = ws.hb_dropped;
    stream_publish(s, "summary", doc);
}

/* One turn of the stream thread (a ticker every STREAM_TICK_MS). */
static void stream_turn(void *arg)
{
    stream *s = arg;
    bool overflow;
    size_t nb = evq_take(&s->q, &s->batch, &s->batch_cap, &overflow);
    uint64_t before;
    pthread_mutex_lock(&s->mu);
    stream_forget_history(s);
    before = s->head;
    if (overflow) /* changes are missing: start everyone over from a snapshot */
        for (sub *x = s->subs; x; x = x->next)
            x->dead = true;
    pthread_mutex_unlock(&s->mu);
    encode(s, s->batch, nb, s->view);
    int64_t mono = app_mono_ms(), now = app_now_ms();
    if (s->resync && mono - s->resync_ms >= STREAM_RESYNC_MS) {
        stream_publish_text(s, "snapshot", stream_snapshot_json(s));
        s->resync = false;
        s->resync_ms = mono;
    }
    if (now - s->summary_ms >= STREAM_SUMMARY_MS) summary(s, now);
    pthread_mutex_lock(&s->mu);
    bool appended = s->head != before;
    if (!appended && mono - s->last_msg_ms >= STREAM_KEEPALIVE_MS) {
        char *ka = malloc(16);
        if (ka) stream_append(s, ka, sse_comment(ka, 16, "keep-alive"));
        appended = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (appended || overflow) {
        s->last_msg_ms = mono;
        stream_wake(s);
    }
}

int stream_start(stream *s, char *err, size_t errlen)
{
    if (!s) return 0;
    s->last_msg_ms = app_mono_ms();
    return ticker_start(&s->tk, "vigil-stream", STREAM_TICK_MS, STREAM_URGENT_MS, stream_turn, s,
                        err, errlen);
}

void stream_stop(stream *s)
{
    if (!s) return;
    ticker_stop(&s->tk);
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_mutex_unlock(&s->mu);
    stream_wake(s); /* their readers now end the responses */
}

void stream_free(stream *s)
{
    if (!s) return;
    stream_stop(s);
    for (size_t i = 0; i < s->cap; i++)
        free(s->ring[i].buf);
    free(s->ring);
    evq_destroy(&s->q);
    free(s->batch);
    free(s->view);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void stream_get_stats(stream *s, stream_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    out->subscribers = s->nsubs;
    out->messages = s->head;
    out->cut_off = s->cut_off;
    pthread_mutex_unlock(&s->mu);
    out->events_dropped = atomic_load(&s->q.dropped);
}
