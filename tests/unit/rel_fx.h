/*
 * rel_fx: what test_rel.c (hand-computed cases) and test_rel_prop.c (the
 * property test) share: time constants and a rel_work per test group as the
 * state. Include after <cmocka.h>.
 */
#ifndef VIGIL_TEST_REL_FX_H
#define VIGIL_TEST_REL_FX_H

#include "core/rel.h"

#define SEC 1000LL
#define MINUTE (60 * SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define T0 1700000000000LL  /* 2023-11-14 22:13:20 UTC */
#define MON 1704067200000LL /* 2024-01-01 00:00 UTC, a Monday */

static int setup(void **state)
{
    *state = rel_work_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    rel_work_free(*state);
    return 0;
}

#endif
