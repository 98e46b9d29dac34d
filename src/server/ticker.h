/*
 * ticker: a named thread that calls one function every period until it is
 * stopped: the shape of vigild's small background loops (live stream, held
 * connections). The period is a wait after each call, not a schedule: a
 * slow call delays the next one instead of piling calls up.
 *
 * A poke shortens the wait in progress (or the next one) to soon_ms after
 * the previous call ended: news that should not sit out a whole period (a
 * worker lost) goes out sooner, while a storm of pokes still runs the
 * function at most once every soon_ms.
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
    pthread_mutex_t mu; /* guards the wait; a leaf: pokes come under other locks */
    pthread_cond_t cv;  /* monotonic (app_cond_init) */
    atomic_bool stop;
    atomic_bool poked;
    atomic_bool running;
    char name[16]; /* the thread's name (15 bytes: the kernel's limit) */
    int64_t every_ms, soon_ms;
    void (*fn)(void *ctx);
    void *ctx;
} ticker;

/* Start calling fn(ctx) every every_ms, or soon_ms after the last call when
 * poked (soon_ms >= every_ms: pokes change nothing). 0, or -1 with err. */
int ticker_start(ticker *t, const char *name, int64_t every_ms, int64_t soon_ms,
                 void (*fn)(void *ctx), void *ctx, char *err, size_t errlen);
/* Run the next call soon. Any thread, under any lock; a poke while one is
 * already pending costs one atomic read. */
void ticker_poke(ticker *t);
/* Wait for the call in progress to end, then no more. Safe to call twice,
 * or on a ticker never started (zeroed). */
void ticker_stop(ticker *t);

#endif
