/* libisapi: GetModuleFileName, GetModuleHandleEx, LoadLibrary/GetProcAddress/FreeLibrary,
 * OutputDebugString. libisapi itself is the loaded module the tests look at. */
#include <windows.h>

#include "check.h"

static BOOL ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void test_module_of_address_and_file_name(void)
{
    HMODULE lib = NULL;
    /* An address inside libisapi (one of its functions) names libisapi. */
    CHECK(GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                             (LPCSTR)(void *)&GetTickCount, &lib));
    CHECK(lib != NULL);
    char path[MAX_PATH];
    DWORD len = GetModuleFileNameA(lib, path, sizeof path);
    CHECK(len > 0 && len == strlen(path));
    CHECK(path[0] == '/');
    CHECK(ends_with(path, "/libisapi.so"));

    /* Truncation as Windows: nSize back, NUL-terminated, ERROR_INSUFFICIENT_BUFFER. */
    char small[8];
    memset(small, 'x', sizeof small);
    SetLastError(0);
    CHECK_INT(GetModuleFileNameA(lib, small, sizeof small), sizeof small);
    CHECK_INT(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK(small[7] == '\0' && strncmp(small, path, 7) == 0);
    /* Exactly the length: no room for the NUL, so truncated too. */
    char *exact = malloc(len);
    CHECK_INT(GetModuleFileNameA(lib, exact, len), len);
    CHECK_INT(GetLastError(), ERROR_INSUFFICIENT_BUFFER);
    CHECK(exact[len - 1] == '\0');
    free(exact);

    /* An address in the test program: the executable, the same as hModule NULL. */
    HMODULE self = NULL;
    CHECK(GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                             (LPCSTR)(void *)&test_module_of_address_and_file_name, &self));
    char exe[MAX_PATH], exe_by_handle[MAX_PATH];
    CHECK(GetModuleFileNameA(NULL, exe, sizeof exe) > 0);
    CHECK(ends_with(exe, "/test_module"));
    CHECK(GetModuleFileNameA(self, exe_by_handle, sizeof exe_by_handle) > 0);
    CHECK_STR(exe_by_handle, exe);

    /* Without UNCHANGED_REFCOUNT the caller holds a reference: FreeLibrary returns it. */
    HMODULE counted = NULL;
    CHECK(GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCSTR)(void *)&GetTickCount, &counted));
    CHECK(counted == lib);
    CHECK(FreeLibrary(counted));
}

static void test_bad_input(void)
{
    char path[MAX_PATH];
    int on_stack;
    SetLastError(0);
    CHECK_INT(GetModuleFileNameA((HMODULE)&on_stack, path, sizeof path), 0);
    CHECK_INT(GetLastError(), ERROR_MOD_NOT_FOUND);
    CHECK_INT(GetModuleFileNameA(NULL, NULL, 10), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    HMODULE h = (HMODULE)1;
    CHECK(!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, NULL, &h));
    CHECK(h == NULL);
    CHECK(!GetModuleHandleExA(0x100, NULL, &h));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(!GetModuleHandleExA(0, NULL, NULL));
    CHECK(!FreeLibrary(NULL));
    CHECK(!FreeLibrary((HMODULE)&on_stack));
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(GetProcAddress((HMODULE)&on_stack, "GetTickCount") == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(LoadLibraryA(NULL) == NULL);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(LoadLibraryA("no-such-library-here.dll") == NULL);
    CHECK_INT(GetLastError(), ERROR_MOD_NOT_FOUND);
    CHECK(DisableThreadLibraryCalls(NULL));
    OutputDebugStringA(NULL); /* ignored */
}

static void test_load_library(void)
{
    /* "libisapi.dll" from libisapi's own directory maps to libisapi.so beside it. */
    HMODULE lib = GetModuleHandleA("libisapi.so");
    CHECK(lib != NULL);
    char path[MAX_PATH];
    CHECK(GetModuleFileNameA(lib, path, sizeof path) > 0);
    strcpy(strrchr(path, '.'), ".DLL");
    HMODULE loaded = LoadLibraryA(path);
    CHECK(loaded == lib);
    DWORD(WINAPI * tick)(void) = (DWORD(WINAPI *)(void))GetProcAddress(loaded, "GetTickCount");
    CHECK(tick == &GetTickCount);
    SetLastError(0);
    CHECK(GetProcAddress(loaded, "NoSuchExport") == NULL);
    CHECK_INT(GetLastError(), ERROR_PROC_NOT_FOUND);
    CHECK(GetProcAddress(loaded, (LPCSTR)(uintptr_t)1) == NULL); /* an ordinal */
    CHECK(FreeLibrary(loaded));
    CHECK(GetModuleHandleA("no-such-module.dll") == NULL);
}

static void test_output_debug_string(void)
{
    /* Rate-limited: a burst does not block or crash; what reaches stderr is checked by the
     * integration test. */
    for (int i = 0; i < 50; i++)
        OutputDebugStringA("test_module burst line\r\n");
}

int main(void)
{
    test_module_of_address_and_file_name();
    test_bad_input();
    test_load_library();
    test_output_debug_string();
    return check_report("module");
}
