/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md): threads,
 * synchronisation, files and memory, as Win32 names them.
 *
 * Handles. A HANDLE is one of three things, told apart by libisapi's registry of live objects
 * (runtime/sync.c):
 *   - a runtime object (thread, event, semaphore, mutex): a heap pointer, registered while a
 *     handle to it is open; objects are reference-counted, so closing a thread's handle while
 *     it runs is fine;
 *   - a file: a POSIX descriptor cast to HANDLE, (HANDLE)(intptr_t)fd, so a handle from
 *     CreateFile goes straight to HSE_REQ_TRANSMIT_FILE. CreateFile never returns descriptor 0
 *     (it would read as NULL);
 *   - INVALID_HANDLE_VALUE ((HANDLE)-1) and NULL, which are never valid.
 * A value that is not a registered object and lies in 1..INT_MAX is taken as a descriptor
 * (heap addresses lie far above the kernel's descriptor ceiling, fs.nr_open). A closed
 * object handle is no longer registered: calls on it fail with ERROR_INVALID_HANDLE. */
#ifndef ISAPI_WIN32_H
#define ISAPI_WIN32_H

#ifdef __cplusplus
extern "C" {
#endif

#define ISAPI_RUNTIME_API __attribute__((visibility("default")))

/* ---- Shared structures --------------------------------------------------------------- */

#ifndef ISAPI_HAVE_LARGE_INTEGER
#define ISAPI_HAVE_LARGE_INTEGER
typedef union _LARGE_INTEGER {
    __extension__ struct { /* anonymous members: C11, and a GNU extension in C++ */
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    __extension__ struct {
        DWORD LowPart;
        DWORD HighPart;
    };
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

/* 100-nanosecond intervals since 1601-01-01 UTC. */
typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;
#endif

typedef struct _SECURITY_ATTRIBUTES {
    DWORD nLength;
    LPVOID lpSecurityDescriptor;
    BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

/* I/O here is synchronous: ReadFile/WriteFile take the offset from Offset/OffsetHigh, and
 * leave the outcome in Internal (a Win32 error code, 0 on success) and InternalHigh (the byte
 * count) for GetOverlappedResult; hEvent, when set, is signalled when the call returns. As on
 * Windows, the file pointer ends after the bytes transferred, unless the handle was opened
 * with FILE_FLAG_OVERLAPPED (then it does not move). */
typedef struct _OVERLAPPED {
    ULONG_PTR Internal;
    ULONG_PTR InternalHigh;
    __extension__ union {
        __extension__ struct {
            DWORD Offset;
            DWORD OffsetHigh;
        };
        PVOID Pointer;
    };
    HANDLE hEvent;
} OVERLAPPED, *LPOVERLAPPED;

/* ---- Errors ---------------------------------------------------------------------------- */

/* The Win32 error code for an errno value (ENOENT → ERROR_FILE_NOT_FOUND ...): the one table,
 * runtime/errors.c. Unknown values give ERROR_GEN_FAILURE; 0 gives ERROR_SUCCESS. */
ISAPI_RUNTIME_API DWORD isapi_win32_error_from_errno(int err);
/* The same for a read or write on the client's connection, as IIS reports those to ReadClient,
 * WriteClient and their completions (ECONNRESET, EPIPE → ERROR_NETNAME_DELETED ...); unknown
 * values give ERROR_WRITE_FAULT. Both take an errno or a status (-errno). */
ISAPI_RUNTIME_API DWORD isapi_win32_error_from_socket_errno(int err);
/* SetLastError(isapi_win32_error_from_errno(err)). */
ISAPI_RUNTIME_API void isapi_set_last_error_from_errno(int err);

/* ---- Handles, waits ------------------------------------------------------------------ */

#define INFINITE 0xFFFFFFFFu
#define WAIT_OBJECT_0 0x00000000u
#define WAIT_ABANDONED 0x00000080u
#define WAIT_ABANDONED_0 0x00000080u
#define WAIT_IO_COMPLETION 0x000000C0u
#define WAIT_TIMEOUT 0x00000102u
#define WAIT_FAILED 0xFFFFFFFFu
#define MAXIMUM_WAIT_OBJECTS 64
#define STILL_ACTIVE 259
#define CREATE_SUSPENDED 0x00000004u
#define STACK_SIZE_PARAM_IS_A_RESERVATION 0x00010000u

ISAPI_RUNTIME_API BOOL WINAPI CloseHandle(HANDLE hObject);
ISAPI_RUNTIME_API DWORD WINAPI WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
ISAPI_RUNTIME_API DWORD WINAPI WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds, BOOL bAlertable);
ISAPI_RUNTIME_API DWORD WINAPI WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles, BOOL bWaitAll,
                                                      DWORD dwMilliseconds);
ISAPI_RUNTIME_API DWORD WINAPI WaitForMultipleObjectsEx(DWORD nCount, const HANDLE *lpHandles, BOOL bWaitAll,
                                                        DWORD dwMilliseconds, BOOL bAlertable);

/* ---- Threads --------------------------------------------------------------------------- */

typedef DWORD(WINAPI *PTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef PTHREAD_START_ROUTINE LPTHREAD_START_ROUTINE;

ISAPI_RUNTIME_API HANDLE WINAPI CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes, SIZE_T dwStackSize,
                                             LPTHREAD_START_ROUTINE lpStartAddress, LPVOID lpParameter,
                                             DWORD dwCreationFlags, LPDWORD lpThreadId);
ISAPI_RUNTIME_API __attribute__((noreturn)) VOID WINAPI ExitThread(DWORD dwExitCode);
ISAPI_RUNTIME_API BOOL WINAPI GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);
ISAPI_RUNTIME_API DWORD WINAPI ResumeThread(HANDLE hThread);
ISAPI_RUNTIME_API DWORD WINAPI GetCurrentThreadId(void);
ISAPI_RUNTIME_API DWORD WINAPI GetCurrentProcessId(void);
ISAPI_RUNTIME_API VOID WINAPI Sleep(DWORD dwMilliseconds);
ISAPI_RUNTIME_API DWORD WINAPI SleepEx(DWORD dwMilliseconds, BOOL bAlertable);
ISAPI_RUNTIME_API BOOL WINAPI SwitchToThread(void);

/* process.h's thread functions (the MSVC C runtime's): the same threads as CreateThread. */
ISAPI_RUNTIME_API uintptr_t __cdecl _beginthreadex(void *security, unsigned stack_size,
                                                   unsigned(__stdcall *start_address)(void *), void *arglist,
                                                   unsigned initflag, unsigned *thrdaddr);
ISAPI_RUNTIME_API __attribute__((noreturn)) void __cdecl _endthreadex(unsigned retval);

/* ---- Events, semaphores, mutexes ------------------------------------------------------ */

ISAPI_RUNTIME_API HANDLE WINAPI CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes, BOOL bManualReset,
                                             BOOL bInitialState, LPCSTR lpName);
ISAPI_RUNTIME_API BOOL WINAPI SetEvent(HANDLE hEvent);
ISAPI_RUNTIME_API BOOL WINAPI ResetEvent(HANDLE hEvent);
ISAPI_RUNTIME_API BOOL WINAPI PulseEvent(HANDLE hEvent);
ISAPI_RUNTIME_API HANDLE WINAPI CreateSemaphoreA(LPSECURITY_ATTRIBUTES lpSemaphoreAttributes, LONG lInitialCount,
                                                 LONG lMaximumCount, LPCSTR lpName);
ISAPI_RUNTIME_API BOOL WINAPI ReleaseSemaphore(HANDLE hSemaphore, LONG lReleaseCount, LPLONG lpPreviousCount);
ISAPI_RUNTIME_API HANDLE WINAPI CreateMutexA(LPSECURITY_ATTRIBUTES lpMutexAttributes, BOOL bInitialOwner,
                                             LPCSTR lpName);
ISAPI_RUNTIME_API BOOL WINAPI ReleaseMutex(HANDLE hMutex);

/* Named objects. A name is shared within the process: a Create* call with the name of a live
 * object of the same kind returns a handle to it (its other arguments ignored) with
 * GetLastError() == ERROR_ALREADY_EXISTS; of another kind, NULL and ERROR_INVALID_HANDLE. The
 * Open* calls find a live one (else NULL and ERROR_FILE_NOT_FOUND). "Global\" and "Local\"
 * name the same namespace. Every handle to one object is the same HANDLE value; the object
 * and its name live until each of them is closed. dwDesiredAccess and bInheritHandle are
 * ignored. */
#define EVENT_MODIFY_STATE 0x0002u
#define EVENT_ALL_ACCESS 0x001F0003u
#define SEMAPHORE_MODIFY_STATE 0x0002u
#define SEMAPHORE_ALL_ACCESS 0x001F0003u
#define MUTEX_MODIFY_STATE 0x0001u
#define MUTEX_ALL_ACCESS 0x001F0001u
ISAPI_RUNTIME_API HANDLE WINAPI OpenEventA(DWORD dwDesiredAccess, BOOL bInheritHandle, LPCSTR lpName);
ISAPI_RUNTIME_API HANDLE WINAPI OpenSemaphoreA(DWORD dwDesiredAccess, BOOL bInheritHandle, LPCSTR lpName);
ISAPI_RUNTIME_API HANDLE WINAPI OpenMutexA(DWORD dwDesiredAccess, BOOL bInheritHandle, LPCSTR lpName);

#ifndef UNICODE
#define CreateEvent CreateEventA
#define CreateSemaphore CreateSemaphoreA
#define CreateMutex CreateMutexA
#define OpenEvent OpenEventA
#define OpenSemaphore OpenSemaphoreA
#define OpenMutex OpenMutexA
#endif

/* ---- Critical sections and slim reader/writer locks ----------------------------------- */

/* A recursive mutex in place (runtime/sync.c checks the storage fits a pthread mutex). Usable
 * in static storage after InitializeCriticalSection; Windows's own fields are not provided. */
typedef struct _RTL_CRITICAL_SECTION {
    union {
        char storage[64];
        long long align;
    } isapi_mutex;
} CRITICAL_SECTION, *PCRITICAL_SECTION, *LPCRITICAL_SECTION;

ISAPI_RUNTIME_API VOID WINAPI InitializeCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
ISAPI_RUNTIME_API BOOL WINAPI InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION lpCriticalSection,
                                                                    DWORD dwSpinCount);
ISAPI_RUNTIME_API BOOL WINAPI InitializeCriticalSectionEx(LPCRITICAL_SECTION lpCriticalSection, DWORD dwSpinCount,
                                                          DWORD Flags);
ISAPI_RUNTIME_API VOID WINAPI EnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
ISAPI_RUNTIME_API BOOL WINAPI TryEnterCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
ISAPI_RUNTIME_API VOID WINAPI LeaveCriticalSection(LPCRITICAL_SECTION lpCriticalSection);
ISAPI_RUNTIME_API VOID WINAPI DeleteCriticalSection(LPCRITICAL_SECTION lpCriticalSection);

/* A pthread rwlock in place; SRWLOCK_INIT (all zeros) is a valid unlocked lock, as on Windows. */
typedef struct _RTL_SRWLOCK {
    union {
        char storage[64];
        long long align;
    } isapi_rwlock;
} SRWLOCK, *PSRWLOCK;
#define SRWLOCK_INIT {{{0}}}

ISAPI_RUNTIME_API VOID WINAPI InitializeSRWLock(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API VOID WINAPI AcquireSRWLockExclusive(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API VOID WINAPI AcquireSRWLockShared(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API VOID WINAPI ReleaseSRWLockExclusive(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API VOID WINAPI ReleaseSRWLockShared(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API BOOLEAN WINAPI TryAcquireSRWLockExclusive(PSRWLOCK SRWLock);
ISAPI_RUNTIME_API BOOLEAN WINAPI TryAcquireSRWLockShared(PSRWLOCK SRWLock);

/* One-time initialisation. The callback runs once; if it returns FALSE, InitOnceExecuteOnce
 * returns FALSE and the next call runs it again. Concurrent callers wait for the running one.
 * A context the callback stores (its low INIT_ONCE_CTX_RESERVED_BITS bits clear) is handed to
 * every later caller. */
typedef union _RTL_RUN_ONCE {
    PVOID Ptr;
} INIT_ONCE, *PINIT_ONCE, *LPINIT_ONCE;
#define INIT_ONCE_STATIC_INIT {0}
#define INIT_ONCE_CTX_RESERVED_BITS 2
typedef BOOL(WINAPI *PINIT_ONCE_FN)(PINIT_ONCE InitOnce, PVOID Parameter, PVOID *Context);

ISAPI_RUNTIME_API VOID WINAPI InitOnceInitialize(PINIT_ONCE InitOnce);
ISAPI_RUNTIME_API BOOL WINAPI InitOnceExecuteOnce(PINIT_ONCE InitOnce, PINIT_ONCE_FN InitFn, PVOID Parameter,
                                                  LPVOID *Context);

/* ---- Thread-local storage -------------------------------------------------------------- */

#define TLS_OUT_OF_INDEXES 0xFFFFFFFFu

ISAPI_RUNTIME_API DWORD WINAPI TlsAlloc(void);
ISAPI_RUNTIME_API LPVOID WINAPI TlsGetValue(DWORD dwTlsIndex);
ISAPI_RUNTIME_API BOOL WINAPI TlsSetValue(DWORD dwTlsIndex, LPVOID lpTlsValue);
ISAPI_RUNTIME_API BOOL WINAPI TlsFree(DWORD dwTlsIndex);

/* ---- Interlocked ----------------------------------------------------------------------- */

/* Macros over GCC's __atomic builtins, sequentially consistent like Win32's, and generic over
 * the pointed-to type: code that passes a DWORD*, a LONG* or a volatile LONG* compiles, and
 * the 64-bit forms are the same macros. Each returns what Win32 returns: the new value for
 * Increment/Decrement, the old value for the others. */
#define InterlockedIncrement(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedDecrement(p) __atomic_sub_fetch((p), 1, __ATOMIC_SEQ_CST)
#define InterlockedExchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedExchangeAdd(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAdd(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedAnd(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedOr(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define InterlockedXor(p, v) __atomic_fetch_xor((p), (v), __ATOMIC_SEQ_CST)
/* `*(p) + 0` has the pointed-to type without its volatile qualifier. */
#define InterlockedCompareExchange(p, exchange, comparand)                                         \
    __extension__({                                                                                \
        __typeof__(*(p) + 0) isapi_expected_ = (comparand);                                        \
        __atomic_compare_exchange_n((p), &isapi_expected_, (exchange), 0, __ATOMIC_SEQ_CST,        \
                                    __ATOMIC_SEQ_CST);                                             \
        isapi_expected_;                                                                           \
    })
#define InterlockedIncrement64 InterlockedIncrement
#define InterlockedDecrement64 InterlockedDecrement
#define InterlockedExchange64 InterlockedExchange
#define InterlockedExchangeAdd64 InterlockedExchangeAdd
#define InterlockedAdd64 InterlockedAdd
#define InterlockedAnd64 InterlockedAnd
#define InterlockedOr64 InterlockedOr
#define InterlockedXor64 InterlockedXor
#define InterlockedCompareExchange64 InterlockedCompareExchange
/* The Acquire/Release/NoFence forms: sequentially consistent too (stronger than asked). */
#define InterlockedIncrementAcquire InterlockedIncrement
#define InterlockedIncrementRelease InterlockedIncrement
#define InterlockedIncrementNoFence InterlockedIncrement
#define InterlockedDecrementAcquire InterlockedDecrement
#define InterlockedDecrementRelease InterlockedDecrement
#define InterlockedDecrementNoFence InterlockedDecrement
#define InterlockedExchangeAcquire InterlockedExchange
#define InterlockedExchangeNoFence InterlockedExchange
#define InterlockedCompareExchangeAcquire InterlockedCompareExchange
#define InterlockedCompareExchangeRelease InterlockedCompareExchange
#define InterlockedCompareExchangeNoFence InterlockedCompareExchange
/* MSVC's intrinsic names, which code calls directly (often after #pragma intrinsic). */
#define _InterlockedIncrement InterlockedIncrement
#define _InterlockedDecrement InterlockedDecrement
#define _InterlockedExchange InterlockedExchange
#define _InterlockedExchangeAdd InterlockedExchangeAdd
#define _InterlockedCompareExchange InterlockedCompareExchange
#define _InterlockedAnd InterlockedAnd
#define _InterlockedOr InterlockedOr
#define _InterlockedXor InterlockedXor
#define _InterlockedIncrement64 InterlockedIncrement
#define _InterlockedDecrement64 InterlockedDecrement
#define _InterlockedExchange64 InterlockedExchange
#define _InterlockedExchangeAdd64 InterlockedExchangeAdd
#define _InterlockedCompareExchange64 InterlockedCompareExchange
#define InterlockedExchangePointer(p, v) ((PVOID)__atomic_exchange_n((PVOID volatile *)(p), (PVOID)(v), __ATOMIC_SEQ_CST))
#define InterlockedCompareExchangePointer(p, exchange, comparand)                                  \
    __extension__({                                                                                \
        PVOID isapi_expected_ = (PVOID)(comparand);                                                \
        __atomic_compare_exchange_n((PVOID volatile *)(p), &isapi_expected_, (PVOID)(exchange), 0, \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                           \
        isapi_expected_;                                                                           \
    })
#define MemoryBarrier() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- Memory ---------------------------------------------------------------------------- */

#define HEAP_NO_SERIALIZE 0x00000001u
#define HEAP_GENERATE_EXCEPTIONS 0x00000004u
#define HEAP_ZERO_MEMORY 0x00000008u
#define HEAP_REALLOC_IN_PLACE_ONLY 0x00000010u

#define LMEM_FIXED 0x0000u
#define LMEM_MOVEABLE 0x0002u
#define LMEM_ZEROINIT 0x0040u
#define LPTR (LMEM_FIXED | LMEM_ZEROINIT)
#define LHND (LMEM_MOVEABLE | LMEM_ZEROINIT)
#define GMEM_FIXED 0x0000u
#define GMEM_MOVEABLE 0x0002u
#define GMEM_ZEROINIT 0x0040u
#define GPTR (GMEM_FIXED | GMEM_ZEROINIT)
#define GHND (GMEM_MOVEABLE | GMEM_ZEROINIT)

#define MEM_COMMIT 0x00001000u
#define MEM_RESERVE 0x00002000u
#define MEM_DECOMMIT 0x00004000u
#define MEM_RELEASE 0x00008000u
#define MEM_TOP_DOWN 0x00100000u /* a placement hint: accepted, the kernel places the mapping */
#define PAGE_NOACCESS 0x01u
#define PAGE_READONLY 0x02u
#define PAGE_READWRITE 0x04u
#define PAGE_EXECUTE 0x10u
#define PAGE_EXECUTE_READ 0x20u
#define PAGE_EXECUTE_READWRITE 0x40u

typedef HANDLE HLOCAL;
typedef HANDLE HGLOBAL;

ISAPI_RUNTIME_API HANDLE WINAPI GetProcessHeap(void);
ISAPI_RUNTIME_API HANDLE WINAPI HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize);
ISAPI_RUNTIME_API BOOL WINAPI HeapDestroy(HANDLE hHeap);
ISAPI_RUNTIME_API LPVOID WINAPI HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes);
ISAPI_RUNTIME_API LPVOID WINAPI HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes);
ISAPI_RUNTIME_API BOOL WINAPI HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem);
ISAPI_RUNTIME_API SIZE_T WINAPI HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem);
ISAPI_RUNTIME_API HLOCAL WINAPI LocalAlloc(UINT uFlags, SIZE_T uBytes);
ISAPI_RUNTIME_API HLOCAL WINAPI LocalFree(HLOCAL hMem);
ISAPI_RUNTIME_API HGLOBAL WINAPI GlobalAlloc(UINT uFlags, SIZE_T dwBytes);
ISAPI_RUNTIME_API HGLOBAL WINAPI GlobalFree(HGLOBAL hMem);
ISAPI_RUNTIME_API LPVOID WINAPI GlobalLock(HGLOBAL hMem);
ISAPI_RUNTIME_API BOOL WINAPI GlobalUnlock(HGLOBAL hMem);
ISAPI_RUNTIME_API LPVOID WINAPI LocalLock(HLOCAL hMem);
ISAPI_RUNTIME_API BOOL WINAPI LocalUnlock(HLOCAL hMem);
/* The block's size; 0 for NULL. */
ISAPI_RUNTIME_API SIZE_T WINAPI LocalSize(HLOCAL hMem);
ISAPI_RUNTIME_API SIZE_T WINAPI GlobalSize(HGLOBAL hMem);
/* Without LMEM_MOVEABLE/GMEM_MOVEABLE a block is resized in place only (NULL if it cannot
 * be); LMEM_ZEROINIT/GMEM_ZEROINIT zero the growth. The result is the new handle. */
ISAPI_RUNTIME_API HLOCAL WINAPI LocalReAlloc(HLOCAL hMem, SIZE_T uBytes, UINT uFlags);
ISAPI_RUNTIME_API HGLOBAL WINAPI GlobalReAlloc(HGLOBAL hMem, SIZE_T dwBytes, UINT uFlags);
ISAPI_RUNTIME_API LPVOID WINAPI VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType,
                                             DWORD flProtect);
ISAPI_RUNTIME_API BOOL WINAPI VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);

/* ---- Files ----------------------------------------------------------------------------- */

#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_ALL 0x10000000u
#define FILE_READ_DATA 0x0001u
#define FILE_WRITE_DATA 0x0002u
#define FILE_APPEND_DATA 0x0004u
#define FILE_READ_EA 0x0008u
#define FILE_WRITE_EA 0x0010u
#define FILE_EXECUTE 0x0020u
#define FILE_READ_ATTRIBUTES 0x0080u
#define FILE_WRITE_ATTRIBUTES 0x0100u
#define DELETE 0x00010000u
#define READ_CONTROL 0x00020000u
#define SYNCHRONIZE 0x00100000u
#define STANDARD_RIGHTS_REQUIRED 0x000F0000u
#define STANDARD_RIGHTS_READ READ_CONTROL
#define STANDARD_RIGHTS_WRITE READ_CONTROL
#define STANDARD_RIGHTS_EXECUTE READ_CONTROL
/* The combined masks Windows code passes to CreateFile: they hold FILE_READ_DATA and
 * FILE_WRITE_DATA, which choose the open mode (the other rights mean nothing here). */
#define FILE_GENERIC_READ (STANDARD_RIGHTS_READ | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | SYNCHRONIZE)
#define FILE_GENERIC_WRITE                                                                                       \
    (STANDARD_RIGHTS_WRITE | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | FILE_APPEND_DATA | SYNCHRONIZE)
#define FILE_GENERIC_EXECUTE (STANDARD_RIGHTS_EXECUTE | FILE_READ_ATTRIBUTES | FILE_EXECUTE | SYNCHRONIZE)
#define FILE_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FFu)

#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define FILE_SHARE_DELETE 0x00000004u

#define CREATE_NEW 1
#define CREATE_ALWAYS 2
#define OPEN_EXISTING 3
#define OPEN_ALWAYS 4
#define TRUNCATE_EXISTING 5

#define FILE_ATTRIBUTE_READONLY 0x00000001u
#define FILE_ATTRIBUTE_HIDDEN 0x00000002u
#define FILE_ATTRIBUTE_SYSTEM 0x00000004u
#define FILE_ATTRIBUTE_DIRECTORY 0x00000010u
#define FILE_ATTRIBUTE_ARCHIVE 0x00000020u
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY 0x00000100u
#define INVALID_FILE_ATTRIBUTES 0xFFFFFFFFu

#define FILE_FLAG_WRITE_THROUGH 0x80000000u
#define FILE_FLAG_OVERLAPPED 0x40000000u
#define FILE_FLAG_NO_BUFFERING 0x20000000u
#define FILE_FLAG_RANDOM_ACCESS 0x10000000u
#define FILE_FLAG_SEQUENTIAL_SCAN 0x08000000u
#define FILE_FLAG_DELETE_ON_CLOSE 0x04000000u
#define FILE_FLAG_BACKUP_SEMANTICS 0x02000000u

#define FILE_BEGIN 0
#define FILE_CURRENT 1
#define FILE_END 2
#define INVALID_SET_FILE_POINTER 0xFFFFFFFFu
#define INVALID_FILE_SIZE 0xFFFFFFFFu

typedef enum _GET_FILEEX_INFO_LEVELS { GetFileExInfoStandard, GetFileExMaxInfoLevel } GET_FILEEX_INFO_LEVELS;

typedef struct _WIN32_FILE_ATTRIBUTE_DATA {
    DWORD dwFileAttributes;
    FILETIME ftCreationTime;
    FILETIME ftLastAccessTime;
    FILETIME ftLastWriteTime;
    DWORD nFileSizeHigh;
    DWORD nFileSizeLow;
} WIN32_FILE_ATTRIBUTE_DATA, *LPWIN32_FILE_ATTRIBUTE_DATA;

ISAPI_RUNTIME_API HANDLE WINAPI CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode,
                                            LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition,
                                            DWORD dwFlagsAndAttributes, HANDLE hTemplateFile);
ISAPI_RUNTIME_API BOOL WINAPI ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead,
                                       LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped);
ISAPI_RUNTIME_API BOOL WINAPI WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite,
                                        LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped);
ISAPI_RUNTIME_API BOOL WINAPI GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                                  LPDWORD lpNumberOfBytesTransferred, BOOL bWait);
ISAPI_RUNTIME_API DWORD WINAPI GetFileSize(HANDLE hFile, LPDWORD lpFileSizeHigh);
ISAPI_RUNTIME_API BOOL WINAPI GetFileSizeEx(HANDLE hFile, PLARGE_INTEGER lpFileSize);
ISAPI_RUNTIME_API DWORD WINAPI SetFilePointer(HANDLE hFile, LONG lDistanceToMove, PLONG lpDistanceToMoveHigh,
                                              DWORD dwMoveMethod);
ISAPI_RUNTIME_API BOOL WINAPI SetFilePointerEx(HANDLE hFile, LARGE_INTEGER liDistanceToMove,
                                               PLARGE_INTEGER lpNewFilePointer, DWORD dwMoveMethod);
ISAPI_RUNTIME_API BOOL WINAPI SetEndOfFile(HANDLE hFile);
ISAPI_RUNTIME_API BOOL WINAPI FlushFileBuffers(HANDLE hFile);
ISAPI_RUNTIME_API DWORD WINAPI GetFileAttributesA(LPCSTR lpFileName);
ISAPI_RUNTIME_API BOOL WINAPI GetFileAttributesExA(LPCSTR lpFileName, GET_FILEEX_INFO_LEVELS fInfoLevelId,
                                                   LPVOID lpFileInformation);
ISAPI_RUNTIME_API BOOL WINAPI DeleteFileA(LPCSTR lpFileName);

#ifndef UNICODE
#define CreateFile CreateFileA
#define GetFileAttributes GetFileAttributesA
#define GetFileAttributesEx GetFileAttributesExA
#define DeleteFile DeleteFileA
#endif

/* The descriptor a file HANDLE stands for, or -1 (no last error set) when h is not one: NULL,
 * INVALID_HANDLE_VALUE, or a kernel object. (runtime/sync.c; files.c and CloseHandle use it.) */
ISAPI_RUNTIME_API int isapi_handle_to_fd(HANDLE h);

#ifdef __cplusplus
}
#endif

#endif
