/* libisapi: the registry stand-in, where every key is absent (docs/porting.md, "Configuration
 * files and the registry"): the codes each Reg function answers, and bad arguments. */
#include <windows.h>

#include "check.h"

static void test_registry(void)
{
    HKEY key = (HKEY)1;
    CHECK_INT(RegOpenKeyEx(HKEY_LOCAL_MACHINE, "SOFTWARE\\Vendor", 0, KEY_READ, &key), ERROR_FILE_NOT_FOUND);
    CHECK(key == NULL);
    DWORD type = 0, size = 4, value = 0;
    CHECK_INT(RegQueryValueEx(HKEY_LOCAL_MACHINE, "x", NULL, &type, (LPBYTE)&value, &size), ERROR_FILE_NOT_FOUND);
    CHECK_INT(RegQueryValueEx(HKEY_LOCAL_MACHINE, "x", NULL, &type, (LPBYTE)&value, NULL), ERROR_INVALID_PARAMETER);
    CHECK_INT(RegCreateKeyEx(HKEY_CURRENT_USER, "S", 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL),
              ERROR_ACCESS_DENIED);
    CHECK_INT(RegSetValueEx(HKEY_CURRENT_USER, "v", 0, REG_DWORD, (const BYTE *)&value, 4), ERROR_ACCESS_DENIED);
    CHECK_INT(RegEnumKeyEx(HKEY_LOCAL_MACHINE, 0, NULL, NULL, NULL, NULL, NULL, NULL), ERROR_NO_MORE_ITEMS);
    CHECK_INT(RegCloseKey(HKEY_LOCAL_MACHINE), ERROR_SUCCESS);
    CHECK_INT(RegCloseKey((HKEY)0x1234), ERROR_INVALID_HANDLE);
    CHECK_INT(RegOpenKeyEx(NULL, "x", 0, KEY_READ, &key), ERROR_INVALID_HANDLE);
    CHECK_INT(RegOpenKeyEx(HKEY_LOCAL_MACHINE, "x", 0, KEY_READ, NULL), ERROR_INVALID_PARAMETER);
}

int main(void)
{
    test_registry();
    return check_report("registry");
}
