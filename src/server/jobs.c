/*
 * jobs: the two background threads of vigild.
 *
 * The writer owns all store writes: every flush interval it takes whatever
 * the request threads queued and applies it in one transaction. A failed
 * batch is kept and retried with backoff (events are never dropped: past
 * event_queue_max they spill to a file, wq.h; raw samples pile up in the ring
 * meanwhile and are dropped there, counted). If the store is still down when
 * vigild stops, the events not stored are left in the spill file, which the
 * next boot applies before anything else (boot.c). It also marks this run
 * alive for the next boot's downtime estimate and prunes old rows in bounded
 * batches so retention never holds a long lock.
 *
 * The writer runs at a lower CPU priority (WRITER_NICE) than the threads
 * that take heartbeats. When a core is saturated something must give, and by
 * design it is the raw samples (dropped and counted), not heartbeats: a
 * heartbeat the kernel drops from a full socket buffer, or a client slowed
 * by backpressure, can make a live worker look dead. A writer that waits
 * longer also takes larger batches (up to WRITER_BATCH_HB), and a larger
 * batch stores more rows per CPU second: its cost is mostly the index pages
 * it dirties, about one per worker it touches, whatever the rows per worker.
 * With a core to spare (no pinning, the usual case) the priority changes
 * nothing.
 *
 * Even at WRITER_NICE the writer takes ~1/4 of a contended core, which is
 * mostly raw samples: a stored row costs microseconds (each batch dirties an
 * index page per worker it touches), a heartbeat taken a few. So when it is
 * plainly in the way of ingest, it paces itself (shed_pause) to at most
 * WRITER_SHED_DUTY_PCT of a core, and what it cannot store is dropped at the
 * ring, counted. In the way means: samples overflowed the ring since the
 * last turn (the race is lost anyway), or, during its last batch, it waited
 * for a CPU at least as long as it ran while vigild's other threads took
 * over WRITER_CONTEND_PCT of a core (they want the core it is on). A writer
 * with a core of its own never waits, nor one with state events still to
 * store (a spill file after an outage), and a pause ends when neither holds.
 *
 * The sweeper advances the registry's timer wheels. Its cost is proportional
 * to deadlines due, not to the fleet (see reg_wheel.c), so a short period
 * keeps detection lag low at little CPU.
 */
#include "server/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define WRITER_BATCH_HB 32768 /* raw heartbeats per transaction, at most (296 B each) */
#define WRITER_KEEP_HB 1024   /* batch slots resident after a burst (300 KB); the rest go back */
#define WRITER_NICE 5         /* the writer's nice, relative: ~1/3 the CPU weight when contended */
#define WRITER_ALIVE_EVERY_MS 1000    /* node_runs.alive_ms resolution (downtime estimate) */
#define WRITER_PRUNE_EVERY_MS 60000   /* retention pass period */
#define WRITER_PRUNE_MAX_BATCHES 20   /* per pass and table: spread big backlogs over passes */
#define WRITER_SHED_DUTY_PCT 10       /* writer's CPU share, at most, while samples overflow */
#define WRITER_SHED_SLEEP_MAX_MS 1000 /* longest pause then: how late an event may be stored */
#define WRITER_CONTEND_PCT 50 /* other threads' CPU, % of the batch's wall time: ingest is busy */
#define WRITER_BACKOFF_MIN_MS 100
#define WRITER_BACKOFF_MAX_MS 5000

/* vigil_writer_flush_duration_seconds bucket bounds, seconds: a healthy
 * SQLite batch takes about a millisecond, a stalled store up to its timeouts. */
static const double FLUSH_BUCKETS_S[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};

/* Test hook: VIGIL_TEST_STORE_FAIL names a trigger file, read before every
 * store write. While it holds "before", writes fail without reaching the
 * store (an error the writer must retry, on either backend). "after" makes
 * the next write commit and then report failure, once (the file is removed):
 * a commit whose acknowledgement was lost, as when PostgreSQL's connection
 * drops after COMMIT. Unset (always, outside tests): one branch per flush. */
#define STORE_FAIL_ENV "VIGIL_TEST_STORE_FAIL"
static const char *store_fail_path;

/* 0: no fault; 1: fail before the store; 2: fail after it committed. */
static int store_fault(void)
{
    if (!store_fail_path) return 0;
    FILE *f = fopen(store_fail_path, "r");
    if (!f) return 0;
    char mode[16] = "";
    if (!fgets(mode, sizeof mode, f)) mode[0] = '\0';
    fclose(f);
    if (strncmp(mode, "before", 6) == 0) return 1;
    if (strncmp(mode, "after", 5) == 0) {
        unlink(store_fail_path);
        return 2;
    }
    return 0;
}

static int apply_batch(app *a, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                       char *err, size_t errlen)
{
    int fault = store_fault();
    if (fault == 1) {
        snprintf(err, errlen, "injected by %s: before the store", STORE_FAIL_ENV);
        return -1;
    }
    int rc = store_apply(a->store, evs, nev, hbs, nhb, err, errlen);
    if (rc == 0 && fault == 2) {
        snprintf(err, errlen, "injected by %s: committed, acknowledgement lost", STORE_FAIL_ENV);
        return -1;
    }
    return rc;
}

/* taken: raw samples in the batch just stored (0: an empty take); *peak:
 * the largest since the last trim. A burst is over when a take is small
 * again: then the batch buffer's pages past its first WRITER_KEEP_HB slots
 * are dropped (they read back as zeros, and the next big batch refaults
 * them: ~2,300 faults against the ~100 ms such a batch takes to store), and
 * the ring's likewise (wq_trim). A writer that keeps up with a steady fleet
 * takes small batches and never touches those pages again. malloc_trim then
 * hands back what the burst left free in the heap's arenas (request bodies,
 * SQLite's spills): registering 100,000 workers left RSS at 244 B a worker
 * in six runs out of six with it, 244-259 B without (the budget is 256). */
static void trim_after_burst(app *a, store_hb *hbs, size_t taken, size_t *peak)
{
    if (taken > *peak) *peak = taken;
    if (taken > WRITER_KEEP_HB) return;
    wq_trim(a->wq); /* a compare under the queue's lock when there is nothing to do */
    if (*peak <= WRITER_KEEP_HB) return;
    wq_hbs_release(hbs, WRITER_KEEP_HB, *peak);
    malloc_trim(0);
    *peak = 0;
}

/* A failed batch again. A failure can come after the COMMIT went out (the
 * answer lost, or the test hook's "after"), so first ask whether batch seq
 * is in the store: if so it is done, and applying it again would store its
 * raw samples and event rows twice. When the store cannot say, nothing is
 * written and the retry waits, as for any failure. */
static int batch_retry(app *a, int64_t seq, const reg_event *evs, size_t nev, const store_hb *hbs,
                       size_t nhb, char *err, size_t errlen)
{
    int known = a->run_id > 0 ? store_batch_applied(a->store, a->run_id, seq) : 0;
    if (known == 1) {
        vlog("info", "store: batch %lld was committed before its answer was lost; not stored again",
             (long long)seq);
        return 0;
    }
    if (known < 0) {
        snprintf(err, errlen, "cannot tell whether batch %lld was stored", (long long)seq);
        return -1;
    }
    return apply_batch(a, evs, nev, hbs, nhb, err, errlen);
}

/* A clock's seconds at ns resolution (app_mono_ms is too coarse for the
 * flush histogram's millisecond buckets). */
static double clock_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The writer's clocks at one moment, read before and after each batch:
 * wall (the flush histogram), its own CPU (what the batch cost it, for
 * shed_pause: not the wall time a contended core stretched it to), the
 * whole process's CPU, and the time it has spent
 * runnable but waiting for a CPU (Linux's /proc/thread-self/schedstat,
 * second field, in ns; -1 when that cannot be read: then the writer never
 * counts itself in the way of ingest, as before that file was read). */
typedef struct {
    double wall, self, proc, wait;
} writer_clocks;

static void clocks_read(int schedfd, writer_clocks *c)
{
    c->wall = clock_s(CLOCK_MONOTONIC);
    c->self = clock_s(CLOCK_THREAD_CPUTIME_ID);
    c->proc = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    c->wait = -1;
    char buf[128];
    ssize_t n = schedfd >= 0 ? pread(schedfd, buf, sizeof buf - 1, 0) : -1;
    unsigned long long run_ns, wait_ns;
    if (n <= 0) return;
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &run_ns, &wait_ns) == 2) c->wait = (double)wait_ns / 1e9;
}

/* Between readings b0 and b1 around a batch: the writer waited for a CPU at
 * least as long as it ran, while vigild's other threads (ingest, mostly)
 * took over WRITER_CONTEND_PCT of a core. A machine that is busy with other
 * programs leaves the second part false: pausing would not help ingest. */
static bool in_ingest_way(const writer_clocks *b0, const writer_clocks *b1)
{
    if (b0->wait < 0 || b1->wait < 0) return false;
    double self = b1->self - b0->self, others = (b1->proc - b0->proc) - self;
    return b1->wait - b0->wait >= self &&
           others * 100.0 >= (b1->wall - b0->wall) * WRITER_CONTEND_PCT;
}

static void prune(app *a, int64_t now)
{
    struct {
        const char *table;
        int days;
    } t[] = {{"heartbeats", a->cfg.retention_raw_days},
             {"events", a->cfg.retention_events_days},
             {"heartbeats_hourly", a->cfg.retention_hourly_days},
             {"sessions", a->cfg.retention_sessions_days},
             {"task_latency", a->cfg.retention_tasks_days},
             {"fleet_metrics", a->cfg.retention_metrics_days}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int64_t before = now - (int64_t)t[i].days * 86400000LL;
        for (int b = 0; b < WRITER_PRUNE_MAX_BATCHES; b++) {
            int64_t n = store_prune(a->store, t[i].table, before, a->cfg.prune_batch);
            if (n > 0) a->pruned_rows += (uint64_t)n;
            if (n < a->cfg.prune_batch) break;
        }
    }
}

/* Log what the event lane's spill did since the last turn (each change once)
 * and mirror its counters into the app's. */
static void watch_spill(app *a, wq_stats *seen)
{
    wq_stats st;
    wq_get_stats(a->wq, &st);
    if (st.spill_episodes > seen->spill_episodes)
        vlog("warn", "event queue full (%zu in memory): spilling state events to %s", st.ev_max,
             a->spill_path);
    if (st.spill_fail_streaks > seen->spill_fail_streaks)
        vlog("error", "cannot write %s (%s): keeping state events in memory past event_queue_max",
             a->spill_path, strerror(st.spill_errno));
    if (st.ev_spill_lost > seen->ev_spill_lost)
        vlog("error", "%s; %llu spilled event(s) lost in all", st.spill_err,
             (unsigned long long)st.ev_spill_lost);
    if (st.spill_drains > seen->spill_drains)
        vlog("info", "%s worked off: every spilled event is stored (%llu spilled so far)",
             a->spill_path, (unsigned long long)st.ev_spilled);
    atomic_store(&a->events_spilled, st.ev_spilled);
    atomic_store(&a->spill_failures, st.ev_spill_failed);
    *seen = st;
}

/* At stop with the store still down: the events not stored (the batch in
 * hand and what is queued) go to the spill file for the next boot to apply;
 * raw samples are history and are dropped, counted in the log. */
static void spill_at_stop(app *a, const reg_event *evs, size_t nev, size_t nspill, size_t nhb)
{
    wq_stats st;
    wq_get_stats(a->wq, &st);
    uint64_t spilled, lost;
    char err[512];
    if (wq_spill_rest(a->wq, evs, nev, nspill, &spilled, &lost, err, sizeof err) == 0)
        vlog("warn",
             "store unavailable at shutdown: %llu events spilled to %s (applied at next start)",
             (unsigned long long)spilled, a->spill_path);
    else
        vlog("error", "store unavailable at shutdown and %s: %llu events lost", err,
             (unsigned long long)lost);
    if (nhb + st.hb_depth)
        vlog("warn", "store unavailable at shutdown: %zu raw samples dropped", nhb + st.hb_depth);
    wq_get_stats(a->wq, &st);
    atomic_store(&a->events_spilled, st.ev_spilled);
}

/* After a batch that cost busy_s CPU seconds: when the writer is in the
 * way of ingest (in_way: samples were dropped at the ring since the last
 * turn, or in_ingest_way held for the batch), wait long enough that the
 * batch's CPU is WRITER_SHED_DUTY_PCT of the time, capped at
 * WRITER_SHED_SLEEP_MAX_MS; a close cuts it short. Not in the way, or
 * state events still queued (st: the queue now, as watch_spill read it):
 * no wait. */
static void shed_pause(app *a, double busy_s, bool in_way, const wq_stats *st)
{
    /* Events waiting (a spill file being worked off after an outage, while
     * samples overflow meanwhile) are worth the whole share: no pause. */
    if (!in_way || st->ev_depth > 0) return;
    double ms = busy_s * 1000.0 * (100.0 / WRITER_SHED_DUTY_PCT - 1.0);
    if (ms > WRITER_SHED_SLEEP_MAX_MS) ms = WRITER_SHED_SLEEP_MAX_MS;
    if (ms >= 1.0) {
        a->shed_pauses++;
        wq_wait_close(a->wq, (int)ms);
    }
}

/* The batch in hand (events then samples) is applied whole or kept whole:
 * a failed batch is retried as it was, so order holds and nothing is
 * written twice (store_apply is all or nothing). While it fails, new work
 * stays in the queue, where raw samples overflow and are counted and events
 * spill to the file past event_queue_max. Events the batch took from the
 * file are reported stored (wq_stored) only after the commit, so the file is
 * truncated only once nothing in it can still be lost. */
static void *writer_main(void *arg)
{
    app *a = arg;
    pthread_setname_np(pthread_self(), "vigil-writer");
    /* Linux: a thread's nice is its own (setpriority on its tid). Raising it
     * needs no privilege; a failure only leaves the default. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
                    getpriority(PRIO_PROCESS, 0) + WRITER_NICE) != 0)
        vlog("warn", "writer: cannot lower its priority: %s", strerror(errno));
    /* Opened here: thread-self is this thread (clocks_read). */
    int schedfd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    /* Mapped, so that a burst's pages can be handed back (trim_after_burst). */
    store_hb *hbs = wq_hbs_map(WRITER_BATCH_HB);
    if (!hbs) { /* at start, 9 MiB: a machine that cannot give it cannot run vigild either */
        vlog("error", "writer: cannot map its batch buffer: %s", strerror(errno));
        abort();
    }
    reg_event *evs = NULL;
    size_t nev = 0, nspill = 0, nhb = 0;
    int backoff = 0;
    bool was_closing = false;
    int64_t last_alive = 0, last_prune = app_now_ms();
    int64_t seq = 0; /* this run's batches (store_batch_mark) */
    size_t peak = 0; /* trim_after_burst */
    wq_stats seen = {0};
    char err[256];
    for (;;) {
        atomic_store(&a->writer_alive_ms, app_now_ms());
        wq_sync(a->wq);
        bool closing = wq_closed(a->wq);
        /* A stop retries at once whatever the backoff had reached: if the
         * store is back, the final drain loses nothing that was queued. */
        if (closing && !was_closing) backoff = 0;
        was_closing = closing;
        /* A batch still in hand is one that failed, perhaps after its COMMIT
         * went out. It is never grown: if it was committed, exactly what it
         * held is stored. Otherwise the hand is empty and takes a new one. */
        bool retry = nev || nhb;
        double busy = 0;     /* CPU seconds of a batch stored this turn (shed_pause) */
        bool in_way = false; /* and whether it ran in ingest's way (in_ingest_way) */
        if (!retry) {
            wq_take(a->wq, &evs, &nev, &nspill, hbs, WRITER_BATCH_HB, &nhb,
                    a->cfg.flush_interval_ms);
            if (nev || nhb) {
                store_batch_mark(a->store, a->run_id, ++seq);
            } else {
                free(evs); /* an empty vector, if any */
                evs = NULL;
                trim_after_burst(a, hbs, 0, &peak);
            }
        }
        if (nev || nhb) {
            /* Failed attempts are timed too: a store that hangs shows here. */
            writer_clocks b0, b1;
            clocks_read(schedfd, &b0);
            int applied = retry ? batch_retry(a, seq, evs, nev, hbs, nhb, err, sizeof err)
                                : apply_batch(a, evs, nev, hbs, nhb, err, sizeof err);
            clocks_read(schedfd, &b1);
            hist_observe(&a->flush_hist, b1.wall - b0.wall);
            if (applied == 0) {
                a->flushes++;
                a->persisted += nev + nhb;
                if (!atomic_exchange(&a->store_ok, true)) vlog("info", "store writes recovered");
                wq_stored(a->wq, nspill); /* also drops the stored from the journal */
                trim_after_burst(a, hbs, nhb, &peak);
                free(evs);
                evs = NULL;
                nev = nspill = nhb = 0;
                backoff = 0;
                busy = b1.self - b0.self;
                in_way = in_ingest_way(&b0, &b1);
            } else {
                a->flush_failures++;
                if (atomic_exchange(&a->store_ok, false)) vlog("error", "store write: %s", err);
                backoff = backoff ? backoff * 2 : WRITER_BACKOFF_MIN_MS;
                if (backoff > WRITER_BACKOFF_MAX_MS) backoff = WRITER_BACKOFF_MAX_MS;
                /* On the way out, keep trying for a while but never forever;
                 * then what could not be stored waits in the spill file. */
                if (closing && backoff >= WRITER_BACKOFF_MAX_MS) {
                    spill_at_stop(a, evs, nev, nspill, nhb);
                    break;
                }
                watch_spill(a, &seen);
                /* A stop cuts the running wait short; once stopping, the
                 * retries wait for real (the store may be reconnecting). */
                if (closing)
                    app_sleep_ms(backoff);
                else
                    wq_wait_close(a->wq, backoff);
                continue;
            }
        }
        uint64_t dropped_before = seen.hb_dropped;
        watch_spill(a, &seen);
        if (busy > 0) shed_pause(a, busy, in_way || seen.hb_dropped != dropped_before, &seen);
        int64_t now = app_now_ms();
        if (now - last_alive >= WRITER_ALIVE_EVERY_MS) {
            store_run_alive(a->store, a->run_id, now);
            last_alive = now;
            uint64_t counts[REG_W__COUNT], fleet = 0;
            reg_counts(a->reg, counts);
            for (int k = REG_W_NONE + 1; k < REG_W__COUNT; k++)
                fleet += counts[k];
            store_fleet_hint(a->store, (size_t)fleet); /* the store's caches follow it */
        }
        if (now - last_prune >= WRITER_PRUNE_EVERY_MS) {
            prune(a, now);
            last_prune = now;
        }
        if (closing) {
            wq_stats st;
            wq_get_stats(a->wq, &st);
            if (st.hb_depth == 0 && st.ev_depth == 0) break;
        }
    }
    free(evs);
    wq_hbs_unmap(hbs, WRITER_BATCH_HB);
    if (schedfd >= 0) close(schedfd);
    return NULL;
}

static void *sweeper_main(void *arg)
{
    app *a = arg;
    pthread_setname_np(pthread_self(), "vigil-sweep");
    while (!atomic_load(&a->stopping)) {
        a->sweep_visits += reg_sweep(a->reg, app_now_ms());
        a->sweeps++;
        app_sleep_ms(a->cfg.sweep_interval_ms);
    }
    return NULL;
}

int jobs_start(app *a, char *err, size_t errlen)
{
    store_fail_path = getenv(STORE_FAIL_ENV);
    if (store_fail_path && !*store_fail_path) store_fail_path = NULL;
    hist_init(&a->flush_hist, FLUSH_BUCKETS_S, sizeof FLUSH_BUCKETS_S / sizeof *FLUSH_BUCKETS_S);
    atomic_store(&a->writer_alive_ms, app_now_ms());
    atomic_store(&a->store_ok, true);
    if (pthread_create(&a->writer_th, NULL, writer_main, a) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        return -1;
    }
    if (pthread_create(&a->sweeper_th, NULL, sweeper_main, a) != 0) {
        snprintf(err, errlen, "cannot start the sweeper thread");
        return -1;
    }
    return 0;
}

void jobs_stop_sweeper(app *a)
{
    atomic_store(&a->stopping, true);
    pthread_join(a->sweeper_th, NULL);
}

void jobs_stop_writer(app *a)
{
    wq_close(a->wq);
    pthread_join(a->writer_th, NULL);
}
