/*
 * alert: the engine of alert.h (mechanism in its banner).
 *
 * State is one record per (rule, subject) in a hash by key, kept while the
 * alert is active, owes a resolve notice, counts flapping closes, or its
 * cooldown still runs; alert_tick drops it after. Records are few next to
 * the fleet (only subjects with something wrong), so a tick walks them all.
 */
#include "core/alert.h"

#include "core/tfmt.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define KEY_MAX (sizeof(((notice *)0)->key))

typedef struct al {
    char key[KEY_MAX];
    int rule;
    bool active;           /* the condition holds */
    bool notified;         /* a firing notice went out for this activation */
    bool folded;           /* worker_lost folded into its group's group_down */
    bool resolve_due;      /* ended after being notified: a resolve notice is owed */
    bool held;             /* counted once as held back (silence or cooldown) */
    int64_t pending_since; /* threshold: condition true since (0: it is not) */
    int64_t last_fire_ms;  /* last firing notice (cooldown), kept across activations */
    int64_t last_sent_ms;  /* last firing or repeat notice (repeat) */
    int nflap;
    int64_t flap[ALERT_FLAP_MAX + 1]; /* flapping: non-clean close times, oldest first */
    notice n;                         /* subject, figures, times */
    UT_hash_handle hh;
} al;

typedef struct sil {
    alert_silence s;
    struct sil *next;
} sil;

struct alert_engine {
    alert_rule *rules;
    int nrules;
    int64_t grace_until_ms;
    al *alerts;
    sil *silences; /* in id order */
    int64_t next_silence_id;
    alert_stats st;
};

static const char *const type_names[ALERT__TYPES] = {"worker_lost", "group_down",  "threshold",
                                                     "stuck",       "score_below", "flapping"};

const char *alert_type_name(alert_type t)
{
    return (unsigned)t < ALERT__TYPES ? type_names[t] : "unknown";
}

int alert_type_parse(const char *s)
{
    for (int i = 0; i < ALERT__TYPES; i++)
        if (strcmp(s, type_names[i]) == 0) return i;
    return -1;
}

bool alert_glob(const char *glob, const char *s)
{
    return !glob[0] || fnmatch(glob, s ? s : "", 0) == 0;
}

alert_engine *alert_new(const alert_rule *rules, int nrules, int64_t start_ms, int64_t grace_ms)
{
    alert_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (nrules > 0) {
        e->rules = malloc((size_t)nrules * sizeof *rules);
        if (!e->rules) {
            free(e);
            return NULL;
        }
        memcpy(e->rules, rules, (size_t)nrules * sizeof *rules);
    }
    e->nrules = nrules;
    e->grace_until_ms = start_ms + grace_ms;
    e->next_silence_id = 1;
    return e;
}

void alert_free(alert_engine *e)
{
    if (!e) return;
    al *a, *tmp;
    HASH_ITER(hh, e->alerts, a, tmp)
    {
        HASH_DEL(e->alerts, a);
        free(a);
    }
    for (sil *s = e->silences, *nx; s; s = nx) {
        nx = s->next;
        free(s);
    }
    free(e->rules);
    free(e);
}

static bool rule_matches(const alert_rule *r, const char *group, const char *worker_id)
{
    return alert_glob(r->group_glob, group) && alert_glob(r->worker_glob, worker_id);
}

/* The record of (rule, subject), created when `create`. NULL when absent
 * (or out of memory: an alert is then missed, never the caller crashed). */
static al *get(alert_engine *e, int rule, const char *worker_id, const char *group, bool create)
{
    char key[KEY_MAX];
    const char *subj = worker_id && worker_id[0] ? worker_id : group && group[0] ? group : "fleet";
    snprintf(key, sizeof key, "%s/%s", e->rules[rule].name, subj);
    al *a;
    HASH_FIND_STR(e->alerts, key, a);
    if (a || !create) return a;
    if (!(a = calloc(1, sizeof *a))) return NULL;
    const alert_rule *r = &e->rules[rule];
    memcpy(a->key, key, sizeof key);
    a->rule = rule;
    notice *n = &a->n;
    memcpy(n->key, key, sizeof key);
    snprintf(n->rule, sizeof n->rule, "%s", r->name);
    snprintf(n->type, sizeof n->type, "%s", alert_type_name(r->type));
    n->severity = r->severity;
    snprintf(n->worker_id, sizeof n->worker_id, "%s", worker_id ? worker_id : "");
    snprintf(n->group, sizeof n->group, "%s", group ? group : "");
    snprintf(n->field, sizeof n->field, "%s", r->field);
    n->limit = r->value;
    n->in_flight = -1;
    n->nsinks = r->nsinks;
    memcpy(n->sinks, r->sinks, sizeof n->sinks);
    HASH_ADD_STR(e->alerts, key, a);
    return a;
}

/* The readable line of a notice, by type and state. */
static void summarize(const alert_rule *r, notice *n)
{
    char d[32];
    bool end = n->state == NOTICE_RESOLVED;
    const char *w = n->worker_id, *g = n->group[0] ? n->group : "-";
    switch (r->type) {
    case ALERT_WORKER_LOST:
        if (end)
            snprintf(n->summary, sizeof n->summary, "worker %s (group %s) is back", w, g);
        else
            snprintf(n->summary, sizeof n->summary,
                     "worker %s (group %s) lost: no heartbeat since %s, in_flight %lld", w, g,
                     tfmt_iso(n->last_hb_ms, d), (long long)n->in_flight);
        break;
    case ALERT_GROUP_DOWN:
        if (end)
            snprintf(n->summary, sizeof n->summary, "group %s is up again", g);
        else if (n->clean)
            snprintf(n->summary, sizeof n->summary,
                     "group %s scaled down to zero: the last worker left cleanly", g);
        else
            snprintf(n->summary, sizeof n->summary,
                     "group %s crashed: no worker alive, the last one did not say bye", g);
        break;
    case ALERT_FLAPPING:
        snprintf(n->summary, sizeof n->summary,
                 end ? "worker %s (group %s) stopped flapping"
                     : "worker %s (group %s) flapping: more than %d sessions ended badly "
                       "within %lld s",
                 w, g, r->count, (long long)(r->window_ms / 1000));
        break;
    case ALERT_STUCK:
        snprintf(n->summary, sizeof n->summary,
                 end ? "worker %s (group %s) is working again"
                     : "worker %s (group %s) stuck: alive, cpu_ticks still for %.0f s",
                 w, g, n->value / 1000);
        break;
    default: {
        static const char *const ops[] = {">", ">=", "<", "<="};
        const char *subj = w[0] ? w : n->group[0] ? n->group : "fleet";
        if (end)
            snprintf(n->summary, sizeof n->summary, "%s of %s back to %g", n->field, subj,
                     n->value);
        else
            snprintf(n->summary, sizeof n->summary, "%s of %s is %g (%s %g)", n->field, subj,
                     n->value, ops[r->op], r->value);
    }
    }
}

/* Hand the alert's notice, as of now in state st, to an output: on_change
 * (send false) or on_send (send true). */
static void emit(alert_engine *e, al *a, notice_state st, int64_t now, const alert_out *out,
                 bool send)
{
    a->n.state = st;
    a->n.at_ms = now;
    summarize(&e->rules[a->rule], &a->n);
    if (send) e->st.sent++;
    void (*fn)(void *, const notice *) = !out ? NULL : send ? out->on_send : out->on_change;
    if (fn) fn(out->ctx, &a->n);
}

static void activate(alert_engine *e, al *a, int64_t now, const alert_out *out)
{
    if (a->active) return;
    a->active = true;
    a->notified = a->folded = a->held = false;
    a->n.starts_ms = now;
    a->n.ends_ms = 0;
    a->n.folded = 0;
    e->st.fired++;
    emit(e, a, NOTICE_FIRING, now, out, false);
}

static void deactivate(alert_engine *e, al *a, int64_t now, const alert_out *out)
{
    a->pending_since = 0;
    if (!a->active) return;
    a->active = false;
    a->n.ends_ms = now;
    e->st.resolved++;
    emit(e, a, NOTICE_RESOLVED, now, out, false);
    if (a->notified && e->rules[a->rule].resolve) a->resolve_due = true;
    a->notified = false;
}

/* Every alert of the given type about this worker ends (it is back). */
static void end_worker(alert_engine *e, alert_type t, const char *worker_id, int64_t now,
                       const alert_out *out)
{
    for (int i = 0; i < e->nrules; i++)
        if (e->rules[i].type == t) {
            al *a = get(e, i, worker_id, NULL, false);
            if (a) deactivate(e, a, now, out);
        }
}

static bool bad_close(int reason)
{
    /* A crash, a hang or a restart without bye; not vigild's own gap, not a
     * clean leave, not an operator's eviction. */
    return reason == REG_R_TIMEOUT || reason == REG_R_FAILED || reason == REG_R_RESTARTED;
}

static void flap(alert_engine *e, int i, const reg_event *ev, int64_t now, const alert_out *out)
{
    const alert_rule *r = &e->rules[i];
    al *a = get(e, i, ev->worker_id, ev->group, true);
    if (!a) return;
    if (a->nflap == ALERT_FLAP_MAX + 1) {
        memmove(a->flap, a->flap + 1, ALERT_FLAP_MAX * sizeof *a->flap);
        a->nflap--;
    }
    a->flap[a->nflap++] = ev->at_ms;
    int in = 0;
    for (int k = 0; k < a->nflap; k++)
        in += a->flap[k] > now - r->window_ms;
    a->n.value = in;
    if (in > r->count) activate(e, a, now, out);
}

void alert_event(alert_engine *e, const reg_event *ev, const alert_worker_info *wi, int64_t now_ms,
                 const alert_out *out)
{
    switch (ev->kind) {
    case REG_EV_SESSION_CLOSE:
        /* Judged on a live worker's samples: a worker no longer there is
         * neither stuck nor over a threshold (and is not sampled again). */
        end_worker(e, ALERT_STUCK, ev->worker_id, now_ms, out);
        end_worker(e, ALERT_THRESHOLD, ev->worker_id, now_ms, out);
        for (int i = 0; i < e->nrules; i++) {
            const alert_rule *r = &e->rules[i];
            if (!rule_matches(r, ev->group, ev->worker_id)) continue;
            if (r->type == ALERT_FLAPPING && bad_close(ev->reason)) flap(e, i, ev, now_ms, out);
            if (r->type != ALERT_WORKER_LOST || ev->reason != REG_R_TIMEOUT) continue;
            al *a = get(e, i, ev->worker_id, ev->group, true);
            if (!a || a->active) continue;
            snprintf(a->n.instance, sizeof a->n.instance, "%s", ev->instance);
            a->n.last_hb_ms = ev->last_hb_ms;
            a->n.session_ms = ev->last_hb_ms > ev->opened_ms ? ev->last_hb_ms - ev->opened_ms : 0;
            a->n.in_flight = wi ? wi->in_flight : -1;
            a->n.njobs = wi && wi->jobs ? wi->njobs : 0;
            snprintf(a->n.jobs, sizeof a->n.jobs, "%s", a->n.njobs ? wi->jobs : "");
            activate(e, a, now_ms, out);
        }
        break;
    case REG_EV_SESSION_OPEN:
        end_worker(e, ALERT_WORKER_LOST, ev->worker_id, now_ms, out);
        break;
    case REG_EV_WORKER_STATE:
        if (ev->state == REG_W_ALIVE || ev->state == REG_W_EVICTED)
            end_worker(e, ALERT_WORKER_LOST, ev->worker_id, now_ms, out);
        break;
    case REG_EV_WORKER_FORGET:
        for (int t = 0; t < ALERT__TYPES; t++)
            end_worker(e, (alert_type)t, ev->worker_id, now_ms, out);
        break;
    case REG_EV_GROUP_STATE:
        for (int i = 0; i < e->nrules; i++) {
            const alert_rule *r = &e->rules[i];
            if (r->type != ALERT_GROUP_DOWN || !alert_glob(r->group_glob, ev->group)) continue;
            bool down = ev->state == REG_G_CRASHED || ev->state == REG_G_SCALED_DOWN;
            al *a = get(e, i, NULL, ev->group, down);
            if (!a) continue;
            if (down) {
                a->n.clean = ev->state == REG_G_SCALED_DOWN;
                activate(e, a, now_ms, out);
            } else if (ev->state == REG_G_ALIVE) {
                deactivate(e, a, now_ms, out);
            }
        }
        break;
    }
}

static bool compare(alert_op op, double v, double limit)
{
    switch (op) {
    case ALERT_GT:
        return v > limit;
    case ALERT_GE:
        return v >= limit;
    case ALERT_LT:
        return v < limit;
    default:
        return v <= limit;
    }
}

void alert_measure(alert_engine *e, const char *field, const char *worker_id, const char *group,
                   double value, int64_t now_ms, const alert_out *out)
{
    for (int i = 0; i < e->nrules; i++) {
        const alert_rule *r = &e->rules[i];
        if (r->type != ALERT_THRESHOLD && r->type != ALERT_SCORE_BELOW && r->type != ALERT_STUCK)
            continue;
        if (strcmp(r->field, field) != 0 || !rule_matches(r, group, worker_id)) continue;
        bool hit =
            r->type == ALERT_STUCK ? value >= (double)r->for_ms : compare(r->op, value, r->value);
        al *a = get(e, i, worker_id, group, hit);
        if (!a) continue;
        a->n.value = value;
        if (!hit) {
            deactivate(e, a, now_ms, out);
            continue;
        }
        if (!a->pending_since) a->pending_since = now_ms;
        if (r->type != ALERT_THRESHOLD || now_ms - a->pending_since >= r->for_ms)
            activate(e, a, now_ms, out);
    }
}

static bool silenced(alert_engine *e, const al *a, int64_t now)
{
    for (const sil *s = e->silences; s; s = s->next)
        if (s->s.starts_ms <= now && now < s->s.ends_ms && alert_glob(s->s.rule_glob, a->n.rule) &&
            alert_glob(s->s.group_glob, a->n.group) && alert_glob(s->s.worker_glob, a->n.worker_id))
            return true;
    return false;
}

/* Group name -> its active group_down alert, for folding. */
typedef struct gdown {
    al *a;
    UT_hash_handle hh;
} gdown;

static void fold(alert_engine *e)
{
    gdown *downs = NULL, *d, *tmp;
    al *a, *atmp;
    HASH_ITER(hh, e->alerts, a, atmp)
    {
        if (!a->active || e->rules[a->rule].type != ALERT_GROUP_DOWN) continue;
        HASH_FIND_STR(downs, a->n.group, d);
        if (d || !(d = calloc(1, sizeof *d))) continue;
        d->a = a;
        HASH_ADD_KEYPTR(hh, downs, a->n.group, strlen(a->n.group), d);
    }
    if (!downs) return;
    HASH_ITER(hh, e->alerts, a, atmp)
    {
        if (!a->active || a->notified || a->folded || e->rules[a->rule].type != ALERT_WORKER_LOST)
            continue;
        HASH_FIND_STR(downs, a->n.group, d);
        if (!d) continue;
        a->folded = true;
        e->st.folded++;
        notice *gn = &d->a->n;
        if (gn->folded < NOTICE_FOLDED_SHOWN)
            snprintf(gn->folded_ids[gn->folded], sizeof gn->folded_ids[0], "%s", a->n.worker_id);
        gn->folded++;
    }
    HASH_ITER(hh, downs, d, tmp)
    {
        HASH_DEL(downs, d);
        free(d);
    }
}

void alert_tick(alert_engine *e, int64_t now_ms, const alert_out *out)
{
    /* silences past their end go */
    for (sil **p = &e->silences; *p;) {
        if ((*p)->s.ends_ms <= now_ms) {
            sil *x = *p;
            *p = x->next;
            free(x);
        } else {
            p = &(*p)->next;
        }
    }
    al *a, *tmp;
    HASH_ITER(hh, e->alerts, a, tmp)
    {
        const alert_rule *r = &e->rules[a->rule];
        if (r->type == ALERT_THRESHOLD && a->pending_since && !a->active &&
            now_ms - a->pending_since >= r->for_ms)
            activate(e, a, now_ms, out);
        if (r->type == ALERT_FLAPPING) {
            int drop = 0;
            while (drop < a->nflap && a->flap[drop] <= now_ms - r->window_ms)
                drop++;
            memmove(a->flap, a->flap + drop, (size_t)(a->nflap - drop) * sizeof *a->flap);
            a->nflap -= drop;
            a->n.value = a->nflap;
            if (a->active && a->nflap <= r->count) deactivate(e, a, now_ms, out);
        }
    }
    fold(e);
    HASH_ITER(hh, e->alerts, a, tmp)
    {
        const alert_rule *r = &e->rules[a->rule];
        if (a->resolve_due) {
            a->resolve_due = false;
            emit(e, a, NOTICE_RESOLVED, now_ms, out, true);
        }
        if (a->active && !a->notified && !a->folded) {
            bool grace = (r->type == ALERT_WORKER_LOST || r->type == ALERT_GROUP_DOWN) &&
                         now_ms < e->grace_until_ms;
            bool cool = a->last_fire_ms && now_ms < a->last_fire_ms + r->cooldown_ms;
            bool quiet = !grace && !cool && silenced(e, a, now_ms);
            if (!grace && (cool || quiet) && !a->held) {
                a->held = true;
                if (cool)
                    e->st.held_cooldown++;
                else
                    e->st.held_silenced++;
            }
            if (!grace && !cool && !quiet) {
                a->notified = true;
                a->last_fire_ms = a->last_sent_ms = now_ms;
                emit(e, a, NOTICE_FIRING, now_ms, out, true);
            }
        } else if (a->active && a->notified && r->repeat_ms &&
                   now_ms - a->last_sent_ms >= r->repeat_ms) {
            a->last_sent_ms = now_ms;
            if (!silenced(e, a, now_ms)) emit(e, a, NOTICE_REPEAT, now_ms, out, true);
        }
        bool cooling = a->last_fire_ms && now_ms < a->last_fire_ms + r->cooldown_ms;
        if (!a->active && !a->resolve_due && !a->pending_since && !a->nflap && !cooling) {
            HASH_DEL(e->alerts, a);
            free(a);
        }
    }
}

int64_t alert_silence_add(alert_engine *e, alert_silence *s, int64_t now_ms)
{
    if (s->ends_ms <= now_ms) return -1;
    sil *x = calloc(1, sizeof *x), **p = &e->silences;
    if (!x) return -1;
    if (!s->starts_ms) s->starts_ms = now_ms;
    s->id = e->next_silence_id++;
    x->s = *s;
    while (*p)
        p = &(*p)->next;
    *p = x;
    return s->id;
}

int alert_silence_del(alert_engine *e, int64_t id)
{
    for (sil **p = &e->silences; *p; p = &(*p)->next)
        if ((*p)->s.id == id) {
            sil *x = *p;
            *p = x->next;
            free(x);
            return 0;
        }
    return -1;
}

void alert_silences(alert_engine *e, int64_t now_ms, void (*fn)(void *ctx, const alert_silence *s),
                    void *ctx)
{
    for (const sil *s = e->silences; s; s = s->next)
        if (s->s.ends_ms > now_ms) fn(ctx, &s->s);
}

void alert_get_stats(alert_engine *e, alert_stats *out)
{
    *out = e->st;
    out->active = 0;
    al *a, *tmp;
    HASH_ITER(hh, e->alerts, a, tmp)
    out->active += a->active;
    out->silences = 0;
    for (const sil *s = e->silences; s; s = s->next)
        out->silences++;
}

int alert_set_rules(alert_engine *e, const alert_rule *rules, int nrules)
{
    alert_rule *nr = NULL;
    if (nrules > 0) {
        if (!(nr = malloc((size_t)nrules * sizeof *nr))) return -1;
        memcpy(nr, rules, (size_t)nrules * sizeof *nr);
    }
    al *a, *tmp;
    HASH_ITER(hh, e->alerts, a, tmp)
    {
        int k = 0;
        while (k < nrules && strcmp(nr[k].name, e->rules[a->rule].name) != 0)
            k++;
        if (k == nrules) {
            HASH_DEL(e->alerts, a);
            free(a);
            continue;
        }
        a->rule = k;
        notice *n = &a->n; /* the notice speaks with the rule's new settings */
        n->severity = nr[k].severity;
        n->nsinks = nr[k].nsinks;
        memcpy(n->sinks, nr[k].sinks, sizeof n->sinks);
        snprintf(n->type, sizeof n->type, "%s", alert_type_name(nr[k].type));
        snprintf(n->field, sizeof n->field, "%s", nr[k].field);
        n->limit = nr[k].value;
    }
    free(e->rules);
    e->rules = nr;
    e->nrules = nrules;
    return 0;
}
