/* libisapi: threads, kernel objects, waits, critical sections, Interlocked and TLS. */
#define _GNU_SOURCE
#include <windows.h>
#include <pthread.h>
#include <time.h>

#include "check.h"

static ULONGLONG now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (ULONGLONG)t.tv_sec * 1000 + (ULONGLONG)t.tv_nsec / 1000000;
}

static DWORD WINAPI return_42(LPVOID arg)
{
    return 42;
}

static DWORD WINAPI exit_7(LPVOID arg)
{
    ExitThread(7);
}

static DWORD WINAPI wait_for_event(LPVOID event)
{
    return WaitForSingleObject((HANDLE)event, INFINITE) == WAIT_OBJECT_0 ? 1 : 0;
}

static unsigned __stdcall crt_thread(void *arg)
{
    *(DWORD *)arg = GetCurrentThreadId();
    return 9u;
}

/* The calling thread's stack size in bytes. */
static DWORD WINAPI own_stack_size(LPVOID arg)
{
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
    return (DWORD)size;
}

/* Windows: dwStackSize is the initial commit, and the stack never gets smaller than the
 * default; with STACK_SIZE_PARAM_IS_A_RESERVATION it is the stack's whole size. */
static void test_stack_sizes(void)
{
    DWORD default_size = 0, size = 0;
    HANDLE t = CreateThread(NULL, 0, own_stack_size, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &default_size);
    CloseHandle(t);
    CHECK(default_size >= 256 * 1024);
    t = CreateThread(NULL, 32 * 1024, own_stack_size, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &size);
    CloseHandle(t);
    CHECK(size >= default_size); /* a small commit size does not shrink the stack */
    t = CreateThread(NULL, default_size + 4 * 1024 * 1024, own_stack_size, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &size);
    CloseHandle(t);
    CHECK(size >= default_size + 4 * 1024 * 1024); /* a larger one grows it */
    t = CreateThread(NULL, 256 * 1024, own_stack_size, NULL, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &size);
    CloseHandle(t);
    /* A reservation is the size (sanitizers add their thread-local storage to it). */
    CHECK(size >= 256 * 1024 && size < default_size);
}

static void test_threads(void)
{
    DWORD id = 0;
    HANDLE t = CreateThread(NULL, 0, return_42, NULL, 0, &id);
    CHECK(t != NULL);
    CHECK(id != 0 && id != GetCurrentThreadId());
    CHECK_INT(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
    DWORD code = 0;
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, 42);
    CHECK(CloseHandle(t));
    CHECK(!GetExitCodeThread(t, &code)); /* closed: no longer a handle */
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);

    t = CreateThread(NULL, 0, exit_7, NULL, 0, NULL);
    CHECK_INT(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, 7);
    CloseHandle(t);

    /* A running thread: STILL_ACTIVE, a wait times out, closing its handle is fine. */
    HANDLE go = CreateEventA(NULL, TRUE, FALSE, NULL);
    t = CreateThread(NULL, 0, wait_for_event, go, 0, NULL);
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, STILL_ACTIVE);
    CHECK_INT(WaitForSingleObject(t, 20), WAIT_TIMEOUT);
    HANDLE t2 = CreateThread(NULL, 0, wait_for_event, go, 0, NULL);
    CHECK(CloseHandle(t2)); /* still running */
    CHECK(SetEvent(go));
    CHECK_INT(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, 1);
    CloseHandle(t);

    /* CREATE_SUSPENDED runs only after ResumeThread. */
    t = CreateThread(NULL, 0, return_42, NULL, CREATE_SUSPENDED, NULL);
    CHECK_INT(WaitForSingleObject(t, 30), WAIT_TIMEOUT);
    CHECK_INT(ResumeThread(t), 1);
    CHECK_INT(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
    CloseHandle(t);

    DWORD seen = 0;
    unsigned crt_id = 0;
    uintptr_t ct = _beginthreadex(NULL, 0, crt_thread, &seen, 0, &crt_id);
    CHECK(ct != 0);
    CHECK_INT(WaitForSingleObject((HANDLE)ct, 5000), WAIT_OBJECT_0);
    CHECK(GetExitCodeThread((HANDLE)ct, &code));
    CHECK_INT(code, 9);
    CHECK_INT(seen, crt_id);
    CloseHandle((HANDLE)ct);
    CloseHandle(go);

    CHECK(!CreateThread(NULL, 0, NULL, NULL, 0, NULL));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(GetCurrentProcessId() != 0);
}

static void test_events(void)
{
    HANDLE manual = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE autoreset = CreateEventA(NULL, FALSE, TRUE, NULL);
    CHECK_INT(WaitForSingleObject(manual, 0), WAIT_TIMEOUT);
    SetEvent(manual);
    CHECK_INT(WaitForSingleObject(manual, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(manual, 0), WAIT_OBJECT_0); /* stays set */
    ResetEvent(manual);
    CHECK_INT(WaitForSingleObject(manual, 0), WAIT_TIMEOUT);

    CHECK_INT(WaitForSingleObject(autoreset, 0), WAIT_OBJECT_0); /* initially set */
    CHECK_INT(WaitForSingleObject(autoreset, 0), WAIT_TIMEOUT);  /* the wait reset it */
    SetEvent(autoreset);
    CHECK_INT(WaitForSingleObject(autoreset, INFINITE), WAIT_OBJECT_0);

    ULONGLONG start = now_ms();
    CHECK_INT(WaitForSingleObject(autoreset, 50), WAIT_TIMEOUT);
    CHECK(now_ms() - start >= 45);
    CloseHandle(manual);
    CloseHandle(autoreset);
}

static void test_semaphores(void)
{
    HANDLE s = CreateSemaphoreA(NULL, 1, 2, NULL);
    LONG previous = -1;
    CHECK_INT(WaitForSingleObject(s, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(s, 0), WAIT_TIMEOUT);
    CHECK(ReleaseSemaphore(s, 2, &previous));
    CHECK_INT(previous, 0);
    CHECK(!ReleaseSemaphore(s, 1, &previous)); /* above the maximum */
    CHECK_INT(GetLastError(), ERROR_TOO_MANY_POSTS);
    CHECK_INT(WaitForSingleObject(s, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(s, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(s, 0), WAIT_TIMEOUT);
    CloseHandle(s);
    CHECK(CreateSemaphoreA(NULL, 3, 2, NULL) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
}

static HANDLE shared_mutex;

static DWORD WINAPI try_mutex(LPVOID arg)
{
    return WaitForSingleObject(shared_mutex, 0);
}

static DWORD WINAPI take_mutex_and_end(LPVOID arg)
{
    return WaitForSingleObject(shared_mutex, 0); /* ends holding it */
}

static void test_mutexes(void)
{
    shared_mutex = CreateMutexA(NULL, TRUE, NULL);
    CHECK_INT(WaitForSingleObject(shared_mutex, 0), WAIT_OBJECT_0); /* recursion: owner again */
    HANDLE t = CreateThread(NULL, 0, try_mutex, NULL, 0, NULL);
    DWORD code = 0;
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CHECK_INT(code, WAIT_TIMEOUT);
    CloseHandle(t);
    CHECK(ReleaseMutex(shared_mutex));
    CHECK(ReleaseMutex(shared_mutex));
    CHECK(!ReleaseMutex(shared_mutex));
    CHECK_INT(GetLastError(), ERROR_NOT_OWNER);

    t = CreateThread(NULL, 0, take_mutex_and_end, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CHECK_INT(code, WAIT_OBJECT_0);
    CloseHandle(t);
    CHECK_INT(WaitForSingleObject(shared_mutex, 0), WAIT_ABANDONED_0);
    CHECK(ReleaseMutex(shared_mutex));

    /* In a wait for all: WAIT_ABANDONED_0 + the abandoned mutex's index. */
    t = CreateThread(NULL, 0, take_mutex_and_end, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    CloseHandle(t);
    HANDLE set_event = CreateEventA(NULL, TRUE, TRUE, NULL);
    HANDLE pair[2] = {set_event, shared_mutex};
    CHECK_INT(WaitForMultipleObjects(2, pair, TRUE, 0), WAIT_ABANDONED_0 + 1);
    CHECK(ReleaseMutex(shared_mutex));
    CHECK_INT(WaitForMultipleObjects(2, pair, TRUE, 0), WAIT_OBJECT_0); /* no longer abandoned */
    CHECK(ReleaseMutex(shared_mutex));
    CloseHandle(set_event);
    CloseHandle(shared_mutex);
}

static void test_wait_multiple(void)
{
    HANDLE e[3] = {CreateEventA(NULL, TRUE, FALSE, NULL), CreateEventA(NULL, FALSE, FALSE, NULL),
                   CreateEventA(NULL, TRUE, FALSE, NULL)};
    CHECK_INT(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_TIMEOUT);
    SetEvent(e[2]);
    CHECK_INT(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_OBJECT_0 + 2);
    SetEvent(e[1]);
    CHECK_INT(WaitForMultipleObjects(3, e, FALSE, 0), WAIT_OBJECT_0 + 1); /* lowest index first */
    CHECK_INT(WaitForMultipleObjects(3, e, TRUE, 30), WAIT_TIMEOUT);     /* e[0] unset */
    SetEvent(e[1]);
    CHECK_INT(WaitForMultipleObjects(3, e, TRUE, 0), WAIT_TIMEOUT); /* takes nothing */
    SetEvent(e[0]);
    CHECK_INT(WaitForMultipleObjects(3, e, TRUE, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(e[1], 0), WAIT_TIMEOUT); /* consumed by the wait-all */

    /* A wait woken by another thread. */
    ResetEvent(e[0]);
    ResetEvent(e[2]);
    HANDLE t = CreateThread(NULL, 0, wait_for_event, e[0], 0, NULL);
    HANDLE both[2] = {t, e[2]};
    CHECK_INT(WaitForMultipleObjects(2, both, FALSE, 20), WAIT_TIMEOUT);
    SetEvent(e[0]);
    CHECK_INT(WaitForMultipleObjects(2, both, FALSE, 5000), WAIT_OBJECT_0);
    CloseHandle(t);

    HANDLE twice[2] = {e[0], e[0]};
    CHECK_INT(WaitForMultipleObjects(2, twice, TRUE, 0), WAIT_FAILED);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK_INT(WaitForMultipleObjects(0, e, FALSE, 0), WAIT_FAILED);
    CHECK_INT(WaitForSingleObject(NULL, 0), WAIT_FAILED);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK_INT(WaitForSingleObject(INVALID_HANDLE_VALUE, 0), WAIT_FAILED);
    for (int i = 0; i < 3; i++)
        CHECK(CloseHandle(e[i]));
    CHECK(!CloseHandle(e[0]));
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(!SetEvent(e[0]));
}

static CRITICAL_SECTION counter_lock; /* static storage, initialised at run time */
static long long guarded_counter;
static DWORD dword_counter;
static volatile LONG long_counter;

static DWORD WINAPI hammer(LPVOID arg)
{
    for (int i = 0; i < 10000; i++) {
        EnterCriticalSection(&counter_lock);
        EnterCriticalSection(&counter_lock); /* recursive */
        guarded_counter++;
        LeaveCriticalSection(&counter_lock);
        LeaveCriticalSection(&counter_lock);
        InterlockedIncrement(&dword_counter);
        InterlockedExchangeAdd(&long_counter, 2);
    }
    return 0;
}

static DWORD WINAPI try_section(LPVOID arg)
{
    return TryEnterCriticalSection(&counter_lock);
}

static DWORD WINAPI try_section_and_leave(LPVOID arg)
{
    if (!TryEnterCriticalSection(&counter_lock))
        return FALSE;
    LeaveCriticalSection(&counter_lock);
    return TRUE;
}

static void test_critical_sections_and_interlocked(void)
{
    CHECK(InitializeCriticalSectionAndSpinCount(&counter_lock, 4000));
    HANDLE t[4];
    for (int i = 0; i < 4; i++)
        t[i] = CreateThread(NULL, 0, hammer, NULL, 0, NULL);
    CHECK_INT(WaitForMultipleObjects(4, t, TRUE, 30000), WAIT_OBJECT_0);
    for (int i = 0; i < 4; i++)
        CloseHandle(t[i]);
    CHECK_INT(guarded_counter, 40000);
    CHECK_INT(dword_counter, 40000);
    CHECK_INT(long_counter, 80000);

    EnterCriticalSection(&counter_lock);
    HANDLE other = CreateThread(NULL, 0, try_section, NULL, 0, NULL);
    DWORD code = 1;
    WaitForSingleObject(other, 5000);
    GetExitCodeThread(other, &code);
    CHECK_INT(code, FALSE);
    CloseHandle(other);
    CHECK(TryEnterCriticalSection(&counter_lock)); /* the owner may re-enter */
    LeaveCriticalSection(&counter_lock);
    LeaveCriticalSection(&counter_lock);
    DeleteCriticalSection(&counter_lock);

    /* The owner's recursion count: the section is free only after as many leaves as enters. */
    InitializeCriticalSection(&counter_lock);
    for (int i = 0; i < 3; i++)
        EnterCriticalSection(&counter_lock);
    LeaveCriticalSection(&counter_lock);
    LeaveCriticalSection(&counter_lock);
    other = CreateThread(NULL, 0, try_section_and_leave, NULL, 0, NULL);
    WaitForSingleObject(other, 5000);
    GetExitCodeThread(other, &code);
    CHECK_INT(code, FALSE);
    CloseHandle(other);
    LeaveCriticalSection(&counter_lock);
    other = CreateThread(NULL, 0, try_section_and_leave, NULL, 0, NULL);
    WaitForSingleObject(other, 5000);
    GetExitCodeThread(other, &code);
    CHECK_INT(code, TRUE);
    CloseHandle(other);
    DeleteCriticalSection(&counter_lock);

    /* Return values: Increment/Decrement/Add give the new value, the others the old one. */
    LONG v = 5;
    CHECK_INT(InterlockedIncrement(&v), 6);
    CHECK_INT(InterlockedExchangeAdd(&v, 4), 6);
    CHECK_INT(v, 10);
    CHECK_INT(InterlockedAdd(&v, 5), 15);
    CHECK_INT(InterlockedAnd(&v, 6), 15);
    CHECK_INT(v, 6);
    CHECK_INT(InterlockedOr(&v, 9), 6);
    CHECK_INT(v, 15);
    CHECK_INT(InterlockedXor(&v, 1), 15);
    CHECK_INT(v, 14);
    DWORD dw = 3;
    CHECK_INT(InterlockedExchange(&dw, 8), 3);
    CHECK_INT(InterlockedCompareExchange(&dw, 1, 8), 8);
    CHECK_INT(dw, 1);
    CHECK_INT(InterlockedDecrement(&dw), 0);
    /* The other spellings of the family. */
    LONGLONG q = 12;
    CHECK_INT(InterlockedAnd64(&q, 4), 12);
    CHECK_INT(InterlockedOr64(&q, 1), 4);
    CHECK_INT(InterlockedXor64(&q, 5), 5);
    CHECK_INT(q, 0);
    CHECK_INT(InterlockedIncrementAcquire(&v), 15);
    CHECK_INT(InterlockedDecrementRelease(&v), 14);
    CHECK_INT(InterlockedCompareExchangeAcquire(&v, 2, 14), 14);
    CHECK_INT(_InterlockedIncrement(&v), 3);
    CHECK_INT(_InterlockedExchange(&v, 9), 3);
    CHECK_INT(_InterlockedCompareExchange(&v, 1, 9), 9);
    CHECK_INT(_InterlockedExchangeAdd(&v, 1), 1);
    CHECK_INT(v, 2);

    LONG l = 5;
    CHECK_INT(InterlockedDecrement(&l), 4);
    CHECK_INT(InterlockedExchange(&l, 10), 4);
    CHECK_INT(InterlockedCompareExchange(&l, 20, 9), 10); /* no swap */
    CHECK_INT(l, 10);
    CHECK_INT(InterlockedCompareExchange(&l, 20, 10), 10);
    CHECK_INT(l, 20);
    DWORD d = 0xFFFFFFFFu;
    CHECK_INT(InterlockedIncrement(&d), 0); /* DWORD wraps as unsigned */
    volatile LONGLONG big = 1LL << 40;
    CHECK_INT(InterlockedIncrement64(&big), (1LL << 40) + 1);
    CHECK_INT(InterlockedCompareExchange64(&big, 3, (1LL << 40) + 1), (1LL << 40) + 1);
    CHECK_INT(big, 3);
    static int a, b;
    PVOID volatile slot = &a;
    CHECK(InterlockedCompareExchangePointer(&slot, &b, &a) == &a);
    CHECK(slot == &b);
    CHECK(InterlockedExchangePointer(&slot, NULL) == &b);
    CHECK(slot == NULL);
}

static volatile LONG once_runs;

static BOOL WINAPI init_once_callback(PINIT_ONCE once, PVOID parameter, PVOID *context)
{
    InterlockedIncrement(&once_runs);
    Sleep(10); /* the other callers must wait, not run it too */
    if (parameter == NULL)
        return FALSE;
    *context = parameter;
    return TRUE;
}

static INIT_ONCE shared_once = INIT_ONCE_STATIC_INIT;
static int once_target;

static DWORD WINAPI run_once(LPVOID arg)
{
    PVOID context = NULL;
    if (!InitOnceExecuteOnce(&shared_once, init_once_callback, &once_target, &context))
        return 1;
    return context == &once_target ? 0 : 2;
}

static void test_init_once(void)
{
    INIT_ONCE failing = INIT_ONCE_STATIC_INIT;
    PVOID context = NULL;
    CHECK(!InitOnceExecuteOnce(&failing, init_once_callback, NULL, &context));
    CHECK(!InitOnceExecuteOnce(&failing, init_once_callback, NULL, &context)); /* runs again */
    CHECK_INT(once_runs, 2);
    once_runs = 0;
    HANDLE t[4];
    for (int i = 0; i < 4; i++)
        t[i] = CreateThread(NULL, 0, run_once, NULL, 0, NULL);
    CHECK_INT(WaitForMultipleObjects(4, t, TRUE, 10000), WAIT_OBJECT_0);
    for (int i = 0; i < 4; i++) {
        DWORD code = 99;
        GetExitCodeThread(t[i], &code);
        CHECK_INT(code, 0);
        CloseHandle(t[i]);
    }
    CHECK_INT(once_runs, 1);
}

static DWORD tls_index;

static DWORD WINAPI tls_thread(LPVOID arg)
{
    if (TlsGetValue(tls_index) != NULL)
        return 1; /* another thread's value leaked in */
    TlsSetValue(tls_index, arg);
    return TlsGetValue(tls_index) == arg ? 0 : 2;
}

static void test_tls_and_sleep(void)
{
    tls_index = TlsAlloc();
    CHECK(tls_index != TLS_OUT_OF_INDEXES);
    int mine;
    CHECK(TlsSetValue(tls_index, &mine));
    HANDLE t = CreateThread(NULL, 0, tls_thread, (LPVOID)&tls_index, 0, NULL);
    DWORD code = 99;
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CHECK_INT(code, 0);
    CloseHandle(t);
    SetLastError(5);
    CHECK(TlsGetValue(tls_index) == &mine);
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    CHECK(TlsFree(tls_index));

    ULONGLONG start = now_ms();
    Sleep(30);
    CHECK(now_ms() - start >= 29);
    CHECK_INT(SleepEx(0, TRUE), 0);
    SwitchToThread();

    SRWLOCK rw = SRWLOCK_INIT;
    AcquireSRWLockShared(&rw);
    CHECK(TryAcquireSRWLockShared(&rw));
    CHECK(!TryAcquireSRWLockExclusive(&rw));
    ReleaseSRWLockShared(&rw);
    ReleaseSRWLockShared(&rw);
    AcquireSRWLockExclusive(&rw);
    CHECK(!TryAcquireSRWLockShared(&rw));
    ReleaseSRWLockExclusive(&rw);
}

int main(void)
{
    test_threads();
    test_stack_sizes();
    test_events();
    test_semaphores();
    test_mutexes();
    test_wait_multiple();
    test_critical_sections_and_interlocked();
    test_tls_and_sleep();
    test_init_once();
    return check_report("sync");
}
