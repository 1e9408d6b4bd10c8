/* Extension table: shared libraries loaded on first use and kept loaded (as IIS does).
 * Loading runs on the thread about to call the extension (a worker, or a loop's thread inside
 * the hand-off guard: DllMain and GetExtensionVersion may block); a failed load is
 * remembered with its reason and retried when the file changes (one that ran out of descriptors
 * is retried at once).
 *
 * Ownership: the table owns every extension_t; they live until extensions_free(). Extensions are
 * never unloaded while the server runs, so requests hold plain pointers to them. */
#ifndef ISAPID_EXTENSION_H
#define ISAPID_EXTENSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <windows.h>
#include <httpext.h>

#include "pool.h"

typedef struct extensions extensions_t;

typedef struct extension {
    char *path;
    PFN_HTTPEXTENSIONPROC proc;
    PFN_TERMINATEEXTENSION terminate; /* may be NULL */
    char description[HSE_MAX_EXT_DLL_NAME_LEN];
    /* Its requests go to the pool, not the loop's thread, while calls_taken is not 0 (calls of
     * it still running whose loop the watchdog took) and until pool_until_ms (monotonic): one of
     * its calls had to be handed off recently (isapi.c). calls_taken may dip below 0 for a
     * moment when a call ends before the watchdog has counted it. */
    atomic_int calls_taken;
    _Atomic uint64_t pool_until_ms;
    atomic_bool handoff_logged; /* the first hand-off of its calls was logged */
    /* Its parts of the two worker pools (src/core/pool.h): how many workers its HttpExtensionProc
     * calls and its completion callbacks may hold. They exist before it is loaded, so calls
     * that wait for the load count against it too. */
    pool_share_t call_share, completion_share;
    /* Requests that called its HttpExtensionProc, and those of them that have ended (in flight:
     * the difference), counted only while the status page is on (--status); relaxed atomics,
     * read by its sampling (src/status.h). On
     * a cache line of their own: every request writes them, and the fields above are read by
     * every request on every loop. */
    _Alignas(64) _Atomic uint64_t requests_started;
    _Atomic uint64_t requests_ended;
} extension_t;

extensions_t *extensions_new(void);
/* Find or load the extension at path (absolute). NULL on failure, with the reason in err
 * (and logged once per failure). A load that failed for want of descriptors is not remembered:
 * *out_of_descriptors (may be NULL) says so, and the next call tries again. */
extension_t *extensions_acquire(extensions_t *t, const char *path, char *err, size_t err_size,
                                bool *out_of_descriptors);
/* The entry for path, loaded or not (created when new; NULL only on ENOMEM): what its pool
 * shares are found by before it is loaded. Never loads; takes a lock only to create. */
extension_t *extensions_entry(extensions_t *t, const char *path);
/* The extension at path if it is loaded already, else NULL; never loads (cheap, no lock). */
extension_t *extensions_peek(extensions_t *t, const char *path);
/* Calls fn for every entry of the table, loaded or not (any thread; entries added meanwhile may
 * be missed). */
void extensions_for_each(extensions_t *t, void (*fn)(extension_t *e, bool loaded, void *arg),
                         void *arg);
/* Shutdown: TerminateExtension(HSE_TERM_MUST_UNLOAD) then DllMain(DLL_PROCESS_DETACH) for every
 * loaded extension, one extension after the other, each on a thread of its own that is waited
 * for at most timeout_ms (a call that never returns is logged and left running). Returns how
 * many extensions are still inside those calls. Libraries stay mapped (threads they started
 * may still run). */
/* Rapid-fail protection (src/master.h): the file an extension was disabled as, by inode and
 * modification time; another file at the path is enabled again. */
typedef struct ext_file_id {
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
} ext_file_id_t;
/* Requests for path are refused from now on (any thread may be reading: the flag is atomic)
 * while the file at path is still id. False on ENOMEM. */
bool extensions_disable(extensions_t *t, const char *path, const ext_file_id_t *id);
/* Whether path is disabled: cheap when it is not (no lock, no system call); when it is, the file
 * is looked at, and a changed one is enabled again (logged). */
bool extensions_disabled(extensions_t *t, const char *path);
/* The same for an extension already found (no lookup by path). */
bool extension_disabled(extension_t *ext);
unsigned extensions_terminate_all(extensions_t *t, unsigned timeout_ms);
void extensions_free(extensions_t *t);

#endif
