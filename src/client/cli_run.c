/*
 * cli_run: `vigil run [ID] [options] -- CMD [ARGS...]`, a process wrapped in
 * heartbeats.
 *
 * Mechanism: a libvigil worker handle (vigil_open) heartbeats from its own
 * thread for as long as the command runs; this thread spawns the command
 * (posix_spawnp, signals reset to their defaults in the child) and then
 * sleeps in poll() on a self-pipe. The handlers of the forwarded signals and
 * of SIGCHLD only write the signal's number into that pipe, so everything
 * else (kill(2) to the child, waitpid, reading /proc) happens here, outside
 * any handler. Between wake-ups the command's CPU ticks (cli_proc.c: the
 * child and its descendants) go into the handle's samples, so the server's
 * `stuck` rule sees a hung process whose heartbeats would look fine.
 *
 * When the child ends, its outcome is the bye (cli_run_outcome), and vigil
 * ends the same way: the same exit code, or the same signal raised again.
 * The heartbeats never affect the child: an unreachable vigild only prints.
 */
#include "client/cli.h"

#include "core/tfmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_TICK_MAX_MS 1000   /* cpu_ticks refreshed at least this often */
#define RUN_TICK_MIN_MS 50     /* ... and at most this often */
#define RUN_EXIT_NOT_FOUND 127 /* as a shell says it: the command could not be run */
#define RUN_STATUS_MAX 64      /* bytes: the bye's status field */
#define RUN_STAT_READ 1024     /* bytes: one /proc/<pid>/stat line is far shorter */
#define RUN_SCAN_MAX 65536     /* processes looked at in one /proc scan */

enum { F_GROUP, F_INSTANCE, F_EVERY, F_INTERVAL, F_TTL };

static const cli_flag run_flags[] = {
    [F_GROUP] = {"--group", NULL, "G", "group the worker belongs to"},
    [F_INSTANCE] = {"--instance", NULL, "I", "instance (default: <host>:<pid>:<start ms>)"},
    [F_EVERY] = {"--every", NULL, "D", "run CMD every D (cron-style) until signalled: 30s, 5m"},
    [F_INTERVAL] = {"--interval", NULL, "D", "between heartbeats (default 5s, +-10%)"},
    [F_TTL] = {"--ttl", NULL, "S", "ttl_s sent with the heartbeats (default: the server's)"},
};
#define N_FLAGS (sizeof run_flags / sizeof run_flags[0])

/* Forwarded to the child; SIGCHLD only wakes the loop. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define N_FORWARDED (sizeof forwarded / sizeof forwarded[0])

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* A full pipe already holds a wake-up; a lost repeat of a signal is what
         * the kernel would do to a pending one too. */
    }
    errno = saved;
}

static int install_handlers(void)
{
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    return 0;
}

static bool stops_loop(int sig)
{
    return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU ticks of root and its descendants: one pass over /proc. -1 if unreadable. */
static int64_t tree_ticks(long root)
{
    DIR *d = opendir("/proc");
    if (!d) return -1;
    size_t n = 0, cap = 256;
    cli_proc_stat *p = malloc(cap * sizeof *p);
    struct dirent *e;
    while (p && (e = readdir(d)) != NULL && n < RUN_SCAN_MAX) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[RUN_STAT_READ]; /* d_name: up to 255 bytes */
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue; /* it ended meanwhile */
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0) continue;
        buf[got] = '\0';
        if (n == cap) {
            cli_proc_stat *grown = realloc(p, 2 * cap * sizeof *p);
            if (!grown) break;
            p = grown;
            cap *= 2;
        }
        if (cli_proc_parse_stat(buf, &p[n])) n++;
    }
    closedir(d);
    int64_t t = p ? cli_proc_tree_ticks(p, n, root) : -1;
    free(p);
    return t;
}

typedef struct run_cfg {
    const char *url, *token, *id;
    vigil_worker_opts o;
    char **argv;
    long tick_ms;
} run_cfg;

/* The heartbeat thread's failures; the same words twice in a row are said once. */
static void on_error(void *ctx, int status, const char *message)
{
    (void)ctx;
    (void)status;
    static char last[512];
    if (!strcmp(last, message)) return;
    snprintf(last, sizeof last, "%s", message);
    cli_err("%s", message);
}

/* One run of the command, start to bye. Returns its waitpid status, or -1
 * when nothing could be run (the exit code is then in *code). *stop_sig
 * becomes a stopping signal that arrived meanwhile (forwarded). */
static int run_once(const run_cfg *cfg, int *code, int *stop_sig)
{
    vigil_worker *w = vigil_open(cfg->url, cfg->id, &cfg->o);
    if (!w) {
        cli_err("%s", vigil_last_error(NULL));
        *code = CLI_EXIT_USAGE;
        return -1;
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t dfl, none;
    sigemptyset(&dfl);
    sigemptyset(&none);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&dfl, forwarded[i]);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGPIPE); /* vigil ignores it; the command should not inherit that */
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int err = posix_spawnp(&pid, cfg->argv[0], NULL, &attr, cfg->argv, environ);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        cli_err("cannot run %s: %s", cfg->argv[0], strerror(err));
        char status[RUN_STATUS_MAX + 1];
        snprintf(status, sizeof status, "cannot run: %s", strerror(err));
        vigil_worker_set(w, "status", status);
        if (vigil_worker_close(w, RUN_EXIT_NOT_FOUND) != VIGIL_OK)
            cli_err("%s", vigil_last_error(NULL));
        *code = RUN_EXIT_NOT_FOUND;
        return -1;
    }
    int wstatus = 0;
    for (;;) {
        pid_t done = waitpid(pid, &wstatus, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) { /* cannot happen for our own child */
            cli_err("waitpid: %s", strerror(errno));
            wstatus = RUN_EXIT_NOT_FOUND << 8;
            break;
        }
        int64_t ticks = tree_ticks(pid);
        if (ticks >= 0) vigil_worker_set_int(w, "cpu_ticks", ticks);
        struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
        if (poll(&p, 1, (int)cfg->tick_ms) > 0) {
            unsigned char b[32];
            ssize_t got = read(sig_pipe[0], b, sizeof b);
            for (ssize_t i = 0; i < got; i++) {
                if (b[i] == SIGCHLD) continue;
                kill(pid, b[i]);
                if (stops_loop(b[i])) *stop_sig = b[i];
            }
        }
    }
    char text[RUN_STATUS_MAX + 1];
    *code = cli_run_outcome(wstatus, text, sizeof text);
    if (text[0]) vigil_worker_set(w, "status", text);
    if (vigil_worker_close(w, *code) != VIGIL_OK) cli_err("%s", vigil_last_error(NULL));
    return wstatus;
}

/* Sleep until the monotonic time `until`; a stopping signal ends it early (returned). */
static int sleep_until(int64_t until)
{
    for (int64_t now = mono_ms(); now < until; now = mono_ms()) {
        struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
        if (poll(&p, 1, (int)(until - now)) <= 0) continue;
        unsigned char b[32];
        ssize_t got = read(sig_pipe[0], b, sizeof b);
        for (ssize_t i = 0; i < got; i++)
            if (stops_loop(b[i])) return b[i];
    }
    return 0;
}

/* End as the command did: its exit code, or its signal (default action). */
static int end_like(int wstatus, int code)
{
    if (wstatus < 0 || !WIFSIGNALED(wstatus)) return code;
    int sig = WTERMSIG(wstatus);
    fflush(stdout);
    fflush(stderr);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    return code; /* a signal whose default is to be ignored (none of ours): its 128 + S */
}

static int duration_flag(const char *name, const char *v, long *ms)
{
    int64_t d = 0;
    /* tfmt takes what strtod takes ("0x10", " 5s"): only plain decimals here. */
    if (!v || v[0] < '0' || v[0] > '9' || tfmt_parse_duration(v, &d) != 0 || d <= 0 ||
        d > INT32_MAX) {
        cli_err("%s: expected a positive duration such as 500ms, 30s or 5m (got '%s')", name,
                v ? v : "");
        return -1;
    }
    *ms = (long)d;
    return 0;
}

static int run_run(cli_ctx *ctx)
{
    if (ctx->nrest < 1 || !ctx->rest[0]) {
        cli_err("give the command to run after --: vigil run ID -- CMD [ARGS...]");
        return CLI_EXIT_USAGE;
    }
    const char *v[N_FLAGS] = {0};
    for (size_t i = 0; i < ctx->nopts; i++)
        v[ctx->opts[i].flag - run_flags] = ctx->opts[i].value;
    run_cfg cfg = {.argv = ctx->rest};
    long every_ms = 0;
    cfg.o.group = v[F_GROUP];
    cfg.o.instance = v[F_INSTANCE];
    cfg.o.on_error = on_error;
    if (v[F_INTERVAL] && duration_flag("--interval", v[F_INTERVAL], &cfg.o.interval_ms) != 0)
        return CLI_EXIT_USAGE;
    if (v[F_EVERY] && duration_flag("--every", v[F_EVERY], &every_ms) != 0) return CLI_EXIT_USAGE;
    if (v[F_TTL]) {
        char *end;
        long ttl = strtol(v[F_TTL], &end, 10);
        if (end == v[F_TTL] || *end || ttl < 1 || ttl > 86400) {
            cli_err("--ttl: must be an integer between 1 and 86400");
            return CLI_EXIT_USAGE;
        }
        cfg.o.ttl_s = (int)ttl;
    }
    long interval = cfg.o.interval_ms ? cfg.o.interval_ms : VIGIL_WORKER_DEFAULT_INTERVAL_MS;
    cfg.tick_ms = interval / 2;
    if (cfg.tick_ms > RUN_TICK_MAX_MS) cfg.tick_ms = RUN_TICK_MAX_MS;
    if (cfg.tick_ms < RUN_TICK_MIN_MS) cfg.tick_ms = RUN_TICK_MIN_MS;
    char id[129];
    if (ctx->npos > 0) {
        cfg.id = ctx->pos[0];
    } else {
        cli_run_default_id(ctx->rest[0], id, sizeof id);
        cfg.id = id;
    }
    cli_resolve(ctx, &cfg.url, &cfg.o.token);
    if (install_handlers() != 0) {
        cli_err("pipe: %s", strerror(errno));
        return CLI_EXIT_REFUSED;
    }
    int code = 0, stop_sig = 0, wstatus;
    int64_t first = mono_ms();
    for (;;) {
        wstatus = run_once(&cfg, &code, &stop_sig);
        if (!every_ms || stop_sig || (code == CLI_EXIT_USAGE && wstatus < 0)) break;
        int sig = sleep_until(cli_run_next_slot(first, every_ms, mono_ms()));
        if (sig) { /* signalled between runs: no child to pass it to; end by it */
            fflush(stdout);
            signal(sig, SIG_DFL);
            raise(sig);
            return 128 + sig;
        }
    }
    return end_like(wstatus, code);
}

const cli_cmd cli_cmd_run = {
    .name = "run",
    .synopsis = "[ID] [--group G] [--instance I] [--every D] [--interval D] [--ttl S] -- CMD "
                "[ARGS...]",
    .summary = "run CMD as worker ID, heartbeating while it runs; a bye with its outcome",
    .details = "ID defaults to CMD's base name. Heartbeats carry cpu_ticks (CMD and its\n"
               "descendants, from /proc). SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2\n"
               "are passed to CMD. When it ends: a bye with exit_code N (0: clean_shutdown,\n"
               "else failed), or 128+S and status 'killed by signal S (SIGNAME)'; then vigil\n"
               "exits with N, or dies of signal S itself. Exit 127: CMD could not be run.\n"
               "Heartbeat failures are printed and never touch CMD.\n"
               "--every D: start CMD every D (a run that overruns skips the slots it\n"
               "missed) until SIGTERM/SIGINT/SIGHUP/SIGQUIT, each run its own session.",
    .flags = run_flags,
    .nflags = N_FLAGS,
    .min_pos = 0,
    .max_pos = 1,
    .pos_name = "worker ID",
    .ingest = true,
    .rest = true,
    .run = run_run,
};
