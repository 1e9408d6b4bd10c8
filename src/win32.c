/* The Win32 last-error slot behind GetLastError/SetLastError (declared in the SDK's
 * windows.h). Extensions resolve both from the server binary, which is linked with its
 * symbols exported, so the server and every extension share one slot per thread: a
 * callback that fails sets it, and the extension reads it on the same thread. */
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
