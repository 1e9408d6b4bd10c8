/* libisapi: the runtime library ISAPI extensions link (isapi-cc links it; docs/porting.md).
 * It holds the Win32 and MSVC functions that extension sources written for IIS call.
 *
 * The last-error slot, one per thread. The server is built with this file too (CMakeLists.txt)
 * and exports its definitions; an extension loaded into it, and this library, resolve both
 * names to the server's (the executable comes first in the lookup order), so the server, the
 * library and every extension share one slot per thread: a callback that fails sets it, and
 * the extension reads it on the same thread. Without a server around (the runtime's own unit
 * tests, a tool that loads an extension by itself) this library's definitions are the ones. */
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
