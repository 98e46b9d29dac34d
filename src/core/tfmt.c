/*
 * tfmt: timestamp text <-> epoch milliseconds, without locale or TZ: timegm
 * and gmtime_r only, so the server's time zone never leaks into the API.
 */
#include "core/tfmt.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *tfmt_iso(int64_t ms, char *buf)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, TFMT_ISO_LEN - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    buf[n++] = '.';
    buf[n++] = (char)('0' + frac / 100);
    buf[n++] = (char)('0' + frac / 10 % 10);
    buf[n++] = (char)('0' + frac % 10);
    buf[n++] = 'Z';
    buf[n] = '\0';
    return buf;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* "YYYY-MM-DDTHH:MM:SS" exactly: sscanf's %d alone would also take blanks
 * and signs ("T-1:40", "T 7:40"), which timegm then quietly normalises into
 * another time than the text names. */
static int iso_shape(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i]) return 0;
    return 1;
}

static int days_in_month(int year, int mon)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return mon == 2 && leap ? 29 : days[mon - 1];
}

int tfmt_parse(const char *s, int64_t *ms)
{
    if (!s || !*s) return -1;
    if (all_digits(s)) {
        if (strlen(s) > 15) return -1; /* beyond year 33000: a typo, not a time */
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (!iso_shape(s)) return -1;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon))
        return -1;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3) frac = frac * 10 + (*p - '0');
        if (digits == 0) return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0) return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

int tfmt_parse_duration(const char *s, int64_t *ms)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0)) return -1;
    double mult;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60e3;
    else if (strcmp(end, "h") == 0)
        mult = 3600e3;
    else if (strcmp(end, "d") == 0)
        mult = 86400e3;
    else
        return -1;
    if (v * mult > 9.2e18) return -1;
    *ms = (int64_t)(v * mult);
    return 0;
}
