/*
 * reg_wheel: deadlines. Each shard keeps a hashed timer wheel; a worker sits
 * in the slot of the first millisecond at which one of its deadlines will
 * have passed (suspect by phi, dead by TTL, or the end of its post-restart
 * grace). Heartbeats never move it: when the slot comes round the real
 * deadline is recomputed and the worker is either acted on or re-filed.
 * The sweep therefore costs about one visit per worker per heartbeat
 * interval, independent of how many workers are idle in far slots, and
 * detection is late by at most one slot (REG_SLOT_MS) plus the sweep period.
 *
 * This file also holds boot restore, because a restored open session is
 * just a worker with a special deadline.
 */
#include "core/reg_int.h"

#include <stdlib.h>
#include <string.h>

#define NEVER INT64_MAX

/* w's deadlines: the last millisecond at which each still holds (it fires
 * once now is past it), NEVER when it does not apply. The sweeper files a
 * worker by the earliest; rw_expire acts on them in priority order.
 * now_ms: suspect is exact only where now_ms may be past it; below phi's
 * floor (phi_suspect_floor_ms) the floor stands in, which now_ms is not
 * past either. NEVER: always exact (the wheel files by it). */
typedef struct deadlines {
    int64_t recover; /* end of the post-restart grace (RW_RECOVER only) */
    int64_t dead;    /* last heartbeat + TTL */
    int64_t suspect; /* last heartbeat + phi's suspect-after (alive only) */
} deadlines;

static deadlines deadlines_of(const reg *r, const rw *w, int64_t now_ms)
{
    deadlines d = {NEVER, NEVER, NEVER};
    if (!rw_open(w)) return d;
    int64_t ttl = rw_ttl_ms(r, w);
    if (w->flags & RW_RECOVER) {
        d.recover = w->flags & RW_EXPIRED ? r->boot_ms : r->boot_ms + ttl;
        return d; /* the gap was vigild's: neither TTL nor phi apply until it beats */
    }
    d.dead = w->last_hb_ms + ttl;
    if ((w->flags & RW_DROPPED) && w->since_ms + r->cfg.held_grace_ms < d.dead)
        d.dead =
            w->since_ms + r->cfg.held_grace_ms; /* since_ms: when it turned suspect, the drop */
    if (w->state == REG_W_ALIVE) {
        double fl = phi_suspect_floor_ms(&w->phi, r->phi_z);
        if (fl >= 0 && now_ms <= w->last_hb_ms + (int64_t)fl) {
            d.suspect = w->last_hb_ms + (int64_t)fl;
        } else {
            double sa = phi_suspect_after_ms(&w->phi, r->phi_z);
            if (sa >= 0) d.suspect = w->last_hb_ms + (int64_t)sa;
        }
    }
    return d;
}

int rw_expire(reg *r, rw *w, int64_t now_ms)
{
    deadlines d = deadlines_of(r, w, now_ms);
    if (now_ms > d.recover) {
        /* Nobody saw it end: if vigild was down longer than the TTL the end
         * fell in our blind spot (monitor_gap), else it would have timed
         * out while we watched. Either way it last lived at its last beat. */
        int reason = (w->flags & RW_GAP) ? REG_R_MONITOR_GAP : REG_R_TIMEOUT;
        rw_close_session(r, w, reason, w->last_hb_ms, NULL);
        rw_set_state(r, w, REG_W_DEAD, now_ms, 0);
        return 1;
    }
    /* Dead before suspect: a worker past both is dead, not merely late. */
    if (now_ms > d.dead) {
        rw_close_session(r, w, REG_R_TIMEOUT, w->last_hb_ms, NULL);
        rw_set_state(r, w, REG_W_DEAD, now_ms, 0);
        return 1;
    }
    if (now_ms > d.suspect) {
        rw_set_state(r, w, REG_W_SUSPECT, now_ms, 0);
        return 1;
    }
    return 0;
}

void wheel_insert(reg *r, rshard *sh, rw *w)
{
    deadlines d = deadlines_of(r, w, NEVER);
    int64_t first = d.recover < d.dead ? d.recover : d.dead;
    if (d.suspect < first) first = d.suspect;
    if (first == NEVER) return;
    int64_t tick = (first + 1) / REG_SLOT_MS; /* the first ms at which rw_expire acts */
    /* Never into a slot already passed (or being processed): it would wait a
     * whole turn of the wheel. */
    if (sh->last_tick >= 0 && tick <= sh->last_tick) tick = sh->last_tick + 1;
    rw **slot = &sh->wheel[tick & (REG_WHEEL_SLOTS - 1)];
    w->wnext = *slot;
    *slot = w;
    w->flags |= RW_INWHEEL;
}

/* Dropped held connections whose grace is over (reg_drop): their wheel slot
 * is the TTL's, so they are acted on here. */
static size_t sweep_due(reg *r, int64_t now_ms)
{
    struct reg_due stackv[32], *v = stackv;
    size_t n = 0;
    pthread_mutex_lock(&r->dmu);
    for (size_t i = 0; i < r->ndue;) {
        if (now_ms <= r->due[i].due_ms || n == sizeof stackv / sizeof *stackv) {
            i++;
            continue;
        }
        v[n++] = r->due[i];
        r->due[i] = r->due[--r->ndue];
    }
    pthread_mutex_unlock(&r->dmu);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].id);
        uint32_t h = reg_hash(r, v[i].id, len);
        rshard *sh = &r->shards[h & (REG_SHARDS - 1)];
        pthread_mutex_lock(&sh->mu);
        rw *w = *rw_find_link(sh, h, v[i].id, len);
        if (w && (w->flags & RW_DROPPED)) rw_expire(r, w, now_ms);
        pthread_mutex_unlock(&sh->mu);
    }
    return n;
}

size_t reg_sweep(reg *r, int64_t now_ms)
{
    size_t seen = 0;
    int64_t now_tick = now_ms / REG_SLOT_MS;
    for (int i = 0; i < REG_SHARDS; i++) {
        rshard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        /* First sweep, or a jump longer than the wheel: one full turn visits
         * every slot once, which is all any entry needs. */
        if (sh->last_tick < 0 || now_tick - sh->last_tick > REG_WHEEL_SLOTS)
            sh->last_tick = now_tick - REG_WHEEL_SLOTS;
        while (sh->last_tick < now_tick) {
            sh->last_tick++;
            rw **slot = &sh->wheel[sh->last_tick & (REG_WHEEL_SLOTS - 1)];
            rw *w = *slot;
            *slot = NULL;
            while (w) {
                rw *nx = w->wnext;
                w->flags &= (uint8_t)~RW_INWHEEL;
                if (w->flags & RW_ZOMBIE) {
                    rw_free(r, w);
                } else {
                    rw_expire(r, w, now_ms);
                    wheel_insert(r, sh, w);
                }
                seen++;
                w = nx;
            }
        }
        pthread_mutex_unlock(&sh->mu);
    }
    return seen + sweep_due(r, now_ms);
}

void reg_rewheel(reg *r)
{
    for (int i = 0; i < REG_SHARDS; i++) {
        rshard *sh = &r->shards[i];
        pthread_mutex_lock(&sh->mu);
        for (int s = 0; s < REG_WHEEL_SLOTS; s++) {
            for (rw *w = sh->wheel[s], *nx; w; w = nx) {
                nx = w->wnext;
                w->flags &= (uint8_t)~RW_INWHEEL;
                if (w->flags & RW_ZOMBIE) rw_free(r, w); /* only the wheel still had it */
            }
            sh->wheel[s] = NULL;
        }
        for (uint32_t b = 0; b < sh->nbuckets; b++)
            for (rw *w = sh->buckets[b]; w; w = w->hnext)
                wheel_insert(r, sh, w);
        pthread_mutex_unlock(&sh->mu);
    }
}

int reg_drop(reg *r, const char *worker_id, const char *instance, int64_t now_ms)
{
    size_t n = strlen(worker_id);
    uint32_t h = reg_hash(r, worker_id, n);
    rshard *sh = &r->shards[h & (REG_SHARDS - 1)];
    pthread_mutex_lock(&sh->mu);
    rw *w = *rw_find_link(sh, h, worker_id, n);
    int rc = -1;
    if (w && !rw_expire(r, w, now_ms) && rw_open(w) && !(w->flags & RW_RECOVER) &&
        (!instance || !instance[0] || strcmp(instance, rw_inst(w)) == 0)) {
        if (w->state == REG_W_ALIVE) rw_set_state(r, w, REG_W_SUSPECT, now_ms, 0);
        if (!(w->flags & RW_DROPPED)) {
            w->flags |= RW_DROPPED;
            pthread_mutex_lock(&r->dmu);
            if (r->ndue == r->cdue) {
                size_t nc = r->cdue ? r->cdue * 2 : 16;
                struct reg_due *nd = realloc(r->due, nc * sizeof *nd);
                if (nd) {
                    r->due = nd;
                    r->cdue = nc;
                }
            }
            /* Out of memory: no early death, the TTL still applies. */
            if (r->ndue < r->cdue) {
                memcpy(r->due[r->ndue].id, worker_id, n + 1);
                r->due[r->ndue++].due_ms = w->since_ms + r->cfg.held_grace_ms;
            }
            pthread_mutex_unlock(&r->dmu);
        }
        rc = 0;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

void reg_restore(reg *r, const reg_restore_rec *rec, int64_t boot_ms, int64_t downtime_ms)
{
    r->boot_ms = boot_ms;
    int g = rec->group && rec->group[0] ? rg_intern(r, rec->group) : 0;
    if (g < 0) return;
    size_t n = strlen(rec->worker_id);
    const char *inst = rec->instance ? rec->instance : "";
    uint32_t h = reg_hash(r, rec->worker_id, n);
    rshard *sh = &r->shards[h & (REG_SHARDS - 1)];
    pthread_mutex_lock(&sh->mu);
    if (*rw_find_link(sh, h, rec->worker_id, n)) goto out; /* already here */
    rw *w = rw_alloc(r, rec->worker_id, n, inst, strlen(inst));
    if (!w) goto out;
    w->hash = h;
    w->group = (uint16_t)g;
    w->state = (uint8_t)rec->state;
    w->since_ms = rec->state_since_ms;
    w->last_hb_ms = rec->last_hb_ms;
    w->ttl_s = rec->ttl_s;
    if (rec->opened_ms) {
        w->opened_ms = rec->opened_ms;
        if (w->state != REG_W_ALIVE && w->state != REG_W_SUSPECT) w->state = REG_W_ALIVE;
        int64_t ttl = rw_ttl_ms(r, w);
        w->flags |= RW_RECOVER;
        if (w->last_hb_ms + ttl <= boot_ms - downtime_ms)
            w->flags |= RW_EXPIRED; /* it timed out while vigild still watched */
        else if (downtime_ms > ttl)
            w->flags |= RW_GAP;
    } else if (w->state == REG_W_ALIVE || w->state == REG_W_SUSPECT) {
        w->state = REG_W_DEAD; /* up without a session of ours: nobody watches it here */
    }
    if (w->state < REG_W_ALIVE || w->state >= REG_W__COUNT) w->state = REG_W_DEAD;
    rw_link(sh, w);
    rg_move(r, 0, REG_W_NONE, g, w->state, boot_ms, RG_QUIET, w);
    wheel_insert(r, sh, w);
out:
    pthread_mutex_unlock(&sh->mu);
}
