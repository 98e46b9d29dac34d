/*
 * notify: the notifier. The alert engine hands each notice to notify_push,
 * which copies it once per sink it names into a bounded queue and returns at
 * once; one thread delivers the copies with sink_send, retrying each with
 * exponential backoff, so a slow or dead sink never holds up ingest, the
 * engine, or the other sinks.
 *
 * Per sink, notices go out in the order pushed: a sink's oldest delivery
 * blocks that sink's later ones while it is retried (a "resolved" must not
 * overtake its "firing"), but never another sink's.
 *
 * Every outcome is counted per sink (notify_stats) and every failure logged
 * with the sink's name. Lifecycle: notify_new, notify_start, notify_push...,
 * notify_stop (drains for at most drain_ms), notify_free.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

#include "core/notice.h"
#include "server/sink.h"

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_QUEUE_DEFAULT 256               /* deliveries held, ~4 KiB each */
#define NOTIFY_ATTEMPTS_DEFAULT 8              /* attempts per delivery before giving up */
#define NOTIFY_MAX_AGE_DEFAULT_MS (15 * 60000) /* ... or once it is this old */
#define NOTIFY_BACKOFF_BASE_MS 1000            /* wait after the first failure, doubling */
#define NOTIFY_BACKOFF_MAX_MS 60000            /* cap of that wait */
#define NOTIFY_DRAIN_MS 5000                   /* notify_stop: longest it keeps delivering */
#define NOTIFY_DROP_LOG_EVERY 100              /* log the 1st, 101st, ... drop of a sink */

typedef struct notify_opts {
    int queue_max;    /* deliveries held across all sinks; past it a push is dropped */
    int max_attempts; /* >= 1 */
    int64_t max_age_ms;
    int64_t backoff_base_ms, backoff_max_ms; /* tests shrink these */
    int64_t drain_ms;
} notify_opts;

typedef struct notify_stats {
    uint64_t sent;     /* deliveries that succeeded */
    uint64_t failed;   /* failed attempts (a delivery retried 3 times counts 3) */
    uint64_t given_up; /* deliveries abandoned after max_attempts or max_age_ms */
    uint64_t dropped;  /* deliveries never tried: queue full, or left at stop */
} notify_stats;

typedef struct notify notify;

void notify_opts_default(notify_opts *o);

/* A notifier for these sinks (copied). o NULL: defaults. NULL on OOM. The
 * queue accepts pushes before notify_start; they wait for the thread. */
notify *notify_new(const sink_cfg *sinks, int nsinks, const notify_opts *o);
/* Start the delivery thread. 0 ok, -1 with err. */
int notify_start(notify *nf, char *err, size_t errlen);
/* Queue n for each sink in n->sinks. Never blocks on delivery; returns the
 * number of deliveries queued. A full queue drops (counted per sink); a sink
 * name that is not configured is counted in notify_unrouted. */
int notify_push(notify *nf, const notice *n);
/* Stop taking pushes, keep delivering (retries included) until the queue is
 * empty or drain_ms has passed, count what is left as dropped, join. */
void notify_stop(notify *nf);
void notify_free(notify *nf); /* stops first when still running */

/* Counters of sink `name`. 0 ok, -1 no such sink. */
int notify_stats_get(notify *nf, const char *name, notify_stats *out);
/* Sink names pushed that no [sink] section defines. */
uint64_t notify_unrouted(notify *nf);

/* The example notice of --test-sink: firing, type "test", rule "vigil-test",
 * worker "example-worker" in group "example", addressed to sink `name`. */
void notify_example(notice *n, const char *name, int64_t now_ms);
/* vigild --test-sink NAME: deliver the example notice to s once, now, no
 * retry. 0 delivered; -1 with err (the sink's answer or transport error;
 * without the sink's name, which the caller prints). */
int notify_test_sink(const sink_cfg *s, char *err, size_t errlen);

#endif
