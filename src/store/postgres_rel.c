/*
 * postgres_rel: the analytics half of the PostgreSQL backend: the
 * reliability rollup's scan and upserts, the hourly rollup, task latency
 * buckets and history imports, on a connection of their own (q->a, behind
 * its mutex) so a long scan never holds up the HTTP reads or the writer.
 *
 * The reliability scan is one query, workers LEFT JOIN their recent
 * sessions (open, or closed within the window) in (worker_id, opened_ms)
 * order, streamed a row at a time and regrouped here per worker: 100k
 * workers with 2.7M sessions never sit in memory at once. The sessions side
 * comes through indexes (sessions_open and sessions_closed, or sessions_key;
 * the planner picks), a sequential scan only when the window holds nearly
 * every session, where it is the cheapest read (test_store_pg.c).
 * Many-row writes (reliability rows, task buckets, imports) are pipelined:
 * one transaction, a round trip per PG_PIPE_CHUNK statements.
 *
 * Hourly rollup: SQL, recomputing whole hours from raw rows. SQLite folds
 * new rows into running sums past a row-id watermark; that is not safe
 * here, where ids are handed out at insert but become visible at commit, in
 * another order when several nodes write. Instead each call, in one
 * transaction (serialised across nodes by an advisory lock), recomputes
 * every (worker, hour) from the watermark hour on with INSERT … SELECT …
 * GROUP BY … ON CONFLICT DO UPDATE, setting the recomputed values (so a
 * re-run changes nothing; an hour whose values did not change is not even
 * rewritten). The watermark (rollup_state 'hourly_hour') then moves to one
 * hour before the hour of this run, "now" being the newest raw row or the
 * database clock, whichever is earlier: rows arriving up to an hour late
 * are still counted; older hours are final, and only their raw rows may be
 * pruned (postgres.c). The first run starts from the oldest raw row.
 *
 * What it returns: the raw rows behind the hours it inserted or changed
 * (0 when nothing changed), capped below max_rows. One call always catches
 * up completely, and a full batch is what tells store.h's caller to call
 * again: never returning one keeps that loop to a single call.
 */
#include "store/postgres_int.h"
#include "store/store_sql.h"

#include "core/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reason-count columns, in reg_reason order from REG_R_CLEAN_SHUTDOWN. */

#define HOUR STORE_STR(PG_HOUR_MS)
#define HOURLY_COLS "n, cpu_sum, cpu_n, mem_sum, mem_n, mema_sum, mema_n, thermal_max"

const char *const pg_asql[PGA__COUNT] = {
    /* Both sides in byte order (COLLATE "C" columns): a merge join of the
     * workers key and sessions_key, no sort. */
    [PGA_REL_SCAN] = "SELECT w.worker_id, w.group_name, w.first_seen_ms, s.opened_ms, s.closed_ms,"
                     " s.last_hb_ms, s.reason, s.node_id = '" STORE_IMPORT_NODE "'"
                     " FROM workers AS w LEFT JOIN sessions AS s ON s.worker_id = w.worker_id"
                     " AND (s.closed_ms IS NULL OR s.closed_ms >= $1::bigint)"
                     " ORDER BY w.worker_id, s.opened_ms",
    [PGA_REL_PUT] =
        "INSERT INTO reliability(" STORE_REL_COLS ") SELECT $1::text, $2::text, $3::bigint,"
        " $4::bigint, $5::float8, $6::bigint, $7::bigint, $8::bigint, $9::bigint, $10::bigint,"
        " $11::float8, $12::float8, $13::float8, $14::float8, $15::float8, $16::float8,"
        " $17::float8, $18::bigint, $19::bigint, $20::float8, $21::bigint, $22::bigint,"
        " $23::bigint, $24::bigint, $25::bigint, $26::bigint, $27::float8, $28::bytea"
        " WHERE EXISTS (SELECT 1 FROM workers WHERE worker_id = $1::text)"
        " ON CONFLICT (worker_id) DO UPDATE SET group_name = excluded.group_name,"
        " computed_ms = excluded.computed_ms, window_ms = excluded.window_ms,"
        " uptime_pct = excluded.uptime_pct, up_ms = excluded.up_ms,"
        " observed_ms = excluded.observed_ms, sessions_count = excluded.sessions_count,"
        " closed_count = excluded.closed_count, failures = excluded.failures,"
        " mtbf_s = excluded.mtbf_s, p10_session_s = excluded.p10_session_s,"
        " p50_session_s = excluded.p50_session_s, p90_session_s = excluded.p90_session_s,"
        " p_stays_4h = excluded.p_stays_4h, p_stays_8h = excluded.p_stays_8h,"
        " score = excluded.score, last_disconnect_ms = excluded.last_disconnect_ms,"
        " last_failure_ms = excluded.last_failure_ms, last_session_s = excluded.last_session_s,"
        " n_clean_shutdown = excluded.n_clean_shutdown, n_failed = excluded.n_failed,"
        " n_timeout = excluded.n_timeout, n_restarted = excluded.n_restarted,"
        " n_evicted = excluded.n_evicted, n_monitor_gap = excluded.n_monitor_gap,"
        " km_t_max_s = excluded.km_t_max_s, km = excluded.km",
    [PGA_REL_LOAD] = "SELECT " STORE_REL_COLS " FROM reliability",
    [PGA_HOURLY_LOCK] =
        "SELECT pg_advisory_xact_lock(hashtext('vigil.hourly.' || current_schema()))",
    [PGA_STATE_GET] = "SELECT value FROM rollup_state WHERE name = 'hourly_hour'",
    /* Every (worker, hour) from $1 on, recomputed; rows written only where
     * something changed. Returns the raw rows behind those, and the newest
     * raw timestamp seen. */
    [PGA_HOURLY_FOLD] =
        "WITH agg AS (SELECT worker_id, ts_ms / " HOUR " * " HOUR " AS hour_ms, count(*) AS n,"
        " coalesce(sum(cpu::float8), 0) AS cpu_sum, count(cpu) AS cpu_n,"
        " coalesce(sum(mem::float8), 0) AS mem_sum, count(mem) AS mem_n,"
        " coalesce(sum(mem_available_gb::float8), 0) AS mema_sum,"
        " count(mem_available_gb) AS mema_n,"
        " max(CASE thermal WHEN 'nominal' THEN 1 WHEN 'fair' THEN 2 WHEN 'serious' THEN 3"
        "  WHEN 'critical' THEN 4 END) AS thermal_max, max(ts_ms) AS ts_max"
        " FROM heartbeats WHERE ts_ms >= $1::bigint GROUP BY 1, 2),"
        " up AS (INSERT INTO heartbeats_hourly(worker_id, hour_ms, " HOURLY_COLS ")"
        " SELECT worker_id, hour_ms, " HOURLY_COLS " FROM agg"
        " ON CONFLICT (worker_id, hour_ms) DO UPDATE SET n = excluded.n,"
        " cpu_sum = excluded.cpu_sum, cpu_n = excluded.cpu_n, mem_sum = excluded.mem_sum,"
        " mem_n = excluded.mem_n, mema_sum = excluded.mema_sum, mema_n = excluded.mema_n,"
        " thermal_max = excluded.thermal_max"
        " WHERE (heartbeats_hourly.n, heartbeats_hourly.cpu_sum, heartbeats_hourly.cpu_n,"
        "  heartbeats_hourly.mem_sum, heartbeats_hourly.mem_n, heartbeats_hourly.mema_sum,"
        "  heartbeats_hourly.mema_n, heartbeats_hourly.thermal_max)"
        "  IS DISTINCT FROM (excluded.n, excluded.cpu_sum, excluded.cpu_n, excluded.mem_sum,"
        "  excluded.mem_n, excluded.mema_sum, excluded.mema_n, excluded.thermal_max)"
        " RETURNING n)"
        " SELECT (SELECT coalesce(sum(n), 0) FROM up)::bigint, (SELECT max(ts_max) FROM agg)",
    /* Never backwards (another node may have run later). */
    [PGA_HOURLY_MARK] =
        "INSERT INTO rollup_state(name, value) VALUES('hourly_hour', LEAST($1::bigint,"
        " (extract(epoch FROM clock_timestamp()) * 1000)::bigint) / " HOUR " * " HOUR " - " HOUR
        ") ON CONFLICT (name) DO UPDATE"
        " SET value = GREATEST(rollup_state.value, excluded.value)",
    /* Same bucket written before (a restart inside its 30 s): count, mean,
     * min and max merge exactly; percentiles come from the larger part. */
    [PGA_TASK_PUT] =
        "INSERT INTO task_latency AS t(group_name, bucket_ms, count, mean_ms, min_ms, max_ms,"
        " p50_ms, p90_ms, p95_ms, p99_ms) VALUES($1::text, $2::bigint, $3::bigint, $4::float8,"
        " $5::float8, $6::float8, $7::float8, $8::float8, $9::float8, $10::float8)"
        " ON CONFLICT (group_name, bucket_ms) DO UPDATE SET count = t.count + excluded.count,"
        " mean_ms = CASE WHEN t.count + excluded.count > 0 THEN (t.mean_ms * t.count"
        "  + excluded.mean_ms * excluded.count) / (t.count + excluded.count) ELSE 0 END,"
        " min_ms = LEAST(t.min_ms, excluded.min_ms), max_ms = GREATEST(t.max_ms, excluded.max_ms),"
        " p50_ms = CASE WHEN t.count > excluded.count THEN t.p50_ms ELSE excluded.p50_ms END,"
        " p90_ms = CASE WHEN t.count > excluded.count THEN t.p90_ms ELSE excluded.p90_ms END,"
        " p95_ms = CASE WHEN t.count > excluded.count THEN t.p95_ms ELSE excluded.p95_ms END,"
        " p99_ms = CASE WHEN t.count > excluded.count THEN t.p99_ms ELSE excluded.p99_ms END",
    /* Inserted (1, -), or already there: (0, its instance). The subquery
     * sees the table as it was before this statement. */
    [PGA_IMP_SESSION] =
        "WITH ins AS (INSERT INTO sessions(worker_id, opened_ms, group_name, instance, node_id,"
        " closed_ms, reason, exit_code, last_hb_ms, ttl_s) VALUES($1::text, $2::bigint,"
        " $3::text, $4::text, '" STORE_IMPORT_NODE "', $5::bigint, $6::text, $7::integer,"
        " $8::bigint, 0) ON CONFLICT (worker_id, opened_ms) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins), (SELECT instance FROM sessions"
        "  WHERE worker_id = $1::text AND opened_ms = $2::bigint)",
    /* An imported worker vigild never watched is dead or left, as boot would
     * restore it; one it knows keeps its state and only learns its past. */
    [PGA_IMP_WORKER] =
        "INSERT INTO workers AS w(worker_id, group_name, instance, state, state_since_ms,"
        " first_seen_ms, last_seen_ms, ttl_s) VALUES($1::text, $2::text, $3::text, $4::text,"
        " $5::bigint, $6::bigint, $7::bigint, 0) ON CONFLICT (worker_id) DO UPDATE SET"
        " first_seen_ms = LEAST(w.first_seen_ms, excluded.first_seen_ms),"
        " last_seen_ms = GREATEST(w.last_seen_ms, excluded.last_seen_ms),"
        " group_name = CASE WHEN w.group_name = '' THEN excluded.group_name ELSE w.group_name END",
    /* postgres_metrics.c: a sample again takes its new value (store.h). */
    [PGA_METRIC_PUT] = "INSERT INTO fleet_metrics(node_id, name, ts_ms, value) VALUES($1::text,"
                       " $2::text, $3::bigint, $4::float8) ON CONFLICT (node_id, name, ts_ms)"
                       " DO UPDATE SET value = excluded.value",
    /* postgres_hub.c: a window sent again replaces its row (store.h). */
    [PGA_HUB_PUT] = "INSERT INTO hub_summaries(node_id, run_id, from_ms, to_ms, received_ms, body)"
                    " VALUES($1::text, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::text)"
                    " ON CONFLICT (node_id, run_id, from_ms) DO UPDATE SET to_ms = excluded.to_ms,"
                    " received_ms = excluded.received_ms, body = excluded.body",
};

/* ---- transactions on the analytics connection ---------------------------------- */

/* One attempt: BEGIN, the statements, COMMIT. -1 with *committing set when
 * the COMMIT itself failed (its outcome unknown). */
static int tx_once(pg_conn *k, const pg_tx *t, char *err, size_t errlen, bool *committing)
{
    pg_pipe pp;
    *committing = false;
    if (pg_pipe_begin(&pp, k, t->reply, t->ctx, err, errlen) != 0) return -1;
    pg_pipe_send_sql(&pp, "BEGIN");
    if (!pp.failed && t->send(&pp, t->ctx) != 0) pp.failed = true;
    int rc = pg_pipe_end(&pp);
    if (rc == 0) {
        *committing = true;
        rc = pg_exec_sql(k, "COMMIT", err, errlen);
    }
    if (rc != 0 && pg_alive(k) && PQpipelineStatus(k->c) == PQ_PIPELINE_OFF &&
        PQtransactionStatus(k->c) != PQTRANS_IDLE)
        pg_exec_sql(k, "ROLLBACK", NULL, 0);
    return rc;
}

int pg_tx_run(pg_store *q, const pg_tx *t, char *err, size_t errlen)
{
    pg_conn *k = &q->a;
    bool committing = false;
    pthread_mutex_lock(&k->mu);
    bool looked_ok = pg_alive(k);
    int rc = pg_ready(k, err, errlen) == 0 ? tx_once(k, t, err, errlen, &committing) : -1;
    if (rc != 0 && !committing && pg_retry(k, looked_ok, NULL, 0)) {
        if (t->again) t->again(t->ctx);
        rc = tx_once(k, t, err, errlen, &committing);
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

/* ---- reliability scan ------------------------------------------------------------ */

typedef struct scan {
    int (*cb)(void *, const store_rel_worker *);
    void *ctx;
    char wid[HB_ID_MAX + 1], grp[HB_ID_MAX + 1];
    int64_t first_seen_ms;
    bool have, stopped, oom;
    rel_session *s;
    size_t n, cap;
} scan;

static int scan_emit(scan *sc)
{
    store_rel_worker w = {.worker_id = sc->wid,
                          .group = sc->grp,
                          .first_seen_ms = sc->first_seen_ms,
                          .s = sc->s,
                          .n = sc->n};
    if (sc->cb(sc->ctx, &w) != 0) sc->stopped = true;
    return sc->stopped;
}

/* One joined row: a new worker emits the previous one; a session (none for
 * a worker without any in the window) joins the current one's list. */
static int scan_row(void *c, const PGresult *r)
{
    scan *sc = c;
    if (!sc->have || strcmp(PQgetvalue(r, 0, 0), sc->wid) != 0) {
        if (sc->have && scan_emit(sc)) return 1;
        pg_text(r, 0, 0, sc->wid, sizeof sc->wid);
        pg_text(r, 0, 1, sc->grp, sizeof sc->grp);
        sc->first_seen_ms = pg_i64(r, 0, 2);
        sc->have = true;
        sc->n = 0;
    }
    if (pg_null(r, 0, 3)) return 0;
    void *grown = vec_grow(sc->s, &sc->cap, sc->n + 1, sizeof *sc->s, 64);
    if (!grown) {
        sc->oom = true;
        return 1;
    }
    sc->s = grown;
    int reason = pg_null(r, 0, 6) ? REG_R_NONE : reg_reason_parse(PQgetvalue(r, 0, 6));
    sc->s[sc->n++] = (rel_session){.opened_ms = pg_i64(r, 0, 3),
                                   .closed_ms = pg_i64(r, 0, 4),
                                   .last_hb_ms = pg_i64(r, 0, 5),
                                   .reason = (uint8_t)(reason > 0 ? reason : REG_R_NONE),
                                   .imported = PQgetvalue(r, 0, 7)[0] == 't'};
    return 0;
}

int pg_rel_scan(store *s, int64_t from_ms, int (*cb)(void *, const store_rel_worker *), void *ctx)
{
    pg_store *q = (pg_store *)s;
    scan sc = {.cb = cb, .ctx = ctx};
    pg_params p = {0};
    pp_i64(&p, from_ms);
    int n = pg_stream(&q->a, PGA_REL_SCAN, &p, scan_row, &sc);
    if (n >= 0 && !sc.oom && sc.have && !sc.stopped) scan_emit(&sc);
    free(sc.s);
    return n < 0 || sc.oom ? -1 : 0;
}

/* ---- reliability rows ---------------------------------------------------------------- */

static void pp_ms_or_null(pg_params *p, int64_t v)
{
    pp_opt_i64(p, v != 0, v);
}

/* IEEE single, little-endian, whatever the host: nodes share the table. */
static void put_f32(unsigned char *d, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        d[i] = (unsigned char)(u >> (8 * i));
}

static float get_f32(const unsigned char *d)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)d[i] << (8 * i);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The curve as float pairs (t_s, s), 8 bytes a step: SQLite's layout. */
static int rel_params(pg_params *p, const store_rel_row *r, unsigned char **km, size_t *cap)
{
    void *grown = vec_grow(*km, cap, r->nkm * 8, 1, 512);
    if (!grown) return -1;
    *km = grown;
    for (size_t k = 0; k < r->nkm; k++) {
        put_f32(*km + 8 * k, (float)r->km[k].t_s);
        put_f32(*km + 8 * k + 4, (float)r->km[k].s);
    }
    const rel_features *f = &r->f;
    memset(p, 0, sizeof *p);
    pp_text(p, r->worker_id);
    pp_text(p, r->group);
    pp_i64(p, r->computed_ms);
    pp_i64(p, r->window_ms);
    pp_f64(p, f->uptime_pct);
    pp_i64(p, f->up_ms);
    pp_i64(p, f->observed_ms);
    pp_i64(p, f->sessions_count);
    pp_i64(p, f->closed_count);
    pp_i64(p, f->failures);
    pp_f64(p, f->mtbf_s);
    pp_f64(p, f->p10_session_s); /* NAN: NULL */
    pp_f64(p, f->p50_session_s);
    pp_f64(p, f->p90_session_s);
    pp_f64(p, f->p_stays_4h);
    pp_f64(p, f->p_stays_8h);
    pp_f64(p, f->score);
    pp_ms_or_null(p, f->last_disconnect_ms);
    pp_ms_or_null(p, f->last_failure_ms);
    pp_f64(p, f->last_session_s);
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
        pp_i64(p, f->reasons[k]);
    pp_f64(p, f->km_t_max_s); /* NAN: no sessions to estimate from */
    pp_bin(p, *km, (int)(r->nkm * 8));
    return 0;
}

typedef struct put {
    const store_rel_row *rows;
    size_t n;
} put;

static int rel_send(pg_pipe *pp, void *ctx)
{
    const put *u = ctx;
    unsigned char *km = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < u->n && rc == 0; i++) {
        pg_params p;
        rc = rel_params(&p, &u->rows[i], &km, &cap);
        if (rc == 0) rc = pg_pipe_send(pp, PGA_REL_PUT, &p, (int64_t)i);
    }
    free(km);
    return rc;
}

int pg_rel_put(store *s, const store_rel_row *rows, size_t n)
{
    put u = {rows, n};
    pg_tx t = {.send = rel_send, .ctx = &u};
    return pg_tx_run((pg_store *)s, &t, NULL, 0);
}

typedef struct load {
    int (*cb)(void *, const store_rel_row *);
    void *ctx;
    rel_km_step *km;
    size_t cap;
    bool oom;
} load;

static int load_row(void *c, const PGresult *r)
{
    load *l = c;
    store_rel_row row;
    memset(&row, 0, sizeof row);
    rel_features *f = &row.f;
    pg_text(r, 0, 0, row.worker_id, sizeof row.worker_id);
    pg_text(r, 0, 1, row.group, sizeof row.group);
    row.computed_ms = pg_i64(r, 0, 2);
    row.window_ms = pg_i64(r, 0, 3);
    f->uptime_pct = pg_f64(r, 0, 4);
    f->up_ms = pg_i64(r, 0, 5);
    f->observed_ms = pg_i64(r, 0, 6);
    f->sessions_count = (uint32_t)pg_i64(r, 0, 7);
    f->closed_count = (uint32_t)pg_i64(r, 0, 8);
    f->failures = (uint32_t)pg_i64(r, 0, 9);
    f->mtbf_s = pg_f64(r, 0, 10);
    f->p10_session_s = pg_f64(r, 0, 11);
    f->p50_session_s = pg_f64(r, 0, 12);
    f->p90_session_s = pg_f64(r, 0, 13);
    f->p_stays_4h = pg_f64(r, 0, 14);
    f->p_stays_8h = pg_f64(r, 0, 15);
    f->score = pg_f64(r, 0, 16);
    f->last_disconnect_ms = pg_i64(r, 0, 17);
    f->last_failure_ms = pg_i64(r, 0, 18);
    f->last_session_s = pg_f64(r, 0, 19);
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
        f->reasons[k] = (uint32_t)pg_i64(r, 0, STORE_REL_REASON_COL - 1 + k);
    f->km_t_max_s = pg_f64(r, 0, 26);
    size_t len = 0;
    unsigned char *blob = pg_null(r, 0, 27)
                              ? NULL
                              : PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 27), &len);
    size_t nb = len / 8;
    void *grown = vec_grow(l->km, &l->cap, nb, sizeof *l->km, 64);
    if (!grown || (!pg_null(r, 0, 27) && !blob)) {
        PQfreemem(blob);
        l->oom = true;
        return 1;
    }
    l->km = grown;
    for (size_t k = 0; k < nb; k++)
        l->km[k] = (rel_km_step){get_f32(blob + 8 * k), get_f32(blob + 8 * k + 4)};
    PQfreemem(blob);
    row.km = l->km;
    row.nkm = nb;
    return l->cb(l->ctx, &row);
}

int pg_rel_load(store *s, int (*cb)(void *, const store_rel_row *), void *ctx)
{
    load l = {.cb = cb, .ctx = ctx};
    int n = pg_stream(&((pg_store *)s)->a, PGA_REL_LOAD, NULL, load_row, &l);
    free(l.km);
    return n < 0 || l.oom ? -1 : 0;
}

/* ---- hourly rollup ------------------------------------------------------------------------- */

static int64_t hourly_tx(pg_conn *k)
{
    /* Serial scans: float sums then add up in the same order every run, so
     * an unchanged hour recomputes to the same bits and is left alone. The
     * grouping of an hour of a large fleet's rows fits in work_mem instead
     * of sorting on disk. */
    if (pg_exec_sql(k, "BEGIN", NULL, 0) != 0 ||
        pg_exec_sql(k, "SET LOCAL max_parallel_workers_per_gather = 0", NULL, 0) != 0 ||
        pg_exec_sql(k, "SET LOCAL work_mem = '" PG_ROLLUP_WORK_MEM "'", NULL, 0) != 0 ||
        pg_exec(k, PGA_HOURLY_LOCK, NULL, NULL, 0) < 0)
        return -1;
    PGresult *r = pg_fetch(k, PGA_STATE_GET, NULL, NULL, 0);
    if (!r) return -1;
    int64_t from = PQntuples(r) ? pg_i64(r, 0, 0) : INT64_MIN; /* first run: every raw row */
    PQclear(r);
    pg_params p = {0};
    pp_i64(&p, from);
    if (!(r = pg_fetch(k, PGA_HOURLY_FOLD, &p, NULL, 0))) return -1;
    int64_t changed = pg_i64(r, 0, 0);
    bool any = !pg_null(r, 0, 1);
    pg_params m = {0};
    pp_i64(&m, pg_i64(r, 0, 1));
    PQclear(r);
    if (any && pg_exec(k, PGA_HOURLY_MARK, &m, NULL, 0) < 0) return -1;
    return pg_exec_sql(k, "COMMIT", NULL, 0) == 0 ? changed : -1;
}

int64_t pg_hourly_rollup(store *s, int64_t max_rows)
{
    pg_conn *k = &((pg_store *)s)->a;
    pthread_mutex_lock(&k->mu);
    bool looked_ok = pg_alive(k);
    int64_t n = pg_ready(k, NULL, 0) == 0 ? hourly_tx(k) : -1;
    if (n < 0 && pg_alive(k) && PQtransactionStatus(k->c) != PQTRANS_IDLE)
        pg_exec_sql(k, "ROLLBACK", NULL, 0);
    /* Recomputing is idempotent: a retry is always safe. */
    if (n < 0 && pg_retry(k, looked_ok, NULL, 0)) {
        n = hourly_tx(k);
        if (n < 0 && pg_alive(k) && PQtransactionStatus(k->c) != PQTRANS_IDLE)
            pg_exec_sql(k, "ROLLBACK", NULL, 0);
    }
    pthread_mutex_unlock(&k->mu);
    return n >= max_rows ? max_rows - 1 : n;
}

/* ---- task latency -----------------------------------------------------------------------------
 */

typedef struct tasks {
    const tlat_row *rows;
    size_t n;
} tasks;

/* Not idempotent (a bucket already there is merged into), which is why a
 * retry happens only when nothing was committed. */
static int tasks_send(pg_pipe *pp, void *ctx)
{
    const tasks *u = ctx;
    int rc = 0;
    for (size_t i = 0; i < u->n && rc == 0; i++) {
        const tlat_row *r = &u->rows[i];
        pg_params p = {0};
        pp_text(&p, r->group);
        pp_i64(&p, r->bucket_ms);
        pp_i64(&p, (int64_t)r->count);
        pp_f64(&p, r->mean_ms);
        pp_f64(&p, r->min_ms);
        pp_f64(&p, r->max_ms);
        pp_f64(&p, r->p50_ms);
        pp_f64(&p, r->p90_ms);
        pp_f64(&p, r->p95_ms);
        pp_f64(&p, r->p99_ms);
        rc = pg_pipe_send(pp, PGA_TASK_PUT, &p, (int64_t)i);
    }
    return rc;
}

int pg_tasks_put(store *s, const tlat_row *rows, size_t n)
{
    tasks u = {rows, n};
    pg_tx t = {.send = tasks_send, .ctx = &u};
    return pg_tx_run((pg_store *)s, &t, NULL, 0);
}

/* ---- history import ---------------------------------------------------------------------------
 */

typedef struct import {
    const imp_row *rows;
    size_t n;
    int64_t now_ms;
    size_t *inserted, *skipped, *bad;
    bool conflict;
    char *err;
    size_t errlen;
} import;

/* A session's reply (tags >= 0; worker upserts carry -1). */
static int import_reply(void *c, int64_t tag, const PGresult *r)
{
    import *im = c;
    if (tag < 0) return 0;
    if (pg_i64(r, 0, 0) == 1) {
        (*im->inserted)++;
        return 0;
    }
    if (!pg_null(r, 0, 1) && strcmp(PQgetvalue(r, 0, 1), im->rows[tag].instance) == 0) {
        (*im->skipped)++;
        return 0;
    }
    *im->bad = (size_t)tag;
    im->conflict = true;
    err_set(im->err, im->errlen,
            "a session of this worker opened at the same time exists with another instance");
    return 1;
}

static void import_again(void *c)
{
    import *im = c;
    *im->inserted = *im->skipped = 0;
}

/* Rows come sorted by (worker_id, opened) (imp.h), so a worker's rows are
 * adjacent: its worker row is upserted once, from its first and last rows,
 * after them. Seen last when the other system last saw it: not now. */
static int import_worker(pg_pipe *pp, const imp_row *first, const imp_row *last)
{
    int64_t end = last->closed_ms ? last->closed_ms : last->opened_ms;
    pg_params p = {0};
    pp_text(&p, first->worker_id);
    pp_text(&p, last->group);
    pp_text(&p, last->instance);
    pp_text(&p,
            reg_wstate_name(last->closed_ms && last->reason == REG_R_CLEAN_SHUTDOWN ? REG_W_LEFT
                                                                                    : REG_W_DEAD));
    pp_i64(&p, end);
    pp_i64(&p, first->opened_ms);
    pp_i64(&p, end);
    return pg_pipe_send(pp, PGA_IMP_WORKER, &p, -1);
}

static int import_send(pg_pipe *pp, void *c)
{
    const import *im = c;
    const imp_row *rows = im->rows;
    for (size_t i = 0, j; i < im->n; i = j) {
        for (j = i; j < im->n && strcmp(rows[j].worker_id, rows[i].worker_id) == 0; j++) {
            const imp_row *r = &rows[j];
            pg_params p = {0};
            pp_text(&p, r->worker_id);
            pp_i64(&p, r->opened_ms);
            pp_text(&p, r->group);
            pp_text(&p, r->instance);
            pp_opt_i64(&p, r->closed_ms != 0, r->closed_ms);
            pp_text(&p, r->closed_ms ? reg_reason_name(r->reason) : NULL);
            pp_opt_i64(&p, r->has_exit_code, r->exit_code);
            pp_i64(&p, r->closed_ms ? r->closed_ms : im->now_ms);
            if (pg_pipe_send(pp, PGA_IMP_SESSION, &p, (int64_t)j) != 0) return -1;
        }
        if (import_worker(pp, &rows[i], &rows[j - 1]) != 0) return -1;
    }
    return 0;
}

int pg_import_sessions(store *s, const imp_row *rows, size_t n, int64_t now_ms, size_t *inserted,
                       size_t *skipped, size_t *bad, char *err, size_t errlen)
{
import im = {rows, n, now_ms, inserted, skipped, bad, false, err, errlen };
    pg_tx t = {.send = import_send, .reply = import_reply, .again = import_again, .ctx = &im};
    char m[256] = "";
    if (pg_tx_run((pg_store *)s, &t, m, sizeof m) == 0) return 0;
    *inserted = *skipped = 0;
    if (im.conflict) return 1;
    *bad = 0;
    err_set(err, errlen, "%s", *m ? m : "postgres analytics: import failed");
    return -1;
}
