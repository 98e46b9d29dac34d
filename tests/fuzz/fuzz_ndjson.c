/*
 * fuzz_ndjson: an NDJSON batch (POST /v1/heartbeats): hb_ndjson_next over
 * the buffer, each line through hb_parse_heartbeat as vigild does. Checks
 * the iterator's contract (lines lie inside the buffer, hold no LF, are not
 * blank, positions only advance, line numbers count every line) and each
 * accepted heartbeat as fuzz_hb does.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t pos = 0, prev = 0, lfs_before = 0;
    int lineno = 0, lines = 0;
    const char *line;
    size_t len;
    static hb_msg m;
    hb_err e;
    while (hb_ndjson_next(buf, size, &pos, &line, &len, &lineno)) {
        FUZZ_CHECK(++lines <= (int)size); /* bounded: each line takes a byte */
        FUZZ_CHECK(pos > prev && pos <= size);
        FUZZ_CHECK(line >= buf + prev && line + len <= buf + pos && len > 0);
        FUZZ_CHECK(!memchr(line, '\n', len));
        FUZZ_CHECK(line[len - 1] != '\r' || (line + len < buf + size && line[len] == '\r'));
        /* lineno counts the LFs before the line, plus one */
        for (const char *p = buf + prev; p < line; p++)
            lfs_before += *p == '\n';
        FUZZ_CHECK(lineno == (int)lfs_before + 1);
        for (const char *p = line; p < buf + pos; p++)
            lfs_before += *p == '\n';
        prev = pos;
        if (hb_parse_heartbeat(line, len, &m, &e) == 0) fuzz_hb_check(&m);
    }
    FUZZ_CHECK(pos == size);
    return 0;
}
