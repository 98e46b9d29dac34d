/*
 * imp: the session import parser (the contract is in imp.h).
 *
 * Both formats end in the same place: each record becomes an array of
 * C__COUNT values (text, or a JSON number), and one function, check_row,
 * turns that into an imp_row or an error, so a bad `opened` gets the same
 * words in CSV and NDJSON. The CSV reader decodes fields into one scratch
 * buffer as large as the input (a record never decodes to more bytes than
 * it has, plus one NUL per field, and each field but the last gives up a
 * separator for it), reset at every record, so reading allocates once.
 *
 * Rules across rows are checked after every row is valid: the rows are
 * sorted by (worker_id, opened, input row), and then a worker's sessions
 * are in time order, so duplicates and overlaps show up between neighbours.
 * Of all such conflicts the one with the smallest row number is reported, so
 * "the first bad row" means the same thing as in the per-row checks.
 */
#include "core/imp.h"

#include "core/reg.h"
#include "core/tfmt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMP_ROWS_MIN 64 /* first row array; doubles */

enum { C_WORKER, C_GROUP, C_INSTANCE, C_OPENED, C_CLOSED, C_REASON, C_EXIT, C__COUNT };

/* Then the columns vigil's own sessions.csv export adds: accepted and
 * ignored, so an export imports elsewhere as it is. */
#define C_ALL (C__COUNT + 5)
static const char *const col_names[C_ALL] = {"worker_id",      "group",      "instance",  "opened",
                                             "closed",         "reason",     "exit_code", "node_id",
                                             "last_heartbeat", "duration_s", "requests",  "tokens"};

#define KNOWN_COLS "worker_id, group, instance, opened, closed, reason, exit_code"

/* One value of a record. `s` is NUL-terminated at s[n]; an empty value is
 * not `set` (CSV empty field, JSON "" or null). */
typedef struct val {
    const char *s;
    size_t n;
    bool set;
    bool is_num; /* a JSON number: `num`, not `s` */
    double num;
} val;

/* The rows read so far. */
typedef struct rows_buf {
    imp_row *v;
    size_t n, cap;
} rows_buf;

/* Fill the error. The column is copied with anything but printable ASCII
 * replaced by '?': it may be a name taken from the input, and it ends up in
 * a JSON error and a terminal. Returns -1. */
static int fail(imp_err *e, size_t row, const char *column, const char *fmt, ...)
{
    e->row = row;
    size_t i = 0;
    for (; column[i] && i < sizeof e->column - 1; i++) {
        unsigned char c = (unsigned char)column[i];
        e->column[i] = c > 0x20 && c < 0x7F ? (char)c : '?';
    }
    e->column[i] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

static int col_of(const char *s, size_t n)
{
    for (int c = 0; c < C_ALL; c++)
        if (strlen(col_names[c]) == n && memcmp(col_names[c], s, n) == 0) return c;
    return -1;
}

/* A timestamp: a JSON integer (epoch ms, exact in a double), or text that
 * tfmt_parse takes (ISO-8601 UTC or epoch ms). */
static bool parse_time(const val *v, int64_t *ms)
{
    if (v->is_num) {
        if (!(fabs(v->num) <= (double)HB_COUNTER_MAX) || v->num != floor(v->num)) return false;
        *ms = (int64_t)v->num;
        return true;
    }
    return memchr(v->s, '\0', v->n) == NULL && tfmt_parse(v->s, ms) == 0;
}

/* An int32: a JSON integer, or text of an optional sign and digits. */
static bool parse_i32(const val *v, int32_t *out)
{
    if (v->is_num) {
        if (!(v->num >= INT32_MIN && v->num <= INT32_MAX) || v->num != floor(v->num)) return false;
        *out = (int32_t)v->num;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (i < v->n && (v->s[i] == '-' || v->s[i] == '+')) neg = v->s[i++] == '-';
    if (i == v->n) return false;
    int64_t x = 0;
    for (; i < v->n; i++) {
        if (v->s[i] < '0' || v->s[i] > '9') return false;
        x = x * 10 + (v->s[i] - '0');
        if (x > (int64_t)INT32_MAX + 1) return false;
    }
    if (neg) x = -x;
    if (x > INT32_MAX) return false;
    *out = (int32_t)x;
    return true;
}

/* Validate one record's values into r, checking the columns in a fixed
 * order (so the same bad row gives the same error in both formats). */
static int check_row(const val v[C__COUNT], size_t row, int64_t now_ms, imp_row *r, imp_err *e)
{
    memset(r, 0, sizeof *r);
    r->row = row;
    const val *w = &v[C_WORKER], *g = &v[C_GROUP], *in = &v[C_INSTANCE];
    if (!w->set) return fail(e, row, "worker_id", "is required");
    if (!hb_id_valid(w->s, w->n))
        return fail(e, row, "worker_id", "must be 1-128 bytes of [A-Za-z0-9._:@-]");
    memcpy(r->worker_id, w->s, w->n);
    if (g->set) {
        if (!hb_id_valid(g->s, g->n))
            return fail(e, row, "group", "must be empty or 1-128 bytes of [A-Za-z0-9._:@-]");
        memcpy(r->group, g->s, g->n);
    }
    if (in->set) {
        if (in->n > HB_INSTANCE_MAX || !hb_text_valid(in->s, in->n))
            return fail(e, row, "instance",
                        "must be at most 128 bytes of UTF-8 without control characters");
        memcpy(r->instance, in->s, in->n);
    }

    if (!v[C_OPENED].set) return fail(e, row, "opened", "is required");
    if (!parse_time(&v[C_OPENED], &r->opened_ms))
        return fail(e, row, "opened", "must be ISO-8601 UTC or epoch milliseconds");
    if (r->opened_ms <= 0) return fail(e, row, "opened", "must be after 1970-01-01T00:00:00Z");
    if (r->opened_ms > now_ms) return fail(e, row, "opened", "is in the future");
    bool closed = v[C_CLOSED].set;
    if (closed) {
        if (!parse_time(&v[C_CLOSED], &r->closed_ms))
            return fail(e, row, "closed", "must be ISO-8601 UTC or epoch milliseconds");
        if (r->closed_ms > now_ms) return fail(e, row, "closed", "is in the future");
        if (r->opened_ms > r->closed_ms) return fail(e, row, "opened", "is after closed");
    }

    const val *re = &v[C_REASON];
    if (closed && !re->set) return fail(e, row, "reason", "is required when closed is given");
    if (!closed && re->set)
        return fail(e, row, "reason", "must be empty while the session is open (no closed)");
    if (closed) {
        r->reason = reg_reason_parse(re->s);
        if (r->reason <= REG_R_NONE || memchr(re->s, '\0', re->n))
            return fail(e, row, "reason",
                        "must be one of clean_shutdown, failed, timeout, restarted, evicted, "
                        "monitor_gap");
    }

    if (v[C_EXIT].set) {
        if (!parse_i32(&v[C_EXIT], &r->exit_code))
            return fail(e, row, "exit_code", "must be an integer in int32 range");
        if (!closed)
            return fail(e, row, "exit_code", "must be empty while the session is open (no closed)");
        r->has_exit_code = true;
    }
    return 0;
}

/* The next slot for a row, or NULL with err (too many rows, no memory). */
static imp_row *push_row(rows_buf *b, imp_err *err)
{
    if (b->n >= IMP_ROWS_MAX) {
        fail(err, 0, "body", "has more than %d rows", IMP_ROWS_MAX);
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : IMP_ROWS_MIN;
        if (cap > IMP_ROWS_MAX) cap = IMP_ROWS_MAX;
        imp_row *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            fail(err, 0, "body", "is too large (out of memory)");
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    return &b->v[b->n++];
}

/* ---- CSV ---------------------------------------------------------------- */

typedef struct csv {
    const char *p, *end;
    char *scratch; /* decoded fields of the current record */
} csv;

static bool at_eol(const csv *c)
{
    return c->p == c->end || *c->p == '\n' ||
           (*c->p == '\r' && (c->p + 1 == c->end || c->p[1] == '\n'));
}

/* Read one record: its fields' values into f[0..max) and their number (may
 * exceed max) into *nf. Empty lines are skipped. Returns 1 for a record, 0
 * at the end, -1 when the quoting is broken (*why says how; *nf is the
 * index of the field at fault). */
static int csv_record(csv *c, val *f, size_t max, size_t *nf, const char **why)
{
    while (c->p < c->end && at_eol(c)) /* LF, CRLF, or a CR that ends the input */
        c->p += *c->p == '\r' && c->p + 1 < c->end ? 2 : 1;
    if (c->p == c->end) return 0;
    char *w = c->scratch;
    size_t k = 0;
    for (;;) {
        char *start = w;
        *nf = k;
        if (c->p < c->end && *c->p == '"') {
            for (c->p++;; c->p++) {
                if (c->p == c->end) {
                    *why = "has a quoted field that is never closed";
                    return -1;
                }
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"')
                        c->p++; /* "" is one quote */
                    else
                        break;
                }
                *w++ = *c->p;
            }
            c->p++; /* the closing quote */
            if (!at_eol(c) && *c->p != ',') {
                *why = "has text after a closing quote";
                return -1;
            }
        } else {
            while (!at_eol(c) && *c->p != ',') {
                if (*c->p == '"') {
                    *why = "has a quote inside an unquoted field (quote the field, double the "
                           "quote)";
                    return -1;
                }
                *w++ = *c->p++;
            }
        }
        size_t n = (size_t)(w - start);
        *w++ = '\0';
        if (k < max) f[k] = (val){.s = start, .n = n, .set = n > 0};
        k++;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '\r') c->p++;
        if (c->p < c->end && *c->p == '\n') c->p++;
        break;
    }
    *nf = k;
    return 1;
}

/* The header: map each field to a column. */
static int csv_header(csv *c, int cols[C_ALL], size_t *ncols, imp_err *err)
{
    val f[C_ALL + 1]; /* one name more than there are columns holds a duplicate or an unknown */
    size_t nf;
    const char *why = "";
    int rc = csv_record(c, f, C_ALL + 1, &nf, &why);
    if (rc == 0) return fail(err, 0, "body", "is empty");
    if (rc < 0) return fail(err, 0, "header", "%s", why);
    bool seen[C_ALL] = {false};
    for (size_t k = 0; k < nf && k <= C_ALL; k++) {
        if (f[k].n == 0) return fail(err, 0, "header", "column %zu has no name", k + 1);
        int col = col_of(f[k].s, f[k].n);
        if (col < 0) return fail(err, 0, f[k].s, "is not a known column (" KNOWN_COLS ")");
        if (seen[col]) return fail(err, 0, f[k].s, "appears twice in the header");
        seen[col] = true;
        cols[k] = col;
    }
    if (!seen[C_WORKER]) return fail(err, 0, "worker_id", "is a required column");
    if (!seen[C_OPENED]) return fail(err, 0, "opened", "is a required column");
    *ncols = nf;
    return 0;
}

static int parse_csv(const char *buf, size_t len, int64_t now_ms, rows_buf *out, imp_err *err)
{
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    csv c = {.p = buf, .end = buf + len, .scratch = malloc(len + 1)};
    if (!c.scratch) return fail(err, 0, "body", "is too large (out of memory)");
    int cols[C_ALL];
    size_t ncols = 0, row = 0, nf;
    int rc = csv_header(&c, cols, &ncols, err);
    while (rc == 0) {
        val f[C_ALL];
        const char *why = "";
        int got = csv_record(&c, f, ncols, &nf, &why);
        if (got == 0) break;
        row++;
        if (got < 0) {
            rc = fail(err, row, nf < ncols ? col_names[cols[nf]] : "fields", "%s", why);
            break;
        }
        if (nf != ncols) {
            rc = fail(err, row, "fields", "has %zu fields, the header has %zu", nf, ncols);
            break;
        }
        val v[C__COUNT] = {{0}};
        for (size_t k = 0; k < ncols; k++)
            if (cols[k] < C__COUNT) v[cols[k]] = f[k];
        imp_row *r = push_row(out, err);
        if (!r || check_row(v, row, now_ms, r, err) != 0) rc = -1;
    }
    free(c.scratch);
    return rc;
}

/* ---- NDJSON ------------------------------------------------------------- */

/* One member of a line's object into its value, checking its JSON type. */
static int json_value(const cJSON *it, int col, size_t row, val *v, imp_err *err)
{
    if (cJSON_IsNull(it)) return 0;
    if (cJSON_IsString(it)) {
        if (col == C_EXIT) return fail(err, row, col_names[col], "must be a JSON integer");
        v->s = it->valuestring;
        v->n = strlen(it->valuestring);
        v->set = v->n > 0;
        return 0;
    }
    if (cJSON_IsNumber(it) && (col == C_OPENED || col == C_CLOSED || col == C_EXIT)) {
        v->s = "";
        v->is_num = true;
        v->num = it->valuedouble;
        v->set = true;
        return 0;
    }
    if (col == C_OPENED || col == C_CLOSED)
        return fail(err, row, col_names[col], "must be a string or an integer (epoch ms)");
    if (col == C_EXIT) return fail(err, row, col_names[col], "must be a JSON integer");
    return fail(err, row, col_names[col], "must be a string");
}

/* One line: a JSON object of known keys, into v. */
static int json_line(const char *line, size_t n, size_t row, val v[C__COUNT], cJSON **doc,
                     imp_err *err)
{
    if (!hb_utf8_valid(line, n)) return fail(err, row, "json", "is not valid UTF-8");
    const char *end = NULL;
    *doc = cJSON_ParseWithLengthOpts(line, n, &end, false);
    if (!*doc) return fail(err, row, "json", "is not valid JSON");
    for (; end && end < line + n; end++)
        if (*end != ' ' && *end != '\t' && *end != '\r')
            return fail(err, row, "json", "has text after the JSON object");
    if (!cJSON_IsObject(*doc)) return fail(err, row, "json", "must be a JSON object");
    bool seen[C_ALL] = {false};
    for (const cJSON *it = (*doc)->child; it; it = it->next) {
        int col = col_of(it->string, strlen(it->string));
        if (col < 0) return fail(err, row, it->string, "is not a known key (" KNOWN_COLS ")");
        if (seen[col]) return fail(err, row, it->string, "appears twice");
        seen[col] = true;
        if (col >= C__COUNT) continue;
        if (json_value(it, col, row, &v[col], err) != 0) return -1;
    }
    return 0;
}

static int parse_ndjson(const char *buf, size_t len, int64_t now_ms, rows_buf *out, imp_err *err)
{
    size_t pos = 0, row = 0, n;
    const char *line;
    int lineno = 0; /* hb_ndjson_next counts blank lines; rows do not */
    while (hb_ndjson_next(buf, len, &pos, &line, &n, &lineno)) {
        row++;
        val v[C__COUNT] = {{0}};
        cJSON *doc = NULL;
        int rc = json_line(line, n, row, v, &doc, err);
        if (rc == 0) {
            imp_row *r = push_row(out, err);
            rc = r ? check_row(v, row, now_ms, r, err) : -1;
        }
        cJSON_Delete(doc);
        if (rc != 0) return -1;
    }
    if (row == 0) return fail(err, 0, "body", "is empty");
    return 0;
}

/* ---- across rows -------------------------------------------------------- */

static int cmp_row(const void *a, const void *b)
{
    const imp_row *x = a, *y = b;
    int c = strcmp(x->worker_id, y->worker_id);
    if (c) return c;
    if (x->opened_ms != y->opened_ms) return x->opened_ms < y->opened_ms ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Sort, then check each session against the one before it of the same
 * worker. In time order, a session that does not overlap its predecessor
 * cannot overlap any earlier one (the predecessor ended no later than it
 * began), so neighbours are enough. */
static int check_across(imp_row *v, size_t n, imp_err *err)
{
    qsort(v, n, sizeof *v, cmp_row);
    size_t best = 0; /* the smallest row found at fault, 0 = none */
    for (size_t i = 1; i < n; i++) {
        const imp_row *a = &v[i - 1], *b = &v[i];
        if (strcmp(a->worker_id, b->worker_id) != 0) continue;
        if (best && b->row >= best) continue;
        if (a->opened_ms == b->opened_ms) {
            best = b->row; /* a->row < b->row: b is the later one in the input */
            fail(err, b->row, "opened", "has the same worker_id and opened as row %zu", a->row);
        } else if (a->closed_ms == 0) {
            best = b->row;
            fail(err, b->row, "opened",
                 "overlaps row %zu, which is still open (an open session must be the "
                 "worker's latest)",
                 a->row);
        } else if (b->opened_ms < a->closed_ms) {
            best = b->row;
            fail(err, b->row, "opened", "overlaps row %zu", a->row);
        }
    }
    return best ? -1 : 0;
}

int imp_parse(const char *buf, size_t len, imp_format fmt, int64_t now_ms, imp_row **rows,
              size_t *n, imp_err *err)
{
    *rows = NULL;
    *n = 0;
    memset(err, 0, sizeof *err);
    if (!buf) buf = "";
    rows_buf out = {0};
    int rc;
    if (fmt == IMP_CSV)
        rc = parse_csv(buf, len, now_ms, &out, err);
    else if (fmt == IMP_NDJSON)
        rc = parse_ndjson(buf, len, now_ms, &out, err);
    else
        rc = fail(err, 0, "body", "has an unknown format");
    if (rc == 0 && out.n == 0) rc = fail(err, 0, "body", "has no rows");
    if (rc == 0) rc = check_across(out.v, out.n, err);
    if (rc != 0) {
        free(out.v);
        return -1;
    }
    *rows = out.v;
    *n = out.n;
    return 0;
}
