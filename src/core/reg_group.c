/*
 * reg_group: the group table, per-group counts by worker state, and the
 * group verdict.
 *
 * A group is "up" while any of its workers is alive or suspect. When the last
 * one goes, the group's state is decided then and there from how that worker
 * went: scaled_down if on purpose (bye with exit 0, eviction, forget, moving
 * to another group), crashed otherwise. It is never revised afterwards, so a
 * late bye from a dead worker cannot turn a crash into a scale-down.
 *
 * Groups are few and are never freed, so a group's name may be read without
 * the lock once its index is known: that keeps the heartbeat fast path
 * (same group as last time) off the group mutex.
 */
#include "core/reg_int.h"

#include <stdlib.h>
#include <string.h>

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Caller holds gmu. */
static int intern_locked(reg *r, const char *name)
{
    uint32_t b = name_hash(name) & (RG_BUCKETS - 1);
    for (rgroup *g = r->gbuckets[b]; g; g = g->hnext)
        if (strcmp(g->name, name) == 0) return (int)g->idx;
    if (r->ngroups > REG_MAX_GROUPS) return -1;
    rgroup *g = calloc(1, sizeof *g);
    if (!g) return -1;
    strncpy(g->name, name, HB_ID_MAX);
    g->idx = r->ngroups;
    g->hnext = r->gbuckets[b];
    r->gbuckets[b] = g;
    r->groups[r->ngroups] = g;
    return (int)r->ngroups++;
}

int rg_intern(reg *r, const char *name)
{
    pthread_mutex_lock(&r->gmu);
    int i = intern_locked(r, name);
    pthread_mutex_unlock(&r->gmu);
    return i;
}

const char *rg_name(const reg *r, int idx)
{
    return r->groups[idx]->name;
}

int reg_group_set_ttl(reg *r, const char *group, int32_t ttl_s)
{
    pthread_mutex_lock(&r->gmu);
    int i = intern_locked(r, group);
    if (i > 0) r->groups[i]->ttl_s = ttl_s;
    pthread_mutex_unlock(&r->gmu);
    return i > 0 ? 0 : -1;
}

void reg_restore_group(reg *r, const char *group, reg_gstate state, int64_t since_ms)
{
    pthread_mutex_lock(&r->gmu);
    int i = intern_locked(r, group);
    if (i > 0) {
        r->groups[i]->state = (uint8_t)state;
        r->groups[i]->since_ms = since_ms;
    }
    pthread_mutex_unlock(&r->gmu);
}

static int is_up(int s)
{
    return s == REG_W_ALIVE || s == REG_W_SUSPECT;
}

/* Caller holds gmu. */
static void verdict(reg *r, int gi, int64_t now_ms, int clean, const rw *w)
{
    if (gi == 0) return; /* workers that named no group form no group */
    rgroup *g = r->groups[gi];
    int up = g->count[REG_W_ALIVE] + g->count[REG_W_SUSPECT] > 0;
    int st = g->state;
    if (up)
        st = REG_G_ALIVE;
    else if (g->state == REG_G_ALIVE)
        st = clean ? REG_G_SCALED_DOWN : REG_G_CRASHED;
    if (st == g->state) return;
    reg_event ev;
    rw_fill_event(r, w, &ev, REG_EV_GROUP_STATE, now_ms);
    strcpy(ev.group, g->name);
    ev.state = (uint8_t)st;
    ev.prev_state = g->state;
    g->state = (uint8_t)st;
    g->since_ms = now_ms;
    if (r->sink) r->sink(r->sink_ctx, &ev);
}

void rg_move(reg *r, int g0, int s0, int g1, int s1, int64_t now_ms, int clean, const rw *w)
{
    pthread_mutex_lock(&r->gmu);
    if (s0 != REG_W_NONE) {
        r->groups[g0]->count[s0]--;
        r->counts[s0]--;
    }
    if (s1 != REG_W_NONE) {
        r->groups[g1]->count[s1]++;
        r->counts[s1]++;
    }
    if (clean != RG_QUIET && (g0 != g1 || is_up(s0) != is_up(s1))) {
        verdict(r, g0, now_ms, clean, w);
        if (g1 != g0) verdict(r, g1, now_ms, clean, w);
    }
    pthread_mutex_unlock(&r->gmu);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const reg_group_view *)a)->name, ((const reg_group_view *)b)->name);
}

void reg_groups(reg *r, void (*fn)(void *ctx, const reg_group_view *g), void *ctx)
{
    pthread_mutex_lock(&r->gmu);
    uint32_t n = r->ngroups;
    reg_group_view *v = n > 1 ? malloc((n - 1) * sizeof *v) : NULL;
    if (v) {
        for (uint32_t i = 1; i < n; i++) {
            const rgroup *g = r->groups[i];
            reg_group_view *o = &v[i - 1];
            strcpy(o->name, g->name);
            o->state = (reg_gstate)g->state;
            o->state_since_ms = g->since_ms;
            o->ttl_s = g->ttl_s;
            memcpy(o->count, g->count, sizeof o->count);
        }
    }
    pthread_mutex_unlock(&r->gmu);
    if (!v) return;
    qsort(v, n - 1, sizeof *v, by_name);
    for (uint32_t i = 0; i + 1 < n; i++)
        fn(ctx, &v[i]);
    free(v);
}
