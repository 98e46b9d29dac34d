/*
 * reg_view.c: the registry's read side: one worker's live fields (reg_get),
 * a shard's workers (reg_scan), the fleet's counts and the registry's own
 * memory. Every read copies under the shard lock, so a view is one moment
 * of one worker, never half of two heartbeats.
 */
#include "core/reg_int.h"

#include <malloc.h>
#include <stddef.h>
#include <string.h>

/* Copy w's live fields into out. Every field the registry keeps is written
 * (so one view can be refilled worker after worker); the rest of out is left
 * as the caller set it. Caller holds w's shard lock. */
static void fill_view(reg *r, const rw *w, int64_t now_ms, reg_view *out)
{
    out->state = (reg_wstate)w->state;
    out->state_since_ms = w->since_ms;
    out->last_hb_ms = w->last_hb_ms;
    out->opened_ms = w->opened_ms;
    out->ticks_moved_ms = (int64_t)w->ticks_moved_s * 1000;
    out->ttl_s = (int32_t)(rw_ttl_ms(r, w) / 1000);
    out->phi = rw_open(w) ? phi_value(&w->phi, (double)(now_ms - w->last_hb_ms)) : 0.0;
    hb_msg *m = &out->last;
    m->has = w->has;
    memcpy(m->worker_id, rw_id(w), (size_t)w->id_len + 1);
    memcpy(m->instance, rw_inst(w), (size_t)w->inst_len + 1);
    if (w->inst_len) m->has |= HB_HAS_INSTANCE;
    strcpy(m->group, rg_name(r, w->group));
    if (w->group) m->has |= HB_HAS_GROUP;
    m->ttl_s = w->ttl_s;
    if (w->ttl_s) m->has |= HB_HAS_TTL;
    m->seq = w->seq;
    m->cpu = w->cpu;
    m->mem = w->mem;
    m->mem_available_gb = w->mem_avail;
    m->gpu_mem_active_gb = w->gpu_mem;
    m->thermal = w->thermal;
    m->backlog = w->backlog;
    m->capacity = w->capacity;
    m->in_flight = w->in_flight;
    m->requests = w->requests;
    m->tokens = w->tokens;
    m->cpu_ticks = w->cpu_ticks;
}

bool reg_get(reg *r, const char *worker_id, int64_t now_ms, reg_view *out)
{
    rshard *sh;
    rw *w = rw_lookup(r, worker_id, &sh, NULL);
    if (w) {
        /* Not the whole view: hb_init leaves the 4 KiB job buffer, which the
         * registry never fills, as it is (reg_get is on the heartbeat path for
         * a task_ms without a group). */
        memset(out, 0, offsetof(reg_view, last));
        hb_init(&out->last);
        fill_view(r, w, now_ms, out);
    }
    pthread_mutex_unlock(&sh->mu);
    return w != NULL;
}

size_t reg_scan(reg *r, unsigned shard, int64_t now_ms, reg_scan_fn fn, void *ctx, reg_view *view)
{
    if (shard >= REG_SHARDS) return 0;
    rshard *sh = &r->shards[shard];
    size_t n = 0;
    pthread_mutex_lock(&sh->mu);
    for (uint32_t b = 0; b < sh->nbuckets; b++)
        for (const rw *w = sh->buckets[b]; w; w = w->hnext) {
            fill_view(r, w, now_ms, view);
            fn(ctx, view);
            n++;
        }
    pthread_mutex_unlock(&sh->mu);
    return n;
}

void reg_counts(reg *r, uint64_t out[REG_W__COUNT])
{
    pthread_mutex_lock(&r->gmu);
    memcpy(out, r->counts, sizeof r->counts);
    pthread_mutex_unlock(&r->gmu);
}

size_t reg_memory(reg *r)
{
    size_t total = malloc_usable_size(r);
    for (int i = 0; i < REG_SHARDS; i++) {
        pthread_mutex_lock(&r->shards[i].mu);
        total += malloc_usable_size(r->shards[i].buckets);
        pthread_mutex_unlock(&r->shards[i].mu);
    }
    pthread_mutex_lock(&r->gmu);
    total += r->rec_bytes;
    for (uint32_t g = 0; g < r->ngroups; g++)
        total += malloc_usable_size(r->groups[g]);
    pthread_mutex_unlock(&r->gmu);
    return total;
}
