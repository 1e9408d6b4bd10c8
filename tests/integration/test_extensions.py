"""ISAPI extensions: routing (.dll/.so, case), load failures, response framing on the wire, raw
heads and header-in-body, request bodies, blocking extensions, --map, script-dir rules."""

import os
import select
import shutil
import threading
import unittest

from harness import (READ_AHEAD, UNKNOWN_LENGTH, Server, build_request, chunked, example, fixture,
                     main, pattern_bytes, wait_for)

FILES = {
    "index.html": "<p>index</p>\n",
    "a.txt": "AAAA\n",
    "page.isa": "not served as a file\n",
    "sub/page.isa": "nor this\n",
}


def scripts():
    s = {name + ".so": fixture(name) for name in
         ("vars", "echo", "big", "rawhead", "hdrbody", "slow", "failver", "noproc", "dllmainfail",
          "fuzz_echo")}
    s["hello.so"] = example("hello")
    return s


class ExtensionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, scripts=scripts(),
                         extra_files_in_scripts={"readme.txt": "not an extension\n", "sub/inner.txt": "x"},
                         args=["--map", ".isa=" + fixture("vars")],
                         env={"ISAPID_SLOW_MARKER": "{tmp}/slow.marker"})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def get(self, path, headers=None):
        return self.srv.get(path, headers)

    # ---- routing ------------------------------------------------------------------------
    def test_url_forms(self):
        for path in ("/scripts/vars.dll", "/scripts/vars.so", "/scripts/VARS.DLL", "/scripts/Vars.Dll",
                     "/scripts/vars.DLL?x=1"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.kv().get("ecb.method"), "GET")

    def test_missing_extension(self):
        for path in ("/scripts/nope.dll", "/scripts/nope.so", "/scripts/sub/nope.dll"):
            with self.subTest(path=path):
                self.assertEqual(self.get(path).status, 404)

    def test_script_dir_serves_no_files(self):
        for path in ("/scripts/readme.txt", "/scripts/sub/inner.txt"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404)
                self.assertNotIn(b"not an extension", r.body)
        for path in ("/scripts/", "/scripts"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertIn(r.status, (301, 403, 404))
                self.assertFalse(r.body.startswith(b"\x7fELF"))

    def test_load_failures(self):
        cases = [("failver", r"GetExtensionVersion"), ("noproc", r"HttpExtensionProc"),
                 ("dllmainfail", r"DllMain")]
        for name, reason in cases:
            with self.subTest(extension=name):
                for _ in range(2):  # a failed load stays failed (and the server stays up)
                    r = self.get("/scripts/%s.dll" % name)
                    self.assertEqual(r.status, 500)
                    self.assertNotIn(b"must not be called", r.body)
                self.srv.wait_stderr(r"%s\.(so|dll).*%s|%s.*%s\.(so|dll)" % (name, reason, reason, name))
        self.assertEqual(self.get("/a.txt").status, 200)

    # ---- framing of extension responses -------------------------------------------------
    def test_error_after_a_chunked_body_is_not_a_complete_response(self):
        """HSE_STATUS_ERROR after part of a chunked body: the connection closes without the last
        chunk, so the client sees a truncated response, not a complete one."""
        with self.srv.conn() as c:
            c.send(build_request("GET", "/scripts/fuzz_echo.dll?h=Content-Type:+text/plain%0d%0a%0d%0a"
                                 "&w=partial&ret=4"))
            raw = c.read_to_close()
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0], raw)
        self.assertIn(b"transfer-encoding: chunked", head.lower(), raw)
        self.assertEqual(body, b"7\r\npartial\r\n", raw)  # no "0\r\n\r\n"
        # ... while a success ends the body properly
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/fuzz_echo.dll?h=Content-Type:+text/plain%0d%0a%0d%0a&w=partial")
            self.assertEqual((r.status, r.framing, r.body), (200, "chunked", b"partial"))

    def test_an_extension_that_chunks_its_own_body(self):
        """An extension that declares Transfer-Encoding: chunked frames its own body: the
        connection stays open when that body ends as chunked framing ends, and closes after it
        when it does not (malformed, no last chunk, bytes after it), since the client cannot
        tell where it ends."""
        te = "/scripts/fuzz_echo.dll?h=Content-Type:+text/plain%0d%0aTransfer-Encoding:+chunked%0d%0a%0d%0a"
        with self.srv.conn() as c:
            r = c.request("GET", te + "&w=2%0d%0aok%0d%0a0%0d%0a%0d%0a")
            self.assertEqual((r.status, r.framing, r.body), (200, "chunked", b"ok"))
            self.assertNotIn("close", r.connection_tokens())
            self.assertEqual(c.request("GET", "/a.txt").status, 200)  # the same connection
        for bad in ("w=p", "w=2%0d%0aok%0d%0a", "w=1%0d%0aa%0d%0a0%0d%0a%0d%0aextra",
                    "w=1%0d%0aa%0d%0a0%0d%0a%0d%0a&w=extra"):
            with self.subTest(body=bad), self.srv.conn() as c:
                c.send(build_request("GET", te + "&" + bad) + build_request("GET", "/a.txt"))
                raw = c.read_to_close()
                self.assertEqual(raw.count(b"HTTP/1.1 "), 1, raw)  # the second one not answered
                if "extra" in bad:  # bytes after the last chunk are not sent: the body ends there
                    self.assertTrue(raw.endswith(b"\r\n\r\n1\r\na\r\n0\r\n\r\n"), raw)
        # The same with the body in the head's text (HSE_REQ_SEND_RESPONSE_HEADER_EX).
        with self.srv.conn() as c:
            c.send(build_request("GET", te + "1%0d%0ab%0d%0a0%0d%0a%0d%0a%26%26%26") +
                   build_request("GET", "/a.txt"))
            raw = c.read_to_close()
            self.assertEqual(raw.count(b"HTTP/1.1 "), 1, raw)
            self.assertTrue(raw.endswith(b"\r\n\r\n1\r\nb\r\n0\r\n\r\n"), raw)
        self.srv.wait_stderr(r"declared Transfer-Encoding: chunked but its body did not end")

    def test_a_head_answer_overrun_by_its_extension_keeps_the_connection(self):
        """HEAD: the extension writes more than its Content-Length (after a redirect's whole
        response, or after its own head): none of it goes out, so the connection stays open
        (a GET's overrun closes it: the rest cannot be sent)."""
        for script in ("redir=/elsewhere&w=not-sent",
                       "h=Content-Length:+2%0d%0a%0d%0a&w=more-than-two"):
            with self.subTest(script=script), self.srv.conn() as c:
                c.send(build_request("HEAD", "/scripts/fuzz_echo.dll?" + script) +
                       build_request("GET", "/a.txt"))
                head = c.read_response("HEAD")
                self.assertIn(head.status, (200, 302), head)
                self.assertEqual(head.body, b"")
                self.assertEqual(c.read_response().body, b"AAAA\n")  # nothing in between
                self.assertTrue(c.is_open())

    def test_chunked_when_no_length(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/big.dll?n=100000&chunk=7000")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.framing, "chunked", r)
            self.assertIsNone(r.get("Content-Length"))
            self.assertEqual(r.body, pattern_bytes(100000))
            self.assertNotIn("close", r.connection_tokens())
            # keep-alive survives
            r2 = c.request("GET", "/scripts/big.dll?n=30&chunk=7")
            self.assertEqual(r2.body, pattern_bytes(30))
            r3 = c.request("GET", "/a.txt")
            self.assertEqual(r3.body, b"AAAA\n")

    def test_content_length_from_extension(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/big.dll?n=100000&chunk=6000&cl")
            self.assertEqual(r.framing, "length")
            self.assertEqual(r.get("Content-Length"), "100000")
            self.assertEqual(r.body, pattern_bytes(100000))
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")

    def test_http10_close_delimited(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/big.dll?n=50000&chunk=3000", version="HTTP/1.0", host=False)
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.get("Transfer-Encoding"))
            self.assertEqual(r.body, pattern_bytes(50000))
            closed, _ = c.wait_closed(3)
            self.assertTrue(closed)

    def test_http10_keepalive_unknown_length(self):
        # An HTTP/1.0 client asking for keep-alive, body of unknown length: the server either
        # buffers and sends a Content-Length, or closes to delimit the body.
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/big.dll?n=5000&chunk=1000", {"Connection": "keep-alive"},
                          version="HTTP/1.0")
            self.assertEqual(r.body, pattern_bytes(5000))
            self.assertIsNone(r.get("Transfer-Encoding"))
            if r.framing == "close":
                self.assertNotIn("keep-alive", r.connection_tokens())
            else:
                self.assertEqual(r.framing, "length")
                self.assertEqual(c.request("GET", "/a.txt", {"Connection": "keep-alive"},
                                           version="HTTP/1.0").body, b"AAAA\n")

    def test_head_to_extension(self):
        with self.srv.conn() as c:
            r = c.request("HEAD", "/scripts/big.dll?n=20000&chunk=1000")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"")
            # nothing of the extension's body may leak into the stream
            r2 = c.request("GET", "/a.txt")
            self.assertEqual((r2.status, r2.body), (200, b"AAAA\n"))

    def test_body_without_any_head(self):
        # The first WriteClient is plain body text (no head, no header lines): 200 + that body.
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/big.dll?n=1000&chunk=100&nohead")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, pattern_bytes(1000))

    def test_raw_head(self):
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/rawhead.dll")
            self.assertEqual(r.status, 201)
            self.assertEqual(r.version, "HTTP/1.1")
            self.assertEqual(r.get("Content-Type"), "text/plain")
            self.assertEqual(r.get("X-Raw"), "1")
            self.assertEqual(r.body, b"body")
            self.assertIn(r.framing, ("chunked", "length"))
            self.assertIsNotNone(r.get("Date"))
            r = c.request("GET", "/scripts/rawhead.dll?cl")
            self.assertEqual((r.status, r.framing, r.body), (201, "length", b"body"))
            self.assertEqual(r.get_all("Content-Length"), ["4"])
            r = c.request("GET", "/scripts/rawhead.dll?http10")
            self.assertEqual((r.version, r.status, r.body), ("HTTP/1.1", 201, b"body"))
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")

    def test_raw_head_split(self):
        # A raw head that arrives in several WriteClient calls (cut inside the status line and
        # before the blank line). IIS passes the bytes through, so the client sees one head; the
        # server must wait for the whole head instead of sending the first piece as body.
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/rawhead.dll?split")
            self.assertEqual((r.status, r.body), (201, b"body+more"))
            self.assertEqual(r.get("X-Raw"), "1")

    def test_headers_in_body(self):
        with self.srv.conn() as c:
            for q, body in (("", b"<p>hi</p>"), ("?lf", b"<p>hi</p>"), ("?more", b"<p>hi</p><p>more</p>")):
                with self.subTest(q=q):
                    r = c.request("GET", "/scripts/hdrbody.dll" + q)
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.get("Content-Type"), "text/html")
                    self.assertEqual(r.get("X-Hdr"), "1")
                    self.assertEqual(r.body, body)

    # ---- request bodies and the ECB -----------------------------------------------------
    def test_echo_large_body(self):
        body = os.urandom(100 * 1024)
        with self.srv.conn() as c:
            r = c.request("POST", "/scripts/echo.dll", {"Content-Type": "application/octet-stream"}, body)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.get("X-Total-Bytes"), str(len(body)))
            avail = int(r.get("X-Available"))
            self.assertGreater(avail, 0)
            self.assertLessEqual(avail, READ_AHEAD)
            self.assertEqual(r.get("X-Content-Type"), "application/octet-stream")
            self.assertEqual(r.get("X-Method"), "POST")
            self.assertTrue(r.body == body, "echoed body differs")

    def test_echo_small_body_all_preloaded(self):
        with self.srv.conn() as c:
            r = c.request("POST", "/scripts/echo.dll", body=b"z" * 1000)
            self.assertEqual(r.get("X-Available"), "1000")
            self.assertEqual(r.get("X-Reads"), "0")

    def test_echo_megabytes(self):
        body = os.urandom(3 * 1024 * 1024)
        with self.srv.conn(timeout=30) as c:
            r = c.request("POST", "/scripts/echo.dll?discard", body=body)
            self.assertEqual(r.get("X-Received"), str(len(body)))
            r = c.request("POST", "/scripts/echo.dll", body=body[:1000000])
            self.assertTrue(r.body == body[:1000000])

    def test_echo_chunked_large(self):
        data = os.urandom(200000)
        parts = [data[i:i + 9999] for i in range(0, len(data), 9999)]
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(parts))
            r = c.read_response()
            self.assertEqual(r.get("X-Total-Bytes"), str(UNKNOWN_LENGTH))
            self.assertLessEqual(int(r.get("X-Available")), READ_AHEAD)
            self.assertTrue(r.body == data, "echoed chunked body differs")

    def test_empty_post(self):
        with self.srv.conn() as c:
            r = c.request("POST", "/scripts/echo.dll", body=b"")
            self.assertEqual((r.status, r.body), (200, b""))
            self.assertEqual(r.get("X-Total-Bytes"), "0")

    # ---- blocking extensions ------------------------------------------------------------
    def slow_lines(self):
        try:
            with open(os.path.join(self.srv.tmp, "slow.marker")) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def test_blocking_extension_stalls_nothing_else(self):
        before = len(self.slow_lines())
        with self.srv.conn(timeout=20) as slow:
            slow.send(build_request("GET", "/scripts/slow.dll?ms=2000"))
            wait_for(lambda: len(self.slow_lines()) > before, 10, message="slow.dll to start")
            # While slow.dll sleeps: a static file and another extension complete.
            self.assertEqual(self.get("/a.txt").body, b"AAAA\n")
            self.assertEqual(self.get("/scripts/hello.dll").status, 200)
            self.assertEqual(self.get("/scripts/vars.dll").status, 200)
            ready, _, _ = select.select([slow.sock], [], [], 0)
            self.assertEqual(ready, [], "the slow request finished before the quick ones")
            r = slow.read_response()
            self.assertEqual((r.status, r.body), (200, b"slept=2000\n"))

    def test_parallel_requests(self):
        errors = []

        def worker(n):
            try:
                with self.srv.conn() as c:
                    for i in range(10):
                        r = c.request("GET", "/scripts/vars.dll/t%d/%d?i=%d" % (n, i, i))
                        kv = r.kv()
                        if r.status != 200 or kv.get("PATH_INFO") != "/t%d/%d" % (n, i) \
                                or kv.get("QUERY_STRING") != "i=%d" % i:
                            errors.append((n, i, r.status, kv.get("PATH_INFO")))
            except Exception as e:   # noqa: BLE001 - collected and reported below
                errors.append((n, repr(e)))
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])

    # ---- --map --------------------------------------------------------------------------
    def test_script_map(self):
        r = self.get("/page.isa?q=1")
        self.assertEqual(r.status, 200)
        kv = r.kv()
        self.assertEqual(kv.get("PATH_TRANSLATED"), os.path.join(self.srv.root, "page.isa"))
        self.assertEqual(kv.get("ecb.path_translated"), os.path.join(self.srv.root, "page.isa"))
        self.assertEqual(kv.get("SCRIPT_NAME"), "/page.isa")
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        # IIS's default for script maps: PATH_INFO is the whole URL path
        self.assertEqual(kv.get("PATH_INFO"), "/page.isa")
        self.assertNotIn(b"not served as a file", r.body)

        r = self.get("/sub/page.isa")
        self.assertEqual(r.kv().get("PATH_TRANSLATED"), os.path.join(self.srv.root, "sub", "page.isa"))
        self.assertEqual(self.get("/missing.isa").status, 404)
        r = self.get("/page.isa/more/path")
        self.assertEqual(r.status, 200)

    # ---- the extension file itself ------------------------------------------------------
    def test_dll_name_in_path_info(self):
        r = self.get("/scripts/vars.dll/other.dll/x")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.kv().get("PATH_INFO"), "/other.dll/x")


class PoolTest(unittest.TestCase):
    """--workers 2:8 on a fresh server: blocked extensions must not queue behind each other while
    the pool is below its maximum (a blocking extension stalls nothing but itself)."""

    def test_pool_grows(self):
        n = 6
        with Server(scripts={"slow.so": fixture("slow"), "vars.so": fixture("vars")},
                    env={"ISAPID_SLOW_MARKER": "{tmp}/slow.marker"}) as srv:
            marker = os.path.join(srv.tmp, "slow.marker")

            def lines():
                try:
                    with open(marker) as f:
                        return f.read().splitlines()
                except OSError:
                    return []
            conns = []
            try:
                for _ in range(n):
                    c = srv.conn(timeout=20)
                    c.send(build_request("GET", "/scripts/slow.dll?ms=1500"))
                    conns.append(c)
                wait_for(lambda: sum(1 for l in lines() if l.startswith("start")) >= n, 10,
                         message="%d slow.dll calls to start" % n)
                self.assertFalse(any(l.startswith("end") for l in lines()),
                                 "slow calls waited for each other: %r" % lines())
                self.assertEqual(srv.get("/scripts/vars.dll").status, 200)
                ready, _, _ = select.select([c.sock for c in conns], [], [], 0)
                self.assertEqual(ready, [])
                for c in conns:
                    self.assertEqual(c.read_response().status, 200)
            finally:
                for c in conns:
                    c.close()


class ScriptsInsideRootTest(unittest.TestCase):
    """The scripts dir lies inside the web root: its files must never be sent as static files."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n", "scripts/readme.txt": "inside the scripts dir\n"}, start=False)
        cls.srv.__enter__()
        d = os.path.join(cls.srv.root, "scripts")
        os.makedirs(os.path.join(d, "sub"))
        shutil.copy(fixture("vars"), os.path.join(d, "vars.so"))
        shutil.copy(fixture("vars"), os.path.join(d, "sub", "deep.so"))
        cls.srv.args = ["--scripts", "/scripts=" + d]
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_extension_never_static(self):
        for path in ("/scripts/vars.so", "/scripts/vars.dll", "//scripts/vars.so", "/./scripts/vars.so",
                     "/scripts/../scripts/vars.so", "/%73cripts/vars.so", "/scripts/%76ars.so",
                     "/scripts/sub/deep.so", "/scripts/sub/deep.dll"):
            with self.subTest(path=path):
                with self.srv.conn() as c:
                    r = c.request("GET", path)
                    self.assertFalse(r.body.startswith(b"\x7fELF"), "extension served as a file")
                    self.assertEqual(r.status, 200)
                    self.assertIn("ecb.method=GET", r.text())

    def test_other_files_not_served(self):
        for path in ("/scripts/readme.txt", "/scripts/%72eadme.txt"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                self.assertEqual(r.status, 404)
                self.assertNotIn(b"inside the scripts dir", r.body)

    def test_case_variants_of_prefix(self):
        # /SCRIPTS/ is not the script prefix; on Linux no such directory exists either.
        r = self.srv.get("/SCRIPTS/vars.so")
        self.assertIn(r.status, (200, 404))
        self.assertFalse(r.body.startswith(b"\x7fELF"))


class AccessLogTest(unittest.TestCase):
    def test_combined_format(self):
        with Server(files={"a.txt": "AAAA\n"}, scripts={"vars.so": fixture("vars")}) as srv:
            srv.get("/a.txt?q=1", {"User-Agent": "it-agent/1.0", "Referer": "http://ref.example/x"})
            line = srv.wait_access_line(r'"GET /a\.txt\?q=1 HTTP/1\.1"')
            rx = (r'^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
                  r'"GET /a\.txt\?q=1 HTTP/1\.1" 200 5 "http://ref\.example/x" "it-agent/1\.0"$')
            self.assertRegex(line, rx)
            srv.get("/nope", {"User-Agent": 'quote"agent'})
            line = srv.wait_access_line(r'"GET /nope HTTP/1\.1" 404 ')
            self.assertTrue('quote\\x22agent' in line or 'quote\\"agent' in line,
                            "the quote in the agent must be escaped: %r" % line)
            srv.get("/scripts/vars.dll")
            srv.wait_access_line(r'"GET /scripts/vars\.dll HTTP/1\.1" 200 \d+ ')


if __name__ == "__main__":
    main()
