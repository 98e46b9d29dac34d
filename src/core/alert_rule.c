/*
 * alert_rule: reading one [rule "name"] section, key by key, into an
 * alert_rule (alert.h), and checking the whole once read. The config parser
 * (server/cfg_alert.c) adds the file and line to the messages; they name
 * the key and say what is wrong with it.
 */
#include "core/alert_rule.h"

#include "core/err.h"

#include "core/hb.h"
#include "core/tfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fields a threshold may name: samples of a worker (alert_measure with a
 * worker), series of a group or of the fleet (vigild's sampler). The first
 * N_WORKER_FIELDS are a worker's own, in the order of worker_value(). */
static const char *const threshold_fields[] = {
    "cpu",         "mem",     "mem_available_gb", "gpu_mem_active_gb",
    "thermal",     "backlog", "capacity",         "in_flight",
    "utilization", "alive",   "ingest_rate",      "dropped",
};
#define N_WORKER_FIELDS 9

static int field_index(const char *f)
{
    for (size_t i = 0; i < sizeof threshold_fields / sizeof *threshold_fields; i++)
        if (strcmp(f, threshold_fields[i]) == 0) return (int)i;
    return -1;
}

bool alert_rule_on_workers(const alert_rule *r)
{
    if (r->type == ALERT_STUCK) return true;
    if (r->type != ALERT_THRESHOLD) return false;
    int i = field_index(r->field);
    return i >= 0 && i < N_WORKER_FIELDS;
}

bool alert_worker_value(const char *field, const hb_msg *m, double *out)
{
    switch (field_index(field)) {
    case 0:
        *out = m->cpu;
        return m->has & HB_HAS_CPU;
    case 1:
        *out = m->mem;
        return m->has & HB_HAS_MEM;
    case 2:
        *out = m->mem_available_gb;
        return m->has & HB_HAS_MEM_AVAIL;
    case 3:
        *out = m->gpu_mem_active_gb;
        return m->has & HB_HAS_GPU_MEM;
    case 4:
        *out = m->thermal;
        return (m->has & HB_HAS_THERMAL) && m->thermal != HB_THERMAL_NONE;
    case 5:
        *out = (double)m->backlog;
        return m->has & HB_HAS_BACKLOG;
    case 6:
        *out = (double)m->capacity;
        return m->has & HB_HAS_CAPACITY;
    case 7:
        *out = (double)m->in_flight;
        return m->has & HB_HAS_IN_FLIGHT;
    case 8: /* a worker with no capacity has no utilization, not an infinite one */
        if (!(m->has & HB_HAS_BACKLOG) || !(m->has & HB_HAS_CAPACITY) || m->capacity <= 0)
            return false;
        *out = (double)m->backlog / (double)m->capacity;
        return true;
    default:
        return false;
    }
}

bool alert_rule_field_known(const char *f)
{
    return field_index(f) >= 0;
}

void alert_rule_init(alert_rule *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->type = (alert_type)-1;
    r->severity = NOTICE_WARNING;
    r->resolve = true;
    r->op = ALERT_GT;
    r->value = NAN;
}

bool alert_glob_valid(const char *g)
{
    if (strlen(g) > ALERT_GLOB_MAX) return false;
    for (const char *p = g; *p; p++) {
        if ((unsigned char)*p < 0x20) return false;
        if (*p == '\\') {
            if (!*++p) return false;
        } else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^') q++;
            if (*q == ']') q++; /* a leading ] is a member */
            while (*q && *q != ']')
                q++;
            if (!*q || q == p + 1) return false; /* never closed, or empty */
            p = q;
        }
    }
    return true;
}

/* Inside a function with err and errlen: report and return -1. */
#define FAIL(...) return err_set(err, errlen, __VA_ARGS__)

static int duration(const char *v, int64_t *out, char *err, size_t errlen, const char *key)
{
    if (tfmt_parse_duration(v, out) != 0 || *out < 0)
        FAIL("%s: \"%s\" is not a duration (250ms, 90s, 5m, 6h, 7d)", key, v);
    return 0;
}

static int sinks(alert_rule *r, const char *v, char *err, size_t errlen)
{
    r->nsinks = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *q = p;
        while (*q && *q != ',' && *q != ' ')
            q++;
        size_t n = (size_t)(q - p);
        if (!n) break;
        if (n > NOTICE_NAME_MAX) FAIL("sinks: a name is longer than %d bytes", NOTICE_NAME_MAX);
        if (r->nsinks == NOTICE_SINKS_MAX) FAIL("sinks: more than %d", NOTICE_SINKS_MAX);
        memcpy(r->sinks[r->nsinks], p, n);
        r->sinks[r->nsinks++][n] = '\0';
        p = q;
    }
    return 0;
}

int alert_rule_set(alert_rule *r, const char *key, const char *v, char *err, size_t errlen)
{
    if (strcmp(key, "type") == 0) {
        int t = alert_type_parse(v);
        if (t < 0)
            FAIL("type: \"%s\" is not a rule type (worker_lost, group_down, threshold, stuck, "
                 "score_below, flapping)",
                 v);
        r->type = (alert_type)t;
    } else if (strcmp(key, "group") == 0 || strcmp(key, "worker") == 0) {
        if (!alert_glob_valid(v))
            FAIL("%s: \"%s\" is not a valid glob (unclosed [, trailing \\, control character "
                 "or over %d bytes)",
                 key, v, ALERT_GLOB_MAX);
        snprintf(key[0] == 'g' ? r->group_glob : r->worker_glob, ALERT_GLOB_MAX + 1, "%s", v);
    } else if (strcmp(key, "severity") == 0) {
        int s = notice_severity_parse(v);
        if (s < 0) FAIL("severity: \"%s\" is not info, warning or critical", v);
        r->severity = (notice_severity)s;
    } else if (strcmp(key, "sinks") == 0) {
        return sinks(r, v, err, errlen);
    } else if (strcmp(key, "cooldown") == 0) {
        return duration(v, &r->cooldown_ms, err, errlen, key);
    } else if (strcmp(key, "repeat") == 0) {
        return duration(v, &r->repeat_ms, err, errlen, key);
    } else if (strcmp(key, "for") == 0) {
        return duration(v, &r->for_ms, err, errlen, key);
    } else if (strcmp(key, "window") == 0) {
        return duration(v, &r->window_ms, err, errlen, key);
    } else if (strcmp(key, "resolve") == 0) {
        if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
            r->resolve = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
            r->resolve = false;
        else
            FAIL("resolve: \"%s\" is not true or false", v);
    } else if (strcmp(key, "field") == 0) {
        if (!alert_rule_field_known(v))
            FAIL("field: \"%s\" is not a sampled field or series (cpu, mem, mem_available_gb, "
                 "gpu_mem_active_gb, thermal, backlog, capacity, in_flight, utilization, alive, "
                 "ingest_rate, dropped)",
                 v);
        snprintf(r->field, sizeof r->field, "%s", v);
    } else if (strcmp(key, "op") == 0) {
        static const char *const ops[] = {">", ">=", "<", "<="};
        int i = 0;
        while (i < 4 && strcmp(v, ops[i]) != 0)
            i++;
        if (i == 4) FAIL("op: \"%s\" is not >, >=, < or <=", v);
        r->op = (alert_op)i;
    } else if (strcmp(key, "value") == 0) {
        char *end;
        double d = strtod(v, &end);
        int th = HB_THERMAL_NOMINAL; /* thermal states compare by severity: 1 nominal .. 4 */
        while (th <= HB_THERMAL_CRITICAL && strcmp(v, hb_thermal_name(th)) != 0)
            th++;
        if (th <= HB_THERMAL_CRITICAL)
            d = th;
        else if (end == v || *end || !isfinite(d))
            FAIL("value: \"%s\" is not a number (or a thermal state: nominal, fair, serious, "
                 "critical)",
                 v);
        r->value = d;
    } else if (strcmp(key, "count") == 0) {
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 1 || n > ALERT_FLAP_MAX)
            FAIL("count: \"%s\" is not a whole number from 1 to %d", v, ALERT_FLAP_MAX);
        r->count = (int)n;
    } else {
        FAIL("%s: unknown key in a rule (type, group, worker, severity, sinks, cooldown, repeat, "
             "resolve, field, op, value, for, count, window)",
             key);
    }
    return 0;
}

int alert_rule_check(alert_rule *r, char *err, size_t errlen)
{
    switch ((int)r->type) {
    case ALERT_WORKER_LOST:
    case ALERT_GROUP_DOWN:
        break;
    case ALERT_THRESHOLD:
        if (!r->field[0]) FAIL("field: a threshold rule needs the field it compares");
        if (isnan(r->value)) FAIL("value: a threshold rule needs the value it compares with");
        break;
    case ALERT_SCORE_BELOW:
        if (isnan(r->value) || r->value < 0 || r->value > 1)
            FAIL("value: a score_below rule needs a liveness score from 0 to 1");
        snprintf(r->field, sizeof r->field, "liveness_score");
        r->op = ALERT_LT;
        break;
    case ALERT_STUCK:
        if (r->for_ms <= 0) FAIL("for: a stuck rule needs how long cpu_ticks must stand still");
        snprintf(r->field, sizeof r->field, "cpu_ticks_still_ms");
        break;
    case ALERT_FLAPPING:
        if (!r->count) FAIL("count: a flapping rule needs how many bad session ends are too many");
        if (r->window_ms <= 0) FAIL("window: a flapping rule needs the window they fall within");
        break;
    default:
        FAIL("type: missing (worker_lost, group_down, threshold, stuck, score_below, flapping)");
    }
    return 0;
}
