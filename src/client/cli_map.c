/*
 * cli_map: records by name, for `vigil top`'s workers (by id) and groups.
 *
 * Open addressing with linear probing, kept under 3/4 full, and
 * backward-shift deletion: a removed record's hole is filled by the later
 * records of its probe run, so there are no tombstones and a fleet that
 * forgets workers all day keeps lookups short. A record is the caller's
 * struct whose first member is a cli_map_entry; the map stores pointers and
 * never frees one but in cli_map_clear.
 */
#include "client/cli.h"

#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

cli_map_entry *cli_map_get(const cli_map *m, const char *key)
{
    if (!m->cap) return NULL;
    for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slot[i]) return NULL;
        if (!strcmp(m->slot[i]->key, key)) return m->slot[i];
    }
}

cli_map_entry *cli_map_put(cli_map *m, cli_map_entry *e, bool *nomem)
{
    if ((m->n + 1) * 4 > m->cap * 3) { /* keep it under 3/4 full */
        size_t cap = m->cap ? m->cap * 2 : 64;
        cli_map_entry **s = calloc(cap, sizeof *s);
        if (!s) {
            *nomem = true;
            return NULL;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slot[i]) continue;
            size_t j = hash(m->slot[i]->key) & (cap - 1);
            while (s[j])
                j = (j + 1) & (cap - 1);
            s[j] = m->slot[i];
        }
        free(m->slot);
        m->slot = s;
        m->cap = cap;
    }
    size_t i = hash(e->key) & (m->cap - 1);
    for (; m->slot[i]; i = (i + 1) & (m->cap - 1))
        if (!strcmp(m->slot[i]->key, e->key)) {
            cli_map_entry *old = m->slot[i];
            m->slot[i] = e;
            return old;
        }
    m->slot[i] = e;
    m->n++;
    return NULL;
}

cli_map_entry *cli_map_del(cli_map *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1, i = hash(key) & mask;
    while (m->slot[i] && strcmp(m->slot[i]->key, key))
        i = (i + 1) & mask;
    cli_map_entry *gone = m->slot[i];
    if (!gone) return NULL;
    m->slot[i] = NULL;
    m->n--;
    for (size_t j = (i + 1) & mask; m->slot[j]; j = (j + 1) & mask) {
        size_t home = hash(m->slot[j]->key) & mask;
        /* Move it unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->slot[i] = m->slot[j];
        m->slot[j] = NULL;
        i = j;
    }
    return gone;
}

void cli_map_clear(cli_map *m, void (*free_entry)(cli_map_entry *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slot[i]) free_entry(m->slot[i]);
    free(m->slot);
    *m = (cli_map){0};
}
