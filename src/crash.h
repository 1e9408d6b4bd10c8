/* Fatal signals in extension code. Extensions run in the server's process, so a crash in one
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) ends the server; what this module adds is that the
 * operator learns which extension crashed it, on which request: worker threads record what they
 * are running, and the handler writes one line to stderr (async-signal-safe), then lets the
 * signal take its default course (core dump where enabled). */
#ifndef ISAPID_CRASH_H
#define ISAPID_CRASH_H

void crash_handlers_install(void);
/* The calling thread is about to run extension code for this request (strings must stay valid
 * until crash_context_leave). */
void crash_context_enter(const char *extension, const char *target);
void crash_context_leave(void);

#endif
