/* Fuzz harness: the request side of a connection (src/http/conn.c with llhttp, routing, static
 * files, error responses, limits, keep-alive, pipelining, bodies, timers), driven in-process
 * through a real socket pair and a real event loop.
 *
 * Set-up (once): a document root in a scratch directory (index.html, a 10 KiB file, a
 * sub-directory with an index, one without, a dotfile, a symlink leading out of the root),
 * small limits (head 2048, URI 512, body 4096), no script directories and no script maps, so
 * that no input can route to an extension (the server has no worker pool here), an access log
 * writing to /dev/null, and one netloop_t whose loop this harness turns by hand.
 *
 * Input: byte 0 chooses how the rest reaches the server. Bits 0-2 and 3-5 place two cuts (in
 * eighths of what is left), so that the request bytes arrive in up to three writes with a loop
 * turn between them. Bits 6-7 pick what the client does then:
 *   0  shuts its writing side down and reads until the server has closed;
 *   1  reads nothing while writing, then lets a day pass (every timer expires: header 408,
 *      keep-alive, body, send with output stalled on a full socket, linger), then as 0;
 *   2  stays for some more turns, then as 0;
 *   3  reads nothing, stays for some more turns, then closes its socket at once.
 * The server's socket has a small send buffer, so large responses stall and resume.
 * Checked:
 * - the connection always ends: the server closes within a bounded number of loop turns after
 *   the client's EOF (a missed edge-triggered wake-up would leave it open), every connection is
 *   freed, every timer disarmed, and no descriptor is left behind;
 * - what the server wrote is a sequence of well-formed responses: "HTTP/1.x NNN" heads of CRLF
 *   lines, a Content-Length on every response that may have a body, bodies exactly that long,
 *   and nothing at all after a response that announced "Connection: close" (a request the server
 *   could not frame must not be followed by answers to bytes it could not place);
 * - a server that closes while the client is still there (before its EOF, no timer fired) has
 *   said so in its last response ("Connection: close"): a client that pipelined more requests
 *   must be able to tell a refusal from a lost connection.
 * Time never decides anything here: timeouts are long, and only mode 1 fires them, by passing
 * the timer code a time a day ahead. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "config.h"
#include "conn.h"
#include "fuzz.h"
#include "log.h"
#include "mime.h"
#include "route.h"
#include "server.h"

#define TURNS_AFTER_EOF 2000         /* loop turns the server gets to finish after the client's EOF */
#define HOLD_TURNS 20                /* modes 2 and 3: turns the client stays after writing */
#define SERVER_SNDBUF 4096           /* the server socket's send buffer (the kernel doubles it) */
#define OUT_KEEP (4u << 20)          /* response bytes kept for checking; the rest is only counted */
#define DAY_MS (24u * 3600u * 1000u)

static config_t cfg;
static server_t srv;
static netloop_t nl;
static char root[128];
static int fd_baseline = -1;        /* first descriptor of the first socket pair */
static char *out_buf;               /* what the server wrote for the current input */
static size_t out_len;
static bool dump_responses;         /* ISAPID_FUZZ_DUMP set: print them (for debugging) */

/* ---- the document root ---- */

static const char *const root_dirs[] = {"sub", "nodir"};
static const char *const root_files[] = {"index.html", "big.bin", "sub/index.html",
                                         "sub/page.txt", "nodir/x.txt", ".hidden"};

static void put_file(const char *name, const char *content, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FUZZ_REQUIRE(fd >= 0);
    FUZZ_REQUIRE(write(fd, content, len) == (ssize_t)len);
    close(fd);
}

static void remove_root(void)
{
    char path[256];
    for (size_t i = 0; i < sizeof root_files / sizeof root_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, root_files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/out", root);
    unlink(path);
    for (size_t i = 0; i < sizeof root_dirs / sizeof root_dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, root_dirs[i]);
        rmdir(path);
    }
    rmdir(root);
}

/* File contents never contain "HTTP/1." (and no capital letters at all), which lets the
 * response check tell a HEAD response (no body) from a body. */
static void make_root(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[sizeof root];
    snprintf(tmpl, sizeof tmpl, "%s/isapid-fuzz-XXXXXX",
             tmp && *tmp && strlen(tmp) < 64 ? tmp : "/tmp");
    FUZZ_REQUIRE(mkdtemp(tmpl));
    /* Routing compares realpath()s: store the root resolved, as config.c does. */
    FUZZ_REQUIRE(realpath(tmpl, root));
    atexit(remove_root);
    char path[256];
    for (size_t i = 0; i < sizeof root_dirs / sizeof root_dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, root_dirs[i]);
        FUZZ_REQUIRE(mkdir(path, 0755) == 0);
    }
    static const char index[] = "<!doctype html>\n<title>fuzz</title>\n<p>index</p>\n";
    put_file("index.html", index, sizeof index - 1);
    static char big[10240];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    put_file("big.bin", big, sizeof big);
    put_file("sub/index.html", "<p>sub</p>\n", 11);
    put_file("sub/page.txt", "page\n", 5);
    put_file("nodir/x.txt", "x\n", 2);
    put_file(".hidden", "secret\n", 7);
    snprintf(path, sizeof path, "%s/out", root);
    FUZZ_REQUIRE(symlink("/etc", path) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN); /* sendfile has no MSG_NOSIGNAL; the server ignores it too */
    log_set_level(LOG_ERROR);
    make_root();

    /* Defaults for everything, then no script dirs or maps (config_free drops them, and the
     * root) and our own root and limits. */
    config_defaults(&cfg, NULL);
    config_free(&cfg);
    cfg.root = strdup(root);
    FUZZ_REQUIRE(cfg.root);
    FUZZ_REQUIRE(cfg.n_scripts == 0 && cfg.n_maps == 0);
    cfg.max_header_bytes = 2048;
    cfg.max_uri_bytes = 512;
    cfg.max_body_bytes = 4096;
    cfg.read_ahead_bytes = 1024;
    cfg.header_timeout_ms = cfg.keepalive_timeout_ms = 10000;
    cfg.body_timeout_ms = cfg.send_timeout_ms = 10000;

    srv.cfg = &cfg;
    srv.mime = mime_load(NULL); /* built-in table: independent of the machine's mime.types */
    FUZZ_REQUIRE(srv.mime);
    char err[128];
    srv.access_log = accesslog_open("/dev/null", err, sizeof err);
    FUZZ_REQUIRE(srv.access_log);
    srv.router = router_new(&cfg, 0);
    FUZZ_REQUIRE(srv.router);
    srv.pool = NULL;
    srv.loops = &nl;
    srv.n_loops = 1;
    snprintf(srv.software, sizeof srv.software, "isapid/%s", ISAPID_VERSION);

    nl.srv = &srv;
    nl.loop = loop_new();
    FUZZ_REQUIRE(nl.loop);
    netloop_timers_init(&nl, &cfg);

    dump_responses = getenv("ISAPID_FUZZ_DUMP") != NULL;
    out_buf = malloc(OUT_KEEP);
    FUZZ_REQUIRE(out_buf);
    return 0;
}

/* ---- the client side ---- */

/* Reads what the server wrote; true once it has closed its side (EOF). */
static bool client_read(int fd)
{
    for (;;) {
        char tmp[65536];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n > 0) {
            size_t keep = (size_t)n;
            if (keep > OUT_KEEP - out_len)
                keep = OUT_KEEP - out_len; /* the check then stops where the kept bytes end */
            memcpy(out_buf + out_len, tmp, keep);
            out_len += keep;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        return true; /* EOF, or ECONNRESET: the server is gone either way */
    }
}

static void turn(void)
{
    loop_run_once(nl.loop, 0);
    conn_reap(&nl); /* what the server's tick does after each turn */
}

/* Writes the whole piece, turning the loop while the socket is full. False if the server has
 * closed (the rest cannot be delivered). */
static bool client_write(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            turn();
            client_read(fd);
            continue;
        }
        return false;
    }
    return true;
}

/* ---- the response check ---- */

static const char *find_crlfcrlf(const char *p, size_t len)
{
    return memmem(p, len, "\r\n\r\n", 4);
}

static void check_responses(const char *buf, size_t len)
{
    size_t pos = 0;
    bool closing = false;
    while (pos < len) {
        /* Nothing may follow a response that said the connection closes. */
        FUZZ_CHECK(!closing);
        size_t left = len - pos;
        FUZZ_CHECK(memcmp(buf + pos, "HTTP/1.", left < 7 ? left : 7) == 0);
        const char *end = find_crlfcrlf(buf + pos, left);
        if (!end)
            return; /* cut short by the kept-bytes limit, or the connection was cut */
        size_t head_len = (size_t)(end - (buf + pos)) + 4;
        const char *h = buf + pos;
        FUZZ_CHECK(head_len >= 16 && (h[7] == '0' || h[7] == '1') && h[8] == ' ');
        FUZZ_CHECK(h[9] >= '1' && h[9] <= '5' && h[10] >= '0' && h[10] <= '9' &&
                   h[11] >= '0' && h[11] <= '9' && h[12] == ' ');
        unsigned status = (unsigned)((h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0'));
        bool has_length = false;
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
            } else if (strncasecmp(line, "Connection: close\r\n", 19) == 0) {
                closing = true;
            }
        }
        pos += head_len;
        if (status < 200)
            continue; /* 100 Continue: the final response follows */
        bool bodiless = status == 204 || status == 304;
        FUZZ_CHECK(has_length || bodiless);
        if (bodiless || length == 0)
            continue;
        /* A response to HEAD has a Content-Length and no body: our bodies never start with
         * "HTTP/1.", so that is how it shows. */
        left = len - pos;
        if (left > 0 && memcmp(buf + pos, "HTTP/1.", left < 7 ? left : 7) == 0)
            continue;
        if (length > left)
            return;
        pos += length;
    }
}

/* Case-insensitive memmem for an ASCII needle. */
static bool contains_ci(const uint8_t *p, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp((const char *)p + i, needle, n) == 0)
            return true;
    return false;
}

/* The client keeps its side open and the server closed the connection anyway: the last final
 * response must have said so ("Connection: close"), or a client that pipelined another request
 * cannot tell a refusal from a lost connection. */
static void check_close_announced(const char *buf, size_t len)
{
    const char *last = NULL;
    for (const char *p = buf; p; p = memmem(p + 1, len - (size_t)(p + 1 - buf), "HTTP/1.", 7)) {
        if ((size_t)(p - buf) + 12 <= len && p[9] != '1')
            last = p;
        if ((size_t)(p + 1 - buf) >= len)
            break;
    }
    FUZZ_CHECK(last != NULL);
    const char *end = memmem(last, len - (size_t)(last - buf), "\r\n\r\n", 4);
    FUZZ_CHECK(end && memmem(last, (size_t)(end - last) + 4, "\r\nConnection: close\r\n", 21));
}

/* ---- one input ---- */

static void expire_all_timers(void)
{
    conn_timers_run(&nl, loop_now(nl.loop) + DAY_MS);
}

enum { MODE_PLAIN, MODE_EXPIRE, MODE_HOLD, MODE_ABORT };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *req = data + 1;
    size_t len = size - 1;
    size_t cut1 = len * (sel & 7) / 8;
    size_t cut2 = cut1 + (len - cut1) * ((sel >> 3) & 7) / 8;
    int mode = sel >> 6;
    bool reads = mode == MODE_PLAIN || mode == MODE_HOLD; /* before the end */

    int sv[2];
    FUZZ_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    /* Descriptors are allocated lowest first: a leak shows as a pair numbered ever higher. */
    if (fd_baseline < 0)
        fd_baseline = sv[0];
    FUZZ_CHECK(sv[0] < fd_baseline + 8);
    int sndbuf = SERVER_SNDBUF;
    FUZZ_REQUIRE(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);
    out_len = 0;

    struct sockaddr_storage peer;
    memset(&peer, 0, sizeof peer);
    conn_accept(&nl, sv[1], &peer, NULL, false); /* the connection owns sv[1] from here */

    /* The client's side stays open until every piece is written (and, in modes 2 and 3, for
     * some more turns): a close seen until then is the server's own decision. */
    size_t cuts[] = {0, cut1, cut2, len};
    bool server_closed = false;
    for (size_t i = 0; i < 3 && !server_closed; i++) {
        if (cuts[i + 1] > cuts[i] && !client_write(sv[0], req + cuts[i], cuts[i + 1] - cuts[i]))
            server_closed = true;
        turn();
        if (reads && client_read(sv[0]))
            server_closed = true;
    }
    for (int t = 0; (mode == MODE_HOLD || mode == MODE_ABORT) && t < HOLD_TURNS && !server_closed;
         t++) {
        turn();
        server_closed = reads && client_read(sv[0]);
    }
    if (server_closed) {
        for (int t = 0; t < TURNS_AFTER_EOF && !client_read(sv[0]); t++)
            turn(); /* the rest of what it wrote, up to its EOF */
        /* Exempt: a chunked body found malformed or over the limit while it is discarded after
         * its response (the response was out before the server could know). The corpus input
         * expect-close-unannounced keeps the fixed "Expect: 100-continue" case covered. */
        if (!contains_ci(req, len, "chunked"))
            check_close_announced(out_buf, out_len);
    }
    if (mode == MODE_EXPIRE) {
        expire_all_timers();
        turn();
    }

    if (mode == MODE_ABORT) {
        /* Gone without a word: the server sees a hang-up or a failed send, and closes. */
        close(sv[0]);
        for (int t = 0; t < TURNS_AFTER_EOF && nl.conns; t++)
            turn();
    } else {
        shutdown(sv[0], SHUT_WR);
        bool eof = false;
        for (int t = 0; t < TURNS_AFTER_EOF && (!eof || nl.conns); t++) {
            turn();
            if (client_read(sv[0]))
                eof = true;
        }
    }
    if (nl.conns) {
        const conn_t *c = nl.conns;
        fprintf(stderr, "connection still open %d loop turns after the client's EOF: state %d, "
                "readable %d, writable %d, output pending %d\n", TURNS_AFTER_EOF, (int)c->state,
                c->readable, c->writable, c->out_buf != NULL || c->out_fd >= 0);
        FUZZ_CHECK(nl.conns == NULL);
    }
    if (mode != MODE_ABORT)
        close(sv[0]);
    conn_reap(&nl);
    FUZZ_CHECK(atomic_load(&srv.open_conns) == 0);
    /* Every timer went with its connection. */
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_header) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_keepalive) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_body) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_send) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_linger) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_rate) == UINT64_MAX);
    FUZZ_CHECK(timeq_next_deadline(&nl.tq_send_rate) == UINT64_MAX);

    if (dump_responses)
        fprintf(stderr, "--- %zu response bytes ---\n%.*s\n", out_len, (int)out_len, out_buf);
    check_responses(out_buf, out_len);
    return 0;
}
