/*
 * cfg_alert: the alerting sections of the config file. [rule "NAME"] keys
 * go to alert_rule_set (core/alert_rule.h) as they are read; what a rule
 * needs as a whole (its type, the keys its type requires) is checked once
 * the file is read, and the message points at the section's line.
 */
#include "server/cfg.h"

#include "core/err.h"
#include "core/alert_rule.h"

#include <stdio.h>
#include <string.h>

/* NAME of a [KIND "NAME"] section (len bytes, not terminated) into out,
 * checked. */
static int section_name(const char *kind, const char *name, size_t len,
                        char out[NOTICE_NAME_MAX + 1], char *err, size_t errlen)
{
    if (!notice_name_valid(name, len))
        return err_set(err, errlen, "%s name '%.*s': must be " NOTICE_NAME_RULE, kind, (int)len,
                       name);
    memcpy(out, name, len);
    out[len] = '\0';
    return 0;
}

int cfg_rule_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen)
{
    char n[NOTICE_NAME_MAX + 1];
    if (section_name("rule", name, len, n, err, errlen) != 0) return -1;
    alert_rule *r = NULL;
    for (size_t i = 0; i < c->nrules && !r; i++)
        if (strcmp(c->rules[i].name, n) == 0) r = &c->rules[i];
    if (!r) {
        if (c->nrules == CFG_MAX_RULES)
            return err_set(err, errlen, "more than %d rules", CFG_MAX_RULES);
        c->rule_line[c->nrules] = c->cur_line;
        r = &c->rules[c->nrules++];
        alert_rule_init(r, n);
    }
    return alert_rule_set(r, key, value, err, errlen);
}

int cfg_sink_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen)
{
    char n[NOTICE_NAME_MAX + 1];
    if (section_name("sink", name, len, n, err, errlen) != 0) return -1;
    sink_cfg *s = cfg_sink_find(c, n);
    if (!s) {
        if (c->nsinks == CFG_MAX_SINKS)
            return err_set(err, errlen, "more than %d sinks", CFG_MAX_SINKS);
        s = &c->sinks[c->nsinks];
        if (sink_cfg_init(s, n, err, errlen) != 0) return -1;
        c->sink_line[c->nsinks++] = c->cur_line;
    }
    return sink_cfg_set(s, key, value, err, errlen);
}

sink_cfg *cfg_sink_find(cfg *c, const char *name)
{
    for (size_t i = 0; i < c->nsinks; i++)
        if (strcmp(c->sinks[i].name, name) == 0) return &c->sinks[i];
    return NULL;
}

int cfg_alerts_check(cfg *c, char *err, size_t errlen)
{
    char why[256];
    for (size_t i = 0; i < c->nsinks; i++)
        if (sink_cfg_check(&c->sinks[i], why, sizeof why) != 0)
            return err_set(err, errlen, "%s:%d: [sink \"%s\"] %s", c->config_path, c->sink_line[i],
                           c->sinks[i].name, why);
    for (size_t i = 0; i < c->nrules; i++) {
        alert_rule *r = &c->rules[i];
        if (alert_rule_check(r, why, sizeof why) != 0)
            return err_set(err, errlen, "%s:%d: [rule \"%s\"] %s", c->config_path, c->rule_line[i],
                           r->name, why);
        for (int k = 0; k < r->nsinks; k++)
            if (!cfg_sink_find(c, r->sinks[k]))
                return err_set(err, errlen, "%s:%d: [rule \"%s\"] sinks: no [sink \"%s\"] section",
                               c->config_path, c->rule_line[i], r->name, r->sinks[k]);
    }
    return 0;
}
