/*
 * qry: the values of vigild's query parameters, parsed. MHD splits and
 * percent-decodes the query string; what is left is the text of one value,
 * and these functions say whether it is a valid one. Times and durations
 * are tfmt's (tfmt_parse, tfmt_parse_duration), ids hb_id_valid; this module
 * holds the rest: bounded integers (limit, points, ...), bounded numbers
 * (thresholds), and the heartbeat page cursor "T:k".
 *
 * Pure: no I/O, no allocation, no locale beyond strtod's (vigild never calls
 * setlocale). Each returns 0 and sets *out, or -1 and leaves *out as it was.
 */
#ifndef VIGIL_QRY_H
#define VIGIL_QRY_H

#include <stdint.h>

/* A decimal integer in [lo, hi]: optional leading blanks and sign, then
 * digits, nothing after (strtoll's form). Out of int64 range is refused. */
int qry_int(const char *v, int64_t lo, int64_t hi, int64_t *out);

/* A number (strtod's form) in [lo, hi]; NaN refused, nothing after it. */
int qry_num(const char *v, double lo, double hi, double *out);

/* The raw heartbeats' page cursor "T:k" (GET /v1/workers/ID/heartbeats):
 * T the epoch ms of the last row shown, k how many rows at T were shown.
 * Digits only (no sign, no blanks), T >= 0, 0 <= k <= kmax. */
int qry_cursor(const char *v, int64_t kmax, int64_t *t, int64_t *k);

#endif
