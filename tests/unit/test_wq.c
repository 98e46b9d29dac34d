/*
 * test_wq: the write queue's event lane with a tiny memory cap (4), through
 * its public API only. Events keep their order across memory -> file ->
 * memory, new events follow the file until it is stored and truncated, raw
 * samples wait while events are left in the file, an unwritable file keeps
 * events in memory past the cap (counted, still in order), and the stop-time
 * spill writes the writer's batch and everything queued to the file in order.
 * The ring hands a burst's pages back once it is empty (wq_trim).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/wq.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP 4     /* events in memory */
#define RING 16   /* raw samples */
#define NO_WAIT 0 /* wq_take timeout: never block a test */
#define MAX_HB 16

#include "spill_fx.h"

/* Event i carries i in at_ms, so order is easy to check. */
static void push(wq *q, int i)
{
    reg_event e;
    memset(&e, 0, sizeof e);
    e.kind = REG_EV_SESSION_OPEN;
    e.at_ms = e.opened_ms = i;
    snprintf(e.worker_id, sizeof e.worker_id, "w-%d", i);
    snprintf(e.group, sizeof e.group, "g");
    wq_push_event(q, &e);
}

static void push_range(wq *q, int from, int to)
{
    for (int i = from; i < to; i++)
        push(q, i);
}

/* A raw sample for worker id, seq given when >= 0. */
static void push_hb_seq(wq *q, const char *id, int64_t seq)
{
    hb_msg m;
    memset(&m, 0, sizeof m);
    snprintf(m.worker_id, sizeof m.worker_id, "%s", id);
    if (seq >= 0) {
        m.seq = seq;
        m.has = HB_HAS_SEQ;
    }
    assert_true(wq_push_hb(q, &m, 1));
}

static void push_hb(wq *q, const char *id)
{
    push_hb_seq(q, id, -1);
}

static spill *open_spill(const char *path)
{
    char err[512] = "";
    spill *s = spill_open(path, NULL, err, sizeof err);
    if (!s) fail_msg("spill_open: %s", err);
    return s;
}

typedef struct took {
    reg_event *evs;
    size_t nev, nspill, nhb;
    store_hb hbs[MAX_HB];
} took;

/* Take once and check the events are from..to-1 in order. */
static void take_expect(wq *q, took *t, int from, int to)
{
    wq_take(q, &t->evs, &t->nev, &t->nspill, t->hbs, MAX_HB, &t->nhb, NO_WAIT);
    assert_int_equal(t->nev, (size_t)(to - from));
    for (size_t k = 0; k < t->nev; k++)
        if (t->evs[k].at_ms != from + (int64_t)k)
            fail_msg("event %zu is %lld, want %lld", k, (long long)t->evs[k].at_ms,
                     (long long)(from + (int64_t)k));
    free(t->evs);
    t->evs = NULL;
}

static wq_stats stats(wq *q)
{
    wq_stats st;
    wq_get_stats(q, &st);
    return st;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void test_memory_file_memory_order(void **state)
{
    fx *f = *state;
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    took t;
    push_range(q, 1, 11); /* 1..4 in memory, 5..10 in the file */
    wq_stats st = stats(q);
    assert_int_equal(st.ev_mem, 4);
    assert_int_equal(st.spilled, 6);
    assert_int_equal(st.ev_depth, 10);
    assert_int_equal(st.ev_spilled, 6);
    assert_int_equal(st.spill_episodes, 1);
    assert_int_equal(st.ev_pushed, 10);

    take_expect(q, &t, 1, 11); /* memory first, then the file */
    assert_int_equal(t.nspill, 6);
    /* Read but not yet stored: the file stays, and new events follow it. */
    push(q, 11);
    st = stats(q);
    assert_int_equal(st.ev_mem, 0);
    assert_int_equal(st.spilled, 7);
    take_expect(q, &t, 11, 12);
    assert_int_equal(t.nspill, 1);
    wq_stored(q, 6);
    push(q, 12); /* the file is not all stored yet: still the file */
    assert_int_equal(stats(q).ev_mem, 0);
    wq_stored(q, 1);
    assert_int_equal(stats(q).spill_drains, 0); /* 12 is unread */
    take_expect(q, &t, 12, 13);
    wq_stored(q, t.nspill);
    st = stats(q);
    assert_int_equal(st.spill_drains, 1); /* all stored: truncated */
    assert_int_equal(st.spilled, 0);
    assert_int_equal(file_size(f->path) < 100, 1);

    push(q, 13); /* back to memory */
    st = stats(q);
    assert_int_equal(st.ev_mem, 1);
    assert_int_equal(st.spilled, 0);
    take_expect(q, &t, 13, 14);
    assert_int_equal(t.nspill, 0);

    /* And it spills again past the cap, a second episode. */
    push_range(q, 14, 20);
    assert_int_equal(stats(q).spill_episodes, 2);
    take_expect(q, &t, 14, 20);
    assert_int_equal(t.nspill, 2);
    wq_stored(q, t.nspill);
    assert_int_equal(stats(q).spill_drains, 2);
    wq_free(q);
}

static void test_samples_wait_behind_spilled_events(void **state)
{
    fx *f = *state;
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    took t;
    int last = 1 + CAP + WQ_SPILL_CHUNK + 2; /* two more than one chunk in the file */
    push_range(q, 1, last);
    push_hb(q, "after-all-events");
    take_expect(q, &t, 1, 1 + CAP + WQ_SPILL_CHUNK);
    assert_int_equal(t.nspill, WQ_SPILL_CHUNK);
    assert_int_equal(t.nhb, 0); /* two events are still in the file */
    assert_int_equal(stats(q).hb_depth, 1);
    take_expect(q, &t, 1 + CAP + WQ_SPILL_CHUNK, last);
    assert_int_equal(t.nspill, 2);
    assert_int_equal(t.nhb, 1); /* nothing left behind: the sample goes too */
    assert_string_equal(t.hbs[0].worker_id, "after-all-events");
    wq_stored(q, WQ_SPILL_CHUNK + 2);
    /* Not spilling: samples and events are taken together as always. */
    push(q, last);
    push_hb(q, "x");
    take_expect(q, &t, last, last + 1);
    assert_int_equal(t.nhb, 1);
    wq_free(q);
}

static void test_unwritable_file_keeps_events_in_memory(void **state)
{
    fx *f = *state;
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    took t;
    off_t hdr = file_size(f->path);
    push_range(q, 1, 6); /* 1..4 in memory, 5 in the file */
    off_t rec = file_size(f->path) - hdr;
    /* The disk is full after one more record (a file size limit stands in). */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)(hdr + 2 * rec);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    push_range(q, 6, 11); /* 6 in the file; 7..10 in memory past the cap */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    wq_stats st = stats(q);
    assert_int_equal(st.ev_spill_failed, 4);
    assert_int_equal(st.spill_fail_streaks, 1); /* logged once, not per event */
    assert_int_equal(st.spill_errno, EFBIG);
    assert_int_equal(st.ev_mem, 8);
    assert_int_equal(st.spilled, 2);
    assert_int_equal(file_size(f->path), hdr + 2 * rec); /* no partial record left */
    /* Writable again, but 11 must follow 7..10, so it joins them in memory. */
    push(q, 11);
    assert_int_equal(stats(q).ev_spill_failed, 5);

    take_expect(q, &t, 1, 12); /* memory, file, then the tail: in order */
    assert_int_equal(t.nspill, 2);
    wq_stored(q, t.nspill);
    push(q, 12);
    st = stats(q);
    assert_int_equal(st.ev_mem, 1); /* back to normal */
    assert_int_equal(st.spilled, 0);
    push_range(q, 13, 20); /* 13..15 fill memory, the file takes 16..19: the streak is over */
    st = stats(q);
    assert_int_equal(st.spilled, 4);
    assert_int_equal(st.ev_spill_failed, 5);
    take_expect(q, &t, 12, 20);
    wq_free(q);
}

static void test_without_file_cap_is_soft(void **state)
{
    (void)state;
    wq *q = wq_new_spill(RING, CAP, NULL);
    took t;
    push_range(q, 1, 7);
    wq_stats st = stats(q);
    assert_int_equal(st.ev_mem, 6);
    assert_int_equal(st.ev_spill_failed, 2);
    take_expect(q, &t, 1, 7);
    push(q, 7);
    assert_int_equal(stats(q).ev_spill_failed, 2);
    take_expect(q, &t, 7, 8);
    wq_free(q);
}

/* The writer's backoff wait: over at its timeout while open, cut short by a
 * close (a 60 s wait that returned at once could only have been cut). */
static void test_wait_close(void **state)
{
    (void)state;
    wq *q = wq_new(RING);
    assert_false(wq_wait_close(q, 0));
    wq_close(q);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(wq_wait_close(q, 60000));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 30);
    wq_free(q);
}

static void expect_file(const char *path, int from, int to)
{
    spill *s = open_spill(path);
    reg_event buf[8];
    size_t n;
    char err[512];
    int i = from;
    do {
        assert_int_equal(spill_read(s, buf, 8, &n, err, sizeof err), 0);
        for (size_t k = 0; k < n; k++, i++)
            assert_int_equal(buf[k].at_ms, i);
    } while (n);
    assert_int_equal(i, to);
    spill_close(s);
}

static void test_spill_rest_at_stop(void **state)
{
    fx *f = *state;
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    push_range(q, 1, 7); /* 1..4 memory, 5..6 file */
    reg_event *batch;
    size_t nb, nsp, nhb;
    store_hb hbs[MAX_HB];
    wq_take(q, &batch, &nb, &nsp, hbs, MAX_HB, &nhb, NO_WAIT); /* the writer's batch: 1..6 */
    assert_int_equal(nb, 6);
    assert_int_equal(nsp, 2);
    push_range(q, 7, 9); /* file */
    push_hb(q, "dropped");
    wq_close(q);
    uint64_t spilled = 0, lost = 99;
    char err[512] = "";
    if (wq_spill_rest(q, batch, nb, nsp, &spilled, &lost, err, sizeof err) != 0)
        fail_msg("wq_spill_rest: %s", err);
    assert_int_equal(spilled, 8);
    assert_int_equal(lost, 0);
    wq_stats st = stats(q);
    assert_int_equal(st.spilled, 8);
    assert_int_equal(st.ev_mem, 0);
    assert_int_equal(st.ev_spilled, 2 + 2 + 4); /* 5,6 then 7,8 while running; 1..4 at stop */
    free(batch);
    wq_free(q);
    expect_file(f->path, 1, 9); /* the batch first (memory, then its file part), then the rest */
}

static void test_spill_rest_leaves_stored_records_out(void **state)
{
    fx *f = *state;
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    took t;
    push_range(q, 1, 11); /* 5..10 in the file */
    take_expect(q, &t, 1, 11);
    push_range(q, 11, 13); /* file */
    wq_stored(q, 6);       /* 5..10 stored; 11, 12 unread */
    reg_event *batch;
    size_t nb, nsp, nhb;
    store_hb hbs[MAX_HB];
    wq_take(q, &batch, &nb, &nsp, hbs, MAX_HB, &nhb, NO_WAIT); /* 11, 12: the store fails */
    assert_int_equal(nsp, 2);
    push(q, 13);
    wq_close(q);
    uint64_t spilled = 0, lost = 0;
    char err[512] = "";
    if (wq_spill_rest(q, batch, nb, nsp, &spilled, &lost, err, sizeof err) != 0)
        fail_msg("wq_spill_rest: %s", err);
    assert_int_equal(spilled, 3);
    free(batch);
    wq_free(q);
    expect_file(f->path, 11, 14);
}

static void test_records_from_before_come_first(void **state)
{
    fx *f = *state;
    spill *s = open_spill(f->path);
    wq *q0 = wq_new_spill(RING, 1, s);
    push_range(q0, 1, 4); /* 1 in memory, 2..3 in the file */
    wq_free(q0);
    q0 = NULL;
    /* A queue opened on a file that already holds records puts them first. */
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    took t;
    assert_int_equal(stats(q).spilled, 2);
    push(q, 4);
    take_expect(q, &t, 2, 5);
    wq_free(q);
}

/* The journal while the queue holds it (and its lock): the events' at_ms read
 * from the file's bytes (32-byte header, 8-byte record header + reg_event)
 * must be from..to-1. */
static void expect_journal(const char *path, int from, int to)
{
    enum { JHDR = 32, JREC = 8 + (int)sizeof(reg_event) };
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_int_equal((size - JHDR) % JREC, 0);
    assert_int_equal((size - JHDR) / JREC, to - from);
    for (int i = 0; i < to - from; i++) {
        reg_event e;
        assert_int_equal(fseek(fp, JHDR + (long)i * JREC + 8, SEEK_SET), 0);
        assert_int_equal(fread(&e, sizeof e, 1, fp), 1);
        assert_int_equal(e.at_ms, from + i);
    }
    fclose(fp);
}

/* The journal holds what head holds, in order, until it is stored; with a
 * commit that leaves nothing behind it is emptied; events that go to the
 * spill file are not journaled (the file itself survives a crash). */
static void test_journal_follows_head(void **state)
{
    fx *f = *state;
    char jpath[160];
    snprintf(jpath, sizeof jpath, "%s/events.journal", f->dir);
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    wq_set_journal(q, open_spill(jpath));
    took t;
    push_range(q, 1, 4); /* memory: journaled */
    expect_journal(jpath, 1, 4);
    take_expect(q, &t, 1, 4);
    push(q, 4);                  /* pushed while the batch is being written */
    expect_journal(jpath, 1, 5); /* nothing stored yet: all of it is still there */
    wq_stored(q, t.nspill);      /* 1..3 stored; 4 is not */
    expect_journal(jpath, 1, 5); /* a prefix stored, under the compaction threshold: kept */
    take_expect(q, &t, 4, 5);
    wq_stored(q, t.nspill);
    expect_journal(jpath, 1, 1); /* all stored: emptied */
    push_range(q, 5, 12);        /* 5..8 memory, 9..11 the spill file */
    expect_journal(jpath, 5, 9);
    take_expect(q, &t, 5, 12);
    wq_stored(q, t.nspill);
    expect_journal(jpath, 1, 1);
    assert_int_equal(stats(q).journal_failed, 0);
    wq_free(q);
}

/* Under steady churn no commit finds the head empty; the journal is then
 * rewritten with just the head once enough stored records pile up in front. */
static void test_journal_compacts_under_churn(void **state)
{
    fx *f = *state;
    char jpath[160];
    snprintf(jpath, sizeof jpath, "%s/events.journal", f->dir);
    wq *q = wq_new_spill(RING, 1 << 20, open_spill(f->path));
    wq_set_journal(q, open_spill(jpath));
    reg_event *evs;
    size_t nev, nsp, nhb;
    store_hb hbs[MAX_HB];
    int next = 1;
    for (int round = 0; round < 3000; round++) {
        push(q, next++);
        wq_take(q, &evs, &nev, &nsp, hbs, MAX_HB, &nhb, NO_WAIT);
        free(evs);
        push(q, next++); /* arrives during the commit */
        wq_stored(q, nsp);
        wq_take(q, &evs, &nev, &nsp, hbs, MAX_HB, &nhb, NO_WAIT); /* the next batch: it */
        assert_int_equal(nev, 1);
        free(evs);
        push(q, next++);
        wq_stored(q, nsp);
    }
    /* the last one pushed is the only one not stored: the file holds a stored
     * prefix shorter than the threshold, then it */
    FILE *fp = fopen(jpath, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = (ftell(fp) - 32) / (8 + (long)sizeof(reg_event));
    fclose(fp);
    assert_true(n >= 1 && n <= 1024 + 1); /* WQ_JOURNAL_COMPACT + the unstored one */
    wq_take(q, &evs, &nev, &nsp, hbs, MAX_HB, &nhb, NO_WAIT);
    assert_int_equal(nev, 1);
    assert_int_equal(evs[0].at_ms, next - 1);
    free(evs);
    wq_free(q);
}

/* A stop with the store down puts the head into the spill file: the journal
 * is emptied, so the next boot applies those events once. */
static void test_journal_emptied_by_spill_rest(void **state)
{
    fx *f = *state;
    char jpath[160];
    snprintf(jpath, sizeof jpath, "%s/events.journal", f->dir);
    wq *q = wq_new_spill(RING, CAP, open_spill(f->path));
    wq_set_journal(q, open_spill(jpath));
    push_range(q, 1, 4);
    wq_close(q);
    uint64_t spilled = 0, lost = 99;
    char err[512] = "";
    if (wq_spill_rest(q, NULL, 0, 0, &spilled, &lost, err, sizeof err) != 0)
        fail_msg("wq_spill_rest: %s", err);
    assert_int_equal(spilled, 3);
    wq_free(q);
    expect_file(f->path, 1, 4);
    expect_file(jpath, 1, 1);
}

/* Resident bytes of this process (/proc/self/statm). */
static long rss_bytes(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages, &res), 2);
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

/* Push n samples numbered from..from+n-1 (in seq and the id). */
static void push_seq(wq *q, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char id[32];
        snprintf(id, sizeof id, "w-%d", i);
        push_hb_seq(q, id, i);
    }
}

/* Take up to max samples into buf and check they are from.. in order. */
static size_t take_seq(wq *q, store_hb *buf, size_t max, int from)
{
    reg_event *evs = NULL;
    size_t nev = 0, nspill = 0, nhb = 0;
    wq_take(q, &evs, &nev, &nspill, buf, max, &nhb, NO_WAIT);
    free(evs);
    for (size_t k = 0; k < nhb; k++) {
        char want[32];
        snprintf(want, sizeof want, "w-%d", from + (int)k);
        if (buf[k].seq != from + (int64_t)k || strcmp(buf[k].worker_id, want) != 0)
            fail_msg("sample %zu is %lld %s, want %s", k, (long long)buf[k].seq, buf[k].worker_id,
                     want);
    }
    return nhb;
}

/* A burst fills the whole ring; once it is taken, wq_trim hands the pages
 * past WQ_KEEP_HB slots back (RSS falls by about that much), never while a
 * queued sample lies there, and samples pushed after a trim read back
 * intact from the refaulted pages. */
static void test_trim_hands_back_a_bursts_pages(void **state)
{
    (void)state;
    const int cap = 16 * WQ_KEEP_HB; /* 19 MB of ring */
    const long past = (long)(cap - WQ_KEEP_HB) * (long)sizeof(store_hb);
    wq *q = wq_new((size_t)cap);
    store_hb *buf = malloc(2 * WQ_KEEP_HB * sizeof *buf);
    assert_non_null(buf);
    push_seq(q, 0, cap);
    assert_int_equal(wq_trim(q), 0); /* all of it still queued */
    int next = 0;
    while (next < cap - 2)
        next += (int)take_seq(
            q, buf, (size_t)(cap - 2 - next < 2 * WQ_KEEP_HB ? cap - 2 - next : 2 * WQ_KEEP_HB),
            next);
    assert_int_equal(wq_trim(q), 0); /* the last two sit at the ring's end */
    assert_int_equal(take_seq(q, buf, 2 * WQ_KEEP_HB, next), 2);
    long before = rss_bytes();
    size_t gone = wq_trim(q);
    long after = rss_bytes();
    assert_true((long)gone >= past - 4096 && (long)gone <= past + 4096);
    if (before - after < past * 9 / 10)
        fail_msg("RSS fell by %ld bytes, want about %ld", before - after, past);
    assert_int_equal(wq_trim(q), 0); /* nothing touched since */
    /* After the trim: the ring works from slot 0, past the kept pages too. */
    push_seq(q, 100, WQ_KEEP_HB + 10);
    assert_int_equal(take_seq(q, buf, 2 * WQ_KEEP_HB, 100), WQ_KEEP_HB + 10);
    assert_true(wq_trim(q) > 0); /* slots past the kept ones were touched again */
    assert_int_equal(stats(q).hb_dropped, 0);
    free(buf);
    wq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory_file_memory_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_samples_wait_behind_spilled_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_file_keeps_events_in_memory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_without_file_cap_is_soft, setup, teardown),
        cmocka_unit_test(test_wait_close),
        cmocka_unit_test_setup_teardown(test_spill_rest_at_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_rest_leaves_stored_records_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_from_before_come_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_follows_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_compacts_under_churn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_emptied_by_spill_rest, setup, teardown),
        cmocka_unit_test(test_trim_hands_back_a_bursts_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
