#define _GNU_SOURCE
#include "ecbfault.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_userfaultfd) && __has_include(<linux/userfaultfd.h>)
#include <linux/userfaultfd.h>
#define HAVE_USERFAULTFD 1
/* UFFDIO_MOVE (Linux 6.8) is newer than some distributions' headers (Debian 12's): its ABI. */
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE ((uint64_t)1 << 16)
#define _UFFDIO_MOVE 0x05
struct uffdio_move {
    uint64_t dst, src, len, mode;
    int64_t move; /* written by the kernel: bytes moved, or -errno when none were */
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif
#endif

struct ecb_fault {
    unsigned char page[ECB_FAULT_PAGE]; /* first, page-aligned: the handler's, built per fault */
    int uffd;
    int stop_fd; /* eventfd: ecb_fault_stop */
    bool can_move; /* the kernel has UFFDIO_MOVE for the range */
    ecb_fault_fill_fn *fill;
    void *arg;
    pthread_t thread;
    _Atomic uint64_t faults, errors;
    _Atomic int last_error;
};

static void count_error(ecb_fault_t *f, int err)
{
    atomic_fetch_add_explicit(&f->errors, 1, memory_order_relaxed);
    atomic_store_explicit(&f->last_error, err, memory_order_relaxed);
}

void ecb_fault_stats(const ecb_fault_t *f, ecb_fault_stats_t *out)
{
    out->faults = atomic_load_explicit(&f->faults, memory_order_relaxed);
    out->errors = atomic_load_explicit(&f->errors, memory_order_relaxed);
    out->last_error = atomic_load_explicit(&f->last_error, memory_order_relaxed);
}

#ifdef HAVE_USERFAULTFD

/* Faults seen but not yet answered (a copy refused with EAGAIN while a renewal's mremap is
 * being reported, or out of memory): retried every millisecond. One per faulting thread at
 * most, so a small table. */
#define PENDING_MAX 64
#define READ_BATCH 16

/* True when the fault at page is settled: answered, already answered by someone else, or no
 * longer anybody's (the process is exiting). */
static bool answer(ecb_fault_t *f, uintptr_t page)
{
    f->fill(f->arg, page, f->page);
    struct uffdio_copy copy = {.dst = page, .src = (uintptr_t)f->page, .len = ECB_FAULT_PAGE};
    /* Counted before the copy wakes the thread that faulted: it may look at the count next. */
    atomic_fetch_add_explicit(&f->faults, 1, memory_order_relaxed);
    if (ioctl(f->uffd, UFFDIO_COPY, &copy) == 0)
        return true;
    atomic_fetch_sub_explicit(&f->faults, 1, memory_order_relaxed);
    int err = copy.copy < 0 ? (int)-copy.copy : errno;
    if (err == EEXIST || err == ENOENT) {
        /* Present already (a populate or another fault's answer), or no longer registered:
         * the thread retries its access. */
        struct uffdio_range range = {.start = page, .len = ECB_FAULT_PAGE};
        (void)ioctl(f->uffd, UFFDIO_WAKE, &range);
        return true;
    }
    if (err == ESRCH)
        return true;
    if (err != EAGAIN)
        count_error(f, err);
    return false;
}

static void *handler_main(void *arg)
{
    ecb_fault_t *f = arg;
    pthread_setname_np(pthread_self(), "isapid-ecbfault");
    uintptr_t pending[PENDING_MAX];
    unsigned n_pending = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = f->uffd, .events = POLLIN}, {.fd = f->stop_fd, .events = POLLIN}};
        if (poll(fds, 2, n_pending ? 1 : -1) < 0 && errno != EINTR) {
            count_error(f, errno);
            struct timespec pause = {0, 1000000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (fds[1].revents)
            break;
        /* Always read: reading an event is its answer, for all but page faults (a renewal's
         * UFFD_EVENT_REMAP: the mremap waits until it is read, and until then copies fail with
         * EAGAIN). A fault that finds the table full is woken unanswered: its thread faults
         * again, and is seen again. */
        struct uffd_msg msgs[READ_BATCH];
        ssize_t got = read(f->uffd, msgs, sizeof msgs);
        for (ssize_t i = 0; got > 0 && i < got / (ssize_t)sizeof msgs[0]; i++) {
            if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uintptr_t page = (uintptr_t)msgs[i].arg.pagefault.address & ~(uintptr_t)(ECB_FAULT_PAGE - 1);
            if (n_pending < PENDING_MAX) {
                pending[n_pending++] = page;
            } else {
                struct uffdio_range range = {.start = page, .len = ECB_FAULT_PAGE};
                (void)ioctl(f->uffd, UFFDIO_WAKE, &range);
            }
        }
        unsigned kept = 0;
        for (unsigned i = 0; i < n_pending; i++)
            if (!answer(f, pending[i]))
                pending[kept++] = pending[i];
        n_pending = kept;
    }
    return NULL;
}

/* Remap events always; moves where the kernel has them (asking for a feature it does not know
 * fails the handshake, which cannot be repeated on the same descriptor: a second one then). */
static const char *open_uffd(int *out, bool *can_move)
{
    if (sysconf(_SC_PAGESIZE) != ECB_FAULT_PAGE)
        return "pages are not 4 KiB";
    const uint64_t wanted[2] = {UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_MOVE, UFFD_FEATURE_EVENT_REMAP};
    for (unsigned i = 0; i < 2; i++) {
        int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if (fd < 0)
            return errno == ENOSYS ? "the kernel has no userfaultfd"
                   : errno == EPERM ? "userfaultfd is not permitted here (seccomp or a security module)"
                   : errno == EINVAL ? "the kernel is older than 5.11 (no user-mode-only userfaultfd)"
                                     : "userfaultfd cannot be opened";
        struct uffdio_api api = {.api = UFFD_API, .features = wanted[i]};
        if (ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & wanted[i]) == wanted[i]) {
            *out = fd;
            *can_move = (wanted[i] & UFFD_FEATURE_MOVE) != 0;
            return NULL;
        }
        close(fd);
    }
    return "the kernel's userfaultfd has no remap events";
}

ecb_fault_t *ecb_fault_start(void *base, size_t size, ecb_fault_fill_fn *fill, void *arg,
                             const char **why)
{
    int uffd = -1;
    bool can_move = false;
    *why = open_uffd(&uffd, &can_move);
    if (*why)
        return NULL;
    ecb_fault_t *f = NULL;
    int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd < 0 || posix_memalign((void **)&f, ECB_FAULT_PAGE, sizeof *f) != 0) {
        *why = "out of memory or descriptors at start-up";
        goto fail;
    }
    memset(f, 0, sizeof *f);
    f->uffd = uffd;
    f->stop_fd = stop_fd;
    f->fill = fill;
    f->arg = arg;
    /* Started before the range is registered: no fault may come before there is an answer.
     * Signals go to other threads: the handler is never interrupted for a handler's sake. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, handler_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        *why = "the handler thread cannot be started";
        goto fail;
    }
    struct uffdio_register reg = {.range = {.start = (uintptr_t)base, .len = size},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    const uint64_t needed = (uint64_t)1 << _UFFDIO_COPY | (uint64_t)1 << _UFFDIO_WAKE;
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 || (reg.ioctls & needed) != needed) {
        *why = "the range cannot be registered with userfaultfd";
        ecb_fault_stop(f);
        return NULL;
    }
    f->can_move = can_move && (reg.ioctls & (uint64_t)1 << _UFFDIO_MOVE);
    return f;
fail:
    free(f);
    if (stop_fd >= 0)
        close(stop_fd);
    close(uffd);
    return NULL;
}

void ecb_fault_stop(ecb_fault_t *f)
{
    if (!f)
        return;
    uint64_t one = 1;
    ssize_t w = write(f->stop_fd, &one, sizeof one);
    (void)w;
    pthread_join(f->thread, NULL);
    close(f->uffd); /* wakes any thread still waiting: it then sees a zero page */
    close(f->stop_fd);
    free(f);
}

/* What fresh memory is copied from: read only, so it stays the kernel's zero page. */
static const unsigned char zeros[64 * 1024];

bool ecb_fault_populate(ecb_fault_t *f, void *p, size_t len)
{
    /* Pages of zeros copied in, not the zero page mapped (UFFDIO_ZEROPAGE): the first write to a
     * zero page would fault again and flush it from every CPU's TLB. */
    uintptr_t at = (uintptr_t)p, end = at + len;
    while (at < end) {
        size_t n = end - at < sizeof zeros ? end - at : sizeof zeros;
        struct uffdio_copy c = {.dst = at, .src = (uintptr_t)zeros, .len = n};
        if (ioctl(f->uffd, UFFDIO_COPY, &c) == 0) {
            at += n;
            continue;
        }
        if (c.copy > 0) { /* some done, then a page present already */
            at += (uintptr_t)c.copy;
            continue;
        }
        int err = c.copy < 0 ? (int)-c.copy : errno;
        if (err == EEXIST) { /* this page is present (a stale read got it through the handler) */
            at += ECB_FAULT_PAGE;
            continue;
        }
        if (err != EAGAIN) /* EAGAIN: a renewal is being reported; the handler fills instead */
            count_error(f, err);
        return false;
    }
    return true;
}

bool ecb_fault_can_move(const ecb_fault_t *f) { return f->can_move; }

size_t ecb_fault_move(ecb_fault_t *f, void *to, void *from, size_t len)
{
    if (!f->can_move)
        return 0;
    /* Without ALLOW_SRC_HOLES: a missing page of `from` stops the move there, so what was
     * moved is one prefix and the caller fills the rest of `to` itself. */
    struct uffdio_move m = {.dst = (uintptr_t)to, .src = (uintptr_t)from, .len = len};
    if (ioctl(f->uffd, UFFDIO_MOVE, &m) == 0)
        return len;
    /* ENOENT (a page of `from` given back already), EEXIST (a stale read filled a page of
     * `to`), EBUSY (a page shared with another process since a fork), EAGAIN (a renewal being
     * reported): all expected, none worth a count. */
    return m.move > 0 ? (size_t)m.move : 0;
}

bool ecb_fault_renew(ecb_fault_t *f, void *at, size_t len)
{
    /* The spare between two guard pages of its own, so that it merges with no neighbour where
     * it is made: moved unfaulted, it then merges with the arena's mapping where it lands, and
     * the range stays one mapping. Made like the arena's committed memory: the same flags. */
    char *spare = mmap(NULL, len + 2 * ECB_FAULT_PAGE, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (spare == MAP_FAILED)
        return false;
    char *mid = spare + ECB_FAULT_PAGE;
    struct uffdio_register reg = {.range = {.start = (uintptr_t)mid, .len = len},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    bool ok = mprotect(mid, len, PROT_READ | PROT_WRITE) == 0 &&
              ioctl(f->uffd, UFFDIO_REGISTER, &reg) == 0 &&
              mremap(mid, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, at) != MAP_FAILED;
    int err = errno;
    if (ok) { /* the middle is a hole now, maybe someone else's already: the guards alone */
        munmap(spare, ECB_FAULT_PAGE);
        munmap(mid + len, ECB_FAULT_PAGE);
    } else {
        munmap(spare, len + 2 * ECB_FAULT_PAGE);
    }
    errno = err;
    return ok;
}

#else /* no userfaultfd in this build */

ecb_fault_t *ecb_fault_start(void *base, size_t size, ecb_fault_fill_fn *fill, void *arg,
                             const char **why)
{
    (void)base, (void)size, (void)fill, (void)arg;
    *why = "built without userfaultfd";
    return NULL;
}
void ecb_fault_stop(ecb_fault_t *f) { (void)f; }
bool ecb_fault_populate(ecb_fault_t *f, void *p, size_t len) { return (void)f, (void)p, (void)len, false; }
bool ecb_fault_renew(ecb_fault_t *f, void *at, size_t len) { return (void)f, (void)at, (void)len, false; }
bool ecb_fault_can_move(const ecb_fault_t *f) { return (void)f, false; }
size_t ecb_fault_move(ecb_fault_t *f, void *to, void *from, size_t len) { return (void)f, (void)to, (void)from, (void)len, 0; }

#endif
