/*
 * hb_path.c: the two heartbeat forms that are not a body of fields: a ping
 * URL's path (GET/POST /ping/ID[/start|fail|bye|N]), and the line framing of
 * an NDJSON body, whose lines hb.c then parses one by one.
 */
#include "core/hb.h"

#include <string.h>

int hb_parse_ping_path(const char *path, hb_msg *out, hb_err *err)
{
    static const char usage[] = "must be ID, ID/start, ID/fail, ID/bye or ID/<exit code>";
    if (!path) return hb_fail(err, "path", usage);
    const char *slash = strchr(path, '/');
    size_t idlen = slash ? (size_t)(slash - path) : strlen(path);
    if (!hb_id_valid(path, idlen))
        return hb_fail(err, "worker_id", "must be 1-128 bytes of [A-Za-z0-9._:@-]");

    hb_msg m;
    hb_init(&m);
    memcpy(m.worker_id, path, idlen);
    m.worker_id[idlen] = '\0';

    const char *sfx = slash ? slash + 1 : "";
    size_t slen = strlen(sfx);
    if (slen > 1 && sfx[slen - 1] == '/') slen--; /* "ID/start/" as well as "ID/" */
    if (memchr(sfx, '/', slen)) return hb_fail(err, "path", usage);

    if (slen == 0) {
        m.kind = HB_BEAT;
    } else if (slen == 5 && memcmp(sfx, "start", 5) == 0) {
        m.kind = HB_START;
    } else if (slen == 4 && memcmp(sfx, "fail", 4) == 0) {
        m.kind = HB_BYE;
        m.exit_code = 1;
        m.has |= HB_HAS_EXIT_CODE;
    } else if (slen == 3 && memcmp(sfx, "bye", 3) == 0) {
        m.kind = HB_BYE;
        m.exit_code = 0;
        m.has |= HB_HAS_EXIT_CODE;
    } else {
        /* "-1" or "300" is an exit code out of range, worth saying so rather
         * than calling the whole path unknown. */
        size_t neg = sfx[0] == '-';
        if (slen == neg || strspn(sfx + neg, "0123456789") != slen - neg)
            return hb_fail(err, "path", usage);
        int code = 0;
        for (size_t i = neg; i < slen && code <= 255; i++)
            code = code * 10 + (sfx[i] - '0');
        if (neg || code > 255)
            return hb_fail(err, "exit_code", "must be an integer between 0 and 255");
        m.kind = HB_BYE;
        m.exit_code = code;
        m.has |= HB_HAS_EXIT_CODE;
    }
    hb_copy(out, &m);
    return 0;
}

bool hb_ndjson_next(const char *buf, size_t n, size_t *pos, const char **line, size_t *len,
                    int *lineno)
{
    while (*pos < n) {
        const char *start = buf + *pos;
        const char *nl = memchr(start, '\n', n - *pos);
        size_t l = nl ? (size_t)(nl - start) : n - *pos;
        *pos += nl ? l + 1 : l;
        if (lineno) ++*lineno;
        if (l && start[l - 1] == '\r') l--;
        size_t i = 0;
        while (i < l && (start[i] == ' ' || start[i] == '\t' || start[i] == '\r'))
            i++;
        if (i == l) continue; /* blank lines are allowed as separators */
        *line = start;
        *len = l;
        return true;
    }
    return false;
}
