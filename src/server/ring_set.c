/*
 * ring_set.c: the ring threads (ring.h): each binds its own SO_REUSEPORT
 * socket, makes its io_uring and provided buffers itself (a ring with
 * IORING_SETUP_SINGLE_ISSUER is submitted to by its creator only), reports
 * to ring_prepare, waits for ring_run (libmicrohttpd must be up before a
 * connection is handed to it), then loops: one io_uring_enter submits what
 * the last turn queued and waits, and every completion is handled
 * (ring.c). On stop it shuts its connections and lets their operations
 * complete before any buffer is freed.
 */
#include "server/ring_int.h"

#include "server/app.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The ring, its provided buffers and its wake-up eventfd, made by the thread
 * that uses them (IORING_SETUP_SINGLE_ISSUER wants the submitter to be the
 * creator). 0, or -errno with why filled. */
static int ring_setup(ring *r, char *why, size_t n)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = RING_CQ_ENTRIES;
    int rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->ring, &p);
    if (rc == -EINVAL) { /* kernels before 6.1: no DEFER_TASKRUN */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = RING_CQ_ENTRIES;
        rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &r->ring, &p);
    }
    if (rc < 0) {
        snprintf(why, n, "io_uring_setup: %s", strerror(-rc));
        return rc;
    }
    /* liburing 2.3 has no io_uring_setup_buf_ring: map and register by hand. */
    size_t brlen = RING_BUFS * sizeof(struct io_uring_buf);
    r->br = mmap(NULL, brlen, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    r->bufs = malloc((size_t)RING_BUFS * RING_BUF_BYTES);
    r->efd = eventfd(0, EFD_CLOEXEC);
    struct io_uring_buf_reg reg = {
        .ring_addr = (unsigned long)r->br, .ring_entries = RING_BUFS, .bgid = RING_BGID};
    if (r->br == MAP_FAILED || !r->bufs || r->efd < 0 ||
        (rc = io_uring_register_buf_ring(&r->ring, &reg, 0)) < 0) {
        snprintf(why, n, "io_uring provided buffers: %s", rc < 0 ? strerror(-rc) : "out of memory");
        if (r->br != MAP_FAILED) munmap(r->br, brlen);
        r->br = NULL;
        free(r->bufs);
        r->bufs = NULL;
        if (r->efd >= 0) close(r->efd);
        r->efd = -1;
        io_uring_queue_exit(&r->ring);
        return rc < 0 ? rc : -ENOMEM;
    }
    io_uring_buf_ring_init(r->br);
    for (int i = 0; i < RING_BUFS; i++)
        io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * RING_BUF_BYTES, RING_BUF_BYTES,
                              (unsigned short)i, io_uring_buf_ring_mask(RING_BUFS), i);
    io_uring_buf_ring_advance(r->br, RING_BUFS);
    return 0;
}

static void ring_teardown(ring *r)
{
    /* Shut every connection and let what is in flight complete (bounded),
     * so no buffer is freed under the kernel. */
    for (int fd = 0; fd < r->nfds; fd++)
        if (r->conns[fd]) ring_shut(r->conns[fd]);
    io_uring_submit(&r->ring);
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
    for (int i = 0; i < 50; i++) {
        bool any = false;
        for (int fd = 0; fd < r->nfds && !any; fd++)
            any = r->conns[fd] != NULL;
        if (!any) break;
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            uint64_t ud = cqe->user_data;
            int opc = (int)(ud >> 32);
            rconn *c = opc > OP_ACCEPT && opc < OP_TICK ? r->conns[(int)(uint32_t)ud] : NULL;
            if (opc == OP_ACCEPT && cqe->res >= 0) close(cqe->res); /* came in as we stop */
            if (c) {
                c->nops--;
                if (opc == OP_RECV && cqe->res > 0)
                    ring_recycle(r, (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
                ring_finish(r, c);
            }
            seen++;
        }
        io_uring_cq_advance(&r->ring, seen);
    }
    io_uring_queue_exit(&r->ring);         /* cancels the accept, the tick and the wake-up */
    for (int fd = 0; fd < r->nfds; fd++) { /* any that did not drain in time */
        rconn *c = r->conns[fd];
        if (!c) continue;
        c->nops = 0;
        ring_finish(r, c);
    }
    munmap(r->br, RING_BUFS * sizeof(struct io_uring_buf));
    free(r->bufs);
    close(r->efd);
}

static void *ring_main(void *arg)
{
    ring *r = arg;
    ring_set *rs = r->set;
    pthread_setname_np(pthread_self(), "vigil-ring");
    char why[160];
    int rc = ring_setup(r, why, sizeof why);
    pthread_mutex_lock(&rs->mu);
    if (rc < 0 && !rs->failed++) snprintf(rs->why, sizeof rs->why, "%s", why);
    rs->ready++;
    pthread_cond_broadcast(&rs->cv);
    while (!rs->go && !atomic_load(&rs->stop))
        pthread_cond_wait(&rs->cv, &rs->mu);
    pthread_mutex_unlock(&rs->mu);
    if (rc < 0) return NULL;
    if (atomic_load(&rs->stop)) {
        ring_teardown(r);
        return NULL;
    }
    r->tick.tv_sec = RING_TICK_MS / 1000;
    r->tick.tv_nsec = (RING_TICK_MS % 1000) * 1000000L;
    ring_arm_accept(r);
    ring_arm_tick(r);
    ring_arm_wake(r);
    unsigned seen;
    while (!atomic_load(&rs->stop)) {
        struct io_uring_cqe *cqe;
        /* Waiting for several completions (or 50 µs) while busy, instead of
         * one, measured no faster on 32 connections: 120-130 k/s either way. */
        rc = io_uring_submit_and_wait(&r->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            vlog("error", "ring: io_uring_enter: %s", strerror(-rc));
            break;
        }
        unsigned head;
        seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe)
        {
            ring_complete(r, cqe);
            seen++;
        }
        io_uring_cq_advance(&r->ring, seen);
    }
    ring_teardown(r);
    return NULL;
}

static int listen_socket(const struct sockaddr *sa, socklen_t sl, char *err, size_t errlen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one); /* one socket a ring */
    if (sa->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, sl) != 0 || listen(fd, RING_BACKLOG) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void set_free(ring_set *rs)
{
    for (int i = 0; i < rs->n; i++) {
        if (rs->r[i].lfd >= 0) close(rs->r[i].lfd);
        free(rs->r[i].conns);
    }
    pthread_mutex_destroy(&rs->mu);
    pthread_cond_destroy(&rs->cv);
    free(rs);
}

static void set_stop(ring_set *rs)
{
    pthread_mutex_lock(&rs->mu);
    atomic_store(&rs->stop, true);
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
    for (int i = 0; i < rs->n; i++) {
        ring *r = &rs->r[i];
        if (!r->started) continue;
        uint64_t one = 1;
        if (r->efd >= 0 && write(r->efd, &one, sizeof one) < 0) { /* it is already awake */
        }
        pthread_join(r->th, NULL);
    }
}

ring_set *ring_prepare(app *a, const struct sockaddr *sa, socklen_t sl, int nthreads,
                       unsigned max_conns, int *bind_failed, char *err, size_t errlen)
{
    *bind_failed = 0;
    if (nthreads < 1) nthreads = 1;
    ring_set *rs = calloc(1, sizeof *rs + (size_t)nthreads * sizeof(ring));
    if (!rs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->cv, NULL);
    rs->n = nthreads;
    rs->max_conns = max_conns;
    struct rlimit rl;
    int nfds =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur : 65536;
    for (int i = 0; i < nthreads; i++) {
        ring *r = &rs->r[i];
        r->a = a;
        r->set = rs;
        r->efd = -1;
        r->nfds = nfds;
        r->lfd = -1;
        r->conns = calloc((size_t)nfds, sizeof *r->conns);
        if (!r->conns) {
            snprintf(err, errlen, "out of memory");
            set_free(rs);
            return NULL;
        }
        if ((r->lfd = listen_socket(sa, sl, err, errlen)) < 0) {
            *bind_failed = 1;
            set_free(rs);
            return NULL;
        }
    }
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&rs->r[i].th, NULL, ring_main, &rs->r[i]) != 0) {
            snprintf(rs->why, sizeof rs->why, "cannot start a ring thread");
            rs->failed++;
            break;
        }
        rs->r[i].started = true;
    }
    pthread_mutex_lock(&rs->mu);
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        started += rs->r[i].started;
    while (rs->ready < started)
        pthread_cond_wait(&rs->cv, &rs->mu);
    pthread_mutex_unlock(&rs->mu);
    if (rs->failed) {
        snprintf(err, errlen, "%s", rs->why);
        set_stop(rs);
        set_free(rs);
        return NULL;
    }
    return rs;
}

void ring_run(ring_set *rs)
{
    pthread_mutex_lock(&rs->mu);
    rs->go = true;
    pthread_cond_broadcast(&rs->cv);
    pthread_mutex_unlock(&rs->mu);
}

void ring_stop(ring_set *rs)
{
    if (!rs) return;
    set_stop(rs);
    set_free(rs);
}

void ring_get_stats(const ring_set *rs, ring_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; rs && i < rs->n; i++) {
        out->answered += atomic_load(&rs->r[i].answered);
        out->handed += atomic_load(&rs->r[i].handed);
        out->relayed += atomic_load(&rs->r[i].relayed);
    }
}
