/*
 * hubp: pushing this node's summaries to its hub (see hubp.h).
 *
 * The thread sleeps on a condvar until the next push is due (or a stop),
 * builds the summary with no lock of ours held but the task counters'
 * (copied out), and sends it through curl's multi interface, polled in
 * HUBP_POLL_MS steps: a stop is seen within one step and the send given up
 * once the stop's deadline passes, which a blocking easy_perform could not
 * promise. The window advances (hubw_commit) only on a 2xx.
 */
#include "server/hubp.h"

#include "core/hubw.h"
#include "server/wq.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define HUBP_POLL_MS 50 /* ms: a push in flight looks at the stop flag this often */

struct hubp {
    app *a;
    pthread_t th;
    bool running;
    pthread_mutex_t mu; /* guards everything below but the stats' atomics */
    pthread_cond_t cv;
    bool stop;
    int64_t stop_by_ms; /* monotonic: give up a push past this (set with stop) */
    hubw_counts *tasks; /* task counters since start (hubp_tasks) */
    hubw w;             /* the thread's own: no lock */
    hubw_window *out;   /* the thread's own: the window being pushed */
    CURL *curl;
    CURLM *multi;
    struct curl_slist *headers;
    char url[CFG_STR_MAX + 128];
    uint32_t rnd;
    atomic_uint_least64_t ok, failed;
    atomic_int failures, last_status;
    atomic_int_least64_t last_ok_ms, from_ms;
};

static uint32_t next_rnd(hubp *p)
{
    uint32_t x = p->rnd; /* xorshift32: the jitter needs spread, not secrecy */
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return p->rnd = x ? x : 0x9e3779b9u;
}

hubp *hubp_new(app *a)
{
    if (!a->cfg.hub_url[0]) return NULL;
    hubp *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->a = a;
    pthread_mutex_init(&p->mu, NULL);
    app_cond_init(&p->cv);
    p->tasks = calloc(1, sizeof *p->tasks);
    p->out = calloc(1, sizeof *p->out);
    p->curl = curl_easy_init();
    p->multi = curl_multi_init();
    if (!p->tasks || !p->out || !p->curl || !p->multi) {
        hubp_free(p);
        return NULL;
    }
    const char *base = a->cfg.hub_url;
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    snprintf(p->url, sizeof p->url, "%.*s/v1/hub/nodes/%s/summary", (int)n, base, a->cfg.node_id);
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" wait on summaries past 1 KiB. */
    p->headers = curl_slist_append(p->headers, "Expect:");
    if (a->cfg.hub_token[0]) {
        char auth[CFG_STR_MAX + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->cfg.hub_token);
        p->headers = curl_slist_append(p->headers, auth);
    }
    if (getrandom(&p->rnd, sizeof p->rnd, 0) != (ssize_t)sizeof p->rnd)
        p->rnd = (uint32_t)app_now_ms();
    hubw_init(&p->w, a->boot_ms);
    atomic_store(&p->from_ms, a->boot_ms);
    return p;
}

void hubp_tasks(hubp *p, const tlat_row *rows, size_t n)
{
    if (!p || !n) return;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n; i++)
        hubw_task_add(p->tasks, rows[i].group, rows[i].count,
                      rows[i].mean_ms * (double)rows[i].count);
    pthread_mutex_unlock(&p->mu);
}

/* ---- the summary ---------------------------------------------------------------- */

typedef struct groups_ctx {
    cJSON *arr;
    size_t n;
    bool truncated;
} groups_ctx;

static cJSON *by_state(const uint32_t *count32, const uint64_t *count64)
{
    cJSON *o = cJSON_CreateObject();
    for (int s = REG_W_ALIVE; s < REG_W__COUNT; s++)
        cJSON_AddNumberToObject(o, reg_wstate_name(s),
                                count32 ? (double)count32[s] : (double)count64[s]);
    return o;
}

static void on_group(void *ctx, const reg_group_view *g)
{
    groups_ctx *c = ctx;
    if (c->n >= HUBP_GROUPS_MAX) {
        c->truncated = true;
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", g->name);
    cJSON_AddStringToObject(o, "state", reg_gstate_name(g->state));
    cJSON_AddItemToObject(o, "workers", by_state(g->count, NULL));
    cJSON_AddItemToArray(c->arr, o);
    c->n++;
}

/* The counters now, the window taken from them, and the summary of it. */
static char *build(hubp *p, int64_t now_ms)
{
    app *a = p->a;
    hubw_counts *now = &p->out->upto; /* filled in place, then taken */
    memset(now, 0, sizeof *now);
    pthread_mutex_lock(&p->mu);
    now->ntasks = p->tasks->ntasks;
    memcpy(now->tasks, p->tasks->tasks, now->ntasks * sizeof now->tasks[0]);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < REG_R__COUNT; k++)
        now->closed[k] = atomic_load(&a->sessions_closed[k]);
    now->accepted = atomic_load(&a->hb_accepted);
    now->rejected = atomic_load(&a->hb_rejected);
    hubw_counts copy = *now; /* hubw_take writes out->upto from it */
    hubw_take(&p->w, &copy, now_ms, p->out);
    const hubw_counts *d = &p->out->delta;

    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema_version", 1);
    cJSON_AddStringToObject(doc, "node_id", a->cfg.node_id);
    cJSON_AddNumberToObject(doc, "run_id", (double)a->run_id);
    cJSON_AddNumberToObject(doc, "seq", (double)(p->w.sent + 1));
    cJSON *win = cJSON_AddObjectToObject(doc, "window");
    cJSON_AddNumberToObject(win, "from_ms", (double)p->out->from_ms);
    cJSON_AddNumberToObject(win, "to_ms", (double)p->out->to_ms);
    cJSON_AddNumberToObject(doc, "interval_s", a->cfg.hub_interval_s);
    cJSON_AddNumberToObject(doc, "started_ms", (double)a->boot_ms);
    cJSON_AddNumberToObject(doc, "uptime_s", (double)((now_ms - a->boot_ms) / 1000));
    uint64_t counts[REG_W__COUNT];
    reg_counts(a->reg, counts);
    cJSON_AddItemToObject(doc, "workers", by_state(NULL, counts));
    groups_ctx gc = {.arr = cJSON_AddArrayToObject(doc, "groups")};
    reg_groups(a->reg, on_group, &gc);
    if (gc.truncated) cJSON_AddTrueToObject(doc, "groups_truncated");
    cJSON *sc = cJSON_AddObjectToObject(doc, "sessions_closed");
    for (int k = REG_R_CLEAN_SHUTDOWN; k < REG_R__COUNT; k++)
        cJSON_AddNumberToObject(sc, reg_reason_name(k), (double)d->closed[k]);
    cJSON *hb = cJSON_AddObjectToObject(doc, "heartbeats");
    cJSON_AddNumberToObject(hb, "accepted", (double)d->accepted);
    cJSON_AddNumberToObject(hb, "rejected", (double)d->rejected);
    cJSON *tasks = cJSON_AddArrayToObject(doc, "tasks");
    for (size_t i = 0; i < d->ntasks; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "group", d->tasks[i].group);
        cJSON_AddNumberToObject(t, "count", (double)d->tasks[i].count);
        cJSON_AddNumberToObject(t, "mean_ms", d->tasks[i].sum_ms / (double)d->tasks[i].count);
        cJSON_AddItemToArray(tasks, t);
    }
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return s;
}

/* ---- one push ------------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
    (void)ptr, (void)ctx;
    return size * n;
}

static bool stopping_past(hubp *p)
{
    pthread_mutex_lock(&p->mu);
    bool past = p->stop && app_mono_ms() >= p->stop_by_ms;
    pthread_mutex_unlock(&p->mu);
    return past;
}

/* The HTTP status, or 0 when no answer came (refused, timed out, given up
 * at a stop); why gets curl's words then. */
static long send_body(hubp *p, const char *body, int64_t timeout_ms, char *why, size_t whylen)
{
    CURL *c = p->curl;
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < HUBP_CONNECT_MS ? timeout_ms : HUBP_CONNECT_MS));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vigild/" VIGIL_VERSION);
    curl_multi_add_handle(p->multi, c);
    int running = 1;
    CURLcode done = CURLE_OK;
    bool gave_up = false;
    while (running) {
        if (curl_multi_perform(p->multi, &running) != CURLM_OK) break;
        if (!running) break;
        if (stopping_past(p)) {
            gave_up = true;
            break;
        }
        curl_multi_poll(p->multi, NULL, 0, HUBP_POLL_MS, NULL);
    }
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &left)))
        if (m->msg == CURLMSG_DONE) done = m->data.result;
    curl_multi_remove_handle(p->multi, c);
    long status = 0;
    if (gave_up) {
        snprintf(why, whylen, "given up: vigild is stopping");
        return 0;
    }
    if (done != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(done));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(why, whylen, "HTTP %ld", status);
    return status;
}

/* One push of the window so far. true when the hub took it. */
static bool push(hubp *p, int64_t timeout_ms)
{
    char *body = build(p, app_now_ms());
    if (!body) return false;
    char why[CURL_ERROR_SIZE + 64];
    long status = send_body(p, body, timeout_ms, why, sizeof why);
    free(body);
    atomic_store(&p->last_status, (int)status);
    bool ok = status >= 200 && status < 300;
    int was = atomic_load(&p->failures);
    if (ok) {
        hubw_commit(&p->w, p->out);
        atomic_store(&p->from_ms, p->w.from_ms);
        atomic_store(&p->last_ok_ms, app_now_ms());
        atomic_fetch_add(&p->ok, 1);
        atomic_store(&p->failures, 0);
        if (was) vlog("info", "hub: %s takes summaries again (after %d failures)", p->url, was);
    } else {
        atomic_fetch_add(&p->failed, 1);
        atomic_store(&p->failures, was + 1);
        /* Once per streak: the backoff retries quietly. */
        pthread_mutex_lock(&p->mu);
        bool last = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (last)
            vlog("warn", "hub: last push to %s failed (%s): the window since %lld is not sent",
                 p->url, why, (long long)p->w.from_ms);
        else if (!was)
            vlog("warn", "hub: push to %s failed (%s); retrying with backoff", p->url, why);
    }
    return ok;
}

static void *run(void *arg)
{
    hubp *p = arg;
    pthread_mutex_lock(&p->mu);
    int64_t due =
        app_mono_ms() + hubw_delay_ms((int64_t)p->a->cfg.hub_interval_s * 1000, 0, next_rnd(p));
    while (!p->stop) {
        int64_t wait = due - app_mono_ms();
        if (wait > 0) {
            struct timespec ts = app_deadline(wait);
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        push(p, HUBP_SEND_TIMEOUT_MS);
        int f = atomic_load(&p->failures);
        int64_t d = hubw_delay_ms((int64_t)p->a->cfg.hub_interval_s * 1000, f, next_rnd(p));
        pthread_mutex_lock(&p->mu);
        due = app_mono_ms() + d;
    }
    /* The last push: what happened since the last one the hub took. */
    int64_t left = p->stop_by_ms - app_mono_ms();
    pthread_mutex_unlock(&p->mu);
    if (left > 0) push(p, left);
    return NULL;
}

int hubp_start(hubp *p, char *err, size_t errlen)
{
    if (!p) return 0;
    if (pthread_create(&p->th, NULL, run, p) != 0) {
        snprintf(err, errlen, "hub: cannot start the push thread");
        return -1;
    }
    p->running = true;
    vlog("info", "hub: pushing summaries to %s every %d s", p->url, p->a->cfg.hub_interval_s);
    return 0;
}

void hubp_stop(hubp *p)
{
    if (!p || !p->running) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    p->stop_by_ms = app_mono_ms() + HUBP_STOP_WAIT_MS;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    p->running = false;
}

void hubp_free(hubp *p)
{
    if (!p) return;
    hubp_stop(p);
    if (p->multi) curl_multi_cleanup(p->multi);
    if (p->curl) curl_easy_cleanup(p->curl);
    curl_slist_free_all(p->headers);
    free(p->tasks);
    free(p->out);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void hubp_get_stats(hubp *p, hubp_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p) return;
    out->ok = atomic_load(&p->ok);
    out->failed = atomic_load(&p->failed);
    out->failures = atomic_load(&p->failures);
    out->last_ok_ms = atomic_load(&p->last_ok_ms);
    out->window_from_ms = atomic_load(&p->from_ms);
    out->last_status = atomic_load(&p->last_status);
}
