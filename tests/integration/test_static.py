"""Static files: types, lengths, HEAD, validators, ranges, directories, traversal, dotfiles."""

import email.utils
import os
import re
import unittest

from harness import Server, main

MTIME = 1577836800  # 2020-01-01T00:00:00Z
DIGITS = b"0123456789" * 10          # range.txt, 100 bytes
BIG = os.urandom(3 * 1024 * 1024 + 17)
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"

FILES = {
    "index.html": "<html><body>root index</body></html>\n",
    "hello.txt": "hello world\n",
    "range.txt": DIGITS,
    "style.css": "body { color: red }\n",
    "image.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    "script.js": "var x = 1;\n",
    "data.unknownext": b"\x00\x01\x02",
    "noext": b"no extension",
    "big.bin": BIG,
    "with space.txt": "space\n",
    "caf\u00e9.txt": "accent\n",
    "sub/index.html": "<p>sub index</p>\n",
    "sub/page.html": "<p>sub page</p>\n",
    "noindex/file.txt": "listed?\n",
    ".hidden": "hidden file\n",
    ".git/config": "[core]\n",
    "sub/.secret": "secret\n",
    "empty.txt": b"",
}


class StaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES)
        cls.srv.__enter__()
        root = cls.srv.root
        os.utime(os.path.join(root, "range.txt"), (MTIME, MTIME))
        outside = os.path.join(cls.srv.tmp, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret.txt"), "wb") as f:
            f.write(SECRET)
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "escape.txt"))
        os.symlink(outside, os.path.join(root, "escdir"))
        os.symlink("/etc/passwd", os.path.join(root, "passwd.txt"))
        os.symlink("hello.txt", os.path.join(root, "inside-link.txt"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def get(self, path, headers=None):
        return self.srv.get(path, headers)

    # ---- basics -------------------------------------------------------------------------
    def test_get_file(self):
        r = self.get("/hello.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"hello world\n")
        self.assertEqual(r.header("Content-Length"), "12")
        self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), r.header("Content-Type"))
        self.assertIsNotNone(r.header("Date"))
        self.assertTrue(re.match(r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$", r.header("Date")),
                        r.header("Date"))
        self.assertIsNotNone(r.header("Server"))

    def test_content_types(self):
        want = {
            "/index.html": ("text/html",),
            "/style.css": ("text/css",),
            "/image.png": ("image/png",),
            "/script.js": ("application/javascript", "text/javascript", "application/x-javascript"),
            "/data.unknownext": ("application/octet-stream",),
            "/noext": ("application/octet-stream", "text/plain"),
        }
        for path, types in want.items():
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200)
                ct = r.header("Content-Type", "").split(";")[0].strip()
                self.assertIn(ct, types)
                self.assertEqual(int(r.header("Content-Length")), len(r.body))

    def test_empty_file(self):
        r = self.get("/empty.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "0")
        self.assertEqual(r.body, b"")

    def test_big_file(self):
        r = self.get("/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), len(BIG))
        self.assertTrue(r.body == BIG, "big.bin content differs")

    def test_encoded_names_and_query(self):
        self.assertEqual(self.get("/with%20space.txt").body, b"space\n")
        self.assertEqual(self.get("/caf%C3%A9.txt").body, b"accent\n")
        r = self.get("/hello.txt?x=1&y=2")
        self.assertEqual((r.status, r.body), (200, b"hello world\n"))

    def test_symlink_inside_root(self):
        r = self.get("/inside-link.txt")
        self.assertEqual((r.status, r.body), (200, b"hello world\n"))

    def test_head(self):
        with self.srv.conn() as c:
            g = c.request("GET", "/hello.txt")
            h = c.request("HEAD", "/hello.txt")
            self.assertEqual(h.status, 200)
            self.assertEqual(h.body, b"")
            self.assertEqual(h.get("Content-Length"), "12")
            for name in ("Content-Type", "ETag", "Last-Modified", "Accept-Ranges"):
                self.assertEqual(h.get(name), g.get(name), name)
            # No body bytes may follow the HEAD response: the next response must parse cleanly.
            n = c.request("GET", "/range.txt")
            self.assertEqual((n.status, n.body), (200, DIGITS))

    # ---- validators ---------------------------------------------------------------------
    def test_etag_if_none_match(self):
        r = self.get("/range.txt")
        etag = r.header("ETag")
        self.assertTrue(etag and etag.endswith('"'), etag)
        with self.srv.conn() as c:
            n = c.request("GET", "/range.txt", {"If-None-Match": etag})
            self.assertEqual(n.status, 304)
            self.assertEqual(n.body, b"")
            self.assertEqual(n.get("ETag"), etag)
            # weak comparison, lists, and '*'
            for v in ("W/" + etag, '"nope", ' + etag, "*"):
                n = c.request("GET", "/range.txt", {"If-None-Match": v})
                self.assertEqual(n.status, 304, v)
            n = c.request("GET", "/range.txt", {"If-None-Match": '"nope"'})
            self.assertEqual((n.status, n.body), (200, DIGITS))

    def test_last_modified_if_modified_since(self):
        r = self.get("/range.txt")
        lm = r.header("Last-Modified")
        self.assertEqual(lm, email.utils.formatdate(MTIME, usegmt=True))
        self.assertEqual(self.get("/range.txt", {"If-Modified-Since": lm}).status, 304)
        later = email.utils.formatdate(MTIME + 3600, usegmt=True)
        self.assertEqual(self.get("/range.txt", {"If-Modified-Since": later}).status, 304)
        earlier = email.utils.formatdate(MTIME - 3600, usegmt=True)
        self.assertEqual(self.get("/range.txt", {"If-Modified-Since": earlier}).status, 200)
        # If-None-Match takes precedence over If-Modified-Since (RFC 9110 13.1.3)
        r = self.get("/range.txt", {"If-None-Match": '"nope"', "If-Modified-Since": lm})
        self.assertEqual(r.status, 200)
        # a malformed date is ignored
        self.assertEqual(self.get("/range.txt", {"If-Modified-Since": "yesterday"}).status, 200)

    # ---- ranges -------------------------------------------------------------------------
    def check_range(self, spec, start, end):
        r = self.get("/range.txt", {"Range": spec})
        self.assertEqual(r.status, 206, spec)
        self.assertEqual(r.header("Content-Range"), "bytes %d-%d/100" % (start, end), spec)
        self.assertEqual(r.body, DIGITS[start:end + 1], spec)
        self.assertEqual(int(r.header("Content-Length")), end - start + 1, spec)

    def test_ranges(self):
        self.check_range("bytes=0-9", 0, 9)
        self.check_range("bytes=-5", 95, 99)
        self.check_range("bytes=10-", 10, 99)
        self.check_range("bytes=90-200", 90, 99)
        self.check_range("bytes=99-99", 99, 99)
        self.check_range("bytes=-500", 0, 99)

    def test_range_big_file(self):
        r = self.get("/big.bin", {"Range": "bytes=1000000-1000999"})
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, BIG[1000000:1001000])

    def test_range_unsatisfiable(self):
        for spec in ("bytes=100-", "bytes=500-600", "bytes=-0"):
            with self.subTest(spec=spec):
                r = self.get("/range.txt", {"Range": spec})
                self.assertEqual(r.status, 416)
                self.assertEqual(r.header("Content-Range"), "bytes */100")

    def test_range_ignored(self):
        # Malformed or non-bytes ranges are ignored: the whole file with 200.
        for spec in ("bytes=abc", "items=0-5", "bytes=5-2"):
            with self.subTest(spec=spec):
                r = self.get("/range.txt", {"Range": spec})
                self.assertIn(r.status, (200, 416), spec)
                if r.status == 200:
                    self.assertEqual(r.body, DIGITS)

    def test_multiple_ranges(self):
        # Several ranges: the server may answer 200 (whole file) or 206 multipart/byteranges.
        r = self.get("/range.txt", {"Range": "bytes=0-1,5-6"})
        self.assertIn(r.status, (200, 206))
        if r.status == 200:
            self.assertEqual(r.body, DIGITS)
        else:
            self.assertIn("multipart/byteranges", r.header("Content-Type", ""))

    def test_if_range(self):
        r = self.get("/range.txt")
        etag, lm = r.header("ETag"), r.header("Last-Modified")
        r = self.get("/range.txt", {"Range": "bytes=0-9", "If-Range": etag})
        self.assertEqual((r.status, r.body), (206, DIGITS[:10]))
        r = self.get("/range.txt", {"Range": "bytes=0-9", "If-Range": lm})
        self.assertEqual((r.status, r.body), (206, DIGITS[:10]))
        r = self.get("/range.txt", {"Range": "bytes=0-9", "If-Range": '"other"'})
        self.assertEqual((r.status, r.body), (200, DIGITS))

    # ---- directories --------------------------------------------------------------------
    def test_root_index(self):
        r = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn(b"root index", r.body)
        self.assertTrue(r.header("Content-Type", "").startswith("text/html"))

    def test_directory_index(self):
        r = self.get("/sub/")
        self.assertEqual((r.status, r.body), (200, b"<p>sub index</p>\n"))

    def test_directory_redirect(self):
        r = self.get("/sub")
        self.assertEqual(r.status, 301)
        self.assertTrue(r.header("Location", "").endswith("/sub/"), r.header("Location"))
        r = self.get("/sub?x=1")
        self.assertEqual(r.status, 301)
        self.assertTrue(r.header("Location", "").endswith("/sub/?x=1"), r.header("Location"))

    def test_directory_without_index(self):
        r = self.get("/noindex/")
        self.assertEqual(r.status, 403)
        self.assertNotIn(b"file.txt", r.body)

    # ---- errors -------------------------------------------------------------------------
    def test_missing(self):
        for path in ("/nope.txt", "/nope/deeper.txt", "/sub/nope.html"):
            with self.subTest(path=path):
                self.assertEqual(self.get(path).status, 404)
        # a file used as a directory (ENOTDIR)
        self.assertIn(self.get("/hello.txt/extra").status, (403, 404))

    def test_error_keeps_connection(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/nope.txt")
            self.assertEqual(r.status, 404)
            self.assertIsNotNone(r.get("Content-Length") or r.get("Transfer-Encoding"))
            r = c.request("GET", "/hello.txt")
            self.assertEqual((r.status, r.body), (200, b"hello world\n"))

    def test_dotfiles_forbidden(self):
        for path in ("/.hidden", "/.git/config", "/.git/", "/sub/.secret", "/%2ehidden", "/sub/%2Esecret"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 403)
                self.assertNotIn(b"hidden file", r.body)
                self.assertNotIn(b"[core]", r.body)
                self.assertNotIn(b"secret\n", r.body)

    def test_method_not_allowed(self):
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                r = self.srv.request(method, "/hello.txt", body=b"x=1")
                self.assertEqual(r.status, 405)
                allow = r.header("Allow", "")
                self.assertIn("GET", allow)
                self.assertIn("HEAD", allow)

    def test_post_body_is_not_a_request(self):
        # The body of a refused POST must be consumed (or the connection closed), never parsed as
        # the next request.
        smuggled = b"GET /sub/page.html HTTP/1.1\r\nHost: x\r\n\r\n"
        with self.srv.conn() as c:
            c.send(b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled)
            r = c.read_response()
            self.assertEqual(r.status, 405)
            if "close" in r.connection_tokens():
                return
            c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                r = c.read_response()
            except AssertionError:
                return  # closed: acceptable
            self.assertEqual((r.status, r.body), (200, b"hello world\n"))

    # ---- traversal ----------------------------------------------------------------------
    def assert_refused(self, target):
        with self.srv.conn() as c:
            c.send(b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r = c.read_response()
            self.assertIn(r.status, (400, 403, 404), target)
            self.assertNotIn(b"root:", r.body, target)
            self.assertNotIn(SECRET, r.body, target)

    def test_traversal(self):
        targets = [
            "/../etc/passwd",
            "/../../../../../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/a/..%2f..%2fetc/passwd",
            "/..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/sub/../../../../etc/passwd",
            "/./../etc/passwd",
            "/..",
            "/../outside/secret.txt",
            "/%2e%2e/outside/secret.txt",
            "/sub/%2e%2e/%2e%2e/outside/secret.txt",
            "/..%5c..%5cetc%5cpasswd",
            "/%252e%252e/%252e%252e/etc/passwd",
            "/hello.txt%00.html",
            "/%00/../etc/passwd",
            "/etc/passwd",
            "//etc/passwd",
        ]
        for t in targets:
            with self.subTest(target=t):
                self.assert_refused(t)

    def test_encoded_slash(self):
        for t in ("/sub%2findex.html", "/sub%2Fpage.html"):
            with self.subTest(target=t):
                with self.srv.conn() as c:
                    r = c.request("GET", t)
                    self.assertIn(r.status, (400, 403, 404))

    def test_symlink_escape(self):
        for t in ("/escape.txt", "/escdir/secret.txt", "/passwd.txt", "/escdir/"):
            with self.subTest(target=t):
                self.assert_refused(t)


if __name__ == "__main__":
    main()
