/* libisapi: modules (GetModuleFileName, GetModuleHandleEx, LoadLibrary, GetProcAddress,
 * FreeLibrary) over the dynamic linker, and OutputDebugString.
 *
 * An HMODULE is a dlopen handle, never dereferenced here: the server's DllMain handle and
 * LoadLibrary's are the same kind, so GetModuleFileName(hInstance) works for both. A
 * GetModuleHandleEx result without UNCHANGED_REFCOUNT is an extra dlopen reference, which
 * the caller owns and returns with FreeLibrary. NULL stands for the executable. */
#define _GNU_SOURCE
#include <windows.h>

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The executable's path (/proc/self/exe) into buf; false if unreadable. */
static bool executable_path(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* The loaded module whose handle h is, or NULL. glibc's dlopen handle is the module's
 * link_map; dlinfo/dlsym/dlclose trust it blindly, so a handle is first looked up in the
 * process's list of loaded modules (the main program's map and its l_next chain) and a
 * value not found there is never given to the loader. */
static struct link_map *loaded_module(HMODULE h)
{
    void *main_program = dlopen(NULL, RTLD_NOW);
    struct link_map *map = NULL;
    if (main_program == NULL || dlinfo(main_program, RTLD_DI_LINKMAP, &map) != 0)
        map = NULL;
    if (main_program)
        dlclose(main_program);
    for (; map != NULL; map = map->l_next)
        if ((void *)map == (void *)h)
            return map;
    return NULL;
}

/* Copy the path as Windows does: the length on success; nSize, truncated and NUL-terminated
 * with ERROR_INSUFFICIENT_BUFFER when it does not fit (nSize 0: nothing written). */
static DWORD copy_module_path(const char *path, LPSTR out, DWORD size)
{
    size_t len = strlen(path);
    if (len < size) {
        memcpy(out, path, len + 1);
        SetLastError(ERROR_SUCCESS);
        return (DWORD)len;
    }
    if (size > 0) {
        memcpy(out, path, size - 1);
        out[size - 1] = '\0';
    }
    SetLastError(ERROR_INSUFFICIENT_BUFFER);
    return size;
}

DWORD WINAPI GetModuleFileNameA(HMODULE hModule, LPSTR lpFilename, DWORD nSize)
{
    if (lpFilename == NULL && nSize > 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return 0;
    }
    if (hModule == NULL) {
        char exe[PATH_MAX];
        if (!executable_path(exe, sizeof exe)) {
            SetLastError(ERROR_MOD_NOT_FOUND);
            return 0;
        }
        return copy_module_path(exe, lpFilename, nSize);
    }
    struct link_map *map = loaded_module(hModule);
    if (map == NULL) {
        SetLastError(ERROR_MOD_NOT_FOUND);
        return 0;
    }
    if (map->l_name == NULL || map->l_name[0] == '\0') { /* the main program's own map */
        char exe[PATH_MAX];
        if (!executable_path(exe, sizeof exe)) {
            SetLastError(ERROR_MOD_NOT_FOUND);
            return 0;
        }
        return copy_module_path(exe, lpFilename, nSize);
    }
    return copy_module_path(map->l_name, lpFilename, nSize);
}

/* A new dlopen reference to the module holding addr, or NULL. dladdr1 names the module's
 * link_map, which is its handle; dlopen of its name (or of NULL for the main program, whose
 * map has an empty name) takes the reference and returns that same handle. */
static void *module_of_address(const void *addr)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (addr == NULL || dladdr1(addr, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        return NULL;
    const bool main_program = map->l_name == NULL || map->l_name[0] == '\0';
    return dlopen(main_program ? NULL : map->l_name, RTLD_NOW | (main_program ? 0 : RTLD_NOLOAD));
}

/* "dir/name.dll" → "dir/name.so" (any case of ".dll"); other names unchanged. Owned by caller. */
static char *shared_object_name(const char *name)
{
    size_t len = strlen(name);
    if (len > 4 && strcasecmp(name + len - 4, ".dll") == 0) {
        char *so = malloc(len);
        if (so) {
            memcpy(so, name, len - 4);
            memcpy(so + len - 4, ".so", 4);
        }
        return so;
    }
    return strdup(name);
}

static void *open_module(const char *name, int flags)
{
    char *so = shared_object_name(name);
    if (so == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    void *h = dlopen(so, flags);
    if (h == NULL && strcmp(so, name) != 0) /* a real .dll-named shared object */
        h = dlopen(name, flags);
    free(so);
    return h;
}

BOOL WINAPI GetModuleHandleExA(DWORD dwFlags, LPCSTR lpModuleName, HMODULE *phModule)
{
    const DWORD known = GET_MODULE_HANDLE_EX_FLAG_PIN | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT |
                        GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS;
    if (phModule == NULL || (dwFlags & ~known) != 0 ||
        ((dwFlags & GET_MODULE_HANDLE_EX_FLAG_PIN) && (dwFlags & GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT))) {
        if (phModule)
            *phModule = NULL;
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    *phModule = NULL;
    void *h;
    if (dwFlags & GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS)
        h = module_of_address(lpModuleName);
    else if (lpModuleName == NULL)
        h = dlopen(NULL, RTLD_NOW);
    else
        h = open_module(lpModuleName, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) {
        SetLastError(ERROR_MOD_NOT_FOUND);
        return FALSE;
    }
    /* dlclose of a handle still referenced elsewhere only drops our reference; the handle
     * value stays valid while the module stays loaded, as Windows' unchanged count does. */
    if (dwFlags & GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT)
        dlclose(h);
    *phModule = (HMODULE)h;
    return TRUE;
}

HMODULE WINAPI GetModuleHandleA(LPCSTR lpModuleName)
{
    HMODULE h = NULL;
    if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, lpModuleName, &h))
        return NULL;
    return h;
}

HMODULE WINAPI LoadLibraryExA(LPCSTR lpLibFileName, HANDLE hFile, DWORD dwFlags)
{
    if (lpLibFileName == NULL || lpLibFileName[0] == '\0' || hFile != NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    (void)dwFlags; /* search-path flags: dlopen's own search applies */
    void *h = open_module(lpLibFileName, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        SetLastError(ERROR_MOD_NOT_FOUND);
        return NULL;
    }
    return (HMODULE)h;
}

HMODULE WINAPI LoadLibraryA(LPCSTR lpLibFileName)
{
    return LoadLibraryExA(lpLibFileName, NULL, 0);
}

FARPROC WINAPI GetProcAddress(HMODULE hModule, LPCSTR lpProcName)
{
    /* An ordinal (a value below 64 Ki in place of a name) has no meaning without a .def. */
    if (loaded_module(hModule) == NULL) {
        SetLastError(ERROR_INVALID_HANDLE);
        return NULL;
    }
    if (lpProcName == NULL || (uintptr_t)lpProcName < 0x10000) {
        SetLastError(ERROR_PROC_NOT_FOUND);
        return NULL;
    }
    dlerror();
    void *sym = dlsym(hModule, lpProcName);
    if (sym == NULL) {
        SetLastError(ERROR_PROC_NOT_FOUND);
        return NULL;
    }
    FARPROC fn;
    memcpy(&fn, &sym, sizeof fn); /* object → function pointer, as POSIX allows */
    return fn;
}

BOOL WINAPI FreeLibrary(HMODULE hLibModule)
{
    if (loaded_module(hLibModule) == NULL || dlclose(hLibModule) != 0) {
        SetLastError(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    return TRUE;
}

BOOL WINAPI DisableThreadLibraryCalls(HMODULE hLibModule)
{
    (void)hLibModule;
    return TRUE;
}

/* ---- OutputDebugString ------------------------------------------------------------------ */

/* At most DEBUG_LINES_PER_SECOND lines each second; the rest are counted and reported in
 * the next second's first line, so a chatty extension cannot flood the error log. */
enum { DEBUG_LINES_PER_SECOND = 20, DEBUG_TEXT_MAX = 1024 };
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t debug_second;
static unsigned debug_lines, debug_dropped;

VOID WINAPI OutputDebugStringA(LPCSTR lpOutputString)
{
    if (lpOutputString == NULL)
        return;
    Dl_info info;
    const char *module = "?";
    if (dladdr(__builtin_return_address(0), &info) != 0 && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        module = slash ? slash + 1 : info.dli_fname;
    }
    /* One line: trailing newlines (Windows code ends most strings with "\n") are dropped
     * and inner control characters become spaces. */
    char text[DEBUG_TEXT_MAX];
    size_t n = 0;
    for (const char *p = lpOutputString; *p && n < sizeof text - 1; p++)
        text[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
    while (n > 0 && text[n - 1] == ' ')
        n--;
    text[n] = '\0';

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&debug_lock);
    if (now.tv_sec != debug_second) {
        debug_second = now.tv_sec;
        debug_lines = 0;
    }
    if (debug_lines >= DEBUG_LINES_PER_SECOND) {
        debug_dropped++;
    } else {
        debug_lines++;
        if (debug_dropped)
            fprintf(stderr, "[debug] (%u OutputDebugString lines dropped)\n", debug_dropped);
        debug_dropped = 0;
        fprintf(stderr, "[debug] %s: %s\n", module, text);
    }
    pthread_mutex_unlock(&debug_lock);
}
