/* Unit tests for ct_equal: the token comparison behind every bearer check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ct.h"

#include <string.h>

static bool eq(const char *given, const char *want)
{
    return ct_equal(given, strlen(given), want, strlen(want));
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(eq("s3cret-token", "s3cret-token"));
    assert_true(eq("x", "x"));
    const char *tok = "0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_true(eq(tok, tok));
}

static void test_content_differs(void **state)
{
    (void)state;
    assert_false(eq("s3cret-tokeN", "s3cret-token")); /* last byte */
    assert_false(eq("S3cret-token", "s3cret-token")); /* first byte */
    assert_false(eq("s3cret-t0ken", "s3cret-token")); /* middle */
    /* Each single-bit flip of each byte is seen. */
    char want[] = "abcdefgh", given[sizeof want];
    for (size_t i = 0; i < sizeof want - 1; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(given, want, sizeof want);
            given[i] ^= (char)(1 << bit);
            assert_false(ct_equal(given, sizeof want - 1, want, sizeof want - 1));
        }
}

static void test_length_differs(void **state)
{
    (void)state;
    assert_false(eq("s3cret", "s3cret-token"));            /* a prefix */
    assert_false(eq("s3cret-token-more", "s3cret-token")); /* an extension */
    assert_false(eq("", "s3cret-token"));                  /* empty guess */
    /* A guess that repeats to the secret (read cyclically) is still wrong. */
    assert_false(eq("ab", "abab"));
    assert_false(eq("abab", "ab"));
}

static void test_binary_and_empty_secret(void **state)
{
    (void)state;
    /* Lengths are explicit: an embedded NUL counts. */
    assert_true(ct_equal("a\0b", 3, "a\0b", 3));
    assert_false(ct_equal("a\0c", 3, "a\0b", 3));
    assert_false(ct_equal("a", 1, "a\0b", 3));
    /* An empty secret matches nothing, not even an empty guess. */
    assert_false(ct_equal("", 0, "", 0));
    assert_false(ct_equal("x", 1, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_content_differs),
        cmocka_unit_test(test_length_differs),
        cmocka_unit_test(test_binary_and_empty_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
