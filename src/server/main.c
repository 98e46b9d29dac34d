/*
 * vigild: the fleet liveness server.
 *
 * Configuration layers (cfg.h): defaults < --config FILE < VIGIL_* env <
 * flags. Signals are blocked in every thread and taken by main with
 * sigwait, so a SIGTERM never lands in the middle of a request thread and
 * shutdown runs in one known order (boot.c: app_shutdown).
 */
#include "server/alerts.h"
#include "server/app.h"
#include "server/history.h"
#include "server/held.h"
#include "server/hubp.h"
#include "server/reload.h"
#include "server/sdn.h"
#include "server/stream.h"
#include "server/notify.h"
#include "server/udp.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: vigild [options]\n"
               "  --config FILE     INI configuration file (see docs/operations.md)\n"
               "  --listen ADDR     host:port to serve on (default 127.0.0.1:9470)\n"
               "  --data DIR        data directory: SQLite store, admin.token (default ./var)\n"
               "  --check-config    validate the configuration, print it, and exit\n"
               "  --test-sink NAME  send an example notice to [sink \"NAME\"] and exit\n"
               "  --print-token     print the admin token at start (for `make run`)\n"
               "  --version         print the version and exit\n"
               "  --help            this text\n"
               "Every config key can also be set as VIGIL_<KEY> in the environment.\n"
               "Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration or usage.\n");
}

int main(int argc, char **argv)
{
    static app a;
    char err[512] = "";
    const char *config = NULL, *listen = NULL, *data = NULL, *test_sink = NULL;
    int check = 0, print_token = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"data", required_argument, 0, 'd'},
                                         {"check-config", no_argument, 0, 'k'},
                                         {"print-token", no_argument, 0, 'p'},
                                         {"version", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {"test-sink", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:l:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 's':
            test_sink = optarg;
            break;
        case 'p':
            print_token = 1;
            break;
        case 'v':
            printf("vigild %s\n", VIGIL_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigild: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    /* A fixed threshold (instead of glibc's self-raising one) keeps big
     * transient buffers (NDJSON bodies, event bursts) in mmap, so they go
     * back to the system when freed instead of pinning the heap's RSS. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    const reload_src src = {config, listen, data}; /* SIGHUP reads the same layers */
    if (reload_load(&a.cfg, &src, err, sizeof err) != 0) {
        fprintf(stderr, "vigild: configuration: %s\n", err);
        return 2;
    }
    if (test_sink) {
        const sink_cfg *s = cfg_sink_find(&a.cfg, test_sink);
        if (!s) {
            fprintf(stderr, "vigild: --test-sink: no [sink \"%s\"] in the configuration\n",
                    test_sink);
            return 2;
        }
        if (notify_test_sink(s, err, sizeof err) != 0) {
            fprintf(stderr, "vigild: sink %s: %s\n", test_sink, err);
            return 1;
        }
        printf("sink %s: example notice delivered\n", test_sink);
        return 0;
    }
    if (check) {
        char url[CFG_STR_MAX + 32];
        cfg_store_url(&a.cfg, url, sizeof url);
        printf("configuration ok\nlisten = %s\ndata_dir = %s\nnode_id = %s\nstore = %s\n"
               "default_ttl_s = %d\nphi_threshold = %g\nqueue_size = %lld\n"
               "event_queue_max = %lld\ngroups = %zu\nrules = %zu\nsinks = %zu\n",
               a.cfg.listen, a.cfg.data_dir, a.cfg.node_id, url, a.cfg.default_ttl_s,
               a.cfg.phi_threshold, (long long)a.cfg.queue_size, (long long)a.cfg.event_queue_max,
               a.cfg.ngroups, a.cfg.nrules, a.cfg.nsinks);
        return 0;
    }

    /* Block the signals we wait for before any thread exists, so all inherit it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app_boot(&a, err, sizeof err) != 0) {
        fprintf(stderr, "vigild: %s\n", err);
        return 1;
    }
    /* UDP binds before HTTP listens: whoever sees HTTP answer (a supervisor's
     * probe, a test) may send datagrams at once, and a port not yet bound
     * would drop them without a trace. */
    if (jobs_start(&a, err, sizeof err) != 0 || rollup_start(&a, err, sizeof err) != 0 ||
        history_start(&a, err, sizeof err) != 0 || alerts_start(a.alerts, err, sizeof err) != 0 ||
        stream_start(a.stream, err, sizeof err) != 0 || held_start(a.held, err, sizeof err) != 0 ||
        udp_start(&a, err, sizeof err) != 0 || http_start(&a, err, sizeof err) != 0 ||
        hubp_start(a.hubp, err, sizeof err) != 0) {
        fprintf(stderr, "vigild: %s\n", err);
        app_shutdown(&a);
        return 1;
    }
    char url[CFG_STR_MAX + 32];
    cfg_store_url(&a.cfg, url, sizeof url);
    vlog("info", "vigild %s listening on http://%s/ (node %s, store %s, downtime %.1f s)",
         VIGIL_VERSION, a.cfg.listen, a.cfg.node_id, url, (double)a.downtime_ms / 1000.0);
    if (a.admin_token_path[0])
        vlog("info", "admin token %s %s", a.admin_token_generated ? "created in" : "kept in",
             a.admin_token_path);
    if (a.hub_token_path[0] && print_token)
        printf("hub token:   %s (nodes send it; file %s)\n", a.hub_accept_token, a.hub_token_path);
    if (print_token) {
        printf("dashboard:   http://%s/\nadmin token: %s\n", a.cfg.listen, a.admin_token);
        printf("token file:  %s\n",
               a.admin_token_path[0] ? a.admin_token_path : "(from config or VIGIL_ADMIN_TOKEN)");
        fflush(stdout);
    }
    sdn_notify("READY=1");
    /* SIGHUP reloads; SIGTERM/SIGINT stop. Under a systemd watchdog the
     * wait wakes to ping it, as long as the writer still turns (a vigild
     * that stores nothing should be restarted, not kept alive). */
    int64_t wd = sdn_watchdog_ms();
    int sig;
    for (;;) {
        struct timespec ts = {(time_t)(wd / 1000), (long)(wd % 1000) * 1000000L};
        sig = wd ? sigtimedwait(&sigs, NULL, &ts) : sigwaitinfo(&sigs, NULL);
        if (sig < 0) {
            if (wd && app_now_ms() - atomic_load(&a.writer_alive_ms) < APP_WRITER_STALE_MS)
                sdn_notify("WATCHDOG=1");
            continue;
        }
        if (sig != SIGHUP) break;
        sdn_notify("RELOADING=1");
        if (reload_apply(&a, &src, err, sizeof err) != 0)
            vlog("error", "reload refused, the running configuration stays: %s", err);
        sdn_notify("READY=1");
    }
    vlog("info", "signal %d: draining and stopping", sig);
    sdn_notify("STOPPING=1");
    app_shutdown(&a);
    vlog("info", "stopped cleanly");
    return 0;
}
