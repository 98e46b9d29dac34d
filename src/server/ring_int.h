/*
 * ring_int.h: what ring.c (the connections) and ring_set.c (the threads,
 * their rings and sockets) share. Not a contract for anything else.
 */
#ifndef VIGIL_RING_INT_H
#define VIGIL_RING_INT_H

#include "server/cguard.h"
#include "server/ring.h"

#include "core/h1.h"
#include "core/hb.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RING_SQ_ENTRIES 1024
#define RING_CQ_ENTRIES 8192
#define RING_BUFS 256            /* provided receive buffers per ring (a power of two) */
#define RING_BUF_BYTES 4096      /* each: ~9 pipelined heartbeats; 1 MiB a ring in all */
#define RING_BGID 1              /* their buffer group */
#define RING_PEEK_BYTES 32       /* looked at on a new connection: the longest fast start fits */
#define RING_DRAIN_MAX (1 << 20) /* bytes dropped after MHD stopped reading (http.c's too) */
#define RING_ANSWER_MAX 192      /* bytes of one canned answer, at most */
#define RING_OUT_BYTES 1024      /* answers queued per connection before its reads pause */
#define RING_RELAY_BYTES 16384   /* per direction of a relayed connection */
#define RING_IDLE_MS (CGUARD_HEADER_S * 1000) /* a whole request within this, or closed */
#define RING_TICK_MS 1000                     /* deadline sweep */
#define RING_BACKLOG 4096
#define RING_IN_MAX (H1_HEAD_MAX + HB_BODY_MAX + RING_BUF_BYTES) /* a partial request, bytes */

enum {
    OP_ACCEPT = 1,
    OP_PEEK,
    OP_RECV,
    OP_SEND,
    OP_UP_RECV,
    OP_UP_SEND,
    OP_DN_RECV,
    OP_DN_SEND,
    OP_TICK,
    OP_WAKE
};
enum { M_PEEK, M_FAST, M_RELAY };

#define UD(op, fd) ((uint64_t)(op) << 32 | (uint32_t)(fd))

/* One direction of a relay: a buffer of cap bytes, len of them read, off sent on. */
typedef struct rdir {
    char *buf;
    size_t len, off, cap;
} rdir;

typedef struct rconn {
    int fd, mfd; /* client; relay: our end of the socketpair (-1: none) */
    uint8_t mode, nops;
    bool closing, eof, sending;
    bool up_done, up_drop, dn_done; /* RELAY: client sent all; its bytes dropped; MHD done */
    size_t dropped;                 /* RELAY: bytes dropped so far */
    int64_t deadline_ms;
    char *in; /* FAST: a partial request (heap), in_len bytes */
    size_t in_len, in_cap;
    size_t out_len, out_off; /* FAST: answers in out[] not yet sent */
    rdir up, dn;             /* RELAY: client -> MHD, MHD -> client */
    char peek[RING_PEEK_BYTES];
    char out[RING_OUT_BYTES];
} rconn;

typedef struct ring {
    app *a;
    struct ring_set *set;
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    int lfd, efd, nfds;
    uint64_t efd_val;
    rconn **conns; /* by fd */
    pthread_t th;
    bool started;
    bool accept_paused; /* accepting failed (EMFILE, ...): re-armed by the next tick */
    struct __kernel_timespec tick;
    atomic_ullong answered, handed, relayed;
    char head[128]; /* an answer's status line and headers up to the length (ring.c) */
    size_t head_len;
    time_t date_s;
} ring;

struct ring_set {
    int n;
    atomic_bool stop;
    unsigned max_conns; /* connections open at once, over all rings */
    atomic_uint conns;  /* our fds open now: a connection's, and a relay's end */
    pthread_mutex_t mu; /* ready, failed, go: the threads' start, told to ring_prepare/run */
    pthread_cond_t cv;
    int ready, failed;
    bool go;
    char why[160]; /* the first thread's failure */
    ring r[];
};

/* ring.c */
void ring_arm_accept(ring *r);
void ring_arm_tick(ring *r);
void ring_arm_wake(ring *r);
void ring_recycle(ring *r, int bid);
void ring_shut(rconn *c);
void ring_finish(ring *r, rconn *c); /* frees c once it is shut and nothing is in flight */
void ring_complete(ring *r, struct io_uring_cqe *cqe);

#endif
