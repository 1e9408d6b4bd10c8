"""Timeouts (short ones, set on the command line): header, keep-alive, body, send.
These tests are about time, so they measure it; everything else is polled."""

import os
import re
import select
import time
import unittest

from harness import RawConn, Server, fixture, main, wait_for

HEADER_MS = 500
KEEPALIVE_MS = 500
BODY_MS = 500
SEND_MS = 800
SLACK = 2.5          # seconds allowed beyond a timeout (timer granularity, loaded CI machines)


class TimeoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n", "huge.bin": b""},
                         scripts={"echo.so": fixture("echo"), "big.so": fixture("big")},
                         args=["--header-timeout", str(HEADER_MS), "--keepalive-timeout", str(KEEPALIVE_MS),
                               "--body-timeout", str(BODY_MS), "--send-timeout", str(SEND_MS)])
        cls.srv.__enter__()
        # 48 MiB sparse file: more than loopback socket buffers can swallow.
        with open(os.path.join(cls.srv.root, "huge.bin"), "wb") as f:
            f.truncate(48 * 1024 * 1024)

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def setUp(self):
        # Let connections from earlier tests go away, then take the baseline.
        self.baseline = self.srv.settled_fds()

    def wait_fds_back(self, timeout=10.0):
        wait_for(lambda: self.srv.fds() <= self.baseline, timeout, 0.05,
                 "server fd count back to baseline %d (now %d)" % (self.baseline, self.srv.fds()))

    def assert_closed_in(self, c, lo, hi, allow_408=True):
        """The server closes c between lo and hi seconds after now (measured by the caller's t0)."""
        t0 = time.monotonic()
        closed, extra = c.wait_closed(hi + SLACK)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "not closed after %.2fs" % elapsed)
        if extra:
            # RFC 9110 6.2: the version SHOULD be HTTP/1.1; HTTP/1.0 is tolerated here.
            self.assertTrue(allow_408 and re.match(rb"HTTP/1\.[01] 408 ", extra), "unexpected bytes %r" % extra[:200])
        self.assertGreaterEqual(elapsed, lo, "closed too early (%.2fs)" % elapsed)
        return elapsed

    def test_partial_head(self):
        with self.srv.conn() as c:
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
            self.assert_closed_in(c, HEADER_MS / 1000 * 0.5, HEADER_MS / 1000)

    def test_silent_connection(self):
        # The listener defers accepts (--defer-accept 1, the default): a connection that sends
        # nothing is handed over when the kernel's wait ends, at its first SYN-ACK
        # retransmission (1 s), and the header timeout runs from there.
        with self.srv.conn() as c:
            self.assert_closed_in(c, 1.0 + HEADER_MS / 1000 * 0.5, 1.0 + HEADER_MS / 1000)

    def test_request_on_a_deferred_accept(self):
        # Read at once (server.c, "Deferred accepts"), keep-alive and close alike; a second
        # request on the connection waits for its event as usual.
        for close in (False, True):
            with self.srv.conn() as c:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n%s\r\n" %
                       (b"Connection: close\r\n" if close else b""))
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
                if not close:
                    c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertEqual(c.read_response().status, 200)


    def test_slowloris_head(self):
        # One header byte every 100 ms: the head timeout is for the whole head, so trickling
        # does not keep the connection alive.
        with self.srv.conn() as c:
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            cut = False
            for _ in range(60):     # at most ~6 s
                try:
                    c.send(b"X")
                except OSError:
                    cut = True
                    break
                # Any reaction from the server ends the request: a 408, EOF or RST.
                ready, _, _ = select.select([c.sock], [], [], 0.1)
                if ready:
                    cut = True
                    break
            elapsed = time.monotonic() - t0
            self.assertTrue(cut, "trickled head kept the connection open for %.1fs" % elapsed)
            self.assertLess(elapsed, HEADER_MS / 1000 + SLACK)
            closed, extra = c.wait_closed(SLACK)
            self.assertTrue(closed)
            if extra:
                self.assertTrue(re.match(rb"HTTP/1\.[01] 408 ", extra), extra[:100])

    def test_idle_keepalive(self):
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").status, 200)
            self.assert_closed_in(c, KEEPALIVE_MS / 1000 * 0.5, KEEPALIVE_MS / 1000, allow_408=False)
        self.wait_fds_back()

    def test_keepalive_activity_resets_timer(self):
        # Requests every ~250 ms keep a connection alive well past one keep-alive timeout.
        with self.srv.conn() as c:
            t0 = time.monotonic()
            for _ in range(6):
                self.assertEqual(c.request("GET", "/a.txt").status, 200)
                time.sleep(KEEPALIVE_MS / 1000 / 2)
            self.assertGreater(time.monotonic() - t0, KEEPALIVE_MS / 1000 * 2)

    def test_stalled_body_read_ahead(self):
        # The body stalls during the server's read-ahead (before the extension runs).
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            self.assert_closed_in(c, BODY_MS / 1000 * 0.5, BODY_MS / 1000)
        self.wait_fds_back()

    def test_stalled_body_in_read_client(self):
        # The body stalls after the read-ahead, while the extension waits in ReadClient.
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"x" * 60000)
            t0 = time.monotonic()
            closed, extra = c.wait_closed(BODY_MS / 1000 + SLACK)
            self.assertTrue(closed, "stalled body not cut after %.1fs" % (time.monotonic() - t0))
            if extra:
                # the server may answer (408/500) before closing
                self.assertTrue(extra.startswith(b"HTTP/1.1 "), extra[:100])
        self.wait_fds_back()
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").status, 200)

    def test_chunked_body_stall(self):
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
            t0 = time.monotonic()
            closed, _ = c.wait_closed(BODY_MS / 1000 + SLACK)
            self.assertTrue(closed, "stalled chunked body not cut after %.1fs" % (time.monotonic() - t0))
        self.wait_fds_back()

    def unread_client(self, request):
        c = RawConn(self.srv.port, rcvbuf=4096)
        c.send(request)
        return c

    def test_send_timeout_extension(self):
        # big.dll writes 64 MiB; the client reads nothing. After the send timeout the server must
        # drop the connection, WriteClient must fail, and everything must be freed.
        c = self.unread_client(b"GET /scripts/big.dll?n=67108864&chunk=65536 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            wait_for(lambda: self.srv.fds() > self.baseline, 5, 0.02, "the connection to be accepted")
            self.wait_fds_back(SEND_MS / 1000 + 10)
        finally:
            c.close()
        with self.srv.conn() as c2:   # the worker thread is free again
            r = c2.request("GET", "/scripts/big.dll?n=10&cl")
            self.assertEqual((r.status, r.body), (200, b"abcdefghij"))

    def test_send_timeout_static(self):
        c = self.unread_client(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            wait_for(lambda: self.srv.fds() > self.baseline, 5, 0.02, "the connection to be accepted")
            self.wait_fds_back(SEND_MS / 1000 + 10)
        finally:
            c.close()

    def test_slow_reader_is_not_cut(self):
        # A client that keeps reading, slowly, makes progress: it must get the whole body even
        # though the transfer lasts longer than the send timeout.
        n = 2 * 1024 * 1024
        with RawConn(self.srv.port, timeout=20, rcvbuf=32768) as c:
            c.send(b"GET /scripts/big.dll?n=%d&chunk=65536&cl HTTP/1.1\r\nHost: x\r\n\r\n" % n)
            head = c.read_head()
            self.assertEqual(head.status, 200)
            got = len(c.buf)
            t0 = time.monotonic()
            while got < n and time.monotonic() - t0 < 15:
                data = c.sock.recv(32768)
                if not data:
                    break
                got += len(data)
                time.sleep(0.03)     # about 1 MB/s at most: the transfer spans several send timeouts
            self.assertEqual(got, n, "slow reader was cut off after %d bytes" % got)


class UndeferredAcceptTest(unittest.TestCase):
    """--defer-accept 0: connections are accepted at once and read on their first event."""

    def test_silent_connection_and_a_request(self):
        with Server(files={"a.txt": "AAAA\n"},
                    args=["--header-timeout", str(HEADER_MS), "--defer-accept", "0"]) as srv:
            with srv.conn() as c:
                t0 = time.monotonic()
                closed, extra = c.wait_closed(HEADER_MS / 1000 + SLACK)
                elapsed = time.monotonic() - t0
                self.assertTrue(closed, "not closed after %.2fs" % elapsed)
                self.assertGreaterEqual(elapsed, HEADER_MS / 1000 * 0.5)
                self.assertTrue(not extra or re.match(rb"HTTP/1\.[01] 408 ", extra), extra[:200])
            with srv.conn() as c:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(c.read_response().status, 200)


if __name__ == "__main__":
    main()
