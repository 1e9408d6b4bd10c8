"""Command line and config file: --version, --help, --test-config, errors at start-up, INI files."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import (SOURCE, RawConn, Server, binary, fixture, free_port, main, request, wait_for,
                     write_file)


def run(args, timeout=10, cwd=None):
    return subprocess.run([binary()] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)


def project_version():
    with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*isapid\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else None


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="isapid-cli-")
        self.root = os.path.join(self.tmp, "www")
        write_file(os.path.join(self.root, "index.html"), "<p>cli</p>\n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_version(self):
        p = run(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertIn("isapid", out.lower())
        v = project_version()
        if v:
            self.assertIn(v, out)

    def test_help(self):
        for flag in ("--help", "-h"):
            with self.subTest(flag=flag):
                p = run([flag])
                self.assertEqual(p.returncode, 0, p.stderr)
                out = p.stdout.decode()
                for opt in ("--listen", "--root", "--scripts", "--config", "--test-config"):
                    self.assertIn(opt, out)

    def test_unknown_option(self):
        p = run(["--no-such-option"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no-such-option", p.stderr.decode())

    def test_missing_value(self):
        p = run(["--root"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("root", p.stderr.decode())

    def test_test_config_ok(self):
        p = run(["--test-config", "--listen", "127.0.0.1:1", "--root", self.root])
        self.assertEqual(p.returncode, 0, p.stderr)
        ini = write_file(os.path.join(self.tmp, "good.ini"),
                         "[server]\nlisten = 127.0.0.1:1\nroot = www\nworkers = 2:4\n"
                         "[limits]\nmax_body = 1m\n[timeouts]\nheader = 500ms\nkeepalive = 2s\n")
        p = run(["--test-config", "--config", ini])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_test_config_opens_the_access_log(self):
        # As nginx -t does: the log the server would write must open; it is not truncated.
        log = write_file(os.path.join(self.tmp, "access.log"), "earlier line\n")
        p = run(["--test-config", "--root", self.root, "--access-log", log])
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(log) as f:
            self.assertEqual(f.read(), "earlier line\n")
        for bad in (os.path.join(self.tmp, "no-such-dir", "access.log"), self.tmp):
            with self.subTest(path=bad):
                p = run(["--test-config", "--root", self.root, "--access-log", bad])
                self.assertEqual(p.returncode, 2, p.stderr)
                err = p.stderr.decode()
                self.assertIn("cannot open the access log %s: " % bad, err)
                self.assertIn("configuration test failed", err)
                self.assertNotIn("configuration OK", p.stdout.decode())
        ini = write_file(os.path.join(self.tmp, "log.ini"),
                         "[server]\nroot = www\naccess_log = %s\n" % os.path.join(self.tmp, "nope", "a.log"))
        p = run(["--test-config", "--config", ini])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("cannot open the access log", p.stderr.decode())

    def test_test_config_bad_key(self):
        ini = write_file(os.path.join(self.tmp, "bad.ini"),
                         "[server]\nroot = www\nno_such_key = 1\n")
        p = run(["--test-config", "--config", ini])
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertIn("bad.ini:3", err)
        self.assertIn("no_such_key", err)

    def test_test_config_syntax_error(self):
        ini = write_file(os.path.join(self.tmp, "syntax.ini"), "[server]\nroot = www\n\nthis is not ini\n")
        p = run(["--test-config", "--config", ini])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("syntax.ini:4", p.stderr.decode())

    def test_test_config_bad_values(self):
        cases = [("[server]\nroot = www\nworkers = 8:2\n", 3),
                 ("[server]\nroot = www\nlisten = 127.0.0.1:99999\n", 3),
                 ("[server]\nroot = www\n[limits]\nmax_body = lots\n", 4),
                 ("[server]\nroot = www\n[timeouts]\nheader = soon\n", 4),
                 ("[server]\nroot = missing-dir\n", 2),
                 ("[nosuchsection]\nx = 1\n", 1)]
        for i, (text, line) in enumerate(cases):
            with self.subTest(text=text):
                ini = write_file(os.path.join(self.tmp, "v%d.ini" % i), text)
                p = run(["--test-config", "--config", ini])
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("v%d.ini:%d" % (i, line), p.stderr.decode())

    def test_missing_config_file(self):
        p = run(["--test-config", "--config", os.path.join(self.tmp, "absent.ini")])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("absent.ini", p.stderr.decode())

    def test_missing_root(self):
        missing = os.path.join(self.tmp, "no-such-root")
        p = run(["--listen", "127.0.0.1:%d" % free_port(), "--root", missing])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no-such-root", p.stderr.decode())

    def test_missing_scripts_dir_and_handler(self):
        p = run(["--test-config", "--root", self.root, "--scripts", "/s=" + os.path.join(self.tmp, "nodir")])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nodir", p.stderr.decode())
        p = run(["--test-config", "--root", self.root, "--map", ".isa=" + os.path.join(self.tmp, "nohandler.so")])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nohandler.so", p.stderr.decode())

    def test_bad_options(self):
        for args in (["--workers", "8:2"], ["--listen", "nonsense"], ["--threads", "-1"],
                     ["--max-body", "12q"], ["--header-timeout", "x"]):
            with self.subTest(args=args):
                p = run(["--test-config", "--root", self.root] + args)
                self.assertNotEqual(p.returncode, 0)
                self.assertTrue(p.stderr.strip(), "no message")

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            p = run(["--listen", "127.0.0.1:%d" % port, "--root", self.root], timeout=15)
            self.assertNotEqual(p.returncode, 0)
            err = p.stderr.decode()
            self.assertIn(str(port), err)
            self.assertRegex(err.lower(), r"in use|eaddrinuse")
        finally:
            s.close()


class ConfigFileTest(unittest.TestCase):
    def test_config_file_serves(self):
        ini = ("[server]\nlisten = 127.0.0.1:{port}\nroot = {root}\nthreads = 1\nworkers = 2:4\n"
               "[scripts]\n/cgi = {scripts}\n")
        with Server(files={"index.html": "<p>from ini</p>\n"}, scripts={"hello.so": fixture("vars")},
                    base_args=False, config=ini) as srv:
            self.assertEqual(srv.get("/").body, b"<p>from ini</p>\n")
            r = srv.get("/cgi/hello.dll")
            self.assertEqual(r.status, 200)
            self.assertIn("ecb.method=GET", r.text())

    def test_relative_paths_in_file(self):
        # Paths in the file are relative to the file's directory.
        ini = "[server]\nlisten = 127.0.0.1:{port}\nroot = www\n[scripts]\n/s = scripts\n"
        with Server(files={"a.txt": "rel\n"}, scripts={"v.so": fixture("vars")}, base_args=False,
                    config=ini) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"rel\n")
            self.assertEqual(srv.get("/s/v.dll").status, 200)

    def test_command_line_overrides_file(self):
        ini = "[server]\nlisten = 127.0.0.1:1\nroot = /nonexistent-root-dir\n[limits]\nmax_body = 10\n"
        with Server(files={"a.txt": "cli wins\n"}, scripts={"echo.so": fixture("echo")}, config=ini,
                    args=["--max-body", "100"]) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"cli wins\n")
            r = srv.request("POST", "/scripts/echo.dll", body=b"x" * 50)
            self.assertEqual((r.status, r.body), (200, b"x" * 50))
            r = srv.request("POST", "/scripts/echo.dll", body=b"x" * 150)
            self.assertEqual(r.status, 413)

    def test_limits_and_maps_from_file(self):
        ini = ("[server]\nlisten = 127.0.0.1:{port}\nroot = {root}\n"
               "[limits]\nmax_body = 1k\nread_ahead = 100\n"
               "[maps]\n.isa = " + fixture("vars") + "\n"
               "[scripts]\n/scripts = {scripts}\n")
        with Server(files={"p.isa": "x"}, scripts={"echo.so": fixture("echo")}, base_args=False,
                    config=ini) as srv:
            self.assertEqual(srv.request("POST", "/scripts/echo.dll", body=b"y" * 2000).status, 413)
            r = srv.request("POST", "/scripts/echo.dll", body=b"y" * 1000)
            self.assertEqual((r.status, r.body), (200, b"y" * 1000))
            self.assertLessEqual(int(r.header("X-Available")), 100)
            r = srv.get("/p.isa")
            self.assertEqual(r.kv().get("PATH_TRANSLATED"), os.path.join(srv.root, "p.isa"))


class ListenTest(unittest.TestCase):
    def test_two_listen_addresses(self):
        port2 = free_port()
        with Server(files={"a.txt": "two\n"}, args=["--listen", "127.0.0.1:%d" % port2]) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"two\n")
            self.assertEqual(request(port2, "GET", "/a.txt").body, b"two\n")

    def test_ipv6_loopback(self):
        try:
            port6 = free_port(socket.AF_INET6, "::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        with Server(files={"a.txt": "six\n"}, scripts={"vars.so": fixture("vars")},
                    args=["--listen", "[::1]:%d" % port6]) as srv:
            with RawConn(port6, host="::1", family=socket.AF_INET6) as c:
                self.assertEqual(c.request("GET", "/a.txt").body, b"six\n")
                kv = c.request("GET", "/scripts/vars.dll").kv()
                self.assertEqual(kv.get("REMOTE_ADDR"), "::1")
                self.assertEqual(kv.get("SERVER_PORT"), str(port6))
                # Each connection's local address is its own listener's (taken from the
                # listener, not asked of the socket, when the listener names an address).
                self.assertEqual(kv.get("LOCAL_ADDR"), "::1")
            kv = srv.get("/scripts/vars.dll").kv()
            self.assertEqual((kv.get("LOCAL_ADDR"), kv.get("SERVER_PORT")), ("127.0.0.1", str(srv.port)))

    def test_option_equals_form_and_stdout_log(self):
        with Server(files={"a.txt": "eq\n"}, access_log=False, args=["--threads=2", "--access-log=-"]) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"eq\n")
            wait_for(lambda: '"GET /a.txt HTTP/1.1" 200 3' in srv.stdout(), 5, message="access log on stdout")

    def test_server_name(self):
        with Server(files={"index.html": "<p>i</p>\n"}, scripts={"vars.so": fixture("vars")},
                    args=["--server-name", "it.example"]) as srv:
            with srv.conn() as c:
                kv = c.request("GET", "/scripts/vars.dll", version="HTTP/1.0", host=False).kv()
                self.assertEqual(kv.get("SERVER_NAME"), "it.example")
            with srv.conn() as c:
                kv = c.request("GET", "/scripts/vars.dll", {"Host": "named.example:81"}).kv()
                self.assertEqual(kv.get("SERVER_NAME"), "named.example")

    def test_send_url(self):
        # HSE_REQ_SEND_URL: served internally by default (and with --send-url internal),
        # IIS 6's 302 with --send-url-redirect (docs/isapi.md).
        for args in ([], ["--send-url", "internal"]):
            with self.subTest(args=args):
                with Server(files={"index.html": "<p>i</p>\n"}, scripts={"ssf.so": fixture("ssf")},
                            args=args) as srv:
                    r = srv.get("/scripts/ssf.dll?op=sendurl&url=/index.html")
                    self.assertEqual((r.status, r.body), (200, b"<p>i</p>\n"))
        # An extension URL runs as a child request whose response is this one; the connection
        # stays usable.
        with Server(files={"index.html": "<p>i</p>\n"},
                    scripts={"ssf.so": fixture("ssf"), "vars.so": fixture("vars")}) as srv:
            with srv.conn() as c:
                r = c.request("GET", "/scripts/ssf.dll?op=sendurl&url=/scripts/vars.dll/pi%3Fq%3D1")
                self.assertEqual(r.status, 200)
                kv = r.kv()
                self.assertEqual(kv.get("REQUEST_METHOD"), "GET")
                self.assertEqual(kv.get("PATH_INFO"), "/pi")
                r2 = c.request("GET", "/index.html")
                self.assertEqual((r2.status, r2.body), (200, b"<p>i</p>\n"))
        with Server(files={"index.html": "<p>i</p>\n"}, scripts={"ssf.so": fixture("ssf")},
                    args=["--send-url-redirect"]) as srv:
            r = srv.get("/scripts/ssf.dll?op=sendurl&url=/index.html")
            self.assertEqual(r.status, 302)
            self.assertTrue(r.header("Location", "").endswith("/index.html"))


if __name__ == "__main__":
    main()
