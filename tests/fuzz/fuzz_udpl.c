/*
 * fuzz_udpl: a UDP datagram through udpl_parse. The first input byte picks
 * the mode (the rest is the datagram):
 *   0  no secret: any sig line is skipped, every line is judged;
 *   1  a secret, the datagram as given: accepted only behind a sig line
 *      (which the fuzzer would have to forge; mostly no_sig/bad_sig);
 *   2  a secret, and the harness signs the datagram itself (udpl_sign), so
 *      the lines behind a good signature are reached; it must be UDPL_D_OK.
 * Each line's outcome is checked: a message exactly when the reason is ok
 * (valid and round-tripping, fuzz.h), a named field and reason otherwise,
 * line numbers rising. Mode 0 also walks the datagram as the UDP door does
 * (udpl_lines, udpl_peek, udpl_cut given the peek, with the hints of the
 * lines before it): the same verdicts and messages as each line cut alone
 * with fresh hints, and a line taken has the peeked id.
 */
#include "core/udpl.h"
#include "fuzz.h"

#include <strings.h>

static const char secret[] = "fuzz-secret";

typedef struct seen {
    int last_line;
    size_t calls, max_calls;
} seen;

static void on_line(void *ctx, int lineno, const hb_msg *m, udpl_reason why, const hb_err *err)
{
    seen *s = ctx;
    FUZZ_CHECK(lineno > s->last_line);
    s->last_line = lineno;
    FUZZ_CHECK(++s->calls <= s->max_calls);
    FUZZ_CHECK(why >= UDPL_OK && why < UDPL__COUNT);
    FUZZ_CHECK(strcmp(udpl_reason_name(why), "") != 0);
    if (why == UDPL_OK) {
        FUZZ_CHECK(m && !err);
        fuzz_hb_check(m);
    } else {
        FUZZ_CHECK(!m && err && err->field[0] && err->reason[0]);
    }
}

/* The UDP door's walk (udpl_lines, then udpl_peek, then udpl_cut given the
 * peek): each line must come out as udpl_cut alone makes of it (the peek
 * saves a scan, it must not change a verdict), and a line taken names the
 * id the peek saw, or the door would apply it under another worker's shard. */
static void on_raw(void *ctx, int lineno, char *line, size_t len)
{
    (void)lineno;
    FUZZ_CHECK(line[len] == '\0');
    char *alone = malloc(len + 1);
    FUZZ_CHECK(alone);
    memcpy(alone, line, len + 1);
    udpl_head hd = udpl_peek(line);
    static hb_msg m, m2; /* static: 4 KiB of jobs each */
    hb_err err, err2;
    udpl_hints h2 = {{0}};
    udpl_reason r = udpl_cut(line, len, &hd, &m, &err, ctx);
    FUZZ_CHECK(udpl_cut(alone, len, NULL, &m2, &err2, &h2) == r);
    if (r == UDPL_OK) {
        FUZZ_CHECK(hd.kind == m.kind && strlen(m.worker_id) == hd.id_len);
        FUZZ_CHECK(memcmp(m.worker_id, alone + hd.id_at, hd.id_len) == 0);
        FUZZ_CHECK(fuzz_hb_equal(&m, &m2)); /* hinted (hb_set_hinted) or not: one message */
    } else {
        FUZZ_CHECK(strcmp(err.field, err2.field) == 0 && strcmp(err.reason, err2.reason) == 0);
    }
    free(alone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    seen s = {.max_calls = n};
    udpl_dgram d;
    /* udpl_parse cuts the datagram in place: a copy of exactly the n + 1
     * bytes it may write, so a write past them is the sanitizer's to catch */
    char *copy = malloc(n + 1);
    FUZZ_CHECK(copy);
    memcpy(copy, body, n);
    if (mode == 0) {
        d = udpl_parse(copy, n, NULL, 0, on_line, &s);
        FUZZ_CHECK(d == UDPL_D_OK || d == UDPL_D_TOO_BIG);
        udpl_hints h = {{0}};
        memcpy(copy, body, n);
        FUZZ_CHECK(udpl_lines(copy, n, NULL, 0, on_raw, &h) == d);
    } else if (mode == 1) {
        d = udpl_parse(copy, n, secret, sizeof secret - 1, on_line, &s);
        if (d == UDPL_D_OK) { /* then the first line is the HMAC of what follows it */
            const char *nl = memchr(body, '\n', n);
            size_t first = nl ? (size_t)(nl - body) : n, rest = nl ? first + 1 : n;
            char want[UDPL_SIG_LINE];
            udpl_sign(secret, sizeof secret - 1, body + rest, n - rest, want);
            FUZZ_CHECK(first >= 4 + UDPL_SIG_HEX && memcmp(body, "sig", 3) == 0);
            FUZZ_CHECK(strncasecmp(body + 4, want + 4, UDPL_SIG_HEX) == 0);
        }
    } else {
        char *signed_buf = malloc(UDPL_SIG_LINE + n); /* the sig line's NUL: room for buf[n] */
        FUZZ_CHECK(signed_buf);
        size_t k = udpl_sign(secret, sizeof secret - 1, body, n, signed_buf);
        FUZZ_CHECK(k == UDPL_SIG_LINE - 1);
        memcpy(signed_buf + k, body, n);
        d = udpl_parse(signed_buf, k + n, secret, sizeof secret - 1, on_line, &s);
        FUZZ_CHECK(d == (k + n > UDPL_DGRAM_MAX ? UDPL_D_TOO_BIG : UDPL_D_OK));
        free(signed_buf);
    }
    FUZZ_CHECK(d < UDPL_D__COUNT && strcmp(udpl_dgram_name(d), "") != 0);
    free(copy);
    return 0;
}
