/* tmpdir: remove a test's mkdtemp directory and every file in it (the
 * store and spill fixtures' teardown). */
#ifndef VIGIL_TEST_TMPDIR_H
#define VIGIL_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

static void tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

#endif
