/*
 * vec: growing a malloc'd array, the one way vigil does it: capacity doubles
 * from `first`, so n appends cost O(n) copying in all, and a failed grow
 * leaves the array as it was (the caller decides what an out-of-memory
 * means: drop, retry later, or fail the request).
 */
#ifndef VIGIL_VEC_H
#define VIGIL_VEC_H

#include <stdlib.h>

/* The array p (elements of `elem` bytes, *cap of them), grown to hold at
 * least `need` (at least 1): the same pointer when it already does, else a
 * moved one with *cap updated. NULL when out of memory: p and *cap are
 * unchanged and still valid. */
static inline void *vec_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need == 0) need = 1;
    if (p && need <= *cap) return p;
    size_t nc = *cap ? *cap : first;
    while (nc < need)
        nc *= 2;
    void *np = realloc(p, nc * elem);
    if (np) *cap = nc;
    return np;
}

#endif
