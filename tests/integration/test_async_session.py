"""Asynchronous I/O, sessions and faults (docs/isapi.md "Asynchronous I/O"): HSE_STATUS_PENDING
and HSE_REQ_DONE_WITH_SESSION (threads, races, keep-alive), one outstanding operation (ERROR_BUSY),
HSE_REQ_CLOSE_CONNECTION with a read outstanding, clients that go away during a read or a write,
HSE_REQ_IS_CONNECTED, timeouts, and no leaks. Through tests/fixtures/async.c (event file in
ASYNC_EVENTS). The server reads no body ahead (--read-ahead 0) so that a client holding its body
leaves the extension's read outstanding."""

import os
import socket
import struct
import time
import unittest
import zlib

from harness import (EventFile, RawConn, Server, build_request, fixture, main, parse_kv, pattern_bytes,
                     thread_count, wait_for)

ERROR_INVALID_DATA = 13
ERROR_NETNAME_DELETED = 64
ERROR_INVALID_PARAMETER = 87
ERROR_BUSY = 170
ERROR_OPERATION_ABORTED = 995
ERROR_TIMEOUT = 1460

BIG = 8 * 1024 * 1024
LOOPS, WORKERS_MIN, WORKERS_MAX = 2, 2, 8
COMPLETION_WORKERS_MAX = 4  # the harness's default --completion-workers 1:4
# main, the loops, the call pool's workers at most and its monitor, the completion pool's workers
# at most and its monitor, the hand-off watchdog, the ECB arena's fault handler, and one for a
# sanitizer's own thread
SERVER_THREADS_MAX = 1 + LOOPS + WORKERS_MAX + 1 + COMPLETION_WORKERS_MAX + 1 + 1 + 1 + 1

_ids = iter(range(1, 10 ** 9))


def new_id(prefix="s"):
    return "%s%d" % (prefix, next(_ids))


def crc(data):
    return str(zlib.crc32(data) & 0xFFFFFFFF)


def async_server(args=()):
    return Server(files={"index.html": "<p>index</p>\n", "big.bin": pattern_bytes(BIG),
                         "small.txt": "small\n"},
                  scripts={"async.so": fixture("async")}, threads=LOOPS,
                  workers="%d:%d" % (WORKERS_MIN, WORKERS_MAX),
                  env={"ASYNC_EVENTS": "{tmp}/events.log"}, args=["--read-ahead", "0"] + list(args))


class SessionBase(unittest.TestCase):
    server_args = []

    @classmethod
    def setUpClass(cls):
        cls.srv = async_server(cls.server_args)
        cls.srv.__enter__()
        cls.ev = EventFile(os.path.join(cls.srv.tmp, "events.log"))
        # load the fixture now (it opens its event file when loaded): fd baselines include it
        cls.srv.get("/scripts/async.dll?op=stats")

    @classmethod
    def tearDownClass(cls):
        try:
            kv = cls.stats()
            if kv.get("inline") != "0" or kv.get("maxdepth") not in ("0", "1"):
                raise AssertionError("completions inline or nested: %r" % kv)
            wait_for(lambda: cls.stats().get("live") == "0", 10, message="every fixture context freed")
        finally:
            cls.srv.__exit__(None, None, None)

    @classmethod
    def stats(cls):
        return cls.srv.get("/scripts/async.dll?op=stats").kv()

    def path(self, query):
        return "/scripts/async.dll?" + query

    def completions(self, rid):
        return self.ev.find(id=rid, ev="completion")

    def done(self, rid, timeout=20):
        return self.ev.wait(timeout, id=rid, ev="done")[0]

    def assert_one_completion(self, rid, errs, settle=0.3):
        """Exactly one completion for rid, with dwError in errs; polls, then waits `settle`
        seconds for a duplicate that must not come."""
        comps = self.ev.wait(10, id=rid, ev="completion")
        time.sleep(settle)     # a second completion would be a bug: give it the chance to appear
        comps = self.completions(rid)
        self.assertEqual(len(comps), 1, comps)
        self.assertIn(int(comps[0]["err"]), errs, comps)
        return comps[0]

    def assert_fds_back(self, base, timeout=10):
        wait_for(lambda: self.srv.fds() <= base, timeout,
                 message="server fd count back to %d (now %d)" % (base, self.srv.fds()))


# =============================================================================================
class PendingTest(SessionBase):
    """6. HSE_STATUS_PENDING and HSE_REQ_DONE_WITH_SESSION."""

    def test_head_before_pending_reaches_the_client(self):
        # docs/isapi.md: a head without body bytes is held back for the next write, but leaves
        # when HttpExtensionProc returns PENDING: a long-running session's client sees it then.
        with RawConn(self.srv.port, timeout=10) as c:
            c.send(build_request("GET", self.path("op=hold&tag=headfirst&id=hf&head=1")))
            seen = b""
            deadline = time.monotonic() + 10
            while b"\r\n\r\n" not in seen and time.monotonic() < deadline:
                seen += c.sock.recv(4096)
            self.assertTrue(seen.startswith(b"HTTP/1.1 200 OK\r\n"), seen)
            self.assertIn(b"Transfer-Encoding: chunked", seen)
            kv = self.srv.get(self.path("op=notify&tag=headfirst")).kv()
            self.assertEqual(kv.get("released"), "1")
            c.buf = seen
            rest = c.sock.recv(4096)
            deadline = time.monotonic() + 10
            while not rest.endswith(b"0\r\n\r\n") and time.monotonic() < deadline:
                rest += c.sock.recv(4096)
            self.assertIn(b"released=1", rest)
            self.assertTrue(rest.endswith(b"0\r\n\r\n"), rest)

    def test_pending_sessions_hold_no_thread(self):
        n = 300
        base = thread_count(self.srv.pid)
        conns = []
        try:
            for i in range(n):
                c = RawConn(self.srv.port, timeout=30)
                c.send(build_request("GET", self.path("op=hold&tag=nothr&id=h%d" % i)))
                conns.append(c)
            wait_for(lambda: self.stats().get("held") == str(n), 20, 0.05, "%d sessions held" % n)
            during = thread_count(self.srv.pid)
            # the worker pool may have grown for the bursts of HttpExtensionProc calls, never
            # beyond its maximum; nothing is held per pending session
            self.assertLessEqual(during, SERVER_THREADS_MAX,
                                 "threads: %d before, %d with %d pending" % (base, during, n))
            self.assertLessEqual(during - base, WORKERS_MAX)
            kv = self.srv.get(self.path("op=notify&tag=nothr")).kv()
            self.assertEqual(kv.get("released"), str(n))
            for c in conns:
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.kv().get("released"), "1")
        finally:
            for c in conns:
                c.close()
        print("\n  [pending] threads before=%d with %d pending=%d" % (base, n, during))

    def test_done_from_completion_keeps_connection(self):
        with self.srv.conn() as c:
            for i in range(3):
                body = pattern_bytes(1000 + i)
                r = c.request("POST", self.path("op=read&id=" + new_id()), None, body)
                self.assertEqual(r.kv().get("crc"), crc(body))
                self.assertNotIn("close", r.connection_tokens())

    def test_done_with_null_status(self):
        with self.srv.conn() as c:
            r = c.request("POST", self.path("op=read&nullstatus&id=" + new_id()), None, b"abc")
            self.assertEqual(r.kv().get("total"), "3")
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_done_error_status_closes(self):
        with self.srv.conn() as c:
            r = c.request("POST", self.path("op=read&status=4&id=" + new_id()), None, b"abc")
            self.assertEqual(r.kv().get("total"), "3")
            closed, _ = c.wait_closed(5)
            self.assertTrue(closed)

    def test_done_from_extension_thread(self):
        with self.srv.conn() as c:
            for delay in (0, 1000, 30000):
                rid = new_id("th")
                r = c.request("GET", self.path("op=race&delay_us=%d&id=%s" % (delay, rid)))
                self.assertEqual(r.body, ("race=%s\n" % rid).encode())

    def test_done_before_pending_returned_race(self):
        # DONE from a thread started before returning PENDING: no delay, small delays, DONE
        # surely before the return (before), and a return delayed behind the DONE (ret_us).
        variants = ["", "delay_us=10", "delay_us=200", "delay_us=1000", "before", "ret_us=500",
                    "before&ret_us=200", "delay_us=50&ret_us=50"]
        iterations = 200
        deadline = time.monotonic() + 60
        conns = [self.srv.conn(timeout=10) for _ in range(4)]
        try:
            for i in range(iterations):
                self.assertLess(time.monotonic(), deadline, "race iterations too slow: %d done" % i)
                rid = new_id("race")
                q = "op=race&id=%s&%s" % (rid, variants[i % len(variants)])
                if i % 5 == 4:     # also on fresh connections
                    with self.srv.conn(timeout=10) as c1:
                        r = c1.request("GET", self.path(q))
                else:
                    r = conns[i % 4].request("GET", self.path(q))
                self.assertEqual(r.status, 200, (i, q, r))
                self.assertEqual(r.framing, "length")
                self.assertEqual(r.body, ("race=%s\n" % rid).encode(), (i, q))
            # pipelined bursts: every response complete and in order
            c = conns[0]
            rids = [new_id("pipe") for _ in range(20)]
            c.send(b"".join(build_request("GET", self.path("op=race&id=%s&%s" % (r, variants[j % len(variants)])))
                            for j, r in enumerate(rids)))
            for r in rids:
                self.assertEqual(c.read_response().body, ("race=%s\n" % r).encode())
        finally:
            for c in conns:
                c.close()

    def test_keep_conn_with_pipelined_request(self):
        with self.srv.conn() as c:
            # DONE(SUCCESS_AND_KEEP_CONN) from a thread 50 ms later, request already queued behind
            c.send(build_request("GET", self.path("op=race&delay_us=50000&id=kc1")) +
                   build_request("GET", "/index.html"))
            r1, r2 = c.read_response(), c.read_response()
            self.assertEqual(r1.body, b"race=kc1\n")
            self.assertEqual(r2.body, b"<p>index</p>\n")
            # DONE from a read completion, the next request right behind the body
            c.send(build_request("POST", self.path("op=read&id=" + new_id()), None, b"0123456789") +
                   build_request("GET", "/small.txt"))
            r1, r2 = c.read_response(), c.read_response()
            self.assertEqual(r1.kv().get("total"), "10")
            self.assertEqual(r2.body, b"small\n")
            # and from a write completion
            rid = new_id()
            c.send(build_request("GET", self.path("op=write&cl&n=5000&id=" + rid)) +
                   build_request("GET", "/small.txt"))
            r1, r2 = c.read_response(), c.read_response()
            self.assertEqual(r1.body, pattern_bytes(5000))
            self.assertEqual(r2.body, b"small\n")


# =============================================================================================
class OneOutstandingTest(SessionBase):
    """7. A second operation while one is outstanding: FALSE + ERROR_BUSY at once; the first
    completes normally."""

    def test_second_op_while_read_outstanding(self):
        body = pattern_bytes(1000, 4)
        for second in ("read", "write", "transmit", "vector", "sendurl", "syncread"):
            with self.subTest(second=second):
                rid = new_id("busyr")
                with self.srv.conn() as c:
                    c.send(build_request("POST", self.path("op=second&first=read&second=%s&url=/small.txt&id=%s"
                                                           % (second, rid)), [("Content-Length", "1000")]))
                    self.ev.wait(10, id=rid, ev="started")
                    c.send(body)
                    r = c.read_response()
                    kv = r.kv()
                    self.assertEqual((kv.get("second_ok"), kv.get("second_err")), ("0", str(ERROR_BUSY)), kv)
                    self.assertEqual(kv.get("total"), "1000", kv)
                    self.assertEqual(kv.get("crc"), crc(body), kv)
                    self.assertEqual(kv.get("err"), "0", kv)
                    self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_sync_write_allowed_while_read_outstanding(self):
        rid = new_id("syncw")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=second&first=read&second=syncwrite&id=" + rid),
                                 [("Content-Length", "5")]))
            self.ev.wait(10, id=rid, ev="started")
            c.send(b"hello")
            r = c.read_response()
            self.assertTrue(r.body.startswith(b"early;"), r)
            kv = parse_kv(r.body[len(b"early;"):])
            self.assertEqual(kv.get("second_ok"), "1", kv)
            self.assertEqual(kv.get("total"), "5", kv)

    def test_second_op_while_write_outstanding(self):
        # 8 MiB outstanding towards a client that reads nothing yet (64 KiB receive buffer)
        pairs = [("write", "read"), ("write", "write"), ("write", "syncwrite"), ("transmit", "vector"),
                 ("transmit", "sendurl"), ("vector", "transmit"), ("vector", "write"),
                 ("sendurl", "write"), ("sendurl", "read")]
        want = pattern_bytes(BIG)
        for first, second in pairs:
            with self.subTest(first=first, second=second):
                rid = new_id("busyw")
                with RawConn(self.srv.port, timeout=60, rcvbuf=65536) as c:
                    c.send(build_request("GET", self.path("op=second&first=%s&second=%s&n=%d&url=/big.bin&id=%s"
                                                           % (first, second, BIG, rid))))
                    self.ev.wait(10, id=rid, ev="started")
                    r = c.read_response()
                    self.assertEqual(len(r.body), BIG)
                    self.assertEqual(r.body, want)
                    d = self.done(rid)
                    self.assertEqual((d.get("second_ok"), d.get("second_err")), ("0", str(ERROR_BUSY)), d)
                    self.assertEqual(d.get("err"), "0", d)
                    if first in ("write", "vector", "transmit"):
                        self.assertEqual(d.get("cbIO"), str(BIG), d)
                    self.assertEqual(len(self.completions(rid)), 1)
                    self.assertEqual(c.request("GET", "/small.txt").body, b"small\n")
        self.assertEqual(self.ev.find(ev="stray"), [])


# =============================================================================================
class CloseConnectionTest(SessionBase):
    """8. HSE_REQ_CLOSE_CONNECTION with a read outstanding."""

    def check_close(self, query):
        base = self.srv.settled_fds()
        rid = new_id("close")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=close&id=%s&%s" % (rid, query)), [("Content-Length", "1000")]))
            closed, extra = c.wait_closed(10)
            self.assertTrue(closed, "the client did not see the connection closed")
            self.assertEqual(extra, b"")
        comp = self.assert_one_completion(rid, (ERROR_NETNAME_DELETED,))
        self.assertEqual(comp.get("inline"), "0")
        d = self.done(rid)
        self.assertEqual(d.get("closeok"), "1", d)
        self.assertEqual(d.get("err"), str(ERROR_NETNAME_DELETED), d)
        # the ECB still works in the completion
        self.assertEqual((d.get("gsv"), d.get("method")), ("1", "POST"), d)
        # later operations fail at once with ERROR_NETNAME_DELETED
        self.assertEqual((d.get("wr_ok"), d.get("wr_err")), ("0", str(ERROR_NETNAME_DELETED)), d)
        self.assertEqual((d.get("rd_ok"), d.get("rd_err")), ("0", str(ERROR_NETNAME_DELETED)), d)
        self.assert_fds_back(base)
        self.assertEqual(self.srv.get("/index.html").status, 200)

    def test_close_right_after_starting_the_read(self):
        self.check_close("")

    def test_close_from_a_thread_later(self):
        self.check_close("ms=200")

    def test_close_then_done_success_status(self):
        self.check_close("ms=50&status=1")


# =============================================================================================
class ClientGoneTest(SessionBase):
    """9. The client goes away with an operation outstanding: one completion with
    ERROR_OPERATION_ABORTED; HSE_REQ_IS_CONNECTED turns FALSE; nothing leaks."""

    def reset_sock(self, sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def test_reset_during_read(self):
        base = self.srv.settled_fds()
        rid = new_id("rstr")
        c = RawConn(self.srv.port)
        c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", str(1 << 20))]))
        c.send(pattern_bytes(100000))
        wait_for(lambda: sum(int(e["cbIO"]) for e in self.completions(rid)) >= 100000, 10,
                 message="the first 100000 bytes read")
        n_ok = len(self.completions(rid))
        c.reset()
        comps = self.ev.wait(10, count=n_ok + 1, id=rid, ev="completion")
        time.sleep(0.3)
        comps = self.completions(rid)
        failed = [e for e in comps if e["err"] != "0"]
        self.assertEqual(len(failed), 1, comps)
        self.assertEqual(len(comps), n_ok + 1, comps)
        self.assertEqual(failed[0]["err"], str(ERROR_OPERATION_ABORTED), failed)
        self.assertEqual(self.done(rid).get("err"), str(ERROR_OPERATION_ABORTED))
        self.assert_fds_back(base)

    def test_reset_before_any_body(self):
        base = self.srv.settled_fds()
        rid = new_id("rst0")
        c = RawConn(self.srv.port)
        c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", "5000")]))
        self.ev.wait(10, id=rid, ev="started")
        c.reset()
        comp = self.assert_one_completion(rid, (ERROR_OPERATION_ABORTED,))
        self.assertEqual(comp["cbIO"], "0")
        self.assert_fds_back(base)

    def test_close_fin_during_read(self):
        # a client that closes normally (FIN) in the middle of the body: the read cannot finish
        base = self.srv.settled_fds()
        rid = new_id("finr")
        c = RawConn(self.srv.port)
        c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", "5000")]))
        self.ev.wait(10, id=rid, ev="started")
        c.send(b"x" * 10)
        self.ev.wait(10, id=rid, ev="completion")
        c.close()
        comps = self.ev.wait(10, count=2, id=rid, ev="completion")
        time.sleep(0.3)
        comps = self.completions(rid)
        self.assertEqual(len(comps), 2, comps)
        self.assertEqual(comps[1]["err"], str(ERROR_OPERATION_ABORTED), comps)
        self.assert_fds_back(base)

    def test_reset_during_write(self):
        base = self.srv.settled_fds()
        rid = new_id("rstw")
        n = 64 * 1024 * 1024
        c = RawConn(self.srv.port, rcvbuf=65536)
        c.send(build_request("GET", self.path("op=write&n=%d&id=%s" % (n, rid))))
        self.ev.wait(10, id=rid, ev="started")
        got = 0
        for _ in range(10000):
            data = c.sock.recv(65536)
            self.assertTrue(data, "the server closed the connection")
            got += len(data)
            if got >= 200000:
                break
        self.assertEqual(self.completions(rid), [])
        c.reset()
        comp = self.assert_one_completion(rid, (ERROR_OPERATION_ABORTED,))
        self.assertLess(int(comp["cbIO"]), n)
        self.assert_fds_back(base)

    def test_reset_during_transmit_and_vector(self):
        for q in ("op=transmit&url=/big.bin", "op=vector&async&els=p:%d" % (32 << 20),
                  "op=chain&n=%d&chunk=1048576" % (32 << 20), "op=sendurl&cb&url=/big.bin"):
            with self.subTest(q=q):
                base = self.srv.settled_fds()
                rid = new_id("rstt")
                c = RawConn(self.srv.port, rcvbuf=65536)
                c.send(build_request("GET", self.path("%s&id=%s" % (q, rid))))
                self.ev.wait(10, id=rid, ev="started")
                c.sock.recv(65536)
                c.reset()
                d = self.done(rid)
                self.assertEqual(d.get("err"), str(ERROR_OPERATION_ABORTED), d)
                comps = self.completions(rid)
                self.assertEqual([e["err"] for e in comps if e["err"] != "0"], [str(ERROR_OPERATION_ABORTED)])
                self.assert_fds_back(base)

    def test_is_connected_turns_false(self):
        for how in ("close", "reset"):
            with self.subTest(how=how):
                base = self.srv.settled_fds()
                rid = new_id("watch")
                c = RawConn(self.srv.port)
                c.send(build_request("GET", self.path("op=watch&max=10000&id=" + rid)))
                # the session is pending, no operation outstanding; connected while we are here
                self.assertEqual(self.ev.wait(10, id=rid, ev="watching")[0].get("first"), "1")
                self.assertEqual(self.ev.find(id=rid, ev="watch"), [])
                t0 = time.monotonic()
                if how == "close":
                    c.close()
                else:
                    c.reset()
                w = self.ev.wait(10, id=rid, ev="watch")[0]
                self.assertEqual(w.get("first"), "1", w)
                self.assertEqual(w.get("connected"), "0", w)
                self.assertLess(time.monotonic() - t0, 5)
                self.assert_fds_back(base)

    def test_is_connected_true_while_connected(self):
        rid = new_id("watchok")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=watch&max=300&id=" + rid))
            self.assertEqual(r.body, b"still-connected")
        w = self.ev.wait(5, id=rid, ev="watch")[0]
        self.assertEqual((w.get("first"), w.get("connected")), ("1", "1"), w)


class TimeoutTest(SessionBase):
    """Completion errors on timeouts (docs: ERROR_TIMEOUT, the connection closed) and on bad
    bodies (ERROR_INVALID_DATA)."""
    server_args = ["--body-timeout", "400", "--send-timeout", "400", "--max-body", "100000"]

    def check_invalid_data(self, rid, c, bad):
        self.ev.wait(10, id=rid, ev="started")
        c.send(b"5\r\nhello\r\n")
        self.ev.wait(10, id=rid, ev="completion")
        c.send(bad)
        wait_for(lambda: [e for e in self.completions(rid) if e["err"] != "0"], 10,
                 message="the failed completion")
        time.sleep(0.2)
        comps = self.completions(rid)
        errs = [e["err"] for e in comps]
        # data may come in several completions before the failure; one failure, the last
        self.assertEqual(errs[-1], str(ERROR_INVALID_DATA), comps)
        self.assertEqual(set(errs[:-1]), {"0"}, comps)
        self.assertLessEqual(sum(int(e["cbIO"]) for e in comps), 100000, comps)
        closed, _ = c.wait_closed(5)
        self.assertTrue(closed)

    def test_malformed_chunked_body(self):
        base = self.srv.settled_fds()
        rid = new_id("badc")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&id=" + rid), [("Transfer-Encoding", "chunked")]))
            self.check_invalid_data(rid, c, b"zz\r\nhello\r\n0\r\n\r\n")
        self.assert_fds_back(base)

    def test_chunked_body_over_max_body(self):
        base = self.srv.settled_fds()
        rid = new_id("bigc")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&buf=1000000&id=" + rid), [("Transfer-Encoding", "chunked")]))
            self.check_invalid_data(rid, c, b"%x\r\n" % 200000 + b"x" * 200000 + b"\r\n0\r\n\r\n")
        self.assert_fds_back(base)

    def test_read_timeout(self):
        base = self.srv.settled_fds()
        rid = new_id("tor")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", "100")]))
            c.send(b"abc")
            comps = self.ev.wait(10, count=2, id=rid, ev="completion")
            self.assertEqual(comps[1]["err"], str(ERROR_TIMEOUT), comps)
            closed, _ = c.wait_closed(5)
            self.assertTrue(closed)
        self.assert_fds_back(base)

    def test_write_timeout(self):
        base = self.srv.settled_fds()
        rid = new_id("tow")
        with RawConn(self.srv.port, rcvbuf=65536) as c:
            c.send(build_request("GET", self.path("op=write&n=%d&id=%s" % (32 << 20, rid))))
            comp = self.ev.wait(10, id=rid, ev="completion")[0]
            self.assertEqual(comp["err"], str(ERROR_TIMEOUT), comp)
        self.assert_fds_back(base)


if __name__ == "__main__":
    main()
