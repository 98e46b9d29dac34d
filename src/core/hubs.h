/*
 * hubs: a node's summary as a hub receives it (POST
 * /v1/hub/nodes/{node_id}/summary; what server/hubp.c sends), checked.
 *
 * The hub stores the document whole, unknown fields included (a newer
 * node may send more), so only what the hub itself reads or adds up is
 * checked here: the envelope (schema_version 1, node_id agreeing with the
 * path, run_id, the window, interval_s) and the counts a reader sums over
 * windows (sessions_closed, heartbeats, tasks, workers, groups): each a
 * non-negative integer (below 2^53: exact as a JSON number) or, for means,
 * a finite non-negative number. Pure: no I/O, no clock.
 */
#ifndef VIGIL_HUBS_H
#define VIGIL_HUBS_H

#include "core/hb.h"

#include <stdint.h>

struct cJSON;

#define HUBS_NODE_MAX 64        /* bytes of a node id */
#define HUBS_BODY_MAX (1 << 20) /* bytes of one summary */
#define HUBS_LIST_MAX 10000     /* entries of tasks or groups */

typedef struct hubs_meta {
    int64_t run_id, seq, from_ms, to_ms;
    int interval_s;
} hubs_meta;

/* Whether s[0..n) is a node id: 1..HUBS_NODE_MAX bytes of [A-Za-z0-9._:@-]. */
bool hubs_node_valid(const char *s, size_t n);

/* Check doc against the contract above. 0 and *out filled, or -1 with e
 * naming the field (dotted: "window.to_ms", "tasks[3].count") and why. */
int hubs_check(const struct cJSON *doc, const char *node_id, hubs_meta *out, hb_err *e);

#endif
