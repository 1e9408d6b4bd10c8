"""Asynchronous I/O, sending a file and vectors (docs/isapi.md "Asynchronous I/O", the seed
async-io.txt): HSE_REQ_TRANSMIT_FILE (the file, offsets, heads and tails, HSE_IO_SEND_HEADERS,
disconnect after send) and HSE_REQ_VECTOR_SEND (memory and file elements, sync and async, final
send). Through tests/fixtures/async.c (the server and AsyncBase: async_fixture.py).

The other operations and where completions run: test_async_io.py."""

from urllib.parse import quote

from async_fixture import (BIG_SIZE, ERROR_INVALID_HANDLE, ERROR_INVALID_PARAMETER, TF_SIZE, WSAEINVAL,
                           AsyncBase, new_id)
from harness import RawConn, build_request, main, pattern_bytes

# =============================================================================================
class TransmitFileTest(AsyncBase):
    """4. HSE_REQ_TRANSMIT_FILE."""

    def setUp(self):
        self.file = pattern_bytes(TF_SIZE)

    def tf(self, query, conn=None, rcvbuf=None, version="HTTP/1.1"):
        rid = new_id("tf")
        r = self.get("op=transmit&url=/tf.bin&id=%s&%s" % (rid, query), conn=conn, rcvbuf=rcvbuf, version=version)
        return rid, r

    def assert_done(self, rid, cbio=None, fd=True):
        d = self.done(rid)
        self.assertEqual(d.get("err"), "0", d)
        if fd:
            self.assertEqual(d.get("fdok"), "1", d)   # the server did not close our descriptor
        self.assertEqual(d.get("inline"), "0", d)
        if cbio is not None:
            self.assertEqual(d.get("cbIO"), str(cbio), d)
        self.assertEqual(self.ev.find(id=rid, ev="decoy"), [])
        return d

    def test_whole_file_registered_callback_chunked_keepalive(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("", conn=c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.framing, "chunked", r)
            self.assertEqual(r.body, self.file)
            self.assert_done(rid, TF_SIZE)
            # keep-alive survives: the next request on the same socket works
            rid2, r2 = self.tf("off=10&len=20", conn=c)
            self.assertEqual(r2.body, self.file[10:30])
            self.assertEqual(c.request("GET", "/index.html").body, b"<p>index</p>\n")
            self.assert_done(rid2, 20)

    def test_pfn_overrides_registered_callback(self):
        rid, r = self.tf("tfcb")
        self.assertEqual(r.body, self.file)
        self.assert_done(rid, TF_SIZE)

    def test_without_async_flag(self):
        rid, r = self.tf("noasync&tfcb")
        self.assertEqual(r.body, self.file)
        self.assert_done(rid, TF_SIZE)

    def test_offset_and_length(self):
        for off, ln, want in ((1000, 5000, self.file[1000:6000]), (1000, 0, self.file[1000:]),
                              (0, 1, self.file[:1]), (TF_SIZE - 10, 100, self.file[-10:]),
                              (TF_SIZE - 1, 0, self.file[-1:])):
            with self.subTest(off=off, len=ln):
                rid, r = self.tf("off=%d&len=%d" % (off, ln))
                self.assertEqual(r.body, want)
                self.assert_done(rid, len(want))

    def test_offset_past_eof_fails_at_once(self):
        for off in (TF_SIZE + 1, TF_SIZE + 100000):
            with self.subTest(off=off):
                rid, r = self.tf("off=%d" % off)
                kv = r.kv()
                self.assertEqual((kv.get("ok"), kv.get("err")), ("0", str(WSAEINVAL)), kv)
                self.assertEqual(self.completions(rid), [])

    def test_raw_head_and_tail_after_sent_head(self):
        rid, r = self.tf("presend&head=HEAD-&tail=-TAIL&off=5&len=100")
        self.assertEqual(r.get("Content-Type"), "application/x-presend")
        self.assertEqual(r.body, b"HEAD-" + self.file[5:105] + b"-TAIL")
        self.assert_done(rid, 5 + 100 + 5)

    def test_raw_http_head_in_phead(self):
        rid, r = self.tf("rawhead&len=1000")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.get("Content-Type"), "text/x-raw")
        self.assertEqual(r.get("X-Raw"), "1")
        self.assertEqual(r.body, self.file[:1000])
        self.assert_done(rid)

    # A raw head in pHead without HSE_IO_SEND_HEADERS goes out as the extension wrote it, as far
    # as framing allows (docs/isapi.md, TransmitFile): its status line's reason, its header
    # lines in its order and case, its own Date and Server; the server adds only what lets the
    # client find the end (here chunked framing: no Content-Length) and answers in the client's
    # HTTP version.
    RAW = ("HTTP/1.1 200 Fine Thanks\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\nServer: Ext/1\r\n"
           "x-lower: v\r\nContent-Type: text/x-raw\r\n")

    def test_raw_head_in_phead_goes_out_as_written(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("len=1000&head=" + quote(self.RAW + "\r\n"), conn=c)
            self.assertEqual(r.raw_head.decode(), self.RAW + "Transfer-Encoding: chunked\r\n\r\n")
            self.assertEqual(r.body, self.file[:1000])
            self.assert_done(rid, len(self.RAW) + 2 + 1000)
            self.assertEqual(c.request("GET", "/small.txt").status, 200)

    def test_raw_head_with_its_own_length_is_sent_unchanged(self):
        head = self.RAW + "Content-Length: 1000\r\n\r\n"
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("len=1000&head=" + quote(head), conn=c)
            self.assertEqual(r.raw_head.decode(), head)
            self.assertEqual(r.body, self.file[:1000])
            self.assert_done(rid)
            self.assertEqual(c.request("GET", "/small.txt").status, 200)

    def test_raw_head_http10_client(self):
        # No length and an HTTP/1.0 client: the end is the connection's close, said in the head.
        rid, r = self.tf("len=1000&head=" + quote(self.RAW + "\r\n"), version="HTTP/1.0")
        self.assertEqual(r.raw_head.decode(),
                         self.RAW.replace("HTTP/1.1", "HTTP/1.0", 1) + "Connection: close\r\n\r\n")
        self.assertEqual(r.body, self.file[:1000])
        self.assert_done(rid)

    def test_header_lines_in_phead_are_the_head(self):
        # "Name: value" lines ended by an empty line, as a first WriteClient may carry (§7.4).
        rid, r = self.tf("len=100&head=" + quote("Content-Type: text/x-lines\r\nX-L: 1\r\n\r\n"))
        self.assertEqual((r.status, r.get("Content-Type"), r.get("X-L")), (200, "text/x-lines", "1"), r)
        self.assertEqual(r.body, self.file[:100])
        self.assert_done(rid)

    def test_raw_head_begun_by_writeclient_ends_in_phead(self):
        # A raw head an earlier WriteClient began (held until its empty line) ends in pHead:
        # one head, nothing lost.
        pre = "HTTP/1.1 202 Accepted\r\nX-Split: 1\r\n"
        rid, r = self.tf("len=100&prewrite=%s&head=%s" % (quote(pre), quote("X-Second: 2\r\n\r\n")))
        self.assertEqual((r.status, r.get("X-Split"), r.get("X-Second")), (202, "1", "2"), r)
        self.assertEqual(r.body, self.file[:100])
        self.assert_done(rid)
        # ... or never ends: then it was body after all, in front of the file.
        rid, r = self.tf("len=100&prewrite=%s&head=%s" % (quote(pre), quote("more")))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, pre.encode() + b"more" + self.file[:100])
        self.assert_done(rid)

    def test_send_headers_with_status(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("sh&st=201%20Created", conn=c)
            self.assertEqual((r.status, r.reason), (201, "Created"))
            self.assertEqual(r.get("X-TF"), "1")
            self.assertEqual(r.get("Content-Type"), "application/x-tf")
            self.assertEqual(r.framing, "chunked")
            self.assertEqual(r.body, self.file)
            d = self.assert_done(rid)
            self.assertGreaterEqual(int(d["cbIO"]), TF_SIZE, d)
            self.assertEqual(c.request("GET", "/small.txt").status, 200)

    def test_send_headers_with_content_length(self):
        with self.srv.conn(timeout=60) as c:
            hdrs = "Content-Type:%20text/x-len%0D%0AContent-Length:%201000%0D%0A%0D%0A"
            rid, r = self.tf("sh&len=1000&hdrs=" + hdrs, conn=c)
            self.assertEqual(r.framing, "length")
            self.assertEqual(r.get("Content-Length"), "1000")
            self.assertEqual(r.body, self.file[:1000])
            self.assert_done(rid)
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_send_headers_null_status_and_headers_without_blank_line(self):
        rid, r = self.tf("sh&st=null&len=64&hdrs=X-Only:%20yes%0D%0A")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.get("X-Only"), "yes")
        self.assertEqual(r.body, self.file[:64])
        self.assert_done(rid)

    def test_disconnect_after_send(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("disc&sh&len=50000", conn=c)
            self.assertEqual(r.body, self.file[:50000])
            self.assertIn("close", r.connection_tokens(), r)
            closed, extra = c.wait_closed(5)
            self.assertTrue(closed)
            self.assertEqual(extra, b"")
        self.assert_done(rid)

    def test_disconnect_after_send_chunked_body(self):
        # the head went out before (no length: chunked); the disconnecting send ends the body
        with self.srv.conn(timeout=60) as c:
            rid, r = self.tf("disc&presend&len=7000", conn=c)
            self.assertEqual(r.framing, "chunked")
            self.assertEqual(r.body, self.file[:7000])
            closed, extra = c.wait_closed(5)
            self.assertTrue(closed)
            self.assertEqual(extra, b"")
        self.assert_done(rid, 7000)

    def test_no_file_head_and_tail_only(self):
        rid, r = self.tf("nofile&presend&head=only-head&tail=%2Btail")
        self.assertEqual(r.body, b"only-head+tail")
        self.assert_done(rid, len(b"only-head+tail"), fd=False)

    def test_not_a_regular_file(self):
        rid, r = self.tf("pipe")
        kv = r.kv()
        self.assertEqual((kv.get("ok"), kv.get("err")), ("0", str(ERROR_INVALID_HANDLE)), kv)

    def test_no_callback(self):
        rid, r = self.tf("nocb")
        kv = r.kv()
        self.assertEqual((kv.get("ok"), kv.get("err")), ("0", str(ERROR_INVALID_PARAMETER)), kv)

    def test_large_file_slow_client(self):
        rid = new_id("tfbig")
        with RawConn(self.srv.port, timeout=60, rcvbuf=65536) as c:
            c.send(build_request("GET", self.path("op=transmit&url=/big.bin&id=" + rid)))
            self.ev.wait(10, id=rid, ev="started")
            self.assertEqual(self.completions(rid), [])
            r = c.read_response()
        self.assertEqual(r.body, pattern_bytes(BIG_SIZE))
        self.assert_done(rid, BIG_SIZE)

    def test_http10(self):
        rid, r = self.tf("len=3000", version="HTTP/1.0")
        self.assertEqual(r.body, self.file[:3000])
        self.assert_done(rid, 3000)


# =============================================================================================
class VectorSendTest(AsyncBase):
    """5. HSE_REQ_VECTOR_SEND."""

    def setUp(self):
        self.file = pattern_bytes(TF_SIZE)

    def vec(self, query, conn=None):
        rid = new_id("v")
        return rid, self.get("op=vector&url=/tf.bin&id=%s&%s" % (rid, query), conn=conn)

    ELS = "m:HEAD-,f:100:1000,m:-MID-,f:0:0,p:70000,m:-END"

    def expected(self):
        return b"HEAD-" + self.file[100:1100] + b"-MID-" + self.file + pattern_bytes(70000) + b"-END"

    def test_sync_memory_and_file(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.vec("els=" + self.ELS, conn=c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, self.expected())
            d = self.done(rid)
            self.assertEqual((d.get("ok"), d.get("sync")), ("1", "1"), d)
            self.assertEqual(self.completions(rid), [])
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_raw_head_begun_by_writeclient_is_not_lost(self):
        # An unfinished raw head a WriteClient left cannot end in a vector (no raw head there):
        # it was body, in front of the elements, behind a default head.
        pre = "HTTP/1.1 202 Accepted\r\nX-Split: 1\r\n"
        for mode in ("", "async&"):
            with self.subTest(mode=mode):
                rid, r = self.vec("%sfinal&prewrite=%s&els=m:abc" % (mode, quote(pre)))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, pre.encode() + b"abc")
                self.assertEqual(self.done(rid).get("ok"), "1")

    def test_async_memory_and_file(self):
        with self.srv.conn(timeout=60) as c:
            rid, r = self.vec("async&els=" + self.ELS, conn=c)
            want = self.expected()
            self.assertEqual(r.body, want)
            d = self.done(rid)
            self.assertEqual((d.get("ok"), d.get("sync"), d.get("err"), d.get("cbIO")),
                             ("1", "0", "0", str(len(want))), d)
            self.assert_clean_completions(rid, 1)
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_send_headers(self):
        for mode in ("", "async&"):
            with self.subTest(mode=mode):
                rid, r = self.vec(mode + "sh&st=202%20Accepted&els=m:abc,f:0:10")
                self.assertEqual((r.status, r.reason), (202, "Accepted"))
                self.assertEqual(r.get("Content-Type"), "application/x-vec")
                self.assertEqual(r.body, b"abc" + self.file[:10])
                self.done(rid)

    def test_final_send_computes_content_length(self):
        for mode in ("", "async&"):
            for sh in ("sh&", ""):
                with self.subTest(mode=mode, sh=sh):
                    with self.srv.conn(timeout=60) as c:
                        rid, r = self.vec(mode + sh + "final&els=m:abc,f:5:1000,m:xyz", conn=c)
                        want = b"abc" + self.file[5:1005] + b"xyz"
                        self.assertEqual(r.framing, "length", r)
                        self.assertEqual(r.get("Content-Length"), str(len(want)))
                        self.assertEqual(r.body, want)
                        self.done(rid)
                        self.assertEqual(c.request("GET", "/small.txt").body, b"0123456789" * 10)

    def test_final_send_after_chunked_head(self):
        # the head went out without a length (chunked): the final send ends the chunked body
        for mode in ("", "async&"):
            with self.subTest(mode=mode):
                with self.srv.conn(timeout=60) as c:
                    rid, r = self.vec(mode + "presend&final&els=m:abc,f:0:500", conn=c)
                    self.assertEqual(r.get("Content-Type"), "application/x-presend")
                    self.assertEqual(r.framing, "chunked")
                    self.assertEqual(r.body, b"abc" + self.file[:500])
                    self.done(rid)
                    self.assertEqual(c.request("GET", "/small.txt").body, b"0123456789" * 10)

    def test_disconnect_after_send(self):
        for mode in ("", "async&"):
            with self.subTest(mode=mode):
                with self.srv.conn(timeout=60) as c:
                    rid, r = self.vec(mode + "sh&disc&els=m:bye,f:0:100", conn=c)
                    self.assertEqual(r.body, b"bye" + self.file[:100])
                    self.assertIn("close", r.connection_tokens(), r)
                    closed, extra = c.wait_closed(5)
                    self.assertTrue(closed)
                    self.assertEqual(extra, b"")
                self.done(rid)

    def test_invalid_combinations(self):
        for q in ("badsh&els=m:a", "hdrnosh&els=m:a", "els=m:a,z", "async&badsh&els=m:a",
                  "async&hdrnosh&els=m:a", "async&els=z"):
            with self.subTest(q=q):
                rid, r = self.vec(q)
                kv = r.kv()
                self.assertEqual((kv.get("ok"), kv.get("err")), ("0", str(ERROR_INVALID_PARAMETER)), (kv, r))
                self.assertEqual(self.completions(rid), [])

    def test_large_async_vector_slow_client(self):
        rid = new_id("vbig")
        with RawConn(self.srv.port, timeout=60, rcvbuf=65536) as c:
            c.send(build_request("GET", self.path(
                "op=vector&async&url=/big.bin&els=p:5000000,f:0:0,m:end&id=" + rid)))
            self.ev.wait(10, id=rid, ev="started")
            self.assertEqual(self.completions(rid), [])
            r = c.read_response()
        want = pattern_bytes(5000000) + pattern_bytes(BIG_SIZE) + b"end"
        self.assertEqual(len(r.body), len(want))
        self.assertEqual(r.body, want)
        self.assertEqual(self.done(rid).get("cbIO"), str(len(want)))

if __name__ == "__main__":
    main()
