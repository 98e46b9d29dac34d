/*
 * sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), pure and
 * self-contained, so signing a webhook body needs no crypto library. Not
 * constant-time beyond what the algorithm is; fine for signing, and callers
 * that compare secrets use sha256_equal.
 */
#ifndef VIGIL_SHA256_H
#define VIGIL_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32     /* bytes of a digest */
#define SHA256_BLOCK 64   /* bytes of a compression block */
#define SHA256_HEX_LEN 65 /* buffer size for a digest in hex, with the NUL */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t total;            /* bytes hashed so far */
    uint8_t buf[SHA256_BLOCK]; /* a partial block */
    size_t nbuf;
} sha256_ctx;

/* Streaming: init, any number of updates, final (which leaves ctx spent). */
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_LEN]);

/* One shot. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 of msg under key (any length: longer than a block is hashed
 * first, per RFC 2104). */
void sha256_hmac(const void *key, size_t keylen, const void *msg, size_t len,
                 uint8_t out[SHA256_LEN]);

/* Lower-case hex of n bytes into out (2n+1 bytes). Returns out. */
char *sha256_hex(const uint8_t *bytes, size_t n, char *out);

/* Compare two equal-length byte strings in time independent of where they
 * differ (signature checks). */
bool sha256_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
