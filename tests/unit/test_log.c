/* log_limited: one line per limiter per second; the next line counts what was left out. log_open:
 * reopening after a rename under concurrent writers loses and tears no line. */
#include <pthread.h>
#include <stdio.h>
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

#define WRITERS 4
#define LINES_EACH 2000
#define ROTATIONS 20

static void *log_writer(void *arg)
{
    for (int i = 0; i < LINES_EACH; i++)
        log_msg(LOG_ERROR, "writer %ld line %d", (long)arg, i);
    return NULL;
}

/* Counts the lines of path that are whole log lines of the writers above. */
static unsigned count_writer_lines(const char *path, unsigned *bad)
{
    FILE *f = fopen(path, "r");
    char line[256];
    unsigned n = 0;
    while (f && fgets(line, sizeof line, f)) {
        long w;
        int i;
        char tail;
        n++;
        if (sscanf(line, "%*4d-%*2d-%*2dT%*2d:%*2d:%*2dZ [error] writer %ld line %d%c", &w, &i,
                   &tail) != 3 || tail != '\n')
            (*bad)++;
    }
    if (f)
        fclose(f);
    return n;
}

/* log_open puts a file under descriptor 2; calling it again after a rename (logrotate) moves
 * the writers to the new file: every line lands whole in one of the files, none is lost. */
static void test_reopen_under_writers(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[256], path[300], old[320], err[128];
    snprintf(dir, sizeof dir, "%s/isapid-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/error.log", dir);
    int saved = dup(STDERR_FILENO);
    log_set_level(LOG_INFO);
    CHECK_INT(log_open(path, err, sizeof err), 0);
    pthread_t t[WRITERS];
    for (long i = 0; i < WRITERS; i++)
        pthread_create(&t[i], NULL, log_writer, (void *)i);
    for (int k = 0; k < ROTATIONS; k++) {
        snprintf(old, sizeof old, "%s.%d", path, k);
        CHECK(rename(path, old) == 0);
        CHECK_INT(log_open(path, err, sizeof err), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    unsigned lines = 0, bad = 0;
    for (int k = -1; k < ROTATIONS; k++) {
        if (k >= 0)
            snprintf(old, sizeof old, "%s.%d", path, k);
        lines += count_writer_lines(k >= 0 ? old : path, &bad);
        unlink(k >= 0 ? old : path);
    }
    CHECK_INT(lines, WRITERS * LINES_EACH);
    CHECK_INT(bad, 0);
    /* A name that cannot be opened: the log stays where it was, and err says why. */
    CHECK_INT(log_open("/nonexistent-dir/error.log", err, sizeof err), -1);
    CHECK_STR(err, "No such file or directory");
    CHECK_INT(log_open("-", err, sizeof err), 0); /* standard error as it is */
    rmdir(dir);
}

int main(void)
{
    test_reopen_under_writers();

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
