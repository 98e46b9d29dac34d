/*
 * cli_silence: `vigil silence add|list|rm`, the silences of vigild's alert
 * engine (POST and GET /v1/silences, DELETE /v1/silences/{id}).
 *
 * One command with subcommands, so that it fits cli.c's command table: the
 * first positional word picks the subcommand, and the command's flags carry
 * the subcommands they belong to. A flag given to another subcommand is a
 * usage error, not ignored: `vigil silence list --for 2h` is a mistake the
 * operator should hear about. Like `beat`, each flag of `add` names the JSON
 * field it sets, and the values are sent as typed.
 *
 * Everything that can be checked here is, before connecting, with the
 * server's own code (tfmt for times and durations, alert_glob_valid for
 * globs), so a typo exits 2 with nothing sent and what passes is what the
 * server reads. What depends on the clock (an end already past, or more than
 * a year away) is left to the server: this machine's clock may be off.
 *
 * Without alert rules vigild runs no alert engine: POST answers 409 (field
 * "rules"), GET an empty list and DELETE 404. The 409 is said in plain words;
 * the other two cannot be told from "no silences" and "no such id".
 */
#include "client/cli.h"

#include "core/alert.h"
#include "core/alert_rule.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_RULE, F_GROUP, F_WORKER, F_FOR, F_UNTIL, F_COMMENT, F_JSON, F__N };

static const cli_flag silence_flags[] = {
    [F_RULE] = {"--rule", "rule", "GLOB", "add: only alerts of rules matching GLOB (* ? [..])"},
    [F_GROUP] = {"--group", "group", "GLOB", "add: only alerts of groups matching GLOB"},
    [F_WORKER] = {"--worker", "worker", "GLOB", "add: only alerts of workers matching GLOB"},
    [F_FOR] = {"--for", "duration", "D", "add: for this long: 90s, 10m, 2h, 7d"},
    [F_UNTIL] = {"--until", "ends_at", "TIME",
                 "add: until this ISO-8601 UTC time (2026-11-23T18:00:00Z)"},
    [F_COMMENT] = {"--comment", "comment", "TEXT", "add: why (fewer than 512 bytes)"},
    [F_JSON] = {"--json", NULL, NULL, "add, list: print the server's JSON answer as is"},
};

#define BIT(f) (1u << (f))

typedef struct sub {
    const char *name, *alias;
    int npos;       /* positional words, the subcommand's name included */
    unsigned flags; /* BIT(F_…) it accepts */
    int (*run)(cli_ctx *ctx, const char *const *v);
} sub;

/* A usage error of this command: the same shape as cli.c's. */
__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vigil: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: vigil silence %s\nRun 'vigil help silence' for details.\n",
            cli_cmd_silence.synopsis);
    return CLI_EXIT_USAGE;
}

/* cli_fail, plus a hint when the server does not know the endpoint at all:
 * a vigild older than this vigil (an unknown silence id is a 404 too, but
 * names the field "id", not "path"). */
static int fail(const cli_ctx *ctx, int status)
{
    int rc = cli_fail(ctx, status);
    if (status == VIGIL_ERR_REFUSED && vigil_last_http_status(ctx->client) == 404 &&
        !strcmp(vigil_last_error_field(ctx->client), "path"))
        cli_err("this vigild does not serve /v1/silences: is it older than this vigil?");
    return rc;
}

/* The answer as is, ending in one newline (for `jq`). */
static void print_raw(const vigil_response *r)
{
    fwrite(r->body, 1, r->body_len, stdout);
    if (r->body_len == 0 || r->body[r->body_len - 1] != '\n') fputc('\n', stdout);
}

/* ---- add --------------------------------------------------------------------- */

/* tfmt_parse_duration reads anything strtod does ("0x1p4", " 5m", "+2h"):
 * keep to plain decimals and a unit, which is what the help promises. */
static bool plain_duration(const char *s, int64_t *ms)
{
    size_t n = strspn(s, "0123456789.");
    return n > 0 && s[0] != '.' && strchr("smhd", s[n] ? s[n] : 's') &&
           tfmt_parse_duration(s, ms) == 0;
}

static int add_check(const char *const *v)
{
    static const int globs[] = {F_RULE, F_GROUP, F_WORKER};
    bool any = false;
    for (size_t i = 0; i < sizeof globs / sizeof globs[0]; i++) {
        const char *g = v[globs[i]];
        if (!g) continue;
        if (!*g || !alert_glob_valid(g))
            return usage("%s: must be a non-empty glob (* ? [..]) of at most %d bytes (got '%s')",
                         silence_flags[globs[i]].name, ALERT_GLOB_MAX, g);
        any = true;
    }
    /* The server refuses a silence of everything: it would mute every alert. */
    if (!any) return usage("give at least one of --rule, --group, --worker");
    if (!v[F_FOR] && !v[F_UNTIL])
        return usage("give --for DURATION (90s, 10m, 2h, 7d) or --until TIME (ISO-8601)");
    if (v[F_FOR] && v[F_UNTIL]) return usage("give --for or --until, not both");
    int64_t ms;
    if (v[F_FOR] && (!plain_duration(v[F_FOR], &ms) || ms <= 0))
        return usage("--for: expected a positive duration such as 90s, 10m, 2h or 7d (got '%s')",
                     v[F_FOR]);
    if (v[F_UNTIL] && tfmt_parse(v[F_UNTIL], &ms) != 0)
        return usage("--until: expected an ISO-8601 UTC time such as 2026-11-23T18:00:00Z "
                     "(got '%s')",
                     v[F_UNTIL]);
    if (v[F_COMMENT] && strlen(v[F_COMMENT]) >= sizeof((alert_silence){0}).comment)
        return usage("--comment: must be fewer than %zu bytes", sizeof((alert_silence){0}).comment);
    return CLI_EXIT_OK;
}

/* A 400 naming one of the body's fields (an end already past by the
 * server's clock, more than a year away) is said with the flag the operator
 * typed: "--until: must end in the future", not "ends_at: ...". */
static bool refused_flag(const cli_ctx *ctx, int status)
{
    const char *field = vigil_last_error_field(ctx->client);
    const char *msg = vigil_last_error(ctx->client);
    size_t n = strlen(field);
    if (status != VIGIL_ERR_REFUSED || vigil_last_http_status(ctx->client) != 400 || !n ||
        strncmp(msg, field, n) || strncmp(msg + n, ": ", 2))
        return false;
    for (int f = F_RULE; f <= F_COMMENT; f++)
        if (!strcmp(field, silence_flags[f].key)) {
            cli_err("%s: %s (refused by the server, HTTP 400)", silence_flags[f].name, msg + n + 2);
            return true;
        }
    return false;
}

static int run_add(cli_ctx *ctx, const char *const *v)
{
    int rc = add_check(v);
    if (rc != CLI_EXIT_OK) return rc;
    cJSON *doc = cJSON_CreateObject();
    bool ok = doc != NULL;
    for (int f = F_RULE; ok && f <= F_COMMENT; f++)
        if (v[f]) ok = cJSON_AddStringToObject(doc, silence_flags[f].key, v[f]) != NULL;
    char *body = ok ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!body) {
        cli_err("out of memory");
        return CLI_EXIT_REFUSED;
    }
    rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) {
        cJSON_free(body);
        return rc;
    }
    vigil_response r;
    int st = vigil_post(ctx->client, "/v1/silences", NULL, body, strlen(body), &r);
    cJSON_free(body);
    if (st == VIGIL_ERR_REFUSED && vigil_last_http_status(ctx->client) == 409 &&
        !strcmp(vigil_last_error_field(ctx->client), "rules")) {
        /* Not the request's fault: this vigild has no alert engine to silence. */
        cli_err("cannot add a silence: alerting is off on this vigild (its configuration has no "
                "[rule \"...\"] section; see docs/alerts.md)");
        vigil_response_free(&r);
        return CLI_EXIT_REFUSED;
    }
    if (st != VIGIL_OK) {
        vigil_response_free(&r);
        return refused_flag(ctx, st) ? CLI_EXIT_REFUSED : fail(ctx, st);
    }
    if (v[F_JSON]) {
        print_raw(&r);
        vigil_response_free(&r);
        return CLI_EXIT_OK;
    }
    cJSON *ans = cJSON_ParseWithLength(r.body, r.body_len);
    vigil_response_free(&r);
    const cJSON *id = cli_json_get(ans, "id");
    /* Just the id, so that `id=$(vigil silence add ...)` works. */
    if (cJSON_IsNumber(id))
        printf("%.0f\n", id->valuedouble);
    else {
        cli_err("unexpected answer from POST /v1/silences: %s",
                ans ? "no \"id\" in it" : "not JSON");
        rc = CLI_EXIT_REFUSED;
    }
    cJSON_Delete(ans);
    return rc;
}

/* ---- list -------------------------------------------------------------------- */

static int print_silences(const cJSON *silences)
{
    cli_table t = {.ncols = 6, .head = {"ID", "RULE", "GROUP", "WORKER", "ENDS", "COMMENT"}};
    static const bool left[] = {false, true, true, true, true, true};
    static const char *const globs[] = {"rule", "group", "worker"};
    const cJSON *s;
    cJSON_ArrayForEach(s, silences)
    {
        cli_table_num(&t, cli_json_get(s, "id"), "%.0f");
        /* An empty glob matches anything: show it as the glob that does. */
        for (size_t i = 0; i < sizeof globs / sizeof globs[0]; i++) {
            const char *g = cJSON_GetStringValue(cli_json_get(s, globs[i]));
            cli_table_cell(&t, "%s", g && *g ? g : "*");
        }
        /* The server's time as it wrote it: no local clock or zone comes in. */
        cli_table_cell(&t, "%s", cli_json_str(s, "ends_at"));
        cli_table_cell(&t, "%s", cli_json_str(s, "comment"));
    }
    int rc = CLI_EXIT_OK;
    if (t.nomem) {
        cli_err("out of memory");
        rc = CLI_EXIT_REFUSED;
    } else
        cli_table_print(&t, left);
    cli_table_free(&t);
    return rc;
}

static int run_list(cli_ctx *ctx, const char *const *v)
{
    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) return rc;
    vigil_response r;
    int st = vigil_get(ctx->client, "/v1/silences", NULL, 0, &r);
    if (st != VIGIL_OK) {
        vigil_response_free(&r);
        return fail(ctx, st);
    }
    if (v[F_JSON]) {
        print_raw(&r);
        vigil_response_free(&r);
        return CLI_EXIT_OK;
    }
    cJSON *doc = cJSON_ParseWithLength(r.body, r.body_len);
    vigil_response_free(&r);
    const cJSON *silences = cli_json_get(doc, "silences");
    if (!cJSON_IsArray(silences)) {
        cli_err("unexpected answer from GET /v1/silences: %s",
                doc ? "no \"silences\" array in it" : "not JSON");
        rc = CLI_EXIT_REFUSED;
    } else if (cJSON_GetArraySize(silences) == 0)
        puts("no silences");
    else
        rc = print_silences(silences);
    cJSON_Delete(doc);
    return rc;
}

/* ---- rm ---------------------------------------------------------------------- */

static int run_rm(cli_ctx *ctx, const char *const *v)
{
    (void)v;
    const char *arg = ctx->pos[1];
    /* Digits only: strtoll alone would take " 7", "+7" or "-7". 18 digits
     * cannot overflow, and no engine hands out that many ids. */
    size_t n = strspn(arg, "0123456789");
    long long id = n && !arg[n] && n <= 18 ? strtoll(arg, NULL, 10) : 0;
    if (id <= 0) return usage("silence ID must be a positive integer (got '%s')", arg);
    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) return rc;
    char path[48];
    snprintf(path, sizeof path, "/v1/silences/%lld", id);
    vigil_response r;
    int st = vigil_delete(ctx->client, path, &r);
    vigil_response_free(&r);
    if (st == VIGIL_ERR_REFUSED && vigil_last_http_status(ctx->client) == 404 &&
        !strcmp(vigil_last_error_field(ctx->client), "id")) {
        cli_err("no silence %lld (HTTP 404): it may have ended, or vigild restarted "
                "(silences live in memory)",
                id);
        return CLI_EXIT_REFUSED;
    }
    return st == VIGIL_OK ? CLI_EXIT_OK : fail(ctx, st);
}

/* ---- the command ------------------------------------------------------------- */

static const sub subs[] = {
    {"add", NULL, 1,
     BIT(F_RULE) | BIT(F_GROUP) | BIT(F_WORKER) | BIT(F_FOR) | BIT(F_UNTIL) | BIT(F_COMMENT) |
         BIT(F_JSON),
     run_add},
    {"list", NULL, 1, BIT(F_JSON), run_list},
    {"rm", "del", 2, 0, run_rm},
};

static int run_silence(cli_ctx *ctx)
{
    const char *name = ctx->pos[0];
    const sub *s = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0] && !s; i++)
        if (!strcmp(name, subs[i].name) || (subs[i].alias && !strcmp(name, subs[i].alias)))
            s = &subs[i];
    if (!s) return usage("unknown subcommand '%s' (add, list or rm)", name);
    if (ctx->npos < s->npos) return usage("silence %s: missing silence ID", name);
    if (ctx->npos > s->npos) return usage("unexpected argument '%s'", ctx->pos[s->npos]);
    const char *v[F__N] = {NULL};
    for (size_t i = 0; i < ctx->nopts; i++) {
        const cli_flag *f = ctx->opts[i].flag;
        int k = (int)(f - silence_flags);
        if (!(s->flags & BIT(k)))
            return usage("%s: not an option of 'vigil silence %s'", f->name, name);
        v[k] = ctx->opts[i].value ? ctx->opts[i].value : ""; /* a repeated flag: the last */
    }
    return s->run(ctx, v);
}

const cli_cmd cli_cmd_silence = {
    .name = "silence",
    .synopsis = "add [--rule GLOB] [--group GLOB] [--worker GLOB] (--for D | --until TIME)\n"
                "                     [--comment TEXT] [--json]\n"
                "       vigil silence list [--json]\n"
                "       vigil silence rm ID",
    .summary = "add, list or remove silences of alert notices (/v1/silences; admin token)",
    .details = "add: hold back the notices of alerts matching all the globs given (at least\n"
               "one) for D or until TIME; prints the new silence's id. list: the silences in\n"
               "force. rm (or del): end silence ID early. Alerts still fire and resolve\n"
               "meanwhile; one still firing when its silence ends is notified then. Silences\n"
               "live in vigild's memory (a restart forgets them) and need alert rules in its\n"
               "configuration: without any, 'add' is refused and 'list' is always empty.",
    .flags = silence_flags,
    .nflags = sizeof silence_flags / sizeof silence_flags[0],
    .min_pos = 1,
    .max_pos = 2,
    .pos_name = "subcommand: add, list or rm",
    .ingest = false,
    .run = run_silence,
};
