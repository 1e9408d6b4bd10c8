"""Master and worker processes (src/master.h): a crashing extension costs one worker, which the
master logs in one line (pid, signal, extension, request) and replaces; rapid-fail protection
disables an extension that keeps crashing (503 for its URLs only) until its file changes;
--processes 2 spreads requests over two workers; SIGHUP starts new workers and retires the old
without failing a request of a client that keeps requesting.

Fixtures: tests/fixtures/crash.c (?op=segv|abort|thread|callback crash, ?op=pid names the
serving process), tests/fixtures/slow.c (a download that takes a while), tests/fixtures/async.c
(?op=hold long polls, answered by ?op=notify)."""

import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import RawConn, Server, binary, build_request, fixture, main, sanitizer_of_binary, wait_for, sanitizer_env_no_segv_handler



WORKER_LINE = re.compile(r"\[error\] worker (\d+) killed by signal (\d+) \((\w+)\)(.*); worker (\d+) replaces it$")


class KeepAliveClient:
    """One keep-alive connection asking for /a.txt, one request per step(). A connection closed
    under a request counts as a failure (a retry would hide a lost request); a response with
    Connection: close is followed by a new connection."""

    def __init__(self, port):
        self.port, self.c, self.failures, self.served = port, None, [], 0

    def step(self):
        if self.c is None:
            self.c = RawConn(self.port, timeout=10)
        try:
            self.c.send(build_request("GET", "/a.txt"))
            r = self.c.read_response()
        except (ConnectionError, OSError, AssertionError) as e:
            self.failures.append(repr(e))
            self.close()
            return
        self.served += 1
        if r.status != 200 or r.body != b"AAAA\n":
            self.failures.append(r.status)
        if (r.get("Connection") or "").lower() == "close":
            self.close()

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None


class WorkerTest(unittest.TestCase):
    def setUp(self):
        self.core_limit = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, self.core_limit[1]))

    def tearDown(self):
        resource.setrlimit(resource.RLIMIT_CORE, self.core_limit)

    def server(self, processes=1, args=(), **kw):
        env = sanitizer_env_no_segv_handler()
        env["ASYNC_EVENTS"] = "{tmp}/async.events"
        env["ISAPID_SLOW_MARKER"] = "{tmp}/slow.marker"
        return Server(files={"a.txt": "AAAA\n"},
                      scripts={"crash.so": fixture("crash"), "slow.so": fixture("slow"),
                               "async.so": fixture("async")},
                      env=env, allow_leaks=True,
                      args=["--processes", str(processes)] + list(args), **kw)

    def worker_lines(self, srv):
        return [m for m in (WORKER_LINE.search(l) for l in srv.stderr().splitlines()) if m]

    def pid_of_response(self, srv, conn=None):
        r = conn.request("GET", "/scripts/crash.dll?op=pid") if conn else srv.get("/scripts/crash.dll?op=pid")
        self.assertEqual(r.status, 200)
        return int(r.body.decode().strip().split("=")[1])

    def crash_and_check(self, op, sig_name, in_request=True):
        with self.server() as srv:
            module = os.path.realpath(os.path.join(srv.scripts_dir, "crash.so"))
            before = srv.pid
            self.assertEqual(self.pid_of_response(srv), before)
            # Other clients: one idle on keep-alive (served by the worker that dies: it sees the
            # connection closed), requests after the crash are served by the new worker.
            with srv.conn() as c:
                c.send(build_request("GET", "/scripts/crash.dll?op=" + op))
                closed, data = c.wait_closed(10)
                self.assertTrue(closed)
                self.assertNotIn(b"200 OK\r\n\r\nx", data)
            lines = wait_for(lambda: self.worker_lines(srv), 10, message="the master's line")
            self.assertEqual(len(lines), 1, srv.stderr()[-3000:])
            m = lines[0]
            self.assertEqual(int(m.group(1)), before)
            self.assertEqual(m.group(3), sig_name)
            if in_request:
                self.assertIn(" in extension %s while serving /scripts/crash.dll?op=%s" % (module, op), m.group(4))
            else:
                self.assertIn(" in extension %s while serving (no request known)" % module, m.group(4))
            after = int(m.group(5))
            self.assertNotEqual(after, before)
            self.assertEqual(wait_for(lambda: srv.worker_pids() == [after] and srv.worker_pids(), 5), [after])
            self.assertEqual(self.pid_of_response(srv), after)
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")

    def test_segv_in_httpextensionproc_costs_one_worker(self):
        self.crash_and_check("segv", "SEGV")

    def test_stack_overflow_costs_one_worker(self):
        self.crash_and_check("overflow", "SEGV")

    def test_abort_costs_one_worker(self):
        self.crash_and_check("abort", "ABRT")

    def test_crash_on_a_thread_of_the_extension(self):
        self.crash_and_check("thread", "SEGV", in_request=False)

    def test_crash_in_a_completion_callback(self):
        self.crash_and_check("callback", "SEGV")

    def test_other_workers_clients_finish_and_the_server_keeps_accepting(self):
        # Two workers: a download and a long poll on one, a crash on whichever takes it; the
        # clients of the worker that survives finish, and new connections are served all along.
        with self.server(processes=2) as srv:
            pids = wait_for(lambda: len(srv.worker_pids()) == 2 and srv.worker_pids(), 5)
            # Find a connection on each worker (each keeps its connection: keep-alive).
            conns = {}
            for _ in range(200):
                c = srv.conn()
                pid = self.pid_of_response(srv, c)
                if pid in conns:
                    c.close()
                else:
                    conns[pid] = c
                if len(conns) == 2:
                    break
            self.assertEqual(sorted(conns), pids, "connections did not reach both workers")
            victim, survivor = pids
            # The survivor serves a slow download and a long poll while the victim crashes.
            download = conns[survivor]
            download.send(build_request("GET", "/scripts/slow.dll?ms=1500"))
            poller = None
            for _ in range(200):
                c = srv.conn()
                if self.pid_of_response(srv, c) == survivor:
                    poller = c
                    break
                c.close()
            self.assertIsNotNone(poller)
            poller.send(build_request("GET", "/scripts/async.dll?op=hold&tag=w"))
            crasher = conns[victim]
            crasher.send(build_request("GET", "/scripts/crash.dll?op=segv"))
            self.assertTrue(crasher.wait_closed(10)[0])
            lines = wait_for(lambda: self.worker_lines(srv), 10, message="the master's line")
            self.assertEqual(int(lines[0].group(1)), victim)
            # Accepting all along: new connections are answered while and after it restarts.
            for _ in range(20):
                self.assertEqual(srv.get("/a.txt").status, 200)
            # The survivor's clients finish.
            r = download.read_response()
            self.assertEqual(r.status, 200)
            # The long poll is answered by a notify on the same worker (its state is per process).
            self.assertEqual(download.request("GET", "/scripts/async.dll?op=notify&tag=w").status, 200)
            r = poller.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(len(wait_for(lambda: len(srv.worker_pids()) == 2 and srv.worker_pids(), 5)), 2)
            for c in (download, poller, crasher):
                c.close()

    def test_rapid_fail_disables_only_that_extension_until_its_file_changes(self):
        with self.server(args=["--rapid-fail", "3/300"]) as srv:
            module = os.path.realpath(os.path.join(srv.scripts_dir, "crash.so"))
            for i in range(3):
                with srv.conn() as c:
                    c.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                    self.assertTrue(c.wait_closed(10)[0])
                wait_for(lambda: len(self.worker_lines(srv)) == i + 1, 10, message="crash %d logged" % (i + 1))
            wait_for(lambda: "rapid-fail protection: extension %s crashed 3 times" % module in srv.stderr(), 5)
            # Disabled: 503 even for the request that would work, with a line saying why (once
            # the running worker has read the master's disable line: a pipe, so poll for it).
            r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(srv.get("/scripts/crash.dll?op=ok")),
                         10, message="the worker's 503")
            self.assertEqual(r.status, 503)
            self.assertIn("is disabled by rapid-fail protection", srv.stderr())
            r = srv.get("/scripts/crash.dll?op=segv")
            self.assertEqual(r.status, 503)
            # Only it: the other extensions and the static files serve on.
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")
            self.assertEqual(srv.get("/scripts/slow.dll?ms=0").status, 200)
            self.assertEqual(len(self.worker_lines(srv)), 3)
            # A new file (touched) is enabled again.
            st = os.stat(module)
            os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
            r = srv.get("/scripts/crash.dll?op=ok")
            self.assertEqual((r.status, r.body), (200, b"crash fixture alive\n"))

    def test_rapid_fail_reaches_a_running_worker(self):
        # Two workers: the one that did not crash last learns of the disabling over its pipe.
        with self.server(processes=2, args=["--rapid-fail", "2/300"]) as srv:
            wait_for(lambda: len(srv.worker_pids()) == 2, 5)
            for i in range(2):
                before = set(srv.worker_pids())
                with srv.conn() as c:
                    c.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                    self.assertTrue(c.wait_closed(10)[0])
                lines = wait_for(lambda: len(self.worker_lines(srv)) == i + 1 and self.worker_lines(srv), 10)
                wait_for(lambda: len(srv.worker_pids()) == 2, 5)
            dead = int(lines[-1].group(1))
            survivor = (before - {dead}).pop()
            self.assertIn(survivor, srv.worker_pids())  # running when the extension was disabled
            # The running worker learns of it over its pipe, a moment after the master decided.
            wait_for(lambda: all(srv.get("/scripts/crash.dll?op=ok").status == 503 for _ in range(4)),
                     10, 0.05, "every worker answering 503")
            statuses = [srv.get("/scripts/crash.dll?op=ok").status for _ in range(10)]
            self.assertEqual(statuses, [503] * 10)
            # Each worker logs its first 503 of it (the lines are rate-limited per process); the
            # connections go round the workers, so both are reached soon (polled: a slow build
            # may give a run of them to one).
            wait_for(lambda: srv.get("/scripts/crash.dll?op=ok").status == 503 and
                     srv.stderr().count("is disabled by rapid-fail protection") == 2, 10, 0.05,
                     "both workers' 503 line")
            self.assertEqual(len(self.worker_lines(srv)), 2)
            self.assertEqual(srv.get("/a.txt").status, 200)

    def test_status_page_shows_every_worker_and_the_masters_counts(self):
        """The status board is the master's: each worker's page lists every worker, a dead one
        leaves it, and the crash counts and the rapid-fail decision of the master show."""
        import json

        def page():
            return json.loads(srv.get("/st?json").body)

        with self.server(processes=2, args=["--rapid-fail", "2/300", "--status", "/st"]) as srv:
            wait_for(lambda: len(srv.worker_pids()) == 2, 5)
            wait_for(lambda: sorted(w["pid"] for w in page()["workers"]) == srv.worker_pids(), 5,
                     message="both workers on the page")
            for i in range(2):
                with srv.conn() as c:
                    c.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                    self.assertTrue(c.wait_closed(10)[0])
                wait_for(lambda: len(self.worker_lines(srv)) == i + 1, 10, message="crash %d logged" % (i + 1))
                wait_for(lambda: len(srv.worker_pids()) == 2, 5)
            wait_for(lambda: sorted(w["pid"] for w in page()["workers"]) == srv.worker_pids(), 5,
                     message="the dead workers gone from the page, their replacements on it")
            ext = [e for e in page()["extensions"] if e["path"].endswith("/crash.so")]
            self.assertEqual(len(ext), 1, page()["extensions"])
            self.assertEqual((ext[0]["crashes"], ext[0]["disabled"]), (2, True), ext)

    def test_two_workers_share_the_requests(self):
        with self.server(processes=2) as srv:
            pids = wait_for(lambda: len(srv.worker_pids()) == 2 and srv.worker_pids(), 5)
            self.assertNotIn(srv.master_pid, pids)
            seen = set()
            for _ in range(400):
                seen.add(self.pid_of_response(srv))
                if len(seen) == 2:
                    break
            self.assertEqual(sorted(seen), pids)
            line = [l for l in srv.stderr().splitlines() if "listening on" in l][0]
            self.assertIn("2 worker processes: ", line)

    def test_hup_starts_new_workers_and_retires_the_old_without_a_failed_request(self):
        with self.server(processes=2) as srv:
            old = wait_for(lambda: len(srv.worker_pids()) == 2 and srv.worker_pids(), 5)
            k = KeepAliveClient(srv.port)
            stop = threading.Event()

            def client():
                # no request of the busy keep-alive connection may fail, and none may need a retry
                # (a retired worker answers the next request with Connection: close)
                while not stop.is_set():
                    k.step()
                k.close()

            t = threading.Thread(target=client)
            t.start()
            try:
                wait_for(lambda: k.served >= 20, 10)
                srv.signal(signal.SIGHUP)
                wait_for(lambda: "reload: new worker processes ready" in srv.stderr(), 10)
                new = wait_for(lambda: (lambda p: len(p) == 2 and not set(p) & set(old) and p)(srv.worker_pids()),
                               15, message="the old workers retired")
                n = k.served
                wait_for(lambda: k.served >= n + 20, 10)
            finally:
                stop.set()
                t.join(20)
            self.assertEqual(k.failures, [])
            self.assertEqual(len(new), 2)
            self.assertEqual(len(self.worker_lines(srv)), 0, "a worker died: " + srv.stderr()[-2000:])

    @unittest.skipIf(sanitizer_of_binary() == "thread",
                     "ThreadSanitizer takes a SIGSEGV sent from outside as its own and delays it")
    def test_a_crash_outside_extension_code_disables_nothing(self):
        # A fatal signal on the worker's main thread (no extension ran there) is the server's
        # crash: counted apart, never disabling an extension, even with a limit of one crash.
        with self.server(args=["--rapid-fail", "1/300"]) as srv:
            self.assertEqual(srv.get("/scripts/crash.dll?op=ok").status, 200)
            for n in (1, 2):
                os.kill(srv.pid, signal.SIGSEGV)
                lines = wait_for(lambda: len(self.worker_lines(srv)) == n and self.worker_lines(srv), 10)
                self.assertIn(" in the server, not in extension code (server crash %d)" % n, lines[-1].group(4))
                wait_for(lambda: srv.worker_pids() == [int(lines[-1].group(5))], 5)
                # serving, so its own signal handlers are in place before the next SIGSEGV (a
                # worker still starting dies of the signal's default action: a slow, loaded
                # sanitizer build showed it)
                self.assertEqual(self.pid_of_response(srv), int(lines[-1].group(5)))
            self.assertNotIn("rapid-fail protection:", srv.stderr())
            self.assertEqual(srv.get("/scripts/crash.dll?op=ok").status, 200)

    def test_a_worker_killed_from_outside_is_replaced(self):
        with self.server() as srv:
            old = srv.pid
            os.kill(old, signal.SIGKILL)
            # Once the master has reaped it (its line), before the replacement serves: the
            # connection waits in the listen queue the master keeps open, and the replacement
            # answers it (nothing is refused). Not sooner: right after kill() returns, a thread of
            # the dying worker still inside accept4 may take the connection, and the death resets
            # it (a kernel race no server closes; CI under TSan hit it).
            line = wait_for(lambda: [l for l in srv.stderr().splitlines()
                                     if "worker %d killed by signal 9 (KILL); worker " % old in l], 10)
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")
            new = int(line[0].rsplit("worker ", 1)[1].split()[0])
            self.assertEqual(wait_for(lambda: srv.worker_pids() == [new] and srv.worker_pids(), 5), [new])
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")

    def test_sigquit_stops_at_once(self):
        with self.server(processes=2, expect_exit=0) as srv:
            with srv.conn() as c:
                c.send(build_request("GET", "/scripts/slow.dll?ms=30000"))
                wait_for(lambda: os.path.exists(os.path.join(srv.tmp, "slow.marker")), 10,
                         message="slow.dll to start")
                srv.signal(signal.SIGQUIT)
                self.assertEqual(srv.wait_exit(10), 0)
                self.assertTrue(c.wait_closed(5)[0])
            self.assertIn("SIGQUIT: stopping the workers at once", srv.stderr())

    def test_hup_with_a_bad_configuration_keeps_the_running_one(self):
        config = "[server]\nthreads = 1\n"
        with self.server(config=config) as srv:
            old = srv.pid
            with open(srv.config_path, "a") as f:
                f.write("no_such_key = 1\n")
            srv.signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: the configuration has errors (above); the running one is kept" in srv.stderr(), 10)
            self.assertIn("no_such_key", srv.stderr())
            self.assertEqual(srv.worker_pids(), [old])
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")

    def test_a_crash_among_100_long_polls_and_downloads(self):
        # 100 connections spread over two workers, half long-polling and half downloading; a
        # crash in one worker: its clients see their connections closed, the other worker's all
        # finish, and the server accepts all along.
        with self.server(processes=2, threads=2) as srv:
            pids = wait_for(lambda: len(srv.worker_pids()) == 2 and srv.worker_pids(), 5)
            conns = []
            try:
                # Accepting is EPOLLEXCLUSIVE on one shared queue: an idle worker that is first
                # in the queue takes most connections. Connections are opened (surplus ones
                # closed) until each worker holds 50.
                on = {p: [] for p in pids}
                for _ in range(3000):
                    if all(len(v) >= 50 for v in on.values()):
                        break
                    c = RawConn(srv.port, timeout=20)
                    p = self.pid_of_response(srv, c)
                    if len(on[p]) < 50:
                        on[p].append(c)
                        conns.append((c, p))
                    else:
                        c.close()
                victim, survivor = sorted(pids, key=lambda p: len(on[p]))
                self.assertGreaterEqual(len(on[victim]), 2, "the connections did not spread: %r"
                                        % {p: len(on[p]) for p in pids})
                keep = on[survivor].pop()       # answers the long polls afterwards
                crasher = on[victim].pop()
                for i, c in enumerate(on[survivor] + on[victim]):
                    if i % 2:
                        c.send(build_request("GET", "/scripts/slow.dll?ms=1000"))
                    else:
                        c.send(build_request("GET", "/scripts/async.dll?op=hold&tag=many"))
                crasher.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                self.assertTrue(crasher.wait_closed(10)[0])
                lines = wait_for(lambda: self.worker_lines(srv), 10, message="the master's line")
                self.assertEqual(int(lines[0].group(1)), victim)
                for _ in range(10):
                    self.assertEqual(srv.get("/a.txt").status, 200)
                for c in on[victim]:
                    self.assertTrue(c.wait_closed(10)[0], "a client of the dead worker was not cut")
                self.assertEqual(keep.request("GET", "/scripts/async.dll?op=notify&tag=many").status, 200)
                for c in on[survivor]:
                    r = c.read_response()
                    self.assertEqual(r.status, 200)
                wait_for(lambda: len(srv.worker_pids()) == 2, 5)
            finally:
                for c, _ in conns:
                    c.close()

    def test_a_reload_enables_a_disabled_extension_again(self):
        with self.server(args=["--rapid-fail", "1/300"]) as srv:
            with srv.conn() as c:
                c.send(build_request("GET", "/scripts/crash.dll?op=segv"))
                self.assertTrue(c.wait_closed(10)[0])
            wait_for(lambda: "rapid-fail protection: extension" in srv.stderr(), 10)
            wait_for(lambda: srv.get("/scripts/crash.dll?op=ok").status == 503, 5)
            srv.signal(signal.SIGHUP)
            wait_for(lambda: "reload: new worker process ready" in srv.stderr(), 10)
            r = wait_for(lambda: (lambda r: r.status == 200 and r)(srv.get("/scripts/crash.dll?op=ok")), 10)
            self.assertEqual(r.body, b"crash fixture alive\n")

    def test_hup_loads_an_extension_rebuilt_on_disk_and_finishes_requests_in_flight(self):
        with self.server() as srv:
            module = os.path.join(srv.scripts_dir, "crash.so")
            self.assertEqual(srv.get("/scripts/crash.dll?op=ok").body, b"crash fixture alive\n")
            slow = srv.conn()
            slow.send(build_request("GET", "/scripts/slow.dll?ms=1500"))
            wait_for(lambda: os.path.exists(os.path.join(srv.tmp, "slow.marker")), 10,
                     message="slow.dll to start")
            # "Rebuilt": another library at the path (a new inode, as a build's rename gives).
            shutil.copy(fixture("where"), module + ".new")
            os.rename(module + ".new", module)
            srv.signal(signal.SIGHUP)
            wait_for(lambda: "reload: new worker process ready" in srv.stderr(), 10)
            r = srv.get("/scripts/crash.dll")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.body.startswith(b"isapid-"), r.body)  # where.c names the thread
            r = slow.read_response()  # the retiring worker finished it
            self.assertEqual(r.status, 200)
            slow.close()

    def test_bad_values_are_refused(self):
        root = tempfile.mkdtemp()
        try:
            for args, why in ((["--processes", "x"], "expected a number or auto"),
                              (["--processes", "1000"], "too many processes"),
                              (["--rapid-fail", "5"], "expected N/SECONDS"),
                              (["--rapid-fail", "0/10"], "expected N/SECONDS"),
                              (["--recycle-requests", "-1"], "expected a number"),
                              (["--health-timeout", "soon"], "expected a number of seconds")):
                p = subprocess.run([binary(), "--test-config", "--root", root] + args,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=10)
                self.assertEqual(p.returncode, 2, args)
                self.assertIn(why, p.stderr.decode(), args)
            p = subprocess.run([binary(), "--test-config", "--root", root, "--processes", "auto",
                                "--rapid-fail", "off", "--recycle-time", "3600"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(root)

    def keep_requesting(self, srv, until, what):
        """A client keeping a keep-alive connection busy until until() is true: returns the
        failed requests. A connection closed under a request counts as a failure (a retry would
        hide a lost request); a response with Connection: close is followed by a new connection."""
        k = KeepAliveClient(srv.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if until() and k.served:
                break
            k.step()
        else:
            self.fail("timed out waiting for %s\n%s" % (what, srv.stderr()[-2000:]))
        k.close()
        return k.failures

    def recycled(self, srv, old, why, only_one=True):
        """The old worker recycled for why and gone; only_one: and just one worker running
        (False where a replacement may be recycled in its turn meanwhile)."""
        workers = srv.worker_pids()
        return why in srv.stderr() and "recycled worker %d finishes its requests" % old in srv.stderr() \
            and old not in workers and (len(workers) == 1 if only_one else len(workers) >= 1)

    @unittest.skipIf(sanitizer_of_binary() == "thread",
                     "under ThreadSanitizer's slowdown the replacement serves its own 20 requests "
                     "(and is recycled in turn) before the old worker has left, so the check never "
                     "sees a single worker")
    def test_recycle_after_requests_loses_no_request(self):
        with self.server(args=["--recycle-requests", "20"]) as srv:
            old = srv.pid
            failures = self.keep_requesting(srv, lambda: self.recycled(srv, old, "it served --recycle-requests"),
                                            "the recycle by requests")
            self.assertEqual(failures, [])
            self.assertEqual(srv.get("/a.txt").status, 200)
            self.assertEqual(self.worker_lines(srv), [])

    def test_report_unhealthy_recycles_the_worker(self):
        with self.server() as srv:
            old = srv.pid
            r = srv.get("/scripts/crash.dll?op=unhealthy")
            self.assertEqual((r.status, r.body), (200, b"pid=%d\n" % old))
            self.assertIn("reports the worker unhealthy: fixture asked", srv.stderr())
            failures = self.keep_requesting(srv, lambda: self.recycled(srv, old, "reported it unhealthy"),
                                            "the recycle after REPORT_UNHEALTHY")
            self.assertEqual(failures, [])
            self.assertNotEqual(self.pid_of_response(srv), old)

    def test_recycle_by_time(self):
        # Each replacement is recycled in its turn a second later, so under a sanitizer's slowdown
        # the next recycle can begin before the old worker has left: the condition is that the old
        # worker is gone and some worker serves, not that exactly one is running at the poll.
        with self.server(args=["--recycle-time", "1"]) as srv:
            old = srv.pid
            wait_for(lambda: self.recycled(srv, old, "uptime reached --recycle-time", only_one=False),
                     30, 0.05, "the recycle by time")
            self.assertEqual(srv.get("/a.txt").status, 200)

    def test_recycle_by_private_memory(self):
        with self.server(args=["--recycle-memory", "16"]) as srv:
            old = srv.pid
            for _ in range(3):  # 24 MiB leaked by the extension
                self.assertEqual(srv.get("/scripts/crash.dll?op=leak").status, 200)
            wait_for(lambda: self.recycled(srv, old, "private memory exceeds --recycle-memory"), 15, 0.05,
                     "the recycle by memory")
            self.assertEqual(srv.get("/a.txt").status, 200)

    def test_a_worker_whose_loops_do_not_answer_is_replaced(self):
        with self.server(args=["--health-timeout", "2"]) as srv:
            old = srv.pid
            os.kill(old, signal.SIGSTOP)  # nothing of it runs: neither its loops nor its main thread
            line = wait_for(lambda: [l for l in srv.stderr().splitlines()
                                     if "worker %d has not answered the health check for 2 s" % old in l], 15)
            self.assertIn("replaced by worker ", line[0])
            wait_for(lambda: old not in srv.worker_pids() and len(srv.worker_pids()) == 1, 10)
            self.assertEqual(srv.get("/a.txt").body, b"AAAA\n")


if __name__ == "__main__":
    main()
