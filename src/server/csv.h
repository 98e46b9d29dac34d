/*
 * csv: RFC 4180 text for the CSV exports (/v1/reliability.csv,
 * /v1/workers/{id}/sessions.csv): a growing buffer, fields quoted only when
 * they must be, CRLF line ends, empty fields for missing values.
 */
#ifndef VIGIL_CSV_H
#define VIGIL_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct csv_buf {
    char *p; /* malloc'd, NUL-terminated; the caller frees (or hands to http_text) */
    size_t n, cap;
    bool oom; /* a put failed: the text is incomplete */
} csv_buf;

void csv_put(csv_buf *b, const char *s, size_t len);
/* One field, then "," or (last) CRLF. */
void csv_field(csv_buf *b, const char *s, bool last);
/* A number with `decimals` places; NAN is an empty field. */
void csv_num(csv_buf *b, double v, int decimals, bool last);
/* ISO-8601 UTC; ms <= 0 is an empty field. */
void csv_time(csv_buf *b, int64_t ms, bool last);

#endif
