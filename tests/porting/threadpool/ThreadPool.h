// ThreadPool.h - a fixed pool of worker threads for the ThreadPool ISAPI sample.
//
// Requests are queued by HttpExtensionProc, which returns HSE_STATUS_PENDING at once; a
// worker thread picks each one up, simulates a slow back end with Sleep, answers it and
// calls HSE_REQ_DONE_WITH_SESSION.

#ifndef _THREADPOOL_H_
#define _THREADPOOL_H_

#include <windows.h>
#include <httpext.h>

#define POOL_THREADS        4
#define MAX_QUEUED_REQUESTS 256

typedef struct _WORK_ITEM {
    EXTENSION_CONTROL_BLOCK *pECB;
    DWORD                    dwDelay;       // milliseconds to Sleep before answering
    struct _WORK_ITEM       *pNext;
} WORK_ITEM, *PWORK_ITEM;

BOOL  InitThreadPool(void);
void  StopThreadPool(void);
BOOL  QueueWorkItem(EXTENSION_CONTROL_BLOCK *pECB, DWORD dwDelay);
LONG  GetServedCount(void);

#endif // _THREADPOOL_H_
