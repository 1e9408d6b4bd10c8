"""Asynchronous I/O, the operations (docs/isapi.md "Asynchronous I/O", the seeds async-io.txt and
writeclient.txt): HSE_REQ_IO_COMPLETION, HSE_REQ_ASYNC_READ_CLIENT, WriteClient(HSE_IO_ASYNC),
HSE_REQ_TRANSMIT_FILE, HSE_REQ_VECTOR_SEND, HSE_REQ_SEND_URL, and where completions run (worker
pool, never inline, no recursion). Through tests/fixtures/async.c; its event file is polled for
the results of requests whose response is data.

Sessions, the one-outstanding-operation rule, closes and client aborts: test_async_session.py.
Scale (10,000 pending sessions / aborted uploads): test_async_scale.py."""

import os
import threading
import unittest
import zlib
from urllib.parse import quote

from harness import (UNKNOWN_LENGTH, EventFile, RawConn, Server, build_request, chunked, fixture, main,
                     pattern_bytes, wait_for)

ERROR_FILE_NOT_FOUND = 2
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_INVALID_PARAMETER = 87
WSAEINVAL = 10022

TF_SIZE = 2 * 1024 * 1024 + 123          # tf.bin: pattern bytes
BIG_SIZE = 8 * 1024 * 1024 + 5           # big.bin: pattern bytes
PAGE = b"<html><body>send-url page</body></html>\n"

FILES = {
    "index.html": "<p>index</p>\n",
    "page.html": PAGE,
    "tf.bin": pattern_bytes(TF_SIZE),
    "big.bin": pattern_bytes(BIG_SIZE),
    "small.txt": "0123456789" * 10,
}

_ids = iter(range(1, 10 ** 9))


def new_id(prefix="t"):
    return "%s%d" % (prefix, next(_ids))


def crc(data):
    return str(zlib.crc32(data) & 0xFFFFFFFF)


def async_server(**kw):
    args = list(kw.pop("args", []))
    return Server(files=FILES, scripts={"async.so": fixture("async")}, threads=2, workers="2:8",
                  env={"ASYNC_EVENTS": "{tmp}/events.log"}, args=args, **kw)


class AsyncBase(unittest.TestCase):
    server_args = []

    @classmethod
    def setUpClass(cls):
        cls.srv = async_server(args=cls.server_args)
        cls.srv.__enter__()
        cls.ev = EventFile(os.path.join(cls.srv.tmp, "events.log"))
        # load the fixture now (it opens its event file when loaded): fd baselines include it
        cls.srv.get("/scripts/async.dll?op=stats")

    @classmethod
    def tearDownClass(cls):
        try:
            # every completion of the class ran off the starting call and without nesting
            kv = cls.srv.get("/scripts/async.dll?op=stats").kv()
            strays = [e for e in cls.ev.all() if e.get("ev") == "stray"]
            if kv.get("inline") != "0" or kv.get("maxdepth") not in ("0", "1") or strays:
                raise AssertionError("completions inline/nested or stray: stats %r strays %r" % (kv, strays))
            wait_for(lambda: cls.srv.get("/scripts/async.dll?op=stats").kv().get("live") == "0", 10,
                     message="every fixture request context freed")
        finally:
            cls.srv.__exit__(None, None, None)

    # ---- helpers --------------------------------------------------------------------------
    def path(self, query):
        return "/scripts/async.dll?" + query

    def post(self, query, body, headers=None, conn=None):
        hdrs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        if conn is not None:
            return conn.request("POST", self.path(query), hdrs, body)
        with self.srv.conn(timeout=60) as c:
            return c.request("POST", self.path(query), hdrs, body)

    def get(self, query, conn=None, rcvbuf=None, version="HTTP/1.1"):
        if conn is not None:
            return conn.request("GET", self.path(query), version=version)
        with RawConn(self.srv.port, timeout=60, rcvbuf=rcvbuf) as c:
            return c.request("GET", self.path(query), version=version)

    def done(self, rid, timeout=20):
        return self.ev.wait(timeout, id=rid, ev="done")[0]

    def completions(self, rid):
        return self.ev.find(id=rid, ev="completion")

    def assert_clean_completions(self, rid, n=None):
        comps = self.completions(rid)
        if n is not None:
            self.assertEqual(len(comps), n, comps)
        for e in comps:
            self.assertEqual(e.get("inline"), "0", e)
            self.assertEqual(e.get("depth"), "1", e)
        return comps


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


# =============================================================================================
class SendUrlTest(AsyncBase):
    """10. HSE_REQ_SEND_URL, default (internal)."""

    def test_internal_with_callback(self):
        rid = new_id("su")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=sendurl&url=/page.html&cb&id=" + rid))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, PAGE)
            self.assertTrue(r.get("Content-Type", "").startswith("text/html"), r)
            self.assertIsNotNone(r.get("ETag"))
            self.assertIsNotNone(r.get("Last-Modified"))
            d = self.done(rid)
            self.assertEqual(d.get("err"), "0", d)
            self.assert_clean_completions(rid, 1)
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_return_success_at_once_big_file_arrives_complete(self):
        for cb in ("", "&cb"):
            with self.subTest(cb=cb):
                rid = new_id("sus")
                with RawConn(self.srv.port, timeout=60, rcvbuf=65536) as c:
                    c.send(build_request("GET", self.path("op=sendurl&url=/big.bin&ret=success%s&id=%s" % (cb, rid))))
                    self.ev.wait(10, id=rid, ev="started")
                    r = c.read_response()
                    self.assertEqual(r.status, 200)
                    self.assertEqual(len(r.body), BIG_SIZE)
                    self.assertEqual(r.body, pattern_bytes(BIG_SIZE))
                    self.assertEqual(c.request("GET", "/index.html").status, 200)
                if cb:
                    d = self.done(rid)
                    self.assertEqual(d.get("err"), "0", d)
                    self.assert_clean_completions(rid, 1)

    def test_not_found(self):
        # As IIS's child request: the URL's 404 is the response, even for an extension that
        # ignores the return value and returns HSE_STATUS_SUCCESS (never an empty 200). The call
        # succeeds; the completion names the error.
        for cb in ("", "&cb"):
            with self.subTest(cb=cb):
                rid = new_id("su404")
                with self.srv.conn() as c:
                    r = c.request("GET", self.path("op=sendurl&url=/nope.html&ret=success%s&id=%s" % (cb, rid)))
                    self.assertEqual(r.status, 404, r)
                    self.assertIn(b"404", r.body)
                    if cb:
                        d = self.done(rid)
                        self.assertEqual((d.get("err"), d.get("cbIO")),
                                         (str(ERROR_FILE_NOT_FOUND), str(len(r.body))), d)
                    self.assertEqual(c.request("GET", "/index.html").status, 200)
        with self.srv.conn() as c:
            r = c.request("HEAD", self.path("op=sendurl&url=/nope.html&ret=success&id=" + new_id()))
            self.assertEqual((r.status, r.body), (404, b""), r)
            self.assertEqual(c.request("GET", "/index.html").status, 200)

    def test_forbidden_and_directory(self):
        os.makedirs(os.path.join(self.srv.root, "sudir"), exist_ok=True)
        with open(os.path.join(self.srv.root, "sudir", "index.html"), "wb") as f:
            f.write(b"dir index")
        rid = new_id("su403")
        r = self.get("op=sendurl&url=/.hidden&ret=pending&cb&id=" + rid)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.done(rid).get("err"), str(ERROR_ACCESS_DENIED))
        rid = new_id("su301")
        r = self.get("op=sendurl&url=/sudir%3Fa%3D1&ret=pending&cb&id=" + rid)
        self.assertEqual(r.status, 301, r)
        self.assertEqual(r.get("Location"), "/sudir/?a=1")
        self.assertEqual(self.done(rid).get("err"), "0")

    def test_symlinks(self):
        # the file is routed and opened as for a GET (on a worker thread here): a symlink
        # leading out of the root is refused, one inside serves its target, twice (the second
        # time from that thread's cached resolution)
        outside = os.path.join(self.srv.tmp, "outside-sendurl.txt")
        with open(outside, "wb") as f:
            f.write(b"SECRET-SENDURL")
        os.symlink(outside, os.path.join(self.srv.root, "su-out.txt"))
        os.symlink("page.html", os.path.join(self.srv.root, "su-in.html"))
        r = self.get("op=sendurl&url=/su-out.txt&ret=success&id=" + new_id())
        self.assertEqual(r.status, 403, r)
        self.assertNotIn(b"SECRET", r.body)
        for _ in range(2):
            with self.srv.conn() as c:
                r = c.request("GET", self.path("op=sendurl&url=/su-in.html&ret=success&id=" + new_id()))
                self.assertEqual((r.status, r.body), (200, PAGE), r)

    def test_extension_url_runs_as_child(self):
        # docs: a URL naming an extension runs it as a child request whose response is this one;
        # the operation completes when the child's last bytes are out (cbIO: its body bytes)
        rid = new_id("suc")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=sendurl&cb&url=/scripts/async.dll%3Fop%3Dstats&id=" + rid))
            self.assertEqual(r.status, 200, r)
            self.assertIn("live", r.kv(), r)
            d = self.done(rid)
            self.assertEqual((d.get("err"), d.get("cbIO")), ("0", str(len(r.body))), d)
            self.assertEqual(c.request("GET", "/index.html").status, 200)


class SendUrlRedirectTest(AsyncBase):
    """10. HSE_REQ_SEND_URL with --send-url-redirect: a 302, synchronous, no completion."""
    server_args = ["--send-url-redirect"]

    def test_redirect(self):
        rid = new_id("sur")
        with self.srv.conn() as c:
            r = c.request("GET", self.path("op=sendurl&url=/page.html&cb&nocbexpected&ret=success&id=" + rid))
            self.assertEqual(r.status, 302)
            self.assertTrue(r.get("Location", "").endswith("/page.html"), r)
            self.assertEqual(c.request("GET", "/index.html").status, 200)
        self.ev.wait(5, id=rid, ev="started")
        # no completion: give one a moment to show up
        with self.assertRaises(AssertionError):
            self.ev.wait(0.5, ev="stray", op="sendurl")


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
