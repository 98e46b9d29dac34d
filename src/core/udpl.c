/*
 * udpl.c: the UDP line format (udpl.h). A line is read where it lies, in the
 * caller's buffer: the verb and the id are split off, then each key=value's
 * key, and hb_set_kvw reads the value in place and says where it ended (a
 * number in the one pass that finds its end), with no copy and no
 * allocation. The signature is checked over the raw bytes before any line
 * is read.
 */
#include "core/udpl.h"

#include "core/sha256.h"

#include <stdint.h>
#include <string.h>

#define ID_REASON "must be 1-128 bytes of [A-Za-z0-9._:@-]"
#define KV_REASON "expected key=value"

static const char *const reason_names[UDPL__COUNT] = {"ok",        "bad_verb", "bad_id",
                                                      "bad_field", "too_long", "bad_bytes"};
static const char *const dgram_names[UDPL_D__COUNT] = {"ok", "no_sig", "bad_sig", "too_big"};

const char *udpl_reason_name(int why)
{
    return why >= 0 && why < UDPL__COUNT ? reason_names[why] : "unknown";
}

const char *udpl_dgram_name(int d)
{
    return d >= 0 && d < UDPL_D__COUNT ? dgram_names[d] : "unknown";
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Byte classes for the key=value scan: ends a word (NUL, blank), or '='.
 * One load a byte instead of three compares; a scan of 8 bytes at a time
 * (SWAR) was tried and cost more on words this short (callgrind). */
enum { C_END = 1, C_EQ = 2 };
static const unsigned char cls[256] = {[0] = C_END, [' '] = C_END, ['\t'] = C_END, ['='] = C_EQ};

static bool is(const char *w, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && memcmp(w, lit, n) == 0;
}
#define IS(w, n, lit) is(w, n, lit, sizeof lit - 1)

/* The key=value word at w (NUL-terminated), the way that splits the key off
 * and looks it up: hb_set_kvw's result (1: ignored), -1 when the word is not
 * key=value at all (no '=': the word names the field; or '=' first: nothing
 * does); *used is the word's length either way. The id key is skipped (the
 * line's words already said it), so a line means what the same JSON
 * heartbeat means; "exit" is exit_code's short name. */
static int set_kv(hb_msg *m, char *w, size_t *hint, size_t *used, hb_err *err)
{
    const unsigned char *u = (const unsigned char *)w;
    size_t klen = 0, vlen = 0;
    while (!cls[u[klen]])
        klen++;
    if (u[klen] != '=' || klen == 0) {
        size_t n = klen;
        while (cls[u[n]] != C_END)
            n++;
        *used = n;
        char field[sizeof err->field];
        size_t k = klen ? (n < sizeof field - 1 ? n : sizeof field - 1) : 0;
        memcpy(field, w, k);
        field[k] = '\0';
        return hb_fail(err, k ? field : "line", KV_REASON);
    }
    char *value = w + klen + 1;
    int rc;
    if (IS(w, klen, "worker_id")) {
        while (cls[u[klen + 1 + vlen]] != C_END)
            vlen++;
        rc = 1;
    } else if (IS(w, klen, "exit")) {
        rc = hb_set_kvw(m, "exit_code", sizeof "exit_code" - 1, value, &vlen, hint, err);
    } else {
        rc = hb_set_kvw(m, w, klen, value, &vlen, hint, err);
    }
    *used = klen + 1 + vlen;
    return rc;
}

static udpl_reason too_long(hb_err *err)
{
    hb_fail(err, "line", "is longer than 8192 bytes");
    return UDPL_TOO_LONG;
}

udpl_reason udpl_line(const char *s, size_t n, hb_msg *out, hb_err *err)
{
    char buf[UDPL_LINE_MAX + 2]; /* the limit, a CR and the NUL udpl_cut puts at n */
    if (n > UDPL_LINE_MAX + 1) return too_long(err);
    memcpy(buf, s, n);
    if (n && buf[n - 1] == '\r') n--;
    udpl_hints h = {{0}};
    return udpl_cut(buf, n, NULL, out, err, &h);
}

/* A refusal stands unless a byte not yet read, from p on, is a NUL: "holds a
 * NUL byte" outranks every other reason, as when the line was searched for
 * one before it was read. A NUL before p would have stopped the scan at it
 * (p is then at it), so [p, n) is all that is left to look at, and only on
 * the way out: the lines that are taken pay no search of their own. */
static udpl_reason refuse(const char *buf, size_t p, size_t n, udpl_reason why, hb_err *err)
{
    if (p < n && memchr(buf + p, '\0', n - p)) {
        hb_fail(err, "line", "contains a NUL byte");
        return UDPL_BAD_BYTES;
    }
    return why;
}

udpl_head udpl_peek(const char *s)
{
    udpl_head hd = {.kind = -1};
    size_t p = 0;
    while (blank(s[p]))
        p++;
    if (s[p] == 'h' && s[p + 1] == 'b') {
        hd.kind = HB_BEAT;
        p += 2;
    } else if (s[p] == 'b' && s[p + 1] == 'y' && s[p + 2] == 'e') {
        hd.kind = HB_BYE;
        p += 3;
    }
    if (hd.kind < 0 || (s[p] && !blank(s[p]))) return (udpl_head){.kind = -1};
    while (blank(s[p]))
        p++;
    hd.id_at = (uint16_t)p;
    hd.id_len = (uint16_t)hb_id_span(s + p);
    return hd;
}

udpl_reason udpl_cut(char *buf, size_t n, const udpl_head *head, hb_msg *out, hb_err *err,
                     udpl_hints *h)
{
    if (n > UDPL_LINE_MAX) return too_long(err);
    buf[n] = '\0';

    udpl_head hd = head ? *head : udpl_peek(buf);
    hb_init(out);
    if (hd.kind < 0) {
        hb_fail(err, "line", "must start with hb or bye");
        return refuse(buf, 0, n, UDPL_BAD_VERB, err);
    }
    out->kind = (uint8_t)hd.kind;
    /* The id: split and checked in the one scan udpl_peek made of it. A
     * byte that is neither an id byte nor a blank or the end makes the word
     * a bad id. */
    size_t p = hd.id_at, idlen = hd.id_len;
    char end = buf[p + idlen];
    if (idlen < 1 || idlen > HB_ID_MAX || (end && !blank(end))) {
        hb_fail(err, "worker_id", ID_REASON);
        return refuse(buf, p, n, UDPL_BAD_ID, err);
    }
    memcpy(out->worker_id, buf + p, idlen);
    out->worker_id[idlen] = '\0';
    p += idlen;
    /* key=value words. First hb_set_hinted tries the key the hints expect
     * at this position (a sender writes its lines' keys in the same order
     * every time): no scan for the key's end, no lookup. Otherwise set_kv
     * splits the key off and hb_set_kvw reads the value, saying where it
     * ended: a number is read in the pass that finds its end. Either takes
     * exit_code only on a bye, as JSON does. */
    size_t hint = 0;
    for (size_t k = 0;; k++) {
        while (blank(buf[p]))
            p++;
        if (!buf[p]) break;
        /* past UDPL_HINTS keys: one running hint, from where the last left off */
        if (k < UDPL_HINTS) hint = h->at[k];
        size_t used;
        int rc = hb_set_hinted(out, buf + p, n - p, &hint, &used, err);
        if (rc == HB_NOT_HINTED) {
            rc = set_kv(out, buf + p, &hint, &used, err);
            /* a field was set: hint is just past it, and this position
             * keeps the field itself (an ignored key leaves its hint) */
            if (k < UDPL_HINTS && rc == 0) h->at[k] = hint - 1;
        }
        p += used;
        if (rc < 0) return refuse(buf, p, n, UDPL_BAD_FIELD, err);
    }
    /* the words ended before the line did: at a NUL of its own */
    return refuse(buf, p, n, UDPL_OK, err);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The sig line is line[0..n) (no LF); body is what it signs. */
static udpl_dgram check_sig(const char *line, size_t n, const char *body, size_t blen,
                            const char *secret, size_t slen)
{
    if (n && line[n - 1] == '\r') n--;
    if (n != 4 + UDPL_SIG_HEX) return UDPL_D_BAD_SIG;
    uint8_t want[SHA256_LEN], got[SHA256_LEN];
    for (size_t i = 0; i < SHA256_LEN; i++) {
        int hi = hexval(line[4 + 2 * i]), lo = hexval(line[5 + 2 * i]);
        if (hi < 0 || lo < 0) return UDPL_D_BAD_SIG;
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    sha256_hmac(secret, slen, body, blen, want);
    return sha256_equal(want, got, SHA256_LEN) ? UDPL_D_OK : UDPL_D_BAD_SIG;
}

static bool is_sig_line(const char *s, size_t n)
{
    return n >= 4 && memcmp(s, "sig", 3) == 0 && blank(s[3]);
}

udpl_dgram udpl_lines(char *buf, size_t n, const char *secret, size_t secret_len, udpl_line_fn fn,
                      void *ctx)
{
    if (n > UDPL_DGRAM_MAX) return UDPL_D_TOO_BIG;
    size_t pos = 0;
    int lineno = 0;
    const char *nl = memchr(buf, '\n', n);
    size_t first = nl ? (size_t)(nl - buf) : n;
    if (is_sig_line(buf, first)) {
        pos = nl ? first + 1 : n;
        lineno = 1;
        if (secret_len) {
            udpl_dgram d = check_sig(buf, first, buf + pos, n - pos, secret, secret_len);
            if (d != UDPL_D_OK) return d;
        }
    } else if (secret_len) {
        return UDPL_D_NO_SIG;
    }
    /* NDJSON's framing (LF or CRLF, blank lines skipped); the line is then
     * ended where its CR or LF was. */
    const char *line;
    size_t len;
    while (hb_ndjson_next(buf, n, &pos, &line, &len, &lineno)) {
        char *s = buf + (line - buf);
        s[len] = '\0';
        fn(ctx, lineno, s, len);
    }
    return UDPL_D_OK;
}

/* udpl_parse's walk: each line cut and parsed as it comes. */
typedef struct parse_ctx {
    udpl_fn fn;
    void *ctx;
    udpl_hints h;
    hb_msg m;
} parse_ctx;

static void parse_line(void *ctx, int lineno, char *s, size_t len)
{
    parse_ctx *c = ctx;
    hb_err err;
    udpl_reason r = udpl_cut(s, len, NULL, &c->m, &err, &c->h);
    c->fn(c->ctx, lineno, r == UDPL_OK ? &c->m : NULL, r, r == UDPL_OK ? NULL : &err);
}

udpl_dgram udpl_parse(char *buf, size_t n, const char *secret, size_t secret_len, udpl_fn fn,
                      void *ctx)
{
    parse_ctx c; /* not an initialiser: that would zero the message's 4 KiB job buffer */
    c.fn = fn;
    c.ctx = ctx;
    memset(&c.h, 0, sizeof c.h);
    return udpl_lines(buf, n, secret, secret_len, parse_line, &c);
}

size_t udpl_sign(const char *secret, size_t secret_len, const char *body, size_t n, char *out)
{
    uint8_t mac[SHA256_LEN];
    sha256_hmac(secret, secret_len, body, n, mac);
    memcpy(out, "sig ", 4);
    sha256_hex(mac, SHA256_LEN, out + 4);
    out[4 + UDPL_SIG_HEX] = '\n';
    out[4 + UDPL_SIG_HEX + 1] = '\0';
    return 4 + UDPL_SIG_HEX + 1;
}
