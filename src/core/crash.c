/* Fatal signals: one line on stderr saying what died where, then the signal's default action.
 *
 * The handler runs on the thread's alternate stack (SA_ONSTACK; src/core/altstack.h gives every
 * thread one), so a stack overflow is reported like any other fault. The line is built in a
 * local buffer and written with one write(2). Everything here is async-signal-safe except
 * dladdr(), which may take the dynamic loader's lock: a crash inside dlopen/dlclose could then
 * hang the handler. Naming the module that faulted is worth that risk; a second thread that
 * faults meanwhile waits a second for the first report and then dies by its signal, so a hang
 * in the first can still end through the second. */
#define _GNU_SOURCE /* dladdr, REG_RIP, sigabbrev_np */
#include "crash.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "altstack.h"

static __thread const char *current_extension;
static __thread const char *current_target;

/* crash_record_to's descriptor and the process it was set in (a child an extension forks
 * inherits both: its crashes are not the worker's); set once before any extension runs. */
static int record_fd = -1;
static pid_t record_pid;

/* The server executable's load address (dladdr's dli_fbase for code of its own), found at
 * install time; constant afterwards. */
static void *server_base;

void crash_context_enter(const char *extension, const char *target)
{
    current_extension = extension;
    current_target = target;
}

void crash_context_leave(void)
{
    current_extension = NULL;
    current_target = NULL;
}

typedef struct line {
    char buf[1024];
    size_t len;
} line_t;

void crash_record_to(int fd)
{
    record_fd = fd;
    record_pid = getpid();
}

static void put(line_t *l, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > sizeof l->buf - l->len)
        n = sizeof l->buf - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_uint(line_t *l, uintptr_t v, unsigned base)
{
    char digits[2 + 2 * sizeof v + 1];
    size_t i = sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    if (base == 16) {
        digits[--i] = 'x';
        digits[--i] = '0';
    }
    put(l, digits + i);
}

/* The faulting instruction and the stack pointer at the fault, from the signal's context. */
static uintptr_t context_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static uintptr_t context_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
    return 0;
#endif
}

/* The module holding address a (the server's own code counts as not found: the caller says
 * "the server"), and in info its symbol where dladdr knows one. */
static const char *module_of(uintptr_t a, Dl_info *info)
{
    if (a == 0 || dladdr((void *)a, info) == 0 || info->dli_fname == NULL)
        return NULL;
    return info->dli_fbase == server_base ? NULL : info->dli_fname;
}

/* " in MODULE (SYMBOL+0xOFF)" or " in the server (SYMBOL+0xOFF)"; nothing when dladdr knows
 * nothing of the address. */
static void put_location(line_t *l, uintptr_t a)
{
    Dl_info info;
    if (a == 0 || dladdr((void *)a, &info) == 0 || info.dli_fname == NULL)
        return;
    const char *mod = module_of(a, &info);
    put(l, " in ");
    put(l, mod ? mod : "the server");
    if (info.dli_sname != NULL && info.dli_saddr != NULL) {
        put(l, " (");
        put(l, info.dli_sname);
        put(l, "+");
        put_uint(l, a - (uintptr_t)info.dli_saddr, 16);
        put(l, ")");
    }
}

static bool is_memory_fault(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS;
}

/* A fault this close to the stack pointer, or just below it, is the stack running into its
 * guard page. */
static bool looks_like_stack_overflow(uintptr_t addr, uintptr_t sp)
{
    return sp != 0 && addr <= sp + 4096 && addr + 256 * 1024 >= sp;
}

/* Appends s to r (at most max bytes of r in all), tabs and newlines made spaces. */
static void put_field(line_t *r, const char *s, size_t max)
{
    for (; s && *s && r->len < max; s++)
        r->buf[r->len++] = (*s == '\t' || *s == '\n') ? ' ' : *s;
}

static void write_record(int sig, const char *module, const char *target)
{
    /* Well under PIPE_BUF (4096): one atomic write. */
    static line_t r; /* one report at a time (reporting above): off the alternate stack */
    r.len = 0;
    put(&r, "crash\t");
    put_uint(&r, (uintptr_t)sig, 10);
    put(&r, "\t");
    put_field(&r, module, 600);
    put(&r, "\t");
    put_field(&r, target, sizeof r.buf - 1);
    r.buf[r.len++] = '\n';
    ssize_t w = write(record_fd, r.buf, r.len);
    (void)w;
}

static void on_fatal_signal(int sig, siginfo_t *si, void *ucv)
{
    static atomic_bool reporting;
    if (atomic_exchange(&reporting, true)) {
        /* Another thread is writing its report; give it time, then die of this signal. */
        struct timespec wait = {1, 0};
        nanosleep(&wait, NULL);
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    const ucontext_t *uc = ucv;
    uintptr_t pc = uc ? context_pc(uc) : 0, sp = uc ? context_sp(uc) : 0;
    uintptr_t addr = si ? (uintptr_t)si->si_addr : 0;
    const char *ext = current_extension, *target = current_target;
    Dl_info info;
    const char *pc_module = module_of(pc, &info);
    const char *creator = module_of((uintptr_t)altstack_thread_creator(), &info);

    line_t l = {.len = 0};
    put(&l, "isapid: fatal signal ");
    put_uint(&l, (uintptr_t)sig, 10);
    put(&l, " (");
    put(&l, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    put(&l, ")");
    if (ext) {
        put(&l, " in extension ");
        put(&l, ext);
        put(&l, " while serving ");
        put(&l, target ? target : "?");
    } else if (pc_module || creator) {
        put(&l, " in ");
        put(&l, pc_module ? pc_module : creator);
        put(&l, " (no request known)");
    } else {
        put(&l, " in the server");
    }
    put(&l, ": instruction ");
    put_uint(&l, pc, 16);
    put_location(&l, pc);
    if (si && is_memory_fault(sig)) {
        put(&l, ", address ");
        put_uint(&l, addr, 16);
        if (looks_like_stack_overflow(addr, sp))
            put(&l, " near the stack pointer (stack overflow)");
        else
            put_location(&l, addr);
    }
    if (creator) {
        put(&l, ", on a thread started by ");
        put(&l, creator);
    }
    bool worker = record_fd >= 0 && getpid() == record_pid;
    put(&l, worker              ? "; the worker process stops\n"
            : record_fd >= 0    ? "; this process (a child of a worker) stops\n"
                                : "; the server stops\n");
    ssize_t w = write(STDERR_FILENO, l.buf, l.len);
    (void)w;
    if (worker)
        write_record(sig, ext ? ext : creator, ext ? target : NULL);
    signal(sig, SIG_DFL);
    raise(sig); /* delivered when the handler returns; a fault also recurs at pc */
}

void crash_handlers_install(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP};
    Dl_info self;
    if (dladdr((void *)(uintptr_t)crash_handlers_install, &self) != 0)
        server_base = self.dli_fbase;
    altstack_ensure(); /* the main thread; the others get theirs as they start */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}
