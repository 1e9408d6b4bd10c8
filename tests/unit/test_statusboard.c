/* The status board (src/statusboard.h): claim and release of slots, the extension table, and
 * numbers published in one process read in another (the mapping is shared across fork()). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "statusboard.h"

static void test_claim_release(void)
{
    status_board_t *b = status_board_new(2, 4);
    CHECK(b != NULL);
    status_slot_t *a = status_board_claim(b, 100);
    status_slot_t *c = status_board_claim(b, 200);
    CHECK(a != NULL && c != NULL && a != c);
    CHECK(status_board_claim(b, 300) == NULL); /* full */
    status_worker_t w[4];
    CHECK_INT(status_board_workers(b, w, 4), 2);
    CHECK_INT(w[0].pid, 100);
    CHECK_INT(w[1].pid, 200);
    status_loop_sample_t v = {.requests = 5, .active = 3, .idle = 2, .writing = 1};
    status_slot_set_loops(a, 2);
    status_slot_publish_loop(a, 1, &v);
    CHECK(!status_board_release(b, 300));
    CHECK(status_board_release(b, 100));
    CHECK(!status_board_release(b, 100));
    CHECK_INT(status_board_workers(b, w, 4), 1);
    CHECK_INT(w[0].pid, 200);
    /* the replacement takes the freed slot, emptied */
    status_slot_t *d = status_board_claim(b, 300);
    CHECK(d == a);
    CHECK_INT(status_board_workers(b, w, 4), 2);
    CHECK_INT(w[0].pid, 300);
    CHECK_INT(w[0].total.requests, 0);
    CHECK_INT(w[0].total.active, 0);
    status_board_free(b);
}

static void test_extensions(void)
{
    status_board_t *b = status_board_new(2, 2);
    status_slot_t *s1 = status_board_claim(b, 1), *s2 = status_board_claim(b, 2);
    int x = status_board_ext_index(b, "/x.so"), y = status_board_ext_index(b, "/y.so");
    CHECK_INT(x, 0);
    CHECK_INT(y, 1);
    CHECK_INT(status_board_ext_index(b, "/x.so"), 0);
    CHECK_INT(status_board_ext_index(b, "/z.so"), -1); /* full */
    status_slot_publish_ext(s1, x, true, 10, 2);
    status_slot_publish_ext(s2, x, true, 5, 1);
    status_slot_publish_ext(s2, y, false, 0, 0);
    status_board_ext_crashed(b, "/y.so");
    status_board_ext_crashed(b, "/y.so");
    status_board_ext_set_disabled(b, "/y.so", true);
    status_extension_t e[4];
    CHECK_INT(status_board_extensions(b, e, 4), 2);
    CHECK_STR(e[0].path, "/x.so");
    CHECK_INT(e[0].loaded, 2);
    CHECK_INT(e[0].requests, 15);
    CHECK_INT(e[0].in_flight, 3);
    CHECK_INT(e[0].crashes, 0);
    CHECK(!e[0].disabled);
    CHECK_INT(e[1].loaded, 0);
    CHECK_INT(e[1].crashes, 2);
    CHECK(e[1].disabled);
    /* a released worker's numbers leave the sums */
    status_board_release(b, 1);
    status_board_extensions(b, e, 4);
    CHECK_INT(e[0].requests, 5);
    CHECK_INT(e[0].loaded, 1);
    status_board_free(b);
}

/* A worker forked after the board was made publishes; the parent (the master) reads it, and
 * releases the slot after waitpid. */
static void test_across_fork(void)
{
    status_board_t *b = status_board_new(4, 4);
    int ready[2], done[2];
    CHECK(pipe(ready) == 0 && pipe(done) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        status_slot_t *s = status_board_claim(b, getpid());
        status_slot_set_loops(s, 2);
        status_loop_sample_t l0 = {.requests = 7, .active = 2, .reading = 1, .idle = 1};
        status_loop_sample_t l1 = {.requests = 4, .active = 1, .writing = 1, .parked = 1,
                                   .parked_oldest = 1000};
        status_slot_publish_loop(s, 0, &l0);
        status_slot_publish_loop(s, 1, &l1);
        status_slot_publish_requests(s, 0, 8);
        status_slot_publish_rss(s, 4096);
        status_pool_sample_t calls = {1, 4, 64}, compl = {0, 2, 32};
        status_slot_publish_pools(s, &calls, &compl);
        status_slot_publish_ext(s, status_board_ext_index(b, "/w.so"), true, 3, 1);
        char c = 1;
        if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    CHECK(pid > 0);
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    status_worker_t w[4];
    CHECK_INT(status_board_workers(b, w, 4), 1);
    CHECK_INT(w[0].pid, pid);
    CHECK_INT(w[0].total.requests, 12);
    CHECK_INT(w[0].total.active, 3);
    CHECK_INT(w[0].total.reading, 1);
    CHECK_INT(w[0].total.writing, 1);
    CHECK_INT(w[0].total.idle, 1);
    CHECK_INT(w[0].total.parked, 1);
    CHECK_INT(w[0].total.parked_oldest, 1000);
    CHECK_INT(w[0].rss_bytes, 4096);
    CHECK_INT(w[0].calls.busy, 1);
    CHECK_INT(w[0].calls.max, 64);
    CHECK_INT(w[0].completions.threads, 2);
    CHECK(w[0].start_ms > 0);
    status_extension_t e[4];
    CHECK_INT(status_board_extensions(b, e, 4), 1); /* added by the worker, seen by the master */
    CHECK_STR(e[0].path, "/w.so");
    CHECK_INT(e[0].requests, 3);
    status_board_ext_crashed(b, "/w.so"); /* the master's own field */
    CHECK(write(done[1], &c, 1) == 1);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(status_board_release(b, pid));
    CHECK_INT(status_board_workers(b, w, 4), 0);
    CHECK_INT(status_board_extensions(b, e, 4), 1); /* the table outlives the worker */
    CHECK_INT(e[0].crashes, 1);
    CHECK_INT(e[0].requests, 0);
    status_board_free(b);
}

int main(void)
{
    test_claim_release();
    test_extensions();
    test_across_fork();
    return check_report("test_statusboard");
}
