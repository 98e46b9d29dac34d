/*
 * fuzz_sse_id: a Last-Event-ID header (GET /v1/stream resume) through
 * sse_parse_id, as stream.c calls it. Checks: an accepted id is
 * "<digits>-<digits>" and its numbers written back by sse_format_id parse
 * to the same pair; without leading zeros the text is exactly that form.
 */
#include "core/sse.h"
#include "fuzz.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t run = -1;
    uint64_t seq = 7;
    if (!sse_parse_id(s, size, &run, &seq)) {
        FUZZ_CHECK(run == -1 && seq == 7); /* untouched on refusal */
        return 0;
    }
    FUZZ_CHECK(run >= 0);
    const char *dash = memchr(s, '-', size);
    FUZZ_CHECK(dash && dash > s && dash < s + size - 1);
    for (const char *p = s; p < s + size; p++)
        FUZZ_CHECK(p == dash || (*p >= '0' && *p <= '9'));
    char id[SSE_ID_MAX];
    sse_format_id(id, run, seq);
    int64_t run2;
    uint64_t seq2;
    FUZZ_CHECK(sse_parse_id(id, strlen(id), &run2, &seq2) && run2 == run && seq2 == seq);
    bool zeros = (s[0] == '0' && dash - s > 1) || (dash[1] == '0' && s + size - dash > 2);
    if (!zeros) FUZZ_CHECK(strlen(id) == size && memcmp(id, s, size) == 0);
    return 0;
}
