/*
 * cli_table: what the CLI's reading commands (`status`, `reliability`) share
 * to turn the server's JSON into text for a terminal: an aligned table,
 * lookups in a cJSON object, durations and the API's timestamps.
 *
 * A table is filled cell by cell, row-major, and only laid out when it is
 * printed, because a column's width is that of its widest cell. Allocation
 * failures are remembered in the table (nomem) instead of being checked at
 * every cell, so a command fills the whole table and checks once.
 */
#include "client/cli.h"

#include "core/tfmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- tables ------------------------------------------------------------------ */

void cli_table_cell(cli_table *t, const char *fmt, ...)
{
    if (t->nomem) return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells) {
            t->nomem = true;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *c = NULL;
    int rc = vasprintf(&c, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        t->nomem = true;
        return;
    }
    /* Cells hold server text (ids, groups, instance names): a control
     * character must not be able to move the cursor or recolor the terminal. */
    for (unsigned char *p = (unsigned char *)c; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
    t->cells[t->n++] = c;
}

void cli_table_num(cli_table *t, const cJSON *v, const char *fmt)
{
    if (cJSON_IsNumber(v))
        cli_table_cell(t, fmt, v->valuedouble);
    else
        cli_table_cell(t, "-");
}

/* Terminal columns of UTF-8 text, counting one per code point (enough for
 * the ids and instance names vigild accepts). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void cli_table_fprint(FILE *f, const cli_table *t, const bool *left,
                      const char *(*sgr)(const char *cell, size_t col, void *ctx), void *ctx)
{
    size_t w[CLI_TABLE_MAX_COLS] = {0};
    for (size_t c = 0; c < t->ncols; c++)
        w[c] = width(t->head[c]);
    for (size_t i = 0; i < t->n; i++) {
        size_t cw = width(t->cells[i]);
        if (cw > w[i % t->ncols]) w[i % t->ncols] = cw;
    }
    for (size_t r = 0; r <= t->n / t->ncols; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
            int pad = (int)(w[c] - width(s));
            bool last = c + 1 == t->ncols;
            /* Headings stay plain; cells were cleaned of control characters,
             * so the only escapes written are these. */
            const char *on = r > 0 && sgr ? sgr(s, c, ctx) : NULL;
            const char *off = on ? "\033[0m" : "";
            if (!on) on = "";
            /* A left-aligned last column is not padded: no trailing blanks. */
            if (left[c])
                fprintf(f, "%s%s%s%*s", on, s, off, last ? 0 : pad, "");
            else
                fprintf(f, "%*s%s%s%s", pad, "", on, s, off);
            fputs(last ? "\n" : "  ", f);
        }
}

void cli_table_print(const cli_table *t, const bool *left)
{
    cli_table_fprint(stdout, t, left, NULL, NULL);
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n = t->cap = 0;
}

/* ---- JSON -------------------------------------------------------------------- */

const cJSON *cli_json_get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

const char *cli_json_str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cli_json_get(o, key));
    return s && *s ? s : "-";
}

/* ---- durations and times ----------------------------------------------------- */

void cli_fmt_duration(double s, cli_duration_style style, char *buf, size_t cap)
{
    /* Not a number of seconds at all (inf from "1e999"): nothing to show. */
    if (!isfinite(s)) {
        snprintf(buf, cap, "-");
        return;
    }
    if (s < 0) s = 0; /* clocks a little apart; never print "-3s" */
    if (style == CLI_DURATION_FIXED && s < 10) {
        /* Truncated, not rounded: 9.96s must not read 10.0s. */
        snprintf(buf, cap, "%.1fs", (double)(long long)(s * 10) / 10);
        return;
    }
    /* Past ~292 billion years long long overflows; no session is that old. */
    long long t = s < 9e18 ? (long long)s : 9000000000000000000LL;
    static const struct {
        long long secs;
        char name;
    } u[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    size_t n = sizeof u / sizeof u[0], i = 0;
    while (i + 1 < n && t < u[i].secs)
        i++;
    long long hi = t / u[i].secs;
    long long lo = i + 1 < n ? t % u[i].secs / u[i + 1].secs : 0;
    if (i + 1 == n) /* under a minute: seconds alone */
        snprintf(buf, cap, "%llds", hi);
    else if (style == CLI_DURATION_FIXED)
        snprintf(buf, cap, "%lld%c%02lld%c", hi, u[i].name, lo, u[i + 1].name);
    else if (lo)
        snprintf(buf, cap, "%lld%c%lld%c", hi, u[i].name, lo, u[i + 1].name);
    else
        snprintf(buf, cap, "%lld%c", hi, u[i].name);
}

bool cli_parse_iso(const char *s, double *secs)
{
    int64_t ms;
    if (tfmt_parse(s, &ms) != 0) return false;
    *secs = (double)ms / 1000;
    return true;
}
