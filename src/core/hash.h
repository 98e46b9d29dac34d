/*
 * hash: the 64-bit string hash and mixer vigil's tables share, so a table
 * keyed by a client's string needs no copy of its own.
 */
#ifndef VIGIL_HASH_H
#define VIGIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over s[0..n), its offset basis XORed with `seed`: 0 for a value
 * that must be the same on every run, a random one where clients choose the
 * strings (then they cannot aim at one probe sequence). Its low bits are
 * weak: mix before taking them. */
static inline uint64_t hash_fnv1a64(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 14695981039346656037ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static inline uint64_t hash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif
