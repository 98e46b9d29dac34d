/*
 * stream_int.h: what stream.c (the ring, the subscribers) and stream_enc.c
 * (the stream thread, which encodes changes into the ring) share. The lock
 * rules are in stream.c's banner.
 */
#ifndef VIGIL_STREAM_INT_H
#define VIGIL_STREAM_INT_H

#include "server/evq.h"
#include "server/stream.h"
#include "server/ticker.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define STREAM_TICK_MS                                                                             \
    250 /* changes encoded and pushed this often: each push wakes every subscriber */
#define STREAM_URGENT_MS                                                                           \
    50 /* a loss (worker not alive, session closed, group state, alert) is pushed this soon */
#define STREAM_SUMMARY_MS 2000       /* summary message */
#define STREAM_KEEPALIVE_MS 15000    /* comment on a stream with nothing else to say */
#define STREAM_BLOCK (64 * 1024)     /* bytes libmicrohttpd takes from a subscriber at once */
#define STREAM_QUEUE_MAX 1000000     /* changes waiting to be encoded (~450 MB), past it dropped */
#define STREAM_RECENT_EVENTS 50      /* events in a snapshot */
#define STREAM_CONN_TIMEOUT_S 60     /* a subscriber's socket: > the keep-alive period */
#define STREAM_RING_BYTES (64 << 20) /* the ring's messages, at most: then the oldest go */
#define STREAM_WAKE_EVERY 256        /* a long batch wakes subscribers this often, not at its end */
#define STREAM_LINGER_MS 60000       /* changes still encoded after the last subscriber left */
#define STREAM_RESYNC_MS 1000 /* a burst is sent as one shared snapshot, at most this often */

typedef struct smsg {
    uint64_t seq; /* 0: empty slot */
    char *buf;
    size_t len;
} smsg;

typedef struct sub {
    struct sub *next, **pprev;
    stream *st;
    struct MHD_Connection *conn;
    uint64_t next_seq; /* next ring message to send */
    size_t off;        /* bytes of it already sent */
    char *first;       /* the snapshot, sent before the ring; NULL once sent */
    size_t first_len, first_off;
    bool suspended, dead;
} sub;

struct stream {
    app *a;
    pthread_mutex_t mu; /* ring and subscribers */
    smsg *ring;
    size_t cap;
    uint64_t head; /* seq of the newest message, 0: none yet */
    uint64_t tail; /* seq of the oldest message kept */
    size_t bytes;  /* in the ring's messages */
    sub *subs;
    size_t nsubs;
    /* Read by stream_push without mu. With nobody subscribed, and none for
     * STREAM_LINGER_MS (a dashboard that reconnects within it still
     * resumes), changes are neither queued nor encoded; the history they
     * would have extended is dropped (stream_forget_history), so no Last-Event-ID
     * resumes across the gap. */
    atomic_size_t listening;           /* nsubs */
    atomic_int_least64_t linger_until; /* mono ms: encode until then, nobody listening */
    atomic_bool skipped;               /* a change went by unencoded */
    uint64_t cut_off;
    bool closing;

    evq q; /* incoming changes */

    ticker tk;        /* the stream thread */
    reg_event *batch; /* its batch (evq_take swaps it) */
    size_t batch_cap;
    reg_view *view; /* its scratch view: an hb_msg is large */
    int64_t last_msg_ms, summary_ms, resync_ms;
    bool resync;       /* a burst came: per-change messages give way to one snapshot */
    size_t since_wake; /* messages appended since the last wake */
    uint64_t sum_accepted, sum_dropped;
};

/* Append an encoded message (takes buf). The ring keeps `cap` messages and
 * STREAM_RING_BYTES, whichever binds first (a few snapshots are large).
 * Caller holds mu. */
void stream_append(stream *s, char *buf, size_t len);

/* Changes went by while nobody listened: the ring's messages no longer
 * lead up to now, so none may be resumed from. Caller holds mu. */
void stream_forget_history(stream *s);

/* Encode data (JSON text, freed) with id = this run and the message's
 * seq, and append; takes mu. */
void stream_publish_text(stream *s, const char *event, char *data);

/* The same for a document (freed). */
void stream_publish(stream *s, const char *event, cJSON *doc);

/* Wake every suspended subscriber (after appending, or to end them). */
void stream_wake(stream *s);

/* The snapshot a subscriber starts from (and a burst is sent as): the
 * registry's workers and groups and the recent events, as JSON text
 * (malloc'd), NULL when out of memory. */
char *stream_snapshot_json(stream *s);

#endif
