/*
 * cli_rel: `vigil reliability`, the fleet ranked by the rollup's per-worker
 * figures (DESIGN §6), and `vigil import sessions FILE`, history from
 * another system.
 *
 * reliability: one GET /v1/reliability; the server filters, ranks and caps,
 * so the client only checks the flags' values and lays the rows out. Ages are
 * taken against the answer's computed_at (the server's clock when the rollup
 * ran), as `status` does with its own timestamps, so a skewed clock here
 * cannot distort them and every figure in a row is as of the same instant.
 *
 * import: the file is sent whole, as one request, because the server checks
 * every row before it writes any (a bad row means nothing was imported); so
 * a refusal names the row and the file can be fixed and sent again, and
 * rows already stored are skipped, not doubled.
 */
#include "client/cli.h"

#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_LIMIT 10000000LL
#define IMPORT_MAX (64u * 1024 * 1024) /* the server's body limit for an import */
#define IMPORT_TIMEOUT_MS 600000L      /* 64 MiB checked row by row takes a while */

/* ---- values ------------------------------------------------------------------ */

/* A plain decimal in [0,1]: no inf, nan, hex or trailing junk. */
static bool parse_unit(const char *s, double *out)
{
    if (!s || !(isdigit((unsigned char)*s) || *s == '.')) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0 && v <= 1)) return false;
    *out = v;
    return true;
}

/* cli_fail, plus a hint when the server does not know the endpoint at all:
 * a vigild older than this vigil, the likeliest cause of a 404 here. */
static int fail(const cli_ctx *ctx, int status, const char *what)
{
    int rc = cli_fail(ctx, status);
    if (status == VIGIL_ERR_REFUSED && vigil_last_http_status(ctx->client) == 404)
        cli_err("this vigild does not serve %s: is it older than this vigil?", what);
    return rc;
}

/* ---- vigil reliability ------------------------------------------------------- */

enum { R_GROUP, R_STAYS, R_MIN_SCORE, R_MIN_UPTIME, R_LIMIT, R_JSON };

static const cli_flag rel_flags[] = {
    [R_GROUP] = {"--group", NULL, "G", "only this group"},
    [R_STAYS] = {"--stays-for", NULL, "D", "add P(a session lasts at least D): 6h, 90m, 2d, 3600s"},
    [R_MIN_SCORE] = {"--min-score", NULL, "X", "only workers scoring at least X (0-1)"},
    [R_MIN_UPTIME] = {"--min-uptime", NULL, "X",
                      "only workers up at least this fraction of the time (0-1)"},
    [R_LIMIT] = {"--limit", NULL, "N", "at most N workers (default: the server's)"},
    [R_JSON] = {"--json", NULL, NULL, "print the server's JSON answer as is"},
};

static int print_ranking(const cJSON *doc, const cJSON *workers, const char *stays_head)
{
    cli_table t = {.ncols = 0};
    const char *head[] = {"RANK",  "WORKER", "GROUP", "SCORE",    "UPTIME",         "P(4h)",
                          "P(8h)", NULL,     "MTBF",  "SESSIONS", "LAST-DISCONNECT"};
    bool left[CLI_TABLE_MAX_COLS] = {false};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        const char *h = head[i] ? head[i] : stays_head;
        if (!h) continue; /* no --stays-for: no P(stays) column */
        left[t.ncols] = i == 1 || i == 2;
        t.head[t.ncols++] = h;
    }
    /* Ages as of the rollup; without its time (none has run?), as of now. */
    double at;
    if (!cli_parse_iso(cJSON_GetStringValue(cli_json_get(doc, "computed_at")), &at))
        at = (double)time(NULL);
    long rank = 0;
    const cJSON *w;
    cJSON_ArrayForEach(w, workers)
    {
        cli_table_cell(&t, "%ld", ++rank);
        cli_table_cell(&t, "%s", cli_json_str(w, "worker_id"));
        cli_table_cell(&t, "%s", cli_json_str(w, "group"));
        cli_table_num(&t, cli_json_get(w, "liveness_score"), "%.3f");
        /* Rounded down: a worker that was down at all must not read 100.0%. */
        const cJSON *up = cli_json_get(w, "uptime_pct");
        if (cJSON_IsNumber(up))
            cli_table_cell(&t, "%.1f%%", floor(up->valuedouble * 1000) / 10);
        else
            cli_table_cell(&t, "-");
        cli_table_num(&t, cli_json_get(w, "p_stays_4h"), "%.2f");
        cli_table_num(&t, cli_json_get(w, "p_stays_8h"), "%.2f");
        if (stays_head) cli_table_num(&t, cli_json_get(w, "p_stays"), "%.2f");
        char buf[32];
        const cJSON *mtbf = cli_json_get(w, "mtbf_s");
        cli_fmt_duration(cJSON_IsNumber(mtbf) ? mtbf->valuedouble : NAN, CLI_DURATION_COMPACT, buf,
                         sizeof buf);
        cli_table_cell(&t, "%s", buf);
        cli_table_num(&t, cli_json_get(w, "sessions_count"), "%.0f");
        double last;
        if (cli_parse_iso(cJSON_GetStringValue(cli_json_get(w, "last_disconnect_at")), &last)) {
            cli_fmt_duration(at - last, CLI_DURATION_COMPACT, buf, sizeof buf);
            cli_table_cell(&t, "%s ago", buf);
        } else
            cli_table_cell(&t, "-");
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

static int run_reliability(cli_ctx *ctx)
{
    const char *v[sizeof rel_flags / sizeof rel_flags[0]] = {NULL};
    for (size_t i = 0; i < ctx->nopts; i++)
        v[ctx->opts[i].flag - rel_flags] = ctx->opts[i].value ? ctx->opts[i].value : "";
    bool json = v[R_JSON] != NULL;

    /* Checked here with the server's duration parser, so a typo exits 2
     * with nothing sent, and what passes is what the server reads. */
    char stays_head[48] = "";
    if (v[R_STAYS]) {
        int64_t ms;
        if (!isdigit((unsigned char)v[R_STAYS][0]) || tfmt_parse_duration(v[R_STAYS], &ms) != 0 ||
            ms < 1000) {
            cli_err("--stays-for: expected a duration of at least 1s, such as 6h, 90m, 2d or "
                    "3600s (got '%s')",
                    v[R_STAYS]);
            return CLI_EXIT_USAGE;
        }
        char d[32];
        cli_fmt_duration((double)ms / 1000, CLI_DURATION_COMPACT, d, sizeof d);
        snprintf(stays_head, sizeof stays_head, "P(%s)", d);
    }
    double x;
    if (v[R_MIN_SCORE] && !parse_unit(v[R_MIN_SCORE], &x)) {
        cli_err("--min-score: must be a number between 0 and 1");
        return CLI_EXIT_USAGE;
    }
    if (v[R_MIN_UPTIME] && !parse_unit(v[R_MIN_UPTIME], &x)) {
        cli_err("--min-uptime: must be a fraction between 0 and 1 (0.99 for 99%%)");
        return CLI_EXIT_USAGE;
    }
    if (v[R_LIMIT]) {
        char *end;
        errno = 0;
        long long n = strtoll(v[R_LIMIT], &end, 10);
        if (!isdigit((unsigned char)v[R_LIMIT][0]) || *end || errno || n < 1 || n > MAX_LIMIT) {
            cli_err("--limit: must be an integer between 1 and %lld", MAX_LIMIT);
            return CLI_EXIT_USAGE;
        }
    }
    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) return rc;

    vigil_field q[] = {{"group", v[R_GROUP]},
                       {"stays_for", v[R_STAYS]},
                       {"min_score", v[R_MIN_SCORE]},
                       {"min_uptime", v[R_MIN_UPTIME]},
                       {"limit", v[R_LIMIT]}};
    vigil_response r;
    int st = vigil_get(ctx->client, "/v1/reliability", q, sizeof q / sizeof q[0], &r);
    if (st != VIGIL_OK) {
        vigil_response_free(&r);
        return fail(ctx, st, "GET /v1/reliability");
    }
    if (json) {
        fwrite(r.body, 1, r.body_len, stdout);
        if (r.body_len == 0 || r.body[r.body_len - 1] != '\n') fputc('\n', stdout);
        vigil_response_free(&r);
        return CLI_EXIT_OK;
    }
    cJSON *doc = cJSON_ParseWithLength(r.body, r.body_len);
    vigil_response_free(&r);
    const cJSON *workers = cli_json_get(doc, "workers");
    if (!cJSON_IsArray(workers)) {
        cli_err("unexpected answer from GET /v1/reliability: %s",
                doc ? "no \"workers\" array in it" : "not JSON");
        cJSON_Delete(doc);
        return CLI_EXIT_REFUSED;
    }
    int shown = cJSON_GetArraySize(workers);
    if (shown == 0) {
        /* Before the first rollup the answer is empty whatever the fleet. */
        if (!cJSON_IsString(cli_json_get(doc, "computed_at")))
            puts("no reliability figures yet: vigild computes them every few minutes");
        else
            puts("no workers match");
    } else {
        rc = print_ranking(doc, workers, v[R_STAYS] ? stays_head : NULL);
        const cJSON *total = cli_json_get(doc, "total");
        if (rc == CLI_EXIT_OK && cJSON_IsNumber(total) && total->valuedouble > shown)
            cli_err("showing the top %d of %.0f workers (use --limit)", shown, total->valuedouble);
    }
    cJSON_Delete(doc);
    return rc;
}

const cli_cmd cli_cmd_reliability = {
    .name = "reliability",
    .synopsis = "[--group G] [--stays-for D] [--min-score X] [--min-uptime X] [--limit N] [--json]",
    .summary = "rank workers by liveness score (GET /v1/reliability; needs the admin token)",
    .details = "Figures come from vigild's last rollup over its window (14 days by default):\n"
               "UPTIME is the share of observed time the worker had a session open, P(4h) and\n"
               "P(8h) the chance a session lasts that long, MTBF the up time per non-clean end,\n"
               "LAST-DISCONNECT how long before the rollup its last session ended ('-': none).",
    .flags = rel_flags,
    .nflags = sizeof rel_flags / sizeof rel_flags[0],
    .min_pos = 0,
    .max_pos = 0,
    .pos_name = "",
    .ingest = false,
    .run = run_reliability,
};

/* ---- vigil import sessions FILE ---------------------------------------------- */

enum { I_FORMAT };

static const cli_flag import_flags[] = {
    [I_FORMAT] = {"--format", NULL, "F",
                  "csv or ndjson (default: from FILE's extension:\n"
                  ".csv, or .ndjson / .jsonl)"},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* The whole of FILE ("-": stdin), at most IMPORT_MAX bytes. NULL after
 * saying why. */
static char *read_all(const char *path, size_t *len)
{
    bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        cli_err("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    const char *name = is_stdin ? "standard input" : path;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            cli_err("out of memory reading %s", name);
            break;
        }
        if (n == cap) {
            /* Reading one byte past the limit tells a file that is too big. */
            if (cap > IMPORT_MAX) {
                cli_err("%s is larger than %u MiB, the server's limit: split it", name,
                        IMPORT_MAX >> 20);
                free(buf);
                buf = NULL;
                break;
            }
            cap = cap * 2 > IMPORT_MAX + 1 ? IMPORT_MAX + 1 : cap * 2;
            char *p = realloc(buf, cap);
            if (!p) free(buf);
            buf = p;
            continue;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                cli_err("reading %s: %s", name, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (!is_stdin) fclose(f);
    *len = n;
    return buf;
}

/* A refused import: the server names the row at fault (1 = the first data
 * record, the CSV header not counted; 0 = the header or the body as a whole).
 * Returns false when the answer carries no row, for cli_fail to say. */
static bool say_bad_row(const vigil_response *r)
{
    cJSON *doc = cJSON_ParseWithLength(r->body, r->body_len);
    const cJSON *err = cli_json_get(doc, "error");
    const cJSON *row = cli_json_get(err, "row");
    const char *field = cJSON_GetStringValue(cli_json_get(err, "field"));
    const char *reason = cJSON_GetStringValue(cli_json_get(err, "reason"));
    bool said = cJSON_IsNumber(row) && reason;
    bool named = field && *field;
    if (said && row->valuedouble < 1) /* the header or the whole body: no row to name */
        cli_err("%s%s%s", named ? field : "", named ? ": " : "", reason);
    else if (said && named)
        cli_err("row %.0f, %s: %s", row->valuedouble, field, reason);
    else if (said)
        cli_err("row %.0f: %s", row->valuedouble, reason);
    cJSON_Delete(doc);
    return said;
}

static int run_import(cli_ctx *ctx)
{
    if (strcmp(ctx->pos[0], "sessions") != 0) {
        cli_err("import: cannot import '%s' (only: vigil import sessions FILE)", ctx->pos[0]);
        return CLI_EXIT_USAGE;
    }
    const char *path = ctx->pos[1], *format = NULL;
    for (size_t i = 0; i < ctx->nopts; i++)
        if (ctx->opts[i].flag - import_flags == I_FORMAT) format = ctx->opts[i].value;
    if (!format) {
        if (ends_with(path, ".csv"))
            format = "csv";
        else if (ends_with(path, ".ndjson") || ends_with(path, ".jsonl"))
            format = "ndjson";
        else {
            cli_err("cannot tell the format of %s from its name: give --format csv or "
                    "--format ndjson",
                    strcmp(path, "-") ? path : "standard input");
            return CLI_EXIT_USAGE;
        }
    }
    const char *ctype = !strcmp(format, "csv")      ? "text/csv"
                        : !strcmp(format, "ndjson") ? "application/x-ndjson"
                                                    : NULL;
    if (!ctype) {
        cli_err("--format: must be csv or ndjson");
        return CLI_EXIT_USAGE;
    }
    size_t len;
    char *body = read_all(path, &len);
    if (!body) return CLI_EXIT_USAGE;
    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) {
        free(body);
        return rc;
    }
    vigil_client_set_timeouts(ctx->client, 0, IMPORT_TIMEOUT_MS);
    vigil_response r;
    int st = vigil_post(ctx->client, "/v1/import/sessions", ctype, body, len, &r);
    free(body);
    if (st != VIGIL_OK) {
        rc = st == VIGIL_ERR_REFUSED && say_bad_row(&r) ? CLI_EXIT_REFUSED
                                                        : fail(ctx, st, "POST /v1/import/sessions");
        vigil_response_free(&r);
        return rc;
    }
    cJSON *doc = cJSON_ParseWithLength(r.body, r.body_len);
    vigil_response_free(&r);
    const cJSON *rows = cli_json_get(doc, "rows"), *ins = cli_json_get(doc, "inserted"),
                *skip = cli_json_get(doc, "skipped");
    if (cJSON_IsNumber(rows) && cJSON_IsNumber(ins) && cJSON_IsNumber(skip))
        printf("imported %.0f row%s (%.0f new, %.0f already there)\n", rows->valuedouble,
               rows->valuedouble == 1 ? "" : "s", ins->valuedouble, skip->valuedouble);
    else {
        cli_err("unexpected answer from POST /v1/import/sessions: %s",
                doc ? "no rows/inserted/skipped counts in it" : "not JSON");
        rc = CLI_EXIT_REFUSED;
    }
    cJSON_Delete(doc);
    return rc;
}

const cli_cmd cli_cmd_import = {
    .name = "import",
    .synopsis = "sessions FILE [--format csv|ndjson]",
    .summary = "import past sessions from a CSV or NDJSON file (POST /v1/import/sessions)",
    .details = "FILE ('-' for standard input) holds one session per row: worker_id, group,\n"
               "instance, opened, closed, reason, exit_code (CSV with a header row, or one JSON\n"
               "object per line). The server checks every row first: one bad row and nothing is\n"
               "imported, and its row number is printed. Rows already stored are skipped, so a\n"
               "file can be sent again. At most 64 MiB per file. Needs the admin token.",
    .flags = import_flags,
    .nflags = sizeof import_flags / sizeof import_flags[0],
    .min_pos = 2,
    .max_pos = 2,
    .pos_name = "arguments: sessions FILE",
    .ingest = false,
    .run = run_import,
};
