"""Pipelined requests answered in batches (src/http/conn_batch.c): the responses to the
requests already read leave together, and every ordering and framing rule holds inside a
batch: a close in the middle, HEAD, 100-continue, an extension that goes PENDING, an
asynchronous write, a client that half-closes, a batch larger than its limit, and a client
that never reads."""

import os
import tempfile
import unittest

from harness import Server, build_request, fixture, main, pattern_bytes, wait_for

FILES = {"a.txt": "AAAA\n", "b.txt": "BBBBBBBB\n"}
SMALL = 12 * 1024  # under the batch's file limit (CONN_BATCH_FILE_MAX): read into the batch
SEND_MS = 800


def small_body():
    return bytes(pattern_bytes(SMALL))


class PipelineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        files = dict(FILES)
        files["small.bin"] = small_body()
        cls.srv = Server(files=files,
                         scripts={"big.so": fixture("big"), "async.so": fixture("async"),
                                  "echo.so": fixture("echo"), "ssf.so": fixture("ssf")},
                         args=["--send-timeout", str(SEND_MS)])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def assert_closed(self, c, timeout=5.0):
        closed, extra = c.wait_closed(timeout)
        self.assertTrue(closed, "server kept the connection open (extra bytes %r)" % extra[:200])
        self.assertEqual(extra, b"", "bytes after the last response")

    def test_mixed_batch_in_order(self):
        # Loop responses, small files read into the batch and extension writes, in one write.
        reqs = [("GET", "/a.txt"), ("GET", "/scripts/big.dll?n=100&cl"), ("GET", "/small.bin"),
                ("GET", "/scripts/big.dll?n=3000&chunk=700"), ("GET", "/missing.txt"),
                ("GET", "/b.txt")] * 5
        with self.srv.conn() as c:
            c.send(b"".join(build_request(m, p) for m, p in reqs))
            for m, p in reqs:
                r = c.read_response()
                if p == "/a.txt":
                    self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
                elif p == "/b.txt":
                    self.assertEqual((r.status, r.body), (200, b"BBBBBBBB\n"))
                elif p == "/small.bin":
                    self.assertEqual((r.status, r.body), (200, small_body()))
                elif p == "/missing.txt":
                    self.assertEqual(r.status, 404)
                else:
                    n = int(p.split("n=")[1].split("&")[0])
                    self.assertEqual((r.status, r.body), (200, bytes(pattern_bytes(n))))
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")

    def test_close_in_the_middle(self):
        # The response that closes goes out after the batch before it; nothing after it.
        for closing in ("/a.txt", "/scripts/big.dll?n=100&cl", "/small.bin"):
            with self.subTest(closing=closing), self.srv.conn() as c:
                c.send(build_request("GET", "/a.txt") +
                       build_request("GET", "/scripts/big.dll?n=50&cl") +
                       build_request("GET", closing, {"Connection": "close"}) +
                       build_request("GET", "/b.txt") * 3)
                self.assertEqual(c.read_response().body, b"AAAA\n")
                self.assertEqual(c.read_response().body, bytes(pattern_bytes(50)))
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertIn("close", r.connection_tokens())
                self.assert_closed(c)

    def test_extension_error_in_the_middle(self):
        # An extension that fails without writing closes the connection: the responses before
        # it still arrive, then its 500.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") * 2 + build_request("GET", "/scripts/ssf.dll?op=error") +
                   build_request("GET", "/b.txt"))
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().status, 500)
            self.assert_closed(c)

    def test_head_in_the_middle(self):
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") + build_request("HEAD", "/small.bin") +
                   build_request("HEAD", "/scripts/big.dll?n=100&cl") + build_request("GET", "/b.txt"))
            self.assertEqual(c.read_response().body, b"AAAA\n")
            r = c.read_response(method="HEAD")
            self.assertEqual((r.status, r.body, r.get("Content-Length")), (200, b"", str(SMALL)))
            r = c.read_response(method="HEAD")
            self.assertEqual((r.status, r.body), (200, b""))
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")

    def test_continue_after_batched_responses(self):
        # The 100 Continue of a pipelined request comes after the responses before it.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") + build_request("GET", "/scripts/big.dll?n=20&cl") +
                   b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, bytes(pattern_bytes(20)))
            r = c.read_response(keep_interim=True)
            self.assertEqual(r.status, 100)
            c.send(b"hello")
            self.assertEqual(c.read_response().body, b"hello")

    def test_pending_extension_in_the_middle(self):
        # A session that goes PENDING: the responses before it arrive while it is held; the
        # ones after it follow its end.
        with self.srv.conn(timeout=20) as c:
            c.send(build_request("GET", "/a.txt") + build_request("GET", "/scripts/big.dll?n=30&cl") +
                   build_request("GET", "/scripts/async.dll?op=hold&tag=pipe&quiet") +
                   build_request("GET", "/b.txt"))
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, bytes(pattern_bytes(30)))
            with self.srv.conn() as other:
                wait_for(lambda: "released=1" in other.request(
                    "GET", "/scripts/async.dll?op=notify&tag=pipe").body.decode(), 10, 0.05,
                    "the held session to be released")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertIn(b"released=1", r.body)
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")

    def test_pending_pipelined_behind_batch(self):
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") * 3 +
                   build_request("GET", "/scripts/ssf.dll?op=pending&ms=50") +
                   build_request("GET", "/a.txt"))
            for _ in range(3):
                self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, b"pending-done")
            self.assertEqual(c.read_response().body, b"AAAA\n")

    def test_async_write_in_the_middle(self):
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") + build_request("GET", "/scripts/big.dll?n=40&cl") +
                   build_request("GET", "/scripts/async.dll?op=write&n=5000&cl&quiet") +
                   build_request("GET", "/b.txt"))
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, bytes(pattern_bytes(40)))
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, bytes(pattern_bytes(5000))))
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")

    def test_half_close_after_pipelined(self):
        # A client that sends its requests and shuts its side gets every response: the batch
        # leaves before the end of the input is read. (An extension request after the
        # half-close would see its client gone: HSE_REQ_IS_CONNECTED.)
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") * 4 + build_request("GET", "/small.bin") * 4)
            c.shutdown_write()
            for _ in range(4):
                self.assertEqual(c.read_response().body, b"AAAA\n")
            for _ in range(4):
                self.assertEqual(c.read_response().body, small_body())
            self.assert_closed(c)

    def test_batch_larger_than_its_limit(self):
        # 40 small files and 40 extension responses (about 1 MiB) in one write: more than one
        # batch holds; every response arrives whole and in order.
        reqs = ["/small.bin", "/scripts/big.dll?n=9000&cl&chunk=3000"] * 40
        with self.srv.conn(timeout=20) as c:
            c.send(b"".join(build_request("GET", p) for p in reqs))
            for p in reqs:
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, small_body() if p == "/small.bin" else bytes(pattern_bytes(9000)))

    def test_client_that_never_reads_small_files(self):
        # Pipelined requests for small files (read into the batch), responses never read: the
        # server holds at most a batch, stops reading, and cuts the connection after the send
        # timeout.
        srv = self.srv
        base = srv.fds()
        one = build_request("GET", "/small.bin")
        c = srv.conn()
        try:
            c.sock.setblocking(False)
            # The kernel's buffers take about tcp_wmem's maximum (4 MiB by default) before a
            # send blocks; the bound (about 70 MB) is far beyond that.
            sent, blocked = 0, False
            for _ in range(50000):
                try:
                    sent += c.sock.send(one * 32)
                except BlockingIOError:
                    blocked = True  # the server stopped reading
                    break
            self.assertTrue(blocked, "the server read all %d bytes of requests" % sent)
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")
            wait_for(lambda: srv.fds() <= base, SEND_MS / 1000 + 10, 0.05,
                     "the non-reading client's connection to be cut")
        finally:
            c.close()


class PipelineTimeoutTest(unittest.TestCase):
    """The timers of a connection whose batch left before a read."""

    def test_header_timeout_after_a_batch(self):
        # Three requests and the start of a fourth: the batch leaves before the server reads
        # the rest, and the header timeout still ends the unfinished head.
        with Server(files=FILES, args=["--header-timeout", "500"]) as srv, srv.conn(timeout=20) as c:
            c.send(build_request("GET", "/a.txt") * 3 + b"GET /b.txt HTTP/1.1\r\nHo")
            for _ in range(3):
                self.assertEqual(c.read_response().body, b"AAAA\n")
            closed, extra = c.wait_closed(15)
            self.assertTrue(closed, "the unfinished head was never timed out")
            self.assertTrue(extra == b"" or extra.startswith(b"HTTP/1.1 408"), extra[:100])


    def test_batch_leaves_before_a_call_on_the_pool(self):
        # The responses before a request whose call runs on the worker pool leave before that
        # call ends (its thread may not write for a long time).
        marker = os.path.join(tempfile.mkdtemp(prefix="isapid-pipe-"), "slow.log")
        with Server(files=FILES, scripts={"slow.so": fixture("slow")},
                    args=["--run-extensions", "pool"], env={"ISAPID_SLOW_MARKER": marker}) as srv, \
                srv.conn(timeout=30) as c:
            c.send(build_request("GET", "/a.txt") * 2 + build_request("GET", "/scripts/slow.dll?ms=3000") +
                   build_request("GET", "/b.txt"))
            for _ in range(2):
                self.assertEqual(c.read_response().body, b"AAAA\n")
            ran = ""
            if os.path.exists(marker):
                with open(marker) as f:
                    ran = f.read()
            self.assertNotIn("end", ran, "the earlier responses waited for the call")
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")
            with open(marker) as f:
                self.assertIn("end", f.read())


if __name__ == "__main__":
    main()
