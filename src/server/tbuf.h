/*
 * tbuf: a growing text buffer and the two encodings the analytics routes
 * write into it by hand: JSON for the hot read paths (GET /v1/reliability
 * answers in well under a millisecond; building a cJSON tree of 50 workers
 * and printing its ~1,000 numbers through printf cost ~2 ms) and RFC 4180
 * CSV for the exports (fields quoted only when they must be, CRLF line
 * ends, empty fields for missing values).
 *
 * Numbers are fixed-point with trailing zeros trimmed ("0.354497", "86400"),
 * the same digits the cJSON routes print after rounding.
 */
#ifndef VIGIL_TBUF_H
#define VIGIL_TBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tbuf {
    char *p; /* malloc'd, NUL-terminated; the caller frees (or hands to http_text) */
    size_t n, cap;
    bool oom; /* a put failed: the text is incomplete */
} tbuf;

void tbuf_put(tbuf *b, const char *s, size_t len);
void tbuf_puts(tbuf *b, const char *s);
/* v with at most `dec` (0..6) decimals; NAN or infinity writes `nan_text`. */
void tbuf_fixed(tbuf *b, double v, int dec, const char *nan_text);
/* "2026-11-23T07:40:00.123Z" (no quotes); ms <= 0 writes `none_text`. */
void tbuf_iso(tbuf *b, int64_t ms, const char *none_text);

/* JSON: `"key":` after a comma unless first. */
void tbuf_jkey(tbuf *b, const char *key, bool first);
/* JSON `"key":"2026-11-23T07:40:00.123Z"`, or `"key":null` for ms <= 0
 * (after a comma unless first). */
void tbuf_jtime(tbuf *b, const char *key, int64_t ms, bool first);
/* JSON string of safe characters (ids are [A-Za-z0-9._:@-]); others escaped. */
void tbuf_jstr(tbuf *b, const char *s);

/* CSV: one field, then "," or (last) CRLF. */
void tbuf_csv_field(tbuf *b, const char *s, bool last);
void tbuf_csv_num(tbuf *b, double v, int decimals, bool last);
void tbuf_csv_time(tbuf *b, int64_t ms, bool last);

#endif
