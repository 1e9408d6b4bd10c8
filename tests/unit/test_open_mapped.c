/* examples/open_mapped.h: how the examples open a path MAP_URL_TO_PATH gave them. A symlink
 * swapped in after the mapping, as the last component or as a directory on the way, is
 * refused (the directory case only where openat2 exists: the fallback covers the last
 * component alone, as the header says). */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "../../examples/open_mapped.h"

static char base[4096];

static const char *at(const char *rel)
{
    static char bufs[4][4200];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", base, rel);
    return b;
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
}

static bool have_openat2(void)
{
#ifdef OPEN_MAPPED_HAVE_OPENAT2
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS};
    long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd >= 0)
        close((int)fd);
    return fd >= 0;
#else
    return false;
#endif
}

int main(void)
{
    char tmpl[] = "/tmp/isapid-open-mapped-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    CHECK(realpath(tmpl, base) != NULL);
    CHECK_INT(mkdir(at("dir"), 0755), 0);
    CHECK_INT(mkdir(at("outside"), 0755), 0);
    touch(at("dir/file.txt"));
    touch(at("outside/secret.txt"));
    touch(at("outside/file.txt"));

    int fd = open_mapped(at("dir/file.txt"));
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);

    /* the file swapped for a symlink */
    CHECK_INT(unlink(at("dir/file.txt")), 0);
    CHECK_INT(symlink(at("outside/secret.txt"), at("dir/file.txt")), 0);
    errno = 0;
    CHECK_INT(open_mapped(at("dir/file.txt")), -1);
    CHECK_INT(errno, ELOOP);

    /* a directory on the way swapped for a symlink */
    CHECK_INT(rename(at("dir"), at("dir.old")), 0);
    CHECK_INT(symlink(at("outside"), at("dir")), 0);
    fd = open_mapped(at("dir/file.txt"));
    if (have_openat2()) {
        CHECK_INT(fd, -1);
        CHECK_INT(errno, ELOOP);
    } else {
        printf("test_open_mapped: no openat2 here: a symlinked directory is followed\n");
    }
    if (fd >= 0)
        close(fd);

    unlink(at("dir"));
    unlink(at("dir.old/file.txt"));
    rmdir(at("dir.old"));
    unlink(at("outside/secret.txt"));
    unlink(at("outside/file.txt"));
    rmdir(at("outside"));
    rmdir(base);
    return check_report("test_open_mapped");
}
