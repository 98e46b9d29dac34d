/* Unit tests for reg_apply_batch: a batch leaves the registry, and each
 * worker's events, exactly as the same messages applied one at a time; a
 * pulled NULL is skipped; a slow item is handed back without the shard's
 * lock. Time is passed in; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/reg.h"
#include "reg_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMSG 5000 /* more than one of reg_batch.c's 4,096-item chunks */
#define NWORKERS 300

typedef struct side {
    reg *r;
    sink s;
} side;

static void side_init(side *x)
{
    reg_config c = {.default_ttl_s = 15, .phi_threshold = 8.0};
    memset(x, 0, sizeof *x);
    x->r = reg_new(&c, collect, &x->s);
    assert_non_null(x->r);
}

static void side_free(side *x)
{
    reg_free(x->r);
    free(x->s.v);
}

/* A mixed stream: beats, starts, new instances and byes (clean, failed),
 * several per worker, so order within a worker decides the outcome. */
static void make_msgs(hb_msg *v, size_t n)
{
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        unsigned w = (x >> 8) % NWORKERS, k = (x >> 20) % 16;
        hb_msg *m = &v[i];
        hb_init(m);
        snprintf(m->worker_id, sizeof m->worker_id, "w-%03u", w);
        m->seq = (int64_t)i;
        m->has |= HB_HAS_SEQ;
        if (w % 3 == 0) {
            snprintf(m->group, sizeof m->group, "g%u", w % 4);
            m->has |= HB_HAS_GROUP;
        }
        if (k == 0) {
            m->kind = HB_BYE;
            m->exit_code = (int32_t)(x % 2);
            m->has |= HB_HAS_EXIT_CODE;
        } else if (k == 1) {
            m->kind = HB_START;
        } else if (k == 2) {
            snprintf(m->instance, sizeof m->instance, "i%u", (x >> 4) % 3);
            m->has |= HB_HAS_INSTANCE;
        }
    }
}

typedef struct bctx {
    side *x;
    const hb_msg *v;
    const reg_wstate *want; /* states as the one-at-a-time side gave them */
    size_t skip_every;      /* pull NULL for these items (refused lines) */
    size_t slow_every;      /* hand these back (slow) */
    size_t done, slow, skipped;
} bctx;

static const hb_msg *pull(void *ctx, size_t i, bool *slow)
{
    bctx *c = ctx;
    if (c->skip_every && i % c->skip_every == 1) {
        c->skipped++;
        return NULL;
    }
    if (c->slow_every && i % c->slow_every == 2) *slow = true;
    return &c->v[i];
}

static void slow(void *ctx, size_t i, const hb_msg *m)
{
    bctx *c = ctx;
    assert_ptr_equal(m, &c->v[i]);
    /* The real caller applies it itself: this takes the very shard's lock,
     * so it would hang here if reg_apply_batch still held it. */
    reg_wstate st = m->kind == HB_BYE ? reg_bye(c->x->r, m, 1000) : reg_heartbeat(c->x->r, m, 1000);
    assert_int_equal(st, c->want[i]);
    c->slow++;
}

static void done(void *ctx, size_t i, const hb_msg *m, reg_wstate st)
{
    bctx *c = ctx;
    assert_ptr_equal(m, &c->v[i]);
    assert_int_equal(st, c->want[i]);
    c->done++;
}

/* The next event of worker id from *i on (group verdicts are not the
 * worker's own: see below), or false. */
static bool next_own(const sink *s, size_t *i, const char *id)
{
    for (; *i < s->n; ++*i)
        if (s->v[*i].kind != REG_EV_GROUP_STATE && strcmp(s->v[*i].worker_id, id) == 0) return true;
    return false;
}

/* Every worker's view and its own events, in order, must match. A group's
 * verdicts count across workers, so the same-millisecond blips between them
 * can differ with the order workers were applied in (as between two HTTP
 * connections); its counts at the end cannot. */
static void assert_same(side *a, side *b, int64_t now)
{
    uint64_t ca[REG_W__COUNT], cb[REG_W__COUNT];
    reg_counts(a->r, ca);
    reg_counts(b->r, cb);
    assert_memory_equal(ca, cb, sizeof ca);
    for (unsigned w = 0; w < NWORKERS; w++) {
        char id[16];
        snprintf(id, sizeof id, "w-%03u", w);
        reg_view va, vb;
        bool ha = reg_get(a->r, id, now, &va), hb = reg_get(b->r, id, now, &vb);
        assert_int_equal(ha, hb);
        if (!ha) continue;
        assert_int_equal(va.state, vb.state);
        assert_int_equal(va.opened_ms, vb.opened_ms);
        assert_int_equal(va.last_hb_ms, vb.last_hb_ms);
        assert_int_equal(va.last.seq, vb.last.seq);
        assert_string_equal(va.last.instance, vb.last.instance);
        assert_string_equal(va.last.group, vb.last.group);
        size_t ia = 0, ib = 0, nev = 0;
        for (;; nev++) {
            bool ea = next_own(&a->s, &ia, id), eb = next_own(&b->s, &ib, id);
            assert_int_equal(ea, eb);
            if (!ea) break;
            assert_int_equal(a->s.v[ia].kind, b->s.v[ib].kind);
            assert_int_equal(a->s.v[ia].state, b->s.v[ib].state);
            assert_int_equal(a->s.v[ia].reason, b->s.v[ib].reason);
            ia++;
            ib++;
        }
        assert_true(nev > 0);
    }
}

/* One time for the whole batch, as the UDP door gives it. */
static void run_case(size_t skip_every, size_t slow_every)
{
    hb_msg *v = malloc(NMSG * sizeof *v);
    reg_wstate *want = malloc(NMSG * sizeof *want);
    uint32_t *hash = malloc(NMSG * sizeof *hash);
    make_msgs(v, NMSG);
    side a, b;
    side_init(&a);
    side_init(&b);
    for (size_t i = 0; i < NMSG; i++) {
        hash[i] = reg_hash(b.r, v[i].worker_id, strlen(v[i].worker_id));
        if (skip_every && i % skip_every == 1) continue;
        want[i] = v[i].kind == HB_BYE ? reg_bye(a.r, &v[i], 1000) : reg_heartbeat(a.r, &v[i], 1000);
    }
    bctx c = {.x = &b, .v = v, .want = want, .skip_every = skip_every, .slow_every = slow_every};
    static const reg_batch_ops ops = {pull, slow, done};
    reg_apply_batch(b.r, hash, NMSG, &ops, &c, 1000);
    assert_int_equal(c.done + c.slow + c.skipped, NMSG);
    assert_int_equal(c.slow > 0, slow_every > 0);
    assert_int_equal(c.skipped > 0, skip_every > 0);
    assert_same(&a, &b, 2000);
    side_free(&a);
    side_free(&b);
    free(v);
    free(want);
    free(hash);
}

static void test_batch_matches_one_at_a_time(void **state)
{
    (void)state;
    run_case(0, 0);
}

static void test_batch_skips_null_items(void **state)
{
    (void)state;
    run_case(7, 0);
}

static void test_slow_items_run_without_the_lock(void **state)
{
    (void)state;
    run_case(0, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_matches_one_at_a_time),
        cmocka_unit_test(test_batch_skips_null_items),
        cmocka_unit_test(test_slow_items_run_without_the_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
