/* hello: the smallest complete ISAPI extension.
 *
 * Every request gets "Hello, world!\n" as text/plain. The response carries its own
 * Content-Length, so the connection can stay open for the next request.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o hello.so hello.c */
#include <windows.h>
#include <httpext.h>

#include <string.h>

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid hello example", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    static const char status[] = "200 OK";
    static const char headers[] = "Content-Type: text/plain\r\n"
                                  "Content-Length: 14\r\n"
                                  "\r\n";
    static const char body[] = "Hello, world!\n";

    HSE_SEND_HEADER_EX_INFO header;
    header.pszStatus = status;
    header.cchStatus = (DWORD)strlen(status);
    header.pszHeader = headers;
    header.cchHeader = (DWORD)strlen(headers);
    header.fKeepConn = TRUE;

    pECB->dwHttpStatusCode = 200;
    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_SEND_RESPONSE_HEADER_EX, &header,
                                     NULL, NULL))
        return HSE_STATUS_ERROR; /* GetLastError() says why; the server logs the failure */

    /* A synchronous WriteClient may send less than asked: loop until all is out. The buffer
     * is not written to; the ABI's pointer type is simply not const. */
    const char *p = body;
    DWORD left = (DWORD)strlen(body);
    while (left > 0) {
        DWORD n = left;
        if (!pECB->WriteClient(pECB->ConnID, (LPVOID)p, &n, HSE_IO_SYNC))
            return HSE_STATUS_ERROR;
        if (n == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return HSE_STATUS_ERROR;
        }
        p += n;
        left -= n;
    }
    return HSE_STATUS_SUCCESS;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags; /* nothing to release; never refuse an unload */
    return TRUE;
}
