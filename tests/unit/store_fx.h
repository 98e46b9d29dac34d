/*
 * store_fx: what the store test programs share (test_store.c,
 * test_store_rel.c): a fresh SQLite store per test in its own mkdtemp
 * directory under /tmp (removed afterwards), and the small builders every
 * store test needs. Include after <cmocka.h>.
 */
#ifndef VIGIL_TEST_STORE_FX_H
#define VIGIL_TEST_STORE_FX_H

#include "store/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    char dir[64];
    char path[128];
    store *s;
} fx;

static store *open_at(const char *path, const char *node)
{
    char url[160], err[256] = "";
    snprintf(url, sizeof url, "sqlite:%s", path);
    store *s = store_open(url, node, err, sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/vigil_store_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/vigil.db", f->dir);
    f->s = open_at(f->path, "node-a");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->s);
    DIR *d = opendir(f->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[400];
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static reg_event ev(int kind, const char *w, const char *g, int64_t at)
{
    reg_event e;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)kind;
    e.at_ms = at;
    snprintf(e.worker_id, sizeof e.worker_id, "%s", w ? w : "");
    snprintf(e.group, sizeof e.group, "%s", g ? g : "");
    return e;
}

static void apply_ok(store *s, const reg_event *e, size_t ne, const store_hb *h, size_t nh)
{
    char err[256] = "";
    if (store_apply(s, e, ne, h, nh, err, sizeof err) != 0) fail_msg("store_apply: %s", err);
}

/* A list of up to MAXROWS rows of T_ (the includer defines MAXROWS), and a
 * store callback filling one. */
#define ROW_LIST(L, T_)                                                                            \
    typedef struct L {                                                                             \
        int n;                                                                                     \
        T_ r[MAXROWS];                                                                             \
    } L
#define COLLECTOR(name, L, T_)                                                                     \
    static int name(void *ctx, const T_ *row)                                                      \
    {                                                                                              \
        L *l = ctx;                                                                                \
        assert_true(l->n < MAXROWS);                                                               \
        l->r[l->n++] = *row;                                                                       \
        return 0;                                                                                  \
    }

#endif
