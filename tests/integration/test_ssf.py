"""ServerSupportFunction behaviours, through the ssf fixture."""

import os
import unittest

from harness import Server, build_request, fixture, main

ERROR_INVALID_PARAMETER = 87
ERROR_NOT_SUPPORTED = 50
ERROR_INSUFFICIENT_BUFFER = 122


class SsfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "<p>i</p>\n", "sub/x.txt": "x"},
                         scripts={"ssf.so": fixture("ssf")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def op(self, query, headers=None, conn=None, version="HTTP/1.1"):
        path = "/scripts/ssf.dll?op=" + query
        if conn is not None:
            return conn.request("GET", path, headers, version=version, host=version == "HTTP/1.1")
        with self.srv.conn() as c:
            return c.request("GET", path, headers, version=version, host=version == "HTTP/1.1")

    # ---- redirect -----------------------------------------------------------------------
    def test_redirect(self):
        with self.srv.conn() as c:
            r = self.op("redirect", conn=c)
            self.assertEqual(r.status, 302)
            self.assertEqual(r.get("Location"), "http://127.0.0.1/elsewhere?a=1")
            # the redirect is a complete response: keep-alive survives
            r = self.op("keepconn", conn=c)
            self.assertEqual(r.status, 200)

    # ---- connection queries -------------------------------------------------------------
    def test_is_keep_conn(self):
        self.assertEqual(self.op("keepconn").kv(), {"ok": "1", "keep": "1"})
        self.assertEqual(self.op("keepconn", {"Connection": "close"}).kv().get("keep"), "0")
        self.assertEqual(self.op("keepconn", version="HTTP/1.0").kv().get("keep"), "0")
        self.assertEqual(self.op("keepconn", {"Connection": "keep-alive"}, version="HTTP/1.0").kv().get("keep"), "1")

    def test_is_connected(self):
        self.assertEqual(self.op("connected").kv(), {"ok": "1", "connected": "1"})

    # ---- URL mapping --------------------------------------------------------------------
    def test_map_url_to_path(self):
        kv = self.op("map&url=/index.html").kv()
        want = os.path.join(self.srv.root, "index.html")
        self.assertEqual(kv.get("ok"), "1", kv)
        self.assertEqual(kv.get("path"), want)
        self.assertIn(kv.get("size"), (str(len(want) + 1), str(len(want))))
        kv = self.op("map&url=/sub/").kv()
        self.assertEqual(kv.get("ok"), "1", kv)
        self.assertIn(kv.get("path"), (os.path.join(self.srv.root, "sub") + "/", os.path.join(self.srv.root, "sub")))
        kv = self.op("map&url=/does/not/exist.txt").kv()
        self.assertEqual(kv.get("path"), os.path.join(self.srv.root, "does/not/exist.txt"))

    def test_map_url_to_path_small_buffer(self):
        kv = self.op("map&url=/index.html&small").kv()
        want = os.path.join(self.srv.root, "index.html")
        self.assertEqual(kv.get("ok"), "0", kv)
        self.assertEqual(kv.get("error"), str(ERROR_INSUFFICIENT_BUFFER))
        self.assertIn(kv.get("size"), (str(len(want) + 1), str(len(want))))

    def test_map_url_refuses_escape(self):
        # §7.10: raw query text with .. must not map outside the root.
        for url in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub/../../x"):
            with self.subTest(url=url):
                kv = self.op("map&url=" + url.replace("%", "%25")).kv()
                if kv.get("ok") == "1":
                    self.assertTrue(kv.get("path", "").startswith(self.srv.root + "/"), kv)
                    self.assertNotIn("..", kv.get("path", ""))

    def test_map_url_to_path_ex(self):
        kv = self.op("mapex&url=/index.html").kv()
        self.assertEqual(kv.get("ok"), "1", kv)
        self.assertEqual(kv.get("path"), os.path.join(self.srv.root, "index.html"))
        # TODO(lead): IIS reports cchMatchingURL/cchMatchingPath for the virtual root; the exact
        # values for "/" are not pinned down here, only that they are within the strings.
        self.assertLessEqual(int(kv.get("cchMatchingURL")), len("/index.html"))
        self.assertLessEqual(int(kv.get("cchMatchingPath")), len(kv.get("path")))

    # ---- log parameter ------------------------------------------------------------------
    def test_append_log_parameter(self):
        self.assertEqual(self.op("log").kv(), {"ok": "1"})
        line = self.srv.wait_access_line(r'"GET /scripts/ssf\.dll\?op=log HTTP/1\.1" 200 ')
        self.assertIn("fixture-log-param", line)
        self.assertTrue(line.endswith('"fixture-log-param"'), line)
        self.op("log&text=with%20space")
        line = self.srv.wait_access_line(r'op=log&text=with%20space')
        self.assertIn("with space", line)

    # ---- unknown code -------------------------------------------------------------------
    def test_unknown_code(self):
        # docs/isapi.md: codes ISAPI does not define → ERROR_INVALID_PARAMETER
        for code in (9999, 0, 1009, 5000):
            with self.subTest(code=code):
                kv = self.op("unknown&code=%d" % code).kv()
                self.assertEqual(kv.get("ok"), "0")
                self.assertEqual(kv.get("error"), str(ERROR_INVALID_PARAMETER))

    # ---- response headers ---------------------------------------------------------------
    def test_send_response_header_with_body(self):
        with self.srv.conn() as c:
            r = self.op("header", conn=c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.get("X-Ssf"), "header")
            self.assertEqual(r.get("Content-Type"), "text/plain")
            self.assertEqual(r.body, b"body-after-blank+more")
            self.assertIn(r.framing, ("chunked", "length"))
            self.assertIsNotNone(r.get("Date"))
            self.assertIsNotNone(r.get("Server"))
            self.assertEqual(self.op("keepconn", conn=c).status, 200)

    def test_status_strings(self):
        cases = [("404", 404), ("302%20Moved%20Temporarily", 302), ("HTTP/1.1%20200%20OK", 200),
                 ("201%20Created", 201), ("", 200), ("500%20Internal%20Server%20Error", 500)]
        with self.srv.conn() as c:
            for s, status in cases:
                with self.subTest(s=s):
                    r = self.op("status&s=" + s, conn=c)
                    self.assertEqual(r.status, status)
                    self.assertEqual(r.body, b"status-body")

    def test_send_response_header_ex(self):
        with self.srv.conn() as c:
            for q in ("headerex", "headerex&nonul"):
                with self.subTest(q=q):
                    r = self.op(q, conn=c)
                    self.assertEqual(r.status, 202)
                    self.assertEqual(r.reason, "Accepted")
                    self.assertEqual(r.get("X-Ssf"), "headerex")
                    self.assertEqual(r.body, b"ex-body")
                    self.assertNotIn(b"\0", r.raw_head)

    # ---- session ends -------------------------------------------------------------------
    def test_done_with_session_before_return(self):
        with self.srv.conn() as c:
            r = self.op("done", conn=c)
            self.assertEqual((r.status, r.body), (200, b"done-early"))
            r = self.op("done", conn=c)
            self.assertEqual((r.status, r.body), (200, b"done-early"))

    def test_done_before_pending_returned(self):
        # DONE_WITH_SESSION (twice) before HttpExtensionProc returns PENDING (Apache PR 11918).
        with self.srv.conn() as c:
            for _ in range(3):
                r = self.op("donebefore", conn=c)
                self.assertEqual((r.status, r.body), (200, b"done-before-pending"))

    def test_pending_from_thread(self):
        with self.srv.conn() as c:
            r = self.op("pending&ms=150", conn=c)
            self.assertEqual((r.status, r.body), (200, b"pending-done"))
            self.assertNotIn("close", r.connection_tokens())
            r = self.op("pending&ms=10&nolen", conn=c)
            self.assertEqual((r.status, r.body), (200, b"pending-done"))
            self.assertIn(r.framing, ("chunked", "length"))
            r = self.op("keepconn", conn=c)
            self.assertEqual(r.kv().get("keep"), "1")

    def test_pending_pipelined(self):
        # A pipelined request waits for the pending session to end.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/scripts/ssf.dll?op=pending&ms=200") +
                   build_request("GET", "/index.html"))
            r1 = c.read_response()
            r2 = c.read_response()
            self.assertEqual(r1.body, b"pending-done")
            self.assertEqual(r2.body, b"<p>i</p>\n")

    def test_many_pending(self):
        conns = [self.srv.conn(timeout=20) for _ in range(40)]
        try:
            for c in conns:
                c.send(build_request("GET", "/scripts/ssf.dll?op=pending&ms=300"))
            for c in conns:
                self.assertEqual(c.read_response().body, b"pending-done")
        finally:
            for c in conns:
                c.close()

    def test_error_status(self):
        with self.srv.conn() as c:
            r = self.op("error", conn=c)
            self.assertEqual(r.status, 500)


if __name__ == "__main__":
    main()
