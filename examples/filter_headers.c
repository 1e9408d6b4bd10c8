/* filter_headers: an ISAPI filter that edits the headers of every response.
 *
 * filter_headers.ini, next to the filter's own file (GetModuleFileName of the handle DllMain
 * receives, the extension replaced by ".ini"), read once when the filter loads:
 *
 *     [add]
 *     X-Frame-Options = DENY
 *     Cache-Control = no-store
 *     [remove]
 *     Server
 *     X-Powered-By
 *
 * In SEND_RESPONSE, which comes for every response (a static file, a redirect, a 404, an
 * extension's head), each [add] header is set (replacing a header of that name the response
 * already has) and each [remove] header is deleted (SetHeader with an empty value). A [remove]
 * line may be a bare name or `Name =`.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags --libs isapi) -o filter_headers.so filter_headers.c
 * (libisapi provides GetModuleFileName and GetPrivateProfileSection). */
#include <windows.h>
#include <httpfilt.h>

#include "filter_ini.h"

#include <string.h>

#define MAX_HEADERS 64

typedef struct {
    char name[128]; /* with the trailing colon, as the header callbacks want it */
    char value[512];
} HEADER_EDIT;

static HINSTANCE g_hInstance;
static HEADER_EDIT g_add[MAX_HEADERS];
static int g_addCount;
static HEADER_EDIT g_remove[MAX_HEADERS];
static int g_removeCount;

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    UNREFERENCED_PARAMETER(lpvReserved);
    if (fdwReason == DLL_PROCESS_ATTACH)
        g_hInstance = hinstDLL;
    return TRUE;
}

typedef struct {
    HEADER_EDIT *edits;
    int count;
} EDIT_LIST;

static BOOL AddEdit(LPSTR name, LPSTR value, void *ctx)
{
    EDIT_LIST *list = (EDIT_LIST *)ctx;
    if (name[0] == '\0' || strpbrk(name, ": \t") != NULL) {
        OutputDebugString("filter_headers: a header name is empty or has a colon or a blank: skipped");
        return TRUE;
    }
    HEADER_EDIT *edit = &list->edits[list->count];
    lstrcpynA(edit->name, name, sizeof edit->name - 1);
    lstrcpynA(edit->value, value != NULL ? value : "", sizeof edit->value);
    lstrcatA(edit->name, ":");
    return ++list->count < MAX_HEADERS;
}

/* Reads section's `Name = value` lines (or bare names) into edits; returns how many. */
static int LoadSection(LPCSTR iniPath, LPCSTR sectionName, HEADER_EDIT *edits)
{
    EDIT_LIST list = {edits, 0};
    ForEachIniLine(iniPath, sectionName, AddEdit, &list);
    return list.count;
}

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *pVer)
{
    CHAR iniPath[MAX_PATH];
    pVer->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(pVer->lpszFilterDesc, "isapid response header example filter", SF_MAX_FILTER_DESC_LEN);
    pVer->dwFlags = SF_NOTIFY_ORDER_DEFAULT | SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT |
                    SF_NOTIFY_SEND_RESPONSE;
    if (!IniPathOfModule(g_hInstance, iniPath, sizeof iniPath))
        return FALSE;
    g_addCount = LoadSection(iniPath, "add", g_add);
    g_removeCount = LoadSection(iniPath, "remove", g_remove);
    return TRUE;
}

DWORD WINAPI HttpFilterProc(PHTTP_FILTER_CONTEXT pfc, DWORD NotificationType, LPVOID pvNotification)
{
    if (NotificationType != SF_NOTIFY_SEND_RESPONSE)
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    PHTTP_FILTER_SEND_RESPONSE pResponse = (PHTTP_FILTER_SEND_RESPONSE)pvNotification;
    for (int i = 0; i < g_removeCount; i++)
        pResponse->SetHeader(pfc, g_remove[i].name, (LPSTR) ""); /* absent already: fine */
    for (int i = 0; i < g_addCount; i++)
        if (!pResponse->SetHeader(pfc, g_add[i].name, g_add[i].value))
            OutputDebugString("filter_headers: SetHeader failed");
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}

BOOL WINAPI TerminateFilter(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    return TRUE;
}
