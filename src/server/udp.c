/*
 * udp.c: the "vigil-udp" thread (udp.h). recvmmsg fills UDP_BATCH buffers of
 * UDP_BUF_BYTES at a time (MSG_WAITFORONE: block for the first datagram,
 * then take whatever else is already queued), so a burst costs one system
 * call per batch, not per datagram. The socket has a receive timeout of
 * UDP_POLL_MS, which is how the thread notices udp_stop: no pipe, no signal.
 *
 * A batch's lines are found first (udpl_lines) and each hashed by the worker
 * id it names (udpl_peek); ingest_many then applies them registry shard by
 * shard, each line parsed (udpl_cut) under its shard's lock, which is taken
 * once per shard per batch instead of once per line, and with the records
 * of the lines next in line prefetched meanwhile (reg_batch.c).
 *
 * Counters are summed per batch in locals and added to the shared atomics
 * once, so the hot loop does no atomic operation of its own per line
 * (ingest_apply_t's tally: hb_accepted and dropped samples as well).
 */
#include "server/udp.h"

#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BATCH 64              /* datagrams per recvmmsg */
#define UDP_BUF_BYTES (64 * 1024) /* per datagram: any UDP payload fits */
/* Bytes from one buffer to the next. More than UDP_BUF_BYTES: udpl_lines
 * writes a NUL after the datagram. Not a power of two: at a stride of 64 KiB
 * every datagram began in the same cache set, 64 of them competing for a
 * set's 8 ways, so the lines the kernel had just copied in were evicted
 * before the parser read them. 17 lines further each buffer spreads them
 * (udp.sh A/B, 6 runs each: median 5.02 → 5.20 M lines/s). */
#define UDP_BUF_STRIDE (UDP_BUF_BYTES + 17 * 64)
#define UDP_POLL_MS 50             /* receive timeout: how soon udp_stop is noticed */
#define UDP_RCVBUF_BYTES (8 << 20) /* asked for; the kernel caps it at net.core.rmem_max */
#define UDP_ERROR_PAUSE_MS 10      /* after an unexpected receive error, before retrying */

/* Lines gathered (from all of a recvmmsg batch's datagrams) before they are
 * applied together: enough that each of the registry's 64 shards has a run
 * of lines to take its lock once for and prefetch along (20-line datagrams,
 * 64 a batch: 1,280 lines, 20 a shard). */
#define UDP_ITEMS 4096

/* One line, found but not yet parsed, and its verb and id (hashed now,
 * and not scanned again when the line is parsed). */
typedef struct item {
    char *s;
    uint32_t len;
    udpl_head hd;
} item;

/* One batch: its lines, and its tallies, folded into the app's atomics at
 * the end of it. */
struct udp;
typedef struct batch {
    app *a;
    struct udp *u;
    int64_t now;
    size_t n; /* items gathered */
    uint64_t got, refused[UDPL__COUNT];
    ingest_tally t;
    udpl_hints h;
    hb_msg m; /* the line being applied */
} batch;

struct udp {
    int fd;
    pthread_t th;
    atomic_bool stop;
    int rcvbuf; /* what the kernel granted (bytes, as getsockopt reports it) */
    char *bufs; /* UDP_BATCH × UDP_BUF_STRIDE; udpl_cut cuts lines in them */
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH];
    item items[UDP_ITEMS];
    uint32_t hash[UDP_ITEMS]; /* reg_hash of each item's id: ingest_many's key */
    batch b;                  /* take's, here for its message buffer's size */
};

/* ingest_many's source: item i, parsed now, under its shard's lock. */
static const hb_msg *cut(void *ctx, size_t i)
{
    batch *b = ctx;
    const item *it = &b->u->items[i];
    hb_err err;
    udpl_reason r = udpl_cut(it->s, it->len, &it->hd, &b->m, &err, &b->h);
    if (r != UDPL_OK) {
        b->refused[r]++;
        return NULL;
    }
    b->got++;
    return &b->m;
}

static void apply(batch *b)
{
    ingest_many(b->a, b->u->hash, b->n, cut, b, b->now, &b->t);
    b->n = 0;
}

static void gather(void *ctx, int lineno, char *line, size_t len)
{
    (void)lineno;
    batch *b = ctx;
    if (b->n == UDP_ITEMS) apply(b);
    item *it = &b->u->items[b->n];
    *it = (item){line, (uint32_t)len, udpl_peek(line)};
    /* The id the line will be applied under, if udpl_cut takes it; a line it
     * refuses may hash to any shard. */
    size_t idlen = it->hd.kind >= 0 && it->hd.id_len <= HB_ID_MAX ? it->hd.id_len : 0;
    b->u->hash[b->n++] = reg_hash(b->a->reg, line + it->hd.id_at, idlen);
}

static void take(app *a, struct udp *u, int n, const char *secret, size_t slen)
{
    batch *b = &u->b;
    b->a = a;
    b->u = u;
    b->now = app_now_ms();
    b->n = 0;
    b->got = 0;
    memset(b->refused, 0, sizeof b->refused);
    b->t = (ingest_tally){0, 0, 0};
    uint64_t dref[UDPL_D__COUNT] = {0};
    for (int i = 0; i < n; i++) {
        size_t len = u->msgs[i].msg_len;
        udpl_dgram d =
            (u->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                ? UDPL_D_TOO_BIG
                : udpl_lines(u->bufs + (size_t)i * UDP_BUF_STRIDE, len, secret, slen, gather, b);
        dref[d]++;
    }
    apply(b);
    uint64_t full = b->t.full, ok = b->got - full;
    ingest_flush(a, &b->t);
    uint64_t refused = full;
    for (int r = 1; r < UDPL__COUNT; r++) {
        if (b->refused[r]) atomic_fetch_add(&a->udp_lines_refused[r], b->refused[r]);
        refused += b->refused[r];
    }
    for (int d = 1; d < UDPL_D__COUNT; d++)
        if (dref[d]) atomic_fetch_add(&a->udp_dgrams_refused[d], dref[d]);
    atomic_fetch_add(&a->udp_datagrams, (uint64_t)n);
    atomic_fetch_add(&a->udp_lines_ok, ok);
    if (full) atomic_fetch_add(&a->udp_registry_full, full);
    if (refused) atomic_fetch_add(&a->hb_rejected, refused);
}

static void *udp_main(void *arg)
{
    app *a = arg;
    struct udp *u = a->udp;
    pthread_setname_np(pthread_self(), "vigil-udp");
    const char *secret = a->cfg.udp_secret;
    size_t slen = strlen(secret);
    while (!atomic_load(&u->stop)) {
        for (int i = 0; i < UDP_BATCH; i++)
            u->msgs[i].msg_hdr.msg_flags = 0;
        int n = recvmmsg(u->fd, u->msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n > 0) {
            take(a, u, n, secret, slen);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            /* ECONNREFUSED and the like are about one peer; keep serving the rest. */
            vlog("warn", "udp: recvmmsg: %s", strerror(errno));
            app_sleep_ms(UDP_ERROR_PAUSE_MS);
        }
    }
    return NULL;
}

static int bind_listen(const char *listen, int *fd_out, char *err, size_t errlen)
{
    char host[CFG_STR_MAX];
    uint16_t port;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (cfg_parse_listen(listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "bad udp_listen address %s", listen);
        return -1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        sl = sizeof *s6;
    } else {
        snprintf(err, errlen, "udp_listen host %s is not an IP address", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "udp socket: %s", strerror(errno));
        return -1;
    }
    int rcvbuf = UDP_RCVBUF_BYTES;
    struct timeval tv = {.tv_sec = 0, .tv_usec = UDP_POLL_MS * 1000};
    /* A bigger buffer only absorbs bursts; the kernel's cap is not an error. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "udp_listen %s: %s", listen, strerror(errno));
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

int udp_start(app *a, char *err, size_t errlen)
{
    if (!a->cfg.udp_listen[0]) return 0;
    struct udp *u = calloc(1, sizeof *u);
    if (!u || !(u->bufs = malloc((size_t)UDP_BATCH * UDP_BUF_STRIDE))) {
        free(u);
        snprintf(err, errlen, "udp: out of memory");
        return -1;
    }
    if (bind_listen(a->cfg.udp_listen, &u->fd, err, errlen) != 0) {
        free(u->bufs);
        free(u);
        return -1;
    }
    for (int i = 0; i < UDP_BATCH; i++) {
        u->iov[i].iov_base = u->bufs + (size_t)i * UDP_BUF_STRIDE;
        u->iov[i].iov_len = UDP_BUF_BYTES;
        u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
        u->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    socklen_t ol = sizeof u->rcvbuf;
    getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &u->rcvbuf, &ol);
    a->udp = u;
    if (pthread_create(&u->th, NULL, udp_main, a) != 0) {
        a->udp = NULL;
        close(u->fd);
        free(u->bufs);
        free(u);
        snprintf(err, errlen, "udp: cannot start its thread");
        return -1;
    }
    vlog("info", "udp ingest on %s (%s, receive buffer %d bytes)", a->cfg.udp_listen,
         a->cfg.udp_secret[0] ? "signed datagrams only" : "unsigned", u->rcvbuf);
    return 0;
}

void udp_stop(app *a)
{
    struct udp *u = a->udp;
    if (!u) return;
    atomic_store(&u->stop, true);
    pthread_join(u->th, NULL);
    close(u->fd);
    free(u->bufs);
    free(u);
    a->udp = NULL;
    vlog("info", "udp: %llu datagrams, %llu lines applied, %llu refused datagrams",
         (unsigned long long)atomic_load(&a->udp_datagrams),
         (unsigned long long)atomic_load(&a->udp_lines_ok),
         (unsigned long long)(atomic_load(&a->udp_dgrams_refused[UDPL_D_NO_SIG]) +
                              atomic_load(&a->udp_dgrams_refused[UDPL_D_BAD_SIG]) +
                              atomic_load(&a->udp_dgrams_refused[UDPL_D_TOO_BIG])));
}

/* Append "name":count pairs for counters c[1..n) named by name(i). */
static size_t pairs(char *buf, size_t cap, size_t at, const atomic_uint_least64_t *c, int n,
                    const char *(*name)(int))
{
    for (int i = 1; i < n && at < cap; i++) {
        int w = snprintf(buf + at, cap - at, "%s\"%s\":%llu", i > 1 ? "," : "", name(i),
                         (unsigned long long)atomic_load(&c[i]));
        at = w < 0 ? cap : at + (size_t)w;
    }
    return at;
}

size_t udp_stats_json(app *a, char *buf, size_t cap)
{
    int w = snprintf(buf, cap,
                     "{\"enabled\":%s,\"listen\":\"%s\",\"signed\":%s,\"datagrams\":%llu,"
                     "\"lines_ok\":%llu,\"registry_full\":%llu,\"lines_refused\":{",
                     a->udp ? "true" : "false", a->udp ? a->cfg.udp_listen : "",
                     a->cfg.udp_secret[0] ? "true" : "false",
                     (unsigned long long)atomic_load(&a->udp_datagrams),
                     (unsigned long long)atomic_load(&a->udp_lines_ok),
                     (unsigned long long)atomic_load(&a->udp_registry_full));
    size_t n = w < 0 ? cap : (size_t)w;
    n = pairs(buf, cap, n, a->udp_lines_refused, UDPL__COUNT, udpl_reason_name);
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "},\"datagrams_refused\":{");
    n = pairs(buf, cap, n, a->udp_dgrams_refused, UDPL_D__COUNT, udpl_dgram_name);
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "}}");
    return n < cap ? n : 0;
}

enum MHD_Result route_admin_udp(app *a, req *r)
{
    char body[1024];
    size_t n = udp_stats_json(a, body, sizeof body);
    if (!n) return http_error(r, 500, "udp", "counters do not fit");
    return http_json(r, 200, body, n);
}
