/* log_limited: one line per limiter per second; the next line counts what was left out. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

/* stderr goes to a pipe so the test can count and read the lines. */
static int capture_start(int *saved)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(stderr);
    *saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    return fds[0];
}

static size_t capture_end(int rd, int saved, char *buf, size_t cap)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(rd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(rd);
    return n;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int main(void)
{
    static char out[1 << 16];
    log_limiter_t lim = LOG_LIMITER_INIT;
    int saved, rd = capture_start(&saved);
    CHECK(rd >= 0);
    unsigned written = 0;
    for (int i = 0; i < 1000; i++)
        written += log_limited(&lim, LOG_ERROR, "accept: out of descriptors (%d)", i);
    capture_end(rd, saved, out, sizeof out);
    CHECK_INT(written, 1); /* all within one second (or two, at a second's edge) */
    CHECK(count_lines(out) <= 2);
    CHECK(strstr(out, "accept: out of descriptors (0)") != NULL);
    CHECK(strstr(out, "more like this") == NULL);

    /* The next second: one line, which says how many were left out. */
    struct timespec pause = {1, 50 * 1000000L};
    nanosleep(&pause, NULL);
    rd = capture_start(&saved);
    CHECK(log_limited(&lim, LOG_ERROR, "accept: again"));
    CHECK(!log_limited(&lim, LOG_ERROR, "accept: again"));
    capture_end(rd, saved, out, sizeof out);
    CHECK_INT(count_lines(out), 1);
    CHECK(strstr(out, "(999 more like this") != NULL);

    /* Below the level: nothing written, nothing counted. */
    log_set_level(LOG_WARN);
    log_limiter_t quiet = LOG_LIMITER_INIT;
    CHECK(!log_limited(&quiet, LOG_INFO, "hidden"));
    CHECK_INT(quiet.suppressed, 0);
    return check_report("log");
}
