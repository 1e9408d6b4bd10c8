// ThreadPool.c - the worker threads, their queue and its locking.

#include "ThreadPool.h"
#include <stdio.h>

static CRITICAL_SECTION g_csQueue;          // guards g_pQueueHead/g_pQueueTail
static HANDLE           g_hWorkSemaphore;   // one count per queued WORK_ITEM
static HANDLE           g_hShutdownEvent;   // manual reset: set once, at shutdown
static HANDLE           g_hThreads[POOL_THREADS];
static PWORK_ITEM       g_pQueueHead, g_pQueueTail;
static volatile LONG    g_lServed;

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    switch (fdwReason) {
    case DLL_PROCESS_ATTACH:
        InitializeCriticalSection(&g_csQueue);
        g_hWorkSemaphore = CreateSemaphore(NULL, 0, MAX_QUEUED_REQUESTS, NULL);
        g_hShutdownEvent = CreateEvent(NULL, TRUE, FALSE, NULL);
        if (g_hWorkSemaphore == NULL || g_hShutdownEvent == NULL)
            return FALSE;
        break;
    case DLL_PROCESS_DETACH:
        if (g_hWorkSemaphore) CloseHandle(g_hWorkSemaphore);
        if (g_hShutdownEvent) CloseHandle(g_hShutdownEvent);
        DeleteCriticalSection(&g_csQueue);
        break;
    }
    return TRUE;
}

static PWORK_ITEM DequeueWorkItem(void)
{
    PWORK_ITEM pItem;

    EnterCriticalSection(&g_csQueue);
    pItem = g_pQueueHead;
    if (pItem != NULL) {
        g_pQueueHead = pItem->pNext;
        if (g_pQueueHead == NULL)
            g_pQueueTail = NULL;
    }
    LeaveCriticalSection(&g_csQueue);
    return pItem;
}

static void AnswerRequest(PWORK_ITEM pItem)
{
    EXTENSION_CONTROL_BLOCK *pECB = pItem->pECB;
    HSE_SEND_HEADER_EX_INFO  HeaderInfo;
    CHAR  szBody[256];
    DWORD cbBody;
    DWORD dwStatus = HSE_STATUS_SUCCESS;
    LONG  lServed;

    Sleep(pItem->dwDelay);
    lServed = InterlockedIncrement(&g_lServed);

    wsprintf(szBody, "served=%d thread=%u delay=%u\r\n", (int)lServed,
             (unsigned)GetCurrentThreadId(), (unsigned)pItem->dwDelay);
    cbBody = (DWORD)lstrlen(szBody);

    HeaderInfo.pszStatus = "200 OK";
    HeaderInfo.pszHeader = "Content-Type: text/plain\r\n\r\n";
    HeaderInfo.cchStatus = (DWORD)lstrlen(HeaderInfo.pszStatus);
    HeaderInfo.cchHeader = (DWORD)lstrlen(HeaderInfo.pszHeader);
    HeaderInfo.fKeepConn = TRUE;

    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX,
                                     &HeaderInfo, NULL, NULL) ||
        !pECB->WriteClient(pECB->ConnID, szBody, &cbBody, HSE_IO_SYNC))
        dwStatus = HSE_STATUS_ERROR;

    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &dwStatus, NULL, NULL);
    LocalFree(pItem);
}

static DWORD WINAPI WorkerThread(LPVOID lpParam)
{
    HANDLE hWait[2];
    hWait[0] = g_hShutdownEvent;
    hWait[1] = g_hWorkSemaphore;

    for (;;) {
        DWORD dwWait = WaitForMultipleObjects(2, hWait, FALSE, INFINITE);
        if (dwWait == WAIT_OBJECT_0 + 1) {
            PWORK_ITEM pItem = DequeueWorkItem();
            if (pItem != NULL)
                AnswerRequest(pItem);
        } else {
            break;      // shutdown, or the wait failed
        }
    }
    return 0;
}

BOOL InitThreadPool(void)
{
    int i;
    for (i = 0; i < POOL_THREADS; i++) {
        DWORD dwThreadId;
        g_hThreads[i] = CreateThread(NULL, 0, WorkerThread, NULL, 0, &dwThreadId);
        if (g_hThreads[i] == NULL)
            return FALSE;
    }
    return TRUE;
}

void StopThreadPool(void)
{
    int i;
    SetEvent(g_hShutdownEvent);
    WaitForMultipleObjects(POOL_THREADS, g_hThreads, TRUE, 10000);
    for (i = 0; i < POOL_THREADS; i++) {
        if (g_hThreads[i] != NULL) {
            CloseHandle(g_hThreads[i]);
            g_hThreads[i] = NULL;
        }
    }
}

BOOL QueueWorkItem(EXTENSION_CONTROL_BLOCK *pECB, DWORD dwDelay)
{
    PWORK_ITEM pItem = (PWORK_ITEM)LocalAlloc(LPTR, sizeof(WORK_ITEM));
    if (pItem == NULL)
        return FALSE;
    pItem->pECB = pECB;
    pItem->dwDelay = dwDelay;

    EnterCriticalSection(&g_csQueue);
    if (g_pQueueTail != NULL)
        g_pQueueTail->pNext = pItem;
    else
        g_pQueueHead = pItem;
    g_pQueueTail = pItem;
    LeaveCriticalSection(&g_csQueue);

    if (!ReleaseSemaphore(g_hWorkSemaphore, 1, NULL)) {
        // the queue is full: take the item back out (it is the last one)
        EnterCriticalSection(&g_csQueue);
        {
            PWORK_ITEM p = g_pQueueHead, prev = NULL;
            while (p != NULL && p != pItem) { prev = p; p = p->pNext; }
            if (p != NULL) {
                if (prev) prev->pNext = p->pNext; else g_pQueueHead = p->pNext;
                if (g_pQueueTail == p) g_pQueueTail = prev;
            }
        }
        LeaveCriticalSection(&g_csQueue);
        LocalFree(pItem);
        return FALSE;
    }
    return TRUE;
}

LONG GetServedCount(void)
{
    return InterlockedCompareExchange(&g_lServed, 0, 0);
}
