/*++

Module Name:

    MixedCase.c

Abstract:

    ISAPI extension entry points. The project was written on a case-insensitive file
    system: its #include lines name headers in other letter cases than the files have
    (StdAfx.h for stdafx.h, threadpool.h for ThreadPool.h, include\poolconfig.h with a
    backslash for Include/PoolConfig.h), Globals.h defines its globals rather than
    declaring them, and MixedCase.def exports the entry points and sets HEAPSIZE and
    STACKSIZE.

    GET /.../mixedcase.dll answers text/plain:

        attached=1                  DllMain saw DLL_PROCESS_ATTACH (it is not in the .def)
        description=MixedCase ISAPI Sample 1.0
        pool=workers=4 owner=MixedCase ISAPI Sample 1.0
        workers=4

    "pool=" is written by ThreadPool.c from the globals MixedCase.c set, and "workers=" by
    MixedCase.c from the global ThreadPool.c set: both files share one copy of each.

--*/

#include "StdAfx.h"
#include "threadpool.h"

BOOL WINAPI
DllMain(
    HINSTANCE hinstDLL,
    DWORD     fdwReason,
    LPVOID    lpvReserved
    )
{
    UNREFERENCED_PARAMETER( hinstDLL );
    UNREFERENCED_PARAMETER( lpvReserved );

    if ( fdwReason == DLL_PROCESS_ATTACH )
    {
        g_fAttached = TRUE;
    }
    return TRUE;
}

BOOL WINAPI
GetExtensionVersion(
    HSE_VERSION_INFO *pVer
    )
{
    pVer->dwExtensionVersion = MAKELONG( HSE_VERSION_MINOR, HSE_VERSION_MAJOR );

    lstrcpynA( g_szExtensionDesc, EXTENSION_DESCRIPTION, sizeof( g_szExtensionDesc ) );
    lstrcpynA( pVer->lpszExtensionDesc, g_szExtensionDesc, HSE_MAX_EXT_DLL_NAME_LEN );

    return PoolInitialize( POOL_DEFAULT_WORKERS );
}

DWORD WINAPI
HttpExtensionProc(
    EXTENSION_CONTROL_BLOCK *pECB
    )
{
    HSE_SEND_HEADER_EX_INFO HeaderExInfo;
    CHAR  szPool[ 128 ];
    CHAR  szBody[ 512 ];
    DWORD cbBody;

    PoolDescribe( szPool, sizeof( szPool ) );

    cbBody = (DWORD) wsprintfA( szBody,
                                "attached=%d\r\n"
                                "description=%s\r\n"
                                "pool=%s\r\n"
                                "workers=%u\r\n",
                                g_fAttached,
                                g_szExtensionDesc,
                                szPool,
                                g_dwWorkerCount );

    HeaderExInfo.pszStatus = "200 OK";
    HeaderExInfo.pszHeader = "Content-Type: text/plain\r\n\r\n";
    HeaderExInfo.cchStatus = lstrlenA( HeaderExInfo.pszStatus );
    HeaderExInfo.cchHeader = lstrlenA( HeaderExInfo.pszHeader );
    HeaderExInfo.fKeepConn = TRUE;

    if ( !pECB->ServerSupportFunction( pECB->ConnID,
                                       HSE_REQ_SEND_RESPONSE_HEADER_EX,
                                       &HeaderExInfo,
                                       NULL,
                                       NULL ) )
    {
        return HSE_STATUS_ERROR;
    }

    if ( !pECB->WriteClient( pECB->ConnID, szBody, &cbBody, HSE_IO_SYNC ) )
    {
        return HSE_STATUS_ERROR;
    }

    return HSE_STATUS_SUCCESS;
}

BOOL WINAPI
TerminateExtension(
    DWORD dwFlags
    )
{
    UNREFERENCED_PARAMETER( dwFlags );

    PoolShutdown();
    return TRUE;
}
