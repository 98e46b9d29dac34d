/*
 * reload: SIGHUP. vigild reads its configuration again, in the same layers
 * as at start (file, environment, flags), and applies what can change
 * without a restart and without dropping any state: per-group TTLs and the
 * alert rules (alerts of rules kept by name keep their state). Everything
 * else keeps its start value, and a key that changed anyway is named in
 * the log as needing a restart. A new configuration that does not load or
 * validate is refused whole; the running one stays.
 */
#ifndef VIGIL_RELOAD_H
#define VIGIL_RELOAD_H

#include "server/app.h"

#include <stddef.h>

/* The layers as main() applied them: file may be NULL, listen and data are
 * the --listen / --data flags (NULL when not given). */
typedef struct reload_src {
    const char *file, *listen, *data;
} reload_src;

/* Load the layers into c (validated). 0, or -1 with err. */
int reload_load(cfg *c, const reload_src *src, char *err, size_t errlen);

/* SIGHUP: reload and apply. 0, or -1 with err (nothing changed). */
int reload_apply(app *a, const reload_src *src, char *err, size_t errlen);

#endif
