/*
 * alerts: the alert engine's place in vigild (alerts.c has the mechanism):
 * a queue of registry events, a thread that feeds them and the fleet series
 * to the engine and ticks it, and the notifier that delivers its notices.
 * Everything is a no-op on NULL: a config without rules costs nothing.
 */
#ifndef VIGIL_ALERTS_H
#define VIGIL_ALERTS_H

#include "core/alert.h"
#include "server/app.h"

#include <stdint.h>

/* NULL (and err "") when the config has no rules; NULL with err on failure. */
alerts *alerts_new(app *a, char *err, size_t errlen);
int alerts_start(alerts *al, char *err, size_t errlen);
void alerts_stop(alerts *al); /* delivers what is queued, for at most 5 s */
void alerts_free(alerts *al);

/* Any thread, quick: a copy of the event for the engine. */
void alerts_push(alerts *al, const reg_event *ev);
/* A measurement for threshold / score_below / stuck rules (alert_measure). */
void alerts_measure(alerts *al, const char *field, const char *worker_id, const char *group,
                    double value);

/* Silences (alert.h); al must not be NULL. */
int64_t alerts_silence_add(alerts *al, alert_silence *s);
int alerts_silence_del(alerts *al, int64_t id);
void alerts_silences(alerts *al, void (*fn)(void *ctx, const alert_silence *s), void *ctx);

void alerts_get_stats(alerts *al, alert_stats *st, uint64_t *queue_dropped);

/* SIGHUP: the engine takes new rules (alert_set_rules: alerts of rules kept
 * by name keep their state), copied into the app's configuration, which
 * the alert thread reads under the same lock. 0, or -1 with err (nothing
 * changed): out of memory. */
int alerts_set_rules(alerts *al, const alert_rule *rules, size_t n, char *err, size_t errlen);

#endif
