/* Unit tests for SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sha256.h"

#include <stdlib.h>
#include <string.h>

static const char *hex_of(const void *data, size_t len)
{
    static char hex[SHA256_HEX_LEN];
    uint8_t d[SHA256_LEN];
    sha256(data, len, d);
    return sha256_hex(d, sizeof d, hex);
}

static const char *hmac_hex(const void *key, size_t klen, const void *msg, size_t mlen)
{
    static char hex[SHA256_HEX_LEN];
    uint8_t d[SHA256_LEN];
    sha256_hmac(key, klen, msg, mlen, d);
    return sha256_hex(d, sizeof d, hex);
}

static void test_fips_vectors(void **state)
{
    (void)state;
    assert_string_equal(hex_of("", 0),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(hex_of("abc", 3),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_string_equal(hex_of(m448, strlen(m448)),
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_string_equal(hex_of(m896, strlen(m896)),
                        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces so every buffering path runs. */
static void test_million_a_streamed(void **state)
{
    (void)state;
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    sha256_ctx c;
    sha256_init(&c);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        sha256_update(&c, a + off, n);
        off += n;
        step = step * 7 % 1031 + 1;
    }
    uint8_t d[SHA256_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_final(&c, d);
    assert_string_equal(sha256_hex(d, sizeof d, hex),
                        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    assert_string_equal(hex_of(a, 1000000), hex);
    free(a);
}

/* Lengths around the padding boundary (55, 56, 63, 64, 65) against one-shot. */
static void test_padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char buf[64];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        assert_string_equal(hex_of(buf, v[i].n), v[i].hex);
}

static void test_rfc4231(void **state)
{
    (void)state;
    uint8_t k[131];
    memset(k, 0x0b, 20);
    assert_string_equal(hmac_hex(k, 20, "Hi There", 8),
                        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const char *m2 = "what do ya want for nothing?";
    assert_string_equal(hmac_hex("Jefe", 4, m2, strlen(m2)),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t d[50];
    memset(k, 0xaa, 20);
    memset(d, 0xdd, 50);
    assert_string_equal(hmac_hex(k, 20, d, 50),
                        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (int i = 0; i < 25; i++)
        k[i] = (uint8_t)(i + 1);
    memset(d, 0xcd, 50);
    assert_string_equal(hmac_hex(k, 25, d, 50),
                        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(k, 0xaa, 131); /* keys longer than a block are hashed first */
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_string_equal(hmac_hex(k, 131, m6, strlen(m6)),
                        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *m7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    assert_string_equal(hmac_hex(k, 131, m7, strlen(m7)),
                        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_equal(void **state)
{
    (void)state;
    uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
    assert_true(sha256_equal(a, b, 4));
    b[3] = 5;
    assert_false(sha256_equal(a, b, 4));
    b[3] = 4, b[0] = 0;
    assert_false(sha256_equal(a, b, 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_million_a_streamed),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
