"""ISAPI filters (--filter FILE.so, INI [filters]; docs/sdk.md "Filters"): loading, the order of
the notifications for static files and extensions, priorities, every SF_STATUS_* return, the
callbacks and SF_REQ_* codes, per-connection state, the LOG notification, containment of a
crashing filter, and the three example filters.

Fixtures: tests/fixtures/filt_trace.c (logs every notification; priority and returns from the
environment, per copy: a copy named trace_a.so reads FILT_TRACE_*_TRACE_A), filt_cb.c (the
callbacks, driven by ?cb=OP), filt_crash.c (crashes on a url with "crashme"), filt_failver.c
(GetFilterVersion FALSE), vars.c (an extension that prints server variables). Examples:
examples/filter_rewrite.c, filter_basicauth.c, filter_headers.c, each with its INI file beside
the .so."""

import base64
import os
import re
import resource
import shutil
import subprocess
import tempfile
import unittest

from harness import (EventFile, Server, binary, build_request, example, fixture, free_port, sanitizer_env_no_segv_handler,
                     main, wait_for)

WORKER_LINE = re.compile(r"\[error\] worker (\d+) killed by signal (\d+) \((\w+)\)(.*); worker (\d+) replaces it$")

# The order IIS documents for one request (READ_RAW_DATA, when the host gives it, comes first;
# ACCESS_DENIED only on a denial; URL_MAP and SEND_RAW_DATA may repeat).
ORDER = ["PREPROC_HEADERS", "URL_MAP", "AUTHENTICATION", "AUTH_COMPLETE", "SEND_RESPONSE",
         "SEND_RAW_DATA", "END_OF_REQUEST", "LOG"]

ERROR_ACCESS_DENIED = 5
ERROR_FILE_NOT_FOUND = 2
ERROR_GEN_FAILURE = 31
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INSUFFICIENT_BUFFER = 122
ERROR_INVALID_INDEX = 1413

FILES = {"a.txt": "hello\n", "b.txt": "other file\n", "dir/x.txt": "x\n", "emptydir/.keep": ""}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def collapse(names):
    """Consecutive repeats (several URL_MAP or SEND_RAW_DATA) as one."""
    out = []
    for n in names:
        if not out or out[-1] != n:
            out.append(n)
    return out



class FilterTestBase(unittest.TestCase):
    def setUp(self):
        self.fdir = tempfile.mkdtemp(prefix="isapid-filters-")

    def tearDown(self):
        shutil.rmtree(self.fdir, ignore_errors=True)

    def install(self, name, src, ini=None):
        """Copies the filter src as FDIR/NAME.so (its INI beside it); returns the path."""
        path = os.path.join(self.fdir, name + ".so")
        shutil.copy(src, path)
        if ini is not None:
            with open(os.path.join(self.fdir, name + ".ini"), "w") as f:
                f.write(ini)
        return path

    def server(self, filters, env=None, args=(), scripts=None, files=None, **kw):
        """filters: [(name, src) or (name, src, ini)], loaded in this order."""
        fargs = []
        for f in filters:
            fargs += ["--filter", self.install(*f)]
        e = {"FILT_TRACE_LOG": "{tmp}/trace.events", "FILT_CB_LOG": "{tmp}/cb.events"}
        e.update(env or {})
        return Server(files=FILES if files is None else files,
                      scripts=scripts if scripts is not None else {"vars.so": fixture("vars"),
                                                                   "hello.so": example("hello")},
                      env=e, args=fargs + list(args), **kw)

    @staticmethod
    def trace(srv):
        return EventFile(os.path.join(srv.tmp, "trace.events"))

    @staticmethod
    def cb(srv):
        return EventFile(os.path.join(srv.tmp, "cb.events"))

    def conn_of(self, events, url, f="filt_trace"):
        """The conn number filter f gave the connection whose request had this url."""
        ev = events.wait(f=f, n="PREPROC_HEADERS", url=url)
        return ev[0]["conn"]

    def names_for(self, events, conn, f="filt_trace", req=None):
        """The notifications filter f got on connection conn (of request req), in order."""
        out = []
        for e in events.all():
            if e.get("f") == f and e.get("conn") == conn and (req is None or e.get("req") in (None, str(req))):
                out.append(e["n"])
        return out

    def assert_order(self, names, expected):
        raw = [n for n in names if n == "READ_RAW_DATA"]
        if raw:
            first_other = next(i for i, n in enumerate(names) if n != "READ_RAW_DATA")
            self.assertTrue(all(n == "READ_RAW_DATA" for n in names[:first_other]), names)
        self.assertEqual(collapse([n for n in names if n != "READ_RAW_DATA"]), expected, names)


class LoadingTest(FilterTestBase):
    def test_version_reported_and_terminate_at_shutdown(self):
        srv = self.server([("filt_trace", fixture("filt_trace"))])
        with srv:
            ev = self.trace(srv).wait(n="VERSION")
            self.assertEqual(ev[0]["server"], "0x60000")
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            self.assertEqual(srv.stop(), 0)
            self.trace(srv).wait(n="TERMINATE", flags="0")

    def test_ini_filters_section_loads_in_file_order(self):
        a = self.install("trace_a", fixture("filt_trace"))
        b = self.install("trace_b", fixture("filt_trace"))
        ini = "[filters]\nsecond = %s\nfirst = %s\n" % (b, a)
        with Server(files=FILES, config=ini, env={"FILT_TRACE_LOG": "{tmp}/trace.events"}) as srv:
            self.assertEqual(srv.get("/a.txt").status, 200)
            ev = self.trace(srv).wait(n="PREPROC_HEADERS", count=2)
            # equal priority: load order, which is the file's order
            self.assertEqual([e["f"] for e in ev[:2]], ["trace_b", "trace_a"])

    def test_getfilterversion_false_refuses_to_start(self):
        path = self.install("filt_failver", fixture("filt_failver"))
        root = os.path.join(self.fdir, "www")
        os.makedirs(root)
        p = subprocess.run([binary(), "--listen", "127.0.0.1:%d" % free_port(), "--root", root,
                            "--filter", path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode("utf-8", "replace")
        self.assertIn("filt_failver", err)
        self.assertIn("GetFilterVersion", err)

    def test_test_config_checks_the_filter_file(self):
        root = os.path.join(self.fdir, "www")
        os.makedirs(root)
        missing = os.path.join(self.fdir, "no_such_filter.so")
        p = subprocess.run([binary(), "--test-config", "--root", root, "--filter", missing],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no_such_filter.so", p.stderr.decode("utf-8", "replace"))
        present = self.install("filt_trace", fixture("filt_trace"))
        p = subprocess.run([binary(), "--test-config", "--root", root, "--filter", present],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_port_bits(self):
        # isapid has no TLS: a SECURE-only filter gets nothing; one with neither bit gets all.
        with self.server([("trace_sec", fixture("filt_trace")), ("trace_none", fixture("filt_trace"))],
                         env={"FILT_TRACE_PORTS_TRACE_SEC": "SECURE", "FILT_TRACE_PORTS_TRACE_NONE": "NONE"}) as srv:
            self.assertEqual(srv.get("/a.txt").status, 200)
            ev = self.trace(srv).wait(f="trace_none", n="LOG")
            self.assertEqual(ev[0]["status"], "200")
            self.assertEqual(self.trace(srv).find(f="trace_sec", n="PREPROC_HEADERS"), [])
            self.assertEqual(self.trace(srv).find(f="trace_none", n="PREPROC_HEADERS")[0]["secure"], "0")


class OrderTest(FilterTestBase):
    def run_one(self, srv, path):
        with srv.conn() as c:
            r = c.request("GET", path)
        conn = self.conn_of(self.trace(srv), path)
        self.trace(srv).wait(n="END_OF_NET_SESSION", conn=conn)
        return r, conn

    def test_static_file(self):
        with self.server([("filt_trace", fixture("filt_trace"))]) as srv:
            r, conn = self.run_one(srv, "/a.txt")
            self.assertEqual(r.body, b"hello\n")
            names = self.names_for(self.trace(srv), conn)
            self.assert_order(names, ORDER + ["END_OF_NET_SESSION"])
            ev = self.trace(srv)
            pre = ev.find(n="PREPROC_HEADERS", conn=conn)[0]
            self.assertEqual((pre["url"], pre["method"], pre["version"], pre["host"], pre["size_ok"], pre["rev"]),
                             ("/a.txt", "GET", "HTTP/1.1", "127.0.0.1", "1", "0x60000"))
            umap = ev.find(n="URL_MAP", conn=conn)[0]
            self.assertEqual(umap["url"], "/a.txt")
            self.assertEqual(os.path.realpath(umap["path"]), os.path.realpath(os.path.join(srv.root, "a.txt")))
            self.assertGreaterEqual(int(umap["cb"]), 260)
            auth = ev.find(n="AUTHENTICATION", conn=conn)[0]
            self.assertEqual(auth["user"], "-")   # anonymous
            self.assertGreaterEqual(int(auth["cbuser"]), 257)
            self.assertEqual(ev.find(n="SEND_RESPONSE", conn=conn)[0]["status"], "200")
            self.assertEqual(ev.find(n="SEND_RESPONSE", conn=conn)[0]["statusline"], "200+OK")
            raw = ev.find(n="SEND_RAW_DATA", conn=conn)
            self.assertEqual(raw[0]["http"], "1")     # the head block first
            self.assertEqual(sum(int(e["bytes"]) for e in raw), len(r.raw_head) + len(r.body))
            log = ev.find(n="LOG", conn=conn)[0]
            self.assertEqual((log["status"], log["target"], log["op"]), ("200", "/a.txt", "GET"))
            self.assertEqual(len(ev.find(n="END_OF_NET_SESSION", conn=conn)), 1)

    def test_extension(self):
        with self.server([("filt_trace", fixture("filt_trace"))]) as srv:
            r, conn = self.run_one(srv, "/scripts/hello.dll")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"Hello, world!\n")
            names = self.names_for(self.trace(srv), conn)
            self.assert_order(names, ORDER + ["END_OF_NET_SESSION"])
            raw = self.trace(srv).find(n="SEND_RAW_DATA", conn=conn)
            self.assertEqual(raw[0]["http"], "1")
            self.assertEqual(sum(int(e["bytes"]) for e in raw), len(r.raw_head) + len(r.body))

    def test_read_raw_data_of_head_and_read_ahead(self):
        with self.server([("filt_trace", fixture("filt_trace"))]) as srv:
            req = build_request("POST", "/scripts/hello.dll", body=b"abcdefg")
            with srv.conn() as c:
                c.send(req)
                self.assertEqual(c.read_response().status, 200)
            conn = self.conn_of(self.trace(srv), "/scripts/hello.dll")
            self.trace(srv).wait(n="END_OF_NET_SESSION", conn=conn)
            names = self.names_for(self.trace(srv), conn)
            self.assertEqual(names[:3], ["READ_RAW_DATA", "READ_RAW_DATA", "PREPROC_HEADERS"], names)
            raw = self.trace(srv).find(n="READ_RAW_DATA", conn=conn)
            self.assertEqual([int(e["bytes"]) for e in raw], [len(req) - 7, 7])

    def test_url_map_on_each_map_url_to_path(self):
        scripts = {"ssf.so": fixture("ssf")}
        with self.server([("filt_trace", fixture("filt_trace"))], scripts=scripts) as srv:
            path = "/scripts/ssf.dll?op=map&url=/b.txt"
            r, conn = self.run_one(srv, path)
            self.assertEqual(r.status, 200)
            maps = self.trace(srv).find(n="URL_MAP", conn=conn)
            self.assertIn("/b.txt", [m["url"] for m in maps], maps)
            self.assertGreaterEqual(len(maps), 2, maps)

    def test_every_response_reaches_send_response(self):
        with self.server([("filt_trace", fixture("filt_trace"))]) as srv:
            for path, status in (("/missing.txt", 404), ("/dir", 301), ("/emptydir/", 403)):
                with self.subTest(path=path):
                    r, conn = self.run_one(srv, path)
                    self.assertEqual(r.status, status)
                    ev = self.trace(srv).find(n="SEND_RESPONSE", conn=conn)
                    self.assertEqual([e["status"] for e in ev], [str(status)])
                    self.assertEqual(self.trace(srv).find(n="LOG", conn=conn)[0]["status"], str(status))
                    names = self.names_for(self.trace(srv), conn)
                    if status == 403:   # a denial: ACCESS_DENIED before the head goes out
                        self.assertIn("ACCESS_DENIED", names)
                        self.assertLess(names.index("ACCESS_DENIED"), names.index("SEND_RESPONSE"))
                        denied = self.trace(srv).find(n="ACCESS_DENIED", conn=conn)[0]
                        self.assertEqual(denied["url"], path)
                    else:
                        self.assertNotIn("ACCESS_DENIED", names)

    def test_errors_of_the_head_never_reach_filters(self):
        with self.server([("filt_trace", fixture("filt_trace"))]) as srv:
            with srv.conn() as c:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
                r = c.read_response()
            self.assertEqual(r.status, 400)
            with srv.conn() as c:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
                r = c.read_response()
            self.assertEqual(r.status, 431)     # over the default --max-header-size, 16 KiB
            self.assertEqual(srv.get("/b.txt").status, 200)
            self.trace(srv).wait(n="LOG", target="/b.txt")
            for e in self.trace(srv).all():
                self.assertNotIn(e.get("status"), ("400", "431"), e)
                self.assertFalse(e.get("n") == "PREPROC_HEADERS" and e.get("url") == "/a.txt", e)

    def test_priority_order_and_send_raw_data_reversed(self):
        filters = [("trace_low", fixture("filt_trace")), ("trace_high", fixture("filt_trace")),
                   ("trace_tie", fixture("filt_trace")), ("trace_med", fixture("filt_trace"))]
        env = {"FILT_TRACE_PRIORITY_TRACE_LOW": "LOW", "FILT_TRACE_PRIORITY_TRACE_HIGH": "HIGH",
               "FILT_TRACE_PRIORITY_TRACE_MED": "MEDIUM", "FILT_TRACE_PRIORITY_TRACE_TIE": "NONE"}
        with self.server(filters, env=env) as srv:
            self.assertEqual(srv.get("/a.txt").status, 200)
            ev = self.trace(srv)
            ev.wait(n="LOG", count=4)
            order = ["trace_high", "trace_med", "trace_low", "trace_tie"]
            for n in ("PREPROC_HEADERS", "URL_MAP", "SEND_RESPONSE", "END_OF_REQUEST", "LOG"):
                with self.subTest(n=n):
                    self.assertEqual([e["f"] for e in ev.find(n=n)][:4], order)
            raw = [e["f"] for e in ev.find(n="SEND_RAW_DATA")]
            self.assertEqual(raw[:4], list(reversed(order)))


class StatusTest(FilterTestBase):
    """Each SF_STATUS_* value (ISAPI-FILTERS.md §2.4); trace_a (HIGH) acts, trace_b (LOW) watches."""

    def two(self, ret, match=None):
        env = {"FILT_TRACE_PRIORITY_TRACE_A": "HIGH", "FILT_TRACE_RETURN_TRACE_A": ret}
        if match:
            env["FILT_TRACE_MATCH_TRACE_A"] = match
        return self.server([("trace_b", fixture("filt_trace")), ("trace_a", fixture("filt_trace"))], env=env)

    def test_handled_skips_lower_filters_for_that_notification(self):
        with self.two("SEND_RESPONSE=HANDLED") as srv:
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            ev = self.trace(srv)
            ev.wait(f="trace_b", n="LOG")
            self.assertEqual(len(ev.find(f="trace_a", n="SEND_RESPONSE")), 1)
            self.assertEqual(ev.find(f="trace_b", n="SEND_RESPONSE"), [])
            self.assertTrue(ev.find(f="trace_b", n="SEND_RAW_DATA"))
            self.assertTrue(ev.find(f="trace_b", n="END_OF_REQUEST"))

    def test_finished_answers_and_closes(self):
        with self.two("PREPROC_HEADERS=FINISHED") as srv:
            with srv.conn() as c:
                r = c.request("GET", "/a.txt")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"answered by trace_a\n")
                self.assertTrue(c.wait_closed(5)[0])
            ev = self.trace(srv)
            conn = self.conn_of(ev, "/a.txt", f="trace_a")
            ev.wait(f="trace_a", n="END_OF_NET_SESSION", conn=conn)
            names = self.names_for(ev, conn, f="trace_a")
            for n in ("URL_MAP", "AUTHENTICATION", "AUTH_COMPLETE"):
                self.assertNotIn(n, names)
            for n in ("END_OF_REQUEST", "LOG", "END_OF_NET_SESSION"):
                self.assertIn(n, names)
            self.assertEqual(ev.find(f="trace_b", n="PREPROC_HEADERS"), [])
            self.assertEqual(ev.find(f="trace_b", n="URL_MAP"), [])

    def test_finished_keep_conn_keeps_the_connection(self):
        with self.two("PREPROC_HEADERS=FINISHED_KEEP_CONN", match="finishme") as srv:
            with srv.conn() as c:
                r = c.request("GET", "/a.txt?finishme")
                self.assertEqual(r.body, b"answered by trace_a\n")
                r = c.request("GET", "/a.txt")
                self.assertEqual(r.body, b"hello\n")

    def test_error_status_from_last_error(self):
        for err, status in ((ERROR_ACCESS_DENIED, 401), (ERROR_FILE_NOT_FOUND, 404), (ERROR_GEN_FAILURE, 500)):
            with self.subTest(err=err):
                with self.two("PREPROC_HEADERS=ERROR:%d" % err) as srv:
                    with srv.conn() as c:
                        r = c.request("GET", "/a.txt")
                    self.assertEqual(r.status, status)
                    self.assertNotEqual(r.body, b"hello\n")
                    ev = self.trace(srv)
                    ev.wait(f="trace_a", n="LOG", status=status)
                    self.assertEqual(ev.find(f="trace_a", n="URL_MAP"), [])

    def test_error_401_passes_access_denied(self):
        with self.two("PREPROC_HEADERS=ERROR:%d" % ERROR_ACCESS_DENIED) as srv:
            self.assertEqual(srv.get("/a.txt").status, 401)
            ev = self.trace(srv)
            ev.wait(f="trace_b", n="LOG")
            names = [e["n"] for e in ev.all() if e.get("f") == "trace_b" and e["n"] not in ("VERSION", "READ_RAW_DATA")]
            self.assertIn("ACCESS_DENIED", names)
            self.assertLess(names.index("ACCESS_DENIED"), names.index("SEND_RESPONSE"))

    def test_read_next_outside_raw_reads_is_next(self):
        with self.two("PREPROC_HEADERS=READ_NEXT") as srv:
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            self.trace(srv).wait(f="trace_b", n="PREPROC_HEADERS")

    def test_url_map_may_change_the_physical_path(self):
        env = {"FILT_TRACE_MAPTO": "{root}/b.txt", "FILT_TRACE_MATCH": "a.txt"}
        with self.server([("filt_trace", fixture("filt_trace"))], env=env) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"other file\n")

    def test_authentication_decoded_and_changeable(self):
        env = {"FILT_TRACE_SETUSER": "bob:pw2", "FILT_TRACE_MATCH": "setuser"}
        with self.server([("filt_trace", fixture("filt_trace"))], env=env) as srv:
            names = "AUTH_USER,REMOTE_USER,AUTH_TYPE,AUTH_PASSWORD"
            r = srv.get("/scripts/vars.dll?names=" + names, headers={"Authorization": basic("alice", "s e")})
            kv = r.kv()
            self.assertEqual((kv.get("AUTH_USER"), kv.get("REMOTE_USER"), kv.get("AUTH_TYPE")),
                             ("alice", "alice", "Basic"), r.text())
            auth = self.trace(srv).wait(n="AUTHENTICATION")[0]
            self.assertEqual((auth["user"], auth["pw"]), ("alice", "s+e"))
            r = srv.get("/scripts/vars.dll?setuser&names=" + names, headers={"Authorization": basic("alice", "x")})
            kv = r.kv()
            self.assertEqual((kv.get("AUTH_USER"), kv.get("REMOTE_USER"), kv.get("AUTH_PASSWORD")),
                             ("bob", "bob", "pw2"), r.text())


class CallbackTest(FilterTestBase):
    def srv(self, **kw):
        return self.server([("filt_cb", fixture("filt_cb"))], **kw)

    def test_context_and_allocmem_across_keep_alive(self):
        with self.srv() as srv:
            with srv.conn() as c:
                for path in ("/a.txt", "/scripts/hello.dll", "/b.txt"):
                    self.assertEqual(c.request("GET", path).status, 200)
            ev = self.cb(srv)
            eons = ev.wait(n="END_OF_NET_SESSION", reqs=3)
            conn = eons[0]["conn"]
            self.assertEqual((eons[0]["intact"], eons[0]["ctx"]), ("1", "1"))
            ends = ev.find(n="END_OF_REQUEST", conn=conn)
            self.assertEqual([(e["req"], e["intact"], e["ctx"]) for e in ends],
                             [("1", "1", "1"), ("2", "1", "1"), ("3", "1", "1")])
            with srv.conn() as c2:
                self.assertEqual(c2.request("GET", "/a.txt").status, 200)
            ev.wait(n="END_OF_NET_SESSION", count=2)
            by_conn = {}
            for e in ev.find(n="END_OF_NET_SESSION"):
                by_conn[e["conn"]] = by_conn.get(e["conn"], 0) + 1
            self.assertTrue(all(v == 1 for v in by_conn.values()), by_conn)

    def test_get_server_variable(self):
        with self.srv() as srv:
            r = srv.get("/a.txt?cb=vars", headers={"X-Cb": "hello there"})
            self.assertEqual(r.status, 200)
            ev = self.cb(srv)
            ev.wait(name="URL.small")
            v = {e["name"]: e for e in ev.find(call="var")}
            self.assertEqual(v["URL"]["value"], "/a.txt")
            self.assertEqual(v["QUERY_STRING"]["value"], "cb=vars")
            self.assertEqual(v["REQUEST_METHOD"]["value"], "GET")
            self.assertEqual(v["SERVER_PORT"]["value"], str(srv.port))
            self.assertEqual(v["REMOTE_ADDR"]["value"], "127.0.0.1")
            self.assertEqual(v["HTTPS"]["value"], "off")
            self.assertEqual(v["SERVER_PORT_SECURE"]["value"], "0")
            self.assertEqual(v["INSTANCE_ID"]["value"], "1")
            self.assertEqual(v["HTTP_X_CB"]["value"], "hello+there")
            self.assertEqual(v["HEADER_X-Cb"]["value"], "hello+there")
            self.assertEqual(v["HTTP_URL"]["value"], "/a.txt?cb=vars")
            self.assertEqual((v["NO_SUCH_VARIABLE"]["ok"], v["NO_SUCH_VARIABLE"]["err"]),
                             ("0", str(ERROR_INVALID_INDEX)))
            small = v["URL.small"]
            self.assertEqual((small["ok"], small["err"], small["need"]),
                             ("0", str(ERROR_INSUFFICIENT_BUFFER), str(len("/a.txt") + 1)))

    def test_get_server_variable_of_an_absent_header(self):
        # ERROR_INVALID_INDEX, as IIS and the code written for it expect (ISAPI-FILTERS.md §5.1)
        with self.srv() as srv:
            self.assertEqual(srv.get("/a.txt?cb=vars").status, 200)
            ev = self.cb(srv)
            ev.wait(name="URL.small")
            v = {e["name"]: e for e in ev.find(call="var")}
            for name in ("HTTP_X_ABSENT", "HEADER_X-Absent"):
                self.assertEqual((v[name]["ok"], v[name]["err"]), ("0", str(ERROR_INVALID_INDEX)), name)

    def test_request_headers_get_set_add_delete(self):
        with self.srv() as srv:
            path = "/scripts/vars.dll?names=HTTP_X_CB_SET,HTTP_X_CB_ADD,HTTP_USER_AGENT,HTTP_URL&cb=hdrs"
            r = srv.get(path, headers={"User-Agent": "agent/1"})
            kv = r.kv()
            self.assertEqual(kv.get("HTTP_X_CB_SET"), "v1", r.text())
            self.assertEqual(kv.get("HTTP_X_CB_ADD"), "v2", r.text())
            self.assertIn("HTTP_USER_AGENT!error", kv, r.text())
            self.assertEqual(kv.get("HTTP_URL"), path)
            hdr = {e["op"]: e for e in self.cb(srv).find(call="hdr")}
            self.assertEqual((hdr["get_small"]["ok"], hdr["get_small"]["err"], hdr["get_small"]["need"]),
                             ("0", str(ERROR_INSUFFICIENT_BUFFER), str(len(path) + 1)))
            self.assertEqual((hdr["get_absent"]["ok"], hdr["get_absent"]["err"]), ("0", str(ERROR_INVALID_INDEX)))
            for op in ("set", "add", "delete"):
                self.assertEqual(hdr[op]["ok"], "1", op)

    def test_add_response_headers_static_and_extension(self):
        with self.srv() as srv:
            for path in ("/a.txt?cb=addhdr", "/scripts/hello.dll?cb=addhdr", "/missing?cb=addhdr"):
                with self.subTest(path=path):
                    r = srv.get(path)
                    self.assertEqual(r.header("X-Cb-Added"), "yes", r)

    def test_write_client_and_finished(self):
        with self.srv() as srv:
            with srv.conn() as c:
                r = c.request("GET", "/a.txt?cb=write")
                self.assertEqual((r.status, r.body), (200, b"wrote\n"))
                self.assertTrue(c.wait_closed(5)[0])
            w = self.cb(srv).wait(call="write")[0]
            self.assertEqual((w["ok"], w["bytes"]), ("1", "89"))

    def test_send_response_header(self):
        with self.srv() as srv:
            with srv.conn() as c:
                r = c.request("GET", "/a.txt?cb=sendhead")
                self.assertEqual((r.status, r.get("X-Cb-Head"), r.body), (201, "1", b"head\n"))
                # the filter's own head goes through SEND_RESPONSE like every head
                self.cb(srv).wait(n="SEND_RESPONSE", req=1, status=201)
                r = c.request("GET", "/a.txt?cb=sendnull")   # FINISHED_KEEP_CONN kept it open
                self.assertEqual((r.status, r.body), (200, b"null\n"))
                self.assertEqual(r.reason, "OK")
                r = c.request("GET", "/a.txt")
                self.assertEqual(r.body, b"hello\n")

    def test_support_functions(self):
        with self.srv() as srv:
            self.assertEqual(srv.get("/a.txt?cb=ssf").status, 200)
            ev = self.cb(srv)
            ev.wait(call="ssf", req="UNKNOWN_999")
            s = {e["req"]: e for e in ev.find(call="ssf")}
            self.assertEqual((s["GET_CONNID"]["ok"], s["GET_CONNID"]["value"]), ("1", "0"))
            self.assertEqual((s["GET_PROPERTY.INSTANCE_NUM_ID"]["ok"], s["GET_PROPERTY.INSTANCE_NUM_ID"]["value"]),
                             ("1", "1"))
            self.assertEqual((s["GET_PROPERTY.SSL_CTXT"]["ok"], s["GET_PROPERTY.SSL_CTXT"]["err"]),
                             ("0", str(ERROR_NOT_SUPPORTED)))
            self.assertEqual((s["NORMALIZE_URL"]["ok"], s["NORMALIZE_URL"]["value"]), ("1", "/a/b/c+d"))
            self.assertEqual(s["SET_NEXT_READ_SIZE"]["ok"], "1")
            self.assertEqual(s["SET_PROXY_INFO"]["ok"], "1")
            self.assertEqual((s["SET_CERTIFICATE_INFO"]["ok"], s["SET_CERTIFICATE_INFO"]["err"]),
                             ("0", str(ERROR_NOT_SUPPORTED)))
            self.assertEqual((s["UNKNOWN_999"]["ok"], s["UNKNOWN_999"]["err"]), ("0", str(ERROR_INVALID_PARAMETER)))

    def test_add_headers_on_denial_only_on_401(self):
        with self.srv() as srv:
            r = srv.get("/a.txt?cb=deny")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.header("X-Cb-Denied"), "1")
            r = srv.get("/a.txt?cb=denyhdr")
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("X-Cb-Denied"))

    def test_disable_notifications_for_one_request(self):
        with self.srv() as srv:
            with srv.conn() as c:
                self.assertEqual(c.request("GET", "/a.txt?cb=disable").body, b"hello\n")
                self.assertEqual(c.request("GET", "/b.txt").body, b"other file\n")
            ev = self.cb(srv)
            eons = ev.wait(n="END_OF_NET_SESSION", reqs=2)
            conn = eons[0]["conn"]
            self.assertEqual(ev.find(n="SEND_RESPONSE", conn=conn, req=1), [])
            self.assertEqual(ev.find(n="SEND_RAW_DATA", conn=conn, req=1), [])
            self.assertEqual(len(ev.find(n="SEND_RESPONSE", conn=conn, req=2)), 1)
            self.assertTrue(ev.find(n="SEND_RAW_DATA", conn=conn, req=2))
            self.assertEqual(len(ev.find(n="END_OF_REQUEST", conn=conn)), 2)

    def test_send_response_status_editable(self):
        with self.srv() as srv:
            r = srv.get("/a.txt?cb=status")
            self.assertEqual(r.status, 203)
            self.assertEqual(r.header("X-Cb-Status"), "200 OK")
            self.assertEqual(r.body, b"hello\n")

    def test_log_edits_reach_the_access_log(self):
        with self.srv() as srv:
            self.assertEqual(srv.get("/a.txt?cb=logedit").status, 200)
            line = srv.wait_access_line(r'EDITED')
            self.assertIn(' cbuser [', line)
            self.assertIn('"EDITED /edited?p=1 HTTP/1.1" 299 ', line)

    def test_send_raw_data_replaceable(self):
        scripts = {"hello.so": example("hello"), "writer.so": example("writer")}
        with self.srv(scripts=scripts) as srv:
            for path, body in (("/a.txt?cb=upper", b"HELLO\n"), ("/scripts/hello.dll?cb=upper", b"HELLO, WORLD!\n"),
                               ("/scripts/writer.dll?mode=async&chunks=3&size=5&cb=upper", b"AAAAABBBBBCCCCC"),
                               ("/scripts/writer.dll?mode=sync&chunks=3&size=5&cb=upper", b"AAAAABBBBBCCCCC")):
                with self.subTest(path=path):
                    self.assertEqual(srv.get(path).body, body)

    def test_pipelined_requests(self):
        with self.srv() as srv:
            with srv.conn() as c:
                c.send(build_request("GET", "/a.txt?cb=addhdr") + build_request("GET", "/scripts/hello.dll")
                       + build_request("GET", "/b.txt?cb=addhdr"))
                rs = [c.read_response() for _ in range(3)]
            self.assertEqual([r.body for r in rs], [b"hello\n", b"Hello, world!\n", b"other file\n"])
            self.assertEqual([r.get("X-Cb-Added") for r in rs], ["yes", None, "yes"])
            ends = self.cb(srv).wait(n="END_OF_NET_SESSION", reqs=3)
            self.assertEqual(len(self.cb(srv).find(n="END_OF_REQUEST", conn=ends[0]["conn"])), 3)

    def test_many_connections_at_once(self):
        import threading
        with self.srv(threads=2) as srv:
            errors = []

            def client(i):
                try:
                    with srv.conn() as c:
                        for path in ("/a.txt?cb=addhdr", "/scripts/hello.dll", "/missing"):
                            r = c.request("GET", path)
                            if r.status not in (200, 404):
                                errors.append((i, path, r.status))
                except Exception as e:      # noqa: BLE001 - reported below
                    errors.append((i, repr(e)))
            ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            self.assertEqual(errors, [])
            eons = self.cb(srv).wait(n="END_OF_NET_SESSION", reqs=3, count=16, timeout=20)
            self.assertEqual(len({e["conn"] for e in eons}), len(eons))
            self.assertTrue(all(e["intact"] == "1" and e["ctx"] == "1" for e in eons), eons)


class CrashTest(FilterTestBase):
    def setUp(self):
        super().setUp()
        self.core_limit = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, self.core_limit[1]))

    def tearDown(self):
        resource.setrlimit(resource.RLIMIT_CORE, self.core_limit)
        super().tearDown()

    def test_crashing_filter_costs_its_worker_and_the_server_serves_again(self):
        with self.server([("filt_crash", fixture("filt_crash"))], env=sanitizer_env_no_segv_handler(), allow_leaks=True,
                         args=["--processes", "1"]) as srv:
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            before = srv.pid
            with srv.conn() as c:
                c.send(build_request("GET", "/crashme"))
                self.assertTrue(c.wait_closed(10)[0])
            line = wait_for(lambda: [m for m in (WORKER_LINE.search(l) for l in srv.stderr().splitlines()) if m],
                            10, message="the master's worker line")[0]
            self.assertEqual((int(line.group(1)), line.group(3)), (before, "SEGV"))
            after = int(line.group(5))
            wait_for(lambda: srv.worker_pids() == [after], 10, message="the new worker")
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            self.assertEqual(srv.get("/scripts/hello.dll").status, 200)


class ExampleRewriteTest(FilterTestBase):
    INI = "[rules]\n/app/ = /scripts/vars.dll/\n/old/ = /dir/\n"

    def test_rewrite_to_an_extension(self):
        with self.server([("filter_rewrite", example("filter_rewrite"), self.INI)]) as srv:
            path = "/app/x/y?names=HTTP_X_ORIGINAL_URL,URL,PATH_INFO,HTTP_URL"
            r = srv.get(path)
            self.assertEqual(r.status, 200, r)
            kv = r.kv()
            self.assertEqual(kv.get("HTTP_X_ORIGINAL_URL"), path, r.text())
            self.assertEqual(kv.get("PATH_INFO"), "/x/y", r.text())
            self.assertEqual(kv.get("HTTP_URL"), path, r.text())

    def test_rewrite_to_a_static_file_and_untouched_urls(self):
        with self.server([("filter_rewrite", example("filter_rewrite"), self.INI)]) as srv:
            self.assertEqual(srv.get("/old/x.txt").body, b"x\n")
            self.assertEqual(srv.get("/a.txt").body, b"hello\n")
            # a client's own X-Original-URL never reaches the extension
            r = srv.get("/scripts/vars.dll?names=HTTP_X_ORIGINAL_URL", headers={"X-Original-URL": "/forged"})
            self.assertIn("HTTP_X_ORIGINAL_URL!error", r.kv(), r.text())

    def test_log_shows_the_original_url(self):
        with self.server([("filter_rewrite", example("filter_rewrite"), self.INI)]) as srv:
            self.assertEqual(srv.get("/app/logged").status, 200)
            line = srv.wait_access_line(r'" 200 ')
            self.assertIn('"GET /app/logged HTTP/1.1"', line)
            self.assertNotIn("vars.dll", line)


class ExampleBasicAuthTest(FilterTestBase):
    def ini(self, prefix):
        return ("[users]\nalice = secret\nbob = hunter2\n[protect]\nprefix = %s\nrealm = test realm\n" % prefix)

    def test_static_files_under_the_prefix(self):
        files = dict(FILES, **{"private/s.txt": "secret page\n"})
        with self.server([("filter_basicauth", example("filter_basicauth"), self.ini("/private/"))],
                         files=files) as srv:
            for name, auth in (("none", None), ("wrong password", basic("alice", "nope")),
                               ("unknown user", basic("mallory", "secret")), ("bob's password", basic("alice", "hunter2"))):
                with self.subTest(name):
                    r = srv.get("/private/s.txt", headers={"Authorization": auth} if auth else None)
                    self.assertEqual(r.status, 401)
                    self.assertEqual(r.header("WWW-Authenticate"), 'Basic realm="test realm"')
                    self.assertNotIn(b"secret page", r.body)
            r = srv.get("/private/s.txt", headers={"Authorization": basic("alice", "secret")})
            self.assertEqual((r.status, r.body), (200, b"secret page\n"))
            # the prefix is compared as IIS compares URLs, without regard to case
            self.assertEqual(srv.get("/PRIVATE/s.txt").status, 401)
            # and decoded and normalised (URL), so an escape or a dot segment does not get past it
            for path in ("/%70rivate/s.txt", "/./private/s.txt", "/dir/../private/s.txt"):
                with self.subTest(path=path):
                    self.assertEqual(srv.get(path).status, 401)
            self.assertEqual(srv.get("/a.txt").status, 200)   # outside the prefix: anonymous is fine

    def test_extension_sees_the_user(self):
        with self.server([("filter_basicauth", example("filter_basicauth"), self.ini("/scripts/"))]) as srv:
            path = "/scripts/vars.dll?names=AUTH_USER,REMOTE_USER,AUTH_TYPE"
            self.assertEqual(srv.get(path).status, 401)
            r = srv.get(path, headers={"Authorization": basic("bob", "hunter2")})
            self.assertEqual(r.status, 200)
            kv = r.kv()
            self.assertEqual((kv.get("AUTH_USER"), kv.get("REMOTE_USER"), kv.get("AUTH_TYPE")),
                             ("bob", "bob", "Basic"), r.text())


class ExampleHeadersTest(FilterTestBase):
    INI = "[add]\nX-Frame-Options = DENY\nX-Example = added by filter\n[remove]\nServer\n"

    def test_every_response(self):
        with self.server([("filter_headers", example("filter_headers"), self.INI)]) as srv:
            for path, status in (("/a.txt", 200), ("/missing.txt", 404), ("/dir", 301),
                                 ("/scripts/hello.dll", 200)):
                with self.subTest(path=path):
                    with srv.conn() as c:
                        r = c.request("GET", path)
                    self.assertEqual(r.status, status)
                    self.assertEqual(r.get("X-Frame-Options"), "DENY", r)
                    self.assertEqual(r.get("X-Example"), "added by filter", r)
                    self.assertIsNone(r.get("Server"), r)

    def test_without_the_filter_the_server_header_is_there(self):
        # the check above can fail: the server does send Server itself
        with self.server([]) as srv:
            with srv.conn() as c:
                r = c.request("GET", "/a.txt")
            self.assertIsNotNone(r.get("Server"), r)
            self.assertIsNone(r.get("X-Frame-Options"))


if __name__ == "__main__":
    main()
