/*
 * reg: worker records and the state machine's entry points (heartbeat, bye,
 * evict, forget) plus the read side. The wheel and boot restore live in
 * reg_wheel.c, groups in reg_group.c; the layout is in reg_int.h.
 *
 * A heartbeat takes one shard lock, finds or creates the record, and in the
 * common case (an alive worker beating again) only updates numbers: no
 * allocation, no group lock, no event. Everything that changes a state goes
 * through rw_set_state / rw_close_session so counts, verdicts and events
 * cannot drift apart.
 */
#include "core/reg_int.h"

#include <malloc.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RW_MIN_BUCKETS 64 /* per shard, at start */

static const char *const wstate_names[REG_W__COUNT] = {"",     "alive", "suspect",
                                                       "dead", "left",  "evicted"};
static const char *const gstate_names[REG_G__COUNT] = {"unknown", "alive", "scaled_down",
                                                       "crashed"};
static const char *const reason_names[REG_R__COUNT] = {
    "", "clean_shutdown", "failed", "timeout", "restarted", "evicted", "monitor_gap"};

static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "";
}
static int parse_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (names[i][0] && strcmp(names[i], s) == 0) return i;
    return -1;
}
const char *reg_wstate_name(int s)
{
    return name_of(wstate_names, REG_W__COUNT, s);
}
const char *reg_gstate_name(int s)
{
    return name_of(gstate_names, REG_G__COUNT, s);
}
const char *reg_reason_name(int r)
{
    return name_of(reason_names, REG_R__COUNT, r);
}
int reg_wstate_parse(const char *s)
{
    return parse_name(wstate_names, REG_W__COUNT, s);
}
int reg_gstate_parse(const char *s)
{
    return parse_name(gstate_names, REG_G__COUNT, s);
}
int reg_reason_parse(const char *s)
{
    return parse_name(reason_names, REG_R__COUNT, s);
}

/* Seeded per registry, so ids cannot be chosen to pile into one chain on
 * every vigild alike. Eight bytes a multiply, then a full avalanche (the low
 * bits pick the shard, the next ones the bucket): FNV-1a's byte a multiply
 * was a chain of 12 dependent multiplies for a 12-byte id, 6 % of a UDP
 * line's time (perf). */
#define HASH_K1 0xbf58476d1ce4e5b9ull
#define HASH_K2 0x94d049bb133111ebull
uint32_t reg_hash(const reg *r, const char *s, size_t n)
{
    uint64_t h = ((uint64_t)r->seed << 32 | r->seed) ^ (n * 0x9e3779b97f4a7c15ull);
    size_t len = n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t x;
        memcpy(&x, s, 8);
        h = (h ^ x) * HASH_K1;
        h ^= h >> 31;
    }
    if (n) {
        /* The last 1-7 bytes in one load where the id is long enough: the
         * 8 bytes that end with them, shifted (the length is in h, so the
         * overlap loses nothing). Byte by byte, a 12-byte id's 4 bytes
         * were half of the hash's instructions (callgrind). The value
         * differs with byte order, which is fine: it never leaves the
         * process (the seed is per registry anyway). */
        uint64_t x = 0;
        if (len >= 8) {
            memcpy(&x, s + n - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            x >>= 8 * (8 - n); /* the last bytes are the high ones */
#else
            x &= ~0ull >> (8 * (8 - n));
#endif
        } else {
            for (size_t i = 0; i < n; i++)
                x |= (uint64_t)(unsigned char)s[i] << (8 * i);
        }
        h = (h ^ x) * HASH_K1;
        h ^= h >> 31;
    }
    h *= HASH_K2;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

reg *reg_new(const reg_config *cfg, reg_sink_fn sink, void *sink_ctx)
{
    reg *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cfg = *cfg;
    if (r->cfg.default_ttl_s <= 0) r->cfg.default_ttl_s = REG_DEFAULT_TTL_S;
    if (r->cfg.held_grace_ms <= 0) r->cfg.held_grace_ms = REG_HELD_GRACE_MS;
    r->phi_z = phi_threshold_z(r->cfg.phi_threshold);
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->seed = (uint32_t)(uintptr_t)r * 2654435761u;
    pthread_mutex_init(&r->gmu, NULL);
    pthread_mutex_init(&r->dmu, NULL);
    if (rg_intern(r, "") != 0) {
        free(r);
        return NULL;
    }
    for (int i = 0; i < REG_SHARDS; i++) {
        rshard *sh = &r->shards[i];
        pthread_mutex_init(&sh->mu, NULL);
        sh->nbuckets = RW_MIN_BUCKETS;
        sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
        sh->last_tick = -1;
        if (!sh->buckets) {
            reg_free(r);
            return NULL;
        }
    }
    return r;
}

void reg_free(reg *r)
{
    if (!r) return;
    for (int i = 0; i < REG_SHARDS; i++) {
        rshard *sh = &r->shards[i];
        /* Zombies are only reachable from the wheel; everything else from the hash. */
        for (int s = 0; s < REG_WHEEL_SLOTS; s++)
            for (rw *w = sh->wheel[s], *nx; w; w = nx) {
                nx = w->wnext;
                if (w->flags & RW_ZOMBIE) free(w);
            }
        for (uint32_t b = 0; sh->buckets && b < sh->nbuckets; b++)
            for (rw *w = sh->buckets[b], *nx; w; w = nx) {
                nx = w->hnext;
                free(w);
            }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    for (uint32_t g = 0; g < r->ngroups; g++)
        free(r->groups[g]);
    pthread_mutex_destroy(&r->gmu);
    pthread_mutex_destroy(&r->dmu);
    free(r->due);
    free(r);
}

int64_t rw_ttl_ms(const reg *r, const rw *w)
{
    int32_t t = w->ttl_s;
    if (t <= 0) t = r->groups[w->group]->ttl_s;
    if (t <= 0) t = r->cfg.default_ttl_s;
    return (int64_t)t * 1000;
}

void rw_fill_event(const reg *r, const rw *w, reg_event *ev, int kind, int64_t at_ms)
{
    memset(ev, 0, offsetof(reg_event, worker_id));
    ev->kind = (uint8_t)kind;
    ev->at_ms = at_ms;
    ev->opened_ms = w->opened_ms;
    ev->last_hb_ms = w->last_hb_ms;
    ev->ttl_s = (int32_t)(rw_ttl_ms(r, w) / 1000);
    memcpy(ev->worker_id, rw_id(w), (size_t)w->id_len + 1);
    strcpy(ev->group, rg_name(r, w->group));
    memcpy(ev->instance, rw_inst(w), (size_t)w->inst_len + 1);
    ev->status[0] = '\0';
}

static void emit(reg *r, const reg_event *ev)
{
    if (r->sink) r->sink(r->sink_ctx, ev);
}

void rw_set_state(reg *r, rw *w, int state, int64_t now_ms, int clean)
{
    int prev = w->state;
    rg_move(r, w->group, prev, w->group, state, now_ms, clean, w);
    w->state = (uint8_t)state;
    w->since_ms = now_ms;
    reg_event ev;
    rw_fill_event(r, w, &ev, REG_EV_WORKER_STATE, now_ms);
    ev.state = (uint8_t)state;
    ev.prev_state = (uint8_t)prev;
    emit(r, &ev);
}

void rw_close_session(reg *r, rw *w, int reason, int64_t at_ms, const hb_msg *bye)
{
    reg_event ev;
    rw_fill_event(r, w, &ev, REG_EV_SESSION_CLOSE, at_ms);
    ev.reason = (uint8_t)reason;
    if (bye && (bye->has & HB_HAS_EXIT_CODE)) {
        ev.has_exit_code = true;
        ev.exit_code = bye->exit_code;
    }
    if (bye && (bye->has & HB_HAS_STATUS)) snprintf(ev.status, sizeof ev.status, "%s", bye->status);
    ev.has_requests = (w->has & HB_HAS_REQUESTS) != 0;
    ev.requests = w->requests;
    ev.has_tokens = (w->has & HB_HAS_TOKENS) != 0;
    ev.tokens = w->tokens;
    emit(r, &ev);
    w->opened_ms = 0;
    w->flags &= (uint8_t) ~(RW_RECOVER | RW_GAP | RW_EXPIRED);
}

static void open_session(reg *r, rw *w, int64_t now_ms, int64_t prev_opened)
{
    /* (worker_id, opened_ms) keys the session in the store: never reuse one. */
    w->opened_ms = now_ms > prev_opened ? now_ms : prev_opened + 1;
    phi_reset(&w->phi);
    reg_event ev;
    rw_fill_event(r, w, &ev, REG_EV_SESSION_OPEN, w->opened_ms);
    emit(r, &ev);
}

static size_t rw_size(size_t id_len, size_t inst_cap)
{
    return offsetof(rw, s) + id_len + 1 + inst_cap + 1; /* no tail padding */
}

rw *rw_alloc(reg *r, const char *id, size_t id_len, const char *inst, size_t inst_len)
{
    rw *w = calloc(1, rw_size(id_len, inst_len));
    if (!w) return NULL;
    w->id_len = (uint8_t)id_len;
    w->inst_len = w->inst_cap = (uint8_t)inst_len;
    memcpy(w->s, id, id_len);
    memcpy(w->s + id_len + 1, inst, inst_len);
    pthread_mutex_lock(&r->gmu);
    r->rec_bytes += malloc_usable_size(w);
    pthread_mutex_unlock(&r->gmu);
    return w;
}

void rw_free(reg *r, rw *w)
{
    pthread_mutex_lock(&r->gmu);
    r->rec_bytes -= malloc_usable_size(w);
    pthread_mutex_unlock(&r->gmu);
    free(w);
}

/* Pointer to the link that points at the worker (or at NULL where it would be). */
rw **rw_find_link(rshard *sh, uint32_t h, const char *id, size_t n)
{
    rw **pp = &sh->buckets[bucket_of(sh, h)];
    for (; *pp; pp = &(*pp)->hnext)
        if ((*pp)->hash == h && (*pp)->id_len == n && memcmp((*pp)->s, id, n) == 0) break;
    return pp;
}

static void grow(rshard *sh);

void rw_link(rshard *sh, rw *w)
{
    rw **b = &sh->buckets[bucket_of(sh, w->hash)];
    w->hnext = *b;
    *b = w;
    if (++sh->count > sh->nbuckets) grow(sh);
}

static void grow(rshard *sh)
{
    uint32_t nb = sh->nbuckets * 2;
    rw **b = calloc(nb, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (uint32_t i = 0; i < sh->nbuckets; i++)
        for (rw *w = sh->buckets[i], *nx; w; w = nx) {
            nx = w->hnext;
            uint32_t k = (w->hash >> 6) & (nb - 1);
            w->hnext = b[k];
            b[k] = w;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = nb;
}

/* Give w (linked at *pp) instance `inst`. A longer one than fits needs a new
 * record: the old one stays in the wheel as a zombie (the wheel is singly
 * linked, so it cannot be unlinked cheaply) and is freed when reached. */
static rw *set_instance(reg *r, rshard *sh, rw **pp, rw *w, const char *inst, size_t n)
{
    if (n <= w->inst_cap) {
        memcpy(w->s + w->id_len + 1, inst, n);
        w->s[w->id_len + 1 + n] = '\0';
        w->inst_len = (uint8_t)n;
        return w;
    }
    rw *nw = rw_alloc(r, w->s, w->id_len, inst, n);
    if (!nw) return w; /* keep the old instance text; state stays right */
    memcpy(nw, w, offsetof(rw, id_len));
    nw->flags &= (uint8_t) ~(RW_INWHEEL | RW_ZOMBIE);
    nw->wnext = NULL;
    *pp = nw;
    if (w->flags & RW_INWHEEL) {
        w->flags |= RW_ZOMBIE;
        wheel_insert(r, sh, nw);
    } else {
        rw_free(r, w);
    }
    return nw;
}

static uint32_t sat32(int64_t v)
{
    return v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void take_samples(rw *w, const hb_msg *m, int64_t now_ms)
{
    if ((m->has & HB_HAS_CPU_TICKS) &&
        (!(w->has & HB_HAS_CPU_TICKS) || m->cpu_ticks != w->cpu_ticks))
        w->ticks_moved_s = (uint32_t)(now_ms / 1000);
    w->has = m->has & RW_SAMPLE_BITS;
    w->seq = m->seq;
    w->cpu = (float)m->cpu;
    w->mem = (float)m->mem;
    w->mem_avail = (float)m->mem_available_gb;
    w->gpu_mem = (float)m->gpu_mem_active_gb;
    w->thermal = m->thermal;
    w->backlog = sat32(m->backlog);
    w->capacity = sat32(m->capacity);
    w->in_flight = sat32(m->in_flight);
    w->requests = m->requests;
    w->tokens = m->tokens;
    w->cpu_ticks = m->cpu_ticks;
    if (m->has & HB_HAS_TTL) w->ttl_s = m->ttl_s;
}

/* Find or create the record for m's worker, its group interned. Returns NULL
 * only when memory or the group table ran out. Caller holds sh->mu. */
static rw *upsert(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms, rw ***ppout)
{
    size_t n = strlen(m->worker_id);
    rw **pp = rw_find_link(sh, h, m->worker_id, n);
    rw *w = *pp;
    int g = -1;
    if (m->has & HB_HAS_GROUP) {
        /* Fast path: same group as before, no group lock. */
        if (w && strcmp(rg_name(r, w->group), m->group) == 0)
            g = w->group;
        else if ((g = rg_intern(r, m->group)) < 0)
            return NULL;
    }
    if (!w) {
        const char *inst = (m->has & HB_HAS_INSTANCE) ? m->instance : "";
        w = rw_alloc(r, m->worker_id, n, inst, strlen(inst));
        if (!w) return NULL;
        w->hash = h;
        w->group = (uint16_t)(g > 0 ? g : 0);
        rw_link(sh, w);
        pp = rw_find_link(sh, h, m->worker_id, n);
    } else if (g >= 0 && g != w->group) {
        /* Moving group: leaving the old one on purpose is not a crash. The
         * state event (same state) tells the store the new group. */
        int g0 = w->group;
        w->group = (uint16_t)g;
        rg_move(r, g0, w->state, g, w->state, now_ms, 1, w);
        if (w->state != REG_W_NONE) {
            reg_event ev;
            rw_fill_event(r, w, &ev, REG_EV_WORKER_STATE, now_ms);
            ev.state = ev.prev_state = w->state;
            emit(r, &ev);
        }
    }
    *ppout = pp;
    return w;
}

/* Find or create m's worker (hash h, in shard sh, whose lock the caller
 * holds) and apply any deadline that passed before the sweeper got there, so
 * outcomes never depend on the sweeper's timing. NULL when the registry is full. */
static rw *upsert_expire(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms,
                         rw ***ppout)
{
    rw *w = upsert(r, sh, h, m, now_ms, ppout);
    if (w) rw_expire(r, w, now_ms);
    return w;
}

reg_wstate rw_beat(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms)
{
    rw **pp;
    rw *w = upsert_expire(r, sh, h, m, now_ms, &pp);
    if (!w) return REG_W_NONE;
    w->flags &= (uint8_t)~RW_DROPPED; /* a beat: whatever held connection dropped, it lives */
    int has_inst = (m->has & HB_HAS_INSTANCE) != 0;
    int new_inst = has_inst && (w->inst_len != strlen(m->instance) ||
                                memcmp(rw_inst(w), m->instance, w->inst_len) != 0);
    if (rw_open(w) && (m->kind == HB_START || (new_inst && w->inst_len > 0))) {
        int64_t prev_opened = w->opened_ms;
        rw_close_session(r, w, REG_R_RESTARTED, w->last_hb_ms, NULL);
        if (has_inst) w = set_instance(r, sh, pp, w, m->instance, strlen(m->instance));
        take_samples(w, m, now_ms);
        w->last_hb_ms = now_ms;
        open_session(r, w, now_ms, prev_opened);
        if (w->state != REG_W_ALIVE) rw_set_state(r, w, REG_W_ALIVE, now_ms, 0);
    } else if (rw_open(w)) {
        if (w->flags & RW_RECOVER)
            w->flags &= (uint8_t) ~(RW_RECOVER | RW_GAP | RW_EXPIRED); /* the gap is vigild's */
        else if (now_ms > w->last_hb_ms)
            phi_observe(&w->phi, (double)(now_ms - w->last_hb_ms));
        if (new_inst) w = set_instance(r, sh, pp, w, m->instance, strlen(m->instance));
        take_samples(w, m, now_ms);
        if (now_ms > w->last_hb_ms) w->last_hb_ms = now_ms;
        if (w->state != REG_W_ALIVE) rw_set_state(r, w, REG_W_ALIVE, now_ms, 0);
    } else {
        if (new_inst) w = set_instance(r, sh, pp, w, m->instance, strlen(m->instance));
        take_samples(w, m, now_ms);
        w->last_hb_ms = now_ms;
        open_session(r, w, now_ms, 0);
        rw_set_state(r, w, REG_W_ALIVE, now_ms, 0);
    }
    if (!(w->flags & RW_INWHEEL)) wheel_insert(r, sh, w);
    return (reg_wstate)w->state;
}

/* One locked call of body, m's shard found by its id's hash. */
static reg_wstate locked(reg *r, const hb_msg *m, int64_t now_ms,
                         reg_wstate (*body)(reg *, rshard *, uint32_t, const hb_msg *, int64_t))
{
    uint32_t h = reg_hash(r, m->worker_id, strlen(m->worker_id));
    rshard *sh = shard_of(r, h);
    pthread_mutex_lock(&sh->mu);
    reg_wstate st = body(r, sh, h, m, now_ms);
    pthread_mutex_unlock(&sh->mu);
    return st;
}

reg_wstate reg_heartbeat(reg *r, const hb_msg *m, int64_t now_ms)
{
    return locked(r, m, now_ms, rw_beat);
}

rw *rw_lookup(reg *r, const char *id, rshard **shout, rw ***ppout)
{
    size_t n = strlen(id);
    uint32_t h = reg_hash(r, id, n);
    rshard *sh = shard_of(r, h);
    pthread_mutex_lock(&sh->mu);
    rw **pp = rw_find_link(sh, h, id, n);
    *shout = sh;
    if (ppout) *ppout = pp;
    return *pp;
}

reg_wstate rw_bye(reg *r, rshard *sh, uint32_t h, const hb_msg *m, int64_t now_ms)
{
    rw **pp;
    rw *w = upsert_expire(r, sh, h, m, now_ms, &pp);
    if (!w) return REG_W_NONE;
    if (rw_open(w) && (m->has & HB_HAS_INSTANCE) && w->inst_len > 0 &&
        strcmp(rw_inst(w), m->instance) != 0)
        return REG_W_NONE; /* a stale bye from an instance that is no longer the live one */
    take_samples(w, m, now_ms);
    if (rw_open(w)) {
        int clean = !(m->has & HB_HAS_EXIT_CODE) || m->exit_code == 0;
        if (now_ms > w->last_hb_ms) w->last_hb_ms = now_ms;
        rw_close_session(r, w, clean ? REG_R_CLEAN_SHUTDOWN : REG_R_FAILED, now_ms, m);
        rw_set_state(r, w, REG_W_LEFT, now_ms, clean);
    } else if (w->state != REG_W_LEFT) {
        if (w->state == REG_W_NONE) w->last_hb_ms = now_ms;
        rw_set_state(r, w, REG_W_LEFT, now_ms, 1);
    }
    return (reg_wstate)w->state;
}

reg_wstate reg_bye(reg *r, const hb_msg *m, int64_t now_ms)
{
    return locked(r, m, now_ms, rw_bye);
}

int reg_evict(reg *r, const char *worker_id, int64_t now_ms)
{
    rshard *sh;
    rw *w = rw_lookup(r, worker_id, &sh, NULL);
    if (w) {
        if (rw_open(w)) rw_close_session(r, w, REG_R_EVICTED, now_ms, NULL);
        if (w->state != REG_W_EVICTED) rw_set_state(r, w, REG_W_EVICTED, now_ms, 1);
    }
    pthread_mutex_unlock(&sh->mu);
    return w ? 0 : -1;
}

int reg_forget(reg *r, const char *worker_id, int64_t now_ms)
{
    rshard *sh;
    rw **pp;
    rw *w = rw_lookup(r, worker_id, &sh, &pp);
    if (w) {
        if (rw_open(w)) rw_close_session(r, w, REG_R_EVICTED, now_ms, NULL);
        rg_move(r, w->group, w->state, w->group, REG_W_NONE, now_ms, 1, w);
        reg_event ev;
        rw_fill_event(r, w, &ev, REG_EV_WORKER_FORGET, now_ms);
        ev.prev_state = w->state;
        emit(r, &ev);
        *pp = w->hnext;
        sh->count--;
        if (w->flags & RW_INWHEEL)
            w->flags |= RW_ZOMBIE;
        else
            rw_free(r, w);
    }
    pthread_mutex_unlock(&sh->mu);
    return w ? 0 : -1;
}
