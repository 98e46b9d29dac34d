/*
 * routes_history: GET /v1/history/metrics, the fleet series (docs/api.md).
 *
 * The store streams the raw samples of every matching series in name order
 * (store_metrics_range); each series is folded into at most `points` slice
 * means as it streams (ds.h), so a month of one series (86,400 samples) is
 * never held, only the slices. Each exact name asked for is in the answer
 * even without samples in the range (an empty series, which a chart reads
 * as "nothing yet"); a prefix brings the series it matches that have
 * samples. The series are this node's (the sampler's own rows, store.h).
 *
 * The JSON is written by hand (tbuf): 32 series of 200 points is ~13,000
 * numbers, the case a cJSON tree prints slowly.
 */
#include "server/http.h"
#include "server/tbuf.h"

#include "core/ds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_NAMES_MAX 32                   /* names (or prefixes) a request may ask for */
#define HISTORY_RANGE_DEFAULT_MS (3600 * 1000) /* from: an hour before to */
#define HISTORY_VALUE_DECIMALS 6               /* rates are per second; counts come out whole */
#define NAME_RULE "1-200 bytes of [A-Za-z0-9._:@-], optionally ending in * (a prefix)"

typedef struct hist_ctx {
    tbuf b;
    ds_acc d;
    char cur[STORE_METRIC_NAME_MAX + 1]; /* the series being folded; "" before the first */
    const char **exact;                  /* exact names asked for, sorted, no duplicates */
    size_t nexact, next_exact;           /* the next one not yet written */
    size_t nseries;
    ds_point out[DS_POINTS_MAX];
} hist_ctx;

static void write_series(hist_ctx *c, const char *name, bool with_points)
{
    tbuf *b = &c->b;
    tbuf_puts(b, c->nseries++ ? ",{" : "{");
    tbuf_jkey(b, "name", true);
    tbuf_jstr(b, name);
    tbuf_jkey(b, "points", false);
    tbuf_puts(b, "[");
    size_t n = with_points ? ds_out(&c->d, c->out) : 0;
    for (size_t i = 0; i < n; i++) {
        char ts[24];
        int len = snprintf(ts, sizeof ts, "%s[%lld,", i ? "," : "", (long long)c->out[i].ts_ms);
        tbuf_put(b, ts, (size_t)len);
        tbuf_fixed(b, c->out[i].value, HISTORY_VALUE_DECIMALS, "null");
        tbuf_puts(b, "]");
    }
    tbuf_puts(b, "]}");
}

/* The exact names that sort before `upto` (all of them for NULL) and were
 * not written yet: empty series, so the answer stays in name order. One
 * equal to `upto` is skipped: the store's series of that name follows. */
static void write_exact_before(hist_ctx *c, const char *upto)
{
    for (; c->next_exact < c->nexact; c->next_exact++) {
        int cmp = upto ? strcmp(c->exact[c->next_exact], upto) : -1;
        if (cmp > 0) return;
        if (cmp < 0) write_series(c, c->exact[c->next_exact], false);
    }
}

static void end_series(hist_ctx *c)
{
    if (c->cur[0]) write_series(c, c->cur, true);
    c->cur[0] = '\0';
}

static int on_sample(void *ctx, const store_metric *m)
{
    hist_ctx *c = ctx;
    if (strcmp(m->name, c->cur) != 0) {
        end_series(c);
        write_exact_before(c, m->name);
        snprintf(c->cur, sizeof c->cur, "%s", m->name);
        ds_clear(&c->d);
    }
    ds_add(&c->d, m->ts_ms, m->value);
    return c->b.oom; /* out of memory: stop, the answer is a 503 anyway */
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Split `names` (a copy, cut in place) into at most HISTORY_NAMES_MAX
 * checked names; the exact ones also into exact[], sorted, without
 * duplicates. false with a 400 queued. */
static bool parse_names(req *r, char *names, const char **out, size_t *n, const char **exact,
                        size_t *nexact, enum MHD_Result *res)
{
    *n = *nexact = 0;
    for (char *p = names, *end; p; p = end ? end + 1 : NULL) {
        end = strchr(p, ',');
        if (end) *end = '\0';
        if (*n == HISTORY_NAMES_MAX) {
            char why[64];
            snprintf(why, sizeof why, "at most %d names", HISTORY_NAMES_MAX);
            *res = http_error(r, 400, "names", why);
            return false;
        }
        size_t len = strlen(p);
        if (!store_metric_name_ok(p, len, true)) {
            char why[160];
            snprintf(why, sizeof why, "name %zu: must be " NAME_RULE, *n + 1);
            *res = http_error(r, 400, "names", why);
            return false;
        }
        out[(*n)++] = p;
        if (p[len - 1] != '*') exact[(*nexact)++] = p;
    }
    qsort(exact, *nexact, sizeof *exact, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < *nexact; i++)
        if (k == 0 || strcmp(exact[k - 1], exact[i]) != 0) exact[k++] = exact[i];
    *nexact = k;
    return true;
}

enum MHD_Result route_history_metrics(app *a, req *r)
{
    enum MHD_Result res;
    const char *q = http_query(r, "names");
    if (!q || !*q) return http_error(r, 400, "names", "required: comma-separated series names");
    /* Longer than 32 of the longest names and their commas cannot be valid. */
    if (strlen(q) > HISTORY_NAMES_MAX * (STORE_METRIC_NAME_MAX + 1))
        return http_error(r, 400, "names", "too long: at most 32 names of 1-200 bytes");
    char *names = strdup(q);
    if (!names) return http_error(r, 503, "memory", "out of memory");
    const char *list[HISTORY_NAMES_MAX], *exact[HISTORY_NAMES_MAX];
    size_t n, nexact;
    int64_t now = app_now_ms(), from = 0, to = now + 1, points = DS_POINTS_MAX;
    if (!parse_names(r, names, list, &n, exact, &nexact, &res) ||
        !http_query_time(r, "from", &from, &res) || !http_query_time(r, "to", &to, &res) ||
        !http_query_int(r, "points", 1, DS_POINTS_MAX, &points, &res)) {
        free(names);
        return res;
    }
    if (!http_query(r, "from")) from = to - HISTORY_RANGE_DEFAULT_MS;
    if (from >= to) {
        free(names);
        return http_error(r, 400, "from", "must be before to");
    }
    hist_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        free(names);
        return http_error(r, 503, "memory", "out of memory");
    }
    if (ds_init(&c->d, from, to, (int)points) != 0) { /* only a span past int64 */
        free(c);
        free(names);
        return http_error(r, 400, "from", "range too wide");
    }
    c->exact = exact;
    c->nexact = nexact;
    tbuf_puts(&c->b, "{");
    tbuf_jtime(&c->b, "from", from, true);
    tbuf_jtime(&c->b, "to", to, false);
    char step[32];
    snprintf(step, sizeof step, ",\"step_ms\":%lld", (long long)c->d.step);
    tbuf_puts(&c->b, step);
    tbuf_jkey(&c->b, "series", false);
    tbuf_puts(&c->b, "[");
    int rc = store_metrics_range(a->store, list, n, from, to, on_sample, c);
    end_series(c);
    write_exact_before(c, NULL);
    tbuf_puts(&c->b, "]}");
    free(names);
    enum MHD_Result ret;
    if (c->b.oom) {
        free(c->b.p);
        ret = http_error(r, 503, "memory", "out of memory building the answer");
    } else if (rc < 0) {
        free(c->b.p);
        ret = http_error(r, 503, "store", "cannot read the fleet series");
    } else {
        ret = http_text(r, 200, "application/json", c->b.p, c->b.n);
    }
    free(c);
    return ret;
}
