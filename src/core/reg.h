/*
 * reg: the live registry of workers and groups, and their state machine.
 *
 * Every worker vigild knows lives here, in N shards, each a chained hash
 * table behind its own mutex, so heartbeats for different workers rarely
 * contend. A worker record is one allocation (the strings sit at its end) to
 * keep a million workers under 256 bytes each.
 *
 * State changes (sessions opened and closed, worker and group states) are
 * handed to a sink callback *while the lock that ordered them is held*, so the
 * sink (the write queue) sees them in the order they happened, even across
 * threads. Nothing here does I/O or reads a clock: every entry point takes
 * `now_ms` (Unix epoch milliseconds), so tests drive time by hand.
 *
 * Expiry. Each shard has a timer wheel of REG_WHEEL_SLOTS slots of
 * REG_SLOT_MS. A worker sits in the slot of its next deadline (suspect by
 * phi, or dead by TTL). Heartbeats do not move it (that would cost the hot
 * path); when its slot comes up the sweeper recomputes the real deadline and
 * either acts or re-files it. So each live worker costs the sweeper about
 * one visit per heartbeat interval, whatever the fleet size, and a deadline
 * is seen at most one slot late.
 */
#ifndef VIGIL_REG_H
#define VIGIL_REG_H

#include "core/hb.h"
#include "core/phi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum reg_wstate {
    REG_W_NONE = 0,
    REG_W_ALIVE,
    REG_W_SUSPECT,
    REG_W_DEAD,
    REG_W_LEFT,
    REG_W_EVICTED,
    REG_W__COUNT
} reg_wstate;

typedef enum reg_gstate {
    REG_G_UNKNOWN = 0,
    REG_G_ALIVE,
    REG_G_SCALED_DOWN,
    REG_G_CRASHED,
    REG_G__COUNT
} reg_gstate;

typedef enum reg_reason {
    REG_R_NONE = 0,
    REG_R_CLEAN_SHUTDOWN,
    REG_R_FAILED,
    REG_R_TIMEOUT,
    REG_R_RESTARTED,
    REG_R_EVICTED,
    REG_R_MONITOR_GAP,
    REG_R__COUNT
} reg_reason;

typedef enum reg_evkind {
    REG_EV_SESSION_OPEN = 1, /* worker, group, instance, opened_ms, ttl_s */
    REG_EV_SESSION_CLOSE,    /* + at_ms (closed), reason, exit_code, last_hb_ms, requests, tokens */
    REG_EV_WORKER_STATE,     /* worker, group, state, prev_state, at_ms */
    REG_EV_GROUP_STATE,      /* group, state, prev_state, at_ms, worker = the one that tipped it */
    REG_EV_WORKER_FORGET,    /* worker, group, at_ms */
    /* Not the registry's own: the alert engine's, carried by the same event
     * lane to the store's `events` so /v1/events shows alerts among state
     * changes. state = notice_state (NOTICE_FIRING or NOTICE_RESOLVED),
     * reason = notice_severity, exit_code = alert_type, instance = the rule's
     * name, worker_id / group = the subject ("" when none), at_ms = when,
     * opened_ms = when the alert began firing. (core/notice.h, core/alert.h) */
    REG_EV_ALERT,
} reg_evkind;

/* One state change. Strings are copied in, so an event outlives the record. */
typedef struct reg_event {
    uint8_t kind;       /* reg_evkind */
    uint8_t state;      /* new reg_wstate or reg_gstate */
    uint8_t prev_state; /* previous one */
    uint8_t reason;     /* reg_reason, for SESSION_CLOSE */
    bool has_exit_code;
    bool has_requests, has_tokens;
    int32_t exit_code;
    int32_t ttl_s;            /* effective TTL of the worker at the time */
    int64_t at_ms;            /* when it happened; a timeout closes at the last heartbeat */
    int64_t opened_ms;        /* the session's key (with worker_id) for SESSION_OPEN/CLOSE */
    int64_t last_hb_ms;       /* last heartbeat seen in the session */
    int64_t requests, tokens; /* last counters reported in the session */
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    /* SESSION_CLOSE by a bye that said why ("killed by signal 9 (SIGKILL)",
     * vigil run): its status text; "" otherwise. */
    char status[HB_STATUS_MAX + 1];
} reg_event;

/* Receives every event, in order, under the lock that ordered it: must be quick
 * and must not call back into the registry. */
typedef void (*reg_sink_fn)(void *ctx, const reg_event *ev);

#define REG_SHARDS 64        /* power of two */
#define REG_WHEEL_SLOTS 1024 /* power of two; horizon = SLOTS * SLOT_MS */
#define REG_SLOT_MS 50       /* wheel resolution: worst extra detection lag */
#define REG_DEFAULT_TTL_S 15
#define REG_DEFAULT_PHI 8.0
#define REG_MAX_GROUPS 65535

typedef struct reg_config {
    int32_t default_ttl_s; /* when neither heartbeat nor group gives one */
    double phi_threshold;  /* suspect when phi passes this; <= 0 disables suspect */
    int32_t held_grace_ms; /* reg_drop: dead this long after the drop (0: REG_HELD_GRACE_MS) */
} reg_config;

#define REG_HELD_GRACE_MS 2000 /* default grace after a held connection drops */

typedef struct reg reg;

reg *reg_new(const reg_config *cfg, reg_sink_fn sink, void *sink_ctx);
void reg_free(reg *r);

/* Configure a group's TTL (config file); creates the group (state unknown). */
int reg_group_set_ttl(reg *r, const char *group, int32_t ttl_s);

/* After TTLs changed (SIGHUP): file every worker in the wheel again by its
 * deadlines now, since a wheel slot is chosen once and a shorter TTL would
 * otherwise be seen only at the old deadline. O(workers); for reloads. */
void reg_rewheel(reg *r);

/* Apply a heartbeat (kind HB_BEAT or HB_START). Returns the worker's state after it. */
reg_wstate reg_heartbeat(reg *r, const hb_msg *m, int64_t now_ms);

/* Apply a bye. Closes the open session clean_shutdown (no exit code or 0) or
 * failed. An unknown worker is remembered in state left. A bye from another
 * instance than the open session's is ignored (returns REG_W_NONE).
 * Returns the worker's state after it. */
reg_wstate reg_bye(reg *r, const hb_msg *m, int64_t now_ms);

/* Many heartbeats and byes at once, for a door that receives them in bulk
 * (UDP: a recvmmsg batch of datagrams, many lines each). Item i is known
 * up front only by hash[i], reg_hash of its worker id; the batch is applied
 * shard by shard, each shard's lock taken once for all its items, and item
 * i's message is asked for (pull) only then, so a caller that parses it
 * there overlaps that work with the memory loads of the records next in
 * line. Items of one worker keep their order; items of different workers
 * are applied in shard order, not in the order given.
 *
 * pull(ctx, i, &slow) with the shard's lock held returns item i's message:
 * kind HB_BEAT, HB_START or HB_BYE, its worker id hashing to hash[i]. NULL
 * skips the item (a refused line). *slow = true instead asks for the lock
 * to be let go: slow(ctx, i, m) is then called without it (for a message
 * whose other effects take registry locks of their own) and the lock is
 * taken again for the next item. done(ctx, i, m, st) follows each message
 * applied here, lock still held, with the state as reg_heartbeat / reg_bye
 * return it; m is valid until pull is called again. n: any. */
typedef const hb_msg *(*reg_pull_fn)(void *ctx, size_t i, bool *slow);
typedef void (*reg_slow_fn)(void *ctx, size_t i, const hb_msg *m);
typedef void (*reg_done_fn)(void *ctx, size_t i, const hb_msg *m, reg_wstate st);
typedef struct reg_batch_ops {
    reg_pull_fn pull;
    reg_slow_fn slow;
    reg_done_fn done;
} reg_batch_ops;
void reg_apply_batch(reg *r, const uint32_t *hash, size_t n, const reg_batch_ops *ops, void *ctx,
                     int64_t now_ms);

/* The registry's hash of a worker id (seeded per registry, so ids cannot be
 * chosen to share one chain on every vigild alike): reg_apply_batch's key. */
uint32_t reg_hash(const reg *r, const char *id, size_t n);

/* The worker's held connection (GET /v1/connect) dropped without a bye:
 * an open session's worker turns suspect now and dead held_grace_ms later
 * unless a heartbeat comes first (then it is alive again, as after any
 * late beat). instance "" or NULL: any; another instance's drop is ignored
 * (a restarted worker's old connection closing). Returns 0, or -1 when the
 * worker is unknown, has no open session, or the instance differs. */
int reg_drop(reg *r, const char *worker_id, const char *instance, int64_t now_ms);

/* Operator actions. Return 0, or -1 when the worker is unknown. */
int reg_evict(reg *r, const char *worker_id, int64_t now_ms);
int reg_forget(reg *r, const char *worker_id, int64_t now_ms);

/* Advance every shard's wheel to now: mark suspects, time out the dead, close
 * sessions that did not resume after a vigild restart. Returns how many
 * workers it looked at. */
size_t reg_sweep(reg *r, int64_t now_ms);

/* Boot: put back a worker from the store. When it had an open session owned
 * by this node, the session stays open until boot_ms + its TTL: a heartbeat
 * before then keeps it; otherwise the sweeper closes it `timeout` at its last
 * heartbeat, or `monitor_gap` when vigild was down (downtime_ms) longer than
 * its TTL. A worker whose TTL had already run out before vigild stopped
 * (last_hb + ttl <= boot_ms - downtime_ms) is closed `timeout` at once. */
typedef struct reg_restore_rec {
    const char *worker_id, *group, *instance; /* instance may be "" */
    reg_wstate state;                         /* last persisted state */
    int64_t state_since_ms, last_hb_ms;
    int32_t ttl_s;     /* from its last heartbeat, 0 = none given */
    int64_t opened_ms; /* open session owned by this node, 0 = none */
} reg_restore_rec;
void reg_restore(reg *r, const reg_restore_rec *rec, int64_t boot_ms, int64_t downtime_ms);

/* Boot: put back a group's persisted state (before restoring its workers). */
void reg_restore_group(reg *r, const char *group, reg_gstate state, int64_t since_ms);

/* Read side: a copy of one worker's live fields. */
typedef struct reg_view {
    reg_wstate state;
    int64_t state_since_ms, last_hb_ms, opened_ms; /* opened_ms 0: no open session */
    int64_t ticks_moved_ms; /* cpu_ticks last changed (s precision); 0: never reported */
    int32_t ttl_s;          /* effective TTL */
    double phi;             /* at now_ms */
    hb_msg last;            /* worker_id, group, instance and the last samples (has bits) */
} reg_view;
bool reg_get(reg *r, const char *worker_id, int64_t now_ms, reg_view *out);

/* Every worker of one shard (0..REG_SHARDS-1), in no set order, each filled
 * into *view (caller zeroes it once; fields the registry does not keep stay
 * as set) and handed to fn *under the shard's lock*: fn must be quick (copy
 * what it needs) and must not call into the registry. Shard by shard, so a
 * scan of a million workers never holds up more than 1/REG_SHARDS of ingest
 * at a time. Returns how many workers it visited. */
typedef void (*reg_scan_fn)(void *ctx, const reg_view *v);
size_t reg_scan(reg *r, unsigned shard, int64_t now_ms, reg_scan_fn fn, void *ctx, reg_view *view);

typedef struct reg_group_view {
    char name[HB_ID_MAX + 1];
    reg_gstate state;
    int64_t state_since_ms;
    int32_t ttl_s;                /* configured, 0 = default */
    uint32_t count[REG_W__COUNT]; /* workers by state */
} reg_group_view;
/* Calls fn for every group, in name order. */
void reg_groups(reg *r, void (*fn)(void *ctx, const reg_group_view *g), void *ctx);

/* Workers by state, fleet-wide. */
void reg_counts(reg *r, uint64_t out[REG_W__COUNT]);

/* Bytes the registry itself holds (records, tables, wheels): for benchmarks. */
size_t reg_memory(reg *r);

const char *reg_wstate_name(int s);
const char *reg_gstate_name(int s);
const char *reg_reason_name(int r);
int reg_wstate_parse(const char *s); /* -1 if unknown */
int reg_reason_parse(const char *s);
int reg_gstate_parse(const char *s);

#endif
