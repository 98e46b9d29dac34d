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

/* ---- tables ------------------------------------------------------------------ */

static int print_tables(const cJSON *groups, const cJSON *workers)
{
    cli_table gt = {
        .ncols = 8,
        .head = {"GROUP", "STATE", "ALIVE", "SUSPECT", "DEAD", "LEFT", "EVICTED", "TOTAL"}};
    static const bool gleft[] = {true, true, false, false, false, false, false, false};
    cli_table wt = {.ncols = 6,
                    .head = {"WORKER", "GROUP", "STATE", "LAST-HB-AGE", "SESSION", "INSTANCE"}};
    static const bool wleft[] = {true, true, true, false, false, true};
    char buf[64];

    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
    {
        cli_table_cell(&gt, "%s", cli_json_str(g, "group"));
        cli_table_cell(&gt, "%s", cli_json_str(g, "state"));
        const cJSON *counts = cli_json_get(g, "workers");
        for (size_t i = 0; i < sizeof worker_states / sizeof worker_states[0]; i++)
            cli_table_num(&gt, cli_json_get(counts, worker_states[i]), "%.0f");
        cli_table_num(&gt, cli_json_get(g, "total"), "%.0f");
    }

    const cJSON *w;
    cJSON_ArrayForEach(w, workers)
    {
        cli_table_cell(&wt, "%s", cli_json_str(w, "worker_id"));
        cli_table_cell(&wt, "%s", cli_json_str(w, "group"));
        cli_table_cell(&wt, "%s", cli_json_str(w, "state"));
        const cJSON *age = cli_json_get(w, "age_s");
        if (cJSON_IsNumber(age))
            cli_fmt_duration(age->valuedouble, CLI_DURATION_FIXED, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-");
        cli_table_cell(&wt, "%s", buf);
        /* Session length in the server's time: (last_heartbeat + age_s) - opened. */
        double opened, last;
        if (cJSON_IsNumber(age) &&
            cli_parse_iso(cJSON_GetStringValue(cli_json_get(w, "session_opened")), &opened) &&
            cli_parse_iso(cJSON_GetStringValue(cli_json_get(w, "last_heartbeat")), &last))
            cli_fmt_duration(last + age->valuedouble - opened, CLI_DURATION_FIXED, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "-");
        cli_table_cell(&wt, "%s", buf);
        cli_table_cell(&wt, "%s", cli_json_str(w, "instance"));
    }

    int rc = CLI_EXIT_OK;
    if (gt.nomem || wt.nomem) {
        cli_err("out of memory");
        rc = CLI_EXIT_REFUSED;
    } else {
        cli_table_print(&gt, gleft);
        fputs("\n", stdout);
        cli_table_print(&wt, wleft);
    }
    cli_table_free(&gt);
    cli_table_free(&wt);
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
        const char *next = cJSON_GetStringValue(cli_json_get(doc, "next_cursor"));
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
        const char *name = cJSON_GetStringValue(cli_json_get(g, "group"));
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
