/*
 * cfg.c: vigild's configuration layers (defaults < INI file < VIGIL_* env < flags).
 *
 * Every scalar key is one row of keys[] below: its INI section and name, the
 * struct field (whose upper-cased name is the VIGIL_* variable), its default
 * and its range or check. Defaults, the file layer, the env layer, cfg_set and
 * cfg_validate all walk that one table, so adding a key is adding one row.
 * Group TTLs are the one keyed-by-name setting and get their own small path.
 */
#include "server/cfg.h"

#include "core/err.h"

#include <ini.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Integer fields are int or int32_t (4 bytes) or int64_t; stored by size. */
_Static_assert(sizeof(int) == sizeof(int32_t), "cfg assumes a 32-bit int");

enum kind { K_STR, K_INT, K_DBL, K_BOOL }; /* K_BOOL: a bool field, true|false|on|off|yes|no|1|0 */

typedef struct cfg_key {
    const char *section, *name; /* INI section and key */
    const char *field;          /* struct field; VIGIL_<FIELD> is its variable */
    size_t off, size;
    enum kind kind;
    const char *def;                     /* default, parsed like any value; NULL: zero */
    double lo, hi;                       /* inclusive range of K_INT / K_DBL */
    const char *(*check)(const char *v); /* extra K_STR rule: NULL ok, else why */
} cfg_key;

#define GROUP_TTL_MAX 86400
#define IDENT_RULE "bytes of A-Za-z0-9._:@-"
#define IDENT_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-"

/* Node ids and group names end up in URLs, metric labels and SQL keys, so
 * they are held to a charset that needs no escaping anywhere (spelled out,
 * not isalnum, which would let a locale add letters). s[len] need not be NUL
 * but s must be terminated somewhere after it. */
static bool valid_ident(const char *s, size_t len, size_t max)
{
    return len && len <= max && strspn(s, IDENT_CHARS) >= len;
}

static const char *check_listen(const char *v)
{
    return cfg_parse_listen(v, NULL, 0, NULL) ? "expected HOST:PORT or [V6]:PORT, port 1..65535"
                                              : NULL;
}

static const char *check_listen_opt(const char *v)
{
    return *v ? check_listen(v) : NULL; /* "": off */
}

static const char *check_nonempty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

static const char *check_role(const char *v)
{
    return strcmp(v, "node") == 0 || strcmp(v, "hub") == 0 ? NULL : "must be node or hub";
}

static const char *check_url_opt(const char *v)
{
    if (!*v) return NULL; /* "": off */
    bool scheme = strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
    if (!scheme) return "must start with http:// or https://";
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return "must not hold blanks or control bytes";
    return NULL;
}

static const char *check_node_id(const char *v)
{
    return valid_ident(v, strlen(v), 64) ? NULL : "must be 1-64 " IDENT_RULE;
}

#define FIELD(f) #f, offsetof(cfg, f), sizeof(((cfg *)0)->f)
#define SAME(f) #f, FIELD(f) /* INI key named like the field */

static const cfg_key keys[] = {
    {"server", SAME(listen), K_STR, "127.0.0.1:9470", 0, 0, check_listen},
    {"server", SAME(data_dir), K_STR, "./var", 0, 0, check_nonempty},
    {"server", SAME(node_id), K_STR, NULL, 0, 0, check_node_id}, /* default: hostname */
    {"server", SAME(admin_token), K_STR, NULL, 0, 0, NULL},
    {"server", SAME(ingest_token), K_STR, NULL, 0, 0, NULL},
    {"server", SAME(http_threads), K_INT, "2", 1, 64, NULL},
    /* The io_uring front door (ring.h); false: libmicrohttpd listens itself. */
    {"server", SAME(http_ring), K_BOOL, "true", 0, 0, NULL},
    {"server", SAME(max_batch_bytes), K_INT, "8388608", 65536, 268435456, NULL},
    /* GET /metrics without the admin token: for scrapers on a trusted network. */
    {"server", SAME(metrics_public), K_BOOL, "false", 0, 0, NULL},
    {"server", SAME(udp_listen), K_STR, NULL, 0, 0, check_listen_opt}, /* "": off */
    {"server", SAME(udp_secret), K_STR, NULL, 0, 0, NULL},
    {"server", SAME(snapshot), K_BOOL, "true", 0, 0, NULL},
    {"liveness", SAME(default_ttl_s), K_INT, "15", 1, GROUP_TTL_MAX, NULL},
    {"liveness", SAME(phi_threshold), K_DBL, "8", 0, 50, NULL},
    {"liveness", SAME(held_grace_ms), K_INT, "2000", 100, 3600000, NULL},
    {"liveness", SAME(sweep_interval_ms), K_INT, "50", 5, 1000, NULL},
    {"store", "url", FIELD(store_url), K_STR, NULL, 0, 0, NULL}, /* "": sqlite in data_dir */
    {"store", SAME(queue_size), K_INT, "65536", 1024, 16777216, NULL},
    {"store", SAME(event_queue_max), K_INT, "100000", 1000, 10000000, NULL},
    {"store", SAME(flush_interval_ms), K_INT, "100", 5, 10000, NULL},
    {"store", SAME(retention_raw_days), K_INT, "7", 1, 3650, NULL},
    {"store", SAME(retention_events_days), K_INT, "30", 1, 3650, NULL},
    {"store", SAME(prune_batch), K_INT, "10000", 100, 1000000, NULL},
    {"store", SAME(retention_hourly_days), K_INT, "400", 1, 36500, NULL},
    {"store", SAME(retention_sessions_days), K_INT, "400", 1, 36500, NULL},
    {"store", SAME(retention_tasks_days), K_INT, "30", 1, 36500, NULL},
    {"store", SAME(retention_metrics_days), K_INT, "30", 1, 36500, NULL},
    {"analytics", SAME(rollup_interval_s), K_INT, "300", 5, 86400, NULL},
    {"analytics", SAME(window_days), K_INT, "14", 1, 400, NULL},
    {"alerts", "grace_s", FIELD(alert_grace_s), K_INT, "90", 0, 86400, NULL},
    {"alerts", "sample_s", FIELD(alert_sample_s), K_INT, "10", 1, 3600, NULL},
    {"history", "sample_s", FIELD(history_sample_s), K_INT, "30", 1, 3600, NULL},
    {"stream", "snapshot_workers", FIELD(stream_snapshot_workers), K_INT, "10000", 0, 1000000,
     NULL},
    {"stream", "buffer", FIELD(stream_buffer), K_INT, "8192", 64, 1048576, NULL},
    {"stream", "max_subscribers", FIELD(stream_max_subscribers), K_INT, "256", 0, 4096, NULL},
    {"hub", "role", FIELD(hub_role), K_STR, "node", 0, 0, check_role},
    {"hub", "url", FIELD(hub_url), K_STR, NULL, 0, 0, check_url_opt},
    {"hub", "token", FIELD(hub_token), K_STR, NULL, 0, 0, NULL},
    {"hub", "interval_s", FIELD(hub_interval_s), K_INT, "60", 1, 86400, NULL},
    {"hub", "accept_token", FIELD(hub_accept_token), K_STR, NULL, 0, 0, NULL},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* strtoll alone accepts leading blanks, '+' and trailing junk ("2x"); config
 * typos must fail, so the whole string has to be one decimal integer. */
static int parse_ll(const char *s, long long *out)
{
    char *end;
    if (!isdigit((unsigned char)s[*s == '-'])) return -1;
    *out = strtoll(s, &end, 10); /* ERANGE saturates, which range checks reject */
    return *end ? -1 : 0;
}

/* Strictly parse v as an integer or a finite double within lo..hi. */
static int parse_range(const char *v, double lo, double hi, bool integer, double *out, char *why,
                       size_t n)
{
    long long i = 0;
    char *end = NULL;
    bool ok = integer ? !parse_ll(v, &i) : isdigit((unsigned char)v[*v == '-']) || *v == '.';
    *out = integer || !ok ? (double)i : strtod(v, &end);
    if (!ok || (end && *end) || !isfinite(*out))
        return err_set(why, n, "'%s' is not %s", v, integer ? "an integer" : "a number");
    if (*out < lo || *out > hi)
        return err_set(why, n, "%s is out of range %.15g..%.15g", v, lo, hi);
    return 0;
}

static void store_int(void *p, size_t size, long long v)
{
    int64_t x64 = v;
    int32_t x32 = (int32_t)v;
    memcpy(p, size == sizeof x64 ? (void *)&x64 : (void *)&x32, size);
}

static long long load_int(const void *p, size_t size)
{
    int64_t x64 = 0;
    int32_t x32 = 0;
    return size == sizeof x64 ? (memcpy(&x64, p, size), x64) : (memcpy(&x32, p, size), x32);
}

/* The spellings an INI file and an environment both use; -1 for others. */
static int parse_bool(const char *v)
{
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcasecmp(v, yes[i])) return 1;
        if (!strcasecmp(v, no[i])) return 0;
    }
    return -1;
}

/* Parse and store one value; why gets the reason without the key's name, so
 * each layer can name it its own way (INI key or VIGIL_* variable). */
static int apply(cfg *c, const cfg_key *k, const char *v, char *why, size_t n)
{
    char *p = (char *)c + k->off;
    if (k->kind == K_STR) {
        size_t len = strlen(v);
        const char *bad = k->check ? k->check(v) : NULL;
        /* No value echo for length errors: the strings without checks are secrets. */
        if (len >= k->size) return err_set(why, n, "longer than %zu bytes", k->size - 1);
        if (bad) return err_set(why, n, "'%s': %s", v, bad);
        memcpy(p, v, len + 1);
        return 0;
    }
    if (k->kind == K_BOOL) {
        int b = parse_bool(v);
        if (b < 0) return err_set(why, n, "'%s' is not true or false", v);
        *(bool *)p = b;
        return 0;
    }
    double d = 0;
    if (parse_range(v, k->lo, k->hi, k->kind == K_INT, &d, why, n)) return -1;
    if (k->kind == K_INT)
        store_int(p, k->size, (long long)d);
    else
        memcpy(p, &d, sizeof d);
    return 0;
}

/* Add or update a group; the same group from file and env keeps one entry. */
static int set_group(cfg *c, const char *name, size_t len, const char *ttl, char *why, size_t n)
{
    double d;
    char r[160];
    if (!valid_ident(name, len, sizeof c->groups[0].name - 1))
        return err_set(why, n, "bad group name '%.*s' (need 1-128 " IDENT_RULE ")", (int)len, name);
    if (parse_range(ttl, 1, GROUP_TTL_MAX, true, &d, r, sizeof r))
        return err_set(why, n, "group '%.*s' ttl_s: %s", (int)len, name, r);
    size_t i = 0;
    while (i < c->ngroups &&
           !(strlen(c->groups[i].name) == len && !memcmp(c->groups[i].name, name, len)))
        i++;
    if (i == CFG_MAX_GROUPS)
        return err_set(why, n, "group '%.*s': more than %d groups", (int)len, name, CFG_MAX_GROUPS);
    if (i == c->ngroups) {
        memcpy(c->groups[i].name, name, len);
        c->groups[i].name[len] = '\0';
        c->ngroups++;
    }
    c->groups[i].ttl_s = (int32_t)d;
    return 0;
}

/* `group "NAME"`, blanks allowed around the parts: NAME's span, or false. */
/* A named section, [KIND "NAME"]: NAME without its quotes. */
static bool named_section(const char *s, const char *kind, const char **name, size_t *len)
{
    size_t k = strlen(kind);
    s += strspn(s, " \t");
    if (strncmp(s, kind, k) || !strchr(" \t", s[k]) || !s[k]) return false;
    s += k + strspn(s + k, " \t");
    size_t l = strlen(s);
    while (l && strchr(" \t", s[l - 1]))
        l--;
    if (l < 2 || s[0] != '"' || s[l - 1] != '"') return false;
    *name = s + 1;
    *len = l - 2;
    return true;
}

int cfg_set(cfg *c, const char *section, const char *key, const char *value, char *err,
            size_t errlen)
{
    const char *gname;
    size_t glen;
    char why[2 * CFG_STR_MAX];
    if (section && named_section(section, "group", &gname, &glen)) {
        if (strcmp(key, "ttl_s"))
            return err_set(err, errlen, "unknown key '%s' in [%s] (groups take ttl_s)", key,
                           section);
        return set_group(c, gname, glen, value, err, errlen);
    }
    if (section && named_section(section, "rule", &gname, &glen))
        return cfg_rule_set(c, gname, glen, key, value, err, errlen);
    if (section && named_section(section, "sink", &gname, &glen))
        return cfg_sink_set(c, gname, glen, key, value, err, errlen);
    if (section && !*section) return err_set(err, errlen, "key '%s' is outside any [section]", key);
    /* Without a section (flags), the field name works too: "store_url" = [store] url. */
    const cfg_key *k = keys;
    while (k < keys + NKEYS && strcmp(key, k->name) && (section || strcmp(key, k->field)))
        k++;
    if (k == keys + NKEYS)
        return err_set(err, errlen, "unknown key '%s'%s%s%s", key, section ? " in [" : "",
                       section ? section : "", section ? "]" : "");
    /* The same key name may stand in several sections ([alerts] sample_s,
     * [history] sample_s): prefer the one of this section. */
    for (const cfg_key *o = k; section && o < keys + NKEYS; o++)
        if (!strcmp(key, o->name) && !strcmp(section, o->section)) {
            k = o;
            break;
        }
    if (section && strcmp(section, k->section))
        return err_set(err, errlen, "key '%s' belongs in [%s], not [%s]", key, k->section, section);
    if (apply(c, k, value, why, sizeof why)) return err_set(err, errlen, "%s: %s", key, why);
    return 0;
}

void cfg_defaults(cfg *c)
{
    memset(c, 0, sizeof *c);
    for (const cfg_key *k = keys; k < keys + NKEYS; k++)
        if (k->def) apply(c, k, k->def, NULL, 0);
    /* The hostname is a fine node id once it fits the id rules. */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    size_t n = 0;
    for (const char *h = host; *h && n < sizeof c->node_id - 1; h++)
        c->node_id[n++] = strchr(IDENT_CHARS, *h) ? *h : '-';
    if (n == 0) strcpy(c->node_id, "vigild");
}

/* File layer. inih is fed through read_line so that we know the line number
 * in the handler (inih only returns the first bad one), keep whole section
 * names (inih cuts them at 49 bytes, too short for group names), and refuse
 * over-long lines (inih would split them into a cut value plus a new line). */
typedef struct file_ctx {
    cfg *c;
    FILE *fp;
    const char *path;
    char *line, *err; /* getline buffer; caller's error buffer */
    size_t cap, errlen;
    int lineno, err_line; /* err_line: first line we rejected, 0 if none */
    char section[CFG_STR_MAX];
} file_ctx;

static char *read_line(char *buf, int num, void *stream)
{
    file_ctx *x = stream;
    ssize_t len;
    if (x->err_line || (len = getline(&x->line, &x->cap, x->fp)) < 0) return NULL;
    char *s = x->line;
    if (++x->lineno == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3, len -= 3;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    /* Leading blanks go, else inih reads an indented key as a continuation
     * of the previous value ("listen = a\n  data_dir = b" sets listen twice). */
    while (len > 0 && isspace((unsigned char)*s))
        s++, len--;
    if (len + 2 > num) {
        x->err_line = x->lineno;
        err_set(x->err, x->errlen, "%s:%d: line longer than %d bytes", x->path, x->lineno, num - 2);
        return NULL;
    }
    const char *end = len ? memchr(s, ']', (size_t)len) : NULL;
    if (*s == '[' && end) {
        snprintf(x->section, sizeof x->section, "%.*s", (int)(end - s - 1), s + 1);
        x->c->cur_line = x->lineno;
    }
    memcpy(buf, s, (size_t)len);
    memcpy(buf + len, "\n", 2);
    return buf;
}

static int on_value(void *user, const char *section, const char *key, const char *value)
{
    file_ctx *x = user;
    char why[2 * CFG_STR_MAX], v[CFG_STR_MAX + 2];
    (void)section; /* possibly cut; x->section is whole */
    if (x->err_line) return 0;
    /* Allow key = "value": the quotes are almost never meant to be part of it. */
    size_t len = strlen(value);
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') value++, len -= 2;
    if (len >= sizeof v) {
        snprintf(why, sizeof why, "%s: value longer than %d bytes", key, CFG_STR_MAX - 1);
    } else {
        memcpy(v, value, len);
        v[len] = '\0';
        if (cfg_set(x->c, x->section, key, v, why, sizeof why) == 0) return 1;
    }
    x->err_line = x->lineno;
    err_set(x->err, x->errlen, "%s:%d: %s", x->path, x->lineno, why);
    return 0;
}

int cfg_load_file(cfg *c, const char *path, char *err, size_t errlen)
{
    if (strlen(path) >= sizeof c->config_path)
        return err_set(err, errlen, "%s: path too long", path);
    FILE *fp = fopen(path, "r");
    if (!fp) return err_set(err, errlen, "%s: %s", path, strerror(errno));
    cfg t = *c; /* parse into a copy so a bad file leaves c as it was */
    strcpy(t.config_path, path);
    file_ctx x = {.c = &t, .fp = fp, .path = path, .err = err, .errlen = errlen};
    int rc = ini_parse_stream(read_line, &x, on_value, &x);
    bool rderr = ferror(fp);
    fclose(fp);
    free(x.line);
    /* rc is inih's first bad line: a syntax error there predates ours. */
    if (rc > 0 && (!x.err_line || rc < x.err_line))
        x.err_line =
            err_set(err, errlen, "%s:%d: syntax error (want [section] or key = value)", path, rc);
    else if (!x.err_line && (rderr || rc))
        x.err_line = err_set(err, errlen, "%s: %s", path, rderr ? "read error" : "parse failed");
    /* Whole sections (a rule's type and what it needs) once all is read. */
    if (!x.err_line && cfg_alerts_check(&t, err, errlen) != 0) x.err_line = 1;
    if (!x.err_line) *c = t;
    return x.err_line ? -1 : 0;
}

/* VIGIL_GROUP_TTL="a=30,b=3600". Empty items (a trailing comma) are skipped. */
static int env_groups(cfg *c, const char *v, char *why, size_t n)
{
    for (size_t len; *v; v += len + (v[len] == ',')) {
        len = strcspn(v, ",");
        const char *eq = memchr(v, '=', len);
        char ttl[32];
        if (!len) continue;
        if (!eq) return err_set(why, n, "'%.*s': want NAME=TTL", (int)len, v);
        size_t tl = len - (size_t)(eq - v) - 1;
        snprintf(ttl, sizeof ttl, "%.*s", (int)tl, eq + 1); /* a cut ttl fails anyway */
        if (set_group(c, v, (size_t)(eq - v), ttl, why, n)) return -1;
    }
    return 0;
}

/* Does VIGIL_ variable NAME (len bytes, not terminated) name this field? */
static bool env_is(const char *name, size_t len, const char *field)
{
    if (strlen(field) != len) return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] != toupper((unsigned char)field[i])) return false;
    return true;
}

int cfg_load_env(cfg *c, char *const *envp, char *err, size_t errlen)
{
    const cfg_key *url = keys;
    while (strcmp(url->field, "store_url"))
        url++;
    cfg t = *c; /* all or nothing, as for the file */
    int rc = 0;
    /* Pass 0 applies the VIGIL_DATABASE_URL alias, pass 1 the real names, so
     * VIGIL_STORE_URL wins over the alias whatever the order of envp. */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (char *const *e = envp; *e && !rc; e++) {
            const char *eq = strchr(*e, '='), *name = *e + 6;
            if (strncmp(*e, "VIGIL_", 6) || !eq) continue;
            size_t nl = (size_t)(eq - name);
            char why[2 * CFG_STR_MAX];
            const cfg_key *k = NULL;
            if (pass == 0) {
                k = env_is(name, nl, "database_url") ? url : NULL;
            } else if (env_is(name, nl, "group_ttl")) {
                rc = env_groups(&t, eq + 1, why, sizeof why);
            } else {
                for (k = keys; k < keys + NKEYS && !env_is(name, nl, k->field);)
                    k++;
                k = k < keys + NKEYS ? k : NULL;
            }
            /* Other VIGIL_* names (the CLI's VIGIL_URL, VIGIL_TOKEN, …) are
             * someone else's: the environment is shared. */
            if (k) rc = apply(&t, k, eq + 1, why, sizeof why);
            if (rc) err_set(err, errlen, "%.*s: %s", (int)(eq - *e), *e, why);
        }
    }
    if (!rc) *c = t;
    return rc;
}

int cfg_validate(const cfg *c, char *err, size_t errlen)
{
    char why[2 * CFG_STR_MAX], num[64];
    for (const cfg_key *k = keys; k < keys + NKEYS; k++) {
        const char *p = (const char *)c + k->off;
        double d;
        /* Flags may have written fields directly, so recheck every rule. */
        if (k->kind == K_STR) {
            const char *bad = !memchr(p, 0, k->size) ? "not terminated" : NULL;
            bad = bad || !k->check ? bad : k->check(p);
            if (bad) return err_set(err, errlen, "%s: %s", k->name, bad);
            continue;
        }
        if (k->kind == K_BOOL) continue; /* any bool value is valid */
        if (k->kind == K_INT)
            snprintf(num, sizeof num, "%lld", load_int(p, k->size));
        else
            memcpy(&d, p, sizeof d), snprintf(num, sizeof num, "%.17g", d);
        if (parse_range(num, k->lo, k->hi, k->kind == K_INT, &d, why, sizeof why))
            return err_set(err, errlen, "%s: %s", k->name, why);
    }
    if (c->ngroups > CFG_MAX_GROUPS)
        return err_set(err, errlen, "more than %d groups", CFG_MAX_GROUPS);
    for (size_t i = 0; i < c->ngroups; i++) {
        const cfg_group *g = &c->groups[i];
        if (!memchr(g->name, 0, sizeof g->name) ||
            !valid_ident(g->name, strlen(g->name), sizeof g->name - 1) || g->ttl_s < 1 ||
            g->ttl_s > GROUP_TTL_MAX)
            return err_set(err, errlen, "group %zu: bad name or ttl_s out of range 1..%d", i,
                           GROUP_TTL_MAX);
    }
    /* The default store URL is built from data_dir and must still fit. */
    if (!c->store_url[0] && strlen(c->data_dir) + sizeof "sqlite:/vigil.db" > CFG_STR_MAX)
        return err_set(err, errlen, "data_dir: too long for the default store url");
    return 0;
}

int cfg_parse_listen(const char *listen, char *host, size_t hostlen, uint16_t *port)
{
    if (!listen) return -1;
    bool v6 = *listen == '[';
    const char *h = listen + v6, *colon = v6 ? strstr(h, "]:") : strchr(h, ':');
    size_t hl = colon ? (size_t)(colon - h) : 0;
    long long p;
    /* Brackets are only for v6 literals; a bare v6 one would make the port ambiguous. */
    if (!hl || (v6 ? !memchr(h, ':', hl) : strchr(colon + 1, ':') != NULL)) return -1;
    if (parse_ll(colon + 1 + v6, &p) || p < 1 || p > 65535) return -1;
    for (size_t i = 0; i < hl; i++)
        if (!isgraph((unsigned char)h[i]) || h[i] == '[' || h[i] == ']') return -1;
    if (host) {
        if (hl >= hostlen) return -1;
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (port) *port = (uint16_t)p;
    return 0;
}

void cfg_store_url(const cfg *c, char *out, size_t outlen)
{
    /* "./var/" and "./var" name the same directory; don't double the slash. */
    int len = (int)strlen(c->data_dir);
    while (len > 1 && c->data_dir[len - 1] == '/')
        len--;
    if (c->store_url[0])
        snprintf(out, outlen, "%s", c->store_url);
    else
        snprintf(out, outlen, "sqlite:%.*s/vigil.db", len, c->data_dir);
}
