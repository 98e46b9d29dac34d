/* Unit tests for the hub's summary check (core/hubs.h): a node's summary
 * passes, and each broken field is refused by its dotted name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/hubs.h"

#define GOOD                                                                                       \
    "{\"schema_version\":1,\"node_id\":\"n1\",\"run_id\":7,\"seq\":3,"                             \
    "\"window\":{\"from_ms\":1000,\"to_ms\":2000},\"interval_s\":60,"                              \
    "\"workers\":{\"alive\":3},\"groups\":[{\"name\":\"g\",\"state\":\"alive\","                   \
    "\"workers\":{\"alive\":3}}],\"sessions_closed\":{\"failed\":1},"                              \
    "\"heartbeats\":{\"accepted\":10},\"tasks\":[{\"group\":\"\",\"count\":2,\"mean_ms\":1.5},"    \
    "{\"group\":\"*\",\"count\":0,\"mean_ms\":0}],\"future_field\":{\"x\":[1]}}"

/* Check `json`; returns the field refused ("" when it passed). */
static const char *check(const char *json, hubs_meta *m)
{
    static hb_err e;
    memset(&e, 0, sizeof e);
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    hubs_meta tmp;
    int rc = hubs_check(doc, "n1", m ? m : &tmp, &e);
    cJSON_Delete(doc);
    assert_true(rc == 0 ? e.field[0] == '\0' : e.field[0] != '\0');
    return e.field;
}

/* GOOD with the text `from` replaced by `to` (once). */
static const char *with(const char *from, const char *to)
{
    static char buf[2048];
    const char *p = strstr(GOOD, from);
    assert_non_null(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - GOOD), GOOD, to, p + strlen(from));
    return buf;
}

static void test_good(void **state)
{
    (void)state;
    hubs_meta m;
    assert_string_equal(check(GOOD, &m), "");
    assert_int_equal(m.run_id, 7);
    assert_int_equal(m.seq, 3);
    assert_int_equal(m.from_ms, 1000);
    assert_int_equal(m.to_ms, 2000);
    assert_int_equal(m.interval_s, 60);
    /* node_id may be left out (the path names it); an empty window is fine. */
    assert_string_equal(check(with("\"node_id\":\"n1\",", ""), NULL), "");
    assert_string_equal(check(with("\"to_ms\":2000", "\"to_ms\":1000"), NULL), "");
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *field;
    } c[] = {
        {"\"schema_version\":1", "\"schema_version\":2", "schema_version"},
        {"\"schema_version\":1", "\"schema_version\":\"1\"", "schema_version"},
        {"\"node_id\":\"n1\"", "\"node_id\":\"n2\"", "node_id"},
        {"\"node_id\":\"n1\"", "\"node_id\":1", "node_id"},
        {"\"run_id\":7", "\"run_id\":-7", "run_id"},
        {"\"run_id\":7", "\"run_id\":7.5", "run_id"},
        {"\"run_id\":7", "\"run_id\":1e300", "run_id"},
        {"\"seq\":3", "\"seq\":null", "seq"},
        {"\"window\":{\"from_ms\":1000,\"to_ms\":2000}", "\"window\":[]", "window"},
        {"\"from_ms\":1000", "\"from_ms\":\"1000\"", "window.from_ms"},
        {"\"to_ms\":2000", "\"to_ms\":999", "window.to_ms"},
        {"\"interval_s\":60", "\"interval_s\":0", "interval_s"},
        {"\"interval_s\":60", "\"interval_s\":86401", "interval_s"},
        {"\"workers\":{\"alive\":3},\"groups\"", "\"workers\":{\"alive\":-3},\"groups\"",
         "workers.alive"},
        {"\"sessions_closed\":{\"failed\":1}", "\"sessions_closed\":[1]", "sessions_closed"},
        {"\"failed\":1", "\"failed\":true", "sessions_closed.failed"},
        {"\"accepted\":10", "\"accepted\":10.5", "heartbeats.accepted"},
        {"\"tasks\":[", "\"tasks\":{},\"x\":[", "tasks"},
        {"\"group\":\"\",", "\"group\":\"a b\",", "tasks[0].group"},
        {"\"count\":2", "\"count\":-2", "tasks[0].count"},
        {"\"mean_ms\":0}", "\"mean_ms\":-1}", "tasks[1].mean_ms"},
        {"\"name\":\"g\"", "\"name\":\"\"", "groups[0].name"},
        {"\"workers\":{\"alive\":3}}]", "\"workers\":{\"alive\":\"3\"}}]",
         "groups[0].workers.alive"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const char *got = check(with(c[i].from, c[i].to), NULL);
        if (strcmp(got, c[i].field) != 0)
            fail_msg("case %zu (%s): refused %s, want %s", i, c[i].to, got, c[i].field);
    }
    assert_string_equal(check("[]", NULL), "body");
    assert_string_equal(check(with(",\"sessions_closed\":{\"failed\":1}", ""), NULL),
                        "sessions_closed");
}

static void test_node_ids(void **state)
{
    (void)state;
    assert_true(hubs_node_valid("site-a.eu:1@x_y", 15));
    char long_id[70];
    memset(long_id, 'n', sizeof long_id);
    assert_true(hubs_node_valid(long_id, 64));
    assert_false(hubs_node_valid(long_id, 65));
    assert_false(hubs_node_valid("", 0));
    assert_false(hubs_node_valid("a b", 3));
    assert_false(hubs_node_valid("a/b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_node_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
