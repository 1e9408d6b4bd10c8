/* The output chain (src/http/outchain.h): the exact byte stream of a chain of memory and file
 * segments whatever the socket takes at each send (a small send buffer, a reader draining k
 * bytes after each full socket, for many k), the byte counts (payload vs framing) at every stop,
 * sendfile's per-call limit, a file shorter than its range, TCP_CORK set while a file range is
 * followed by more or is long (and the unsent queue capped while a long one is sent), both
 * cleared at the end, and failures. */
#define _GNU_SOURCE
#include "outchain.h"
#include "outchain_internal.h"
#include "check.h"
#include "tcp_pair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir[PATH_MAX];

/* ------------------------------------------------------------------------------------------ */
/* Fixtures */

/* A file of len bytes of a pattern unique to seed; *content gets a copy (malloc'ed). */
static int make_file(size_t len, unsigned seed, char **content)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/f%u", dir, seed);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    unlink(path);
    char *buf = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('A' + (i * 7 + seed) % 26);
    CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
    *content = buf;
    return fd;
}

/* Memory of len bytes of a pattern unique to seed (malloc'ed). */
static char *make_mem(size_t len, unsigned seed)
{
    char *buf = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (i * 3 + seed) % 26);
    return buf;
}

/* A connected AF_UNIX stream pair: sv[0] non-blocking with a small send buffer (the sender),
 * sv[1] the reader. */
static void small_pair(int sv[2])
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int size = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
}

typedef struct stream {
    char *data;
    size_t len, cap;
} stream_t;

static void stream_put(stream_t *s, const char *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

/* At most k bytes from fd without blocking, appended to s; the count. */
static size_t drain(int fd, stream_t *s, size_t k)
{
    char buf[65536];
    size_t got = 0;
    while (got < k) {
        size_t want = k - got < sizeof buf ? k - got : sizeof buf;
        ssize_t n = recv(fd, buf, want, MSG_DONTWAIT);
        if (n <= 0)
            break;
        stream_put(s, buf, (size_t)n);
        got += (size_t)n;
    }
    return got;
}

/* The stream the segments make (file_content[i]: segment i's file, whole). */
static void expected(const out_seg_t *segs, size_t n, char *const *file_content, stream_t *want)
{
    for (size_t i = 0; i < n; i++)
        stream_put(want, segs[i].mem ? segs[i].mem : file_content[i] + segs[i].off,
                   (size_t)segs[i].len);
}

/* Payload bytes among the stream's first `upto`. */
static uint64_t payload_in_prefix(const out_seg_t *segs, size_t n, uint64_t upto)
{
    uint64_t at = 0, payload = 0;
    for (size_t i = 0; i < n && at < upto; i++) {
        uint64_t take = segs[i].len < upto - at ? segs[i].len : upto - at;
        if (segs[i].payload)
            payload += take;
        at += take;
    }
    return payload;
}

/* The segment that holds stream byte `at` (n when at is the end). */
static size_t seg_at(const out_seg_t *segs, size_t n, uint64_t at)
{
    for (size_t i = 0; i < n; i++) {
        if (at < segs[i].len)
            return i;
        at -= segs[i].len;
    }
    return n;
}

/* The first non-empty segment at or after i. */
static size_t skip_empty(const out_seg_t *segs, size_t n, size_t i)
{
    while (i < n && segs[i].len == 0)
        i++;
    return i;
}

/* ------------------------------------------------------------------------------------------ */
/* The byte stream under every pattern of full sockets */

/* A response as the server builds them: a head bigger than the send buffer, a file range
 * (from an offset; both ranges are larger than the 64 KiB one sendfile to a local socket
 * takes), a chunk's CRLF, a run of small memory pieces longer than one sendmsg
 * gathers (16), an empty segment, a second file range, a last chunk. */
#define LAYOUT_SEGS 27

static void layout(out_seg_t *segs, char **file_content, int *fds, char **mems)
{
    size_t n = 0;
    for (size_t i = 0; i < LAYOUT_SEGS; i++) {
        file_content[i] = NULL;
        mems[i] = NULL;
        fds[i] = -1;
    }
    mems[n] = make_mem(9000, 1);
    segs[n] = (out_seg_t){.mem = mems[n], .len = 9000, .fd = -1};
    n++;
    fds[n] = make_file(200000, 2, &file_content[n]);
    segs[n] = (out_seg_t){.fd = fds[n], .off = 123, .len = 200000 - 123 - 77, .payload = true};
    n++;
    segs[n] = (out_seg_t){.mem = "\r\n", .len = 2, .fd = -1};
    n++;
    for (unsigned k = 0; k < 20; k++) {
        size_t len = 1 + (k * 5) % 17;
        mems[n] = make_mem(len, 10 + k);
        segs[n] = (out_seg_t){.mem = mems[n], .len = len, .fd = -1, .payload = k % 2 == 0};
        n++;
    }
    segs[n] = (out_seg_t){.mem = "", .len = 0, .fd = -1, .payload = true};
    n++;
    fds[n] = make_file(100000, 3, &file_content[n]);
    segs[n] = (out_seg_t){.fd = fds[n], .off = 0, .len = 100000, .payload = true};
    n++;
    segs[n] = (out_seg_t){.mem = "\r\n0\r\n\r\n", .len = 7, .fd = -1};
    n++;
    CHECK_INT(n, LAYOUT_SEGS - 1);
    segs[n] = (out_seg_t){.mem = "x", .len = 1, .fd = -1}; /* the tail's last byte alone */
}

static void free_layout(char **file_content, int *fds, char **mems)
{
    for (size_t i = 0; i < LAYOUT_SEGS; i++) {
        free(file_content[i]);
        free(mems[i]);
        if (fds[i] >= 0)
            close(fds[i]);
    }
}

/* Send the chain; after each full socket the reader takes at most k bytes. The reader must end
 * with exactly the stream, and at every stop the counts must match the bytes sent so far. */
static void drive_stepwise(size_t k, bool *stopped_in)
{
    out_seg_t segs[LAYOUT_SEGS];
    char *file_content[LAYOUT_SEGS], *mems[LAYOUT_SEGS];
    int fds[LAYOUT_SEGS];
    layout(segs, file_content, fds, mems);
    stream_t want = {0}, got = {0};
    expected(segs, LAYOUT_SEGS, file_content, &want);

    int sv[2];
    small_pair(sv);
    out_chain_t ch;
    out_chain_init(&ch, segs, LAYOUT_SEGS);
    int rc;
    unsigned rounds = 0, bad_counts = 0, stalls = 0;
    while ((rc = out_chain_send(sv[0], &ch)) == 0) {
        rounds++;
        if (ch.payload_sent != payload_in_prefix(segs, LAYOUT_SEGS, ch.bytes) ||
            got.len > ch.bytes ||
            skip_empty(segs, LAYOUT_SEGS, ch.i) != seg_at(segs, LAYOUT_SEGS, ch.bytes))
            bad_counts++;
        stopped_in[seg_at(segs, LAYOUT_SEGS, ch.bytes)] = true;
        if (drain(sv[1], &got, k) == 0 && ++stalls > 1000)
            break; /* the socket is full and nothing can be read: not expected */
    }
    CHECK_INT(rc, 1);
    CHECK_INT(bad_counts, 0);
    CHECK(rounds > 0); /* the stream is far larger than the send buffer */
    drain(sv[1], &got, SIZE_MAX);
    CHECK_INT(got.len, want.len);
    CHECK(got.len == want.len && memcmp(got.data, want.data, want.len) == 0);
    CHECK_INT(ch.bytes, want.len);
    CHECK_INT(ch.payload_sent, payload_in_prefix(segs, LAYOUT_SEGS, want.len));
    CHECK_INT(ch.i, LAYOUT_SEGS);
    CHECK(!out_chain_pending(&ch));
    CHECK(!ch.corked);
    /* Sent is sent: another call sends nothing and says so. */
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    CHECK_INT(ch.bytes, want.len);
    close(sv[0]);
    close(sv[1]);
    free(want.data);
    free(got.data);
    free_layout(file_content, fds, mems);
}

static void test_stepwise(void)
{
    bool stopped_in[LAYOUT_SEGS + 1] = {false};
    static const size_t steps[] = {1, 7, 16, 100, 333, 1500, 4095, 4096, 4097, 9999, 65536};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        drive_stepwise(steps[i], stopped_in);
    /* The socket filled up inside the head and inside both file ranges at least. */
    CHECK(stopped_in[0]);
    CHECK(stopped_in[1]);
    CHECK(stopped_in[LAYOUT_SEGS - 3]);
}

/* Exact stops. The executable's sendmsg, send and sendfile stand in for libc's (the chain's
 * calls resolve to them): while `shim_budget` is not negative, a call sends at most that many
 * bytes and a call that finds it 0 fails with EAGAIN, as a full socket does. They count the
 * calls: shim_sendmsg_calls counts both memory sends (the chain sends a single piece with
 * send). */
static long shim_budget = -1;
static unsigned shim_sendmsg_calls, shim_sendfile_calls;

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    shim_sendmsg_calls++;
    if (shim_budget == 0) {
        errno = EAGAIN;
        return -1;
    }
    struct msghdr m = *msg;
    struct iovec iov[64];
    if (shim_budget > 0) {
        size_t left = (size_t)shim_budget, k = 0;
        for (; k < msg->msg_iovlen && k < 64 && left > 0; k++) {
            iov[k] = msg->msg_iov[k];
            if (iov[k].iov_len > left)
                iov[k].iov_len = left;
            left -= iov[k].iov_len;
        }
        m.msg_iov = iov;
        m.msg_iovlen = k;
    }
    ssize_t n = syscall(SYS_sendmsg, fd, &m, flags);
    if (n > 0 && shim_budget > 0)
        shim_budget -= n;
    return n;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return sendmsg(fd, &m, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    shim_sendfile_calls++;
    if (shim_budget == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (shim_budget > 0 && count > (size_t)shim_budget)
        count = (size_t)shim_budget;
    ssize_t n = syscall(SYS_sendfile, out_fd, in_fd, offset, count);
    if (n > 0 && shim_budget > 0)
        shim_budget -= n;
    return n;
}

#define SMALL_SEGS 8

/* A small response: head, file range, chunk CRLF, two body pieces, an empty one, a second file
 * range, last chunk. */
static void small_layout(out_seg_t *segs, int fd)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nX: y\r\n\r\n";
    out_seg_t l[SMALL_SEGS] = {
        {.mem = head, .len = sizeof head - 1, .fd = -1},
        {.fd = fd, .off = 5, .len = 40, .payload = true},
        {.mem = "\r\n", .len = 2, .fd = -1},
        {.mem = "hello", .len = 5, .fd = -1, .payload = true},
        {.mem = "abc", .len = 3, .fd = -1, .payload = true},
        {.mem = "", .len = 0, .fd = -1, .payload = true},
        {.fd = fd, .off = 0, .len = 10, .payload = true},
        {.mem = "\r\n0\r\n\r\n", .len = 7, .fd = -1},
    };
    memcpy(segs, l, sizeof l);
}

/* The socket is full after exactly `at` bytes, for every `at`; then the rest goes. */
static void test_every_position(void)
{
    char *content;
    int fd = make_file(50, 4, &content);
    out_seg_t segs[SMALL_SEGS];
    small_layout(segs, fd);
    char *files[SMALL_SEGS] = {NULL, content, NULL, NULL, NULL, NULL, content, NULL};
    stream_t want = {0};
    expected(segs, SMALL_SEGS, files, &want);
    uint64_t payload_total = payload_in_prefix(segs, SMALL_SEGS, want.len);
    unsigned bad = 0;
    for (size_t at = 0; at <= want.len; at++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        out_chain_t ch;
        out_chain_init(&ch, segs, SMALL_SEGS);
        shim_budget = (long)at;
        int rc = out_chain_send(sv[0], &ch);
        if (rc != (at == want.len ? 1 : 0) || ch.bytes != at ||
            ch.payload_sent != payload_in_prefix(segs, SMALL_SEGS, at) ||
            skip_empty(segs, SMALL_SEGS, ch.i) != seg_at(segs, SMALL_SEGS, at))
            bad++;
        shim_budget = -1;
        if (out_chain_send(sv[0], &ch) != 1 || ch.bytes != want.len ||
            ch.payload_sent != payload_total)
            bad++;
        stream_t got = {0};
        drain(sv[1], &got, SIZE_MAX);
        if (got.len != want.len || memcmp(got.data, want.data, want.len) != 0)
            bad++;
        free(got.data);
        close(sv[0]);
        close(sv[1]);
    }
    CHECK_INT(bad, 0);

    /* The socket takes k bytes, then is full, again and again: every k. */
    bad = 0;
    for (size_t k = 1; k <= want.len + 1; k++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        out_chain_t ch;
        out_chain_init(&ch, segs, SMALL_SEGS);
        int rc;
        size_t rounds = 0;
        do {
            shim_budget = (long)k;
            rc = out_chain_send(sv[0], &ch);
            rounds++;
            uint64_t sent = rounds * k < want.len ? rounds * k : want.len;
            if (ch.bytes != sent || ch.payload_sent != payload_in_prefix(segs, SMALL_SEGS, sent))
                bad++;
        } while (rc == 0 && rounds <= want.len);
        shim_budget = -1;
        if (rc != 1 || ch.bytes != want.len)
            bad++;
        stream_t got = {0};
        drain(sv[1], &got, SIZE_MAX);
        if (got.len != want.len || memcmp(got.data, want.data, want.len) != 0)
            bad++;
        free(got.data);
        close(sv[0]);
        close(sv[1]);
    }
    CHECK_INT(bad, 0);
    free(want.data);
    free(content);
    close(fd);
}

/* The system calls a response costs: a static file's head and file, one sendmsg and one
 * sendfile; a whole response in memory (head and body: a hello, an error), one sendmsg. */
static void test_call_counts(void)
{
    char *content;
    int fd = make_file(1000, 9, &content);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    out_seg_t file_resp[2] = {{.mem = "HTTP/1.1 200 OK\r\n\r\n", .len = 19, .fd = -1},
                              {.fd = fd, .off = 0, .len = 1000, .payload = true}};
    out_chain_t ch;
    out_chain_init(&ch, file_resp, 2);
    shim_sendmsg_calls = shim_sendfile_calls = 0;
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    CHECK_INT(shim_sendmsg_calls, 1);
    CHECK_INT(shim_sendfile_calls, 1);
    CHECK_INT(ch.payload_sent, 1000);
    CHECK_INT(ch.bytes, 1019);

    out_seg_t mem_resp[2] = {{.mem = "HTTP/1.1 200 OK\r\n\r\n", .len = 19, .fd = -1},
                             {.mem = "Hello, world!\n", .len = 14, .fd = -1, .payload = true}};
    out_chain_init(&ch, mem_resp, 2);
    shim_sendmsg_calls = shim_sendfile_calls = 0;
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    CHECK_INT(shim_sendmsg_calls, 1);
    CHECK_INT(shim_sendfile_calls, 0);
    CHECK_INT(ch.payload_sent, 14);

    /* More memory pieces than one sendmsg gathers (16): one call per 16. */
    out_seg_t many[40];
    for (size_t i = 0; i < 40; i++)
        many[i] = (out_seg_t){.mem = "x", .len = 1, .fd = -1, .payload = true};
    out_chain_init(&ch, many, 40);
    shim_sendmsg_calls = 0;
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    CHECK_INT(shim_sendmsg_calls, 3);
    CHECK_INT(ch.payload_sent, 40);
    stream_t got = {0};
    drain(sv[1], &got, SIZE_MAX);
    CHECK_INT(got.len, 1019 + 33 + 40);
    free(got.data);
    close(sv[0]);
    close(sv[1]);
    free(content);
    close(fd);
}

/* ------------------------------------------------------------------------------------------ */
/* sendfile's limit, short files, failures */

typedef struct reader {
    int fd;
    stream_t got;
} reader_t;

static void *read_all(void *arg)
{
    reader_t *r = arg;
    char buf[65536];
    ssize_t n;
    while ((n = recv(r->fd, buf, sizeof buf, 0)) > 0)
        stream_put(&r->got, buf, (size_t)n);
    return NULL;
}

/* A range larger than one sendfile call may send goes out in several calls, from the right
 * offsets, with what follows it. */
static void test_sendfile_limit(void)
{
    char *content;
    int fd = make_file(100000, 5, &content);
    out_chain_set_sendfile_max_for_tests(4096);
    out_seg_t segs[3] = {
        {.mem = "head", .len = 4, .fd = -1},
        {.fd = fd, .off = 1001, .len = 90001, .payload = true},
        {.mem = "tail", .len = 4, .fd = -1},
    };
    char *files[3] = {NULL, content, NULL};
    stream_t want = {0};
    expected(segs, 3, files, &want);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    reader_t rd = {.fd = sv[1]};
    pthread_t t;
    pthread_create(&t, NULL, read_all, &rd);
    out_chain_t ch;
    out_chain_init(&ch, segs, 3);
    shim_sendfile_calls = 0;
    CHECK_INT(out_chain_send(sv[0], &ch), 1); /* a blocking socket: one call sends it all */
    CHECK_INT(shim_sendfile_calls, (90001 + 4095) / 4096);
    CHECK_INT(ch.bytes, want.len);
    CHECK_INT(ch.payload_sent, 90001);
    shutdown(sv[0], SHUT_WR);
    pthread_join(t, NULL);
    CHECK_INT(rd.got.len, want.len);
    CHECK(rd.got.len == want.len && memcmp(rd.got.data, want.data, want.len) == 0);
    out_chain_set_sendfile_max_for_tests(0);
    close(sv[0]);
    close(sv[1]);
    free(rd.got.data);
    free(want.data);
    free(content);
    close(fd);
}

/* A file that ends before its range does: -EIO once the file's bytes are out, counted. */
static void test_short_file(void)
{
    char *content;
    int fd = make_file(1000, 6, &content);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int size = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    out_seg_t segs[3] = {
        {.mem = "head", .len = 4, .fd = -1},
        {.fd = fd, .off = 100, .len = 2000, .payload = true},
        {.mem = "tail", .len = 4, .fd = -1},
    };
    out_chain_t ch;
    out_chain_init(&ch, segs, 3);
    CHECK_INT(out_chain_send(sv[0], &ch), -EIO);
    CHECK_INT(ch.bytes, 4 + 900);
    CHECK_INT(ch.payload_sent, 900);
    CHECK_INT(ch.i, 1);
    CHECK_INT(ch.seg_done, 900);
    CHECK_INT(out_chain_send(sv[0], &ch), -EIO); /* stays failed */
    stream_t got = {0};
    drain(sv[1], &got, SIZE_MAX);
    CHECK_INT(got.len, 904);
    CHECK(got.len == 904 && memcmp(got.data + 4, content + 100, 900) == 0);
    free(got.data);

    /* A range that starts past the end sends nothing of it. */
    out_seg_t past = {.fd = fd, .off = 5000, .len = 10, .payload = true};
    out_chain_init(&ch, &past, 1);
    CHECK_INT(out_chain_send(sv[0], &ch), -EIO);
    CHECK_INT(ch.bytes, 0);
    CHECK_INT(ch.payload_sent, 0);
    close(sv[0]);
    close(sv[1]);
    free(content);
    close(fd);
}

static void test_failures(void)
{
    int sv[2];
    /* Nothing to send, or only empty segments. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    out_chain_t ch;
    out_chain_init(&ch, NULL, 0);
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    out_seg_t empty[2] = {{.mem = "", .len = 0, .fd = -1}, {.fd = -1, .len = 0, .payload = true}};
    out_chain_init(&ch, empty, 2);
    CHECK_INT(out_chain_send(sv[0], &ch), 1);
    CHECK_INT(ch.i, 2);
    CHECK_INT(ch.bytes, 0);

    /* The peer is gone: -EPIPE, no signal (memory), or the file's failure. */
    close(sv[1]);
    out_seg_t mem = {.mem = "hello", .len = 5, .fd = -1};
    out_chain_init(&ch, &mem, 1);
    CHECK_INT(out_chain_send(sv[0], &ch), -EPIPE);
    CHECK_INT(ch.bytes, 0);
    char *content;
    int fd = make_file(10, 7, &content);
    out_seg_t file = {.fd = fd, .off = 0, .len = 10};
    out_chain_init(&ch, &file, 1);
    CHECK_INT(out_chain_send(sv[0], &ch), -EPIPE); /* SIGPIPE ignored by main() */
    /* A descriptor that is not a file. */
    out_seg_t bad = {.fd = -1, .off = 0, .len = 10};
    out_chain_init(&ch, &bad, 1);
    CHECK_INT(out_chain_send(sv[0], &ch), -EBADF);
    close(sv[0]);
    free(content);
    close(fd);
}

/* ------------------------------------------------------------------------------------------ */
/* TCP_CORK: set while a file range is followed by more, cleared when the chain is sent */

static int corked(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, &len) < 0)
        return -1;
    return v;
}

/* The sender done (s shut for writing): the reader takes the rest from c, and what arrived must
 * be what was sent (want); both streams are freed and both sockets closed. */
static void finish_and_compare(int s, int c, stream_t *want, stream_t *got)
{
    shutdown(s, SHUT_WR);
    fcntl(c, F_SETFL, 0);
    char buf[65536];
    ssize_t r;
    while ((r = recv(c, buf, sizeof buf, 0)) > 0)
        stream_put(got, buf, (size_t)r);
    CHECK_INT(got->len, want->len);
    CHECK(got->len == want->len && memcmp(got->data, want->data, want->len) == 0);
    free(want->data);
    free(got->data);
    close(s);
    close(c);
}

/* Sends the chain over TCP, the reader draining after each full socket; counts the stops at
 * which the cork was set, and checks it against the chain's own flag and position. */
static void drive_corked(out_seg_t *segs, size_t n, char *const *files, unsigned *stops_corked,
                         unsigned *stops)
{
    int s, c;
    if (!tcp_pair(&s, &c, 4096)) {
        fprintf(stderr, "test_outchain: no TCP on the loopback: cork checks skipped\n");
        return;
    }
    stream_t want = {0}, got = {0};
    expected(segs, n, files, &want);
    out_chain_t ch;
    out_chain_init(&ch, segs, n);
    int rc;
    unsigned wrong = 0, spins = 0;
    *stops = *stops_corked = 0;
    while ((rc = out_chain_send(s, &ch)) == 0) {
        (*stops)++;
        int k = corked(s);
        if (k == 1)
            (*stops_corked)++;
        if (k != (int)ch.corked)
            wrong++;
        /* Corked exactly while a file range that is not the last segment is being sent (or
         * what follows it). */
        bool file_before_end = false;
        for (size_t i = 0; i <= ch.i && i < n; i++)
            if (!segs[i].mem && i + 1 < n)
                file_before_end = true;
        if (ch.corked != file_before_end)
            wrong++;
        if (drain(c, &got, 65536) == 0) {
            if (++spins > 100000)
                break;
            usleep(100); /* TCP on the loopback: the bytes are on their way */
        }
    }
    CHECK_INT(rc, 1);
    CHECK_INT(wrong, 0);
    CHECK_INT(corked(s), 0);
    CHECK(!ch.corked);
    finish_and_compare(s, c, &want, &got);
}

static void test_cork(void)
{
    char *content;
    int fd = make_file(300000, 8, &content);
    char *files[3] = {NULL, content, NULL};
    unsigned stops, stops_corked;

    /* head, file, tail: corked from the file on. */
    out_seg_t htt[3] = {
        {.mem = "HTTP/1.1 200 OK\r\n\r\n", .len = 19, .fd = -1},
        {.fd = fd, .off = 0, .len = 300000, .payload = true},
        {.mem = "\r\n0\r\n\r\n", .len = 7, .fd = -1},
    };
    drive_corked(htt, 3, files, &stops_corked, &stops);
    CHECK(stops > 0);
    CHECK(stops_corked > 0);

    /* head, file (a static file): the file is last, never corked. */
    drive_corked(htt, 2, files, &stops_corked, &stops);
    CHECK(stops > 0);
    CHECK_INT(stops_corked, 0);

    /* A file alone, then a file followed by memory. */
    out_seg_t ft[2] = {{.fd = fd, .off = 10, .len = 200000, .payload = true},
                       {.mem = "end", .len = 3, .fd = -1}};
    char *files2[2] = {content, NULL};
    drive_corked(ft, 2, files2, &stops_corked, &stops);
    CHECK(stops_corked > 0);
    free(content);
    close(fd);
}

static int notsent_lowat(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len) < 0)
        return -1;
    return v;
}

/* A file range of OUT_CHAIN_LONG_FILE or more is corked even when it is the last segment (a
 * long static file after its head), and sent with the unsent queue capped, from its first
 * sendfile until the chain is sent; one byte shorter, neither. */
static void test_cork_long_last_file(void)
{
    size_t len = (size_t)OUT_CHAIN_LONG_FILE;
    char *content;
    int fd = make_file(len + 1, 9, &content);
    char *files[2] = {NULL, content};
    int s, c;
    if (!tcp_pair(&s, &c, 4096)) {
        fprintf(stderr, "test_outchain: no TCP on the loopback: long-file cork checks skipped\n");
        free(content);
        close(fd);
        return;
    }
    out_seg_t resp[2] = {
        {.mem = "HTTP/1.1 200 OK\r\n\r\n", .len = 19, .fd = -1},
        {.fd = fd, .off = 1, .len = len, .payload = true},
    };
    stream_t want = {0}, got = {0};
    expected(resp, 2, files, &want);
    out_chain_t ch;
    out_chain_init(&ch, resp, 2);
    int rc;
    unsigned stops = 0, uncorked_stops = 0, uncapped_stops = 0, spins = 0;
    while ((rc = out_chain_send(s, &ch)) == 0) {
        stops++;
        if (corked(s) != 1 || !ch.corked)
            uncorked_stops++;
        if (notsent_lowat(s) != OUT_CHAIN_FILE_NOTSENT_LOWAT || !ch.notsent_capped)
            uncapped_stops++;
        if (drain(c, &got, 65536) == 0) {
            if (++spins > 100000)
                break;
            usleep(100); /* TCP on the loopback: the bytes are on their way */
        }
    }
    CHECK_INT(rc, 1);
    CHECK(stops > 0); /* the file is far larger than the send buffer */
    CHECK_INT(uncorked_stops, 0);
    CHECK_INT(uncapped_stops, 0);
    CHECK_INT(corked(s), 0); /* cleared once sent: the last segment goes out */
    CHECK(!ch.corked);
    CHECK_INT(notsent_lowat(s), 0); /* the system's default again */
    CHECK(!ch.notsent_capped);
    finish_and_compare(s, c, &want, &got);

    /* One byte shorter: the file is last and short, never corked, its queue not capped. */
    resp[1].len = len - 1;
    unsigned stops_corked;
    drive_corked(resp, 2, files, &stops_corked, &stops);
    CHECK(stops > 0);
    CHECK_INT(stops_corked, 0);
    if (tcp_pair(&s, &c, 4096)) {
        out_chain_init(&ch, resp, 2);
        CHECK_INT(out_chain_send(s, &ch), 0);
        CHECK_INT(notsent_lowat(s), 0);
        CHECK(!ch.notsent_capped);
        close(s);
        close(c);
    }
    free(content);
    close(fd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the server does: a gone peer fails the send */
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/isapid-outchain-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_stepwise();
    test_every_position();
    test_call_counts();
    test_sendfile_limit();
    test_short_file();
    test_failures();
    test_cork();
    test_cork_long_last_file();
    rmdir(dir);
    return check_report("test_outchain");
}
