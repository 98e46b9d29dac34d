/*
 * wq: ring of raw heartbeats + the event lane (head vector, spill file, tail
 * vector; order rules in wq.h), one mutex, one condvar. The writer is the
 * only consumer; any request thread (and the sweeper) may produce. Waking
 * the writer on every push would cost a syscall per heartbeat, so producers
 * only signal when a lane crosses from empty; the writer otherwise wakes on
 * its flush timer.
 *
 * Cost. While nothing is spilled, an event push is what it always was plus
 * one comparison (nhead < mem_limit; mem_limit is 0 whenever head must not
 * take events), and the heartbeat push does not change at all. Past the cap,
 * an event costs one pwrite() of ~456 bytes under the mutex: a copy into the
 * page cache, a few microseconds, never the store.
 *
 * Why no fsync per spilled event: an fsync costs milliseconds (far more on a
 * busy disk), and under the mutex it would stall every heartbeat behind it.
 * What that gives up: a record in the page cache survives a crash of vigild
 * (an event held in memory would not) but not a crash of the machine. The
 * writer fsyncs what was appended once per turn (every flush interval, or
 * every backoff step while the store is down: at most 5 s) outside the mutex,
 * and wq_free fsyncs at close, so a power cut loses at most that last stretch,
 * whose torn remains the next boot drops (spill.h). Reading a chunk for the
 * writer (WQ_SPILL_CHUNK records from the page cache, ~0.1-0.3 ms) is also
 * done under the mutex, once per batch and only while a spill is worked off.
 *
 * The journal (wq.h) is the head's copy on disk: one more pwrite() per event
 * that goes to memory, no fsync, because what it guards against is a crash of
 * vigild (SIGKILL, abort, OOM kill) between the answer and the writer's next
 * commit, and the page cache survives that. No bookkeeping is needed: head
 * events are journaled, taken and stored in push order, and after a commit
 * everything taken is stored, so the unstored records are exactly the head
 * still in memory. An empty head at a commit empties the file. Under steady
 * churn the head may never be empty at a commit; then once WQ_JOURNAL_COMPACT
 * stored records sit in front, the file is rewritten with only the head, a
 * handful of writes every few thousand events.
 */
#include "server/wq.h"

#include "core/vec.h"
#include "server/app.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WQ_EV_MIN_CAP 256       /* first allocation of an event vector, in events */
#define WQ_PATH_MAX 4096        /* bytes of the spill file's path + ".tmp" */
#define WQ_JOURNAL_COMPACT 1024 /* stored records in front of the journal before a rewrite */

struct wq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_hb *ring;        /* mapped: wq_trim hands a burst's pages back */
    size_t cap, head, len; /* ring: items at head .. head+len (mod cap) */
    size_t lim;            /* len at most: cap, or fewer while wq_trim works */
    size_t hw;             /* slots below hw may be resident (touched since the last trim) */
    /* len >= lim, as of the last change under mu: a door that finds it set
     * drops its sample without the lock (wq_hb_full). Set and cleared under
     * mu; read without it, a hint. */
    atomic_bool hb_full;
    atomic_uint_least64_t hb_dropped; /* under mu or not: wq_hb_dropped counts without it */

    reg_event *ev; /* head: oldest events, in memory */
    size_t nev, evcap;
    size_t ev_max;    /* cap of head */
    size_t mem_limit; /* ev_max while head may take events, else 0 (see relimit) */
    spill *sp;        /* NULL: no file, events past the cap go to the tail */
    uint64_t sp_done; /* file records stored (or given up as damaged) */
    bool sp_dirty;    /* appended since the last wq_sync */
    bool sp_failing;  /* the last append failed (a failure streak is on) */
    reg_event *tail;  /* newest events, in memory past the cap: file not writable */
    size_t ntail, tailcap;

    spill *jr;         /* journal of head (wq_set_journal), NULL: none */
    bool j_broken;     /* an append failed: later head events are not journaled until
                          the next truncate (the file stays a prefix, in order) */
    uint64_t j_failed; /* head events not journaled (append failed or file broken) */

    bool closed;
    uint64_t hb_pushed, ev_pushed;
    uint64_t ev_spilled, ev_spill_failed, spill_fail_streaks, ev_spill_lost;
    uint64_t spill_episodes, spill_drains;
    int spill_errno;
    char spill_err[WQ_ERR_MAX];
};

/* head takes new events only while nothing newer sits in the file or the
 * tail; folding that into one limit keeps the push's fast path one compare. */
static void relimit(wq *q)
{
    bool behind = (q->sp && spill_count(q->sp) > 0) || q->ntail > 0;
    q->mem_limit = behind ? 0 : q->ev_max;
}

/* Caller holds mu, after len or lim changed. */
static void note_full(wq *q)
{
    atomic_store_explicit(&q->hb_full, q->len >= q->lim, memory_order_relaxed);
}

static size_t hbs_bytes(size_t n)
{
    return n ? n * sizeof(store_hb) : 1; /* mmap takes no empty mapping */
}

store_hb *wq_hbs_map(size_t n)
{
    void *p = mmap(NULL, hbs_bytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void wq_hbs_unmap(store_hb *b, size_t n)
{
    if (b) munmap(b, hbs_bytes(n));
}

size_t wq_hbs_release(store_hb *b, size_t keep, size_t used)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = (keep * sizeof *b + page - 1) / page * page;
    size_t to = (used * sizeof *b + page - 1) / page * page;
    if (to <= from) return 0;
    madvise((char *)b + from, to - from, MADV_DONTNEED);
    return to - from;
}

wq *wq_new_spill(size_t raw_cap, size_t ev_max, spill *sp)
{
    wq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->ring = wq_hbs_map(raw_cap);
    if (!q->ring) {
        free(q);
        return NULL;
    }
    q->cap = q->lim = raw_cap;
    q->ev_max = ev_max ? ev_max : 1;
    q->sp = sp;
    relimit(q);
    pthread_mutex_init(&q->mu, NULL);
    app_cond_init(&q->cv); /* waits take app_deadline */
    return q;
}

wq *wq_new(size_t raw_cap)
{
    return wq_new_spill(raw_cap, SIZE_MAX, NULL);
}

void wq_free(wq *q)
{
    if (!q) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    spill_close(q->sp);
    spill_close(q->jr);
    wq_hbs_unmap(q->ring, q->cap);
    free(q->ev);
    free(q->tail);
    free(q);
}

bool wq_push_hb(wq *q, const hb_msg *m, int64_t ts_ms)
{
    pthread_mutex_lock(&q->mu);
    if (q->len >= q->lim) {
        atomic_fetch_add_explicit(&q->hb_dropped, 1, memory_order_relaxed);
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    size_t i = q->head + q->len;
    if (i >= q->cap) i -= q->cap;
    if (i >= q->hw) q->hw = i + 1;
    store_hb_from_msg(&q->ring[i], m, ts_ms);
    q->len++;
    q->hb_pushed++;
    if (q->len >= q->lim) note_full(q);
    pthread_mutex_unlock(&q->mu);
    return true;
}

bool wq_hb_full(wq *q)
{
    return atomic_load_explicit(&q->hb_full, memory_order_relaxed);
}

void wq_hb_dropped(wq *q, uint64_t n)
{
    if (n) atomic_fetch_add_explicit(&q->hb_dropped, n, memory_order_relaxed);
}

/* Append to an event vector. Out of memory for a state change: nothing sane
 * is left to do that keeps the promise "a disconnect is never lost". */
static void vec_push(reg_event **v, size_t *n, size_t *cap, const reg_event *ev)
{
    reg_event *nv = vec_grow(*v, cap, *n + 1, sizeof *nv, WQ_EV_MIN_CAP);
    if (!nv) abort();
    *v = nv;
    nv[(*n)++] = *ev;
}

/* Past the cap (or behind a spill): the file, else the tail. Caller holds mu. */
static void push_slow(wq *q, const reg_event *ev)
{
    if (q->sp && q->ntail == 0) {
        uint64_t before = spill_count(q->sp);
        if (spill_append(q->sp, ev) == 0) {
            q->ev_spilled++;
            q->sp_dirty = true;
            q->sp_failing = false;
            if (before == 0) {
                q->spill_episodes++;
                relimit(q);
            }
            if (spill_unread(q->sp) == 1) pthread_cond_signal(&q->cv);
            return;
        }
        q->spill_errno = errno;
        if (!q->sp_failing) q->spill_fail_streaks++;
        q->sp_failing = true;
    }
    /* Once one event is in the tail, all later ones must follow it there
     * (relimit sends them here) until the writer has taken it. */
    q->ev_spill_failed++;
    vec_push(&q->tail, &q->ntail, &q->tailcap, ev);
    if (q->ntail == 1) {
        relimit(q);
        pthread_cond_signal(&q->cv);
    }
}

void wq_push_event(void *ctx, const reg_event *ev)
{
    wq *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (q->nev < q->mem_limit) {
        vec_push(&q->ev, &q->nev, &q->evcap, ev);
        if (q->jr && (q->j_broken || spill_append(q->jr, ev) != 0)) {
            q->j_broken = true;
            q->j_failed++;
        }
        if (q->nev == 1) pthread_cond_signal(&q->cv);
    } else {
        push_slow(q, ev);
    }
    q->ev_pushed++;
    pthread_mutex_unlock(&q->mu);
}

static uint64_t unread(const wq *q)
{
    return q->sp ? spill_unread(q->sp) : 0;
}

/* File read to its end and all of it stored (or given up): start over in
 * memory. A failed truncate is retried at the next call (new events keep
 * going to the file meanwhile). Caller holds mu. */
static void maybe_truncate(wq *q)
{
    if (q->sp && spill_count(q->sp) > 0 && spill_unread(q->sp) == 0 &&
        q->sp_done >= spill_count(q->sp) && spill_truncate(q->sp) == 0) {
        q->sp_done = 0;
        q->sp_dirty = false;
        q->spill_drains++;
        relimit(q);
    }
}

/* Read the next chunk of the file onto the end of *v (n events so far).
 * A damaged record is skipped and counted lost: it cannot be stored, and
 * refusing it would block every event behind it for good. Returns the
 * number appended. Caller holds mu. */
static size_t take_chunk(wq *q, reg_event **v, size_t *n, size_t *cap)
{
    uint64_t want = unread(q);
    if (want > WQ_SPILL_CHUNK) want = WQ_SPILL_CHUNK;
    if (want == 0) return 0;
    reg_event *nv = vec_grow(*v, cap, *n + (size_t)want, sizeof *nv, WQ_EV_MIN_CAP);
    if (!nv) return 0; /* out of memory: the chunk stays in the file for next time */
    *v = nv;
    size_t got = 0;
    if (spill_read(q->sp, nv + *n, (size_t)want, &got, q->spill_err, sizeof q->spill_err) != 0) {
        spill_skip(q->sp, 1);
        q->sp_done++;
        q->ev_spill_lost++;
        if (got == 0) maybe_truncate(q); /* nothing to store: nothing will report it */
    }
    *n += got;
    return got;
}

size_t wq_take(wq *q, reg_event **evs, size_t *nev, size_t *nspill, store_hb *hbs, size_t max_hb,
               size_t *nhb, int timeout_ms)
{
    struct timespec dl = app_deadline(timeout_ms);
    pthread_mutex_lock(&q->mu);
    /* Wait for the timer, not for the first heartbeat: batching is the
     * point. Events and close cut the wait short. */
    while (!q->closed && q->nev == 0 && q->ntail == 0 && unread(q) == 0 && q->len < max_hb)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) break;
    /* 1. head, the oldest: hand the vector over whole */
    reg_event *v = q->ev;
    size_t n = q->nev, vcap = q->evcap;
    q->ev = NULL;
    q->nev = q->evcap = 0;
    /* 2. a chunk of the file */
    *nspill = take_chunk(q, &v, &n, &vcap);
    /* 3. the tail, once nothing older is left in the file */
    if (q->ntail && unread(q) == 0) {
        reg_event *nv = vec_grow(v, &vcap, n + q->ntail, sizeof *nv, WQ_EV_MIN_CAP);
        if (nv) {
            v = nv;
            memcpy(v + n, q->tail, q->ntail * sizeof *v);
            n += q->ntail;
            q->ntail = 0;
            relimit(q);
        }
    }
    *evs = v;
    *nev = n;
    /* Samples only when no event stays behind: one pushed after a sample
     * must not be stored after it (wq.h). */
    size_t nh = q->ntail == 0 && unread(q) == 0 ? (q->len < max_hb ? q->len : max_hb) : 0;
    for (size_t k = 0; k < nh;) {
        size_t run = q->cap - q->head; /* contiguous part before the wrap */
        if (run > nh - k) run = nh - k;
        memcpy(&hbs[k], &q->ring[q->head], run * sizeof *hbs);
        q->head = (q->head + run) % q->cap;
        q->len -= run;
        k += run;
    }
    /* An empty ring starts over at slot 0: a writer that keeps up then
     * cycles through the first slots only, and the rest stay untouched. */
    if (q->len == 0) q->head = 0;
    note_full(q);
    *nhb = nh;
    pthread_mutex_unlock(&q->mu);
    return nh + n;
}

size_t wq_trim(wq *q)
{
    pthread_mutex_lock(&q->mu);
    /* Only when every queued sample lies below WQ_KEEP_HB, unwrapped; until
     * the pages are gone, pushes stop short of them (dropped, counted: a
     * burst of > WQ_KEEP_HB within one madvise). */
    size_t used = q->hw;
    if (used <= WQ_KEEP_HB || q->head + q->len >= WQ_KEEP_HB) {
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    q->lim = WQ_KEEP_HB - q->head;
    note_full(q);
    pthread_mutex_unlock(&q->mu);
    size_t gone = wq_hbs_release(q->ring, WQ_KEEP_HB, used);
    pthread_mutex_lock(&q->mu);
    q->lim = q->cap;
    q->hw = q->head + q->len;
    note_full(q);
    pthread_mutex_unlock(&q->mu);
    return gone;
}

/* Empty the journal, then (rewrite) put the head back in it: the head is
 * exactly the journaled events not stored. Caller holds mu. */
static void journal_reset(wq *q, bool rewrite)
{
    if (spill_truncate(q->jr) != 0) return; /* retried at the next commit */
    q->j_broken = false;
    for (size_t i = 0; rewrite && i < q->nev && !q->j_broken; i++)
        if (spill_append(q->jr, &q->ev[i]) != 0) q->j_broken = true;
}

/* After a commit, everything taken is stored, so the journaled events not
 * stored are exactly the head (q->ev). Caller holds mu. */
static void journal_stored(wq *q)
{
    if (!q->jr) return;
    uint64_t have = spill_count(q->jr);
    if (q->nev == 0) {
        if (have > 0 || q->j_broken) journal_reset(q, false);
    } else if (q->j_broken || have >= q->nev + WQ_JOURNAL_COMPACT) {
        journal_reset(q, true);
    }
}

void wq_stored(wq *q, size_t nspill)
{
    pthread_mutex_lock(&q->mu);
    q->sp_done += nspill;
    maybe_truncate(q);
    journal_stored(q);
    pthread_mutex_unlock(&q->mu);
}

void wq_set_journal(wq *q, spill *jr)
{
    pthread_mutex_lock(&q->mu);
    q->jr = jr;
    pthread_mutex_unlock(&q->mu);
}

void wq_sync(wq *q)
{
    pthread_mutex_lock(&q->mu);
    bool dirty = q->sp_dirty;
    q->sp_dirty = false;
    spill *sp = q->sp; /* replaced only by wq_spill_rest, on this same thread */
    pthread_mutex_unlock(&q->mu);
    /* A failed fsync leaves the records to the page cache; the next append
     * marks the file dirty again and the next turn retries. */
    if (dirty && sp) spill_sync(sp);
}

static int append_all(spill *t, const reg_event *v, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (spill_append(t, &v[i]) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", spill_path(t), strerror(errno));
            return -1;
        }
    return 0;
}

/* Copy the unread records of q->sp onto t (damaged ones skipped, counted). */
static int copy_unread(wq *q, spill *t, char *err, size_t errlen)
{
    reg_event *buf = malloc(WQ_SPILL_CHUNK * sizeof *buf);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    while (rc == 0 && unread(q) > 0) {
        size_t got = 0;
        if (spill_read(q->sp, buf, WQ_SPILL_CHUNK, &got, q->spill_err, sizeof q->spill_err)) {
            spill_skip(q->sp, 1);
            q->ev_spill_lost++;
        }
        rc = append_all(t, buf, got, err, errlen);
    }
    free(buf);
    return rc;
}

int wq_spill_rest(wq *q, const reg_event *pending, size_t npending, size_t pending_from_file,
                  uint64_t *spilled, uint64_t *lost, char *err, size_t errlen)
{
    pthread_mutex_lock(&q->mu);
    /* Not yet in the file: the batch's memory part, head and tail. */
    uint64_t fresh = (uint64_t)(npending - pending_from_file) + q->nev + q->ntail;
    char tmp[WQ_PATH_MAX];
    spill *t = NULL;
    int rc = -1;
    *spilled = 0;
    *lost = fresh;
    if (!q->sp) {
        snprintf(err, errlen, "no spill file");
        goto out;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp", spill_path(q->sp)) >= (int)sizeof tmp) {
        snprintf(err, errlen, "spill path too long");
        goto out;
    }
    unlink(tmp); /* a leftover of an earlier failed attempt */
    if (!(t = spill_open(tmp, NULL, err, errlen))) goto out;
    /* In order: the batch in hand (older than all queued), head, the file's
     * unread records, tail. Records before the read position are either
     * stored or in the batch, so they are left out. */
    if (append_all(t, pending, npending, err, errlen) ||
        append_all(t, q->ev, q->nev, err, errlen) || copy_unread(q, t, err, errlen) ||
        append_all(t, q->tail, q->ntail, err, errlen) ||
        spill_replace(t, spill_path(q->sp), err, errlen)) {
        spill_close(t);
        unlink(tmp);
        goto out;
    }
    spill_close(q->sp);
    q->sp = t;
    q->sp_done = 0;
    q->sp_dirty = false;
    q->ev_spilled += fresh;
    q->nev = q->ntail = 0;
    relimit(q);
    /* Everything the journal holds is in the new file now: applying both
     * at boot would be harmless, but the file alone is the whole truth. */
    if (q->jr) spill_truncate(q->jr);
    *spilled = spill_count(t);
    *lost = 0;
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void wq_close(wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool wq_wait_close(wq *q, int timeout_ms)
{
    struct timespec dl = app_deadline(timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (!q->closed)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) break;
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

bool wq_closed(wq *q)
{
    pthread_mutex_lock(&q->mu);
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

void wq_get_stats(wq *q, wq_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->hb_pushed = q->hb_pushed;
    out->hb_dropped = atomic_load(&q->hb_dropped);
    out->ev_pushed = q->ev_pushed;
    out->ev_spilled = q->ev_spilled;
    out->ev_spill_failed = q->ev_spill_failed;
    out->spill_fail_streaks = q->spill_fail_streaks;
    out->ev_spill_lost = q->ev_spill_lost;
    out->spill_episodes = q->spill_episodes;
    out->spill_drains = q->spill_drains;
    uint64_t count = q->sp ? spill_count(q->sp) : 0;
    out->spilled = count > q->sp_done ? count - q->sp_done : 0;
    out->spill_errno = q->spill_errno;
    snprintf(out->spill_err, sizeof out->spill_err, "%s", q->spill_err);
    out->hb_depth = q->len;
    out->hb_cap = q->cap;
    out->ev_mem = q->nev + q->ntail;
    out->ev_depth = out->ev_mem + (size_t)unread(q);
    out->ev_max = q->ev_max;
    out->journal_failed = q->j_failed;
    pthread_mutex_unlock(&q->mu);
}
