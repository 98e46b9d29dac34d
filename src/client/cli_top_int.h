/*
 * cli_top_int: what cli_top_view.c (the records, from the server's messages)
 * and cli_top_frame.c (a frame of them as text) share: the record types and
 * the state order a frame sorts by. Nothing else includes this.
 */
#ifndef VIGIL_CLI_TOP_INT_H
#define VIGIL_CLI_TOP_INT_H

#include "client/cli.h"

#include <stdbool.h>
#include <stddef.h>

#define RECENT_MAX 50  /* events kept, as many as a snapshot brings */
#define RECENT_SHOWN 5 /* events a frame shows, room permitting */

/* Frame order: the states an operator acts on first. */
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

#endif
