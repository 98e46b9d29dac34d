/* log: one line per message on stderr, UTC timestamp first, so journald and
 * a terminal both read it. */
#include "server/app.h"

#include "core/tfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int64_t app_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vlog(const char *level, const char *fmt, ...)
{
    char ts[TFMT_ISO_LEN], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", tfmt_iso(app_now_ms(), ts), level, msg);
}
