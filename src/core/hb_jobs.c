/*
 * hb_jobs.c: a heartbeat's job list from either door (hb_jobs.h): a JSON
 * array of strings, or the text form's comma-separated ids. One set of
 * rules and words for both, stored joined by '\n' in hb_msg.
 */
#include "core/hb_jobs.h"

#include <string.h>

/* A job id is checked whole while it sits in the scanner's string buffer. */
_Static_assert(HB_JOB_ID_MAX <= HBJ_STR_CAP, "job ids must fit the JSON scanner's buffer");
_Static_assert(HB_JOBS_BYTES <= UINT16_MAX && HB_JOBS_MAX <= UINT16_MAX, "njobs, jobs_len");

/* Can id s[0..n) follow a list of nj ids joined into len bytes? The same
 * rules and words for both doors. hb_text_valid refuses '\n' (and ','
 * cannot reach here from the text form), so the joined list splits back
 * into exactly the ids that went in. */
static int job_check(size_t nj, size_t len, const char *s, size_t n, hb_err *err)
{
    if (nj >= HB_JOBS_MAX) return hb_fail(err, "jobs", "has more than 64 job ids");
    if (n < 1 || n > HB_JOB_ID_MAX || !hb_text_valid(s, n))
        return hb_fail(err, "jobs",
                       "has a job id that is not 1-128 bytes of UTF-8 without control characters");
    if (len + (nj ? 1 : 0) + n > HB_JOBS_BYTES)
        return hb_fail(err, "jobs", "must total at most 4096 bytes (ids joined by newlines)");
    return 0;
}

typedef struct jobs_ctx {
    hb_msg *m;
    hb_err *err;
    int rc;
} jobs_ctx;

static void on_job(void *ctx, const hbj_value *v)
{
    jobs_ctx *c = ctx;
    if (c->rc) return;
    hb_msg *m = c->m;
    if (v->type != HBJ_STRING) {
        c->rc = hb_fail(c->err, "jobs", "must be an array of strings");
        return;
    }
    c->rc = job_check(m->njobs, m->jobs_len, v->str, v->len, c->err);
    if (c->rc) return;
    if (m->njobs) m->jobs[m->jobs_len++] = '\n';
    memcpy(m->jobs + m->jobs_len, v->str, v->len);
    m->jobs_len = (uint16_t)(m->jobs_len + v->len);
    m->jobs[m->jobs_len] = '\0';
    m->njobs++;
}

/* Written straight into m: a refused list fails the whole document, and the
 * parser's m is a local that is then dropped. */
int hb_jobs_json(hb_msg *m, const hbj_value *v, hb_err *err)
{
    m->njobs = 0;
    m->jobs_len = 0;
    m->jobs[0] = '\0';
    jobs_ctx c = {m, err, 0};
    /* The span passed the scanner once already, so only c.rc can fail. */
    if (hbj_parse_array(v->str, v->len, on_job, &c) != 0 && !c.rc)
        c.rc = hb_fail(err, "jobs", "must be an array of strings");
    if (c.rc) return c.rc;
    m->has |= HB_HAS_JOBS;
    return 0;
}

int hb_jobs_text(hb_msg *m, const char *v, hb_err *err)
{
    size_t nj = 0, len = 0;
    const char *p = v;
    bool more = *v != '\0'; /* "" is no ids, not one empty id */
    while (more) {
        size_t n = strcspn(p, ",");
        if (job_check(nj, len, p, n, err)) return -1;
        len += (nj ? 1 : 0) + n;
        nj++;
        more = p[n] == ',';
        p += n + 1;
    }
    /* One ',' per '\n', so the joined form is the value, re-punctuated. */
    for (size_t i = 0; i < len; i++)
        m->jobs[i] = v[i] == ',' ? '\n' : v[i];
    m->jobs[len] = '\0';
    m->jobs_len = (uint16_t)len;
    m->njobs = (uint16_t)nj;
    m->has |= HB_HAS_JOBS;
    return 0;
}
