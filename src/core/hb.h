/*
 * hb: the heartbeat / bye message and its parsers.
 *
 * Every way a worker can talk to vigild (JSON body, NDJSON line, ping path +
 * query string, later UDP lines) ends in one `hb_msg`, validated by the same
 * rules, so an out-of-range cpu is refused with the same words whichever door
 * it came through. Parsers are pure: no I/O, no clock, no globals; they never
 * allocate beyond what cJSON needs for one document.
 *
 * Validation rules (DESIGN §1, §3):
 *   worker_id, group   1..128 bytes of [A-Za-z0-9._:@-]
 *   instance           1..128 bytes of UTF-8, no control characters
 *   status             0..64 bytes of UTF-8, no control characters
 *   seq                integer >= 0
 *   ttl_s              integer 1..86400
 *   cpu, mem           number 0..1
 *   mem_available_gb, gpu_mem_active_gb   number 0..1e6
 *   thermal            "nominal" | "fair" | "serious" | "critical"
 *   backlog, capacity, in_flight, requests, tokens, cpu_ticks
 *                      integer 0..2^53
 *   exit_code (bye)    integer -2^31..2^31-1
 *   task_ms            number 0..1e9 (a finished task's duration, ms)
 *   jobs               array of 0..64 job ids, each 1..128 bytes of UTF-8 with no
 *                      control characters, all of them <= 4096 bytes joined by
 *                      '\n'; [] is present and means "no jobs now" (it clears the
 *                      previous list). Text form (hb_set_kv): "a,b,c", "" = [],
 *                      so an id sent in text form cannot contain ','.
 * JSON null counts as absent. Unknown keys are ignored. A JSON integer field
 * accepts a number with no fractional part (3.0) but not 3.5 or "3".
 */
#ifndef VIGIL_HB_H
#define VIGIL_HB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_ID_MAX 128           /* bytes: worker_id and group */
#define HB_INSTANCE_MAX 128     /* bytes */
#define HB_STATUS_MAX 64        /* bytes */
#define HB_BODY_MAX (64 * 1024) /* bytes: one JSON body, or one NDJSON line */
#define HB_TTL_MIN_S 1
#define HB_TTL_MAX_S 86400
#define HB_COUNTER_MAX 9007199254740992LL /* 2^53: exact in a JSON double */
#define HB_GB_MAX 1e6
#define HB_TASK_MS_MAX 1e9 /* ms (11.6 days): longer is a clock error, not a task */
#define HB_JOBS_MAX 64     /* job ids one heartbeat may carry */
#define HB_JOB_ID_MAX 128  /* bytes of one job id */
#define HB_JOBS_BYTES 4096 /* all job ids of one heartbeat, joined by '\n' */

typedef enum hb_thermal {
    HB_THERMAL_NONE = 0,
    HB_THERMAL_NOMINAL,
    HB_THERMAL_FAIR,
    HB_THERMAL_SERIOUS,
    HB_THERMAL_CRITICAL
} hb_thermal;

/* What the message asks for. */
typedef enum hb_kind {
    HB_BEAT = 0, /* I am alive */
    HB_START,    /* I am alive, and this is a new run: close any open session, open a new one */
    HB_BYE       /* I am stopping on purpose (exit_code, if present, says how) */
} hb_kind;

/* Presence bits for hb_msg.has: a field is meaningful only when its bit is set. */
enum {
    HB_HAS_GROUP = 1u << 0,
    HB_HAS_INSTANCE = 1u << 1,
    HB_HAS_SEQ = 1u << 2,
    HB_HAS_TTL = 1u << 3,
    HB_HAS_STATUS = 1u << 4,
    HB_HAS_CPU = 1u << 5,
    HB_HAS_MEM = 1u << 6,
    HB_HAS_MEM_AVAIL = 1u << 7,
    HB_HAS_GPU_MEM = 1u << 8,
    HB_HAS_THERMAL = 1u << 9,
    HB_HAS_BACKLOG = 1u << 10,
    HB_HAS_CAPACITY = 1u << 11,
    HB_HAS_IN_FLIGHT = 1u << 12,
    HB_HAS_REQUESTS = 1u << 13,
    HB_HAS_TOKENS = 1u << 14,
    HB_HAS_CPU_TICKS = 1u << 15,
    HB_HAS_EXIT_CODE = 1u << 16,
    HB_HAS_TASK_MS = 1u << 17,
    HB_HAS_JOBS = 1u << 18,
};

typedef struct hb_msg {
    uint32_t has;    /* HB_HAS_* bits */
    uint8_t kind;    /* hb_kind */
    uint8_t thermal; /* hb_thermal */
    int32_t ttl_s;
    int32_t exit_code;
    int64_t seq;
    double cpu, mem, mem_available_gb, gpu_mem_active_gb;
    double task_ms; /* one finished task's duration (task latency, per group) */
    int64_t backlog, capacity, in_flight, requests, tokens, cpu_ticks;
    char worker_id[HB_ID_MAX + 1];
    char group[HB_ID_MAX + 1];
    char instance[HB_INSTANCE_MAX + 1];
    char status[HB_STATUS_MAX + 1];
    /* Last, and not zeroed by hb_init: most heartbeats carry no jobs, and the
     * buffer would otherwise be most of the cost of initialising or copying a
     * message. Only jobs[0..jobs_len] is meaningful. */
    uint16_t njobs;               /* how many ids in jobs */
    uint16_t jobs_len;            /* bytes in jobs, without the NUL */
    char jobs[HB_JOBS_BYTES + 1]; /* the ids joined by '\n', NUL-terminated ("" when njobs = 0) */
} hb_msg;

/* Why a message was refused: `field` names the offending field ("worker_id",
 * "cpu", "body", "json", "line", …), `reason` says why in plain words. */
typedef struct hb_err {
    char field[64];
    char reason[192];
} hb_err;

/* Zero `m` (kind HB_BEAT, nothing present, no jobs). The string buffers past
 * their first byte and the jobs buffer past jobs[0] are left as they were:
 * read a string to its NUL only, and copy a message with hb_copy, not by
 * assignment, when the copy is on a hot path. */
void hb_init(hb_msg *m);

/* *dst = *src for the bytes that mean something (all but jobs past
 * jobs_len): assignment would move the whole jobs buffer every time. */
void hb_copy(hb_msg *dst, const hb_msg *src);

/* Fill `e` (either string may be NULL). Returns -1 so callers can `return hb_fail(...)`. */
int hb_fail(hb_err *e, const char *field, const char *reason);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool hb_utf8_valid(const char *s, size_t n);

/* True when s[0..n) is UTF-8 without control characters (C0, DEL, C1): the
 * rule for instance and status, which logs and terminals print verbatim. */
bool hb_text_valid(const char *s, size_t n);

/* True when s[0..n) is a valid worker_id / group: 1..128 bytes of [A-Za-z0-9._:@-]. */
bool hb_id_valid(const char *s, size_t n);
/* How many bytes of the NUL-terminated s, from its start, are id bytes
 * ([A-Za-z0-9._:@-]): a scanner that splits and checks an id in one pass. */
size_t hb_id_span(const char *s);
/* The same for printable ASCII but the blank ('!'..'~'): bytes that pass
 * hb_text_valid whatever surrounds them. */
size_t hb_ascii_span(const char *s);

/* Parse one JSON heartbeat (POST /v1/heartbeat body, or one NDJSON line).
 * Returns 0 and fills `out` (kind HB_BEAT), or -1 and fills `err`.
 * Checks, in order: size (<= HB_BODY_MAX), UTF-8, JSON syntax, top-level object,
 * then each field. worker_id is required. */
int hb_parse_heartbeat(const char *json, size_t n, hb_msg *out, hb_err *err);

/* Parse one JSON bye (POST /v1/bye). Same fields as a heartbeat are accepted
 * (samples are kept as the last ones); exit_code is optional. kind = HB_BYE. */
int hb_parse_bye(const char *json, size_t n, hb_msg *out, hb_err *err);

/* Parse the part of a ping URL after "/ping/": "ID", "ID/start", "ID/fail",
 * "ID/bye", "ID/<exit_code>" (0..255). Trailing slash tolerated. fail means
 * a bye with exit_code 1; bye means exit_code 0; a number N means a bye with N.
 * Returns 0 and fills worker_id, kind (and exit_code), or -1 with err. */
int hb_parse_ping_path(const char *path, hb_msg *out, hb_err *err);

/* Set one field from its text form (ping query strings, CLI flags, UDP lines):
 * key is a field name as in JSON ("cpu", "ttl_s", "thermal", "group", …),
 * value its text ("jobs": ids separated by ',', "" for none). Same validation
 * as JSON. Unknown keys, and exit_code unless m is a bye (m->kind ==
 * HB_BYE, set first): returns 1 (ignored). Returns 0 on success, -1 with
 * err on a bad value (m is then left as it was). */
int hb_set_kv(hb_msg *m, const char *key, const char *value, hb_err *err);
/* hb_set_kv with the lengths known: key[0..klen) (no NUL needed), value
 * NUL-terminated at value[vlen]. *hint (0 for a message's first key)
 * carries the field table's position from one key to the next, as the JSON
 * door does: a message's fields come in the same order every time. */
int hb_set_kvn(hb_msg *m, const char *key, size_t klen, const char *value, size_t vlen,
               size_t *hint, hb_err *err);
/* hb_set_kvn for a value that is the word at value: it ends at the first
 * blank (' ', '\t') or NUL, and *vlen gets its length. value is written to
 * (a NUL at its end while it is read) and left as it was. For a line parser:
 * a number is read in the one pass that finds where it ends. */
int hb_set_kvw(hb_msg *m, const char *key, size_t klen, char *value, size_t *vlen, size_t *hint,
               hb_err *err);
/* A line parser's way past the key's scan and lookup: when the word at
 * w[0..room) (NUL-terminated within room) is "key=value" with key the name
 * of the field *hint expects (as hb_set_kvn's *hint, not worker_id), sets
 * it as hb_set_kvw would, *used = the word's length, and returns what
 * hb_set_kvw returns. Otherwise HB_NOT_HINTED, and nothing is changed: the
 * caller splits the key itself and calls hb_set_kvw. The word is the same
 * either way, and so is the outcome; only the cost differs. */
#define HB_NOT_HINTED (-2)
int hb_set_hinted(hb_msg *m, char *w, size_t room, size_t *hint, size_t *used, hb_err *err);

/* Write m as a JSON object (the wire form of POST /v1/heartbeat or /v1/bye):
 * only present fields, worker_id first. Returns the length written (NUL
 * added), or 0 when it does not fit in cap. hb_parse_* of the output gives
 * back an equal message. (hb_write.c) */
size_t hb_write_json(const hb_msg *m, char *buf, size_t cap);

/* Names for the enums, for JSON output and logs. */
const char *hb_thermal_name(int thermal); /* "" for NONE */
/* The i-th field's name as in JSON ("worker_id", "group", …), in the field
 * table's order; NULL past the last. */
const char *hb_field_name(size_t i);

/* Iterate NDJSON: returns the next non-empty line of buf[*pos..n) in (*line, *len),
 * advances *pos past it and sets *lineno (1-based, counting empty lines too).
 * A trailing '\r' is stripped. Returns false at the end. */
bool hb_ndjson_next(const char *buf, size_t n, size_t *pos, const char **line, size_t *len,
                    int *lineno);

#endif
