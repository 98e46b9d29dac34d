/* sse: the stream's wire format and ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sse.h"

#include <string.h>

static void test_encode_one_and_many_lines(void **state)
{
    (void)state;
    char buf[256];
    const char *d = "{\"a\":1}";
    size_t n = sse_encode(buf, sizeof buf, "5-1", "worker", d, strlen(d));
    assert_string_equal(buf, "id: 5-1\nevent: worker\ndata: {\"a\":1}\n\n");
    assert_int_equal(n, strlen(buf));
    assert_int_equal(sse_size("5-1", "worker", d, strlen(d)), n);
    /* newlines in data become data lines; an empty line in data stays one */
    d = "x\n\ny";
    n = sse_encode(buf, sizeof buf, NULL, NULL, d, strlen(d));
    assert_string_equal(buf, "data: x\ndata: \ndata: y\n\n");
    assert_int_equal(sse_size(NULL, NULL, d, strlen(d)), n);
    n = sse_encode(buf, sizeof buf, NULL, "e", "", 0);
    assert_string_equal(buf, "event: e\ndata: \n\n");
    assert_int_equal(sse_size(NULL, "e", "", 0), n);
}

static void test_encode_refuses_short_buffer(void **state)
{
    (void)state;
    char buf[64];
    const char *d = "0123456789";
    size_t need = sse_size("1-2", "ev", d, 10);
    assert_int_equal(sse_encode(buf, need - 1, "1-2", "ev", d, 10), 0);
    assert_int_equal(sse_encode(buf, need, "1-2", "ev", d, 10), need); /* exact fit, no NUL */
    assert_int_equal(sse_comment(buf, 5, "keep-alive"), 0);
    assert_int_equal(sse_comment(buf, sizeof buf, "keep-alive"), 14);
    assert_string_equal(buf, ": keep-alive\n\n");
}

static void test_ids(void **state)
{
    (void)state;
    char id[SSE_ID_MAX];
    sse_format_id(id, 1796160000000LL, 42);
    assert_string_equal(id, "1796160000000-42");
    int64_t run;
    uint64_t seq;
    assert_true(sse_parse_id(id, strlen(id), &run, &seq));
    assert_int_equal(run, 1796160000000LL);
    assert_int_equal(seq, 42);
    sse_format_id(id, INT64_MAX, UINT64_MAX);
    assert_true(sse_parse_id(id, strlen(id), &run, &seq));
    assert_true(run == INT64_MAX && seq == UINT64_MAX);
    static const char *const bad[] = {"",
                                      "-",
                                      "1-",
                                      "-1",
                                      "1-2-3",
                                      "a-1",
                                      "1-b",
                                      " 1-2",
                                      "1-2 ",
                                      "+1-2",
                                      "1--2",
                                      "9223372036854775808-1",
                                      "1-18446744073709551616",
                                      "12"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sse_parse_id(bad[i], strlen(bad[i]), &run, &seq)) fail_msg("accepted \"%s\"", bad[i]);
    assert_false(sse_parse_id("1-2", 2, &run, &seq)); /* length is honoured */
    assert_false(sse_parse_id(NULL, 0, &run, &seq));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_one_and_many_lines),
        cmocka_unit_test(test_encode_refuses_short_buffer),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
