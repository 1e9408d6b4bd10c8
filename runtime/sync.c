/* libisapi: Win32 kernel objects (threads, events, semaphores, mutexes), the handle registry,
 * waits, CloseHandle and the small thread calls (Sleep, thread and process ids).
 *
 * One lock for all kernel objects. `objects_lock` guards the registry, every object's state
 * (an event's flag, a semaphore's count, a mutex's owner, a thread's end) and the queue of
 * pending waits. A wait first tries to take its objects; if it cannot, it joins the queue
 * (FIFO) and sleeps on the one condition variable, `objects_changed`. Waits are satisfied by
 * the call that signals, as Windows's kernel does: SetEvent, ReleaseSemaphore, ReleaseMutex and
 * a thread's end walk the queue in order and give the objects to each wait that can now
 * complete (satisfy_pending_waits), then broadcast. So an auto-reset event set twice while two
 * threads wait releases both, a semaphore released by n releases n waiters, PulseEvent
 * releases the threads waiting at that moment, and "wait all" acquires its objects atomically,
 * since every check and acquisition happens under the one lock. The cost: each signal wakes
 * every waiting thread of the process to look at its own wait, which is fine for the handful of
 * waiters an extension has, and the lock is shared by unrelated objects. CRITICAL_SECTION and
 * SRWLOCK do not use it: they are pthread locks in place (runtime/locks.c).
 *
 * Ownership. An object carries a reference count: one for its open handles, one for a running
 * thread (its own object), one for each wait in progress. A HANDLE is the object's address, so
 * every handle to a named object (each Create* or Open* of its name) is the same value, and
 * `handles` counts them. CloseHandle drops one; the last unregisters the object (later calls
 * with it fail with ERROR_INVALID_HANDLE, and its name is free again) and drops the handles'
 * reference; the last reference frees the object. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <windows.h>


enum object_kind { OBJECT_THREAD = 1, OBJECT_EVENT, OBJECT_SEMAPHORE, OBJECT_MUTEX };

struct kernel_object {
    enum object_kind kind;
    unsigned refs;                     /* guarded by objects_lock, as is everything below */
    struct kernel_object *next_in_bucket; /* registry chain, while a handle is open */
    BOOL registered;
    DWORD handles; /* open handles: Create and Open calls not yet closed */
    char *name;    /* an event's, semaphore's or mutex's name without Global\ or Local\; or NULL */
    union {
        struct {
            BOOL manual_reset;
            BOOL signalled;
        } event;
        struct {
            LONG count;
            LONG maximum;
        } semaphore;
        struct {
            DWORD owner; /* thread id, 0 when free */
            DWORD recursion;
            BOOL abandoned; /* its owner ended while holding it; the next acquirer is told */
        } mutex;
        struct {
            DWORD (*start)(void *); /* CreateThread's routine, or NULL for _beginthreadex's */
            unsigned (*crt_start)(void *);
            void *arg;
            DWORD id;
            DWORD exit_code; /* STILL_ACTIVE while it runs */
            BOOL ended;
            DWORD suspend_count; /* CREATE_SUSPENDED: the thread waits until ResumeThread */
        } thread;
    };
};

#define REGISTRY_BUCKETS 256
static struct kernel_object *registry[REGISTRY_BUCKETS];
static pthread_mutex_t objects_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t objects_changed;
static pthread_once_t objects_once = PTHREAD_ONCE_INIT;

/* The object the calling thread runs, when CreateThread/_beginthreadex started it.
 * initial-exec: the slot lives in each thread's static TLS block (glibc keeps room there for
 * libraries loaded later, as this one is, with the first extension that needs it). The default
 * model would give every thread a block malloc'd on first use, which glibc frees from whichever
 * thread next trims its stack cache, with no ordering a race detector can see (TSan reported
 * thread_ended's write against that free), and whose allocation failure aborts the process. */
static __thread
    __attribute__((tls_model("initial-exec"))) struct kernel_object *current_thread_object;

static void init_objects(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&objects_changed, &attr);
    pthread_condattr_destroy(&attr);
}

static void lock_objects(void)
{
    pthread_once(&objects_once, init_objects);
    pthread_mutex_lock(&objects_lock);
}

static void unlock_objects(void)
{
    pthread_mutex_unlock(&objects_lock);
}

static size_t bucket_of(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    return (size_t)((v >> 4) ^ (v >> 12)) % REGISTRY_BUCKETS;
}

/* Under objects_lock. */
static void register_object(struct kernel_object *o)
{
    size_t b = bucket_of(o);
    o->next_in_bucket = registry[b];
    registry[b] = o;
    o->registered = TRUE;
}

/* Under objects_lock. */
static void unregister_object(struct kernel_object *o)
{
    struct kernel_object **link = &registry[bucket_of(o)];
    while (*link != NULL && *link != o)
        link = &(*link)->next_in_bucket;
    if (*link == o)
        *link = o->next_in_bucket;
    o->registered = FALSE;
}

/* Under objects_lock: the live object h names, or NULL. Never dereferences h itself. */
static struct kernel_object *find_object(HANDLE h)
{
    for (struct kernel_object *o = registry[bucket_of(h)]; o != NULL; o = o->next_in_bucket)
        if ((void *)o == h)
            return o;
    return NULL;
}

/* Under objects_lock. */
static void release_object(struct kernel_object *o)
{
    if (--o->refs == 0) {
        free(o->name);
        free(o);
    }
}

/* Windows's namespaces of a session: here one process, so "Global\x", "Local\x" and "x" are
 * the same name. */
static const char *object_name(LPCSTR name)
{
    if (name == NULL || name[0] == '\0')
        return NULL;
    if (strncmp(name, "Global\\", 7) == 0)
        return name + 7;
    if (strncmp(name, "Local\\", 6) == 0)
        return name + 6;
    return name;
}

/* Under objects_lock: the live object of that name, or NULL. */
static struct kernel_object *find_named(const char *name)
{
    for (size_t b = 0; b < REGISTRY_BUCKETS; b++)
        for (struct kernel_object *o = registry[b]; o != NULL; o = o->next_in_bucket)
            if (o->name != NULL && strcmp(o->name, name) == 0)
                return o;
    return NULL;
}

/* Under objects_lock: another handle to the named object o if it is of that kind (last error
 * ERROR_ALREADY_EXISTS, as a Create* call of an existing name gives), else NULL with
 * ERROR_INVALID_HANDLE, as Windows answers for a name of another kind. */
static HANDLE open_existing(struct kernel_object *o, enum object_kind kind)
{
    if (o->kind != kind) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    o->handles++;
    SetLastError(ERROR_ALREADY_EXISTS);
    return (HANDLE)o;
}

/* A new object from `init`, or, when `name` names a live object, another handle to it (its
 * state is left alone, as Windows ignores the Create* arguments then). */
static HANDLE new_object(enum object_kind kind, struct kernel_object *init, LPCSTR name)
{
    const char *wanted = object_name(name);
    if (wanted != NULL) {
        lock_objects();
        struct kernel_object *existing = find_named(wanted);
        HANDLE h = existing != NULL ? open_existing(existing, kind) : NULL;
        unlock_objects();
        if (existing != NULL)
            return h;
    }
    struct kernel_object *o = malloc(sizeof *o);
    char *copy = wanted != NULL ? strdup(wanted) : NULL;
    if (o == NULL || (wanted != NULL && copy == NULL)) {
        free(o);
        free(copy);
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    *o = *init;
    o->kind = kind;
    o->refs = 1;
    o->handles = 1;
    o->name = copy;
    lock_objects();
    /* Another thread may have created the name meanwhile: the first one wins. */
    struct kernel_object *raced = copy != NULL ? find_named(copy) : NULL;
    HANDLE h = raced != NULL ? open_existing(raced, kind) : NULL;
    if (raced == NULL)
        register_object(o);
    unlock_objects();
    if (raced != NULL) {
        free(copy);
        free(o);
        return h;
    }
    SetLastError(ERROR_SUCCESS);
    return (HANDLE)o;
}

/* OpenEvent, OpenSemaphore, OpenMutex: ERROR_FILE_NOT_FOUND when no object has the name. */
static HANDLE open_named(enum object_kind kind, LPCSTR name)
{
    const char *wanted = object_name(name);
    if (wanted == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    lock_objects();
    struct kernel_object *o = find_named(wanted);
    HANDLE h = o != NULL ? open_existing(o, kind) : NULL;
    unlock_objects();
    if (o == NULL)
        SetLastError(ERROR_FILE_NOT_FOUND);
    else if (h != NULL)
        SetLastError(ERROR_SUCCESS);
    return h;
}

__attribute__((visibility("default"))) int isapi_handle_to_fd(HANDLE h)
{
    intptr_t v = (intptr_t)h;
    if (v <= 0 || v > INT_MAX)
        return -1;
    lock_objects();
    BOOL is_object = find_object(h) != NULL;
    unlock_objects();
    return is_object ? -1 : (int)v;
}

__attribute__((visibility("default"))) DWORD WINAPI GetCurrentThreadId(void)
{
    return (DWORD)syscall(SYS_gettid);
}

__attribute__((visibility("default"))) DWORD WINAPI GetCurrentProcessId(void)
{
    return (DWORD)getpid();
}

/* ---- CloseHandle ----------------------------------------------------------------------- */

__attribute__((visibility("default"))) BOOL WINAPI CloseHandle(HANDLE h)
{
    if (h == NULL || h == INVALID_HANDLE_VALUE) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    lock_objects();
    struct kernel_object *o = find_object(h);
    if (o != NULL) {
        if (--o->handles == 0) {
            unregister_object(o);
            release_object(o);
        }
        unlock_objects();
        return TRUE;
    }
    unlock_objects();
    int fd = isapi_handle_to_fd(h);
    if (fd < 0) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    if (close(fd) != 0 && errno != EINTR) { /* after EINTR the descriptor is closed (Linux) */
        isapi_set_last_error_from_errno(errno);
        return FALSE;
    }
    return TRUE;
}

/* ---- Waits ------------------------------------------------------------------------------ */

/* Under objects_lock: whether a wait by thread `self` on o would be satisfied now. */
static BOOL is_signalled(const struct kernel_object *o, DWORD self)
{
    switch (o->kind) {
    case OBJECT_EVENT:
        return o->event.signalled;
    case OBJECT_SEMAPHORE:
        return o->semaphore.count > 0;
    case OBJECT_MUTEX:
        return o->mutex.owner == 0 || o->mutex.owner == self;
    case OBJECT_THREAD:
        return o->thread.ended;
    }
    return FALSE;
}

/* Under objects_lock, o signalled: take it as a satisfied wait does. TRUE when it was an
 * abandoned mutex. */
static BOOL acquire(struct kernel_object *o, DWORD self)
{
    switch (o->kind) {
    case OBJECT_EVENT:
        if (!o->event.manual_reset)
            o->event.signalled = FALSE;
        break;
    case OBJECT_SEMAPHORE:
        o->semaphore.count--;
        break;
    case OBJECT_MUTEX: {
        o->mutex.owner = self;
        o->mutex.recursion++;
        BOOL abandoned = o->mutex.abandoned;
        o->mutex.abandoned = FALSE;
        return abandoned;
    }
    case OBJECT_THREAD:
        break;
    }
    return FALSE;
}

/* Under objects_lock: takes the objects if the wait can complete now, and sets *result
 * (WAIT_OBJECT_0 + i, the lowest signalled index for "any"; WAIT_ABANDONED_0 + i). */
static BOOL try_satisfy(struct kernel_object *const *objects, DWORD count, BOOL wait_all, DWORD self,
                        DWORD *result)
{
    if (wait_all) {
        for (DWORD i = 0; i < count; i++)
            if (!is_signalled(objects[i], self))
                return FALSE;
        /* WAIT_ABANDONED_0 + the first abandoned mutex's index, if any. */
        *result = WAIT_OBJECT_0;
        for (DWORD i = 0; i < count; i++)
            if (acquire(objects[i], self) && *result == WAIT_OBJECT_0)
                *result = WAIT_ABANDONED_0 + i;
        return TRUE;
    }
    for (DWORD i = 0; i < count; i++)
        if (is_signalled(objects[i], self)) {
            *result = (acquire(objects[i], self) ? WAIT_ABANDONED_0 : WAIT_OBJECT_0) + i;
            return TRUE;
        }
    return FALSE;
}

/* A wait that could not complete at once, queued until a signal satisfies it or its deadline
 * passes. It lives on the waiting thread's stack; the thread unlinks it before returning. */
struct pending_wait {
    struct kernel_object **objects;
    DWORD count;
    BOOL wait_all;
    DWORD self;
    BOOL satisfied; /* set, with result, by satisfy_pending_waits */
    DWORD result;
    struct pending_wait *next;
};
static struct pending_wait *pending_waits; /* oldest first; guarded by objects_lock */

/* Under objects_lock, after an object became signalled: satisfies the queued waits that can
 * complete, oldest first (an auto-reset event or a semaphore's last count goes to the first),
 * and wakes the waiting threads. */
static void satisfy_pending_waits(void)
{
    BOOL any = FALSE;
    for (struct pending_wait *w = pending_waits; w != NULL; w = w->next)
        if (!w->satisfied && try_satisfy(w->objects, w->count, w->wait_all, w->self, &w->result))
            w->satisfied = any = TRUE;
    if (any)
        pthread_cond_broadcast(&objects_changed);
}

static void deadline_after(struct timespec *deadline, DWORD ms)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

__attribute__((visibility("default"))) DWORD WINAPI WaitForMultipleObjects(DWORD count, const HANDLE *handles,
                                                                           BOOL wait_all, DWORD ms)
{
    if (count == 0 || count > MAXIMUM_WAIT_OBJECTS || handles == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return WAIT_FAILED;
    }
    struct kernel_object *objects[MAXIMUM_WAIT_OBJECTS];
    DWORD self = GetCurrentThreadId();
    lock_objects();
    for (DWORD i = 0; i < count; i++) {
        objects[i] = find_object(handles[i]);
        if (objects[i] == NULL) {
            unlock_objects();
            SetLastError(ERROR_INVALID_HANDLE);
            return WAIT_FAILED;
        }
        /* Windows refuses the same object twice in a wait-all. */
        for (DWORD j = 0; wait_all && j < i; j++)
            if (objects[j] == objects[i]) {
                unlock_objects();
                SetLastError(ERROR_INVALID_PARAMETER);
                return WAIT_FAILED;
            }
    }
    for (DWORD i = 0; i < count; i++)
        objects[i]->refs++; /* held for the wait: CloseHandle meanwhile frees nothing under us */

    DWORD result = WAIT_TIMEOUT;
    if (!try_satisfy(objects, count, wait_all, self, &result) && ms != 0) {
        struct pending_wait wait = {.objects = objects, .count = count, .wait_all = wait_all, .self = self};
        struct pending_wait **link = &pending_waits;
        while (*link != NULL)
            link = &(*link)->next;
        *link = &wait;
        struct timespec deadline;
        if (ms != INFINITE)
            deadline_after(&deadline, ms);
        while (!wait.satisfied) {
            int rc = ms == INFINITE ? pthread_cond_wait(&objects_changed, &objects_lock)
                                    : pthread_cond_timedwait(&objects_changed, &objects_lock, &deadline);
            if (rc == ETIMEDOUT)
                break; /* satisfied meanwhile or not: the flag, read under the lock, tells */
        }
        for (link = &pending_waits; *link != &wait; link = &(*link)->next)
            ;
        *link = wait.next;
        if (wait.satisfied)
            result = wait.result;
    }
    for (DWORD i = 0; i < count; i++)
        release_object(objects[i]);
    unlock_objects();
    return result;
}

__attribute__((visibility("default"))) DWORD WINAPI WaitForMultipleObjectsEx(DWORD count, const HANDLE *handles,
                                                                             BOOL wait_all, DWORD ms, BOOL alertable)
{
    return WaitForMultipleObjects(count, handles, wait_all, ms);
}

__attribute__((visibility("default"))) DWORD WINAPI WaitForSingleObject(HANDLE h, DWORD ms)
{
    return WaitForMultipleObjects(1, &h, FALSE, ms);
}

__attribute__((visibility("default"))) DWORD WINAPI WaitForSingleObjectEx(HANDLE h, DWORD ms, BOOL alertable)
{
    return WaitForMultipleObjects(1, &h, FALSE, ms);
}

/* ---- Events, semaphores, mutexes ------------------------------------------------------- */

/* Under objects_lock: h as an object of that kind, or NULL with ERROR_INVALID_HANDLE set. */
static struct kernel_object *find_kind(HANDLE h, enum object_kind kind)
{
    struct kernel_object *o = find_object(h);
    if (o == NULL || o->kind != kind) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    return o;
}

/* A name is shared within the process (there is no other process to share it with). */
__attribute__((visibility("default"))) HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES sa, BOOL manual_reset,
                                                                  BOOL initial_state, LPCSTR name)
{
    struct kernel_object init = {.event = {.manual_reset = manual_reset, .signalled = initial_state != FALSE}};
    return new_object(OBJECT_EVENT, &init, name);
}

/* The access and inheritance arguments mean nothing here: every handle has all access. */
__attribute__((visibility("default"))) HANDLE WINAPI OpenEventA(DWORD access, BOOL inherit, LPCSTR name)
{
    return open_named(OBJECT_EVENT, name);
}

__attribute__((visibility("default"))) HANDLE WINAPI OpenSemaphoreA(DWORD access, BOOL inherit, LPCSTR name)
{
    return open_named(OBJECT_SEMAPHORE, name);
}

__attribute__((visibility("default"))) HANDLE WINAPI OpenMutexA(DWORD access, BOOL inherit, LPCSTR name)
{
    return open_named(OBJECT_MUTEX, name);
}

static BOOL set_event_state(HANDLE h, BOOL signalled, BOOL pulse)
{
    lock_objects();
    struct kernel_object *o = find_kind(h, OBJECT_EVENT);
    if (o == NULL) {
        unlock_objects();
        return FALSE;
    }
    o->event.signalled = signalled;
    if (signalled)
        satisfy_pending_waits();
    if (pulse) /* PulseEvent: the waits it could satisfy are; then it is reset */
        o->event.signalled = FALSE;
    unlock_objects();
    return TRUE;
}

__attribute__((visibility("default"))) BOOL WINAPI SetEvent(HANDLE h)
{
    return set_event_state(h, TRUE, FALSE);
}

__attribute__((visibility("default"))) BOOL WINAPI ResetEvent(HANDLE h)
{
    return set_event_state(h, FALSE, FALSE);
}

__attribute__((visibility("default"))) BOOL WINAPI PulseEvent(HANDLE h)
{
    return set_event_state(h, TRUE, TRUE);
}

__attribute__((visibility("default"))) HANDLE WINAPI CreateSemaphoreA(LPSECURITY_ATTRIBUTES sa, LONG initial,
                                                                      LONG maximum, LPCSTR name)
{
    if (maximum <= 0 || initial < 0 || initial > maximum) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    struct kernel_object init = {.semaphore = {.count = initial, .maximum = maximum}};
    return new_object(OBJECT_SEMAPHORE, &init, name);
}

__attribute__((visibility("default"))) BOOL WINAPI ReleaseSemaphore(HANDLE h, LONG release_count, LPLONG previous)
{
    if (release_count <= 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    lock_objects();
    struct kernel_object *o = find_kind(h, OBJECT_SEMAPHORE);
    if (o == NULL) {
        unlock_objects();
        return FALSE;
    }
    if (release_count > o->semaphore.maximum - o->semaphore.count) {
        unlock_objects();
        SetLastError(ERROR_TOO_MANY_POSTS);
        return FALSE;
    }
    if (previous != NULL)
        *previous = o->semaphore.count;
    o->semaphore.count += release_count;
    satisfy_pending_waits();
    unlock_objects();
    return TRUE;
}

__attribute__((visibility("default"))) HANDLE WINAPI CreateMutexA(LPSECURITY_ATTRIBUTES sa, BOOL initial_owner,
                                                                  LPCSTR name)
{
    struct kernel_object init = {.mutex = {.owner = initial_owner ? GetCurrentThreadId() : 0,
                                           .recursion = initial_owner ? 1 : 0}};
    return new_object(OBJECT_MUTEX, &init, name);
}

__attribute__((visibility("default"))) BOOL WINAPI ReleaseMutex(HANDLE h)
{
    lock_objects();
    struct kernel_object *o = find_kind(h, OBJECT_MUTEX);
    if (o == NULL) {
        unlock_objects();
        return FALSE;
    }
    if (o->mutex.owner != GetCurrentThreadId()) {
        unlock_objects();
        SetLastError(ERROR_NOT_OWNER);
        return FALSE;
    }
    if (--o->mutex.recursion == 0) {
        o->mutex.owner = 0;
        satisfy_pending_waits();
    }
    unlock_objects();
    return TRUE;
}

/* ---- Threads ------------------------------------------------------------------------------ */

/* Runs when a created thread ends, by returning or by ExitThread (pthread_exit runs it). */
static void thread_ended(void *arg)
{
    struct kernel_object *self = arg;
    lock_objects();
    self->thread.ended = TRUE;
    /* Mutexes the thread still holds are abandoned: the next waiter gets WAIT_ABANDONED. */
    for (size_t b = 0; b < REGISTRY_BUCKETS; b++)
        for (struct kernel_object *o = registry[b]; o != NULL; o = o->next_in_bucket)
            if (o->kind == OBJECT_MUTEX && o->mutex.owner == self->thread.id) {
                o->mutex.owner = 0;
                o->mutex.recursion = 0;
                o->mutex.abandoned = TRUE;
            }
    satisfy_pending_waits();
    current_thread_object = NULL;
    release_object(self);
    unlock_objects();
}

static void *thread_main(void *arg)
{
    struct kernel_object *self = arg;
    current_thread_object = self;
    lock_objects();
    self->thread.id = GetCurrentThreadId();
    pthread_cond_broadcast(&objects_changed); /* the creator waits for the id */
    while (self->thread.suspend_count > 0)
        pthread_cond_wait(&objects_changed, &objects_lock);
    unlock_objects();
    pthread_cleanup_push(thread_ended, self);
    DWORD code = self->thread.start != NULL ? self->thread.start(self->thread.arg)
                                            : self->thread.crt_start(self->thread.arg);
    lock_objects();
    self->thread.exit_code = code;
    unlock_objects();
    pthread_cleanup_pop(1);
    return NULL;
}

static HANDLE start_thread(SIZE_T stack_size, DWORD (*start)(void *), unsigned (*crt_start)(void *), void *arg,
                           DWORD flags, DWORD *thread_id)
{
    if (start == NULL && crt_start == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    struct kernel_object init = {.thread = {.start = start,
                                            .crt_start = crt_start,
                                            .arg = arg,
                                            .exit_code = STILL_ACTIVE,
                                            .suspend_count = (flags & CREATE_SUSPENDED) ? 1 : 0}};
    HANDLE h = new_object(OBJECT_THREAD, &init, NULL);
    if (h == NULL)
        return NULL;
    struct kernel_object *o = h;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* As on Windows, dwStackSize alone is an initial commit: the stack is never smaller than
     * the default (extensions keep large buffers on the stacks of threads they create with
     * small sizes). With STACK_SIZE_PARAM_IS_A_RESERVATION it is the whole size. */
    size_t default_size = 0;
    pthread_attr_getstacksize(&attr, &default_size);
    if ((flags & STACK_SIZE_PARAM_IS_A_RESERVATION) ? stack_size >= (SIZE_T)PTHREAD_STACK_MIN
                                                    : stack_size > default_size)
        pthread_attr_setstacksize(&attr, stack_size);
    lock_objects();
    o->refs++; /* the thread's own reference, dropped by thread_ended */
    unlock_objects();
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, thread_main, o);
    pthread_attr_destroy(&attr);
    lock_objects();
    if (rc != 0) {
        unregister_object(o);
        o->refs = 1;
        release_object(o);
        unlock_objects();
        isapi_set_last_error_from_errno(rc);
        return NULL;
    }
    while (o->thread.id == 0)
        pthread_cond_wait(&objects_changed, &objects_lock);
    if (thread_id != NULL)
        *thread_id = o->thread.id;
    unlock_objects();
    SetLastError(ERROR_SUCCESS);
    return h;
}

__attribute__((visibility("default"))) HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES sa, SIZE_T stack_size,
                                                                  LPTHREAD_START_ROUTINE start, LPVOID arg,
                                                                  DWORD flags, LPDWORD thread_id)
{
    return start_thread(stack_size, start, NULL, arg, flags, thread_id);
}

/* Returns 0 on failure, with errno set as the MSVC runtime does (and GetLastError). */
__attribute__((visibility("default"))) uintptr_t __cdecl _beginthreadex(void *security, unsigned stack_size,
                                                                        unsigned(__stdcall *start)(void *), void *arg,
                                                                        unsigned flags, unsigned *thread_id)
{
    DWORD id = 0;
    HANDLE h = start_thread(stack_size, NULL, start, arg, flags, &id);
    if (h == NULL) {
        errno = start == NULL ? EINVAL : EAGAIN;
        return 0;
    }
    if (thread_id != NULL)
        *thread_id = id;
    return (uintptr_t)h;
}

__attribute__((visibility("default"))) VOID WINAPI ExitThread(DWORD code)
{
    struct kernel_object *self = current_thread_object;
    if (self != NULL) {
        lock_objects();
        self->thread.exit_code = code;
        unlock_objects();
    }
    pthread_exit(NULL);
}

__attribute__((visibility("default"))) void __cdecl _endthreadex(unsigned code)
{
    ExitThread(code);
}

__attribute__((visibility("default"))) BOOL WINAPI GetExitCodeThread(HANDLE h, LPDWORD code)
{
    if (code == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    lock_objects();
    struct kernel_object *o = find_kind(h, OBJECT_THREAD);
    if (o != NULL)
        *code = o->thread.ended ? o->thread.exit_code : STILL_ACTIVE;
    unlock_objects();
    return o != NULL;
}

__attribute__((visibility("default"))) DWORD WINAPI ResumeThread(HANDLE h)
{
    lock_objects();
    struct kernel_object *o = find_kind(h, OBJECT_THREAD);
    if (o == NULL) {
        unlock_objects();
        return (DWORD)-1;
    }
    DWORD previous = o->thread.suspend_count;
    if (previous > 0 && --o->thread.suspend_count == 0)
        pthread_cond_broadcast(&objects_changed);
    unlock_objects();
    return previous;
}

__attribute__((visibility("default"))) VOID WINAPI Sleep(DWORD ms)
{
    if (ms == INFINITE) {
        for (;;)
            pause();
    }
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    if (ms == 0) {
        sched_yield();
        return;
    }
    while (nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

/* No APCs here, so an alertable sleep is a plain one and returns 0. */
__attribute__((visibility("default"))) DWORD WINAPI SleepEx(DWORD ms, BOOL alertable)
{
    Sleep(ms);
    return 0;
}

__attribute__((visibility("default"))) BOOL WINAPI SwitchToThread(void)
{
    return sched_yield() == 0;
}
