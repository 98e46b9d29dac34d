/*
 * cli_top_frame: one frame of `vigil top` as text, from the records
 * cli_top_view.c keeps (cli_top_int.h): a header with the fleet's counts, the
 * groups, the workers and the newest events, each section cut to the rows
 * the terminal has room for. No clock: `now` is passed in.
 */
#include "client/cli_top_int.h"

#include "core/vec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A section's table, its STATE column (col) colored when color is on, then
 * "… N more <what>" when rows did not fit; the table is freed. */
static void table_out(FILE *f, cli_table *tb, const bool *left, bool color, size_t col, size_t more,
                      const char *what)
{
    if (tb->nomem)
        fputs("(out of memory)\n", f);
    else
        cli_table_fprint(f, tb, left, color ? sgr_for : NULL, &col);
    if (more) fprintf(f, "… %zu more %s\n", more, what);
    cli_table_free(tb);
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
    table_out(f, &tb, left, color, 1, more, "groups");
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
    table_out(f, &tb, left, color, 2, more, "workers (/ filters)");
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
