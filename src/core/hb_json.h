/*
 * hb_json: a JSON scanner for one flat object, the shape of every heartbeat.
 *
 * A general parser (cJSON) builds a tree with an allocation per node and
 * converts every number through strtod; for a 300-byte heartbeat that was
 * most of the request's cost. This scanner makes one pass, allocates
 * nothing, decodes strings into a buffer it owns, converts plain integers
 * without strtod, and hands each top-level member to a callback in document
 * order. Nested objects and arrays are checked for syntax and skipped; the
 * callback gets their raw span, and hbj_parse_array scans an array's
 * elements on request (a second pass, for the one array field, jobs, so
 * that heartbeats without it pay nothing). Strings keep their true length,
 * so a decoded \u0000 stays visible to the field validators instead of
 * cutting the string.
 *
 * Private to src/core/hb*.c.
 */
#ifndef VIGIL_HB_JSON_H
#define VIGIL_HB_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define HBJ_MAX_DEPTH 1000 /* nesting allowed inside an unknown member (as cJSON) */
#define HBJ_STR_CAP 512    /* decoded bytes kept of a string value; longer ones keep their length */
#define HBJ_KEY_CAP 64     /* decoded bytes kept of a key (field names are far shorter) */

typedef enum hbj_type {
    HBJ_STRING,
    HBJ_NUMBER,
    HBJ_TRUE,
    HBJ_FALSE,
    HBJ_NULL,
    HBJ_OBJECT,
    HBJ_ARRAY
} hbj_type;

typedef struct hbj_value {
    hbj_type type;
    /* HBJ_STRING: decoded bytes, valid during the callback only; len is the
     * full decoded length (may exceed HBJ_STR_CAP: then str is cut).
     * HBJ_OBJECT, HBJ_ARRAY: the raw source text, '{' or '[' through the
     * matching bracket, pointing into the scanned document (already checked
     * for syntax), for hbj_parse_array. */
    const char *str;
    size_t len;
    double num; /* HBJ_NUMBER */
} hbj_value;

/* klen is the key's full decoded length (key holds at most HBJ_KEY_CAP bytes of it). */
typedef void (*hbj_member_fn)(void *ctx, const char *key, size_t klen, const hbj_value *v);

/* One element of an array, in order. */
typedef void (*hbj_elem_fn)(void *ctx, const hbj_value *v);

/* Scan s[0..n): exactly one JSON value, whitespace around it allowed.
 * Returns 0 when it is an object (fn called per member, in order), -2 when it
 * is valid JSON but not an object, -1 when it is not valid JSON (*at = the
 * byte offset where it went wrong). */
int hbj_parse_object(const char *s, size_t n, hbj_member_fn fn, void *ctx, size_t *at);

/* Scan s[0..n), one JSON array (typically an HBJ_ARRAY member's raw span),
 * calling fn per element in order; values are as for members (a nested
 * container is skipped, its span given). Returns 0, -2 when it is valid JSON
 * but not an array, -1 when it is not valid JSON. */
int hbj_parse_array(const char *s, size_t n, hbj_elem_fn fn, void *ctx);

#endif
