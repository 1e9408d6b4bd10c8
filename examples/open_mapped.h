/* open_mapped.h: how the examples open a file whose path HSE_REQ_MAP_URL_TO_PATH gave them.
 *
 * isapid maps a URL only to a path it has checked (below the document root, no symlink leading
 * out, no dotfile, nothing inside a script directory) and returns it canonical, with no symlink
 * in it. Between the mapping and the open, someone who can write below the root could still
 * put a symlink in its place. open_mapped opens the path refusing every symlink on the way:
 * - with openat2(RESOLVE_NO_SYMLINKS) (Linux 5.6+), a symlink in any component, directories
 *   included, makes the open fail with ELOOP;
 * - where openat2 is missing or refused (ENOSYS, or EPERM from a seccomp filter), it falls back
 *   to open(O_NOFOLLOW), which refuses a symlink in the last component only: a directory on the
 *   way replaced by a symlink is then followed.
 * The file is opened non-blocking and never as a controlling terminal, so a FIFO or a device
 * swapped in cannot stall the caller before its fstat shows what it got; callers still check
 * S_ISREG.
 *
 * Needs _GNU_SOURCE (syscall, O_NOFOLLOW) defined before the first system header; compiles
 * as C and as C++. */
#ifndef ISAPI_EXAMPLE_OPEN_MAPPED_H
#define ISAPI_EXAMPLE_OPEN_MAPPED_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(SYS_openat2) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define OPEN_MAPPED_HAVE_OPENAT2 1
#endif
#endif

#define OPEN_MAPPED_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* A descriptor for path, or -1 with errno (ELOOP: a symlink was met). */
static inline int open_mapped(const char *path)
{
#ifdef OPEN_MAPPED_HAVE_OPENAT2
    struct open_how how;
    memset(&how, 0, sizeof how); /* mode 0: no O_CREAT (and valid C++) */
    how.flags = OPEN_MAPPED_FLAGS;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return (int)fd;
#endif
    return open(path, OPEN_MAPPED_FLAGS | O_NOFOLLOW);
}

#endif
