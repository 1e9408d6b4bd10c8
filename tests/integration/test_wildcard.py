"""Wildcard application maps (--map /PREFIX/*=HANDLER.so, /*, INI [maps]) and HSE_REQ_EXEC_URL
child requests: a wildcard extension that hands static files, redirects, errors and other
extensions' URLs back to the server (pszUrl NULL + IGNORE_CURRENT_INTERCEPTOR) or rewrites the
URL; the ordered chain of wildcards; EXEC_URL's method, headers, entity body, flags, status,
errors and its nesting bound."""

import os
import re
import unittest

import subprocess

from harness import Server, example, fixture, free_port, main

FILES = {
    "index.html": "<p>root index</p>\n",
    "a.txt": "hello page\n",
    "range.txt": "0123456789" * 10,
    "sub/index.html": "<p>sub index</p>\n",
    "page.isa": "mapped\n",
    ".hidden": "hidden\n",
    "app/real.txt": "a real file under /app\n",
    "apple/x.txt": "not under /app\n",
    "caf\u00e9.txt": "accent\n",
}
SCRIPTS = {"vars.so": fixture("vars"), "echo.so": fixture("echo")}

ERROR_FILE_NOT_FOUND = 2
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_BUSY = 170
ERROR_NO_DATA = 232
ERROR_INTERNAL_ERROR = 1359
NO_HEADERS, IGNORE_CURRENT = 0x02, 0x04


class WildcardExampleTest(unittest.TestCase):
    """examples/wildcard.c on /*: every URL goes through it and is handed back with EXEC_URL."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, scripts=SCRIPTS,
                         args=["--map", ".isa=" + fixture("vars"), "--map", "/*=" + example("wildcard")])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def logged(self, path_rx, child):
        return self.srv.wait_access_line(r'"(GET|HEAD|POST) %s HTTP/1.1" .*"wildcard=seen child=%d"'
                                         % (path_rx, child))

    def test_static_file_handed_back(self):
        r = self.srv.get("/a.txt")
        self.assertEqual((r.status, r.body), (200, b"hello page\n"))
        self.assertEqual(r.header("Content-Type"), "text/plain")
        self.logged(re.escape("/a.txt"), 200)
        self.assertEqual(self.srv.get("/").body, b"<p>root index</p>\n")
        r = self.srv.request("HEAD", "/a.txt")
        self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"", "11"))

    def test_validation_and_range_reach_the_file(self):
        r = self.srv.get("/range.txt", headers={"Range": "bytes=2-5"})
        self.assertEqual((r.status, r.body), (206, b"2345"))
        etag = self.srv.get("/a.txt").header("ETag")
        self.assertEqual(self.srv.get("/a.txt", headers={"If-None-Match": etag}).status, 304)

    def test_redirect_and_errors_handed_back(self):
        r = self.srv.get("/sub?x=1")
        self.assertEqual((r.status, r.header("Location")), (301, "/sub/?x=1"))
        self.assertEqual(self.srv.get("/sub/").body, b"<p>sub index</p>\n")
        self.assertEqual(self.srv.get("/missing.txt").status, 404)
        self.logged(re.escape("/missing.txt"), 404)
        self.assertEqual(self.srv.get("/.hidden").status, 403)
        self.assertEqual(self.srv.get("/scripts/nothere.dll").status, 404)
        self.assertEqual(self.srv.request("POST", "/a.txt", body=b"x").status, 405)

    def test_script_dir_extension_handed_back(self):
        r = self.srv.get("/scripts/vars.dll/x/y?q=1")
        self.assertEqual(r.status, 200)
        kv = r.kv()
        self.assertEqual(kv.get("SCRIPT_NAME"), "/scripts/vars.dll")
        self.assertEqual(kv.get("PATH_INFO"), "/x/y")
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        self.logged(re.escape("/scripts/vars.dll/x/y?q=1"), 200)

    def test_script_map_handed_back(self):
        r = self.srv.get("/page.isa")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.kv().get("SCRIPT_NAME"), "/page.isa")

    def test_request_body_goes_to_the_child(self):
        body = b"a body for the child " * 50
        r = self.srv.request("POST", "/scripts/echo.dll", body=body,
                             headers={"Content-Type": "text/x-test"})
        self.assertEqual((r.status, r.body), (200, body))
        self.assertEqual(r.header("X-Content-Type"), "text/x-test")
        self.assertEqual(r.header("X-Method"), "POST")

    def test_large_and_chunked_bodies_go_to_the_child(self):
        # more than the read-ahead: the child reads the rest from the connection
        body = os.urandom(1 << 20)
        r = self.srv.request("POST", "/scripts/echo.dll", body=body)
        self.assertEqual((r.status, r.header("X-Received")), (200, str(len(body))))
        self.assertEqual(r.body, body)
        with self.srv.conn() as c:
            c.send(b"POST /scripts/echo.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"hello world"))
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection goes on
            self.assertEqual(c.read_response().body, b"hello page\n")

    def test_rewrite(self):
        self.assertEqual(self.srv.get("/legacy/a.txt").body, b"hello page\n")
        r = self.srv.get("/legacy/scripts/vars.dll/a%3Fb?q=2")
        self.assertEqual(r.kv().get("QUERY_STRING"), "q=2")
        self.assertEqual(r.kv().get("SCRIPT_NAME"), "/scripts/vars.dll")
        self.assertEqual(r.kv().get("PATH_INFO"), "/a?b")

    def test_keep_alive_across_children(self):
        with self.srv.conn() as c:
            for path, body in (("/a.txt", b"hello page\n"), ("/scripts/vars.dll", None),
                               ("/missing", None), ("/a.txt", b"hello page\n")):
                c.send(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
                r = c.read_response()
                if body is not None:
                    self.assertEqual(r.body, body)
                self.assertNotIn("close", r.connection_tokens())


class WildcardVariablesTest(unittest.TestCase):
    """What a wildcard extension sees (the requested resource), and where a prefix ends."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, config="[maps]\n/app/* = %s\n" % fixture("vars"))
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_variables(self):
        r = self.srv.get("/app/real.txt?q=1")
        self.assertEqual(r.status, 200)
        kv = r.kv()
        self.assertEqual(kv.get("URL"), "/app/real.txt")
        self.assertEqual(kv.get("SCRIPT_NAME"), "/app/real.txt")
        self.assertEqual(kv.get("PATH_INFO"), "/app/real.txt")
        self.assertEqual(kv.get("ecb.path_info"), "/app/real.txt")
        self.assertEqual(kv.get("PATH_TRANSLATED"), os.path.join(self.srv.root, "app", "real.txt"))
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        # a URL naming nothing still goes to the wildcard
        self.assertEqual(self.srv.get("/app/none/at/all.dll").kv().get("URL"), "/app/none/at/all.dll")
        self.assertEqual(self.srv.get("/app").kv().get("URL"), "/app")

    def test_segment_boundary(self):
        r = self.srv.get("/apple/x.txt")
        self.assertEqual((r.status, r.body), (200, b"not under /app\n"))
        self.assertEqual(self.srv.get("/a.txt").body, b"hello page\n")
        self.assertEqual(self.srv.get("/App/real.txt").status, 404)  # case-sensitive, as --scripts


class WildcardConfigTest(unittest.TestCase):
    def test_bad_wildcards_refused(self):
        for bad in ("/app*=x.so", "/app/**=x.so", "/a//b/*=x.so", "/a/../*=x.so", "app/*=x.so"):
            with Server(files=FILES, args=["--map", bad.replace("x.so", fixture("vars")),
                                           "--test-config"], expect_exit=None, start=False) as srv:
                p = subprocess.run(srv.command(free_port()), capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0, bad)
                self.assertIn("--map", p.stderr, bad)

    def test_duplicate_prefix_refused(self):
        with Server(files=FILES, start=False, expect_exit=None,
                    args=["--map", "/app/*=" + fixture("vars"), "--map", "/app/*=" + fixture("echo"),
                          "--test-config"]) as srv:
            p = subprocess.run(srv.command(free_port()), capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("already mapped", p.stderr)

    def test_good_wildcards_accepted(self):
        with Server(files=FILES, start=False, expect_exit=None,
                    args=["--map", "/app/*=" + fixture("vars"), "--map", "/*=" + fixture("echo"),
                          "--map", ".isa=" + fixture("vars"), "--test-config"]) as srv:
            p = subprocess.run(srv.command(free_port()), capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)


class ExecUrlErrorPageTest(unittest.TestCase):
    """An EXEC_URL child's error answer carries the --error-page page for its status, unless
    the call says HSE_EXEC_URL_DISABLE_CUSTOM_ERROR (docs/isapi.md)."""

    def test_child_error_uses_the_page_unless_disabled(self):
        files = dict(FILES, **{"e404.html": "custom 404\n"})
        with Server(files=files, args=["--error-page", "404=/e404.html",
                                       "--map", "/*=" + fixture("execurl")]) as srv:
            r = srv.get("/missing.txt")  # IGNORE_CURRENT_INTERCEPTOR: the normal rules, a 404
            self.assertEqual((r.status, r.body), (404, b"custom 404\n"))
            self.assertEqual(r.header("Content-Type"), "text/html")
            r = srv.request("GET", "/missing.txt", headers={"X-Exec-Flags": "0x24"})
            self.assertEqual(r.status, 404)
            self.assertNotEqual(r.body, b"custom 404\n")  # the built-in page
            self.assertIn(b"404", r.body)


class ExecUrlTest(unittest.TestCase):
    """tests/fixtures/execurl.c on /* (first), then vars on /app/* (second) in the chain."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, scripts=SCRIPTS,
                         args=["--map", "/*=" + fixture("execurl"), "--map", "/app/*=" + fixture("vars")])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def exec(self, path, method="GET", body=None, **h):
        headers = {"X-Exec-" + k.replace("_", "-"): str(v) for k, v in h.items()}
        headers["X-Id"] = os.urandom(6).hex()
        r = self.srv.request(method, path, headers=headers, body=body)
        return r, headers["X-Id"]

    def done_line(self, path):
        return self.srv.wait_access_line(r'"\w+ %s HTTP/1.1" .*exec cb=' % re.escape(path))

    def completion(self, path):
        m = re.search(r"exec cb=(\d+) err=(\d+) status=(\d+) win32=(\d+)", self.done_line(path))
        self.assertIsNotNone(m)
        return tuple(int(x) for x in m.groups())

    def test_chain_goes_on_to_the_next_wildcard(self):
        r, _ = self.exec("/app/real.txt?z=9")
        kv = r.kv()
        self.assertEqual(kv.get("URL"), "/app/real.txt")  # vars, the second wildcard
        self.assertEqual(kv.get("QUERY_STRING"), "z=9")
        r, _ = self.exec("/a.txt")
        self.assertEqual(r.body, b"hello page\n")
        self.assertEqual(self.completion("/a.txt"), (11, 0, 200, 0))

    def test_loop_is_bounded(self):
        # without IGNORE_CURRENT_INTERCEPTOR the wildcard gets the request again, and again
        r, _ = self.exec("/loop.txt", Flags=0)
        self.assertEqual(r.status, 500)
        cb, err, status, win32 = self.completion("/loop.txt")
        self.assertEqual((err, status, win32), (ERROR_INTERNAL_ERROR, 500, ERROR_INTERNAL_ERROR))
        self.srv.wait_stderr(r"EXEC_URL nested more than 8 deep")
        self.assertEqual(self.srv.get("/a.txt").status, 200)  # the server is fine

    def test_url_rewritten_with_method_and_query(self):
        r, _ = self.exec("/anything", Url="/scripts/vars.dll/p?q=1", Method="PUT")
        kv = r.kv()
        self.assertEqual(kv.get("ecb.method"), "PUT")
        self.assertEqual(kv.get("PATH_INFO"), "/p")
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        self.assertEqual(self.completion("/anything")[2], 200)

    def test_head_child_of_a_get(self):
        with self.srv.conn() as c:
            c.send(b"GET /hd HTTP/1.1\r\nHost: x\r\nX-Exec-Url: /a.txt\r\nX-Exec-Method: HEAD\r\n\r\n")
            r = c.read_response(method="HEAD")
            self.assertEqual((r.status, r.get("Content-Length"), r.body), (200, "11", b""))
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")  # and the connection goes on
            self.assertEqual(c.read_response().body, b"hello page\n")

    def test_child_headers_replace_the_parents(self):
        r, _ = self.exec("/h", Url="/scripts/vars.dll", Headers="X-Child: one|X-Other:  two ")
        raw = r.kv().get("ALL_RAW")
        self.assertEqual(raw, "X-Child: one\r\nX-Other: two\r\n")
        r, _ = self.exec("/h2", Url="/scripts/vars.dll")
        self.assertIn("X-Exec-Url: /scripts/vars.dll\r\n", r.kv().get("ALL_RAW"))  # inherited
        r, _ = self.exec("/h3", Url="/scripts/vars.dll", Headers="no colon here")
        self.assertEqual(r.body, b"exec=FALSE error=%d\n" % ERROR_INVALID_PARAMETER)

    def test_entity_body(self):
        r, _ = self.exec("/e", "POST", body=b"the parent's body", Url="/scripts/echo.dll",
                         Entity="child body")
        self.assertEqual(r.body, b"child body")
        self.assertEqual(r.header("X-Total-Bytes"), "10")
        r, _ = self.exec("/e2", "POST", body=b"the parent's body", Url="/scripts/echo.dll")
        self.assertEqual(r.body, b"the parent's body")

    def test_refusals(self):
        cases = [({"Token": 1}, ERROR_NOT_SUPPORTED), ({"Flags": 0x44}, ERROR_INVALID_PARAMETER),
                 ({"Flags": 0x104}, ERROR_INVALID_PARAMETER), ({"Flags": 0x01}, ERROR_INVALID_PARAMETER),
                 ({"No_Callback": 1}, ERROR_INVALID_PARAMETER),
                 ({"Url": "relative.txt"}, ERROR_INVALID_PARAMETER),
                 ({"Method": "BAD METHOD"}, ERROR_INVALID_PARAMETER)]
        for h, err in cases:
            with self.subTest(h=h):
                r, _ = self.exec("/a.txt", **h)
                self.assertEqual((r.status, r.body), (200, b"exec=FALSE error=%d\n" % err))

    def test_whole_response_after_a_head_refused(self):
        r, _ = self.exec("/a.txt", Head=1)  # no NO_HEADERS: the child's head cannot follow
        self.assertEqual(r.header("X-Parent"), "yes")
        self.assertEqual(r.body, b"pre\nexec=FALSE error=%d\n" % ERROR_INVALID_PARAMETER)

    def test_second_operation_is_busy_and_status_before_any(self):
        r, _ = self.exec("/a.txt?busy", Twice=1, Status_First=1)
        self.assertEqual(r.body, b"hello page\n")
        line = self.done_line("/a.txt?busy")
        self.assertIn("twice=%d" % ERROR_BUSY, line)
        self.assertIn("first=%d" % ERROR_NO_DATA, line)

    def test_not_found_child(self):
        r, _ = self.exec("/nf", Url="/missing.txt")
        self.assertEqual(r.status, 404)
        cb, err, status, win32 = self.completion("/nf")
        # the 404 went out: the completion succeeds, the status says why
        self.assertEqual((status, win32, err), (404, ERROR_FILE_NOT_FOUND, 0))

    def test_accepted_flags(self):
        r, _ = self.exec("/range.txt", Flags=IGNORE_CURRENT | 0x10)
        self.assertEqual(r.status, 200)
        r = self.srv.request("GET", "/range.txt", headers={"Range": "bytes=0-1",
                                                           "X-Exec-Flags": str(IGNORE_CURRENT | 0x10)})
        self.assertEqual((r.status, len(r.body)), (200, 100))  # validation and range ignored
        r = self.srv.request("GET", "/range.txt", headers={"Range": "bytes=0-1"})
        self.assertEqual((r.status, r.body), (206, b"01"))
        r, _ = self.exec("/a.txt", Flags=IGNORE_CURRENT | 0x20 | 0x80)
        self.assertEqual(r.body, b"hello page\n")

    def test_no_headers_after_the_parents_head(self):
        r, _ = self.exec("/nh", Url="/a.txt", Flags=NO_HEADERS | IGNORE_CURRENT, Head=1)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Parent"), "yes")
        self.assertEqual(r.body, b"pre\nhello page\npost\n")
        self.assertEqual(self.completion("/nh")[0], 11)
        r, _ = self.exec("/nh2", Url="/scripts/echo.dll", Entity="from the entity",
                         Flags=NO_HEADERS | IGNORE_CURRENT, Head=1)
        self.assertEqual(r.header("X-Parent"), "yes")
        self.assertIsNone(r.header("X-Method"))  # the child's head is not sent
        self.assertEqual(r.body, b"pre\nfrom the entity" + b"post\n")
        # keep-alive still works after a NO_HEADERS child
        self.assertEqual(self.srv.get("/a.txt").body, b"hello page\n")

    def test_no_headers_without_a_head(self):
        r, _ = self.exec("/nh3", Url="/a.txt", Flags=NO_HEADERS | IGNORE_CURRENT)
        self.assertEqual((r.status, r.body), (200, b"hello page\n"))
        self.assertIsNone(r.header("ETag"))  # the file's head was not sent

    def test_unicode_url(self):
        with self.srv.conn() as c:
            c.send(b"GET /u HTTP/1.1\r\nHost: x\r\nX-Exec-Unicode: 1\r\n"
                   b"X-Exec-Url: /caf\xc3\xa9.txt\r\nConnection: close\r\n\r\n")
            r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"accent\n"))
        r, _ = self.exec("/a.txt", Unicode=1)  # NULL URL
        self.assertEqual(r.body, b"hello page\n")


if __name__ == "__main__":
    main()
