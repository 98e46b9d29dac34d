/*
 * alert: the alert engine. Pure logic: rules in, registry events and
 * measurements in, notices out; every entry point takes `now_ms`, nothing
 * here reads a clock, sleeps or does I/O, so tests drive time by hand.
 *
 * An alert is one (rule, subject) pair: the subject is a worker for
 * worker_lost, flapping, threshold and stuck on worker fields, a group for
 * group_down and group series, the fleet for fleet series. Its key
 * ("rule/subject") is stable across its notices. An alert is *active* from
 * the moment its condition holds (for `threshold`/`stuck`, once it has held
 * `for`) until it stops holding; that is what /v1/events records (via
 * on_change). Whether a notice *goes out* is a second question, asked again
 * on every tick, so a reason to hold a notice back that ends (a silence
 * expires, the cooldown passes, the startup grace is over) releases it then,
 * if the alert is still active:
 *
 *   grace     worker_lost and group_down are held for grace_ms after vigild
 *             starts: state vigild could not observe while it was down.
 *   silence   a matching silence (rule, group, worker globs; until ends_ms).
 *   cooldown  a new firing notice for a key waits until cooldown_ms after
 *             the key's previous firing notice (a flapping worker does not
 *             page every minute).
 *   folded    while a group_down alert of a group is active, that group's
 *             worker_lost alerts not yet notified are folded into it: the
 *             group notice lists them, they send nothing of their own.
 *
 * A resolve notice goes out only for an alert whose firing notice did
 * (and only when the rule's `resolve` switch is on); repeat reminders every
 * repeat_ms while it stays active and notified.
 *
 * Events and measurements only change state; notices are made by
 * alert_tick, so one batch of events (the last worker's timeout and the
 * group going down with it) is judged together and the group folds the
 * worker. The caller ticks after each batch and at least every second.
 */
#ifndef VIGIL_ALERT_H
#define VIGIL_ALERT_H

#include "core/notice.h"
#include "core/reg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERT_GRACE_MS_DEFAULT 90000 /* startup grace */
#define ALERT_FLAP_MAX 64            /* flapping: largest count a rule may name */
#define ALERT_GLOB_MAX 128           /* bytes of a match glob */

typedef enum alert_type {
    ALERT_WORKER_LOST,
    ALERT_GROUP_DOWN,
    ALERT_THRESHOLD,
    ALERT_STUCK,
    ALERT_SCORE_BELOW,
    ALERT_FLAPPING,
    ALERT__TYPES
} alert_type;

typedef enum alert_op { ALERT_GT, ALERT_GE, ALERT_LT, ALERT_LE } alert_op;

/* One [rule "name"] section (alert_rule.c reads it from INI keys). */
typedef struct alert_rule {
    char name[NOTICE_NAME_MAX + 1];
    alert_type type;
    char group_glob[ALERT_GLOB_MAX + 1];  /* "" = any */
    char worker_glob[ALERT_GLOB_MAX + 1]; /* "" = any */
    notice_severity severity;
    int nsinks;
    char sinks[NOTICE_SINKS_MAX][NOTICE_NAME_MAX + 1];
    int64_t cooldown_ms; /* 0: none */
    int64_t repeat_ms;   /* 0: no reminders */
    bool resolve;        /* send resolve notices (default on) */
    /* threshold / score_below / stuck */
    char field[NOTICE_FIELD_MAX]; /* what alert_measure feeds under */
    alert_op op;
    double value;
    int64_t for_ms; /* threshold: held this long before it fires; stuck: ticks still this long */
    /* flapping */
    int count;         /* more than this many non-clean closes ... */
    int64_t window_ms; /* ... within this window */
} alert_rule;

typedef struct alert_silence {
    int64_t id; /* given by alert_silence_add */
    char rule_glob[ALERT_GLOB_MAX + 1], group_glob[ALERT_GLOB_MAX + 1],
        worker_glob[ALERT_GLOB_MAX + 1]; /* "" = any */
    int64_t starts_ms, ends_ms;
    char comment[NOTICE_TEXT_MAX];
} alert_silence;

/* What the registry event does not carry about a worker that went dead:
 * its last reported in_flight (-1: never) and job ids (NULL or "": none;
 * njobs ids joined by '\n'). */
typedef struct alert_worker_info {
    int64_t in_flight;
    const char *jobs;
    int njobs;
} alert_worker_info;

/* Where notices go. on_change: an alert became active (NOTICE_FIRING) or
 * stopped (NOTICE_RESOLVED), whether or not anything is sent (events).
 * on_send: a notice to deliver to n->sinks. Both get a notice that lives
 * only during the call. */
typedef struct alert_out {
    void (*on_change)(void *ctx, const notice *n);
    void (*on_send)(void *ctx, const notice *n);
    void *ctx;
} alert_out;

typedef struct alert_stats {
    uint64_t fired, resolved, sent, held_silenced, held_cooldown, folded;
    size_t active, silences;
} alert_stats;

typedef struct alert_engine alert_engine;

/* rules are copied. start_ms: when vigild started (grace counts from it). */
alert_engine *alert_new(const alert_rule *rules, int nrules, int64_t start_ms, int64_t grace_ms);
void alert_free(alert_engine *e);

/* A registry event (reg.h), in registry order. wi may be NULL. */
void alert_event(alert_engine *e, const reg_event *ev, const alert_worker_info *wi, int64_t now_ms,
                 const alert_out *out);

/* A measurement of `field` for a subject (worker_id and group may be NULL or
 * ""; fleet series have neither), for threshold, score_below and stuck
 * rules naming that field. stuck: value = ms since the worker's cpu_ticks
 * last moved. A worker that is gone: alert_forget_worker. */
void alert_measure(alert_engine *e, const char *field, const char *worker_id, const char *group,
                   double value, int64_t now_ms, const alert_out *out);

/* Make the notices due at now_ms (see the banner). */
void alert_tick(alert_engine *e, int64_t now_ms, const alert_out *out);

/* Silences. add: fills s->id and returns it (> 0), -1 when ends_ms <= now.
 * del: 0, or -1 when there is no such id. list: active ones, oldest first. */
int64_t alert_silence_add(alert_engine *e, alert_silence *s, int64_t now_ms);
int alert_silence_del(alert_engine *e, int64_t id);
void alert_silences(alert_engine *e, int64_t now_ms, void (*fn)(void *ctx, const alert_silence *s),
                    void *ctx);

void alert_get_stats(alert_engine *e, alert_stats *out);

/* New rules in place of the old (SIGHUP), keeping what the engine knows:
 * an alert of a rule whose name is still there keeps its state (firing,
 * notified, cooldown, flapping history) under the new rule's settings; the
 * alerts of a rule that is gone are dropped without a resolve notice (that
 * rule no longer speaks). Silences, counters and the startup grace stay.
 * Returns 0, or -1 when out of memory (nothing changed). */
int alert_set_rules(alert_engine *e, const alert_rule *rules, int nrules);

/* Shell-style glob (* ? [..]) match; "" matches everything. */
bool alert_glob(const char *glob, const char *s);

const char *alert_type_name(alert_type t);
int alert_type_parse(const char *s); /* -1: unknown */

#endif
