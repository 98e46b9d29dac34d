/*
 * ticker: a named thread that calls one function every period until it is
 * stopped: the shape of vigild's small background loops (live stream, held
 * connections). The period is a sleep after each call, not a schedule: a
 * slow call delays the next one instead of piling calls up.
 */
#ifndef VIGIL_TICKER_H
#define VIGIL_TICKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ticker {
    pthread_t th;
    atomic_bool stop;
    bool running;
    char name[16]; /* the thread's name (15 bytes: the kernel's limit) */
    int64_t every_ms;
    void (*fn)(void *ctx);
    void *ctx;
} ticker;

/* Start calling fn(ctx) every every_ms. 0, or -1 with err. */
int ticker_start(ticker *t, const char *name, int64_t every_ms, void (*fn)(void *ctx), void *ctx,
                 char *err, size_t errlen);
/* Wait for the call in progress to end, then no more. Safe to call twice,
 * or on a ticker never started (zeroed). */
void ticker_stop(ticker *t);

#endif
