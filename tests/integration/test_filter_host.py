"""The ISAPI filter host (src/isapi/filter*.c), through copies of the probe fixture
(tests/fixtures/filterhost_probe.c), each configured by its PATH.conf: loading and priority
order, TerminateFilter, the notifications of a request and their order, url re-routing to an
extension, request headers, SEND_RESPONSE on every kind of response, pFilterContext across
keep-alive requests, END_OF_NET_SESSION, FINISHED_KEEP_CONN, SF_STATUS_REQ_ERROR, Basic
authentication, ACCESS_DENIED, and a crashing filter. The example filters have their own tests
(test_filters.py)."""

import base64
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import EventFile, RawConn, Server, binary, example, fixture, free_port, main, wait_for, sanitizer_env_no_segv_handler


class Filters:
    """Copies of the probe filter in a temp dir, with their .conf files."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="isapid-filters-")
        self.events = os.path.join(self.dir, "events")
        self.n = 0

    def add(self, name, **conf):
        self.n += 1
        path = os.path.join(self.dir, "%s.so" % name)
        shutil.copy(fixture("filterhost_probe"), path)
        lines = ["name=%s" % name, "events=%s" % self.events]
        lines += ["%s=%s" % (k, v) for k, v in conf.items()]
        with open(path + ".conf", "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def ev(self):
        return EventFile(self.events)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def args_for(paths):
    out = []
    for p in paths:
        out += ["--filter", p]
    return out


class FilterHostTest(unittest.TestCase):
    def setUp(self):
        self.f = Filters()
        self.addCleanup(self.f.cleanup)

    def test_priority_order_and_terminate(self):
        c = self.f.add("C")                 # no order bit: LOW, first in load order
        a = self.f.add("A", order="low")
        b = self.f.add("B", order="high")
        m = self.f.add("M", order="medium")
        srv = Server(files={"index.html": "i\n"}, args=args_for([c, a, b, m]))
        with srv:
            r = srv.get("/")
            self.assertEqual(r.status, 200)
            evs = self.f.ev().wait(count=4, ev="end_of_net_session")
            pre = [e["filter"] for e in self.f.ev().find(ev="preproc")]
            self.assertEqual(pre, ["B", "M", "C", "A"])
            loads = [e for e in self.f.ev().find(ev="load")]
            self.assertEqual([e["filter"] for e in loads], ["C", "A", "B", "M"])
            self.assertTrue(all(e["server_version"] == "00060000" for e in loads))
            self.assertEqual(len(evs), 4)
            self.assertEqual(self.f.ev().find(ev="terminate"), [])
        # after the stop: TerminateFilter(0) once each, in load order, after every session ended
        terms = self.f.ev().find(ev="terminate")
        self.assertEqual([e["filter"] for e in terms], ["C", "A", "B", "M"])
        self.assertTrue(all(e["flags"] == "0" for e in terms))
        kinds = [e["ev"] for e in self.f.ev().all()]
        self.assertLess(max(i for i, k in enumerate(kinds) if k == "end_of_net_session"),
                        kinds.index("terminate"))

    def test_notification_order_for_a_static_file(self):
        a = self.f.add("A")
        with Server(files={"index.html": "i\n"}, args=args_for([a])) as srv:
            with srv.conn() as c:
                r = c.request("GET", "/index.html")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"i\n")
            self.f.ev().wait(ev="end_of_net_session")
            kinds = [e["ev"] for e in self.f.ev().all() if e["ev"] != "load"]
            self.assertEqual(kinds, ["preproc", "url_map", "authentication", "auth_complete",
                                     "send_response", "end_of_request", "log",
                                     "end_of_net_session"])

    def test_send_response_on_every_response_and_context_across_keepalive(self):
        a = self.f.add("A", resp_header="X-Added: yes")
        srv = Server(files={"index.html": "i\n", "dir/index.html": "d\n"},
                     scripts={"vars.so": fixture("vars")}, args=args_for([a]))
        with srv:
            with srv.conn() as c:
                for n, (path, status) in enumerate([("/index.html", 200), ("/nothere", 404),
                                                    ("/dir", 301), ("/.hidden", 403),
                                                    ("/scripts/vars.dll", 200)], 1):
                    r = c.request("GET", path)
                    self.assertEqual(r.status, status, path)
                    self.assertEqual(r.get("X-Probe-A"), str(n), path)  # pFilterContext kept
                    self.assertEqual(r.get("X-Added"), "yes", path)
                    if status == 301:
                        self.assertEqual(r.get("Location"), "/dir/")
            evs = self.f.ev().wait(ev="end_of_net_session")
            self.assertEqual(evs[0]["requests"], "5")
            self.assertEqual([e["status"] for e in self.f.ev().find(ev="send_response")],
                             ["200", "404", "301", "403", "200"])

    def test_send_url_responses_pass_the_filters(self):
        a = self.f.add("A", resp_header="X-Added: yes")
        srv = Server(files={"index.html": "i\n"},
                     scripts={"ssf.so": fixture("ssf"), "vars.so": fixture("vars")},
                     args=args_for([a]))
        with srv:
            with srv.conn() as c:
                for url, body in (("/index.html", b"i\n"),
                                  ("/scripts/vars.dll%3Fnames%3DURL", b"URL=/scripts/vars.dll")):
                    r = c.request("GET", "/scripts/ssf.dll?op=sendurl&url=" + url)
                    self.assertEqual(r.status, 200, url)
                    self.assertIn(body, r.body, url)
                    self.assertEqual(r.get("X-Added"), "yes", url)  # SEND_RESPONSE of that head
            # one request each as the filters see it: the child raises no notifications of its own
            self.f.ev().wait(ev="end_of_net_session")
            self.assertEqual(len(self.f.ev().find(ev="preproc")), 2)
            self.assertEqual(len(self.f.ev().find(ev="end_of_request")), 2)
            self.assertEqual(len(self.f.ev().find(ev="send_response")), 2)

    def test_url_rewrite_to_an_extension(self):
        a = self.f.add("A", rewrite="/app/page?x=1 /scripts/vars.dll/pi?names=SCRIPT_NAME,"
                                    "HTTP_URL,QUERY_STRING,PATH_INFO,HTTP_X_FILTERED",
                       set_header="X-Filtered: by-A")
        srv = Server(files={"index.html": "i\n"}, scripts={"vars.so": fixture("vars")},
                     args=args_for([a]))
        with srv:
            r = srv.get("/app/page?x=1")
            self.assertEqual(r.status, 200, r)
            kv = r.kv()
            self.assertEqual(kv.get("SCRIPT_NAME"), "/scripts/vars.dll")
            self.assertEqual(kv.get("PATH_INFO"), "/pi")
            self.assertEqual(kv.get("HTTP_URL"), "/app/page?x=1")  # the raw original
            self.assertEqual(kv.get("QUERY_STRING"), "names=SCRIPT_NAME,HTTP_URL,QUERY_STRING,"
                                                     "PATH_INFO,HTTP_X_FILTERED")
            self.assertEqual(kv.get("HTTP_X_FILTERED"), "by-A")
            # a rewrite to a path that names nothing: 404; to a static file: the file
            self.assertEqual(srv.get("/app/other").status, 404)

        b = self.f.add("B", rewrite="/ct /scripts/vars.dll?names=CONTENT_TYPE,HTTP_CONTENT_TYPE",
                       set_header="Content-Type: text/x-filtered")
        with Server(scripts={"vars.so": fixture("vars")}, args=args_for([b])) as srv2:
            kv = srv2.request("POST", "/ct", headers={"Content-Type": "text/plain"}, body=b"x").kv()
            # a filter's Content-Type is the one the extension sees, in the ECB too
            self.assertEqual((kv.get("CONTENT_TYPE"), kv.get("HTTP_CONTENT_TYPE"),
                              kv.get("ecb.content_type")), ("text/x-filtered",) * 3)

    def test_rewrite_to_a_static_file(self):
        a = self.f.add("A", rewrite="/old /index.html")
        with Server(files={"index.html": "i\n"}, args=args_for([a])) as srv:
            r = srv.get("/old")
            self.assertEqual((r.status, r.body), (200, b"i\n"))

    def test_url_map_keeps_the_containment_rules(self):
        outside = os.path.join(self.f.dir, "outside.txt")
        with open(outside, "w") as f:
            f.write("secret\n")
        for target, status, body in (("{root}/b.txt", 200, b"b\n"), (outside, 403, None),
                                     ("{scripts}/vars.so", 403, None),
                                     ("{root}/missing", 404, None), ("{root}/sub/../b.txt", 200, b"b\n")):
            with self.subTest(target=target):
                self.f = Filters()
                self.addCleanup(self.f.cleanup)
                srv = Server(files={"a.txt": "a\n", "b.txt": "b\n", "sub/x": "x"},
                             scripts={"vars.so": fixture("vars")}, start=False)
                with srv:
                    a = self.f.add("A", mapto="/a.txt " + srv.subst(target))
                    srv.args = args_for([a])
                    srv.start()
                    r = srv.get("/a.txt")
                    self.assertEqual(r.status, status)
                    if body is not None:
                        self.assertEqual(r.body, body)
                    if status == 403:
                        srv.wait_stderr("a filter mapped the URL to")

    def test_finished_keep_conn(self):
        a = self.f.add("A", finish="/answer")
        with Server(files={"index.html": "i\n"}, args=args_for([a])) as srv:
            with srv.conn() as c:
                r = c.request("GET", "/answer")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"answered by the filter")
                self.assertEqual(r.get("X-Probe-A"), "1")  # SEND_RESPONSE of the filter's head
                r = c.request("GET", "/index.html")  # the connection was kept
                self.assertEqual((r.status, r.body), (200, b"i\n"))
            # the rest of the pipeline did not run for /answer, but the end did
            kinds = [e["ev"] for e in self.f.ev().all()]
            first = kinds[kinds.index("preproc"):kinds.index("preproc", kinds.index("preproc") + 1)]
            self.assertNotIn("url_map", first)
            self.assertIn("end_of_request", first)

    def test_error_and_access_denied(self):
        a = self.f.add("A", error="/gone", deny="/private")
        with Server(files={"index.html": "i\n", "gone": "g", "private": "p"},
                    args=args_for([a])) as srv:
            self.assertEqual(srv.get("/gone").status, 404)  # ERROR_FILE_NOT_FOUND
            r = srv.get("/private")                          # ERROR_ACCESS_DENIED
            self.assertEqual(r.status, 401)
            self.assertEqual(r.header("WWW-Authenticate"), 'Basic realm="probe"')
            denied = self.f.ev().wait(ev="access_denied", url="/private")
            self.assertEqual([e["reason"] for e in denied], ["4"])  # SF_DENIED_FILTER
            self.assertEqual(srv.get("/.hidden").status, 403)
            denied = self.f.ev().wait(ev="access_denied", url="/.hidden")
            self.assertEqual([e["reason"] for e in denied], [str(0x10002)])  # RESOURCE|BY_CONFIG
            self.assertEqual(srv.get("/index.html").status, 200)  # no denial header elsewhere
            self.assertIsNone(srv.get("/nothere").header("WWW-Authenticate"))

    def test_basic_authentication(self):
        a = self.f.add("A", auth="alice:secret:ALICE")
        srv = Server(scripts={"vars.so": fixture("vars")}, args=args_for([a]))
        with srv:
            path = "/scripts/vars.dll?names=AUTH_USER,REMOTE_USER,LOGON_USER,AUTH_TYPE,AUTH_PASSWORD"

            def get(user, pw):
                tok = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
                return srv.get(path, headers={"Authorization": "Basic " + tok}).kv()

            kv = get("alice", "secret")
            self.assertEqual(kv.get("AUTH_USER"), "ALICE")
            self.assertEqual(kv.get("REMOTE_USER"), "ALICE")
            self.assertEqual(kv.get("LOGON_USER"), "ALICE")
            self.assertEqual(kv.get("AUTH_TYPE"), "Basic")
            self.assertEqual(kv.get("AUTH_PASSWORD"), "secret")
            kv = get("alice", "wrong")  # the filter made it anonymous
            self.assertEqual(kv.get("AUTH_USER"), "")
            self.assertEqual(kv.get("AUTH_TYPE"), "")
            self.assertEqual(srv.get(path).kv().get("AUTH_USER"), "")
            users = [e["user"] for e in self.f.ev().find(ev="authentication")]
            self.assertEqual(users, ["alice", "alice", "-"])
            completes = [e["user"] for e in self.f.ev().find(ev="auth_complete")]
            self.assertEqual(completes, ["ALICE", "-", "-"])

    def test_handled_notification_stops_lower_filters(self):
        a = self.f.add("A", order="high", handled=1)
        b = self.f.add("B", order="low")
        with Server(files={"index.html": "i\n"}, args=args_for([a, b])) as srv:
            self.assertEqual(srv.get("/").status, 200)
            self.f.ev().wait(ev="log", filter="B")
            self.assertEqual([e["filter"] for e in self.f.ev().find(ev="preproc")], ["A"])
            self.assertEqual(len(self.f.ev().find(ev="url_map")), 2)  # only that notification

    def test_get_filter_version_false_stops_the_server(self):
        a = self.f.add("A")
        bad = self.f.add("BAD", version_false=1)
        root = tempfile.mkdtemp(prefix="isapid-root-")
        self.addCleanup(shutil.rmtree, root, True)
        for procs in ("0", "1"):
            p = subprocess.run([binary(), "--listen", "127.0.0.1:%d" % free_port(), "--root", root,
                                "--processes", procs] + args_for([a, bad]),
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, procs)
            self.assertIn("cannot load filter BAD.so", p.stderr)
            self.assertIn("GetFilterVersion returned FALSE", p.stderr)
        # the one loaded before was told to unload again
        self.assertTrue(self.f.ev().find(ev="terminate", filter="A"))

    def test_test_config_checks_the_file(self):
        root = tempfile.mkdtemp(prefix="isapid-root-")
        self.addCleanup(shutil.rmtree, root, True)
        p = subprocess.run([binary(), "--root", root, "--test-config", "--filter",
                            os.path.join(root, "missing.so")], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("missing.so", p.stderr)
        self.assertIn("No such file", p.stderr)

    def test_a_crashing_filter_costs_its_worker(self):
        a = self.f.add("A", crash="/boom")
        srv = Server(files={"index.html": "i\n"}, args=args_for([a]),
                     env=sanitizer_env_no_segv_handler())
        with srv:
            first = srv.pid
            with RawConn(srv.port) as c:
                c.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(c.wait_closed())
            wait_for(lambda: (lambda p: p and p[0] != first)(srv.worker_pids()), 10,
                     message="a replacement worker")
            r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(srv.get("/")), 10,
                         message="the replacement answers")
            self.assertEqual(r.body, b"i\n")
            srv.wait_stderr("crash")
            srv.wait_stderr(r"in filter \S*A\.so while serving /boom")  # the master names it

    def test_a_blocking_filter_does_not_stall_the_loop(self):
        release = os.path.join(self.f.dir, "release")
        a = self.f.add("A", block="/block %s" % release)
        srv = Server(files={"index.html": "i\n"}, args=args_for([a]), threads=1)
        with srv:
            with RawConn(srv.port) as slow:
                slow.send(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
                self.f.ev().wait(ev="blocked")
                # the one loop is inside the filter's call: a helper runs it meanwhile
                r = srv.get("/index.html")
                self.assertEqual((r.status, r.body), (200, b"i\n"))
                self.assertFalse(self.f.ev().find(ev="send_response", status="404"))
                open(release, "w").close()
                r = slow.read_response()
                self.assertEqual(r.status, 404)
            srv.wait_stderr("a filter's call ran past --handoff-after")
            # meanwhile the head stage runs on the pool: requests are still answered
            self.assertEqual(srv.get("/index.html").status, 200)

    def test_a_filter_blocking_in_log_does_not_stall_the_loop(self):
        release = os.path.join(self.f.dir, "release-log")
        a = self.f.add("A", block_log="/slow.txt %s" % release)
        srv = Server(files={"index.html": "i\n", "slow.txt": "s\n"}, args=args_for([a]), threads=1)
        with srv:
            with RawConn(srv.port) as slow:
                slow.send(b"GET /slow.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                self.f.ev().wait(ev="blocked_log")
                # the one loop's thread is inside the filter's LOG: a helper runs the loop
                r = srv.get("/index.html")
                self.assertEqual((r.status, r.body), (200, b"i\n"))
                open(release, "w").close()
                self.assertEqual(slow.read_response().status, 200)
                # the connection carries the next request once the end is over
                slow.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(slow.read_response().status, 200)
            self.assertEqual(srv.get("/index.html").status, 200)

    def test_a_filter_blocking_at_the_end_of_a_session_does_not_stall_the_loop(self):
        release = os.path.join(self.f.dir, "release-close")
        a = self.f.add("A", block_close=release)
        srv = Server(files={"index.html": "i\n"}, args=args_for([a]), threads=1)
        with srv:
            with RawConn(srv.port) as c:
                c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertEqual(c.read_response().status, 200)
            self.f.ev().wait(ev="blocked_close")
            # END_OF_NET_SESSION runs on the pool: the loop still serves
            r = srv.get("/index.html")
            self.assertEqual((r.status, r.body), (200, b"i\n"))
            open(release, "w").close()
            self.f.ev().wait(ev="end_of_net_session", count=2)

    def test_a_bad_url_from_a_filter(self):
        a = self.f.add("A", badurl="/bad")
        with Server(files={"index.html": "i\n"}, args=args_for([a])) as srv:
            self.assertEqual(srv.get("/bad").status, 400)
            ev = self.f.ev().wait(ev="badurl")[0]
            self.assertEqual((ev["relative_ok"], ev["err"]), ("0", "87"))  # INVALID_PARAMETER
            srv.wait_stderr("which is not a valid path: 400")
            self.assertEqual(srv.get("/index.html").status, 200)

    def test_no_descriptor_kept_per_request(self):
        a = self.f.add("A", rewrite="/old /index.html")
        srv = Server(files={"index.html": "i\n"}, scripts={"vars.so": fixture("vars")},
                     args=args_for([a]))
        with srv:
            def burst():
                for _ in range(20):
                    with srv.conn() as c:
                        for p in ("/index.html", "/old", "/nothere", "/scripts/vars.dll?names=URL"):
                            c.request("GET", p)
            burst()
            before = srv.settled_fds()
            burst()
            self.assertEqual(srv.settled_fds(), before)

    def test_pipelined_requests(self):
        a = self.f.add("A")
        srv = Server(files={"index.html": "i\n", "b.txt": "b\n"},
                     scripts={"vars.so": fixture("vars")}, args=args_for([a]))
        with srv:
            with RawConn(srv.port) as c:
                c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /nothere HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"HEAD /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /scripts/vars.dll?names=URL HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                got = [c.read_response(method=m) for m in ("GET", "GET", "HEAD", "GET", "GET")]
                self.assertEqual([r.status for r in got], [200, 404, 200, 200, 200])
                self.assertEqual([r.get("X-Probe-A") for r in got], ["1", "2", "3", "4", "5"])
                self.assertEqual(got[0].body, b"i\n")
                self.assertEqual(got[2].body, b"")
                self.assertEqual(got[2].get("Content-Length"), "2")
                self.assertEqual(got[4].body, b"b\n")
                self.assertTrue(c.is_open())

    def test_bodies_to_static_urls(self):
        a = self.f.add("A")
        with Server(files={"index.html": "i\n"}, args=args_for([a])) as srv:
            with RawConn(srv.port) as c:
                for body in (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                             b"POST /nothere HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"3\r\nabc\r\n0\r\n\r\n"):
                    c.send(body)
                    r = c.read_response()
                    self.assertIn(r.status, (404, 405))
                c.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
                r = c.read_response()
                self.assertEqual((r.status, r.body), (200, b"i\n"))

    def test_rapid_fail_disables_a_crashing_filter(self):
        a = self.f.add("A", crash="/boom")
        srv = Server(files={"index.html": "i\n"}, args=args_for([a]) + ["--rapid-fail", "2/300"],
                     env=sanitizer_env_no_segv_handler())
        with srv:
            for _ in range(2):
                pid = srv.pid
                with RawConn(srv.port) as c:
                    c.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertTrue(c.wait_closed())
                wait_for(lambda: (lambda p: p and p[0] != pid)(srv.worker_pids()), 10,
                         message="a replacement worker")
            srv.wait_stderr(r"rapid-fail protection: filter \S*A\.so crashed 2 times")
            # every request now answers 503, the filter's crash URL and any other
            r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(srv.get("/")), 10,
                         message="503 once the filter is disabled")
            self.assertEqual(srv.get("/boom").status, 503)
            srv.wait_stderr("filter .* is disabled by rapid-fail protection")

    def test_error_pages_and_wildcard_maps_with_filters(self):
        a = self.f.add("A", rewrite="/old /a.txt", resp_header="X-Added: yes")
        srv = Server(files={"a.txt": "a\n", "e404.html": "custom 404\n"},
                     args=args_for([a]) + ["--error-page", "404=/e404.html",
                                           "--map", "/*=" + example("wildcard")])
        with srv:
            # the wildcard extension gets every URL, the rewritten one too, and hands it back
            r = srv.get("/old")
            self.assertEqual((r.status, r.body, r.header("X-Added")), (200, b"a\n", "yes"))
            r = srv.get("/missing")  # an EXEC_URL child's 404 carries the page too
            self.assertEqual((r.status, r.body, r.header("X-Added")), (404, b"custom 404\n", "yes"))
            self.f.ev().wait(ev="log", count=2)
            # the EXEC_URL children are part of their parents' responses: one request each
            self.assertEqual(len(self.f.ev().find(ev="preproc")), 2)
        a2 = Filters()
        self.addCleanup(a2.cleanup)
        with Server(files={"e404.html": "custom 404\n"},
                    args=args_for([a2.add("B")]) + ["--error-page", "404=/e404.html"]) as srv:
            r = srv.get("/missing")  # the filters' own 404: the configured page
            self.assertEqual((r.status, r.body, r.header("X-Probe-B")), (404, b"custom 404\n", "1"))

    def test_no_filter_no_change(self):
        with Server(files={"index.html": "i\n"}) as srv:
            r = srv.get("/")
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.header("X-Probe-A"))


if __name__ == "__main__":
    main()
