/*
 * ssep: an incremental parser of Server-Sent Events (text/event-stream), as
 * the WHATWG HTML standard's "event stream interpretation" reads them.
 *
 * Bytes go in as they arrive, split anywhere (mid-line, between the CR and
 * the LF of a CRLF); each complete message comes out once, through a
 * callback, with the stream's last event id, its event type and its data.
 * Lines end in CR, LF or CRLF; a line starting with ':' is a comment; an
 * empty line dispatches the message built so far (none when it had no data
 * line). Fields: `event`, `data` (several lines joined with '\n'), `id`
 * (kept across messages; ignored when it holds a NUL), `retry` (digits
 * only); others are ignored. One leading space after the colon is dropped,
 * a line without a colon is a field with an empty value, and one UTF-8 BOM
 * at the very start is skipped. Bytes are passed through undecoded.
 *
 * Memory is bounded: a message whose lines (line ends and comments not
 * counted) pass max_msg bytes is not held. Its bytes are skipped up to the
 * empty line that ends it, and on_error reports it then, so one oversized
 * message does not end the stream.
 *
 * Pure: no I/O, no clock, no globals; a parser is one allocation-owning
 * value, fed by one thread at a time.
 */
#ifndef VIGIL_SSEP_H
#define VIGIL_SSEP_H

#include <stddef.h>

/* A snapshot of 10,000 workers is a few MB: leave room, but not unbounded. */
#define SSEP_DEFAULT_MAX_MSG (16u * 1024 * 1024)

/* Why a message was skipped. */
typedef enum ssep_err {
    SSEP_ERR_TOO_BIG = 1, /* its lines passed max_msg bytes */
    SSEP_ERR_NOMEM = 2,   /* memory ran out while it was being held */
} ssep_err;

/* One message, valid during the callback only. */
typedef struct ssep_msg {
    const char *id;    /* the stream's last event id, "" when none yet */
    const char *event; /* the event type; "message" when no `event` field */
    const char *data;  /* NUL-terminated (it may hold NULs of its own); NULL in on_error */
    size_t data_len;   /* bytes of data, without the terminating NUL */
    size_t size;       /* bytes of the message's lines, as counted against max_msg */
} ssep_msg;

typedef struct ssep_cfg {
    size_t max_msg; /* 0: SSEP_DEFAULT_MAX_MSG */
    /* A complete message. Non-zero stops ssep_feed, which returns it. */
    int (*on_msg)(void *ctx, const ssep_msg *m);
    /* A skipped message: m->data is NULL, id and event are what its lines
     * up to the cap said, size is how many bytes it had. May be NULL. A
     * non-zero return stops ssep_feed, which returns it. */
    int (*on_error)(void *ctx, ssep_err err, const ssep_msg *m);
    void *ctx;
} ssep_cfg;

typedef struct ssep ssep;

/* A parser for one stream; NULL when out of memory or on_msg is NULL. */
ssep *ssep_new(const ssep_cfg *cfg);
void ssep_free(ssep *p);

/* Feed len bytes (buf may be NULL when len is 0). Returns 0, or the first
 * non-zero value a callback returned: the rest of buf is then not read, and
 * the parser must be ssep_reset() before it is fed again. */
int ssep_feed(ssep *p, const char *buf, size_t len);

/* The stream ended (or a new connection begins): drop any partial line and
 * message, as the standard drops an event cut off by the end of the stream,
 * and expect a BOM again. The last event id and retry are kept: a client
 * reconnects with them. */
void ssep_reset(ssep *p);

/* The last event id, as of the last empty line: what a reconnecting client
 * sends as Last-Event-ID ("" when none). Valid until the next ssep_feed. */
const char *ssep_last_id(const ssep *p);

/* The last `retry` value in milliseconds, or -1 when the stream sent none. */
long long ssep_retry(const ssep *p);

#endif
