/* ISAPI filters: loading, the calling order, termination (contract in src/isapi/filter.h). The
 * per-connection and per-request parts are in filter_req.c (the notifications of one request),
 * filter_cb.c (the HTTP_FILTER_CONTEXT callbacks and SF_REQ_*) and filter_headers.c (Get/Set/
 * AddHeader). */
#include "filter.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "log.h"

static int priority_rank(DWORD flags)
{
    if (flags & SF_NOTIFY_ORDER_HIGH)
        return 0;
    if (flags & SF_NOTIFY_ORDER_MEDIUM)
        return 1;
    return 2; /* ORDER_LOW, or no order bit (SF_NOTIFY_ORDER_DEFAULT is LOW) */
}

static const char *priority_name(DWORD flags)
{
    static const char *const names[] = {"high", "medium", "low"};
    return names[priority_rank(flags)];
}

/* Loads cfg's filter i into *f; false after logging why. */
static bool filter_load_one(const filter_conf_t *fc, unsigned i, filter_t *f)
{
    memset(f, 0, sizeof *f);
    f->name = fc->name;
    f->path = fc->path;
    f->load_index = i;
    dlerror();
    void *h = dlopen(fc->path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        log_error("cannot load filter %s (%s): dlopen failed: %s", fc->name, fc->path,
                  why ? why : "unknown error");
        return false;
    }
    BOOL(WINAPI * get_version)
    (PHTTP_FILTER_VERSION) = (BOOL(WINAPI *)(PHTTP_FILTER_VERSION))dlsym(h, "GetFilterVersion");
    f->proc = (filter_proc_fn)dlsym(h, "HttpFilterProc");
    if (!get_version || !f->proc) {
        log_error("cannot load filter %s (%s): missing export %s", fc->name, fc->path,
                  !get_version ? "GetFilterVersion" : "HttpFilterProc");
        dlclose(h); /* none of its code has run: safe to unmap */
        return false;
    }
    f->terminate = (filter_terminate_fn)dlsym(h, "TerminateFilter");
    f->dllmain = (filter_dllmain_fn)dlsym(h, "DllMain");
    f->handle = h;
    /* From here on the filter's code runs and may start threads: never unmap it. */
    crash_context_enter(fc->path, "(loading: DllMain / GetFilterVersion)");
    bool ok = true;
    if (f->dllmain && !f->dllmain((HINSTANCE)h, DLL_PROCESS_ATTACH, NULL)) {
        log_error("cannot load filter %s (%s): DllMain(DLL_PROCESS_ATTACH) returned FALSE",
                  fc->name, fc->path);
        ok = false;
    }
    HTTP_FILTER_VERSION ver;
    memset(&ver, 0, sizeof ver);
    ver.dwServerFilterVersion = HTTP_FILTER_REVISION;
    SetLastError(0);
    if (ok && !get_version(&ver)) {
        log_error("cannot load filter %s (%s): GetFilterVersion returned FALSE (GetLastError %u); "
                  "the server does not start without it",
                  fc->name, fc->path, (unsigned)GetLastError());
        if (f->dllmain)
            f->dllmain((HINSTANCE)h, DLL_PROCESS_DETACH, NULL);
        ok = false;
    }
    crash_context_leave();
    if (!ok)
        return false;
    ver.lpszFilterDesc[sizeof ver.lpszFilterDesc - 1] = '\0';
    memcpy(f->desc, ver.lpszFilterDesc, sizeof f->desc);
    f->flags = ver.dwFlags;
    f->version = ver.dwFilterVersion;
    if (!(f->flags & (SF_NOTIFY_SECURE_PORT | SF_NOTIFY_NONSECURE_PORT)))
        log_info("filter %s asks for neither SF_NOTIFY_SECURE_PORT nor SF_NOTIFY_NONSECURE_PORT: "
                 "it gets the notifications of every connection",
                 fc->name);
    log_info("loaded filter %s (%s): \"%s\" (filter version %u.%u, priority %s, flags 0x%08x)",
             fc->name, fc->path, f->desc, (unsigned)HIWORD(f->version),
             (unsigned)LOWORD(f->version), priority_name(f->flags), (unsigned)f->flags);
    return true;
}

static void filter_unload_one(filter_t *f)
{
    crash_context_enter(f->path, "(unloading: TerminateFilter / DllMain)");
    if (f->terminate)
        f->terminate(0);
    if (f->dllmain)
        f->dllmain((HINSTANCE)f->handle, DLL_PROCESS_DETACH, NULL);
    crash_context_leave();
}

static int by_priority(const void *a, const void *b)
{
    const filter_t *x = a, *y = b;
    int d = priority_rank(x->flags) - priority_rank(y->flags);
    if (d)
        return d;
    return x->load_index < y->load_index ? -1 : x->load_index > y->load_index;
}

filters_t *filters_load(const config_t *cfg, bool *failed)
{
    *failed = false;
    if (cfg->n_filters == 0)
        return NULL;
    filters_t *fs = calloc(1, sizeof *fs);
    filter_t *list = calloc(cfg->n_filters, sizeof *list);
    if (!fs || !list) {
        free(fs);
        free(list);
        log_error("cannot load the filters: out of memory");
        *failed = true;
        return NULL;
    }
    fs->list = list;
    for (size_t i = 0; i < cfg->n_filters; i++) {
        if (!filter_load_one(&cfg->filters[i], (unsigned)i, &list[i])) {
            fs->n = i; /* the ones loaded before: told to unload */
            filters_terminate(fs);
            *failed = true;
            return NULL;
        }
        fs->wanted |= list[i].flags;
    }
    fs->n = cfg->n_filters;
    qsort(list, fs->n, sizeof *list, by_priority); /* load_index makes it stable */
    return fs;
}

void filters_terminate(filters_t *f)
{
    if (!f)
        return;
    /* In load order, whatever the calling order is. */
    for (unsigned want = 0; want < f->n; want++)
        for (size_t i = 0; i < f->n; i++)
            if (f->list[i].load_index == want)
                filter_unload_one(&f->list[i]);
    free(f->list);
    free(f);
}
