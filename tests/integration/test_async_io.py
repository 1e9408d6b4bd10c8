"""Asynchronous I/O, the operations (docs/isapi.md "Asynchronous I/O", the seeds async-io.txt and
writeclient.txt): HSE_REQ_IO_COMPLETION, HSE_REQ_ASYNC_READ_CLIENT, WriteClient(HSE_IO_ASYNC),
and where completions run (worker pool, never inline, no recursion). Through
tests/fixtures/async.c; its event file is polled for the results of requests whose response is
data (the server and AsyncBase: async_fixture.py).

HSE_REQ_TRANSMIT_FILE and HSE_REQ_VECTOR_SEND: test_async_transmit.py. HSE_REQ_SEND_URL:
test_async_sendurl.py. Sessions, the one-outstanding-operation rule, closes and client aborts:
test_async_session.py. Scale (10,000 pending sessions / aborted uploads): test_async_scale.py."""

import os

from async_fixture import ERROR_INVALID_PARAMETER, AsyncBase, crc, new_id
from harness import UNKNOWN_LENGTH, RawConn, build_request, chunked, main, pattern_bytes


# =============================================================================================
class IoCompletionTest(AsyncBase):
    """1. HSE_REQ_IO_COMPLETION."""

    def test_replaced_callback_and_context_are_used(self):
        body = b"hello, completion"
        r = self.post("op=iocomp&id=" + new_id(), body)
        kv = r.kv()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(kv.get("reg1"), "1", kv)
        self.assertEqual(kv.get("reg2"), "1", kv)
        # the second callback got the second context (the first would log a stray event)
        self.assertEqual(kv.get("total"), str(len(body)), kv)
        self.assertEqual(kv.get("crc"), crc(body), kv)
        self.assertEqual(kv.get("zero_end"), "1", kv)
        self.assertEqual(kv.get("ecb_bad"), "0", kv)
        self.assertEqual([e for e in self.ev.all() if e.get("ev") == "stray"], [])

    def test_registration_performs_no_io(self):
        # Registering sends nothing (the head on the wire is the fixture's own, later one) and
        # reads nothing (every body byte still reaches the read that follows).
        body = pattern_bytes(70000)
        with self.srv.conn() as c:
            r = self.post("op=iocomp&id=" + new_id(), body, conn=c)
            self.assertEqual(r.get("Content-Type"), "text/plain")
            self.assertEqual(r.framing, "length")
            self.assertEqual(r.kv().get("total"), "70000")
            self.assertEqual(r.kv().get("crc"), crc(body))
            r2 = c.request("GET", "/index.html")
            self.assertEqual(r2.body, b"<p>index</p>\n")

    def test_null_callback_unregisters(self):
        kv = self.post("op=iocomp&unreg&id=" + new_id(), b"xyz").kv()
        self.assertEqual(kv.get("reg2"), "1", kv)
        self.assertEqual(kv.get("ok"), "0", kv)
        self.assertEqual(kv.get("err"), str(ERROR_INVALID_PARAMETER), kv)


# =============================================================================================
class AsyncReadTest(AsyncBase):
    """2. HSE_REQ_ASYNC_READ_CLIENT (default read-ahead: the first bytes come in lpbData)."""

    def check_read(self, kv, body, total_header=None):
        self.assertEqual(kv.get("ok"), None, kv)
        self.assertEqual(kv.get("err"), "0", kv)
        self.assertEqual(kv.get("total"), str(len(body)), kv)
        self.assertEqual(kv.get("crc"), crc(body), kv)
        self.assertEqual(kv.get("zero_end"), "1", kv)
        self.assertEqual(kv.get("over"), "0", kv)
        self.assertEqual(kv.get("inline"), "0", kv)
        self.assertEqual(kv.get("depth"), "1", kv)
        if total_header is not None:
            self.assertEqual(kv.get("cbTotal"), str(total_header), kv)

    def test_small_body(self):
        body = b"0123456789" * 100
        kv = self.post("op=read&id=" + new_id(), body).kv()
        self.check_read(kv, body, len(body))
        # the whole body was in the read-ahead: the one read completes at once with 0, off the call
        self.assertEqual(kv.get("cbAvailable"), "1000")
        self.assertEqual(kv.get("reads"), "1", kv)

    def test_body_past_read_ahead(self):
        body = pattern_bytes(300000, 3)
        kv = self.post("op=read&id=" + new_id(), body).kv()
        self.check_read(kv, body, len(body))
        self.assertEqual(kv.get("cbAvailable"), "49152")

    def test_small_buffer(self):
        body = pattern_bytes(100000, 7)
        kv = self.post("op=read&buf=1000&id=" + new_id(), body).kv()
        self.check_read(kv, body)
        self.assertLessEqual(int(kv["max_cb"]), 1000)
        self.assertGreaterEqual(int(kv["reads"]), (100000 - 49152) // 1000 + 1)

    def test_no_callback_fails_at_once(self):
        kv = self.post("op=read&nocb&id=" + new_id(), b"abc" * 30000).kv()
        self.assertEqual(kv.get("ok"), "0", kv)
        self.assertEqual(kv.get("err"), str(ERROR_INVALID_PARAMETER), kv)

    def test_chunked_decoded(self):
        parts = [b"a" * 5, pattern_bytes(70000, 1), b"", b"z" * 3, pattern_bytes(12345, 9)]
        parts = [p for p in parts if p]
        body = b"".join(parts)
        kv = self.post("op=read&buf=8192&id=" + new_id(), chunked(parts),
                       [("Transfer-Encoding", "chunked")]).kv()
        self.check_read(kv, body, UNKNOWN_LENGTH)

    def test_chunked_small_body(self):
        kv = self.post("op=read&id=" + new_id(), chunked([b"hi", b" there"]),
                       [("Transfer-Encoding", "chunked")]).kv()
        self.check_read(kv, b"hi there", UNKNOWN_LENGTH)

    def test_empty_body(self):
        kv = self.post("op=read&id=" + new_id(), b"").kv()
        self.check_read(kv, b"", 0)

    def _big_upload(self, use_chunked):
        size = 64 * 1024 * 1024
        body = pattern_bytes(size, 11)
        rid = new_id("big")
        with self.srv.conn(timeout=120) as c:
            if use_chunked:
                step = 1024 * 1024 + 17
                parts = [body[i:i + step] for i in range(0, size, step)]
                c.send(build_request("POST", self.path("op=read&id=" + rid), [("Transfer-Encoding", "chunked")]))
                for i in range(0, len(parts), 8):
                    c.send(chunked(parts[i:i + 8])[:-5])   # the chunks without the last-chunk
                c.send(b"0\r\n\r\n")
            else:
                c.send(build_request("POST", self.path("op=read&id=" + rid), None, body))
            r = c.read_response()
        self.check_read(r.kv(), body, UNKNOWN_LENGTH if use_chunked else size)

    def test_64mib_content_length(self):
        self._big_upload(False)

    def test_64mib_chunked(self):
        self._big_upload(True)

    def test_keep_alive_and_pipelining_after_read(self):
        # The body is read to its end asynchronously; the pipelined request behind it is not
        # eaten and is answered on the same connection after DONE_WITH_SESSION (KEEP_CONN).
        body = pattern_bytes(60000)
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&id=" + new_id()), None, body) +
                   build_request("GET", "/index.html") +
                   build_request("POST", self.path("op=read&buf=100&id=" + new_id()),
                                 [("Transfer-Encoding", "chunked")], chunked([b"x" * 250])) +
                   build_request("GET", "/small.txt"))
            r1, r2, r3, r4 = [c.read_response() for _ in range(4)]
            self.check_read(r1.kv(), body)
            self.assertEqual(r2.body, b"<p>index</p>\n")
            self.check_read(r3.kv(), b"x" * 250)
            self.assertEqual(r4.body, b"0123456789" * 10)


class AsyncReadHeldBodyTest(AsyncBase):
    """2. The read call returns at once (before any body byte exists): --read-ahead 0."""
    server_args = ["--read-ahead", "0"]

    def test_read_returns_before_data(self):
        rid = new_id("held")
        body = pattern_bytes(5000, 2)
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", "5000")]))
            # the call that started the read has returned: the body is not there yet
            self.ev.wait(10, id=rid, ev="started")
            self.assertEqual(self.completions(rid), [])
            c.send(body[:100])
            self.ev.wait(10, id=rid, ev="completion")
            c.send(body[100:])
            kv = c.read_response().kv()
        self.assertEqual(kv.get("total"), "5000", kv)
        self.assertEqual(kv.get("crc"), crc(body), kv)
        self.assertEqual(kv.get("cbAvailable"), "0", kv)
        self.assertEqual(kv.get("inline"), "0", kv)
        first = self.completions(rid)[0]
        self.assertEqual(first.get("cbIO"), "100", first)
        self.assertEqual(first.get("err"), "0", first)

    def test_chunked_held(self):
        rid = new_id("heldc")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&buf=7&id=" + rid), [("Transfer-Encoding", "chunked")]))
            self.ev.wait(10, id=rid, ev="started")
            c.send(b"5\r\nhello\r\n")
            self.ev.wait(10, id=rid, ev="completion")
            c.send(b"6\r\n world\r\n0\r\n\r\n")
            kv = c.read_response().kv()
        self.assertEqual(kv.get("total"), "11", kv)
        self.assertEqual(kv.get("crc"), crc(b"hello world"), kv)
        self.assertLessEqual(int(kv.get("max_cb")), 7, kv)


# =============================================================================================
class AsyncWriteTest(AsyncBase):
    """3. WriteClient(HSE_IO_ASYNC)."""

    def test_single_write_chunked(self):
        rid = new_id("w")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=write&n=1000000&id=" + rid))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.framing, "chunked", r)
            self.assertEqual(r.body, pattern_bytes(1000000))
            d = self.done(rid)
            self.assertEqual((d.get("cbIO"), d.get("err")), ("1000000", "0"), d)
            self.assert_clean_completions(rid, 1)
            # keep-alive survives
            self.assertEqual(c.request("GET", "/index.html").body, b"<p>index</p>\n")

    def test_single_write_content_length(self):
        rid = new_id("wcl")
        r = self.get("op=write&cl&n=300000&id=" + rid)
        self.assertEqual(r.framing, "length")
        self.assertEqual(r.get("Content-Length"), "300000")
        self.assertEqual(r.body, pattern_bytes(300000))
        self.assertEqual(self.done(rid).get("cbIO"), "300000")

    def test_http10_write(self):
        rid = new_id("w10")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=write&n=70000&id=" + rid), version="HTTP/1.0", host=False)
            self.assertEqual(r.body, pattern_bytes(70000))
        self.assertEqual(self.done(rid).get("cbIO"), "70000")

    def test_returns_at_once_and_buffer_is_the_callers_until_completion(self):
        # 16 MiB to a client that reads nothing at first: WriteClient returns (event "started")
        # long before the data can have gone; the completion overwrites the buffer with 'X'
        # right away, so any byte the server sent from it after the completion shows up.
        n = 16 * 1024 * 1024
        rid = new_id("wslow")
        with RawConn(self.srv.port, timeout=60, rcvbuf=65536) as c:
            c.send(build_request("GET", self.path("op=write&n=%d&id=%s" % (n, rid))))
            self.ev.wait(10, id=rid, ev="started")
            self.assertEqual(self.completions(rid), [], "completed before the client read anything")
            r = c.read_response()
        self.assertEqual(len(r.body), n)
        self.assertNotIn(b"X", r.body)
        self.assertEqual(r.body, pattern_bytes(n))
        d = self.done(rid)
        self.assertEqual((d.get("cbIO"), d.get("err")), (str(n), "0"), d)

    def test_no_callback_fails_at_once(self):
        kv = self.get("op=write&nocb&n=10&id=" + new_id()).kv()
        self.assertEqual(kv.get("ok"), "0", kv)
        self.assertEqual(kv.get("err"), str(ERROR_INVALID_PARAMETER), kv)

    def test_chain_from_completions(self):
        n, chunk = 1000003, 4099
        rid = new_id("chain")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=chain&n=%d&chunk=%d&id=%s" % (n, chunk, rid)))
            self.assertEqual(r.framing, "chunked")
            self.assertEqual(r.body, pattern_bytes(n))
            d = self.done(rid)
            writes = (n + chunk - 1) // chunk
            self.assertEqual((d.get("writes"), d.get("bad"), d.get("err"), d.get("sent")),
                             (str(writes), "0", "0", str(n)), d)
            self.assertEqual(d.get("inline"), "0", d)
            self.assertEqual(d.get("depth"), "1", d)
            self.assertEqual(c.request("GET", "/small.txt").body, b"0123456789" * 10)

    def test_chain_content_length_slow_client(self):
        n, chunk = 3 * 1024 * 1024 + 1, 65536
        rid = new_id("chaincl")
        with RawConn(self.srv.port, timeout=60, rcvbuf=32768) as c:
            r = c.request("GET", self.path("op=chain&cl&n=%d&chunk=%d&id=%s" % (n, chunk, rid)))
            self.assertEqual(r.framing, "length")
            self.assertEqual(r.body, pattern_bytes(n))
            self.assertEqual(c.request("GET", "/index.html").status, 200)
        self.assertEqual(self.done(rid).get("bad"), "0")

    def test_tiny_chain(self):
        rid = new_id("chain1")
        r = self.get("op=chain&n=300&chunk=1&id=" + rid)
        self.assertEqual(r.body, pattern_bytes(300))
        d = self.done(rid)
        self.assertEqual((d.get("writes"), d.get("bad")), ("300", "0"), d)
        self.assertEqual(d.get("depth"), "1", d)


# =============================================================================================
class CompletionThreadTest(AsyncBase):
    """11. Completions on the worker pool, never inside the starting call, no recursion."""
    server_args = ["--read-ahead", "0"]

    def test_immediately_completable_ops_complete_off_the_call(self):
        # each of these could complete at once (data buffered, idle socket)
        cases = [("POST", "op=read", b"abc"), ("GET", "op=write&n=10", None), ("GET", "op=chain&n=50&chunk=5", None),
                 ("GET", "op=transmit&url=/small.txt", None), ("GET", "op=vector&async&els=m:x", None),
                 ("GET", "op=sendurl&url=/small.txt&cb", None)]
        for method, q, body in cases:
            with self.subTest(q=q):
                rid = new_id("inl")
                with self.srv.conn() as c:
                    if body is not None:
                        c.send(build_request(method, self.path(q + "&id=" + rid), None, body))
                    else:
                        c.send(build_request(method, self.path(q + "&id=" + rid)))
                    self.assertEqual(c.read_response().status, 200)
                d = self.done(rid)
                self.assertEqual(d.get("inline"), "0", d)
                self.assertEqual(d.get("depth"), "1", d)
                self.assert_clean_completions(rid)

    def test_read_loop_does_not_grow_the_stack(self):
        # 64-byte reads over a 256 KiB body: 4097 completions, each issuing the next read.
        body = pattern_bytes(256 * 1024, 5)
        kv = self.post("op=read&buf=64&quiet&id=" + new_id(), body).kv()
        self.assertEqual(kv.get("total"), str(len(body)), kv)
        self.assertEqual(kv.get("crc"), crc(body), kv)
        self.assertGreaterEqual(int(kv["reads"]), 4097, kv)
        self.assertEqual(kv.get("inline"), "0", kv)
        self.assertEqual(kv.get("depth"), "1", kv)
        self.assertLess(int(kv["spread"]), 8192, kv)

    def test_chunked_read_loop_small_buffer(self):
        parts = [pattern_bytes(1000, i) for i in range(100)]
        kv = self.post("op=read&buf=64&quiet&id=" + new_id(), chunked(parts), [("Transfer-Encoding", "chunked")]).kv()
        self.assertEqual(kv.get("total"), "100000", kv)
        self.assertEqual(kv.get("crc"), crc(b"".join(parts)), kv)
        self.assertEqual(kv.get("depth"), "1", kv)
        self.assertLess(int(kv["spread"]), 8192, kv)

    def test_write_chain_does_not_grow_the_stack(self):
        rid = new_id("wstack")
        r = self.get("op=chain&n=20000&chunk=4&quiet&id=" + rid)
        self.assertEqual(r.body, pattern_bytes(20000))

    def test_completion_has_a_large_stack(self):
        # §7.9: completions run on threads with large stacks (256 KiB used here)
        body = pattern_bytes(20000)
        kv = self.post("op=read&buf=4096&stackbuf&id=" + new_id(), body).kv()
        self.assertEqual(kv.get("total"), "20000", kv)

    def test_completion_runs_on_a_server_thread_not_the_starter(self):
        # The starter is HttpExtensionProc's worker; a completion that finds its operation's
        # start still on the stack of its own thread would be counted inline (none allowed),
        # and the completion thread is one of the server's.
        rid = new_id("tid")
        with self.srv.conn() as c:
            c.send(build_request("POST", self.path("op=read&id=" + rid), [("Content-Length", "10")]))
            self.ev.wait(10, id=rid, ev="started")
            c.send(b"0123456789")
            c.read_response()
        tids = {e["tid"] for e in self.completions(rid)}
        tasks = set(os.listdir("/proc/%d/task" % self.srv.pid))
        self.assertTrue(tids <= tasks, (tids, tasks))

if __name__ == "__main__":
    main()
