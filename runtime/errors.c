/* libisapi: the one errno → Win32 error table. Every runtime function that fails on a POSIX
 * call reports GetLastError() through it; it is exported so that the server can use it too. */
#include <errno.h>
#include <windows.h>

struct errno_mapping {
    int err;
    DWORD win32;  /* for a file, thread, memory or other runtime call */
    DWORD socket; /* for a read or write on the client's connection; 0: the same as win32 */
};

/* Where Windows has no single equivalent, the code an IIS extension is most likely to test for.
 * The socket column is what IIS reports to an extension's ReadClient, WriteClient and their
 * completions: a client that went away is ERROR_NETNAME_DELETED whichever way it left, a body
 * whose framing broke is ERROR_INVALID_DATA, a file that ended before TransmitFile's range did
 * is ERROR_HANDLE_EOF. The server uses this table too (src/isapi/isapi.c), so there is one. */
static const struct errno_mapping errno_table[] = {
    {0, ERROR_SUCCESS, 0},
    {EPERM, ERROR_ACCESS_DENIED, 0},
    {ENOENT, ERROR_FILE_NOT_FOUND, 0},
    {EINTR, ERROR_OPERATION_ABORTED, 0},
    {EIO, ERROR_IO_DEVICE, ERROR_HANDLE_EOF},
    {ENXIO, ERROR_FILE_NOT_FOUND, 0},
    {E2BIG, ERROR_INVALID_PARAMETER, 0},
    {EBADF, ERROR_INVALID_HANDLE, 0},
    {EAGAIN, ERROR_NOT_ENOUGH_MEMORY, 0}, /* pthread_create's "no resources" */
    {ENOMEM, ERROR_NOT_ENOUGH_MEMORY, 0},
    {EACCES, ERROR_ACCESS_DENIED, 0},
    {EFAULT, ERROR_NOACCESS, 0},
    {EBUSY, ERROR_BUSY, 0},
    {EEXIST, ERROR_FILE_EXISTS, 0},
    {EXDEV, ERROR_NOT_SAME_DEVICE, 0},
    {ENODEV, ERROR_FILE_NOT_FOUND, 0},
    {ENOTDIR, ERROR_PATH_NOT_FOUND, 0},
    {EISDIR, ERROR_ACCESS_DENIED, 0},
    {EINVAL, ERROR_INVALID_PARAMETER, 0},
    {ENFILE, ERROR_TOO_MANY_OPEN_FILES, 0},
    {EMFILE, ERROR_TOO_MANY_OPEN_FILES, 0},
    {ETXTBSY, ERROR_SHARING_VIOLATION, 0},
    {EFBIG, ERROR_FILE_TOO_LARGE, ERROR_INVALID_DATA}, /* a body over --max-body */
    {ENOSPC, ERROR_DISK_FULL, 0},
    {ESPIPE, ERROR_SEEK, 0},
    {EROFS, ERROR_WRITE_PROTECT, 0},
    {EPIPE, ERROR_BROKEN_PIPE, ERROR_NETNAME_DELETED},
    {ENAMETOOLONG, ERROR_FILENAME_EXCED_RANGE, 0},
    {ENOSYS, ERROR_NOT_SUPPORTED, 0},
    {ENOTEMPTY, ERROR_DIR_NOT_EMPTY, 0},
    {ELOOP, ERROR_CANT_RESOLVE_FILENAME, 0},
    {EOVERFLOW, ERROR_FILE_TOO_LARGE, 0},
    {EOPNOTSUPP, ERROR_NOT_SUPPORTED, 0},
    {EDQUOT, ERROR_DISK_FULL, 0},
    {ETIMEDOUT, ERROR_TIMEOUT, 0},
    {ECANCELED, ERROR_OPERATION_ABORTED, 0},
    {EPROTO, ERROR_INVALID_DATA, 0}, /* a malformed chunked body */
    {ECONNRESET, WSAECONNRESET, ERROR_NETNAME_DELETED},
    {ECONNABORTED, ERROR_CONNECTION_ABORTED, ERROR_NETNAME_DELETED},
    {ENOTCONN, WSAENOTCONN, ERROR_NETNAME_DELETED}, /* the socket of a parked session released */
    {ESHUTDOWN, WSAESHUTDOWN, ERROR_NETNAME_DELETED},
};

static const struct errno_mapping *errno_entry(int err)
{
    if (err < 0)
        err = -err; /* a status (0 or -errno) maps as its errno */
    for (size_t i = 0; i < sizeof errno_table / sizeof errno_table[0]; i++)
        if (errno_table[i].err == err)
            return &errno_table[i];
    return NULL;
}

__attribute__((visibility("default"))) DWORD isapi_win32_error_from_errno(int err)
{
    const struct errno_mapping *m = errno_entry(err);
    return m ? m->win32 : ERROR_GEN_FAILURE;
}

__attribute__((visibility("default"))) DWORD isapi_win32_error_from_socket_errno(int err)
{
    const struct errno_mapping *m = errno_entry(err);
    if (!m)
        return ERROR_WRITE_FAULT; /* what IIS reports for a socket error it does not name */
    return m->socket ? m->socket : m->win32;
}

__attribute__((visibility("default"))) void isapi_set_last_error_from_errno(int err)
{
    SetLastError(isapi_win32_error_from_errno(err));
}
