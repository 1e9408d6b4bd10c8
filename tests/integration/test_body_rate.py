"""The minimum request-body data rate (--min-body-rate, --body-rate-window; src/http/bodyrate.h):
counting only the time the server waits for body bytes, every window must bring rate × window
bytes, else the body is cut. Here 1000 bytes in every 1 s window, with a body timeout far longer
(10 s), so that every cut seen within a few seconds is the rate's.

- read-ahead (the event loop): a trickle, a silent client, a burst followed by a trickle → 408
  and close, logged with the client, the bytes and the rate;
- synchronous ReadClient (tests/fixtures/echo.c ?report): FALSE with ERROR_TIMEOUT (1460), the
  connection closed after the response;
- asynchronous read (tests/fixtures/async.c op=read): the completion's dwError is ERROR_TIMEOUT;
- discarding an unread body after the response: the connection is closed;
- bodies above the minimum, in pieces with pauses shorter than the window, complete; time the
  extension spends between reads does not count against the client;
- --min-body-rate 0 keeps the old behaviour: a trickle lives as long as the body timeout allows.
Extensions run where the default puts them (on the loop's thread, handed off when they block);
the synchronous ReadClient cases run again with --run-extensions pool.

These tests are about time: they measure how long a cut takes, with slack for loaded machines;
everything else is polled. Every loop is bounded in count and time."""

import os
import re
import select
import time
import unittest

from harness import EventFile, RawConn, Server, build_request, chunked, fixture, main, pattern_bytes, wait_for

RATE = 1000             # bytes per second
WINDOW = 1.0            # seconds (--body-rate-window 1000)
BODY_TIMEOUT_MS = 10000
SLACK = 2.5             # seconds allowed beyond a deadline (the 1 s rate timer, loaded machines)
READ_AHEAD = 49152
ERROR_TIMEOUT = 1460

LOG_RX = (r"127\.0\.0\.1: request body too slow: (\d+) bytes in 1000 ms of waiting for it, under the "
          r"minimum of 1000 bytes/s \(1000 needed\); (\d+) body bytes received in all")


def head(path, length=None, extra=()):
    hdrs = [("Content-Length", str(length))] if length is not None else []
    return build_request("POST", path, hdrs + list(extra))


def trickle(c, limit, step=0.1, data=b"x"):
    """Send `data` every `step` seconds until the server answers or closes the connection, at
    most `limit` seconds. Returns the seconds it took, or None if the server never reacted."""
    t0 = time.monotonic()
    for _ in range(int(limit / step) + 2):
        if time.monotonic() - t0 > limit:
            return None
        ready, _, _ = select.select([c.sock], [], [], step)
        if ready:
            return time.monotonic() - t0
        try:
            c.send(data)
        except OSError:
            return time.monotonic() - t0
    return None


class RateBase(unittest.TestCase):
    server_args = []

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"echo.so": fixture("echo"), "async.so": fixture("async")},
                         env={"ASYNC_EVENTS": "{tmp}/events.log"}, threads=1, workers="2:8",
                         args=["--body-timeout", str(BODY_TIMEOUT_MS)] + cls.server_args)
        cls.srv.__enter__()
        cls.ev = EventFile(os.path.join(cls.srv.tmp, "events.log"))
        # Load both fixtures now (the async one opens its event file): fd baselines include them.
        assert cls.srv.get("/scripts/echo.dll").status == 200
        assert cls.srv.get("/scripts/async.dll?op=stats").status == 200

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def setUp(self):
        self.baseline = self.srv.settled_fds()

    def tearDown(self):
        wait_for(lambda: self.srv.fds() <= self.baseline, 10, 0.05,
                 "server fds back to the baseline %d (now %d)" % (self.baseline, self.srv.fds()))

    def assert_408_and_close(self, c):
        closed, extra = c.wait_closed(5)
        self.assertTrue(closed, "the connection stayed open after the cut")
        self.assertTrue(re.match(rb"HTTP/1\.1 408 ", extra), "expected a 408, got %r" % extra[:200])
        self.assertIn(b"Connection: close\r\n", extra)

    def log_lines(self):
        return [m for m in re.finditer(LOG_RX, self.srv.stderr())]


class BodyRateTest(RateBase):
    server_args = ["--min-body-rate", str(RATE), "--body-rate-window", str(int(WINDOW * 1000))]

    # ---- read-ahead, on the event loop --------------------------------------------------------
    def test_trickle_during_read_ahead_gets_408(self):
        logged = len(self.log_lines())
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll?rid=trickle", 1000))
            took = trickle(c, WINDOW + SLACK)
            self.assertIsNotNone(took, "a byte per 100 ms was not cut")
            # The first window is the grace period: nothing is cut before it ends.
            self.assertGreaterEqual(took, WINDOW * 0.8)
            self.assert_408_and_close(c)
        # Logged with the client, the bytes and the rate.
        m = wait_for(lambda: self.log_lines()[logged:], 5, message="the log line of the cut")[0]
        self.assertLess(int(m.group(1)), RATE)
        self.srv.wait_access_line(r'"POST /scripts/echo\.dll\?rid=trickle HTTP/1\.1" 408 ')

    def test_silent_body_during_read_ahead_gets_408_before_the_body_timeout(self):
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll", 1000) + b"x" * 10)
            t0 = time.monotonic()
            closed, extra = c.wait_closed(2 * WINDOW + SLACK)
            took = time.monotonic() - t0
            self.assertTrue(closed, "a silent body was not cut by the rate after %.1fs" % took)
            self.assertRegex(extra, rb"^HTTP/1\.1 408 ")
            self.assertGreaterEqual(took, WINDOW * 0.8)
            self.assertLess(took, BODY_TIMEOUT_MS / 1000)

    def test_burst_then_trickle_is_cut(self):
        # 40000 bytes at once, then a byte per 100 ms. By an average since the start (Kestrel's
        # rule) that buys 40 s; here the burst counts for its own window only, and the second
        # window fails.
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll", 45000) + b"b" * 40000)
            took = trickle(c, 2 * WINDOW + SLACK)
            self.assertIsNotNone(took, "burst then trickle was not cut")
            self.assertGreaterEqual(took, WINDOW * 1.5)     # the burst did cover the first window
            self.assert_408_and_close(c)

    def test_chunked_trickle_is_cut(self):
        # Chunk framing does not count: one decoded byte per 100 ms in six-byte chunks.
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll", extra=[("Transfer-Encoding", "chunked")]))
            took = trickle(c, WINDOW + SLACK, data=b"1\r\nx\r\n")
            self.assertIsNotNone(took, "a chunked trickle was not cut")
            self.assert_408_and_close(c)

    # ---- synchronous ReadClient ---------------------------------------------------------------
    def test_sync_read_client_fails_with_error_timeout(self):
        # Past the read-ahead echo.dll waits in ReadClient. 60000 bytes at once (the rest of the
        # first window), then a byte per 100 ms.
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll?report", 1000000) + b"s" * 60000)
            took = trickle(c, 2 * WINDOW + SLACK)
            self.assertIsNotNone(took, "the trickle past the read-ahead was not cut")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            kv = dict(line.split("=", 1) for line in r.text().split())
            self.assertEqual(kv["readclient"], "0", kv)
            self.assertEqual(kv["error"], str(ERROR_TIMEOUT), kv)
            self.assertGreaterEqual(int(kv["received"]), 60000, kv)
            # The body's framing is lost: the connection closes after the response.
            closed, extra = c.wait_closed(5)
            self.assertTrue(closed)
            self.assertEqual(extra, b"")

    def test_sync_read_client_silent_client(self):
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll?report", 100000) + b"s" * 60000)
            t0 = time.monotonic()
            r = c.read_response()
            took = time.monotonic() - t0
            self.assertEqual(r.text().split()[:2], ["readclient=0", "error=%d" % ERROR_TIMEOUT], r)
            self.assertLess(took, 2 * WINDOW + SLACK)

    # ---- asynchronous read --------------------------------------------------------------------
    def test_async_read_completion_reports_error_timeout(self):
        rid = "rate-async"
        with self.srv.conn() as c:
            c.send(head("/scripts/async.dll?op=read&id=" + rid, 1000000) + b"a" * 60000)
            took = trickle(c, 2 * WINDOW + SLACK)
            self.assertIsNotNone(took, "the asynchronous read's trickle was not cut")
            done = self.ev.wait(10, id=rid, ev="done")[0]
            self.assertEqual(done["err"], str(ERROR_TIMEOUT), done)
            comps = self.ev.find(id=rid, ev="completion")
            self.assertEqual(comps[-1]["err"], str(ERROR_TIMEOUT), comps)
            self.assertEqual(comps[-1]["cbIO"], "0", comps)
            self.assertEqual({e["err"] for e in comps[:-1]}, {"0"}, comps)
            closed, _ = c.wait_closed(5)
            self.assertTrue(closed)

    # ---- discarding an unread body ------------------------------------------------------------
    def test_discarded_body_trickle_is_closed(self):
        # echo.dll?noread answers from the read-ahead; the server then discards the rest of the
        # body, under the same rule. The response is already out: no 408, just the close.
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll?noread", 1000000) + b"d" * 50000)
            r = c.read_response()
            self.assertEqual((r.status, len(r.body)), (200, READ_AHEAD))
            took = trickle(c, 2 * WINDOW + SLACK)
            self.assertIsNotNone(took, "the discarded trickle was not cut")
            closed, extra = c.wait_closed(5)
            self.assertTrue(closed)
            self.assertEqual(extra, b"")

    # ---- bodies that keep up ------------------------------------------------------------------
    def send_paced(self, c, body, piece, pause):
        for i in range(0, len(body), piece):
            c.send(body[i:i + piece])
            time.sleep(pause)

    def test_body_above_the_minimum_completes(self):
        # 60000 bytes in 2000-byte pieces every 100 ms (about 20 kB/s, for 3 s: three windows),
        # through the read-ahead and then ReadClient.
        body = pattern_bytes(60000)
        with self.srv.conn(timeout=30) as c:
            c.send(head("/scripts/echo.dll", len(body)))
            self.send_paced(c, body, 2000, 0.1)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
            self.assertTrue(c.is_open())
            # The connection carries the next request.
            self.assertEqual(c.request("POST", "/scripts/echo.dll", body=b"next").body, b"next")

    def test_chunked_body_above_the_minimum_completes(self):
        parts = [pattern_bytes(1500, i) for i in range(12)]
        with self.srv.conn(timeout=30) as c:
            c.send(head("/scripts/echo.dll", extra=[("Transfer-Encoding", "chunked")]))
            enc = chunked(parts)
            self.send_paced(c, enc, 1510, 0.25)      # 1.5 kB every 250 ms, for 3 s
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b"".join(parts))

    def test_async_read_above_the_minimum_completes(self):
        rid = "rate-async-ok"
        body = pattern_bytes(80000)
        with self.srv.conn(timeout=30) as c:
            c.send(head("/scripts/async.dll?op=read&id=" + rid, len(body)))
            self.send_paced(c, body, 4000, 0.1)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            kv = r.kv()
            self.assertEqual((kv.get("total"), kv.get("err")), (str(len(body)), "0"), kv)

    def test_time_the_extension_spends_between_reads_does_not_count(self):
        # The server waits for the read-ahead (the client pauses in it), then echo.dll sleeps
        # 3 s before its ReadClient, which waits again until the rest comes, 3.7 s after the
        # client's previous bytes: more than three windows of silence by the clock, but the
        # server waited well under one window of it, so the body is not cut.
        rest = b"r" * 1000
        with self.srv.conn(timeout=30) as c:
            c.send(head("/scripts/echo.dll?pause=3000&report", READ_AHEAD + len(rest)) + b"h" * 1000)
            time.sleep(0.3)
            c.send(b"h" * (READ_AHEAD - 1000))
            time.sleep(3.7)
            c.send(rest)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.get("X-Received"), str(READ_AHEAD + len(rest)), r)
            self.assertTrue(r.body.endswith(rest))


class BodyRatePoolTest(RateBase):
    """The synchronous ReadClient cases with extensions on the worker pool (above they start on
    the loop's thread, which a blocking ReadClient hands to a helper)."""
    server_args = BodyRateTest.server_args + ["--run-extensions", "pool"]
    test_sync_read_client_fails_with_error_timeout = BodyRateTest.test_sync_read_client_fails_with_error_timeout
    test_time_the_extension_spends_between_reads_does_not_count = \
        BodyRateTest.test_time_the_extension_spends_between_reads_does_not_count


class BodyRateOffTest(RateBase):
    """--min-body-rate 0: only the body timeout (here 1.5 s since the last byte) applies."""
    server_args = ["--min-body-rate", "0", "--body-rate-window", str(int(WINDOW * 1000)),
                   "--body-timeout", "1500"]

    def test_trickle_is_not_cut(self):
        # 30 bytes over 3 s (three windows) in the read-ahead, then 30 more through ReadClient.
        body = b"t" * (READ_AHEAD + 60)
        with self.srv.conn(timeout=30) as c:
            c.send(head("/scripts/echo.dll?report", len(body)))
            c.send(body[:30])
            for i in range(30, 60):
                time.sleep(0.1)
                c.send(body[i:i + 1])
            c.send(body[60:READ_AHEAD + 30])
            for i in range(READ_AHEAD + 30, len(body)):
                time.sleep(0.1)
                c.send(body[i:i + 1])
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
        self.assertEqual(self.log_lines(), [])

    def test_silent_body_still_times_out(self):
        with self.srv.conn() as c:
            c.send(head("/scripts/echo.dll", 1000) + b"x")
            t0 = time.monotonic()
            closed, extra = c.wait_closed(1.5 + SLACK)
            self.assertTrue(closed)
            self.assertGreaterEqual(time.monotonic() - t0, 1.5 * 0.8)
            self.assertRegex(extra, rb"^HTTP/1\.1 408 ")


if __name__ == "__main__":
    main()
