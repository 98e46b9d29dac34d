/*
 * cli_post: `vigil beat` and `vigil bye`, the two ingest commands.
 *
 * Mechanism: each flag in the tables below names the JSON field it sets, so
 * running a command is just turning the given flags into vigil_field pairs
 * in command-line order and handing them to libvigil. libvigil checks every
 * value with the server's own validator (hb_set_kv) before it opens a
 * connection, so a bad value exits 2 with the server's words and nothing on
 * the wire; a repeated flag simply ends with its last value.
 */
#include "client/cli.h"

#include <stdlib.h>

static const cli_flag beat_flags[] = {
    {"--group", "group", "G", "group the worker belongs to ([A-Za-z0-9._:@-], 1-128 bytes)"},
    {"--instance", "instance", "I", "this run of the worker; a new value opens a new session"},
    {"--ttl", "ttl_s", "S", "seconds without a heartbeat before it is dead (1-86400)"},
    {"--status", "status", "S", "free text, at most 64 bytes"},
    {"--cpu", "cpu", "X", "CPU use, 0-1"},
    {"--mem", "mem", "X", "memory use, 0-1"},
    {"--thermal", "thermal", "T", "nominal, fair, serious or critical"},
    {"--seq", "seq", "N", "sequence number of this heartbeat (integer >= 0)"},
    {"--backlog", "backlog", "N", "queued work items (integer >= 0)"},
    {"--capacity", "capacity", "N", "work items it can hold at once (integer >= 0)"},
    {"--in-flight", "in_flight", "N", "work items in progress (integer >= 0)"},
    {"--requests", "requests", "N", "requests served so far (integer >= 0)"},
    {"--tokens", "tokens", "N", "tokens produced so far (integer >= 0)"},
    {"--cpu-ticks", "cpu_ticks", "N", "CPU ticks used so far (integer >= 0)"},
    {"--mem-available-gb", "mem_available_gb", "X", "memory still available, GB (0-1000000)"},
    {"--gpu-mem-active-gb", "gpu_mem_active_gb", "X", "GPU memory in use, GB (0-1000000)"},
};

static const cli_flag bye_flags[] = {
    {"--exit", "exit_code", "N", "exit code: 0 (or none) is a clean stop, anything else a failure"},
    {"--instance", "instance", "I", "the instance its heartbeats carried, to close that session"},
};

/* Both commands: ID plus field flags, to `send`. */
static int post(cli_ctx *ctx,
                int (*send)(vigil_client *, const char *, const vigil_field *, size_t))
{
    vigil_field *fields = calloc(ctx->nopts ? ctx->nopts : 1, sizeof *fields);
    if (!fields) {
        cli_err("out of memory");
        return CLI_EXIT_REFUSED;
    }
    for (size_t i = 0; i < ctx->nopts; i++)
        fields[i] = (vigil_field){ctx->opts[i].flag->key, ctx->opts[i].value};
    int rc = cli_connect(ctx);
    if (rc == CLI_EXIT_OK) rc = cli_fail(ctx, send(ctx->client, ctx->pos[0], fields, ctx->nopts));
    free(fields);
    return rc;
}

static int run_beat(cli_ctx *ctx)
{
    return post(ctx, vigil_heartbeat);
}

static int run_bye(cli_ctx *ctx)
{
    return post(ctx, vigil_bye);
}

const cli_cmd cli_cmd_beat = {
    .name = "beat",
    .synopsis = "ID [--group G] [--instance I] [--ttl S] [--cpu X] [...]",
    .summary = "send one heartbeat for worker ID (POST /v1/heartbeat)",
    .details = "Prints nothing on success. Values are checked before anything is sent, with\n"
               "the same rules and words as the server. The token is --token, else\n"
               "VIGIL_TOKEN, else VIGIL_INGEST_TOKEN, else the admin token.",
    .flags = beat_flags,
    .nflags = sizeof beat_flags / sizeof beat_flags[0],
    .min_pos = 1,
    .max_pos = 1,
    .pos_name = "worker ID",
    .ingest = true,
    .run = run_beat,
};

const cli_cmd cli_cmd_bye = {
    .name = "bye",
    .synopsis = "ID [--exit N] [--instance I]",
    .summary = "tell the server worker ID is stopping on purpose (POST /v1/bye)",
    .details = "Prints nothing on success. The worker becomes 'left' instead of going\n"
               "'dead' when its heartbeats stop.",
    .flags = bye_flags,
    .nflags = sizeof bye_flags / sizeof bye_flags[0],
    .min_pos = 1,
    .max_pos = 1,
    .pos_name = "worker ID",
    .ingest = true,
    .run = run_bye,
};
