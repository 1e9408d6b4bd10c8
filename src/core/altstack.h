/* Alternate signal stacks for every thread in the process, so that a fatal signal caused by a
 * stack overflow can still run the crash handler (src/core/crash.c), which the kernel delivers on
 * the alternate stack (SA_ONSTACK).
 *
 * Which threads get one:
 * - the main thread: altstack_ensure() from crash_handlers_install;
 * - every thread started through pthread_create: the server's own (loops, workers, the pool's
 *   monitor, hand-off helpers, the watchdog) and those extensions start. The server executable
 *   defines pthread_create (it is linked with exported symbols, and extensions resolve against
 *   it before libc), forwarding to the next definition (the sanitizer runtime's interceptor
 *   when there is one, else libc's) with a start routine that installs the stack first and
 *   removes it when the thread ends (returns, pthread_exit, cancellation).
 * Not covered: threads libc starts internally (SIGEV_THREAD timers, ...), and threads made with
 * clone() directly.
 *
 * A thread that already has an alternate stack when it starts (a sanitizer runtime installs its
 * own) keeps it: that stack is its owner's to free, and it serves the crash handler as well. */
#ifndef ISAPID_ALTSTACK_H
#define ISAPID_ALTSTACK_H

/* Gives the calling thread an alternate signal stack unless it has one. The stack is never
 * freed: for the main thread, which lives as long as the process. */
void altstack_ensure(void);

/* The code address from which the calling thread was started (the return address of its
 * pthread_create call), NULL for the main thread and for threads not started through the
 * wrapper. Async-signal-safe (a thread-local read): the crash handler names its module. */
const void *altstack_thread_creator(void);

#endif
