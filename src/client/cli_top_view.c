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
#include "client/cli.h"

#include "core/vec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECENT_MAX 50  /* events kept, as many as a snapshot brings */
#define RECENT_SHOWN 5 /* events a frame shows, room permitting */

enum { ST_DEAD, ST_SUSPECT, ST_ALIVE, ST_LEFT, ST_EVICTED, ST_OTHER, N_ST };
static const char *const state_names[] = {"dead", "suspect", "alive", "left", "evicted"};

typedef struct worker {
    cli_map_entry e; /* worker_id */
    char *group;
    char state[16];
    int st;
    double last_hb, opened; /* server seconds since the epoch; NAN: unknown */
    double cpu, mem;        /* NAN: not reported */
    char thermal[16];
} worker;

typedef struct group {
    cli_map_entry e; /* name */
    bool mark;       /* a frame's scratch: one of its workers is shown */
    char state[16];
    double n[N_ST - 1]; /* workers by state, in state_names order */
    double total;
} group;

typedef struct recent {
    char *ts, *type, *worker, *group, *detail;
} recent;

struct cli_top {
    cli_map workers, groups;
    recent ev[RECENT_MAX];
    size_t ev_head, ev_n; /* ev_head: the oldest */
    bool have_snapshot, have_summary, truncated;
    double total;    /* workers_total of the snapshot */
    double offset_s; /* server clock minus this machine's */
    double counts[N_ST - 1], ingest_rate, dropped_rate, subscribers;
    worker **sorted; /* a frame's scratch */
    size_t sorted_cap;
    group **gsorted;
    size_t gsorted_cap;
};

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

/* ---- a frame ------------------------------------------------------------------- */

static bool matches(const cli_top_view *v, const char *id, const char *group)
{
    if (v->group && strcmp(group, v->group)) return false;
    if (!v->filter || !*v->filter) return true;
    return (id && strcasestr(id, v->filter)) || strcasestr(group, v->filter);
}

static int by_state_then_id(const void *a, const void *b)
{
    const worker *x = *(worker *const *)a, *y = *(worker *const *)b;
    if (x->st != y->st) return x->st - y->st;
    return strcmp(x->e.key, y->e.key);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(group *const *)a)->e.key, (*(group *const *)b)->e.key);
}

/* The workers to show, sorted, in t->sorted; their groups get `mark`. */
static size_t pick_workers(cli_top *t, const cli_top_view *v, bool *nomem)
{
    worker **s = vec_grow(t->sorted, &t->sorted_cap, t->workers.n, sizeof *s, 1024);
    if (!s) {
        *nomem = true;
        return 0;
    }
    t->sorted = s;
    for (size_t i = 0; i < t->groups.cap; i++)
        if (t->groups.slot[i]) ((group *)t->groups.slot[i])->mark = false;
    size_t n = 0;
    for (size_t i = 0; i < t->workers.cap; i++) {
        worker *w = (worker *)t->workers.slot[i];
        if (!w || !matches(v, w->e.key, w->group)) continue;
        s[n++] = w;
        group *g = (group *)cli_map_get(&t->groups, w->group);
        if (g) g->mark = true;
    }
    qsort(s, n, sizeof *s, by_state_then_id);
    return n;
}

/* The groups to show, by name, in t->gsorted: those of --group, matching
 * the filter by name or holding a shown worker, and not empty. */
static size_t pick_groups(cli_top *t, const cli_top_view *v, bool *nomem)
{
    group **s = vec_grow(t->gsorted, &t->gsorted_cap, t->groups.n, sizeof *s, 64);
    if (!s) {
        *nomem = true;
        return 0;
    }
    t->gsorted = s;
    size_t n = 0;
    for (size_t i = 0; i < t->groups.cap; i++) {
        group *g = (group *)t->groups.slot[i];
        if (!g || g->total == 0) continue; /* its last worker was forgotten */
        if (v->group && strcmp(g->e.key, v->group)) continue;
        if (g->mark || matches(v, NULL, g->e.key)) s[n++] = g;
    }
    qsort(s, n, sizeof *s, by_name);
    return n;
}

static const char *sgr_for(const char *cell, size_t col, void *ctx)
{
    if (col != *(const size_t *)ctx) return NULL; /* only the STATE column */
    if (!strcmp(cell, "alive")) return "\033[32m";
    if (!strcmp(cell, "suspect") || !strcmp(cell, "scaled_down")) return "\033[33m";
    if (!strcmp(cell, "dead") || !strcmp(cell, "crashed")) return "\033[1;31m";
    if (!strcmp(cell, "left") || !strcmp(cell, "evicted")) return "\033[2m";
    return NULL;
}

static void print_table(FILE *f, const cli_table *tb, const bool *left, bool color, size_t col)
{
    cli_table_fprint(f, tb, left, color ? sgr_for : NULL, &col);
}

static void fmt_num(char *buf, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "-");
}

/* Text from the server or the keyboard, with control characters as '?':
 * it must not be able to move the cursor or recolor the terminal. */
static void put_clean(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

/* The summary line and the lines under it; returns how many lines. */
static int header(const cli_top *t, const cli_top_view *v, size_t nshown, FILE *f)
{
    /* Counts for what is looked at: the asked-for group's own, else ours,
     * which change with the table below them; the server's summary (up to
     * 2 s old) only when its snapshot could not list every worker. */
    double c[N_ST - 1] = {0};
    const group *g = v->group ? (const group *)cli_map_get(&t->groups, v->group) : NULL;
    if (g)
        memcpy(c, g->n, sizeof c);
    else if (t->truncated && t->have_summary && !v->group)
        memcpy(c, t->counts, sizeof c);
    else
        for (size_t i = 0; i < t->workers.cap; i++) {
            const worker *w = (const worker *)t->workers.slot[i];
            if (w && w->st < ST_OTHER && (!v->group || !strcmp(w->group, v->group))) c[w->st]++;
        }
    double total = 0;
    for (int i = 0; i < N_ST - 1; i++)
        total += isfinite(c[i]) ? c[i] : 0;
    fputs("vigil top  ", f);
    put_clean(f, v->source ? v->source : "");
    if (v->group) {
        fputs("  group ", f);
        put_clean(f, v->group);
    }
    fprintf(f, "  %.0f workers", total);
    static const int order[] = {ST_ALIVE, ST_SUSPECT, ST_DEAD, ST_LEFT, ST_EVICTED};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char n[32];
        fmt_num(n, sizeof n, c[order[i]]);
        fprintf(f, "%s %s %s", i ? "," : ":", n, state_names[order[i]]);
    }
    if (t->have_summary) {
        if (isfinite(t->ingest_rate)) fprintf(f, "  ingest %.1f hb/s", t->ingest_rate);
        if (isfinite(t->dropped_rate) && t->dropped_rate > 0)
            fprintf(f, "  dropped %.1f/s", t->dropped_rate);
        if (isfinite(t->subscribers)) fprintf(f, "  subscribers %.0f", t->subscribers);
    }
    fputc('\n', f);
    int lines = 1;
    /* What is wrong, then what the viewer is doing. */
    if (v->status) {
        put_clean(f, v->status);
        fputc('\n', f);
        lines++;
    }
    if (v->prompt || (v->filter && *v->filter)) {
        fputs("filter: ", f);
        put_clean(f, v->prompt ? v->prompt : v->filter);
        if (v->prompt)
            fputs("_   (Enter applies, Esc clears)\n", f);
        else
            fprintf(f, "   (%zu shown; / changes it, Esc clears)\n", nshown);
        lines++;
    } else if (v->keys && !v->status) {
        fputs("keys: q quit  / filter  g groups only\n", f);
        lines++;
    }
    if (t->truncated) {
        fprintf(f,
                "note: the snapshot listed %zu of %.0f workers (vigild's [stream] "
                "snapshot_workers)\n",
                t->workers.n, t->total);
        lines++;
    }
    return lines;
}

static void groups_table(group *const *gs, size_t n, size_t more, bool color, FILE *f)
{
    cli_table tb = {
        .ncols = 7,
        .head = {"GROUP", "STATE", "ALIVE/TOTAL", "SUSPECT", "DEAD", "LEFT", "EVICTED"}};
    static const bool left[] = {true, true, false, false, false, false, false};
    for (size_t i = 0; i < n; i++) {
        const group *g = gs[i];
        char a[32], tot[32];
        fmt_num(a, sizeof a, g->n[ST_ALIVE]);
        fmt_num(tot, sizeof tot, g->total);
        cli_table_cell(&tb, "%s", g->e.key);
        cli_table_cell(&tb, "%s", g->state);
        cli_table_cell(&tb, "%s/%s", a, tot);
        static const int rest[] = {ST_SUSPECT, ST_DEAD, ST_LEFT, ST_EVICTED};
        for (size_t k = 0; k < sizeof rest / sizeof rest[0]; k++) {
            fmt_num(a, sizeof a, g->n[rest[k]]);
            cli_table_cell(&tb, "%s", a);
        }
    }
    if (tb.nomem)
        fputs("(out of memory)\n", f);
    else
        print_table(f, &tb, left, color, 1);
    if (more) fprintf(f, "… %zu more groups\n", more);
    cli_table_free(&tb);
}

static void workers_table(worker *const *ws, size_t n, size_t more, double now, bool color, FILE *f)
{
    cli_table tb = {
        .ncols = 8,
        .head = {"WORKER", "GROUP", "STATE", "LAST-HB-AGE", "CPU", "MEM", "THERMAL", "SESSION"}};
    static const bool left[] = {true, true, true, false, false, false, true, false};
    for (size_t i = 0; i < n; i++) {
        const worker *w = ws[i];
        char age[32], sess[32];
        cli_fmt_duration(now - w->last_hb, CLI_DURATION_FIXED, age, sizeof age); /* NAN: "-" */
        cli_fmt_duration(now - w->opened, CLI_DURATION_FIXED, sess, sizeof sess);
        cli_table_cell(&tb, "%s", w->e.key);
        cli_table_cell(&tb, "%s", w->group);
        cli_table_cell(&tb, "%s", w->state);
        cli_table_cell(&tb, "%s", age);
        if (isfinite(w->cpu))
            cli_table_cell(&tb, "%.0f%%", w->cpu * 100);
        else
            cli_table_cell(&tb, "-");
        if (isfinite(w->mem))
            cli_table_cell(&tb, "%.0f%%", w->mem * 100);
        else
            cli_table_cell(&tb, "-");
        cli_table_cell(&tb, "%s", w->thermal);
        cli_table_cell(&tb, "%s", sess);
    }
    if (tb.nomem)
        fputs("(out of memory)\n", f);
    else
        print_table(f, &tb, left, color, 2);
    if (more) fprintf(f, "… %zu more workers (/ filters)\n", more);
    cli_table_free(&tb);
}

/* The newest events that match, oldest first, at most `max`. */
static void events_table(const cli_top *t, const cli_top_view *v, size_t max, FILE *f)
{
    const recent *pick[RECENT_SHOWN];
    size_t n = 0;
    for (size_t k = t->ev_n; k-- > 0 && n < max && n < RECENT_SHOWN;) {
        const recent *r = &t->ev[(t->ev_head + k) % RECENT_MAX];
        if (r->type && matches(v, r->worker, r->group ? r->group : "-")) pick[n++] = r;
    }
    if (n == 0) return;
    cli_table tb = {.ncols = 5, .head = {"TIME(UTC)", "EVENT", "WORKER", "GROUP", "DETAIL"}};
    static const bool left[] = {true, true, true, true, true};
    while (n-- > 0) {
        const recent *r = pick[n];
        /* "2026-11-23T07:41:06.334Z": the time of day is enough here. */
        size_t tl = r->ts ? strlen(r->ts) : 0;
        cli_table_cell(&tb, "%.8s", tl >= 19 ? r->ts + 11 : "-");
        cli_table_cell(&tb, "%s", r->type);
        cli_table_cell(&tb, "%s", r->worker ? r->worker : "-");
        cli_table_cell(&tb, "%s", r->group ? r->group : "-");
        cli_table_cell(&tb, "%s", r->detail ? r->detail : "-");
    }
    fputc('\n', f);
    if (!tb.nomem) cli_table_fprint(f, &tb, left, NULL, NULL);
    cli_table_free(&tb);
}

/* How many of n rows a section (blank line, heading, rows, "… N more")
 * shows in `room` lines; *lines gets the lines it takes (0: left out, as
 * not even its heading and one line fit). */
static size_t fit(size_t n, size_t room, size_t *lines)
{
    if (room >= n + 2) {
        *lines = n + 2;
        return n;
    }
    *lines = room >= 3 ? room : 0;
    return room >= 3 ? room - 3 : 0;
}

void cli_top_render(cli_top *t, const cli_top_view *v, int64_t now_ms, FILE *f)
{
    bool nomem = false;
    size_t nw = pick_workers(t, v, &nomem);
    size_t ng = pick_groups(t, v, &nomem);
    int used = header(t, v, nw, f);
    if (nomem) {
        fputs("out of memory\n", f);
        return;
    }
    if (!t->have_snapshot) {
        fputs("waiting for the server's snapshot…\n", f);
        return;
    }
    /* Lines left on the screen, the last one kept empty so that nothing
     * scrolls; with no screen, room for everything. On a screen the groups
     * get what they need when all fits, else half; the workers the rest;
     * recent events what is left over. */
    size_t avail = v->rows <= 0         ? SIZE_MAX / 4
                   : v->rows > used + 1 ? (size_t)(v->rows - used - 1)
                                        : 0;
    size_t groom = v->groups_only || ng + nw + 4 <= avail ? avail : avail / 2;
    size_t glines, wlines = 0;
    size_t gk = fit(ng, groom, &glines);
    if (glines) {
        fputc('\n', f);
        groups_table(t->gsorted, gk, ng - gk, v->color, f);
    }
    if (v->groups_only) return;
    size_t wk = fit(nw, avail - glines, &wlines);
    if (wlines) {
        fputc('\n', f);
        workers_table(t->sorted, wk, nw - wk, (double)now_ms / 1000 + t->offset_s, v->color, f);
    }
    size_t rest = avail - glines - wlines;
    if (wk == nw && rest >= 3) events_table(t, v, rest - 2, f);
}
