/*
 * test_store_pg_rel: what only the PostgreSQL backend promises (banners of
 * postgres_schema.c, postgres_rel.c, postgres.c), beyond the shared store
 * suites: migrations that change nothing when re-run and serialise
 * concurrent first boots; the hourly rollup as SQL that recomputes whole
 * hours from the watermark hour (exact, idempotent, no row rewritten when
 * nothing changed, late rows counted, older hours final); retention of raw
 * rows in bounded batches, only below the rollup's watermark hour.
 * PostgreSQL only: without a URL (store_fx.h) every test is skipped.
 */
#include "store/postgres_int.h"
#include "store/store.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_fx.h"

#define HOUR 3600000LL
#define H(k) (472222LL * HOUR + (k)*HOUR) /* hour boundaries, 2023-11 */

static int64_t q_intf(const char *url, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t q_intf(const char *url, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return q_int_url(url, sql);
}

/* ---- migrations ----------------------------------------------------------------------- */

/* The schema as the catalogs describe it, and the version row with the
 * transaction that wrote it (a re-run that rewrote it would show). */
static char *schema_dump(const char *url)
{
    static const char *const parts[] = {
        "SELECT table_name, column_name, ordinal_position, data_type, is_nullable,"
        " coalesce(column_default, ''), coalesce(collation_name, '')"
        " FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 3",
        "SELECT tablename, indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = current_schema() ORDER BY 1, 2",
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2",
        "SELECT version, xmin::text FROM schema_version",
    };
    size_t cap = 1, n = 0;
    char *out = calloc(1, 1);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char *d = q_dump(url, parts[i]);
        size_t l = strlen(d);
        assert_true(l > 0);
        assert_non_null(out = realloc(out, cap += l + 2));
        n += (size_t)snprintf(out + n, cap - n, "%s\n", d);
        free(d);
    }
    return out;
}

static void test_migrate_idempotent(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    reg_event e = ev(REG_EV_SESSION_OPEN, "w1", "g1", 1000);
    e.opened_ms = 1000;
    apply_ok(f->s, &e, 1, NULL, 0);
    char *before = schema_dump(f->url);
    assert_non_null(strstr(before, "heartbeats_ts"));
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM schema_version"), 1);

    /* Reopening runs the migrations again: nothing changes. */
    for (int i = 0; i < 2; i++) {
        store_close(f->s);
        f->s = open_at(f->url, "node-a");
        char *after = schema_dump(f->url);
        assert_string_equal(before, after);
        free(after);
    }
    /* And the step itself, run again on the open store's writer session. */
    pg_store *q = (pg_store *)f->s;
    char err[256] = "";
    pthread_mutex_lock(&q->w.mu);
    int rc = pg_migrate(&q->w, err, sizeof err);
    pthread_mutex_unlock(&q->w.mu);
    if (rc != 0) fail_msg("pg_migrate: %s", err);
    char *after = schema_dump(f->url);
    assert_string_equal(before, after);
    free(after);
    free(before);
    /* The data is still there and the writer still writes. */
    store_worker w;
    assert_int_equal(store_get_worker(f->s, "w1", &w), 0);
    assert_int_equal(w.open_opened_ms, 1000);
    reg_event e2 = ev(REG_EV_SESSION_OPEN, "w2", "g1", 2000);
    e2.opened_ms = 2000;
    apply_ok(f->s, &e2, 1, NULL, 0);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM sessions"), 2);
}

static void test_migrate_refuses(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    int64_t v = q_int_url(f->url, "SELECT version FROM schema_version");
    assert_true(v >= 1);
    /* A schema from a newer vigild is refused, and left as it was. */
    store_close(f->s);
    f->s = NULL;
    q_exec_url(f->url, "UPDATE schema_version SET version = 999");
    char *before = schema_dump(f->url);
    char err[256] = "";
    assert_null(store_open(f->url, "node-a", err, sizeof err));
    assert_non_null(strstr(err, "newer"));
    char *after = schema_dump(f->url);
    assert_string_equal(before, after);
    free(before);
    free(after);
    char sql[64];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %lld", (long long)v);
    q_exec_url(f->url, sql);
    f->s = open_at(f->url, "node-a");

    /* A search_path naming no existing schema: refused, nothing created. */
    char url[1024];
    const char *base = fx_pg_base();
    snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s_missing", base,
             strchr(base, '?') ? "&" : "?", f->schema);
    err[0] = '\0';
    assert_null(store_open(url, "node-a", err, sizeof err));
    assert_non_null(strstr(err, "no schema"));
}

/* Several nodes booting at once on an empty schema: the advisory lock
 * serialises them; every one opens, one version row. */
#define RACERS 4
typedef struct racer {
    const char *url;
    pthread_barrier_t *go;
    store *s;
    char err[256];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->go);
    r->s = store_open(r->url, "node-x", r->err, sizeof r->err);
    return NULL;
}

static void test_migrate_concurrent(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    char url[1024];
    fx_other_url(f, "race", url, sizeof url);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){.url = url, .go = &go};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < RACERS; i++)
        if (!r[i].s) fail_msg("racer %d: %s", i, r[i].err);
    assert_int_equal(q_int_url(url, "SELECT count(*) FROM schema_version"), 1);
    assert_int_equal(q_int_url(url, "SELECT version FROM schema_version"),
                     q_int_url(f->url, "SELECT version FROM schema_version"));
    /* Same tables, columns and indexes as a schema made by one boot (the
     * schema's name and the version row's xmin aside). */
    assert_int_equal(q_int_url(url, "SELECT count(*) FROM pg_indexes"
                                    " WHERE schemaname = current_schema()"),
                     q_int_url(f->url, "SELECT count(*) FROM pg_indexes"
                                       " WHERE schemaname = current_schema()"));
    assert_int_equal(q_int_url(url, "SELECT count(*) FROM information_schema.columns"
                                    " WHERE table_schema = current_schema()"),
                     q_int_url(f->url, "SELECT count(*) FROM information_schema.columns"
                                       " WHERE table_schema = current_schema()"));
    for (int i = 0; i < RACERS; i++)
        store_close(r[i].s);
}

/* ---- hourly rollup --------------------------------------------------------------------- */

static store_hb sample(int64_t k, int workers, int64_t ts)
{
    store_hb h;
    memset(&h, 0, sizeof h);
    snprintf(h.worker_id, sizeof h.worker_id, "w%02d", (int)(k % workers));
    h.ts_ms = ts;
    if (k % 3) h.has |= HB_HAS_CPU;
    if (k % 4) h.has |= HB_HAS_MEM;
    if (k % 5) h.has |= HB_HAS_MEM_AVAIL;
    if (k % 2) h.has |= HB_HAS_THERMAL;
    h.cpu = (float)((k * 37) % 100) / 100.0f;
    h.mem = (float)((k * 11) % 64) / 64.0f;
    h.mem_available_gb = (float)(k % 7) + 0.1f;
    h.thermal = (uint8_t)(h.has & HB_HAS_THERMAL ? 1 + (k / 2) % 4 : 0);
    return h;
}

/* n samples, sample k at ts0 + k * step, stored in batches of 5000. */
static void put(store *s, int64_t k0, int64_t n, int workers, int64_t ts0, int64_t step)
{
    store_hb *v = calloc(5000, sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n;) {
        size_t m = 0;
        for (; m < 5000 && i < n; m++, i++)
            v[m] = sample(k0 + i, workers, ts0 + i * step);
        apply_ok(s, NULL, 0, v, m);
    }
    free(v);
}

/* The hourly rows against a direct aggregate of the raw rows: "rows
 * aggregated|hourly rows|matching rows" (sums to 1e-9: another plan may
 * add the same floats in another order). */
#define AGG_CHECK                                                                                  \
    "WITH agg AS (SELECT worker_id, ts_ms / 3600000 * 3600000 AS hour_ms, count(*) AS n,"          \
    " coalesce(sum(cpu::float8), 0) AS cpu_sum, count(cpu) AS cpu_n,"                              \
    " coalesce(sum(mem::float8), 0) AS mem_sum, count(mem) AS mem_n,"                              \
    " coalesce(sum(mem_available_gb::float8), 0) AS mema_sum, count(mem_available_gb) AS mema_n,"  \
    " max(CASE thermal WHEN 'nominal' THEN 1 WHEN 'fair' THEN 2 WHEN 'serious' THEN 3"             \
    "  WHEN 'critical' THEN 4 END) AS thermal_max FROM heartbeats GROUP BY 1, 2)"                  \
    " SELECT (SELECT count(*) FROM agg), (SELECT count(*) FROM heartbeats_hourly),"                \
    " (SELECT count(*) FROM agg AS a JOIN heartbeats_hourly AS h USING (worker_id, hour_ms)"       \
    "  WHERE a.n = h.n AND a.cpu_n = h.cpu_n AND a.mem_n = h.mem_n AND a.mema_n = h.mema_n"        \
    "  AND a.thermal_max IS NOT DISTINCT FROM h.thermal_max AND abs(a.cpu_sum - h.cpu_sum) < 1e-9" \
    "  AND abs(a.mem_sum - h.mem_sum) < 1e-9 AND abs(a.mema_sum - h.mema_sum) < 1e-9)"

/* Every hourly row with the transaction that last wrote it. */
#define HOURLY_XMIN                                                                                \
    "SELECT worker_id, hour_ms, n, cpu_sum, cpu_n, mem_sum, mem_n, mema_sum, mema_n,"              \
    " thermal_max, xmin::text FROM heartbeats_hourly ORDER BY 1, 2"

static void agg_check(const char *url, int64_t *agg, int64_t *hourly, int64_t *match)
{
    char *d = q_dump(url, AGG_CHECK);
    long long a, h, m;
    assert_int_equal(sscanf(d, "%lld|%lld|%lld", &a, &h, &m), 3);
    free(d);
    *agg = a;
    *hourly = h;
    *match = m;
}

/* Lines of before (one row each) no longer in after. */
static int rows_gone(const char *before, const char *after)
{
    size_t na = strlen(after);
    char *in = malloc(na + 2);
    assert_non_null(in);
    in[0] = '\n';
    memcpy(in + 1, after, na + 1);
    int gone = 0;
    for (const char *p = before, *e; *p; p = e + 1) {
        assert_non_null(e = strchr(p, '\n'));
        char line[512];
        assert_true(e - p + 3 < (long)sizeof line);
        snprintf(line, sizeof line, "\n%.*s\n", (int)(e - p), p);
        gone += strstr(in, line) == NULL;
    }
    free(in);
    return gone;
}

static int64_t watermark(const char *url)
{
    return q_int_url(url, "SELECT value FROM rollup_state WHERE name = 'hourly_hour'");
}

static void test_hourly_rollup(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    /* 3000 samples of 20 workers over 6 hours (H0..H5), one every 7.2 s. */
    put(f->s, 0, 3000, 20, H(0), 7200);
    assert_int_equal(store_hourly_rollup(f->s, 1000000), 3000);
    int64_t a, h, m;
    agg_check(f->url, &a, &h, &m);
    assert_int_equal(a, 6 * 20);
    assert_int_equal(h, a);
    assert_int_equal(m, a);
    assert_int_equal(q_int_url(f->url, "SELECT sum(n) FROM heartbeats_hourly"), 3000);
    assert_int_equal(watermark(f->url), H(4)); /* an hour before the newest row's hour */

    /* Re-running folds nothing and rewrites no row. */
    char *before = q_dump(f->url, HOURLY_XMIN);
    assert_int_equal(store_hourly_rollup(f->s, 1000000), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1), 0);
    char *after = q_dump(f->url, HOURLY_XMIN);
    assert_string_equal(before, after);
    free(after);

    /* Late rows: into the watermark hour and the newest one (recomputed:
     * counted), into an older hour (final: not counted), and a new hour. */
    store_hb late[] = {sample(1, 20, H(4) + 5), sample(2, 20, H(5) + 6), sample(3, 20, H(3) + 7),
                       sample(4, 20, H(6) + 1)};
    apply_ok(f->s, NULL, 0, late, 4);
    int64_t n_w01_h4 = q_intf(f->url,
                              "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w01'"
                              " AND hour_ms = %lld",
                              H(4));
    int64_t n_w02_h5 = q_intf(f->url,
                              "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w02'"
                              " AND hour_ms = %lld",
                              H(5));
    int64_t n_w03_h3 = q_intf(f->url,
                              "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w03'"
                              " AND hour_ms = %lld",
                              H(3));
    /* The rows behind the hours changed: both recomputed ones and the new. */
    assert_int_equal(store_hourly_rollup(f->s, 1000000), (n_w01_h4 + 1) + (n_w02_h5 + 1) + 1);
    assert_int_equal(q_intf(f->url,
                            "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w01'"
                            " AND hour_ms = %lld",
                            H(4)),
                     n_w01_h4 + 1);
    assert_int_equal(q_intf(f->url,
                            "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w03'"
                            " AND hour_ms = %lld",
                            H(3)),
                     n_w03_h3);
    agg_check(f->url, &a, &h, &m);
    assert_int_equal(a, 6 * 20 + 1);
    assert_int_equal(h, a);
    assert_int_equal(m, a - 1); /* w03's H3: final before its late row came */
    assert_int_equal(watermark(f->url), H(5));
    /* Only the changed hours were written. */
    after = q_dump(f->url, HOURLY_XMIN);
    assert_int_equal(rows_gone(before, after), 2); /* (w01, H4), (w02, H5) */
    free(before);
    free(after);

    /* One call always catches up; its count is capped below max_rows. */
    store_hb more[3] = {sample(5, 20, H(6) + 10), sample(5, 20, H(6) + 11),
                        sample(5, 20, H(6) + 12)};
    apply_ok(f->s, NULL, 0, more, 3);
    assert_int_equal(store_hourly_rollup(f->s, 2), 1);
    assert_int_equal(store_hourly_rollup(f->s, 1000000), 0);
    agg_check(f->url, &a, &h, &m);
    assert_int_equal(h, a);
    assert_int_equal(m, a - 1);
    assert_int_equal(q_intf(f->url,
                            "SELECT n FROM heartbeats_hourly WHERE worker_id = 'w05'"
                            " AND hour_ms = %lld",
                            H(6)),
                     3);
}

/* ---- retention of raw rows -------------------------------------------------------------- */

static void test_prune_heartbeats(void **state)
{
    fx *f = *state;
    PG_ONLY(f);
    /* 30,000 samples of 20 workers over 30 hours (H0..H29), 1000 an hour. */
    put(f->s, 0, 30000, 20, H(0), 3600);
    /* No rollup yet: no watermark, nothing may go. */
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 10000), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1000000000), 30000);
    assert_int_equal(watermark(f->url), H(28));
    char *hourly = q_dump(f->url, HOURLY_XMIN);

    /* Batches of at most 10,000, oldest first, strictly older than the cutoff. */
    assert_int_equal(store_prune(f->s, "heartbeats", H(20), 10000), 10000);
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats"), 20000);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM heartbeats"), H(10));
    assert_int_equal(store_prune(f->s, "heartbeats", H(20), 10000), 10000);
    assert_int_equal(store_prune(f->s, "heartbeats", H(20), 10000), 0);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM heartbeats"), H(20));
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats"), 10000);

    /* However old the cutoff, only below the watermark hour: hours from
     * there on are still recomputed from raw rows. */
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 10000), 8000);
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 10000), 0);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM heartbeats"), H(28));
    assert_int_equal(q_int_url(f->url, "SELECT count(*) FROM heartbeats"), 2000);

    /* Retention took nothing from the rollup, and the next rollup, which
     * recomputes from the watermark hour, finds nothing missing. */
    char *now = q_dump(f->url, HOURLY_XMIN);
    assert_string_equal(hourly, now);
    free(now);
    assert_int_equal(store_hourly_rollup(f->s, 1000000), 0);
    now = q_dump(f->url, HOURLY_XMIN);
    assert_string_equal(hourly, now);
    free(now);
    free(hourly);
    assert_int_equal(q_int_url(f->url, "SELECT sum(n) FROM heartbeats_hourly"), 30000);

    /* Rows arriving after the rollup stay until a rollup has folded them. */
    put(f->s, 30000, 3000, 20, H(30), 3600);
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 10000), 0);
    assert_int_equal(store_hourly_rollup(f->s, 1000000), 3000); /* H28, H29 unchanged */
    assert_int_equal(watermark(f->url), H(31));
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 10000), 3000);
    assert_int_equal(q_int_url(f->url, "SELECT min(ts_ms) FROM heartbeats"), H(31));
    assert_int_equal(q_int_url(f->url, "SELECT sum(n) FROM heartbeats_hourly"), 33000);
    assert_int_equal(
        q_intf(f->url, "SELECT count(*) FROM heartbeats_hourly WHERE hour_ms < %lld", H(31)),
        31 * 20);
    /* limit 0 deletes nothing; an unknown table is an error. */
    assert_int_equal(store_prune(f->s, "heartbeats", INT64_MAX, 0), 0);
    assert_int_equal(store_prune(f->s, "nonsense", INT64_MAX, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hourly_rollup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_heartbeats, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
