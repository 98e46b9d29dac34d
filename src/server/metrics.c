/*
 * metrics: GET /metrics in the Prometheus text exposition format 0.0.4.
 *
 * Mechanism. Each scrape writes the whole text into one tbuf, family by
 * family (# HELP, # TYPE, then its samples), reading every figure where it
 * already lives: the app's atomic counters, wq/stream/alert stats (each
 * taken under its own lock, briefly), rollup_last under rollup_mu, the
 * registry's groups, the writer's lock-free flush histogram (core/hist.h).
 * Nothing is cached between scrapes, so the text is as fresh as the call.
 *
 * Refusals by reason: metrics_reject bumps hb_rejected first and then the
 * reason's slot; a scrape reads the slots first and then the total, so the
 * remainder ("other": refusals whose field is not in the table, or counted
 * by hb_rejected alone, e.g. UDP lines) is never negative. It can be one
 * high for a refusal between its two increments; a high-water mark keeps
 * the exposed counter from stepping back (which a scraper reads as a reset).
 */
#include "server/metrics.h"

#include "core/prom.h"
#include "server/alerts.h"
#include "server/http.h"
#include "server/hub.h"
#include "server/hubp.h"
#include "server/ring.h"
#include "server/stream.h"
#include "server/tbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_LABEL_INLINE 320 /* escaped label value bytes before a heap buffer is needed */

/* ingest_rejects slots, in order: hb.c's message fields, then what the
 * HTTP plumbing refuses. Appending is safe; reordering renames series. */
static const char *const REJECT_NAMES[] = {
    "worker_id",
    "group",
    "instance",
    "status",
    "seq",
    "ttl_s",
    "cpu",
    "mem",
    "mem_available_gb",
    "gpu_mem_active_gb",
    "thermal",
    "backlog",
    "capacity",
    "in_flight",
    "requests",
    "tokens",
    "cpu_ticks",
    "task_ms",
    "jobs",
    "exit_code",
    "json",
    "body",
    "path",
    "line",
    "authorization",
    "content-type",
    "registry_full",
};
#define NREJECT (sizeof REJECT_NAMES / sizeof REJECT_NAMES[0])
_Static_assert(NREJECT <= APP_REJECT_REASONS, "grow APP_REJECT_REASONS in app.h");

static int reject_index(const char *field)
{
    for (size_t i = 0; field && i < NREJECT; i++)
        if (strcmp(field, REJECT_NAMES[i]) == 0) return (int)i;
    return -1;
}

void metrics_reject(app *a, const char *field)
{
    atomic_fetch_add(&a->hb_rejected, 1);
    int i = reject_index(field);
    if (i >= 0) atomic_fetch_add(&a->ingest_rejects[i], 1);
}

/* ---- exposition helpers ---- */

static void family(tbuf *b, const char *name, const char *type, const char *help)
{
    tbuf_puts(b, "# HELP ");
    tbuf_puts(b, name);
    tbuf_puts(b, " ");
    tbuf_puts(b, help); /* our own texts: no backslash or newline to escape */
    tbuf_puts(b, "\n# TYPE ");
    tbuf_puts(b, name);
    tbuf_puts(b, " ");
    tbuf_puts(b, type);
    tbuf_puts(b, "\n");
}

/* key="value" with the value escaped; after a comma unless first. */
static void label(tbuf *b, const char *key, const char *val, bool first)
{
    char in[METRICS_LABEL_INLINE], *out = in;
    size_t len = strlen(val), n = prom_escape(in, sizeof in, val, len);
    if (n >= sizeof in) {
        out = malloc(n + 1);
        if (!out) {
            b->oom = true;
            return;
        }
        prom_escape(out, n + 1, val, len);
    }
    if (!first) tbuf_puts(b, ",");
    tbuf_puts(b, key);
    tbuf_puts(b, "=\"");
    tbuf_put(b, out, n);
    tbuf_puts(b, "\"");
    if (out != in) free(out);
}

/* One sample line; labels is the text between the braces, or NULL. */
static void sample(tbuf *b, const char *name, const char *labels, double v)
{
    char num[PROM_NUM_MAX];
    tbuf_puts(b, name);
    if (labels) {
        tbuf_puts(b, "{");
        tbuf_puts(b, labels);
        tbuf_puts(b, "}");
    }
    tbuf_puts(b, " ");
    tbuf_puts(b, prom_num(num, v));
    tbuf_puts(b, "\n");
}

static void one(tbuf *b, const char *name, const char *type, const char *help, double v)
{
    family(b, name, type, help);
    sample(b, name, NULL, v);
}

#define LOAD(x) ((double)atomic_load(&(x)))

/* ---- the families ---- */

static void ingest(app *a, tbuf *b)
{
    one(b, "vigil_heartbeats_accepted_total", "counter",
        "Heartbeats applied to the registry (every door).", LOAD(a->hb_accepted));
    family(b, "vigil_heartbeats_rejected_total", "counter",
           "Ingest messages refused, by the error field of the answer.");
    uint64_t named = 0;
    char lab[96];
    for (size_t i = 0; i < NREJECT; i++) {
        uint64_t n = atomic_load(&a->ingest_rejects[i]);
        named += n;
        snprintf(lab, sizeof lab, "reason=\"%s\"", REJECT_NAMES[i]);
        sample(b, "vigil_heartbeats_rejected_total", lab, (double)n);
    }
    uint64_t total = atomic_load(&a->hb_rejected);
    uint64_t other = total > named ? total - named : 0;
    uint64_t seen = atomic_load(&a->rejects_other_seen);
    while (other > seen && !atomic_compare_exchange_weak(&a->rejects_other_seen, &seen, other))
        ;
    sample(b, "vigil_heartbeats_rejected_total", "reason=\"other\"",
           (double)(other > seen ? other : seen));
    one(b, "vigil_byes_total", "counter", "Byes (clean or failed stops) received.", LOAD(a->byes));
}

static void queue(app *a, tbuf *b)
{
    wq_stats st;
    wq_get_stats(a->wq, &st);
    one(b, "vigil_raw_samples_dropped_total", "counter",
        "Raw heartbeat samples dropped because the write queue's ring was full.",
        (double)st.hb_dropped);
    family(b, "vigil_write_queue_depth", "gauge",
           "Items queued for the writer and not yet taken, by lane.");
    sample(b, "vigil_write_queue_depth", "lane=\"samples\"", (double)st.hb_depth);
    sample(b, "vigil_write_queue_depth", "lane=\"events\"", (double)st.ev_depth);
    one(b, "vigil_write_queue_capacity", "gauge", "Raw samples the write queue's ring holds.",
        (double)st.hb_cap);
    one(b, "vigil_events_spilled_total", "counter",
        "State events written to the spill file (events.spill).", LOAD(a->events_spilled));
    one(b, "vigil_events_replayed_total", "counter",
        "State events applied from the spill file at boot.", LOAD(a->events_replayed));
    one(b, "vigil_event_spill_failures_total", "counter",
        "State events kept in memory past event_queue_max because the spill file could not be "
        "written.",
        LOAD(a->spill_failures));
    one(b, "vigil_event_journal_failures_total", "counter",
        "State events not journaled (events.journal could not be written): a crash of vigild "
        "before they are stored would lose them.",
        (double)st.journal_failed);
}

static void writer(app *a, tbuf *b)
{
    hist_snap h;
    hist_read(&a->flush_hist, &h);
    const char *name = "vigil_writer_flush_duration_seconds";
    family(b, name, "histogram", "Time each store write batch took, failed attempts included.");
    char lab[64], num[PROM_NUM_MAX];
    for (size_t i = 0; i <= h.n; i++) {
        snprintf(lab, sizeof lab, "le=\"%s\"", i < h.n ? prom_num(num, h.le[i]) : "+Inf");
        sample(b, "vigil_writer_flush_duration_seconds_bucket", lab, (double)h.cum[i]);
    }
    sample(b, "vigil_writer_flush_duration_seconds_sum", NULL, h.sum);
    sample(b, "vigil_writer_flush_duration_seconds_count", NULL, (double)h.count);
    one(b, "vigil_writer_flushes_total", "counter", "Store write batches committed.",
        LOAD(a->flushes));
    one(b, "vigil_writer_flush_failures_total", "counter",
        "Store write batches that failed (each retried).", LOAD(a->flush_failures));
    one(b, "vigil_writer_shed_pauses_total", "counter",
        "Pauses the writer took to yield the CPU to ingest (samples overflowing, or a shared "
        "core).",
        LOAD(a->shed_pauses));
    one(b, "vigil_store_items_persisted_total", "counter",
        "Queue items (events and samples) the writer stored.", LOAD(a->persisted));
    one(b, "vigil_retention_pruned_rows_total", "counter", "Rows deleted by retention.",
        LOAD(a->pruned_rows));
    one(b, "vigil_store_up", "gauge", "1 when the last store write succeeded, else 0.",
        atomic_load(&a->store_ok) ? 1 : 0);
    one(b, "vigil_sweeps_total", "counter", "Registry sweeper passes.", LOAD(a->sweeps));
}

static void rollup(app *a, tbuf *b)
{
    pthread_mutex_lock(&a->rollup_mu);
    rollup_stats last = a->rollup_last;
    pthread_mutex_unlock(&a->rollup_mu);
    one(b, "vigil_rollup_runs_total", "counter", "Analytics rollups completed.", LOAD(a->rollups));
    one(b, "vigil_rollup_failures_total", "counter",
        "Analytics rollups left incomplete by store errors.", LOAD(a->rollup_failures));
    one(b, "vigil_rollup_duration_seconds", "gauge",
        "How long the last analytics rollup took (0 before the first).",
        (double)last.total_ms / 1000.0);
    one(b, "vigil_rollup_last_run_timestamp_seconds", "gauge",
        "When the last analytics rollup ran, Unix time (0 before the first).",
        (double)last.at_ms / 1000.0);
    one(b, "vigil_tasks_dropped_total", "counter",
        "Task durations dropped (latency bucket table full).", LOAD(a->tasks_dropped));
}

static void group_lines(void *ctx, const reg_group_view *g)
{
    tbuf *b = ctx;
    for (int s = REG_W_NONE + 1; s < REG_W__COUNT; s++) {
        tbuf_puts(b, "vigil_workers{");
        label(b, "group", g->name, true);
        label(b, "state", reg_wstate_name(s), false);
        tbuf_puts(b, "} ");
        char num[PROM_NUM_MAX];
        tbuf_puts(b, prom_num(num, (double)g->count[s]));
        tbuf_puts(b, "\n");
    }
}

static void fleet(app *a, tbuf *b)
{
    family(b, "vigil_sessions_closed_total", "counter",
           "Worker sessions closed since start, by reason.");
    char lab[96];
    for (int r = REG_R_NONE + 1; r < REG_R__COUNT; r++) {
        snprintf(lab, sizeof lab, "reason=\"%s\"", reg_reason_name(r));
        sample(b, "vigil_sessions_closed_total", lab, LOAD(a->sessions_closed[r]));
    }
    family(b, "vigil_workers", "gauge", "Workers the registry knows, by group and state.");
    reg_groups(a->reg, group_lines, b);
}

static void alerts_stream(app *a, tbuf *b)
{
    alert_stats as;
    uint64_t qdrop;
    alerts_get_stats(a->alerts, &as, &qdrop); /* zeros without rules */
    one(b, "vigil_alerts_fired_total", "counter", "Alerts that began firing.", (double)as.fired);
    one(b, "vigil_alerts_resolved_total", "counter", "Alerts that resolved.", (double)as.resolved);
    one(b, "vigil_alert_notices_sent_total", "counter", "Alert notices handed to the notifier.",
        (double)as.sent);
    one(b, "vigil_alerts_active", "gauge", "Alerts firing now.", (double)as.active);
    one(b, "vigil_alert_events_dropped_total", "counter",
        "Registry events the alert engine's queue could not take.", (double)qdrop);
    stream_stats ss;
    stream_get_stats(a->stream, &ss);
    one(b, "vigil_stream_subscribers", "gauge", "GET /v1/stream subscribers connected.",
        (double)ss.subscribers);
    one(b, "vigil_stream_cut_off_total", "counter",
        "Stream subscribers dropped for falling behind the ring.", (double)ss.cut_off);
}

/* The io_uring front door (ring.h): zeros when libmicrohttpd listens itself. */
static void ring_fams(app *a, tbuf *b)
{
    ring_stats rs;
    ring_get_stats(a->ring, &rs);
    one(b, "vigil_http_ring_answered_total", "counter",
        "Heartbeat and bye requests answered on the io_uring front door.", (double)rs.answered);
    one(b, "vigil_http_ring_handed_total", "counter",
        "Connections handed to libmicrohttpd whole (their first request was not ingest).",
        (double)rs.handed);
    one(b, "vigil_http_ring_relayed_total", "counter",
        "Ring connections relayed to libmicrohttpd from a request the ring did not answer.",
        (double)rs.relayed);
}

/* UDP ingest (present, with zeros, even when udp_listen is off: a scrape's
 * series do not come and go with configuration). */
static void udp_fams(app *a, tbuf *b)
{
    one(b, "vigil_udp_datagrams_total", "counter", "UDP datagrams received.",
        LOAD(a->udp_datagrams));
    one(b, "vigil_udp_lines_accepted_total", "counter", "UDP lines applied.",
        LOAD(a->udp_lines_ok));
    char lab[96];
    family(b, "vigil_udp_lines_refused_total", "counter", "UDP lines refused, by reason.");
    for (int i = 1; i < UDPL__COUNT; i++) {
        snprintf(lab, sizeof lab, "reason=\"%s\"", udpl_reason_name(i));
        sample(b, "vigil_udp_lines_refused_total", lab, LOAD(a->udp_lines_refused[i]));
    }
    family(b, "vigil_udp_datagrams_refused_total", "counter",
           "UDP datagrams refused whole (signature), by reason.");
    for (int i = 1; i < UDPL_D__COUNT; i++) {
        snprintf(lab, sizeof lab, "reason=\"%s\"", udpl_dgram_name(i));
        sample(b, "vigil_udp_datagrams_refused_total", lab, LOAD(a->udp_dgrams_refused[i]));
    }
}

/* Federation: the node's pushes (zeros without [hub] url), and, on a hub,
 * the summaries it took and the nodes it knows. */
static void hub_fams(app *a, tbuf *b)
{
    hubp_stats p;
    hubp_get_stats(a->hubp, &p);
    family(b, "vigil_hub_pushes_total", "counter", "Summaries pushed to the hub, by result.");
    sample(b, "vigil_hub_pushes_total", "result=\"ok\"", (double)p.ok);
    sample(b, "vigil_hub_pushes_total", "result=\"failed\"", (double)p.failed);
    one(b, "vigil_hub_push_failures_in_row", "gauge",
        "Pushes to the hub that failed since the last that succeeded.", p.failures);
    one(b, "vigil_hub_last_push_timestamp_seconds", "gauge",
        "When the hub last took a summary, Unix time in seconds (0: never).",
        (double)p.last_ok_ms / 1000.0);
    if (!a->hub) return;
    hub_stats h;
    hub_get_stats(a->hub, &h);
    family(b, "vigil_hub_summaries_total", "counter", "Summaries nodes pushed here, by result.");
    sample(b, "vigil_hub_summaries_total", "result=\"taken\"", (double)h.taken);
    sample(b, "vigil_hub_summaries_total", "result=\"refused\"", (double)h.refused);
    one(b, "vigil_hub_nodes", "gauge", "Nodes this hub has heard from.", (double)h.nodes);
    one(b, "vigil_hub_nodes_stale", "gauge", "Nodes unheard for 3 of their intervals.",
        (double)h.stale);
}

static void process(app *a, tbuf *b)
{
    one(b, "vigil_process_start_time_seconds", "gauge",
        "When this vigild started, Unix time in seconds.", (double)a->boot_ms / 1000.0);
    family(b, "vigil_build_info", "gauge", "Always 1; the labels say which vigild this is.");
    tbuf lab = {0};
    label(&lab, "version", VIGIL_VERSION, true);
    label(&lab, "node", a->cfg.node_id, false);
    if (lab.oom) b->oom = true;
    sample(b, "vigil_build_info", lab.p ? lab.p : "", 1);
    free(lab.p);
}

enum MHD_Result route_metrics(app *a, req *r)
{
    if (!a->cfg.metrics_public && !http_bearer_ok(r, a->admin_token, NULL))
        return http_error(r, 401, "authorization",
                          "missing or wrong admin token (Bearer); or set metrics_public");
    tbuf b = {0};
    ingest(a, &b);
    queue(a, &b);
    writer(a, &b);
    rollup(a, &b);
    fleet(a, &b);
    alerts_stream(a, &b);
    udp_fams(a, &b);
    ring_fams(a, &b);
    hub_fams(a, &b);
    process(a, &b);
    if (b.oom || !b.p) {
        free(b.p);
        return http_error(r, 503, "metrics", "out of memory");
    }
    return http_text(r, 200, METRICS_CONTENT_TYPE, b.p, b.n);
}
