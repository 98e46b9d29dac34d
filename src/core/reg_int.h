/*
 * reg_int: the registry's private layout, shared by reg.c (records, the
 * state machine entry points), reg_group.c (group table and verdicts) and
 * reg_wheel.c (timer wheel, sweep, boot restore). Nothing outside src/core/reg*.c
 * includes this.
 *
 * Lock order: shard mutex, then the group mutex (gmu). The sink is called
 * with the lock that ordered the event held.
 */
#ifndef VIGIL_REG_INT_H
#define VIGIL_REG_INT_H

#include "core/reg.h"

#include <pthread.h>

/* rw.flags */
#define RW_INWHEEL 0x01 /* linked in its shard's wheel (wnext valid) */
#define RW_RECOVER 0x02 /* open session restored at boot, not yet confirmed by a heartbeat */
#define RW_GAP 0x04     /* ...and vigild was down longer than its TTL: close monitor_gap */
#define RW_EXPIRED 0x08 /* ...and its TTL ran out before vigild stopped: close at once */
#define RW_ZOMBIE 0x10  /* unlinked from the hash, freed when the wheel reaches it */
#define RW_DROPPED 0x20 /* its held connection dropped: dead at since_ms + held_grace_ms */

#define RW_SAMPLE_BITS                                                                             \
    (HB_HAS_SEQ | HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL | HB_HAS_GPU_MEM | HB_HAS_THERMAL |   \
     HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT | HB_HAS_REQUESTS | HB_HAS_TOKENS |       \
     HB_HAS_CPU_TICKS)

/* One worker. Field order packs it; the id and instance strings follow the
 * struct in the same allocation ("id\0instance\0"), instance with room for
 * inst_cap bytes. */
typedef struct rw {
    struct rw *hnext; /* hash chain */
    struct rw *wnext; /* wheel slot list */
    int64_t last_hb_ms;
    int64_t opened_ms; /* open session's key; 0 = none */
    int64_t since_ms;  /* current state since */
    int64_t seq, requests, tokens, cpu_ticks;
    /* Gauges saturate at 2^32-1 in memory (the raw table keeps them exact):
     * 12 bytes a worker is worth more than backlogs of four billion. */
    uint32_t backlog, capacity, in_flight;
    float cpu, mem, mem_avail, gpu_mem;
    phi_state phi;
    int32_t ttl_s; /* from its heartbeats; 0 = none given */
    uint32_t hash;
    uint32_t has; /* HB_HAS_* of the samples above */
    /* When cpu_ticks last changed, in epoch seconds (0: never reported): the
     * `stuck` rule's input. Seconds in 4 bytes, since a stuck rule's `for` is
     * minutes, and a worker record is kept under 256 bytes. */
    uint32_t ticks_moved_s;
    uint16_t group;
    uint8_t state;   /* reg_wstate */
    uint8_t flags;   /* RW_* */
    uint8_t thermal; /* everything above id_len is copied when a record is replaced */
    uint8_t id_len, inst_len, inst_cap;
    char s[];
} rw;

static inline const char *rw_id(const rw *w)
{
    return w->s;
}
static inline const char *rw_inst(const rw *w)
{
    return w->s + w->id_len + 1;
}
static inline int rw_open(const rw *w)
{
    return w->opened_ms != 0;
}

typedef struct rshard {
    pthread_mutex_t mu;
    rw **buckets;
    uint32_t nbuckets; /* power of two */
    uint32_t count;
    int64_t last_tick; /* wheel: last tick processed; -1 before the first sweep */
    rw *wheel[REG_WHEEL_SLOTS];
} rshard;

typedef struct rgroup {
    char name[HB_ID_MAX + 1];
    int32_t ttl_s; /* configured; 0 = none */
    uint8_t state; /* reg_gstate */
    int64_t since_ms;
    uint32_t count[REG_W__COUNT];
    uint32_t idx;         /* its slot in reg.groups */
    struct rgroup *hnext; /* name hash chain */
} rgroup;

#define RG_BUCKETS 1024

struct reg {
    reg_config cfg;
    double phi_z; /* normal quantile of cfg.phi_threshold, NAN = off */
    reg_sink_fn sink;
    void *sink_ctx;
    uint32_t seed;
    int64_t boot_ms; /* set by reg_restore: deadline base for restored sessions */

    pthread_mutex_t gmu; /* groups and fleet counts */
    uint32_t ngroups;    /* index 0 is the unnamed group (workers that gave none) */
    rgroup *groups[REG_MAX_GROUPS + 1];
    rgroup *gbuckets[RG_BUCKETS];
    uint64_t counts[REG_W__COUNT];

    size_t rec_bytes; /* bytes in worker records (under gmu: updated with counts) */

    /* Workers whose held connection dropped (reg_drop), and when each is
     * due: checked by every sweep, since their wheel slot is the TTL's,
     * later. Few (only held connections), so a plain array. Lock order:
     * shard, then dmu; the sweep takes them apart. */
    pthread_mutex_t dmu;
    struct reg_due {
        char id[HB_ID_MAX + 1];
        int64_t due_ms;
    } * due;
    size_t ndue, cdue;
    rshard shards[REG_SHARDS];
};

static inline rshard *shard_of(reg *r, uint32_t h)
{
    return &r->shards[h & (REG_SHARDS - 1)];
}
static inline uint32_t bucket_of(const rshard *sh, uint32_t h)
{
    return (h >> 6) & (sh->nbuckets - 1); /* low 6 bits chose the shard */
}

/* reg.c */
int64_t rw_ttl_ms(const reg *r, const rw *w);
void rw_fill_event(const reg *r, const rw *w, reg_event *ev, int kind, int64_t at_ms);
void rw_set_state(reg *r, rw *w, int state, int64_t now_ms, int clean);
void rw_close_session(reg *r, rw *w, int reason, int64_t at_ms, const hb_msg *bye);
rw *rw_alloc(reg *r, const char *id, size_t id_len, const char *inst, size_t inst_len);
void rw_free(reg *r, rw *w);
/* Caller holds sh->mu. */
rw **rw_find_link(rshard *sh, uint32_t h, const char *id, size_t n);
void rw_link(rshard *sh, rw *w); /* at its bucket's head; grows the table */
/* Lock the shard of `id` and return its record (NULL if unknown; the lock is
 * held either way: caller unlocks *shout). */
rw *rw_lookup(reg *r, const char *id, rshard **shout, rw ***ppout);
/* reg_heartbeat and reg_bye without the locking: m's worker hashes to h
 * (reg_hash of its id) in shard sh, whose lock the caller holds. */
reg_wstate rw_beat(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms);
reg_wstate rw_bye(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms);

/* reg_group.c */
int rg_intern(reg *r, const char *name); /* index, -1 when the table is full */
const char *rg_name(const reg *r, int idx);
/* Move one worker's count from (g0, s0) to (g1, s1); REG_W_NONE = not counted.
 * Emits the group verdicts that follow; `clean` says whether a group left
 * with zero up did so on purpose (scaled_down) or not (crashed). */
void rg_move(reg *r, int g0, int s0, int g1, int s1, int64_t now_ms, int clean, const rw *w);
#define RG_QUIET (-1) /* rg_move's `clean` for boot restore: counts only, no verdicts */

/* reg_wheel.c */
void wheel_insert(reg *r, rshard *sh, rw *w);
/* Act on w if a deadline of its has passed at now_ms; returns 1 if it did. */
int rw_expire(reg *r, rw *w, int64_t now_ms);

#endif
