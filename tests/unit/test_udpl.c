/*
 * Unit tests for core/udpl: the UDP line format. Good lines, several per
 * datagram, CRLF, every refusal category, exit codes, signatures (ok, bad,
 * missing), NUL bytes, overlong lines and the datagram size limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/udpl.h"

#define MAX_SEEN 4200 /* lines in the largest datagram test */

/* What the callback saw, line by line. */
typedef struct seen {
    int n;
    int lineno[MAX_SEEN];
    udpl_reason why[MAX_SEEN];
    hb_msg last;
    hb_err err[8]; /* the first few refusals' words */
    int nerr;
} seen;

static void collect(void *ctx, int lineno, const hb_msg *m, udpl_reason why, const hb_err *e)
{
    seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    assert_true((m != NULL) == (why == UDPL_OK));
    assert_true((e != NULL) == (why != UDPL_OK));
    s->lineno[s->n] = lineno;
    s->why[s->n++] = why;
    if (m) s->last = *m;
    if (e && s->nerr < 8) s->err[s->nerr++] = *e;
}

/* udpl_parse cuts its buffer in place: it gets a copy of exactly the n + 1
 * bytes it may write, so a write past them is the sanitizer's to catch. */
static udpl_dgram parse(const char *buf, size_t n, const char *secret, seen *s)
{
    memset(s, 0, sizeof *s);
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, buf, n);
    udpl_dgram d = udpl_parse(copy, n, secret, secret ? strlen(secret) : 0, collect, s);
    free(copy);
    return d;
}

static udpl_dgram parse_str(const char *buf, const char *secret, seen *s)
{
    return parse(buf, strlen(buf), secret, s);
}

/* One line through udpl_line: its reason, and err's field when refused. */
static udpl_reason line(const char *s, hb_msg *m, hb_err *e)
{
    return udpl_line(s, strlen(s), m, e);
}

static void test_good_heartbeat(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    assert_int_equal(
        line("hb gpu-17 group=inference ttl_s=15 cpu=0.31 mem=0.5 thermal=fair "
             "backlog=3 in_flight=2 seq=812 instance=3f2a status=ok jobs=a,b task_ms=12.5",
             &m, &e),
        UDPL_OK);
    assert_int_equal(m.kind, HB_BEAT);
    assert_string_equal(m.worker_id, "gpu-17");
    assert_string_equal(m.group, "inference");
    assert_string_equal(m.instance, "3f2a");
    assert_string_equal(m.status, "ok");
    assert_int_equal(m.ttl_s, 15);
    assert_true(m.cpu > 0.30 && m.cpu < 0.32);
    assert_int_equal(m.thermal, HB_THERMAL_FAIR);
    assert_int_equal(m.backlog, 3);
    assert_int_equal(m.in_flight, 2);
    assert_int_equal(m.seq, 812);
    assert_int_equal(m.njobs, 2);
    assert_string_equal(m.jobs, "a\nb");
    assert_true(m.has & HB_HAS_TASK_MS);
    assert_false(m.has & HB_HAS_EXIT_CODE);

    /* Only the id; blanks anywhere; unknown keys ignored; worker_id as a key
     * does not override the second word. */
    assert_int_equal(line("hb w1", &m, &e), UDPL_OK);
    assert_int_equal(m.has, 0);
    assert_int_equal(line("  hb\tw1   cpu=0.5  colour=blue worker_id=other \t", &m, &e), UDPL_OK);
    assert_string_equal(m.worker_id, "w1");
    assert_int_equal(m.has, HB_HAS_CPU);
    /* A heartbeat does not take an exit code, as in JSON. */
    assert_int_equal(line("hb w1 exit=3 exit_code=4", &m, &e), UDPL_OK);
    assert_false(m.has & HB_HAS_EXIT_CODE);
    /* jobs= (empty) is present and means no jobs. */
    assert_int_equal(line("hb w1 jobs=", &m, &e), UDPL_OK);
    assert_true(m.has & HB_HAS_JOBS);
    assert_int_equal(m.njobs, 0);
    /* A word splits at its first '=': the value keeps any later one, and a
     * word right after a NUL-cut word starts where that one's blank was. */
    assert_int_equal(line("hb w1 status=a=b\tinstance=x==y cpu=0.25", &m, &e), UDPL_OK);
    assert_string_equal(m.status, "a=b");
    assert_string_equal(m.instance, "x==y");
    assert_true(m.has & HB_HAS_CPU);
}

static void test_bye_and_exit_codes(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    assert_int_equal(line("bye w1", &m, &e), UDPL_OK);
    assert_int_equal(m.kind, HB_BYE);
    assert_false(m.has & HB_HAS_EXIT_CODE);
    assert_int_equal(line("bye w1 exit=0", &m, &e), UDPL_OK);
    assert_true(m.has & HB_HAS_EXIT_CODE);
    assert_int_equal(m.exit_code, 0);
    assert_int_equal(line("bye w1 exit=137", &m, &e), UDPL_OK);
    assert_int_equal(m.exit_code, 137);
    assert_int_equal(line("bye w1 exit_code=-1 cpu=0.1", &m, &e), UDPL_OK);
    assert_int_equal(m.exit_code, -1);
    assert_true(m.has & HB_HAS_CPU);
    assert_int_equal(line("bye w1 exit=-2147483648", &m, &e), UDPL_OK);
    assert_int_equal(m.exit_code, INT32_MIN);
    assert_int_equal(line("bye w1 exit=2147483648", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "exit_code");
    assert_int_equal(line("bye w1 exit=x", &m, &e), UDPL_BAD_FIELD);
    assert_int_equal(line("bye w1 exit=1.5", &m, &e), UDPL_BAD_FIELD);
}

/* A refused value carries the very words the JSON door uses. */
static void test_same_words_as_json(void **state)
{
    (void)state;
    static const struct {
        const char *text, *json;
    } cases[] = {
        {"hb w1 cpu=1.5", "{\"worker_id\":\"w1\",\"cpu\":1.5}"},
        {"hb w1 ttl_s=0", "{\"worker_id\":\"w1\",\"ttl_s\":0}"},
        {"hb w1 thermal=hot", "{\"worker_id\":\"w1\",\"thermal\":\"hot\"}"},
        {"hb w1 group=a/b", "{\"worker_id\":\"w1\",\"group\":\"a/b\"}"},
        {"hb w1 backlog=-1", "{\"worker_id\":\"w1\",\"backlog\":-1}"},
        {"hb w1 mem=-0.1", "{\"worker_id\":\"w1\",\"mem\":-0.1}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hb_msg m;
        hb_err t, j;
        assert_int_equal(line(cases[i].text, &m, &t), UDPL_BAD_FIELD);
        assert_int_equal(hb_parse_heartbeat(cases[i].json, strlen(cases[i].json), &m, &j), -1);
        assert_string_equal(t.field, j.field);
        assert_string_equal(t.reason, j.reason);
    }
}

static void test_error_categories(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    assert_int_equal(line("beat w1", &m, &e), UDPL_BAD_VERB);
    assert_int_equal(line("HB w1", &m, &e), UDPL_BAD_VERB);
    assert_int_equal(line("hbw1", &m, &e), UDPL_BAD_VERB);
    assert_int_equal(line("{\"worker_id\":\"w1\"}", &m, &e), UDPL_BAD_VERB);
    assert_string_equal(e.field, "line");
    assert_int_equal(line("hb", &m, &e), UDPL_BAD_ID);
    assert_string_equal(e.field, "worker_id");
    assert_int_equal(line("bye   ", &m, &e), UDPL_BAD_ID);
    assert_int_equal(line("hb w/1", &m, &e), UDPL_BAD_ID);
    assert_int_equal(line("hb cpu=0.5", &m, &e), UDPL_BAD_ID); /* '=' is not an id byte */
    char longid[HB_ID_MAX + 8];
    memset(longid, 'x', sizeof longid);
    memcpy(longid, "hb ", 3);
    longid[3 + HB_ID_MAX + 1] = '\0'; /* 129-byte id */
    assert_int_equal(line(longid, &m, &e), UDPL_BAD_ID);
    longid[3 + HB_ID_MAX] = '\0'; /* 128 bytes: fine */
    assert_int_equal(line(longid, &m, &e), UDPL_OK);
    assert_int_equal(line("hb w1 cpu", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "cpu");
    assert_string_equal(e.reason, "expected key=value");
    assert_int_equal(line("hb w1 =3", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "line");
    assert_int_equal(line("hb w1 cpu=", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "cpu");
    assert_int_equal(line("hb w1 status=\x01x", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "status");
    assert_int_equal(line("hb w1 instance=\xff", &m, &e), UDPL_BAD_FIELD); /* not UTF-8 */
    /* The first bad field decides; a good one after it does not rescue the line. */
    assert_int_equal(line("hb w1 cpu=2 mem=0.5", &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "cpu");
    for (int r = 0; r < UDPL__COUNT; r++)
        assert_string_not_equal(udpl_reason_name(r), "unknown");
    assert_string_equal(udpl_reason_name(UDPL_BAD_FIELD), "bad_field");
    assert_string_equal(udpl_dgram_name(UDPL_D_BAD_SIG), "bad_sig");
}

static void test_nul_and_long_lines(void **state)
{
    (void)state;
    hb_msg m;
    hb_err e;
    static const char nul[] = "hb w1 cpu=0.5\0 mem=0.2";
    assert_int_equal(udpl_line(nul, sizeof nul - 1, &m, &e), UDPL_BAD_BYTES);
    assert_string_equal(e.field, "line");
    /* Wherever the NUL is, it outranks what else is wrong with the line:
     * in the verb, the id, a value, before or after a bad field, last. */
    static const struct {
        const char *s;
        size_t n;
    } nuls[] = {
#define L(lit) {lit, sizeof lit - 1}
        L("hb\0 w1"),         L("h\0b w1"),
        L("nope\0 w1"),       L("hb w\0 cpu=0.5"),
        L("hb w1\0"),         L("hb w1 cpu=0.5\0"),
        L("hb w1 cpu=5\0"),   L("hb w1 cpu=5 \0"),
        L("hb w1 c\0pu=0.5"), L("hb w1 cpu=0.5 \0\r"),
        L("hb ?? \0"),        L("\0"),
#undef L
    };
    for (size_t i = 0; i < sizeof nuls / sizeof *nuls; i++) {
        assert_int_equal(udpl_line(nuls[i].s, nuls[i].n, &m, &e), UDPL_BAD_BYTES);
        assert_string_equal(e.field, "line");
        assert_string_equal(e.reason, "contains a NUL byte");
    }
    /* Without the NUL the same lines are judged as before */
    assert_int_equal(udpl_line("hb w1 cpu=5 ", 12, &m, &e), UDPL_BAD_FIELD);
    assert_string_equal(e.field, "cpu");
    assert_int_equal(udpl_line("hb ?? ", 6, &m, &e), UDPL_BAD_ID);

    char *buf = malloc(UDPL_LINE_MAX + 2);
    assert_non_null(buf);
    memset(buf, ' ', UDPL_LINE_MAX + 2);
    memcpy(buf, "hb w1", 5);
    assert_int_equal(udpl_line(buf, UDPL_LINE_MAX, &m, &e), UDPL_OK); /* exactly the limit */
    buf[UDPL_LINE_MAX] = '\r';
    assert_int_equal(udpl_line(buf, UDPL_LINE_MAX + 1, &m, &e), UDPL_OK); /* + CR */
    buf[UDPL_LINE_MAX] = ' ';
    assert_int_equal(udpl_line(buf, UDPL_LINE_MAX + 1, &m, &e), UDPL_TOO_LONG);
    assert_string_equal(e.field, "line");
    free(buf);

    /* In a datagram: the NUL line is refused, its neighbours are not. */
    static const char dg[] = "hb a\nhb b\0x\nhb c\n";
    seen s;
    assert_int_equal(parse(dg, sizeof dg - 1, NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.why[0], UDPL_OK);
    assert_int_equal(s.why[1], UDPL_BAD_BYTES);
    assert_int_equal(s.why[2], UDPL_OK);
    assert_string_equal(s.last.worker_id, "c");
}

static void test_several_lines_crlf_blank(void **state)
{
    (void)state;
    seen s;
    assert_int_equal(parse_str("hb w1 cpu=0.1\r\n\r\n  \nbye w2 exit=3\r\nhb w3", NULL, &s),
                     UDPL_D_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.lineno[0], 1);
    assert_int_equal(s.lineno[1], 4); /* blank lines counted, not reported */
    assert_int_equal(s.lineno[2], 5);
    assert_string_equal(s.last.worker_id, "w3");
    /* CR before the LF is not part of the last value. */
    assert_int_equal(parse_str("hb w1 status=ok\r\n", NULL, &s), UDPL_D_OK);
    assert_string_equal(s.last.status, "ok");
    /* Good and bad lines side by side: each judged alone. */
    assert_int_equal(parse_str("hb a\nnope a\nhb b cpu=9\nhb c\nhb\n", NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.why[0], UDPL_OK);
    assert_int_equal(s.why[1], UDPL_BAD_VERB);
    assert_int_equal(s.why[2], UDPL_BAD_FIELD);
    assert_int_equal(s.why[3], UDPL_OK);
    assert_int_equal(s.why[4], UDPL_BAD_ID);
    /* Empty and all-blank datagrams: no lines, not an error. */
    assert_int_equal(parse("", 0, NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(parse_str("\n\r\n \t\n", NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 0);
}

typedef struct msgs {
    int n;
    hb_msg m[8];
} msgs;

static void keep(void *ctx, int lineno, const hb_msg *m, udpl_reason why, const hb_err *e)
{
    (void)lineno;
    (void)e;
    msgs *x = ctx;
    assert_int_equal(why, UDPL_OK);
    assert_true(x->n < 8);
    x->m[x->n++] = *m;
}

/* Lines of one datagram look their keys up where the previous line's were
 * (by position): keys that change order, number and kind from line to line,
 * an unknown key and the id key among them, give each line what it gives
 * parsed alone. */
static void test_lines_with_other_keys_alike(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "hb a seq=1 cpu=0.5 mem=0.25 in_flight=3",
        "hb b in_flight=4 seq=2 cpu=0.75",
        "hb c mem=0.5 foo=1 seq=3 worker_id=x status=ok",
        "hb d cpu=0.125",
        "hb e seq=5 cpu=0.5 mem=0.25 in_flight=3 backlog=7 capacity=8 tokens=9 requests=10",
        "bye f exit=3 seq=6",
        "hb g seq=7 cpu=0.5 mem=0.25 in_flight=3",
    };
    char buf[1024];
    size_t n = 0;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", lines[i]);
    msgs x = {0};
    assert_int_equal(udpl_parse(buf, n, NULL, 0, keep, &x), UDPL_D_OK);
    assert_int_equal(x.n, (int)(sizeof lines / sizeof *lines));
    for (int i = 0; i < x.n; i++) {
        hb_msg alone;
        hb_err e;
        assert_int_equal(line(lines[i], &alone, &e), UDPL_OK);
        const hb_msg *a = &x.m[i];
        /* the numbers whole (hb_init zeroes them), the strings to their NULs */
        assert_memory_equal(a, &alone, offsetof(hb_msg, worker_id));
        assert_string_equal(a->worker_id, alone.worker_id);
        assert_string_equal(a->group, alone.group);
        assert_string_equal(a->instance, alone.instance);
        assert_string_equal(a->status, alone.status);
    }
    assert_int_equal(x.m[1].in_flight, 4);
    assert_string_equal(x.m[2].status, "ok");
    assert_int_equal(x.m[4].requests, 10);
    assert_int_equal(x.m[5].exit_code, 3);
}

static void test_signature(void **state)
{
    (void)state;
    const char *secret = "s3cret";
    const char body[] = "hb w1 cpu=0.2\nbye w2\n";
    char dg[256], sig[UDPL_SIG_LINE];
    size_t sl = udpl_sign(secret, strlen(secret), body, strlen(body), sig);
    assert_int_equal(sl, 4 + UDPL_SIG_HEX + 1);
    snprintf(dg, sizeof dg, "%s%s", sig, body);
    seen s;
    assert_int_equal(parse_str(dg, secret, &s), UDPL_D_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.lineno[0], 2);
    /* Upper-case hex and a CRLF after the sig line are fine too. */
    char up[256];
    snprintf(up, sizeof up, "sig ");
    for (int i = 0; i < UDPL_SIG_HEX; i++)
        up[4 + i] = (char)((sig[4 + i] >= 'a' && sig[4 + i] <= 'f') ? sig[4 + i] - 32 : sig[4 + i]);
    snprintf(up + 4 + UDPL_SIG_HEX, sizeof up - 4 - UDPL_SIG_HEX, "\r\n%s", body);
    assert_int_equal(parse_str(up, secret, &s), UDPL_D_OK);
    assert_int_equal(s.n, 2);

    /* Missing: no line reaches the callback. */
    assert_int_equal(parse_str(body, secret, &s), UDPL_D_NO_SIG);
    assert_int_equal(s.n, 0);
    /* Wrong key, tampered body, malformed hex, short signature, empty sig. */
    assert_int_equal(parse_str(dg, "other", &s), UDPL_D_BAD_SIG);
    assert_int_equal(s.n, 0);
    char tampered[256];
    snprintf(tampered, sizeof tampered, "%shb w1 cpu=0.3\nbye w2\n", sig);
    assert_int_equal(parse_str(tampered, secret, &s), UDPL_D_BAD_SIG);
    char bad[256];
    snprintf(bad, sizeof bad, "%s", dg);
    bad[10] = 'g';
    assert_int_equal(parse_str(bad, secret, &s), UDPL_D_BAD_SIG);
    assert_int_equal(parse_str("sig abcd\nhb w1\n", secret, &s), UDPL_D_BAD_SIG);
    assert_int_equal(parse_str("sig \nhb w1\n", secret, &s), UDPL_D_BAD_SIG);
    /* A signature for an empty rest. */
    sl = udpl_sign(secret, strlen(secret), "", 0, sig);
    assert_int_equal(parse(sig, sl - 1, secret, &s), UDPL_D_OK); /* no LF at all */
    assert_int_equal(s.n, 0);

    /* No secret: a sig line is skipped, whatever it says. */
    assert_int_equal(parse_str(dg, NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(parse_str("sig junk\nhb w1\n", NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 1);
    /* "sig" past the first line is just a bad verb. */
    assert_int_equal(parse_str("hb w1\nsig abc\n", NULL, &s), UDPL_D_OK);
    assert_int_equal(s.why[1], UDPL_BAD_VERB);
}

static void test_datagram_size(void **state)
{
    (void)state;
    char *buf = malloc(UDPL_DGRAM_MAX + 1);
    assert_non_null(buf);
    /* Fill exactly UDPL_DGRAM_MAX bytes with "hb wNNNNN\n" lines and padding. */
    size_t n = 0;
    int lines = 0;
    while (n + 16 <= UDPL_DGRAM_MAX) {
        n += (size_t)snprintf(buf + n, 17, "hb w%05d cpu=0\n", lines); /* 16 bytes */
        lines++;
    }
    memset(buf + n, '\n', UDPL_DGRAM_MAX - n);
    seen s;
    assert_int_equal(parse(buf, UDPL_DGRAM_MAX, NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, lines);
    for (int i = 0; i < s.n; i++)
        assert_int_equal(s.why[i], UDPL_OK);
    buf[UDPL_DGRAM_MAX] = '\n';
    assert_int_equal(parse(buf, UDPL_DGRAM_MAX + 1, NULL, &s), UDPL_D_TOO_BIG);
    assert_int_equal(s.n, 0);
    /* One 64 KiB line: too long, refused as a line, not as a datagram. */
    memset(buf, 'x', UDPL_DGRAM_MAX);
    memcpy(buf, "hb w1 ", 6);
    assert_int_equal(parse(buf, UDPL_DGRAM_MAX, NULL, &s), UDPL_D_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.why[0], UDPL_TOO_LONG);
    free(buf);
}

/* udpl_peek: the verb and id the UDP door groups a line by before it parses it. */
static void test_peek_id(void **state)
{
    (void)state;
    static const struct {
        const char *line, *id; /* id NULL: none */
    } cases[] = {
        {"hb w-1 cpu=0.5", "w-1"},
        {"bye w.2", "w.2"},
        {"  hb\tw:3@x  seq=1", "w:3@x"},
        {"hb w4\r", "w4"},
        {"hbx w5", NULL},
        {"hb", NULL},
        {"hb ", NULL},
        {"ping w6", NULL},
        {"by w7", NULL},
        {"hb =x", NULL},
        {"bye w8=9 exit=1", "w8"},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        udpl_head hd = udpl_peek(cases[i].line);
        size_t n = hd.kind < 0 ? 0 : hd.id_len;
        if (!cases[i].id) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(hd.kind,
                         cases[i].line[strspn(cases[i].line, " \t")] == 'b' ? HB_BYE : HB_BEAT);
        assert_int_equal(n, strlen(cases[i].id));
        assert_memory_equal(cases[i].line + hd.id_at, cases[i].id, n);
    }
}

/* udpl_lines hands each non-blank line over NUL-terminated (its CR gone) and
 * uncut, with its line number, and checks the signature first as udpl_parse
 * does. */
typedef struct raw {
    int lineno[8];
    char text[8][32];
    int n;
} raw;

static void on_raw(void *ctx, int lineno, char *line, size_t len)
{
    raw *r = ctx;
    assert_true(r->n < 8 && len < 32);
    assert_int_equal(strlen(line), len);
    r->lineno[r->n] = lineno;
    strcpy(r->text[r->n++], line);
}

static void test_lines_walk(void **state)
{
    (void)state;
    char buf[128];
    raw r = {0};
    const char *d = "hb a x=1\r\n\n \t\nbye b\nhb c"; /* no LF after the last */
    strcpy(buf, d);
    assert_int_equal(udpl_lines(buf, strlen(d), NULL, 0, on_raw, &r), UDPL_D_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "hb a x=1"); /* its CR is the framing's */
    assert_int_equal(r.lineno[0], 1);
    assert_string_equal(r.text[1], "bye b");
    assert_int_equal(r.lineno[1], 4);
    assert_string_equal(r.text[2], "hb c");
    assert_int_equal(r.lineno[2], 5);
    memset(&r, 0, sizeof r);
    strcpy(buf, d);
    assert_int_equal(udpl_lines(buf, strlen(d), "k", 1, on_raw, &r), UDPL_D_NO_SIG);
    assert_int_equal(r.n, 0);
}

/* Line b cut with hints primed by line a (hb_set_hinted takes the keys it
 * expects without a scan or a lookup) and with fresh hints (every key split
 * and looked up): the same verdict, the same error, the same message. */
static void same_hinted(const char *a, const char *b)
{
    static hb_msg ma, mb; /* static: 4 KiB of jobs each */
    hb_err ea, eb;
    char bufa[512], bufb[512], ja[2048], jb[2048];
    udpl_hints primed = {{0}}, fresh = {{0}};
    snprintf(bufa, sizeof bufa, "%s", a);
    udpl_cut(bufa, strlen(bufa), NULL, &ma, &ea, &primed);
    snprintf(bufa, sizeof bufa, "%s", b);
    snprintf(bufb, sizeof bufb, "%s", b);
    udpl_reason ra = udpl_cut(bufa, strlen(bufa), NULL, &ma, &ea, &primed);
    udpl_reason rb = udpl_cut(bufb, strlen(bufb), NULL, &mb, &eb, &fresh);
    if (ra != rb) fail_msg("\"%s\" after \"%s\": %d hinted, %d not", b, a, ra, rb);
    if (ra == UDPL_OK) {
        assert_true(hb_write_json(&ma, ja, sizeof ja) > 0 && hb_write_json(&mb, jb, sizeof jb) > 0);
        if (strcmp(ja, jb) != 0) fail_msg("\"%s\" after \"%s\": %s vs %s", b, a, ja, jb);
    } else {
        assert_string_equal(ea.field, eb.field);
        assert_string_equal(ea.reason, eb.reason);
    }
}

static void test_hinted_keys_same_outcome(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "hb w1 group=inference instance=3f2a9c1e seq=812 ttl_s=15 status=ok cpu=0.31 mem=0.52 "
        "mem_available_gb=41.5 gpu_mem_active_gb=20.1 thermal=nominal backlog=3 capacity=8 "
        "in_flight=2 requests=10421 tokens=993120 cpu_ticks=58211",
        "hb w2 seq=1 cpu=0.42 mem=0.31 in_flight=3",
        "hb w3 cpu=0.42 seq=1 mem=0.31 in_flight=3",
        "hb w4 seq=1 cpu=1.5 mem=0.31",
        "hb w5 seq=-1 cpu=0.1",
        "hb w6 seq=1 cpu= mem=0.3",
        "hb w7 seq=1 cpu mem=0.3",
        "hb w8 seq=1 cpux=0.5 cpu=0.25",
        "hb w9 seq=1 cp=0.5 cpu=0.25",
        "hb w10 group=a/b",
        "hb w11 group=inference instance=caf\xc3\xa9 status=a\x7f",
        "hb w12 group=inference instance=x status=y thermal=hot",
        "hb w13 worker_id=other seq=2",
        "hb w14 exit_code=3 seq=2",
        "bye w15 exit_code=3",
        "bye w16 exit=4",
        "bye w17 exit=4 exit_code=5",
        "hb w18 seq=1 seq=2 seq=x",
        "hb w19 ttl_s=0",
        "hb w20 ttl_s=15 jobs=a,b task_ms=3.5",
        "hb w21 seq=1\tcpu=0.5  mem=0.5",
        "hb w22 =1",
        "hb w23 seq=99999999999999999999",
        "hb w24 cpu=1e-3 mem=.5",
    };
    size_t n = sizeof lines / sizeof *lines;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            same_hinted(lines[i], lines[j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heartbeat),
        cmocka_unit_test(test_bye_and_exit_codes),
        cmocka_unit_test(test_same_words_as_json),
        cmocka_unit_test(test_error_categories),
        cmocka_unit_test(test_nul_and_long_lines),
        cmocka_unit_test(test_several_lines_crlf_blank),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_datagram_size),
        cmocka_unit_test(test_peek_id),
        cmocka_unit_test(test_lines_walk),
        cmocka_unit_test(test_lines_with_other_keys_alike),
        cmocka_unit_test(test_hinted_keys_same_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
