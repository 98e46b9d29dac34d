/*
 * udp_send: the sender of bench/udp.sh. Blasts heartbeat lines at HOST:PORT
 * for SECONDS, PER_DGRAM lines packed into each datagram, worker ids cycling
 * over WORKERS, with sendmmsg in batches of SEND_BATCH. The datagrams are
 * built once up front (DGRAM_VARIANTS of them) so the loop measures the
 * receiver, not the sender's printf. Prints "lines datagrams seconds".
 * FORM (optional): "short" (default), "hb bench-<n> seq= cpu= mem=
 * in_flight=", ~55 bytes; or "full", the fields and values of bench/hb.lua's
 * JSON heartbeat (group, instance, seq, ttl_s, status, the samples, the
 * counters) as one line, ~216 bytes: the payload every other case sends.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hb_vals.h"

#define SEND_BATCH 64       /* datagrams per sendmmsg */
#define DGRAM_VARIANTS 1024 /* distinct datagrams cycled over */
#define DGRAM_CAP 65000     /* bytes: room for one datagram */
#define CLOCK_EVERY 16      /* sendmmsg calls between clock reads */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* bench/hb.lua's heartbeat for worker w on its lap-th beat, as a line. */
static size_t full_line(char *b, size_t cap, long w, long lap)
{
    hb_vals v = hb_vals_for(w, lap);
    return (size_t)snprintf(b, cap,
                            "hb gpu-%06ld group=%s instance=%08x seq=%lu ttl_s=15 status=ok "
                            "cpu=0.31 mem=0.52 mem_available_gb=41.5 gpu_mem_active_gb=20.1 "
                            "thermal=nominal backlog=3 capacity=8 in_flight=2 requests=%lu "
                            "tokens=%lu cpu_ticks=%lu\n",
                            w, v.group, (unsigned)v.instance, v.seq, v.requests, v.tokens,
                            v.cpu_ticks);
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: udp_send HOST PORT SECONDS PER_DGRAM WORKERS [short|full]\n");
        return 2;
    }
    int full = argc == 7 && strcmp(argv[6], "full") == 0;
    if (argc == 7 && !full && strcmp(argv[6], "short") != 0) return 2;
    double secs = atof(argv[3]);
    int per = atoi(argv[4]), workers = atoi(argv[5]);
    if (per < 1 || workers < 1 || secs <= 0) return 2;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("udp_send");
        return 2;
    }
    char *bufs = malloc((size_t)DGRAM_VARIANTS * DGRAM_CAP);
    size_t lens[DGRAM_VARIANTS];
    long w = 0;
    for (int d = 0; d < DGRAM_VARIANTS; d++) {
        char *b = bufs + (size_t)d * DGRAM_CAP;
        size_t n = 0;
        for (int i = 0; i < per && n < DGRAM_CAP - 400; i++, w++)
            n += full ? full_line(b + n, DGRAM_CAP - n, w % workers, w / workers)
                      : (size_t)snprintf(b + n, DGRAM_CAP - n,
                                         "hb bench-%06ld seq=%ld cpu=0.42 mem=0.31 in_flight=3\n",
                                         w % workers, w / workers);
        lens[d] = n;
    }
    struct mmsghdr msgs[SEND_BATCH];
    struct iovec iov[SEND_BATCH];
    memset(msgs, 0, sizeof msgs);
    long dgrams = 0, calls = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < SEND_BATCH; i++) {
            int d = (int)((dgrams + i) % DGRAM_VARIANTS);
            iov[i].iov_base = bufs + (size_t)d * DGRAM_CAP;
            iov[i].iov_len = lens[d];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fd, msgs, SEND_BATCH, 0);
        if (n > 0) dgrams += n;
        if (++calls % CLOCK_EVERY == 0) t = now_s();
    }
    t = now_s();
    printf("%ld %ld %.3f\n", dgrams * per, dgrams, t - t0);
    return 0;
}
