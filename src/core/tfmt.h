/*
 * tfmt: the API's timestamps. Out: ISO-8601 UTC with milliseconds
 * ("2026-11-23T07:40:00.123Z"). In (query strings): the same form, with or
 * without fraction, or plain epoch milliseconds. Pure functions.
 */
#ifndef VIGIL_TFMT_H
#define VIGIL_TFMT_H

#include <stddef.h>
#include <stdint.h>

#define TFMT_ISO_LEN 32 /* buffer size for tfmt_iso */

/* Write ms as ISO-8601 UTC into buf (TFMT_ISO_LEN bytes). Returns buf. */
char *tfmt_iso(int64_t ms, char *buf);

/* Parse epoch ms ("1763883600123") or ISO-8601 UTC ("2026-11-23T07:40:00Z",
 * "2026-11-23T07:40:00.5Z", "+00:00" also accepted). 0 ok, -1 bad. */
int tfmt_parse(const char *s, int64_t *ms);

/* Parse a duration: "250ms", "15s", "5m", "6h", "7d" or bare seconds. 0 ok. */
int tfmt_parse_duration(const char *s, int64_t *ms);

#endif
