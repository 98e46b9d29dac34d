/*
 * cli_status: `vigil status`, the fleet at a glance.
 *
 * Mechanism: GET /v1/groups once, then GET /v1/workers page by page
 * (next_cursor) until --limit workers are in hand or the server has no more;
 * the pages' arrays are spliced into one cJSON array without copying. The
 * result is printed either as two aligned text tables (widths measured over
 * every cell first) or, with --json, as {"groups":[…],"workers":[…]} holding
 * the server's objects untouched.
 *
 * Ages are computed from the server's own numbers (last_heartbeat + age_s is
 * the server's "now"), never from this machine's clock, so a skewed client
 * clock cannot make a session look older or younger than it is.
 */
#include "client/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LIMIT 1000
#define MAX_LIMIT 10000000LL

enum { S_JSON, S_GROUP, S_STATE, S_LIMIT };

static const cli_flag status_flags[] = {
    [S_JSON] = {"--json", NULL, NULL, "print {\"groups\":[...],\"workers\":[...]} as returned"},
    [S_GROUP] = {"--group", NULL, "G", "only this group"},
    [S_STATE] = {"--state", NULL, "S",
                 "only workers in state S: alive, suspect, dead, left, evicted"},
    [S_LIMIT] = {"--limit", NULL, "N", "at most N workers (default 1000)"},
};

static const char *const worker_states[] = {"alive", "suspect", "dead", "left", "evicted"};

/* ---- formatting -------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no timegm(), no TZ environment involved. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "2026-11-23T07:40:00.123Z" -> seconds since the epoch; false if not that shape. */
static bool parse_iso(const char *s, double *out)
{
    int y, mo, d, h, mi, sec, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    double frac = 0, scale = 0.1;
    const char *p = s + used;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0) return false;
    *out = (double)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) + frac;
    return true;
}

/* 4.2s, 37s, 5m07s, 3h12m, 2d04h: short enough for a table column. */
static void fmt_duration(double s, char *buf, size_t cap)
{
    if (s < 0) s = 0;
    long long t = (long long)s;
    if (s < 10)
        snprintf(buf, cap, "%.1fs", (double)(long long)(s * 10) / 10);
    else if (t < 60)
        snprintf(buf, cap, "%llds", t);
    else if (t < 3600)
        snprintf(buf, cap, "%lldm%02llds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, cap, "%lldh%02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(buf, cap, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *str_or_dash(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(get(o, key));
    return s && *s ? s : "-";
}

static void fmt_count(const cJSON *v, char *buf, size_t cap)
{
    if (cJSON_IsNumber(v))
        snprintf(buf, cap, "%.0f", v->valuedouble);
    else
        snprintf(buf, cap, "-");
}

/* ---- tables ------------------------------------------------------------------ */

typedef struct table {
    size_t ncols;
    const char *const *head;
    const bool *right; /* right-aligned (numbers) */
    char **cells;      /* row-major, ncols per row */
    size_t n, cap;
    bool nomem;
} table;

/* Cells come from the server; a control character in one must not be able
 * to move the cursor or recolor the terminal, so it is shown as '?'. */
static void table_add(table *t, const char *s)
{
    if (t->nomem) return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells) {
            t->nomem = true;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    char *c = strdup(s);
    if (!c) {
        t->nomem = true;
        return;
    }
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
    t->cells[t->n++] = c;
}

/* Terminal columns of UTF-8 text, counting one per code point (enough for
 * the ids and instance names vigild accepts). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void table_print(const table *t)
{
    size_t w[16] = {0};
    for (size_t c = 0; c < t->ncols; c++)
        w[c] = width(t->head[c]);
    for (size_t i = 0; i < t->n; i++) {
        size_t cw = width(t->cells[i]);
        if (cw > w[i % t->ncols]) w[i % t->ncols] = cw;
    }
    size_t rows = t->n / t->ncols + 1;
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
            int pad = (int)(w[c] - width(s));
            bool last = c + 1 == t->ncols;
            if (t->right[c])
                printf("%*s%s", pad, "", s);
            else
                printf("%s%*s", s, last ? 0 : pad, "");
            fputs(last ? "\n" : "  ", stdout);
        }
    }
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
}

static int print_tables(const cJSON *groups, const cJSON *workers)
{
    static const char *const ghead[] = {"GROUP", "STATE", "ALIVE",   "SUSPECT",
                                        "DEAD",  "LEFT",  "EVICTED", "TOTAL"};
    static const bool gright[] = {false, false, true, true, true, true, true, true};
    static const char *const whead[] = {"WORKER",      "GROUP",   "STATE",
                                        "LAST-HB-AGE", "SESSION", "INSTANCE"};
    static const bool wright[] = {false, false, false, true, true, false};
    table gt = {8, ghead, gright, NULL, 0, 0, false};
    table wt = {6, whead, wright, NULL, 0, 0, false};
    char buf[64];

    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        table_add(&gt, str_or_dash(g, "group"));
        table_add(&gt, str_or_dash(g, "state"));
        const cJSON *counts = get(g, "workers");
        for (size_t i = 0; i < sizeof worker_states / sizeof worker_states[0]; i++) {
            fmt_count(get(counts, worker_states[i]), buf, sizeof buf);
            table_add(&gt, buf);
        }
        fmt_count(get(g, "total"), buf, sizeof buf);
        table_add(&gt, buf);
    }

    const cJSON *w;
    cJSON_ArrayForEach(w, workers)
    {
        table_add(&wt, str_or_dash(w, "worker_id"));
        table_add(&wt, str_or_dash(w, "group"));
        table_add(&wt, str_or_dash(w, "state"));
        const cJSON *age = get(w, "age_s");
        if (cJSON_IsNumber(age))
            fmt_duration(age->valuedouble, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-");
        table_add(&wt, buf);
        /* Session length in the server's time: (last_heartbeat + age_s) - opened. */
        double opened, last;
        if (cJSON_IsNumber(age) &&
            parse_iso(cJSON_GetStringValue(get(w, "session_opened")), &opened) &&
            parse_iso(cJSON_GetStringValue(get(w, "last_heartbeat")), &last))
            fmt_duration(last + age->valuedouble - opened, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-");
        table_add(&wt, buf);
        table_add(&wt, str_or_dash(w, "instance"));
    }

    int rc = CLI_EXIT_OK;
    if (gt.nomem || wt.nomem) {
        cli_err("out of memory");
        rc = CLI_EXIT_REFUSED;
    } else {
        table_print(&gt);
        fputs("\n", stdout);
        table_print(&wt);
    }
    table_free(&gt);
    table_free(&wt);
    return rc;
}

/* ---- fetching ---------------------------------------------------------------- */

/* GET path and parse it; *arr is doc's `member`, which must be an array.
 * Returns an exit code; on success the caller owns *doc. */
static int fetch(cli_ctx *ctx, const char *path, const vigil_field *q, size_t nq,
                 const char *member, cJSON **doc, cJSON **arr)
{
    vigil_response r;
    int st = vigil_get(ctx->client, path, q, nq, &r);
    if (st != VIGIL_OK) {
        vigil_response_free(&r);
        return cli_fail(ctx, st);
    }
    *doc = cJSON_ParseWithLength(r.body, r.body_len);
    vigil_response_free(&r);
    *arr = cJSON_GetObjectItemCaseSensitive(*doc, member);
    if (!cJSON_IsArray(*arr)) {
        cli_err("unexpected answer from GET %s: %s", path,
                *doc ? "no array named in it" : "not JSON");
        cJSON_Delete(*doc);
        *doc = NULL;
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_OK;
}

/* Append up to `limit` workers matching group/state to `all`, page by page.
 * *more tells whether the server had workers beyond the limit. */
static int fetch_workers(cli_ctx *ctx, const char *group, const char *state, long long limit,
                         cJSON *all, bool *more)
{
    char *cursor = NULL;
    long long got = 0;
    int rc = CLI_EXIT_OK;
    *more = false;
    while (got < limit) {
        char lim[24];
        snprintf(lim, sizeof lim, "%lld", limit - got);
        vigil_field q[] = {{"group", group}, {"state", state}, {"limit", lim}, {"cursor", cursor}};
        cJSON *doc, *arr;
        rc = fetch(ctx, "/v1/workers", q, sizeof q / sizeof q[0], "workers", &doc, &arr);
        if (rc != CLI_EXIT_OK) break;
        long long page = 0;
        cJSON *item;
        while (got < limit && (item = cJSON_DetachItemFromArray(arr, 0)) != NULL) {
            cJSON_AddItemToArray(all, item);
            got++, page++;
        }
        const char *next = cJSON_GetStringValue(get(doc, "next_cursor"));
        /* An empty page or a cursor that does not move would loop forever. */
        bool again = next && page > 0 && !(cursor && !strcmp(cursor, next));
        *more = next != NULL;
        free(cursor);
        cursor = again ? strdup(next) : NULL;
        cJSON_Delete(doc);
        if (!again) break;
        if (!cursor) {
            cli_err("out of memory");
            rc = CLI_EXIT_REFUSED;
            break;
        }
    }
    free(cursor);
    return rc;
}

/* ---- the command ------------------------------------------------------------- */

static int run_status(cli_ctx *ctx)
{
    bool json = false;
    const char *group = NULL, *state = NULL, *limit_s = NULL;
    for (size_t i = 0; i < ctx->nopts; i++) {
        switch (ctx->opts[i].flag - status_flags) {
        case S_JSON:
            json = true;
            break;
        case S_GROUP:
            group = ctx->opts[i].value;
            break;
        case S_STATE:
            state = ctx->opts[i].value;
            break;
        case S_LIMIT:
            limit_s = ctx->opts[i].value;
            break;
        }
    }
    long long limit = DEFAULT_LIMIT;
    if (limit_s) {
        char *end;
        errno = 0;
        limit = strtoll(limit_s, &end, 10);
        if (!*limit_s || *end || errno || limit < 1 || limit > MAX_LIMIT) {
            cli_err("--limit: must be an integer between 1 and %lld", MAX_LIMIT);
            return CLI_EXIT_USAGE;
        }
    }
    if (state) {
        size_t i = 0, n = sizeof worker_states / sizeof worker_states[0];
        while (i < n && strcmp(state, worker_states[i]))
            i++;
        if (i == n) {
            cli_err("--state: must be one of alive, suspect, dead, left, evicted");
            return CLI_EXIT_USAGE;
        }
    }
    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) return rc;

    cJSON *gdoc = NULL, *groups = NULL;
    rc = fetch(ctx, "/v1/groups", NULL, 0, "groups", &gdoc, &groups);
    if (rc != CLI_EXIT_OK) return rc;
    /* /v1/groups has no filter: keep only the asked-for group here. */
    cJSON *kept = cJSON_CreateArray();
    cJSON *workers = cJSON_CreateArray();
    cJSON *out = cJSON_CreateObject();
    if (!kept || !workers || !out) {
        cli_err("out of memory");
        rc = CLI_EXIT_REFUSED;
        goto done;
    }
    for (cJSON *g; (g = cJSON_DetachItemFromArray(groups, 0)) != NULL;) {
        const char *name = cJSON_GetStringValue(get(g, "group"));
        if (!group || (name && !strcmp(name, group)))
            cJSON_AddItemToArray(kept, g);
        else
            cJSON_Delete(g);
    }
    bool more;
    rc = fetch_workers(ctx, group, state, limit, workers, &more);
    if (rc != CLI_EXIT_OK) goto done;
    if (more) cli_err("showing the first %lld workers; there may be more (use --limit)", limit);

    if (json) {
        cJSON_AddItemToObject(out, "groups", kept);
        cJSON_AddItemToObject(out, "workers", workers);
        kept = workers = NULL; /* owned by out now */
        char *text = cJSON_PrintUnformatted(out);
        if (!text) {
            cli_err("out of memory");
            rc = CLI_EXIT_REFUSED;
            goto done;
        }
        puts(text);
        cJSON_free(text);
    } else {
        rc = print_tables(kept, workers);
    }
done:
    cJSON_Delete(out);
    cJSON_Delete(kept);
    cJSON_Delete(workers);
    cJSON_Delete(gdoc);
    return rc;
}

const cli_cmd cli_cmd_status = {
    .name = "status",
    .synopsis = "[--json] [--group G] [--state S] [--limit N]",
    .summary = "show groups and workers (GET /v1/groups, /v1/workers; needs the admin token)",
    .details = "Prints two tables. LAST-HB-AGE is the time since the worker's last heartbeat;\n"
               "SESSION how long its current session has been open ('-' when none is open).\n"
               "Workers are fetched page by page until --limit of them are shown.",
    .flags = status_flags,
    .nflags = sizeof status_flags / sizeof status_flags[0],
    .min_pos = 0,
    .max_pos = 0,
    .pos_name = "",
    .ingest = false,
    .run = run_status,
};
