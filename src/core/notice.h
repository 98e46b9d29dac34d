/*
 * notice: one alert notification, as the alert engine (alert.h) hands it to
 * the notifier (server/notify.h), which formats it for each sink (webhook,
 * Slack, e-mail, Alertmanager). Plain data, fixed size, so the notifier's
 * queue can copy it without allocating and a notice never points into
 * engine state that may change meanwhile.
 *
 * The webhook body is this struct as JSON (docs/alerts.md, "schema_version"
 * NOTICE_SCHEMA_VERSION): new fields do not bump the version; renamed or
 * removed ones do.
 */
#ifndef VIGIL_NOTICE_H
#define VIGIL_NOTICE_H

#include "core/hb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTICE_SCHEMA_VERSION 1
#define NOTICE_NAME_MAX 64     /* bytes: rule and sink names */
#define NOTICE_TEXT_MAX 512    /* bytes: summary line (two ids and some words) */
#define NOTICE_FIELD_MAX 32    /* bytes: a threshold's field name */
#define NOTICE_SINKS_MAX 8     /* sinks one rule notifies */
#define NOTICE_FOLDED_SHOWN 16 /* worker ids a group_down notice lists of those folded into it */

typedef enum notice_state {
    NOTICE_FIRING,   /* first notice of an alert */
    NOTICE_REPEAT,   /* still firing: a reminder after repeat_s */
    NOTICE_RESOLVED, /* it is over */
} notice_state;

typedef enum notice_severity {
    NOTICE_INFO,
    NOTICE_WARNING,
    NOTICE_CRITICAL,
} notice_severity;

typedef struct notice {
    notice_state state;
    notice_severity severity;
    char rule[NOTICE_NAME_MAX + 1]; /* the [rule "name"] it came from */
    char type[16]; /* worker_lost, group_down, threshold, stuck, score_below, flapping */
    /* Stable across the alert's notices (rule + subject): Alertmanager's
     * grouping and a receiver's dedup key. */
    char key[NOTICE_NAME_MAX + 2 * HB_ID_MAX + 4];
    char worker_id[HB_ID_MAX + 1]; /* "" for group and fleet alerts */
    char group[HB_ID_MAX + 1];     /* "" when none */
    char instance[HB_INSTANCE_MAX + 1];
    char summary[NOTICE_TEXT_MAX]; /* one readable line, e.g. "worker w1 (gpu) lost: no heartbeat
                                      for 15 s" */
    int64_t at_ms;                 /* when this notice was made */
    int64_t starts_ms;             /* when the alert began firing */
    int64_t ends_ms;               /* resolved: when it ended; else 0 */
    /* worker_lost: what a scheduler needs to requeue the work */
    int64_t last_hb_ms;           /* 0: unknown */
    int64_t session_ms;           /* length of the session that ended; 0: unknown */
    int64_t in_flight;            /* last reported; -1: never reported */
    int njobs;                    /* job ids it last reported (heartbeat "jobs"), in jobs */
    char jobs[HB_JOBS_BYTES + 1]; /* joined by '\n'; "" when none */
    /* group_down: how it went down */
    bool clean; /* the last one left with a bye ("scaled down to zero") */
    int folded; /* worker_lost alerts of the group folded into this one */
    char folded_ids[NOTICE_FOLDED_SHOWN][HB_ID_MAX + 1];
    /* threshold, stuck, score_below, flapping: the figure compared */
    char field[NOTICE_FIELD_MAX];
    double value, limit;
    /* where it goes: sink names, as configured */
    int nsinks;
    char sinks[NOTICE_SINKS_MAX][NOTICE_NAME_MAX + 1];
} notice;

const char *notice_state_name(notice_state s);       /* "firing", "repeat", "resolved" */
const char *notice_severity_name(notice_severity s); /* "info", "warning", "critical" */
/* -1 when the name is none of them. */
int notice_severity_parse(const char *s);

/* Rule and sink names: 1..NOTICE_NAME_MAX bytes of [A-Za-z0-9._-] (they end
 * up in mail subjects, Alertmanager labels and URLs-safe keys). s holds len
 * bytes, not necessarily terminated. */
#define NOTICE_NAME_RULE "1-64 bytes of [A-Za-z0-9._-]"
bool notice_name_valid(const char *s, size_t len);

#endif
