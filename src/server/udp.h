/*
 * udp: the UDP ingest door (opt-in: [server] udp_listen). One thread,
 * "vigil-udp", takes datagrams in recvmmsg batches, parses their lines
 * (core/udpl.h) and applies each good one through ingest_apply, the same
 * path as HTTP. Malformed input is counted (app.h: udp_*), never fatal.
 */
#ifndef VIGIL_UDP_H
#define VIGIL_UDP_H

#include "server/app.h"

#include <stddef.h>

/* Bind udp_listen and start the thread; 0 and nothing done when udp_listen
 * is empty. -1 with err when the address cannot be bound. */
int udp_start(app *a, char *err, size_t errlen);

/* Stop the thread (returns within ~UDP_POLL_MS) and close the socket. Safe
 * when never started. Must run before the registry is freed. */
void udp_stop(app *a);

/* The counters as a JSON object (GET /v1/admin/udp). Returns its length,
 * or 0 when it does not fit in cap. */
size_t udp_stats_json(app *a, char *buf, size_t cap);

#endif
