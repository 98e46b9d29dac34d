/*
 * ring: the HTTP listener's front door on io_uring (liburing).
 *
 * With libmicrohttpd alone, every heartbeat request cost two system calls
 * (a recv and a send) and, on this project's 2-vCPU VM where one system call
 * costs ~1.1 µs, the kernel's share of a request was most of its cost
 * (docs/benchmarks.md, "The ingest ring"). A ring thread instead batches:
 * one io_uring_enter submits the answers and receives of many connections
 * at once (0.3 system calls a request, measured).
 *
 * The ring owns the listening socket(s) and accepts every connection. It
 * peeks at a new connection's first bytes (nothing consumed): a connection
 * that opens with POST /v1/heartbeat or POST /v1/bye stays on the ring; any
 * other is handed to libmicrohttpd untouched (MHD_add_connection), which
 * serves it exactly as before. On a ring connection, each request that
 * core/h1 judges plain, and whose body parses and applies, is answered by
 * the ring; the first that is not (another route, a refusal, anything
 * unusual) turns the connection into a relay: a socketpair whose other end
 * is handed to libmicrohttpd with the bytes from that request on, so every
 * refusal and every other route is still libmicrohttpd's code.
 *
 * One ring thread per http_threads, each with its own SO_REUSEPORT socket.
 * When io_uring is unavailable (an old kernel, a seccomp filter, or
 * http_ring = false), ring_prepare fails and http.c lets libmicrohttpd
 * listen itself, as before.
 */
#ifndef VIGIL_RING_H
#define VIGIL_RING_H

#include "server/app.h"

#include <stddef.h>
#include <sys/socket.h>

typedef struct ring_set ring_set;

/* Set up nthreads rings and bind their listening sockets to sa (sl bytes);
 * at most max_conns connections' fds at once, the ring's and
 * libmicrohttpd's together (the rest of the fd limit is the store's and the
 * sinks'). NULL with err filled when io_uring cannot be used or the address
 * cannot be bound (*bind_failed then set: that is the listen error, not a
 * reason to fall back). Nothing is accepted until ring_run. */
ring_set *ring_prepare(app *a, const struct sockaddr *sa, socklen_t sl, int nthreads,
                       unsigned max_conns, int *bind_failed, char *err, size_t errlen);
/* Start accepting (a->mhd must be up: connections are handed to it). The
 * threads are already running (ring_prepare). */
void ring_run(ring_set *rs);
/* Stop the threads, close their connections and sockets, free the set.
 * Call before MHD_stop_daemon. NULL is a no-op. */
void ring_stop(ring_set *rs);

/* Requests answered on the ring, connections handed to libmicrohttpd whole
 * and connections relayed to it after ring requests (for /metrics). */
typedef struct ring_stats {
    unsigned long long answered, handed, relayed;
} ring_stats;
void ring_get_stats(const ring_set *rs, ring_stats *out);

#endif
