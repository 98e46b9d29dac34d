/*
 * ingest: apply one validated hb_msg, whichever door it came through (HTTP
 * JSON, NDJSON, ping, UDP lines): job list, registry, the write queue for the
 * raw sample, counters, task latency. One function, so every door changes
 * state and counts the same way. Nothing here waits on the store.
 */
#include "server/app.h"

#include "core/hb.h"

/* A heartbeat's task_ms joins its group's latency bucket. Without a group in
 * the message, the registry says which (the heartbeat was just applied). A
 * full bucket table drops the figure (counted), never the heartbeat. */
static void task(app *a, const hb_msg *m, int64_t now)
{
    const char *group = m->group;
    reg_view v;
    if (!(m->has & HB_HAS_GROUP)) {
        if (!reg_get(a->reg, m->worker_id, now, &v)) return;
        group = v.last.group;
    }
    if (rollup_task(a, group, now, &m->task_ms, 1) != TLAT_OK) a->tasks_dropped++;
}

/* What follows the registry for a message it applied (state st): counts and
 * the raw sample. Takes no registry lock, so it also runs under one
 * (ingest_many). */
static int counted(app *a, const hb_msg *m, int64_t now, reg_wstate st, ingest_tally *t)
{
    if (m->kind == HB_BYE) {
        a->byes++;
        return st;
    }
    if (st == REG_W_NONE) {
        t->full++;
        return -1;
    }
    /* Under overload the ring stays full: the sample is dropped on the
     * hint, without the queue's lock (which counts its own drops). */
    if (wq_hb_full(a->wq))
        t->hb_dropped++;
    else
        wq_push_hb(a->wq, m, now);
    t->accepted++;
    return st;
}

int ingest_apply_t(app *a, const hb_msg *m, int64_t now, ingest_tally *t)
{
    /* Before the registry: a timeout that this beat prevents cannot happen,
     * and one that happens later finds the list this beat gave. */
    if (m->has & HB_HAS_JOBS) /* out of memory keeps the old list: the beat itself counts */
        ifl_set(a->ifl, m->worker_id, m->jobs, m->jobs_len, m->njobs);
    reg_wstate st = m->kind == HB_BYE ? reg_bye(a->reg, m, now) : reg_heartbeat(a->reg, m, now);
    int rc = counted(a, m, now, st, t);
    if (rc >= 0 && m->kind != HB_BYE && (m->has & HB_HAS_TASK_MS)) task(a, m, now);
    return rc;
}

int ingest_apply(app *a, const hb_msg *m, int64_t now)
{
    ingest_tally t = {0, 0, 0};
    int st = ingest_apply_t(a, m, now, &t);
    ingest_flush(a, &t);
    return st;
}

void ingest_flush(app *a, ingest_tally *t)
{
    if (t->accepted) a->hb_accepted += t->accepted;
    wq_hb_dropped(a->wq, t->hb_dropped);
    *t = (ingest_tally){0, 0, 0};
}

/* ingest_many's state, the reg_batch_ops' ctx. */
typedef struct many {
    app *a;
    int64_t now;
    ingest_tally *t;
    ingest_src_fn src;
    void *ctx;
} many;

static const hb_msg *many_pull(void *ctx, size_t i, bool *slow)
{
    many *c = ctx;
    const hb_msg *m = c->src(c->ctx, i);
    /* A job list goes to ifl before the registry, and a task_ms may ask the
     * registry for the worker's group: locks of their own, not to be taken
     * under a shard's. */
    if (m && (m->has & (HB_HAS_JOBS | HB_HAS_TASK_MS))) *slow = true;
    return m;
}

static void many_slow(void *ctx, size_t i, const hb_msg *m)
{
    (void)i;
    many *c = ctx;
    ingest_apply_t(c->a, m, c->now, c->t);
}

static void many_done(void *ctx, size_t i, const hb_msg *m, reg_wstate st)
{
    (void)i;
    many *c = ctx;
    counted(c->a, m, c->now, st, c->t);
}

void ingest_many(app *a, const uint32_t *hash, size_t n, ingest_src_fn src, void *ctx, int64_t now,
                 ingest_tally *t)
{
    static const reg_batch_ops ops = {many_pull, many_slow, many_done};
    many c = {a, now, t, src, ctx};
    reg_apply_batch(a->reg, hash, n, &ops, &c, now);
}
