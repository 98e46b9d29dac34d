/*
 * test_spill: the event spill file. Round trip, chunked reads in order,
 * truncate, reopen, and the crash rules: a torn end (a record cut mid-write,
 * or a full-length one of zeros) is dropped at open, a damaged record with a
 * good one after it stops the read with an error, a foreign or other-version
 * file is refused, and a second opener is locked out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/spill.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spill_fx.h"

/* Event i: distinct in every field the store reads. */
static reg_event ev_of(int i)
{
    reg_event e;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)(i % 2 ? REG_EV_SESSION_CLOSE : REG_EV_SESSION_OPEN);
    e.reason = (uint8_t)(i % 2 ? REG_R_CLEAN_SHUTDOWN : REG_R_NONE);
    e.has_exit_code = i % 3 == 0;
    e.exit_code = i;
    e.ttl_s = 15 + i;
    e.at_ms = 1000000 + i;
    e.opened_ms = 900000 + i;
    e.last_hb_ms = 950000 + i;
    snprintf(e.worker_id, sizeof e.worker_id, "w-%d", i);
    snprintf(e.group, sizeof e.group, "g-%d", i % 7);
    snprintf(e.instance, sizeof e.instance, "inst-%d", i * 31);
    return e;
}

static void expect_ev(const reg_event *e, int i)
{
    reg_event want = ev_of(i);
    assert_int_equal(e->kind, want.kind);
    assert_int_equal(e->reason, want.reason);
    assert_int_equal(e->has_exit_code, want.has_exit_code);
    assert_int_equal(e->exit_code, want.exit_code);
    assert_int_equal(e->ttl_s, want.ttl_s);
    assert_int_equal(e->at_ms, want.at_ms);
    assert_int_equal(e->opened_ms, want.opened_ms);
    assert_int_equal(e->last_hb_ms, want.last_hb_ms);
    assert_string_equal(e->worker_id, want.worker_id);
    assert_string_equal(e->group, want.group);
    assert_string_equal(e->instance, want.instance);
}

static spill *open_ok(const char *path, spill_info *info)
{
    char err[512] = "";
    spill *s = spill_open(path, info, err, sizeof err);
    if (!s) fail_msg("spill_open: %s", err);
    return s;
}

static void append_range(spill *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        reg_event e = ev_of(i);
        assert_int_equal(spill_append(s, &e), 0);
    }
}

/* Read everything left and check it is events from..to-1 in order. */
static void expect_rest(spill *s, int from, int to)
{
    reg_event buf[16];
    size_t n;
    char err[512];
    int i = from;
    do {
        assert_int_equal(spill_read(s, buf, 16, &n, err, sizeof err), 0);
        for (size_t k = 0; k < n; k++)
            expect_ev(&buf[k], i++);
    } while (n > 0);
    assert_int_equal(i, to);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Record geometry from the file itself, not from spill.c's internals. */
static void geometry(const char *dir, off_t *hdr, off_t *rec)
{
    char p[160];
    snprintf(p, sizeof p, "%s/geometry.spill", dir);
    spill *s = open_ok(p, NULL);
    *hdr = file_size(p);
    append_range(s, 0, 1);
    *rec = file_size(p) - *hdr;
    spill_close(s);
    unlink(p);
    assert_true(*rec > (off_t)sizeof(reg_event));
}

static void test_round_trip(void **state)
{
    fx *f = *state;
    spill_info info;
    spill *s = open_ok(f->path, &info);
    assert_int_equal(info.records, 0);
    assert_int_equal(info.torn, 0);
    assert_int_equal(spill_count(s), 0);
    append_range(s, 0, 100);
    assert_int_equal(spill_count(s), 100);
    assert_int_equal(spill_unread(s), 100);
    expect_rest(s, 0, 100);
    assert_int_equal(spill_unread(s), 0);
    assert_int_equal(spill_close(s), 0);

    s = open_ok(f->path, &info); /* what was written is read back after a close */
    assert_int_equal(info.records, 100);
    assert_int_equal(info.torn, 0);
    expect_rest(s, 0, 100);
    spill_close(s);
}

static void test_chunks_in_order(void **state)
{
    fx *f = *state;
    spill *s = open_ok(f->path, NULL);
    append_range(s, 0, 200);
    reg_event buf[7];
    size_t n;
    char err[512];
    int i = 0;
    /* Reads interleaved with appends: each chunk continues where the last stopped. */
    for (int round = 0; round < 10; round++) {
        assert_int_equal(spill_read(s, buf, 7, &n, err, sizeof err), 0);
        assert_int_equal(n, 7);
        for (size_t k = 0; k < n; k++)
            expect_ev(&buf[k], i++);
        append_range(s, 200 + round, 201 + round);
    }
    assert_int_equal(spill_unread(s), 210 - 70);
    expect_rest(s, 70, 210);
    /* A zero-sized read reads nothing. */
    assert_int_equal(spill_read(s, buf, 0, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    spill_close(s);
}

static void test_truncate(void **state)
{
    fx *f = *state;
    spill *s = open_ok(f->path, NULL);
    off_t empty = file_size(f->path);
    append_range(s, 0, 50);
    expect_rest(s, 0, 50);
    assert_int_equal(spill_truncate(s), 0);
    assert_int_equal(spill_count(s), 0);
    assert_int_equal(spill_unread(s), 0);
    assert_int_equal(file_size(f->path), empty);
    append_range(s, 50, 55); /* after a truncate the file starts over */
    expect_rest(s, 50, 55);
    spill_close(s);
    spill_info info;
    s = open_ok(f->path, &info);
    assert_int_equal(info.records, 5);
    expect_rest(s, 50, 55);
    spill_close(s);
}

static void test_reopen_continues(void **state)
{
    fx *f = *state;
    spill *s = open_ok(f->path, NULL);
    append_range(s, 0, 3);
    spill_close(s);
    s = open_ok(f->path, NULL);
    assert_int_equal(spill_count(s), 3);
    append_range(s, 3, 5); /* appends go after the old records */
    spill_close(s);
    s = open_ok(f->path, NULL);
    expect_rest(s, 0, 5);
    spill_close(s);
}

static void test_torn_last_record_dropped(void **state)
{
    fx *f = *state;
    off_t hdr, rec;
    geometry(f->dir, &hdr, &rec);
    spill *s = open_ok(f->path, NULL);
    append_range(s, 0, 5);
    spill_close(s);
    /* A crash mid-write: the last record is cut. */
    assert_int_equal(truncate(f->path, hdr + 4 * rec + rec / 2), 0);
    spill_info info;
    s = open_ok(f->path, &info);
    assert_int_equal(info.torn, 1);
    assert_int_equal(info.records, 4);
    assert_int_equal(file_size(f->path), hdr + 4 * rec); /* cut off the file too */
    append_range(s, 4, 6);                               /* and appends line up again */
    spill_close(s);
    s = open_ok(f->path, &info);
    assert_int_equal(info.torn, 0);
    expect_rest(s, 0, 6);
    spill_close(s);

    /* A machine crash: the file grew but the tail holds zeros (two records'
     * worth, and a partial one). */
    int fd = open(f->path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    size_t junk = (size_t)(2 * rec + 10);
    char *zeros = calloc(1, junk);
    assert_int_equal(write(fd, zeros, junk), (ssize_t)junk);
    free(zeros);
    close(fd);
    s = open_ok(f->path, &info);
    assert_int_equal(info.torn, 3);
    assert_int_equal(info.records, 6);
    expect_rest(s, 0, 6);
    spill_close(s);
}

static void test_damaged_record_stops_read(void **state)
{
    fx *f = *state;
    off_t hdr, rec;
    geometry(f->dir, &hdr, &rec);
    spill *s = open_ok(f->path, NULL);
    append_range(s, 0, 5);
    spill_close(s);
    /* Flip one byte inside record 2's event (its worker_id). */
    int fd = open(f->path, O_RDWR);
    assert_true(fd >= 0);
    off_t at =
        hdr + 2 * rec + (rec - (off_t)sizeof(reg_event)) + (off_t)offsetof(reg_event, worker_id);
    char c;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);

    spill_info info;
    s = open_ok(f->path, &info); /* good records follow it: not a torn end */
    assert_int_equal(info.torn, 0);
    assert_int_equal(info.records, 5);
    reg_event buf[16];
    size_t n = 99;
    char err[512] = "";
    assert_int_equal(spill_read(s, buf, 16, &n, err, sizeof err), -1);
    assert_int_equal(n, 2); /* the good ones before it are handed out */
    expect_ev(&buf[0], 0);
    expect_ev(&buf[1], 1);
    assert_non_null(strstr(err, "record 2"));
    assert_non_null(strstr(err, "checksum"));
    /* It stays on the bad record: reading again fails again, nothing skipped. */
    assert_int_equal(spill_read(s, buf, 16, &n, err, sizeof err), -1);
    assert_int_equal(n, 0);
    assert_int_equal(spill_unread(s), 3);
    spill_skip(s, 1); /* the caller may give it up */
    expect_rest(s, 3, 5);
    spill_close(s);
}

static void test_foreign_files_refused(void **state)
{
    fx *f = *state;
    char err[512] = "";
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    const char junk[] = "this is not a spill file, but it is long enough to hold a header";
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    assert_null(spill_open(f->path, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a vigil event spill file"));

    /* The right magic, another format version. */
    unlink(f->path);
    spill_close(open_ok(f->path, NULL));
    fd = open(f->path, O_RDWR);
    uint32_t v = 999;
    assert_int_equal(pwrite(fd, &v, sizeof v, 8), (ssize_t)sizeof v);
    close(fd);
    assert_null(spill_open(f->path, NULL, err, sizeof err));
    assert_non_null(strstr(err, "another vigild version"));
}

static void test_second_opener_locked_out(void **state)
{
    fx *f = *state;
    spill *s = open_ok(f->path, NULL);
    char err[512] = "";
    assert_null(spill_open(f->path, NULL, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    spill_close(s);
    spill_close(open_ok(f->path, NULL)); /* free again once closed */
}

static void test_replace(void **state)
{
    fx *f = *state;
    char other[160], err[512] = "";
    snprintf(other, sizeof other, "%s/other.spill", f->dir);
    spill *old = open_ok(f->path, NULL);
    append_range(old, 0, 3);
    spill *s = open_ok(other, NULL);
    append_range(s, 10, 12);
    assert_int_equal(spill_replace(s, f->path, err, sizeof err), 0);
    assert_string_equal(spill_path(s), f->path);
    assert_int_equal(access(other, F_OK), -1);
    spill_close(old);
    append_range(s, 12, 13); /* still the same open file */
    spill_close(s);
    s = open_ok(f->path, NULL);
    expect_rest(s, 10, 13);
    spill_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunks_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_continues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_record_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_stops_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_opener_locked_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
