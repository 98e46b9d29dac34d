/*
 * store_bench: raw heartbeat rows per second into the store (issue 5).
 *
 *   store_bench vigil  URL [options]   vigil's writer path: store_open, then
 *                                      store_apply batches, as the writer
 *                                      thread calls it (jobs.c)
 *   store_bench insert URL [options]   the reference on PostgreSQL: a plain
 *                                      libpq loop of multi-row INSERTs into
 *                                      the same heartbeats table
 *
 * URL is a store URL (sqlite:PATH, postgresql://...). On PostgreSQL each run
 * creates a schema of its own (--schema NAME, or one named after the pid) in
 * that database and works there, so every case starts from empty tables
 * with vigil's own schema and indexes; the reference opens a store on its
 * schema once to migrate it, then closes it and goes on with libpq alone.
 * The schema is dropped at the end unless --keep.
 *
 * The load is a fleet of --workers workers, each with an open session
 * first (as vigild has before their heartbeats arrive), each beating once
 * per round of ROUND_MS, in a new random order every round (a real fleet
 * arrives shuffled, which is what makes the (worker_id, ts_ms) index cost
 * what it costs). Heartbeats carry every sample field (tests/unit
 * test_store.c's hb_full) with values that move. Batches of --batch rows cut
 * across rounds, as the writer's flushes do. --warmup rows are written
 * untimed first; then --rows rows (or --seconds of them) are timed.
 *
 * Output: one line per case,
 *   BENCH case=vigil-postgres rows=N seconds=S rows_per_s=R workers=W batch=B
 */
#include "store/store.h"

#include <libpq-fe.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUND_MS 10000      /* one heartbeat per worker per round (a 10 s interval) */
#define T0_MS 1767225600000 /* 2026-01-01T00:00:00Z: the first round's start */
#define DEF_WORKERS 10000
#define DEF_BATCH 8192 /* the writer's largest flush (jobs.c) */
#define DEF_WARMUP 100000
#define DEF_ROWS 1000000
#define INSERT_ROWS 500 /* rows per statement of the reference */
#define HB_COLS 15      /* columns the reference binds per row */
#define OPEN_CHUNK 4096 /* session opens per store_apply while setting up */

typedef struct opts {
    const char *mode, *url, *schema;
    int workers, batch, insert_rows;
    int64_t warmup, rows;
    double seconds;
    bool keep;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, why);
    exit(1);
}

/* ---- the load: a shuffled fleet, one heartbeat per worker per round ---------- */

typedef struct fleet {
    int n, *order, pos;
    int64_t round;
    uint64_t rnd;
} fleet;

static uint64_t next_rnd(uint64_t *r)
{
    *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
    return *r >> 33;
}

static void worker_id(char *dst, size_t n, int i)
{
    snprintf(dst, n, "worker-%06d", i);
}

static void fleet_shuffle(fleet *f)
{
    for (int j = f->n - 1; j > 0; j--) { /* Fisher-Yates */
        int r = (int)(next_rnd(&f->rnd) % (uint64_t)(j + 1)), t = f->order[j];
        f->order[j] = f->order[r];
        f->order[r] = t;
    }
}

/* The next heartbeat: arrival order is time order, spread over the round. */
static void fleet_next(fleet *f, store_hb *h)
{
    if (f->pos == f->n) {
        f->pos = 0;
        f->round++;
        fleet_shuffle(f);
    }
    int w = f->order[f->pos];
    int64_t ts = T0_MS + f->round * ROUND_MS + (int64_t)f->pos * ROUND_MS / f->n;
    f->pos++;
    uint64_t r = next_rnd(&f->rnd);
    memset(h, 0, sizeof *h);
    h->ts_ms = ts;
    worker_id(h->worker_id, sizeof h->worker_id, w);
    h->has = HB_HAS_SEQ | HB_HAS_TTL | HB_HAS_STATUS | HB_HAS_CPU | HB_HAS_MEM | HB_HAS_MEM_AVAIL |
             HB_HAS_GPU_MEM | HB_HAS_THERMAL | HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_IN_FLIGHT |
             HB_HAS_REQUESTS | HB_HAS_TOKENS | HB_HAS_CPU_TICKS;
    h->seq = f->round + 1;
    h->ttl_s = 30;
    snprintf(h->status, sizeof h->status, "%s", r % 16 ? "serving" : "draining");
    h->cpu = (float)(r % 1000) / 1000.0f;
    h->mem = (float)((r >> 10) % 1000) / 1000.0f;
    h->mem_available_gb = (float)((r >> 20) % 640) / 10.0f;
    h->gpu_mem_active_gb = (float)((r >> 4) % 800) / 10.0f;
    h->thermal = r % 64 ? HB_THERMAL_NOMINAL : HB_THERMAL_FAIR;
    h->backlog = (int64_t)(r % 50);
    h->capacity = 8;
    h->in_flight = (int64_t)(r % 9);
    h->requests = (f->round + 1) * 40 + (int64_t)(r % 40);
    h->tokens = (f->round + 1) * 90000 + (int64_t)(r % 90000);
    h->cpu_ticks = (f->round + 1) * 1000 + (int64_t)(r % 1000);
}

static void fleet_init(fleet *f, int n)
{
    f->n = n;
    f->order = malloc((size_t)n * sizeof *f->order);
    if (!f->order) die("fleet", "out of memory");
    for (int i = 0; i < n; i++)
        f->order[i] = i;
    f->pos = 0;
    f->round = 0;
    f->rnd = 42;
    fleet_shuffle(f);
}

/* ---- PostgreSQL schema of one run ----------------------------------------------- */

static bool is_pg(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void pg_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) die("connect", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die(sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The URL with search_path set to the run's schema (created here). */
static char *pg_schema_url(const opts *o)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", o->schema,
             o->schema);
    pg_sql(o->url, sql);
    size_t n = strlen(o->url) + strlen(o->schema) + 64;
    char *u = malloc(n);
    if (!u) die("url", "out of memory");
    snprintf(u, n, "%s%soptions=-csearch_path%%3D%s", o->url, strchr(o->url, '?') ? "&" : "?",
             o->schema);
    return u;
}

/* ---- vigil's writer ----------------------------------------------------------------- */

static void open_sessions(store *s, int n)
{
    reg_event *e = calloc(OPEN_CHUNK, sizeof *e);
    char err[512];
    if (!e) die("open", "out of memory");
    for (int i = 0; i < n; i += OPEN_CHUNK) {
        int k = n - i < OPEN_CHUNK ? n - i : OPEN_CHUNK;
        memset(e, 0, (size_t)k * sizeof *e);
        for (int j = 0; j < k; j++) {
            reg_event *x = &e[j];
            x->kind = REG_EV_SESSION_OPEN;
            worker_id(x->worker_id, sizeof x->worker_id, i + j);
            snprintf(x->group, sizeof x->group, "group-%02d", (i + j) % 20);
            snprintf(x->instance, sizeof x->instance, "inst-%d", i + j);
            x->opened_ms = x->at_ms = T0_MS - ROUND_MS;
            x->ttl_s = 30;
        }
        if (store_apply(s, e, (size_t)k, NULL, 0, err, sizeof err) != 0) die("open sessions", err);
    }
    free(e);
}

/* Writes rows (or for `seconds` when rows is 0); returns rows written. */
static int64_t vigil_run(store *s, fleet *f, store_hb *b, int batch, int64_t rows, double seconds)
{
    char err[512];
    int64_t done = 0;
    double t0 = now_s();
    while (rows ? done < rows : now_s() - t0 < seconds) {
        int k = rows && rows - done < batch ? (int)(rows - done) : batch;
        for (int i = 0; i < k; i++)
            fleet_next(f, &b[i]);
        if (store_apply(s, NULL, 0, b, (size_t)k, err, sizeof err) != 0) die("store_apply", err);
        done += k;
    }
    return done;
}

/* ---- the reference: multi-row INSERT, values as parameters, autocommit ---------------- */

typedef struct ref {
    PGconn *c;
    char *sql;
    const char **v;
    char (*num)[24];
    int rows;
} ref;

static void ref_init(ref *x, const char *url, int rows)
{
    x->c = PQconnectdb(url);
    if (PQstatus(x->c) != CONNECTION_OK) die("connect", PQerrorMessage(x->c));
    x->rows = rows;
    size_t n = 256 + (size_t)rows * HB_COLS * 8;
    x->sql = malloc(n);
    x->v = malloc((size_t)rows * HB_COLS * sizeof *x->v);
    x->num = malloc((size_t)rows * HB_COLS * sizeof *x->num);
    if (!x->sql || !x->v || !x->num) die("insert", "out of memory");
}

/* The statement text for k rows: ($1,...,$15),($16,...). */
static void ref_sql(ref *x, int k)
{
    char *p = x->sql;
    p += sprintf(p, "INSERT INTO heartbeats(worker_id, ts_ms, seq, status, cpu, mem,"
                    " mem_available_gb, gpu_mem_active_gb, thermal, backlog, capacity,"
                    " in_flight, requests, tokens, cpu_ticks) VALUES ");
    for (int r = 0; r < k; r++) {
        *p++ = r ? ',' : ' ';
        *p++ = '(';
        for (int c = 0; c < HB_COLS; c++)
            p += sprintf(p, "%s$%d", c ? "," : "", r * HB_COLS + c + 1);
        *p++ = ')';
    }
    *p = '\0';
}

static void ref_put(ref *x, int r, const store_hb *h)
{
    const char **v = &x->v[r * HB_COLS];
    char(*num)[24] = &x->num[r * HB_COLS];
    v[0] = h->worker_id;
    snprintf(num[1], 24, "%" PRId64, h->ts_ms);
    snprintf(num[2], 24, "%" PRId64, h->seq);
    v[3] = h->status;
    snprintf(num[4], 24, "%.9g", (double)h->cpu);
    snprintf(num[5], 24, "%.9g", (double)h->mem);
    snprintf(num[6], 24, "%.9g", (double)h->mem_available_gb);
    snprintf(num[7], 24, "%.9g", (double)h->gpu_mem_active_gb);
    v[8] = hb_thermal_name(h->thermal);
    snprintf(num[9], 24, "%" PRId64, h->backlog);
    snprintf(num[10], 24, "%" PRId64, h->capacity);
    snprintf(num[11], 24, "%" PRId64, h->in_flight);
    snprintf(num[12], 24, "%" PRId64, h->requests);
    snprintf(num[13], 24, "%" PRId64, h->tokens);
    snprintf(num[14], 24, "%" PRId64, h->cpu_ticks);
    for (int c = 0; c < HB_COLS; c++)
        if (c != 0 && c != 3 && c != 8) v[c] = num[c];
}

static void ref_exec(ref *x, int k)
{
    ref_sql(x, k);
    PGresult *r = PQexecParams(x->c, x->sql, k * HB_COLS, NULL, x->v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die("insert", PQerrorMessage(x->c));
    PQclear(r);
}

/* Same rows, same batching of the load as vigil_run; each statement commits. */
static int64_t ref_run(ref *x, fleet *f, store_hb *b, int batch, int64_t rows, double seconds)
{
    int64_t done = 0;
    double t0 = now_s();
    while (rows ? done < rows : now_s() - t0 < seconds) {
        int k = rows && rows - done < batch ? (int)(rows - done) : batch;
        for (int i = 0; i < k; i++)
            fleet_next(f, &b[i]);
        for (int i = 0; i < k; i += x->rows) {
            int m = k - i < x->rows ? k - i : x->rows;
            for (int j = 0; j < m; j++)
                ref_put(x, j, &b[i + j]);
            ref_exec(x, m);
        }
        done += k;
    }
    return done;
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: store_bench vigil|insert URL [--workers N] [--batch N] [--warmup ROWS]\n"
            "       [--rows N | --seconds S] [--insert-rows N] [--schema NAME] [--keep]\n");
    exit(2);
}

static opts parse(int argc, char **argv)
{
    opts o = {.workers = DEF_WORKERS,
              .batch = DEF_BATCH,
              .insert_rows = INSERT_ROWS,
              .warmup = DEF_WARMUP,
              .rows = DEF_ROWS};
    if (argc < 3) usage();
    o.mode = argv[1];
    o.url = argv[2];
    if (strcmp(o.mode, "vigil") != 0 && strcmp(o.mode, "insert") != 0) usage();
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            o.keep = true;
            continue;
        }
        if (!v) usage();
        i++;
        if (strcmp(a, "--workers") == 0)
            o.workers = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            o.batch = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            o.warmup = atoll(v);
        else if (strcmp(a, "--rows") == 0)
            o.rows = atoll(v), o.seconds = 0;
        else if (strcmp(a, "--seconds") == 0)
            o.seconds = atof(v), o.rows = 0;
        else if (strcmp(a, "--insert-rows") == 0)
            o.insert_rows = atoi(v);
        else if (strcmp(a, "--schema") == 0)
            o.schema = v;
        else
            usage();
    }
    if (o.workers < 1 || o.batch < 1 || o.insert_rows < 1 || o.insert_rows * HB_COLS > 65535 ||
        o.warmup < 0 || (o.rows <= 0 && o.seconds <= 0))
        usage();
    return o;
}

int main(int argc, char **argv)
{
    opts o = parse(argc, argv);
    bool pg = is_pg(o.url), ref_mode = strcmp(o.mode, "insert") == 0;
    if (ref_mode && !pg) die("insert", "the reference runs on PostgreSQL only");
    char schema[64];
    if (pg && !o.schema) {
        snprintf(schema, sizeof schema, "bench_%d", (int)getpid());
        o.schema = schema;
    }
    char *url = pg ? pg_schema_url(&o) : strdup(o.url);
    char err[512];
    store *s = store_open(url, "bench", err, sizeof err);
    if (!s) die("store_open", err);
    fleet f;
    fleet_init(&f, o.workers);
    store_hb *b = calloc((size_t)o.batch, sizeof *b);
    if (!b) die("batch", "out of memory");

    int64_t rows;
    double dt;
    if (!ref_mode) {
        open_sessions(s, o.workers);
        vigil_run(s, &f, b, o.batch, o.warmup, 0);
        double t0 = now_s();
        rows = vigil_run(s, &f, b, o.batch, o.rows, o.seconds);
        dt = now_s() - t0;
        store_close(s);
    } else {
        /* The store only migrated the schema: the reference is libpq alone. */
        store_close(s);
        ref x;
        ref_init(&x, url, o.insert_rows);
        ref_run(&x, &f, b, o.batch, o.warmup, 0);
        double t0 = now_s();
        rows = ref_run(&x, &f, b, o.batch, o.rows, o.seconds);
        dt = now_s() - t0;
        PQfinish(x.c);
        free(x.sql);
        free(x.v);
        free(x.num);
    }
    char label[64];
    snprintf(label, sizeof label, "%s-%s", ref_mode ? "insert" : "vigil",
             pg ? "postgres" : "sqlite");
    if (ref_mode) snprintf(label, sizeof label, "insert%d-postgres", o.insert_rows);
    printf("BENCH case=%s rows=%" PRId64 " seconds=%.3f rows_per_s=%.0f workers=%d batch=%d"
           " warmup=%" PRId64 "\n",
           label, rows, dt, (double)rows / dt, o.workers, o.batch, o.warmup);
    if (pg && !o.keep) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", o.schema);
        pg_sql(o.url, sql);
    }
    free(url);
    free(b);
    free(f.order);
    return 0;
}
