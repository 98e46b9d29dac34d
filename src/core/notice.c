/*
 * notice: names of a notice's enums (notice.h), shared by the engine, the
 * sinks' formatters and the config parser.
 */
#include "core/notice.h"

#include <string.h>

static const char *const state_names[] = {"firing", "repeat", "resolved"};
static const char *const severity_names[] = {"info", "warning", "critical"};

const char *notice_state_name(notice_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

const char *notice_severity_name(notice_severity s)
{
    return (unsigned)s < sizeof severity_names / sizeof *severity_names ? severity_names[s]
                                                                        : "unknown";
}

int notice_severity_parse(const char *s)
{
    for (int i = 0; i < (int)(sizeof severity_names / sizeof *severity_names); i++)
        if (strcmp(s, severity_names[i]) == 0) return i;
    return -1;
}

bool notice_name_valid(const char *s, size_t len)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    if (len == 0 || len > NOTICE_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(ok, s[i])) return false;
    return true;
}
