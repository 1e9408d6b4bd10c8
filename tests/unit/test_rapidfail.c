/* Rapid-fail protection's counts (src/master_rapidfail.c): a limit within a window, per file,
 * a changed file counting anew, a reload forgetting everything. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "master_rapidfail.h"

static char *temp_file(const char *dir, const char *name)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("x", f);
        fclose(f);
    }
    return path;
}

static void test_limit_within_window(const char *a, const char *b)
{
    rapidfail_t t = {0};
    rapidfail_entry_t *disabled = NULL;
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 10000, &disabled), 1);
    CHECK(disabled == NULL);
    CHECK_INT(rapidfail_count(&t, b, 3, 1000, 10001, &disabled), 1); /* another file: apart */
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 10500, &disabled), 2);
    CHECK(disabled == NULL);
    /* the first crash left the window: still two */
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 11200, &disabled), 2);
    CHECK(disabled == NULL);
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 11300, &disabled), 3);
    CHECK(disabled != NULL && disabled->disabled);
    CHECK_STR(disabled ? disabled->path : NULL, a);
    /* disabled once: the next crash reports no new disabling */
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 11400, &disabled), 3);
    CHECK(disabled == NULL);
    rapidfail_clear(&t);
    CHECK(t.entries == NULL);
    CHECK_INT(rapidfail_count(&t, a, 3, 1000, 11500, &disabled), 1);
    rapidfail_clear(&t);
}

static void test_changed_file_counts_anew(const char *a)
{
    rapidfail_t t = {0};
    rapidfail_entry_t *disabled = NULL;
    CHECK_INT(rapidfail_count(&t, a, 2, 60000, 1000, &disabled), 1);
    CHECK_INT(rapidfail_count(&t, a, 2, 60000, 1001, &disabled), 2);
    CHECK(disabled != NULL);
    struct stat st;
    CHECK(stat(a, &st) == 0);
    struct timespec times[2] = {st.st_atim, {.tv_sec = st.st_mtim.tv_sec + 10, .tv_nsec = 0}};
    CHECK(utimensat(AT_FDCWD, a, times, 0) == 0);
    CHECK_INT(rapidfail_count(&t, a, 2, 60000, 1002, &disabled), 1);
    CHECK(disabled == NULL);
    CHECK(!t.entries->disabled);
    rapidfail_clear(&t);
}

static void test_off_never_disables(const char *a)
{
    rapidfail_t t = {0};
    rapidfail_entry_t *disabled = NULL;
    for (int i = 0; i < 5; i++)
        rapidfail_count(&t, a, 0, 60000, 1000 + (uint64_t)i, &disabled);
    CHECK(disabled == NULL);
    rapidfail_clear(&t);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/isapid-rapidfail-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    char *a = temp_file(dir, "a.so"), *b = temp_file(dir, "b.so");
    CHECK(a != NULL && b != NULL);
    if (a && b) {
        test_limit_within_window(a, b);
        test_changed_file_counts_anew(a);
        test_off_never_disables(a);
        unlink(a);
        unlink(b);
    }
    rmdir(dir);
    free(a);
    free(b);
    return check_report("test_rapidfail");
}
