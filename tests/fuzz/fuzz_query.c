/*
 * fuzz_query: a query string, "k=v&k=v...", split as MHD splits it (MHD
 * also percent-decodes; the fuzzer supplies decoded bytes), each value
 * through the parser vigild's routes use for that key:
 *   from, to, before, cursor (time)   tfmt_parse      (http_query_time)
 *   stays_for                         tfmt_parse_duration (http_query_duration)
 *   limit, points, after_id, ...      qry_int         (http_query_int)
 *   min_score, max_score, ...         qry_num         (http_query_num)
 *   hcursor (heartbeat page "T:k")    qry_cursor      (routes_read.c)
 *   group, worker_id                  hb_id_valid     (http_query_id)
 *   anything else                     hb_set_kv       (ping / connect fields)
 * Checks: values land in their bounds, and the canonical text of an
 * accepted value (tfmt_iso, %lld, %.17g, "T:k") parses back to it.
 */
#include "core/qry.h"
#include "core/tfmt.h"
#include "fuzz.h"

#include <inttypes.h>
#include <math.h>

#define QUERY_MAX 8192               /* bytes of input looked at */
#define ISO_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z: tfmt_iso's last 4-digit year */

static void check_time(const char *v)
{
    int64_t ms = 42;
    if (tfmt_parse(v, &ms) != 0) {
        FUZZ_CHECK(ms == 42);
        return;
    }
    char iso[TFMT_ISO_LEN];
    tfmt_iso(ms, iso);
    FUZZ_CHECK(strlen(iso) < TFMT_ISO_LEN);
    if (ms >= 0 && ms <= ISO_MAX_MS) { /* what vigild writes, it reads back */
        int64_t back;
        FUZZ_CHECK(tfmt_parse(iso, &back) == 0 && back == ms);
        /* An ISO time is taken as written, not normalised: "T-1:…" or
         * "02-31" would name another time than the text says. (A leap
         * second, :60, is the one allowed exception.) */
        if (strchr(v, 'T') && strncmp(v + 17, "60", 2) != 0) FUZZ_CHECK(strncmp(iso, v, 19) == 0);
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, ms);
    int64_t back;
    if (ms >= 0 && strlen(digits) <= 15) FUZZ_CHECK(tfmt_parse(digits, &back) == 0 && back == ms);
}

static void check_duration(const char *v)
{
    int64_t ms;
    if (tfmt_parse_duration(v, &ms) != 0) return;
    FUZZ_CHECK(ms >= 0);
    char txt[32];
    snprintf(txt, sizeof txt, "%" PRId64 "ms", ms);
    int64_t back;
    if (ms < (1LL << 53)) FUZZ_CHECK(tfmt_parse_duration(txt, &back) == 0 && back == ms);
}

static void check_int(const char *v, int64_t lo, int64_t hi)
{
    int64_t x = lo - 1;
    if (qry_int(v, lo, hi, &x) != 0) {
        FUZZ_CHECK(x == lo - 1);
        return;
    }
    FUZZ_CHECK(x >= lo && x <= hi);
    char txt[32];
    snprintf(txt, sizeof txt, "%" PRId64, x);
    int64_t back;
    FUZZ_CHECK(qry_int(txt, lo, hi, &back) == 0 && back == x);
}

static void check_num(const char *v)
{
    double x = -1;
    if (qry_num(v, 0, 1, &x) != 0) {
        FUZZ_CHECK(x == -1);
        return;
    }
    FUZZ_CHECK(x >= 0 && x <= 1 && !isnan(x));
    char txt[40];
    snprintf(txt, sizeof txt, "%.17g", x);
    double back;
    FUZZ_CHECK(qry_num(txt, 0, 1, &back) == 0 && back == x);
}

static void check_cursor(const char *v)
{
    int64_t t = -1, k = -1;
    if (qry_cursor(v, 1000, &t, &k) != 0) {
        FUZZ_CHECK(t == -1 && k == -1);
        return;
    }
    FUZZ_CHECK(t >= 0 && k >= 0 && k <= 1000);
    char txt[48];
    snprintf(txt, sizeof txt, "%" PRId64 ":%" PRId64, t, k);
    int64_t t2, k2;
    FUZZ_CHECK(qry_cursor(txt, 1000, &t2, &k2) == 0 && t2 == t && k2 == k);
    const char *c = strchr(v, ':');
    FUZZ_CHECK(c);
    bool zeros = (v[0] == '0' && c - v > 1) || (c[1] == '0' && c[2] != '\0');
    if (!zeros) FUZZ_CHECK(strcmp(txt, v) == 0); /* the text was canonical */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char q[QUERY_MAX + 1];
    if (size > QUERY_MAX) size = QUERY_MAX;
    memcpy(q, data, size);
    q[size] = '\0';
    static hb_msg m, before;
    hb_init(&m);
    memcpy(m.worker_id, "fuzz", 5);
    hb_err e;
    for (char *kv = q, *next; kv; kv = next) {
        next = strchr(kv, '&');
        if (next) *next++ = '\0';
        char *v = strchr(kv, '=');
        if (v)
            *v++ = '\0';
        else
            v = "";
        if (!strcmp(kv, "from") || !strcmp(kv, "to") || !strcmp(kv, "before") ||
            !strcmp(kv, "cursor"))
            check_time(v);
        else if (!strcmp(kv, "stays_for"))
            check_duration(v);
        else if (!strcmp(kv, "limit") || !strcmp(kv, "points"))
            check_int(v, 1, 10000);
        else if (!strcmp(kv, "after_id") || !strcmp(kv, "before_id"))
            check_int(v, 0, INT64_MAX);
        else if (!strcmp(kv, "silence")) /* DELETE /v1/silences/ID */
            check_int(v, 1, INT64_MAX);
        else if (!strcmp(kv, "min_score") || !strcmp(kv, "max_score") ||
                 !strcmp(kv, "min_uptime") || !strcmp(kv, "min_p_stays"))
            check_num(v);
        else if (!strcmp(kv, "hcursor"))
            check_cursor(v);
        else if (!strcmp(kv, "group") || !strcmp(kv, "worker_id")) {
            size_t n = strlen(v);
            bool ok = hb_id_valid(v, n);
            FUZZ_CHECK(!ok || (n >= 1 && n <= HB_ID_MAX &&
                               strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "abcdefghijklmnopqrstuvwxyz"
                                         "0123456789._:@-") == n));
        } else {
            memcpy(&before, &m, sizeof m);
            int rc = hb_set_kv(&m, kv, v, &e);
            if (rc != 0) FUZZ_CHECK(fuzz_hb_equal(&before, &m));
        }
    }
    fuzz_hb_check(&m);
    return 0;
}
