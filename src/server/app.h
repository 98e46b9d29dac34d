/*
 * app: one running vigild, the context every part of the server shares.
 * Built by main (boot.c), read by the HTTP routes, the writer and the sweeper.
 */
#ifndef VIGIL_APP_H
#define VIGIL_APP_H

#include "core/reg.h"
#include "server/cfg.h"
#include "server/wq.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define APP_TOKEN_MAX 512
#define APP_WRITER_STALE_MS 5000 /* readyz: writer silent this long = not ready */

typedef struct app {
    cfg cfg;
    reg *reg;
    store *store;
    wq *wq;
    struct MHD_Daemon *mhd;

    char admin_token[APP_TOKEN_MAX];
    char ingest_token[APP_TOKEN_MAX]; /* "" = ingest open */
    char admin_token_path[CFG_STR_MAX + 32];
    bool admin_token_generated;

    int64_t boot_ms, run_id, downtime_ms;

    pthread_t writer_th, sweeper_th;
    atomic_bool stopping;
    atomic_int_least64_t writer_alive_ms; /* last time the writer loop turned */
    atomic_bool store_ok;                 /* last write succeeded */

    /* counters (later: /metrics) */
    atomic_uint_least64_t hb_accepted, hb_rejected, byes, flushes, flush_failures, sweeps,
        sweep_visits, pruned_rows;
} app;

int64_t app_now_ms(void); /* wall clock, epoch ms */

/* boot.c */
int app_boot(app *a, char *err, size_t errlen); /* token, store, registry restore */
void app_shutdown(app *a);                      /* drain and close, in order */

/* jobs.c: writer and sweeper threads */
int jobs_start(app *a, char *err, size_t errlen);
void jobs_stop_sweeper(app *a);
void jobs_stop_writer(app *a); /* drains the queue first */

/* http.c */
int http_start(app *a, char *err, size_t errlen);
void http_stop(app *a);

/* log.c */
void vlog(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
