/*
 * imp: parse and validate a session history exported by another monitoring
 * system (POST /v1/import/sessions, `vigil import sessions FILE`), as CSV
 * (RFC 4180) or NDJSON. Pure: no I/O, no clock (`now_ms` is passed in), no
 * globals. All or nothing: the first bad row fails the whole import with an
 * error naming the row and the column, so an operator fixes the file and
 * sends it again rather than wondering which half got in.
 *
 * The contract (what imp_parse accepts):
 *
 * Columns (CSV header names) / keys (NDJSON):
 *   worker_id  required; 1..128 bytes of [A-Za-z0-9._:@-]
 *   group      optional; empty, or as worker_id
 *   instance   optional; 0..128 bytes of UTF-8 without control characters
 *   opened     required; ISO-8601 UTC ("2026-11-23T07:40:00Z", fraction and
 *              "+00:00" allowed) or epoch milliseconds; > 0; not after now
 *   closed     empty or absent = the session is still open; otherwise as
 *              opened, not before opened, not after now
 *   reason     required when closed, empty while open: clean_shutdown,
 *              failed, timeout, restarted, evicted or monitor_gap
 *   exit_code  optional integer in int32 range; empty while open
 * The extra columns of vigil's own sessions.csv export (node_id,
 * last_heartbeat, duration_s, requests, tokens) are accepted and ignored, so
 * an export imports as it is. Any other column name / key is an error naming
 * it (a typo such as "opend" must not silently drop data). Values are taken as they are: no
 * trimming, exact names.
 *
 * CSV: a header row is required, columns in any order, each at most once,
 * worker_id and opened among them. Fields may be quoted ("" is a quote
 * inside quotes; commas, CR and LF may appear inside quotes). Records end
 * with LF or CRLF; the last one may lack it. A UTF-8 BOM at the start is
 * skipped. Empty lines are skipped. A record with another number of fields
 * than the header is an error. An empty field is an absent value.
 *
 * NDJSON: one JSON object per non-blank line (LF or CRLF). JSON null is an
 * absent value; a key given twice is an error. Text columns must be JSON
 * strings; opened/closed may be strings (as in CSV) or integers (epoch ms);
 * exit_code must be a JSON integer (3.0 counts, 3.5 and "3" do not).
 *
 * Across rows (after each row is valid on its own):
 *   - two rows with the same worker_id and opened: error on the later row
 *     (in the input), column "opened";
 *   - a worker's sessions must not overlap (one may open the millisecond
 *     the previous closed): error on the one that opened later, column
 *     "opened", reason "overlaps row N";
 *   - at most one open session per worker, and it must be its latest: a
 *     session opened after an open one overlaps it (same error).
 *
 * Rows are numbered from 1 in both formats: the n-th data record (CSV: the
 * header is not counted; blank lines are not counted in either). Row 0
 * means the header or the body as a whole: an empty body or a header with no
 * rows (column "body"), more than IMP_ROWS_MAX rows (column "body"), a bad
 * header (column: the offending name, or "header").
 */
#ifndef VIGIL_IMP_H
#define VIGIL_IMP_H

#include "core/hb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum imp_format { IMP_CSV = 1, IMP_NDJSON = 2 } imp_format;

#define IMP_ROWS_MAX 1000000 /* rows in one import */

typedef struct imp_row {
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];          /* "" when not given */
    char instance[HB_INSTANCE_MAX + 1]; /* "" when not given */
    int64_t opened_ms, closed_ms;       /* epoch ms; closed_ms 0 = still open */
    int reason;                         /* reg_reason (REG_R_NONE while open) */
    bool has_exit_code;
    int32_t exit_code;
    size_t row; /* the 1-based input row it came from, for later messages */
} imp_row;

typedef struct imp_err {
    size_t row;       /* 1-based data row; 0 = header / whole body */
    char column[32];  /* column or key name ("opened"), or "body", "header", "json" */
    char reason[192]; /* short plain English: "is after closed", "overlaps row 3" */
} imp_err;

/* Parse and validate buf[0..len) as fmt. Returns 0 with *rows (malloc'd,
 * the caller frees) and *n filled, sorted by (worker_id, opened_ms), byte
 * order; or -1 with err filled, *rows NULL and *n 0 (also for an unknown fmt
 * or out of memory: row 0, column "body"). */
int imp_parse(const char *buf, size_t len, imp_format fmt, int64_t now_ms, imp_row **rows,
              size_t *n, imp_err *err);

#endif
