/*
 * spill: an append-only local file of state events, the overflow of the
 * write queue's event lane (wq.h) and what a stop with the store down leaves
 * for the next boot (DATA_DIR/events.spill).
 *
 * Layout: a 32-byte file header (magic "VIGSPILL", format version, record
 * size), then fixed-size records, each an 8-byte header (record magic and a
 * CRC-32C of the event) followed by the reg_event as it lies in memory. The
 * file is only ever read by the vigild build that wrote it (same machine,
 * same struct layout); the header's version and record size make any other
 * build refuse it instead of misreading it.
 *
 * Crash safety. Records are added with one pwrite() each at the end of the
 * valid part, and a failed or short write is cut back, so a running process
 * never leaves a partial record. A crash of the machine can: the unsynced tail
 * may come back cut mid-record, or at full length holding zeros or stale
 * bytes. spill_open therefore drops a partial record at the end and any
 * trailing full records whose checksum fails ("torn", counted). A bad record
 * with a good one after it is not a torn tail but damage, and spill_read stops
 * there with an error rather than skip or misread it.
 *
 * Pure file I/O: no locks, no threads. The write queue calls everything under
 * its mutex except spill_sync, which touches only the descriptor (see wq.c).
 * The file is flock()ed while open, so two vigild processes sharing a data
 * directory by mistake cannot interleave their records.
 */
#ifndef VIGIL_SPILL_H
#define VIGIL_SPILL_H

#include "core/reg.h"

#include <stddef.h>
#include <stdint.h>

#define SPILL_FILE_NAME "events.spill" /* in the data directory */

typedef struct spill spill;

typedef struct spill_info {
    uint64_t records; /* valid records found at open */
    uint64_t torn;    /* trailing records (or a partial one) dropped at open */
} spill_info;

/* Open path, creating it (mode 0600) when missing, and lock it. Existing
 * records are kept and counted, the read position is the first record and
 * appends go after the last valid one (a torn tail is cut off the file).
 * info may be NULL. NULL with err when the file cannot be opened, is locked
 * by another process, or was written by another format. */
spill *spill_open(const char *path, spill_info *info, char *err, size_t errlen);

/* fsync and close (the lock goes with the descriptor). NULL is fine.
 * Returns -1 when the final fsync failed. */
int spill_close(spill *s);

/* Add one event at the end. 0, or -1 with errno set (ENOSPC, EFBIG, EIO…)
 * and the file as it was before the call. No fsync: see spill_sync. */
int spill_append(spill *s, const reg_event *ev);

/* Read up to max events from the read position on, into out, in order, and
 * advance past them. *n = 0 at the end. -1 with err (and *n = the good
 * records read before it, which are returned and passed) when a record is
 * damaged or unreadable: the read position then stays on that record, so the
 * caller decides (spill_skip it, or refuse). */
int spill_read(spill *s, reg_event *out, size_t max, size_t *n, char *err, size_t errlen);

/* Step the read position over n records (a damaged one the caller gives up). */
void spill_skip(spill *s, uint64_t n);

uint64_t spill_count(const spill *s);  /* records in the file */
uint64_t spill_unread(const spill *s); /* records after the read position */

/* Drop every record (the header stays) and rewind the read position. Not
 * synced: a crash may bring the records back, which boot then applies again
 * (harmless, see boot.c). 0, or -1 with errno. */
int spill_truncate(spill *s);

/* fsync the file. Touches only the descriptor, so it may run while another
 * thread appends (the write queue relies on that to sync outside its lock). */
int spill_sync(spill *s);

/* Put s's file in place of `to` atomically: fsync it, rename it over `to`,
 * fsync the directory. s then names `to`. 0, or -1 with err. */
int spill_replace(spill *s, const char *to, char *err, size_t errlen);

const char *spill_path(const spill *s);

#endif
