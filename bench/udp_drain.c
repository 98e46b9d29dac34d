/*
 * udp_drain: the bare receive loop of bench/udp.sh, the ceiling vigild's UDP
 * path is measured against. Same socket setup and recvmmsg batch as vigild's
 * udp.c (64 datagrams of 64 KiB, MSG_WAITFORONE), but it only counts the
 * datagrams. Exits IDLE_MS after the last datagram once any arrived and
 * prints "datagrams". Usage: udp_drain PORT IDLE_MS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define BATCH 64              /* as udp.c: UDP_BATCH */
#define BUF_BYTES (64 * 1024) /* as udp.c: UDP_BUF_BYTES */
#define RCVBUF (8 << 20)      /* as udp.c: UDP_RCVBUF_BYTES */

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    int idle_ms = atoi(argv[2]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rb = RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    struct timeval tv = {.tv_sec = idle_ms / 1000, .tv_usec = (idle_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("udp_drain: bind");
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    char *bufs = malloc((size_t)BATCH * BUF_BYTES);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs + (size_t)i * BUF_BYTES;
        iov[i].iov_len = BUF_BYTES;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long got = 0;
    for (;;) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n > 0)
            got += n;
        else if (got)
            break; /* idle after traffic: the sender is done */
    }
    printf("%ld\n", got);
    return 0;
}
