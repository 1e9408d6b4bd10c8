"""Server variables and ECB fields, through the vars fixture (full dump) and the ssf fixture
(GetServerVariable's error contract)."""

import os
import unittest

from harness import READ_AHEAD, UNKNOWN_LENGTH, Server, chunked, fixture, main

ERROR_INSUFFICIENT_BUFFER = 122
ERROR_INVALID_INDEX = 1413

IIS_VARS = [
    "ALL_HTTP", "ALL_RAW", "APPL_MD_PATH", "APPL_PHYSICAL_PATH", "APP_POOL_CONFIG", "APP_POOL_ID",
    "AUTH_PASSWORD", "AUTH_TYPE", "AUTH_USER", "CACHE_URL", "CERT_COOKIE", "CERT_FLAGS",
    "CERT_ISSUER", "CERT_KEYSIZE", "CERT_SECRETKEYSIZE", "CERT_SERIALNUMBER", "CERT_SERVER_ISSUER",
    "CERT_SERVER_SUBJECT", "CERT_SUBJECT", "CONTENT_LENGTH", "CONTENT_TYPE", "CRYPT_CIPHER_ALG_ID",
    "CRYPT_HASH_ALG_ID", "CRYPT_KEYEXCHANGE_ALG_ID", "CRYPT_PROTOCOL", "DOCUMENT_ROOT",
    "FORWARDED_URL", "GATEWAY_INTERFACE", "HTTPS", "HTTPS_KEYSIZE", "HTTPS_SECRETKEYSIZE",
    "HTTPS_SERVER_ISSUER", "HTTPS_SERVER_SUBJECT", "HTTP_METHOD", "HTTP_URL", "HTTP_VERSION",
    "INSTANCE_ID", "INSTANCE_META_PATH", "INSTANCE_NAME", "LOCAL_ADDR", "LOGON_USER",
    "MANAGED_PIPELINE_MODE", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR",
    "REMOTE_HOST", "REMOTE_PORT", "REMOTE_USER", "REQUEST_FILENAME", "REQUEST_FLAGS",
    "REQUEST_METHOD", "REQUEST_URI", "SCRIPT_FILENAME", "SCRIPT_NAME", "SCRIPT_TRANSLATED",
    "SERVER_ADDR", "SERVER_NAME", "SERVER_PORT", "SERVER_PORT_SECURE", "SERVER_PROTOCOL",
    "SERVER_SOFTWARE", "UNENCODED_URL", "UNMAPPED_REMOTE_USER", "URL",
]


class ServerVarsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "x"}, scripts={"vars.so": fixture("vars"), "ssf.so": fixture("ssf")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def dump(self, path, method="GET", headers=None, body=None, version="HTTP/1.1"):
        with self.srv.conn() as c:
            r = c.request(method, path, headers or [], body, version=version, host=version == "HTTP/1.1")
            self.assertEqual(r.status, 200, r)
            kv = r.kv()
            kv["_client_port"] = str(c.sock.getsockname()[1])
            return kv

    def var(self, name, size=None, headers=None, hex=False):
        q = "/scripts/ssf.dll?op=var&name=" + name
        if size is not None:
            q += "&size=%d" % size
        if hex:
            q += "&hex"
        r = self.srv.get(q, headers)
        self.assertEqual(r.status, 200)
        return r.kv()

    # ---- the dump -----------------------------------------------------------------------
    def test_get_variables(self):
        kv = self.dump("/scripts/vars.dll/extra/path?x=1",
                       headers=[("User-Agent", "it-agent/1.0"), ("X-Custom-Header", "custom"),
                                ("Host", "127.0.0.1:%d" % self.srv.port)])
        port = str(self.srv.port)
        expect = {
            "REQUEST_METHOD": "GET",
            "SERVER_PORT": port,
            "REMOTE_ADDR": "127.0.0.1",
            "LOCAL_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": "it-agent/1.0",
            "HTTP_X_CUSTOM_HEADER": None,   # not in the default list; checked below through ALL_HTTP
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "HTTPS": "off",
            "SERVER_PORT_SECURE": "0",
            "QUERY_STRING": "x=1",
            "PATH_INFO": "/extra/path",
            "PATH_TRANSLATED": os.path.join(self.srv.root, "extra", "path"),
            "SCRIPT_NAME": "/scripts/vars.dll",
            "HTTP_URL": "/scripts/vars.dll/extra/path?x=1",
            "HTTP_HOST": "127.0.0.1:" + port,
            "SERVER_NAME": "127.0.0.1",
            "REMOTE_PORT": kv["_client_port"],
            "INSTANCE_ID": "1",
            "ecb.method": "GET",
            "ecb.query": "x=1",
            "ecb.query_null": "0",
            "ecb.path_info": "/extra/path",
            "ecb.path_translated": os.path.join(self.srv.root, "extra", "path"),
            "ecb.null_strings": "0",
            "ecb.cbTotalBytes": "0",
            "ecb.cbAvailable": "0",
            "ecb.cbSize_ok": "1",
            "ecb.connid_is_ecb": "1",
        }
        for k, v in expect.items():
            if v is not None:
                with self.subTest(var=k):
                    self.assertEqual(kv.get(k), v, "%s (error %s)" % (k, kv.get(k + "!error")))
        self.assertIn("HTTP_USER_AGENT:it-agent/1.0\r\n", kv.get("ALL_HTTP", ""))
        self.assertIn("HTTP_X_CUSTOM_HEADER:custom\r\n", kv.get("ALL_HTTP", ""))
        self.assertIn("X-Custom-Header: custom\r\n", kv.get("ALL_RAW", ""))
        self.assertTrue(kv.get("SERVER_SOFTWARE", "").lower().startswith("isapid"), kv.get("SERVER_SOFTWARE"))
        self.assertEqual(kv.get("URL"), "/scripts/vars.dll")
        self.assertIn(kv.get("CONTENT_LENGTH", ""), ("", "0"))
        self.assertEqual(kv.get("SCRIPT_FILENAME"), os.path.join(self.srv.scripts_dir, "vars.so"))
        self.assertEqual(kv.get("APPL_PHYSICAL_PATH"), self.srv.scripts_dir + "/")
        self.assertGreaterEqual(int(kv.get("ecb.version_major", "0")), 5)

    def test_url_variables_with_path_info(self):
        # ISAPI-FILTERS.md §5.2, the direct-DLL column: URL = SCRIPT_NAME = the DLL's URL,
        # PATH_INFO what follows it, PATH_TRANSLATED its physical path, HTTP_URL/UNENCODED_URL raw.
        kv = self.dump("/scripts/vars.dll/a/b?q=1")
        self.assertEqual(kv.get("URL"), "/scripts/vars.dll")
        self.assertEqual(kv.get("SCRIPT_NAME"), "/scripts/vars.dll")
        self.assertEqual(kv.get("PATH_INFO"), "/a/b")
        self.assertEqual(kv.get("PATH_TRANSLATED"), os.path.join(self.srv.root, "a", "b"))
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        self.assertEqual(kv.get("HTTP_URL"), "/scripts/vars.dll/a/b?q=1")
        self.assertEqual(kv.get("UNENCODED_URL"), "/scripts/vars.dll/a/b?q=1")
        kv = self.dump("/scripts/vars.dll/a%20b")
        self.assertEqual((kv.get("URL"), kv.get("PATH_INFO")), ("/scripts/vars.dll", "/a b"))
        self.assertEqual(kv.get("UNENCODED_URL"), "/scripts/vars.dll/a%20b")
        kv = self.dump("/scripts/vars.dll")
        self.assertEqual((kv.get("URL"), kv.get("PATH_INFO"), kv.get("PATH_TRANSLATED")),
                         ("/scripts/vars.dll", "", ""))

    def test_every_iis_variable_is_known(self):
        # §7.14: the whole IIS list answers; ERROR_INVALID_INDEX only for unknown names.
        kv = self.dump("/scripts/vars.dll")
        unknown = [v for v in IIS_VARS if kv.get(v + "!error") == str(ERROR_INVALID_INDEX)]
        self.assertEqual(unknown, [])
        failed = {v: kv.get(v + "!error") for v in IIS_VARS if v not in kv}
        self.assertEqual(failed, {}, "variables that failed")
        for v in ("CERT_SUBJECT", "HTTPS_KEYSIZE", "AUTH_TYPE", "AUTH_USER", "REMOTE_USER", "LOGON_USER"):
            self.assertEqual(kv.get(v), "", v)
        self.assertTrue(kv.get("APPL_MD_PATH", "").upper().startswith("/LM/W3SVC/"), kv.get("APPL_MD_PATH"))

    def test_no_query_string(self):
        kv = self.dump("/scripts/vars.dll")
        self.assertEqual(kv.get("ecb.query"), "")
        self.assertEqual(kv.get("ecb.query_null"), "0")
        self.assertEqual(kv.get("QUERY_STRING"), "")
        self.assertEqual(kv.get("ecb.path_info"), "")
        self.assertEqual(kv.get("PATH_INFO"), "")

    def test_query_not_decoded(self):
        kv = self.dump("/scripts/vars.dll?a=%20b&c=d+e")
        self.assertEqual(kv.get("ecb.query"), "a=%20b&c=d+e")
        self.assertEqual(kv.get("QUERY_STRING"), "a=%20b&c=d+e")

    def test_path_info_decoded(self):
        kv = self.dump("/scripts/vars.dll/a%20b/c")
        self.assertEqual(kv.get("PATH_INFO"), "/a b/c")
        self.assertEqual(kv.get("HTTP_URL"), "/scripts/vars.dll/a%20b/c")

    def test_post_variables(self):
        kv = self.dump("/scripts/vars.dll", "POST",
                       [("Content-Type", "application/x-www-form-urlencoded")], b"a=1&b=2")
        self.assertEqual(kv.get("REQUEST_METHOD"), "POST")
        self.assertEqual(kv.get("CONTENT_LENGTH"), "7")
        self.assertEqual(kv.get("CONTENT_TYPE"), "application/x-www-form-urlencoded")
        self.assertEqual(kv.get("ecb.content_type"), "application/x-www-form-urlencoded")
        self.assertEqual(kv.get("ecb.cbTotalBytes"), "7")
        self.assertEqual(kv.get("ecb.cbAvailable"), "7")

    def test_large_post_read_ahead(self):
        body = b"q" * (100 * 1024)
        kv = self.dump("/scripts/vars.dll", "POST", [], body)
        self.assertEqual(kv.get("ecb.cbTotalBytes"), str(len(body)))
        avail = int(kv.get("ecb.cbAvailable"))
        self.assertGreater(avail, 0)
        self.assertLessEqual(avail, READ_AHEAD)

    def test_chunked_post(self):
        with self.srv.conn() as c:
            c.send(b"POST /scripts/vars.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + chunked(["abc", "defg"]))
            kv = c.read_response().kv()
        self.assertEqual(kv.get("ecb.cbTotalBytes"), str(UNKNOWN_LENGTH))
        self.assertEqual(kv.get("ecb.cbAvailable"), "7")
        # CONTENT_LENGTH for a chunked body: empty/absent (IIS may also synthesise the length).
        self.assertIn(kv.get("CONTENT_LENGTH", ""), ("", "7"))

    def test_http10(self):
        kv = self.dump("/scripts/vars.dll", version="HTTP/1.0")
        self.assertEqual(kv.get("SERVER_PROTOCOL"), "HTTP/1.0")
        self.assertEqual(kv.get("HTTP_VERSION", "HTTP/1.0"), "HTTP/1.0")

    # ---- GetServerVariable error contract -----------------------------------------------
    def test_unknown_variable(self):
        kv = self.var("NO_SUCH_VARIABLE")
        self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_INVALID_INDEX)))

    def test_buffer_too_small(self):
        kv = self.var("SERVER_PROTOCOL", size=3)
        self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_INSUFFICIENT_BUFFER)))
        self.assertEqual(kv.get("size"), str(len("HTTP/1.1") + 1))
        kv = self.var("SERVER_PROTOCOL", size=0)
        self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_INSUFFICIENT_BUFFER)))
        self.assertEqual(kv.get("size"), "9")
        kv = self.var("SERVER_PROTOCOL", size=9)      # exactly enough
        self.assertEqual((kv.get("ok"), kv.get("value"), kv.get("size")), ("1", "HTTP/1.1", "9"))

    def test_success_size_counts_nul(self):
        kv = self.var("REQUEST_METHOD")
        self.assertEqual((kv.get("ok"), kv.get("value"), kv.get("size")), ("1", "GET", "4"))

    def test_absent_header(self):
        # IIS answers ERROR_INVALID_INDEX for a header the request lacks (ISAPI-FILTERS.md §5.1):
        # real extensions treat only that code as "absent" and ERROR_NO_DATA as fatal.
        for name in ("HTTP_X_ABSENT", "HTTP_REFERER", "HEADER_X-Absent", "UNICODE_HTTP_X_ABSENT"):
            with self.subTest(name=name):
                kv = self.var(name)
                self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_INVALID_INDEX)))

    def test_inapplicable_variables_are_empty(self):
        # Known variables that do not apply here stay TRUE with "" (ISAPI-NOTES.md §7.14).
        for name in ("AUTH_USER", "CERT_SUBJECT", "HTTPS_KEYSIZE", "FORWARDED_URL"):
            with self.subTest(name=name):
                kv = self.var(name)
                self.assertEqual((kv.get("ok"), kv.get("value"), kv.get("size")), ("1", "", "1"))

    def test_header_variables(self):
        h = {"X-Present": "yes", "X-Multi-Word-Name": "mw"}
        self.assertEqual(self.var("HTTP_X_PRESENT", headers=h).get("value"), "yes")
        self.assertEqual(self.var("HTTP_X_MULTI_WORD_NAME", headers=h).get("value"), "mw")
        self.assertEqual(self.var("HEADER_X-Present", headers=h).get("value"), "yes")
        self.assertEqual(self.var("HEADER_x-present", headers=h).get("value"), "yes")
        kv = self.var("HEADER_X-Absent", headers=h)
        self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_INVALID_INDEX)))

    def test_repeated_header(self):
        with self.srv.conn() as c:
            c.send(b"GET /scripts/ssf.dll?op=var&name=HTTP_X_MULTI HTTP/1.1\r\nHost: x\r\n"
                   b"X-Multi: a\r\nX-Multi: b\r\n\r\n")
            kv = c.read_response().kv()
        self.assertIn(kv.get("value"), ("a, b", "a,b"))

    def test_unicode_variable(self):
        kv = self.var("UNICODE_SERVER_PROTOCOL", hex=True)
        self.assertEqual(kv.get("ok"), "1")
        want = "HTTP/1.1".encode("utf-16-le").hex()
        self.assertTrue(kv.get("value", "").startswith(want), kv.get("value"))
        self.assertEqual(kv.get("size"), str(2 * (len("HTTP/1.1") + 1)))


class ScriptMapVarsTest(unittest.TestCase):
    """The script-map column of ISAPI-FILTERS.md §5.2 (IIS 6's default,
    AllowPathInfoForScriptMappings false): PATH_INFO is the whole URL path."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"s/p.isa": "x"}, args=["--map", ".isa=" + fixture("vars")])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_script_map_with_path_info(self):
        r = self.srv.get("/s/p.isa/a/b?q=1")
        self.assertEqual(r.status, 200, r)
        kv = r.kv()
        self.assertEqual(kv.get("URL"), "/s/p.isa")
        self.assertEqual(kv.get("SCRIPT_NAME"), "/s/p.isa")
        self.assertEqual(kv.get("PATH_INFO"), "/s/p.isa/a/b")
        self.assertEqual(kv.get("PATH_TRANSLATED"), os.path.join(self.srv.root, "s", "p.isa", "a", "b"))
        self.assertEqual(kv.get("ecb.path_translated"), kv.get("PATH_TRANSLATED"))
        self.assertEqual(kv.get("SCRIPT_FILENAME"), os.path.join(self.srv.root, "s", "p.isa"))
        self.assertEqual(kv.get("QUERY_STRING"), "q=1")
        self.assertEqual(kv.get("HTTP_URL"), "/s/p.isa/a/b?q=1")

    def test_script_map_without_path_info(self):
        kv = self.srv.get("/s/p.isa").kv()
        self.assertEqual((kv.get("URL"), kv.get("PATH_INFO")), ("/s/p.isa", "/s/p.isa"))
        self.assertEqual(kv.get("PATH_TRANSLATED"), os.path.join(self.srv.root, "s", "p.isa"))


if __name__ == "__main__":
    main()
