/*
 * hb_jobs.h: a heartbeat's job list, set from the JSON door or the text
 * form (hb.c's field table sends a "jobs" value here). Internal to core/hb.
 */
#ifndef VIGIL_CORE_HB_JOBS_H
#define VIGIL_CORE_HB_JOBS_H

#include "core/hb.h"
#include "core/hb_json.h"

/* The JSON array v (a span the scanner already passed) as m's list: 0, or
 * -1 with err naming "jobs"; m's list is then partly written, and the
 * caller drops m (a refused list fails the whole document). */
int hb_jobs_json(hb_msg *m, const hbj_value *v, hb_err *err);

/* "a,b,c" as m's list ("" is the empty list). Every id is checked before
 * anything is written, so a refused value leaves m's previous list. */
int hb_jobs_text(hb_msg *m, const char *v, hb_err *err);

#endif
