/*
 * hb_rate: a fixed-rate (open-loop) HTTP heartbeat load generator for
 * bench/compare.sh, which needs latency at a given fraction of the peak
 * rate and wrk has no fixed-rate mode.
 *
 * Request k is due at t0 + k / RATE whatever happened to the ones before it
 * (open loop), and its latency is measured from that due time to the end of
 * its answer: when the server (or this client) falls behind, the wait in the
 * queue counts, so a stall is not hidden by simply sending less
 * ("coordinated omission"). Due requests go out on any idle one of CONNS
 * keep-alive connections, one request in flight per connection, as an HTTP
 * client library would. The body is bench/hb.lua's, byte for byte: worker_id
 * over IDS ids, a fixed instance per id, seq and counters growing per lap.
 *
 * RATE 0 is the closed loop instead (bench/compare.sh's HTTP rate cases):
 * every connection sends its next request as soon as its answer is in,
 * for SECONDS, and the rate achieved is the figure. It is the same client
 * for nginx and vigild, and as lean as redis-benchmark is for Redis: one
 * write and one read a request, no epoll_ctl and no script per request.
 * wrk with bench/hb.lua took more CPU a request than the servers it
 * measured (93-100 % of its core while nginx's had time left), so its
 * figures were its own ceiling.
 *
 * NEW_EVERY N (0: none) makes every Nth heartbeat one from a worker never
 * seen before ("new-" and a running number, in place of "gpu-"), so that a
 * steady flow of sessions opening reaches /v1/stream (bench/stream_load.py).
 *
 * SIGTERM or SIGINT ends the run early, as SECONDS running out would: the
 * answers in flight are waited for and the line is printed (stream_load.py
 * keeps one load running through all its measurement windows this way).
 *
 * usage: hb_rate PORT RATE SECONDS [CONNS] [IDS] [NEW_EVERY]   (127.0.0.1 only)
 * Prints one line:
 *   RATE target=R seconds=S sent=N done=N errors=N achieved=R p50_us=..
 *        p90_us=.. p99_us=.. max_us=.. svc_p50_us=.. svc_p99_us=..
 * (svc_*: from the moment the request was written, without queueing.)
 * Exit 0 when every request got a 2xx answer, 1 otherwise, 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hb_vals.h"

#define MAX_CONNS 256
#define BUF_BYTES 4096        /* one request or one answer fits */
#define DRAIN_NS 3000000000LL /* wait this long for answers after the last send */
#define MAX_RATE 2000000      /* requests/s: sanity bound */
#define MAX_SECONDS 600
#define CLOSED_CAP_PER_S 400000 /* closed loop: latencies kept per second of run, at most */

typedef struct conn {
    int fd;
    int busy;
    int64_t due_ns, sent_ns;
    size_t have;
    char in[BUF_BYTES];
} conn;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Decimal digits of v at p; returns the end. */
static char *put_u(char *p, unsigned long v)
{
    char t[24];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_s(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The request for heartbeat n, as bench/hb.lua builds it: byte for byte
 * what snprintf made here before, without its cost (~1 µs a request, which
 * in the closed loop was a share of the client's ceiling). */
static int build(char *out, size_t cap, long n, int ids, int new_every, int port)
{
    char body[1024], *b = body;
    long w = n % ids, lap = n / ids;
    bool fresh = new_every > 0 && n % new_every == new_every - 1;
    if (fresh) w = (n / new_every) % 1000000;
    hb_vals v = hb_vals_for(w, lap);
    static const char hex[] = "0123456789abcdef";
    b = put_s(b, fresh ? "{\"worker_id\":\"new-" : "{\"worker_id\":\"gpu-");
    long d = w;
    for (int k = 5; k >= 0; k--, d /= 10) /* %06ld (ids < 10^6) */
        b[k] = (char)('0' + d % 10);
    b += 6;
    b = put_s(b, "\",\"group\":\"");
    b = put_s(b, v.group);
    b = put_s(b, "\",\"instance\":\"");
    for (int k = 7; k >= 0; k--)
        *b++ = hex[(v.instance >> (4 * k)) & 15];
    b = put_s(b, "\",\"seq\":");
    b = put_u(b, v.seq);
    b = put_s(b, ",\"ttl_s\":15,\"status\":\"ok\",\"cpu\":0.31,\"mem\":0.52,"
                 "\"mem_available_gb\":41.5,\"gpu_mem_active_gb\":20.1,\"thermal\":"
                 "\"nominal\",\"backlog\":3,\"capacity\":8,\"in_flight\":2,\"requests\":");
    b = put_u(b, v.requests);
    b = put_s(b, ",\"tokens\":");
    b = put_u(b, v.tokens);
    b = put_s(b, ",\"cpu_ticks\":");
    b = put_u(b, v.cpu_ticks);
    *b++ = '}';
    size_t bl = (size_t)(b - body);
    static char head[160];
    static size_t hl;
    static int head_port = -1;
    if (head_port != port) { /* all but the length: once */
        hl = (size_t)snprintf(head, sizeof head,
                              "POST /v1/heartbeat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                              "Content-Type: application/json\r\nContent-Length: ",
                              port);
        head_port = port;
    }
    if (hl + 8 + bl > cap) return -1;
    char *o = out;
    memcpy(o, head, hl);
    o = put_u(o + hl, (unsigned long)bl);
    o = put_s(o, "\r\n\r\n");
    memcpy(o, body, bl);
    return (int)(o + bl - out);
}

/* Bytes of a complete answer at the start of c->in, 0 if not complete yet,
 * -1 if it cannot be parsed; *status gets the status code. */
static long answer_len(conn *c, int *status)
{
    c->in[c->have < BUF_BYTES ? c->have : BUF_BYTES - 1] = 0;
    char *end = strstr(c->in, "\r\n\r\n");
    if (!end) return c->have >= BUF_BYTES - 1 ? -1 : 0;
    if (sscanf(c->in, "HTTP/1.%*d %d", status) != 1) return -1;
    long clen = 0;
    for (char *p = strstr(c->in, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, "content-length:", 15) == 0) clen = strtol(p + 17, NULL, 10);
    long total = (end + 4 - c->in) + clen;
    return (long)c->have >= total ? total : 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static long pct(const int64_t *v, long n, double p)
{
    if (n == 0) return 0;
    long i = (long)(p / 100.0 * (double)n);
    return (long)(v[i < n ? i : n - 1] / 1000);
}

static volatile sig_atomic_t quit;
static void on_quit(int sig)
{
    (void)sig;
    quit = 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hb_rate PORT RATE SECONDS [CONNS] [IDS] [NEW_EVERY]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), secs = atof(argv[3]);
    int nconn = argc > 4 ? atoi(argv[4]) : 32, ids = argc > 5 ? atoi(argv[5]) : 10000;
    int new_every = argc > 6 ? atoi(argv[6]) : 0;
    if (port <= 0 || rate < 0 || rate > MAX_RATE || secs <= 0 || secs > MAX_SECONDS || nconn < 1 ||
        nconn > MAX_CONNS || ids < 1 || ids > 1000000 || new_every < 0)
        return 2;
    int closed = rate == 0;
    long total = closed ? (long)(CLOSED_CAP_PER_S * secs) : (long)(rate * secs);
    int64_t *lat = calloc((size_t)total + 1, sizeof *lat);
    int64_t *svc = calloc((size_t)total + 1, sizeof *svc);
    conn *cs = calloc((size_t)nconn, sizeof *cs);
    int ep = epoll_create1(0);
    if (!lat || !svc || !cs || ep < 0) return 2;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            perror("hb_rate: connect");
            return 2;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    struct sigaction sq = {.sa_handler = on_quit};
    sigaction(SIGTERM, &sq, NULL);
    sigaction(SIGINT, &sq, NULL);
    long next = 0, done = 0, errors = 0;
    int idle[MAX_CONNS], nidle = nconn;
    for (int i = 0; i < nconn; i++)
        idle[i] = i;
    char req[BUF_BYTES];
    int64_t t0 = now_ns(), stop = 0;
    double gap_ns = closed ? 0 : 1e9 / rate;
    int64_t end_ns = t0 + (int64_t)(secs * 1e9);
    for (;;) {
        int64_t t = now_ns();
        if ((quit || (closed && t >= end_ns)) && next < total) total = next; /* time is up: drain */
        /* send every due request an idle connection can take */
        while (next < total && nidle > 0 && t >= t0 + (int64_t)((double)next * gap_ns)) {
            conn *c = &cs[idle[--nidle]];
            int len = build(req, sizeof req, next, ids, new_every, port);
            c->due_ns = closed ? t : t0 + (int64_t)((double)next * gap_ns);
            c->sent_ns = t;
            c->busy = 1;
            c->have = 0;
            if (write(c->fd, req, (size_t)len) != len) {
                perror("hb_rate: write");
                return 1;
            }
            next++;
        }
        if (next >= total && nidle == nconn) break;
        if (next >= total && !stop) stop = t + DRAIN_NS;
        if (stop && t > stop) break;
        int64_t wait = 1000000; /* 1 ms at most, less when the next one is due sooner */
        if (closed) {
            wait = 1000000;
        } else if (next < total && nidle > 0) {
            int64_t due = t0 + (int64_t)((double)next * gap_ns) - t;
            wait = due < 0 ? 0 : due < wait ? due : wait;
        }
        struct timespec to = {.tv_sec = 0, .tv_nsec = (long)wait};
        struct epoll_event evs[64];
        int n = epoll_pwait2(ep, evs, 64, &to, NULL);
        if (n < 0 && errno != EINTR) {
            perror("hb_rate: epoll");
            return 1;
        }
        for (int e = 0; e < n; e++) {
            int i = (int)evs[e].data.u32;
            conn *c = &cs[i];
            ssize_t r = read(c->fd, c->in + c->have, BUF_BYTES - 1 - c->have);
            if (r <= 0) {
                fprintf(stderr, "hb_rate: connection %d closed by the server\n", i);
                return 1;
            }
            c->have += (size_t)r;
            int status = 0;
            long len = answer_len(c, &status);
            if (len < 0) {
                fprintf(stderr, "hb_rate: unparsable answer\n");
                return 1;
            }
            if (len == 0 || !c->busy) continue;
            int64_t tn = now_ns();
            lat[done] = tn - c->due_ns;
            svc[done] = tn - c->sent_ns;
            done++;
            if (status < 200 || status > 299) errors++;
            c->busy = 0;
            c->have = 0;
            idle[nidle++] = i;
        }
    }
    /* The closed loop's rate is over its SECONDS (answers still arriving
     * after it are counted, their time too). */
    double el = (double)(now_ns() - t0) / 1e9;
    qsort(lat, (size_t)done, sizeof *lat, cmp_i64);
    qsort(svc, (size_t)done, sizeof *svc, cmp_i64);
    printf("RATE target=%.0f seconds=%.3f sent=%ld done=%ld errors=%ld achieved=%.0f p50_us=%ld "
           "p90_us=%ld p99_us=%ld max_us=%ld svc_p50_us=%ld svc_p99_us=%ld conns=%d\n",
           rate, el, next, done, errors, (double)done / el, pct(lat, done, 50), pct(lat, done, 90),
           pct(lat, done, 99), pct(lat, done, 100), pct(svc, done, 50), pct(svc, done, 99), nconn);
    return errors || done != total ? 1 : 0;
}
