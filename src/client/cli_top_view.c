/*
 * cli_top_view: what `vigil top` knows of the fleet, and one frame of it as
 * text. No I/O but the FILE a frame is written to, no clock: the time is
 * passed in, so a frame is a function of the messages applied and `now`.
 *
 * Mechanism: two maps (cli_map: workers by id, groups by name). A snapshot
 * empties both and fills them again; `worker`, `group` and `forget` messages
 * replace or drop one record; `event`s go into a ring of the most recent
 * ones; a `summary` keeps the fleet-wide figures. A frame filters and sorts
 * the workers afresh each time (at most four times a second, a sort of
 * 10,000 pointers is nothing).
 *
 * Ages tick without messages: a worker keeps its last heartbeat's server
 * timestamp, and "now on the server" is this machine's clock plus the offset
 * seen in the last snapshot or summary (both carry the server's `at`). A
 * client clock that is minutes off thus still shows true ages.
 */
#include "client/cli_top_int.h"

#include "core/vec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_worker(cli_map_entry *e)
{
    if (!e) return;
    free(((worker *)e)->group);
    free(e->key);
    free(e);
}

static void free_group(cli_map_entry *e)
{
    if (!e) return;
    free(e->key);
    free(e);
}

/* ---- records from JSON --------------------------------------------------------- */

static int state_index(const char *s)
{
    for (int i = 0; i < N_ST - 1; i++)
        if (!strcmp(s, state_names[i])) return i;
    return ST_OTHER;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cli_json_get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double iso(const cJSON *o, const char *key)
{
    double s;
    return cli_parse_iso(cJSON_GetStringValue(cli_json_get(o, key)), &s) ? s : NAN;
}

static void copy_str(char *dst, size_t cap, const cJSON *o, const char *key)
{
    snprintf(dst, cap, "%s", cli_json_str(o, key));
}

/* A worker from its JSON; NULL with *rc CLI_TOP_BAD (no id) or CLI_TOP_NOMEM. */
static worker *worker_from(const cJSON *o, int *rc)
{
    const char *id = cJSON_GetStringValue(cli_json_get(o, "worker_id"));
    *rc = CLI_TOP_NOMEM;
    if (!id || !*id) {
        *rc = CLI_TOP_BAD;
        return NULL;
    }
    worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->e.key = strdup(id);
    w->group = strdup(cli_json_str(o, "group"));
    if (!w->e.key || !w->group) {
        free_worker(&w->e);
        return NULL;
    }
    copy_str(w->state, sizeof w->state, o, "state");
    w->st = state_index(w->state);
    w->last_hb = iso(o, "last_heartbeat");
    w->opened = iso(o, "session_opened");
    const cJSON *smp = cli_json_get(o, "samples");
    w->cpu = num(smp, "cpu");
    w->mem = num(smp, "mem");
    copy_str(w->thermal, sizeof w->thermal, smp, "thermal");
    return w;
}

static group *group_from(const cJSON *o, int *rc)
{
    const char *name = cJSON_GetStringValue(cli_json_get(o, "group"));
    *rc = CLI_TOP_NOMEM;
    if (!name || !*name) {
        *rc = CLI_TOP_BAD;
        return NULL;
    }
    group *g = calloc(1, sizeof *g);
    if (!g || !(g->e.key = strdup(name))) {
        free(g);
        return NULL;
    }
    copy_str(g->state, sizeof g->state, o, "state");
    const cJSON *c = cli_json_get(o, "workers");
    for (int i = 0; i < N_ST - 1; i++)
        g->n[i] = num(c, state_names[i]);
    g->total = num(o, "total");
    return g;
}

/* Add or replace a record: CLI_TOP_APPLIED, CLI_TOP_BAD or CLI_TOP_NOMEM. */
static int put_worker(cli_top *t, const cJSON *o)
{
    int rc;
    worker *w = worker_from(o, &rc);
    bool nomem = false;
    if (!w) return rc;
    free_worker(cli_map_put(&t->workers, &w->e, &nomem));
    if (nomem) free_worker(&w->e);
    return nomem ? CLI_TOP_NOMEM : CLI_TOP_APPLIED;
}

static int put_group(cli_top *t, const cJSON *o)
{
    int rc;
    group *g = group_from(o, &rc);
    bool nomem = false;
    if (!g) return rc;
    free_group(cli_map_put(&t->groups, &g->e, &nomem));
    if (nomem) free_group(&g->e);
    return nomem ? CLI_TOP_NOMEM : CLI_TOP_APPLIED;
}

static void free_recent(recent *r)
{
    free(r->ts), free(r->type), free(r->worker), free(r->group), free(r->detail);
    *r = (recent){0};
}

static void add_event(cli_top *t, const cJSON *o)
{
    size_t i = (t->ev_head + t->ev_n) % RECENT_MAX;
    if (t->ev_n == RECENT_MAX)
        t->ev_head = (t->ev_head + 1) % RECENT_MAX; /* the oldest makes room */
    else
        t->ev_n++;
    recent *r = &t->ev[i];
    free_recent(r);
    const char *detail = cJSON_GetStringValue(cli_json_get(o, "reason"));
    if (!detail) detail = cJSON_GetStringValue(cli_json_get(o, "rule"));
    r->ts = strdup(cli_json_str(o, "ts"));
    r->type = strdup(cli_json_str(o, "type"));
    r->worker = strdup(cli_json_str(o, "worker_id"));
    r->group = strdup(cli_json_str(o, "group"));
    r->detail = strdup(detail && *detail ? detail : "-");
}

static void set_offset(cli_top *t, const cJSON *o, int64_t now_ms)
{
    double at = num(o, "at");
    if (isfinite(at)) t->offset_s = (at - (double)now_ms) / 1000;
}

/* ---- applying messages --------------------------------------------------------- */

cli_top *cli_top_new(void)
{
    return calloc(1, sizeof(cli_top));
}

static void clear_events(cli_top *t)
{
    for (size_t i = 0; i < RECENT_MAX; i++)
        free_recent(&t->ev[i]);
    t->ev_head = t->ev_n = 0;
}

void cli_top_free(cli_top *t)
{
    if (!t) return;
    cli_map_clear(&t->workers, free_worker);
    cli_map_clear(&t->groups, free_group);
    clear_events(t);
    free(t->sorted);
    free(t->gsorted);
    free(t);
}

static int apply_snapshot(cli_top *t, const cJSON *o, int64_t now_ms)
{
    const cJSON *ws = cli_json_get(o, "workers"), *gs = cli_json_get(o, "groups");
    if (!cJSON_IsArray(ws) || !cJSON_IsArray(gs)) return CLI_TOP_BAD;
    cli_map_clear(&t->workers, free_worker);
    cli_map_clear(&t->groups, free_group);
    clear_events(t);
    const cJSON *x;
    bool nomem = false; /* a record without its name is left out, not fatal */
    cJSON_ArrayForEach(x, ws) nomem |= put_worker(t, x) == CLI_TOP_NOMEM;
    cJSON_ArrayForEach(x, gs) nomem |= put_group(t, x) == CLI_TOP_NOMEM;
    /* The ring is oldest first, as the stream's own events follow; the
     * snapshot lists them newest first, as GET /v1/events does. Their ids
     * (stored events have one) say which way round they came. */
    const cJSON *ev = cli_json_get(o, "events");
    int n = cJSON_GetArraySize(ev);
    double first = num(cJSON_GetArrayItem(ev, 0), "id"),
           last = num(cJSON_GetArrayItem(ev, n - 1), "id");
    bool oldest_first = isfinite(first) && isfinite(last) && first < last;
    for (int i = 0; i < n; i++)
        add_event(t, cJSON_GetArrayItem(ev, oldest_first ? i : n - 1 - i));
    t->total = num(o, "workers_total");
    t->truncated = cJSON_IsTrue(cli_json_get(o, "workers_truncated"));
    set_offset(t, o, now_ms);
    t->have_snapshot = true;
    return nomem ? CLI_TOP_NOMEM : CLI_TOP_SNAPSHOT;
}

int cli_top_apply(cli_top *t, const char *event, const char *data, size_t len, int64_t now_ms)
{
    enum { M_SNAPSHOT, M_WORKER, M_GROUP, M_FORGET, M_EVENT, M_SUMMARY, N_M };
    static const char *const names[N_M] = {"snapshot", "worker", "group",
                                           "forget",   "event",  "summary"};
    int k = 0;
    while (k < N_M && strcmp(event, names[k]))
        k++;
    if (k == N_M) return CLI_TOP_IGNORED; /* a newer server's message: not ours to read */
    if (k != M_SNAPSHOT && !t->have_snapshot) return CLI_TOP_IGNORED; /* no picture to change */
    cJSON *o = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return CLI_TOP_BAD;
    }
    int rc = CLI_TOP_APPLIED;
    switch (k) {
    case M_SNAPSHOT:
        rc = apply_snapshot(t, o, now_ms);
        break;
    case M_WORKER:
        rc = put_worker(t, o);
        break;
    case M_GROUP:
        rc = put_group(t, o);
        break;
    case M_FORGET: {
        const char *id = cJSON_GetStringValue(cli_json_get(o, "worker_id"));
        if (id) free_worker(cli_map_del(&t->workers, id));
        break;
    }
    case M_EVENT:
        add_event(t, o);
        break;
    case M_SUMMARY: {
        const cJSON *c = cli_json_get(o, "counts");
        for (int i = 0; i < N_ST - 1; i++)
            t->counts[i] = num(c, state_names[i]);
        t->ingest_rate = num(o, "ingest_rate");
        t->dropped_rate = num(o, "dropped_rate");
        t->subscribers = num(o, "subscribers");
        t->have_summary = true;
        set_offset(t, o, now_ms);
        break;
    }
    }
    cJSON_Delete(o);
    return rc;
}
