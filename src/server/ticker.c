/*
 * ticker: a periodic background thread (ticker.h).
 */
#include "server/ticker.h"

#include "core/err.h"
#include "server/app.h"

#include <stdio.h>

/* Wait after a call that ended at `end` (mono ms): until every_ms has gone
 * by, or soon_ms once a poke came, or stop. */
static void ticker_wait(ticker *t, int64_t end)
{
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (atomic_load(&t->stop)) break;
        int64_t due = end + (atomic_load(&t->poked) ? t->soon_ms : t->every_ms);
        int64_t left = due - app_mono_ms();
        if (left <= 0) break;
        struct timespec ts = app_deadline(left);
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    /* Cleared before the call: a poke during it makes the next wait short. */
    atomic_store(&t->poked, false);
    pthread_mutex_unlock(&t->mu);
}

static void *ticker_main(void *arg)
{
    ticker *t = arg;
    pthread_setname_np(pthread_self(), t->name);
    while (!atomic_load(&t->stop)) {
        t->fn(t->ctx);
        ticker_wait(t, app_mono_ms());
    }
    return NULL;
}

int ticker_start(ticker *t, const char *name, int64_t every_ms, int64_t soon_ms,
                 void (*fn)(void *ctx), void *ctx, char *err, size_t errlen)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->every_ms = every_ms;
    t->soon_ms = soon_ms < every_ms ? soon_ms : every_ms;
    t->fn = fn;
    t->ctx = ctx;
    atomic_store(&t->stop, false);
    atomic_store(&t->poked, false);
    if (pthread_mutex_init(&t->mu, NULL) != 0 || app_cond_init(&t->cv) != 0)
        return err_set(err, errlen, "cannot set up the %s thread", name);
    if (pthread_create(&t->th, NULL, ticker_main, t) != 0)
        return err_set(err, errlen, "cannot start the %s thread", name);
    atomic_store(&t->running, true);
    return 0;
}

void ticker_poke(ticker *t)
{
    if (!atomic_load(&t->running) || atomic_load(&t->poked)) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->poked, true);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* The mutex and condvar are not destroyed: a poke that saw running just
 * before may still be on its way in, and they cost nothing kept. */
void ticker_stop(ticker *t)
{
    if (!atomic_exchange(&t->running, false)) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, true);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
}
