/* filter_basicauth: an ISAPI filter that checks HTTP Basic credentials against a file.
 *
 * filter_basicauth.ini, next to the filter's own file (GetModuleFileName of the handle DllMain
 * receives, the extension replaced by ".ini"), read once when the filter loads:
 *
 *     [users]
 *     alice = secret
 *     [protect]
 *     prefix = /private/
 *     realm = isapid example
 *
 * In AUTHENTICATION (the server has decoded the Authorization header; an empty user is an
 * anonymous request) a request whose URL starts with the protected prefix (compared without
 * regard to letter case, as IIS compares URLs) must carry a user of [users] and its password;
 * user names match without regard to case (INI keys do), passwords exactly. URLs outside the
 * prefix pass as they are, anonymous or not.
 *
 * A request that fails gets 401 with `WWW-Authenticate: Basic realm="..."`. The filter does
 * that with SF_REQ_ADD_HEADERS_ON_DENIAL and SF_STATUS_REQ_ERROR with ERROR_ACCESS_DENIED,
 * rather than by writing its own response (SF_REQ_SEND_RESPONSE_HEADER + WriteClient +
 * SF_STATUS_REQ_FINISHED): the 401 is then the server's own, so it is framed and logged as
 * every server response is, the other filters get their ACCESS_DENIED, SEND_RESPONSE and LOG
 * notifications for it, and this filter writes no HTTP itself.
 *
 * A request that passes goes on with the credentials unchanged: the extension sees the user in
 * AUTH_USER and REMOTE_USER, AUTH_TYPE "Basic".
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags --libs isapi) -o filter_basicauth.so filter_basicauth.c
 * (libisapi provides GetModuleFileName and GetPrivateProfileSection). */
#include <windows.h>
#include <httpfilt.h>

#include "filter_ini.h"

#include <stdio.h>
#include <string.h>

#define MAX_USERS 256

typedef struct {
    char name[SF_MAX_USERNAME];
    char password[SF_MAX_PASSWORD];
} BASIC_USER;

static HINSTANCE g_hInstance;
static BASIC_USER g_users[MAX_USERS];
static int g_userCount;
static char g_prefix[256] = "/private/";
static char g_denialHeaders[512]; /* WWW-Authenticate line, CRLF-terminated */

BOOL WINAPI DllMain(HINSTANCE hinstDLL, DWORD fdwReason, LPVOID lpvReserved)
{
    UNREFERENCED_PARAMETER(lpvReserved);
    if (fdwReason == DLL_PROCESS_ATTACH)
        g_hInstance = hinstDLL;
    return TRUE;
}

static BOOL AddUser(LPSTR name, LPSTR password, void *ctx)
{
    UNREFERENCED_PARAMETER(ctx);
    if (password == NULL || name[0] == '\0')
        return TRUE;
    BASIC_USER *user = &g_users[g_userCount];
    lstrcpynA(user->name, name, sizeof user->name);
    lstrcpynA(user->password, password, sizeof user->password);
    return ++g_userCount < MAX_USERS;
}

static void LoadUsers(LPCSTR iniPath)
{
    g_userCount = 0;
    ForEachIniLine(iniPath, "users", AddUser, NULL);
}

BOOL WINAPI GetFilterVersion(HTTP_FILTER_VERSION *pVer)
{
    CHAR iniPath[MAX_PATH], realm[128];
    pVer->dwFilterVersion = HTTP_FILTER_REVISION;
    lstrcpynA(pVer->lpszFilterDesc, "isapid Basic authentication example filter",
              SF_MAX_FILTER_DESC_LEN);
    pVer->dwFlags = SF_NOTIFY_ORDER_MEDIUM | SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT |
                    SF_NOTIFY_AUTHENTICATION;
    if (!IniPathOfModule(g_hInstance, iniPath, sizeof iniPath))
        return FALSE;
    LoadUsers(iniPath);
    if (g_userCount == 0)
        OutputDebugString("filter_basicauth: no [users] in filter_basicauth.ini: every request under the prefix is refused");
    GetPrivateProfileString("protect", "prefix", "/private/", g_prefix, sizeof g_prefix, iniPath);
    GetPrivateProfileString("protect", "realm", "isapid", realm, sizeof realm, iniPath);
    /* A quote, backslash or line break in the realm would break the header: blanks instead. */
    for (LPSTR p = realm; *p != '\0'; p++)
        if (*p == '"' || *p == '\\' || *p == '\r' || *p == '\n')
            *p = ' ';
    _snprintf_s(g_denialHeaders, sizeof g_denialHeaders, _TRUNCATE,
                "WWW-Authenticate: Basic realm=\"%s\"\r\n", realm);
    return TRUE;
}

/* Compares all of both strings, so the time taken does not tell how much of a guess was right. */
static BOOL SamePassword(LPCSTR a, LPCSTR b)
{
    size_t la = strlen(a), lb = strlen(b), n = la > lb ? la : lb;
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)(i < lb ? b[i] : 0);
    return diff == 0;
}

static BOOL CredentialsValid(LPCSTR user, LPCSTR password)
{
    for (int i = 0; i < g_userCount; i++)
        if (lstrcmpiA(g_users[i].name, user) == 0)
            return SamePassword(g_users[i].password, password);
    return FALSE;
}

static DWORD OnAuthentication(PHTTP_FILTER_CONTEXT pfc, PHTTP_FILTER_AUTHENT pAuth)
{
    CHAR szUrl[4096];
    DWORD cbUrl = sizeof szUrl;
    size_t prefixLen = strlen(g_prefix);

    /* URL: the path the server maps (decoded, without the query; after any rewriting). */
    if (!pfc->GetServerVariable(pfc, (LPSTR) "URL", szUrl, &cbUrl))
        return SF_STATUS_REQ_ERROR; /* the server's last error says why */
    if (prefixLen == 0 || _strnicmp(szUrl, g_prefix, prefixLen) != 0)
        return SF_STATUS_REQ_NEXT_NOTIFICATION;
    if (pAuth->pszUser[0] != '\0' && CredentialsValid(pAuth->pszUser, pAuth->pszPassword))
        return SF_STATUS_REQ_NEXT_NOTIFICATION;

    if (!pfc->ServerSupportFunction(pfc, SF_REQ_ADD_HEADERS_ON_DENIAL, g_denialHeaders, 0, 0))
        return SF_STATUS_REQ_ERROR;
    SetLastError(ERROR_ACCESS_DENIED);
    return SF_STATUS_REQ_ERROR;
}

DWORD WINAPI HttpFilterProc(PHTTP_FILTER_CONTEXT pfc, DWORD NotificationType, LPVOID pvNotification)
{
    if (NotificationType == SF_NOTIFY_AUTHENTICATION)
        return OnAuthentication(pfc, (PHTTP_FILTER_AUTHENT)pvNotification);
    return SF_STATUS_REQ_NEXT_NOTIFICATION;
}

BOOL WINAPI TerminateFilter(DWORD dwFlags)
{
    UNREFERENCED_PARAMETER(dwFlags);
    SecureZeroMemory(g_users, sizeof g_users);
    return TRUE;
}
