/*++

Module Name:

    ThreadPool.c

Abstract:

    The worker pool's bookkeeping: its size, set once by GetExtensionVersion before any
    request, and a description of it for the status page. Requests only read it.

--*/

#include "stdafx.h"
#include "ThreadPool.h"

BOOL
PoolInitialize(
    DWORD dwWorkers
    )
{
    if ( dwWorkers == 0 || dwWorkers > POOL_MAX_WORKERS )
    {
        SetLastError( ERROR_INVALID_PARAMETER );
        return FALSE;
    }
    g_dwWorkerCount = dwWorkers;
    return TRUE;
}

VOID
PoolDescribe(
    LPSTR pszBuffer,
    DWORD cchBuffer
    )
{
    CHAR szLine[ 128 + sizeof( g_szExtensionDesc ) ];

    wsprintfA( szLine, "workers=%u owner=%s", g_dwWorkerCount, g_szExtensionDesc );
    lstrcpynA( pszBuffer, szLine, (int) cchBuffer );
}

VOID
PoolShutdown(
    VOID
    )
{
    g_dwWorkerCount = 0;
}
