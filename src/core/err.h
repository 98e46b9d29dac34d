/*
 * err: the one way a function reports what went wrong: a message formatted
 * into the caller's buffer (err, errlen; NULL or 0 keeps it quiet) and -1 to
 * return, so a failing path reads `return err_set(err, errlen, "…", …);`.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

#include <stddef.h>

__attribute__((format(printf, 3, 4))) int err_set(char *err, size_t errlen, const char *fmt, ...);

#endif
