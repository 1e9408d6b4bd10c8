/* wildcard: a wildcard application map extension (IIS 6 style) that sees every request below its
 * prefix and hands it on to the server with HSE_REQ_EXEC_URL.
 *
 *   isapid --map /\*=wildcard.so        every URL of the site goes through it (the shell
 *                                       sees a slash and a star; --map /app/\*=... for one prefix)
 *
 * What it does with each request:
 *   - notes it in the access log line (HSE_APPEND_LOG_PARAMETER "wildcard=seen", and the
 *     child's status when it is over);
 *   - rewrites URLs under /legacy/ to the same URL without that prefix (/legacy/a.html?x=1 is
 *     served as /a.html?x=1);
 *   - hands every other URL back unchanged (pszUrl NULL), with
 *     HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR so that the request goes on to the next wildcard
 *     map or to the normal rules (static file, script directory, .EXT map) instead of coming
 *     back here.
 * EXEC_URL is always asynchronous: the completion registered with HSE_REQ_IO_COMPLETION runs once
 * the child's response (which is the client's response) is out; it reads the child's status with
 * HSE_REQ_GET_EXEC_URL_STATUS and ends the session.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags isapi) -o wildcard.so wildcard.c */
#include <windows.h>
#include <httpext.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEGACY "/legacy/"

BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "isapid wildcard map example", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}

static VOID WINAPI child_done(EXTENSION_CONTROL_BLOCK *pECB, PVOID pContext, DWORD cbIO,
                              DWORD dwError)
{
    HSE_EXEC_URL_STATUS status;
    char note[96];
    DWORD done = HSE_STATUS_SUCCESS;
    (void)pContext;
    (void)cbIO;
    if (pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_GET_EXEC_URL_STATUS, &status, NULL,
                                    NULL)) {
        snprintf(note, sizeof note, " child=%u", (unsigned)status.uHttpStatusCode);
        pECB->ServerSupportFunction(pECB->ConnID, HSE_APPEND_LOG_PARAMETER, note, NULL, NULL);
    }
    if (dwError != ERROR_SUCCESS)
        done = HSE_STATUS_ERROR;
    pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_DONE_WITH_SESSION, &done, NULL, NULL);
}

DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)
{
    char url[2048], url_name[] = "HTTP_URL";
    DWORD size = sizeof url;
    HSE_EXEC_URL_INFO exec;

    pECB->ServerSupportFunction(pECB->ConnID, HSE_APPEND_LOG_PARAMETER, (LPVOID) "wildcard=seen",
                                NULL, NULL);
    memset(&exec, 0, sizeof exec);
    exec.dwExecUrlFlags = HSE_EXEC_URL_IGNORE_CURRENT_INTERCEPTOR;

    /* HTTP_URL is the URL as the client sent it, query included and still %-encoded: the
     * rewritten URL is one the server can decode again. (URL, the decoded path of the requested
     * resource, would lose the difference between "?" and "%3F".) */
    if (pECB->GetServerVariable(pECB->ConnID, url_name, url, &size) &&
        strncmp(url, LEGACY, strlen(LEGACY)) == 0) {
        size_t skip = strlen(LEGACY) - 1; /* keeps the '/' */
        memmove(url, url + skip, strlen(url + skip) + 1);
        exec.pszUrl = url; /* copied by the server during the call */
    }

    if (!pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_IO_COMPLETION, (LPVOID)child_done, NULL,
                                     NULL) ||
        !pECB->ServerSupportFunction(pECB->ConnID, HSE_REQ_EXEC_URL, &exec, NULL, NULL))
        return HSE_STATUS_ERROR;
    return HSE_STATUS_PENDING;
}

BOOL WINAPI TerminateExtension(DWORD dwFlags)
{
    (void)dwFlags;
    return TRUE; /* nothing held between requests */
}
