/*
 * cguard: the connection deadlines libmicrohttpd does not have.
 *
 * MHD's connection timeout is an inactivity timer: every byte received
 * resets it, so a client trickling its header a byte every few seconds
 * (slowloris) holds a connection, and a slot of the connection limit, for
 * as long as it likes. cguard gives every connection a deadline for its next
 * request header: CGUARD_HEADER_S after it opened or after its previous
 * request ended. A sweeper thread looks once a second and shuts down the
 * connections past their deadline that have no request in progress.
 * Requests in progress (a body being read, a held /v1/connect, an SSE
 * stream) are not cguard's: a body's deadline is http.c's, checked as its
 * bytes arrive (cguard_body_late).
 */
#ifndef VIGIL_CGUARD_H
#define VIGIL_CGUARD_H

#include <microhttpd.h>
#include <stdbool.h>

#define CGUARD_HEADER_S 30  /* s: from open (or the last request's end) to a complete header */
#define CGUARD_BODY_S 120   /* s: from a complete header to the end of its body */
#define CGUARD_SWEEP_MS 500 /* ms between sweeps */

/* Start the sweeper. 0, or -1 (no thread). */
int cguard_start(void);
/* Stop and join the sweeper; call after MHD_stop_daemon (every record freed). */
void cguard_stop(void);

/* MHD_OPTION_NOTIFY_CONNECTION callback: records a connection on
 * MHD_CONNECTION_NOTIFY_STARTED, forgets it on ..._CLOSED (which MHD calls
 * before it closes the socket, so the sweeper never shuts a reused fd). */
void cguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                   enum MHD_ConnectionNotificationCode code);

/* A request's header is complete (the handler's first call) / the request
 * ended (MHD's completed callback). */
void cguard_request_begin(struct MHD_Connection *conn);
void cguard_request_end(struct MHD_Connection *conn);
/* True when the request on conn has had its header for longer than
 * CGUARD_BODY_S: the caller drops the connection. */
bool cguard_body_late(struct MHD_Connection *conn);

/* Connections shut down by the sweeper since start (for tests and logs). */
unsigned long cguard_closed_total(void);

#endif
