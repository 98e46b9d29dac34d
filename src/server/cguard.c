/*
 * cguard: per-connection header and body deadlines (see cguard.h).
 *
 * One record per open connection, in a list under one mutex: MHD's threads
 * add and remove them (connection start/close), the sweeper walks them.
 * The per-request fields are atomics, so the request path (begin/end) takes
 * no lock. A record's fd is shut down only under the list mutex while the
 * record is listed, and MHD unlists it (NOTIFY_CLOSED) before closing the
 * fd, so the fd shut down is always the connection's own.
 */
#include "server/cguard.h"

#include "server/app.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef struct crec {
    struct crec *next, *prev;
    int fd;
    bool shut;                /* shut down once already (under mu) */
    _Atomic int64_t since_ms; /* opened, or the last request began or ended */
    _Atomic bool busy;        /* a request is in progress */
} crec;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* on the monotonic clock (app_cond_init, at start) */
static crec *head;
static bool running, stopping;
static pthread_t sweeper;
static atomic_ulong closed_total;

static crec *rec_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void cguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                   enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        crec *c = ci ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c) return; /* out of memory: that connection has MHD's timeout only */
        c->fd = ci->connect_fd;
        atomic_store(&c->since_ms, app_mono_ms());
        pthread_mutex_lock(&mu);
        c->next = head;
        if (head) head->prev = c;
        head = c;
        pthread_mutex_unlock(&mu);
        return;
    }
    crec *c = *socket_context;
    if (!c) return;
    pthread_mutex_lock(&mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        head = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&mu);
    free(c);
    *socket_context = NULL;
}

void cguard_request_begin(struct MHD_Connection *conn)
{
    crec *c = rec_of(conn);
    if (!c) return;
    atomic_store(&c->since_ms, app_mono_ms());
    atomic_store(&c->busy, true);
}

void cguard_request_end(struct MHD_Connection *conn)
{
    crec *c = rec_of(conn);
    if (!c) return;
    atomic_store(&c->since_ms, app_mono_ms());
    atomic_store(&c->busy, false);
}

bool cguard_body_late(struct MHD_Connection *conn)
{
    crec *c = rec_of(conn);
    return c && app_mono_ms() - atomic_load(&c->since_ms) > (int64_t)CGUARD_BODY_S * 1000;
}

unsigned long cguard_closed_total(void)
{
    return atomic_load(&closed_total);
}

/* shutdown(2), not close: MHD sees end-of-file on its next read and closes
 * the connection its own way (and tells cguard_notify). */
static void *sweep(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec ts = app_deadline(CGUARD_SWEEP_MS);
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (stopping) break;
        int64_t cut = app_mono_ms() - (int64_t)CGUARD_HEADER_S * 1000;
        for (crec *c = head; c; c = c->next)
            if (!c->shut && !atomic_load(&c->busy) && atomic_load(&c->since_ms) < cut) {
                shutdown(c->fd, SHUT_RDWR);
                c->shut = true;
                atomic_fetch_add(&closed_total, 1);
            }
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int cguard_start(void)
{
    stopping = false;
    if (app_cond_init(&cv) != 0) return -1;
    if (pthread_create(&sweeper, NULL, sweep, NULL) != 0) {
        pthread_cond_destroy(&cv);
        return -1;
    }
    running = true;
    return 0;
}

void cguard_stop(void)
{
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(sweeper, NULL);
    pthread_cond_destroy(&cv);
    running = false;
}
