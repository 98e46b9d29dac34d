/*
 * libvigil_int: what libvigil's files share (private to the library; the
 * build exports none of it from libvigil.so).
 *
 *   libvigil.c         the client handle, errors, URL building, one-shot
 *                      requests (heartbeat, bye, GET, POST, DELETE)
 *   libvigil_stream.c  vigil_stream: a GET whose answer never ends
 *   libvigil_worker.c  vigil_worker: a heartbeat thread, its samples, the
 *                      bye on close or on a signal
 */
#ifndef VIGIL_LIBVIGIL_INT_H
#define VIGIL_LIBVIGIL_INT_H

#include "vigil.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LV_ERR_MAX 320

struct vigil_client {
    CURL *h;
    char *base; /* scheme://host[:port][/prefix], no trailing '/' */
    struct curl_slist *hdr_post, *hdr_get;
    long connect_ms, total_ms;
    long http_status;
    char err[LV_ERR_MAX];
    char err_field[64];
    char curl_err[CURL_ERROR_SIZE];
};

/* Forget the last failure and HTTP status; c may be NULL. */
void lv_clear_err(vigil_client *c);

/* Record a failure on c (if any) and return `status`, so callers can
 * `return lv_set_err(c, VIGIL_ERR_…, field, "fmt", …)`. */
__attribute__((format(printf, 4, 5))) int lv_set_err(vigil_client *c, int status, const char *field,
                                                     const char *fmt, ...);

/* Whether s may go into a header as a token: printable ASCII, no spaces. */
bool lv_printable_token(const char *s);

/* Append header h to l; on failure *ok becomes false and l is returned. */
struct curl_slist *lv_add_header(struct curl_slist *l, const char *h, bool *ok);

/* Free a header list, wiping it first (copies of it hold the bearer token). */
void lv_free_headers(struct curl_slist *l);

/* A refusal's body into c->err (and c->err_field): the server's error
 * object when it is one, else the body's first line. */
void lv_refusal_text(vigil_client *c, const char *body, size_t len);

/* base + path + "?k=v&…" into *url_out (malloc'd), keys and values
 * percent-encoded; a NULL value skips its parameter. VIGIL_OK or
 * VIGIL_ERR_NOMEM. */
int lv_make_url(vigil_client *c, const char *path, const vigil_field *query, size_t nquery,
                char **url_out);

/* The calling thread's vigil_last_error(NULL) text, for calls that have no
 * client (vigil_client_new, vigil_open, the worker setters). Returns status. */
__attribute__((format(printf, 2, 3))) int lv_set_thread_err(int status, const char *fmt, ...);

/* ---- libvigil_worker.c: the pure parts, unit-tested ------------------------ */

/* A random source: a uniform double in [0, 1) per call. */
typedef double (*lv_rand_fn)(void *ctx);

/* xorshift64* over *(uint64_t *)state (not 0): the worker's jitter source. */
double lv_rand_xorshift(void *state);

/*
 * How long the heartbeat thread waits before its next attempt, in ms:
 * after a success (failures == 0) interval_ms; after the n-th failure in a
 * row VIGIL_WORKER_RETRY_MS doubled n-1 times, at most interval_ms; either
 * times (1 + jitter * (2u - 1)) with u from rnd, and never below 1 ms.
 */
long lv_worker_delay_ms(long interval_ms, double jitter, int failures, lv_rand_fn rnd, void *ctx);

/* The default instance "<host>:<pid>:<start_ms>" into buf; false when it
 * does not fit or is no valid instance (a host name is cut to fit). */
bool lv_default_instance(const char *host, long pid, int64_t start_ms, char *buf, size_t cap);

/* The JSON body of POST /v1/tasks for worker_id (group may be NULL) and n
 * durations into buf; its length, or 0 when it does not fit. */
size_t lv_tasks_json(const char *worker_id, const char *group, const double *ms, size_t n,
                     char *buf, size_t cap);

#endif
