/* Alternate signal stacks, per thread (altstack.h), and the pthread_create that installs them.
 *
 * Ownership: a stack installed by thread_start belongs to that thread and is removed and
 * unmapped by the thread itself as it ends (a cleanup handler, so pthread_exit and
 * cancellation run it too); the main thread's lives as long as the process. A stack found
 * already in place belongs to whoever installed it and is never touched here. */
#define _GNU_SOURCE /* RTLD_NEXT, MAP_STACK */
#include "altstack.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Room for the crash handler (a 1 KiB line buffer, dladdr, the write) with a wide margin for
 * sanitizer-instrumented frames; pages are committed only when touched. One guard page below. */
#define ALTSTACK_SIZE (64 * 1024)

static __thread const void *thread_creator;

const void *altstack_thread_creator(void)
{
    return thread_creator;
}

static size_t page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

/* The mapping (guard page included) now installed for this thread, or NULL when the thread
 * already had a stack, or none could be made (the thread then runs without: a stack overflow
 * on it ends the process unreported, as before). */
static void *altstack_install(void)
{
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return NULL; /* someone else's, e.g. a sanitizer runtime's */
    size_t guard = page_size();
    void *map = mmap(NULL, guard + ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    (void)mprotect(map, guard, PROT_NONE); /* an overflow of the handler itself faults here */
    stack_t ss = {.ss_sp = (char *)map + guard, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(map, guard + ALTSTACK_SIZE);
        return NULL;
    }
    return map;
}

void altstack_ensure(void)
{
    (void)altstack_install();
}

/* Cleanup handler of thread_start: the thread's own stack, removed before it is unmapped (a
 * signal arriving in between runs on the thread's ordinary stack). Only when the installed
 * stack is still ours: the start routine may have replaced it. */
static void altstack_remove(void *map)
{
    if (map == NULL)
        return;
    size_t guard = page_size();
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || cur.ss_sp != (char *)map + guard)
        return; /* replaced by the thread's own code: leave both alone (ours leaks) */
    stack_t off = {.ss_flags = SS_DISABLE};
    if (sigaltstack(&off, NULL) == 0)
        munmap(map, guard + ALTSTACK_SIZE);
}

typedef void *(*start_fn)(void *);
typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, start_fn, void *);

/* What a new thread needs to begin: malloc'ed by pthread_create, freed by the thread. */
typedef struct thread_start_args {
    start_fn fn;
    void *arg;
    const void *creator;
} thread_start_args_t;

static void *thread_start(void *p)
{
    thread_start_args_t a = *(thread_start_args_t *)p;
    free(p);
    thread_creator = a.creator;
    void *map = altstack_install();
    void *ret;
    pthread_cleanup_push(altstack_remove, map);
    ret = a.fn(a.arg);
    pthread_cleanup_pop(1);
    return ret;
}

/* A sanitizer runtime linked statically into the executable defines its interceptor here
 * under this name (pthread_create itself being its weak alias, which the definition below
 * overrides); RTLD_NEXT would skip it and the runtime would not know the thread. With a shared
 * runtime (gcc's libasan, libtsan) the names resolve to the shared library and both ways lead
 * to the same function. */
extern int __interceptor_pthread_create(pthread_t *, const pthread_attr_t *, start_fn, void *)
    __attribute__((weak));

static pthread_create_fn next_pthread_create(void)
{
    static _Atomic(pthread_create_fn) next;
    pthread_create_fn f = atomic_load_explicit(&next, memory_order_acquire);
    if (f == NULL) {
        f = __interceptor_pthread_create;
        if (f == NULL) {
            void *sym = dlsym(RTLD_NEXT, "pthread_create");
            f = *(pthread_create_fn *)&sym; /* dlsym's object pointer is a function pointer */
        }
        atomic_store_explicit(&next, f, memory_order_release);
    }
    return f;
}

/* Every pthread_create in the process but libc's own: the server's and the extensions'. */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, start_fn fn, void *arg)
{
    pthread_create_fn next = next_pthread_create();
    if (next == NULL)
        return EAGAIN;
    thread_start_args_t *a = malloc(sizeof *a);
    if (a == NULL)
        return EAGAIN;
    a->fn = fn;
    a->arg = arg;
    a->creator = __builtin_extract_return_addr(__builtin_return_address(0));
    int rc = next(thread, attr, thread_start, a);
    if (rc != 0)
        free(a);
    return rc;
}
