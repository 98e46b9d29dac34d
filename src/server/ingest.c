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

int ingest_apply_t(app *a, const hb_msg *m, int64_t now, ingest_tally *t)
{
    reg_wstate st;
    /* Before the registry: a timeout that this beat prevents cannot happen,
     * and one that happens later finds the list this beat gave. */
    if (m->has & HB_HAS_JOBS) /* out of memory keeps the old list: the beat itself counts */
        ifl_set(a->ifl, m->worker_id, m->jobs, m->jobs_len, m->njobs);
    if (m->kind == HB_BYE) {
        st = reg_bye(a->reg, m, now);
        a->byes++;
        return st;
    }
    st = reg_heartbeat(a->reg, m, now);
    if (st == REG_W_NONE) return -1;
    /* Under overload the ring stays full: the sample is dropped on the
     * hint, without the queue's lock (which counts its own drops). */
    if (wq_hb_full(a->wq))
        t->hb_dropped++;
    else
        wq_push_hb(a->wq, m, now);
    t->accepted++;
    if (m->has & HB_HAS_TASK_MS) task(a, m, now);
    return st;
}

int ingest_apply(app *a, const hb_msg *m, int64_t now)
{
    ingest_tally t = {0, 0};
    int st = ingest_apply_t(a, m, now, &t);
    ingest_flush(a, &t);
    return st;
}

void ingest_flush(app *a, ingest_tally *t)
{
    if (t->accepted) a->hb_accepted += t->accepted;
    wq_hb_dropped(a->wq, t->hb_dropped);
    *t = (ingest_tally){0, 0};
}
