/* Unit tests for the registry state machine: every worker transition and
 * session reason, group verdicts, the wheel, and boot restore. Time is
 * passed in; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/reg.h"
#include "reg_sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    reg *r;
    sink s;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    reg_config c = {.default_ttl_s = 15, .phi_threshold = 8.0};
    f->r = reg_new(&c, collect, &f->s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    reg_free(f->r);
    free(f->s.v);
    free(f);
    return 0;
}

static hb_msg beat(const char *id, const char *group, const char *inst)
{
    hb_msg m;
    hb_init(&m);
    strcpy(m.worker_id, id);
    if (group) {
        strcpy(m.group, group);
        m.has |= HB_HAS_GROUP;
    }
    if (inst) {
        strcpy(m.instance, inst);
        m.has |= HB_HAS_INSTANCE;
    }
    return m;
}

static hb_msg bye(const char *id, int has_exit, int code)
{
    hb_msg m = beat(id, NULL, NULL);
    m.kind = HB_BYE;
    if (has_exit) {
        m.has |= HB_HAS_EXIT_CODE;
        m.exit_code = code;
    }
    return m;
}

/* Index of the n-th (0-based) event of `kind` since `from`, or -1. */
static int find_ev(const sink *s, size_t from, int kind, int nth)
{
    for (size_t i = from; i < s->n; i++)
        if (s->v[i].kind == kind && nth-- == 0) return (int)i;
    return -1;
}

static int count_ev(const sink *s, size_t from, int kind)
{
    int c = 0;
    for (size_t i = from; i < s->n; i++)
        c += s->v[i].kind == kind;
    return c;
}

static reg_wstate state_of(fx *f, const char *id, int64_t now)
{
    reg_view v;
    return reg_get(f->r, id, now, &v) ? v.state : REG_W_NONE;
}

static void test_first_heartbeat_opens_session(void **state)
{
    fx *f = *state;
    hb_msg m = beat("gpu-1", "inference", "boot-a");
    assert_int_equal(reg_heartbeat(f->r, &m, 1000), REG_W_ALIVE);
    int o = find_ev(&f->s, 0, REG_EV_SESSION_OPEN, 0);
    assert_true(o >= 0);
    assert_string_equal(f->s.v[o].worker_id, "gpu-1");
    assert_string_equal(f->s.v[o].group, "inference");
    assert_string_equal(f->s.v[o].instance, "boot-a");
    assert_int_equal(f->s.v[o].opened_ms, 1000);
    assert_int_equal(f->s.v[o].ttl_s, 15);
    int g = find_ev(&f->s, 0, REG_EV_GROUP_STATE, 0);
    assert_true(g > o); /* ordered: the session before the group it revived */
    assert_int_equal(f->s.v[g].state, REG_G_ALIVE);
    assert_int_equal(f->s.v[g].prev_state, REG_G_UNKNOWN);
    /* A second beat changes nothing that needs recording. */
    size_t n = f->s.n;
    assert_int_equal(reg_heartbeat(f->r, &m, 6000), REG_W_ALIVE);
    assert_int_equal(f->s.n, n);
    reg_view v;
    assert_true(reg_get(f->r, "gpu-1", 6000, &v));
    assert_int_equal(v.last_hb_ms, 6000);
    assert_int_equal(v.opened_ms, 1000);
    assert_false(reg_get(f->r, "nobody", 6000, &v));
}

static void test_timeout_by_sweep_and_crash_verdict(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", "batch", NULL);
    reg_heartbeat(f->r, &m, 0);
    reg_sweep(f->r, 15000); /* now == last + ttl: not yet dead */
    assert_int_equal(state_of(f, "w", 15000), REG_W_ALIVE);
    size_t n = f->s.n;
    reg_sweep(f->r, 15000 + REG_SLOT_MS);
    assert_int_equal(state_of(f, "w", 15100), REG_W_DEAD);
    int c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_true(c >= 0);
    assert_int_equal(f->s.v[c].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[c].at_ms, 0); /* closes at its last heartbeat */
    int g = find_ev(&f->s, n, REG_EV_GROUP_STATE, 0);
    assert_true(g > c);
    assert_int_equal(f->s.v[g].state, REG_G_CRASHED);
    /* Verdict is fixed: a late bye does not make it a scale-down. */
    hb_msg b = bye("w", 1, 0);
    assert_int_equal(reg_bye(f->r, &b, 20000), REG_W_LEFT);
    assert_int_equal(count_ev(&f->s, n, REG_EV_GROUP_STATE), 1);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 1);
}

static void test_timeout_exact_on_heartbeat_path(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", NULL, NULL);
    reg_heartbeat(f->r, &m, 0);
    size_t n = f->s.n;
    reg_heartbeat(f->r, &m, 15000); /* exactly at the TTL: same session */
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 0);
    reg_heartbeat(f->r, &m, 30001); /* 1 ms past: dead before, new session now */
    int c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_true(c >= 0);
    assert_int_equal(f->s.v[c].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[c].at_ms, 15000);
    int o = find_ev(&f->s, c, REG_EV_SESSION_OPEN, 0);
    assert_true(o > c);
    assert_int_equal(f->s.v[o].opened_ms, 30001);
    assert_int_equal(state_of(f, "w", 30001), REG_W_ALIVE);
}

static void test_bye_clean_and_failed(void **state)
{
    fx *f = *state;
    hb_msg a = beat("a", "jobs", NULL), b = beat("b", "jobs", NULL);
    reg_heartbeat(f->r, &a, 0);
    reg_heartbeat(f->r, &b, 0);
    size_t n = f->s.n;
    hb_msg ba = bye("a", 1, 3);
    strcpy(ba.status, "killed by signal 9 (SIGKILL)");
    ba.has |= HB_HAS_STATUS;
    assert_int_equal(reg_bye(f->r, &ba, 100), REG_W_LEFT);
    int c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_FAILED);
    assert_true(f->s.v[c].has_exit_code);
    assert_int_equal(f->s.v[c].exit_code, 3);
    assert_string_equal(f->s.v[c].status, "killed by signal 9 (SIGKILL)"); /* the bye's why */
    assert_int_equal(count_ev(&f->s, n, REG_EV_GROUP_STATE), 0);           /* b still up */
    hb_msg bb = bye("b", 0, 0);
    reg_bye(f->r, &bb, 200);
    c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 1);
    assert_int_equal(f->s.v[c].reason, REG_R_CLEAN_SHUTDOWN);
    assert_false(f->s.v[c].has_exit_code);
    assert_string_equal(f->s.v[c].status, "");
    assert_int_equal(f->s.v[c].at_ms, 200);
    int g = find_ev(&f->s, n, REG_EV_GROUP_STATE, 0);
    assert_int_equal(f->s.v[g].state, REG_G_SCALED_DOWN);
    assert_string_equal(f->s.v[g].worker_id, "b");
}

static void test_failed_bye_of_last_worker_is_a_crash(void **state)
{
    fx *f = *state;
    hb_msg a = beat("a", "jobs", NULL);
    reg_heartbeat(f->r, &a, 0);
    hb_msg ba = bye("a", 1, 1);
    reg_bye(f->r, &ba, 10);
    int g = find_ev(&f->s, 0, REG_EV_GROUP_STATE, 1);
    assert_int_equal(f->s.v[g].state, REG_G_CRASHED);
}

static void test_restart_on_new_instance(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", "g", "i1");
    reg_heartbeat(f->r, &m, 500);
    reg_heartbeat(f->r, &m, 1000);
    size_t n = f->s.n;
    hb_msg m2 = beat("w", "g", "instance-number-two-and-much-longer"); /* record must grow */
    reg_heartbeat(f->r, &m2, 2000);
    int c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_RESTARTED);
    assert_int_equal(f->s.v[c].at_ms, 1000);
    assert_int_equal(f->s.v[c].opened_ms, 500);
    assert_string_equal(f->s.v[c].instance, "i1");
    int o = find_ev(&f->s, n, REG_EV_SESSION_OPEN, 0);
    assert_true(o > c);
    assert_string_equal(f->s.v[o].instance, "instance-number-two-and-much-longer");
    assert_int_equal(count_ev(&f->s, n, REG_EV_GROUP_STATE), 0);
    /* The old record lingers in the wheel as a zombie; sweeping frees it
     * (ASan checks) and the new one still times out properly. */
    reg_sweep(f->r, 2000 + 15000 + 2 * REG_SLOT_MS);
    assert_int_equal(state_of(f, "w", 20000), REG_W_DEAD);
    /* A heartbeat without an instance does not count as a restart. */
    hb_msg m3 = beat("w", NULL, NULL);
    reg_heartbeat(f->r, &m3, 30000);
    n = f->s.n;
    reg_heartbeat(f->r, &m3, 31000);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 0);
}

static void test_start_forces_new_session(void **state)
{
    fx *f = *state;
    hb_msg m = beat("cron", NULL, NULL);
    reg_heartbeat(f->r, &m, 5000);
    m.kind = HB_START;
    size_t n = f->s.n;
    reg_heartbeat(f->r, &m, 5000); /* same millisecond: the new session needs its own key */
    int c = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_RESTARTED);
    int o = find_ev(&f->s, n, REG_EV_SESSION_OPEN, 0);
    assert_int_equal(f->s.v[o].opened_ms, 5001);
}

static void test_suspect_by_phi_then_recover(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", NULL, NULL);
    int64_t t = 0;
    for (int i = 0; i < 20; i++, t += 1000)
        reg_heartbeat(f->r, &m, t);
    int64_t last = t - 1000;
    size_t n = f->s.n;
    reg_sweep(f->r, last + 1000); /* on time */
    assert_int_equal(state_of(f, "w", last + 1000), REG_W_ALIVE);
    reg_sweep(f->r, last + 3000); /* 3x the usual interval, well within the TTL */
    assert_int_equal(state_of(f, "w", last + 3000), REG_W_SUSPECT);
    int s = find_ev(&f->s, n, REG_EV_WORKER_STATE, 0);
    assert_int_equal(f->s.v[s].state, REG_W_SUSPECT);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 0); /* suspect closes nothing */
    reg_heartbeat(f->r, &m, last + 3500);
    assert_int_equal(state_of(f, "w", last + 3500), REG_W_ALIVE);
    s = find_ev(&f->s, n, REG_EV_WORKER_STATE, 1);
    assert_int_equal(f->s.v[s].state, REG_W_ALIVE);
    assert_int_equal(f->s.v[s].prev_state, REG_W_SUSPECT);
}

static void test_suspect_then_dead(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", NULL, NULL);
    for (int64_t t = 0; t <= 5000; t += 1000)
        reg_heartbeat(f->r, &m, t);
    reg_sweep(f->r, 8000);
    assert_int_equal(state_of(f, "w", 8000), REG_W_SUSPECT);
    reg_sweep(f->r, 5000 + 15000 + REG_SLOT_MS);
    assert_int_equal(state_of(f, "w", 21000), REG_W_DEAD);
    int c = find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[c].at_ms, 5000);
}

static void test_evict_and_forget(void **state)
{
    fx *f = *state;
    hb_msg a = beat("a", "g", NULL);
    reg_heartbeat(f->r, &a, 0);
    assert_int_equal(reg_evict(f->r, "nobody", 10), -1);
    assert_int_equal(reg_evict(f->r, "a", 10), 0);
    int c = find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_EVICTED);
    assert_int_equal(state_of(f, "a", 10), REG_W_EVICTED);
    int g = find_ev(&f->s, 0, REG_EV_GROUP_STATE, 1);
    assert_int_equal(f->s.v[g].state, REG_G_SCALED_DOWN);
    /* It keeps beating: it is back, in a new session. */
    reg_heartbeat(f->r, &a, 20);
    assert_int_equal(state_of(f, "a", 20), REG_W_ALIVE);
    uint64_t counts[REG_W__COUNT];
    reg_counts(f->r, counts);
    assert_int_equal(counts[REG_W_ALIVE], 1);
    size_t n = f->s.n;
    assert_int_equal(reg_forget(f->r, "a", 30), 0);
    assert_int_equal(reg_forget(f->r, "a", 30), -1);
    assert_true(find_ev(&f->s, n, REG_EV_WORKER_FORGET, 0) >= 0);
    assert_int_equal(state_of(f, "a", 30), REG_W_NONE);
    reg_counts(f->r, counts);
    assert_int_equal(counts[REG_W_ALIVE], 0);
    reg_sweep(f->r, 60000); /* frees the forgotten record still in the wheel */
}

static void count_one(void *ctx, const reg_view *v)
{
    (void)v;
    (*(size_t *)ctx)++;
}

/* Ids that differ in a digit or two (as fleets name workers), and ids of
 * every length from 2 to 40 (the hash's 8-byte steps and its tail): each
 * shard holds its share, within 6 standard deviations of a fair draw. */
static void test_ids_spread_over_shards(void **state)
{
    static const char a62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    fx *f = *state;
    char id[64];
    size_t n = 0;
    for (int i = 0; i < 16000; i++, n++) {
        snprintf(id, sizeof id, "bench-%06d", i);
        hb_msg m = beat(id, NULL, NULL);
        assert_true(reg_heartbeat(f->r, &m, 1000) != REG_W_NONE);
    }
    for (int len = 2; len <= 40; len++)
        for (int i = 0; i < 100; i++, n++) {
            /* i in base 62, len digits: distinct within a length, and lengths
             * differ, so every id is new */
            for (int k = len - 1, x = i; k >= 0; k--, x /= 62)
                id[k] = a62[x % 62];
            id[len] = '\0';
            hb_msg m = beat(id, NULL, NULL);
            assert_true(reg_heartbeat(f->r, &m, 1000) != REG_W_NONE);
        }
    double mean = (double)n / REG_SHARDS, tol = 6 * sqrt(mean);
    size_t total = 0;
    reg_view v;
    for (unsigned sh = 0; sh < REG_SHARDS; sh++) {
        size_t c = 0;
        memset(&v, 0, sizeof v);
        reg_scan(f->r, sh, 1000, count_one, &c, &v);
        assert_true(fabs((double)c - mean) < tol);
        total += c;
    }
    assert_int_equal(total, n);
}

static void test_group_and_heartbeat_ttl(void **state)
{
    fx *f = *state;
    reg_group_set_ttl(f->r, "batch", 60);
    hb_msg a = beat("a", "batch", NULL), b = beat("b", "batch", NULL);
    b.has |= HB_HAS_TTL;
    b.ttl_s = 5;
    reg_heartbeat(f->r, &a, 0);
    reg_heartbeat(f->r, &b, 0);
    reg_sweep(f->r, 30000);
    assert_int_equal(state_of(f, "a", 30000), REG_W_ALIVE); /* group's 60 s, not 15 */
    assert_int_equal(state_of(f, "b", 30000), REG_W_DEAD);  /* its own 5 s */
    reg_sweep(f->r, 60000 + REG_SLOT_MS);
    assert_int_equal(state_of(f, "a", 61000), REG_W_DEAD);
    reg_view v;
    reg_get(f->r, "a", 0, &v);
    assert_int_equal(v.ttl_s, 60);
}

static void group_cb(void *ctx, const reg_group_view *g)
{
    char *out = ctx;
    char line[256];
    snprintf(line, sizeof line, "%s:%s:%u/%u;", g->name, reg_gstate_name(g->state),
             g->count[REG_W_ALIVE], g->count[REG_W_DEAD]);
    strcat(out, line);
}

static void test_group_move_and_listing(void **state)
{
    fx *f = *state;
    reg_group_set_ttl(f->r, "zeta", 30); /* configured, never seen: unknown */
    hb_msg a = beat("a", "old", NULL);
    reg_heartbeat(f->r, &a, 0);
    hb_msg a2 = beat("a", "new", NULL);
    reg_heartbeat(f->r, &a2, 1000);
    char out[1024] = "";
    reg_groups(f->r, group_cb, out);
    assert_string_equal(out, "new:alive:1/0;old:scaled_down:0/0;zeta:unknown:0/0;");
}

static void test_bye_edge_cases(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", NULL, "i1");
    reg_heartbeat(f->r, &m, 0);
    hb_msg stale = bye("w", 1, 0);
    strcpy(stale.instance, "i0");
    stale.has |= HB_HAS_INSTANCE;
    size_t n = f->s.n;
    assert_int_equal(reg_bye(f->r, &stale, 10), REG_W_NONE);
    assert_int_equal(f->s.n, n);
    assert_int_equal(state_of(f, "w", 10), REG_W_ALIVE);
    /* Unknown worker says bye: remembered as left, no session. */
    hb_msg u = bye("ghost", 0, 0);
    assert_int_equal(reg_bye(f->r, &u, 20), REG_W_LEFT);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 0);
    assert_int_equal(count_ev(&f->s, n, REG_EV_WORKER_STATE), 1);
}

static void test_clock_backwards(void **state)
{
    fx *f = *state;
    hb_msg m = beat("w", NULL, NULL);
    reg_heartbeat(f->r, &m, 10000);
    reg_heartbeat(f->r, &m, 9000);
    reg_view v;
    reg_get(f->r, "w", 9000, &v);
    assert_int_equal(v.last_hb_ms, 10000);
    assert_int_equal(v.state, REG_W_ALIVE);
    reg_sweep(f->r, 9000); /* a sweep in the past does nothing */
    assert_int_equal(state_of(f, "w", 9000), REG_W_ALIVE);
}

static reg_restore_rec rec_open(const char *id, int64_t last_hb, int64_t opened)
{
    reg_restore_rec r = {.worker_id = id,
                         .group = "g",
                         .instance = "i1",
                         .state = REG_W_ALIVE,
                         .state_since_ms = opened,
                         .last_hb_ms = last_hb,
                         .opened_ms = opened};
    return r;
}

static void test_restore_resumes_within_ttl(void **state)
{
    fx *f = *state;
    reg_restore_group(f->r, "g", REG_G_ALIVE, 0);
    reg_restore_rec rec = rec_open("w", 99000, 50000);
    reg_restore(f->r, &rec, 100000, 2000); /* down 2 s, TTL 15 s */
    hb_msg m = beat("w", "g", "i1");
    reg_sweep(f->r, 100000);
    reg_heartbeat(f->r, &m, 110000); /* within boot + TTL */
    assert_int_equal(count_ev(&f->s, 0, REG_EV_SESSION_CLOSE), 0);
    assert_int_equal(count_ev(&f->s, 0, REG_EV_SESSION_OPEN), 0);
    reg_view v;
    reg_get(f->r, "w", 110000, &v);
    assert_int_equal(v.opened_ms, 50000);
    /* Later it dies as usual. */
    reg_sweep(f->r, 110000 + 15000 + REG_SLOT_MS);
    int c = find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[c].at_ms, 110000);
}

static void test_restore_timeout_gap_expired(void **state)
{
    fx *f = *state;
    reg_restore_group(f->r, "g", REG_G_ALIVE, 0);
    /* short outage, never comes back: timeout at its last heartbeat */
    reg_restore_rec a = rec_open("short", 99000, 50000);
    reg_restore(f->r, &a, 100000, 2000);
    /* long outage (60 s > TTL): monitor_gap */
    reg_restore_rec b = rec_open("long", 39000, 10000);
    reg_restore(f->r, &b, 100000, 60000);
    /* died while vigild still ran (last 70 s, vigild stopped at 98 s) */
    reg_restore_rec c = rec_open("early", 70000, 10000);
    reg_restore(f->r, &c, 100000, 2000);
    reg_sweep(f->r, 100000 + REG_SLOT_MS);
    int e = find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, 0);
    assert_true(e >= 0);
    assert_string_equal(f->s.v[e].worker_id, "early");
    assert_int_equal(f->s.v[e].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[e].at_ms, 70000);
    assert_int_equal(count_ev(&f->s, 0, REG_EV_SESSION_CLOSE), 1);
    reg_sweep(f->r, 100000 + 15000 + REG_SLOT_MS);
    assert_int_equal(count_ev(&f->s, 0, REG_EV_SESSION_CLOSE), 3);
    for (int i = 0; i < 3; i++) {
        const reg_event *ev = &f->s.v[find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, i)];
        if (strcmp(ev->worker_id, "short") == 0) {
            assert_int_equal(ev->reason, REG_R_TIMEOUT);
            assert_int_equal(ev->at_ms, 99000);
        } else if (strcmp(ev->worker_id, "long") == 0) {
            assert_int_equal(ev->reason, REG_R_MONITOR_GAP);
            assert_int_equal(ev->at_ms, 39000);
        }
    }
    /* the group saw its last one go without a bye */
    int g = find_ev(&f->s, 0, REG_EV_GROUP_STATE, 0);
    assert_int_equal(f->s.v[g].state, REG_G_CRASHED);
}

static void test_restore_new_instance_restarts(void **state)
{
    fx *f = *state;
    reg_restore_rec a = rec_open("w", 99000, 50000);
    reg_restore(f->r, &a, 100000, 2000);
    hb_msg m = beat("w", "g", "i2");
    reg_heartbeat(f->r, &m, 101000);
    int c = find_ev(&f->s, 0, REG_EV_SESSION_CLOSE, 0);
    assert_int_equal(f->s.v[c].reason, REG_R_RESTARTED);
    assert_int_equal(f->s.v[c].opened_ms, 50000);
    assert_int_equal(f->s.v[c].at_ms, 99000);
}

static void test_many_workers_one_sweep(void **state)
{
    fx *f = *state;
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "worker-%d", i);
        hb_msg m = beat(id, i % 2 ? "odd" : "even", NULL);
        reg_heartbeat(f->r, &m, i % 1000);
    }
    uint64_t counts[REG_W__COUNT];
    reg_counts(f->r, counts);
    assert_int_equal(counts[REG_W_ALIVE], 20000);
    size_t n = f->s.n;
    reg_sweep(f->r, 17000);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 20000);
    reg_counts(f->r, counts);
    assert_int_equal(counts[REG_W_DEAD], 20000);
    assert_int_equal(count_ev(&f->s, n, REG_EV_GROUP_STATE), 2);
    assert_true(reg_memory(f->r) > 20000 * 100);
}

static void count_scan(void *ctx, const reg_view *v)
{
    int *n = ctx;
    n[0]++;
    if (strcmp(v->last.worker_id, "ticker") == 0) n[1] = (int)(v->ticks_moved_ms / 1000);
}

/* reg_scan visits every worker once across the shards; cpu_ticks' last
 * move is kept at second precision and only moves when the value does. */
static void test_scan_and_ticks_moved(void **state)
{
    fx *f = *state;
    char id[32];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "w%d", i);
        hb_msg m = beat(id, "g", NULL);
        reg_heartbeat(f->r, &m, 1000);
    }
    hb_msg t = beat("ticker", "g", NULL);
    t.has |= HB_HAS_CPU_TICKS;
    t.cpu_ticks = 100;
    reg_heartbeat(f->r, &t, 10000);
    reg_heartbeat(f->r, &t, 20000); /* same ticks: did not move */
    reg_view v;
    assert_true(reg_get(f->r, "ticker", 20000, &v));
    assert_int_equal(v.ticks_moved_ms, 10000);
    t.cpu_ticks = 101;
    reg_heartbeat(f->r, &t, 30500);
    assert_true(reg_get(f->r, "ticker", 30500, &v));
    assert_int_equal(v.ticks_moved_ms, 30000);
    assert_true(reg_get(f->r, "w1", 30500, &v));
    assert_int_equal(v.ticks_moved_ms, 0); /* never reported */

    int n[2] = {0, 0};
    reg_view scratch;
    memset(&scratch, 0, sizeof scratch);
    size_t visited = 0;
    for (unsigned sh = 0; sh < REG_SHARDS; sh++)
        visited += reg_scan(f->r, sh, 30500, count_scan, n, &scratch);
    assert_int_equal(visited, 501);
    assert_int_equal(n[0], 501);
    assert_int_equal(n[1], 30);
    assert_int_equal(reg_scan(f->r, REG_SHARDS, 30500, count_scan, n, &scratch), 0);
}

/* A held connection that drops: suspect at once, dead after the grace
 * (not the TTL), unless a heartbeat comes first; another instance's drop is
 * ignored. */
static void test_held_connection_drop(void **state)
{
    fx *f = *state;
    hb_msg a = beat("h1", "g", "i1"), b = beat("h2", "g", "i2");
    reg_heartbeat(f->r, &a, 1000);
    reg_heartbeat(f->r, &b, 1000);
    assert_int_equal(reg_drop(f->r, "nobody", NULL, 1500), -1);
    assert_int_equal(reg_drop(f->r, "h1", "old-instance", 1500), -1);
    assert_int_equal(state_of(f, "h1", 1500), REG_W_ALIVE);
    size_t n = f->s.n;
    assert_int_equal(reg_drop(f->r, "h1", "i1", 1500), 0);
    assert_int_equal(reg_drop(f->r, "h2", NULL, 1500), 0);
    assert_int_equal(state_of(f, "h1", 1500), REG_W_SUSPECT);
    int i = find_ev(&f->s, n, REG_EV_WORKER_STATE, 0);
    assert_true(i >= 0);
    assert_int_equal(f->s.v[i].state, REG_W_SUSPECT);
    assert_int_equal(f->s.v[i].at_ms, 1500);
    /* h2 beats again within the grace: alive, and stays so past it */
    reg_heartbeat(f->r, &b, 2500);
    assert_int_equal(state_of(f, "h2", 2500), REG_W_ALIVE);
    /* the grace (2 s by default) ends: h1 dead, its session closed at its
     * last heartbeat; far before its 15 s TTL */
    reg_sweep(f->r, 3400);
    assert_int_equal(state_of(f, "h1", 3400), REG_W_SUSPECT);
    n = f->s.n;
    reg_sweep(f->r, 3600);
    assert_int_equal(state_of(f, "h1", 3600), REG_W_DEAD);
    i = find_ev(&f->s, n, REG_EV_SESSION_CLOSE, 0);
    assert_true(i >= 0);
    assert_string_equal(f->s.v[i].worker_id, "h1");
    assert_int_equal(f->s.v[i].reason, REG_R_TIMEOUT);
    assert_int_equal(f->s.v[i].at_ms, 1000);
    assert_int_equal(state_of(f, "h2", 3600), REG_W_ALIVE);
    assert_int_equal(count_ev(&f->s, n, REG_EV_SESSION_CLOSE), 1);
    /* no open session: nothing to drop */
    assert_int_equal(reg_drop(f->r, "h1", NULL, 4000), -1);
}

/* A group TTL shortened (SIGHUP) is seen at the new deadline once the
 * workers are filed again, not at the old one. */
static void test_rewheel_after_ttl_change(void **state)
{
    fx *f = *state;
    reg_group_set_ttl(f->r, "g", 60);
    hb_msg a = beat("r1", "g", NULL), b = beat("r2", "other", NULL);
    reg_heartbeat(f->r, &a, 1000);
    reg_heartbeat(f->r, &b, 1000);
    reg_sweep(f->r, 1000);        /* the first sweep visits every slot: done with it */
    reg_forget(f->r, "r2", 1500); /* a zombie in the wheel: rewheel must free it */
    reg_group_set_ttl(f->r, "g", 1);
    reg_sweep(f->r, 2100);
    assert_int_equal(state_of(f, "r1", 2100), REG_W_ALIVE); /* still filed at +60 s */
    reg_rewheel(f->r);
    reg_sweep(f->r, 2200);
    assert_int_equal(state_of(f, "r1", 2200), REG_W_DEAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_heartbeat_opens_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_by_sweep_and_crash_verdict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_exact_on_heartbeat_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bye_clean_and_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_bye_of_last_worker_is_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_on_new_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_forces_new_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspect_by_phi_then_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspect_then_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evict_and_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_spread_over_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_and_heartbeat_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_move_and_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bye_edge_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_resumes_within_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_timeout_gap_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_new_instance_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_workers_one_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_and_ticks_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_connection_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewheel_after_ttl_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
