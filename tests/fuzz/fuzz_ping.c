/*
 * fuzz_ping: a ping URL, "ID[/start|/fail|/bye|/N][?k=v&...]": the path
 * through hb_parse_ping_path, then each query key through hb_set_kv as
 * vigild's ingest_query_fields does (worker_id and exit_code are the
 * path's, so those keys are skipped there too). MHD percent-decodes before
 * vigild sees a value; the fuzzer supplies decoded bytes directly.
 * Checks: an accepted path gives a valid id and a kind/exit code it spells;
 * hb_set_kv either sets a field or, on -1, leaves the message exactly as it
 * was (its contract); the final message round-trips (fuzz.h).
 */
#include "fuzz.h"

#define PING_MAX 8192 /* bytes of input looked at: past MHD's URL limit anyway */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char url[PING_MAX + 1];
    if (size > PING_MAX) size = PING_MAX;
    memcpy(url, data, size);
    url[size] = '\0';
    char *q = strchr(url, '?');
    if (q) *q++ = '\0';

    static hb_msg m, before;
    hb_err e;
    if (hb_parse_ping_path(url, &m, &e) != 0) {
        FUZZ_CHECK(e.field[0] && e.reason[0]);
        return 0;
    }
    fuzz_hb_valid(&m);
    FUZZ_CHECK(strncmp(url, m.worker_id, strlen(m.worker_id)) == 0);
    FUZZ_CHECK((m.kind == HB_BYE) == !!(m.has & HB_HAS_EXIT_CODE));
    if (m.kind == HB_BYE) FUZZ_CHECK(m.exit_code >= 0 && m.exit_code <= 255);

    for (char *kv = q, *next; kv; kv = next) {
        next = strchr(kv, '&');
        if (next) *next++ = '\0';
        char *v = strchr(kv, '=');
        if (v) *v++ = '\0';
        if (strcmp(kv, "worker_id") == 0 || strcmp(kv, "exit_code") == 0) continue;
        memcpy(&before, &m, sizeof m);
        int rc = hb_set_kv(&m, kv, v ? v : "", &e);
        FUZZ_CHECK(rc == 0 || rc == 1 || rc == -1);
        if (rc != 0) FUZZ_CHECK(fuzz_hb_equal(&before, &m));
        if (rc == -1) FUZZ_CHECK(e.field[0] && e.reason[0]);
        if (rc == 1) FUZZ_CHECK(before.has == m.has);
    }
    fuzz_hb_check(&m);
    return 0;
}
