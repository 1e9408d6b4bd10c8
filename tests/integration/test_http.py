"""HTTP/1.1 protocol behaviour on the wire: persistence, pipelining, HTTP/1.0, chunked request
bodies, 100-continue, and strict framing (RFC 9112)."""

import unittest

from harness import (UNKNOWN_LENGTH, Server, build_request, chunked, fixture, main)

FILES = {"a.txt": "AAAA\n", "b.txt": "BBBBBBBB\n", "c.txt": "CC\n", "index.html": "<p>index</p>\n"}


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, scripts={"echo.so": fixture("echo"), "big.so": fixture("big")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def assert_closed(self, c, timeout=3.0):
        closed, extra = c.wait_closed(timeout)
        self.assertTrue(closed, "server kept the connection open (extra bytes %r)" % extra[:200])
        self.assertEqual(extra, b"", "unexpected bytes after the response")

    def assert_error_and_close(self, data, statuses, note=""):
        with self.srv.conn() as c:
            c.send(data)
            r = c.read_response()
            self.assertIn(r.status, statuses, "%s: got %r" % (note, r))
            self.assert_closed(c)
        return r

    # ---- persistence --------------------------------------------------------------------
    def test_keep_alive(self):
        with self.srv.conn() as c:
            r1 = c.request("GET", "/a.txt")
            r2 = c.request("GET", "/b.txt")
            self.assertEqual((r1.status, r1.body), (200, b"AAAA\n"))
            self.assertEqual((r2.status, r2.body), (200, b"BBBBBBBB\n"))
            self.assertNotIn("close", r1.connection_tokens())
            self.assertEqual(r1.version, "HTTP/1.1")

    def test_pipelining(self):
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") + build_request("GET", "/b.txt") + build_request("GET", "/c.txt"))
            bodies = [c.read_response().body for _ in range(3)]
            self.assertEqual(bodies, [b"AAAA\n", b"BBBBBBBB\n", b"CC\n"])

    def test_pipelining_with_extension(self):
        # A pipelined request behind an extension request waits until the extension is done.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") +
                   build_request("POST", "/scripts/echo.dll", body=b"echo-me") +
                   build_request("GET", "/scripts/big.dll?n=1000&chunk=100") +
                   build_request("GET", "/c.txt"))
            r = [c.read_response() for _ in range(4)]
            self.assertEqual(r[0].body, b"AAAA\n")
            self.assertEqual(r[1].body, b"echo-me")
            self.assertEqual(len(r[2].body), 1000)
            self.assertEqual(r[3].body, b"CC\n")

    def test_pipelining_in_pieces(self):
        # Requests split at awkward places across writes.
        data = build_request("GET", "/a.txt") + build_request("GET", "/b.txt")
        with self.srv.conn() as c:
            for i in range(0, len(data), 7):
                c.send(data[i:i + 7])
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")

    def test_connection_close(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/a.txt", {"Connection": "close"})
            self.assertEqual(r.status, 200)
            self.assertIn("close", r.connection_tokens())
            self.assert_closed(c)

    def test_http10_closes(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/a.txt", version="HTTP/1.0", host=False)
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
            self.assertIn(r.version, ("HTTP/1.1", "HTTP/1.0"))
            self.assert_closed(c)

    def test_http10_keep_alive(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/a.txt", {"Connection": "keep-alive"}, version="HTTP/1.0")
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
            self.assertIn("keep-alive", r.connection_tokens())
            self.assertIsNotNone(r.get("Content-Length"))
            r = c.request("GET", "/b.txt", {"Connection": "keep-alive"}, version="HTTP/1.0")
            self.assertEqual((r.status, r.body), (200, b"BBBBBBBB\n"))
            r = c.request("GET", "/c.txt", version="HTTP/1.0")
            self.assertEqual(r.body, b"CC\n")
            self.assert_closed(c)

    def test_absolute_form_target(self):
        with self.srv.conn() as c:
            r = c.request("GET", "http://127.0.0.1:%d/a.txt" % self.srv.port)
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))

    def test_header_names_case_insensitive(self):
        with self.srv.conn() as c:
            c.send(b"GET /a.txt HTTP/1.1\r\nhOsT: x\r\nconnection: CLOSE\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assert_closed(c)

    # ---- request bodies -----------------------------------------------------------------
    def test_chunked_request_body(self):
        body = chunked(["hello", " wor", "ld", "!" * 300], extensions=[";ext=1", ';name="quoted value"', "", ""],
                       trailers=["X-Trailer: t", "X-Other: u"])
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: text/plain\r\n\r\n" + body)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"hello world" + b"!" * 300)
            self.assertEqual(r.get("X-Total-Bytes"), str(UNKNOWN_LENGTH))
            self.assertEqual(r.get("X-Received"), str(11 + 300))
            # the connection survives
            r = c.request("GET", "/a.txt")
            self.assertEqual(r.body, b"AAAA\n")

    def test_chunked_request_body_trickled(self):
        body = chunked(["abc", "defgh", "ij" * 1000])
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 500):
                c.send(body[i:i + 500])
            r = c.read_response()
            self.assertEqual(r.body, b"abcdefgh" + b"ij" * 1000)

    def test_static_chunked_body_larger_than_the_buffer_keeps_the_head(self):
        """A static request's chunked body is read before the answer, behind the head: the
        response (a range, from the Range header) and the access log line (target, referer)
        still see the head after 40 KB of body went through the input buffer."""
        body = chunked(["x" * 4000] * 10)
        with self.srv.conn() as c:
            c.send(b"GET /b.txt?drain HTTP/1.1\r\nHost: x\r\nRange: bytes=0-3\r\n"
                   b"Referer: http://ref.example/drain\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (206, b"BBBB"))
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
        self.srv.wait_access_line(r'"GET /b\.txt\?drain HTTP/1\.1" 206 4 "http://ref\.example/drain"')

    def test_chunked_uppercase_hex(self):
        data = b"x" * 0xAB
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"AB\r\n" + data + b"\r\n0\r\n\r\n")
            self.assertEqual(c.read_response().body, data)

    def test_content_length_body(self):
        with self.srv.conn() as c:
            r = c.request("POST", "/scripts/echo.dll", body=b"k=v&x=y")
            self.assertEqual(r.body, b"k=v&x=y")
            self.assertEqual(r.get("X-Total-Bytes"), "7")
            self.assertEqual(r.get("X-Available"), "7")

    def test_expect_100_continue(self):
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            interim = c.read_response(keep_interim=True)
            self.assertEqual(interim.status, 100)
            self.assertEqual(interim.version, "HTTP/1.1")
            c.send(b"hello world")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"hello world"))

    def test_expect_100_continue_chunked(self):
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(c.read_response(keep_interim=True).status, 100)
            c.send(chunked(["abc", "def"]))
            self.assertEqual(c.read_response().body, b"abcdef")

    def test_expect_100_with_body_already_sent(self):
        # The body arrived with the head: a 100 is allowed but not needed.
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                   b"Expect: 100-continue\r\n\r\nabc")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"abc"))
            self.assertTrue(all(i.status == 100 for i in r.interim))
            r = c.request("GET", "/a.txt")
            self.assertEqual(r.body, b"AAAA\n")

    def test_expect_100_on_static_get(self):
        # No body expected for a GET to a static file: the final response comes directly
        # (a 100 first is tolerated).
        with self.srv.conn() as c:
            r = c.request("GET", "/a.txt", {"Expect": "100-continue"})
            self.assertIn(r.status, (200, 417))

    def test_unread_body_is_not_a_request(self):
        # An extension that never reads a large body: the rest must be discarded or the connection
        # closed; it must never be parsed as a request (smuggling).
        inner = b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n"
        body = b"p" * 100000 + inner * 10
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll?noread HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
            c.send(body)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            if "close" in r.connection_tokens():
                self.assert_closed(c)
                return
            try:
                c.send(build_request("GET", "/a.txt"))
                r2 = c.read_response()
            except (AssertionError, OSError):
                return  # closed after the response: acceptable
            self.assertEqual(r2.body, b"AAAA\n", "a request inside the body was executed")

    # ---- strict framing -----------------------------------------------------------------
    def test_cl_and_te(self):
        self.assert_error_and_close(
            b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n", (400,), "CL+TE")

    def test_differing_content_lengths(self):
        self.assert_error_and_close(
            b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            (400,), "two CL")
        self.assert_error_and_close(
            b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", (400,), "CL list")

    def test_bad_content_length(self):
        for v in (b"-1", b"1x", b"abc", b"+5", b"99999999999999999999999999"):
            with self.subTest(cl=v):
                self.assert_error_and_close(
                    b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: " + v + b"\r\n\r\nhello",
                    (400, 413), "CL %r" % v)

    def test_bad_chunk_size(self):
        for bad in (b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                    b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"):
            with self.subTest(body=bad):
                self.assert_error_and_close(
                    b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + bad,
                    (400, 413), "chunk %r" % bad)

    def test_http10_with_transfer_encoding(self):
        # RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing: 400, close.
        for target, method in (("/a.txt", "GET"), ("/scripts/echo.dll", "POST")):
            for te in (b"chunked", b"gzip"):
                with self.subTest(target=target, te=te):
                    r = self.assert_error_and_close(
                        b"%s %s HTTP/1.0\r\nTransfer-Encoding: %s\r\nConnection: keep-alive\r\n\r\n"
                        % (method.encode(), target.encode(), te) + b"3\r\nabc\r\n0\r\n\r\n", (400,), te)
                    self.assertIn("close", r.connection_tokens())

    def test_static_request_with_bad_chunked_body(self):
        # The body of a request the server answers itself (a static file, a 404) is judged before
        # the response: bad chunk framing is a 400 and a close, not a 200 and then a silent close.
        for method in ("GET", "HEAD"):
            for target in ("/a.txt", "/missing.txt"):
                for bad in (b"zz\r\nhello\r\n0\r\n\r\n", b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
                            b"5\r\nhelloXX0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n"):
                    with self.subTest(method=method, target=target, body=bad):
                        with self.srv.conn() as c:
                            c.send(("%s %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    % (method, target)).encode() + bad)
                            r = c.read_response(method=method)
                            self.assertEqual(r.status, 400, r)
                            self.assertIn("close", r.connection_tokens())
                            self.assert_closed(c)

    def test_static_request_with_chunked_body(self):
        # A sound chunked body is read and dropped, then the file is served, and the connection
        # carries the next request; also when the body comes in pieces.
        body = chunked(["hello", "x" * 3000, "!"], extensions=[";a=1", "", ""], trailers=["X-T: 1"])
        with self.srv.conn() as c:
            head = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            c.send(head + body)
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
            self.assertNotIn("close", r.connection_tokens())
            c.send(head)
            for i in range(0, len(body), 700):
                c.send(body[i:i + 700])
            self.assertEqual(c.read_response().body, b"AAAA\n")
            c.send(b"POST /b.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            self.assertEqual(c.read_response().status, 405)
            self.assertEqual(c.request("GET", "/c.txt").body, b"CC\n")

    def test_unknown_transfer_encoding(self):
        self.assert_error_and_close(
            b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", (501,), "TE gzip")

    def test_transfer_encoding_chunked_not_last(self):
        # RFC 9112 6.3: chunked not the final coding in a request → 400 (501 accepted).
        for te in (b"chunked, gzip", b"gzip, chunked", b"chunked, chunked", b"identity"):
            with self.subTest(te=te):
                self.assert_error_and_close(
                    b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                    b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n", (400, 501), "TE %r" % te)

    def test_missing_host(self):
        self.assert_error_and_close(b"GET /a.txt HTTP/1.1\r\n\r\n", (400,), "no Host")

    def test_duplicate_host(self):
        # RFC 9112 3.2: more than one Host header → 400.
        self.assert_error_and_close(b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", (400,), "two Host")

    def test_http10_without_host_ok(self):
        with self.srv.conn() as c:
            c.send(b"GET /a.txt HTTP/1.0\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)

    def test_malformed_request_line(self):
        cases = [
            b"GET /a.txt\r\nHost: x\r\n\r\n",       # no version: malformed, not a version we refuse
            b"GET /a.txt\r\n\r\n",
            b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",   # asterisk-form is for OPTIONS only
            b"GET\r\n\r\n",
            b"GET /a.txt HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            b"GET /a.txt HTTPS/1.1\r\nHost: x\r\n\r\n",
            b"\x01\x02\x03 / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a\x00.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /a .txt HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for data in cases:
            with self.subTest(data=data):
                self.assert_error_and_close(data, (400,), repr(data))

    def test_bad_http_version(self):
        # HTTP/2.0, 3.0 or 0.9 on an HTTP/1 connection: 505.
        for v in (b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"):
            with self.subTest(v=v):
                self.assert_error_and_close(b"GET /a.txt " + v + b"\r\nHost: x\r\n\r\n", (505,), repr(v))

    def test_higher_minor_version_served_as_1_1(self):
        # RFC 9110 2.5: a request of a higher minor version is answered as HTTP/1.1, with 1.1's
        # rules (persistent, Host required).
        for v in (b"HTTP/1.2", b"HTTP/1.9"):
            with self.subTest(v=v):
                with self.srv.conn() as c:
                    c.send(b"GET /a.txt " + v + b"\r\nHost: x\r\n\r\n")
                    r = c.read_response()
                    self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 200, b"AAAA\n"))
                    self.assertNotIn("close", r.connection_tokens())
                    r = c.request("GET", "/scripts/echo.dll?x", version=v.decode())
                    self.assertEqual((r.version, r.status), ("HTTP/1.1", 200))
                    self.assertEqual(c.request("GET", "/b.txt").body, b"BBBBBBBB\n")
                self.assert_error_and_close(b"GET /a.txt " + v + b"\r\n\r\n", (400,), "no Host")

    # ---- methods ------------------------------------------------------------------------
    def test_unknown_method_not_implemented(self):
        # RFC 9110 9.1: a method the server does not know or implement is 501 (the parser knows
        # no FOOBAR; methods are case-sensitive; CONNECT is for proxies, which this is not).
        for line in (b"FOOBAR /a.txt HTTP/1.1", b"FOOBAR /scripts/echo.dll HTTP/1.1", b"get /a.txt HTTP/1.1",
                     b"GETX /a.txt HTTP/1.1", b"CONNECT 127.0.0.1:443 HTTP/1.1", b"CONNECT /a.txt HTTP/1.1"):
            with self.subTest(line=line):
                r = self.assert_error_and_close(line + b"\r\nHost: x\r\n\r\n", (501,), repr(line))
                self.assertEqual(r.version, "HTTP/1.1")
        # Not a method at all: 400.
        for line in (b"G(T /a.txt HTTP/1.1", b" GET /a.txt HTTP/1.1"):
            with self.subTest(line=line):
                self.assert_error_and_close(line + b"\r\nHost: x\r\n\r\n", (400,), repr(line))

    def test_options_asterisk(self):
        # OPTIONS * asks about the server itself: 200 with the methods it serves (docs/design.md, "Faults").
        with self.srv.conn() as c:
            r = c.request("OPTIONS", "*")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.get("Allow"), "OPTIONS, GET, HEAD, POST, PUT, DELETE")
            self.assertEqual((r.get("Content-Length"), r.body), ("0", b""))
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
            # with a chunked body, read before the answer
            c.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(["abc"]))
            self.assertEqual(c.read_response().status, 200)
            self.assertEqual(c.request("GET", "/b.txt").body, b"BBBBBBBB\n")

    def test_malformed_headers(self):
        cases = [
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
            b"GET /a.txt HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
            b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Ctl: a\x00b\r\n\r\n",
        ]
        for data in cases:
            with self.subTest(data=data):
                self.assert_error_and_close(data, (400,), repr(data))

    def test_obs_fold_rejected(self):
        # RFC 9112 5.2: a server must reject obs-fold with 400 (or replace it by spaces); this one
        # rejects it (a front end that does not fold would read the head differently), and closes.
        for fold in (b"X-Folded: a\r\n b\r\n", b"X-Folded: a\r\n\tb\r\n", b"Content-Length:\r\n 0\r\n"):
            with self.subTest(fold=fold):
                r = self.assert_error_and_close(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n" + fold + b"\r\n", (400,), repr(fold))
                self.assertEqual(r.version, "HTTP/1.1")

    def test_leading_empty_lines_tolerated(self):
        # RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line;
        # this one ignores any number, also between pipelined requests.
        with self.srv.conn() as c:
            c.send(b"\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
            c.send(b"\r\n\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().body, b"BBBBBBBB\n")
            self.assertEqual(c.read_response().body, b"CC\n")

    def test_bare_cr_or_lf_before_request_line(self):
        # Only empty lines (CRLF) may come before a request line: a bare CR or LF there is not
        # one, and another parser may frame it differently. 400 and close.
        for lead in (b"\r", b"\n", b"\r\r\n", b"\r\n\r", b"\r\n\n", b"\n\r\n"):
            with self.subTest(lead=lead):
                self.assert_error_and_close(lead + b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", (400,), repr(lead))
        self.assert_error_and_close(b"\rFOOBAR /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", (400,), "CR, unknown method")
        # behind a response, on a persistent connection
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt") + b"\rGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().body, b"AAAA\n")
            self.assertEqual(c.read_response().status, 400)
            self.assert_closed(c)

    def test_server_survives_garbage(self):
        for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,  # a TLS ClientHello
                     b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\xff" * 5000):
            with self.srv.conn() as c:
                try:
                    c.send(junk)
                    c.wait_closed(3.0)
                except OSError:
                    pass
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").status, 200)

    def test_client_half_close_after_request(self):
        # The client sends its request and shuts down its write side: the response still arrives.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/a.txt"))
            c.shutdown_write()
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"AAAA\n"))


if __name__ == "__main__":
    main()
