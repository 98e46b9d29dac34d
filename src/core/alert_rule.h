/*
 * alert_rule: one [rule "name"] config section into an alert_rule (alert.h).
 *
 *   [rule "gpu-lost"]
 *   type = worker_lost
 *   group = gpu-*
 *   severity = critical
 *   sinks = pager, slack
 *   cooldown = 10m
 *   repeat = 1h
 *
 * Keys: type (worker_lost group_down threshold stuck score_below flapping),
 * group and worker (globs, default any), severity (info, warning (default),
 * critical), sinks (names of [sink "..."] sections), cooldown, repeat,
 * resolve (default true); threshold: field, op (> >= < <=), value, for;
 * score_below: value; stuck: for; flapping: count, window. docs/alerts.md
 * has an example of each.
 *
 * Messages name the key and why; the caller adds file and line.
 */
#ifndef VIGIL_ALERT_RULE_H
#define VIGIL_ALERT_RULE_H

#include "core/alert.h"
#include "core/hb.h"

#include <stdbool.h>
#include <stddef.h>

/* Defaults: no type yet, severity warning, resolve on, op >. */
void alert_rule_init(alert_rule *r, const char *name);
/* Apply one key. 0, or -1 with err. */
int alert_rule_set(alert_rule *r, const char *key, const char *value, char *err, size_t errlen);
/* The whole section, once all keys are in: what its type needs. 0 or -1. */
int alert_rule_check(alert_rule *r, char *err, size_t errlen);

bool alert_glob_valid(const char *glob);
bool alert_rule_field_known(const char *field);

/* True when the rule is judged on each worker's own samples (stuck, and a
 * threshold on a worker field): vigild then scans the registry for it. */
bool alert_rule_on_workers(const alert_rule *r);

/* A worker field of a threshold rule (cpu, mem, ..., thermal as 1 nominal ..
 * 4 critical, utilization = backlog / capacity) from its last samples:
 * false when the worker did not report what the field needs. */
bool alert_worker_value(const char *field, const hb_msg *m, double *out);

#endif
