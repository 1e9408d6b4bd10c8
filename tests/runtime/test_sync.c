/* libisapi: threads, kernel objects, waits, critical sections, Interlocked and TLS. */
#include <windows.h>
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

/* Waiters of one event: each waits, then counts itself in `released`. */
static HANDLE waiters_event;
static volatile LONG waiting, released;

static DWORD WINAPI count_release(LPVOID arg)
{
    InterlockedIncrement(&waiting);
    if (WaitForSingleObject(waiters_event, 5000) != WAIT_OBJECT_0)
        return 1;
    InterlockedIncrement(&released);
    return 0;
}

static LONG released_count(void)
{
    return InterlockedCompareExchange(&released, 0, 0);
}

static void wait_until_blocked(LONG threads)
{
    while (InterlockedCompareExchange(&waiting, 0, 0) < threads)
        Sleep(1);
    Sleep(50); /* they are now inside WaitForSingleObject */
}

static void test_reset_modes_release(void)
{
    /* Auto reset: each SetEvent releases exactly one of three waiters. */
    waiting = released = 0;
    waiters_event = CreateEventA(NULL, FALSE, FALSE, NULL);
    HANDLE t[3];
    for (int i = 0; i < 3; i++)
        t[i] = CreateThread(NULL, 0, count_release, NULL, 0, NULL);
    wait_until_blocked(3);
    CHECK(SetEvent(waiters_event));
    Sleep(100);
    CHECK_INT(released_count(), 1);
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_TIMEOUT); /* consumed by the one */
    CHECK(SetEvent(waiters_event));
    CHECK(SetEvent(waiters_event));
    CHECK_INT(WaitForMultipleObjects(3, t, TRUE, 5000), WAIT_OBJECT_0);
    CHECK_INT(released_count(), 3);
    for (int i = 0; i < 3; i++)
        CloseHandle(t[i]);
    CloseHandle(waiters_event);

    /* Manual reset: one SetEvent releases all of them, and the event stays set. */
    waiting = released = 0;
    waiters_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    for (int i = 0; i < 3; i++)
        t[i] = CreateThread(NULL, 0, count_release, NULL, 0, NULL);
    wait_until_blocked(3);
    CHECK(SetEvent(waiters_event));
    CHECK_INT(WaitForMultipleObjects(3, t, TRUE, 5000), WAIT_OBJECT_0);
    CHECK_INT(released_count(), 3);
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_OBJECT_0);
    for (int i = 0; i < 3; i++)
        CloseHandle(t[i]);
    CloseHandle(waiters_event);

    /* PulseEvent releases the threads waiting at that moment (all of them for manual reset,
     * one for auto reset) and leaves the event reset. */
    waiting = released = 0;
    waiters_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    for (int i = 0; i < 3; i++)
        t[i] = CreateThread(NULL, 0, count_release, NULL, 0, NULL);
    wait_until_blocked(3);
    CHECK(PulseEvent(waiters_event));
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_TIMEOUT);
    CHECK_INT(WaitForMultipleObjects(3, t, TRUE, 5000), WAIT_OBJECT_0);
    CHECK_INT(released_count(), 3);
    for (int i = 0; i < 3; i++)
        CloseHandle(t[i]);
    CloseHandle(waiters_event);

    waiting = released = 0;
    waiters_event = CreateEventA(NULL, FALSE, FALSE, NULL);
    for (int i = 0; i < 2; i++)
        t[i] = CreateThread(NULL, 0, count_release, NULL, 0, NULL);
    wait_until_blocked(2);
    CHECK(PulseEvent(waiters_event));
    Sleep(100);
    CHECK_INT(released_count(), 1);
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_TIMEOUT);
    CHECK(PulseEvent(waiters_event));
    CHECK_INT(WaitForMultipleObjects(2, t, TRUE, 5000), WAIT_OBJECT_0);
    CHECK_INT(released_count(), 2);
    CHECK(PulseEvent(waiters_event)); /* nobody waits: nothing stays signalled */
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_TIMEOUT);
    for (int i = 0; i < 2; i++)
        CloseHandle(t[i]);
    CloseHandle(waiters_event);

    /* A semaphore released by 2 while three threads wait releases exactly two. */
    waiting = released = 0;
    waiters_event = CreateSemaphoreA(NULL, 0, 10, NULL);
    for (int i = 0; i < 3; i++)
        t[i] = CreateThread(NULL, 0, count_release, NULL, 0, NULL);
    wait_until_blocked(3);
    CHECK(ReleaseSemaphore(waiters_event, 2, NULL));
    Sleep(100);
    CHECK_INT(released_count(), 2);
    CHECK(ReleaseSemaphore(waiters_event, 1, NULL));
    CHECK_INT(WaitForMultipleObjects(3, t, TRUE, 5000), WAIT_OBJECT_0);
    CHECK_INT(released_count(), 3);
    CHECK_INT(WaitForSingleObject(waiters_event, 0), WAIT_TIMEOUT);
    for (int i = 0; i < 3; i++)
        CloseHandle(t[i]);
    CloseHandle(waiters_event);
}

/* A wait for all that cannot complete takes nothing: another thread can take its semaphore. */
static HANDLE all_pair[2];

static DWORD WINAPI wait_for_all_pair(LPVOID arg)
{
    return WaitForMultipleObjects(2, all_pair, TRUE, 5000);
}

static DWORD WINAPI release_not_owned(LPVOID mutex)
{
    return ReleaseMutex((HANDLE)mutex) ? 0 : GetLastError();
}

static void test_wait_all_atomic_and_ownership(void)
{
    all_pair[0] = CreateSemaphoreA(NULL, 1, 1, NULL);
    all_pair[1] = CreateEventA(NULL, FALSE, FALSE, NULL);
    HANDLE t = CreateThread(NULL, 0, wait_for_all_pair, NULL, 0, NULL);
    Sleep(50);
    CHECK_INT(WaitForSingleObject(all_pair[0], 0), WAIT_OBJECT_0); /* not held by the waiter */
    CHECK(SetEvent(all_pair[1]));
    Sleep(50);
    DWORD code = 0;
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, STILL_ACTIVE); /* the event is set, the semaphore is not */
    CHECK_INT(STILL_ACTIVE, 259);
    CHECK(ReleaseSemaphore(all_pair[0], 1, NULL));
    CHECK_INT(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(all_pair[0], 0), WAIT_TIMEOUT); /* both taken together */
    CHECK_INT(WaitForSingleObject(all_pair[1], 0), WAIT_TIMEOUT);
    CloseHandle(t);

    /* Semaphore arguments. */
    CHECK(!ReleaseSemaphore(all_pair[0], 0, NULL));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    LONG previous = -1;
    CHECK(ReleaseSemaphore(all_pair[0], 1, &previous));
    CHECK_INT(previous, 0);
    CHECK(!ReleaseSemaphore(all_pair[0], 1, NULL));
    CHECK_INT(GetLastError(), ERROR_TOO_MANY_POSTS);
    CHECK(CreateSemaphoreA(NULL, 0, 0, NULL) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(CreateSemaphoreA(NULL, -1, 2, NULL) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);

    /* A mutex: only its owner releases it, once per acquisition. */
    HANDLE m = CreateMutexA(NULL, FALSE, NULL);
    CHECK_INT(WaitForSingleObject(m, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(m, 0), WAIT_OBJECT_0);
    t = CreateThread(NULL, 0, release_not_owned, m, 0, NULL);
    WaitForSingleObject(t, 5000);
    CHECK(GetExitCodeThread(t, &code));
    CHECK_INT(code, ERROR_NOT_OWNER);
    CloseHandle(t);
    CHECK(ReleaseMutex(m));
    CHECK(ReleaseMutex(m));
    CHECK(!ReleaseMutex(m));
    CHECK_INT(GetLastError(), ERROR_NOT_OWNER);

    /* Every kind of handle closes once; a second close fails without harm. */
    HANDLE ended = CreateThread(NULL, 0, return_42, NULL, 0, NULL);
    WaitForSingleObject(ended, 5000);
    HANDLE kinds[4] = {ended, all_pair[0], all_pair[1], m};
    for (int i = 0; i < 4; i++) {
        CHECK(CloseHandle(kinds[i]));
        SetLastError(0);
        CHECK(!CloseHandle(kinds[i]));
        CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
        CHECK_INT(WaitForSingleObject(kinds[i], 0), WAIT_FAILED);
        CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    }
    CHECK(!CloseHandle(NULL));
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(!CloseHandle(INVALID_HANDLE_VALUE));
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
}

/* A named mutex used as a process-wide lock, opened afresh by each caller (the pattern of
 * SDK-era logging code): every CreateMutex of the name is the same mutex. */
static volatile LONG inside, overlaps;

static DWORD WINAPI named_lock_user(LPVOID arg)
{
    for (int i = 0; i < 200; i++) {
        HANDLE m = CreateMutexA(NULL, FALSE, "Local\\isapi-test-log-lock");
        if (m == NULL || WaitForSingleObject(m, 5000) != WAIT_OBJECT_0)
            return 1;
        if (InterlockedIncrement(&inside) != 1)
            InterlockedIncrement(&overlaps);
        SwitchToThread();
        InterlockedDecrement(&inside);
        ReleaseMutex(m);
        CloseHandle(m);
    }
    return 0;
}

static void test_named_objects(void)
{
    HANDLE a = CreateEventA(NULL, TRUE, FALSE, "isapi-test-event");
    CHECK(a != NULL);
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    HANDLE b = CreateEventA(NULL, FALSE, TRUE, "isapi-test-event"); /* the same event */
    CHECK(b != NULL);
    CHECK_INT(GetLastError(), ERROR_ALREADY_EXISTS);
    CHECK_INT(WaitForSingleObject(b, 0), WAIT_TIMEOUT); /* bInitialState of the second ignored */
    CHECK(SetEvent(a));
    CHECK_INT(WaitForSingleObject(b, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(b, 0), WAIT_OBJECT_0); /* still manual reset */
    HANDLE opened = OpenEventA(EVENT_ALL_ACCESS, FALSE, "isapi-test-event");
    CHECK(opened != NULL);
    CHECK(ResetEvent(opened));
    CHECK_INT(WaitForSingleObject(a, 0), WAIT_TIMEOUT);
    /* A name of another kind, and a name nobody created. */
    CHECK(CreateMutexA(NULL, FALSE, "isapi-test-event") == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(OpenMutexA(SYNCHRONIZE, FALSE, "isapi-test-event") == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(OpenSemaphoreA(SYNCHRONIZE, FALSE, "isapi-test-nobody") == NULL);
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    /* The object lives while a handle to it is open; the name goes with the last one. */
    CHECK(CloseHandle(a));
    CHECK(CloseHandle(b));
    CHECK(SetEvent(opened));
    CHECK(CloseHandle(opened));
    CHECK(OpenEventA(EVENT_ALL_ACCESS, FALSE, "isapi-test-event") == NULL);
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    HANDLE fresh = CreateEventA(NULL, TRUE, FALSE, "isapi-test-event");
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    CHECK_INT(WaitForSingleObject(fresh, 0), WAIT_TIMEOUT);
    CloseHandle(fresh);

    HANDLE s1 = CreateSemaphoreA(NULL, 1, 5, "Global\\isapi-test-sem");
    HANDLE s2 = CreateSemaphoreA(NULL, 0, 1, "Global\\isapi-test-sem");
    CHECK_INT(GetLastError(), ERROR_ALREADY_EXISTS);
    CHECK_INT(WaitForSingleObject(s2, 0), WAIT_OBJECT_0);
    CHECK_INT(WaitForSingleObject(s1, 0), WAIT_TIMEOUT);
    CloseHandle(s1);
    CloseHandle(s2);

    inside = overlaps = 0;
    HANDLE t[3];
    for (int i = 0; i < 3; i++)
        t[i] = CreateThread(NULL, 0, named_lock_user, NULL, 0, NULL);
    CHECK_INT(WaitForMultipleObjects(3, t, TRUE, 30000), WAIT_OBJECT_0);
    for (int i = 0; i < 3; i++) {
        DWORD code = 99;
        GetExitCodeThread(t[i], &code);
        CHECK_INT(code, 0);
        CloseHandle(t[i]);
    }
    CHECK_INT(InterlockedCompareExchange(&overlaps, 0, 0), 0);
}

/* A pool of workers fed by a semaphore, stopped by a manual-reset event: the pattern IIS
 * extensions use. Every job is taken exactly once, and since the semaphore has the lower index,
 * workers drain the jobs before they see the stop event. */
static HANDLE pool_wait[2]; /* jobs, stop */
static volatile LONG jobs_done;

static DWORD WINAPI pool_worker(LPVOID arg)
{
    for (;;) {
        DWORD r = WaitForMultipleObjects(2, pool_wait, FALSE, INFINITE);
        if (r == WAIT_OBJECT_0 + 1)
            return 0;
        if (r != WAIT_OBJECT_0)
            return 1;
        InterlockedIncrement(&jobs_done);
    }
}

static void test_worker_pool(void)
{
    enum { WORKERS = 4, BATCHES = 50, PER_BATCH = 8 };
    pool_wait[0] = CreateSemaphoreA(NULL, 0, BATCHES * PER_BATCH, NULL);
    pool_wait[1] = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        t[i] = CreateThread(NULL, 0, pool_worker, NULL, 0, NULL);
    for (int b = 0; b < BATCHES; b++) {
        CHECK(ReleaseSemaphore(pool_wait[0], PER_BATCH, NULL));
        if (b % 10 == 0)
            Sleep(1);
    }
    CHECK(SetEvent(pool_wait[1])); /* jobs still queued are taken first */
    CHECK_INT(WaitForMultipleObjects(WORKERS, t, TRUE, 10000), WAIT_OBJECT_0);
    CHECK_INT(InterlockedCompareExchange(&jobs_done, 0, 0), BATCHES * PER_BATCH);
    CHECK_INT(WaitForSingleObject(pool_wait[0], 0), WAIT_TIMEOUT);
    for (int i = 0; i < WORKERS; i++) {
        DWORD code = 99;
        GetExitCodeThread(t[i], &code);
        CHECK_INT(code, 0);
        CloseHandle(t[i]);
    }
    CloseHandle(pool_wait[0]);
    CloseHandle(pool_wait[1]);
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
    test_events();
    test_semaphores();
    test_mutexes();
    test_wait_multiple();
    test_reset_modes_release();
    test_wait_all_atomic_and_ownership();
    test_worker_pool();
    test_named_objects();
    test_critical_sections_and_interlocked();
    test_tls_and_sleep();
    test_init_once();
    return check_report("sync");
}
