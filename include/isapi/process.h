/* process.h for ISAPI extensions built on Linux (isapid SDK): MSVC declares _beginthreadex,
 * _endthreadex and the process functions here. The ones libisapi provides come with windows.h
 * (isapi_win32.h); this header exists so that sources that include it build unchanged. */
#ifndef ISAPI_PROCESS_H
#define ISAPI_PROCESS_H

#include <windows.h>
#include <unistd.h>

#endif
