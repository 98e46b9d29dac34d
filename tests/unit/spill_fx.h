/*
 * spill_fx: the fixture test_spill.c and test_wq.c share: a mkdtemp
 * directory under /tmp with a spill file path in it; teardown removes every
 * file the test left there. Include after <cmocka.h>.
 */
#ifndef VIGIL_TEST_SPILL_FX_H
#define VIGIL_TEST_SPILL_FX_H

#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    char dir[64];
    char path[128];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    strcpy(f->dir, "/tmp/test_spill_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/events.spill", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

#endif
