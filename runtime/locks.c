/* libisapi: the Win32 locks that are plain POSIX locks stored in the caller's structure:
 * CRITICAL_SECTION (a recursive mutex), SRWLOCK (a rwlock), INIT_ONCE, and thread-local
 * storage (keys).
 * They share nothing with the kernel objects of runtime/sync.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <windows.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((CRITICAL_SECTION *)0)->isapi_mutex),
               "CRITICAL_SECTION must hold a pthread mutex");
_Static_assert(sizeof(pthread_rwlock_t) <= sizeof(((SRWLOCK *)0)->isapi_rwlock), "SRWLOCK must hold a pthread rwlock");

/* ---- Critical sections ---------------------------------------------------------------------- */

static pthread_mutex_t *section_mutex(LPCRITICAL_SECTION cs)
{
    return (pthread_mutex_t *)(void *)cs->isapi_mutex.storage;
}

__attribute__((visibility("default"))) VOID WINAPI InitializeCriticalSection(LPCRITICAL_SECTION cs)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(section_mutex(cs), &attr);
    pthread_mutexattr_destroy(&attr);
}

/* The spin count is a tuning hint; glibc's mutex spins on its own. */
__attribute__((visibility("default"))) BOOL WINAPI InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION cs,
                                                                                         DWORD spin_count)
{
    InitializeCriticalSection(cs);
    return TRUE;
}

__attribute__((visibility("default"))) BOOL WINAPI InitializeCriticalSectionEx(LPCRITICAL_SECTION cs,
                                                                               DWORD spin_count, DWORD flags)
{
    InitializeCriticalSection(cs);
    return TRUE;
}

__attribute__((visibility("default"))) VOID WINAPI EnterCriticalSection(LPCRITICAL_SECTION cs)
{
    pthread_mutex_lock(section_mutex(cs));
}

__attribute__((visibility("default"))) BOOL WINAPI TryEnterCriticalSection(LPCRITICAL_SECTION cs)
{
    return pthread_mutex_trylock(section_mutex(cs)) == 0;
}

__attribute__((visibility("default"))) VOID WINAPI LeaveCriticalSection(LPCRITICAL_SECTION cs)
{
    pthread_mutex_unlock(section_mutex(cs));
}

__attribute__((visibility("default"))) VOID WINAPI DeleteCriticalSection(LPCRITICAL_SECTION cs)
{
    pthread_mutex_destroy(section_mutex(cs));
}

/* glibc's PTHREAD_RWLOCK_INITIALIZER is all zeros, so SRWLOCK_INIT (zeros) is an initialised
 * lock, and so is a zeroed static SRWLOCK, as on Windows. That zeroed lock is glibc's default
 * kind, which prefers readers: a steady stream of overlapping readers can keep a writer
 * waiting (a writer-preferring kind would need a non-zero initialiser). */
static pthread_rwlock_t *srw_rwlock(PSRWLOCK l)
{
    return (pthread_rwlock_t *)(void *)l->isapi_rwlock.storage;
}

__attribute__((visibility("default"))) VOID WINAPI InitializeSRWLock(PSRWLOCK l)
{
    memset(l, 0, sizeof *l);
}

__attribute__((visibility("default"))) VOID WINAPI AcquireSRWLockExclusive(PSRWLOCK l)
{
    pthread_rwlock_wrlock(srw_rwlock(l));
}

__attribute__((visibility("default"))) VOID WINAPI AcquireSRWLockShared(PSRWLOCK l)
{
    pthread_rwlock_rdlock(srw_rwlock(l));
}

__attribute__((visibility("default"))) VOID WINAPI ReleaseSRWLockExclusive(PSRWLOCK l)
{
    pthread_rwlock_unlock(srw_rwlock(l));
}

__attribute__((visibility("default"))) VOID WINAPI ReleaseSRWLockShared(PSRWLOCK l)
{
    pthread_rwlock_unlock(srw_rwlock(l));
}

__attribute__((visibility("default"))) BOOLEAN WINAPI TryAcquireSRWLockExclusive(PSRWLOCK l)
{
    return pthread_rwlock_trywrlock(srw_rwlock(l)) == 0;
}

__attribute__((visibility("default"))) BOOLEAN WINAPI TryAcquireSRWLockShared(PSRWLOCK l)
{
    return pthread_rwlock_tryrdlock(srw_rwlock(l)) == 0;
}

/* ---- One-time initialisation ------------------------------------------------------------- */

/* INIT_ONCE.Ptr: NULL before the first run, ONCE_RUNNING while a callback runs, and
 * ONCE_DONE | context after it succeeded. Changes are made under once_lock and broadcast on
 * once_changed; the done state is read without the lock (acquire) on the fast path. */
#define ONCE_RUNNING ((uintptr_t)1)
#define ONCE_DONE ((uintptr_t)2)
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t once_changed = PTHREAD_COND_INITIALIZER;

__attribute__((visibility("default"))) VOID WINAPI InitOnceInitialize(PINIT_ONCE once)
{
    once->Ptr = NULL;
}

__attribute__((visibility("default"))) BOOL WINAPI InitOnceExecuteOnce(PINIT_ONCE once, PINIT_ONCE_FN fn,
                                                                       PVOID parameter, LPVOID *context)
{
    if (once == NULL || fn == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    uintptr_t state = (uintptr_t)__atomic_load_n(&once->Ptr, __ATOMIC_ACQUIRE);
    if (!(state & ONCE_DONE)) {
        pthread_mutex_lock(&once_lock);
        while ((state = (uintptr_t)once->Ptr) == ONCE_RUNNING)
            pthread_cond_wait(&once_changed, &once_lock);
        if (state == 0) {
            __atomic_store_n(&once->Ptr, (PVOID)ONCE_RUNNING, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&once_lock);
            PVOID made = NULL;
            BOOL ok = fn(once, parameter, &made);
            pthread_mutex_lock(&once_lock);
            state = ok ? (((uintptr_t)made & ~(uintptr_t)3) | ONCE_DONE) : 0;
            __atomic_store_n(&once->Ptr, (PVOID)state, __ATOMIC_RELEASE);
            pthread_cond_broadcast(&once_changed);
            if (!ok) {
                pthread_mutex_unlock(&once_lock);
                SetLastError(ERROR_GEN_FAILURE);
                return FALSE;
            }
        }
        pthread_mutex_unlock(&once_lock);
    }
    if (context != NULL)
        *context = (PVOID)(state & ~(uintptr_t)3);
    return TRUE;
}

/* ---- Thread-local storage ------------------------------------------------------------------ */

/* An index is a pthread key. */
__attribute__((visibility("default"))) DWORD WINAPI TlsAlloc(void)
{
    pthread_key_t key;
    int rc = pthread_key_create(&key, NULL);
    if (rc != 0 || (DWORD)key == TLS_OUT_OF_INDEXES) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return TLS_OUT_OF_INDEXES;
    }
    return (DWORD)key;
}

__attribute__((visibility("default"))) LPVOID WINAPI TlsGetValue(DWORD index)
{
    if (index == TLS_OUT_OF_INDEXES) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    void *value = pthread_getspecific((pthread_key_t)index);
    SetLastError(ERROR_SUCCESS); /* as on Windows: tells a stored NULL from a failure */
    return value;
}

__attribute__((visibility("default"))) BOOL WINAPI TlsSetValue(DWORD index, LPVOID value)
{
    int rc = index == TLS_OUT_OF_INDEXES ? EINVAL : pthread_setspecific((pthread_key_t)index, value);
    if (rc != 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return TRUE;
}

__attribute__((visibility("default"))) BOOL WINAPI TlsFree(DWORD index)
{
    if (index == TLS_OUT_OF_INDEXES || pthread_key_delete((pthread_key_t)index) != 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return TRUE;
}
