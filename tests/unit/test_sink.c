/* Unit tests for the sinks' config keys and pure formatters (sink.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/sha256.h"
#include "server/sink.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795426800123LL /* 2026-11-23T09:40:00.123Z, a Monday */

static notice lost(void)
{
    notice n;
    memset(&n, 0, sizeof n);
    n.state = NOTICE_FIRING;
    n.severity = NOTICE_CRITICAL;
    strcpy(n.rule, "gpu-lost");
    strcpy(n.type, "worker_lost");
    strcpy(n.key, "gpu-lost/w1");
    strcpy(n.worker_id, "w1");
    strcpy(n.group, "gpu");
    strcpy(n.instance, "host-3:9000");
    strcpy(n.summary, "worker w1 (gpu) lost: no heartbeat for 15 s");
    n.at_ms = T0;
    n.starts_ms = T0 - 1000;
    n.last_hb_ms = T0 - 15000;
    n.session_ms = 3723000;
    n.in_flight = 4;
    n.njobs = 2;
    strcpy(n.jobs, "job-7\njob-9");
    n.nsinks = 1;
    strcpy(n.sinks[0], "hook");
    return n;
}

/* ---- config ---- */

static sink_cfg cfg_of(const char *name, const char *const *kv)
{
    sink_cfg s;
    char err[256];
    assert_int_equal(sink_cfg_init(&s, name, err, sizeof err), 0);
    for (; *kv; kv += 2) {
        if (sink_cfg_set(&s, kv[0], kv[1], err, sizeof err) != 0) fail_msg("%s", err);
    }
    return s;
}

static void test_cfg_good(void **state)
{
    (void)state;
    char err[256];
    sink_cfg s = cfg_of(
        "mail", (const char *const[]){"type", "smtp", "url", "smtp://127.0.0.1:2525", "from",
                                      "Vigil <vigil@example.org>", "to",
                                      "a@example.org, b@example.org", "timeout", "500ms", NULL});
    assert_int_equal(s.kind, SINK_SMTP);
    assert_int_equal(s.timeout_ms, 500);
    assert_int_equal(sink_cfg_check(&s, err, sizeof err), 0);
    s = cfg_of("hook", (const char *const[]){"type", "webhook", "url", "https://h.example/x",
                                             "secret", "s3cret", "timeout", "2m", NULL});
    assert_int_equal(s.timeout_ms, 120000);
    assert_int_equal(sink_cfg_check(&s, err, sizeof err), 0);
    s = cfg_of("am",
               (const char *const[]){"type", "alertmanager", "url", "http://127.0.0.1:9093", NULL});
    assert_int_equal(s.timeout_ms, SINK_TIMEOUT_DEFAULT_MS);
    assert_int_equal(sink_cfg_check(&s, err, sizeof err), 0);
}

/* Each bad key=value: sink_cfg_set fails and the message names the key. */
static void test_cfg_set_bad(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        {"type", "pagerduty", "'type'"},
        {"timeout", "5 parsecs", "'timeout'"},
        {"timeout", "0s", "'timeout'"},
        {"timeout", "1h", "'timeout'"},
        {"url", "not a url", "'url'"},
        {"from", "nobody", "'from'"},
        {"from", "a@b.c, d@e.f", "'from'"},
        {"to", "a@b.c,,d@e.f", "'to'"},
        {"to", "x", "'to'"},
        {"dashboard_url", "ftp://x", "'dashboard_url'"},
        {"secret", "", "'secret'"},
        {"colour", "blue", "'colour'"},
        {"username", "a\r\nRCPT TO:<x>", "'username'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sink_cfg s;
        char err[256] = "";
        assert_int_equal(sink_cfg_init(&s, "x", err, sizeof err), 0);
        assert_int_equal(sink_cfg_set(&s, bad[i][0], bad[i][1], err, sizeof err), -1);
        if (!strstr(err, bad[i][2]))
            fail_msg("%s=%s: '%s' lacks %s", bad[i][0], bad[i][1], err, bad[i][2]);
    }
    sink_cfg s;
    char err[256] = "";
    assert_int_equal(sink_cfg_init(&s, "bad name", err, sizeof err), -1);
    assert_non_null(strstr(err, "bad name"));
    assert_int_equal(sink_cfg_init(&s, "", err, sizeof err), -1);
}

static void test_cfg_check_bad(void **state)
{
    (void)state;
    static const struct {
        const char *kv[12];
        const char *want;
    } bad[] = {
        {{"url", "http://x", NULL}, "'type' missing"},
        {{"type", "webhook", NULL}, "'url' missing"},
        {{"type", "webhook", "url", "smtp://x", NULL}, "'url'"},
        {{"type", "smtp", "url", "http://x", "from", "a@b.c", "to", "d@e.f", NULL}, "'url'"},
        {{"type", "smtp", "url", "smtp://x", "to", "d@e.f", NULL}, "'from' missing"},
        {{"type", "smtp", "url", "smtp://x", "from", "a@b.c", NULL}, "'to' missing"},
        {{"type", "slack", "url", "https://x", "secret", "k", NULL}, "'secret'"},
        {{"type", "webhook", "url", "https://x", "to", "a@b.c", NULL}, "'to'"},
        {{"type", "smtp", "url", "smtp://x", "from", "a@b.c", "to", "d@e.f", "password", "p", NULL},
         "'password'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sink_cfg s = cfg_of("x", bad[i].kv);
        char err[256] = "";
        assert_int_equal(sink_cfg_check(&s, err, sizeof err), -1);
        if (!strstr(err, bad[i].want)) fail_msg("case %zu: '%s' lacks %s", i, err, bad[i].want);
    }
}

/* ---- formatters ---- */

static void test_webhook_json(void **state)
{
    (void)state;
    notice n = lost();
    char *body = sink_fmt_webhook(&n);
    assert_string_equal(
        body, "{\"schema_version\":1,\"state\":\"firing\",\"severity\":\"critical\","
              "\"rule\":\"gpu-lost\",\"type\":\"worker_lost\",\"key\":\"gpu-lost/w1\","
              "\"worker_id\":\"w1\",\"group\":\"gpu\",\"instance\":\"host-3:9000\","
              "\"summary\":\"worker w1 (gpu) lost: no heartbeat for 15 s\","
              "\"at\":\"2026-11-23T09:40:00.123Z\",\"at_ms\":1795426800123,"
              "\"starts_at\":\"2026-11-23T09:39:59.123Z\",\"starts_ms\":1795426799123,"
              "\"ends_at\":null,\"ends_ms\":null,"
              "\"last_heartbeat_at\":\"2026-11-23T09:39:45.123Z\","
              "\"last_heartbeat_ms\":1795426785123,\"session_ms\":3723000,\"in_flight\":4,"
              "\"jobs\":[\"job-7\",\"job-9\"],\"clean\":false,\"folded\":0,\"folded_ids\":[],"
              "\"field\":null,\"value\":null,"
              "\"limit\":null}");
    free(body);

    /* A resolved group_down with folded workers and unknowns as null. */
    n = lost();
    n.state = NOTICE_RESOLVED;
    strcpy(n.type, "group_down");
    n.worker_id[0] = n.instance[0] = '\0';
    n.ends_ms = T0;
    n.last_hb_ms = n.session_ms = 0;
    n.in_flight = -1;
    n.njobs = 0;
    n.jobs[0] = '\0';
    n.clean = true;
    n.folded = 20; /* more than NOTICE_FOLDED_SHOWN */
    for (int i = 0; i < NOTICE_FOLDED_SHOWN; i++)
        snprintf(n.folded_ids[i], sizeof n.folded_ids[i], "w%d", i);
    strcpy(n.field, "alive");
    n.value = 0, n.limit = 1;
    body = sink_fmt_webhook(&n);
    cJSON *o = cJSON_Parse(body);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "resolved");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "worker_id")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "instance")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "in_flight")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "jobs")), 0); /* [], not null */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "session_ms")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "last_heartbeat_at")));
    assert_string_equal(cJSON_GetObjectItem(o, "ends_at")->valuestring, "2026-11-23T09:40:00.123Z");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "clean")));
    assert_int_equal(cJSON_GetObjectItem(o, "folded")->valueint, 20);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "folded_ids")), NOTICE_FOLDED_SHOWN);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "folded_ids"), 15)->valuestring,
                        "w15");
    assert_string_equal(cJSON_GetObjectItem(o, "field")->valuestring, "alive");
    assert_true(cJSON_GetObjectItem(o, "limit")->valuedouble == 1);
    cJSON_Delete(o);
    free(body);
}

static void test_signature(void **state)
{
    (void)state;
    char sig[80];
    const char *body = "{\"a\":1}";
    sink_fmt_signature("s3cret", body, strlen(body), sig);
    /* python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"{\"a\":1}",
     *             hashlib.sha256).hexdigest())' */
    assert_string_equal(sig,
                        "sha256=5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d");
}

static void test_slack(void **state)
{
    (void)state;
    notice n = lost();
    strcpy(n.summary, "worker <w1> & co lost");
    char *body = sink_fmt_slack(&n, "https://vigil.example/ui");
    cJSON *o = cJSON_Parse(body);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(o), 1);
    assert_string_equal(cJSON_GetObjectItem(o, "text")->valuestring,
                        ":red_circle: *FIRING* critical: worker &lt;w1&gt; &amp; co lost\n"
                        "worker: `w1` · group: `gpu` · rule: `gpu-lost` · since "
                        "2026-11-23T09:39:59.123Z\n"
                        "<https://vigil.example/ui|Open the vigil dashboard>");
    cJSON_Delete(o);
    free(body);
    n.state = NOTICE_RESOLVED;
    n.ends_ms = T0;
    body = sink_fmt_slack(&n, "");
    assert_non_null(strstr(body, ":large_green_circle: *RESOLVED* critical"));
    assert_non_null(strstr(body, "ended 2026-11-23T09:40:00.123Z"));
    assert_null(strstr(body, "dashboard"));
    free(body);
}

static void test_email(void **state)
{
    (void)state;
    notice n = lost();
    strcpy(n.summary, "worker w1 lost");
    char *m = sink_fmt_email(&n, "Vigil <vigil@example.org>", "a@example.org, b@example.org",
                             "https://vigil.example/ui");
    const char *head = "Date: Mon, 23 Nov 2026 09:40:00 +0000\r\n"
                       "From: Vigil <vigil@example.org>\r\n"
                       "To: a@example.org, b@example.org\r\n"
                       "Subject: [vigil] FIRING critical: worker w1 lost\r\n"
                       "Message-ID: <vigil.1795426800123.";
    assert_memory_equal(m, head, strlen(head));
    assert_non_null(strstr(m, "@example.org>\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(m, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(m, "\r\n\r\nworker w1 lost\r\n\r\nstate: firing\r\n"));
    assert_non_null(strstr(m, "worker: w1\r\ngroup: gpu\r\ninstance: host-3:9000\r\n"));
    assert_non_null(strstr(m, "session length: 1h 02m 03s\r\nin flight: 4\r\n"
                              "jobs (2):\r\n  job-7\r\n  job-9\r\n"));
    assert_non_null(strstr(m, "Dashboard: https://vigil.example/ui\r\n"));
    for (const char *p = m; *p; p++) /* every line ends in CRLF */
        if (*p == '\n') assert_true(p > m && p[-1] == '\r');
    /* The same notice gives the same Message-ID; another state another one. */
    char *m2 = sink_fmt_email(&n, "Vigil <vigil@example.org>", "a@example.org", "");
    assert_memory_equal(strstr(m, "Message-ID"), strstr(m2, "Message-ID"), 60);
    free(m2);
    n.state = NOTICE_RESOLVED;
    n.ends_ms = T0;
    m2 = sink_fmt_email(&n, "vigil@example.org", "a@example.org", "");
    assert_non_null(strstr(m2, "Subject: [vigil] RESOLVED critical: worker w1 lost\r\n"));
    assert_memory_not_equal(strstr(m, "Message-ID"), strstr(m2, "Message-ID"), 60);
    free(m2);
    free(m);
    /* Non-ASCII summary: an RFC 2047 encoded-word, no raw 8-bit in the header. */
    strcpy(n.summary, "Wörker");
    m = sink_fmt_email(&n, "v@x.org", "a@x.org", "");
    assert_non_null(
        strstr(m, "Subject: =?UTF-8?B?W3ZpZ2lsXSBSRVNPTFZFRCBjcml0aWNhbDogV8O2cmtlcg==?="));
    free(m);
    char subj[128];
    n.state = NOTICE_REPEAT;
    n.severity = NOTICE_WARNING;
    strcpy(n.summary, "group gpu down");
    sink_fmt_subject(&n, subj, sizeof subj);
    assert_string_equal(subj, "[vigil] FIRING (repeat) warning: group gpu down");
}

static void test_alertmanager(void **state)
{
    (void)state;
    notice n = lost();
    char *body = sink_fmt_alertmanager(&n, "https://vigil.example/ui");
    cJSON *arr = cJSON_Parse(body);
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    cJSON *a = cJSON_GetArrayItem(arr, 0), *l = cJSON_GetObjectItem(a, "labels");
    assert_int_equal(cJSON_GetArraySize(l), 7);
    assert_string_equal(cJSON_GetObjectItem(l, "alertname")->valuestring, "gpu-lost");
    assert_string_equal(cJSON_GetObjectItem(l, "severity")->valuestring, "critical");
    assert_string_equal(cJSON_GetObjectItem(l, "type")->valuestring, "worker_lost");
    assert_string_equal(cJSON_GetObjectItem(l, "vigil_key")->valuestring, "gpu-lost/w1");
    assert_string_equal(cJSON_GetObjectItem(l, "worker_id")->valuestring, "w1");
    assert_string_equal(cJSON_GetObjectItem(l, "group")->valuestring, "gpu");
    assert_string_equal(cJSON_GetObjectItem(l, "instance")->valuestring, "host-3:9000");
    cJSON *an = cJSON_GetObjectItem(a, "annotations");
    assert_string_equal(cJSON_GetObjectItem(an, "summary")->valuestring, n.summary);
    assert_non_null(strstr(cJSON_GetObjectItem(an, "description")->valuestring, "in flight: 4\n"));
    assert_string_equal(cJSON_GetObjectItem(a, "startsAt")->valuestring,
                        "2026-11-23T09:39:59.123Z");
    /* Firing: held SINK_AM_HOLD_MS (1 h) past the notice. */
    assert_string_equal(cJSON_GetObjectItem(a, "endsAt")->valuestring, "2026-11-23T10:40:00.123Z");
    assert_string_equal(cJSON_GetObjectItem(a, "generatorURL")->valuestring,
                        "https://vigil.example/ui");
    cJSON_Delete(arr);
    free(body);

    /* Resolved: ends when it ended; empty labels left out; no generatorURL. */
    n.state = NOTICE_RESOLVED;
    n.ends_ms = T0 + 5000;
    n.worker_id[0] = n.instance[0] = '\0';
    body = sink_fmt_alertmanager(&n, "");
    arr = cJSON_Parse(body);
    a = cJSON_GetArrayItem(arr, 0);
    l = cJSON_GetObjectItem(a, "labels");
    assert_null(cJSON_GetObjectItem(l, "worker_id"));
    assert_null(cJSON_GetObjectItem(l, "instance"));
    assert_string_equal(cJSON_GetObjectItem(a, "endsAt")->valuestring, "2026-11-23T09:40:05.123Z");
    assert_null(cJSON_GetObjectItem(a, "generatorURL"));
    cJSON_Delete(arr);
    free(body);
}

static void test_details_truncates(void **state)
{
    (void)state;
    notice n = lost();
    char small[20];
    size_t w = sink_fmt_details(&n, small, sizeof small);
    assert_int_equal(w, sizeof small - 1);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_good),
        cmocka_unit_test(test_cfg_set_bad),
        cmocka_unit_test(test_cfg_check_bad),
        cmocka_unit_test(test_webhook_json),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_slack),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_alertmanager),
        cmocka_unit_test(test_details_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
