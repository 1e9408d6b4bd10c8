/* filter_ini.h: what the example filters share: their INI file, found next to the filter's own
 * file as Windows filters find theirs (GetModuleFileName of the HINSTANCE DllMain received, the
 * extension replaced by ".ini"), and the trimmed `name = value` lines of one of its sections
 * (GetPrivateProfileSection, from libisapi). Compiles as C and as C++. */
#ifndef ISAPI_EXAMPLE_FILTER_INI_H
#define ISAPI_EXAMPLE_FILTER_INI_H

#include <windows.h>

#include <string.h>

/* The path of module with its extension replaced by ".ini". */
static inline BOOL IniPathOfModule(HINSTANCE module, LPSTR path, DWORD size)
{
    DWORD n = GetModuleFileName(module, path, size);
    if (n == 0 || n >= size)
        return FALSE;
    LPSTR sep = strrchr(path, '\\'), slash = strrchr(path, '/');
    if (sep == NULL || (slash != NULL && slash > sep))
        sep = slash;
    LPSTR dot = strrchr(path, '.');
    if (dot == NULL || (sep != NULL && dot < sep))
        dot = path + n;
    if ((DWORD)(dot - path) + sizeof ".ini" > size)
        return FALSE;
    lstrcpyA(dot, ".ini");
    return TRUE;
}

static inline void TrimBlanks(LPSTR s)
{
    size_t len = strlen(s), start = 0;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    while (s[start] == ' ' || s[start] == '\t')
        start++;
    memmove(s, s + start, len - start + 1);
}

/* Called per line of a section: the name and value trimmed (value NULL for a line without
 * '='); FALSE stops the walk. */
typedef BOOL (*INI_LINE_FN)(LPSTR name, LPSTR value, void *ctx);

/* Walks the lines of [sectionName] in iniPath, in file order. */
static inline void ForEachIniLine(LPCSTR iniPath, LPCSTR sectionName, INI_LINE_FN fn, void *ctx)
{
    static CHAR section[32768]; /* one section at a time: filters load on one thread */
    DWORD n = GetPrivateProfileSection(sectionName, section, sizeof section, iniPath);
    LPSTR next;
    for (LPSTR line = section; n > 0 && *line != '\0'; line = next) {
        next = line + strlen(line) + 1; /* before the line is cut at its '=' */
        LPSTR eq = strchr(line, '=');
        if (eq != NULL) {
            *eq = '\0';
            TrimBlanks(eq + 1);
        }
        TrimBlanks(line);
        if (!fn(line, eq != NULL ? eq + 1 : NULL, ctx))
            break;
    }
}

#endif
