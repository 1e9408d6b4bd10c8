"""Resource leaks: after a burst of mixed requests, including clients that abort mid-body and
mid-response, the server's file descriptors return to the baseline (polled) and memory and
threads stay bounded."""

import os
import time
import unittest

from harness import Server, build_request, example, fixture, main, thread_count, wait_for

N_REQUESTS = 500
DEADLINE = 40.0       # seconds for the whole burst


class LeakTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n", "big.bin": os.urandom(2 * 1024 * 1024)},
                         scripts={"hello.so": example("hello"), "echo.so": fixture("echo"),
                                  "big.so": fixture("big"), "ssf.so": fixture("ssf")},
                         args=["--body-timeout", "1000", "--header-timeout", "1000", "--send-timeout", "1000"])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def one(self, i):
        kind = i % 10
        srv = self.srv
        if kind in (0, 1, 2):
            with srv.conn() as c:
                r = c.request("GET", "/a.txt")
                assert r.body == b"AAAA\n", r
        elif kind in (3, 4):
            with srv.conn() as c:
                r = c.request("GET", "/scripts/hello.dll")
                assert r.body == b"Hello, world!\n", r
                r = c.request("GET", "/scripts/hello.dll")
                assert r.status == 200
        elif kind == 5:
            # aborted mid-body (extension request): head + part of the body, then RST
            c = srv.conn()
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"z" * 60000)
            c.reset()
        elif kind == 6:
            # aborted mid-body during the read-ahead, with a FIN
            c = srv.conn()
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc")
            c.close()
        elif kind == 7:
            # aborted mid-response: static file, read a little, then RST
            c = srv.conn()
            c.send(build_request("GET", "/big.bin"))
            c.read_head()
            c.reset()
        elif kind == 8:
            # aborted mid-response from an extension (WriteClient fails)
            c = srv.conn()
            c.send(build_request("GET", "/scripts/big.dll?n=8000000&chunk=65536"))
            c.read_head()
            c.reset()
        else:
            # pending session, and a chunked echo
            with srv.conn() as c:
                r = c.request("GET", "/scripts/ssf.dll?op=pending&ms=1")
                assert r.body == b"pending-done", r
                c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n")
                assert c.read_response().body == b"abc"

    def test_no_fd_leak(self):
        for i in range(20):      # warm-up: load the extensions, start the workers
            self.one(i)
        baseline = self.srv.settled_fds()
        rss0 = self.srv.rss_kb()
        t0 = time.monotonic()
        done = 0
        rss_half = None
        for i in range(N_REQUESTS):
            if time.monotonic() - t0 > DEADLINE:
                break
            self.one(i)
            done += 1
            if i == N_REQUESTS // 2:
                rss_half = self.srv.rss_kb()
        self.assertGreaterEqual(done, N_REQUESTS // 2, "too slow: only %d requests in %.0fs" % (done, DEADLINE))
        self.assertTrue(self.srv.alive())
        wait_for(lambda: self.srv.fds() <= baseline, 15, 0.05,
                 "fd count back to the baseline %d (now %d)" % (baseline, self.srv.fds()))
        rss1 = self.srv.rss_kb()
        # Memory: generous bounds (allocator arenas, thread stacks); catches per-request leaks of
        # whole buffers (e.g. 64 KiB x 500 = 32 MB).
        if rss_half is not None:
            self.assertLess(rss1 - rss_half, 24 * 1024, "RSS grew %d KiB in the second half (start %d KiB)"
                            % (rss1 - rss_half, rss0))
        # Threads: 1 loop + at most 8 call workers + at most 4 completion workers (the harness's
        # default) + a few service threads (monitors, watchdog, the ECB arena's fault handler)
        self.assertLessEqual(thread_count(self.srv.pid), 1 + 8 + 4 + 8)
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")


if __name__ == "__main__":
    main()
