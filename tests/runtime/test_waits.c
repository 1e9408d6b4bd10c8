/* libisapi: what a wait sees of the kernel objects (runtime/sync.c) when other threads signal
 * them: auto-reset events release one waiter per signal, manual-reset ones all, PulseEvent the
 * threads waiting at that moment, semaphores one per count; "wait all" takes nothing until it
 * can take everything; mutex ownership; closing every kind of handle; named objects; and a
 * worker pool in the style of IIS extensions. */
#include <windows.h>

#include "check.h"

static DWORD WINAPI return_42(LPVOID arg)
{
    return 42;
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

/* Gives the released threads time to count themselves (at least `n` of them, within 5 s),
 * and a little more for any that should not have been released to show up. */
static void settle_released(LONG n)
{
    for (int i = 0; i < 5000 && released_count() < n; i++)
        Sleep(1);
    Sleep(50);
}

static void wait_until_blocked(LONG threads)
{
    while (InterlockedCompareExchange(&waiting, 0, 0) < threads)
        Sleep(1);
    Sleep(100); /* they are now inside WaitForSingleObject (PulseEvent misses a late one) */
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
    settle_released(1);
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
    settle_released(1);
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
    settle_released(2);
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

int main(void)
{
    test_reset_modes_release();
    test_wait_all_atomic_and_ownership();
    test_worker_pool();
    test_named_objects();
    return check_report("waits");
}
