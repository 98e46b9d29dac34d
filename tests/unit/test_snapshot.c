/*
 * Unit tests for the snapshot envelope (server/snapshot.h): the fail-mask
 * parser of the test hook, the assembly with builders of the test's own
 * (one that fails, one forced to), and vigild's real sections over an app
 * that has only a registry, a queue and job lists (no server, no store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/snapshot.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW_MS 1796083200000LL /* 2026-12-01T00:00:00Z */

static int calls_ok, calls_null, calls_forced;

static cJSON *fake_ok(app *a, int64_t now_ms)
{
    (void)a;
    calls_ok++;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "now", (double)now_ms);
    return o;
}

static cJSON *fake_null(app *a, int64_t now_ms)
{
    (void)a, (void)now_ms;
    calls_null++;
    return NULL;
}

static cJSON *fake_forced(app *a, int64_t now_ms)
{
    (void)a, (void)now_ms;
    calls_forced++;
    return cJSON_CreateObject();
}

static const snapshot_section fakes[] = {
    {"ok", fake_ok}, {"broken", fake_null}, {"forced", fake_forced}, {"ok2", fake_ok}};
#define NFAKES (sizeof fakes / sizeof fakes[0])

static uint32_t mask(const char *list, char *unknown)
{
    char buf[64];
    return snapshot_fail_mask(fakes, NFAKES, list, unknown ? unknown : buf, 64);
}

static void test_fail_mask(void **state)
{
    (void)state;
    char unknown[64];
    assert_int_equal(mask(NULL, unknown), 0);
    assert_string_equal(unknown, "");
    assert_int_equal(mask("", unknown), 0);
    assert_int_equal(mask("forced", unknown), 1u << 2);
    assert_int_equal(mask("ok,forced", unknown), 1u << 0 | 1u << 2);
    /* Blanks and empty items are skipped; an unknown name is reported, not fatal. */
    assert_int_equal(mask(" ok2 , ,nope, broken,", unknown), 1u << 3 | 1u << 1);
    assert_string_equal(unknown, "nope");
    /* A prefix of a name is not the name. */
    assert_int_equal(mask("ok2x,o", unknown), 0);
    assert_string_equal(unknown, "ok2x");
}

static void test_assembly_nulls_failed_sections(void **state)
{
    (void)state;
    app a;
    memset(&a, 0, sizeof a);
    snprintf(a.cfg.node_id, sizeof a.cfg.node_id, "node-a");
    calls_ok = calls_null = calls_forced = 0;
    cJSON *doc = snapshot_build(&a, fakes, NFAKES, mask("forced", NULL), NOW_MS);
    assert_non_null(doc);

    assert_int_equal(cJSON_GetObjectItem(doc, "schema_version")->valuedouble,
                     SNAPSHOT_SCHEMA_VERSION);
    assert_string_equal(cJSON_GetObjectItem(doc, "generated_at")->valuestring,
                        "2026-12-01T00:00:00.000Z");
    assert_true(cJSON_GetObjectItem(doc, "generated_at_ms")->valuedouble == (double)NOW_MS);
    assert_int_equal(cJSON_GetObjectItem(doc, "clk_tck")->valuedouble, sysconf(_SC_CLK_TCK));
    assert_string_equal(cJSON_GetObjectItem(doc, "node_id")->valuestring, "node-a");

    cJSON *secs = cJSON_GetObjectItem(doc, "sections");
    assert_true(cJSON_IsObject(secs));
    assert_int_equal(cJSON_GetArraySize(secs), NFAKES);
    /* In table order, every name present, the failed ones null. */
    const char *order[] = {"ok", "broken", "forced", "ok2"};
    int i = 0;
    for (cJSON *s = secs->child; s; s = s->next)
        assert_string_equal(s->string, order[i++]);
    cJSON *ok = cJSON_GetObjectItem(secs, "ok");
    assert_true(cJSON_IsObject(ok));
    assert_true(cJSON_GetObjectItem(ok, "now")->valuedouble == (double)NOW_MS);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(secs, "ok2")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(secs, "broken")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(secs, "forced")));
    /* A forced failure does not run its builder at all. */
    assert_int_equal(calls_ok, 2);
    assert_int_equal(calls_null, 1);
    assert_int_equal(calls_forced, 0);
    cJSON_Delete(doc);
}

/* ---- the real sections ---------------------------------------------------- */

static void beat(app *a, const char *id, const char *group, int64_t now)
{
    hb_msg m;
    hb_init(&m);
    snprintf(m.worker_id, sizeof m.worker_id, "%s", id);
    snprintf(m.group, sizeof m.group, "%s", group);
    m.has |= HB_HAS_GROUP;
    reg_heartbeat(a->reg, &m, now);
}

static int setup(void **state)
{
    app *a = calloc(1, sizeof *a);
    reg_config c = {.default_ttl_s = 10, .phi_threshold = 0};
    a->reg = reg_new(&c, NULL, NULL);
    a->wq = wq_new(1024);
    a->ifl = ifl_new();
    a->boot_ms = NOW_MS - 90000;
    snprintf(a->cfg.node_id, sizeof a->cfg.node_id, "node-a");
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    app *a = *state;
    reg_free(a->reg);
    wq_free(a->wq);
    ifl_free(a->ifl);
    free(a);
    return 0;
}

static double at(cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItem(o, k);
        if (!o) fail_msg("no %s (at %s)", path, k);
    }
    if (!cJSON_IsNumber(o)) fail_msg("%s is not a number", path);
    return o->valuedouble;
}

static cJSON *section(cJSON *doc, const char *name)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "sections"), name);
}

static void test_real_sections(void **state)
{
    app *a = *state;
    beat(a, "w1", "inf", NOW_MS - 1000);
    beat(a, "w2", "inf", NOW_MS - 1000);
    beat(a, "b1", "bat", NOW_MS - 1000);
    assert_int_equal(ifl_set(a->ifl, "w1", "j1\nj2", 5, 2), 0);
    hb_msg m;
    hb_init(&m);
    assert_true(wq_push_hb(a->wq, &m, NOW_MS));

    cJSON *doc = snapshot_build(a, snapshot_sections, snapshot_nsections, 0, NOW_MS);
    assert_non_null(doc);
    for (size_t i = 0; i < snapshot_nsections; i++)
        if (!cJSON_IsObject(section(doc, snapshot_sections[i].name)))
            fail_msg("section %s is not an object", snapshot_sections[i].name);

    cJSON *reg = section(doc, "registry");
    assert_int_equal(at(reg, "workers.total"), 3);
    assert_int_equal(at(reg, "workers.by_state.alive"), 3);
    assert_int_equal(at(reg, "workers.by_state.dead"), 0);
    assert_int_equal(at(reg, "groups.total"), 2);
    assert_int_equal(at(reg, "groups.by_state.alive"), 2);
    assert_true(at(reg, "memory_bytes") > 0);
    assert_int_equal(at(reg, "job_lists.workers"), 1);
    assert_true(at(reg, "job_lists.bytes") >= 5);

    cJSON *q = section(doc, "queues");
    assert_int_equal(at(q, "heartbeats.depth"), 1);
    assert_int_equal(at(q, "heartbeats.capacity"), 1024);
    assert_int_equal(at(q, "heartbeats.dropped"), 0);
    assert_int_equal(at(q, "events.spill.unread"), 0);

    /* No writer ever turned: no age, not alive. */
    cJSON *w = section(doc, "writer");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(w, "last_alive_age_ms")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(w, "alive")));

    /* No rules: enabled false and zeros, not nulls. */
    cJSON *al = section(doc, "alerts");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(al, "enabled")));
    for (cJSON *f = al->child; f; f = f->next)
        if (f->type == cJSON_NULL) fail_msg("alerts.%s is null", f->string);
    assert_int_equal(at(al, "fired"), 0);
    assert_int_equal(at(al, "queue_dropped"), 0);

    /* No rollup thread: no last rollup. */
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItem(cJSON_GetObjectItem(section(doc, "jobs"), "rollup"), "last")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(section(doc, "stream"), "enabled")));

    cJSON *p = section(doc, "process");
    assert_int_equal(at(p, "pid"), getpid());
    assert_int_equal(at(p, "uptime_s"), 90);
    assert_true(at(p, "cpu_ticks") == at(p, "utime_ticks") + at(p, "stime_ticks"));
    assert_true(at(p, "rss_bytes") > 0);
    assert_true(at(p, "threads") >= 1);
    assert_true(at(p, "open_fds") >= 3); /* stdin, stdout, stderr */
    cJSON_Delete(doc);
}

/* A forced section and a real builder failing (no registry) are both null;
 * the others still stand. */
static void test_real_sections_degrade(void **state)
{
    app *a = *state;
    char unknown[64];
    uint32_t m = snapshot_fail_mask(snapshot_sections, snapshot_nsections, "process,queues",
                                    unknown, sizeof unknown);
    assert_string_equal(unknown, "");
    reg *saved = a->reg;
    a->reg = NULL;
    cJSON *doc = snapshot_build(a, snapshot_sections, snapshot_nsections, m, NOW_MS);
    a->reg = saved;
    assert_non_null(doc);
    assert_true(cJSON_IsNull(section(doc, "process")));
    assert_true(cJSON_IsNull(section(doc, "queues")));
    assert_true(cJSON_IsNull(section(doc, "registry")));
    assert_true(cJSON_IsObject(section(doc, "writer")));
    assert_true(cJSON_IsObject(section(doc, "jobs")));
    assert_true(cJSON_IsObject(section(doc, "alerts")));
    assert_true(cJSON_IsObject(section(doc, "stream")));
    cJSON_Delete(doc);
}

/* The kill switch's key: on by default, the usual bool spellings, a typo refused. */
static void test_cfg_switch(void **state)
{
    (void)state;
    static cfg c;
    char err[256];
    cfg_defaults(&c);
    assert_true(c.snapshot);
    assert_int_equal(cfg_set(&c, "server", "snapshot", "false", err, sizeof err), 0);
    assert_false(c.snapshot);
    assert_int_equal(cfg_set(&c, "server", "snapshot", "On", err, sizeof err), 0);
    assert_true(c.snapshot);
    assert_int_not_equal(cfg_set(&c, "server", "snapshot", "maybe", err, sizeof err), 0);
    assert_non_null(strstr(err, "snapshot"));
    assert_true(c.snapshot);
    char *env[] = {"VIGIL_SNAPSHOT=no", NULL};
    assert_int_equal(cfg_load_env(&c, env, err, sizeof err), 0);
    assert_false(c.snapshot);
    assert_int_equal(cfg_validate(&c, err, sizeof err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_mask),
        cmocka_unit_test(test_cfg_switch),
        cmocka_unit_test(test_assembly_nulls_failed_sections),
        cmocka_unit_test_setup_teardown(test_real_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_sections_degrade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
