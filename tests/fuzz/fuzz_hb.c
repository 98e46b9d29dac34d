/*
 * fuzz_hb: a JSON heartbeat and bye body (POST /v1/heartbeat, /v1/bye),
 * through hb_parse_heartbeat and hb_parse_bye. Accepted messages must pass
 * the rules and round-trip through hb_write_json (fuzz.h); a refusal must
 * name a field and a reason.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hb_msg m;
    hb_err e;
    for (int bye = 0; bye < 2; bye++) {
        memset(&e, 0, sizeof e);
        int rc = bye ? hb_parse_bye((const char *)data, size, &m, &e)
                     : hb_parse_heartbeat((const char *)data, size, &m, &e);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            FUZZ_CHECK(m.kind == (bye ? HB_BYE : HB_BEAT));
            fuzz_hb_check(&m);
        } else {
            FUZZ_CHECK(e.field[0] && e.reason[0]);
            FUZZ_CHECK(memchr(e.field, 0, sizeof e.field) && memchr(e.reason, 0, sizeof e.reason));
        }
    }
    return 0;
}
