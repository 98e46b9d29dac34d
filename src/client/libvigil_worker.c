/*
 * libvigil_worker: vigil_worker, a heartbeat thread behind a handle.
 *
 * Mechanism: the handle holds the worker's samples as text (key -> value,
 * each checked with hb_set_kv when set) and the task durations not yet sent,
 * under one mutex that is only held to copy them. A background thread owns a
 * vigil_client of its own and loops: wait, copy the samples, send one
 * heartbeat (then the durations), pick the next wait with
 * lv_worker_delay_ms. The wait is a poll() on a self-pipe, so three things
 * can cut it short by writing one byte: close (a 0 byte: stop), and the
 * SIGTERM/SIGINT handler of vigil_bye_on_signal (the signal's number). A
 * signal handler may call write(2) and nothing much else, which is why the
 * bye itself is sent from the thread and the signal raised again there.
 *
 * The delay and the default instance are pure functions (the random source
 * passed in), unit-tested in tests/unit/test_worker.c.
 */
#include "client/libvigil_int.h"

#include "core/hb.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LVW_SAMPLES_MAX 16         /* distinct sample keys: all there are, with room */
#define LVW_JITTER_MAX 0.5         /* more would let a wait reach 0 */
#define LVW_SIG_CONNECT_MS 1000L   /* the signal bye: the process is being stopped */
#define LVW_SIG_TOTAL_MS 2000L     /* ... and a supervisor's kill timer is running */
#define LVW_TASKS_JSON_MAX (32768) /* 1000 durations of up to 26 bytes each, and the ids */
#define LVW_NUM_MAX 32             /* bytes of a number's text form */

typedef struct lvw_sample {
    char *key, *value;
} lvw_sample;

struct vigil_worker {
    vigil_client *c; /* the thread's; used by close only after the join */
    char id[HB_ID_MAX + 1], group[HB_ID_MAX + 1], instance[HB_INSTANCE_MAX + 1];
    int ttl_s;
    long interval_ms;
    double jitter;
    void (*on_error)(void *ctx, int status, const char *message);
    void *ctx;
    int wake[2]; /* self-pipe: [0] polled by the thread, [1] written by close and signals */
    pthread_t thread;
    uint64_t rng;
    int64_t seq; /* the thread's only */

    pthread_mutex_t mu; /* guards what follows */
    lvw_sample samples[LVW_SAMPLES_MAX];
    size_t nsamples;
    double tasks[VIGIL_WORKER_TASKS_MAX];
    size_t ntasks;
    bool stop;
};

/* ---- pure parts ----------------------------------------------------------- */

double lv_rand_xorshift(void *state)
{
    uint64_t *s = state, x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}

long lv_worker_delay_ms(long interval_ms, double jitter, int failures, lv_rand_fn rnd, void *ctx)
{
    double base = (double)interval_ms;
    if (failures > 0) {
        /* 1 s, 2 s, 4 s...: a restarting vigild is not hammered, yet is found soon. */
        int shift = failures - 1 < 30 ? failures - 1 : 30;
        double retry = (double)VIGIL_WORKER_RETRY_MS * (double)(1L << shift);
        if (retry < base) base = retry;
    }
    if (jitter > 0 && rnd) base *= 1.0 + jitter * (2.0 * rnd(ctx) - 1.0);
    long ms = lround(base);
    return ms < 1 ? 1 : ms;
}

bool lv_default_instance(const char *host, long pid, int64_t start_ms, char *buf, size_t cap)
{
    char tail[64];
    int tn = snprintf(tail, sizeof tail, ":%ld:%lld", pid, (long long)start_ms);
    if (tn < 0 || cap == 0) return false;
    size_t room = cap - 1 < HB_INSTANCE_MAX ? cap - 1 : HB_INSTANCE_MAX;
    if ((size_t)tn >= room) return false;
    size_t hn = strlen(host && *host ? host : "localhost");
    if (hn > room - (size_t)tn) hn = room - (size_t)tn; /* a long FQDN: keep its start */
    snprintf(buf, cap, "%.*s%s", (int)hn, host && *host ? host : "localhost", tail);
    return hb_text_valid(buf, strlen(buf));
}

size_t lv_tasks_json(const char *worker_id, const char *group, const double *ms, size_t n,
                     char *buf, size_t cap)
{
    /* Ids are [A-Za-z0-9._:@-] (checked at open): nothing to escape. */
    size_t len = (size_t)snprintf(buf, cap, "{\"worker_id\":\"%s\"", worker_id);
    if (len < cap && group && *group)
        len += (size_t)snprintf(buf + len, cap - len, ",\"group\":\"%s\"", group);
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, ",\"durations_ms\":[");
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%.17g", i ? "," : "", ms[i]);
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "]}");
    return len < cap ? len : 0;
}

/* ---- the thread ------------------------------------------------------------ */

static void report(vigil_worker *w, int status, const char *what)
{
    if (!w->on_error) return;
    char msg[LV_ERR_MAX + 64];
    snprintf(msg, sizeof msg, "%s: %s", what, vigil_last_error(w->c));
    w->on_error(w->ctx, status, msg);
}

/* Heartbeat or bye fields: the fixed ones, then copies of the samples (freed
 * by free_fields), and task_ms when exactly one duration is pending. The
 * pending durations move to *tasks (n in *ntasks) for the caller to send. */
typedef struct lvw_fields {
    vigil_field f[LVW_SAMPLES_MAX + 6];
    size_t n;
    char *owned[LVW_SAMPLES_MAX];
    size_t nowned;
    char seq[LVW_NUM_MAX], ttl[LVW_NUM_MAX], task[LVW_NUM_MAX], exit[LVW_NUM_MAX];
} lvw_fields;

static void free_fields(lvw_fields *fs)
{
    for (size_t i = 0; i < fs->nowned; i++)
        free(fs->owned[i]);
    fs->nowned = 0;
}

static void take_fields(vigil_worker *w, lvw_fields *fs, double *tasks, size_t *ntasks)
{
    fs->n = fs->nowned = 0;
    fs->task[0] = '\0';
    if (w->group[0]) fs->f[fs->n++] = (vigil_field){"group", w->group};
    fs->f[fs->n++] = (vigil_field){"instance", w->instance};
    if (w->ttl_s > 0) {
        snprintf(fs->ttl, sizeof fs->ttl, "%d", w->ttl_s);
        fs->f[fs->n++] = (vigil_field){"ttl_s", fs->ttl};
    }
    snprintf(fs->seq, sizeof fs->seq, "%lld", (long long)w->seq);
    fs->f[fs->n++] = (vigil_field){"seq", fs->seq};
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nsamples; i++) {
        /* Keys are the handle's own (freed only at close); the value is copied. */
        char *v = strdup(w->samples[i].value);
        if (!v) continue; /* out of memory: this beat goes without the sample */
        fs->owned[fs->nowned++] = v;
        fs->f[fs->n++] = (vigil_field){w->samples[i].key, v};
    }
    *ntasks = w->ntasks;
    memcpy(tasks, w->tasks, w->ntasks * sizeof *tasks);
    w->ntasks = 0;
    pthread_mutex_unlock(&w->mu);
    if (*ntasks == 1) {
        snprintf(fs->task, sizeof fs->task, "%.17g", tasks[0]);
        fs->f[fs->n++] = (vigil_field){"task_ms", fs->task};
        *ntasks = 0;
    }
}

/* Durations not sent (the server was unreachable) go back to the queue, in
 * front of the newer ones, as far as there is room. */
static void put_back(vigil_worker *w, const double *tasks, size_t n)
{
    pthread_mutex_lock(&w->mu);
    size_t room = VIGIL_WORKER_TASKS_MAX - w->ntasks;
    if (n > room) n = room;
    memmove(w->tasks + n, w->tasks, w->ntasks * sizeof *tasks);
    memcpy(w->tasks, tasks, n * sizeof *tasks);
    w->ntasks += n;
    pthread_mutex_unlock(&w->mu);
}

static int send_tasks(vigil_worker *w, const double *tasks, size_t n)
{
    if (n == 0) return VIGIL_OK;
    static _Thread_local char body[LVW_TASKS_JSON_MAX];
    size_t len = lv_tasks_json(w->id, w->group, tasks, n, body, sizeof body);
    vigil_response r;
    int rc = vigil_post(w->c, "/v1/tasks", NULL, body, len, &r);
    vigil_response_free(&r);
    if (rc != VIGIL_OK) report(w, rc, "task durations");
    return rc;
}

/* One heartbeat and the durations after it. */
static int beat(vigil_worker *w)
{
    lvw_fields fs;
    double tasks[VIGIL_WORKER_TASKS_MAX];
    size_t ntasks = 0;
    take_fields(w, &fs, tasks, &ntasks);
    int rc = vigil_heartbeat(w->c, w->id, fs.f, fs.n);
    if (rc == VIGIL_OK) {
        w->seq++;
        if (send_tasks(w, tasks, ntasks) == VIGIL_ERR_TRANSPORT) put_back(w, tasks, ntasks);
    } else {
        report(w, rc, "heartbeat");
        /* Unsent: keep the durations (a lone task_ms too) for the next try. */
        if (rc == VIGIL_ERR_TRANSPORT) {
            if (fs.task[0] && !ntasks) tasks[ntasks++] = strtod(fs.task, NULL);
            put_back(w, tasks, ntasks);
        }
    }
    free_fields(&fs);
    return rc;
}

/* The bye, from the thread (signal) or from close after the join. A worker
 * whose first heartbeat never got through (it ended at once, or the thread
 * had not run yet) beats first: a run that started and ended is a session,
 * however short, and a bye alone would open none. */
static int send_bye(vigil_worker *w, int exit_code)
{
    if (w->seq == 0) beat(w);
    lvw_fields fs;
    double tasks[VIGIL_WORKER_TASKS_MAX];
    size_t ntasks = 0;
    take_fields(w, &fs, tasks, &ntasks);
    /* A lone task_ms rides the bye's samples only as a heartbeat's would; post it instead. */
    if (fs.task[0]) {
        fs.n--;
        tasks[ntasks++] = strtod(fs.task, NULL);
    }
    send_tasks(w, tasks, ntasks);
    snprintf(fs.exit, sizeof fs.exit, "%d", exit_code);
    fs.f[fs.n++] = (vigil_field){"exit_code", fs.exit};
    int rc = vigil_bye(w->c, w->id, fs.f, fs.n);
    free_fields(&fs);
    return rc;
}

/* The one worker with bye_on_signal, and what its handler needs. */
static volatile sig_atomic_t sig_fd = -1;
static volatile sig_atomic_t sig_seen;
static vigil_worker *sig_owner; /* guarded by sig_mu */
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction sig_prev_term, sig_prev_int;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig_seen) {
        /* A second ^C while the bye is on its way: the user means it. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    sig_seen = 1;
    unsigned char b = (unsigned char)sig;
    if (sig_fd >= 0 && write(sig_fd, &b, 1) < 0) {
        /* Nothing to be done in a handler; the thread will not wake. */
    }
    errno = saved;
}

static _Noreturn void bye_and_raise(vigil_worker *w, int sig)
{
    vigil_client_set_timeouts(w->c, LVW_SIG_CONNECT_MS, LVW_SIG_TOTAL_MS);
    int rc = send_bye(w, 128 + sig);
    if (rc != VIGIL_OK) report(w, rc, "bye");
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* the thread runs with signals blocked */
    raise(sig);
    _exit(128 + sig); /* not reached unless the signal is blocked elsewhere */
}

static void *worker_main(void *arg)
{
    vigil_worker *w = arg;
    long delay = 0; /* the first heartbeat at once: the session opens as the worker starts */
    int failures = 0;
    for (;;) {
        struct pollfd p = {.fd = w->wake[0], .events = POLLIN};
        int n = poll(&p, 1, delay > INT32_MAX ? INT32_MAX : (int)delay);
        if (n < 0 && errno != EINTR) n = 0;
        if (n > 0) {
            unsigned char b[16];
            ssize_t got = read(w->wake[0], b, sizeof b);
            for (ssize_t i = 0; i < got; i++)
                if (b[i]) bye_and_raise(w, b[i]);
        }
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop) return NULL;
        if (n != 0) continue; /* a spurious wake: the wait goes on (shortened; fine) */
        failures = beat(w) == VIGIL_OK ? 0 : failures + 1;
        delay = lv_worker_delay_ms(w->interval_ms, w->jitter, failures, lv_rand_xorshift, &w->rng);
    }
}

/* ---- the handle ------------------------------------------------------------ */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void worker_free(vigil_worker *w)
{
    for (size_t i = 0; i < w->nsamples; i++) {
        free(w->samples[i].key);
        free(w->samples[i].value);
    }
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    pthread_mutex_destroy(&w->mu);
    vigil_client_free(w->c);
    free(w);
}

vigil_worker *vigil_open(const char *url, const char *worker_id, const vigil_worker_opts *opts)
{
    static const vigil_worker_opts none = {0};
    const vigil_worker_opts *o = opts ? opts : &none;
    long interval = o->interval_ms ? o->interval_ms : VIGIL_WORKER_DEFAULT_INTERVAL_MS;
    double jitter = o->jitter == 0 ? VIGIL_WORKER_DEFAULT_JITTER : o->jitter < 0 ? 0 : o->jitter;
    if (interval < VIGIL_WORKER_MIN_INTERVAL_MS) {
        lv_set_thread_err(VIGIL_ERR_INVALID, "interval_ms: must be at least %ld",
                          VIGIL_WORKER_MIN_INTERVAL_MS);
        return NULL;
    }
    if (!(jitter <= LVW_JITTER_MAX) || (o->jitter < 0 && o->jitter != VIGIL_WORKER_NO_JITTER)) {
        lv_set_thread_err(VIGIL_ERR_INVALID, "jitter: must be between 0 and %g", LVW_JITTER_MAX);
        return NULL;
    }
    vigil_worker *w = calloc(1, sizeof *w);
    if (!w) {
        lv_set_thread_err(VIGIL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    w->wake[0] = w->wake[1] = -1;
    pthread_mutex_init(&w->mu, NULL);
    w->interval_ms = interval;
    w->jitter = jitter;
    w->ttl_s = o->ttl_s;
    w->on_error = o->on_error;
    w->ctx = o->ctx;
    int64_t now = wall_ms();
    w->rng = (uint64_t)now * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^ (uintptr_t)w;
    if (!w->rng) w->rng = 1;
    if (o->instance) {
        snprintf(w->instance, sizeof w->instance, "%s", o->instance);
    } else {
        char host[256] = "";
        gethostname(host, sizeof host - 1);
        lv_default_instance(host, (long)getpid(), now, w->instance, sizeof w->instance);
    }
    snprintf(w->id, sizeof w->id, "%s", worker_id ? worker_id : "");
    snprintf(w->group, sizeof w->group, "%s", o->group ? o->group : "");

    /* The fixed fields through the server's checks once, so a beat cannot fail on them. */
    char ttl[LVW_NUM_MAX];
    snprintf(ttl, sizeof ttl, "%d", o->ttl_s);
    vigil_field f[] = {{"group", o->group},
                       {"instance", o->instance ? o->instance : w->instance},
                       {"ttl_s", o->ttl_s ? ttl : NULL}};
    w->c = vigil_client_new(url, o->token);
    if (!w->c) goto fail; /* its words are in vigil_last_error(NULL) already */
    if (vigil_heartbeat_check(w->c, worker_id, f, sizeof f / sizeof f[0]) != VIGIL_OK) {
        lv_set_thread_err(VIGIL_ERR_INVALID, "%s", vigil_last_error(w->c));
        goto fail;
    }
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        lv_set_thread_err(VIGIL_ERR_NOMEM, "pipe: %s", strerror(errno));
        goto fail;
    }
    /* The thread takes none of the host's signals: they stay with its threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        lv_set_thread_err(VIGIL_ERR_NOMEM, "cannot start the heartbeat thread: %s", strerror(rc));
        goto fail;
    }
    return w;
fail:
    worker_free(w);
    return NULL;
}

const char *vigil_worker_instance(const vigil_worker *w)
{
    return w ? w->instance : "";
}

int vigil_worker_set(vigil_worker *w, const char *key, const char *value)
{
    if (!w || !key) return lv_set_thread_err(VIGIL_ERR_INVALID, "worker and key are required");
    static const char *const fixed[] = {"worker_id", "group",   "instance", "ttl_s",
                                        "seq",       "task_ms", "exit_code"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(key, fixed[i]))
            return lv_set_thread_err(VIGIL_ERR_INVALID, "%s: cannot be set on a worker handle",
                                     key);
    char *copy = NULL;
    if (value) {
        static _Thread_local hb_msg m; /* 4 KB of jobs: not on a caller's small stack */
        hb_err e = {{0}, {0}};
        hb_init(&m);
        int rc = hb_set_kv(&m, key, value, &e);
        if (rc < 0) return lv_set_thread_err(VIGIL_ERR_INVALID, "%s: %s", key, e.reason);
        if (rc > 0) return lv_set_thread_err(VIGIL_ERR_INVALID, "%s: unknown field", key);
        if (!(copy = strdup(value))) return lv_set_thread_err(VIGIL_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&w->mu);
    size_t i = 0;
    while (i < w->nsamples && strcmp(w->samples[i].key, key))
        i++;
    int status = VIGIL_OK;
    if (i < w->nsamples) {
        free(w->samples[i].value);
        if (copy) {
            w->samples[i].value = copy;
            copy = NULL;
        } else {
            free(w->samples[i].key);
            w->samples[i] = w->samples[--w->nsamples];
        }
    } else if (copy) {
        char *k = w->nsamples < LVW_SAMPLES_MAX ? strdup(key) : NULL;
        if (k) {
            w->samples[w->nsamples++] = (lvw_sample){k, copy};
            copy = NULL;
        } else
            status = VIGIL_ERR_NOMEM;
    }
    pthread_mutex_unlock(&w->mu);
    free(copy);
    return status == VIGIL_OK ? VIGIL_OK : lv_set_thread_err(status, "out of memory");
}

int vigil_worker_set_double(vigil_worker *w, const char *key, double value)
{
    char buf[LVW_NUM_MAX];
    if (!isfinite(value)) return lv_set_thread_err(VIGIL_ERR_INVALID, "%s: must be finite", key);
    snprintf(buf, sizeof buf, "%.17g", value);
    return vigil_worker_set(w, key, buf);
}

int vigil_worker_set_int(vigil_worker *w, const char *key, long long value)
{
    char buf[LVW_NUM_MAX];
    snprintf(buf, sizeof buf, "%lld", value);
    return vigil_worker_set(w, key, buf);
}

int vigil_task_done(vigil_worker *w, double ms)
{
    if (!w) return lv_set_thread_err(VIGIL_ERR_INVALID, "worker is required");
    if (!(ms >= 0 && ms <= HB_TASK_MS_MAX))
        return lv_set_thread_err(VIGIL_ERR_INVALID, "task_ms: must be a number between 0 and 1e9");
    pthread_mutex_lock(&w->mu);
    if (w->ntasks < VIGIL_WORKER_TASKS_MAX) w->tasks[w->ntasks++] = ms;
    pthread_mutex_unlock(&w->mu);
    return VIGIL_OK;
}

int vigil_bye_on_signal(vigil_worker *w)
{
    if (!w) return lv_set_thread_err(VIGIL_ERR_INVALID, "worker is required");
    pthread_mutex_lock(&sig_mu);
    if (sig_owner && sig_owner != w) {
        pthread_mutex_unlock(&sig_mu);
        return lv_set_thread_err(VIGIL_ERR_INVALID, "another worker has the signal bye");
    }
    if (!sig_owner) {
        sig_owner = w;
        sig_seen = 0;
        sig_fd = w->wake[1];
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* the host's reads and writes go on while the bye is sent */
        sigaction(SIGTERM, &sa, &sig_prev_term);
        sigaction(SIGINT, &sa, &sig_prev_int);
    }
    pthread_mutex_unlock(&sig_mu);
    return VIGIL_OK;
}

int vigil_worker_close(vigil_worker *w, int exit_code)
{
    if (!w) return VIGIL_ERR_INVALID;
    pthread_mutex_lock(&sig_mu);
    if (sig_owner == w) {
        sigaction(SIGTERM, &sig_prev_term, NULL);
        sigaction(SIGINT, &sig_prev_int, NULL);
        sig_fd = -1;
        sig_owner = NULL;
    }
    pthread_mutex_unlock(&sig_mu);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    unsigned char zero = 0;
    if (write(w->wake[1], &zero, 1) < 0) {
        /* A full pipe already holds a wake-up. */
    }
    pthread_join(w->thread, NULL);
    int rc = send_bye(w, exit_code);
    if (rc != VIGIL_OK) lv_set_thread_err(rc, "bye: %s", vigil_last_error(w->c));
    worker_free(w);
    return rc;
}
