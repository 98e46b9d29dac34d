/*
 * store_fx: what the store test programs share (test_store.c,
 * test_store_rel.c): a fresh store per test, and raw access to it the way an
 * operator would look (sqlite3 shell, psql).
 *
 * Backend: SQLite by default (a file in a mkdtemp directory under /tmp); with
 * VIGIL_TEST_STORE_URL=postgresql://… each test gets a schema of its own in
 * that database (the store connects with search_path set to it), dropped
 * afterwards. CTest runs both programs both ways. A test that checks what
 * only one backend does calls SQLITE_ONLY(f) / PG_ONLY(f) first.
 *
 * Include after <cmocka.h>.
 */
#ifndef VIGIL_TEST_STORE_FX_H
#define VIGIL_TEST_STORE_FX_H

#include "store/store.h"

#include "tmpdir.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    char dir[64];
    char path[128];  /* SQLite: the database file */
    char url[768];   /* what store_open gets */
    char schema[64]; /* PostgreSQL: this test's schema */
    bool pg;
    store *s;
} fx;

#define SQLITE_ONLY(f)                                                                             \
    do {                                                                                           \
        if ((f)->pg) skip();                                                                       \
    } while (0)
#define PG_ONLY(f)                                                                                 \
    do {                                                                                           \
        if (!(f)->pg) skip();                                                                      \
    } while (0)

/* VIGIL_TEST_STORE_URL, or the first line of the file VIGIL_TEST_STORE_URL_FILE
 * names (CTest: scripts/pg.sh writes it when the cluster is up). */
static __attribute__((unused)) const char *fx_pg_base(void)
{
    static char url[512];
    const char *u = getenv("VIGIL_TEST_STORE_URL"), *file = getenv("VIGIL_TEST_STORE_URL_FILE");
    if (u && *u) return u;
    if (!file || !*file) return NULL;
    if (!url[0]) {
        FILE *fp = fopen(file, "r");
        if (!fp) fail_msg("cannot read %s (is the PostgreSQL test cluster up?)", file);
        if (!fgets(url, sizeof url, fp)) url[0] = '\0';
        fclose(fp);
        url[strcspn(url, "\r\n")] = '\0';
    }
    return url[0] ? url : NULL;
}

static __attribute__((unused)) bool fx_is_pg_url(const char *url)
{
    return strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
}

static __attribute__((unused)) store *open_at(const char *url, const char *node)
{
    char err[256] = "";
    store *s = store_open(url, node, err, sizeof err);
    if (!s) fail_msg("store_open %s: %s", url, err);
    return s;
}

/* PostgreSQL: one statement on the base database (schema management). */
static __attribute__((unused)) void fx_pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(fx_pg_base());
    if (PQstatus(c) != CONNECTION_OK) fail_msg("postgres: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fail_msg("postgres: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The URL of a database called `name` beside the test's own (another SQLite
 * file in its directory, or another schema), created empty; teardown
 * removes it. */
static __attribute__((unused)) void fx_other_url(const fx *f, const char *name, char *url, size_t n)
{
    if (!f->pg) {
        snprintf(url, n, "sqlite:%s/%s", f->dir, name);
        return;
    }
    char schema[128], sql[192];
    snprintf(schema, sizeof schema, "%s_%s", f->schema, name);
    for (char *c = schema; *c; c++)
        if (*c == '.') *c = '_';
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    fx_pg_admin(sql);
    const char *base = fx_pg_base();
    snprintf(url, n, "%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             schema);
}

static __attribute__((unused)) int setup(void **state)
{
    static int seq;
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/vigil_store_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/vigil.db", f->dir);
    const char *base = fx_pg_base();
    if (base) {
        f->pg = true;
        snprintf(f->schema, sizeof f->schema, "t%d_%d", (int)getpid(), ++seq);
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f->schema);
        fx_pg_admin(sql);
        snprintf(f->url, sizeof f->url, "%s%soptions=-csearch_path%%3D%s", base,
                 strchr(base, '?') ? "&" : "?", f->schema);
    } else {
        snprintf(f->url, sizeof f->url, "sqlite:%s", f->path);
    }
    f->s = open_at(f->url, "node-a");
    *state = f;
    return 0;
}

static __attribute__((unused)) int teardown(void **state)
{
    fx *f = *state;
    store_close(f->s);
    if (f->pg) {
        char sql[512];
        /* This schema and every fx_other_url one made from it. */
        snprintf(sql, sizeof sql,
                 "DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE"
                 " nspname = '%s' OR nspname LIKE '%s\\_%%' LOOP EXECUTE 'DROP SCHEMA ' || s ||"
                 " ' CASCADE'; END LOOP; END$$",
                 f->schema, f->schema);
        fx_pg_admin(sql);
    }
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* ---- raw look at a database (by URL, either backend) --------------------- */

/* Rows of `sql` as text: fields joined by '|', rows ending in '\n' (NULL as
 * ""). malloc'd. */
static __attribute__((unused)) char *q_dump(const char *url, const char *sql)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[0] = '\0';
#define Q_PUT(s_)                                                                                  \
    do {                                                                                           \
        const char *s__ = (s_);                                                                    \
        size_t l__ = strlen(s__);                                                                  \
        while (n + l__ + 1 > cap)                                                                  \
            assert_non_null(out = realloc(out, cap *= 2));                                         \
        memcpy(out + n, s__, l__ + 1);                                                             \
        n += l__;                                                                                  \
    } while (0)
    if (fx_is_pg_url(url)) {
        PGconn *c = PQconnectdb(url);
        if (PQstatus(c) != CONNECTION_OK) fail_msg("postgres: %s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("postgres: %s: %s", sql, PQerrorMessage(c));
        for (int i = 0; i < PQntuples(r); i++)
            for (int k = 0; k < PQnfields(r); k++) {
                Q_PUT(PQgetvalue(r, i, k));
                Q_PUT(k + 1 < PQnfields(r) ? "|" : "\n");
            }
        PQclear(r);
        PQfinish(c);
        return out;
    }
    const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("sqlite: %s: %s", sql, sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int k = 0; k < sqlite3_column_count(st); k++) {
            const unsigned char *t = sqlite3_column_text(st, k);
            Q_PUT(t ? (const char *)t : "");
            Q_PUT(k + 1 < sqlite3_column_count(st) ? "|" : "\n");
        }
    sqlite3_finalize(st);
    sqlite3_close(db);
#undef Q_PUT
    return out;
}

/* The first column of the first row as text ("" when none). */
static __attribute__((unused)) void q_text_url(const char *url, const char *sql, char *out,
                                               size_t n)
{
    char *d = q_dump(url, sql);
    size_t k = strcspn(d, "|\n");
    snprintf(out, n, "%.*s", (int)k, d);
    free(d);
}

/* ... as an integer; -1 when there is no row. */
static __attribute__((unused)) int64_t q_int_url(const char *url, const char *sql)
{
    char *d = q_dump(url, sql);
    int64_t v = d[0] ? strtoll(d, NULL, 10) : -1;
    free(d);
    return v;
}

static __attribute__((unused)) void q_exec_url(const char *url, const char *sql)
{
    free(q_dump(url, sql));
}

static __attribute__((unused)) reg_event ev(int kind, const char *w, const char *g, int64_t at)
{
    reg_event e;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)kind;
    e.at_ms = at;
    snprintf(e.worker_id, sizeof e.worker_id, "%s", w ? w : "");
    snprintf(e.group, sizeof e.group, "%s", g ? g : "");
    return e;
}

/* A raw heartbeat of worker w at ts with no samples. */
static __attribute__((unused)) store_hb hb(const char *w, int64_t ts)
{
    store_hb h;
    memset(&h, 0, sizeof h);
    snprintf(h.worker_id, sizeof h.worker_id, "%s", w);
    h.ts_ms = ts;
    return h;
}

static __attribute__((unused)) void apply_ok(store *s, const reg_event *e, size_t ne,
                                             const store_hb *h, size_t nh)
{
    char err[256] = "";
    if (store_apply(s, e, ne, h, nh, err, sizeof err) != 0) fail_msg("store_apply: %s", err);
}

/* A list of up to MAXROWS rows of T_ (the includer defines MAXROWS), and a
 * store callback filling one. */
#define ROW_LIST(L, T_)                                                                            \
    typedef struct L {                                                                             \
        int n;                                                                                     \
        T_ r[MAXROWS];                                                                             \
    } L
#define COLLECTOR(name, L, T_)                                                                     \
    static int name(void *ctx, const T_ *row)                                                      \
    {                                                                                              \
        L *l = ctx;                                                                                \
        assert_true(l->n < MAXROWS);                                                               \
        l->r[l->n++] = *row;                                                                       \
        return 0;                                                                                  \
    }

#endif
