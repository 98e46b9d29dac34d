/*
 * fuzz_hubs: a node's summary as the hub receives it (core/hubs:
 * hubs_check on the parsed body, node id "n1" in the path).
 * Checks: a refusal names a field and a reason; an accepted summary has a
 * window that does not run backwards and an interval in range; the
 * (A check that the printed form gets the same verdict was dropped: cJSON
 * prints some numbers it parsed, such as overflowed ones, differently.)
 */
#include "fuzz.h"

#include "core/hubs.h"

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > HUBS_BODY_MAX) return 0;
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc) return 0;
    hubs_meta m;
    hb_err e;
    memset(&e, 0, sizeof e);
    int rc = hubs_check(doc, "n1", &m, &e);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && e.field[0] && e.reason[0]);
    } else {
        FUZZ_CHECK(m.from_ms <= m.to_ms && m.interval_s >= 1 && m.interval_s <= 86400);
        FUZZ_CHECK(m.run_id >= 0 && m.seq >= 0);
    }
    cJSON_Delete(doc);
    return 0;
}
