"""The IIS 6/7 support functions (src/isapi/isapi_ssf_iis.c, docs/isapi.md) and custom error
pages (--error-page, src/http/errorpage.c): HSE_REQ_SEND_CUSTOM_ERROR, HSE_REQ_CANCEL_IO,
HSE_REQ_SET_FLUSH_FLAG, HSE_REQ_NORMALIZE_URL, HSE_REQ_MAP_UNICODE_URL_TO_PATH(_EX),
HSE_REQ_GET_CERT_INFO_EX and the token requests. Through tests/fixtures/ssfiis.c (and ssf.c for
the UTF-8 twin of the mapping and an extension's HSE_STATUS_ERROR).

HSE_REQ_REPORT_UNHEALTHY is tested end to end (the master recycles the worker) in
test_workers.py (test_report_unhealthy_recycles_the_worker)."""

import os
import subprocess
import urllib.parse
import unittest

from harness import (EventFile, RawConn, Server, binary, build_request, fixture, main, parse_kv,
                     wait_for, write_file)

ERROR_INVALID_HANDLE = 6
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INSUFFICIENT_BUFFER = 122
ERROR_NO_DATA = 232
ERROR_OPERATION_ABORTED = 995

PAGE_404 = b"<html><body>custom not found</body></html>\n"
PAGE_403 = b"custom forbidden\n"
PAGE_500 = b"<html><body>custom server error</body></html>\n"
PAGE_503 = b"<html><body>custom unavailable</body></html>\n"
PAGE_400 = b"<html><body>custom bad request</body></html>\n"

BIG = 16 << 20

FILES = {
    "index.html": "<p>index</p>\n",
    "big.bin": b"x" * BIG,
    "caf\u00e9.html": "<p>cafe</p>\n",
    "smile-\U0001F600.html": "<p>outside the BMP: a surrogate pair in UTF-16</p>\n",
    ".hidden": "secret\n",
    "errors/404.html": PAGE_404,
    "errors/403.txt": PAGE_403,
    "errors/500.html": PAGE_500,
    "errors/503.html": PAGE_503,
    "errors/400.html": PAGE_400,
}

PAGES = ["--error-page", "404=/errors/404.html", "--error-page", "403=/errors/403.txt",
         "--error-page", "500=/errors/500.html", "--error-page", "503=/errors/503.html",
         "--error-page", "400=/errors/400.html"]


def q(**params):
    return urllib.parse.urlencode(params)


def server(pages=True, **kw):
    return Server(files=FILES, scripts={"ssfiis.so": fixture("ssfiis"), "ssf.so": fixture("ssf")},
                  threads=2, workers="2:8",
                  # no read-ahead: a client holding its body back keeps an asynchronous read outstanding
                  args=(PAGES if pages else []) + ["--read-ahead", "0"] + list(kw.pop("args", [])),
                  env={"SSFIIS_EVENTS": "{tmp}/events.log"}, **kw)


class Base(unittest.TestCase):
    pages = True

    @classmethod
    def setUpClass(cls):
        cls.srv = server(pages=cls.pages)
        cls.srv.__enter__()
        cls.ev = EventFile(os.path.join(cls.srv.tmp, "events.log"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def call(self, **params):
        r = self.srv.get("/scripts/ssfiis.so?" + q(**params))
        self.assertEqual(r.status, 200, r)
        return r.kv()


class ErrorPagesTest(Base):
    def test_router_404_and_403_carry_the_pages_with_their_types(self):
        r = self.srv.get("/no-such-page")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, PAGE_404)
        self.assertEqual(r.header("Content-Type"), "text/html")
        self.assertEqual(r.header("Content-Length"), str(len(PAGE_404)))
        r = self.srv.get("/.hidden")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.body, PAGE_403)
        self.assertEqual(r.header("Content-Type"), "text/plain")

    def test_head_gets_the_length_and_no_body(self):
        with RawConn(self.srv.port) as c:
            c.send(build_request("HEAD", "/no-such-page"))
            r = c.read_response(method="HEAD")
            self.assertEqual(r.status, 404)
            self.assertEqual(r.get("Content-Length"), str(len(PAGE_404)))
            self.assertEqual(r.body, b"")
            # the connection carries the next request
            c.send(build_request("GET", "/index.html"))
            self.assertEqual(c.read_response().status, 200)

    def test_bad_request_gets_the_400_page(self):
        with RawConn(self.srv.port) as c:
            c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 400)
            self.assertEqual(r.body, PAGE_400)

    def test_extension_error_gets_the_500_page(self):
        r = self.srv.get("/scripts/ssf.so?op=error")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.body, PAGE_500)
        self.assertEqual(r.header("Content-Type"), "text/html")

    def test_a_status_without_a_page_keeps_the_built_in_body(self):
        r = self.srv.request("DELETE", "/index.html")
        self.assertEqual(r.status, 405)
        self.assertIn(b"<h1>405 Method Not Allowed</h1>", r.body)
        self.assertTrue(r.header("Allow"))


class ErrorPageFileTest(unittest.TestCase):
    """Opened at each use: an edited page is seen at once, a missing one falls back (logged)."""

    def test_edit_and_removal(self):
        with server() as srv:
            path = os.path.join(srv.root, "errors", "404.html")
            self.assertEqual(srv.get("/nothing").body, PAGE_404)
            write_file(path, b"edited page\n")
            r = srv.get("/nothing")
            self.assertEqual((r.status, r.body), (404, b"edited page\n"))
            os.unlink(path)
            r = srv.get("/nothing")
            self.assertEqual(r.status, 404)
            self.assertIn(b"<h1>404 Not Found</h1>", r.body)
            self.assertEqual(r.header("Content-Type"), "text/html")
            srv.wait_stderr("error page 404=/errors/404.html cannot be served \\(no such file\\)")

    def test_ini_form(self):
        config = "[server]\nerror_page = 404=/errors/404.html\nerror_page = 403=/errors/403.txt\n"
        with Server(files=FILES, config=config) as srv:
            self.assertEqual(srv.get("/nothing").body, PAGE_404)
            self.assertEqual(srv.get("/.hidden").body, PAGE_403)


class DisabledExtensionPageTest(unittest.TestCase):
    def test_a_disabled_extension_gets_the_503_page(self):
        with Server(files=FILES, scripts={"crash.so": fixture("crash")},
                    args=PAGES + ["--rapid-fail", "1/300"]) as srv:
            with RawConn(srv.port) as c:
                c.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                self.assertTrue(c.wait_closed(10)[0])
            srv.wait_stderr("rapid-fail protection: extension .* crashed 1 times", 10)
            r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(srv.get("/scripts/crash.dll?op=ok")),
                         10, 0.05, "503 from the disabled extension")
            self.assertEqual(r.body, PAGE_503)
            self.assertEqual(r.header("Content-Type"), "text/html")


class ErrorPageConfigTest(unittest.TestCase):
    def check(self, value, message, files=FILES):
        with Server(files=files, start=False) as srv:
            p = subprocess.run([binary(), "--test-config", "--root", srv.root, "--error-page", value],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            self.assertNotEqual(p.returncode, 0, value)
            self.assertIn(message, p.stderr.decode(), value)

    def test_bad_values_are_refused(self):
        self.check("200=/errors/404.html", "the status must be an error status, 400 to 599")
        self.check("abc=/errors/404.html", "the status must be an error status")
        self.check("404", "expected STATUS=/URL")
        self.check("404=errors/404.html", "must be a URL path starting with '/'")
        self.check("404=/errors/404.html?x=1", "(no query)")
        self.check("404=/../etc/passwd", "must name a file below the root")
        self.check("404=/.hidden", "must name a file below the root")
        self.check("404=/errors/none.html", "the page must be a readable file below the root")

    def test_a_status_given_twice_is_refused(self):
        with Server(files=FILES, start=False) as srv:
            p = subprocess.run([binary(), "--test-config", "--root", srv.root, "--error-page",
                                "404=/errors/404.html", "--error-page", "404=/errors/403.txt"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("status 404 already has the page /errors/404.html", p.stderr.decode())

    def test_good_value_passes(self):
        with Server(files=FILES, start=False) as srv:
            p = subprocess.run([binary(), "--test-config", "--root", srv.root, "--error-page",
                                "404=/errors/404.html"], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)


class CustomErrorTest(Base):
    def test_sync_sends_the_page_with_the_status(self):
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="404 Not Found"))
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, PAGE_404)
        self.assertEqual(r.header("Content-Length"), str(len(PAGE_404)))
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="500 Server Error", sub="13"))
        self.assertEqual((r.status, r.reason), (500, "Server Error"))
        self.assertEqual(r.body, PAGE_500)

    def test_the_connection_carries_the_next_request(self):
        with RawConn(self.srv.port) as c:
            c.send(build_request("GET", "/scripts/ssfiis.so?" + q(op="customerror", s="404")))
            r = c.read_response()
            self.assertEqual((r.status, r.reason, r.body), (404, "Not Found", PAGE_404))
            self.assertNotIn("close", (r.get("Connection") or "").lower())
            c.send(build_request("GET", "/index.html"))
            self.assertEqual(c.read_response().status, 200)

    def test_status_without_page_gets_the_built_in_body(self):
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="410 Gone"))
        self.assertEqual(r.status, 410)
        self.assertIn(b"<h1>410 Gone</h1>", r.body)
        self.assertEqual(r.header("Content-Type"), "text/html")

    def test_async_completes_with_the_bytes(self):
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="503 Service Unavailable",
                                                   id="ce1", **{"async": "1"}))
        self.assertEqual(r.status, 503)
        self.assertEqual(r.body, PAGE_503)
        ev = self.ev.wait(id="ce1", ev="completion")[0]
        self.assertEqual(ev["err"], "0")
        self.assertEqual(ev["cbIO"], str(len(PAGE_503)))

    def test_bad_status_is_refused(self):
        for s in ("abc", "200 OK", "302 Found", "", "99 Low"):
            with self.subTest(s=s):
                kv = self.call(op="customerror", s=s)
                self.assertEqual(kv, {"ok": "0", "error": str(ERROR_INVALID_PARAMETER)})
        self.srv.wait_stderr("HSE_REQ_SEND_CUSTOM_ERROR refused: (a malformed status|status 200 is "
                             "not an error status \\(400-599\\))")

    def test_after_headers_were_sent_is_refused(self):
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="404 Not Found", presend="1"))
        self.assertEqual(r.status, 200)
        self.assertEqual(parse_kv(r.body), {"ok": "0", "error": str(ERROR_INVALID_PARAMETER)})


class CancelIoTest(Base):
    def test_nothing_outstanding(self):
        self.assertEqual(self.call(op="cancel"), {"ok": "0", "error": str(ERROR_INVALID_HANDLE)})

    def cancel_read(self, **extra):
        with RawConn(self.srv.port) as c:
            # the body is announced and never sent: the read stays outstanding until cancelled
            c.send("POST /scripts/ssfiis.so?%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                   % q(op="cancelread", **extra))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            kv = parse_kv(r.body)
            self.assertEqual(kv, {"cancel_ok": "1", "cancel_error": "0", "cbIO": "0",
                                  "err": str(ERROR_OPERATION_ABORTED)})
            closed, _ = c.wait_closed()
            self.assertTrue(closed, "the unread body leaves the connection unusable")

    def test_read_cancelled_at_once(self):
        self.cancel_read()

    def test_read_cancelled_from_another_thread(self):
        self.cancel_read(ms="50")

    def cancel_send(self, how, n, **extra):
        rid = "cw-%s-%s" % (how, extra.get("ms", "0"))
        with RawConn(self.srv.port, rcvbuf=4096) as c:
            c.send(build_request("GET", "/scripts/ssfiis.so?" + q(op="cancelwrite", how=how, n=n, id=rid,
                                                                   **extra)))
            ev = self.ev.wait(id=rid, ev="completion")[0]
            self.assertEqual((ev["cancel_ok"], ev["cancel_error"]), ("1", "0"))
            self.assertEqual(ev["err"], str(ERROR_OPERATION_ABORTED))
            self.assertLess(int(ev["cbIO"]), n)
            head = c.read_head()
            self.assertEqual(head.get("Content-Length"), str(n))
            got = len(c.read_to_close())
            self.assertLess(got, n, "the response is cut short and the connection closed")
            self.assertGreaterEqual(got, int(ev["cbIO"]), "cbIO counts bytes that were sent")

    def test_write_cancelled_with_the_bytes_done(self):
        self.cancel_send("write", 16 << 20, ms="100")
        self.cancel_send("write", 16 << 20)

    def test_transmit_file_cancelled(self):
        self.cancel_send("transmit", BIG, url="/big.bin", ms="100")

    def test_vector_send_cancelled(self):
        self.cancel_send("vector", 16 << 20)


class FlushFlagTest(Base):
    def test_head_goes_out_before_the_body(self):
        with RawConn(self.srv.port) as c:
            c.send(build_request("GET", "/scripts/ssfiis.so?" + q(op="flush", tag="f1")))
            # with the flag the head comes while the extension still waits (without it the head
            # would wait for the body, and this read would time out)
            head = c.read_head()
            self.assertEqual(head.status, 200)
            self.assertEqual(head.get("Content-Length"), "4")
            self.assertEqual(self.call(op="release", tag="f1"), {"released": "1"})
            self.assertEqual(c.read_exact(4), b"body", "the head came only when the wait was over")

    def test_off_is_the_default_behaviour(self):
        with RawConn(self.srv.port) as c:
            c.send(build_request("GET", "/scripts/ssfiis.so?" + q(op="flush", tag="f2", off="1")))
            self.assertEqual(self.call(op="release", tag="f2"), {"released": "1"})
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"body"))


class NormalizeUrlTest(Base):
    def test_normalised_in_place(self):
        cases = {
            "/a/./b/../c%41": "/a/cA",
            "/x//y/%2e%2e/z": "/x/z",
            "/a/b/": "/a/b/",
            "/caf%C3%A9": "/caf\u00e9",
            "/a/../b?x=%41&y=/../": "/b?x=%41&y=/../",
        }
        for url, want in cases.items():
            with self.subTest(url=url):
                self.assertEqual(self.call(op="normalize", url=url), {"ok": "1", "url": want})

    def test_illegal_urls_are_refused(self):
        for url in ("/../x", "/a%2Fb", "/a%00b", "/a\\b", "/bad%zz", "relative", "/%C0%AE"):
            with self.subTest(url=url):
                self.assertEqual(self.call(op="normalize", url=url),
                                 {"ok": "0", "error": str(ERROR_INVALID_PARAMETER)})


class UnicodeMapTest(Base):
    def test_same_rule_as_the_utf8_twin(self):
        for url in ("/index.html", "/caf\u00e9.html", "/smile-\U0001F600.html", "/scripts/ssf.so",
                    "/a/b/../c"):
            with self.subTest(url=url):
                want = self.srv.get("/scripts/ssf.so?" + q(op="map", url=url)).kv()
                got = self.call(op="umap", url=url)
                self.assertEqual(want["ok"], "1", want)
                self.assertEqual(got["ok"], "1", got)
                self.assertEqual(got["path"], want["path"])
                # sizes in bytes of UTF-16, with the NUL
                self.assertEqual(got["size"], got["bytes"])

    def test_buffer_too_small_says_the_size(self):
        path = os.path.join(os.path.realpath(self.srv.root), "index.html")
        need = (len(path) + 1) * 2
        got = self.call(op="umap", url="/index.html", size=str(need - 2))
        self.assertEqual(got, {"ok": "0", "error": str(ERROR_INSUFFICIENT_BUFFER), "size": str(need)})
        got = self.call(op="umap", url="/index.html", size=str(need))
        self.assertEqual((got["ok"], got["size"]), ("1", str(need)))

    def test_errors_as_the_twin(self):
        self.assertEqual(self.call(op="umap", url="/../x"),
                         {"ok": "0", "error": str(ERROR_INVALID_PARAMETER), "size": "1040"})

    def test_unpaired_surrogate_is_refused(self):
        # the fixture turns the (CESU) bytes ED A0 80 into the lone UTF-16 unit D800
        self.assertEqual(self.call(op="umap", url=b"/a\xed\xa0\x80.html"),
                         {"ok": "0", "error": str(ERROR_INVALID_PARAMETER), "size": "1040"})
        self.assertEqual(self.call(op="umapex", url=b"/a\xed\xa0\x80.html"),
                         {"ok": "0", "error": str(ERROR_INVALID_PARAMETER)})

    def test_ex_matches_the_utf8_ex(self):
        for url in ("/index.html", "/scripts/ssf.so/x", "/caf\u00e9.html"):
            with self.subTest(url=url):
                want = self.srv.get("/scripts/ssf.so?" + q(op="mapex", url=url)).kv()
                got = self.call(op="umapex", url=url)
                self.assertEqual(got, want)


class CertAndTokensTest(Base):
    def test_no_client_certificate(self):
        self.assertEqual(self.call(op="cert"), {"ok": "0", "error": str(ERROR_NO_DATA), "cb": "0", "flags": "0"})

    def test_token_requests_are_not_supported(self):
        for kind in ("imp", "sspi"):
            with self.subTest(kind=kind):
                self.assertEqual(self.call(op="token", kind=kind),
                                 {"ok": "0", "error": str(ERROR_NOT_SUPPORTED), "cleared": "1"})


class NoPagesTest(Base):
    pages = False

    def test_built_in_pages(self):
        r = self.srv.get("/no-such-page")
        self.assertEqual(r.status, 404)
        self.assertIn(b"<h1>404 Not Found</h1>", r.body)
        self.assertEqual(r.header("Content-Type"), "text/html")
        r = self.srv.get("/scripts/ssfiis.so?" + q(op="customerror", s="404 Not Found"))
        self.assertEqual(r.status, 404)
        self.assertIn(b"<h1>404 Not Found</h1>", r.body)


if __name__ == "__main__":
    main()
