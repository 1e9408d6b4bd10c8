/* Missing pages of an ECB arena's range answered by the arena (userfaultfd, MISSING mode).
 *
 * The arena gives memory back with MADV_DONTNEED or by moving its pages elsewhere in the
 * range (ecb_fault_move); without this, the next read of such a page sees zeros. Here the
 * whole range is registered with a userfaultfd (UFFD_USER_MODE_ONLY: no
 * privilege needed from Linux 5.11) and one handler thread answers each user-mode fault on a
 * missing page with UFFDIO_COPY of a page the arena builds for that address (its fill
 * function). A fault from kernel mode (a system call reading the page) is not delivered: the
 * call fails with EFAULT.
 *
 * The handler never blocks on anything but the descriptor (it takes no lock, allocates
 * nothing, logs nothing: the thread that faulted may hold any of those); errors are counted
 * for the arena to report. It runs until ecb_fault_stop, which only tests call: in the server
 * it lives as long as the process, so no fault is left unanswered at exit.
 *
 * Pages are 4 KiB (ecb_fault_start refuses other sizes). */
#ifndef ISAPID_ECBFAULT_H
#define ISAPID_ECBFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECB_FAULT_PAGE 4096u

typedef struct ecb_fault ecb_fault_t;

/* Writes the content of the page at page_addr into page. Called on the handler thread only;
 * must not block, lock or allocate. */
typedef void ecb_fault_fill_fn(void *arg, uintptr_t page_addr, unsigned char *page);

/* Registers [base, base + size) (one anonymous private mapping, any protection) after starting
 * the handler. NULL when userfaultfd cannot be used here, with *why saying why. */
ecb_fault_t *ecb_fault_start(void *base, size_t size, ecb_fault_fill_fn *fill, void *arg,
                             const char **why);
/* Stops the handler and closes the descriptor (the range then reads zeros where missing). */
void ecb_fault_stop(ecb_fault_t *f);

/* Fills every missing page of [p, p + len) with zeros, one ioctl per 64 KiB (pages already
 * present are left), so that first use of fresh memory costs no round trip to the handler, nor
 * a page fault. False if some page could not be filled (it will then fault through the
 * handler, which is only slower). */
bool ecb_fault_populate(ecb_fault_t *f, void *p, size_t len);

/* Replaces [at, at + len) with a fresh registered mapping, atomically for other threads (a
 * registered spare moved over it with mremap: no moment where a read sees an unregistered
 * page). Frees the old pages and page tables. False (errno) if the old mapping stays. */
bool ecb_fault_renew(ecb_fault_t *f, void *at, size_t len);

/* Whether ecb_fault_move can move pages here (UFFDIO_MOVE: Linux 6.8 and later). */
bool ecb_fault_can_move(const ecb_fault_t *f);
/* Moves the pages of [from, from + len) to [to, to + len), which must be missing (UFFDIO_MOVE:
 * page table entries change places; no page is freed, allocated or zeroed, and no mapping is
 * split). `from` is missing afterwards: a read there is answered by the handler. Returns the
 * bytes moved from the start: len when all were, less when a page of `from` was missing, a page
 * of `to` present, a page shared with another process, or moves are not available (0). The
 * caller fills the rest of `to` and gives back the rest of `from`. */
size_t ecb_fault_move(ecb_fault_t *f, void *to, void *from, size_t len);

typedef struct ecb_fault_stats {
    uint64_t faults;      /* pages answered by the handler */
    uint64_t errors;      /* failed answers (retried) and failed populates */
    int last_error;       /* errno of the last of those */
} ecb_fault_stats_t;
void ecb_fault_stats(const ecb_fault_t *f, ecb_fault_stats_t *out);

#endif
