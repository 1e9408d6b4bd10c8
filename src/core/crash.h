/* Fatal signals. Extensions run in the server's process, so a crash in one (SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP) ends the server; what this module adds is that the
 * operator learns what crashed it: threads running extension code record the extension and the
 * request, and the handler writes one line to stderr naming the signal, that context when there
 * is one, the module holding the faulting instruction (and the faulting address), and the
 * module that started the thread if it was not the server; then the signal takes its default
 * course (core dump where enabled). The handler runs on an alternate stack (src/core/altstack.h), so
 * a stack overflow is reported too. */
#ifndef ISAPID_CRASH_H
#define ISAPID_CRASH_H

/* Installs the handlers for the whole process and the main thread's alternate stack. */
void crash_handlers_install(void);
/* The calling thread is about to run extension code for this request (strings must stay valid
 * until crash_context_leave). */
void crash_context_enter(const char *extension, const char *target);
void crash_context_leave(void);
/* A worker process (src/master.h): every crash report also goes to fd, a pipe to the master, as
 * one record of fewer than PIPE_BUF bytes (one write(2), so never interleaved):
 *   "crash\tSIGNAL\tMODULE\tTARGET\n"
 * MODULE is the extension whose code ran, else the module that started the thread when that is
 * not the server, else empty: a fault of the server's own threads outside extension code (in
 * the server or a library it calls) is the server's; TARGET is the request
 * target when one is known, else empty. Tabs and newlines in either are replaced by spaces. The
 * line on stderr then ends in "the worker process stops". -1 (the default) = no record. */
void crash_record_to(int fd);

#endif
