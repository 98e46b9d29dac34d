/*
 * stream: GET /v1/stream, the live fleet view pushed over Server-Sent
 * Events to dashboards and `vigil top` (contract: docs/api.md).
 *
 * Mechanism. The registry hands every state change to app_event, which
 * calls stream_push: a copy into a queue and nothing more, so ingest never
 * waits on subscribers. A thread (vigil-stream) takes the queue every
 * STREAM_TICK_MS (STREAM_URGENT_MS after a loss came in) and encodes each change ONCE into a ring of SSE messages
 * (cfg [stream] buffer of them) shared by every subscriber: an `event` per
 * change, then one `worker` per worker and one `group` per group the batch
 * touched (so a burst of changes to one worker costs one message), a
 * `summary` every STREAM_SUMMARY_MS, a keep-alive comment when idle.
 *
 * A subscriber is a position in the ring. libmicrohttpd asks it for bytes
 * when its socket can take them; it copies from the ring, and when it has
 * caught up it suspends its connection, which the stream thread resumes
 * after appending. A subscriber that the ring has overtaken (it fell more
 * than `buffer` messages behind) is cut off: it reconnects and starts over
 * from a snapshot, and nobody else waits for it. A new subscriber first gets
 * its own `snapshot` (groups, workers, recent events), built from the
 * registry, then the ring from the point the snapshot was taken; one that
 * reconnects with a Last-Event-ID still in the ring gets only what it
 * missed.
 */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include "core/reg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct app app;
typedef struct stream stream;

/* After the registry exists; NULL when out of memory. */
stream *stream_new(app *a);
int stream_start(stream *s, char *err, size_t errlen);
/* A registry (or alert) event; any thread, quick. NULL s: no-op. */
void stream_push(stream *s, const reg_event *ev);
/* Before http_stop: ends every subscriber's response and the thread. */
void stream_stop(stream *s);
/* After http_stop (no subscriber left). */
void stream_free(stream *s);

typedef struct stream_stats {
    size_t subscribers;
    uint64_t messages;       /* appended to the ring since start */
    uint64_t cut_off;        /* subscribers dropped for falling behind */
    uint64_t events_dropped; /* changes the stream missed (its queue was full) */
} stream_stats;
void stream_get_stats(stream *s, stream_stats *out);

#endif
