/*
 * spill.c: the event spill file (format and crash rules in spill.h).
 *
 * The file's valid part is always HDR + count * REC bytes: appends pwrite at
 * that offset (never O_APPEND, so a cut-back failed write can never leave the
 * next record misaligned), reads pread at the read position, and truncation
 * cuts back to the header. Checksums are CRC-32C (Castagnoli), table-driven;
 * a torn write leaves zeros or old bytes, which any CRC catches.
 */
#include "server/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPILL_MAGIC "VIGSPILL"      /* file header, 8 bytes, no NUL */
#define SPILL_VERSION 2u            /* bump whenever reg_event's layout changes */
#define SPILL_REC_MAGIC 0x56455631u /* "1VEV" in a little-endian dump */
#define SPILL_READ_BATCH 64         /* records per pread in spill_read (~29 KiB of stack) */
#define CRC32C_POLY 0x82F63B78u     /* reflected Castagnoli polynomial */

typedef struct spill_fhdr {
    char magic[8];
    uint32_t version;
    uint32_t rec_size; /* bytes of one record: a build with another reg_event refuses the file */
    uint8_t reserved[16];
} spill_fhdr;

typedef struct spill_rec {
    uint32_t magic;
    uint32_t crc; /* CRC-32C of ev */
    reg_event ev;
} spill_rec;

#define HDR ((off_t)sizeof(spill_fhdr))
#define REC ((off_t)sizeof(spill_rec))

_Static_assert(sizeof(spill_fhdr) == 32, "spill file header is 32 bytes");
_Static_assert(offsetof(spill_rec, ev) == 8, "record header is 8 bytes");
/* The records are reg_event as it lies in memory. If this fires, reg_event
 * changed: bump SPILL_VERSION (old files are then refused, not misread) and
 * update the size here. */
_Static_assert(sizeof(reg_event) == 512, "reg_event changed: bump SPILL_VERSION");

struct spill {
    int fd;
    uint64_t count; /* valid records in the file */
    uint64_t rd;    /* read position, a record index */
    char *path;
};

/* ---- CRC-32C ------------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32c(const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *b = p;
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *b++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- helpers ------------------------------------------------------------ */

static off_t rec_off(uint64_t i)
{
    return HDR + (off_t)i * REC;
}

static bool rec_ok(const spill_rec *r)
{
    return r->magic == SPILL_REC_MAGIC && r->crc == crc32c(&r->ev, sizeof r->ev);
}

/* Read exactly n bytes at off: 0, 1 at a short read (end of file), -1 on error. */
static int pread_all(int fd, void *buf, size_t n, off_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 1;
        got += (size_t)r;
    }
    return 0;
}

/* Bytes after a string's NUL hold whatever the producer's stack held; zero
 * them so the file holds only the event (and compares equal run to run). */
static void zero_tail(char *s, size_t size)
{
    size_t len = strnlen(s, size);
    if (len < size) memset(s + len, 0, size - len);
}

/* Check the header of an existing file, or write one into an empty (or
 * shorter than a header: a crash at creation) file. */
static int check_header(int fd, off_t size, const char *path, char *err, size_t errlen)
{
    spill_fhdr h;
    if (size < HDR) {
        memset(&h, 0, sizeof h);
        memcpy(h.magic, SPILL_MAGIC, sizeof h.magic);
        h.version = SPILL_VERSION;
        h.rec_size = (uint32_t)REC;
        if (pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || ftruncate(fd, HDR) != 0) {
            snprintf(err, errlen, "%s: cannot write its header: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (pread_all(fd, &h, sizeof h, 0) != 0) {
        snprintf(err, errlen, "%s: cannot read its header: %s", path, strerror(errno));
        return -1;
    }
    if (memcmp(h.magic, SPILL_MAGIC, sizeof h.magic) != 0) {
        snprintf(err, errlen, "%s is not a vigil event spill file (bad magic)", path);
        return -1;
    }
    if (h.version != SPILL_VERSION || h.rec_size != (uint32_t)REC) {
        snprintf(err, errlen,
                 "%s was written by another vigild version (format %u, %u-byte records; this one "
                 "reads format %u, %u-byte records): start that version once with the store up "
                 "so it applies the file, or move the file aside",
                 path, h.version, h.rec_size, SPILL_VERSION, (unsigned)REC);
        return -1;
    }
    return 0;
}

/* ---- API ---------------------------------------------------------------- */

spill *spill_open(const char *path, spill_info *info, char *err, size_t errlen)
{
    spill_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen, "%s is in use by another process (%s)", path,
                 errno == EWOULDBLOCK ? "locked" : strerror(errno));
        close(fd);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (check_header(fd, st.st_size, path, err, errlen) != 0) {
        close(fd);
        return NULL;
    }
    off_t body = st.st_size > HDR ? st.st_size - HDR : 0;
    uint64_t n = (uint64_t)(body / REC);
    if (body % REC) info->torn++; /* a record cut mid-write */
    /* Trailing records that fail their checksum are the unsynced tail of a
     * machine crash; the first good one from the end closes the torn part. */
    while (n > 0) {
        spill_rec r;
        int rc = pread_all(fd, &r, sizeof r, rec_off(n - 1));
        if (rc < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        if (rc == 0 && rec_ok(&r)) break;
        n--;
        info->torn++;
    }
    if (st.st_size > rec_off(n) && ftruncate(fd, rec_off(n)) != 0) {
        snprintf(err, errlen, "cannot cut the torn end of %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    spill *s = calloc(1, sizeof *s);
    if (s) s->path = strdup(path);
    if (!s || !s->path) {
        snprintf(err, errlen, "out of memory");
        free(s);
        close(fd);
        return NULL;
    }
    s->fd = fd;
    s->count = info->records = n;
    return s;
}

int spill_close(spill *s)
{
    if (!s) return 0;
    int rc = fsync(s->fd);
    close(s->fd);
    free(s->path);
    free(s);
    return rc;
}

int spill_append(spill *s, const reg_event *ev)
{
    /* Every byte defined (padding, and each string past its NUL), so the
     * file holds none of the caller's stack and the crc covers only what
     * was meant (valgrind found status's tail and the padding written). */
    spill_rec r;
    memset(&r, 0, sizeof r);
    r.magic = SPILL_REC_MAGIC;
    memcpy(&r.ev, ev, offsetof(reg_event, status) + sizeof r.ev.status);
    zero_tail(r.ev.worker_id, sizeof r.ev.worker_id);
    zero_tail(r.ev.group, sizeof r.ev.group);
    zero_tail(r.ev.instance, sizeof r.ev.instance);
    zero_tail(r.ev.status, sizeof r.ev.status);
    r.crc = crc32c(&r.ev, sizeof r.ev);
    off_t off = rec_off(s->count);
    ssize_t w;
    do
        w = pwrite(s->fd, &r, sizeof r, off);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)sizeof r) {
        /* A short write on a regular file means the space ran out; cut it
         * back so the file ends on a record, as if nothing happened. */
        int e = w < 0 ? errno : ENOSPC;
        if (w > 0) {
            /* Best effort: if this fails too, the next append overwrites the
             * piece and a reopen drops it as torn. */
            int rc = ftruncate(s->fd, off);
            (void)rc;
        }
        errno = e;
        return -1;
    }
    s->count++;
    return 0;
}

int spill_read(spill *s, reg_event *out, size_t max, size_t *n, char *err, size_t errlen)
{
    spill_rec buf[SPILL_READ_BATCH];
    *n = 0;
    while (*n < max && s->rd < s->count) {
        uint64_t k = s->count - s->rd;
        if (k > max - *n) k = max - *n;
        if (k > SPILL_READ_BATCH) k = SPILL_READ_BATCH;
        int rc = pread_all(s->fd, buf, (size_t)k * sizeof *buf, rec_off(s->rd));
        if (rc != 0) {
            snprintf(err, errlen, "%s: record %llu: %s", s->path, (unsigned long long)s->rd,
                     rc < 0 ? strerror(errno) : "file ends early (cut by someone else?)");
            return -1;
        }
        for (uint64_t i = 0; i < k; i++) {
            if (!rec_ok(&buf[i])) {
                snprintf(err, errlen, "%s: record %llu of %llu is damaged (%s)", s->path,
                         (unsigned long long)s->rd, (unsigned long long)s->count,
                         buf[i].magic != SPILL_REC_MAGIC ? "bad record magic"
                                                         : "checksum mismatch");
                return -1;
            }
            out[(*n)++] = buf[i].ev;
            s->rd++;
        }
    }
    return 0;
}

void spill_skip(spill *s, uint64_t n)
{
    s->rd = n > s->count - s->rd ? s->count : s->rd + n;
}

uint64_t spill_count(const spill *s)
{
    return s->count;
}

uint64_t spill_unread(const spill *s)
{
    return s->count - s->rd;
}

int spill_truncate(spill *s)
{
    if (ftruncate(s->fd, HDR) != 0) return -1;
    s->count = s->rd = 0;
    return 0;
}

int spill_sync(spill *s)
{
    return fsync(s->fd);
}

int spill_replace(spill *s, const char *to, char *err, size_t errlen)
{
    char *np = strdup(to), *dir = strdup(to);
    int rc = -1;
    if (!np || !dir) {
        snprintf(err, errlen, "out of memory");
    } else if (fsync(s->fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", s->path, strerror(errno));
    } else if (rename(s->path, to) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", s->path, to, strerror(errno));
    } else {
        /* The rename is durable only once the directory is synced. */
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
        if (rc) snprintf(err, errlen, "cannot sync the directory of %s: %s", to, strerror(errno));
        if (dfd >= 0) close(dfd);
        free(s->path);
        s->path = np;
        np = NULL;
    }
    free(np);
    free(dir);
    return rc;
}

const char *spill_path(const spill *s)
{
    return s->path;
}
