/* Fuzz harness: requests that run an extension. The request side of a connection (src/http/conn.c
 * with llhttp, routing) hands them to the ISAPI host (src/isapi: the ECB and its cell, server
 * variables, ReadClient and asynchronous reads, WriteClient synchronous and asynchronous,
 * SEND_RESPONSE_HEADER(_EX) text and raw heads, the session's end, the response tail), and
 * the connection goes on: keep-alive after the extension, requests pipelined behind it, bodies
 * it left unread. A real socket pair and a real event loop, in-process.
 *
 * Set-up (once): a scratch directory with a document root (index.html) and a script directory
 * /s holding the fixture tests/fixtures/fuzz_echo.c as e.so, whose query string is a script of
 * callbacks (its header comment lists them): /s/e.so?r&h=...&wb reads the body, sends a head,
 * echoes the body. Small limits (head 2048, URI 512, body 4096, read-ahead 1024), long timeouts,
 * a call pool and a completion pool (1 to 4 workers each), an access log in the scratch
 * directory (truncated before each input, read after it), and one netloop_t whose loop this
 * harness turns by hand.
 *
 * Input: byte 0 chooses how the rest reaches the server. Bits 0-2 and 3-5 place two cuts (in
 * eighths of what is left), so that the request bytes arrive in up to three writes with a loop
 * turn between them. The client then keeps its side open until the server can do nothing more
 * without it (see "When the server waits for the client" below), and ends as bits 6-7 say:
 *   0  extensions run on the call pool; the client shuts its writing side down and reads until
 *      the server has closed;
 *   1  extensions run on the loop's thread (the harness's, as --run-extensions loop without
 *      the hand-off watchdog), then as 0;
 *   2  as 0, but first a day passes (every timer of what the server waits for expires: header
 *      408, keep-alive, read-ahead and discarded bodies, asynchronous reads);
 *   3  as 0, but the client shuts both sides down (a client gone while the server waits).
 * A thread of the client reads all the time (so that a synchronous WriteClient on a full socket
 * always gets room; the server's send buffer is small, so large responses stall and resume).
 *
 * Checked:
 * - every request ends and the connection with it: the server waits for the client or ends
 *   within a bounded time after the last write, and closes within a bounded time after the
 *   client's end (the harness turns the loop, blocking in it, meanwhile); every connection is
 *   freed, every timer disarmed, no descriptor is left behind (and, under LeakSanitizer, no
 *   request, ECB or buffer);
 * - what the server wrote is a sequence of well-formed responses: "HTTP/1.x NNN" heads of CRLF
 *   lines without control bytes (whatever header text the extension gave), at most one
 *   Content-Length and never one with chunked framing, bodies exactly that long or well-formed
 *   chunks, no body after the head of a response to HEAD (except on the loop's error page for
 *   a HEAD whose head it could not take in), and nothing after a response that announced
 *   "Connection: close";
 * - the access log has one line for each final response, in order, with its status (not in
 *   mode 3, where responses may be cut);
 * - a server that closes while the client is still there has said so in its last response,
 *   unless it could not: the extension closed or failed (the fixture logs "fuzz-close"), wrote
 *   past its Content-Length or after the last chunk of a body it framed itself, or a chunked
 *   body proved bad while discarded after its response.
 * Whether a request is HEAD is read from the access log. Time never decides anything here: the
 * timeouts are long, timers fire only in mode 2 and only once the server waits, and what the
 * extension does depends on the request bytes only (the fixture accumulates what it reads,
 * whatever the pieces), so every input runs the same way each time. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "conn.h"
#include "extension.h"
#include "fuzz.h"
#include "conn_async.h"
#include "isapi.h"
#include "isapi_host.h"
#include "log.h"
#include "mime.h"
#include "pool.h"
#include "route.h"
#include "server.h"

#define WAIT_END_MS 5000      /* how long the requests get to end after the client's EOF */
#define WAIT_TURN_MS 50       /* one blocking turn while waiting for them */
#define SERVER_SNDBUF 4096    /* the server socket's send buffer (the kernel doubles it) */
#define OUT_KEEP (1u << 20)   /* response bytes kept for checking; the rest is only counted */
#define LOG_KEEP (256u << 10) /* access log bytes read for checking */
#define STACK_SIZE (8u << 20)
#define DAY_MS (24u * 3600u * 1000u)
#define FIXTURE_CLOSES "fuzz-close" /* the fixture's log parameter when it closes or fails */

static config_t cfg;
static server_t srv;
static netloop_t nl;
static char scratch[128]; /* the scratch directory: www/, scripts/, access.log */
static int log_fd = -1;   /* the access log, opened for reading and truncating */
static int fd_baseline = -1;
static char *log_buf;
static bool dump_responses; /* ISAPID_FUZZ_DUMP set: print responses and the log */

/* The client's reading side: a thread, so that it reads while the harness's thread runs the
 * loop (and possibly an extension on it). out_buf is the reader's until it is joined. */
typedef struct reader {
    pthread_t thread;
    int fd;
    char *out_buf;
    size_t out_len;
} reader_t;

static reader_t rd;

/* ---- the scratch directory ---- */

static void path_in(char *out, size_t size, const char *name)
{
    int n = snprintf(out, size, "%s/%s", scratch, name);
    FUZZ_REQUIRE(n > 0 && (size_t)n < size);
}

static void put_file(const char *name, const char *content, size_t len)
{
    char path[256];
    path_in(path, sizeof path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_REQUIRE(fd >= 0);
    FUZZ_REQUIRE(write(fd, content, len) == (ssize_t)len);
    close(fd);
}

/* The extension is a copy, not a symlink: an extension reached through a symlink leading out
 * of its script directory is refused. */
static void copy_fixture(const char *from, const char *name)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        fprintf(stderr, "fuzz_isapi: cannot open the fixture %s (build the fixtures first)\n",
                from);
        abort();
    }
    struct stat st;
    FUZZ_REQUIRE(fstat(in, &st) == 0);
    char *bytes = malloc((size_t)st.st_size);
    FUZZ_REQUIRE(bytes);
    FUZZ_REQUIRE(read(in, bytes, (size_t)st.st_size) == st.st_size);
    close(in);
    put_file(name, bytes, (size_t)st.st_size);
    free(bytes);
}

static const char *const scratch_files[] = {"www/index.html", "scripts/e.so", "access.log"};
static const char *const scratch_dirs[] = {"www", "scripts"};

static void remove_scratch(void)
{
    char path[256];
    for (size_t i = 0; i < sizeof scratch_files / sizeof scratch_files[0]; i++) {
        path_in(path, sizeof path, scratch_files[i]);
        unlink(path);
    }
    for (size_t i = 0; i < sizeof scratch_dirs / sizeof scratch_dirs[0]; i++) {
        path_in(path, sizeof path, scratch_dirs[i]);
        rmdir(path);
    }
    rmdir(scratch);
}

static void make_scratch(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[sizeof scratch];
    snprintf(tmpl, sizeof tmpl, "%s/isapid-fuzz-XXXXXX",
             tmp && *tmp && strlen(tmp) < 64 ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(tmpl));
    /* Routing compares realpath()s: store the paths resolved, as config.c does. */
    FUZZ_REQUIRE(realpath(tmpl, scratch));
    atexit(remove_scratch);
    char path[256];
    for (size_t i = 0; i < sizeof scratch_dirs / sizeof scratch_dirs[0]; i++) {
        path_in(path, sizeof path, scratch_dirs[i]);
        FUZZ_REQUIRE(mkdir(path, 0755) == 0);
    }
    static const char index[] = "<!doctype html>\n<title>fuzz</title>\n<p>index</p>\n";
    put_file("www/index.html", index, sizeof index - 1);
    copy_fixture(FUZZ_ECHO_SO, "scripts/e.so");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    make_scratch();

    config_defaults(&cfg, NULL);
    config_free(&cfg); /* no root, script dirs or maps: ours only */
    char path[256];
    path_in(path, sizeof path, "www");
    cfg.root = strdup(path);
    cfg.scripts = calloc(1, sizeof *cfg.scripts);
    FUZZ_REQUIRE(cfg.root && cfg.scripts);
    path_in(path, sizeof path, "scripts");
    cfg.scripts[0].prefix = strdup("/s");
    cfg.scripts[0].dir = strdup(path);
    FUZZ_REQUIRE(cfg.scripts[0].prefix && cfg.scripts[0].dir);
    cfg.n_scripts = 1;
    cfg.max_header_bytes = 2048;
    cfg.max_uri_bytes = 512;
    cfg.max_body_bytes = 4096;
    cfg.read_ahead_bytes = 1024;
    cfg.header_timeout_ms = cfg.keepalive_timeout_ms = 10000;
    cfg.body_timeout_ms = cfg.send_timeout_ms = 10000;
    cfg.min_body_rate = cfg.min_send_rate = 0; /* rates would make time decide */
    cfg.workers_min = cfg.completion_workers_min = 1;
    cfg.workers_max = cfg.completion_workers_max = 4;

    srv.cfg = &cfg;
    srv.mime = mime_load(NULL);
    FUZZ_REQUIRE(srv.mime);
    srv.router = router_new(&cfg, 0);
    FUZZ_REQUIRE(srv.router);
    FUZZ_REQUIRE(isapi_init());
    char err[128];
    path_in(path, sizeof path, "access.log");
    srv.access_log = accesslog_open(path, err, sizeof err);
    FUZZ_REQUIRE(srv.access_log);
    log_fd = open(path, O_RDWR | O_CLOEXEC);
    FUZZ_REQUIRE(log_fd >= 0);
    srv.extensions = extensions_new();
    srv.pool = pool_new("extension-call", "fuzz-worker", cfg.workers_min, cfg.workers_max,
                        cfg.workers_max, STACK_SIZE);
    srv.completions = pool_new("completion", "fuzz-compl", cfg.completion_workers_min,
                               cfg.completion_workers_max, cfg.completion_workers_max, STACK_SIZE);
    FUZZ_REQUIRE(srv.extensions && srv.pool && srv.completions);
    srv.loops = &nl;
    srv.n_loops = 1;
    snprintf(srv.software, sizeof srv.software, "isapid/%s", ISAPID_VERSION);

    FUZZ_REQUIRE(server_isapi_host_new(&srv)); /* as server_init wires the layers */

    nl.srv = &srv;
    nl.loop = loop_new();
    FUZZ_REQUIRE(nl.loop);
    netloop_timers_init(&nl, &cfg);

    dump_responses = getenv("ISAPID_FUZZ_DUMP") != NULL;
    rd.out_buf = malloc(OUT_KEEP);
    log_buf = malloc(LOG_KEEP + 1);
    FUZZ_REQUIRE(rd.out_buf && log_buf);
    return 0;
}

/* ---- the client ---- */

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    for (;;) {
        char tmp[65536];
        ssize_t n = recv(r->fd, tmp, sizeof tmp, 0);
        if (n > 0) {
            size_t keep = (size_t)n;
            if (keep > OUT_KEEP - r->out_len)
                keep = OUT_KEEP - r->out_len; /* the check then stops where the kept bytes end */
            memcpy(r->out_buf + r->out_len, tmp, keep);
            r->out_len += keep;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return NULL; /* EOF, or ECONNRESET: the server is gone either way; or our own shutdown */
    }
}

static void turn(int timeout_ms)
{
    loop_run_once(nl.loop, timeout_ms);
    conn_reap(&nl); /* what the server's tick does after each turn */
}

/* Writes the whole piece, turning the loop while the socket is full. False if the server has
 * closed (the rest cannot be delivered). */
static bool client_write(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            turn(WAIT_TURN_MS);
            continue;
        }
        return false;
    }
    return true;
}

/* ---- when the server waits for the client ----
 * The client has written everything and keeps its side open while the server works: a client
 * that half-closes is a client gone, for a request an extension owns (src/isapi/parked.h), so an
 * early EOF would cut responses short. It ends (shuts down, or closes) once the server can do
 * nothing more without it: the loop waits for bytes, or an extension does. An extension waits in
 * a synchronous ReadClient (poll on the connection's socket, src/http/conn_io.c), which this
 * harness sees by wrapping poll (linked with --wrap=poll); or in an asynchronous read, which the
 * loop drives. Bytes the client wrote are in the server's socket at once (AF_UNIX), so "the
 * socket is empty and the server waits" stays true until the client acts: the moment is the
 * same whatever the threads' timing. */

static atomic_int server_fd = -1; /* the connection's socket, for the poll wrapper */
static atomic_int client_waits;   /* threads in a poll for bytes on it that finds none */
static atomic_bool wake_posted;
static loop_task_t wake_task;
static pthread_t harness_thread;
static int client_fd = -1;
static int client_mode;
static bool client_ended;      /* shut down: the client sends nothing more */
static bool closed_before_end; /* the server closed before that */

enum { MODE_POOL, MODE_INLINE, MODE_TIMERS, MODE_ABORT };

static void on_wake(loop_task_t *t)
{
    (void)t;
    atomic_store(&wake_posted, false);
}

/* The server has closed, or shut its writing side down (lingering). */
static bool server_closed(void)
{
    return !nl.conns || nl.conns->state == CONN_LINGER || nl.conns->state == CONN_CLOSED;
}

static void client_end(void)
{
    if (client_ended)
        return;
    client_ended = true;
    closed_before_end = server_closed();
    /* SHUT_RDWR also wakes the reader. */
    shutdown(client_fd, client_mode == MODE_ABORT ? SHUT_RDWR : SHUT_WR);
}

int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    int fd = atomic_load(&server_fd);
    if (n != 1 || timeout == 0 || fd < 0 || fds[0].fd != fd || !(fds[0].events & POLLIN))
        return __real_poll(fds, n, timeout);
    int ready = __real_poll(fds, n, 0);
    if (ready != 0)
        return ready;
    /* Mode 1 runs the extension on this thread: the client can act only now. */
    if (pthread_equal(pthread_self(), harness_thread))
        client_end();
    atomic_fetch_add(&client_waits, 1);
    if (!atomic_exchange(&wake_posted, true))
        loop_post(nl.loop, &wake_task, on_wake); /* the harness looks again */
    int rc = __real_poll(fds, n, timeout);
    atomic_fetch_sub(&client_waits, 1);
    return rc;
}

/* Harness thread (the loop's), after a turn. */
static bool server_waits_for_client(void)
{
    const conn_t *c = nl.conns;
    if (!c)
        return true; /* closed */
    int queued = 0;
    if (c->watch.fd < 0 || ioctl(c->watch.fd, FIONREAD, &queued) < 0 || queued > 0)
        return false;
    if (c->out_buf != NULL || c->out_fd >= 0)
        return false; /* the loop is writing: the reader takes it */
    switch (c->state) {
    case CONN_HEAD:
    case CONN_READAHEAD:
    case CONN_DISCARD:
    case CONN_DRAIN:
    case CONN_LINGER:
        return true;
    case CONN_EXTENSION:
        if (atomic_load(&client_waits) > 0)
            return true;
        /* An asynchronous read the loop drives (c->op is the loop's: this is the loop's
         * thread). */
        return c->op != NULL && c->op->read;
    default:
        return false;
    }
}

static void wait_for_client_needed(void)
{
    uint64_t deadline = clock_now_ms() + WAIT_END_MS;
    while (!server_waits_for_client()) {
        if (clock_now_ms() >= deadline) {
            const conn_t *c = nl.conns;
            fprintf(stderr,
                    "the server neither waits for the client nor ends, %d ms after the "
                    "last write: state %d, request %s\n",
                    WAIT_END_MS, (int)c->state, c->req ? "in progress" : "none");
            abort();
        }
        turn(WAIT_TURN_MS);
    }
}

/* Turns the loop, blocking in it, until the connection is gone: the requests' ends are posted
 * to it from the pools' threads. */
static void wait_closed(void)
{
    uint64_t deadline = clock_now_ms() + WAIT_END_MS;
    while (nl.conns && clock_now_ms() < deadline)
        turn(WAIT_TURN_MS);
    if (nl.conns) {
        const conn_t *c = nl.conns;
        fprintf(stderr,
                "connection still open %d ms after the client's EOF: state %d, request %s, "
                "output pending %d\n",
                WAIT_END_MS, (int)c->state, c->req ? "in progress" : "none",
                c->out_buf != NULL || c->out_fd >= 0);
        FUZZ_CHECK(nl.conns == NULL);
    }
}

/* ---- the access log ---- */

typedef struct log_line {
    bool head; /* the request was HEAD */
    unsigned status;
    uint64_t body_bytes; /* what the extension gave, which may be more than it said */
} log_line_t;

/* Line k of the access log ("host - user [date] \"METHOD target HTTP/1.1\" status bytes ..."):
 * false when there is none. The request field has no raw '"' (accesslog.c escapes it). */
static bool log_line(const char *log, size_t len, size_t k, log_line_t *out)
{
    const char *p = log, *end = log + len;
    for (; k > 0 && p < end; k--) {
        const char *nl_at = memchr(p, '\n', (size_t)(end - p));
        if (!nl_at)
            return false;
        p = nl_at + 1;
    }
    const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (!eol)
        return false;
    const char *req = memmem(p, (size_t)(eol - p), "] \"", 3);
    FUZZ_CHECK(req != NULL);
    req += 3;
    const char *req_end = memchr(req, '"', (size_t)(eol - req));
    FUZZ_CHECK(req_end != NULL && req_end + 2 < eol && req_end[1] == ' ');
    out->head = req_end - req >= 5 && memcmp(req, "HEAD ", 5) == 0;
    char *after;
    out->status = (unsigned)strtoul(req_end + 2, &after, 10);
    out->body_bytes = *after == ' ' ? strtoull(after + 1, NULL, 10) : 0; /* "-" is 0 */
    return true;
}

/* ---- the response check ---- */

/* The body of a chunked response at p: its length (framing included), or 0 when it is cut
 * short (the kept bytes ended, or the connection was cut) or its framing is not the server's
 * kind: an extension that declares Transfer-Encoding: chunked frames its own body, and where
 * that framing does not end as chunked framing ends the server closes after it (the body runs
 * to the close). The server's own framing (bare sizes, no trailers) always parses here. */
static size_t chunked_length(const char *p, size_t len)
{
    size_t pos = 0;
    for (;;) {
        const char *eol = memmem(p + pos, len - pos, "\r\n", 2);
        if (!eol)
            return 0;
        char *num_end;
        unsigned long long size = strtoull(p + pos, &num_end, 16);
        if (num_end != eol || num_end == p + pos)
            return 0;
        pos = (size_t)(eol - p) + 2;
        if (size == 0) {
            if (len - pos < 2 || memcmp(p + pos, "\r\n", 2) != 0)
                return 0;
            return pos + 2;
        }
        if (size > len - pos || len - pos - size < 2 || memcmp(p + pos + size, "\r\n", 2) != 0)
            return 0;
        pos += size + 2;
    }
}

/* Checks the responses in buf against the log. True when they end where a response ends and
 * the last final one said "Connection: close": a server that closes while the client is still
 * there must have said so, or a client that pipelined another request cannot tell a refusal
 * from a lost connection (a response cut short, or whose body runs to the close, shows it). */
static bool check_responses(const char *buf, size_t len, const char *log, size_t log_len,
                            bool complete)
{
    size_t pos = 0, finals = 0;
    bool closing = false, final_closing = false;
    while (pos < len) {
        /* Nothing may follow a response that said the connection closes. */
        FUZZ_CHECK(!closing);
        size_t left = len - pos;
        FUZZ_CHECK(memcmp(buf + pos, "HTTP/1.", left < 7 ? left : 7) == 0);
        const char *end = memmem(buf + pos, left, "\r\n\r\n", 4);
        if (!end)
            return true; /* cut short by the kept-bytes limit, or the connection was cut */
        size_t head_len = (size_t)(end - (buf + pos)) + 4;
        const char *h = buf + pos;
        FUZZ_CHECK(head_len >= 16 && (h[7] == '0' || h[7] == '1') && h[8] == ' ');
        FUZZ_CHECK(h[9] >= '1' && h[9] <= '9' && h[10] >= '0' && h[10] <= '9' && h[11] >= '0' &&
                   h[11] <= '9' && h[12] == ' ');
        unsigned status = (unsigned)((h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0'));
        bool has_length = false, chunked = false;
        uint64_t length = 0;
        for (size_t i = 0; i < head_len; i++) {
            unsigned char c = (unsigned char)h[i];
            if (c == '\r')
                FUZZ_CHECK(h[i + 1] == '\n');
            else if (c == '\n')
                FUZZ_CHECK(i > 0 && h[i - 1] == '\r');
            else
                FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
            if (c != '\n' || i + 1 >= head_len)
                continue;
            const char *line = h + i + 1;
            if (strncasecmp(line, "Content-Length:", 15) == 0) {
                FUZZ_CHECK(!has_length);
                has_length = true;
                length = strtoull(line + 15, NULL, 10);
            } else if (strncasecmp(line, "Transfer-Encoding: chunked\r\n", 28) == 0) {
                FUZZ_CHECK(!chunked);
                chunked = true;
            } else if (strncasecmp(line, "Connection: close\r\n", 19) == 0) {
                closing = true;
            }
        }
        FUZZ_CHECK(!(has_length && chunked));
        pos += head_len;
        if (status < 200)
            continue; /* 100 Continue: the final response follows */
        final_closing = closing;
        log_line_t entry = {0};
        bool logged = log_line(log, log_len, finals++, &entry);
        if (complete) {
            if (!logged)
                fprintf(stderr, "response %zu (status %u) has no access log line\n", finals,
                        status);
            FUZZ_CHECK(logged);
            if (entry.status != status)
                fprintf(stderr, "response %zu: status %u, logged as %u\n", finals, status,
                        entry.status);
            FUZZ_CHECK(entry.status == status);
        }
        if (status == 204 || status == 304)
            continue;
        left = len - pos;
        if (logged && entry.head) {
            /* No body, except on an error page the loop sent for a HEAD whose head it could not
             * take in (is_head is set once the head is complete, src/http/conn.c). */
            if (left == 0 || memcmp(buf + pos, "HTTP/1.", left < 7 ? left : 7) == 0)
                continue;
            FUZZ_CHECK(status >= 400);
        }
        if (chunked) {
            size_t body = chunked_length(buf + pos, left);
            if (body == 0)
                return true;
            pos += body;
            /* The extension framed its own body and wrote more after its last chunk: that is
             * not sent, and the connection closes after the response. (The server's own
             * chunking is longer on the wire than the body bytes it carries: the fixture makes
             * no final send, after which writes are counted but not sent.) */
            if (logged && entry.body_bytes > body)
                final_closing = true;
        } else if (has_length) {
            if (length > left)
                return true;
            pos += length;
            /* The extension wrote more than its Content-Length: the rest cannot be sent, and
             * the connection closes without a word (the head is out). */
            if (logged && entry.body_bytes > length)
                final_closing = true;
        } else {
            return true; /* the body runs to the close */
        }
    }
    return final_closing;
}

/* Case-insensitive memmem for an ASCII needle. */
static bool memmem_ci(const uint8_t *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)p + i, needle, n) == 0)
            return true;
    return false;
}

/* ---- one input ---- */

static void expire_all_timers(void)
{
    conn_timers_run(&nl, loop_now(nl.loop) + DAY_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *req = data + 1;
    size_t len = size - 1;
    int mode = sel >> 6;
    size_t cut1 = len * (sel & 7) / 8;
    size_t cut2 = cut1 + (len - cut1) * ((sel >> 3) & 7) / 8;
    cfg.extensions_inline = mode == MODE_INLINE; /* read when a request starts: none is running */
    FUZZ_REQUIRE(ftruncate(log_fd, 0) == 0);

    int sv[2];
    FUZZ_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    /* Descriptors are allocated lowest first: a leak shows as a pair numbered ever higher. */
    if (fd_baseline < 0)
        fd_baseline = sv[0];
    FUZZ_CHECK(sv[0] < fd_baseline + 8);
    FUZZ_REQUIRE(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
    int sndbuf = SERVER_SNDBUF;
    FUZZ_REQUIRE(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);

    harness_thread = pthread_self();
    client_fd = sv[0];
    client_mode = mode;
    client_ended = closed_before_end = false;
    rd.fd = sv[0];
    rd.out_len = 0;
    FUZZ_REQUIRE(pthread_create(&rd.thread, NULL, reader_main, &rd) == 0);

    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof peer);
    atomic_store(&server_fd, sv[1]);
    conn_accept(&nl, sv[1], &peer, NULL, false); /* the connection owns sv[1] from here */

    size_t cuts[] = {0, cut1, cut2, len};
    for (size_t i = 0; i < 3 && !client_ended && !server_closed(); i++) {
        if (cuts[i + 1] > cuts[i] && !client_write(sv[0], req + cuts[i], cuts[i + 1] - cuts[i]))
            break;
        turn(0);
    }
    if (!client_ended) {
        wait_for_client_needed();
        bool closed = server_closed();
        if (mode == MODE_TIMERS && nl.conns) {
            /* A day passes: the timer of whatever the loop waits for expires. */
            expire_all_timers();
            turn(0);
            wait_for_client_needed();
        }
        client_end();
        closed_before_end = closed; /* a close the timers made needs no announcement */
    }
    wait_closed();
    FUZZ_REQUIRE(pthread_join(rd.thread, NULL) == 0);
    atomic_store(&server_fd, -1);
    close(sv[0]);
    conn_reap(&nl);
    FUZZ_CHECK(atomic_load(&srv.open_conns) == 0);
    FUZZ_CHECK(atomic_load(&client_waits) == 0);
    /* Every timer went with its connection. */
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_header) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_keepalive) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_body) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_send) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_linger) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_rate) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_send_rate) == UINT64_MAX);

    ssize_t log_len = pread(log_fd, log_buf, LOG_KEEP, 0);
    FUZZ_REQUIRE(log_len >= 0);
    log_buf[log_len] = '\0';
    if (dump_responses)
        fprintf(stderr, "--- %zu response bytes ---\n%.*s\n--- access log ---\n%s", rd.out_len,
                (int)rd.out_len, rd.out_buf, log_buf);
    /* The log is checked against the responses only when the client took all of them. */
    bool complete = mode != MODE_ABORT && rd.out_len < OUT_KEEP && (size_t)log_len < LOG_KEEP;
    bool announced = check_responses(rd.out_buf, rd.out_len, log_buf, (size_t)log_len, complete);
    /* Exempt: an extension that closed the connection or failed (the fixture says so in the
     * log), possibly after its head had gone out; and, as in fuzz_request.c, a chunked body
     * found malformed or over the limit while it is discarded after its response. */
    if (closed_before_end && !announced && !strstr(log_buf, FIXTURE_CLOSES) &&
        !memmem_ci(req, len, "chunked")) {
        fprintf(stderr, "the server closed while the client was there, unannounced\n");
        abort();
    }
    return 0;
}
