/*
 * ssep: incremental Server-Sent Events parser (see ssep.h for the rules).
 *
 * Mechanism: a chunk is cut at line ends (CR or LF). A line that ends inside
 * the chunk it started in is read in place; only a line split across chunks
 * is copied into `line` until its end arrives, so a whole-buffer feed copies
 * nothing but the data it keeps. Three bits of state carry over between
 * chunks besides that partial line: whether the last byte was a CR (so an LF
 * first in the next chunk completes a CRLF rather than making an empty line),
 * whether the line so far is a comment (its bytes are dropped as they come),
 * and how much of a leading BOM has been seen.
 *
 * The cap is checked against a running count of the message's line bytes as
 * each piece arrives, never against what one chunk holds, so where a stream
 * is split cannot change which messages are skipped.
 *
 * The standard distinguishes the "last event ID buffer" (set by an id line)
 * from the "last event ID string" (what the buffer held at the last empty
 * line): a message cut off by a dropped connection must not move the id a
 * client reconnects with. Both are kept; ssep_reset() rolls the buffer back.
 */
#include "core/ssep.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte string, always NUL-terminated once it has memory. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

struct ssep {
    ssep_cfg cfg;
    sbuf line;     /* the line in progress, when it spans chunks */
    sbuf data;     /* the data lines so far, each followed by '\n' */
    sbuf event;    /* event type buffer */
    sbuf id_buf;   /* last event ID buffer */
    sbuf id;       /* last event ID string */
    bool id_dirty; /* id_buf changed since the last empty line */
    long long retry;
    size_t msg_bytes; /* bytes of this message's lines, comments and line ends left out */
    ssep_err skip;    /* 0, or why the message in progress is being skipped */
    bool line_any;    /* the line in progress has at least one byte */
    bool comment;     /* ...and it began with ':' */
    bool after_cr;    /* the last byte fed was a CR */
    int bom;          /* bytes of a leading BOM seen; BOM_DONE once past it */
};

#define BOM_DONE 3
static const char bom[BOM_DONE] = {'\xEF', '\xBB', '\xBF'};

/* ---- buffers ----------------------------------------------------------------- */

static bool sbuf_reserve(sbuf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static bool sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (!sbuf_reserve(b, n)) return false;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool sbuf_set(sbuf *b, const char *s, size_t n)
{
    b->len = 0;
    return sbuf_add(b, s, n);
}

static void sbuf_clear(sbuf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

static const char *sbuf_str(const sbuf *b)
{
    return b->len ? b->p : "";
}

/* ---- messages ---------------------------------------------------------------- */

static void end_message(ssep *p)
{
    sbuf_clear(&p->data);
    sbuf_clear(&p->event);
    p->msg_bytes = 0;
    p->skip = 0;
}

/* The empty line: commit the id, then hand the message (or its skipping) out. */
static int dispatch(ssep *p)
{
    if (p->id_dirty) {
        /* Both hold at most max_msg bytes; memory for the copy is the only
         * failure, and then the previous id stays, as if the line was lost. */
        if (sbuf_set(&p->id, p->id_buf.p ? p->id_buf.p : "", p->id_buf.len)) p->id_dirty = false;
    }
    const char *event = p->event.len ? p->event.p : "message";
    int rc = 0;
    if (p->skip) {
        ssep_msg m = {sbuf_str(&p->id), event, NULL, 0, p->msg_bytes};
        if (p->cfg.on_error) rc = p->cfg.on_error(p->cfg.ctx, p->skip, &m);
    } else if (p->data.len > 0) {
        /* Every data line added a '\n'; the standard drops the last one. */
        p->data.p[--p->data.len] = '\0';
        ssep_msg m = {sbuf_str(&p->id), event, p->data.p, p->data.len, p->msg_bytes};
        rc = p->cfg.on_msg(p->cfg.ctx, &m);
    }
    end_message(p);
    return rc;
}

static bool is_field(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && !memcmp(name, want, n);
}

static void set_retry(ssep *p, const char *v, size_t n)
{
    if (n == 0) return;
    long long ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return; /* not only digits: ignored */
        int d = v[i] - '0';
        ms = ms > (LLONG_MAX - d) / 10 ? LLONG_MAX : ms * 10 + d;
    }
    p->retry = ms;
}

static void field(ssep *p, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - nlen - 1 : 0;
    if (vlen > 0 && v[0] == ' ') v++, vlen--;

    bool ok = true;
    if (is_field(s, nlen, "data"))
        ok = sbuf_add(&p->data, v, vlen) && sbuf_add(&p->data, "\n", 1);
    else if (is_field(s, nlen, "event"))
        ok = sbuf_set(&p->event, v, vlen);
    else if (is_field(s, nlen, "id")) {
        if (!memchr(v, '\0', vlen)) {
            ok = sbuf_set(&p->id_buf, v, vlen);
            p->id_dirty = true;
        }
    } else if (is_field(s, nlen, "retry"))
        set_retry(p, v, vlen);
    if (!ok) {
        /* Out of memory: drop what is held now, account for the message when
         * it ends, as for one that is too big. */
        p->skip = SSEP_ERR_NOMEM;
        sbuf_clear(&p->data);
    }
}

/* ---- lines ------------------------------------------------------------------- */

/* A line ended; s/n is its text when it was read in place, else NULL. */
static int end_line(ssep *p, const char *s, size_t n)
{
    int rc = 0;
    if (!p->line_any)
        rc = dispatch(p);
    else if (!p->comment && !p->skip)
        s ? field(p, s, n) : field(p, p->line.p ? p->line.p : "", p->line.len);
    sbuf_clear(&p->line);
    p->line_any = p->comment = false;
    return rc;
}

/* Take n bytes of the line in progress (no line end among them). Returns
 * whether they must be copied into p->line (else they are dropped). */
static bool take(ssep *p, const char *s, size_t n)
{
    if (n == 0) return false;
    if (!p->line_any) {
        p->line_any = true;
        p->comment = s[0] == ':';
    }
    if (p->comment) return false;
    /* Counted even when skipping, so that on_error can say how big it was. */
    p->msg_bytes = p->msg_bytes > SIZE_MAX - n ? SIZE_MAX : p->msg_bytes + n;
    if (p->skip) return false;
    if (p->msg_bytes > p->cfg.max_msg) {
        p->skip = SSEP_ERR_TOO_BIG;
        sbuf_clear(&p->line);
        sbuf_clear(&p->data);
        return false;
    }
    return true;
}

static const char *line_end(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r') return s + i;
    return NULL;
}

static int feed_body(ssep *p, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        if (p->after_cr) {
            p->after_cr = false;
            if (*s == '\n') { /* the LF of a CRLF whose CR ended the last line */
                s++;
                continue;
            }
        }
        const char *eol = line_end(s, (size_t)(end - s));
        size_t seg = (size_t)((eol ? eol : end) - s);
        bool keep = take(p, s, seg);
        if (!eol) {
            if (keep && !sbuf_add(&p->line, s, seg)) {
                p->skip = SSEP_ERR_NOMEM;
                sbuf_clear(&p->line);
                sbuf_clear(&p->data);
            }
            return 0;
        }
        int rc;
        if (keep && p->line.len == 0) {
            rc = end_line(p, s, seg); /* whole line in this chunk: read in place */
        } else {
            if (keep && !sbuf_add(&p->line, s, seg)) {
                p->skip = SSEP_ERR_NOMEM;
                sbuf_clear(&p->line);
                sbuf_clear(&p->data);
            }
            rc = end_line(p, NULL, 0);
        }
        p->after_cr = *eol == '\r';
        s = eol + 1;
        if (rc) return rc;
    }
    return 0;
}

/* ---- API --------------------------------------------------------------------- */

ssep *ssep_new(const ssep_cfg *cfg)
{
    if (!cfg || !cfg->on_msg) return NULL;
    ssep *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = *cfg;
    if (!p->cfg.max_msg) p->cfg.max_msg = SSEP_DEFAULT_MAX_MSG;
    p->retry = -1;
    return p;
}

void ssep_free(ssep *p)
{
    if (!p) return;
    free(p->line.p);
    free(p->data.p);
    free(p->event.p);
    free(p->id_buf.p);
    free(p->id.p);
    free(p);
}

int ssep_feed(ssep *p, const char *buf, size_t len)
{
    if (!p || !buf) return 0;
    size_t i = 0;
    /* The BOM may itself be split across chunks: match it byte by byte, and
     * if the stream turns out not to start with one, parse what was held. */
    while (p->bom < BOM_DONE && i < len) {
        if (buf[i] == bom[p->bom]) {
            p->bom++, i++;
            continue;
        }
        int held = p->bom;
        p->bom = BOM_DONE;
        int rc = feed_body(p, bom, (size_t)held);
        if (rc) return rc;
    }
    return feed_body(p, buf + i, len - i);
}

void ssep_reset(ssep *p)
{
    if (!p) return;
    sbuf_clear(&p->line);
    end_message(p);
    /* An id line of a message that never ended does not count. Should the
     * copy fail, id_buf is only read again after a new id line refills it. */
    if (p->id_dirty) sbuf_set(&p->id_buf, p->id.p ? p->id.p : "", p->id.len);
    p->id_dirty = false;
    p->line_any = p->comment = p->after_cr = false;
    p->bom = 0;
}

const char *ssep_last_id(const ssep *p)
{
    return p ? sbuf_str(&p->id) : "";
}

long long ssep_retry(const ssep *p)
{
    return p ? p->retry : -1;
}
