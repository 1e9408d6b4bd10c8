#define _GNU_SOURCE
#include "crash.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static __thread const char *current_extension;
static __thread const char *current_target;

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

static void put(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - *len)
        n = cap - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

static void on_fatal_signal(int sig)
{
    char msg[1024];
    size_t len = 0;
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), 0, 0};
    const char *ext = current_extension, *target = current_target;
    put(msg, &len, sizeof msg, "isapid: fatal signal ");
    put(msg, &len, sizeof msg, num[0] == '0' ? num + 1 : num);
    put(msg, &len, sizeof msg, " (");
    put(msg, &len, sizeof msg, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    put(msg, &len, sizeof msg, ")");
    if (ext) {
        put(msg, &len, sizeof msg, " in extension ");
        put(msg, &len, sizeof msg, ext);
        put(msg, &len, sizeof msg, " while serving ");
        put(msg, &len, sizeof msg, target ? target : "?");
    } else {
        put(msg, &len, sizeof msg, " in the server");
    }
    put(msg, &len, sizeof msg, "; the server stops\n");
    ssize_t w = write(STDERR_FILENO, msg, len);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

void crash_handlers_install(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}
