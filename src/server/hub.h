/*
 * hub: the hub role ([hub] role = hub): takes nodes' summaries, stores
 * them, lists the nodes with their staleness. See hub.c for the mechanism,
 * hubp.h for the node side, docs/api.md for the endpoints.
 */
#ifndef VIGIL_HUB_H
#define VIGIL_HUB_H

#include "server/app.h"

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hub_stats {
    uint64_t taken, refused; /* summaries */
    size_t nodes, stale;
} hub_stats;

/* NULL when the role is not hub (err empty), or on failure (err set). */
hub *hub_new(app *a, char *err, size_t errlen);
void hub_free(hub *h);
void hub_get_stats(hub *h, hub_stats *out);

struct req;
/* POST /v1/hub/nodes/{node_id}/summary; the dispatch has checked the
 * method, the hub token, the content type and node_id. */
enum MHD_Result route_hub_summary(app *a, struct req *r, const char *node_id);
/* GET /v1/hub/nodes (admin token). */
enum MHD_Result route_hub_nodes(app *a, struct req *r);
/* GET /v1/hub/nodes/{node_id}/{sub} (admin token): sub "summaries". */
enum MHD_Result route_hub_node(app *a, struct req *r, const char *node_id, const char *sub);

#endif
