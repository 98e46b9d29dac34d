/*
 * cli.h: what the `vigil` command's files share (private to the CLI).
 *
 * cli.c owns argv parsing, help, global options, token lookup and the
 * mapping of libvigil outcomes to exit codes; each command (cli_post.c for
 * beat/bye, cli_status.c for status, cli_rel.c for reliability and import,
 * cli_silence.c for silence, cli_top.c for top, cli_run.c for run, with its
 * pure parts in cli_proc.c) is a cli_cmd: a table of
 * its flags and a run function that receives the parsed arguments.
 * cli_table.c holds what the commands that print the server's answers share:
 * aligned tables, JSON lookups, durations, times; cli_top_view.c is top's
 * picture of the fleet, cli_top_frame.c how it is drawn, cli_map.c its
 * records by name.
 * Commands see the server only through the public libvigil API (vigil.h);
 * they may use the pure code of src/core (tfmt, the SSE parser ssep) so that
 * a value is read by the same code the server runs.
 */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "vigil.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
    char **rest; /* a `rest` command's words after "--" (the command to run) */
    int nrest;
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
    bool rest;            /* takes "-- CMD ARGS...": the words after "--" go to ctx->rest */
    int (*run)(cli_ctx *ctx);
} cli_cmd;

extern const cli_cmd cli_cmd_beat, cli_cmd_bye, cli_cmd_status, cli_cmd_reliability, cli_cmd_import,
    cli_cmd_silence, cli_cmd_top, cli_cmd_run;

/* The URL (NULL: libvigil's default) and token (NULL: none) cli_connect()
 * would use, for a command that makes its own handle (run: vigil_open). */
void cli_resolve(cli_ctx *ctx, const char **url, const char **token);

/* Resolve URL and token (flags, environment, DATA/admin.token) and create
 * ctx->client. Returns CLI_EXIT_OK, or prints why and returns an exit code. */
int cli_connect(cli_ctx *ctx);

/* Print the last libvigil failure on ctx->client to stderr and return the
 * exit code for `status` (a vigil_status other than VIGIL_OK). */
int cli_fail(const cli_ctx *ctx, int status);

/* printf to stderr with the "vigil: " prefix and a newline. */
__attribute__((format(printf, 1, 2))) void cli_err(const char *fmt, ...);

/* ---- cli_table.c: text for a terminal ---------------------------------------- */

#define CLI_TABLE_MAX_COLS 16

/* A text table: headings, then cells added row-major (ncols per row) and
 * measured only when printed. Zero-initialise all but ncols and head. */
typedef struct cli_table {
    size_t ncols; /* at most CLI_TABLE_MAX_COLS */
    const char *head[CLI_TABLE_MAX_COLS];
    char **cells;
    size_t n, cap;
    bool nomem; /* a cell could not be stored: do not print, say "out of memory" */
} cli_table;

/* Append one printf-formatted cell; control characters in it become '?'. */
__attribute__((format(printf, 2, 3))) void cli_table_cell(cli_table *t, const char *fmt, ...);

/* Append v formatted with fmt (one double conversion), or "-" when v is not
 * a number (absent, null). */
void cli_table_num(cli_table *t, const cJSON *v, const char *fmt);

/* Print headings and rows to stdout, columns two spaces apart and as wide as
 * their widest cell. left[c]: column c is left-aligned (text), else
 * right-aligned (numbers). Call only when !t->nomem. */
void cli_table_print(const cli_table *t, const bool *left);

/* cli_table_print to f, and with color: when sgr is not NULL, a cell for
 * which sgr(cell, column, ctx) gives an SGR sequence ("\033[31m") is
 * wrapped in it and a reset, the padding left outside. */
void cli_table_fprint(FILE *f, const cli_table *t, const bool *left,
                      const char *(*sgr)(const char *cell, size_t col, void *ctx), void *ctx);

void cli_table_free(cli_table *t);

/* o's member `key` (case-sensitive), or NULL; o may be NULL. */
const cJSON *cli_json_get(const cJSON *o, const char *key);

/* o's string member `key`, or "-" when it is absent, not a string or empty. */
const char *cli_json_str(const cJSON *o, const char *key);

/* How cli_fmt_duration writes: the commands' columns differ, and each keeps
 * its own so that its output does not change. */
typedef enum {
    CLI_DURATION_FIXED,   /* `status`: 4.2s, 37s, 5m07s, 3h12m, 2d04h */
    CLI_DURATION_COMPACT, /* `reliability`: 45s, 1m30s, 45m, 3h, 3d4h (a zero unit left out) */
} cli_duration_style;

/* Seconds as the two largest units, for a table column; negative counts as
 * 0, a non-finite value prints "-". */
void cli_fmt_duration(double s, cli_duration_style style, char *buf, size_t cap);

/* One of the API's timestamps ("2026-11-23T07:40:00.123Z") to seconds since
 * the epoch, with the server's own parser (tfmt); false if s is NULL or not
 * a timestamp. */
bool cli_parse_iso(const char *s, double *secs);

/* ---- cli_map.c: records by name ------------------------------------------------- */

/* The first member of a record kept in a cli_map. */
typedef struct cli_map_entry {
    char *key;
} cli_map_entry;

/* Zero-initialise. To visit every record: slot[0..cap), skipping NULLs. */
typedef struct cli_map {
    cli_map_entry **slot;
    size_t cap, n; /* cap: 0 or a power of two; n: records */
} cli_map;

cli_map_entry *cli_map_get(const cli_map *m, const char *key);

/* Insert e, or put it in the place of the record with its key, which is
 * returned for the caller to free. NULL when there was none, or when out of
 * memory: then *nomem is set and e is not in the map. */
cli_map_entry *cli_map_put(cli_map *m, cli_map_entry *e, bool *nomem);

/* Take key's record out and return it (the caller frees it), or NULL. */
cli_map_entry *cli_map_del(cli_map *m, const char *key);

/* Free every record with free_entry, and the map's memory; m is empty again. */
void cli_map_clear(cli_map *m, void (*free_entry)(cli_map_entry *));

/* ---- cli_top_view.c, cli_top_frame.c: what `vigil top` shows -------------------- */

/* The picture of the fleet that `vigil top` keeps from GET /v1/stream. */
typedef struct cli_top cli_top;

cli_top *cli_top_new(void); /* NULL when out of memory */
void cli_top_free(cli_top *t);

/* What cli_top_apply did with a message. */
enum {
    CLI_TOP_APPLIED = 0,
    CLI_TOP_SNAPSHOT = 1, /* a snapshot: the picture was replaced */
    CLI_TOP_IGNORED = 2,  /* not for us: an unknown event, or a change before any snapshot */
    CLI_TOP_BAD = -1,     /* data that is not the JSON the event names */
    CLI_TOP_NOMEM = -2,   /* a snapshot that did not fit in memory (part of it is kept) */
};

/* Apply one stream message: its event type and its data (JSON, len bytes).
 * now_ms: this machine's clock (CLOCK_REALTIME) as it arrived, so that ages
 * can tick from the server's timestamps. */
int cli_top_apply(cli_top *t, const char *event, const char *data, size_t len, int64_t now_ms);

#define CLI_TOP_FILTER_MAX 128

/* How to draw a frame. */
typedef struct cli_top_view {
    const char *source; /* the server, for the header */
    const char *group;  /* --group: only it; NULL: all */
    const char *filter; /* applied filter (substring of id or group, any case); NULL/"": none */
    const char *prompt; /* the filter being typed, or NULL */
    const char *status; /* a line about the connection ("reconnecting…"), or NULL */
    bool groups_only, color, keys; /* keys: show the key help line */
    int rows;                      /* screen lines; 0: no screen, show everything */
} cli_top_view;

/* Write one frame to f: a header, the groups, the workers (dead, suspect,
 * alive, left, evicted, then by id) and recent events, cut to v->rows. now_ms
 * as for cli_top_apply. */
void cli_top_render(cli_top *t, const cli_top_view *v, int64_t now_ms, FILE *f);

/* ---- cli_proc.c: the pure parts of `vigil run` ----------------------------------- */

/* What `vigil run` reads of one /proc/<pid>/stat. */
typedef struct cli_proc_stat {
    long pid, ppid;
    int64_t ticks; /* utime + stime + cutime + cstime: its own and its reaped children's */
} cli_proc_stat;

/* Parse the text of /proc/<pid>/stat (comm may hold spaces and parentheses). */
bool cli_proc_parse_stat(const char *buf, cli_proc_stat *out);

/* The ticks of root and all its descendants among p[0..n) (linked by ppid). */
int64_t cli_proc_tree_ticks(const cli_proc_stat *p, size_t n, long root);

/* How a child ended (a waitpid status) as a bye: the exit code (N, or 128 + S
 * when killed by signal S) and, for a signal, the status text "killed by
 * signal 9 (SIGKILL)" into text ("" otherwise). */
int cli_run_outcome(int wstatus, char *text, size_t cap);

/* --every: the first slot first_ms + k * every_ms after now_ms (slots missed
 * by an overrunning run are skipped, not caught up). */
int64_t cli_run_next_slot(int64_t first_ms, int64_t every_ms, int64_t now_ms);

/* A worker id from the command's path: its base name, bytes outside
 * [A-Za-z0-9._:@-] as '-', cut to 128 bytes ("run" when nothing is left). */
void cli_run_default_id(const char *path, char *buf, size_t cap);

#endif
