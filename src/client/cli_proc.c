/*
 * cli_proc: the pure parts of `vigil run` (cli_run.c), apart so that the
 * unit tests (tests/unit/test_run.c) can build them without the CLI.
 *
 * Mechanism: a process's CPU use is the utime + stime fields of
 * /proc/<pid>/stat, plus cutime + cstime for the children it has waited for;
 * a command's whole use is that summed over it and every live descendant,
 * found by following ppid links in one scan of /proc. A descendant that
 * exited unreaped or was reparented away is lost: ticks may then stall, not
 * go back (the server's stuck rule only asks whether they still grow).
 */
#include "client/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define STAT_UTIME_FIELD 14  /* 1-based, proc(5): utime, stime, cutime, cstime follow */
#define SIGNAL_EXIT_BASE 128 /* a shell's $? for a process killed by signal S is 128 + S */

bool cli_proc_parse_stat(const char *buf, cli_proc_stat *out)
{
    char *end;
    long pid = strtol(buf, &end, 10);
    const char *rp = strrchr(buf, ')'); /* comm is "(...)" and may hold ")" itself */
    if (end == buf || pid <= 0 || !rp) return false;
    /* After ")": field 3 (state), 4 (ppid), ... */
    const char *p = rp + 1;
    long long v[STAT_UTIME_FIELD + 4] = {0};
    for (int f = 3; f <= STAT_UTIME_FIELD + 3; f++) {
        while (*p == ' ')
            p++;
        if (!*p) return false;
        if (f == 3) {
            p++; /* the state letter */
            continue;
        }
        v[f] = strtoll(p, &end, 10);
        if (end == p) return false;
        p = end;
    }
    out->pid = pid;
    out->ppid = (long)v[4];
    out->ticks = v[STAT_UTIME_FIELD] + v[STAT_UTIME_FIELD + 1] + v[STAT_UTIME_FIELD + 2] +
                 v[STAT_UTIME_FIELD + 3];
    return true;
}

int64_t cli_proc_tree_ticks(const cli_proc_stat *p, size_t n, long root)
{
    bool *in = calloc(n ? n : 1, sizeof *in);
    if (!in) return -1;
    int64_t sum = 0;
    /* Grow the tree from root until a pass adds nobody: a chain k deep
     * takes at most k passes, whatever order /proc listed it in. */
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (in[i]) continue;
            bool child = p[i].pid == root;
            for (size_t j = 0; !child && j < n; j++)
                child = in[j] && p[j].pid == p[i].ppid;
            if (child) {
                in[i] = grew = true;
                sum += p[i].ticks;
            }
        }
    }
    free(in);
    return sum;
}

int cli_run_outcome(int wstatus, char *text, size_t cap)
{
    text[0] = '\0';
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (!WIFSIGNALED(wstatus)) return 1; /* not an end (stopped): should not be asked */
    int sig = WTERMSIG(wstatus);
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(text, cap, "killed by signal %d (SIG%s)", sig, abbrev);
    else
        snprintf(text, cap, "killed by signal %d", sig);
    return SIGNAL_EXIT_BASE + sig;
}

int64_t cli_run_next_slot(int64_t first_ms, int64_t every_ms, int64_t now_ms)
{
    if (every_ms <= 0 || now_ms < first_ms) return first_ms;
    return first_ms + ((now_ms - first_ms) / every_ms + 1) * every_ms;
}

void cli_run_default_id(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = 0;
    for (; base[n] && n < 128 && n + 1 < cap; n++) {
        char c = base[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("._:@-", c);
        buf[n] = ok ? c : '-';
    }
    buf[n] = '\0';
    if (n == 0) snprintf(buf, cap, "run");
}
