/*
 * test_ticker: the background ticker's poke. With a period far longer than
 * the test, a poke brings the next call within soon_ms (not the period), a
 * storm of pokes still runs the function at most once per soon_ms, a poke
 * during a call makes the wait after it short, and stop ends a long wait at
 * once. Bounds are loose (a shared machine), each an order of magnitude
 * from the behaviour without the mechanism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/app.h"
#include "server/ticker.h"

#include <stdatomic.h>
#include <string.h>

#define LONG_MS 60000 /* the period: never reached in a test */
#define SOON_MS 20

typedef struct calls {
    atomic_int n;
    atomic_int_least64_t at[4096]; /* mono ms of each call */
    int64_t sleep_ms;              /* each call takes this long */
    ticker *self;                  /* poked from inside the call when set */
} calls;

static void count(void *arg)
{
    calls *c = arg;
    int i = atomic_fetch_add(&c->n, 1);
    if (i < 4096) atomic_store(&c->at[i], app_mono_ms());
    if (c->self && i == 1) ticker_poke(c->self);
    if (c->sleep_ms) app_sleep_ms(c->sleep_ms);
}

/* Wait (bounded) until n calls happened; the time it took. */
static int64_t wait_calls(calls *c, int n, int64_t max_ms)
{
    int64_t t0 = app_mono_ms();
    while (atomic_load(&c->n) < n && app_mono_ms() - t0 < max_ms)
        app_sleep_ms(1);
    return app_mono_ms() - t0;
}

static calls C;
static ticker T;

/* Start T (every_ms, SOON_MS) calling count on C. */
static ticker *start(const char *name, int64_t every_ms)
{
    char err[128];
    assert_int_equal(ticker_start(&T, name, every_ms, SOON_MS, count, &C, err, sizeof err), 0);
    return &T;
}

static int setup(void **state)
{
    (void)state;
    memset(&C, 0, sizeof C);
    memset(&T, 0, sizeof T);
    return 0;
}

static void test_poke_runs_the_next_call_soon(void **state)
{
    (void)state;
    ticker *t = start("t-poke", LONG_MS);
    wait_calls(&C, 1, 5000);
    assert_int_equal(atomic_load(&C.n), 1);
    app_sleep_ms(50);
    assert_int_equal(atomic_load(&C.n), 1); /* no poke: the period holds */
    int64_t t0 = app_mono_ms();
    ticker_poke(t);
    wait_calls(&C, 2, 5000);
    assert_int_equal(atomic_load(&C.n), 2);
    assert_true(atomic_load(&C.at[1]) - t0 < 2000);
    ticker_stop(t);
}

static void test_a_storm_of_pokes_is_paced(void **state)
{
    (void)state;
    ticker *t = start("t-storm", LONG_MS);
    wait_calls(&C, 1, 5000);
    int64_t t0 = app_mono_ms();
    int pokes = 0;
    while (app_mono_ms() - t0 < 300) {
        ticker_poke(t);
        pokes++;
    }
    int64_t span = app_mono_ms() - t0;
    ticker_stop(t);
    int n = atomic_load(&C.n) - 1;
    assert_true(pokes > 1000);
    assert_true(n >= 2);                  /* the pokes were heard */
    assert_true(n <= span / SOON_MS + 2); /* and paced at soon_ms */
    for (int i = 2; i <= n; i++)          /* each call soon_ms after the last ended */
        assert_true(atomic_load(&C.at[i]) - atomic_load(&C.at[i - 1]) >= SOON_MS);
}

static void test_poke_during_a_call_shortens_the_next_wait(void **state)
{
    (void)state;
    C.self = &T;
    C.sleep_ms = 30;
    ticker *t = start("t-inside", 200);
    /* call 0 at start; call 1 after the 200 ms period pokes itself; call 2
     * follows it by ~sleep + soon_ms, not by another period */
    wait_calls(&C, 3, 5000);
    ticker_stop(t);
    assert_true(atomic_load(&C.n) >= 3);
    int64_t gap = atomic_load(&C.at[2]) - atomic_load(&C.at[1]);
    assert_true(gap >= C.sleep_ms + SOON_MS - 1);
    assert_true(gap < 190);
}

static void test_stop_ends_a_long_wait(void **state)
{
    (void)state;
    ticker *t = start("t-stop", LONG_MS);
    wait_calls(&C, 1, 5000);
    int64_t t0 = app_mono_ms();
    ticker_stop(t);
    assert_true(app_mono_ms() - t0 < 2000);
    assert_int_equal(atomic_load(&C.n), 1);
    ticker_poke(t); /* after stop: a no-op */
    ticker_stop(t); /* twice: a no-op */
    ticker z;
    memset(&z, 0, sizeof z);
    ticker_stop(&z); /* never started */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_poke_runs_the_next_call_soon, setup),
        cmocka_unit_test_setup(test_a_storm_of_pokes_is_paced, setup),
        cmocka_unit_test_setup(test_poke_during_a_call_shortens_the_next_wait, setup),
        cmocka_unit_test_setup(test_stop_ends_a_long_wait, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
