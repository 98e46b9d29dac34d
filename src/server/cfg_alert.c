/*
 * cfg_alert: the alerting sections of the config file. [rule "NAME"] keys
 * go to alert_rule_set (core/alert_rule.h) as they are read; what a rule
 * needs as a whole (its type, the keys its type requires) is checked once
 * the file is read, and the message points at the section's line.
 */
#include "server/cfg.h"

#include "core/alert_rule.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RULE_NAME_CHARS                                                                            \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-" /* as ids (hb.h) */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

int cfg_rule_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen)
{
    if (len == 0 || len > NOTICE_NAME_MAX || strspn(name, RULE_NAME_CHARS) < len)
        return fail(err, errlen, "rule name '%.*s': must be 1-%d of [A-Za-z0-9._:@-]", (int)len,
                    name, NOTICE_NAME_MAX);
    cfg_rule *r = NULL;
    for (size_t i = 0; i < c->nrules && !r; i++)
        if (strlen(c->rules[i].r.name) == len && !memcmp(c->rules[i].r.name, name, len))
            r = &c->rules[i];
    if (!r) {
        if (c->nrules == CFG_MAX_RULES)
            return fail(err, errlen, "more than %d rules", CFG_MAX_RULES);
        r = &c->rules[c->nrules++];
        char n[NOTICE_NAME_MAX + 1];
        snprintf(n, sizeof n, "%.*s", (int)len, name);
        alert_rule_init(&r->r, n);
        r->line = c->cur_line;
    }
    return alert_rule_set(&r->r, key, value, err, errlen);
}

int cfg_sink_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen)
{
    char n[NOTICE_NAME_MAX + 2];
    if (len == 0 || len > NOTICE_NAME_MAX)
        return fail(err, errlen, "sink name '%.*s': must be 1-%d bytes", (int)len, name,
                    NOTICE_NAME_MAX);
    snprintf(n, sizeof n, "%.*s", (int)len, name);
    cfg_sink *s = NULL;
    for (size_t i = 0; i < c->nsinks && !s; i++)
        if (strcmp(c->sinks[i].s.name, n) == 0) s = &c->sinks[i];
    if (!s) {
        if (c->nsinks == CFG_MAX_SINKS)
            return fail(err, errlen, "more than %d sinks", CFG_MAX_SINKS);
        s = &c->sinks[c->nsinks];
        if (sink_cfg_init(&s->s, n, err, errlen) != 0) return -1;
        s->line = c->cur_line;
        c->nsinks++;
    }
    return sink_cfg_set(&s->s, key, value, err, errlen);
}

const sink_cfg *cfg_sink_find(const cfg *c, const char *name)
{
    for (size_t i = 0; i < c->nsinks; i++)
        if (strcmp(c->sinks[i].s.name, name) == 0) return &c->sinks[i].s;
    return NULL;
}

int cfg_alerts_check(cfg *c, char *err, size_t errlen)
{
    char why[256];
    for (size_t i = 0; i < c->nsinks; i++) {
        const cfg_sink *s = &c->sinks[i];
        if (sink_cfg_check(&s->s, why, sizeof why) != 0)
            return fail(err, errlen, "%s:%d: [sink \"%s\"] %s", c->config_path, s->line, s->s.name,
                        why);
    }
    for (size_t i = 0; i < c->nrules; i++) {
        cfg_rule *r = &c->rules[i];
        if (alert_rule_check(&r->r, why, sizeof why) != 0)
            return fail(err, errlen, "%s:%d: [rule \"%s\"] %s", c->config_path, r->line, r->r.name,
                        why);
        for (int k = 0; k < r->r.nsinks; k++)
            if (!cfg_sink_find(c, r->r.sinks[k]))
                return fail(err, errlen, "%s:%d: [rule \"%s\"] sinks: no [sink \"%s\"] section",
                            c->config_path, r->line, r->r.name, r->r.sinks[k]);
    }
    return 0;
}
