/*
 * boot: bring a vigild up from its data directory and take it down again.
 *
 * Up: admin token (config, else DATA/admin.token, else a new random one
 * written 0600), store, the events a previous run left in DATA/events.journal
 * (accepted, not yet stored when it crashed) and DATA/events.spill applied to
 * the store, in that order, this run recorded in node_runs, and the registry
 * rebuilt from the store. The previous run's last "alive" mark tells how
 * long vigild was down, which decides whether an unconfirmed session ends
 * `timeout` or `monitor_gap` (reg_restore).
 *
 * The spill file comes first because the registry is rebuilt from the store:
 * restored without those events, a worker that said bye would come back with
 * its session open, and the sweeper would close it `timeout`. So if they
 * cannot be applied, vigild refuses to start rather than restore a registry
 * that misses them.
 *
 * Applying a spill file again is harmless, which matters because a crash
 * can fall between store_apply and the truncate (and an unsynced truncate
 * can be undone by a power cut). By kind, replaying events that are already
 * stored, in their order, followed by the rest:
 *   session open/close  no-ops: keyed by (worker_id, opened_ms), the store
 *                       skips an open it has and a close already closed,
 *                       events rows included (sqlite.c, "Replays").
 *   worker/group state  upserts of state and state_since: replayed in order,
 *                       each row ends with the value of its last event, as
 *                       before; an opening session's own update is skipped
 *                       on replay, but every open from a closed worker is
 *                       followed by its worker_alive event, which restores
 *                       the same row. What does change: their `events`
 *                       rows (worker_*, group_*) are inserted a second time.
 *   worker forget       the rows it deleted come back from the events
 *                       before it (their session opens find nothing to
 *                       skip) and it deletes them again, so the rows end
 *                       the same; the `events` rows of those re-applied
 *                       opens and closes are added again, and raw samples
 *                       the writer stored after the forget (a worker that
 *                       came back while the file was being worked off) are
 *                       deleted with it.
 * Only events the previous run accepted are ever in the file; those stored
 * before the file was started are never in it.
 *
 * Down, in the order that loses nothing: stop taking requests, stop the
 * sweeper (so no new events), let the writer drain everything queued, then
 * mark the run stopped and close the store.
 */
#include "server/alerts.h"
#include "server/app.h"
#include "server/history.h"
#include "server/held.h"
#include "server/hub.h"
#include "server/hubp.h"
#include "server/stream.h"
#include "server/udp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_BYTES 24         /* random bytes in a generated token (48 hex chars) */
#define BOOT_REPLAY_CHUNK 4096 /* spilled events per store transaction at boot (~1.8 MiB) */

static int mkdir_p(const char *path)
{
    char tmp[CFG_STR_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Read the token file, refusing one others can read: a leaked admin token
 * is the whole read side. */
static int read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 1 : -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s is readable by other users (mode %03o); run: chmod 600 %s", path,
                 (unsigned)(st.st_mode & 0777), path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, out, outlen - 1);
    close(fd);
    if (n <= 0) {
        snprintf(err, errlen, "%s is empty or unreadable", path);
        return -1;
    }
    out[n] = '\0';
    out[strcspn(out, "\r\n \t")] = '\0';
    if (!out[0]) {
        snprintf(err, errlen, "%s holds no token", path);
        return -1;
    }
    return 0;
}

static int new_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    unsigned char raw[TOKEN_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof raw && 2 * i + 2 < outlen; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(out);
    int ok = write(fd, out, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

/* The token in `path`, or a new one written there (0600) when the file is
 * missing; *made says which. 0, or -1 with err. */
static int file_token(const char *path, char *out, size_t outlen, bool *made, char *err,
                      size_t errlen)
{
    int r = read_token(path, out, outlen, err, errlen);
    *made = r == 1;
    if (r == 1) return new_token(path, out, outlen, err, errlen);
    if (r < 0 && !err[0]) snprintf(err, errlen, "cannot read %s", path);
    return r;
}

static int setup_tokens(app *a, char *err, size_t errlen)
{
    snprintf(a->ingest_token, sizeof a->ingest_token, "%s", a->cfg.ingest_token);
    snprintf(a->admin_token_path, sizeof a->admin_token_path, "%s/admin.token", a->cfg.data_dir);
    if (a->cfg.admin_token[0]) {
        snprintf(a->admin_token, sizeof a->admin_token, "%s", a->cfg.admin_token);
        a->admin_token_path[0] = '\0';
    } else if (file_token(a->admin_token_path, a->admin_token, sizeof a->admin_token,
                          &a->admin_token_generated, err, errlen) != 0)
        return -1;
    /* The hub's own token: nodes hold it, so it must not open the read side. */
    if (strcmp(a->cfg.hub_role, "hub") != 0) return 0;
    if (a->cfg.hub_accept_token[0]) {
        snprintf(a->hub_accept_token, sizeof a->hub_accept_token, "%s", a->cfg.hub_accept_token);
        return 0;
    }
    bool made;
    snprintf(a->hub_token_path, sizeof a->hub_token_path, "%s/hub.token", a->cfg.data_dir);
    if (file_token(a->hub_token_path, a->hub_accept_token, sizeof a->hub_accept_token, &made, err,
                   errlen) != 0)
        return -1;
    vlog("info", "hub: token nodes send %s %s", made ? "created in" : "kept in", a->hub_token_path);
    return 0;
}

/* The registry's sink: every state change to the store's queue and to the
 * alert engine's, in the order the registry made them. */
static void app_event(void *ctx, const reg_event *ev)
{
    app *a = ctx;
    if (ev->kind == REG_EV_SESSION_CLOSE && ev->reason < REG_R__COUNT)
        a->sessions_closed[ev->reason]++;
    wq_push_event(a->wq, ev);
    alerts_push(a->alerts, ev);
    stream_push(a->stream, ev);
}

static int restore_group(void *ctx, const store_group *g)
{
    app *a = ctx;
    reg_restore_group(a->reg, g->name, (reg_gstate)g->state, g->state_since_ms);
    return 0;
}

static int restore_worker(void *ctx, const store_worker *w)
{
    app *a = ctx;
    bool ours = w->open_opened_ms &&
                (!store_shared(a->store) || strcmp(w->open_node_id, a->cfg.node_id) == 0);
    /* Live on a sibling node (shared PostgreSQL): that node watches it and
     * answers for it. Restored here it could only show as dead. */
    if (w->open_opened_ms && !ours) return 0;
    /* The store already reports an open session's last heartbeat as the later
     * of the session's and the worker's (raw samples advance only the latter). */
    int64_t last = ours ? w->open_last_hb_ms : w->last_seen_ms;
    reg_restore_rec rec = {.worker_id = w->worker_id,
                           .group = w->group,
                           .instance = w->instance,
                           .state = (reg_wstate)w->state,
                           .state_since_ms = w->state_since_ms,
                           .last_hb_ms = last,
                           .ttl_s = w->ttl_s,
                           .opened_ms = ours ? w->open_opened_ms : 0};
    reg_restore(a->reg, &rec, a->boot_ms, a->downtime_ms);
    return 0;
}

/* Apply the events a previous run left in the spill file or the journal at
 * path (see the banner), then empty it. Returns the open file for the write
 * queue, or NULL with err: vigild must not start. */
static spill *replay_spill(app *a, const char *path, char *err, size_t errlen)
{
    spill_info info;
    spill *sp = spill_open(path, &info, err, errlen);
    if (!sp) return NULL;
    if (info.torn)
        vlog("warn",
             "%s: dropped %llu torn record(s) at its end (written when the machine crashed)", path,
             (unsigned long long)info.torn);
    if (info.records == 0) return sp;
    reg_event *buf = malloc(BOOT_REPLAY_CHUNK * sizeof *buf);
    char why[512];
    uint64_t done = 0;
    int rc = -1;
    for (size_t n; buf;) {
        if (spill_read(sp, buf, BOOT_REPLAY_CHUNK, &n, why, sizeof why) != 0) {
            snprintf(err, errlen,
                     "%s (after %llu of %llu events applied); not starting without the rest: "
                     "move the file aside to start without them",
                     why, (unsigned long long)done, (unsigned long long)info.records);
            break;
        }
        if (n == 0) {
            rc = 0;
            break;
        }
        if (store_apply(a->store, buf, n, NULL, 0, why, sizeof why) != 0) {
            snprintf(err, errlen,
                     "%s holds %llu state events a previous run could not store, and the store "
                     "refuses them (%s); not starting without them: fix the store and start again",
                     path, (unsigned long long)info.records, why);
            break;
        }
        done += n;
    }
    if (!buf) snprintf(err, errlen, "out of memory");
    free(buf);
    if (rc == 0 && spill_truncate(sp) != 0) {
        snprintf(err, errlen, "cannot truncate %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        spill_close(sp);
        return NULL;
    }
    a->events_replayed += done;
    vlog("info", "applied %llu state events from %s (left by the previous run) to the store",
         (unsigned long long)done, path);
    return sp;
}

int app_boot(app *a, char *err, size_t errlen)
{
    err[0] = '\0';
    if (mkdir_p(a->cfg.data_dir) != 0) {
        snprintf(err, errlen, "cannot create data dir %s: %s", a->cfg.data_dir, strerror(errno));
        return -1;
    }
    if (setup_tokens(a, err, errlen) != 0) return -1;
    char url[CFG_STR_MAX + 32];
    cfg_store_url(&a->cfg, url, sizeof url);
    a->store = store_open(url, a->cfg.node_id, err, errlen);
    if (!a->store) return -1;
    int dl = (int)strlen(a->cfg.data_dir);
    while (dl > 1 && a->cfg.data_dir[dl - 1] == '/')
        dl--;
    snprintf(a->spill_path, sizeof a->spill_path, "%.*s/%s", dl, a->cfg.data_dir, SPILL_FILE_NAME);
    /* The journal first: its events are older than the spill file's (wq.h). */
    char jpath[sizeof a->spill_path];
    snprintf(jpath, sizeof jpath, "%.*s/%s", dl, a->cfg.data_dir, WQ_JOURNAL_FILE_NAME);
    spill *jr = replay_spill(a, jpath, err, errlen);
    if (!jr) return -1;
    spill *sp = replay_spill(a, a->spill_path, err, errlen);
    if (!sp || rollup_init(a, err, errlen) != 0) {
        spill_close(jr);
        spill_close(sp);
        return -1;
    }
    a->wq = wq_new_spill((size_t)a->cfg.queue_size, (size_t)a->cfg.event_queue_max, sp);
    if (a->wq)
        wq_set_journal(a->wq, jr);
    else {
        spill_close(sp);
        spill_close(jr);
    }
    reg_config rc = {.default_ttl_s = a->cfg.default_ttl_s,
                     .phi_threshold = a->cfg.phi_threshold,
                     .held_grace_ms = a->cfg.held_grace_ms};
    if (a->cfg.nrules && !(a->alerts = alerts_new(a, err, errlen))) return -1;
    a->stream = stream_new(a); /* before the registry: boot restore emits events */
    a->held = held_new(a);
    a->reg = reg_new(&rc, app_event, a);
    a->ifl = ifl_new();
    if (!a->wq || !a->reg || !a->ifl || !a->stream || !a->held) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < a->cfg.ngroups; i++)
        reg_group_set_ttl(a->reg, a->cfg.groups[i].name, a->cfg.groups[i].ttl_s);

    a->boot_ms = app_now_ms();
    store_run prev;
    int have_prev = store_last_run(a->store, 0, &prev) == 0;
    if (store_run_begin(a->store, a->boot_ms, &a->run_id) != 0) {
        snprintf(err, errlen, "cannot record this run in the store");
        return -1;
    }
    if (have_prev) {
        int64_t last_seen_up = prev.stopped_ms ? prev.stopped_ms : prev.alive_ms;
        a->downtime_ms = a->boot_ms > last_seen_up ? a->boot_ms - last_seen_up : 0;
    }
    if (store_load_groups(a->store, restore_group, a) < 0 ||
        store_load_workers(a->store, restore_worker, a) < 0) {
        snprintf(err, errlen, "cannot load workers from the store");
        return -1;
    }
    err[0] = '\0';
    a->hub = hub_new(a, err, errlen);
    if (!a->hub && err[0]) return -1;
    a->hubp = hubp_new(a);
    if (!a->hubp && a->cfg.hub_url[0]) {
        snprintf(err, errlen, "hub: out of memory");
        return -1;
    }
    return 0;
}

void app_shutdown(app *a)
{
    stream_stop(a->stream); /* ends the subscribers' responses, so http_stop does not wait */
    held_stop(a->held);     /* likewise; their ends are not the workers' drops */
    http_stop(a);
    udp_stop(a);            /* the other ingest door, closed before the writer drains */
    alerts_stop(a->alerts); /* delivers queued notices, at most 5 s */
    rollup_stop(a);
    history_stop(a); /* at most ~1 s; a store write still running is waited for below */
    jobs_stop_sweeper(a);
    /* After the rollup (its last task buckets counted) and the sweeper (its
     * last sessions closed): the last push holds all of it; at most 5 s. */
    hubp_stop(a->hubp);
    jobs_stop_writer(a);
    alerts_free(a->alerts); /* last: the sweeper pushed events into it until now */
    a->alerts = NULL;
    history_free(a); /* before the store closes under it */
    if (a->store) {
        store_run_end(a->store, a->run_id, app_now_ms());
        store_close(a->store);
    }
    rollup_free(a);
    hubp_free(a->hubp);
    a->hubp = NULL;
    hub_free(a->hub);
    a->hub = NULL;
    reg_free(a->reg);
    ifl_free(a->ifl);
    stream_free(a->stream);
    a->stream = NULL;
    held_free(a->held); /* after http_stop: every held connection has ended */
    a->held = NULL;
    wq_free(a->wq);
}
