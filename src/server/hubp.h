/*
 * hubp: the node side of federation. With [hub] url set, one thread pushes
 * a summary of this node to the hub every interval (core/hubw.h: the window,
 * the jitter, the backoff), as POST {url}/v1/hub/nodes/{node_id}/summary
 * with the [hub] token as Bearer.
 *
 * The summary is built from aggregates only, never by walking workers:
 * counts by state and by group (reg_counts, reg_groups), and over the
 * window, sessions closed by reason, heartbeats accepted and refused, and
 * tasks per group (count, mean). Tasks come from the task latency buckets
 * as the rollup thread flushes them (hubp_tasks), so a task shows up in the
 * window its bucket closed in, once.
 *
 * One libcurl handle serves every push, so its connection to the hub is
 * kept alive and reused. A stop pushes once more (the window since the last
 * success: a clean stop loses nothing) and waits at most HUBP_STOP_WAIT_MS
 * for that and any push in flight.
 */
#ifndef VIGIL_HUBP_H
#define VIGIL_HUBP_H

#include "core/tlat.h"
#include "server/app.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBP_STOP_WAIT_MS 5000     /* ms: a stop waits this long for the last push */
#define HUBP_SEND_TIMEOUT_MS 10000 /* ms: one push, connect to answer */
#define HUBP_CONNECT_MS 3000       /* ms: connecting to the hub */
#define HUBP_GROUPS_MAX 1000       /* groups listed in one summary; more: "groups_truncated" */

typedef struct hubp hubp;

typedef struct hubp_stats {
    uint64_t ok, failed;    /* pushes */
    int failures;           /* in a row, now */
    int64_t last_ok_ms;     /* wall clock; 0 = never */
    int64_t window_from_ms; /* start of the window not yet taken */
    int last_status;        /* HTTP status of the last push; 0 = no answer */
} hubp_stats;

/* NULL when [hub] url is empty (nothing to push), or out of memory. */
hubp *hubp_new(app *a);
int hubp_start(hubp *p, char *err, size_t errlen);
/* The last push (bounded by HUBP_STOP_WAIT_MS), then the thread ends. */
void hubp_stop(hubp *p);
void hubp_free(hubp *p);
/* Task latency rows as the rollup flushes them (any thread). NULL p: no-op. */
void hubp_tasks(hubp *p, const tlat_row *rows, size_t n);
void hubp_get_stats(hubp *p, hubp_stats *out);

#endif
