"""Asynchronous I/O, HSE_REQ_SEND_URL (docs/isapi.md "Asynchronous I/O", the seed async-io.txt):
internal (the URL's response is this request's, with or without a completion; not found,
forbidden, a directory, symlinks, an extension's URL as a child request) and with
--send-url-redirect (a 302). Through tests/fixtures/async.c (the server and AsyncBase:
async_fixture.py).

The other operations and where completions run: test_async_io.py."""

import os
import urllib.parse

from async_fixture import BIG_SIZE, ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, PAGE, AsyncBase, new_id
from harness import RawConn, build_request, main, pattern_bytes

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

    def test_nesting_is_bounded(self):
        # A child extension may SEND_URL again, 8 deep at most (as EXEC_URL): one past that
        # answers 500, so an extension that sends a request to itself ends, never loops.
        def nested(n):  # n SEND_URLs, one in each extension; the last one's URL is a file
            url = "/page.html"
            for _ in range(n):
                url = self.path("op=sendurl&cb&url=" + urllib.parse.quote(url, safe=""))
            return url
        with self.srv.conn() as c:
            r = c.request("GET", nested(9))  # children up to the 8th: the file
            self.assertEqual((r.status, r.body), (200, PAGE), r)
            self.assertEqual(c.request("GET", nested(10)).status, 500)
            self.assertEqual(c.request("GET", "/index.html").status, 200)
        self.srv.wait_stderr(r"HSE_REQ_SEND_URL nested more than 8 deep")


class SendUrlErrorPageTest(AsyncBase):
    """10. HSE_REQ_SEND_URL of nothing carries the --error-page for its status, as the server's
    own answer to the URL does."""
    server_args = ["--error-page", "404=/page.html"]

    def test_not_found_gets_the_page(self):
        rid = new_id("suep")
        with self.srv.conn() as c:
            direct = c.request("GET", "/nope.html")
            self.assertEqual((direct.status, direct.body), (404, PAGE), direct)
            r = c.request("GET", self.path("op=sendurl&url=/nope.html&cb&id=" + rid))
            self.assertEqual((r.status, r.body), (404, PAGE), r)
            self.assertTrue(r.get("Content-Type", "").startswith("text/html"), r)
            d = self.done(rid)
            self.assertEqual((d.get("err"), d.get("cbIO")), (str(ERROR_FILE_NOT_FOUND), str(len(PAGE))), d)
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

if __name__ == "__main__":
    main()
