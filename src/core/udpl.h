/*
 * udpl: the UDP line format, parsed. A datagram holds one or more lines
 * (LF or CRLF):
 *
 *   hb <worker_id> key=value key=value …
 *   bye <worker_id> [exit=N] [key=value …]
 *
 * Keys are the JSON field names and every value goes through hb_set_kv, so a
 * line is validated by the same rules and refused with the same words as a
 * JSON body ("cpu": "must be a number between 0 and 1"). Unknown keys are
 * ignored, as in JSON; `worker_id` as a key is ignored (the id is the second
 * word); `exit` is short for `exit_code` and, like it, means something only in
 * a bye. Values cannot hold blanks (words are split on spaces and tabs).
 * Blank lines are skipped. Each line is judged on its own: a bad line does not
 * spoil the good ones beside it.
 *
 * Signed datagrams: with a secret, the first line must be
 *   sig <64 hex digits of HMAC-SHA256(secret, every byte after that line)>
 * and a datagram whose signature is missing or wrong is refused whole (none
 * of its lines is looked at). Without a secret a sig line is skipped, so a
 * signing client also talks to an unsigned server.
 *
 * Pure: no I/O, no clock, no allocation; the caller's callback gets one call
 * per non-blank line.
 */
#ifndef VIGIL_UDPL_H
#define VIGIL_UDPL_H

#include "core/hb.h"

#include <stddef.h>
#include <stdint.h>

#define UDPL_DGRAM_MAX 65535 /* bytes: no UDP payload is larger (IPv6, no jumbograms) */
#define UDPL_LINE_MAX 8192   /* bytes of one line, without its LF: jobs (4 KiB) and all the rest */
#define UDPL_SIG_HEX 64      /* hex digits of an HMAC-SHA256 */

/* Why one line was refused (UDPL_OK: it was not). Names: udpl_reason_name. */
typedef enum udpl_reason {
    UDPL_OK = 0,
    UDPL_BAD_VERB,  /* first word is not hb or bye */
    UDPL_BAD_ID,    /* worker_id missing or not 1-128 bytes of [A-Za-z0-9._:@-] */
    UDPL_BAD_FIELD, /* a word is not key=value, or hb_set_kv refused the value */
    UDPL_TOO_LONG,  /* longer than UDPL_LINE_MAX */
    UDPL_BAD_BYTES, /* holds a NUL byte */
    UDPL__COUNT
} udpl_reason;

/* What became of a whole datagram. Names: udpl_dgram_name. */
typedef enum udpl_dgram {
    UDPL_D_OK = 0,  /* its lines were parsed (each may still have been refused) */
    UDPL_D_NO_SIG,  /* a secret is set and the first line is not a sig line */
    UDPL_D_BAD_SIG, /* the sig line is malformed or the HMAC does not match */
    UDPL_D_TOO_BIG, /* longer than UDPL_DGRAM_MAX (or truncated by the receiver) */
    UDPL_D__COUNT
} udpl_dgram;

/* One line's outcome: m is the parsed message when why == UDPL_OK, else NULL
 * and err says which field and why. lineno is 1-based within the datagram
 * (the sig line, blank lines counted). m is only valid during the call. */
typedef void (*udpl_fn)(void *ctx, int lineno, const hb_msg *m, udpl_reason why, const hb_err *err);

/* Parse one line (no LF; a trailing CR is allowed). Returns UDPL_OK and fills
 * out, or a reason and fills err. A blank line is UDPL_BAD_VERB here:
 * udpl_lines skips those before calling. */
udpl_reason udpl_line(const char *s, size_t n, hb_msg *out, hb_err *err);

/* Where each key=value of the previous line was found in hb's field table,
 * by position (udpl_cut's hints): a client writes every line with the same
 * keys in the same order, so the k-th key of a line is first looked for
 * where the k-th key of the one before was. With one running hint instead,
 * keys out of the table's order ("seq= cpu= mem= in_flight=": two of four)
 * went to the by-first-byte search, 9 % of a line's time (perf). Zero it,
 * then pass it to the lines of a datagram, or of many, in turn. Only a
 * hint: a stale one costs a search, never a wrong field. */
#define UDPL_HINTS 16
typedef struct udpl_hints {
    size_t at[UDPL_HINTS];
} udpl_hints;

/* A line's verb and worker id, found where they lie, not yet checked:
 * kind HB_BEAT or HB_BYE (-1: the line does not start with hb or bye and a
 * blank or its end), then the id's offset and the length of the run of id
 * bytes there (udpl_cut refuses it unless 1-128 bytes followed by a blank
 * or the end). For grouping lines by worker before they are parsed: when
 * udpl_cut takes the line, its worker_id is s[id_at, id_at + id_len). s is
 * NUL-terminated (udpl_lines' lines are). */
typedef struct udpl_head {
    int8_t kind;
    uint16_t id_at, id_len; /* a line is at most a datagram: under 64 KiB */
} udpl_head;
udpl_head udpl_peek(const char *s);

/* Parse the line buf[0..n) in place (no LF, and no CR at its end: the
 * framing's, udpl_lines or udpl_line, is already gone; buf[n] writable: the
 * line ends at a NUL written there), reading it where it lies instead of in
 * a copy. head: udpl_peek of this line when the caller has it, so it is not
 * scanned twice, else NULL. */
udpl_reason udpl_cut(char *buf, size_t n, const udpl_head *head, hb_msg *out, hb_err *err,
                     udpl_hints *h);

/* Check a datagram's signature and walk its lines: fn(ctx, lineno, line, len)
 * for each non-blank one, without its CR, NUL-terminated where its CR or LF
 * was (or at buf[n]), so buf needs n + 1 writable bytes. Returns the datagram's outcome
 * (fn is called only when it is UDPL_D_OK). The lines are not parsed: the
 * caller cuts them (udpl_cut) when and in what order it likes. */
typedef void (*udpl_line_fn)(void *ctx, int lineno, char *line, size_t len);
udpl_dgram udpl_lines(char *buf, size_t n, const char *secret, size_t secret_len, udpl_line_fn fn,
                      void *ctx);

/* Parse a datagram of n bytes, calling fn for each non-blank line. secret of
 * secret_len bytes (secret_len 0: datagrams are not signed). Returns the
 * datagram's outcome; fn is called only when it is UDPL_D_OK.
 * buf must have n + 1 writable bytes: its lines are cut into words where
 * they lie (a NUL over each word's end, the LF and buf[n]), so afterwards it
 * no longer holds the datagram. That spares every line a copy of itself:
 * the caller's receive buffer is the parser's scratch. */
udpl_dgram udpl_parse(char *buf, size_t n, const char *secret, size_t secret_len, udpl_fn fn,
                      void *ctx);

/* Sign: write "sig <hex>\n" for body[0..n) under secret into out (at least
 * UDPL_SIG_LINE bytes). Returns the bytes written (no NUL counted). */
#define UDPL_SIG_LINE (4 + UDPL_SIG_HEX + 1 + 1) /* "sig " hex "\n" NUL */
size_t udpl_sign(const char *secret, size_t secret_len, const char *body, size_t n, char *out);

/* "bad_verb", "bad_id", …; "ok" for UDPL_OK. */
const char *udpl_reason_name(int why);
/* "ok", "no_sig", "bad_sig", "too_big". */
const char *udpl_dgram_name(int d);

#endif
