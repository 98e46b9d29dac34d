/*
 * fuzz_cfg: an INI file through cfg_load_file (inih and vigild's key
 * handlers, rules and sinks included), then cfg_validate and
 * cfg_alerts_check, as boot does. The file is a memfd opened by path
 * (/proc/self/fd/N): cfg_load_file's own fopen, no temp files to clean.
 * Checks: a refused file leaves the config exactly as it was (cfg.h: it
 * parses into a copy) and says why; an accepted one passes
 * cfg_alerts_check again (idempotent), and cfg_validate either passes or
 * says why.
 */
#include "server/cfg.h"
#include "fuzz.h"

#include <sys/mman.h>
#include <unistd.h>

static int fd = -1;
static char path[64];
static cfg base, c; /* 155 KiB each: not on the stack */

static void write_file(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_cfg", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        cfg_defaults(&base);
    }
    write_file(data, size);
    memcpy(&c, &base, sizeof c);
    char err[512] = "";
    if (cfg_load_file(&c, path, err, sizeof err) != 0) {
        FUZZ_CHECK(memcmp(&c, &base, sizeof c) == 0);
        FUZZ_CHECK(err[0] && memchr(err, 0, sizeof err));
        return 0;
    }
    char err2[512] = "";
    FUZZ_CHECK(cfg_alerts_check(&c, err2, sizeof err2) == 0);
    if (cfg_validate(&c, err2, sizeof err2) != 0) FUZZ_CHECK(err2[0]);
    return 0;
}
