/*
 * ticker: a periodic background thread (ticker.h).
 */
#include "server/ticker.h"

#include "core/err.h"
#include "server/app.h"

#include <stdio.h>

static void *ticker_main(void *arg)
{
    ticker *t = arg;
    pthread_setname_np(pthread_self(), t->name);
    while (!atomic_load(&t->stop)) {
        t->fn(t->ctx);
        app_sleep_ms(t->every_ms);
    }
    return NULL;
}

int ticker_start(ticker *t, const char *name, int64_t every_ms, void (*fn)(void *ctx), void *ctx,
                 char *err, size_t errlen)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->every_ms = every_ms;
    t->fn = fn;
    t->ctx = ctx;
    atomic_store(&t->stop, false);
    if (pthread_create(&t->th, NULL, ticker_main, t) != 0)
        return err_set(err, errlen, "cannot start the %s thread", name);
    t->running = true;
    return 0;
}

void ticker_stop(ticker *t)
{
    atomic_store(&t->stop, true);
    if (t->running) pthread_join(t->th, NULL);
    t->running = false;
}
