/*
 * routes_snapshot: GET /v1/snapshot, the versioned raw-state envelope
 * (snapshot.h has the mechanism; docs/api.md the contract).
 *
 * Every section reads memory only: counters (atomics), the registry's and
 * the queues' own stats calls, /proc/self for the process. None touches the
 * store, so a snapshot answers while the store is down, which is when an
 * operator wants one. The registry's figures are taken shard by shard (as
 * reg_counts and reg_memory do), so they are each consistent but not one
 * instant across sections: good enough for raw state, and it never holds up
 * ingest for more than one shard.
 */
#include "server/snapshot.h"

#include "server/alerts.h"
#include "server/http.h"
#include "server/stream.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAPSHOT_STAT_MAX 4096  /* bytes of /proc/self/stat read (a line of ~300) */
#define SNAPSHOT_UNKNOWN_MAX 64 /* bytes of an unknown section name kept for the log */
#define SNAPSHOT_MASK_BITS 32   /* sections a fail mask can name */
#define STAT_UTIME_FIELD 14     /* proc(5) field numbers, 1-based, in /proc/self/stat */
#define STAT_STIME_FIELD 15
#define STAT_THREADS_FIELD 20
#define STAT_FIRST_AFTER_COMM 3 /* fields after "(comm)" start at the state, field 3 */

/* ---- helpers ------------------------------------------------------------- */

static void num(cJSON *o, const char *k, double v)
{
    cJSON_AddNumberToObject(o, k, v);
}

/* Atomic counters are read one by one: each is exact, together they are a
 * few microseconds apart, which a raw-state dump can live with. */
#define LOAD(x) ((double)atomic_load(&(x)))

/* ---- sections ------------------------------------------------------------ */

typedef struct group_tally {
    size_t total;
    uint32_t by_state[REG_G__COUNT];
} group_tally;

static void tally_group(void *ctx, const reg_group_view *g)
{
    group_tally *t = ctx;
    t->total++;
    if ((unsigned)g->state < REG_G__COUNT) t->by_state[g->state]++;
}

static cJSON *sec_registry(app *a, int64_t now_ms)
{
    (void)now_ms;
    if (!a->reg) return NULL;
    uint64_t counts[REG_W__COUNT];
    reg_counts(a->reg, counts);
    group_tally gt = {0};
    reg_groups(a->reg, tally_group, &gt);
    cJSON *o = cJSON_CreateObject();
    uint64_t total = 0;
    for (int s = REG_W_NONE + 1; s < REG_W__COUNT; s++)
        total += counts[s];
    cJSON *w = cJSON_AddObjectToObject(o, "workers");
    num(w, "total", (double)total);
    cJSON *ws = cJSON_AddObjectToObject(w, "by_state");
    for (int s = REG_W_NONE + 1; s < REG_W__COUNT; s++)
        num(ws, reg_wstate_name(s), (double)counts[s]);
    cJSON *g = cJSON_AddObjectToObject(o, "groups");
    num(g, "total", (double)gt.total);
    cJSON *gs = cJSON_AddObjectToObject(g, "by_state");
    for (int s = 0; s < REG_G__COUNT; s++)
        num(gs, reg_gstate_name(s), gt.by_state[s]);
    num(o, "memory_bytes", (double)reg_memory(a->reg));
    size_t ifl_workers = 0, ifl_bytes = 0;
    if (a->ifl) ifl_stats(a->ifl, &ifl_workers, &ifl_bytes);
    cJSON *j = cJSON_AddObjectToObject(o, "job_lists");
    num(j, "workers", (double)ifl_workers);
    num(j, "bytes", (double)ifl_bytes);
    return o;
}

static cJSON *sec_queues(app *a, int64_t now_ms)
{
    (void)now_ms;
    if (!a->wq) return NULL;
    wq_stats st;
    wq_get_stats(a->wq, &st);
    cJSON *o = cJSON_CreateObject();
    cJSON *h = cJSON_AddObjectToObject(o, "heartbeats");
    num(h, "depth", (double)st.hb_depth);
    num(h, "capacity", (double)st.hb_cap);
    num(h, "pushed", (double)st.hb_pushed);
    num(h, "dropped", (double)st.hb_dropped);
    cJSON *e = cJSON_AddObjectToObject(o, "events");
    num(e, "depth", (double)st.ev_depth);
    num(e, "in_memory", (double)st.ev_mem);
    num(e, "memory_max", (double)st.ev_max);
    num(e, "pushed", (double)st.ev_pushed);
    cJSON *s = cJSON_AddObjectToObject(e, "spill");
    num(s, "unread", (double)st.spilled);
    num(s, "written", (double)st.ev_spilled);
    num(s, "kept_past_cap", (double)st.ev_spill_failed);
    num(s, "fail_streaks", (double)st.spill_fail_streaks);
    num(s, "lost", (double)st.ev_spill_lost);
    num(s, "episodes", (double)st.spill_episodes);
    num(s, "drains", (double)st.spill_drains);
    num(s, "replayed_at_boot", LOAD(a->events_replayed));
    num(e, "journal_failed", (double)st.journal_failed);
    num(s, "last_errno", st.spill_errno);
    cJSON_AddStringToObject(s, "last_error", st.spill_err);
    return o;
}

static cJSON *sec_writer(app *a, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    num(o, "flushes", LOAD(a->flushes));
    num(o, "flush_failures", LOAD(a->flush_failures));
    num(o, "shed_pauses", LOAD(a->shed_pauses));
    num(o, "persisted", LOAD(a->persisted));
    num(o, "pruned_rows", LOAD(a->pruned_rows));
    int64_t alive = atomic_load(&a->writer_alive_ms);
    /* 0: the writer never turned (not started): no age rather than 56 years. */
    if (alive > 0)
        num(o, "last_alive_age_ms", (double)(now_ms > alive ? now_ms - alive : 0));
    else
        cJSON_AddNullToObject(o, "last_alive_age_ms");
    cJSON_AddBoolToObject(o, "alive", alive > 0 && now_ms - alive < APP_WRITER_STALE_MS);
    cJSON_AddBoolToObject(o, "store_ok", atomic_load(&a->store_ok));
    return o;
}

/* The admin rollup's figures (routes_rollup_json), with this section's own
 * additions. */
static void rollup_json(cJSON *o, const rollup_stats *st)
{
    routes_rollup_json(o, st);
    num(o, "at_ms", (double)st->at_ms);
    cJSON_AddBoolToObject(o, "ok", st->ok);
    num(o, "task_rows", (double)st->task_rows);
    num(o, "total_ms", (double)st->total_ms);
}

static cJSON *sec_jobs(app *a, int64_t now_ms)
{
    (void)now_ms;
    cJSON *o = cJSON_CreateObject();
    cJSON *sw = cJSON_AddObjectToObject(o, "sweeper");
    num(sw, "sweeps", LOAD(a->sweeps));
    num(sw, "visits", LOAD(a->sweep_visits));
    num(sw, "interval_ms", a->cfg.sweep_interval_ms);

    cJSON *ru = cJSON_AddObjectToObject(o, "rollup");
    num(ru, "runs", LOAD(a->rollups));
    num(ru, "failures", LOAD(a->rollup_failures));
    num(ru, "interval_s", a->cfg.rollup_interval_s);
    num(ru, "tasks_accepted", LOAD(a->tasks_accepted));
    num(ru, "tasks_dropped", LOAD(a->tasks_dropped));
    /* rollup_mu exists once rollup_init made tlat; rollup_last is zero until
     * the first rollup ends (at_ms 0), which reads as "none yet". */
    rollup_stats last = {0};
    if (a->tlat) {
        pthread_mutex_lock(&a->rollup_mu);
        last = a->rollup_last;
        pthread_mutex_unlock(&a->rollup_mu);
    }
    if (last.at_ms > 0)
        rollup_json(cJSON_AddObjectToObject(ru, "last"), &last);
    else
        cJSON_AddNullToObject(ru, "last");

    /* history.h exposes no counters of its own (its pending and dropped rows
     * are the thread's): whether it runs, and how often it samples. */
    cJSON *hi = cJSON_AddObjectToObject(o, "history");
    cJSON_AddBoolToObject(hi, "running", a->history != NULL);
    num(hi, "sample_s", a->cfg.history_sample_s);
    return o;
}

static cJSON *sec_alerts(app *a, int64_t now_ms)
{
    (void)now_ms;
    alert_stats st;
    uint64_t qdropped;
    alerts_get_stats(a->alerts, &st, &qdropped); /* zeros for NULL (no rules) */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", a->alerts != NULL);
    num(o, "rules", a->alerts ? (double)a->cfg.nrules : 0);
    num(o, "fired", (double)st.fired);
    num(o, "resolved", (double)st.resolved);
    num(o, "sent", (double)st.sent);
    num(o, "held_silenced", (double)st.held_silenced);
    num(o, "held_cooldown", (double)st.held_cooldown);
    num(o, "folded", (double)st.folded);
    num(o, "active", (double)st.active);
    num(o, "silences", (double)st.silences);
    num(o, "queue_dropped", (double)qdropped);
    return o;
}

static cJSON *sec_stream(app *a, int64_t now_ms)
{
    (void)now_ms;
    stream_stats st;
    stream_get_stats(a->stream, &st); /* zeros for NULL */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", a->stream && a->cfg.stream_max_subscribers > 0);
    num(o, "subscribers", (double)st.subscribers);
    num(o, "max_subscribers", a->cfg.stream_max_subscribers);
    num(o, "messages", (double)st.messages);
    num(o, "cut_off", (double)st.cut_off);
    num(o, "events_dropped", (double)st.events_dropped);
    return o;
}

/* /proc/self/stat fields by number (proc(5)). comm, field 2, is in
 * parentheses and may hold blanks and ')' itself, so fields are counted from
 * the last ')'. 0, or -1 when unreadable. */
static int read_stat(long long *utime, long long *stime, long long *threads)
{
    char buf[SNAPSHOT_STAT_MAX];
    FILE *fp = fopen("/proc/self/stat", "re");
    if (!fp) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    int field = STAT_FIRST_AFTER_COMM, got = 0;
    for (char *save = NULL, *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (field == STAT_UTIME_FIELD) *utime = atoll(t), got++;
        if (field == STAT_STIME_FIELD) *stime = atoll(t), got++;
        if (field == STAT_THREADS_FIELD) {
            *threads = atoll(t), got++;
            break;
        }
        field++;
    }
    return got == 3 ? 0 : -1;
}

/* Resident set in bytes: statm's second field is in pages. -1 unreadable. */
static long long read_rss(void)
{
    long long size, resident;
    FILE *fp = fopen("/proc/self/statm", "re");
    if (!fp) return -1;
    int got = fscanf(fp, "%lld %lld", &size, &resident);
    fclose(fp);
    return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

/* Open descriptors, not counting the one this listing holds. -1 unreadable. */
static long long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long long n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;
}

static cJSON *sec_process(app *a, int64_t now_ms)
{
    long long utime, stime, threads, rss = read_rss(), fds = count_fds();
    if (read_stat(&utime, &stime, &threads) || rss < 0 || fds < 0) return NULL;
    cJSON *o = cJSON_CreateObject();
    num(o, "pid", getpid());
    cJSON_AddStringToObject(o, "version", VIGIL_VERSION);
    http_add_time(o, "started_at", a->boot_ms);
    num(o, "started_at_ms", (double)a->boot_ms);
    routes_add_secs(o, "uptime_s", a->boot_ms > 0 ? (double)(now_ms - a->boot_ms) / 1000 : 0);
    num(o, "run_id", (double)a->run_id);
    num(o, "cpu_ticks", (double)(utime + stime));
    num(o, "utime_ticks", (double)utime);
    num(o, "stime_ticks", (double)stime);
    num(o, "rss_bytes", (double)rss);
    num(o, "threads", (double)threads);
    num(o, "open_fds", (double)fds);
    return o;
}

const snapshot_section snapshot_sections[] = {
    {"registry", sec_registry}, {"queues", sec_queues}, {"writer", sec_writer},
    {"jobs", sec_jobs},         {"alerts", sec_alerts}, {"stream", sec_stream},
    {"process", sec_process},
};
const size_t snapshot_nsections = sizeof snapshot_sections / sizeof snapshot_sections[0];

/* ---- assembly ------------------------------------------------------------ */

uint32_t snapshot_fail_mask(const snapshot_section *tab, size_t n, const char *list, char *unknown,
                            size_t unknown_len)
{
    uint32_t mask = 0;
    if (unknown_len) unknown[0] = '\0';
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        const char *next = p + len;
        while (len && strchr(" \t", p[len - 1]))
            len--;
        if (len) {
            size_t i = 0;
            while (i < n && (strlen(tab[i].name) != len || memcmp(tab[i].name, p, len)))
                i++;
            if (i < n && i < SNAPSHOT_MASK_BITS)
                mask |= UINT32_C(1) << i;
            else if (unknown_len && !unknown[0])
                snprintf(unknown, unknown_len, "%.*s", (int)len, p);
        }
        p = next;
    }
    return mask;
}

cJSON *snapshot_build(app *a, const snapshot_section *tab, size_t n, uint32_t fail_mask,
                      int64_t now_ms)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    num(doc, "schema_version", SNAPSHOT_SCHEMA_VERSION);
    http_add_time(doc, "generated_at", now_ms);
    num(doc, "generated_at_ms", (double)now_ms);
    num(doc, "clk_tck", (double)sysconf(_SC_CLK_TCK));
    cJSON_AddStringToObject(doc, "node_id", a->cfg.node_id);
    cJSON *secs = cJSON_AddObjectToObject(doc, "sections");
    if (!secs) {
        cJSON_Delete(doc);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        bool forced = i < SNAPSHOT_MASK_BITS && (fail_mask >> i & 1);
        cJSON *s = forced ? NULL : tab[i].fn(a, now_ms);
        if (s)
            cJSON_AddItemToObject(secs, tab[i].name, s);
        else
            cJSON_AddNullToObject(secs, tab[i].name);
    }
    return doc;
}

/* ---- the route ----------------------------------------------------------- */

static pthread_once_t fail_once = PTHREAD_ONCE_INIT;
static uint32_t fail_mask; /* written once under fail_once, read-only after */

static void read_fail_env(void)
{
    const char *list = getenv(SNAPSHOT_FAIL_ENV);
    char unknown[SNAPSHOT_UNKNOWN_MAX];
    fail_mask =
        snapshot_fail_mask(snapshot_sections, snapshot_nsections, list, unknown, sizeof unknown);
    if (fail_mask)
        vlog("warn", "%s: test hook forcing snapshot sections to null", SNAPSHOT_FAIL_ENV);
    if (unknown[0])
        vlog("warn", "%s: no snapshot section '%s' (ignored)", SNAPSHOT_FAIL_ENV, unknown);
}

enum MHD_Result route_snapshot(app *a, req *r)
{
    if (!a->cfg.snapshot)
        return http_error(r, 404, "path",
                          "the snapshot endpoint is turned off ([server] snapshot)");
    pthread_once(&fail_once, read_fail_env);
    cJSON *doc = snapshot_build(a, snapshot_sections, snapshot_nsections, fail_mask, app_now_ms());
    if (!doc) return http_error(r, 503, "memory", "out of memory building the snapshot");
    return http_cjson(r, 200, doc);
}
