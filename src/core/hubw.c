/*
 * hubw: summary windows and the push schedule (see hubw.h).
 */
#include "core/hubw.h"

#include <stdio.h>
#include <string.h>

static hubw_task *task_slot(hubw_counts *c, const char *group)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (strcmp(c->tasks[i].group, group) == 0) return &c->tasks[i];
    /* Past the cap every new group shares "*": counts stay whole even when
     * their split does not. */
    if (c->ntasks >= HUBW_GROUPS_MAX) group = "*";
    for (size_t i = 0; i < c->ntasks; i++)
        if (strcmp(c->tasks[i].group, group) == 0) return &c->tasks[i];
    hubw_task *t = &c->tasks[c->ntasks++];
    snprintf(t->group, sizeof t->group, "%s", group);
    t->count = 0;
    t->sum_ms = 0;
    return t;
}

void hubw_task_add(hubw_counts *c, const char *group, uint64_t count, double sum_ms)
{
    hubw_task *t = task_slot(c, group ? group : "");
    t->count += count;
    t->sum_ms += sum_ms;
}

void hubw_init(hubw *w, int64_t from_ms)
{
    memset(w, 0, sizeof *w);
    w->from_ms = from_ms;
}

static uint64_t grew(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : 0;
}

static const hubw_task *find(const hubw_counts *c, const char *group)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (strcmp(c->tasks[i].group, group) == 0) return &c->tasks[i];
    return NULL;
}

void hubw_take(const hubw *w, const hubw_counts *now, int64_t to_ms, hubw_window *out)
{
    memset(&out->delta, 0, sizeof out->delta);
    out->upto = *now;
    out->from_ms = w->from_ms;
    out->to_ms = to_ms < w->from_ms ? w->from_ms : to_ms;
    hubw_counts *d = &out->delta;
    for (int k = 0; k < REG_R__COUNT; k++)
        d->closed[k] = grew(now->closed[k], w->base.closed[k]);
    d->accepted = grew(now->accepted, w->base.accepted);
    d->rejected = grew(now->rejected, w->base.rejected);
    for (size_t i = 0; i < now->ntasks; i++) {
        const hubw_task *t = &now->tasks[i], *b = find(&w->base, t->group);
        uint64_t n = grew(t->count, b ? b->count : 0);
        if (!n) continue;
        double ms = t->sum_ms - (b ? b->sum_ms : 0);
        hubw_task *o = &d->tasks[d->ntasks++];
        *o = *t;
        o->count = n;
        o->sum_ms = ms > 0 ? ms : 0;
    }
}

void hubw_commit(hubw *w, const hubw_window *out)
{
    w->base = out->upto;
    w->from_ms = out->to_ms;
    w->sent++;
}

int64_t hubw_delay_ms(int64_t interval_ms, int failures, uint32_t rnd)
{
    int64_t base = interval_ms > 0 ? interval_ms : HUBW_INTERVAL_MS;
    if (failures > 0) {
        base = HUBW_BACKOFF_MIN_MS;
        for (int i = 1; i < failures && base < HUBW_BACKOFF_MAX_MS; i++)
            base *= 2;
        if (base > HUBW_BACKOFF_MAX_MS) base = HUBW_BACKOFF_MAX_MS;
    }
    /* rnd spread evenly over [-J, +J] percent of the delay. */
    int64_t span = base * HUBW_JITTER_PCT / 100;
    int64_t off = span ? (int64_t)(rnd % (uint64_t)(2 * span + 1)) - span : 0;
    int64_t d = base + off;
    if (failures > 0 && d < HUBW_BACKOFF_MIN_MS) d = HUBW_BACKOFF_MIN_MS;
    return d < 1 ? 1 : d;
}
