"""Asynchronous I/O at scale (docs/isapi.md "Asynchronous I/O": a pending session or operation holds
no thread): 10,000 pending long-poll sessions held by a small fixed set of threads, then all
released and answered; 10,000 uploads aborted with an asynchronous read outstanding, with the
server's memory and descriptors back to their baseline afterwards. Through tests/fixtures/async.c.

The numbers measured are printed ("[scale] ..."). Only 127.0.0.1 is used. This process raises its
own RLIMIT_NOFILE soft limit to the hard limit; the server raises its own at start."""

import resource
import selectors
import socket
import struct
import time
import unittest

from harness import (Server, fixture, main, proc_limit, raise_nofile, sanitizer_of_binary,
                     thread_count, wait_for)

N_PENDING = 10000
N_ABORTED = 10000
LOOPS, WORKERS_MIN, WORKERS_MAX = 2, 4, 16
COMPLETION_MIN, COMPLETION_MAX = 2, 8
# main, the loops, the call pool's workers at most and its monitor, the completion pool's
# workers at most and its monitor, the loops' hand-off watchdog, two hand-off helpers per loop
# (on a loaded machine, with sanitizers and parallel tests, a short call may be descheduled long
# enough to be handed off), one for a sanitizer's own thread, and one for the ECB arena's
SERVER_THREADS_MAX = 1 + LOOPS + WORKERS_MAX + 1 + COMPLETION_MAX + 1 + 1 + 2 * LOOPS + 1 + 1
BATCH = 500          # connections opened before waiting for the server to catch up
ABORT_BATCH = 250    # uploads in flight at once
READ_AHEAD = 16384
UPLOAD_SENT = 20000  # body bytes sent before the reset (of a declared 1000000)


def scale_server():
    return Server(files={"index.html": "<p>index</p>\n"}, scripts={"async.so": fixture("async")},
                  threads=LOOPS, workers="%d:%d" % (WORKERS_MIN, WORKERS_MAX),
                  args=["--read-ahead", str(READ_AHEAD),
                        "--completion-workers", "%d:%d" % (COMPLETION_MIN, COMPLETION_MAX)],
                  access_log=False)


def connect(port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def report(msg):
    print("\n  [scale] " + msg, flush=True)


def read_all_responses(socks, timeout):
    """Read one Content-Length response from each socket (non-blocking, selectors). Returns
    {sock: body}. Fails when the deadline passes."""
    sel = selectors.DefaultSelector()
    bufs = {}
    bodies = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    deadline = time.monotonic() + timeout
    try:
        while len(bodies) < len(socks):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%d of %d responses after %.0fs" % (len(bodies), len(socks), timeout))
            for key, _ in sel.select(min(left, 1.0)):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except ConnectionError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    raise AssertionError("connection closed before its response: %r" % bufs[s][:200])
                bufs[s] += data
                b = bufs[s]
                end = b.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = b[:end].decode("latin-1")
                cl = None
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        cl = int(v.strip())
                if cl is None:
                    raise AssertionError("response without Content-Length: %r" % head)
                if len(b) >= end + 4 + cl:
                    if not head.startswith("HTTP/1.1 200"):
                        raise AssertionError("status: %r" % head)
                    bodies[s] = b[end + 4:end + 4 + cl]
                    sel.unregister(s)
    finally:
        sel.close()
    return bodies


class ScaleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = raise_nofile()
        if hard != resource.RLIM_INFINITY and hard < N_PENDING + 1000:
            raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d is too low for %d connections" % (hard, N_PENDING))
        cls.sanitizer = sanitizer_of_binary()
        cls.srv = scale_server()
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def stats(self):
        return self.srv.get("/scripts/async.dll?op=stats", timeout=30).kv()

    # ---- the server's descriptor limit ---------------------------------------------------
    def test_server_raises_its_nofile_limit(self):
        # started with a low soft limit, the server raises it to its hard limit
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low = 1024 if hard == resource.RLIM_INFINITY or hard > 1024 else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        try:
            srv = scale_server()
            srv.__enter__()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        try:
            s_soft, s_hard = proc_limit(srv.pid)
            report("server RLIMIT_NOFILE started with soft=%d: now soft=%s hard=%s" % (low, s_soft, s_hard))
            self.assertEqual(s_soft, s_hard)
        finally:
            srv.__exit__(None, None, None)
        s_soft, s_hard = proc_limit(self.srv.pid)
        self.assertGreaterEqual(s_soft if s_soft is not None else 1 << 30, N_PENDING + 100)

    # ---- 10,000 pending long-poll sessions ------------------------------------------------
    def test_10k_pending_long_poll(self):
        pid = self.srv.pid
        base_fds = self.srv.settled_fds()
        base_threads = thread_count(pid)
        base_rss = self.srv.rss_kb()
        t0 = time.monotonic()
        socks = []
        max_threads = base_threads
        try:
            for i in range(N_PENDING):
                self.assertLess(time.monotonic() - t0, 120, "opening sessions too slow: %d open" % i)
                s = connect(self.srv.port)
                s.sendall(b"GET /scripts/async.dll?op=hold&tag=lp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                socks.append(s)
                if (i + 1) % BATCH == 0:
                    wait_for(lambda: int(self.stats().get("held", 0)) >= i + 1, 60, 0.02,
                             "%d sessions held" % (i + 1))
                    max_threads = max(max_threads, thread_count(pid))
            held = wait_for(lambda: (lambda k: k if k.get("held") == str(N_PENDING) else None)(self.stats()),
                            60, 0.05, "%d sessions held" % N_PENDING)
            opened = time.monotonic() - t0
            threads = thread_count(pid)
            max_threads = max(max_threads, threads)
            rss = self.srv.rss_kb()
            fds = self.srv.fds()
            report("10k pending: opened in %.1fs; threads before=%d during=%d (max seen %d; bound %d)"
                   % (opened, base_threads, threads, max_threads, SERVER_THREADS_MAX))
            report("10k pending: RSS before=%d KiB with %d pending=%d KiB (%.1f KiB/session); fds %d -> %d"
                   % (base_rss, N_PENDING, rss, (rss - base_rss) / N_PENDING, base_fds, fds))
            self.assertEqual(held.get("live"), str(N_PENDING))
            self.assertLessEqual(max_threads, SERVER_THREADS_MAX)
            self.assertGreaterEqual(fds, base_fds + N_PENDING)
            if self.sanitizer is None:
                self.assertLess(rss - base_rss, 64 * N_PENDING, "more than 64 KiB per pending session")

            t1 = time.monotonic()
            kv = self.srv.get("/scripts/async.dll?op=notify&tag=lp", timeout=120).kv()
            self.assertEqual(kv.get("released"), str(N_PENDING))
            bodies = read_all_responses(socks, 120)
            for s, b in bodies.items():
                if b"released=1" not in b:
                    raise AssertionError("bad released body %r" % b)
            report("10k pending: released and all %d answered in %.1fs" % (len(bodies), time.monotonic() - t1))
            self.assertEqual(len(bodies), N_PENDING)
        finally:
            for s in socks:
                s.close()
        wait_for(lambda: self.srv.fds() <= base_fds, 60, 0.1,
                 "server fds back to %d (now %d)" % (base_fds, self.srv.fds()))
        self.assertEqual(self.stats().get("live"), "0")

    # ---- 10,000 aborted uploads --------------------------------------------------------
    def _abort_batch(self, n, port, head):
        socks = []
        for _ in range(n):
            s = connect(port)
            s.sendall(head)
            socks.append(s)
        # every request reached the extension and has its read outstanding
        wait_for(lambda: int(self.stats().get("live", -1)) >= n, 30, 0.01, "%d uploads reading" % n)
        for s in socks:
            reset(s)
        wait_for(lambda: self.stats().get("live") == "0", 30, 0.01, "aborted uploads ended")

    def test_10k_aborted_uploads(self):
        body = b"u" * UPLOAD_SENT
        head = (b"POST /scripts/async.dll?op=read&quiet HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Length: 1000000\r\n\r\n" + body)
        wait_for(lambda: self.stats().get("live") == "0", 30, 0.05, "no request in progress")
        # warm-up (allocator arenas, worker threads), then the baseline
        for _ in range(2):
            self._abort_batch(ABORT_BATCH, self.srv.port, head)
        e995_0 = int(self.stats().get("e995"))
        base_fds = self.srv.settled_fds()
        base_rss = self.srv.rss_kb()
        base_threads = thread_count(self.srv.pid)
        t0 = time.monotonic()
        done = 0
        peak_rss = base_rss
        while done < N_ABORTED:
            self.assertLess(time.monotonic() - t0, 240, "aborted uploads too slow: %d done" % done)
            n = min(ABORT_BATCH, N_ABORTED - done)
            self._abort_batch(n, self.srv.port, head)
            done += n
            peak_rss = max(peak_rss, self.srv.rss_kb())
        elapsed = time.monotonic() - t0
        kv = self.stats()
        aborted = int(kv.get("e995")) - e995_0
        after_fds = wait_for(lambda: (lambda f: f if f <= base_fds else None)(self.srv.fds()), 30, 0.1,
                             "server fds back to %d (now %d)" % (base_fds, self.srv.fds()))
        tolerance = 16 * 1024 if self.sanitizer is None else 512 * 1024
        hist = []

        def rss_settled():
            hist.append(self.srv.rss_kb())
            return hist[-1] if hist[-1] <= base_rss + tolerance else None
        try:
            after_rss = wait_for(rss_settled, 20, 0.2, "RSS back near %d KiB" % base_rss)
        except AssertionError:
            after_rss = hist[-1]
        report("10k aborted uploads in %.1fs: completions with 995: %d, other errors: e64=%s eother=%s e1460=%s"
               % (elapsed, aborted, kv.get("e64"), kv.get("eother"), kv.get("e1460")))
        report("10k aborted uploads: RSS baseline=%d KiB peak=%d KiB after=%d KiB (tolerance %d KiB%s); "
               "fds baseline=%d after=%d; threads %d -> %d"
               % (base_rss, peak_rss, after_rss, tolerance, ", %s build" % self.sanitizer if self.sanitizer else "",
                  base_fds, after_fds, base_threads, thread_count(self.srv.pid)))
        self.assertEqual(aborted, N_ABORTED, kv)
        self.assertLessEqual(after_fds, base_fds)
        self.assertLessEqual(after_rss, base_rss + tolerance)
        self.assertLessEqual(thread_count(self.srv.pid), SERVER_THREADS_MAX)


if __name__ == "__main__":
    main()
