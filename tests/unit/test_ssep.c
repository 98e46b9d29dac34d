/* ssep: the Server-Sent Events parser, against the WHATWG interpretation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ssep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the callbacks saw, one line per message: "id|event|data" (data with
 * '\n' as "\\n" and NUL as "\\0"), or "ERR<n> id|event|size" for a skip. */
typedef struct log {
    char text[8192];
    size_t len;
    int stop_after; /* on_msg returns 7 at this message (1-based); 0 never */
    int nmsg;
    bool sizes_only; /* log "id|event|<data_len>" instead of the data */
} log;

static void put(log *l, const char *s, size_t n)
{
    assert_true(l->len + n < sizeof l->text);
    memcpy(l->text + l->len, s, n);
    l->len += n;
    l->text[l->len] = '\0';
}

static int on_msg(void *ctx, const ssep_msg *m)
{
    log *l = ctx;
    assert_non_null(m->data);
    assert_int_equal(m->data[m->data_len], '\0');
    put(l, m->id, strlen(m->id));
    put(l, "|", 1);
    put(l, m->event, strlen(m->event));
    put(l, "|", 1);
    char len[32];
    if (l->sizes_only) put(l, len, (size_t)snprintf(len, sizeof len, "<%zu>", m->data_len));
    for (size_t i = 0; !l->sizes_only && i < m->data_len; i++) {
        if (m->data[i] == '\n')
            put(l, "\\n", 2);
        else if (m->data[i] == '\0')
            put(l, "\\0", 2);
        else
            put(l, &m->data[i], 1);
    }
    put(l, "\n", 1);
    return ++l->nmsg == l->stop_after ? 7 : 0;
}

static int on_error(void *ctx, ssep_err err, const ssep_msg *m)
{
    log *l = ctx;
    assert_null(m->data);
    char buf[256];
    int n = snprintf(buf, sizeof buf, "ERR%d %s|%s|%zu\n", (int)err, m->id, m->event, m->size);
    put(l, buf, (size_t)n);
    return 0;
}

static ssep *parser(log *l, size_t max)
{
    memset(l, 0, sizeof *l);
    ssep_cfg cfg = {.max_msg = max, .on_msg = on_msg, .on_error = on_error, .ctx = l};
    ssep *p = ssep_new(&cfg);
    assert_non_null(p);
    return p;
}

/* The log of feeding s (n bytes) whole, into a fresh parser. */
static const char *parse_n(log *l, const char *s, size_t n)
{
    ssep *p = parser(l, 0);
    assert_int_equal(ssep_feed(p, s, n), 0);
    ssep_free(p);
    return l->text;
}

static const char *parse(log *l, const char *s)
{
    return parse_n(l, s, strlen(s));
}

/* A literal that holds NULs. */
#define PARSE_LIT(l, s) parse_n(l, s, sizeof s - 1)

static void test_fields(void **state)
{
    (void)state;
    log l;
    assert_string_equal(parse(&l, "id: 1796160000000-1\nevent: snapshot\ndata: {\"at\":1}\n\n"),
                        "1796160000000-1|snapshot|{\"at\":1}\n");
    /* Several data lines, joined with '\n'; no event field: "message". */
    assert_string_equal(parse(&l, "data: a\ndata: b\ndata:\ndata: c\n\n"),
                        "|message|a\\nb\\n\\nc\n");
    /* One leading space is dropped, not two; none needed. */
    assert_string_equal(parse(&l, "data:  two\n\ndata:none\n\n"), "|message| two\n|message|none\n");
    /* A line without a colon is a field with an empty value. */
    assert_string_equal(parse(&l, "data\n\n"), "|message|\n");
    assert_string_equal(parse(&l, "event\ndata: x\n\n"), "|message|x\n");
    /* Only the first colon separates: the value may hold more. */
    assert_string_equal(parse(&l, "data: a: b:c\n\n"), "|message|a: b:c\n");
    /* Unknown fields and field names differing in case are ignored. */
    assert_string_equal(parse(&l, "foo: bar\nData: no\nEVENT: no\ndata: yes\n\n"),
                        "|message|yes\n");
    /* The event type is per message; data may hold NULs. */
    assert_string_equal(PARSE_LIT(&l, "event: a\ndata: 1\n\ndata: x\0y\n\n"),
                        "|a|1\n|message|x\\0y\n");
}

static void test_comments_and_empty_messages(void **state)
{
    (void)state;
    log l;
    assert_string_equal(parse(&l, ": keep-alive\n\n:\n\n"), "");
    assert_string_equal(parse(&l, "data: a\n: between\ndata: b\n\n"), "|message|a\\nb\n");
    /* A message with no data line is not dispatched, and its event type
     * does not leak into the next one. */
    assert_string_equal(parse(&l, "event: worker\n\ndata: x\n\n"), "|message|x\n");
    /* Blank lines in a row dispatch nothing more. */
    assert_string_equal(parse(&l, "\n\n\ndata: x\n\n\n\n"), "|message|x\n");
}

static void test_line_ends(void **state)
{
    (void)state;
    log l;
    const char *want = "7|e|a\\nb\n";
    assert_string_equal(parse(&l, "id: 7\nevent: e\ndata: a\ndata: b\n\n"), want);
    assert_string_equal(parse(&l, "id: 7\revent: e\rdata: a\rdata: b\r\r"), want);
    assert_string_equal(parse(&l, "id: 7\r\nevent: e\r\ndata: a\r\ndata: b\r\n\r\n"), want);
    assert_string_equal(parse(&l, "id: 7\r\nevent: e\rdata: a\ndata: b\r\n\n"), want);
    /* "\n\r" is two line ends: the message ends at the second. */
    assert_string_equal(parse(&l, "data: a\n\rdata: b\n\n"), "|message|a\n|message|b\n");
}

static void test_ids(void **state)
{
    (void)state;
    log l;
    /* Kept across messages until another id line. */
    assert_string_equal(parse(&l, "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"),
                        "1|message|a\n1|message|b\n2|message|c\n");
    /* An empty id resets it; an id with a NUL is ignored. */
    assert_string_equal(PARSE_LIT(&l, "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\nid\ndata: c\n\n"),
                        "1|message|a\n1|message|b\n|message|c\n");
    /* A message without data still sets the id. */
    ssep *p = parser(&l, 0);
    assert_string_equal(ssep_last_id(p), "");
    assert_int_equal(ssep_feed(p, "id: 5\n\n", 7), 0);
    assert_string_equal(l.text, "");
    assert_string_equal(ssep_last_id(p), "5");
    ssep_free(p);
}

/* A message cut off by the end of the stream is not dispatched, and its id
 * line does not move the id a client reconnects with. */
static void test_reset(void **state)
{
    (void)state;
    log l;
    ssep *p = parser(&l, 0);
    const char *s = "id: 1\ndata: a\n\nid: 2\ndata: partial";
    assert_int_equal(ssep_feed(p, s, strlen(s)), 0);
    assert_string_equal(ssep_last_id(p), "1");
    ssep_reset(p);
    s = "data: b\n\n";
    assert_int_equal(ssep_feed(p, s, strlen(s)), 0);
    assert_string_equal(l.text, "1|message|a\n1|message|b\n");
    /* A CR at the end of one connection does not eat an LF of the next. */
    assert_int_equal(ssep_feed(p, "data: c\r", 8), 0);
    ssep_reset(p);
    assert_int_equal(ssep_feed(p, "\ndata: d\n\n", 10), 0);
    assert_string_equal(l.text, "1|message|a\n1|message|b\n1|message|d\n");
    ssep_free(p);
}

static void test_retry(void **state)
{
    (void)state;
    log l;
    ssep *p = parser(&l, 0);
    assert_int_equal(ssep_retry(p), -1);
    const char *s = "retry: 2500\n\nretry: 10s\n\nretry:\n\nretry: -1\n\n";
    assert_int_equal(ssep_feed(p, s, strlen(s)), 0);
    assert_int_equal(ssep_retry(p), 2500);
    s = "retry: 99999999999999999999999\n\n";
    assert_int_equal(ssep_feed(p, s, strlen(s)), 0);
    assert_true(ssep_retry(p) > 2500); /* saturates, does not wrap */
    assert_string_equal(l.text, "");
    ssep_free(p);
}

static void test_bom(void **state)
{
    (void)state;
    log l;
    assert_string_equal(parse(&l, "\xEF\xBB\xBF"
                                  "data: x\n\n"),
                        "|message|x\n");
    /* Only one: a second is part of the first field's name. */
    assert_string_equal(parse(&l, "\xEF\xBB\xBF\xEF\xBB\xBF"
                                  "data: x\n\ndata: y\n\n"),
                        "|message|y\n");
    /* Bytes that start like a BOM but are not one are kept. */
    assert_string_equal(parse(&l, "\xEF\xBB"
                                  "data: x\n\ndata: y\n\n"),
                        "|message|y\n");
    ssep *p = parser(&l, 0);
    assert_int_equal(ssep_feed(p, "\xEF", 1), 0);
    assert_int_equal(ssep_feed(p, "\xBB", 1), 0);
    assert_int_equal(ssep_feed(p,
                               "\xBF"
                               "da",
                               3),
                     0);
    assert_int_equal(ssep_feed(p, "ta: z\n\n", 7), 0);
    assert_string_equal(l.text, "|message|z\n");
    ssep_free(p);
}

/* Every rule above in one stream, for the chunking tests. */
static const char corpus[] =
    "\xEF\xBB\xBF: hello\r\n"
    "id: 1796160000000-1\r\nevent: snapshot\r\ndata: {\"workers\":[]}\r\n\r\n"
    "event: worker\rdata: a\rdata\rdata:  b\r\r"
    ": keep-alive\n\n"
    "id: 3\ndata: x: y\n\n"
    "retry: 3000\nevent: nothing\n\n"
    "id: bad\0id\nfoo: bar\ndata: kept id\n\n"
    "id\r\ndata: no id\r\n\n"
    "\n\r\n\r"
    "data: last\n\n"
    "id: 9\ndata: cut off";
#define CORPUS_LEN (sizeof corpus - 1)

static void test_byte_at_a_time(void **state)
{
    (void)state;
    log whole, bytes;
    parse_n(&whole, corpus, CORPUS_LEN);
    assert_string_equal(whole.text, "1796160000000-1|snapshot|{\"workers\":[]}\n"
                                    "1796160000000-1|worker|a\\n\\n b\n"
                                    "3|message|x: y\n"
                                    "3|message|kept id\n"
                                    "|message|no id\n"
                                    "|message|last\n");
    ssep *p = parser(&bytes, 0);
    for (size_t i = 0; i < CORPUS_LEN; i++)
        assert_int_equal(ssep_feed(p, corpus + i, 1), 0);
    assert_string_equal(bytes.text, whole.text);
    assert_int_equal(ssep_retry(p), 3000);
    assert_string_equal(ssep_last_id(p), ""); /* "id: 9" never ended its message */
    ssep_free(p);
}

/* Split in two and in three at every place: the same messages each time. */
static void test_every_split(void **state)
{
    (void)state;
    log whole, split;
    parse_n(&whole, corpus, CORPUS_LEN);
    for (size_t i = 0; i <= CORPUS_LEN; i++)
        for (size_t j = i; j <= CORPUS_LEN; j += 7) {
            ssep *p = parser(&split, 0);
            assert_int_equal(ssep_feed(p, corpus, i), 0);
            assert_int_equal(ssep_feed(p, corpus + i, j - i), 0);
            assert_int_equal(ssep_feed(p, corpus + j, CORPUS_LEN - j), 0);
            assert_string_equal(split.text, whole.text);
            ssep_free(p);
        }
}

/* A message of exactly the cap passes; one byte more is skipped, reported
 * with its size, and the stream goes on. Fed whole or byte by byte alike. */
static void test_cap(void **state)
{
    (void)state;
    enum { CAP = 64 };
    char s[1024];
    /* "id: 1" (5) + "event: big" (10) + "data: " + 43 x = 64 bytes */
    int n = snprintf(s, sizeof s,
                     "id: 1\nevent: big\ndata: %.*s\n\n"
                     "id: 2\nevent: big\ndata: %.*s\n: comments do not count\ndata: more\n\n"
                     "id: 3\ndata: after\n\n",
                     43, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 44,
                     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
    const char *want = "1|big|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
                       "ERR1 2|big|75\n"
                       "3|message|after\n";
    log l;
    ssep *p = parser(&l, CAP);
    assert_int_equal(ssep_feed(p, s, (size_t)n), 0);
    assert_string_equal(l.text, want);
    ssep_free(p);
    p = parser(&l, CAP);
    for (int i = 0; i < n; i++)
        assert_int_equal(ssep_feed(p, s + i, 1), 0);
    assert_string_equal(l.text, want);
    ssep_free(p);

    /* One line far over the cap, arriving in pieces: nothing of it is held. */
    p = parser(&l, CAP);
    assert_int_equal(ssep_feed(p, "data: ", 6), 0);
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 256; i++)
        assert_int_equal(ssep_feed(p, chunk, sizeof chunk), 0);
    assert_int_equal(ssep_feed(p, "\n\ndata: ok\n\n", 12), 0);
    assert_string_equal(l.text, "ERR1 |message|1048582\n|message|ok\n");
    ssep_free(p);
}

static void test_default_cap(void **state)
{
    (void)state;
    /* A few MB, as a snapshot of a big fleet is, passes the default cap. */
    size_t n = 3u * 1024 * 1024;
    char *s = malloc(n + 16);
    assert_non_null(s);
    memcpy(s, "data: ", 6);
    memset(s + 6, 'w', n);
    memcpy(s + 6 + n, "\n\n", 2);
    log l;
    ssep *p = parser(&l, 0);
    l.sizes_only = true;
    assert_int_equal(ssep_feed(p, s, n + 8), 0);
    assert_string_equal(l.text, "|message|<3145728>\n");
    ssep_free(p);
    free(s);
}

/* A callback's non-zero return stops the feed there. */
static void test_stop(void **state)
{
    (void)state;
    log l;
    ssep *p = parser(&l, 0);
    l.stop_after = 2;
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_int_equal(ssep_feed(p, s, strlen(s)), 7);
    assert_string_equal(l.text, "|message|1\n|message|2\n");
    ssep_free(p);
    ssep_cfg none = {0};
    assert_null(ssep_new(&none));
    assert_int_equal(ssep_feed(NULL, "x", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),      cmocka_unit_test(test_comments_and_empty_messages),
        cmocka_unit_test(test_line_ends),   cmocka_unit_test(test_ids),
        cmocka_unit_test(test_reset),       cmocka_unit_test(test_retry),
        cmocka_unit_test(test_bom),         cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_every_split), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_default_cap), cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
