/*
 * sse: the Server-Sent Events wire format, as vigild writes it
 * (GET /v1/stream), and the stream's message ids.
 *
 * A message is "id: ID\nevent: NAME\ndata: LINE\n...\n\n": data holding
 * newlines becomes several data lines (the client joins them back with
 * "\n"), so any JSON, even pretty-printed, survives. A comment
 * (": text\n\n") keeps an idle stream open through proxies.
 *
 * Ids are "<run>-<seq>": run is the vigild run (its start time in ms), seq
 * counts messages within the run. A client reconnecting with Last-Event-ID
 * from another run, or with garbage, gets a fresh snapshot; sse_parse_id
 * tells them apart. Pure: no I/O, no allocation.
 */
#ifndef VIGIL_SSE_H
#define VIGIL_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSE_ID_MAX 48 /* bytes of an id, with its NUL: two int64s and a dash */

/* Bytes sse_encode needs for this message (without a NUL). */
size_t sse_size(const char *id, const char *event, const char *data, size_t len);

/* Write the message into buf (cap bytes). id and event may be NULL (left
 * out); data (len bytes) must not hold '\r' or NUL (JSON from cJSON never
 * does). Returns the length written, or 0 when cap is too small (nothing
 * usable written). */
size_t sse_encode(char *buf, size_t cap, const char *id, const char *event, const char *data,
                  size_t len);

/* ": text\n\n" into buf; same return rule. */
size_t sse_comment(char *buf, size_t cap, const char *text);

/* "<run>-<seq>" into out (SSE_ID_MAX bytes). */
void sse_format_id(char *out, int64_t run, uint64_t seq);

/* Parse a Last-Event-ID. true and *run, *seq for "<digits>-<digits>" (no
 * sign, no spaces, each fitting its type); false for anything else. */
bool sse_parse_id(const char *s, size_t len, int64_t *run, uint64_t *seq);

#endif
