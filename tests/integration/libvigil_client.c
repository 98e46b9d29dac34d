/*
 * libvigil_client: a worker built on the public libvigil API only (linked to
 * the shared libvigil.so), driven by tests/integration/test_libvigil.py.
 *
 *   libvigil_client URL ID close     heartbeats every 200 ms with cpu set and
 *                                    three task durations, then a clean close
 *   libvigil_client URL ID signal    the same with vigil_bye_on_signal, then
 *                                    waits for a signal ("ready" on stdout first)
 *
 * Exit codes: 0 closed with a clean bye, 1 a libvigil call failed (words on
 * stderr), 2 usage; in signal mode the process should die of the signal.
 */
#include "vigil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BEAT_INTERVAL_MS 200L
#define RUN_MS 800L /* four heartbeats or so before the close */

static void on_error(void *ctx, int status, const char *message)
{
    (void)ctx;
    fprintf(stderr, "libvigil_client: %s: %s\n", vigil_status_name(status), message);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int fail(const char *what)
{
    fprintf(stderr, "libvigil_client: %s: %s\n", what, vigil_last_error(NULL));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "close") && strcmp(argv[3], "signal"))) {
        fprintf(stderr, "usage: libvigil_client URL ID close|signal\n");
        return 2;
    }
    vigil_worker_opts o = {
        .group = "libvigil", .interval_ms = BEAT_INTERVAL_MS, .ttl_s = 5, .on_error = on_error};
    vigil_worker *w = vigil_open(argv[1], argv[2], &o);
    if (!w) return fail("vigil_open");
    if (vigil_worker_set_double(w, "cpu", 0.5) != VIGIL_OK) return fail("set cpu");
    if (vigil_worker_set_int(w, "backlog", 3) != VIGIL_OK) return fail("set backlog");
    if (vigil_worker_set(w, "cpu", "7") != VIGIL_ERR_INVALID) return fail("cpu 7 was accepted");
    if (vigil_worker_set(w, "exit_code", "1") != VIGIL_ERR_INVALID)
        return fail("exit_code was accepted");
    if (vigil_task_done(w, 12.5) != VIGIL_OK) return fail("task");
    sleep_ms(RUN_MS / 2);
    vigil_task_done(w, 20);
    vigil_task_done(w, 30);
    if (!strcmp(argv[3], "signal")) {
        if (vigil_bye_on_signal(w) != VIGIL_OK) return fail("vigil_bye_on_signal");
        printf("ready %s\n", vigil_worker_instance(w));
        fflush(stdout);
        for (;;)
            pause(); /* the handler returns; the heartbeat thread ends the process */
    }
    sleep_ms(RUN_MS / 2);
    if (vigil_worker_close(w, 0) != VIGIL_OK) return fail("vigil_worker_close");
    return 0;
}
