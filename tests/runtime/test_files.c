/* libisapi: CreateFile dispositions, ReadFile/WriteFile with and without OVERLAPPED offsets,
 * sizes, file pointers, attributes, DeleteFile, and the errno → Win32 table. */
#define _GNU_SOURCE
#include <windows.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char dir[64];
static char path[128];

static void test_errno_table(void)
{
    CHECK_INT(isapi_win32_error_from_errno(0), ERROR_SUCCESS);
    CHECK_INT(isapi_win32_error_from_errno(ENOENT), ERROR_FILE_NOT_FOUND);
    CHECK_INT(isapi_win32_error_from_errno(ENOTDIR), ERROR_PATH_NOT_FOUND);
    CHECK_INT(isapi_win32_error_from_errno(EACCES), ERROR_ACCESS_DENIED);
    CHECK_INT(isapi_win32_error_from_errno(EPERM), ERROR_ACCESS_DENIED);
    CHECK_INT(isapi_win32_error_from_errno(EMFILE), ERROR_TOO_MANY_OPEN_FILES);
    CHECK_INT(isapi_win32_error_from_errno(ENFILE), ERROR_TOO_MANY_OPEN_FILES);
    CHECK_INT(isapi_win32_error_from_errno(ENOMEM), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_INT(isapi_win32_error_from_errno(EEXIST), ERROR_FILE_EXISTS);
    CHECK_INT(isapi_win32_error_from_errno(EINVAL), ERROR_INVALID_PARAMETER);
    CHECK_INT(isapi_win32_error_from_errno(EBADF), ERROR_INVALID_HANDLE);
    CHECK_INT(isapi_win32_error_from_errno(ENOSPC), ERROR_DISK_FULL);
    CHECK_INT(isapi_win32_error_from_errno(EISDIR), ERROR_ACCESS_DENIED);
    CHECK_INT(isapi_win32_error_from_errno(ETIMEDOUT), ERROR_TIMEOUT);
    CHECK_INT(isapi_win32_error_from_errno(123456), ERROR_GEN_FAILURE);
    isapi_set_last_error_from_errno(ENOENT);
    CHECK_INT(GetLastError(), 2);

    /* The socket column: what ReadClient, WriteClient and their completions report. */
    CHECK_INT(isapi_win32_error_from_socket_errno(0), ERROR_SUCCESS);
    CHECK_INT(isapi_win32_error_from_socket_errno(-ECONNRESET), ERROR_NETNAME_DELETED);
    CHECK_INT(isapi_win32_error_from_socket_errno(EPIPE), ERROR_NETNAME_DELETED);
    CHECK_INT(isapi_win32_error_from_socket_errno(-ENOTCONN), ERROR_NETNAME_DELETED);
    CHECK_INT(isapi_win32_error_from_socket_errno(-EPROTO), ERROR_INVALID_DATA);
    CHECK_INT(isapi_win32_error_from_socket_errno(-EFBIG), ERROR_INVALID_DATA);
    CHECK_INT(isapi_win32_error_from_socket_errno(-EIO), ERROR_HANDLE_EOF);
    CHECK_INT(isapi_win32_error_from_socket_errno(-ETIMEDOUT), ERROR_TIMEOUT);
    CHECK_INT(isapi_win32_error_from_socket_errno(-ENOMEM), ERROR_NOT_ENOUGH_MEMORY);
    CHECK_INT(isapi_win32_error_from_socket_errno(-EMFILE), ERROR_TOO_MANY_OPEN_FILES);
    CHECK_INT(isapi_win32_error_from_socket_errno(-EINVAL), ERROR_INVALID_PARAMETER);
    CHECK_INT(isapi_win32_error_from_socket_errno(-123456), ERROR_WRITE_FAULT);
    /* ... and the file column for the same values stays the file meaning. */
    CHECK_INT(isapi_win32_error_from_errno(EPIPE), ERROR_BROKEN_PIPE);
    CHECK_INT(isapi_win32_error_from_errno(-ENOENT), ERROR_FILE_NOT_FOUND);
}

static void test_dispositions(void)
{
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL) ==
          INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    CHECK(CreateFileA(path, GENERIC_WRITE, 0, NULL, TRUNCATE_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);

    HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ, NULL, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    CHECK(h != INVALID_HANDLE_VALUE && h != NULL);
    CHECK((intptr_t)h >= 3); /* a descriptor, never 0 */
    DWORD n = 0;
    CHECK(WriteFile(h, "hello world", 11, &n, NULL));
    CHECK_INT(n, 11);
    CHECK(FlushFileBuffers(h));
    CHECK(CloseHandle(h));

    CHECK(CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_FILE_EXISTS);

    h = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS, 0, NULL);
    CHECK_INT(GetLastError(), ERROR_ALREADY_EXISTS);
    DWORD high = 1;
    CHECK_INT(GetFileSize(h, &high), 11);
    CHECK_INT(high, 0);
    char buf[32] = {0};
    CHECK(!WriteFile(h, "x", 1, &n, NULL)); /* read-only handle */
    CHECK_INT(GetLastError(), ERROR_ACCESS_DENIED);
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL));
    CHECK_INT(n, 11);
    CHECK_STR(buf, "hello world");
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL)); /* EOF without OVERLAPPED: TRUE, 0 bytes */
    CHECK_INT(n, 0);
    CloseHandle(h);

    h = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    CHECK_INT(GetLastError(), ERROR_ALREADY_EXISTS);
    CHECK_INT(GetFileSize(h, NULL), 0); /* truncated */
    CHECK(WriteFile(h, "abc", 3, &n, NULL));
    CloseHandle(h);
    h = CreateFileA(path, GENERIC_WRITE, 0, NULL, TRUNCATE_EXISTING, 0, NULL);
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    CHECK_INT(GetFileSize(h, NULL), 0);
    CloseHandle(h);

    /* The FILE_GENERIC_* access masks map as GENERIC_READ/GENERIC_WRITE do. */
    h = CreateFileA(path, FILE_GENERIC_WRITE, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CHECK(WriteFile(h, "xyz", 3, &n, NULL));
    CloseHandle(h);
    h = CreateFileA(path, FILE_GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL));
    CHECK_STR(buf, "xyz");
    CHECK(!WriteFile(h, "x", 1, &n, NULL));
    CHECK_INT(GetLastError(), ERROR_ACCESS_DENIED);
    CloseHandle(h);
    h = CreateFileA(path, FILE_ALL_ACCESS, 0, NULL, TRUNCATE_EXISTING, 0, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);

    /* GetFileSize's failure: INVALID_FILE_SIZE and a last error, also without a high word. */
    SetLastError(0);
    CHECK_INT(GetFileSize(INVALID_HANDLE_VALUE, NULL), INVALID_FILE_SIZE);
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, TRUNCATE_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(CreateFileA(path, GENERIC_READ, 0, NULL, 42, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    CHECK(CreateFileA(NULL, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);

    /* A directory needs FILE_FLAG_BACKUP_SEMANTICS; a missing directory is PATH_NOT_FOUND. */
    CHECK(CreateFileA(dir, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_ACCESS_DENIED);
    h = CreateFileA(dir, GENERIC_READ, 0, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nodir/file.txt", dir);
    CHECK(CreateFileA(missing, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL) == INVALID_HANDLE_VALUE);
    CHECK_INT(GetLastError(), ERROR_PATH_NOT_FOUND);
}

static void test_overlapped_and_pointers(void)
{
    HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED, NULL);
    DWORD n = 0;
    CHECK(WriteFile(h, "0123456789", 10, &n, NULL));
    OVERLAPPED ov;
    ZeroMemory(&ov, sizeof ov);
    ov.Offset = 4;
    ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    char buf[16] = {0};
    CHECK(ReadFile(h, buf, 3, &n, &ov));
    CHECK_STR(buf, "456");
    CHECK_INT(WaitForSingleObject(ov.hEvent, 0), WAIT_OBJECT_0); /* signalled on completion */
    DWORD got = 0;
    CHECK(GetOverlappedResult(h, &ov, &got, TRUE));
    CHECK_INT(got, 3);
    CHECK_INT(SetFilePointer(h, 0, NULL, FILE_CURRENT), 10); /* pread leaves the pointer alone */

    ov.Offset = 2;
    CHECK(WriteFile(h, "AB", 2, &n, &ov));
    ov.Offset = 100;
    CHECK(!ReadFile(h, buf, 3, &n, &ov));
    CHECK_INT(GetLastError(), ERROR_HANDLE_EOF);
    CHECK(!GetOverlappedResult(h, &ov, &got, FALSE));
    CHECK_INT(GetLastError(), ERROR_HANDLE_EOF);
    CloseHandle(ov.hEvent);

    CHECK_INT(SetFilePointer(h, 1, NULL, FILE_BEGIN), 1);
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, 4, &n, NULL));
    CHECK_STR(buf, "1AB4");
    CHECK_INT(SetFilePointer(h, -2, NULL, FILE_END), 8);
    CHECK_INT(SetFilePointer(h, -20, NULL, FILE_CURRENT), INVALID_SET_FILE_POINTER);
    CHECK_INT(GetLastError(), ERROR_NEGATIVE_SEEK);
    LARGE_INTEGER to = {.QuadPart = 5LL << 32}, at;
    CHECK(SetFilePointerEx(h, to, &at, FILE_BEGIN));
    CHECK_INT(at.QuadPart, 5LL << 32);
    LONG high = 0;
    /* A position whose low word is 0xFFFFFFFF: the caller tells it from a failure by
     * GetLastError() == NO_ERROR. */
    SetLastError(ERROR_ACCESS_DENIED);
    CHECK_INT(SetFilePointer(h, (LONG)0xFFFFFFFFu, &high, FILE_BEGIN), INVALID_SET_FILE_POINTER);
    CHECK_INT(GetLastError(), NO_ERROR);
    CHECK_INT(high, 0);
    high = 1;
    CHECK_INT(SetFilePointer(h, 2, &high, FILE_BEGIN), 2); /* 4 GiB + 2 */
    CHECK_INT(high, 1);
    CHECK_INT(SetFilePointer(h, -4, NULL, FILE_CURRENT), 0xFFFFFFFEu); /* low word, as Windows */
    high = 0;
    CHECK_INT(SetFilePointer(h, 3, &high, FILE_BEGIN), 3);
    CHECK_INT(high, 0);
    CHECK(SetEndOfFile(h));
    LARGE_INTEGER size;
    CHECK(GetFileSizeEx(h, &size));
    CHECK_INT(size.QuadPart, 3);
    CloseHandle(h);

    /* A synchronous handle (no FILE_FLAG_OVERLAPPED): an OVERLAPPED read or write starts at
     * its offset and leaves the file pointer after the bytes transferred, as on Windows. */
    h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    CHECK(WriteFile(h, "0123456789", 10, &n, NULL));
    ZeroMemory(&ov, sizeof ov);
    ov.Offset = 2;
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, 3, &n, &ov));
    CHECK_STR(buf, "234");
    CHECK_INT(SetFilePointer(h, 0, NULL, FILE_CURRENT), 5);
    memset(buf, 0, sizeof buf);
    CHECK(ReadFile(h, buf, sizeof buf, &n, NULL));
    CHECK_STR(buf, "56789");
    ov.Offset = 0;
    CHECK(WriteFile(h, "AB", 2, &n, &ov));
    CHECK_INT(SetFilePointer(h, 0, NULL, FILE_CURRENT), 2);
    CHECK_INT(SetFilePointer(h, 3, NULL, FILE_BEGIN), 3);
    CHECK(SetEndOfFile(h)); /* 3 bytes, as the tests after this one expect */
    CloseHandle(h);

    CHECK(!ReadFile(INVALID_HANDLE_VALUE, buf, 1, &n, NULL));
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CHECK(!CloseHandle(h)); /* already closed */
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    HANDLE event = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(!ReadFile(event, buf, 1, &n, NULL)); /* an object, not a file */
    CHECK_INT(GetLastError(), ERROR_INVALID_HANDLE);
    CloseHandle(event);
}

static void test_attributes_and_delete(void)
{
    CHECK_INT(GetFileAttributesA(path), FILE_ATTRIBUTE_NORMAL);
    CHECK(GetFileAttributesA(dir) & FILE_ATTRIBUTE_DIRECTORY);
    chmod(path, 0444);
    CHECK(GetFileAttributesA(path) & FILE_ATTRIBUTE_READONLY);
    chmod(path, 0644);
    WIN32_FILE_ATTRIBUTE_DATA data;
    CHECK(GetFileAttributesExA(path, GetFileExInfoStandard, &data));
    CHECK_INT(data.nFileSizeLow, 3);
    CHECK_INT(data.nFileSizeHigh, 0);
    /* After 2000-01-01 (125911584000000000 in FILETIME ticks). */
    CHECK(((ULONGLONG)data.ftLastWriteTime.dwHighDateTime << 32 | data.ftLastWriteTime.dwLowDateTime) >
          125911584000000000ULL);

    /* Backslashes are separators. */
    char windows_path[128];
    snprintf(windows_path, sizeof windows_path, "%s\\test.txt", dir);
    CHECK_INT(GetFileAttributesA(windows_path), FILE_ATTRIBUTE_NORMAL);

    CHECK(!DeleteFileA(dir));
    CHECK_INT(GetLastError(), ERROR_ACCESS_DENIED);
    CHECK(DeleteFileA(windows_path));
    CHECK_INT(GetFileAttributesA(path), INVALID_FILE_ATTRIBUTES);
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    CHECK(!DeleteFileA(path));
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    /* A missing directory on the way is 3, ERROR_PATH_NOT_FOUND, as for CreateFile. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s\\nodir\\file.txt", dir);
    CHECK_INT(GetFileAttributesA(missing), INVALID_FILE_ATTRIBUTES);
    CHECK_INT(GetLastError(), ERROR_PATH_NOT_FOUND);
    CHECK(!GetFileAttributesExA(missing, GetFileExInfoStandard, &data));
    CHECK_INT(GetLastError(), ERROR_PATH_NOT_FOUND);
    CHECK(!DeleteFileA(missing));
    CHECK_INT(GetLastError(), ERROR_PATH_NOT_FOUND);

    HANDLE h = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_FLAG_DELETE_ON_CLOSE, NULL);
    CHECK(h != INVALID_HANDLE_VALUE);
    CHECK_INT(GetFileAttributesA(path), INVALID_FILE_ATTRIBUTES);
    CloseHandle(h);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/filesXXXXXX", tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/test.txt", dir);
    test_errno_table();
    test_dispositions();
    test_overlapped_and_pointers();
    test_attributes_and_delete();
    unlink(path);
    rmdir(dir);
    return check_report("files");
}
