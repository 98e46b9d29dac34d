/* The alert engine as pure logic: time is a number passed in, never slept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/alert.h"
#include "core/alert_rule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define T0 1700000000000LL /* vigild starts */
#define GRACE 90000
#define AFTER (T0 + GRACE) /* past the startup grace */
#define SEC 1000LL
#define MAXN 64

/* What the engine handed out. */
typedef struct rec {
    int nchange, nsend;
    notice change[MAXN], send[MAXN];
} rec;

static void on_change(void *ctx, const notice *n)
{
    rec *r = ctx;
    if (r->nchange < MAXN) r->change[r->nchange++] = *n;
}

static void on_send(void *ctx, const notice *n)
{
    rec *r = ctx;
    if (r->nsend < MAXN) r->send[r->nsend++] = *n;
}

static rec R;
static const alert_out OUT = {on_change, on_send, &R};

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof R);
    return 0;
}

/* A rule from INI-style key/value pairs, NULL-terminated; fails the test on
 * any error. */
static alert_rule rule(const char *name, ...)
{
    alert_rule r;
    char err[256];
    alert_rule_init(&r, name);
    va_list ap;
    va_start(ap, name);
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (alert_rule_set(&r, k, v, err, sizeof err) != 0) fail_msg("%s", err);
    }
    va_end(ap);
    if (alert_rule_check(&r, err, sizeof err) != 0) fail_msg("%s", err);
    return r;
}

static reg_event ev_close(const char *w, const char *g, int reason, int64_t opened, int64_t last)
{
    reg_event e = {.kind = REG_EV_SESSION_CLOSE,
                   .reason = (uint8_t)reason,
                   .at_ms = last,
                   .opened_ms = opened,
                   .last_hb_ms = last};
    snprintf(e.worker_id, sizeof e.worker_id, "%s", w);
    snprintf(e.group, sizeof e.group, "%s", g);
    snprintf(e.instance, sizeof e.instance, "inst-%s", w);
    return e;
}

static reg_event ev_open(const char *w, const char *g, int64_t at)
{
    reg_event e = {.kind = REG_EV_SESSION_OPEN, .at_ms = at, .opened_ms = at};
    snprintf(e.worker_id, sizeof e.worker_id, "%s", w);
    snprintf(e.group, sizeof e.group, "%s", g);
    return e;
}

static reg_event ev_group(const char *g, int state, int64_t at)
{
    reg_event e = {.kind = REG_EV_GROUP_STATE, .state = (uint8_t)state, .at_ms = at};
    snprintf(e.group, sizeof e.group, "%s", g);
    return e;
}

static void lose(alert_engine *e, const char *w, const char *g, int64_t now, int64_t in_flight)
{
    reg_event c = ev_close(w, g, REG_R_TIMEOUT, now - 600 * SEC, now - 15 * SEC);
    alert_worker_info wi = {.in_flight = in_flight};
    alert_event(e, &c, &wi, now, &OUT);
}

static void test_worker_lost_fires_once_and_resolves(void **state)
{
    (void)state;
    alert_rule r = rule("lost", "type", "worker_lost", "group", "gpu-*", "severity", "critical",
                        "sinks", "hook, slack", NULL);
    alert_engine *e = alert_new(&r, 1, T0, GRACE);
    int64_t t = AFTER + 10 * SEC;
    lose(e, "w1", "gpu-a", t, 3);
    lose(e, "w9", "cpu", t, 1);   /* group does not match */
    assert_int_equal(R.nsend, 0); /* notices are made by the tick */
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 1);
    notice *n = &R.send[0];
    assert_int_equal(n->state, NOTICE_FIRING);
    assert_int_equal(n->severity, NOTICE_CRITICAL);
    assert_string_equal(n->type, "worker_lost");
    assert_string_equal(n->key, "lost/w1");
    assert_string_equal(n->worker_id, "w1");
    assert_string_equal(n->group, "gpu-a");
    assert_string_equal(n->instance, "inst-w1");
    assert_int_equal(n->last_hb_ms, t - 15 * SEC);
    assert_int_equal(n->session_ms, 585 * SEC);
    assert_int_equal(n->in_flight, 3);
    assert_int_equal(n->nsinks, 2);
    assert_string_equal(n->sinks[0], "hook");
    assert_string_equal(n->sinks[1], "slack");
    assert_non_null(strstr(n->summary, "w1"));
    /* further ticks and repeated timeouts send nothing more */
    lose(e, "w1", "gpu-a", t + SEC, 3);
    alert_tick(e, t + 60 * SEC, &OUT);
    assert_int_equal(R.nsend, 1);
    /* it comes back: one resolve */
    reg_event o = ev_open("w1", "gpu-a", t + 70 * SEC);
    alert_event(e, &o, NULL, t + 70 * SEC, &OUT);
    alert_tick(e, t + 70 * SEC, &OUT);
    alert_tick(e, t + 80 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    assert_int_equal(R.send[1].state, NOTICE_RESOLVED);
    assert_int_equal(R.send[1].ends_ms, t + 70 * SEC);
    assert_int_equal(R.send[1].starts_ms, t);
    /* events: one firing, one resolved */
    assert_int_equal(R.nchange, 2);
    assert_int_equal(R.change[0].state, NOTICE_FIRING);
    assert_int_equal(R.change[1].state, NOTICE_RESOLVED);
    alert_stats st;
    alert_get_stats(e, &st);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.sent, 2);
    alert_free(e);
}

static void test_startup_grace_holds_then_releases(void **state)
{
    (void)state;
    alert_rule r = rule("lost", "type", "worker_lost", NULL);
    alert_engine *e = alert_new(&r, 1, T0, GRACE);
    lose(e, "stays-dead", "g", T0 + 5 * SEC, -1);
    lose(e, "comes-back", "g", T0 + 5 * SEC, -1);
    alert_tick(e, T0 + 5 * SEC, &OUT);
    reg_event o = ev_open("comes-back", "g", T0 + 20 * SEC);
    alert_event(e, &o, NULL, T0 + 20 * SEC, &OUT);
    alert_tick(e, AFTER - 1, &OUT);
    assert_int_equal(R.nsend, 0);
    alert_tick(e, AFTER, &OUT);
    assert_int_equal(R.nsend, 1);
    assert_string_equal(R.send[0].worker_id, "stays-dead");
    assert_int_equal(R.send[0].in_flight, -1);
    alert_tick(e, AFTER + 60 * SEC, &OUT);
    assert_int_equal(R.nsend, 1); /* and no resolve for the one never notified */
    alert_free(e);
}

static void test_cooldown_repeat_and_resolve_switch(void **state)
{
    (void)state;
    alert_rule r[2] = {
        rule("cool", "type", "worker_lost", "worker", "a*", "cooldown", "10m", "repeat", "1h",
             NULL),
        rule("quiet", "type", "worker_lost", "worker", "b*", "resolve", "false", NULL)};
    alert_engine *e = alert_new(r, 2, T0, GRACE);
    int64_t t = AFTER;
    lose(e, "a1", "g", t, 0);
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 1);
    reg_event o = ev_open("a1", "g", t + 60 * SEC);
    alert_event(e, &o, NULL, t + 60 * SEC, &OUT);
    alert_tick(e, t + 60 * SEC, &OUT);
    assert_int_equal(R.send[1].state, NOTICE_RESOLVED);
    /* dies again 2 minutes in: within the 10 minute cooldown, held */
    lose(e, "a1", "g", t + 120 * SEC, 0);
    alert_tick(e, t + 120 * SEC, &OUT);
    alert_tick(e, t + 599 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    alert_stats st;
    alert_get_stats(e, &st);
    assert_int_equal(st.held_cooldown, 1);
    /* still down when the cooldown ends: it goes out then */
    alert_tick(e, t + 600 * SEC, &OUT);
    assert_int_equal(R.nsend, 3);
    assert_int_equal(R.send[2].state, NOTICE_FIRING);
    assert_int_equal(R.send[2].starts_ms, t + 120 * SEC);
    /* reminders every hour while it stays down */
    alert_tick(e, t + 600 * SEC + 3599 * SEC, &OUT);
    assert_int_equal(R.nsend, 3);
    alert_tick(e, t + 600 * SEC + 3600 * SEC, &OUT);
    assert_int_equal(R.nsend, 4);
    assert_int_equal(R.send[3].state, NOTICE_REPEAT);
    /* resolve = false: firing only */
    lose(e, "b1", "g", t + 5000 * SEC, 0);
    alert_tick(e, t + 5000 * SEC, &OUT);
    reg_event ob = ev_open("b1", "g", t + 5001 * SEC);
    alert_event(e, &ob, NULL, t + 5001 * SEC, &OUT);
    alert_tick(e, t + 5001 * SEC, &OUT);
    assert_int_equal(R.nsend, 5);
    assert_string_equal(R.send[4].worker_id, "b1");
    assert_int_equal(R.send[4].state, NOTICE_FIRING);
    alert_free(e);
}

static void test_silences(void **state)
{
    (void)state;
    alert_rule r = rule("lost", "type", "worker_lost", NULL);
    alert_engine *e = alert_new(&r, 1, T0, GRACE);
    int64_t t = AFTER;
    alert_silence s = {.group_glob = "maint-*", .ends_ms = t + 3600 * SEC};
    assert_int_equal(alert_silence_add(e, &s, t), 1);
    alert_silence past = {.ends_ms = t};
    assert_int_equal(alert_silence_add(e, &past, t), -1);
    lose(e, "m1", "maint-x", t, 0);
    lose(e, "p1", "prod", t, 0);
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 1);
    assert_string_equal(R.send[0].worker_id, "p1");
    assert_int_equal(R.nchange, 2); /* both are events all the same */
    /* silence removed while m1 is still down: it goes out at the next tick */
    assert_int_equal(alert_silence_del(e, 1), 0);
    assert_int_equal(alert_silence_del(e, 1), -1);
    alert_tick(e, t + SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    assert_string_equal(R.send[1].worker_id, "m1");
    /* a silence that expires releases the same way */
    alert_silence s2 = {.worker_glob = "q?", .ends_ms = t + 100 * SEC};
    assert_true(alert_silence_add(e, &s2, t + 2 * SEC) > 0);
    lose(e, "q1", "prod", t + 3 * SEC, 0);
    alert_tick(e, t + 99 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    alert_stats st;
    alert_get_stats(e, &st);
    assert_int_equal(st.silences, 1);
    assert_int_equal(st.held_silenced, 2);
    alert_tick(e, t + 100 * SEC, &OUT);
    assert_int_equal(R.nsend, 3);
    assert_string_equal(R.send[2].worker_id, "q1");
    alert_get_stats(e, &st);
    assert_int_equal(st.silences, 0);
    alert_free(e);
}

static void test_group_down_folds_its_workers(void **state)
{
    (void)state;
    alert_rule r[2] = {rule("lost", "type", "worker_lost", NULL),
                       rule("down", "type", "group_down", "severity", "critical", NULL)};
    alert_engine *e = alert_new(r, 2, T0, GRACE);
    int64_t t = AFTER;
    /* the last two workers time out, and the group with them, in one batch */
    lose(e, "w1", "gpu", t, 2);
    lose(e, "w2", "gpu", t, 0);
    reg_event g = ev_group("gpu", REG_G_CRASHED, t);
    alert_event(e, &g, NULL, t, &OUT);
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 1);
    notice *n = &R.send[0];
    assert_string_equal(n->type, "group_down");
    assert_false(n->clean);
    assert_non_null(strstr(n->summary, "crashed"));
    assert_int_equal(n->folded, 2);
    assert_true((strcmp(n->folded_ids[0], "w1") == 0 && strcmp(n->folded_ids[1], "w2") == 0) ||
                (strcmp(n->folded_ids[0], "w2") == 0 && strcmp(n->folded_ids[1], "w1") == 0));
    /* the group comes back with w1: one resolve, the group's */
    reg_event o = ev_open("w1", "gpu", t + 60 * SEC);
    alert_event(e, &o, NULL, t + 60 * SEC, &OUT);
    reg_event up = ev_group("gpu", REG_G_ALIVE, t + 60 * SEC);
    alert_event(e, &up, NULL, t + 60 * SEC, &OUT);
    alert_tick(e, t + 60 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    assert_string_equal(R.send[1].type, "group_down");
    assert_int_equal(R.send[1].state, NOTICE_RESOLVED);
    /* scaled down to zero reads differently */
    reg_event sd = ev_group("cpu", REG_G_SCALED_DOWN, t + 100 * SEC);
    alert_event(e, &sd, NULL, t + 100 * SEC, &OUT);
    alert_tick(e, t + 100 * SEC, &OUT);
    assert_int_equal(R.nsend, 3);
    assert_true(R.send[2].clean);
    assert_non_null(strstr(R.send[2].summary, "scaled down to zero"));
    alert_free(e);
}

static void test_threshold_needs_for(void **state)
{
    (void)state;
    alert_rule r = rule("hot", "type", "threshold", "field", "cpu", "op", ">=", "value", "0.9",
                        "for", "5m", NULL);
    alert_engine *e = alert_new(&r, 1, T0, GRACE);
    int64_t t = AFTER;
    /* a spike shorter than `for` never fires */
    alert_measure(e, "cpu", "w1", "g", 0.95, t, &OUT);
    alert_tick(e, t + 100 * SEC, &OUT);
    alert_measure(e, "cpu", "w1", "g", 0.5, t + 200 * SEC, &OUT);
    alert_tick(e, t + 400 * SEC, &OUT);
    assert_int_equal(R.nchange, 0);
    /* held for 5 minutes: fires (other fields are not this rule's) */
    alert_measure(e, "mem", "w1", "g", 0.99, t + 500 * SEC, &OUT);
    alert_measure(e, "cpu", "w1", "g", 0.9, t + 500 * SEC, &OUT);
    alert_tick(e, t + 799 * SEC, &OUT);
    assert_int_equal(R.nsend, 0);
    alert_tick(e, t + 800 * SEC, &OUT);
    assert_int_equal(R.nsend, 1);
    assert_string_equal(R.send[0].field, "cpu");
    assert_true(fabs(R.send[0].value - 0.9) < 1e-9);
    assert_true(fabs(R.send[0].limit - 0.9) < 1e-9);
    /* fleet series: no worker, no group */
    alert_rule f = rule("drops", "type", "threshold", "field", "dropped", "value", "0", NULL);
    alert_engine *e2 = alert_new(&f, 1, T0, GRACE);
    alert_measure(e2, "dropped", NULL, NULL, 12, t, &OUT);
    alert_tick(e2, t, &OUT);
    assert_int_equal(R.nsend, 2);
    assert_string_equal(R.send[1].key, "drops/fleet");
    alert_measure(e2, "dropped", NULL, NULL, 0, t + SEC, &OUT);
    alert_tick(e2, t + SEC, &OUT);
    assert_int_equal(R.send[2].state, NOTICE_RESOLVED);
    alert_free(e2);
    alert_free(e);
}

static void test_flapping_stuck_score(void **state)
{
    (void)state;
    alert_rule r[3] = {rule("flap", "type", "flapping", "count", "2", "window", "10m", NULL),
                       rule("stuck", "type", "stuck", "for", "10m", NULL),
                       rule("weak", "type", "score_below", "value", "0.5", NULL)};
    alert_engine *e = alert_new(r, 3, T0, GRACE);
    int64_t t = AFTER;
    for (int i = 0; i < 2; i++) {
        reg_event c = ev_close("f1", "g", REG_R_FAILED, t + i * 60 * SEC, t + i * 60 * SEC);
        alert_event(e, &c, NULL, t + i * 60 * SEC, &OUT);
    }
    reg_event clean = ev_close("f1", "g", REG_R_CLEAN_SHUTDOWN, t + 150 * SEC, t + 150 * SEC);
    alert_event(e, &clean, NULL, t + 150 * SEC, &OUT); /* clean: not counted */
    alert_tick(e, t + 150 * SEC, &OUT);
    assert_int_equal(R.nsend, 0);
    reg_event c3 = ev_close("f1", "g", REG_R_RESTARTED, t + 180 * SEC, t + 180 * SEC);
    alert_event(e, &c3, NULL, t + 180 * SEC, &OUT);
    alert_tick(e, t + 180 * SEC, &OUT);
    assert_int_equal(R.nsend, 1);
    assert_string_equal(R.send[0].type, "flapping");
    /* the first close leaves the window: 2 left, not more than 2: resolved */
    alert_tick(e, t + 600 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    assert_int_equal(R.send[1].state, NOTICE_RESOLVED);

    alert_measure(e, "cpu_ticks_still_ms", "s1", "g", 599 * SEC, t, &OUT);
    alert_measure(e, "liveness_score", "s2", "g", 0.6, t, &OUT);
    alert_tick(e, t + 601 * SEC, &OUT);
    assert_int_equal(R.nsend, 2);
    alert_measure(e, "cpu_ticks_still_ms", "s1", "g", 600 * SEC, t + 602 * SEC, &OUT);
    alert_measure(e, "liveness_score", "s2", "g", 0.42, t + 602 * SEC, &OUT);
    alert_tick(e, t + 602 * SEC, &OUT);
    assert_int_equal(R.nsend, 4);
    bool stuck = false, weak = false;
    for (int i = 2; i < 4; i++) {
        stuck |= strcmp(R.send[i].type, "stuck") == 0 && strcmp(R.send[i].worker_id, "s1") == 0;
        weak |= strcmp(R.send[i].type, "score_below") == 0 && R.send[i].value < 0.5;
    }
    assert_true(stuck && weak);
    alert_free(e);
}

/* Worker fields as threshold rules read them from a worker's last samples. */
static void test_worker_fields(void **state)
{
    (void)state;
    hb_msg m;
    hb_init(&m);
    double v = -1;
    assert_false(alert_worker_value("cpu", &m, &v)); /* not reported: not judged */
    m.has = HB_HAS_CPU | HB_HAS_BACKLOG | HB_HAS_CAPACITY | HB_HAS_THERMAL;
    m.cpu = 0.75;
    m.backlog = 6;
    m.capacity = 8;
    m.thermal = HB_THERMAL_SERIOUS;
    assert_true(alert_worker_value("cpu", &m, &v));
    assert_true(v == 0.75);
    assert_true(alert_worker_value("utilization", &m, &v));
    assert_true(v == 0.75);
    assert_true(alert_worker_value("thermal", &m, &v));
    assert_true(v == 3);
    assert_false(alert_worker_value("mem", &m, &v));
    assert_false(alert_worker_value("alive", &m, &v)); /* a group series, not a worker's */
    m.capacity = 0;
    assert_false(alert_worker_value("utilization", &m, &v)); /* no capacity: no utilization */

    alert_rule cpu = rule("hot", "type", "threshold", "field", "cpu", "value", "0.9", NULL);
    alert_rule th =
        rule("th", "type", "threshold", "field", "thermal", "op", ">=", "value", "serious", NULL);
    alert_rule alive =
        rule("few", "type", "threshold", "field", "alive", "op", "<", "value", "2", NULL);
    alert_rule stuck = rule("stuck", "type", "stuck", "for", "5m", NULL);
    alert_rule lost = rule("lost", "type", "worker_lost", NULL);
    assert_true(th.value == HB_THERMAL_SERIOUS); /* thermal states by name */
    assert_true(alert_rule_on_workers(&cpu) && alert_rule_on_workers(&th));
    assert_true(alert_rule_on_workers(&stuck));
    assert_false(alert_rule_on_workers(&alive) || alert_rule_on_workers(&lost));
}

/* A worker whose session ends is no longer stuck nor over a threshold; a
 * lost one carries the job ids it last reported. */
static void test_close_ends_sampled_alerts_and_lost_carries_jobs(void **state)
{
    (void)state;
    alert_rule r[3] = {rule("stuck", "type", "stuck", "for", "1m", NULL),
                       rule("hot", "type", "threshold", "field", "cpu", "value", "0.9", NULL),
                       rule("lost", "type", "worker_lost", NULL)};
    alert_engine *e = alert_new(r, 3, T0, GRACE);
    int64_t t = AFTER;
    alert_measure(e, "cpu_ticks_still_ms", "w1", "g", 61 * SEC, t, &OUT);
    alert_measure(e, "cpu", "w1", "g", 0.95, t, &OUT);
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 2);
    reg_event c = ev_close("w1", "g", REG_R_TIMEOUT, t - 600 * SEC, t);
    alert_worker_info wi = {.in_flight = 2, .jobs = "job-1\njob-2", .njobs = 2};
    alert_event(e, &c, &wi, t + SEC, &OUT);
    alert_tick(e, t + SEC, &OUT);
    assert_int_equal(R.nsend, 5); /* two resolves, one worker_lost */
    int resolved = 0;
    const notice *lostn = NULL;
    for (int i = 2; i < 5; i++) {
        resolved += R.send[i].state == NOTICE_RESOLVED;
        if (strcmp(R.send[i].type, "worker_lost") == 0) lostn = &R.send[i];
    }
    assert_int_equal(resolved, 2);
    assert_non_null(lostn);
    assert_int_equal(lostn->in_flight, 2);
    assert_int_equal(lostn->njobs, 2);
    assert_string_equal(lostn->jobs, "job-1\njob-2");
    alert_free(e);
}

/* SIGHUP: a rule kept by name keeps its firing alert (no second notice),
 * now with the new severity; a rule gone drops its alerts silently. */
static void test_set_rules_keeps_state(void **state)
{
    (void)state;
    alert_rule r[2] = {rule("lost", "type", "worker_lost", "sinks", "a", NULL),
                       rule("flap", "type", "flapping", "count", "1", "window", "1h", NULL)};
    alert_engine *e = alert_new(r, 2, T0, GRACE);
    int64_t t = AFTER;
    lose(e, "w1", "g", t, 1);
    for (int i = 0; i < 2; i++) {
        reg_event c = ev_close("w2", "g", REG_R_FAILED, t, t);
        alert_event(e, &c, NULL, t, &OUT);
    }
    alert_tick(e, t, &OUT);
    assert_int_equal(R.nsend, 2);
    alert_rule nr[2] = {rule("new", "type", "group_down", NULL),
                        rule("lost", "type", "worker_lost", "severity", "critical", "sinks", "a, b",
                             "repeat", "1m", NULL)};
    assert_int_equal(alert_set_rules(e, nr, 2), 0);
    alert_stats st;
    alert_get_stats(e, &st);
    assert_int_equal(st.active, 1); /* lost/w1 kept, flap/w2 gone */
    alert_tick(e, t + SEC, &OUT);
    assert_int_equal(R.nsend, 2);      /* no second firing notice */
    alert_tick(e, t + 61 * SEC, &OUT); /* the new rule's repeat applies */
    assert_int_equal(R.nsend, 3);
    assert_int_equal(R.send[2].state, NOTICE_REPEAT);
    assert_int_equal(R.send[2].severity, NOTICE_CRITICAL);
    assert_int_equal(R.send[2].nsinks, 2);
    reg_event o = ev_open("w1", "g", t + 62 * SEC);
    alert_event(e, &o, NULL, t + 62 * SEC, &OUT);
    alert_tick(e, t + 62 * SEC, &OUT);
    assert_int_equal(R.send[R.nsend - 1].state, NOTICE_RESOLVED);
    alert_free(e);
}

static void expect_bad(const char *key, const char *value, const char *needle)
{
    alert_rule r;
    char err[256] = "";
    alert_rule_init(&r, "x");
    assert_int_equal(alert_rule_set(&r, key, value, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("%s=%s: \"%s\" lacks \"%s\"", key, value, err, needle);
}

static void expect_check_fails(const char *type, const char *needle)
{
    alert_rule r;
    char err[256] = "";
    alert_rule_init(&r, "x");
    if (type) assert_int_equal(alert_rule_set(&r, "type", type, err, sizeof err), 0);
    assert_int_equal(alert_rule_check(&r, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("%s: \"%s\" lacks \"%s\"", type, err, needle);
}

static void test_rule_errors_name_the_key(void **state)
{
    (void)state;
    expect_bad("type", "worker_gone", "type:");
    expect_bad("group", "gpu-[ab", "group:");
    expect_bad("worker", "bad\\", "worker:");
    expect_bad("worker", "[]", "worker:");
    expect_bad("cooldown", "ten minutes", "cooldown:");
    expect_bad("for", "-5s", "for:");
    expect_bad("severity", "page", "severity:");
    expect_bad("resolve", "maybe", "resolve:");
    expect_bad("field", "temperature", "field:");
    expect_bad("op", "=>", "op:");
    expect_bad("value", "0.9x", "value:");
    expect_bad("value", "nan", "value:");
    expect_bad("count", "0", "count:");
    expect_bad("count", "65", "count:");
    expect_bad("sinks", "a,b,c,d,e,f,g,h,i", "sinks:");
    expect_bad("colour", "red", "colour: unknown key");
    expect_check_fails(NULL, "type: missing");
    expect_check_fails("threshold", "field:");
    expect_check_fails("score_below", "value:");
    expect_check_fails("stuck", "for:");
    expect_check_fails("flapping", "count:");
    /* valid globs */
    assert_true(alert_glob_valid("gpu-[a-c]*"));
    assert_true(alert_glob_valid("[]x]"));
    assert_true(alert_glob("gpu-[a-c]*", "gpu-b7"));
    assert_false(alert_glob("gpu-[a-c]*", "gpu-d7"));
    assert_true(alert_glob("", "anything"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_worker_lost_fires_once_and_resolves, setup),
        cmocka_unit_test_setup(test_startup_grace_holds_then_releases, setup),
        cmocka_unit_test_setup(test_cooldown_repeat_and_resolve_switch, setup),
        cmocka_unit_test_setup(test_silences, setup),
        cmocka_unit_test_setup(test_group_down_folds_its_workers, setup),
        cmocka_unit_test_setup(test_threshold_needs_for, setup),
        cmocka_unit_test_setup(test_flapping_stuck_score, setup),
        cmocka_unit_test_setup(test_rule_errors_name_the_key, setup),
        cmocka_unit_test_setup(test_worker_fields, setup),
        cmocka_unit_test_setup(test_set_rules_keeps_state, setup),
        cmocka_unit_test_setup(test_close_ends_sampled_alerts_and_lost_carries_jobs, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
