/*++

Module Name:

    ThreadPool.h

Abstract:

    The worker pool's interface. Included as "threadpool.h" by MixedCase.c.

--*/

#ifndef _THREADPOOL_H_
#define _THREADPOOL_H_

#include "include\poolconfig.h"

BOOL PoolInitialize( DWORD dwWorkers );
VOID PoolDescribe( LPSTR pszBuffer, DWORD cchBuffer );
VOID PoolShutdown( VOID );

#endif // _THREADPOOL_H_
