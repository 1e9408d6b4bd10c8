#define _GNU_SOURCE
#include "extension.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crash.h"
#include "log.h"

/* Extension code runs on threads with the workers' stack size (ISAPI-NOTES §7.9). */
#define UNLOAD_STACK_SIZE (8u << 20)

typedef BOOL(WINAPI *dllmain_fn)(HINSTANCE, DWORD, LPVOID);

typedef enum { EXT_NEW, EXT_LOADED, EXT_FAILED, EXT_TERMINATED } ext_state_t;

typedef struct ext_entry {
    extension_t pub;            /* first: requests see only this */
    struct ext_entry *next;
    pthread_mutex_t load_lock;  /* serialises loading; state below is written under it */
    _Atomic ext_state_t state;  /* read without the lock on the fast path (EXT_LOADED) */
    void *handle;
    dllmain_fn dllmain;
    char error[512];
    bool error_passing;           /* the last load failed for want of descriptors: not remembered */
    struct timespec failed_mtime; /* a failed load is retried when the file changes */
    ino_t failed_ino;
    atomic_bool disabled;         /* rapid-fail protection: refused while the file is disabled_id */
    ext_file_id_t disabled_id;    /* written under load_lock before disabled is set */
} ext_entry_t;

/* Entries are only ever prepended and never removed while the server runs, and an entry's path
 * is immutable once published: lookups walk the list without the lock. */
struct extensions {
    pthread_mutex_t lock; /* serialises additions */
    _Atomic(ext_entry_t *) list;
};

extensions_t *extensions_new(void)
{
    extensions_t *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

static ext_entry_t *entry_find(extensions_t *t, const char *path)
{
    ext_entry_t *e = atomic_load_explicit(&t->list, memory_order_acquire);
    while (e && strcmp(e->pub.path, path) != 0)
        e = e->next;
    return e;
}

static ext_entry_t *entry_find_or_add(extensions_t *t, const char *path)
{
    ext_entry_t *e = entry_find(t, path);
    if (e)
        return e;
    pthread_mutex_lock(&t->lock);
    e = entry_find(t, path);
    if (!e) {
        e = aligned_alloc(_Alignof(ext_entry_t), sizeof *e); /* extension_t's counters' line */
        if (e)
            memset(e, 0, sizeof *e);
        if (e && !(e->pub.path = strdup(path))) {
            free(e);
            e = NULL;
        }
        if (e) {
            pthread_mutex_init(&e->load_lock, NULL);
            e->pub.call_share.name = e->pub.completion_share.name = e->pub.path;
            e->next = atomic_load_explicit(&t->list, memory_order_relaxed);
            atomic_store_explicit(&t->list, e, memory_order_release);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return e;
}

/* Under e->load_lock. */
static bool entry_load(ext_entry_t *e)
{
    dlerror();
    errno = 0;
    void *h = dlopen(e->pub.path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        int err = errno;
        const char *why = dlerror();
        snprintf(e->error, sizeof e->error, "dlopen failed: %s", why ? why : "unknown error");
        /* The library's open (or a dependency's) ran out of descriptors: the server's state, not
         * the extension's. dlopen leaves errno from that open; its message says it too. */
        e->error_passing = err == EMFILE || err == ENFILE ||
                           (why && (strstr(why, strerror(EMFILE)) || strstr(why, strerror(ENFILE))));
        return false;
    }
    PFN_GETEXTENSIONVERSION get_version = (PFN_GETEXTENSIONVERSION)dlsym(h, "GetExtensionVersion");
    PFN_HTTPEXTENSIONPROC proc = (PFN_HTTPEXTENSIONPROC)dlsym(h, "HttpExtensionProc");
    if (!get_version || !proc) {
        snprintf(e->error, sizeof e->error, "missing export %s",
                 !get_version ? "GetExtensionVersion" : "HttpExtensionProc");
        dlclose(h); /* none of its code has run: safe to unmap */
        return false;
    }
    e->pub.terminate = (PFN_TERMINATEEXTENSION)dlsym(h, "TerminateExtension");
    e->dllmain = (dllmain_fn)dlsym(h, "DllMain");
    /* From here on the extension's code runs and may start threads: never unmap it. */
    if (e->dllmain && !e->dllmain((HINSTANCE)h, DLL_PROCESS_ATTACH, NULL)) {
        snprintf(e->error, sizeof e->error, "DllMain(DLL_PROCESS_ATTACH) returned FALSE");
        return false;
    }
    HSE_VERSION_INFO info;
    memset(&info, 0, sizeof info);
    SetLastError(0);
    if (!get_version(&info)) {
        snprintf(e->error, sizeof e->error, "GetExtensionVersion returned FALSE (GetLastError %u)",
                 (unsigned)GetLastError());
        if (e->dllmain)
            e->dllmain((HINSTANCE)h, DLL_PROCESS_DETACH, NULL);
        return false;
    }
    info.lpszExtensionDesc[sizeof info.lpszExtensionDesc - 1] = '\0';
    memcpy(e->pub.description, info.lpszExtensionDesc, sizeof e->pub.description);
    e->handle = h;
    e->pub.proc = proc;
    log_info("loaded extension %s: \"%s\" (ISAPI %u.%u)", e->pub.path, e->pub.description,
             (unsigned)HIWORD(info.dwExtensionVersion), (unsigned)LOWORD(info.dwExtensionVersion));
    return true;
}

extension_t *extensions_entry(extensions_t *t, const char *path)
{
    ext_entry_t *e = entry_find_or_add(t, path);
    return e ? &e->pub : NULL;
}

extension_t *extensions_peek(extensions_t *t, const char *path)
{
    ext_entry_t *e = entry_find(t, path);
    return e && atomic_load_explicit(&e->state, memory_order_acquire) == EXT_LOADED ? &e->pub
                                                                                    : NULL;
}

void extensions_for_each(extensions_t *t, void (*fn)(extension_t *e, bool loaded, void *arg),
                         void *arg)
{
    for (ext_entry_t *e = atomic_load_explicit(&t->list, memory_order_acquire); e; e = e->next)
        fn(&e->pub, atomic_load_explicit(&e->state, memory_order_acquire) == EXT_LOADED, arg);
}

bool extensions_disable(extensions_t *t, const char *path, const ext_file_id_t *id)
{
    ext_entry_t *e = entry_find_or_add(t, path);
    if (!e)
        return false;
    pthread_mutex_lock(&e->load_lock);
    e->disabled_id = *id;
    atomic_store(&e->disabled, true);
    pthread_mutex_unlock(&e->load_lock);
    return true;
}

static bool entry_disabled(ext_entry_t *e, const char *path)
{
    if (!e || !atomic_load_explicit(&e->disabled, memory_order_relaxed))
        return false;
    struct stat st;
    bool still = true;
    pthread_mutex_lock(&e->load_lock);
    if (atomic_load(&e->disabled) && stat(path, &st) == 0 &&
        (st.st_dev != e->disabled_id.dev || st.st_ino != e->disabled_id.ino ||
         st.st_mtim.tv_sec != e->disabled_id.mtime.tv_sec ||
         st.st_mtim.tv_nsec != e->disabled_id.mtime.tv_nsec)) {
        atomic_store(&e->disabled, false);
        still = false;
        log_info("extension %s is enabled again: its file changed since rapid-fail protection "
                 "disabled it", path);
    }
    pthread_mutex_unlock(&e->load_lock);
    return still;
}

bool extensions_disabled(extensions_t *t, const char *path)
{
    return entry_disabled(entry_find(t, path), path);
}

bool extension_disabled(extension_t *ext)
{
    return entry_disabled((ext_entry_t *)ext, ext->path); /* pub is the entry's first member */
}

extension_t *extensions_acquire(extensions_t *t, const char *path, char *err, size_t err_size,
                                bool *out_of_descriptors)
{
    if (out_of_descriptors)
        *out_of_descriptors = false;
    ext_entry_t *e = entry_find_or_add(t, path);
    if (!e) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    /* Loaded: the common case takes no lock (state is stored with release after the load). */
    if (atomic_load_explicit(&e->state, memory_order_acquire) == EXT_LOADED)
        return &e->pub;
    pthread_mutex_lock(&e->load_lock);
    if (e->state == EXT_FAILED) {
        struct stat st;
        bool changed = stat(path, &st) == 0 &&
                       (st.st_ino != e->failed_ino || st.st_mtim.tv_sec != e->failed_mtime.tv_sec ||
                        st.st_mtim.tv_nsec != e->failed_mtime.tv_nsec);
        if (changed)
            e->state = EXT_NEW;
    }
    bool passing = false;
    if (e->state == EXT_NEW) {
        crash_context_enter(path, "(loading: DllMain / GetExtensionVersion)");
        e->error_passing = false;
        bool loaded = entry_load(e);
        crash_context_leave();
        if (loaded) {
            e->state = EXT_LOADED;
        } else if (e->error_passing) {
            static log_limiter_t limiter = LOG_LIMITER_INIT;
            log_limited(&limiter, LOG_ERROR, "cannot load extension %s now: %s; the next request "
                        "for it tries again", path, e->error);
            passing = true; /* stays EXT_NEW */
        } else {
            struct stat st;
            if (stat(path, &st) == 0) {
                e->failed_mtime = st.st_mtim;
                e->failed_ino = st.st_ino;
            }
            e->state = EXT_FAILED;
            log_error("cannot load extension %s: %s", path, e->error);
        }
    }
    extension_t *result = NULL;
    if (e->state == EXT_LOADED) {
        result = &e->pub;
    } else {
        snprintf(err, err_size, "%s", e->error);
    }
    pthread_mutex_unlock(&e->load_lock);
    if (out_of_descriptors)
        *out_of_descriptors = passing;
    return result;
}

/* One extension's unload, run on a thread of its own so that a call that never returns cannot
 * hold up shutdown. Shared by that thread and the shutdown thread, which may give up waiting:
 * whichever of the two lets go last frees it (refs). */
typedef struct unload_job {
    ext_entry_t *e;
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* signalled when done */
    bool done;            /* under lock */
    atomic_int refs;
    _Atomic(const char *) call; /* the call in progress, for the log line when it hangs */
} unload_job_t;

static void unload_job_release(unload_job_t *job)
{
    if (atomic_fetch_sub(&job->refs, 1) != 1)
        return;
    pthread_cond_destroy(&job->cond);
    pthread_mutex_destroy(&job->lock);
    free(job);
}

static void *unload_main(void *arg)
{
    unload_job_t *job = arg;
    ext_entry_t *e = job->e;
    pthread_setname_np(pthread_self(), "isapid-unload");
    crash_context_enter(e->pub.path, "(unloading: TerminateExtension / DllMain)");
    if (e->pub.terminate) {
        atomic_store(&job->call, "TerminateExtension(HSE_TERM_MUST_UNLOAD)");
        e->pub.terminate(HSE_TERM_MUST_UNLOAD);
    }
    if (e->dllmain) {
        atomic_store(&job->call, "DllMain(DLL_PROCESS_DETACH)");
        e->dllmain((HINSTANCE)e->handle, DLL_PROCESS_DETACH, NULL);
    }
    crash_context_leave();
    pthread_mutex_lock(&job->lock);
    job->done = true;
    pthread_cond_signal(&job->cond);
    pthread_mutex_unlock(&job->lock);
    unload_job_release(job);
    return NULL;
}

/* Runs one extension's unload calls and waits for them until timeout_ms; false when they did
 * not return in time (logged, with the call that hangs). */
static bool entry_unload(ext_entry_t *e, unsigned timeout_ms)
{
    unload_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        log_error("cannot unload extension %s: out of memory; not called", e->pub.path);
        return true; /* nothing of it runs */
    }
    job->e = e;
    atomic_init(&job->refs, 2);
    atomic_init(&job->call, "");
    pthread_mutex_init(&job->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&job->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, UNLOAD_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, unload_main, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_error("cannot unload extension %s: no thread for its unload calls (%s); not called",
                  e->pub.path, strerror(rc));
        atomic_store(&job->refs, 1);
        unload_job_release(job);
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&job->lock);
    while (!job->done && pthread_cond_timedwait(&job->cond, &job->lock, &until) != ETIMEDOUT) {
    }
    bool done = job->done;
    pthread_mutex_unlock(&job->lock);
    if (done)
        log_info("unloaded extension %s", e->pub.path);
    else
        log_error("extension %s: %s did not return within %u ms; shutdown goes on without it",
                  e->pub.path, atomic_load(&job->call), timeout_ms);
    unload_job_release(job);
    return done;
}

unsigned extensions_terminate_all(extensions_t *t, unsigned timeout_ms)
{
    unsigned stuck = 0;
    pthread_mutex_lock(&t->lock);
    for (ext_entry_t *e = atomic_load(&t->list); e; e = e->next) {
        /* Marked first, under the lock: a request thread that outlived the grace period and
         * looks the extension up now gets an error instead of a library being unloaded. */
        pthread_mutex_lock(&e->load_lock);
        bool loaded = e->state == EXT_LOADED;
        if (loaded) {
            e->state = EXT_TERMINATED;
            snprintf(e->error, sizeof e->error, "the server is shutting down");
        }
        pthread_mutex_unlock(&e->load_lock);
        if (loaded && !entry_unload(e, timeout_ms))
            stuck++;
    }
    pthread_mutex_unlock(&t->lock);
    return stuck;
}

void extensions_free(extensions_t *t)
{
    if (!t)
        return;
    ext_entry_t *e = atomic_load(&t->list);
    while (e) {
        ext_entry_t *next = e->next;
        pthread_mutex_destroy(&e->load_lock);
        free(e->pub.path);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}
