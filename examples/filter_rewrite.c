/* filter_rewrite: an ISAPI filter that rewrites URL prefixes, the way servlet connectors send
 * matching URLs to their extension.
 *
 * Rules come from filter_rewrite.ini, next to the filter's own file (found as Windows filters
 * find it: the module handle DllMain receives, GetModuleFileName, the extension replaced by
 * ".ini"), read once when the filter loads:
 *
 *     [rules]
 *     /old/ = /new/
 *     /app/ = /scripts/hello.dll/
 *
 * In PREPROC_HEADERS the first rule (in file order) whose left side is a prefix of the request
 * URL replaces that prefix with its right side; the query string, being part of "url", is kept.
 * A rule may point into an extension, so /app/x?y=1 runs /scripts/hello.dll/x?y=1 (PATH_INFO
 * "/x"). A rewritten request carries its original URL as the request header "X-Original-URL:"
 * (an extension reads it as HTTP_X_ORIGINAL_URL); a client's own X-Original-URL is removed from
 * every request, so the header can be believed. The LOG notification points pszTarget at the
 * original URL's path, so the access log shows what the client asked for.
 *
 * Per-connection state (pFilterContext) lives in AllocMem memory, which the server frees after
 * END_OF_NET_SESSION: nothing to free here.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags --libs isapi) -o filter_rewrite.so filter_rewrite.c
 * (libisapi provides GetModuleFileName and GetPrivateProfileSection). */
#include <windows.h>
#include <httpfilt.h>

#include "filter_ini.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RULES 64
#define URL_BUFFER 4096

typedef struct {
    char from[256];
    char to[256];
} REWRITE_RULE;

static HINSTANCE g_hInstance;
static REWRITE_RULE g_rules[MAX_RULES];
static int g_ruleCount;

/* What one connection's current request needs at LOG time. */
typedef struct {
    char *pszOriginalPath; /* AllocMem; NULL when the request was not rewritten */
} REWRITE_CONTEXT;

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    UNREFERENCED_PARAMETER(lpvReserved);
    if (fdwReason == DLL_PROCESS_ATTACH)
        g_hInstance = hinstDLL;
    return TRUE;
}

static BOOL AddRule(LPSTR from, LPSTR to, void *ctx)
{
    UNREFERENCED_PARAMETER(ctx);
    if (to == NULL)
        return TRUE;
    if (from[0] != '/' || to[0] != '/') {
        OutputDebugString("filter_rewrite: a rule's two sides must start with '/': skipped");
        return TRUE;
    }
    REWRITE_RULE *rule = &g_rules[g_ruleCount];
    lstrcpynA(rule->from, from, sizeof rule->from);
    lstrcpynA(rule->to, to, sizeof rule->to);
    return ++g_ruleCount < MAX_RULES;
}

static void LoadRules(LPCSTR iniPath)
{
    g_ruleCount = 0;
    ForEachIniLine(iniPath, "rules", AddRule, NULL);
}

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *pVer)
{
    CHAR iniPath[MAX_PATH];
    pVer->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(pVer->lpszFilterDesc, "isapid URL rewrite example filter", SF_MAX_FILTER_DESC_LEN);
    /* HIGH: rewrite before authenticating and other filters look at the URL. */
    pVer->dwFlags = SF_NOTIFY_ORDER_HIGH | SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT |
                    SF_NOTIFY_PREPROC_HEADERS | SF_NOTIFY_LOG;
    if (!IniPathOfModule(g_hInstance, iniPath, sizeof iniPath))
        return FALSE;
    LoadRules(iniPath);
    if (g_ruleCount == 0)
        OutputDebugString("filter_rewrite: no [rules] in filter_rewrite.ini: every URL passes unchanged");
    return TRUE;
}

static REWRITE_CONTEXT *ContextOf(PHTTP_FILTER_CONTEXT pfc)
{
    if (pfc->pFilterContext == NULL) {
        REWRITE_CONTEXT *ctx = (REWRITE_CONTEXT *)pfc->AllocMem(pfc, sizeof *ctx, 0);
        if (ctx == NULL)
            return NULL;
        ctx->pszOriginalPath = NULL;
        pfc->pFilterContext = ctx;
    }
    return (REWRITE_CONTEXT *)pfc->pFilterContext;
}

static DWORD OnPreprocHeaders(PHTTP_FILTER_CONTEXT pfc, PHTTP_FILTER_PREPROC_HEADERS pHeaders)
{
    CHAR szUrl[URL_BUFFER], szNew[URL_BUFFER];
    DWORD cbUrl = sizeof szUrl;
    REWRITE_CONTEXT *ctx = ContextOf(pfc);
    if (ctx == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return SF_STATUS_REQ_ERROR;
    }
    ctx->pszOriginalPath = NULL;
    /* Only this filter sets the header: a client's copy is dropped (absent is fine). */
    pHeaders->SetHeader(pfc, (LPSTR) "X-Original-URL:", (LPSTR) "");
    if (!pHeaders->GetHeader(pfc, (LPSTR) "url", szUrl, &cbUrl))
        return SF_STATUS_REQ_NEXT_NOTIFICATION; /* longer than any rule is meant for */

    for (int i = 0; i < g_ruleCount; i++) {
        const REWRITE_RULE *rule = &g_rules[i];
        size_t fromLen = strlen(rule->from), toLen = strlen(rule->to);
        if (strncmp(szUrl, rule->from, fromLen) != 0)
            continue;
        if (toLen + strlen(szUrl + fromLen) >= sizeof szNew)
            return SF_STATUS_REQ_NEXT_NOTIFICATION;
        memcpy(szNew, rule->to, toLen);
        lstrcpyA(szNew + toLen, szUrl + fromLen);

        size_t pathLen = strcspn(szUrl, "?");
        ctx->pszOriginalPath = (char *)pfc->AllocMem(pfc, (DWORD)pathLen + 1, 0);
        if (ctx->pszOriginalPath != NULL) {
            memcpy(ctx->pszOriginalPath, szUrl, pathLen);
            ctx->pszOriginalPath[pathLen] = '\0';
        }
        if (!pHeaders->SetHeader(pfc, (LPSTR) "X-Original-URL:", szUrl) ||
            !pHeaders->SetHeader(pfc, (LPSTR) "url", szNew))
            return SF_STATUS_REQ_ERROR; /* the server's last error says why */
        /* NEXT, not HANDLED: lower filters (an authenticator) still see the request. */
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}

DWORD WINAPI HttpFilterProc(PHTTP_FILTER_CONTEXT pfc, DWORD NotificationType, LPVOID pvNotification)
{
    switch (NotificationType) {
    case SF_NOTIFY_PREPROC_HEADERS:
        return OnPreprocHeaders(pfc, (PHTTP_FILTER_PREPROC_HEADERS)pvNotification);
    case SF_NOTIFY_LOG: {
        PHTTP_FILTER_LOG pLog = (PHTTP_FILTER_LOG)pvNotification;
        REWRITE_CONTEXT *ctx = (REWRITE_CONTEXT *)pfc->pFilterContext;
        if (ctx != NULL && ctx->pszOriginalPath != NULL)
            pLog->pszTarget = ctx->pszOriginalPath; /* AllocMem: valid as long as needed */
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
    default:
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    }
}

BOOL WINAPI TerminateFilter(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    return TRUE;
}
