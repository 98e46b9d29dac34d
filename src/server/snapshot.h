/*
 * snapshot: GET /v1/snapshot, vigild's raw state as one versioned JSON
 * envelope (contract: docs/api.md).
 *
 * Mechanism. The envelope is a table of sections, each {name, builder}; the
 * assembly walks the table and puts each builder's object under its name in
 * "sections". A builder that fails (returns NULL: a /proc file unreadable,
 * a part of vigild not running, out of memory) becomes JSON null there, and
 * the rest of the answer stands: a monitoring scraper gets what can be had
 * instead of a 500. The assembly takes the table and a fail mask as
 * arguments, so unit tests drive it with their own builders and no server.
 *
 * Test hook: VIGIL_TEST_SNAPSHOT_FAIL="process,queues" (section names,
 * comma-separated), read once on the first request, makes those sections
 * fail as if their builder had (integration tests of the null path). Not an
 * operator setting; unknown names are logged and ignored.
 */
#ifndef VIGIL_SNAPSHOT_H
#define VIGIL_SNAPSHOT_H

#include "server/app.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define SNAPSHOT_SCHEMA_VERSION 1 /* bumped on a rename or removal, not on a new field */
#define SNAPSHOT_FAIL_ENV "VIGIL_TEST_SNAPSHOT_FAIL"

/* A section's object, or NULL when it cannot be had. now_ms: the envelope's
 * generated_at_ms, so ages agree across sections. */
typedef struct cJSON *(*snapshot_fn)(app *a, int64_t now_ms);

typedef struct snapshot_section {
    const char *name;
    snapshot_fn fn;
} snapshot_section;

/* vigild's sections, in answer order. */
extern const snapshot_section snapshot_sections[];
extern const size_t snapshot_nsections;

/* Bit i set = tab[i] named in list (comma-separated, blanks around names
 * allowed; NULL or "" = none). The first name not in tab is copied into
 * unknown ("" when all are known). At most 32 sections. */
uint32_t snapshot_fail_mask(const snapshot_section *tab, size_t n, const char *list, char *unknown,
                            size_t unknown_len);

/* The whole envelope at now_ms: sections of tab, those in fail_mask null
 * without calling their builder. NULL only when out of memory. */
struct cJSON *snapshot_build(app *a, const snapshot_section *tab, size_t n, uint32_t fail_mask,
                             int64_t now_ms);

#endif
