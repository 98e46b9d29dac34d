/*
 * cli_top: `vigil top`, the fleet live in a terminal, from GET /v1/stream.
 *
 * Mechanism: one thread. vigil_stream() hands the stream's bytes to the SSE
 * parser (core/ssep), whose messages update the picture (cli_top_view.c);
 * between chunks vigil_stream() calls back at least every TICK_MS and as
 * soon as a key is pressed, so keys are read and frames drawn in the same
 * loop that reads the network, with no locking. A frame is rendered into
 * memory and written with one write(), so the terminal never shows half of
 * one.
 *
 * The terminal is borrowed, and given back as found: raw keys (no echo, no
 * line editing) and the alternate screen are set up only when stdin and
 * stdout are terminals, and undone on every way out: `q`, an error, and
 * SIGINT/SIGTERM/SIGHUP (the handlers only set a flag; the loop notices
 * within a tick, restores, then dies of the same signal, as the shell
 * expects). Ctrl-Z hands the terminal back before stopping and takes it
 * again on resuming.
 *
 * A dropped stream is resumed with Last-Event-ID after a backoff (the
 * server's `retry`, else 0.5 s, doubling to 10 s, with jitter so that many
 * viewers do not reconnect in step after a vigild restart); the server
 * answers with what was missed or a fresh snapshot. Only the first
 * connection's failure ends the command: a viewer that has shown the fleet
 * keeps trying, and says so on screen.
 */
#include "client/cli.h"

#include "core/ssep.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 250         /* at most four frames a second */
#define PLAIN_FRAME_MS 1000 /* --follow into a pipe: at most one frame a second */
#define BACKOFF_FIRST_MS 500
#define BACKOFF_MAX_MS 10000

enum { T_GROUP, T_ONCE, T_FOLLOW, T_NO_COLOR };

static const cli_flag top_flags[] = {
    [T_GROUP] = {"--group", NULL, "G", "only this group"},
    [T_ONCE] = {"--once", NULL, NULL, "print one frame once the snapshot is in, and exit"},
    [T_FOLLOW] = {"--follow", NULL, NULL,
                  "keep updating even when stdout is not a terminal\n"
                  "(without a terminal, top prints one frame, as --once)"},
    [T_NO_COLOR] = {"--no-color", NULL, NULL, "no colors (also when NO_COLOR is set)"},
};

/* Set by the signal handlers, read by the loop. */
static volatile sig_atomic_t sig_exit, sig_winch, sig_tstp;

typedef struct top {
    cli_ctx *ctx;
    cli_top *pic;
    ssep *parser;
    cli_top_view view;
    bool once;     /* one frame, then exit */
    bool screen;   /* stdout is a terminal we draw on */
    bool keys;     /* stdin is a terminal in raw mode */
    bool raw, alt; /* what is set up now, to undo */
    struct termios saved;
    char filter[CLI_TOP_FILTER_MAX + 1], typed[CLI_TOP_FILTER_MAX + 1];
    bool typing;
    char status[512];
    bool ready;    /* a snapshot has arrived on some connection */
    bool answered; /* this connection is a stream */
    bool fresh;    /* ...that has brought a message */
    bool quit;     /* `q`, or a closed stdout */
    bool dirty;    /* the frame would differ */
    long long drawn_ms;
    int fatal; /* an exit code decided by a message, or -1 */
    char fatal_msg[256];
} top;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the terminal ------------------------------------------------------------ */

static void on_signal(int sig)
{
    if (sig == SIGWINCH)
        sig_winch = 1;
    else if (sig == SIGTSTP)
        sig_tstp = 1;
    else
        sig_exit = sig;
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

/* Alternate screen, no cursor, no line wrap (a long line is cut at the
 * right edge instead of pushing the frame down); raw keys. */
static void term_take(top *t)
{
    if (t->keys && !t->raw && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        struct termios r = t->saved;
        r.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        r.c_cc[VMIN] = 0;
        r.c_cc[VTIME] = 0;
        t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &r) == 0;
    }
    if (t->screen && !t->alt) {
        static const char on[] = "\033[?1049h\033[?25l\033[?7l";
        write_all(on, sizeof on - 1);
        t->alt = true;
    }
}

static void term_give_back(top *t)
{
    if (t->alt) {
        static const char off[] = "\033[?7h\033[?25h\033[?1049l";
        write_all(off, sizeof off - 1);
        t->alt = false;
    }
    if (t->raw) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
        t->raw = false;
    }
}

static void screen_rows(top *t)
{
    struct winsize ws;
    t->view.rows = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 ? ws.ws_row : 24;
}

static void install_signals(bool tstp)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    if (tstp) sigaction(SIGTSTP, &sa, NULL);
}

/* Ctrl-Z: give the terminal back, stop for real, take it again. */
static void suspend(top *t)
{
    sig_tstp = 0;
    term_give_back(t);
    signal(SIGTSTP, SIG_DFL);
    raise(SIGTSTP);
    /* ...continued. */
    install_signals(true);
    term_take(t);
    screen_rows(t);
    t->dirty = true;
    t->drawn_ms = 0;
}

/* ---- frames ------------------------------------------------------------------ */

static void draw(top *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    cli_top_view v = t->view;
    v.filter = t->filter;
    v.prompt = t->typing ? t->typed : NULL;
    v.status = t->status[0] ? t->status : NULL;
    cli_top_render(t->pic, &v, wall_ms(), f);
    if (fclose(f) != 0) {
        free(buf);
        return;
    }
    t->dirty = false;
    t->drawn_ms = mono_ms();
    if (!t->screen) {
        /* A pipe: frames one after another. A reader that went away ends the
         * command as `vigil status | head` does: quietly. */
        bool ok =
            fwrite(buf, 1, len, stdout) == len && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
        if (!ok) t->quit = true;
        free(buf);
        return;
    }
    /* Home, then each line cleared to its end, then the rest of the screen:
     * the same picture as clearing first, without the flash. */
    size_t nl = 0;
    for (size_t i = 0; i < len; i++)
        nl += buf[i] == '\n';
    char *out = malloc(len + nl * 3 + 8);
    if (out) {
        size_t o = 0;
        memcpy(out, "\033[H", 3), o = 3;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] == '\n') memcpy(out + o, "\033[K", 3), o += 3;
            out[o++] = buf[i];
        }
        memcpy(out + o, "\033[J", 3), o += 3;
        write_all(out, o);
        free(out);
    }
    free(buf);
}

/* Draw if it is time: a terminal at most every TICK_MS (and then always, as
 * ages tick), a pipe only on change and at most every PLAIN_FRAME_MS. */
static void maybe_draw(top *t)
{
    if (t->once) return;
    long long since = mono_ms() - t->drawn_ms;
    if (t->screen ? since >= TICK_MS : t->dirty && since >= PLAIN_FRAME_MS) draw(t);
}

/* ---- keys -------------------------------------------------------------------- */

static void key(top *t, unsigned char c)
{
    t->dirty = true;
    if (t->typing) {
        size_t n = strlen(t->typed);
        if (c == '\r' || c == '\n') {
            memcpy(t->filter, t->typed, n + 1);
            t->typing = false;
        } else if (c == 0x1b) {
            t->filter[0] = t->typed[0] = '\0';
            t->typing = false;
        } else if (c == 0x7f || c == 0x08) {
            while (n > 0 && ((unsigned char)t->typed[--n] & 0xC0) == 0x80)
                ; /* back over a whole UTF-8 character */
            t->typed[n] = '\0';
        } else if (c == 0x15) { /* Ctrl-U */
            t->typed[0] = '\0';
        } else if (c >= 0x20 && n < CLI_TOP_FILTER_MAX) {
            t->typed[n] = (char)c;
            t->typed[n + 1] = '\0';
        }
        return;
    }
    switch (c) {
    case 'q':
    case 'Q':
        t->quit = true;
        break;
    case '/':
        t->typing = true;
        t->typed[0] = '\0';
        break;
    case 'g':
    case 'G':
        t->view.groups_only = !t->view.groups_only;
        break;
    case 0x1b:
        t->filter[0] = '\0';
        break;
    case 0x0c: /* Ctrl-L: the screen was scribbled on */
        t->drawn_ms = 0;
        break;
    default:
        t->dirty = false;
    }
}

static void read_keys(top *t)
{
    unsigned char b[64];
    ssize_t n = read(STDIN_FILENO, b, sizeof b);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        t->quit = true; /* the terminal went away */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        /* An arrow or function key is ESC [ ... or ESC O x in one read:
         * skip it whole rather than take it for Esc and two letters. */
        if (b[i] == 0x1b && i + 1 < n && (b[i + 1] == '[' || b[i + 1] == 'O')) {
            i += 2; /* to the parameters, or to the x of ESC O x */
            while (i < n && (b[i] < 0x40 || b[i] > 0x7e))
                i++;
            continue; /* ...and past the final byte */
        }
        key(t, b[i]);
    }
    t->drawn_ms = 0; /* answer a key at the next tick */
}

/* Signals, keys, frames: what the loop does whenever it gets a chance.
 * Returns non-zero to stop the stream. */
static int tend(top *t, bool key_ready)
{
    if (sig_tstp) suspend(t);
    if (sig_winch) {
        sig_winch = 0;
        screen_rows(t);
        t->drawn_ms = 0;
    }
    if (key_ready) read_keys(t);
    maybe_draw(t);
    return t->quit || sig_exit || t->fatal >= 0;
}

/* ---- the stream -------------------------------------------------------------- */

/* End the command with CLI_EXIT_REFUSED; the words wait in t until the
 * terminal is given back. Returns 1, to stop the stream. */
__attribute__((format(printf, 2, 3))) static int give_up(top *t, const char *fmt, ...)
{
    t->fatal = CLI_EXIT_REFUSED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->fatal_msg, sizeof t->fatal_msg, fmt, ap);
    va_end(ap);
    return 1;
}

static int on_msg(void *ctx, const ssep_msg *m)
{
    top *t = ctx;
    int r = cli_top_apply(t->pic, m->event, m->data, m->data_len, wall_ms());
    if (r == CLI_TOP_NOMEM)
        return give_up(t, "out of memory holding the server's snapshot (%.1f MiB)",
                       (double)m->data_len / (1 << 20));
    if (r == CLI_TOP_BAD && !strcmp(m->event, "snapshot"))
        return give_up(t, "the server's snapshot is not the JSON expected");
    t->fresh = true;
    if (r == CLI_TOP_SNAPSHOT) {
        t->ready = true;
        if (t->once) {
            t->quit = true;
            return 1;
        }
    }
    if (r != CLI_TOP_IGNORED) t->dirty = true;
    return 0;
}

static int on_skip(void *ctx, ssep_err err, const ssep_msg *m)
{
    top *t = ctx;
    if (err == SSEP_ERR_NOMEM) return give_up(t, "out of memory reading the stream");
    /* Without its snapshot top has nothing to show; any other message is
     * one worker or group, which the next snapshot brings back. */
    if (strcmp(m->event, "snapshot")) return 0;
    return give_up(t,
                   "the server's snapshot is larger than the %u MiB top holds: lower vigild's "
                   "[stream] snapshot_workers, or use `vigil status`",
                   SSEP_DEFAULT_MAX_MSG >> 20);
}

static int on_data(void *ctx, const char *buf, size_t len)
{
    top *t = ctx;
    if (!t->answered) {
        /* Resumed: what follows is what was missed, no snapshot needed. */
        t->answered = t->dirty = true;
        t->status[0] = '\0';
    }
    if (ssep_feed(t->parser, buf, len)) return 1;
    return tend(t, false);
}

static int on_wait(void *ctx, int fd_ready)
{
    return tend(ctx, fd_ready != 0);
}

/* Sit out a backoff, still answering keys and ticking. false: stop. */
static bool pause_ms(top *t, long long ms)
{
    long long end = mono_ms() + ms;
    for (long long now; (now = mono_ms()) < end;) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        long long wait = end - now < TICK_MS ? end - now : TICK_MS;
        int r = poll(&p, t->keys ? 1 : 0, (int)wait);
        if (tend(t, r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))) return false;
    }
    return true;
}

/* Whether a refusal may pass: vigild at its subscriber limit, or a proxy
 * whose backend is restarting. */
static bool retryable(long http)
{
    return http == 502 || http == 503 || http == 504;
}

static long long next_backoff(top *t, long long prev)
{
    long long base = ssep_retry(t->parser) >= 0 ? ssep_retry(t->parser) : BACKOFF_FIRST_MS;
    long long d = prev ? prev * 2 : base;
    if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
    return d;
}

/* Read the stream until done; returns an exit code. Messages for stderr are
 * left in t for after the terminal is given back. */
static int watch(top *t, int *vst)
{
    long long backoff = 0;
    *vst = VIGIL_OK;
    for (;;) {
        const char *last = ssep_last_id(t->parser);
        vigil_stream_opts o = {.last_event_id = *last ? last : NULL,
                               .on_data = on_data,
                               .on_wait = t->once ? NULL : on_wait,
                               .wait_fd = t->keys ? STDIN_FILENO : -1,
                               .wait_ms = TICK_MS,
                               .ctx = t};
        t->answered = t->fresh = false;
        int st = vigil_stream(t->ctx->client, "/v1/stream", &o);
        ssep_reset(t->parser);
        if (t->fatal >= 0) return t->fatal;
        if (sig_exit || t->quit) return CLI_EXIT_OK;
        long http = vigil_last_http_status(t->ctx->client);
        bool give_up = t->once || !t->ready || (st == VIGIL_ERR_REFUSED && !retryable(http)) ||
                       st == VIGIL_ERR_INVALID || st == VIGIL_ERR_NOMEM;
        if (give_up) {
            *vst = st;
            if (st != VIGIL_OK) return -1; /* cli_fail says why */
            snprintf(t->fatal_msg, sizeof t->fatal_msg,
                     "the server ended the stream before its snapshot");
            return CLI_EXIT_REFUSED;
        }
        /* A connection that brought messages was a success: start over. */
        backoff = next_backoff(t, t->fresh ? 0 : backoff);
        long long wait = backoff * (80 + random() % 41) / 100;
        const char *why =
            st == VIGIL_OK ? "the server ended the stream" : vigil_last_error(t->ctx->client);
        snprintf(t->status, sizeof t->status, "reconnecting… in %.1fs (%s)", (double)wait / 1000,
                 why);
        t->dirty = true;
        t->drawn_ms = 0;
        if (!pause_ms(t, wait)) return CLI_EXIT_OK;
        snprintf(t->status, sizeof t->status, "reconnecting…");
        t->drawn_ms = 0;
        maybe_draw(t);
    }
}

/* ---- the command ------------------------------------------------------------- */

static int run_top(cli_ctx *ctx)
{
    const char *group = NULL;
    bool once = false, follow = false, no_color = false;
    for (size_t i = 0; i < ctx->nopts; i++) {
        switch (ctx->opts[i].flag - top_flags) {
        case T_GROUP:
            group = ctx->opts[i].value;
            break;
        case T_ONCE:
            once = true;
            break;
        case T_FOLLOW:
            follow = true;
            break;
        case T_NO_COLOR:
            no_color = true;
            break;
        }
    }
    if (once && follow) {
        cli_err("--once and --follow: choose one");
        return CLI_EXIT_USAGE;
    }
    if (group && !*group) {
        cli_err("--group: must not be empty");
        return CLI_EXIT_USAGE;
    }
    bool tty_out = isatty(STDOUT_FILENO);
    const char *term = getenv("TERM");
    const char *nc = getenv("NO_COLOR");
    top t = {.ctx = ctx, .fatal = -1};
    t.once = once || (!tty_out && !follow);
    t.screen = !t.once && tty_out;
    t.keys = t.screen && isatty(STDIN_FILENO);
    const char *url = ctx->url ? ctx->url : getenv("VIGIL_URL");
    t.view = (cli_top_view){.source = url && *url ? url : VIGIL_DEFAULT_URL,
                            .group = group,
                            .color = tty_out && !no_color && !(nc && *nc) &&
                                     !(term && !strcmp(term, "dumb")),
                            .keys = t.keys};

    int rc = cli_connect(ctx);
    if (rc != CLI_EXIT_OK) return rc;
    ssep_cfg pc = {.on_msg = on_msg, .on_error = on_skip, .ctx = &t};
    t.pic = cli_top_new();
    t.parser = ssep_new(&pc);
    if (!t.pic || !t.parser) {
        cli_top_free(t.pic);
        ssep_free(t.parser);
        cli_err("out of memory");
        return CLI_EXIT_REFUSED;
    }
    srandom((unsigned)getpid() ^ (unsigned)mono_ms());
    if (!t.once) install_signals(t.screen);
    if (t.screen) {
        screen_rows(&t);
        term_take(&t);
        snprintf(t.status, sizeof t.status, "connecting to %s…", t.view.source);
        draw(&t);
    }

    int vst;
    rc = watch(&t, &vst);
    if (rc == CLI_EXIT_OK && t.once && t.ready) draw(&t);
    term_give_back(&t);
    if (rc < 0)
        rc = cli_fail(ctx, vst);
    else if (t.fatal_msg[0])
        cli_err("%s", t.fatal_msg);
    cli_top_free(t.pic);
    ssep_free(t.parser);
    if (sig_exit) {
        /* Die of the signal that asked, now that the terminal is restored. */
        fflush(stdout);
        signal(sig_exit, SIG_DFL);
        raise(sig_exit);
    }
    return rc;
}

const cli_cmd cli_cmd_top = {
    .name = "top",
    .synopsis = "[--group G] [--once] [--follow] [--no-color]",
    .summary = "live view of groups and workers (GET /v1/stream; needs the admin token)",
    .details = "Keys: q quits; / starts a filter on worker id and group (Enter applies,\n"
               "Esc clears); g shows only the groups. Workers are listed dead, suspect,\n"
               "alive, left, evicted, then by id. A dropped stream is resumed where it\n"
               "stopped. Without a terminal on stdout it prints one frame and exits, as\n"
               "--once, unless --follow is given.",
    .flags = top_flags,
    .nflags = sizeof top_flags / sizeof top_flags[0],
    .min_pos = 0,
    .max_pos = 0,
    .pos_name = "",
    .ingest = false,
    .run = run_top,
};
