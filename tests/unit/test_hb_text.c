/* Unit tests for hb_set_kvw, the UDP line's way to set a field: for every
 * key and value it must do exactly what hb_set_kvn does with the same word
 * (same result, same message, same error), say where the word ended, and
 * leave the buffer as it was. Hand-picked values, then random ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/hb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"cpu",       "mem",    "seq",     "ttl_s", "exit_code",
                                   "in_flight", "group",  "thermal", "jobs",  "status",
                                   "task_ms",   "nosuch", "backlog"};

/* One comparison: key, the value's word w, followed in the buffer by tail. */
static void same(const char *key, const char *w, const char *tail, bool bye)
{
    static hb_msg a, b; /* static: 4 KiB of jobs each */
    hb_err ea, eb;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    hb_init(&a);
    hb_init(&b);
    a.kind = b.kind = bye ? HB_BYE : HB_BEAT;

    size_t wl = strcspn(w, " \t"); /* the word: what a line's value is */
    char word[64], buf[128];
    assert_true(wl < sizeof word && strlen(w) + strlen(tail) < sizeof buf);
    memcpy(word, w, wl);
    word[wl] = '\0';
    snprintf(buf, sizeof buf, "%s%s", w, tail);
    char before[128];
    memcpy(before, buf, sizeof buf);

    size_t ha = 0, hb = 0, vlen = 999;
    int ra = hb_set_kvn(&a, key, strlen(key), word, wl, &ha, &ea);
    int rb = hb_set_kvw(&b, key, strlen(key), buf, &vlen, &hb, &eb);
    if (ra != rb || vlen != wl || memcmp(&a, &b, sizeof a) != 0 || memcmp(&ea, &eb, sizeof ea))
        fail_msg("key %s value \"%s\" tail \"%s\": kvn %d kvw %d (vlen %zu, word %zu)", key, w,
                 tail, ra, rb, vlen, wl);
    assert_memory_equal(buf, before, sizeof buf);
    assert_int_equal(ha, hb);
}

static void each(const char *w)
{
    static const char *const tails[] = {"", " seq=1", "\tx"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        for (size_t t = 0; t < 3; t++) {
            same(keys[k], w, tails[t], false);
            same(keys[k], w, tails[t], true);
        }
}

static void test_picked_values(void **state)
{
    (void)state;
    static const char *const vals[] = {
        "0.5",
        "1",
        "0",
        "-0",
        "+1",
        "007",
        "1.",
        ".5",
        "1e-3",
        "1E2",
        "0.1e1",
        "nan",
        "inf",
        "-inf",
        "0x10",
        "",
        "-",
        "+",
        "1.2.3",
        "12abc",
        "2 3",
        "3\t4",
        "fair",
        "serious",
        "a,b",
        "gpu-a1",
        "h\xc3\xa9",
        "9007199254740992",
        "9007199254740993",
        "123456789012345678",
        "1234567890123456789",
        "0.123456789012345",
        "0.1234567890123456",
        "99999999999999999999",
        "-5",
        "2147483648",
        "300",
        "86400",
        "1.0",
        "0.999999999999999",
        "1.000000000000001",
    };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        each(vals[i]);
}

static void test_random_values(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789012345678901234567890123456789..--+eEx \tafr";
    uint32_t x = 2463534242u;
    for (int i = 0; i < 4000; i++) {
        char w[24];
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t n = x % 21;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            w[j] = alpha[x % (sizeof alpha - 1)];
        }
        w[n] = '\0';
        each(w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_picked_values),
        cmocka_unit_test(test_random_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
