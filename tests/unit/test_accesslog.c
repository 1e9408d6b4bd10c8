/* Access log: exact line format, escaping, omitted fields, truncation, "-" = stdout, lines
 * from several threads staying whole, and reopening under them (logrotate) losing none. */
#define _GNU_SOURCE
#include "accesslog.h"
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[PATH_MAX];

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Writes the entries to a fresh log file and returns what ended up in it. */
static char *log_lines(const accesslog_entry_t *entries, size_t n)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/access.log", dir);
    unlink(path);
    char err[256] = "";
    accesslog_t *log = accesslog_open(path, err, sizeof err);
    CHECK(log != NULL);
    if (!log) {
        fprintf(stderr, "%s\n", err);
        return strdup("");
    }
    for (size_t i = 0; i < n; i++)
        accesslog_write(log, &entries[i]);
    accesslog_close(log);
    char *text = read_all(path);
    unlink(path);
    return text;
}

static accesslog_entry_t sample(void)
{
    return (accesslog_entry_t){
        .remote_addr = "192.0.2.1",
        .user = NULL,
        .when = 1795341600, /* 2026-11-22 10:00:00 UTC */
        .method = "GET",
        .target = "/x?y",
        .http_major = 1,
        .http_minor = 1,
        .status = 200,
        .body_bytes = 1234,
        .referer = "http://example.com/",
        .user_agent = "curl/8.0",
        .log_param = NULL,
    };
}

static void test_format(void)
{
    accesslog_entry_t e[3] = {sample(), sample(), sample()};
    e[1].user = "bob";
    e[1].log_param = "extension said hi";
    e[1].when = 1767323045; /* 2026-01-02 03:04:05 UTC */
    e[1].http_minor = 0;
    e[1].status = 404;
    e[2].body_bytes = 0;
    e[2].referer = NULL;
    e[2].user_agent = NULL;
    e[2].log_param = ""; /* same as NULL: field omitted */
    e[2].method = "HEAD";
    char *got = log_lines(e, 3);
    CHECK_STR(
        got,
        "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /x?y HTTP/1.1\" 200 1234 "
        "\"http://example.com/\" \"curl/8.0\"\n"
        "192.0.2.1 - bob [02/Jan/2026:03:04:05 +0000] \"GET /x?y HTTP/1.0\" 404 1234 "
        "\"http://example.com/\" \"curl/8.0\" \"extension said hi\"\n"
        "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"HEAD /x?y HTTP/1.1\" 200 - \"-\" \"-\"\n");
    free(got);
}

static void test_escaping(void)
{
    accesslog_entry_t e = sample();
    e.user = "a b\"";
    e.target = "/q?a=\"1\"&b=\\";
    e.user_agent = "Mozilla \"x\"\t\x01\x1b[31m\x7f caf\xc3\xa9";
    e.referer = "line\r\nbreak";
    e.log_param = "p\"\\";
    char *got = log_lines(&e, 1);
    CHECK_STR(got, "192.0.2.1 - a b\\x22 [22/Nov/2026:10:00:00 +0000] "
                   "\"GET /q?a=\\x221\\x22&b=\\x5C HTTP/1.1\" 200 1234 "
                   "\"line\\x0D\\x0Abreak\" "
                   "\"Mozilla \\x22x\\x22\\x09\\x01\\x1B[31m\\x7F caf\xc3\xa9\" "
                   "\"p\\x22\\x5C\"\n");
    free(got);
}

static void test_missing_request_line(void)
{
    accesslog_entry_t e = sample();
    e.method = NULL;
    e.target = NULL;
    e.status = 400;
    e.remote_addr = "::1";
    char *got = log_lines(&e, 1);
    CHECK_STR(got, "::1 - - [22/Nov/2026:10:00:00 +0000] \"-\" 400 1234 \"http://example.com/\" "
                   "\"curl/8.0\"\n");
    free(got);
}

/* The entry both layers log, from the request's view: a parsed head, and one that never was. */
static void test_entry_fill(void)
{
    http_header_t hs[3] = {
        {.name = "Host", .name_len = 4, .value = "h", .value_len = 1},
        {.name = "user-agent", .name_len = 10, .value = "curl/8.0", .value_len = 8},
        {.name = "Referer", .name_len = 7, .value = "http://example.com/", .value_len = 19},
    };
    reqinfo_t ri = {.method = "GET", .raw_target = "/x?y", .http_major = 1, .http_minor = 1,
                    .headers = hs, .n_headers = 3};
    accesslog_entry_t e;
    accesslog_entry_fill(&e, &ri, "192.0.2.1", 1795341600, 200, 1234, "param");
    char *got = log_lines(&e, 1);
    CHECK_STR(got, "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /x?y HTTP/1.1\" 200 1234 "
                   "\"http://example.com/\" \"curl/8.0\" \"param\"\n");
    free(got);

    reqinfo_t none = {0};
    accesslog_entry_fill(&e, &none, "::1", 1795341600, 400, 0, NULL);
    CHECK_STR(e.method, "-");
    CHECK_STR(e.target, "-");
    CHECK_INT(e.http_major, 1);
    CHECK(e.referer == NULL && e.user_agent == NULL && e.log_param == NULL);
    got = log_lines(&e, 1);
    CHECK_STR(got, "::1 - - [22/Nov/2026:10:00:00 +0000] \"- - HTTP/1.0\" 400 - \"-\" \"-\"\n");
    free(got);
}

/* A field is cut to at most 2048 bytes, at a whole escape, with "..." at the end. */
static void test_truncation(void)
{
    char *long_target = malloc(5001);
    memset(long_target, 'a', 5000);
    long_target[0] = '/';
    long_target[5000] = '\0';
    char *quotes = malloc(1001);
    memset(quotes, '"', 1000);
    quotes[1000] = '\0';
    char *exact = malloc(2049);
    memset(exact, 'b', 2048);
    exact[2048] = '\0';

    accesslog_entry_t e = sample();
    e.target = long_target;
    e.user_agent = quotes;
    e.referer = exact;
    char *got = log_lines(&e, 1);

    char *want = NULL;
    char target_cut[2046], ua_cut[2045];
    memcpy(target_cut, long_target, 2045);
    target_cut[2045] = '\0';
    ua_cut[0] = '\0';
    for (int i = 0; i < 511; i++) /* 511 * 4 = 2044 bytes, then "..." */
        strcat(ua_cut, "\\x22");
    int n = asprintf(&want,
                     "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET %s... HTTP/1.1\" 200 1234 "
                     "\"%s\" \"%s...\"\n",
                     target_cut, exact, ua_cut);
    CHECK(n > 0);
    CHECK_STR(got, want);
    free(want);
    free(got);
    free(long_target);
    free(quotes);
    free(exact);
}

static void test_append_and_mode(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/append.log", dir);
    FILE *f = fopen(path, "w");
    fputs("existing line\n", f);
    fclose(f);

    accesslog_entry_t e = sample();
    accesslog_t *log = accesslog_open(path, NULL, 0);
    CHECK(log != NULL);
    accesslog_write(log, &e);
    accesslog_close(log);
    char *got = read_all(path);
    CHECK(strncmp(got, "existing line\n192.0.2.1 - - [", 29) == 0);
    free(got);
    unlink(path);

    mode_t old = umask(022);
    log = accesslog_open(path, NULL, 0);
    umask(old);
    CHECK(log != NULL);
    accesslog_close(log);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_INT(st.st_mode & 0777, 0644);
    unlink(path);
}

static void test_open_errors(void)
{
    char path[PATH_MAX + 32], err[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/no-such-dir/a.log", dir);
    err[0] = '\0';
    CHECK(accesslog_open(path, err, sizeof err) == NULL);
    CHECK_STR(err, "No such file or directory");

    /* A small buffer is truncated, not overrun. */
    char small[8];
    CHECK(accesslog_open(path, small, sizeof small) == NULL);
    CHECK_STR(small, "No such");
    CHECK(accesslog_open(path, NULL, 0) == NULL);
}

/* "-" writes to standard output and leaves it open on close. */
static void test_stdout(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);

    accesslog_t *log = accesslog_open("-", NULL, 0);
    CHECK(log != NULL);
    accesslog_entry_t e = sample();
    accesslog_write(log, &e);
    accesslog_close(log);
    CHECK(fcntl(STDOUT_FILENO, F_GETFD) != -1);

    dup2(saved, STDOUT_FILENO);
    close(saved);
    char *got = read_all(path);
    CHECK_STR(got, "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /x?y HTTP/1.1\" 200 1234 "
                   "\"http://example.com/\" \"curl/8.0\"\n");
    free(got);
    unlink(path);
}

#define THREADS 8
#define PER_THREAD 400

static accesslog_t *shared_log;

static void *writer(void *arg)
{
    long id = (long)arg;
    char ua[1200];
    /* Long lines (over 1 KiB) make interleaving visible if it happened. */
    memset(ua, 'A' + (int)id, sizeof ua - 1);
    ua[sizeof ua - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++) {
        accesslog_entry_t e = sample();
        e.user_agent = ua;
        e.body_bytes = (uint64_t)i + 1;
        accesslog_write(shared_log, &e);
    }
    return NULL;
}

#define ROTATIONS 20

/* Counts the lines of text and those that are not one writer's whole line. */
static void count_lines(char *text, int *lines, int *bad)
{
    const char *prefix = "192.0.2.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /x?y HTTP/1.1\" 200 ";
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        (*lines)++;
        char *ua = strrchr(line, ' ');
        /* Every line: the fixed prefix, then one thread's letter 1199 times, quoted. */
        if (strncmp(line, prefix, strlen(prefix)) != 0 || !ua || strlen(ua) != 1 + 1 + 1199 + 1 ||
            strspn(ua + 2, (char[]){ua[2], 0}) != 1199)
            (*bad)++;
    }
}

/* Writers on many threads; with rotate, the file is renamed and reopened (logrotate's way)
 * ROTATIONS times while they write: every line lands whole in one of the files, none lost. */
static void test_threads(bool rotate)
{
    char path[PATH_MAX + 16], old[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/threads.log", dir);
    shared_log = accesslog_open(path, NULL, 0);
    CHECK(shared_log != NULL);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, writer, (void *)i);
    for (int k = 0; rotate && k < ROTATIONS; k++) {
        snprintf(old, sizeof old, "%s.%d", path, k);
        CHECK(rename(path, old) == 0);
        char err[128];
        CHECK_INT(accesslog_reopen(shared_log, err, sizeof err), 0);
        struct timespec pause = {0, 200000}; /* let some lines land in each file */
        nanosleep(&pause, NULL);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    accesslog_close(shared_log);

    int lines = 0, bad = 0;
    for (int k = -1; k < (rotate ? ROTATIONS : 0); k++) {
        if (k >= 0)
            snprintf(old, sizeof old, "%s.%d", path, k);
        char *text = read_all(k >= 0 ? old : path);
        count_lines(text, &lines, &bad);
        free(text);
        unlink(k >= 0 ? old : path);
    }
    CHECK_INT(lines, THREADS * PER_THREAD);
    CHECK_INT(bad, 0);
}

/* A reopen that fails (the name is now a directory) keeps the old file. */
static void test_reopen_failure(void)
{
    char path[PATH_MAX + 16], old[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/failing.log", dir);
    snprintf(old, sizeof old, "%s.1", path);
    accesslog_t *log = accesslog_open(path, NULL, 0);
    CHECK(log != NULL);
    CHECK(rename(path, old) == 0);
    CHECK(mkdir(path, 0755) == 0);
    char err[128] = "";
    CHECK_INT(accesslog_reopen(log, err, sizeof err), -1);
    CHECK_STR(err, "Is a directory");
    accesslog_entry_t e = sample();
    accesslog_write(log, &e);
    accesslog_close(log);
    char *text = read_all(old);
    CHECK(strstr(text, "\"GET /x?y HTTP/1.1\" 200") != NULL);
    free(text);
    unlink(old);
    rmdir(path);
    /* Standard output is never reopened. */
    accesslog_t *out = accesslog_open("-", NULL, 0);
    CHECK_INT(accesslog_reopen(out, err, sizeof err), 0);
    accesslog_close(out);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/isapid-accesslog-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_format();
    test_escaping();
    test_missing_request_line();
    test_entry_fill();
    test_truncation();
    test_append_and_mode();
    test_open_errors();
    test_stdout();
    test_threads(false);
    test_threads(true);
    test_reopen_failure();
    rmdir(dir);
    return check_report("test_accesslog");
}
