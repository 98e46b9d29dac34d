/* Unit tests for the flat-object JSON scanner, including a differential
 * check against cJSON: both must agree on what is valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/hb_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seen {
    int n;
    char keys[8][HBJ_KEY_CAP + 1];
    hbj_value vals[8];
    char strs[8][HBJ_STR_CAP + 1];
} seen;

static void collect(void *ctx, const char *key, size_t klen, const hbj_value *v)
{
    seen *s = ctx;
    if (s->n >= 8) return;
    size_t k = klen < HBJ_KEY_CAP ? klen : HBJ_KEY_CAP;
    memcpy(s->keys[s->n], key, k);
    s->keys[s->n][k] = '\0';
    s->vals[s->n] = *v;
    if (v->type == HBJ_STRING) {
        size_t l = v->len < HBJ_STR_CAP ? v->len : HBJ_STR_CAP;
        memcpy(s->strs[s->n], v->str, l);
        s->strs[s->n][l] = '\0';
    }
    s->n++;
}

static int scan(const char *doc, seen *s, size_t *at)
{
    memset(s, 0, sizeof *s);
    return hbj_parse_object(doc, strlen(doc), collect, s, at);
}

static void test_members_and_values(void **state)
{
    (void)state;
    seen s;
    size_t at;
    const char *doc = " {\"a\":\"x\\n\\u00e9\\ud83d\\ude00\", \"n\":-12, \"f\":1.5e3, \"t\":true,"
                      " \"z\":null, \"o\":{\"k\":[1,{\"q\":[]}]}, \"big\":123456789012345678} ";
    assert_int_equal(scan(doc, &s, &at), 0);
    assert_int_equal(s.n, 7);
    assert_string_equal(s.keys[0], "a");
    assert_int_equal(s.vals[0].type, HBJ_STRING);
    assert_string_equal(s.strs[0], "x\n\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(s.vals[0].len, 8);
    assert_true(s.vals[1].type == HBJ_NUMBER && s.vals[1].num == -12.0);
    assert_true(s.vals[2].num == 1500.0);
    assert_int_equal(s.vals[3].type, HBJ_TRUE);
    assert_int_equal(s.vals[4].type, HBJ_NULL);
    assert_int_equal(s.vals[5].type, HBJ_OBJECT);
    assert_true(s.vals[6].num == 123456789012345678.0);
}

static void test_nul_escape_keeps_length(void **state)
{
    (void)state;
    seen s;
    size_t at;
    assert_int_equal(scan("{\"id\":\"ab\\u0000cd\",\"k\\u0000\":1}", &s, &at), 0);
    assert_int_equal(s.vals[0].len, 5);
    assert_int_equal(memcmp(s.strs[0], "ab\0cd", 5), 0);
}

static void test_long_string_keeps_length(void **state)
{
    (void)state;
    size_t n = 3 * HBJ_STR_CAP;
    char *doc = malloc(n + 16);
    strcpy(doc, "{\"s\":\"");
    memset(doc + 6, 'x', n);
    strcpy(doc + 6 + n, "\"}");
    seen s;
    size_t at;
    assert_int_equal(scan(doc, &s, &at), 0);
    assert_int_equal(s.vals[0].len, n);
    free(doc);
}

static void test_invalid_and_offsets(void **state)
{
    (void)state;
    seen s;
    size_t at;
    assert_int_equal(scan("{\"a\":1,}", &s, &at), -1);
    assert_int_equal(at, 7);
    assert_int_equal(scan("{\"a\" 1}", &s, &at), -1);
    assert_int_equal(at, 5);
    assert_int_equal(scan("{\"a\":1} x", &s, &at), -1);
    assert_int_equal(at, 8);
    assert_int_equal(scan("[1,2]", &s, &at), -2);
    assert_int_equal(scan("\"s\"", &s, &at), -2);
    assert_int_equal(scan("5", &s, &at), -2);
    assert_int_equal(scan("", &s, &at), -1);
    assert_int_equal(scan("   ", &s, &at), -1);
}

/* A nested container's keys must not overwrite the member's own key, which
 * the callback gets after the value is scanned; its raw span is handed on. */
static void test_container_spans_and_keys(void **state)
{
    (void)state;
    seen s;
    size_t at;
    const char *doc = "{\"cpu\":{\"x\":1},\"jobs\": [ \"a\", {\"worker_id\":[]} ] ,\"e\":{}}";
    assert_int_equal(scan(doc, &s, &at), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "cpu");
    assert_string_equal(s.keys[1], "jobs");
    assert_string_equal(s.keys[2], "e");
    assert_int_equal(s.vals[0].type, HBJ_OBJECT);
    assert_true(s.vals[0].str == strstr(doc, "{\"x\""));
    assert_int_equal(s.vals[0].len, strlen("{\"x\":1}"));
    assert_int_equal(s.vals[1].type, HBJ_ARRAY);
    assert_true(s.vals[1].str == strchr(doc, '['));
    assert_int_equal(s.vals[1].len, strlen("[ \"a\", {\"worker_id\":[]} ]"));
    assert_int_equal(s.vals[2].len, 2);
}

typedef struct elems {
    int n;
    hbj_type types[8];
    char strs[8][16];
} elems;

static void collect_elem(void *ctx, const hbj_value *v)
{
    elems *el = ctx;
    if (el->n >= 8) return;
    el->types[el->n] = v->type;
    if (v->type == HBJ_STRING || v->type == HBJ_ARRAY || v->type == HBJ_OBJECT)
        snprintf(el->strs[el->n], sizeof el->strs[0], "%.*s", (int)v->len, v->str);
    el->n++;
}

static int scan_array(const char *doc, elems *el)
{
    memset(el, 0, sizeof *el);
    return hbj_parse_array(doc, strlen(doc), collect_elem, el);
}

static void test_parse_array(void **state)
{
    (void)state;
    elems el;
    assert_int_equal(scan_array(" [ \"a\\n\u00e9\", 1.5 ,{\"k\":[2]},[],null,true,\"\"] ", &el), 0);
    assert_int_equal(el.n, 7);
    assert_int_equal(el.types[0], HBJ_STRING);
    assert_string_equal(el.strs[0], "a\n\xc3\xa9");
    assert_int_equal(el.types[1], HBJ_NUMBER);
    assert_int_equal(el.types[2], HBJ_OBJECT);
    assert_string_equal(el.strs[2], "{\"k\":[2]}");
    assert_int_equal(el.types[3], HBJ_ARRAY);
    assert_string_equal(el.strs[3], "[]");
    assert_int_equal(el.types[4], HBJ_NULL);
    assert_int_equal(el.types[5], HBJ_TRUE);
    assert_int_equal(el.types[6], HBJ_STRING);
    assert_string_equal(el.strs[6], "");

    assert_int_equal(scan_array("[]", &el), 0);
    assert_int_equal(el.n, 0);
    assert_int_equal(scan_array("[ ]", &el), 0);
    assert_int_equal(scan_array("{}", &el), -2);
    assert_int_equal(scan_array("\"[]\"", &el), -2);
    assert_int_equal(scan_array("7", &el), -2);
    assert_int_equal(scan_array("", &el), -1);
    assert_int_equal(scan_array("[1,]", &el), -1);
    assert_int_equal(scan_array("[1 2]", &el), -1);
    assert_int_equal(scan_array("[1", &el), -1);
    assert_int_equal(scan_array("[1] x", &el), -1);
    assert_int_equal(scan_array("{} x", &el), -1);
}

/* Documents on which hbj and cJSON must agree (valid or not). */
static const char *const corpus[] = {
    "{}",
    "{ }",
    "{\"a\":1}",
    "{\"a\":-0}",
    "{\"a\":0.5}",
    "{\"a\":1e5}",
    "{\"a\":1E-5}",
    "{\"a\":-1.5e+3}",
    "{\"a\":.5}",
    "{\"a\":+1}",
    "{\"a\":1e}",
    "{\"a\":-}",
    "{\"a\":--1}",
    "{\"a\":\"\\x\"}",
    "{\"a\":\"\\u12\"}",
    "{\"a\":tru}",
    "{\"a\":true}",
    "{\"a\":false}",
    "{\"a\":nul}",
    "{\"a\":[1,2,]}",
    "{\"a\":[,]}",
    "{\"a\":{\"b\":}}",
    "{\"a\":{\"b\":1,}}",
    "{\"a\":[[[]]]}",
    "{\"a\":[1 2]}",
    "{a:1}",
    "{\"a\"}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":1,,\"b\":2}",
    "{\"a\":\"unterminated}",
    "{\"a\":1",
    "{\"a\":\"\\ud83d\\ude00\"}",
    "{\"a\":\"\\/\\b\\f\\r\\t\\\"\\\\\"}",
    "{\"a\":[{},{}]}",
    "{\"a\":1}}",
    "{\"a\":1}{",
    "\t{\"a\":1}\r\n",
    "{\"a\":[\"s\",{\"k\":null}]}",
};

/* The integer/10^k fast path must give exactly strtod's double. */
static void test_numbers_match_strtod(void **state)
{
    (void)state;
    uint64_t r = 88172645463325252ull; /* xorshift: fixed, repeatable */
    char doc[96], num[48];
    for (int i = 0; i < 200000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int digits = 1 + (int)(r % 17), frac = (int)((r >> 8) % (unsigned)(digits + 1));
        int k = 0;
        if ((r >> 20) & 1) num[k++] = '-';
        uint64_t d = r >> 24;
        for (int j = 0; j < digits; j++, d /= 10) {
            if (j == digits - frac && frac) num[k++] = '.';
            num[k++] = (char)('0' + (j == 0 && digits - frac > 1 ? 1 + d % 9 : d % 10));
        }
        num[k] = '\0';
        if (num[k - 1] == '.' || (num[0] == '.' || (num[0] == '-' && num[1] == '.'))) continue;
        snprintf(doc, sizeof doc, "{\"n\":%s}", num);
        seen s;
        size_t at;
        if (scan(doc, &s, &at) != 0) continue; /* e.g. a leading zero: not JSON */
        double want = strtod(num, NULL);
        if (memcmp(&want, &s.vals[0].num, sizeof want) != 0)
            fail_msg("%s: got %.17g want %.17g", num, s.vals[0].num, want);
    }
}

/* RFC 8259 forbids these; cJSON 1.7 lets them through (numbers via strtod, a
 * bad hex digit in \u). We hold to the RFC. */
static void test_stricter_than_cjson(void **state)
{
    (void)state;
    static const char *const lax[] = {"{\"a\":01}", "{\"a\":1.}", "{\"a\":-01.5}",
                                      "{\"a\":\"\\u12G4\"}"};
    for (size_t i = 0; i < sizeof lax / sizeof *lax; i++) {
        seen s;
        size_t at;
        assert_int_equal(scan(lax[i], &s, &at), -1);
    }
}

static void test_agrees_with_cjson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
        const char *doc = corpus[i];
        seen s;
        size_t at;
        int ours = scan(doc, &s, &at);
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(doc, strlen(doc) + 1, &end, true);
        int theirs = root ? 0 : -1;
        cJSON_Delete(root);
        if ((ours == 0) != (theirs == 0))
            fail_msg("disagree on %s: hbj %d, cJSON %d", doc, ours, theirs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members_and_values),
        cmocka_unit_test(test_nul_escape_keeps_length),
        cmocka_unit_test(test_long_string_keeps_length),
        cmocka_unit_test(test_invalid_and_offsets),
        cmocka_unit_test(test_container_spans_and_keys),
        cmocka_unit_test(test_parse_array),
        cmocka_unit_test(test_numbers_match_strtod),
        cmocka_unit_test(test_stricter_than_cjson),
        cmocka_unit_test(test_agrees_with_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
