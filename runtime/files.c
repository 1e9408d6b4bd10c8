/* libisapi: Win32 files over POSIX descriptors. A file HANDLE is its descriptor cast to HANDLE
 * (include/isapi/isapi_win32.h), so it can go to HSE_REQ_TRANSMIT_FILE and CloseHandle
 * (runtime/sync.c) closes it. All I/O is synchronous; an OVERLAPPED gives the offset
 * (pread/pwrite) and receives the result; the file pointer then moves as on Windows
 * (overlapped_fds). Failures set GetLastError through the errno table
 * (runtime/errors.c).
 *
 * Paths: a `\` in a path is taken as a separator and becomes `/` (Windows code builds paths
 * with `\`), so a Linux file whose name contains a backslash cannot be opened through these
 * calls. Nothing else is translated: no drive letters, no case folding. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <windows.h>

/* The Win32 code for a failed read or write: EBADF on an open descriptor means the handle
 * lacks that access, ERROR_ACCESS_DENIED on Windows. */
static void set_io_error(int fd, int err)
{
    if (err == EBADF && fcntl(fd, F_GETFL) >= 0)
        SetLastError(ERROR_ACCESS_DENIED);
    else
        isapi_set_last_error_from_errno(err);
}

/* The descriptor h names, or -1 with ERROR_INVALID_HANDLE set. */
static int file_fd(HANDLE h)
{
    int fd = isapi_handle_to_fd(h);
    if (fd < 0)
        SetLastError(ERROR_INVALID_HANDLE);
    return fd;
}

/* A copy of a Windows path with `\` turned into `/`, or NULL (last error set). Caller frees. */
static char *posix_path(LPCSTR name)
{
    if (name == NULL || name[0] == '\0') {
        SetLastError(name == NULL ? ERROR_INVALID_PARAMETER : ERROR_PATH_NOT_FOUND);
        return NULL;
    }
    char *path = strdup(name);
    if (path == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    for (char *c = path; *c != '\0'; c++)
        if (*c == '\\')
            *c = '/';
    return path;
}

/* Descriptors below OVERLAPPED_FD_LIMIT that CreateFile opened with FILE_FLAG_OVERLAPPED (one
 * bit each, set or cleared by CreateFileA for the descriptor it returns). Windows keeps no file
 * pointer for such a handle, so an OVERLAPPED read or write leaves it alone; on any other
 * handle it leaves the pointer after the bytes transferred, as Windows does for a synchronous
 * handle. A descriptor at or above the limit is taken as overlapped. */
#define OVERLAPPED_FD_LIMIT 65536
static unsigned char overlapped_fds[OVERLAPPED_FD_LIMIT / 8]; /* __atomic builtins only */

static void mark_overlapped(int fd, BOOL overlapped)
{
    if (fd < 0 || fd >= OVERLAPPED_FD_LIMIT)
        return;
    unsigned char bit = (unsigned char)(1u << (fd % 8));
    if (overlapped)
        __atomic_fetch_or(&overlapped_fds[fd / 8], bit, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&overlapped_fds[fd / 8], (unsigned char)~bit, __ATOMIC_RELAXED);
}

static BOOL keeps_file_pointer(int fd)
{
    if (fd < 0 || fd >= OVERLAPPED_FD_LIMIT)
        return FALSE;
    return (__atomic_load_n(&overlapped_fds[fd / 8], __ATOMIC_RELAXED) & (1u << (fd % 8))) == 0;
}

/* The errno to report for a failed call on `path` (modified in place): a missing directory on
 * the way is ENOTDIR, ERROR_PATH_NOT_FOUND, as on Windows, where a missing file is ENOENT,
 * ERROR_FILE_NOT_FOUND. */
static int path_error(char *path, int err)
{
    char *slash = strrchr(path, '/');
    if (err == ENOENT && slash != NULL && slash != path) {
        *slash = '\0';
        if (access(path, F_OK) != 0)
            err = ENOTDIR;
        *slash = '/';
    }
    return err;
}

/* The open(2) flags for a desired access and creation disposition, or -1. */
static int open_flags(DWORD access, DWORD disposition)
{
    BOOL can_read = (access & (GENERIC_READ | GENERIC_ALL | FILE_READ_DATA)) != 0;
    BOOL can_write = (access & (GENERIC_WRITE | GENERIC_ALL | FILE_WRITE_DATA)) != 0;
    BOOL append_only = !can_write && (access & FILE_APPEND_DATA) != 0;
    int flags = O_CLOEXEC;
    if (can_read && (can_write || append_only))
        flags |= O_RDWR;
    else if (can_write || append_only)
        flags |= O_WRONLY;
    else
        flags |= O_RDONLY; /* access 0 (attributes only) still needs a descriptor */
    if (append_only)
        flags |= O_APPEND;
    switch (disposition) {
    case CREATE_NEW:
        return flags | O_CREAT | O_EXCL;
    case CREATE_ALWAYS:
        return flags | O_CREAT | O_TRUNC;
    case OPEN_EXISTING:
        return flags;
    case OPEN_ALWAYS:
        return flags | O_CREAT;
    case TRUNCATE_EXISTING:
        return (can_write || append_only) ? flags | O_TRUNC : -1;
    }
    return -1;
}

/* Share modes are accepted and not enforced (POSIX has no mandatory sharing locks). The
 * attributes and FILE_FLAG_* hints are accepted; FILE_FLAG_WRITE_THROUGH is O_DSYNC;
 * FILE_FLAG_DELETE_ON_CLOSE unlinks the name at once (the open handle keeps the data).
 * A directory opens only with FILE_FLAG_BACKUP_SEMANTICS, as on Windows. CREATE_ALWAYS and
 * OPEN_ALWAYS on an existing file succeed with last error ERROR_ALREADY_EXISTS. */
__attribute__((visibility("default"))) HANDLE WINAPI CreateFileA(LPCSTR name, DWORD desired_access, DWORD share,
                                                                 LPSECURITY_ATTRIBUTES sa, DWORD disposition,
                                                                 DWORD flags_and_attributes, HANDLE template_file)
{
    int flags = open_flags(desired_access, disposition);
    if (flags < 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    char *path = posix_path(name);
    if (path == NULL)
        return INVALID_HANDLE_VALUE;
    if (flags_and_attributes & FILE_FLAG_WRITE_THROUGH)
        flags |= O_DSYNC;
    BOOL existed = FALSE;
    if (disposition == CREATE_ALWAYS || disposition == OPEN_ALWAYS)
        existed = access(path, F_OK) == 0;
    int fd = open(path, flags, 0666);
    if (fd < 0 && errno == EISDIR && (flags_and_attributes & FILE_FLAG_BACKUP_SEMANTICS))
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = path_error(path, errno);
        free(path);
        isapi_set_last_error_from_errno(err);
        return INVALID_HANDLE_VALUE;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && !(flags_and_attributes & FILE_FLAG_BACKUP_SEMANTICS)) {
        close(fd);
        free(path);
        SetLastError(ERROR_ACCESS_DENIED);
        return INVALID_HANDLE_VALUE;
    }
    if (fd < 3) {
        /* Descriptor 0 would be the NULL handle; keep 0..2 for what they usually are. */
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int err = errno;
        close(fd);
        if (moved < 0) {
            free(path);
            isapi_set_last_error_from_errno(err);
            return INVALID_HANDLE_VALUE;
        }
        fd = moved;
    }
    if (flags_and_attributes & FILE_FLAG_DELETE_ON_CLOSE)
        unlink(path);
    free(path);
    mark_overlapped(fd, (flags_and_attributes & FILE_FLAG_OVERLAPPED) != 0);
    SetLastError(existed ? ERROR_ALREADY_EXISTS : ERROR_SUCCESS);
    return (HANDLE)(intptr_t)fd;
}

static off_t overlapped_offset(const OVERLAPPED *ov)
{
    return (off_t)(((uint64_t)ov->OffsetHigh << 32) | ov->Offset);
}

/* Records the outcome in an OVERLAPPED and signals its event (the low bit of hEvent is a flag
 * on Windows, masked off). */
static void complete_overlapped(LPOVERLAPPED ov, DWORD error, DWORD bytes)
{
    if (ov == NULL)
        return;
    ov->Internal = error;
    ov->InternalHigh = bytes;
    HANDLE event = (HANDLE)((uintptr_t)ov->hEvent & ~(uintptr_t)1);
    if (event != NULL) {
        DWORD saved = GetLastError();
        SetEvent(event);
        SetLastError(saved);
    }
}

/* With an OVERLAPPED, a read at or past the end fails with ERROR_HANDLE_EOF; without one it
 * succeeds with 0 bytes, as Windows does for synchronous handles. */
__attribute__((visibility("default"))) BOOL WINAPI ReadFile(HANDLE h, LPVOID buffer, DWORD n, LPDWORD bytes_read,
                                                            LPOVERLAPPED ov)
{
    if (bytes_read != NULL)
        *bytes_read = 0;
    int fd = file_fd(h);
    if (fd < 0)
        return FALSE;
    if (buffer == NULL && n > 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    ssize_t got;
    do
        got = ov != NULL ? pread(fd, buffer, n, overlapped_offset(ov)) : read(fd, buffer, n);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        set_io_error(fd, errno);
        complete_overlapped(ov, GetLastError(), 0);
        return FALSE;
    }
    if (bytes_read != NULL)
        *bytes_read = (DWORD)got;
    if (ov != NULL && keeps_file_pointer(fd))
        lseek(fd, overlapped_offset(ov) + got, SEEK_SET);
    if (ov != NULL && got == 0 && n > 0) {
        complete_overlapped(ov, ERROR_HANDLE_EOF, 0);
        SetLastError(ERROR_HANDLE_EOF);
        return FALSE;
    }
    complete_overlapped(ov, ERROR_SUCCESS, (DWORD)got);
    return TRUE;
}

/* Writes everything (a short write is retried) or fails. */
__attribute__((visibility("default"))) BOOL WINAPI WriteFile(HANDLE h, LPCVOID buffer, DWORD n,
                                                             LPDWORD bytes_written, LPOVERLAPPED ov)
{
    if (bytes_written != NULL)
        *bytes_written = 0;
    int fd = file_fd(h);
    if (fd < 0)
        return FALSE;
    if (buffer == NULL && n > 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    /* Windows: offsets 0xFFFFFFFF:0xFFFFFFFF mean "at the end of the file". */
    BOOL at_end = ov != NULL && ov->Offset == 0xFFFFFFFFu && ov->OffsetHigh == 0xFFFFFFFFu;
    off_t offset = ov != NULL && !at_end ? overlapped_offset(ov) : 0;
    if (at_end)
        offset = lseek(fd, 0, SEEK_END);
    DWORD done = 0;
    while (done < n) {
        const char *from = (const char *)buffer + done;
        ssize_t put = ov != NULL ? pwrite(fd, from, n - done, offset + done) : write(fd, from, n - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            set_io_error(fd, put < 0 ? errno : ENOSPC);
            if (bytes_written != NULL)
                *bytes_written = done;
            complete_overlapped(ov, GetLastError(), done);
            return FALSE;
        }
        done += (DWORD)put;
    }
    if (ov != NULL && keeps_file_pointer(fd))
        lseek(fd, offset + done, SEEK_SET);
    if (bytes_written != NULL)
        *bytes_written = done;
    complete_overlapped(ov, ERROR_SUCCESS, done);
    return TRUE;
}

/* The operation already completed in ReadFile/WriteFile: this reports it, whatever bWait. */
__attribute__((visibility("default"))) BOOL WINAPI GetOverlappedResult(HANDLE h, LPOVERLAPPED ov, LPDWORD bytes,
                                                                       BOOL wait)
{
    if (ov == NULL || bytes == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    *bytes = (DWORD)ov->InternalHigh;
    if (ov->Internal != ERROR_SUCCESS) {
        SetLastError((DWORD)ov->Internal);
        return FALSE;
    }
    return TRUE;
}

static BOOL file_size(HANDLE h, uint64_t *size)
{
    int fd = file_fd(h);
    struct stat st;
    if (fd < 0)
        return FALSE;
    if (fstat(fd, &st) != 0) {
        isapi_set_last_error_from_errno(errno);
        return FALSE;
    }
    *size = (uint64_t)st.st_size;
    return TRUE;
}

/* INVALID_FILE_SIZE is also a valid low word: callers tell by GetLastError, which is
 * ERROR_SUCCESS on success. */
__attribute__((visibility("default"))) DWORD WINAPI GetFileSize(HANDLE h, LPDWORD high)
{
    uint64_t size;
    if (!file_size(h, &size))
        return INVALID_FILE_SIZE;
    if (high != NULL)
        *high = (DWORD)(size >> 32);
    SetLastError(ERROR_SUCCESS);
    return (DWORD)size;
}

__attribute__((visibility("default"))) BOOL WINAPI GetFileSizeEx(HANDLE h, PLARGE_INTEGER out)
{
    uint64_t size;
    if (out == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (!file_size(h, &size))
        return FALSE;
    out->QuadPart = (LONGLONG)size;
    return TRUE;
}

static BOOL seek(HANDLE h, LONGLONG distance, DWORD method, LONGLONG *new_position)
{
    int fd = file_fd(h);
    if (fd < 0)
        return FALSE;
    int whence = method == FILE_BEGIN ? SEEK_SET : method == FILE_CURRENT ? SEEK_CUR : method == FILE_END ? SEEK_END : -1;
    if (whence < 0) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    off_t at = lseek(fd, (off_t)distance, whence);
    if (at < 0) {
        SetLastError(errno == EINVAL ? ERROR_NEGATIVE_SEEK : isapi_win32_error_from_errno(errno));
        return FALSE;
    }
    *new_position = at;
    return TRUE;
}

/* Without a high word the distance is a signed 32-bit value; with one, the two form a signed
 * 64-bit distance and the high word receives the new position's high half. */
__attribute__((visibility("default"))) DWORD WINAPI SetFilePointer(HANDLE h, LONG distance, PLONG distance_high,
                                                                   DWORD method)
{
    LONGLONG move = distance_high != NULL ? (LONGLONG)(((uint64_t)(uint32_t)*distance_high << 32) | (uint32_t)distance)
                                          : (LONGLONG)distance;
    LONGLONG at;
    if (!seek(h, move, method, &at))
        return INVALID_SET_FILE_POINTER;
    if (distance_high != NULL)
        *distance_high = (LONG)(at >> 32);
    SetLastError(ERROR_SUCCESS);
    return (DWORD)at;
}

__attribute__((visibility("default"))) BOOL WINAPI SetFilePointerEx(HANDLE h, LARGE_INTEGER distance,
                                                                    PLARGE_INTEGER new_position, DWORD method)
{
    LONGLONG at;
    if (!seek(h, distance.QuadPart, method, &at))
        return FALSE;
    if (new_position != NULL)
        new_position->QuadPart = at;
    return TRUE;
}

__attribute__((visibility("default"))) BOOL WINAPI SetEndOfFile(HANDLE h)
{
    int fd = file_fd(h);
    if (fd < 0)
        return FALSE;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0 || ftruncate(fd, at) != 0) {
        isapi_set_last_error_from_errno(errno);
        return FALSE;
    }
    return TRUE;
}

__attribute__((visibility("default"))) BOOL WINAPI FlushFileBuffers(HANDLE h)
{
    int fd = file_fd(h);
    if (fd < 0)
        return FALSE;
    if (fsync(fd) != 0) {
        isapi_set_last_error_from_errno(errno);
        return FALSE;
    }
    return TRUE;
}

/* Win32 attributes of a stat: a file that is not writable by its owner is READONLY, a name
 * starting with '.' is HIDDEN, and a plain file with neither is NORMAL. */
static DWORD attributes_of(const char *path, const struct stat *st)
{
    DWORD attributes = 0;
    if (S_ISDIR(st->st_mode))
        attributes |= FILE_ATTRIBUTE_DIRECTORY;
    if (!(st->st_mode & S_IWUSR))
        attributes |= FILE_ATTRIBUTE_READONLY;
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (base[0] == '.' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0)
        attributes |= FILE_ATTRIBUTE_HIDDEN;
    return attributes != 0 ? attributes : FILE_ATTRIBUTE_NORMAL;
}

static BOOL stat_path(LPCSTR name, struct stat *st, DWORD *attributes)
{
    char *path = posix_path(name);
    if (path == NULL)
        return FALSE;
    BOOL ok = stat(path, st) == 0;
    if (ok)
        *attributes = attributes_of(path, st);
    else
        isapi_set_last_error_from_errno(path_error(path, errno));
    free(path);
    return ok;
}

__attribute__((visibility("default"))) DWORD WINAPI GetFileAttributesA(LPCSTR name)
{
    struct stat st;
    DWORD attributes;
    return stat_path(name, &st, &attributes) ? attributes : INVALID_FILE_ATTRIBUTES;
}

/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

static FILETIME filetime_of(struct timespec t)
{
    uint64_t ticks = FILETIME_UNIX_EPOCH + (uint64_t)t.tv_sec * 10000000ULL + (uint64_t)t.tv_nsec / 100;
    FILETIME ft = {(DWORD)ticks, (DWORD)(ticks >> 32)};
    return ft;
}

/* The creation time is the status-change time (Linux keeps no portable birth time). */
__attribute__((visibility("default"))) BOOL WINAPI GetFileAttributesExA(LPCSTR name, GET_FILEEX_INFO_LEVELS level,
                                                                        LPVOID info)
{
    if (level != GetFileExInfoStandard || info == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    struct stat st;
    DWORD attributes;
    if (!stat_path(name, &st, &attributes))
        return FALSE;
    WIN32_FILE_ATTRIBUTE_DATA *data = info;
    data->dwFileAttributes = attributes;
    data->ftCreationTime = filetime_of(st.st_ctim);
    data->ftLastAccessTime = filetime_of(st.st_atim);
    data->ftLastWriteTime = filetime_of(st.st_mtim);
    uint64_t size = S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_size;
    data->nFileSizeHigh = (DWORD)(size >> 32);
    data->nFileSizeLow = (DWORD)size;
    return TRUE;
}

/* A directory fails with ERROR_ACCESS_DENIED, as on Windows (unlink gives EISDIR). */
__attribute__((visibility("default"))) BOOL WINAPI DeleteFileA(LPCSTR name)
{
    char *path = posix_path(name);
    if (path == NULL)
        return FALSE;
    BOOL ok = unlink(path) == 0;
    if (!ok)
        isapi_set_last_error_from_errno(path_error(path, errno));
    free(path);
    return ok;
}
