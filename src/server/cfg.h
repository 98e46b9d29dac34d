/*
 * cfg: vigild's configuration, from three layers, later ones winning:
 * built-in defaults < INI file (--config) < VIGIL_* environment < flags.
 *
 * INI layout (inih; `[group "NAME"]` sections name a group):
 *
 *   [server]
 *   listen = 127.0.0.1:9470        ; VIGIL_LISTEN
 *   data_dir = ./var               ; VIGIL_DATA_DIR
 *   node_id = <hostname>           ; VIGIL_NODE_ID
 *   admin_token =                  ; VIGIL_ADMIN_TOKEN (else DATA_DIR/admin.token)
 *   ingest_token =                 ; VIGIL_INGEST_TOKEN (empty: ingest is open)
 *   http_threads = 2               ; VIGIL_HTTP_THREADS
 *   http_ring = true               ; VIGIL_HTTP_RING (io_uring front door; false, or no
 *                                  ;   io_uring here: libmicrohttpd listens itself)
 *   max_batch_bytes = 8388608      ; VIGIL_MAX_BATCH_BYTES (NDJSON body limit)
 *   metrics_public = false         ; VIGIL_METRICS_PUBLIC (true: GET /metrics needs no token)
 *   udp_listen =                   ; VIGIL_UDP_LISTEN (HOST:PORT for UDP heartbeat lines,
 *                                  ;   e.g. 127.0.0.1:9471; empty: UDP ingest is off)
 *   udp_secret =                   ; VIGIL_UDP_SECRET (HMAC-SHA256 key datagrams are signed
 *                                  ;   with; empty: unsigned datagrams are taken)
 *   snapshot = true                ; VIGIL_SNAPSHOT (GET /v1/snapshot; false: 404)
 *   [liveness]
 *   default_ttl_s = 15             ; VIGIL_DEFAULT_TTL_S
 *   phi_threshold = 8              ; VIGIL_PHI_THRESHOLD (0 disables suspect)
 *   sweep_interval_ms = 50         ; VIGIL_SWEEP_INTERVAL_MS
 *   held_grace_ms = 2000           ; VIGIL_HELD_GRACE_MS (GET /v1/connect dropped: dead after)
 *   [store]
 *   url =                          ; VIGIL_STORE_URL (default sqlite:DATA_DIR/vigil.db)
 *   queue_size = 65536             ; VIGIL_QUEUE_SIZE (raw heartbeats held for the writer)
 *   event_queue_max = 100000       ; VIGIL_EVENT_QUEUE_MAX (state events held in memory for the
 *                                  ;   writer; past it they spill to DATA_DIR/events.spill)
 *   flush_interval_ms = 100        ; VIGIL_FLUSH_INTERVAL_MS
 *   retention_raw_days = 7         ; VIGIL_RETENTION_RAW_DAYS
 *   retention_events_days = 30     ; VIGIL_RETENTION_EVENTS_DAYS
 *   prune_batch = 5000             ; VIGIL_PRUNE_BATCH (rows per retention delete)
 *   retention_hourly_days = 400    ; VIGIL_RETENTION_HOURLY_DAYS
 *   retention_sessions_days = 400  ; VIGIL_RETENTION_SESSIONS_DAYS (closed ones)
 *   retention_tasks_days = 30      ; VIGIL_RETENTION_TASKS_DAYS (task latency buckets)
 *   retention_metrics_days = 30    ; VIGIL_RETENTION_METRICS_DAYS (fleet series, fleet_metrics)
 *   [analytics]
 *   rollup_interval_s = 300        ; VIGIL_ROLLUP_INTERVAL_S (reliability + hourly rollups)
 *   window_days = 14               ; VIGIL_WINDOW_DAYS (reliability window)
 *   [history]
 *   sample_s = 30                  ; VIGIL_HISTORY_SAMPLE_S (fleet series period, 1..3600 s;
 *                                  ;   other than 30 only for tests: the docs assume 30)
 *   [alerts]
 *   grace_s = 90                   ; startup grace for worker_lost / group_down (docs/alerts.md)
 *   sample_s = 10                  ; series and workers' samples judged this often
 *   [stream]
 *   snapshot_workers = 10000       ; workers in a /v1/stream snapshot, at most
 *   buffer = 8192                  ; messages kept for slow subscribers and Last-Event-ID
 *   max_subscribers = 256          ; streams open at once (0: the stream is off)
 *   [hub]                          ; federation (server/hubp.h, server/hub.h, docs/operations.md)
 *   role = node                    ; VIGIL_HUB_ROLE (node | hub: hub also takes nodes' summaries)
 *   url =                          ; VIGIL_HUB_URL (the hub's base URL; empty: push nothing)
 *   token =                        ; VIGIL_HUB_TOKEN (Bearer sent to the hub)
 *   interval_s = 60                ; VIGIL_HUB_INTERVAL_S (push period; ±15 % jitter)
 *   accept_token =                 ; VIGIL_HUB_ACCEPT_TOKEN (role hub: the token nodes send;
 *                                  ;   empty: DATA_DIR/hub.token, created 0600 if missing)
 *   [group "inference"]
 *   ttl_s = 30
 *
 * Group TTLs from the environment: VIGIL_GROUP_TTL="inference=30,batch=3600".
 */
#ifndef VIGIL_CFG_H
#define VIGIL_CFG_H

#include "core/alert.h"
#include "server/sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_GROUPS 256
#define CFG_MAX_RULES 64
#define CFG_MAX_SINKS 16
#define CFG_STR_MAX 512

typedef struct cfg_group {
    char name[129];
    int32_t ttl_s;
} cfg_group;

typedef struct cfg {
    char listen[CFG_STR_MAX];
    char data_dir[CFG_STR_MAX];
    char node_id[65];
    char admin_token[CFG_STR_MAX];
    char ingest_token[CFG_STR_MAX];
    int http_threads;
    bool http_ring; /* accept on io_uring (ring.h) */
    int64_t max_batch_bytes;
    bool metrics_public;          /* GET /metrics served without the admin token */
    char udp_listen[CFG_STR_MAX]; /* "" = no UDP ingest (udp.h) */
    char udp_secret[CFG_STR_MAX]; /* "" = datagrams are not signed */
    /* GET /v1/snapshot served; off, it answers 404 (a kill switch) */
    bool snapshot;

    int32_t default_ttl_s;
    double phi_threshold;
    int held_grace_ms; /* a held connection dropped: the worker is dead this long after */
    int sweep_interval_ms;

    char store_url[CFG_STR_MAX];
    int64_t queue_size;
    int64_t event_queue_max;
    int flush_interval_ms;
    int retention_raw_days;
    int retention_events_days;
    int prune_batch;
    int retention_hourly_days;
    int retention_sessions_days;
    int retention_tasks_days;
    int retention_metrics_days;

    int rollup_interval_s;
    int window_days;

    size_t ngroups;
    cfg_group groups[CFG_MAX_GROUPS];

    int alert_grace_s;  /* [alerts] startup grace */
    int alert_sample_s; /* [alerts] series and workers' samples judged this often */

    int history_sample_s; /* [history] the fleet series sampler's period */
    /* [stream]: GET /v1/stream (stream.c) */
    int stream_snapshot_workers; /* workers in a snapshot, at most */
    int stream_buffer;           /* messages kept for subscribers behind and for resume */
    int stream_max_subscribers;  /* at once; 0 turns the stream off (503) */
    /* [hub]: federation (hubp.c pushes, hub.c accepts) */
    char hub_role[8];                   /* "node" or "hub" */
    char hub_url[CFG_STR_MAX];          /* "" = this node pushes nothing */
    char hub_token[CFG_STR_MAX];        /* sent as Bearer to hub_url */
    int hub_interval_s;                 /* push period */
    char hub_accept_token[CFG_STR_MAX]; /* role hub: "" = DATA_DIR/hub.token */
    /* [rule "…"] and [sink "…"] sections (cfg_alert.c), as the engine and
     * the notifier take them, and the line each starts on (for messages). */
    size_t nrules;
    alert_rule rules[CFG_MAX_RULES];
    int rule_line[CFG_MAX_RULES];
    size_t nsinks;
    sink_cfg sinks[CFG_MAX_SINKS];
    int sink_line[CFG_MAX_SINKS];
    int cur_line; /* the file layer: line of the section being read */

    char config_path[CFG_STR_MAX]; /* "" when no file */
} cfg;

/* Built-in defaults (node_id = hostname). */
void cfg_defaults(cfg *c);

/* Merge an INI file over c. Returns 0, or -1 with err ("FILE:LINE: why"). */
int cfg_load_file(cfg *c, const char *path, char *err, size_t errlen);

/* Merge VIGIL_* variables from envp (NULL-terminated "K=V" strings) over c. */
int cfg_load_env(cfg *c, char *const *envp, char *err, size_t errlen);

/* Set one key by its INI name ("listen", "default_ttl_s", …). Used by the
 * file and env layers; unknown key or bad value: -1 with err. */
int cfg_set(cfg *c, const char *section, const char *key, const char *value, char *err,
            size_t errlen);

/* cfg_alert.c: a key of [rule "NAME"] or [sink "NAME"] (name: len bytes,
 * not terminated), and the checks of whole sections once the file is read
 * ("FILE:LINE: …"): what each rule's type needs, each sink's type, and that
 * every sink a rule names exists. */
int cfg_rule_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen);
int cfg_sink_set(cfg *c, const char *name, size_t len, const char *key, const char *value,
                 char *err, size_t errlen);
sink_cfg *cfg_sink_find(cfg *c, const char *name);
int cfg_alerts_check(cfg *c, char *err, size_t errlen);

/* Cross-field checks (listen parses, ttl in range, …). 0 ok, -1 with err. */
int cfg_validate(const cfg *c, char *err, size_t errlen);

/* Split "HOST:PORT" / "[::1]:PORT" into host and port. 0 ok, -1 bad. */
int cfg_parse_listen(const char *listen, char *host, size_t hostlen, uint16_t *port);

/* Effective store URL: store_url, or "sqlite:" DATA_DIR "/vigil.db". */
void cfg_store_url(const cfg *c, char *out, size_t outlen);

#endif
