/* libisapi: the runtime library ISAPI extensions link (isapi-cc links it; docs/porting.md).
 * It holds the Win32 and MSVC functions that extension sources written for IIS call.
 *
 * The last-error slot. The server binary defines GetLastError/SetLastError itself (src/win32.c)
 * and exports them; an extension loaded into it, and this library, resolve both names to the
 * server's definitions (the executable comes first in the lookup order), so the server, the
 * library and every extension share one slot per thread. The definitions here are used only
 * where no server is around: the runtime's own unit tests, or a tool that loads an extension
 * by itself. */
#include <windows.h>

static __thread DWORD last_error;

__attribute__((visibility("default"))) DWORD WINAPI GetLastError(void)
{
    return last_error;
}

__attribute__((visibility("default"))) VOID WINAPI SetLastError(DWORD dwErrCode)
{
    last_error = dwErrCode;
}
