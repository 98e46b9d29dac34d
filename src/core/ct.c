/* ct: constant-time comparison of secrets (see ct.h). */
#include "core/ct.h"

bool ct_equal(const char *given, size_t glen, const char *want, size_t wlen)
{
    /* A wrong length fails, but the loop still runs over all of want,
     * reading given cyclically (or zeros when it is empty), so neither the
     * length nor the content of the guess changes the work done. */
    volatile unsigned char d = (unsigned char)(glen != wlen);
    for (size_t i = 0; i < wlen; i++)
        d |= (unsigned char)((unsigned char)want[i] ^ (glen ? (unsigned char)given[i % glen] : 0));
    return d == 0 && wlen > 0;
}
