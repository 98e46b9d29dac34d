/*
 * ifl: workers' last job lists (mechanism in ifl.h).
 */
#include "core/ifl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct ent {
    UT_hash_handle hh;
    int njobs;
    size_t len;
    char *jobs; /* joined by '\n', NUL-terminated; in the same allocation, after id */
    char id[];
} ent;

typedef struct shard {
    pthread_mutex_t mu;
    ent *map;
    size_t n, bytes;
} shard;

struct ifl {
    shard sh[IFL_SHARDS];
};

static shard *shard_of(ifl *t, const char *id, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a: any spread will do, ids are short */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    return &t->sh[h & (IFL_SHARDS - 1)];
}

ifl *ifl_new(void)
{
    ifl *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    for (int i = 0; i < IFL_SHARDS; i++)
        pthread_mutex_init(&t->sh[i].mu, NULL);
    return t;
}

void ifl_free(ifl *t)
{
    if (!t) return;
    for (int i = 0; i < IFL_SHARDS; i++) {
        ent *e, *tmp;
        HASH_ITER(hh, t->sh[i].map, e, tmp)
        {
            HASH_DEL(t->sh[i].map, e);
            free(e);
        }
        pthread_mutex_destroy(&t->sh[i].mu);
    }
    free(t);
}

static void drop(shard *s, ent *e)
{
    HASH_DEL(s->map, e);
    s->n--;
    s->bytes -= strlen(e->id) + e->len + 2;
    free(e);
}

int ifl_set(ifl *t, const char *worker_id, const char *jobs, size_t len, int njobs)
{
    size_t idn = strlen(worker_id);
    shard *s = shard_of(t, worker_id, idn);
    pthread_mutex_lock(&s->mu);
    ent *e;
    HASH_FIND(hh, s->map, worker_id, idn, e);
    int rc = 0;
    if (njobs <= 0) {
        if (e) drop(s, e);
    } else if (!e || e->len != len || memcmp(e->jobs, jobs, len) != 0) {
        /* The common case, the same list beat after beat, costs one compare. */
        ent *x = malloc(sizeof *x + idn + 1 + len + 1);
        if (!x) {
            rc = -1;
        } else {
            memcpy(x->id, worker_id, idn + 1);
            x->jobs = x->id + idn + 1;
            memcpy(x->jobs, jobs, len);
            x->jobs[len] = '\0';
            x->len = len;
            x->njobs = njobs;
            if (e) drop(s, e);
            HASH_ADD_KEYPTR(hh, s->map, x->id, idn, x);
            s->n++;
            s->bytes += idn + len + 2;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int ifl_get(ifl *t, const char *worker_id, char *buf, size_t cap)
{
    size_t idn = strlen(worker_id);
    shard *s = shard_of(t, worker_id, idn);
    int n = 0;
    if (cap) buf[0] = '\0';
    pthread_mutex_lock(&s->mu);
    ent *e;
    HASH_FIND(hh, s->map, worker_id, idn, e);
    if (e && cap) {
        if (e->len < cap) {
            memcpy(buf, e->jobs, e->len + 1);
            n = e->njobs;
        } else {
            /* Whole ids only: a cut id would name work that does not exist. */
            size_t end = 0;
            for (size_t i = 0; i < e->len && i < cap; i++)
                if (e->jobs[i] == '\n') {
                    end = i;
                    n++;
                }
            memcpy(buf, e->jobs, end);
            buf[end] = '\0';
        }
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

void ifl_del(ifl *t, const char *worker_id)
{
    ifl_set(t, worker_id, "", 0, 0);
}

void ifl_stats(ifl *t, size_t *workers, size_t *bytes)
{
    *workers = *bytes = 0;
    for (int i = 0; i < IFL_SHARDS; i++) {
        pthread_mutex_lock(&t->sh[i].mu);
        *workers += t->sh[i].n;
        *bytes += t->sh[i].bytes;
        pthread_mutex_unlock(&t->sh[i].mu);
    }
}
