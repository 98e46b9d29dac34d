/*
 * store: the backend-independent half of store.h.
 *
 * store_open picks a backend from the URL; every other store_* call is a thin
 * dispatch through the handle's `store_backend` table, so callers never know
 * (or #ifdef on) which database they talk to, and a new backend is one
 * constructor plus one table. Arguments are checked here once, not in every
 * backend.
 */
#include "store/store.h"

#include "core/alert.h"
#include "core/notice.h"
#include "core/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

store *store_open(const char *url, const char *node_id, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!url || !*url) {
        err_set(err, errlen, "store: empty database url");
        return NULL;
    }
    if (!node_id) node_id = "";
    if (strlen(node_id) > STORE_NODE_MAX) {
        err_set(err, errlen, "store: node_id longer than %d bytes", STORE_NODE_MAX);
        return NULL;
    }
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
        return store_pg_open(url, node_id, err, errlen);
    /* "sqlite:PATH" or a bare path; PATH is taken verbatim (no URL decoding),
     * so any file name the shell can type works. */
    const char *path = has_prefix(url, "sqlite:") ? url + strlen("sqlite:") : url;
    if (!*path) {
        err_set(err, errlen, "store: empty sqlite path in '%s'", url);
        return NULL;
    }
    /* The reader and the writer are two connections to one file: a private
     * in-memory database would be two unrelated databases. */
    if (strcmp(path, ":memory:") == 0) {
        err_set(err, errlen, "store: sqlite needs a plain file path, not '%s'", path);
        return NULL;
    }
    return store_sqlite_open(path, node_id, err, errlen);
}

void store_close(store *s)
{
    if (s) s->be->close(s);
}

const char *store_backend_name(const store *s)
{
    return s ? s->be->name : "";
}

bool store_shared(const store *s)
{
    return s && s->be->shared;
}

int store_ping(store *s)
{
    return s ? s->be->ping(s) : -1;
}

int store_apply(store *s, const reg_event *evs, size_t nev, const store_hb *hbs, size_t nhb,
                char *err, size_t errlen)
{
    if (!s || (nev && !evs) || (nhb && !hbs)) {
        err_set(err, errlen, "store_apply: bad arguments");
        return -1;
    }
    if (nev == 0 && nhb == 0) return 0;
    return s->be->apply(s, evs, nev, hbs, nhb, err, errlen);
}

int store_run_begin(store *s, int64_t now_ms, int64_t *run_id)
{
    return s && run_id ? s->be->run_begin(s, now_ms, run_id) : -1;
}

void store_batch_mark(store *s, int64_t run_id, int64_t seq)
{
    if (!s) return;
    s->mark_run = run_id;
    s->mark_seq = seq;
}

void store_fleet_hint(store *s, size_t workers)
{
    if (s) s->fleet = workers;
}

int store_batch_applied(store *s, int64_t run_id, int64_t seq)
{
    return s ? s->be->batch_applied(s, run_id, seq) : -1;
}

int store_run_alive(store *s, int64_t run_id, int64_t now_ms)
{
    return s ? s->be->run_alive(s, run_id, now_ms) : -1;
}

int store_run_end(store *s, int64_t run_id, int64_t now_ms)
{
    return s ? s->be->run_end(s, run_id, now_ms) : -1;
}

int store_last_run(store *s, int64_t before_id, store_run *out)
{
    return s && out ? s->be->last_run(s, before_id, out) : -1;
}

int64_t store_prune(store *s, const char *table, int64_t before_ms, int limit)
{
    return s && table ? s->be->prune(s, table, before_ms, limit) : -1;
}

int store_load_groups(store *s, int (*cb)(void *ctx, const store_group *g), void *ctx)
{
    return s && cb ? s->be->load_groups(s, cb, ctx) : -1;
}

int store_load_workers(store *s, int (*cb)(void *ctx, const store_worker *w), void *ctx)
{
    return s && cb ? s->be->load_workers(s, cb, ctx) : -1;
}

int store_list_workers(store *s, const store_worker_query *q,
                       int (*cb)(void *ctx, const store_worker *w), void *ctx)
{
    static const store_worker_query all = {.state = -1};
    return s && cb ? s->be->list_workers(s, q ? q : &all, cb, ctx) : -1;
}

int store_get_worker(store *s, const char *worker_id, store_worker *out)
{
    return s && worker_id && out ? s->be->get_worker(s, worker_id, out) : -1;
}

int store_list_sessions(store *s, const char *worker_id, int64_t before_opened_ms, int limit,
                        int (*cb)(void *ctx, const store_session *x), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_sessions(s, worker_id, before_opened_ms, limit, cb, ctx);
}

int store_list_heartbeats(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms,
                          int limit, int (*cb)(void *ctx, const store_hb *h), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_heartbeats(s, worker_id, from_ms, to_ms, limit, cb, ctx);
}

int store_list_events(store *s, const store_event_query *q,
                      int (*cb)(void *ctx, const store_event *e), void *ctx)
{
    static const store_event_query all = {0};
    return s && cb ? s->be->list_events(s, q ? q : &all, cb, ctx) : -1;
}

int store_rel_scan(store *s, int64_t from_ms, int (*cb)(void *ctx, const store_rel_worker *w),
                   void *ctx)
{
    return s && cb ? s->be->rel_scan(s, from_ms, cb, ctx) : -1;
}

int store_rel_put(store *s, const store_rel_row *rows, size_t n)
{
    if (!s || (n && !rows)) return -1;
    return n ? s->be->rel_put(s, rows, n) : 0;
}

int store_rel_load(store *s, int (*cb)(void *ctx, const store_rel_row *r), void *ctx)
{
    return s && cb ? s->be->rel_load(s, cb, ctx) : -1;
}

int64_t store_hourly_rollup(store *s, int64_t max_rows)
{
    return s && max_rows > 0 ? s->be->hourly_rollup(s, max_rows) : -1;
}

int store_list_hourly(store *s, const char *worker_id, int64_t from_ms, int64_t to_ms, int limit,
                      int (*cb)(void *ctx, const store_hourly *h), void *ctx)
{
    if (!s || !worker_id || !cb) return -1;
    return s->be->list_hourly(s, worker_id, from_ms, to_ms, limit, cb, ctx);
}

int store_tasks_put(store *s, const tlat_row *rows, size_t n)
{
    if (!s || (n && !rows)) return -1;
    return n ? s->be->tasks_put(s, rows, n) : 0;
}

int store_list_tasks(store *s, const char *group, int64_t from_ms, int64_t to_ms, int limit,
                     int (*cb)(void *ctx, const tlat_row *r), void *ctx)
{
    return s && cb ? s->be->list_tasks(s, group, from_ms, to_ms, limit, cb, ctx) : -1;
}

/* ---- hub role -------------------------------------------------------------- */

int store_hub_put(store *s, const store_hub_row *r, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!s || !r || !r->body || !r->node_id[0] || r->to_ms < r->from_ms)
        return err_set(err, errlen, "store_hub_put: bad arguments");
    return s->be->hub_put(s, r, err, errlen);
}

int store_hub_list(store *s, const char *node_id, int64_t from_ms, int64_t to_ms, int limit,
                   int (*cb)(void *ctx, const store_hub_row *r), void *ctx)
{
    if (!s || !cb || limit < 0) return -1;
    return s->be->hub_list(s, node_id, from_ms, to_ms, limit, cb, ctx);
}

int store_hub_latest(store *s, int (*cb)(void *ctx, const store_hub_row *r), void *ctx)
{
    if (!s || !cb) return -1;
    return s->be->hub_latest(s, cb, ctx);
}

int store_list_runs(store *s, int (*cb)(void *ctx, const store_run *r), void *ctx)
{
    return s && cb ? s->be->list_runs(s, cb, ctx) : -1;
}

int store_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                          size_t *skipped, size_t *bad, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!s || (n && !rows) || !inserted || !skipped || !bad) return -1;
    *inserted = *skipped = *bad = 0;
    return n ? s->be->import_sessions(s, rows, n, now_ms, inserted, skipped, bad, err, errlen) : 0;
}

/* Bounded copy: hb.h already validated the lengths, this only guards. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t k = strnlen(src, n - 1);
    memcpy(dst, src, k);
    dst[k] = '\0';
}

/* ---- fleet series ------------------------------------------------------------ */

#define METRIC_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"
/* Past every valid name (all their bytes are below it): the end of "*". */
#define METRIC_PAST_ALL "\x7f"

bool store_metric_name_ok(const char *s, size_t len, bool pattern)
{
    if (!s || len == 0 || len > STORE_METRIC_NAME_MAX) return false;
    size_t stem = pattern && s[len - 1] == '*' ? len - 1 : len;
    for (size_t i = 0; i < stem; i++)
        if (!s[i] || !strchr(METRIC_CHARS, s[i])) return false;
    return true;
}

int store_put_metrics(store *s, const store_metric *m, size_t n, char *err, size_t errlen)
{
    err_set(err, errlen, "%s", "");
    if (!s || (n && !m)) return err_set(err, errlen, "store_put_metrics: bad arguments");
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen(m[i].name, sizeof m[i].name);
        if (len == sizeof m[i].name || !store_metric_name_ok(m[i].name, len, false))
            return err_set(err, errlen, "store_put_metrics: bad series name '%.*s'", (int)len,
                           m[i].name);
        /* NaN would read back as NULL on SQLite and compare unequal on both. */
        if (!isfinite(m[i].value))
            return err_set(err, errlen, "store_put_metrics: %s: value not finite", m[i].name);
    }
    return n ? s->be->put_metrics(s, m, n, err, errlen) : 0;
}

/* One asked-for name: the bytes before a trailing '*' (stem), and whether
 * it had one. */
typedef struct pat {
    const char *s;
    size_t len;
    bool prefix;
} pat;

/* Byte order of the stems; a prefix before the exact name it equals, so
 * the walk in store_metrics_range meets the prefix that covers it first. */
static int pat_cmp(const void *x, const void *y)
{
    const pat *a = x, *b = y;
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (int)b->prefix - (int)a->prefix;
}

static bool pat_covers(const pat *p, const pat *q)
{
    return p->prefix && q->len >= p->len && memcmp(q->s, p->s, p->len) == 0;
}

typedef struct names_buf {
    char (*v)[STORE_METRIC_NAME_MAX + 1];
    size_t n, cap;
    bool oom; /* a name did not fit: the list is short, the read fails */
} names_buf;

static int on_name(void *ctx, const char *name)
{
    names_buf *b = ctx;
    void *grown = vec_grow(b->v, &b->cap, b->n + 1, sizeof *b->v, 16);
    if (!grown) {
        b->oom = true;
        return -1;
    }
    b->v = grown;
    copy_str(b->v[b->n++], sizeof *b->v, name);
    return 0;
}

/* A caller's callback that said stop, seen across several backend calls. */
typedef struct series_ctx {
    int (*cb)(void *, const store_metric *);
    void *ctx;
    bool stopped;
    int64_t rows;
} series_ctx;

static int on_sample(void *ctx, const store_metric *m)
{
    series_ctx *c = ctx;
    c->rows++;
    if (c->cb(c->ctx, m) == 0) return 0;
    c->stopped = true;
    return 1;
}

/* The patterns, sorted and with every one that another covers dropped
 * (duplicates, exact names under a prefix, prefixes under a shorter one),
 * match disjoint sets of names, and in sorted order every name one matches
 * comes before every name the next matches (a name after a prefix p that
 * does not start with p is at or past p's successor). So querying them in
 * that order, a prefix's names each in turn, hands over the rows in name
 * order with no series twice, without merging anything. */
int store_metrics_range(store *s, const char *const *names, size_t nnames, int64_t from_ms,
                        int64_t to_ms, int (*cb)(void *ctx, const store_metric *m), void *ctx)
{
    if (!s || !cb || (nnames && !names)) return -1;
    for (size_t i = 0; i < nnames; i++)
        if (!names[i] || !store_metric_name_ok(names[i], strlen(names[i]), true)) return -1;
    if (nnames == 0 || from_ms >= to_ms) return 0;
    pat *p = malloc(nnames * sizeof *p);
    if (!p) return -1;
    for (size_t i = 0; i < nnames; i++) {
        size_t len = strlen(names[i]);
        bool prefix = names[i][len - 1] == '*';
        p[i] = (pat){names[i], len - prefix, prefix};
    }
    qsort(p, nnames, sizeof *p, pat_cmp);
    series_ctx sc = {.cb = cb, .ctx = ctx};
    names_buf nb = {0};
    const pat *cover = NULL, *last = NULL;
    int rc = 0;
    for (size_t i = 0; i < nnames && rc == 0 && !sc.stopped; i++) {
        if ((cover && pat_covers(cover, &p[i])) ||
            (last && !p[i].prefix && !last->prefix && last->len == p[i].len &&
             memcmp(last->s, p[i].s, p[i].len) == 0))
            continue;
        last = &p[i];
        char lo[STORE_METRIC_NAME_MAX + 1], hi[STORE_METRIC_NAME_MAX + 1];
        memcpy(lo, p[i].s, p[i].len);
        lo[p[i].len] = '\0';
        if (!p[i].prefix) {
            rc = s->be->metric_series(s, lo, from_ms, to_ms, on_sample, &sc) < 0 ? -1 : 0;
            continue;
        }
        cover = &p[i];
        /* [stem, successor): the stem with its last byte one higher. */
        if (p[i].len) {
            memcpy(hi, lo, p[i].len + 1);
            hi[p[i].len - 1]++;
        } else {
            snprintf(hi, sizeof hi, "%s", METRIC_PAST_ALL);
        }
        nb.n = 0;
        if (s->be->metric_names(s, lo, hi, on_name, &nb) < 0 || nb.oom) rc = -1;
        for (size_t k = 0; k < nb.n && rc == 0 && !sc.stopped; k++)
            rc = s->be->metric_series(s, nb.v[k], from_ms, to_ms, on_sample, &sc) < 0 ? -1 : 0;
    }
    free(nb.v);
    free(p);
    return rc < 0 ? -1 : (int)(sc.rows > INT32_MAX ? INT32_MAX : sc.rows);
}

/* The sample bits a store_hb carries; group/instance/exit_code live elsewhere
 * (workers, sessions), so their bits would only mislead a reader. */
#define STORE_HB_BITS                                                                              \
    (HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS | HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL |        \
     HB_HAS_GPU_MEM | HB_HAS_THERMAL | HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT |       \
     HB_HAS_REQUESTS | HB_HAS_TOKENS | HB_HAS_CPU_TICKS)

void store_hb_from_msg(store_hb *h, const hb_msg *m, int64_t ts_ms)
{
    memset(h, 0, sizeof *h);
    h->ts_ms = ts_ms;
    h->has = m->has & STORE_HB_BITS;
    /* Absent fields are zeroed rather than copied, so two store_hb of the
     * same heartbeat compare equal whatever the parser left behind. */
    if (h->has & HB_HAS_SEQ) h->seq = m->seq;
    if (h->has & HB_HAS_TTL) h->ttl_s = m->ttl_s;
    if (h->has & HB_HAS_THERMAL) h->thermal = m->thermal;
    if (h->has & HB_HAS_CPU) h->cpu = (float)m->cpu;
    if (h->has & HB_HAS_MEM) h->mem = (float)m->mem;
    if (h->has & HB_HAS_MEM_AVAIL) h->mem_available_gb = (float)m->mem_available_gb;
    if (h->has & HB_HAS_GPU_MEM) h->gpu_mem_active_gb = (float)m->gpu_mem_active_gb;
    if (h->has & HB_HAS_BACKLOG) h->backlog = m->backlog;
    if (h->has & HB_HAS_CAPACITY) h->capacity = m->capacity;
    if (h->has & HB_HAS_IN_FLIGHT) h->in_flight = m->in_flight;
    if (h->has & HB_HAS_REQUESTS) h->requests = m->requests;
    if (h->has & HB_HAS_TOKENS) h->tokens = m->tokens;
    if (h->has & HB_HAS_CPU_TICKS) h->cpu_ticks = m->cpu_ticks;
    copy_str(h->worker_id, sizeof h->worker_id, m->worker_id);
    if (h->has & HB_HAS_STATUS) copy_str(h->status, sizeof h->status, m->status);
}

/* By worker, then arrival order (the array index, via the address). */
static int hb_cmp(const void *a, const void *b)
{
    const store_hb *x = *(const store_hb *const *)a, *y = *(const store_hb *const *)b;
    int c = strcmp(x->worker_id, y->worker_id);
    return c ? c : (x > y) - (x < y);
}

const store_hb **store_hb_sorted(const store_hb *hbs, size_t n)
{
    const store_hb **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = &hbs[i];
    qsort(v, n, sizeof *v, hb_cmp);
    return v;
}

size_t store_hb_run(const store_hb *const *v, size_t n, size_t i, int64_t *last_ms, int32_t *ttl_s)
{
    size_t j = i;
    *last_ms = v[i]->ts_ms;
    *ttl_s = 0;
    for (; j < n && strcmp(v[j]->worker_id, v[i]->worker_id) == 0; j++) {
        if (v[j]->ts_ms > *last_ms) *last_ms = v[j]->ts_ms;
        if ((v[j]->has & HB_HAS_TTL) && v[j]->ttl_s > 0) *ttl_s = v[j]->ttl_s;
    }
    return j;
}

bool store_forgets_any(const reg_event *evs, size_t nev)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == REG_EV_WORKER_FORGET) return true;
    return false;
}

bool store_forgotten_in(const reg_event *evs, size_t nev, const char *worker_id)
{
    for (size_t i = 0; i < nev; i++)
        if (evs[i].kind == REG_EV_WORKER_FORGET && strcmp(evs[i].worker_id, worker_id) == 0)
            return true;
    return false;
}

const char *store_alert_type(const reg_event *e)
{
    /* NOTICE_REPEAT is a reminder of an alert still firing. */
    return e->state == NOTICE_RESOLVED ? "alert_resolved" : "alert_firing";
}

/* s as the body of a JSON string into dst (n bytes), cut before an escape
 * that would not fit. Rule names are plain ASCII (notice_name_valid), so
 * this never escapes in practice; a byte outside printable ASCII, should one
 * come, goes as \u00XX so the row stays valid JSON and valid UTF-8 (a stray
 * byte would make PostgreSQL refuse the whole batch, and the writer retry it
 * for ever). */
static void json_str_body(char *dst, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        int len = c == '"' || c == '\\'  ? snprintf(esc, sizeof esc, "\\%c", c)
                  : c < 0x20 || c > 0x7e ? snprintf(esc, sizeof esc, "\\u%04x", c)
                                         : snprintf(esc, sizeof esc, "%c", c);
        if (k + (size_t)len >= n) break;
        memcpy(dst + k, esc, (size_t)len);
        k += (size_t)len;
    }
    dst[k] = '\0';
}

void store_alert_detail(const reg_event *e, char *buf, size_t n)
{
    static const char head[] = "{\"rule\":\"";
    char tail[128];
    int t = snprintf(tail, sizeof tail,
                     "\",\"alert_type\":\"%s\",\"severity\":\"%s\",\"since_ms\":%lld}",
                     alert_type_name((alert_type)e->exit_code),
                     notice_severity_name((notice_severity)e->reason), (long long)e->opened_ms);
    if (n == 0) return;
    buf[0] = '\0';
    /* The fixed parts first: whatever is cut, it is the rule name, and the
     * object stays whole. */
    if (t < 0 || (size_t)t >= sizeof tail || n < sizeof head + (size_t)t) return;
    char rule[STORE_EVENT_DETAIL_MAX];
    size_t room = n - (sizeof head - 1) - (size_t)t;
    json_str_body(rule, room < sizeof rule ? room : sizeof rule, e->instance);
    snprintf(buf, n, "%s%s%s", head, rule, tail);
}

void store_event_of(const reg_event *e, const char *node_id, store_event *out)
{
    memset(out, 0, sizeof *out);
    out->ts_ms = e->at_ms;
    bool alert = e->kind == REG_EV_ALERT;
    switch (e->kind) {
    case REG_EV_SESSION_OPEN:
        snprintf(out->type, sizeof out->type, "session_opened");
        if (!e->at_ms) out->ts_ms = e->opened_ms;
        out->opened_ms = e->opened_ms;
        break;
    case REG_EV_SESSION_CLOSE:
        snprintf(out->type, sizeof out->type, "session_closed");
        out->opened_ms = e->opened_ms;
        if (e->status[0]) { /* a bye's why: {"status": "..."}, 64 bytes escape to < 400 */
            char body[STORE_EVENT_DETAIL_MAX - 16];
            json_str_body(body, sizeof body, e->status);
            snprintf(out->detail, sizeof out->detail, "{\"status\":\"%s\"}", body);
        }
        break;
    case REG_EV_WORKER_STATE:
    case REG_EV_GROUP_STATE: {
        bool w = e->kind == REG_EV_WORKER_STATE;
        const char *st = w ? reg_wstate_name(e->state) : reg_gstate_name(e->state);
        snprintf(out->type, sizeof out->type, "%s_%s", w ? "worker" : "group", st);
        snprintf(out->state, sizeof out->state, "%s", st);
        snprintf(out->prev_state, sizeof out->prev_state, "%s",
                 w ? reg_wstate_name(e->prev_state) : reg_gstate_name(e->prev_state));
        break;
    }
    case REG_EV_ALERT:
        snprintf(out->type, sizeof out->type, "%s", store_alert_type(e));
        store_alert_detail(e, out->detail, sizeof out->detail);
        break;
    default:
        snprintf(out->type, sizeof out->type, "worker_forgotten");
    }
    snprintf(out->worker_id, sizeof out->worker_id, "%s", e->worker_id);
    snprintf(out->group, sizeof out->group, "%s", e->group);
    if (!alert) {
        snprintf(out->instance, sizeof out->instance, "%s", e->instance);
        out->reason = e->reason;
        out->has_exit_code = e->has_exit_code;
        out->exit_code = e->exit_code;
    }
    snprintf(out->node_id, sizeof out->node_id, "%s", node_id ? node_id : "");
}
