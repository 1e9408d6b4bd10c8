/*++

Module Name:

    Globals.h

Abstract:

    The extension's globals, defined here (not declared): every source that includes this
    header has a tentative definition of each, and the linker merges them into one, as
    Visual C++ does. Written before any request (DllMain, GetExtensionVersion); read by
    requests.

--*/

#ifndef _GLOBALS_H_
#define _GLOBALS_H_

BOOL  g_fAttached;
DWORD g_dwWorkerCount;
CHAR  g_szExtensionDesc[ 64 ];

#endif // _GLOBALS_H_
