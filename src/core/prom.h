/*
 * prom: the small pieces of the Prometheus text exposition format (0.0.4)
 * that need care, kept pure so they can be tested apart from the server:
 * label value escaping and sample value spelling.
 *
 * Label values escape exactly three characters: backslash as \\, double
 * quote as \", newline as \n; every other byte (UTF-8 included) is written
 * as is. Sample values are Go-style floats: "NaN", "+Inf", "-Inf", integers
 * without a decimal point, others with the shortest round-tripping digits
 * (%.17g would print 0.1 as 0.10000000000000001).
 */
#ifndef VIGIL_PROM_H
#define VIGIL_PROM_H

#include <stddef.h>

#define PROM_NUM_MAX 32 /* bytes for prom_num's text, NUL included */

/* Escape s (len bytes) into out (cap bytes, NUL-terminated). Returns the
 * escaped length; when that is >= cap, out holds nothing (out[0] = '\0')
 * and the caller needs a buffer of at least the returned length + 1. */
size_t prom_escape(char *out, size_t cap, const char *s, size_t len);

/* v as a sample value into out (PROM_NUM_MAX bytes). Returns out. */
char *prom_num(char *out, double v);

#endif
