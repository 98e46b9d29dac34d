/*
 * ring.c: the io_uring front door (ring.h).
 *
 * Each ring thread loops on one io_uring_enter: it submits every operation
 * queued since the last turn (answers, receives, accepts) and waits for at
 * least one completion, then handles all completions there are. A
 * connection is one record (rconn) indexed by its fd, with at most one
 * receive and one send of each direction in flight; the record is freed
 * only when none is (nops == 0), so a completion never finds a freed or
 * reused slot.
 *
 * States of a connection:
 *   PEEK   its first bytes are looked at with MSG_PEEK (not consumed);
 *          not a heartbeat or bye: handed to libmicrohttpd whole.
 *   FAST   requests answered here. Receives take a buffer from the ring's
 *          provided-buffer group only when data arrives, so an idle
 *          connection holds no buffer; a request cut across receives is
 *          kept in the record's own heap buffer until it is whole.
 *   RELAY  from the first request the fast path does not answer on, bytes
 *          are copied both ways between the client and a socketpair whose
 *          other end is libmicrohttpd's connection. Answers already queued
 *          here are sent before any of libmicrohttpd's.
 * Deadlines: a PEEK or FAST connection that has no whole request within
 * RING_IDLE_MS of opening or of its previous request is shut down, as
 * cguard and libmicrohttpd's timeout do for theirs; a relay's timeouts are
 * libmicrohttpd's (its end closing closes the client).
 */
#include "server/ring_int.h"

#include "server/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct io_uring_sqe *sqe_get(ring *r)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&r->ring);
    if (!s) { /* full: hand the queue to the kernel now and take a fresh one */
        io_uring_submit(&r->ring);
        s = io_uring_get_sqe(&r->ring);
    }
    return s;
}

void ring_arm_accept(ring *r)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_multishot_accept(s, r->lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, r->lfd));
}

void ring_arm_tick(ring *r)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_timeout(s, &r->tick, 0, 0);
    io_uring_sqe_set_data64(s, UD(OP_TICK, 0));
}

void ring_arm_wake(ring *r)
{
    struct io_uring_sqe *s = sqe_get(r);
    io_uring_prep_read(s, r->efd, &r->efd_val, sizeof r->efd_val, 0);
    io_uring_sqe_set_data64(s, UD(OP_WAKE, 0));
}

/* One operation on connection c; fd is the socket it reads or writes. */
static void op(ring *r, rconn *c, int opc, int fd, void *buf, size_t len, int flags)
{
    struct io_uring_sqe *s = sqe_get(r);
    if (opc == OP_SEND || opc == OP_UP_SEND || opc == OP_DN_SEND)
        io_uring_prep_send(s, fd, buf, len, flags | MSG_NOSIGNAL);
    else
        io_uring_prep_recv(s, fd, buf, len, flags);
    if (opc == OP_RECV) {
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = RING_BGID;
    }
    io_uring_sqe_set_data64(s, UD(opc, c->fd));
    c->nops++;
}

void ring_recycle(ring *r, int bid)
{
    io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * RING_BUF_BYTES, RING_BUF_BYTES,
                          (unsigned short)bid, io_uring_buf_ring_mask(RING_BUFS), 0);
    io_uring_buf_ring_advance(r->br, 1);
}

/* Shut both sockets down: whatever is in flight completes, and the record
 * is freed by ring_finish() once nothing is. */
void ring_shut(rconn *c)
{
    if (c->closing) return;
    c->closing = true;
    shutdown(c->fd, SHUT_RDWR);
    if (c->mfd >= 0) shutdown(c->mfd, SHUT_RDWR);
}

void ring_finish(ring *r, rconn *c)
{
    if (c->nops || !c->closing) return;
    r->conns[c->fd] = NULL;
    atomic_fetch_sub(&r->set->conns, c->mfd >= 0 ? 2u : 1u);
    close(c->fd);
    if (c->mfd >= 0) close(c->mfd);
    free(c->in);
    free(c->up.buf);
    free(c->dn.buf);
    free(c);
}

/* Hand fd to libmicrohttpd (daemon d) as a connection from the client's
 * address. MHD closes fd itself when it cannot take it. */
static int hand_to(struct MHD_Daemon *d, int fd, int client)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(client, (struct sockaddr *)&ss, &sl) != 0) {
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_INET;
        sl = sizeof(struct sockaddr_in);
    }
    return MHD_add_connection(d, fd, (struct sockaddr *)&ss, sl) == MHD_YES ? 0 : -1;
}

/* ---- FAST ---------------------------------------------------------------- */

/* r->head: the answer's status line and headers up to "Content-Length: ",
 * its Date redone once a second, so an answer is three copies and no
 * snprintf (which was most of the ring's own code per heartbeat). */
static void head_line(ring *r)
{
    time_t now = time(NULL);
    if (now == r->date_s) return;
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(r->head, sizeof r->head,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        "Date: %a, %d %b %Y %H:%M:%S GMT\r\nContent-Length: ",
                        &tm);
    r->head_len = n;
    r->date_s = now;
}

/* Queue the 200 answer carrying json[0..n) (n < 100: the canned bodies).
 * serve() made sure out[] has RING_ANSWER_MAX bytes free. */
static void answer(ring *r, rconn *c, const char *json, size_t n)
{
    head_line(r);
    char *o = c->out + c->out_len;
    memcpy(o, r->head, r->head_len);
    o += r->head_len;
    if (n >= 10) *o++ = (char)('0' + n / 10);
    *o++ = (char)('0' + n % 10);
    memcpy(o, "\r\n\r\n", 4);
    memcpy(o + 4, json, n);
    c->out_len = (size_t)(o + 4 + n - c->out);
}

static void flush_out(ring *r, rconn *c)
{
    if (c->sending || c->out_off == c->out_len || c->closing) return;
    c->sending = true;
    op(r, c, OP_SEND, c->fd, c->out + c->out_off, c->out_len - c->out_off, 0);
}

static void start_relay(ring *r, rconn *c, const char *bytes, size_t n);

/* Answer the whole fast requests at buf[0..n); returns the bytes used. A
 * request the fast path does not answer starts the relay with the rest
 * (then everything counts as used). *room: false when answers filled out[]
 * and the rest waits for the send. */
static size_t serve(ring *r, rconn *c, const char *buf, size_t n, bool *room)
{
    size_t pos = 0;
    *room = true;
    while (pos < n) {
        h1_req q;
        h1_verdict v = h1_scan(buf + pos, n - pos, HB_BODY_MAX, &q);
        if (v == H1_MORE) break;
        if (v == H1_FAST && c->out_len + RING_ANSWER_MAX > sizeof c->out) {
            *room = false;
            break;
        }
        size_t jl = 0;
        const char *json = v == H1_FAST ? ingest_fast(r->a, q.route == H1_BYE, q.auth, q.auth_len,
                                                      buf + pos + q.head_len, q.body_len, &jl)
                                        : NULL;
        if (!json) {
            start_relay(r, c, buf + pos, n - pos);
            return n;
        }
        answer(r, c, json, jl);
        atomic_fetch_add_explicit(&r->answered, 1, memory_order_relaxed);
        pos += q.head_len + q.body_len;
    }
    if (pos) c->deadline_ms = app_mono_ms() + RING_IDLE_MS; /* one clock read a batch */
    flush_out(r, c);
    return pos;
}

static void arm_recv(ring *r, rconn *c)
{
    if (!c->closing && !c->eof && c->mode == M_FAST) op(r, c, OP_RECV, c->fd, NULL, 0, 0);
}

/* Keep buf[used..n) as the start of the next request. */
static bool keep(rconn *c, const char *buf, size_t used, size_t n)
{
    size_t rest = n - used;
    if (buf == c->in) {
        memmove(c->in, c->in + used, rest);
    } else if (rest) {
        if (rest > c->in_cap) {
            char *nb = realloc(c->in, rest);
            if (!nb) return false;
            c->in = nb;
            c->in_cap = rest;
        }
        memcpy(c->in, buf + used, rest);
    }
    c->in_len = rest;
    return true;
}

/* Bytes received on a FAST connection: answer what is whole, keep the rest.
 * Reads pause while out[] is full (resumed by on_send). */
static void fast_data(ring *r, rconn *c, const char *d, size_t n)
{
    const char *buf = d;
    size_t len = n;
    if (c->in_len) {
        if (c->in_len + n > RING_IN_MAX) { /* h1 would have said OTHER long before */
            ring_shut(c);
            return;
        }
        if (c->in_len + n > c->in_cap) {
            size_t cap = c->in_cap * 2 > c->in_len + n ? c->in_cap * 2 : c->in_len + n;
            char *nb = realloc(c->in, cap);
            if (!nb) {
                ring_shut(c);
                return;
            }
            c->in = nb;
            c->in_cap = cap;
        }
        memcpy(c->in + c->in_len, d, n);
        c->in_len += n;
        buf = c->in;
        len = c->in_len;
    }
    bool room;
    size_t used = serve(r, c, buf, len, &room);
    if (c->mode != M_FAST) return;
    if (!keep(c, buf, used, len)) {
        ring_shut(c);
        return;
    }
    if (room) arm_recv(r, c);
}

static void on_send(ring *r, rconn *c, int res)
{
    c->sending = false;
    if (res <= 0) {
        ring_shut(c);
        return;
    }
    c->out_off += (size_t)res;
    if (c->out_off < c->out_len) {
        flush_out(r, c);
        return;
    }
    c->out_off = c->out_len = 0;
    if (c->mode == M_RELAY) { /* our answers are out: MHD's may follow */
        op(r, c, OP_DN_RECV, c->mfd, c->dn.buf, c->dn.cap, 0);
        return;
    }
    if (c->eof) {
        ring_shut(c);
        return;
    }
    /* Reads paused on a full out[]: what waits in `in` goes first. */
    if (c->nops == 0 && !c->closing) {
        if (c->in_len) {
            bool room;
            size_t used = serve(r, c, c->in, c->in_len, &room);
            if (c->mode != M_FAST) return;
            keep(c, c->in, used, c->in_len);
            if (!room) return;
        }
        arm_recv(r, c);
    }
}

/* ---- RELAY --------------------------------------------------------------- */

static void start_relay(ring *r, rconn *c, const char *bytes, size_t n)
{
    int sv[2];
    size_t cap = n > RING_RELAY_BYTES ? n : RING_RELAY_BYTES;
    char *up = malloc(cap), *dn = malloc(RING_RELAY_BYTES);
    if (!up || !dn || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        free(up);
        free(dn);
        ring_shut(c);
        return;
    }
    memcpy(up, bytes, n);
    atomic_fetch_add(&r->set->conns, 1u); /* our end of the socketpair (MHD counts its end) */
    c->mode = M_RELAY;
    c->up = (rdir){up, n, 0, cap};
    c->dn = (rdir){dn, 0, 0, RING_RELAY_BYTES};
    c->mfd = sv[0];
    atomic_fetch_add_explicit(&r->relayed, 1, memory_order_relaxed);
    if (hand_to(r->a->mhd, sv[1], c->fd) != 0) {
        ring_shut(c);
        return;
    }
    op(r, c, OP_UP_SEND, c->mfd, c->up.buf, n, 0);
    /* MHD's answers wait for ours still queued (on_send starts them then). */
    if (!c->sending && c->out_off == c->out_len)
        op(r, c, OP_DN_RECV, c->mfd, c->dn.buf, c->dn.cap, 0);
    else
        flush_out(r, c);
}

/* One direction of a relay: its buffer's bytes went out (res) to `to` by
 * send_op; the rest goes, or the next read from `from` by recv_op. False
 * when the send failed (the caller says what that ends). */
static bool relay_sent(ring *r, rconn *c, rdir *d, int to, int send_op, int from, int recv_op,
                       int res)
{
    if (res <= 0) return false;
    if ((d->off += (size_t)res) < d->len)
        op(r, c, send_op, to, d->buf + d->off, d->len - d->off, 0);
    else
        op(r, c, recv_op, from, d->buf, d->cap, 0);
    return true;
}

/* res bytes came in to d's buffer: send them on to `to`. */
static void relay_got(ring *r, rconn *c, rdir *d, int to, int send_op, int res)
{
    d->len = (size_t)res;
    d->off = 0;
    op(r, c, send_op, to, d->buf, d->len, 0);
}

/* A relay ends as libmicrohttpd's own connections do: when MHD has said its
 * last (its end closed), the client gets a FIN after every byte of it, and
 * what the client still sends (the rest of a body MHD refused unread) is
 * read and dropped until the client closes, RING_DRAIN_MAX bytes have gone
 * or the deadline passes. Shutting
 * both ways at once made the kernel answer those unread bytes with a reset,
 * which could reach the client before MHD's 413 did. */
static void relay_done(ring *r, rconn *c, int opc, int res)
{
    if (c->closing) return;
    switch (opc) {
    case OP_UP_RECV:                 /* client -> us; 0: the client is done sending */
        if (res > 0 && c->up_drop) { /* dropped, up to a bound: an endless body is cut */
            if ((c->dropped += (size_t)res) > RING_DRAIN_MAX)
                ring_shut(c);
            else
                op(r, c, OP_UP_RECV, c->fd, c->up.buf, c->up.cap, 0);
        } else if (res > 0) {
            relay_got(r, c, &c->up, c->mfd, OP_UP_SEND, res);
        } else {
            c->up_done = true;
            if (c->dn_done)
                ring_shut(c);
            else
                shutdown(c->mfd, SHUT_WR); /* MHD still answers what it has */
        }
        break;
    case OP_UP_SEND: /* us -> MHD; failing: MHD reads no more, drain the client */
        if (!relay_sent(r, c, &c->up, c->mfd, OP_UP_SEND, c->fd, OP_UP_RECV, res)) {
            c->up_drop = true;
            op(r, c, OP_UP_RECV, c->fd, c->up.buf, c->up.cap, 0);
        }
        break;
    case OP_DN_RECV: /* MHD -> us; 0: MHD closed the connection */
        if (res > 0) {
            relay_got(r, c, &c->dn, c->fd, OP_DN_SEND, res);
        } else {
            c->dn_done = c->up_drop = true;
            c->deadline_ms = app_mono_ms() + RING_IDLE_MS;
            if (c->up_done)
                ring_shut(c);
            else
                shutdown(c->fd, SHUT_WR);
        }
        break;
    case OP_DN_SEND: /* us -> client; failing: the client is gone */
        if (!relay_sent(r, c, &c->dn, c->fd, OP_DN_SEND, c->mfd, OP_DN_RECV, res)) ring_shut(c);
        break;
    }
}

/* ---- the loop ------------------------------------------------------------ */

static void on_accept(ring *r, int fd)
{
    /* Past the limit a connection is closed at once, as libmicrohttpd does.
     * The limit counts the fds of both: the ring's own and libmicrohttpd's
     * connections (those handed to it and the ends of relays). */
    unsigned mhd_conns = 0;
    struct MHD_Daemon *ds[] = {r->a->mhd, r->a->mhd_stream};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        const union MHD_DaemonInfo *mi =
            ds[i] ? MHD_get_daemon_info(ds[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
        mhd_conns += mi ? mi->num_connections : 0;
    }
    if (fd >= r->nfds || atomic_load(&r->set->conns) + mhd_conns >= r->set->max_conns) {
        close(fd);
        return;
    }
    rconn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    atomic_fetch_add(&r->set->conns, 1u);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->mfd = -1;
    c->mode = M_PEEK;
    c->deadline_ms = app_mono_ms() + RING_IDLE_MS;
    r->conns[fd] = c;
    op(r, c, OP_PEEK, fd, c->peek, sizeof c->peek, MSG_PEEK);
}

static void on_peek(ring *r, rconn *c, int res)
{
    int decided = 0;
    if (res <= 0 || c->closing) {
        ring_shut(c);
        return;
    }
    if (h1_fast_start(c->peek, (size_t)res, &decided) && decided) {
        c->mode = M_FAST;
        arm_recv(r, c);
        return;
    }
    /* Any other first request, or too few bytes to tell: libmicrohttpd's;
     * a stream's to the daemon kept for streams (http.c). */
    r->conns[c->fd] = NULL;
    atomic_fetch_sub(&r->set->conns, 1u);
    atomic_fetch_add_explicit(&r->handed, 1, memory_order_relaxed);
    struct MHD_Daemon *d = r->a->mhd;
    if (r->a->mhd_stream && h1_stream_start(c->peek, (size_t)res)) d = r->a->mhd_stream;
    hand_to(d, c->fd, c->fd);
    free(c);
}

static void sweep(ring *r)
{
    int64_t now = app_mono_ms();
    for (int fd = 0; fd < r->nfds; fd++) {
        rconn *c = r->conns[fd];
        if (c && (c->mode != M_RELAY || c->dn_done) && now > c->deadline_ms) {
            ring_shut(c);
            ring_finish(r, c); /* freed now if nothing is in flight */
        }
    }
}

void ring_complete(ring *r, struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    int opc = (int)(ud >> 32), fd = (int)(uint32_t)ud, res = cqe->res;
    if (opc == OP_ACCEPT) {
        if (res >= 0) on_accept(r, res);
        /* A failure (EMFILE, ENFILE, ENOMEM) ends the multishot accept: take it
         * up again at the next tick, not at once, or it would spin. */
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            if (res >= 0)
                ring_arm_accept(r);
            else
                r->accept_paused = true;
        }
        return;
    }
    if (opc == OP_TICK) {
        sweep(r);
        if (r->accept_paused) {
            r->accept_paused = false;
            ring_arm_accept(r);
        }
        ring_arm_tick(r);
        return;
    }
    if (opc == OP_WAKE) return;
    rconn *c = r->conns[fd];
    if (!c) return;
    c->nops--;
    switch (opc) {
    case OP_PEEK:
        on_peek(r, c, res);
        return;
    case OP_RECV:
        if (res == -ENOBUFS) {
            arm_recv(r, c);
        } else if (res <= 0) {
            c->eof = true;
            if (!c->sending) ring_shut(c);
        } else {
            int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            if (!c->closing) fast_data(r, c, r->bufs + (size_t)bid * RING_BUF_BYTES, (size_t)res);
            ring_recycle(r, bid);
        }
        break;
    case OP_SEND:
        on_send(r, c, res);
        break;
    default:
        relay_done(r, c, opc, res);
    }
    ring_finish(r, c);
}
