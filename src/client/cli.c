/*
 * cli: `vigil`, the command-line client of vigild.
 *
 * Mechanism: one pass over argv. Global options (--url, --token, --data,
 * --help, --version) are recognized anywhere, before or after the command;
 * the first bare word picks the command, whose own flags are then looked up
 * in that command's table (cli_cmd.flags) and handed to its run function in
 * order. Nothing is parsed per flag by a chain of ifs: a flag either sets a
 * JSON field named in the table, or is read by name in the command.
 *
 * Exit codes are the contract scripts rely on (cli.h, docs/cli.md), so every
 * failure path goes through cli_fail() or returns CLI_EXIT_USAGE here.
 */
#include "client/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0-dev" /* CMake defines the real one */
#endif

#define TOKEN_MAX 512

enum { G_URL, G_TOKEN, G_DATA, G_HELP, G_VERSION };

static const cli_flag global_flags[] = {
    [G_URL] = {"--url", NULL, "URL",
               "vigild address (env VIGIL_URL; default " VIGIL_DEFAULT_URL ")"},
    [G_TOKEN] = {"--token", NULL, "T",
                 "bearer token (else env VIGIL_TOKEN, else VIGIL_INGEST_TOKEN for\n"
                 "beat/bye, else VIGIL_ADMIN_TOKEN, else the file DATA/admin.token)"},
    [G_DATA] = {"--data", NULL, "DIR",
                "vigild's data directory, which holds admin.token\n"
                "(env VIGIL_DATA_DIR; default ./var)"},
    [G_HELP] = {"--help", NULL, NULL, "show help (also -h, `vigil help CMD`, `vigil CMD --help`)"},
    [G_VERSION] = {"--version", NULL, NULL, "show the version"},
};
#define N_GLOBAL (sizeof global_flags / sizeof global_flags[0])

static const cli_cmd *const commands[] = {&cli_cmd_beat,    &cli_cmd_bye,         &cli_cmd_status,
                                          &cli_cmd_top,     &cli_cmd_reliability, &cli_cmd_import,
                                          &cli_cmd_silence, &cli_cmd_run};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vigil: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const cli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i]->name, name)) return commands[i];
    return NULL;
}

/* ---- help ------------------------------------------------------------------ */

static void print_flags(FILE *f, const cli_flag *flags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        /* Help text may hold '\n': continuation lines line up under the first. */
        const char *h = flags[i].help;
        fprintf(f, "  %-24s ", left);
        for (const char *nl; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
            fprintf(f, "%.*s\n%27s", (int)(nl - h), h, "");
        fprintf(f, "%s\n", h);
    }
}

static const char exit_codes_help[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  the server refused the request (4xx/5xx; its error is printed) or answered nonsense\n"
    "  2  usage error, or a value refused locally before anything was sent\n"
    "  3  could not reach the server (connection refused, DNS, timeout)\n";

static void global_help(FILE *f)
{
    fprintf(f, "usage: vigil [--url URL] [--token T] [--data DIR] COMMAND [ARGS]\n\n"
               "Talk to vigild, the fleet liveness service.\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-12s %s\n", "help", "show help for a command");
    fprintf(f, "\nGlobal options (before or after the command):\n");
    print_flags(f, global_flags, N_GLOBAL);
    fprintf(f, "\n%s\nRun 'vigil help COMMAND' for a command's options.\n", exit_codes_help);
}

static void command_help(FILE *f, const cli_cmd *cmd)
{
    fprintf(f, "usage: vigil %s %s\n\n%s\n", cmd->name, cmd->synopsis, cmd->summary);
    if (cmd->details) fprintf(f, "\n%s\n", cmd->details);
    if (cmd->nflags) {
        fprintf(f, "\nOptions:\n");
        print_flags(f, cmd->flags, cmd->nflags);
    }
    fprintf(f, "\nGlobal options:\n");
    print_flags(f, global_flags, N_GLOBAL);
    fprintf(f, "\n%s", exit_codes_help);
}

static int usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vigil: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\nusage: vigil %s %s\nRun 'vigil help %s' for details.\n", cmd->name,
                cmd->synopsis, cmd->name);
    else
        fprintf(stderr, "\nRun 'vigil --help' for usage.\n");
    return CLI_EXIT_USAGE;
}

/* ---- URL and token --------------------------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL; /* an empty variable counts as unset */
}

/* Read DIR/admin.token into buf (first line, surrounding whitespace removed).
 * A missing file is normal (ingest may be open); other errors are said. */
static bool read_token_file(const char *dir, char *buf, size_t cap)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/admin.token", dir) >= sizeof path) return false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) cli_err("warning: cannot read %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) return false;
    size_t n = strlen(buf);
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = '\0';
    size_t lead = strspn(buf, " \t");
    memmove(buf, buf + lead, n - lead + 1);
    return buf[0] != '\0';
}

void cli_resolve(cli_ctx *ctx, const char **url_out, const char **token_out)
{
    const char *url = ctx->url ? ctx->url : env("VIGIL_URL");
    /* Order (docs/cli.md): --token, VIGIL_TOKEN, VIGIL_INGEST_TOKEN (beat/bye
     * only: the least privilege that works), VIGIL_ADMIN_TOKEN, admin.token. */
    const char *token = ctx->token;
    if (!token) token = env("VIGIL_TOKEN");
    if (!token && ctx->cmd->ingest) token = env("VIGIL_INGEST_TOKEN");
    if (!token) token = env("VIGIL_ADMIN_TOKEN");
    static char file_token[TOKEN_MAX];
    if (!token) {
        const char *dir = ctx->data_dir ? ctx->data_dir : env("VIGIL_DATA_DIR");
        if (read_token_file(dir ? dir : "./var", file_token, sizeof file_token)) token = file_token;
    }
    ctx->token_found = token && *token;
    *url_out = url;
    *token_out = token;
}

int cli_connect(cli_ctx *ctx)
{
    const char *url, *token;
    cli_resolve(ctx, &url, &token);
    ctx->client = vigil_client_new(url, token);
    if (!ctx->client) {
        cli_err("%s", vigil_last_error(NULL));
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_fail(const cli_ctx *ctx, int status)
{
    const vigil_client *c = ctx->client;
    const char *msg = vigil_last_error(c);
    switch (status) {
    case VIGIL_OK:
        return CLI_EXIT_OK;
    case VIGIL_ERR_INVALID:
        cli_err("%s", msg);
        return CLI_EXIT_USAGE;
    case VIGIL_ERR_REFUSED: {
        long http = vigil_last_http_status(c);
        cli_err("server refused (HTTP %ld): %s", http, msg);
        if ((http == 401 || http == 403) && !ctx->token_found)
            cli_err("no token was found: use --token, VIGIL_TOKEN, %sVIGIL_ADMIN_TOKEN, "
                    "or --data DIR holding vigild's admin.token",
                    ctx->cmd->ingest ? "VIGIL_INGEST_TOKEN, " : "");
        return CLI_EXIT_REFUSED;
    }
    case VIGIL_ERR_TRANSPORT:
        cli_err("%s", msg);
        return CLI_EXIT_UNREACHABLE;
    default:
        cli_err("%s", msg[0] ? msg : vigil_status_name(status));
        return CLI_EXIT_REFUSED;
    }
}

/* ---- argv ------------------------------------------------------------------ */

static const cli_flag *find_flag(const cli_flag *flags, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len)) return &flags[i];
    return NULL;
}

typedef struct parsed {
    cli_ctx ctx;
    bool help, version, help_cmd; /* help_cmd: `vigil help [CMD]` */
} parsed;

/* Fill p from argv. Returns -1 when all went well, else an exit code
 * (a usage error has been printed). */
static int parse_args(int argc, char **argv, parsed *p)
{
    cli_ctx *ctx = &p->ctx;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool is_opt = !only_pos && a[0] == '-' && a[1] != '\0';
        if (is_opt && !strcmp(a, "--")) {
            if (ctx->cmd && ctx->cmd->rest && !p->help_cmd) {
                /* The rest is the command to run, options and all: not ours. */
                ctx->rest = &argv[i + 1];
                ctx->nrest = argc - i - 1;
                break;
            }
            only_pos = true;
            continue;
        }
        if (!is_opt) {
            if (!ctx->cmd && !p->help_cmd) {
                if (!strcmp(a, "help")) {
                    p->help_cmd = true;
                    continue;
                }
                ctx->cmd = find_command(a);
                if (!ctx->cmd) return usage_error(NULL, "unknown command '%s'", a);
                continue;
            }
            if (p->help_cmd && !ctx->cmd) {
                if (!(ctx->cmd = find_command(a)))
                    return usage_error(NULL, "no help for unknown command '%s'", a);
                continue;
            }
            if (ctx->npos >= ctx->cmd->max_pos || ctx->npos >= CLI_MAX_POS)
                return usage_error(ctx->cmd, "unexpected argument '%s'", a);
            ctx->pos[ctx->npos++] = a;
            continue;
        }
        /* An option: "--name", "--name=value", "--name value"; -h and -V too. */
        const char *name = a, *eq = NULL;
        if (!strcmp(a, "-h"))
            name = "--help";
        else if (!strcmp(a, "-V"))
            name = "--version";
        else if (a[1] == '-')
            eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_flag *f = find_flag(global_flags, N_GLOBAL, name, nlen);
        bool global = f != NULL;
        if (!f && ctx->cmd && !p->help_cmd)
            f = find_flag(ctx->cmd->flags, ctx->cmd->nflags, name, nlen);
        if (!f) {
            if (!ctx->cmd)
                return usage_error(NULL,
                                   "unknown option '%.*s' (command options go after "
                                   "the command)",
                                   (int)nlen, name);
            return usage_error(ctx->cmd, "unknown option '%.*s'", (int)nlen, name);
        }
        const char *value = NULL;
        if (f->arg) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i]; /* may start with '-': "--exit -1" */
            else
                return usage_error(global ? NULL : ctx->cmd, "%s needs a value (%s)", f->name,
                                   f->arg);
        } else if (eq) {
            return usage_error(global ? NULL : ctx->cmd, "%s takes no value", f->name);
        }
        if (global) {
            switch (f - global_flags) {
            case G_URL:
                ctx->url = value;
                break;
            case G_TOKEN:
                ctx->token = value;
                break;
            case G_DATA:
                ctx->data_dir = value;
                break;
            case G_HELP:
                p->help = true;
                break;
            case G_VERSION:
                p->version = true;
                break;
            }
            continue;
        }
        ctx->opts[ctx->nopts++] = (cli_opt){f, value};
    }
    return -1;
}

int main(int argc, char **argv)
{
    /* A closed stdout pipe (`vigil status | head`) should end in a write
     * error, not a signal; libcurl runs with NOSIGNAL and relies on it too. */
    signal(SIGPIPE, SIG_IGN);

    parsed p = {0};
    /* Every argv word is at most one option. */
    p.ctx.opts = calloc((size_t)(argc > 0 ? argc : 1), sizeof *p.ctx.opts);
    if (!p.ctx.opts) {
        cli_err("out of memory");
        return CLI_EXIT_REFUSED;
    }
    int rc = parse_args(argc, argv, &p);
    cli_ctx *ctx = &p.ctx;
    if (rc >= 0) goto out;
    if (p.version) {
        printf("vigil %s (libvigil %s)\n", VIGIL_VERSION, vigil_version());
        rc = CLI_EXIT_OK;
    } else if (p.help || p.help_cmd) {
        if (ctx->cmd)
            command_help(stdout, ctx->cmd);
        else
            global_help(stdout);
        rc = CLI_EXIT_OK;
    } else if (!ctx->cmd) {
        global_help(stderr);
        rc = CLI_EXIT_USAGE;
    } else if (ctx->npos < ctx->cmd->min_pos) {
        rc = usage_error(ctx->cmd, "missing %s", ctx->cmd->pos_name);
    } else {
        rc = ctx->cmd->run(ctx);
    }
    /* Output that did not reach stdout (full disk) is a failure; a reader
     * that stopped early (`| head`) got what it wanted, so no noise then. */
    if (fflush(stdout) != 0 && errno != EPIPE && rc == CLI_EXIT_OK) {
        cli_err("writing output: %s", strerror(errno));
        rc = CLI_EXIT_REFUSED;
    }
out:
    vigil_client_free(ctx->client);
    free(ctx->opts);
    return rc;
}
