/* libisapi internals shared by the C runtime (crt.c) and strsafe (strsafe.c): the bound policy
 * and its diagnostics (include/isapi/isapi_crt.h describes the policy). Not exported. */
#ifndef ISAPI_CRT_INTERNAL_H
#define ISAPI_CRT_INTERNAL_H

#include <stddef.h>

#define CRT_INTERNAL __attribute__((visibility("hidden")))

/* The bound of a destination: the compiler's size (`known`) when known, else the caller's. */
CRT_INTERNAL size_t crt_bound(size_t caller_size, size_t known);

/* One line on stderr, "libisapi: FN called from MODULE: MESSAGE", where MODULE is the file
 * holding the address `caller` (the extension). At most one line per function per second;
 * the next line says how many were suppressed. Thread-safe; one write(2) per line. */
CRT_INTERNAL void crt_report(const char *fn, const void *caller, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports a caller size that differs from the known one where that changed the result:
 * `needed` units (with the NUL) fit the known size but not the caller's (Microsoft's function
 * would have failed), or the caller's size was larger than the destination. */
CRT_INTERNAL void crt_check_size(const char *fn, const void *caller, size_t caller_size, size_t known,
                                 size_t needed);

#endif
