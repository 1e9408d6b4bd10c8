"""Hostile requests: oversize everything, NUL bytes and control characters in every part of the
request line and the fields, path tricks (.., encoded slashes and backslashes, overlong UTF-8,
NUL, double encoding) against the static root, a script directory and an extension's path
info. Each gets an exact status (or a close), nothing outside the root is ever served, the
server's memory stays bounded, and a normal client is served after each batch.

Known server bugs found here are marked @known_bug (see test_hostile_smuggling.py): reported
as skipped with the bug's description while it is there; failing once it is fixed."""

import functools
import os
import random
import unittest

from harness import Server, fixture, main, sanitizer_of_binary, write_file

SECRET = b"TOPSECRET-OUTSIDE-ROOT\n"
SCRIPT_SECRET = b"SCRIPT-DIR-FILE\n"
MAX_HEADER = 16384       # the defaults
MAX_URI = 8192
MAX_HEADERS = 100
# AddressSanitizer keeps freed memory in quarantine (256 MiB by default): only a gross bound there.
RSS_GROWTH_KB = 320 * 1024 if sanitizer_of_binary() else 16 * 1024


def known_bug(reason):
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


class HostileRequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n", "sub/page.html": "<p>page</p>\n", "sub/index.html": "idx\n",
                                "caf\u00e9.txt": "cafe\n", "a b.txt": "space\n", ".hidden": "H\n"},
                         scripts={"echo.so": fixture("echo"), "ssf.so": fixture("ssf")},
                         extra_files_in_scripts={"notes.txt": SCRIPT_SECRET},
                         args=["--header-timeout", "2000", "--body-timeout", "2000"])
        cls.srv.__enter__()
        # Outside the root (the root is TMP/www).
        write_file(os.path.join(cls.srv.tmp, "secret.txt"), SECRET)

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def exchange(self, data, pieces=None):
        """Send data (ignoring a send error once the server has answered); read one response.
        Returns (response, closed_after, extra_bytes)."""
        with self.srv.conn(timeout=5) as c:
            try:
                if pieces:
                    for i in range(0, len(data), pieces):
                        c.send(data[i:i + pieces])
                else:
                    c.send(data)
            except OSError:
                pass
            r = c.read_response()
            if "close" in r.connection_tokens():
                closed, extra = c.wait_closed(3)
            else:
                closed, extra = not c.is_open(0.05), b""
            return r, closed, extra

    def assert_error_close(self, data, status, what, pieces=None):
        r, closed, extra = self.exchange(data, pieces)
        self.assertEqual(r.status, status, "%s: %r" % (what, r))
        self.assertIn("close", r.connection_tokens(), what)
        self.assertTrue(closed, "%s: not closed" % what)
        self.assertEqual(extra, b"", what)

    def assert_server_fine(self):
        with self.srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
            self.assertEqual(c.request("POST", "/scripts/echo.dll", body=b"ok").body, b"ok")

    # ---- oversize everything ------------------------------------------------------------------
    def test_oversize(self):
        rss0 = self.srv.rss_kb()
        G = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
        cases = [
            ("request line of 1 MiB, no CRLF", b"GET /" + b"a" * (1 << 20), 414),
            ("query of 9000 bytes", b"GET /a.txt?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            # RFC 9112 3: a method longer than any the server implements is a 501.
            ("method of 100 KB", b"A" * 100000 + b" /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 501),
            ("version of 100 KB", b"GET /a.txt HTTP/1.1" + b"1" * 100000 + b"\r\nHost: x\r\n\r\n", 400),
            ("field name of 100 KB", G + b"X" * 100000 + b": v\r\n\r\n", 431),
            ("field value of 1 MiB", G + b"X: " + b"v" * (1 << 20) + b"\r\n\r\n", 431),
            ("Host of 20 KB", b"GET /a.txt HTTP/1.1\r\nHost: " + b"h" * 20000 + b"\r\n\r\n", 431),
            ("10000 fields", G + b"a: b\r\n" * 10000 + b"\r\n", 431),
            ("%d fields, small" % (MAX_HEADERS + 1),
             G + b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS)) + b"\r\n", 431),
            ("1 MiB of empty lines", b"\r\n" * (1 << 19), 414),
            ("1 MiB of empty lines, then a request", b"\r\n" * (1 << 19) + G + b"\r\n", 414),
            ("1 MiB of spaces", b" " * (1 << 20), 400),
            # Seeded: fresh random bytes start now and then with a token and a space, an
            # unknown method, which is a 501 (test_http's test_unknown_method_not_implemented), not this case's 400.
            ("8 MiB of random bytes", random.Random(1105).randbytes(8 << 20), 400),
            ("trailer of 1 MiB", b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3\r\nabc\r\n0\r\nT: " + b"t" * (1 << 20) + b"\r\n\r\n", 400),
            ("100000 trailer fields", b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3\r\nabc\r\n0\r\n" + b"T: t\r\n" * 100000 + b"\r\n", 400),
            ("chunk extension of 100 KB", b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3;" + b"e" * 100000 + b"\r\nabc\r\n0\r\n\r\n", 400),
        ]
        for what, data, status in cases:
            with self.subTest(case=what):
                self.assert_error_close(data, status, what)
        # Just under the limits: served.
        with self.subTest(case="%d fields" % MAX_HEADERS):
            r, _, _ = self.exchange(G + b"".join(b"X-%d: 1\r\n" % i for i in range(MAX_HEADERS - 1)) + b"\r\n")
            self.assertEqual(r.status, 200)
        with self.subTest(case="one field of 15 KB"):
            r, _, _ = self.exchange(G + b"Cookie: " + b"c" * (15 * 1024) + b"\r\n\r\n")
            self.assertEqual(r.status, 200)
        with self.subTest(case="100000 chunks of 1 byte"):
            body = b"1\r\nz\r\n" * 100000 + b"0\r\n\r\n"
            r, _, _ = self.exchange(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    + body)
            self.assertEqual((r.status, r.body), (200, b"z" * 100000))
        rss1 = self.srv.rss_kb()
        self.assertLess(rss1 - rss0, RSS_GROWTH_KB, "RSS grew %d KiB" % (rss1 - rss0))
        self.assert_server_fine()

    def test_oversize_trickled(self):
        # The same limits when the bytes come in small pieces.
        G = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n"
        self.assert_error_close(G + b"X: " + b"v" * (MAX_HEADER + 100) + b"\r\n\r\n", 431, "trickled value",
                                pieces=997)
        self.assert_error_close(b"GET /" + b"a" * (MAX_URI + 100) + b" HTTP/1.1\r\n\r\n", 414, "trickled target",
                                pieces=101)
        self.assert_server_fine()

    # ---- NUL bytes and control characters ------------------------------------------------------
    POSITIONS = {
        "method": lambda ch: b"GE" + ch + b"T /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "path": lambda ch: b"GET /a" + ch + b".txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "query": lambda ch: b"GET /a.txt?x" + ch + b"y HTTP/1.1\r\nHost: x\r\n\r\n",
        "extension path info": lambda ch: b"GET /scripts/echo.dll/p" + ch + b"q HTTP/1.1\r\nHost: x\r\n\r\n",
        "version": lambda ch: b"GET /a.txt HTTP/1" + ch + b".1\r\nHost: x\r\n\r\n",
        "field name": lambda ch: b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A" + ch + b"B: v\r\n\r\n",
        "field value": lambda ch: b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: v" + ch + b"w\r\n\r\n",
        "field value start": lambda ch: b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: " + ch + b"w\r\n\r\n",
        "field value end": lambda ch: b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: w" + ch + b"\r\n\r\n",
        "Host value": lambda ch: b"GET /a.txt HTTP/1.1\r\nHost: x" + ch + b"y\r\n\r\n",
    }
    CONTROLS = list(range(0x00, 0x20)) + [0x7f]
    # What is not a 400: HTAB inside field values is allowed (RFC 9110 5.5).
    ALLOWED = {("field value", 0x09): 200, ("field value start", 0x09): 200, ("field value end", 0x09): 200}
    # Found by these tests and fixed since (llhttp strict mode): HTAB/FF in the target, bare CR
    # at a value's start. They are 400s like the rest; kept apart for the tests below.
    KNOWN = {("path", 0x09): 403, ("path", 0x0c): 403, ("query", 0x09): 200, ("query", 0x0c): 200,
             ("extension path info", 0x09): 403, ("extension path info", 0x0c): 403,
             ("field value start", 0x0d): 200}

    def test_control_characters(self):
        fails = []
        for pos, make in self.POSITIONS.items():
            for ch in self.CONTROLS:
                want = self.ALLOWED.get((pos, ch), 400)
                r, closed, extra = self.exchange(make(bytes([ch])))
                got = (r.status, closed, extra)
                expect = (want, want == 400, b"")
                if got != expect:
                    fails.append("%s 0x%02x: got %r, want %r" % (pos, ch, got, expect))
        self.assertEqual(fails, [])
        self.assert_server_fine()

    def test_whitespace_in_target_is_400(self):
        fails = []
        for (pos, ch) in self.KNOWN:
            if pos in ("path", "query", "extension path info"):
                r, closed, _ = self.exchange(self.POSITIONS[pos](bytes([ch])))
                if (r.status, closed) != (400, True):
                    fails.append("%s 0x%02x → %d" % (pos, ch, r.status))
        self.assertEqual(fails, [], "; ".join(fails))

    def test_bare_cr_at_value_start_is_400(self):
        r, closed, _ = self.exchange(self.POSITIONS["field value start"](b"\r"))
        self.assertEqual((r.status, closed), (400, True))

    # ---- path tricks ------------------------------------------------------------------------------
    # target: exact status. 403: above the root, encoded '/' or '\', NUL, dot files;
    # 400: malformed percent-encoding, overlong or invalid UTF-8; 404: names that do not exist.
    PATHS = {
        "/../secret.txt": 403, "/..": 403, "/../": 403, "/%2e%2e/secret.txt": 403, "/%2E%2E/secret.txt": 403,
        "/.%2e/secret.txt": 403, "/sub/../../secret.txt": 403, "/sub/..%2f..%2fsecret.txt": 403,
        "/sub%2f..%2f..%2fsecret.txt": 403, "/..%2fsecret.txt": 403, "/..;/secret.txt": 403,
        "/sub/..": 403, "/sub/%2e%2e": 403, "http://x/../secret.txt": 403, "http://x/%2e%2e/secret.txt": 403,
        # encoded slashes and backslashes
        "/sub%2fpage.html": 403, "/sub%2Fpage.html": 403, "/sub/page.html%2f": 403,
        "/..%5csecret.txt": 403, "/sub\\..\\..\\secret.txt": 403, "/%5c..%5csecret.txt": 403,
        # overlong and invalid UTF-8 (%c0%ae is an overlong '.', %c0%af an overlong '/')
        "/%c0%ae%c0%ae/secret.txt": 400, "/%c0%af": 400, "/sub%c0%af..%c0%af..%c0%afsecret.txt": 400,
        "/%e0%80%ae%e0%80%ae/secret.txt": 400, "/%c1%9c": 400, "/%f0%80%80%af": 400,
        "/%ed%a0%80": 400, "/%f4%90%80%80": 400, "/caf%e9.txt": 400,
        # NUL
        "/a.txt%00": 403, "/a.txt%00.html": 403, "/%00": 403,
        # malformed escapes
        "/%": 400, "/%2": 400, "/%zz": 400, "/%%32%65": 400, "*": 400,
        # double encoding is not decoded twice
        "/%252e%252e/secret.txt": 404,
        # dot files
        "/.hidden": 403, "/%2ehidden": 403,
        # Windows-isms mean nothing here
        "/a.txt::$DATA": 404, "/a.txt.": 404, "/a.txt%20": 404, "/A.TXT": 404, "/a.txt;.html": 404,
        "/a.txt/": 404,
        # benign forms that do resolve inside the root
        "/sub/./page.html": 200, "/sub//page.html": 200, "//a.txt": 200, "/./a.txt": 200, "/sub/../a.txt": 200,
        "/%2e/a.txt": 200, "/caf%c3%a9.txt": 200, "/a%20b.txt": 200, "/a.txt?x=../../secret.txt": 200,
        # the script directory: never a file from it, never above the root
        "/scripts/../secret.txt": 404, "/scripts/..%2f..%2fsecret.txt": 403,
        "/scripts/%2e%2e/%2e%2e/secret.txt": 403, "/scripts/notes.txt": 404, "/scripts/echo.dll%00.txt": 403,
        "/scripts%2fecho.dll": 403, "/scripts/echo.dll/..%2f..%2fsecret.txt": 403,
        "/scripts/echo.dll%2f..%2f..%2fsecret.txt": 403, "/scripts/echo.dll/../../secret.txt": 404,
        "/scripts/ssf.dll/../../../secret.txt": 403, "/scripts/ssf.dll/%c0%ae%c0%ae/x": 400,
    }

    def test_path_tricks(self):
        fails = []
        for target, want in self.PATHS.items():
            with self.srv.conn(timeout=5) as c:
                c.send(b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                r = c.read_response()
            if r.status != want:
                fails.append("%s: %d, want %d" % (target, r.status, want))
            self.assertNotIn(SECRET, r.body, target)
            self.assertNotIn(SCRIPT_SECRET, r.body, target)
            self.assertNotIn(b"root:", r.body, target)
        self.assertEqual(fails, [])
        self.assert_server_fine()

    def test_path_tricks_through_the_extension_interface(self):
        # HSE_REQ_MAP_URL_TO_PATH refuses a URL above the root (ERROR_INVALID_PARAMETER), encoded
        # or not; PATH_TRANSLATED of a normalised path info stays inside the root.
        for url in ("/../../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt"):
            with self.subTest(url=url):
                r = self.srv.get("/scripts/ssf.dll?op=map&url=" + url.replace("%", "%25"))
                self.assertEqual(r.status, 200)
                self.assertEqual(r.kv().get("ok"), "0", r.body)
                self.assertEqual(r.kv().get("error"), "87", r.body)
        r = self.srv.get("/scripts/ssf.dll/sub/../x.txt?op=var&name=PATH_TRANSLATED")
        self.assertEqual(r.status, 200)
        value = r.kv().get("value", "")
        self.assertTrue(value.startswith(self.srv.root), value)
        self.assertNotIn("..", value)


if __name__ == "__main__":
    main()
