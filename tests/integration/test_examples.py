"""The example extensions (examples/*.c) behind the real server, with python and curl clients."""

import unittest
import urllib.parse
import urllib.request

from harness import Server, chunked, curl, curl_available, example, main, pattern_bytes


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "<p>i</p>\n"},
                         scripts={"hello.so": example("hello"), "form.so": example("form"),
                                  "servervars.so": example("servervars"),
                                  "upload.so": example("upload")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    # ---- hello --------------------------------------------------------------------------
    def test_hello_url_forms(self):
        bodies = set()
        for path in ("/scripts/hello.dll", "/scripts/hello.so", "/scripts/HELLO.DLL", "/scripts/Hello.Dll?x"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"Hello, world!\n")
                self.assertTrue(r.header("Content-Type", "").startswith("text/plain"))
                bodies.add(r.body)
        self.assertEqual(len(bodies), 1)

    def test_hello_keep_alive(self):
        with self.srv.conn() as c:
            for _ in range(5):
                r = c.request("GET", "/scripts/hello.dll")
                self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"))

    def test_hello_urllib(self):
        with urllib.request.urlopen(self.srv.url("/scripts/hello.dll"), timeout=10) as f:
            self.assertEqual(f.read(), b"Hello, world!\n")

    @unittest.skipUnless(curl_available(), "curl not installed")
    def test_hello_curl(self):
        p = curl(["-i", self.srv.url("/scripts/hello.dll")])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, rb"^HTTP/1\.1 200 ")
        self.assertTrue(p.stdout.endswith(b"\r\n\r\nHello, world!\n"))
        # curl with HTTP/1.0
        p = curl(["-0", self.srv.url("/scripts/hello.dll")])
        self.assertEqual(p.stdout, b"Hello, world!\n")

    # ---- form ---------------------------------------------------------------------------
    def test_form_get(self):
        r = self.srv.get("/scripts/form.dll")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<form", r.body)
        self.assertTrue(r.header("Content-Type", "").startswith("text/html"))

    def test_form_post_urlencoded(self):
        fields = {"name": "A <b>", "message": "hello & goodbye" * 20}
        body = urllib.parse.urlencode(fields).encode()
        r = self.srv.request("POST", "/scripts/form.dll", {"Content-Type": "application/x-www-form-urlencoded"}, body)
        self.assertEqual(r.status, 200)
        self.assertIn(b"Received %d bytes" % len(body), r.body)
        self.assertIn(b"A &lt;b&gt;", r.body)

    def test_form_post_chunked(self):
        body = urllib.parse.urlencode({"name": "chunky", "message": "x" * 5000}).encode()
        parts = [body[i:i + 1000] for i in range(0, len(body), 1000)]
        with self.srv.conn() as c:
            c.send(b"POST /scripts/form.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + chunked(parts))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertIn(b"Received %d bytes" % len(body), r.body)
            self.assertIn(b"chunky", r.body)
            # form sends no Content-Length: the server chunks, and the connection survives
            self.assertEqual(r.framing, "chunked")
            self.assertEqual(c.request("GET", "/scripts/hello.dll").body, b"Hello, world!\n")

    def test_form_post_large(self):
        body = b"message=" + b"y" * 300000
        r = self.srv.request("POST", "/scripts/form.dll", {"Content-Type": "application/x-www-form-urlencoded"}, body)
        self.assertEqual(r.status, 200)
        self.assertIn(b"Received %d bytes" % len(body), r.body)

    @unittest.skipUnless(curl_available(), "curl not installed")
    def test_form_curl(self):
        p = curl(["--data-urlencode", "name=curl<user>", self.srv.url("/scripts/form.dll")])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Received %d bytes" % len(b"name=curl%3Cuser%3E"), p.stdout)
        self.assertIn(b"curl&lt;user&gt;", p.stdout)
        # chunked upload from curl
        p = curl(["-H", "Transfer-Encoding: chunked", "--data-binary", "name=abc",
                  self.srv.url("/scripts/form.dll")])
        self.assertIn(b"Received 8 bytes", p.stdout)

    # ---- upload -------------------------------------------------------------------------
    def test_upload_checksum_and_count_only(self):
        # Past the read-ahead, so that the extension's own reads deliver most of the body.
        body = pattern_bytes(1000003, 5)
        h = 0x811C9DC5
        for b in body:
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
        for mode in ("async", "sync"):
            with self.subTest(mode=mode), self.srv.conn() as c:
                r = c.request("POST", "/scripts/upload.dll?mode=" + mode, body=body)
                self.assertEqual(r.status, 200)
                lines = r.text().splitlines()
                self.assertEqual(lines[:2], ["bytes=1000003", "fnv1a=%08x" % h])
                r = c.request("POST", "/scripts/upload.dll?checksum=none&mode=" + mode, body=body)
                self.assertEqual(r.status, 200)
                lines = r.text().splitlines()
                self.assertEqual(lines[0], "bytes=1000003")
                self.assertTrue(lines[1].startswith("reads="), lines)
                self.assertEqual(len(lines), 2)
                r = c.request("POST", "/scripts/upload.dll?checksum=md5", body=b"x")
                self.assertEqual(r.status, 400)

    def test_upload_async_after_100_continue(self):
        # The first asynchronous read finds nothing there: the 100 goes out, the loop waits for
        # the body; then the reads find their bytes at once.
        body = pattern_bytes(300001, 9)
        for framing in ("length", "chunked"):
            with self.subTest(framing=framing), self.srv.conn() as c:
                head = ("Content-Length: %d" % len(body) if framing == "length"
                        else "Transfer-Encoding: chunked")
                c.send(b"POST /scripts/upload.dll?checksum=none HTTP/1.1\r\nHost: x\r\n" +
                       head.encode() + b"\r\nExpect: 100-continue\r\n\r\n")
                self.assertEqual(c.read_response(keep_interim=True).status, 100)
                c.send(body if framing == "length" else chunked([body[:100000], body[100000:]]))
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.text().splitlines()[0], "bytes=300001")

    # ---- servervars ---------------------------------------------------------------------
    def test_servervars(self):
        r = self.srv.get("/scripts/servervars.dll/extra/path?x=1",
                         {"User-Agent": "ex-agent", "Accept": "text/plain"})
        self.assertEqual(r.status, 200)
        text = r.text()
        self.assertIn("PATH_INFO=/extra/path\n", text)
        self.assertIn("QUERY_STRING=x=1\n", text)
        self.assertIn("REQUEST_METHOD=GET\n", text)
        self.assertIn("HTTP_USER_AGENT=ex-agent\n", text)
        self.assertIn("SERVER_PORT=%d\n" % self.srv.port, text)
        self.assertIn("ECB.lpszQueryString=x=1\n", text)
        self.assertNotRegex(text, r"(?m)^\w+!error=1413$")
        # As IIS: a header the request lacks is ERROR_INVALID_INDEX too.
        r = self.srv.get("/scripts/servervars.dll", {"User-Agent": "ex-agent"})
        self.assertRegex(r.text(), r"(?m)^HTTP_ACCEPT!error=1413$")

    def test_servervars_one(self):
        r = self.srv.get("/scripts/servervars.dll?var=SERVER_PROTOCOL")
        self.assertEqual(r.status, 200)
        self.assertRegex(r.text(), r"(?m)^SERVER_PROTOCOL=HTTP/1\.1$")
        r = self.srv.get("/scripts/servervars.dll?var=NOPE_NOT_A_VAR")
        self.assertRegex(r.text(), r"(?m)^NOPE_NOT_A_VAR!error=1413$")


if __name__ == "__main__":
    main()
