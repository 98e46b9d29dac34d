/*
 * wq: the queue between the request threads and the writer thread.
 *
 * Two lanes behind one mutex. Raw heartbeats go into a fixed ring: when it is
 * full the new sample is dropped and counted, because a sample is only
 * history and the heartbeat path must never wait. State events (sessions,
 * worker and group states) are never dropped: losing one would lose a
 * disconnect.
 *
 * The event lane is bounded in memory and spills to a file past that
 * (spill.h, DATA_DIR/events.spill), so a long store outage costs disk, not
 * RAM. In arrival order, an event lives in one of three places:
 *
 *   head  in memory, up to ev_max events: the normal case
 *   file  once head is full, and from then on every new event, until the
 *         writer has read the file to its end and stored it all; then the
 *         file is truncated and events go to memory again
 *   tail  in memory past the cap, only when the file cannot be written (disk
 *         full): an accepted event is kept rather than lost; counted
 *
 * head < file < tail always holds, and the writer takes them in that order:
 * all of head, then the file in chunks, then the tail once the file has
 * nothing unread. The one mutex also orders the lanes: the writer takes raw
 * heartbeats only when no event is left behind in the file or tail, so an
 * event is still stored together with, or before, any heartbeat pushed after
 * it (a worker's row exists before its samples refer to it). While a spill
 * is being worked off, samples therefore wait in the ring (and overflow,
 * counted) instead.
 *
 * The journal (DATA_DIR/events.journal, same format as the spill file) makes
 * the head survive a crash of vigild: every event that goes to head is also
 * appended there before wq_push_event returns, so before the request that
 * caused it is answered; once the writer has stored it, it is dropped from
 * the file (wq.c says when). Boot applies the journal, then the spill file
 * (older events first: head < file), before the registry is rebuilt.
 */
#ifndef VIGIL_WQ_H
#define VIGIL_WQ_H

#include "server/spill.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WQ_SPILL_CHUNK 2048 /* events the writer reads from the file per take (~0.9 MiB) */
#define WQ_ERR_MAX 256      /* bytes of the last spill error kept for the log */
#define WQ_JOURNAL_FILE_NAME "events.journal" /* in the data directory */
#define WQ_KEEP_HB 1024 /* ring slots left resident by wq_trim (300 KB); the rest go back */

typedef struct wq wq;

typedef struct wq_stats {
    uint64_t hb_pushed, hb_dropped, ev_pushed;
    uint64_t ev_spilled;         /* events written to the file (while running and at stop) */
    uint64_t ev_spill_failed;    /* events kept in memory past the cap: file not writable */
    uint64_t spill_fail_streaks; /* runs of such failures begun (the writer logs each once) */
    uint64_t ev_spill_lost;      /* damaged records skipped while reading the file */
    uint64_t spill_episodes;     /* times the lane moved from memory to the file */
    uint64_t spill_drains;       /* times the file was worked off and truncated */
    uint64_t spilled;            /* events in the file not yet stored */
    int spill_errno;             /* errno of the last failed append */
    char spill_err[WQ_ERR_MAX];  /* the last read error ("" none) */
    size_t hb_depth, hb_cap;
    size_t ev_depth; /* events queued and not yet taken: memory + unread file records */
    size_t ev_mem;   /* of which in memory (head + tail) */
    size_t ev_max;
    uint64_t journal_failed; /* head events the journal could not take (disk full) */
} wq_stats;

/* raw_cap: raw heartbeats held at most (the ring's size). Events are held in
 * memory without bound (no spill file): for tests and tools. */
wq *wq_new(size_t raw_cap);

/* As wq_new, with at most ev_max events in memory and sp (owned from here
 * on, closed by wq_free; may be NULL) taking the rest. sp may already hold
 * records: they come before anything pushed. */
wq *wq_new_spill(size_t raw_cap, size_t ev_max, spill *sp);

/* Frees everything; closes (and so fsyncs) the spill file. */
void wq_free(wq *q);

/* Queue one raw heartbeat. False when the ring is full (dropped, counted). */
bool wq_push_hb(wq *q, const hb_msg *m, int64_t ts_ms);
/* The ring was full at its last change: a hint, read without the lock, so
 * that a door under overload drops a sample for the price of a load instead
 * of a lock and an unlock (it then counts the drop with wq_hb_dropped). */
bool wq_hb_full(wq *q);
/* n samples dropped on wq_hb_full's word: counted in hb_dropped. */
void wq_hb_dropped(wq *q, uint64_t n);

/* Queue one state event; never drops, never waits on the store. Usable as a
 * reg_sink_fn. */
void wq_push_event(void *q, const reg_event *ev);

/* Writer: wait up to timeout_ms for work (or wq_close), then take events in
 * order (all of memory, a chunk of the file, the tail) into *evs (the
 * caller's to free) and, when no event is left behind, up to max_hb raw
 * heartbeats into hbs. *nspill of the *nev events came from the file: report
 * them with wq_stored once they are in the store. Returns items taken. */
size_t wq_take(wq *q, reg_event **evs, size_t *nev, size_t *nspill, store_hb *hbs, size_t max_hb,
               size_t *nhb, int timeout_ms);

/* Writer, after every commit: everything taken is stored, of which nspill
 * events from the file. When the whole file is stored, it is truncated and
 * events go to memory again; the journal drops what is stored. */
void wq_stored(wq *q, size_t nspill);

/* Raw heartbeat buffers in mapped memory (the ring; the writer's batch), so
 * that what a burst touched can be handed back. wq_hbs_map: n slots (NULL
 * when the mapping fails). wq_hbs_release: the pages of b[0..used) past
 * those that hold b[0..keep) go back to the kernel (they read back as
 * zeros); returns the bytes handed back. */
store_hb *wq_hbs_map(size_t n);
void wq_hbs_unmap(store_hb *b, size_t n);
size_t wq_hbs_release(store_hb *b, size_t keep, size_t used);

/* Writer, once a burst is over (its batches are small again): the ring's
 * pages past its first WQ_KEEP_HB slots go back to the kernel, if samples
 * reached them since the last trim and none queued now lies there. A burst
 * (a registration storm, a store outage worked off) fills the whole ring,
 * 19 MB at the default queue_size, that a fleet in steady state never
 * touches again: the ring restarts at slot 0 whenever the writer empties
 * it. Returns the bytes handed back (0: nothing to do). */
size_t wq_trim(wq *q);

/* Journal the head into jr (owned from here on, closed by wq_free; NULL:
 * none). Set once, before anything is pushed. */
void wq_set_journal(wq *q, spill *jr);

/* Writer, once per turn: fsync what was appended to the file since the last
 * call (outside the mutex: pushers never wait on it). */
void wq_sync(wq *q);

/* Writer, at stop with the store still down: put every event not stored into
 * the file, in order: pending (the writer's batch in hand, of which
 * pending_from_file came from the file), then everything still queued. The
 * file is rewritten (records already stored are left out) and swapped in
 * atomically. *spilled = events now in the file. On failure (-1 with err)
 * *lost = events that could not be kept (the file keeps what it held). */
int wq_spill_rest(wq *q, const reg_event *pending, size_t npending, size_t pending_from_file,
                  uint64_t *spilled, uint64_t *lost, char *err, size_t errlen);

/* Wake the writer for its final drain. Pushes are still accepted. */
void wq_close(wq *q);
bool wq_closed(wq *q);

/* Sleep up to timeout_ms, cut short by wq_close: the writer's backoff, so a
 * stop never waits out a backoff step. Returns wq_closed. */
bool wq_wait_close(wq *q, int timeout_ms);

void wq_get_stats(wq *q, wq_stats *out);

#endif
