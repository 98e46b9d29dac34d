/*
 * vigil.h: libvigil, the C client of vigild (the fleet liveness service).
 *
 * A worker tells vigild it is alive with heartbeats and that it is stopping
 * on purpose with a bye; operators read the fleet's state back. libvigil does
 * both over HTTP (libcurl), one client handle per connection:
 *
 *     vigil_client *c = vigil_client_new("http://127.0.0.1:9470", getenv("VIGIL_TOKEN"));
 *     vigil_field f[] = {{"group", "inference"}, {"cpu", "0.31"}, {"ttl_s", "15"}};
 *     if (vigil_heartbeat(c, "gpu-17", f, 3) != VIGIL_OK)
 *         fprintf(stderr, "heartbeat: %s\n", vigil_last_error(c));
 *     ...
 *     vigil_field b[] = {{"exit_code", "0"}};
 *     vigil_bye(c, "gpu-17", b, 1);
 *     vigil_client_free(c);
 *
 * Fields are given as text (key = JSON field name, value = its text form, as
 * in `vigil beat --cpu 0.31` or a ping query string) so the API does not
 * change as fields are added. They are checked before anything is sent, by
 * the same code and with the same words as vigild itself uses, so a bad value
 * fails locally (VIGIL_ERR_INVALID) rather than after a round trip.
 *
 * Threads: a vigil_client is not thread-safe (it owns one libcurl handle and
 * one kept-alive connection); use one client per thread, or serialize calls.
 * Distinct clients may be used from distinct threads at once. libvigil never
 * raises signals (CURLOPT_NOSIGNAL), so it is safe in threaded programs; for
 * the same reason libcurl does not block SIGPIPE, so a program talking https
 * to a server that may drop connections should ignore SIGPIPE itself.
 *
 * Reading the live stream (GET /v1/stream) is vigil_stream(): the one call
 * that does not return when an answer is complete.
 *
 * Errors: every call that can fail returns a vigil_status; the words of the
 * last failure are in vigil_last_error(c) (and, when a message field was at
 * fault, its JSON name in vigil_last_error_field(c)).
 */
#ifndef VIGIL_H
#define VIGIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libvigil.so is built with hidden visibility: only VIGIL_API names are exported. */
#if defined(__GNUC__) || defined(__clang__)
#define VIGIL_API __attribute__((visibility("default")))
#else
#define VIGIL_API
#endif

#define VIGIL_DEFAULT_URL "http://127.0.0.1:9470"
#define VIGIL_DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define VIGIL_DEFAULT_TIMEOUT_MS 10000L

/* What a call's outcome was. The CLI maps these to its exit codes. */
typedef enum vigil_status {
    VIGIL_OK = 0,
    VIGIL_ERR_INVALID = -1,   /* a bad argument or field value, refused before sending */
    VIGIL_ERR_REFUSED = -2,   /* the server answered, but not with 2xx (see the error) */
    VIGIL_ERR_TRANSPORT = -3, /* could not reach the server: DNS, connect, TLS, timeout */
    VIGIL_ERR_PROTOCOL = -4,  /* the server answered 2xx with something unreadable */
    VIGIL_ERR_NOMEM = -5      /* out of memory */
} vigil_status;

/* One text field: key is the JSON name ("cpu", "ttl_s", "exit_code", …). */
typedef struct vigil_field {
    const char *key;
    const char *value;
} vigil_field;

/* An HTTP answer, owned by the caller after vigil_get(), vigil_post() or vigil_delete(); free
 * it with vigil_response_free(). */
typedef struct vigil_response {
    long http_status; /* 0 when no answer arrived */
    char *body;       /* NUL-terminated (the body may hold no NUL of its own); NULL if none */
    size_t body_len;  /* bytes, without the terminating NUL */
} vigil_response;

typedef struct vigil_client vigil_client;

/* The library's version ("0.1.0"). */
VIGIL_API const char *vigil_version(void);

/* Short English name of a status ("ok", "invalid", "refused", …); never NULL. */
VIGIL_API const char *vigil_status_name(int status);

/*
 * Create a client for the vigild at `url` ("http://host:port", with an
 * optional path prefix; NULL or "" means VIGIL_DEFAULT_URL; without a scheme,
 * http:// is assumed). `token`, when non-NULL and non-empty, is sent as
 * "Authorization: Bearer TOKEN" on every request.
 * No network traffic happens here: the connection is opened by the first
 * request and then kept alive and reused.
 * Returns NULL on a URL with another scheme than http/https, a token or URL
 * holding control characters or spaces, or out of memory;
 * vigil_last_error(NULL) then says which, in the calling thread.
 */
VIGIL_API vigil_client *vigil_client_new(const char *url, const char *token);

/* Close the connection and free the client. NULL is a no-op. */
VIGIL_API void vigil_client_free(vigil_client *c);

/*
 * Set the connect timeout and the whole-request timeout, in milliseconds
 * (defaults VIGIL_DEFAULT_CONNECT_TIMEOUT_MS and VIGIL_DEFAULT_TIMEOUT_MS).
 * 0 keeps the current value. Returns VIGIL_OK, or VIGIL_ERR_INVALID for a
 * negative value.
 */
VIGIL_API int vigil_client_set_timeouts(vigil_client *c, long connect_ms, long total_ms);

/*
 * Text of the last failure on `c` ("" after a success), or with c == NULL of
 * the last vigil_client_new() failure in this thread. Valid until the next
 * call on the same client. For VIGIL_ERR_INVALID and for a server refusal
 * that named a field it reads "FIELD: REASON", with the words vigild uses
 * (e.g. "cpu: must be a number between 0 and 1").
 */
VIGIL_API const char *vigil_last_error(const vigil_client *c);

/* JSON name of the field at fault in the last failure ("cpu", "worker_id",
 * "authorization", …), or "" when none was named. */
VIGIL_API const char *vigil_last_error_field(const vigil_client *c);

/* HTTP status of the last answer on `c`, 0 when none arrived. */
VIGIL_API long vigil_last_http_status(const vigil_client *c);

/*
 * Check a heartbeat without sending it: worker_id plus `n` fields, each set
 * through the same validation as vigild. Unknown keys and repeated worker_id
 * are refused. `c` may be NULL (then nothing records the error text; pass
 * a client to read it back with vigil_last_error()).
 * Returns VIGIL_OK or VIGIL_ERR_INVALID.
 */
VIGIL_API int vigil_heartbeat_check(vigil_client *c, const char *worker_id,
                                    const vigil_field *fields, size_t n);

/*
 * Send one heartbeat: POST /v1/heartbeat with worker_id and `n` fields
 * (fields may be NULL when n is 0). Accepted keys: group, instance, seq,
 * ttl_s, status, cpu, mem, mem_available_gb, gpu_mem_active_gb, thermal,
 * backlog, capacity, in_flight, requests, tokens, cpu_ticks. A field whose
 * value is NULL is skipped. Everything is validated first; nothing is sent
 * when one value is bad.
 * Returns VIGIL_OK on a 2xx answer; VIGIL_ERR_INVALID (nothing sent),
 * VIGIL_ERR_REFUSED (the server's error field and reason are in
 * vigil_last_error), VIGIL_ERR_TRANSPORT, VIGIL_ERR_PROTOCOL (an absurdly large
 * answer), or VIGIL_ERR_NOMEM.
 */
VIGIL_API int vigil_heartbeat(vigil_client *c, const char *worker_id, const vigil_field *fields,
                              size_t n);

/*
 * Say goodbye: POST /v1/bye. Same fields as a heartbeat, plus "exit_code"
 * (integer; 0 or absent is a clean shutdown, anything else a failure). Give
 * "instance" when the worker sent one in its heartbeats, so the server closes
 * the right session. Returns as vigil_heartbeat().
 */
VIGIL_API int vigil_bye(vigil_client *c, const char *worker_id, const vigil_field *fields,
                        size_t n);

/*
 * Raw GET of `path` (e.g. "/v1/workers", appended to the client's URL) with
 * `nquery` query parameters (values URL-encoded here; a NULL value skips the
 * parameter). On return `out` holds the HTTP status and the body whenever an
 * answer arrived, whatever its status; free it with vigil_response_free().
 * Returns VIGIL_OK on 2xx; VIGIL_ERR_REFUSED on any other status (the
 * server's error words in vigil_last_error); VIGIL_ERR_TRANSPORT when no
 * answer arrived (out->http_status is then 0 and out->body NULL);
 * VIGIL_ERR_INVALID for a path not starting with '/'; VIGIL_ERR_NOMEM.
 */
VIGIL_API int vigil_get(vigil_client *c, const char *path, const vigil_field *query, size_t nquery,
                        vigil_response *out);

/*
 * Raw POST of `len` bytes of `body` to `path` (e.g. "/v1/import/sessions",
 * appended to the client's URL), sent as given with "Content-Type:
 * content_type" ("text/csv", "application/x-ndjson"; NULL or "" means
 * "application/json"). body may be NULL when len is 0 (an empty POST, e.g.
 * "/v1/admin/rollup"). The body is not copied and must stay valid during the
 * call. Large bodies take time: raise the whole-request timeout with
 * vigil_client_set_timeouts() first.
 * On return `out` holds the HTTP status and the body whenever an answer
 * arrived, whatever its status; free it with vigil_response_free().
 * Returns as vigil_get(): VIGIL_OK on 2xx; VIGIL_ERR_REFUSED on any other
 * status (the server's error words in vigil_last_error; its full answer, e.g.
 * the row number of a refused import, in out->body); VIGIL_ERR_TRANSPORT when
 * no answer arrived (out->http_status is then 0 and out->body NULL);
 * VIGIL_ERR_INVALID for a path not starting with '/', a NULL body with a
 * non-zero len, or a content type holding control characters;
 * VIGIL_ERR_NOMEM.
 */
VIGIL_API int vigil_post(vigil_client *c, const char *path, const char *content_type,
                         const char *body, size_t len, vigil_response *out);

/*
 * Raw DELETE of `path` (e.g. "/v1/silences/3", appended to the client's URL),
 * with no body. `out` and the return value as vigil_get(): a 404 for an
 * unknown id is VIGIL_ERR_REFUSED, with the server's words in
 * vigil_last_error().
 */
VIGIL_API int vigil_delete(vigil_client *c, const char *path, vigil_response *out);

/* Free what vigil_get(), vigil_post() or vigil_delete() put in `r` and zero it. NULL is a
 * no-op. */
VIGIL_API void vigil_response_free(vigil_response *r);

/*
 * A stream: GET `path` (e.g. "/v1/stream", appended to the client's URL) and
 * hand the answer's bytes to on_data as they arrive, for as long as the
 * server keeps sending. The bytes are the raw text/event-stream, in chunks
 * split anywhere (a message may span chunks); parsing them is the caller's.
 *
 *     vigil_stream_opts o = {.last_event_id = last, .on_data = feed, .ctx = parser};
 *     int st = vigil_stream(c, "/v1/stream", &o);
 *
 * last_event_id, when non-NULL and non-empty, is sent as Last-Event-ID so
 * the server resumes after it; the token goes as for every request. There
 * is no overall timeout; the connect timeout is the client's (see
 * vigil_client_set_timeouts). Instead a stream that delivers nothing (not
 * even the server's keep-alive comment, sent every 15 s) for idle_ms fails
 * with VIGIL_ERR_TRANSPORT, so a dead server or a cut network is noticed.
 *
 * on_wait, when set, lets a single-threaded caller (a terminal UI) do its
 * own work while the stream is quiet: it is called at least every wait_ms
 * (fd_ready 0), and as soon as wait_fd, when not -1, is readable
 * (fd_ready 1). libvigil never reads wait_fd itself: on_wait should, or it
 * is called again at once. Set wait_fd to -1 when there is none: 0 is
 * standard input.
 *
 * A non-zero return from on_data or on_wait ends the stream at once. No
 * call on `c` may be made from inside either callback.
 *
 * Returns VIGIL_OK when the server ended the stream or a callback did;
 * VIGIL_ERR_REFUSED for a non-2xx answer (its error words in
 * vigil_last_error; on_data sees none of its body); VIGIL_ERR_PROTOCOL for
 * a 2xx answer that is not text/event-stream; VIGIL_ERR_TRANSPORT when the
 * server could not be reached, the connection dropped, or it went quiet for
 * idle_ms; VIGIL_ERR_INVALID for a path not starting with '/', a NULL
 * on_data, or a last_event_id holding control characters; VIGIL_ERR_NOMEM.
 * vigil_last_http_status() tells whether an answer had begun (0: none).
 * The connection is not reused after a stream.
 */
#define VIGIL_DEFAULT_STREAM_IDLE_MS 45000L /* three keep-alives missed */
#define VIGIL_DEFAULT_STREAM_WAIT_MS 1000L

typedef struct vigil_stream_opts {
    const char *last_event_id; /* sent as Last-Event-ID; NULL or "": none */
    /* Required: len > 0 bytes of the stream. Non-zero stops it. */
    int (*on_data)(void *ctx, const char *buf, size_t len);
    /* Optional: the stream is quiet, or wait_fd is readable. Non-zero stops it. */
    int (*on_wait)(void *ctx, int fd_ready);
    int wait_fd;  /* watched for input while waiting; -1: none (only read when on_wait is set) */
    long wait_ms; /* on_wait at least this often; 0: VIGIL_DEFAULT_STREAM_WAIT_MS */
    long idle_ms; /* fail after this long without a byte; 0: VIGIL_DEFAULT_STREAM_IDLE_MS */
    void *ctx;    /* passed to both callbacks */
} vigil_stream_opts;

VIGIL_API int vigil_stream(vigil_client *c, const char *path, const vigil_stream_opts *opts);

/*
 * A worker handle: heartbeats from a background thread, so that a worker
 * program only opens it, updates its figures now and then and closes it.
 *
 *     vigil_worker_opts o = {.group = "inference", .interval_ms = 5000, .ttl_s = 15};
 *     vigil_worker *w = vigil_open(getenv("VIGIL_URL"), "gpu-17", &o);
 *     if (!w) fprintf(stderr, "vigil: %s\n", vigil_last_error(NULL));
 *     vigil_bye_on_signal(w);               (optional: a bye on SIGTERM/SIGINT)
 *     for (;;) {
 *         ...serve one request...
 *         vigil_worker_set_double(w, "cpu", 0.31);
 *         vigil_task_done(w, elapsed_ms);
 *     }
 *     vigil_worker_close(w, 0);
 *
 * The thread owns its own vigil_client (and its connection). It sends the
 * first heartbeat at once, then one every interval_ms +- jitter (spread so a
 * fleet started together does not beat in step). A failed heartbeat is
 * retried after 1 s, doubling up to interval_ms (also jittered), and never
 * stops the thread. Every heartbeat carries group, instance, ttl_s, a seq
 * counting up from 0 and the latest value of each sample set so far.
 *
 * Threads: every vigil_worker_* call and vigil_task_done may be made from any
 * thread at once; they take a mutex for a copy of the value only, and never
 * wait for the network. vigil_worker_close is the one call that waits (for
 * the thread, and for the bye).
 *
 * Errors of these calls (NULL from vigil_open, VIGIL_ERR_INVALID from a
 * setter) are worded in vigil_last_error(NULL), in the calling thread.
 * Failures of the background thread go to opts.on_error, if set.
 */
#define VIGIL_WORKER_DEFAULT_INTERVAL_MS 5000L
#define VIGIL_WORKER_MIN_INTERVAL_MS 10L
#define VIGIL_WORKER_DEFAULT_JITTER 0.1 /* fraction of the interval, either way */
#define VIGIL_WORKER_NO_JITTER (-1.0)   /* opts.jitter for beats exactly on the interval */
#define VIGIL_WORKER_RETRY_MS 1000L     /* first retry after a failure; doubles up to interval */
#define VIGIL_WORKER_TASKS_MAX 1000     /* task durations held between heartbeats */

typedef struct vigil_worker vigil_worker;

typedef struct vigil_worker_opts {
    const char *token;    /* bearer token; NULL or "": none */
    const char *group;    /* the worker's group; NULL: none sent */
    const char *instance; /* this run; NULL: "<hostname>:<pid>:<start time, ms since epoch>" */
    long interval_ms;     /* between heartbeats; 0: VIGIL_WORKER_DEFAULT_INTERVAL_MS */
    int ttl_s;            /* ttl_s sent with each heartbeat; 0: none (the server's default) */
    /* Each wait is interval_ms * (1 +- jitter), uniformly; 0 means
     * VIGIL_WORKER_DEFAULT_JITTER, VIGIL_WORKER_NO_JITTER none; at most 0.5. */
    double jitter;
    /* Called from the background thread when a heartbeat, task report or
     * the signal bye fails (status and the words of vigil_last_error). It must
     * not call vigil_worker_close on this worker. NULL: failures are silent. */
    void (*on_error)(void *ctx, int status, const char *message);
    void *ctx;
} vigil_worker_opts;

/*
 * Open a worker handle and start its heartbeat thread: url and opts->token
 * as for vigil_client_new(); worker_id as for vigil_heartbeat(). opts may be
 * NULL (all defaults). Nothing is sent before this returns, and it does not
 * wait for the server: an unreachable vigild only shows in on_error.
 * Returns NULL for a bad URL, token, worker_id, group, instance, ttl_s,
 * interval_ms (below VIGIL_WORKER_MIN_INTERVAL_MS) or jitter, or when out of
 * memory or threads; vigil_last_error(NULL) then says which.
 */
VIGIL_API vigil_worker *vigil_open(const char *url, const char *worker_id,
                                   const vigil_worker_opts *opts);

/* The instance the worker's heartbeats carry (opts.instance or the default). */
VIGIL_API const char *vigil_worker_instance(const vigil_worker *w);

/*
 * Set one sample by its JSON name and text form, sent with every heartbeat
 * from the next one on: status, cpu, mem, mem_available_gb,
 * gpu_mem_active_gb, thermal, backlog, capacity, in_flight, requests,
 * tokens, cpu_ticks, jobs ("a,b,c"). A NULL value stops sending the key.
 * The value is checked with vigild's own rules first. Fixed at open and
 * refused here: worker_id, group, instance, ttl_s; kept by the handle: seq,
 * task_ms (vigil_task_done), exit_code (vigil_worker_close).
 * Returns VIGIL_OK, VIGIL_ERR_INVALID or VIGIL_ERR_NOMEM.
 */
VIGIL_API int vigil_worker_set(vigil_worker *w, const char *key, const char *value);

/* vigil_worker_set with a number: "cpu", 0.31 or "backlog", 3. A fraction
 * given to an integer field, or a non-finite number, is refused. */
VIGIL_API int vigil_worker_set_double(vigil_worker *w, const char *key, double value);
VIGIL_API int vigil_worker_set_int(vigil_worker *w, const char *key, long long value);

/*
 * Report one finished task's duration (ms, 0..1e9) for the group's task
 * latency. One pending duration goes as task_ms in the next heartbeat;
 * several are sent together in one POST /v1/tasks after it. At most
 * VIGIL_WORKER_TASKS_MAX wait between heartbeats; later ones are dropped.
 * Returns VIGIL_OK, or VIGIL_ERR_INVALID for a duration out of range.
 */
VIGIL_API int vigil_task_done(vigil_worker *w, double ms);

/*
 * Opt in to a bye on SIGTERM and SIGINT: the handler (async-signal-safe: it
 * writes the signal's number to the thread's self-pipe) wakes the heartbeat
 * thread, which sends a bye with exit_code 128 + the signal (143 for
 * SIGTERM; connect timeout 1 s, whole request 2 s), then restores the
 * default action and raises the signal again, so the process ends as it
 * would have without libvigil. A second such signal before that ends the
 * process at once. Only one worker of a process can have it; the handlers
 * in place before are put back by vigil_worker_close.
 * Returns VIGIL_OK, or VIGIL_ERR_INVALID when another worker has it.
 */
VIGIL_API int vigil_bye_on_signal(vigil_worker *w);

/*
 * Stop the heartbeat thread (waiting for a request in flight, at most the
 * whole-request timeout, VIGIL_DEFAULT_TIMEOUT_MS), report pending task
 * durations, send the bye with exit_code (0: clean shutdown, else failed)
 * and the last samples (so a status set last goes with it), and free w.
 * Returns the bye's outcome as vigil_bye() does (a failure's words in
 * vigil_last_error(NULL)); w is freed whatever it is.
 * NULL is a no-op returning VIGIL_ERR_INVALID.
 */
VIGIL_API int vigil_worker_close(vigil_worker *w, int exit_code);

#ifdef __cplusplus
}
#endif

#endif
