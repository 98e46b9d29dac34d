/*
 * cli.h: what the `vigil` command's files share (private to the CLI).
 *
 * cli.c owns argv parsing, help, global options, token lookup and the
 * mapping of libvigil outcomes to exit codes; each command (cli_post.c for
 * beat/bye, cli_status.c for status, cli_rel.c for reliability and import)
 * is a cli_cmd: a table of its flags and a run function that receives the
 * parsed arguments. Commands see the server only through the public libvigil
 * API (vigil.h); they may use the pure parsers of src/core (tfmt) so that a
 * value is checked by the same code the server runs.
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "vigil.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit codes: also listed in `vigil --help` and docs/cli.md. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_REFUSED = 1,     /* the server refused (4xx/5xx) or answered nonsense */
    CLI_EXIT_USAGE = 2,       /* bad usage, or a value refused locally */
    CLI_EXIT_UNREACHABLE = 3, /* could not reach the server */
};

/* One command-line flag of a command. */
typedef struct cli_flag {
    const char *name; /* "--cpu" */
    const char *key;  /* the JSON field it sets ("cpu"), or NULL for a CLI-only flag */
    const char *arg;  /* placeholder shown in help ("X"); NULL for a switch */
    const char *help;
} cli_flag;

/* One flag as given: `value` is NULL for a switch. */
typedef struct cli_opt {
    const cli_flag *flag;
    const char *value;
} cli_opt;

#define CLI_MAX_POS 4

struct cli_cmd;

/* Everything a command's run function needs. */
typedef struct cli_ctx {
    const struct cli_cmd *cmd;
    const char *url;      /* --url, or NULL */
    const char *token;    /* --token, or NULL */
    const char *data_dir; /* --data, or NULL */
    const char *pos[CLI_MAX_POS];
    int npos;
    cli_opt *opts; /* in command-line order; a repeated flag appears twice */
    size_t nopts;
    vigil_client *client; /* made by cli_connect() */
    bool token_found;     /* whether cli_connect() found any token, for hints on 401 */
} cli_ctx;

typedef struct cli_cmd {
    const char *name;
    const char *synopsis; /* after "vigil NAME " */
    const char *summary;  /* one line for the command list */
    const char *details;  /* extra paragraph for `vigil help NAME`, or NULL */
    const cli_flag *flags;
    size_t nflags;
    int min_pos, max_pos; /* positional arguments accepted */
    const char *pos_name; /* what they are, for "missing ID" */
    bool ingest;          /* an ingest endpoint: VIGIL_INGEST_TOKEN is preferred */
    int (*run)(cli_ctx *ctx);
} cli_cmd;

extern const cli_cmd cli_cmd_beat, cli_cmd_bye, cli_cmd_status, cli_cmd_reliability, cli_cmd_import;

/* Resolve URL and token (flags, environment, DATA/admin.token) and create
 * ctx->client. Returns CLI_EXIT_OK, or prints why and returns an exit code. */
int cli_connect(cli_ctx *ctx);

/* Print the last libvigil failure on ctx->client to stderr and return the
 * exit code for `status` (a vigil_status other than VIGIL_OK). */
int cli_fail(const cli_ctx *ctx, int status);

/* printf to stderr with the "vigil: " prefix and a newline. */
__attribute__((format(printf, 1, 2))) void cli_err(const char *fmt, ...);

#endif
