/*
 * ifl: the job ids each worker last said it was working on ("jobs" in a
 * heartbeat), so that when it dies the worker_lost notice can carry them and
 * a scheduler can requeue exactly that work.
 *
 * Kept beside the registry, not in it: most fleets never send jobs, and a
 * registry record stays under 256 bytes for a million workers; here only
 * workers that reported a non-empty list cost anything (their id and the
 * joined list). Sharded like the registry, each shard a hash behind its own
 * mutex, so a heartbeat with jobs waits for no other shard. An empty list
 * removes the worker's entry.
 *
 * No I/O, no clock.
 */
#ifndef VIGIL_IFL_H
#define VIGIL_IFL_H

#include <stdbool.h>
#include <stddef.h>

#define IFL_SHARDS 64 /* power of two */

typedef struct ifl ifl;

ifl *ifl_new(void);
void ifl_free(ifl *t);

/* Replace worker_id's list with jobs (njobs ids joined by '\n', len bytes).
 * njobs 0 drops it. Returns 0, or -1 when out of memory (the old list stays). */
int ifl_set(ifl *t, const char *worker_id, const char *jobs, size_t len, int njobs);

/* Copy worker_id's list into buf (cap bytes, NUL-terminated) and return its
 * count; 0 (buf "") when none. A list that does not fit is cut at the last
 * whole id that does (the count says how many were copied). */
int ifl_get(ifl *t, const char *worker_id, char *buf, size_t cap);

void ifl_del(ifl *t, const char *worker_id);

/* Workers with a list, and the bytes held (for /v1/snapshot and benchmarks). */
void ifl_stats(ifl *t, size_t *workers, size_t *bytes);

#endif
