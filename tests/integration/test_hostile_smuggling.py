"""Hostile clients: request smuggling and malformed framing (RFC 9112 sections 2.2, 5, 6, 7).

Every attack is sent with a second request right behind it on the same connection:

    GET /smuggled.txt HTTP/1.1            (39 bytes: some attacks use it as a body length)

and the exact outcome is asserted, for a static file (/a.txt) and for an extension that echoes
the body it was given with the framing the server claims (echo.dll):

  reject      one error response carrying `Connection: close`, then the server closes; nothing
              else is sent (the request behind the attack is never answered)
  framed      the message is accepted with unambiguous framing: its response, then the request
              behind it is answered as the next request, and a third request still works
  swallowed   the bytes of the "smuggled" request are part of the message (body or trailer
              section) as the framing says: one response, and the next request sent is answered
              as the next request
  close_after the message is processed and the connection closed after its response

Known server bugs found here have two tests: one asserting what the server does today is at least
self-consistent (no desynchronisation inside the server), and one asserting the correct
behaviour, marked @known_bug: it is reported as skipped with the bug's description while the bug
is there, and fails once it is fixed so that the marker gets removed.
"""

import functools
import unittest

from harness import Server, fixture, main

SMUG = b"GET /smuggled.txt HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLED = b"SMUGGLED-RESPONSE\n"
assert len(SMUG) == 39
ECHO = "/scripts/echo.dll"
STATIC = "/a.txt"
MAX_BODY = 1048576
BODY_MS = 1000


def known_bug(reason):
    """The test asserts the correct behaviour; while the server has the bug it is skipped with
    the reason (and today's failure); once it passes it fails, asking for the marker to go."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *a, **kw):
            try:
                fn(self, *a, **kw)
            except AssertionError as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
                raise unittest.SkipTest("KNOWN BUG: %s [today: %s]" % (reason, first[:300]))
            self.fail("the known bug seems fixed (%s): remove @known_bug" % reason)
        return wrapper
    return deco


def req(head, tail=b""):
    """A request: head lines (the method line uses {T} for the target), then tail bytes, then
    the smuggled request."""
    return head + tail + SMUG


H = b"POST {T} HTTP/1.1\r\nHost: x\r\n"
CHUNKED = H + b"Transfer-Encoding: chunked\r\n\r\n"

# name: (bytes, expectation for the echo extension, expectation for the static file)
# An expectation is (kind, status[, body]); body only for framed/swallowed/close_after on echo;
# a tuple of statuses where today's answer and the one after a known bug's fix differ.
REJ400 = ("reject", 400)
CASES = {
    # ---- Content-Length and Transfer-Encoding together, or twice -------------------------
    "cl_then_te": (req(H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n"),
                   REJ400, REJ400),
    "te_then_cl": (req(H + b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n", b"0\r\n\r\n"),
                   REJ400, REJ400),
    "two_cl_differing": (req(H + b"Content-Length: 0\r\nContent-Length: 39\r\n\r\n"), REJ400, REJ400),
    # RFC 9110 8.6 allows accepting identical duplicates; refusing them is the strict choice.
    "two_cl_identical": (req(H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_list_identical": (req(H + b"Content-Length: 3, 3\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_list_differing": (req(H + b"Content-Length: 3, 42\r\n\r\n", b"abc"), REJ400, REJ400),
    "te_and_cl_http10": (req(b"POST {T} HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
                             b"Connection: keep-alive\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    # ---- Content-Length values ---------------------------------------------------------------
    "cl_plus": (req(H + b"Content-Length: +3\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_hex": (req(H + b"Content-Length: 0x3\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_empty": (req(H + b"Content-Length: \r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_space_inside": (req(H + b"Content-Length: 1 0\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_nul": (req(H + b"Content-Length: 3\x00\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_overflow_2p64_plus_3": (req(H + b"Content-Length: 18446744073709551619\r\n\r\n", b"abc"), REJ400, REJ400),
    "cl_2p64_minus_1_over_max_body": (req(H + b"Content-Length: 18446744073709551615\r\n\r\n", b"abc"),
                                      ("reject", 413), ("reject", 413)),
    "cl_over_max_body": (req(H + b"Content-Length: %d\r\n\r\n" % (2 * MAX_BODY)), ("reject", 413), ("reject", 413)),
    "cl_leading_zeros": (req(H + b"Content-Length: 0003\r\n\r\n", b"abc"), ("framed", 200, b"abc"), ("framed", 405)),
    # ---- obs-fold (RFC 9112 5.2: reject with 400, or replace by SP) -------------------------------
    "fold_other_header": (req(H + b"X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "fold_other_header_tab": (req(H + b"X-Folded: a\r\n\tb\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "fold_cl": (req(H + b"Content-Length: 0\r\n 39\r\n\r\n"), REJ400, REJ400),
    "fold_te_after_identity": (req(H + b"Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 39\r\n\r\n",
                                   b"0\r\n\r\n"), REJ400, REJ400),
    "fold_te_plus_cl": (req(H + b"Content-Length: 39\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", b"0\r\n\r\n"),
                        REJ400, REJ400),
    "fold_in_trailer": (req(CHUNKED, b"3\r\nabc\r\n0\r\nX: a\r\n b\r\n\r\n"), REJ400, REJ400),
    # ---- bare LF / bare CR ---------------------------------------------------------------------
    "bare_lf_everywhere": (req(b"POST {T} HTTP/1.1\nHost: x\nContent-Length: 0\n\n"), REJ400, REJ400),
    "bare_lf_one_header": (req(H[:-2] + b"\nContent-Length: 39\r\n\r\n"), REJ400, REJ400),
    # A bare LF ending the request line is accepted (llhttp; RFC 9112 2.2 allows it), unlike one
    # ending a field line or a chunk line.
    "bare_lf_request_line": (req(b"POST {T} HTTP/1.1\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                             ("framed", 200, b""), ("framed", 405)),
    "bare_lf_chunked_body": (req(CHUNKED, b"3\nabc\n0\n\n"), REJ400, REJ400),
    "bare_lf_after_chunk_data": (req(CHUNKED, b"3\r\nabc\n0\r\n\r\n"), REJ400, REJ400),
    "bare_lf_after_chunk_ext": (req(CHUNKED, b"3;e\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "bare_cr_everywhere": (req(b"POST {T} HTTP/1.1\rHost: x\rContent-Length: 0\r\r"), REJ400, REJ400),
    "bare_cr_in_value": (req(H + b"X-A: a\rContent-Length: 39\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    # ---- whitespace around field names ----------------------------------------------------------
    "space_before_colon_cl": (req(H + b"Content-Length : 39\r\n\r\n"), REJ400, REJ400),
    "space_before_colon_te": (req(H + b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n", b"0\r\n\r\n"),
                              REJ400, REJ400),
    "tab_before_colon_te": (req(H + b"Transfer-Encoding\t: chunked\r\n\r\n", b"0\r\n\r\n"), REJ400, REJ400),
    "space_before_name": (req(H + b" Transfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n"), REJ400, REJ400),
    "vtab_in_te_value": (req(H + b"Transfer-Encoding: \x0bchunked\r\n\r\n", b"0\r\n\r\n"), REJ400, REJ400),
    # ---- Transfer-Encoding values ---------------------------------------------------------------
    "te_chunked_gzip": (req(H + b"Transfer-Encoding: chunked, gzip\r\n\r\n", b"0\r\n\r\n"), REJ400, REJ400),
    "te_gzip_chunked": (req(H + b"Transfer-Encoding: gzip, chunked\r\n\r\n", b"0\r\n\r\n"),
                        ("reject", 501), ("reject", 501)),
    "te_two_fields": (req(H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", b"0\r\n\r\n"),
                      REJ400, REJ400),
    "te_chunked_twice": (req(H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                             b"0\r\n\r\n"), REJ400, REJ400),
    "te_xchunked": (req(H + b"Transfer-Encoding: xchunked\r\nContent-Length: 39\r\n\r\n"), REJ400, REJ400),
    "te_chunkedx": (req(H + b"Transfer-Encoding: chunkedx\r\n\r\n", b"0\r\n\r\n"), ("reject", 501), ("reject", 501)),
    "te_empty_with_cl": (req(H + b"Transfer-Encoding: \r\nContent-Length: 39\r\n\r\n"),
                         ("reject", 501), ("reject", 501)),
    "te_upper_case": (req(H + b"Transfer-Encoding: CHUNKED\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
                      ("framed", 200, b"abc"), ("framed", 405)),
    # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0: process, then close.
    # RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding has faulty framing.
    "te_http10": (req(b"POST {T} HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
                  REJ400, REJ400),
    # ---- chunk sizes, extensions, data, trailers ---------------------------------------------------
    "chunk_size_20_hex_digits": (req(CHUNKED, b"ffffffffffffffffffff\r\n"), REJ400, REJ400),
    "chunk_size_2p64": (req(CHUNKED, b"10000000000000000\r\n"), REJ400, REJ400),
    "chunk_size_2p64_plus_3": (req(CHUNKED, b"10000000000000003\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_size_2p64_minus_1": (req(CHUNKED, b"ffffffffffffffff\r\n"), REJ400, REJ400),
    # 15 hex digits at most, leading zeros included (a limit of the decoder).
    "chunk_size_16_digits_leading_zeros": (req(CHUNKED, b"0000000000000003\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_size_0x": (req(CHUNKED, b"0x3\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_size_negative": (req(CHUNKED, b"-3\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_size_missing": (req(CHUNKED, b"\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    # The bytes after the data are not CRLF: "abc" then "XX" where CRLF belongs.
    "chunk_data_overrun": (req(CHUNKED, b"3\r\nabcXX0\r\n\r\n"), REJ400, REJ400),
    "chunk_ext_quoted_lf": (req(CHUNKED, b"3;a=\"x\ny\"\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_ext_100k": (req(CHUNKED, b"3;" + b"e" * 100000 + b"\r\nabc\r\n0\r\n\r\n"), REJ400, REJ400),
    "chunk_trailer_nul": (req(CHUNKED, b"3\r\nabc\r\n0\r\nX: a\x00b\r\n\r\n"), REJ400, REJ400),
    # Blanks after the size are tolerated (RFC 9112 allows BWS only before ';').
    "chunk_size_trailing_space": (req(CHUNKED, b"3 \r\nabc\r\n0\r\n\r\n"), ("framed", 200, b"abc"), ("framed", 405)),
    # A Content-Length in the trailer section changes nothing.
    "chunk_trailer_content_length": (req(CHUNKED, b"3\r\nabc\r\n0\r\nContent-Length: 39\r\n\r\n"),
                                     ("framed", 200, b"abc"), ("framed", 405)),
    # Trailer lines are skipped without being parsed as fields ("Bad Trailer" has no colon).
    "chunk_trailer_not_a_field": (req(CHUNKED, b"3\r\nabc\r\n0\r\nBad Trailer\r\n\r\n"),
                                  ("framed", 200, b"abc"), ("framed", 405)),
    # The last chunk is not followed by the empty line: the "smuggled" request is the trailer
    # section (its lines are skipped), so it is not a request.
    "chunk_last_without_empty_line": (CHUNKED + b"3\r\nabc\r\n0\r\n" + SMUG,
                                      ("swallowed", 200, b"abc"), ("swallowed", 405)),
    # A declared chunk larger than --max-body is only refused when the body timeout ends it.
    # (a chunked body of a static request is read before the response, as an extension's is)
    "chunk_size_over_max_body": (req(CHUNKED, b"200000\r\n"), ("reject", 408), ("reject", 408)),
    # ---- bodies on GET: framed and discarded, never parsed as a request -----------------------
    "get_with_length_body": (b"GET {T} HTTP/1.1\r\nHost: x\r\nContent-Length: 39\r\n\r\n" + SMUG,
                             ("swallowed", 200, SMUG), ("swallowed", 200)),
    "get_with_chunked_body": (b"GET {T} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n27\r\n" + SMUG +
                              b"\r\n0\r\n\r\n", ("swallowed", 200, SMUG), ("swallowed", 200)),
    # ---- NUL bytes and control characters in the request line and fields ----------------------------
    "nul_in_name": (req(H + b"X\x00Y: 1\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "nul_in_value": (req(H + b"X: a\x00b\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "nul_in_target": (req(b"POST {T}\x00 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "ctl_in_value": (req(H + b"X: a\x01b\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "del_in_value": (req(H + b"X: a\x7fb\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "esc_in_method": (req(b"PO\x1bST {T} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "ctl_in_target": (req(b"POST {T}\x01 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    "byte_ff_in_target": (req(b"POST {T}\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    # "/x<TAB>HTTP/1.1": today the tab is part of the target (see the known bug below), the line
    # has no version and is answered as HTTP/0.9 (505); 400 once tabs in targets are refused.
    "tab_instead_of_space_before_version": (req(b"POST {T}\tHTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                                            ("reject", (505, 400)), ("reject", (505, 400))),
    "lower_case_version": (req(b"POST {T} http/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), REJ400, REJ400),
    # Methods are case-sensitive: "post" is a method the server does not implement.
    "lower_case_method": (req(b"post {T} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                          ("reject", 501), ("reject", 501)),
    # obs-text (bytes 0x80-0xff) is allowed in field values.
    "obs_text_in_value": (req(H + b"X: caf\xc3\xa9\xff\r\nContent-Length: 0\r\n\r\n"),
                          ("framed", 200, b""), ("framed", 405)),
    # RFC 9112 3: a recipient may split the request line on runs of whitespace.
    "double_space_in_request_line": (req(b"POST  {T} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                                     ("framed", 200, b""), ("framed", 405)),
    # RFC 9112 2.2: empty lines before the request line are ignored.
    "empty_lines_before_request": (req(b"\r\n\r\n\r\nPOST {T} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                                   ("framed", 200, b""), ("framed", 405)),
}

# Cases of bugs found by these tests and fixed since (llhttp strict mode, our obs-fold check,
# HTTP/1.0 with Transfer-Encoding closing), with the correct expectation.
KNOWN_BUG_FOLD = {
    # llhttp (8.1, as packaged) drops "CRLF SP" after the colon when the first line of a value is
    # empty, so these folded fields are honoured although every other obs-fold gets a 400.
    "fold_te_empty_first_line": req(H + b"Transfer-Encoding:\r\n chunked\r\n\r\n", b"0\r\n\r\n"),
    "fold_cl_empty_first_line": req(H + b"Content-Length:\r\n 39\r\n\r\n"),
    "fold_host_empty_first_line": req(b"POST {T} HTTP/1.1\r\nHost:\r\n x\r\nContent-Length: 0\r\n\r\n"),
    "fold_other_empty_first_line": req(H + b"X-F:\r\n b\r\nContent-Length: 0\r\n\r\n"),
}
KNOWN_BUG_TARGET_WS = {
    # llhttp's non-strict mode accepts HTAB and FF inside the request target.
    "tab_in_target_path": req(b"POST {T}\tx HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
    "ff_in_target_path": req(b"POST {T}\x0cx HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
    "tab_in_target_query": req(b"POST {T}?a\tb HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
}
KNOWN_BUG_BARE_CR = {
    # llhttp's non-strict mode takes "CR + any byte" at the start of a field value for CRLF:
    # the byte after the CR is swallowed. Here it eats the "C" of Content-Length (the server sees
    # a field "ontent-Length" and no body) and answers the request behind it, which a peer that
    # ends lines at a bare CR takes for the body: a desynchronisation.
    "bare_cr_value_start_hides_cl": req(H + b"X-A:\rContent-Length: 39\r\n\r\n"),
    "bare_cr_after_space_hides_te": req(H + b"X-A: \rTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n"),
    # "\rx" is taken for a line end, the CRLF after it for the end of the head.
    "bare_cr_value_start_ends_head": req(b"POST {T} HTTP/1.1\r\nHost:\rx\r\nContent-Length: 5\r\n\r\n", b"hello"),
}
KNOWN_BUG_HTTP10_TE = req(b"POST {T} HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
                          b"3\r\nabc\r\n0\r\n\r\n")


class SmugglingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n", "smuggled.txt": SMUGGLED},
                         scripts={"echo.so": fixture("echo")},
                         args=["--header-timeout", "2000", "--body-timeout", str(BODY_MS),
                               "--keepalive-timeout", "5000", "--max-body", str(MAX_BODY)])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    # ---- one exchange -----------------------------------------------------------------------
    def check(self, name, data, target, expect):
        """Send data (with {T} replaced by target) and check the expectation. Raises
        AssertionError with the case name on a mismatch."""
        kind, status = expect[0], expect[1]
        body = expect[2] if len(expect) > 2 else None
        data = data.replace(b"{T}", target.encode())
        where = "%s on %s" % (name, target)
        with self.srv.conn(timeout=BODY_MS / 1000 + 4) as c:
            try:
                c.send(data)
            except OSError:
                pass    # the server may have answered and closed before reading everything
            r = c.read_response(method=data.split(b" ", 1)[0].decode("latin-1").strip("\r\n"))
            if isinstance(status, tuple):
                self.assertIn(r.status, status, "%s: %r" % (where, r))
            else:
                self.assertEqual(r.status, status, "%s: %r" % (where, r))
            self.assertNotIn(SMUGGLED, r.body, where)
            if body is not None:
                self.assertEqual(r.body, body, where)
            if kind in ("reject", "close_after"):
                self.assertIn("close", r.connection_tokens(), "%s: no Connection: close in %r" % (where, r))
                closed, extra = c.wait_closed(3.0)
                self.assertTrue(closed, "%s: connection left open after %d" % (where, r.status))
                self.assertEqual(extra, b"", "%s: bytes after the response (smuggled answer?)" % where)
                return
            self.assertNotIn("close", r.connection_tokens(), "%s: %r" % (where, r))
            if kind == "framed":
                r2 = c.read_response()
                self.assertEqual((r2.status, r2.body), (200, SMUGGLED),
                                 "%s: the request behind the message was not answered next" % where)
            else:
                self.assertEqual(kind, "swallowed")
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            r3 = c.read_response()
            self.assertEqual((r3.status, r3.body), (200, b"AAAA\n"),
                             "%s: the next request was not answered next (%r)" % (where, r3))

    def run_cases(self, cases, target, which):
        for name, (data, echo_expect, static_expect) in cases.items():
            expect = echo_expect if which == "echo" else static_expect
            with self.subTest(case=name):
                self.check(name, data, target, expect)

    def assert_server_fine(self):
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
            r = c.request("POST", ECHO, body=b"fine")
            self.assertEqual((r.status, r.body), (200, b"fine"))

    # ---- the matrix ---------------------------------------------------------------------------
    def test_matrix_extension(self):
        self.run_cases(CASES, ECHO, "echo")
        self.assert_server_fine()

    def test_matrix_static(self):
        self.run_cases(CASES, STATIC, "static")
        self.assert_server_fine()

    def test_smuggled_request_in_split_writes(self):
        # The same attacks sent a few bytes at a time: the outcome does not depend on where
        # the reads split the bytes.
        picked = ["cl_then_te", "two_cl_differing", "space_before_colon_te", "te_chunked_gzip",
                  "bare_lf_chunked_body", "chunk_size_2p64_plus_3", "chunk_data_overrun", "te_upper_case"]
        for name in picked:
            data, expect, _ = CASES[name]
            data = data.replace(b"{T}", ECHO.encode())
            with self.subTest(case=name), self.srv.conn(timeout=5) as c:
                try:
                    for i in range(0, len(data), 5):
                        c.send(data[i:i + 5])
                except OSError:
                    pass
                r = c.read_response()
                self.assertEqual(r.status, expect[1], "%s: %r" % (name, r))
                if expect[0] == "reject":
                    closed, extra = c.wait_closed(3.0)
                    self.assertTrue(closed, name)
                    self.assertEqual(extra, b"", name)
                else:
                    self.assertEqual(c.read_response().body, SMUGGLED, name)

    def test_content_length_body_is_echoed_as_framed(self):
        # The extension sees exactly the bytes the framing says: the 39 bytes of the smuggled
        # request are the body, the request after them is a request.
        body = SMUG
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nContent-Length: 39\r\n\r\n" + body +
                   b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body, r.get("X-Total-Bytes")), (200, SMUG, "39"))
            self.assertEqual(c.read_response().body, b"AAAA\n")

    # ---- known bugs ---------------------------------------------------------------------------
    def exchange_all(self, data, target, timeout=1.0):
        """Send data; read responses until the server closes or is quiet for `timeout`
        (bounded: at most 4 responses). Returns [(status, body)] and whether it closed."""
        out = []
        with self.srv.conn(timeout=timeout) as c:
            c.send(data.replace(b"{T}", target.encode()))
            for _ in range(4):
                try:
                    r = c.read_response()
                except (AssertionError, OSError):
                    break
                out.append((r.status, r.body))
            return out, c.eof

    def check_all(self, cases, expect):
        """check() every case on both targets; one AssertionError listing every mismatch."""
        fails = []
        for name, data in cases.items():
            for target in (ECHO, STATIC):
                try:
                    self.check(name, data, target, expect)
                except AssertionError as e:
                    fails.append(str(e).splitlines()[0].split(": <Response")[0])
        if fails:
            raise AssertionError("%d of %d: %s" % (len(fails), 2 * len(cases), "; ".join(fails)))

    def test_fold_with_empty_first_line_rejected(self):
        self.check_all(KNOWN_BUG_FOLD, REJ400)

    def test_bare_cr_at_value_start_rejected(self):
        self.check_all(KNOWN_BUG_BARE_CR, REJ400)

    def test_whitespace_in_target_rejected(self):
        self.check_all(KNOWN_BUG_TARGET_WS, REJ400)

    def test_http10_transfer_encoding_keep_alive_closes(self):
        self.check("te_http10_keep_alive", KNOWN_BUG_HTTP10_TE, ECHO, REJ400)
        self.check("te_http10_keep_alive", KNOWN_BUG_HTTP10_TE, STATIC, REJ400)


if __name__ == "__main__":
    main()
