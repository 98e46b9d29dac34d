/*
 * ct: comparing secrets in constant time.
 *
 * A bearer token compared with strcmp/memcmp stops at the first wrong byte,
 * so the time an answer takes tells a remote guesser how much of a guess was
 * right. ct_equal touches every byte of the expected secret whatever the
 * guess, so its time depends only on the secret's length (not secret: the
 * tokens vigild generates all have the same length).
 */
#ifndef VIGIL_CT_H
#define VIGIL_CT_H

#include <stdbool.h>
#include <stddef.h>

/* given[0..glen) equals want[0..wlen) (wlen > 0). Runs in time linear in
 * wlen, with no early exit on a mismatch of length or content. */
bool ct_equal(const char *given, size_t glen, const char *want, size_t wlen);

#endif
