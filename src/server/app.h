/*
 * app: one running vigild, the context every part of the server shares.
 * Built by main (boot.c), read by the HTTP routes, the writer and the sweeper.
 */
#ifndef VIGIL_APP_H
#define VIGIL_APP_H

#include "core/hist.h"
#include "core/ifl.h"
#include "core/rank.h"
#include "core/reg.h"
#include "core/tlat.h"
#include "core/udpl.h"
#include "server/cfg.h"
#include "server/wq.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define APP_TOKEN_MAX 512
#define APP_WRITER_STALE_MS 5000 /* readyz: writer silent this long = not ready */
#define APP_REJECT_REASONS 32    /* slots of ingest_rejects (names: metrics.c) */

/* What one analytics rollup did (POST /v1/admin/rollup answers with it). */
typedef struct rollup_stats {
    int64_t at_ms;                     /* when it ran (its `now`) */
    int64_t rel_workers, rel_ms;       /* reliability: workers computed, time taken */
    int64_t rel_scan_ms, rel_store_ms; /* of which: reading + computing, storing the rows */
    int64_t hourly_rows, hourly_ms;    /* raw rows folded into heartbeats_hourly */
    int64_t task_rows;                 /* task latency buckets written */
    int64_t total_ms;
    bool ok;
} rollup_stats;

typedef struct alerts alerts;   /* alerts.h */
typedef struct history history; /* history.h */
typedef struct stream stream;   /* stream.h */
typedef struct held held;       /* held.h */
typedef struct udp udp;         /* udp.h */
typedef struct hub hub;         /* hub.h */
typedef struct hubp hubp;       /* hubp.h */

typedef struct app {
    cfg cfg;
    reg *reg;
    store *store;
    wq *wq;
    struct MHD_Daemon *mhd;
    /* /v1/stream connections the ring hands over (http.c): a daemon of its
     * own for the larger pool a stream's sends want. NULL without the ring. */
    struct MHD_Daemon *mhd_stream;
    struct ring_set *ring; /* the io_uring front door (ring.h); NULL: MHD listens itself */

    char admin_token[APP_TOKEN_MAX];
    char ingest_token[APP_TOKEN_MAX]; /* "" = ingest open */
    char admin_token_path[CFG_STR_MAX + 32];
    bool admin_token_generated;
    char spill_path[CFG_STR_MAX + 32]; /* DATA_DIR/events.spill: the event lane's overflow */

    int64_t boot_ms, run_id, downtime_ms;

    pthread_t writer_th, sweeper_th;
    atomic_bool stopping;
    atomic_int_least64_t writer_alive_ms; /* last time the writer loop turned */
    atomic_bool store_ok;                 /* last write succeeded */
    atomic_uint_least64_t persisted;      /* queue items (events + samples) the writer stored */

    /* analytics (rollup.c) */
    tlat *tlat;
    pthread_rwlock_t rank_lock; /* guards the pointer and rank_forget */
    rank *rank;                 /* last rollup's ranking; NULL before the first */
    pthread_t rollup_th;
    pthread_mutex_t rollup_mu;
    pthread_cond_t rollup_cv;
    uint64_t rollup_asked, rollup_done; /* generations, under rollup_mu */
    rollup_stats rollup_last;           /* under rollup_mu */
    bool rollup_running;                /* thread started */

    alerts *alerts;                        /* NULL: no rules configured */
    ifl *ifl;                              /* workers' last job lists (heartbeat "jobs") */
    stream *stream;                        /* GET /v1/stream subscribers */
    held *held;                            /* GET /v1/connect held connections */
    hub *hub;                              /* [hub] role = hub: nodes' summaries; NULL otherwise */
    hubp *hubp;                            /* [hub] url set: this node's pushes; NULL otherwise */
    char hub_accept_token[APP_TOKEN_MAX];  /* role hub: the token nodes send */
    char hub_token_path[CFG_STR_MAX + 32]; /* "" when from the config */

    /* counters (also GET /metrics, metrics.c) */
    atomic_uint_least64_t hb_accepted, hb_rejected, byes, flushes, flush_failures, shed_pauses,
        sweeps, sweep_visits, pruned_rows, rollups, rollup_failures, tasks_accepted, tasks_dropped;
    /* fleet history (history.h): sessions closed with each reason since
     * start, counted by app_event (boot.c) for the sampler's per-interval
     * sessions_closed:<reason> series; and the sampler (NULL: not started). */
    atomic_uint_least64_t sessions_closed[REG_R__COUNT];
    struct history *history;

    /* event spill (wq.h): events written to events.spill (while running and at
     * stop), events applied from it at boot, events kept in memory past
     * event_queue_max because it could not be written. The writer mirrors the
     * first and last from the queue's stats every turn. */
    atomic_uint_least64_t events_spilled, events_replayed, spill_failures;

    /* /metrics (metrics.h): ingest refusals by the error field of the
     * answer, counted by metrics_reject with hb_rejected (still the total:
     * refusals counted only there show as reason "other"); and how long
     * each store_apply of the writer took, in seconds (set up by jobs_start). */
    atomic_uint_least64_t ingest_rejects[APP_REJECT_REASONS];
    atomic_uint_least64_t rejects_other_seen; /* high-water of reason "other" (metrics.c) */
    hist flush_hist;

    /* UDP ingest (udp.h; NULL: udp_listen is empty). Written by its one
     * thread, once per receive batch; lines it applies also count in
     * hb_accepted / byes like HTTP's, lines it refuses in hb_rejected. */
    udp *udp;
    atomic_uint_least64_t udp_datagrams, udp_lines_ok, udp_registry_full;
    atomic_uint_least64_t udp_lines_refused[UDPL__COUNT];    /* by udpl_reason ([UDPL_OK] unused) */
    atomic_uint_least64_t udp_dgrams_refused[UDPL_D__COUNT]; /* by udpl_dgram: bad/missing sig… */
} app;

int64_t app_now_ms(void);  /* wall clock, epoch ms */
int64_t app_mono_ms(void); /* monotonic ms: durations and deadlines */
void app_sleep_ms(int64_t ms);
/* in_ms from now on the monotonic clock, for condvars set to that clock. */
struct timespec app_deadline(int64_t in_ms);
/* A condvar on the monotonic clock (waits take app_deadline). pthread's 0 or errno. */
int app_cond_init(pthread_cond_t *cv);

/* boot.c */
int app_boot(app *a, char *err, size_t errlen); /* token, store, registry restore */
void app_shutdown(app *a);                      /* drain and close, in order */

/* jobs.c: writer and sweeper threads */
int jobs_start(app *a, char *err, size_t errlen);
void jobs_stop_sweeper(app *a);
void jobs_stop_writer(app *a); /* drains the queue first */

/* rollup.c: the analytics thread (reliability, hourly fold, task buckets) */
int rollup_init(app *a, char *err, size_t errlen); /* tlat, locks, rank from the store */
int rollup_start(app *a, char *err, size_t errlen);
void rollup_stop(app *a); /* flushes open task buckets */
void rollup_free(app *a);
/* Ask for a full rollup now and wait for it (at most timeout_ms). 0 done
 * (stats filled), -1 failed or timed out. */
int rollup_now(app *a, int timeout_ms, rollup_stats *out);
/* Record task durations for a group (HTTP threads). TLAT_* result. */
int rollup_task(app *a, const char *group, int64_t now_ms, const double *ms, size_t n);
/* vigild's downtime as gaps between its runs (all nodes), this run up
 * until now. *gaps is malloc'd. 0, or -1 on a store error. */
int rollup_gaps(app *a, int64_t now, rel_gap **gaps, size_t *ngaps, int64_t *first_run_ms);
/* Sessions as the store gave them, made ready for rel_compute (imports). */
void rollup_prepare(rel_session *s, size_t n);
/* Drop a forgotten worker from the in-memory ranking. */
void rollup_forget(app *a, const char *worker_id);

/* ingest.c: apply one validated message (every door: HTTP, NDJSON, ping,
 * UDP). Returns the worker's state (reg_wstate), or -1 when the registry
 * could not take it (memory or group table exhausted). */
int ingest_apply(app *a, const hb_msg *m, int64_t now);
/* A door that applies many messages in a row (UDP datagrams, NDJSON bodies)
 * tallies here what ingest_apply would count per message, and folds it in
 * once with ingest_flush: each count is an atomic add, a locked instruction,
 * and with the write queue's lock they were a sixth of a UDP line's time. */
typedef struct ingest_tally {
    uint64_t accepted;   /* into hb_accepted */
    uint64_t hb_dropped; /* raw samples dropped on wq_hb_full's word */
    uint64_t full;       /* messages the registry had no room for (the door counts them) */
} ingest_tally;
int ingest_apply_t(app *a, const hb_msg *m, int64_t now, ingest_tally *t);
void ingest_flush(app *a, ingest_tally *t);
/* Many messages known by their workers' hashes (reg_apply_batch): item i's
 * message comes from src(ctx, i), parsed then, under its registry shard's
 * lock, its worker id the one hash[i] is reg_hash of; NULL skips it. Counts
 * as ingest_apply_t would, into t. */
typedef const hb_msg *(*ingest_src_fn)(void *ctx, size_t i);
void ingest_many(app *a, const uint32_t *hash, size_t n, ingest_src_fn src, void *ctx, int64_t now,
                 ingest_tally *t);

/* http.c */
int http_start(app *a, char *err, size_t errlen);
void http_stop(app *a);

/* log.c */
void vlog(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
