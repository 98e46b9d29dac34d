/*
 * reg_sink: what test_reg.c and test_reg_batch.c share: a registry sink
 * that keeps every event it is given, in order, for the tests to read back.
 */
#ifndef VIGIL_TEST_REG_SINK_H
#define VIGIL_TEST_REG_SINK_H

#include "core/reg.h"

#include <stdlib.h>

typedef struct sink {
    reg_event *v;
    size_t n, cap;
} sink;

static void collect(void *ctx, const reg_event *ev)
{
    sink *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *ev;
}

#endif
