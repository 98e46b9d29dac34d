/*
 * test_cfg: the configuration layers (defaults, INI file, VIGIL_* env) and
 * their error messages, which must name the offending key so that a typo in
 * a config file is found from the message alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/cfg.h"

/* Write text to a fresh temp file, load it over c, remove it. path gets the
 * file name so tests can check that errors cite it. */
static int load_text(cfg *c, const char *text, char *err, size_t errlen, char *path)
{
    char tmpl[] = "/tmp/test_cfg_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    int rc = cfg_load_file(c, tmpl, err, errlen);
    unlink(tmpl);
    if (path) strcpy(path, tmpl);
    return rc;
}

/* Expect text to be rejected with an error citing FILE:line and each needle. */
static void expect_file_error(const char *text, int line, const char *needle)
{
    cfg c, before;
    char err[1024] = "", path[64], where[96];
    cfg_defaults(&c);
    before = c;
    assert_int_equal(load_text(&c, text, err, sizeof err, path), -1);
    snprintf(where, sizeof where, "%s:%d: ", path, line);
    if (!strstr(err, where) || !strstr(err, needle))
        fail_msg("error '%s' lacks '%s' or '%s'", err, where, needle);
    assert_memory_equal(&c, &before, sizeof c); /* a bad file changes nothing */
}

static const cfg_group *find_group(const cfg *c, const char *name)
{
    for (size_t i = 0; i < c->ngroups; i++)
        if (!strcmp(c->groups[i].name, name)) return &c->groups[i];
    return NULL;
}

static void test_defaults(void **state)
{
    (void)state;
    cfg c;
    char err[256], url[CFG_STR_MAX + 32];
    cfg_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:9470");
    assert_string_equal(c.data_dir, "./var");
    assert_true(strlen(c.node_id) >= 1 && strlen(c.node_id) <= 64);
    assert_int_equal(strspn(c.node_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._:@-"),
                     strlen(c.node_id));
    assert_string_equal(c.admin_token, "");
    assert_string_equal(c.ingest_token, "");
    assert_int_equal(c.http_threads, 2);
    assert_int_equal(c.max_batch_bytes, 8 * 1024 * 1024);
    assert_int_equal(c.default_ttl_s, 15);
    assert_true(c.phi_threshold == 8.0);
    assert_int_equal(c.sweep_interval_ms, 50);
    assert_string_equal(c.store_url, "");
    assert_int_equal(c.queue_size, 65536);
    assert_int_equal(c.event_queue_max, 100000);
    assert_int_equal(c.flush_interval_ms, 100);
    assert_int_equal(c.retention_raw_days, 7);
    assert_int_equal(c.retention_events_days, 30);
    assert_int_equal(c.prune_batch, 10000);
    assert_int_equal(c.ngroups, 0);
    assert_string_equal(c.config_path, "");
    assert_int_equal(cfg_validate(&c, err, sizeof err), 0);
    cfg_store_url(&c, url, sizeof url);
    assert_string_equal(url, "sqlite:./var/vigil.db");
}

static void test_full_file(void **state)
{
    (void)state;
    cfg c;
    char err[256] = "", path[64];
    cfg_defaults(&c);
    int rc = load_text(&c,
                       "; every key\n"
                       "[server]\n"
                       "listen = 0.0.0.0:8080\n"
                       "data_dir = /srv/vigil\n"
                       "node_id = node-1.example:a@b\n"
                       "admin_token = s3cret ; inline comment\n"
                       "ingest_token = \"quoted\"\n"
                       "http_threads = 8\n"
                       "max_batch_bytes = 65536\n"
                       "[liveness]\n"
                       "default_ttl_s = 86400\n"
                       "phi_threshold = 12.5\n"
                       "sweep_interval_ms = 5\n"
                       "[store]\n"
                       "url = postgres://u@db/vigil\n"
                       "queue_size = 16777216\n"
                       "flush_interval_ms = 10000\n"
                       "retention_raw_days = 1\n"
                       "retention_events_days = 3650\n"
                       "prune_batch = 100\n",
                       err, sizeof err, path);
    assert_int_equal(rc, 0);
    assert_string_equal(c.listen, "0.0.0.0:8080");
    assert_string_equal(c.data_dir, "/srv/vigil");
    assert_string_equal(c.node_id, "node-1.example:a@b");
    assert_string_equal(c.admin_token, "s3cret");
    assert_string_equal(c.ingest_token, "quoted");
    assert_int_equal(c.http_threads, 8);
    assert_int_equal(c.max_batch_bytes, 65536);
    assert_int_equal(c.default_ttl_s, 86400);
    assert_true(c.phi_threshold == 12.5);
    assert_int_equal(c.sweep_interval_ms, 5);
    assert_string_equal(c.store_url, "postgres://u@db/vigil");
    assert_int_equal(c.queue_size, 16777216);
    assert_int_equal(c.flush_interval_ms, 10000);
    assert_int_equal(c.retention_raw_days, 1);
    assert_int_equal(c.retention_events_days, 3650);
    assert_int_equal(c.prune_batch, 100);
    assert_string_equal(c.config_path, path);
    assert_int_equal(cfg_validate(&c, err, sizeof err), 0);
}

static void test_group_sections(void **state)
{
    (void)state;
    cfg c;
    char err[512] = "", text[1024], longname[129];
    /* Longer than the 49 bytes inih keeps of a section name. */
    memset(longname, 'g', 128);
    longname[128] = '\0';
    snprintf(text, sizeof text,
             "\xEF\xBB\xBF[group \"inference\"]\n"
             "ttl_s = 30\n"
             "[group \"batch.v2@eu-1\"]\n"
             "  ttl_s = 3600\n" /* indented: a key, not a continuation */
             "[group \"inference\"]\n"
             "ttl_s = 45\n"
             "[group \"%s\"]\n"
             "ttl_s = 1\n",
             longname);
    cfg_defaults(&c);
    assert_int_equal(load_text(&c, text, err, sizeof err, NULL), 0);
    assert_int_equal(c.ngroups, 3);
    assert_int_equal(find_group(&c, "inference")->ttl_s, 45);
    assert_int_equal(find_group(&c, "batch.v2@eu-1")->ttl_s, 3600);
    assert_non_null(find_group(&c, longname));
    assert_int_equal(cfg_validate(&c, err, sizeof err), 0);
}

static void test_rule_sections(void **state)
{
    (void)state;
    cfg c;
    char err[512] = "";
    cfg_defaults(&c);
    assert_int_equal(c.alert_grace_s, 90);
    assert_int_equal(load_text(&c,
                               "[alerts]\ngrace_s = 30\n"
                               "[rule \"gpu-lost\"]\ntype = worker_lost\ngroup = gpu-*\n"
                               "severity = critical\nsinks = hook, mail\ncooldown = 10m\n"
                               "[rule \"hot\"]\ntype = threshold\nfield = cpu\nop = >=\n"
                               "value = 0.95\nfor = 5m\nresolve = false\n"
                               "[sink \"hook\"]\ntype = webhook\nurl = http://127.0.0.1:9/h\n"
                               "[sink \"mail\"]\ntype = smtp\nurl = smtp://127.0.0.1:25\n"
                               "from = vigil@example.org\nto = ops@example.org\n",
                               err, sizeof err, NULL),
                     0);
    assert_int_equal(c.alert_grace_s, 30);
    assert_int_equal(c.nrules, 2);
    const alert_rule *r = &c.rules[0];
    assert_string_equal(r->name, "gpu-lost");
    assert_int_equal(r->type, ALERT_WORKER_LOST);
    assert_string_equal(r->group_glob, "gpu-*");
    assert_int_equal(r->severity, NOTICE_CRITICAL);
    assert_int_equal(r->nsinks, 2);
    assert_string_equal(r->sinks[1], "mail");
    assert_int_equal(r->cooldown_ms, 600000);
    assert_int_equal(c.rule_line[0], 3);
    r = &c.rules[1];
    assert_int_equal(r->type, ALERT_THRESHOLD);
    assert_int_equal(r->op, ALERT_GE);
    assert_int_equal(r->for_ms, 300000);
    assert_false(r->resolve);
    /* bad keys name file, line and key; whole-section errors the section's line */
    expect_file_error("[rule \"x\"]\ntype = worker_gone\n", 2, "type: \"worker_gone\"");
    expect_file_error("[rule \"x\"]\ntype = worker_lost\ngroup = gpu-[a\n", 3, "group:");
    expect_file_error("[rule \"x\"]\ntype = worker_lost\ncooldown = soon\n", 3, "cooldown:");
    expect_file_error("[rule \"x\"]\ntype = worker_lost\ncolour = red\n", 3, "colour:");
    expect_file_error("[server]\nnode_id = n\n[rule \"t\"]\ntype = threshold\nvalue = 1\n", 3,
                      "[rule \"t\"] field:");
    expect_file_error("[rule \"nothing\"]\nseverity = info\n", 1, "type: missing");
    expect_file_error("[rule \"bad name!\"]\ntype = worker_lost\n", 2, "rule name");
    expect_file_error("[rule \"x\"]\ntype = worker_lost\nsinks = pager\n", 1,
                      "sinks: no [sink \"pager\"]");
    expect_file_error("[sink \"s\"]\ntype = pigeon\n", 2, "type");
    expect_file_error("\n[sink \"s\"]\nurl = http://127.0.0.1:9/\n", 2, "[sink \"s\"]");
    assert_int_equal(c.nsinks, 2);
    assert_int_equal(cfg_sink_find(&c, "mail")->kind, SINK_SMTP);
    assert_null(cfg_sink_find(&c, "pager"));
}

static void test_env_overrides_file(void **state)
{
    (void)state;
    cfg c;
    char err[256] = "", url[CFG_STR_MAX + 32];
    cfg_defaults(&c);
    assert_int_equal(load_text(&c,
                               "[server]\nlisten = 10.0.0.1:1000\nhttp_threads = 4\n"
                               "[liveness]\nphi_threshold = 3\n[store]\nprune_batch = 200\n",
                               err, sizeof err, NULL),
                     0);
    char *env[] = {"PATH=/bin",
                   "VIGIL_LISTEN=[::1]:9470",
                   "VIGIL_HTTP_THREADS=16",
                   "VIGIL_PHI_THRESHOLD=0",
                   "VIGIL_URL=http://cli.example", /* the CLI's, not ours */
                   "VIGIL_TOKEN=cli-token",
                   "VIGIL_SOMETHING_ELSE=x",
                   "VIGIL_ADMIN_TOKEN=adm",
                   "VIGIL_NODE_ID=n2",
                   "VIGIL_DATABASE_URL=postgres://alias",
                   NULL};
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), 0);
    assert_string_equal(c.listen, "[::1]:9470");
    assert_int_equal(c.http_threads, 16);
    assert_true(c.phi_threshold == 0.0);
    assert_int_equal(c.prune_batch, 200); /* file value kept */
    assert_string_equal(c.admin_token, "adm");
    assert_string_equal(c.node_id, "n2");
    cfg_store_url(&c, url, sizeof url);
    assert_string_equal(url, "postgres://alias");

    /* VIGIL_STORE_URL beats its alias whichever comes first. */
    char *env2[] = {"VIGIL_STORE_URL=sqlite:/a.db", "VIGIL_DATABASE_URL=sqlite:/b.db", NULL};
    char *env3[] = {"VIGIL_DATABASE_URL=sqlite:/b.db", "VIGIL_STORE_URL=sqlite:/a.db", NULL};
    assert_int_equal(cfg_load_env(&c, env2, err, sizeof err), 0);
    assert_string_equal(c.store_url, "sqlite:/a.db");
    c.store_url[0] = '\0';
    assert_int_equal(cfg_load_env(&c, env3, err, sizeof err), 0);
    assert_string_equal(c.store_url, "sqlite:/a.db");
}

static void test_env_bad_value(void **state)
{
    (void)state;
    cfg c, before;
    char err[256] = "";
    cfg_defaults(&c);
    before = c;
    char *env[] = {"VIGIL_LISTEN=1.2.3.4:99", "VIGIL_HTTP_THREADS=lots", NULL};
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), -1);
    assert_non_null(strstr(err, "VIGIL_HTTP_THREADS"));
    assert_non_null(strstr(err, "lots"));
    assert_memory_equal(&c, &before, sizeof c); /* VIGIL_LISTEN not half-applied */
    char *env2[] = {"VIGIL_QUEUE_SIZE=1023", NULL};
    assert_int_equal(cfg_load_env(&c, env2, err, sizeof err), -1);
    assert_non_null(strstr(err, "VIGIL_QUEUE_SIZE"));
    char *env4[] = {"VIGIL_EVENT_QUEUE_MAX=999", NULL}; /* below the 1000 floor */
    assert_int_equal(cfg_load_env(&c, env4, err, sizeof err), -1);
    assert_non_null(strstr(err, "VIGIL_EVENT_QUEUE_MAX"));
    char *env5[] = {"VIGIL_EVENT_QUEUE_MAX=1000", NULL};
    assert_int_equal(cfg_load_env(&c, env5, err, sizeof err), 0);
    assert_int_equal(c.event_queue_max, 1000);
    char *env3[] = {"VIGIL_LISTEN=localhost", NULL};
    assert_int_equal(cfg_load_env(&c, env3, err, sizeof err), -1);
    assert_non_null(strstr(err, "VIGIL_LISTEN"));
}

static void test_env_group_ttl(void **state)
{
    (void)state;
    cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_int_equal(load_text(&c, "[group \"a\"]\nttl_s = 10\n", err, sizeof err, NULL), 0);
    char *env[] = {"VIGIL_GROUP_TTL=a=30,b=3600,", NULL};
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), 0);
    assert_int_equal(c.ngroups, 2);
    assert_int_equal(find_group(&c, "a")->ttl_s, 30);
    assert_int_equal(find_group(&c, "b")->ttl_s, 3600);

    const char *bad[] = {"VIGIL_GROUP_TTL=a=0", "VIGIL_GROUP_TTL=bad name=3", "VIGIL_GROUP_TTL=a",
                         "VIGIL_GROUP_TTL==5", "VIGIL_GROUP_TTL=a=5s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *e[] = {(char *)bad[i], NULL};
        assert_int_equal(cfg_load_env(&c, e, err, sizeof err), -1);
        assert_non_null(strstr(err, "VIGIL_GROUP_TTL"));
    }
    assert_int_equal(c.ngroups, 2);
}

static void test_too_many_groups(void **state)
{
    (void)state;
    cfg c;
    char err[256] = "";
    static char list[16 + 12 * (CFG_MAX_GROUPS + 1)];
    size_t n = (size_t)snprintf(list, sizeof list, "VIGIL_GROUP_TTL=");
    for (int i = 0; i < CFG_MAX_GROUPS; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "g%d=5,", i);
    char *env[] = {list, NULL};
    cfg_defaults(&c);
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), 0);
    assert_int_equal(c.ngroups, CFG_MAX_GROUPS);
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), 0); /* same names: updates */
    snprintf(list + n, sizeof list - n, "one-more=5");
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), -1);
    assert_non_null(strstr(err, "one-more"));
}

static void test_file_errors(void **state)
{
    (void)state;
    expect_file_error("[server]\nlisten = 1.2.3.4:5\nhtp_threads = 2\n", 3, "'htp_threads'");
    expect_file_error("[store]\nlisten = 1.2.3.4:5\n", 2, "'listen' belongs in [server]");
    expect_file_error("[srever]\nlisten = 1.2.3.4:5\n", 2, "listen");
    expect_file_error("listen = 1.2.3.4:5\n", 1, "listen");
    expect_file_error("[server]\nhttp_threads = 2x\n", 2, "http_threads");
    expect_file_error("[server]\nhttp_threads = \n", 2, "http_threads");
    expect_file_error("[liveness]\nphi_threshold = nan\n", 2, "phi_threshold");
    expect_file_error("[liveness]\nphi_threshold = 50.5\n", 2, "phi_threshold");
    expect_file_error("[store]\n\nqueue_size = 100\n", 3, "queue_size");
    expect_file_error("[store]\nprune_batch = 99999999999999999999\n", 2, "prune_batch");
    expect_file_error("[server]\nlisten = 127.0.0.1\n", 2, "listen");
    expect_file_error("[server]\nnode_id = a/b\n", 2, "node_id");
    expect_file_error("[server]\ndata_dir =\n", 2, "data_dir");
    expect_file_error("[group \"bad name\"]\nttl_s = 5\n", 2, "bad name");
    expect_file_error("[group \"ok\"]\nttl_s = 0\n", 2, "ttl_s");
    expect_file_error("[group \"ok\"]\nttl = 5\n", 2, "'ttl'");
    expect_file_error("[server]\nlisten 1.2.3.4\n", 2, "syntax error");
    /* A syntax error before a bad key is the one reported. */
    expect_file_error("[server]\noops\nhttp_threads = 0\n", 2, "syntax error");
    char longline[400];
    snprintf(longline, sizeof longline, "[server]\nadmin_token = %0300d\n", 7);
    expect_file_error(longline, 2, "line longer");

    cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_int_equal(cfg_load_file(&c, "/nonexistent/vigil.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/vigil.ini"));
}

static void test_set_and_validate(void **state)
{
    (void)state;
    cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_int_equal(cfg_set(&c, NULL, "store_url", "sqlite:/x.db", err, sizeof err), 0);
    assert_string_equal(c.store_url, "sqlite:/x.db");
    assert_int_equal(cfg_set(&c, NULL, "http_threads", "64", err, sizeof err), 0);
    assert_int_equal(c.http_threads, 64);
    assert_int_equal(cfg_set(&c, "group \"g\"", "ttl_s", "9", err, sizeof err), 0);
    assert_int_equal(find_group(&c, "g")->ttl_s, 9);
    assert_int_equal(cfg_set(&c, NULL, "http_threads", "65", err, sizeof err), -1);
    assert_non_null(strstr(err, "http_threads"));
    assert_int_equal(cfg_set(&c, NULL, "nope", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
    /* one key name in two sections: each section sets its own */
    assert_int_equal(cfg_set(&c, "history", "sample_s", "3", err, sizeof err), 0);
    assert_int_equal(cfg_set(&c, "alerts", "sample_s", "7", err, sizeof err), 0);
    assert_int_equal(c.history_sample_s, 3);
    assert_int_equal(c.alert_sample_s, 7);
    assert_int_equal(cfg_set(&c, "stream", "sample_s", "7", err, sizeof err), -1);
    assert_int_equal(cfg_validate(&c, err, sizeof err), 0);

    /* Fields written directly (as flags may) are rechecked. */
    cfg bad = c;
    bad.http_threads = 0;
    assert_int_equal(cfg_validate(&bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "http_threads"));
    bad = c;
    strcpy(bad.listen, "nowhere");
    assert_int_equal(cfg_validate(&bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "listen"));
    bad = c;
    bad.data_dir[0] = '\0';
    assert_int_equal(cfg_validate(&bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "data_dir"));
    bad = c;
    bad.phi_threshold = -1;
    assert_int_equal(cfg_validate(&bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "phi_threshold"));
}

static void test_parse_listen(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    assert_int_equal(cfg_parse_listen("127.0.0.1:9470", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9470);
    assert_int_equal(cfg_parse_listen("[::1]:9470", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9470);
    assert_int_equal(cfg_parse_listen("localhost:65535", host, sizeof host, &port), 0);
    assert_int_equal(port, 65535);
    const char *bad[] = {"127.0.0.1",     "127.0.0.1:", ":9470",     "127.0.0.1:0",
                         "1.2.3.4:70000", "::1:9470",   "[::1]9470", "[]:80",
                         "h:80x",         "h:+80",      "h: 80",     "[1.2.3.4]:80",
                         "a b:80",        "",           "h:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfg_parse_listen(bad[i], host, sizeof host, &port) == 0)
            fail_msg("'%s' accepted", bad[i]);
    assert_int_equal(cfg_parse_listen("127.0.0.1:80", host, 9, &port), -1); /* host too long */
}

static void test_store_url(void **state)
{
    (void)state;
    cfg c;
    char url[CFG_STR_MAX + 32];
    cfg_defaults(&c);
    strcpy(c.data_dir, "/var/lib/vigil/");
    cfg_store_url(&c, url, sizeof url);
    assert_string_equal(url, "sqlite:/var/lib/vigil/vigil.db");
    strcpy(c.store_url, "postgres://db/vigil");
    cfg_store_url(&c, url, sizeof url);
    assert_string_equal(url, "postgres://db/vigil");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_group_sections),   cmocka_unit_test(test_env_overrides_file),
        cmocka_unit_test(test_env_bad_value),    cmocka_unit_test(test_env_group_ttl),
        cmocka_unit_test(test_too_many_groups),  cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_set_and_validate), cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_store_url),        cmocka_unit_test(test_rule_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
