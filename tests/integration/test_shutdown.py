"""Graceful shutdown: in-flight requests complete, the listener closes at once, idle connections
close, TerminateExtension(HSE_TERM_MUST_UNLOAD) and DllMain(DLL_PROCESS_DETACH) are called."""

import os
import signal
import time
import unittest

from harness import Server, build_request, connect_refused, fixture, main, read_lines, wait_for


class ShutdownTest(unittest.TestCase):
    def server(self, **kw):
        scripts = {"slow.so": fixture("slow"), "terminate.so": fixture("terminate"),
                   "dllmain.so": fixture("dllmain"), "vars.so": fixture("vars")}
        env = {"ISAPID_SLOW_MARKER": "{tmp}/slow.marker", "ISAPID_TERMINATE_MARKER": "{tmp}/terminate.marker",
               "ISAPID_DLLMAIN_MARKER": "{tmp}/dllmain.marker"}
        return Server(files={"a.txt": "AAAA\n"}, scripts=scripts, env=env, **kw)

    def test_in_flight_request_completes(self):
        with self.server(expect_exit=None) as srv:
            marker = os.path.join(srv.tmp, "slow.marker")
            with srv.conn(timeout=20) as c:
                c.send(build_request("GET", "/scripts/slow.dll?ms=1500&size=100000"))
                wait_for(lambda: read_lines(marker), 10, message="slow.dll to start")
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                # new connections are refused while the request is still running
                wait_for(lambda: connect_refused(srv.port), 2, 0.02, "the listener to close after SIGTERM")
                self.assertTrue(srv.alive(), "server exited before the in-flight request finished")
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"slept=1500\n" + b"x" * 100000)
                closed, _ = c.wait_closed(10)
                self.assertTrue(closed, "connection not closed after the last in-flight response")
            rc = srv.wait_exit(10)
            self.assertEqual(rc, 0)
            self.assertLess(time.monotonic() - t0, 10)

    def test_idle_connections_closed(self):
        with self.server(expect_exit=None) as srv:
            conns = [srv.conn() for _ in range(5)]
            try:
                for c in conns:
                    self.assertEqual(c.request("GET", "/a.txt").status, 200)
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                # the keep-alive timeout is 15 s by default: exiting fast proves idle connections
                # are closed at once
                self.assertEqual(srv.wait_exit(5), 0)
                self.assertLess(time.monotonic() - t0, 5)
                for c in conns:
                    closed, extra = c.wait_closed(2)
                    self.assertTrue(closed)
                    self.assertEqual(extra, b"")
            finally:
                for c in conns:
                    c.close()

    def test_request_unread_at_shutdown_is_answered(self):
        # A keep-alive connection whose next request reached the server's socket but not yet its
        # loop is not idle: it is answered (with Connection: close), not closed unanswered.
        # The loop is held in an extension call (no hand-off) while the request arrives and
        # SIGTERM's drain is queued behind it, so the drain sees the connection first.
        with self.server(expect_exit=None, args=["--handoff-after", "60s"]) as srv:
            marker = os.path.join(srv.tmp, "slow.marker")
            with srv.conn(timeout=20) as idle, srv.conn(timeout=20) as busy:
                self.assertEqual(idle.request("GET", "/a.txt").status, 200)
                busy.send(build_request("GET", "/scripts/slow.dll?ms=2000"))
                wait_for(lambda: read_lines(marker), 10, message="slow.dll to start")
                idle.send(build_request("GET", "/a.txt"))
                srv.signal(signal.SIGTERM)
                self.assertEqual(busy.read_response().status, 200)
                r = idle.read_response()
                self.assertEqual((r.status, r.body), (200, b"AAAA\n"))
                self.assertIn("close", r.connection_tokens())
            self.assertEqual(srv.wait_exit(10), 0)

    def test_prompt_exit_with_a_long_handoff_after(self):
        # The hand-off watchdog's looks last as long as --handoff-after (up to four times): a
        # stop must not wait for the current one to end.
        with self.server(expect_exit=None, args=["--handoff-after", "60s"]) as srv:
            with srv.conn() as c:
                self.assertEqual(c.request("GET", "/a.txt").status, 200)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            self.assertEqual(srv.wait_exit(10), 0)
            self.assertLess(time.monotonic() - t0, 5)

    def test_half_received_request_at_shutdown(self):
        # A connection that has sent half a head when SIGTERM arrives does not hold up the exit
        # for the whole header timeout.
        with self.server(expect_exit=None, args=["--shutdown-grace", "2000"]) as srv:
            base = srv.settled_fds()
            with srv.conn() as c:
                c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n")
                wait_for(lambda: srv.fds() > base, 5, message="the connection to be accepted")
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                self.assertEqual(srv.wait_exit(6), 0)
                # Like nginx, the server may wait for such a connection until the grace period
                # (2 s here) ends; it must not wait for the header timeout (10 s by default).
                self.assertLess(time.monotonic() - t0, 4)

    def test_sigint(self):
        with self.server(expect_exit=None) as srv:
            self.assertEqual(srv.get("/a.txt").status, 200)
            srv.signal(signal.SIGINT)
            self.assertEqual(srv.wait_exit(10), 0)

    def test_terminate_extension_must_unload(self):
        with self.server(expect_exit=0) as srv:
            marker = os.path.join(srv.tmp, "terminate.marker")
            self.assertEqual(srv.get("/scripts/terminate.dll").body, b"terminate fixture\n")
            self.assertEqual(read_lines(marker), [])
            self.assertEqual(srv.stop(), 0)
            self.assertEqual(read_lines(marker), ["terminate flags=2"])

    def test_unloaded_extension_not_terminated(self):
        # An extension that was never loaded is not called at shutdown.
        with self.server(expect_exit=0) as srv:
            marker = os.path.join(srv.tmp, "terminate.marker")
            self.assertEqual(srv.get("/a.txt").status, 200)
            self.assertEqual(srv.stop(), 0)
            self.assertEqual(read_lines(marker), [])

    def test_dllmain_order(self):
        with self.server(expect_exit=0) as srv:
            marker = os.path.join(srv.tmp, "dllmain.marker")
            r = srv.get("/scripts/dllmain.dll")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.kv(), {"attached": "1", "attach_before_version": "1", "version_calls": "1"})
            r = srv.get("/scripts/dllmain.dll")
            self.assertEqual(r.kv().get("version_calls"), "1", "loaded once, kept loaded")
            self.assertEqual(read_lines(marker), ["attach", "version"])
            self.assertEqual(srv.stop(), 0)
            self.assertEqual(read_lines(marker), ["attach", "version", "terminate 2", "detach"])

    def test_grace_period_exceeded(self):
        # A request that outlives the grace period does not keep the server up forever. A thread
        # is still inside the extension: the server leaves with exit status 3, without running
        # exit-time code under it (and without freeing what it may still use, so no leak report
        # comes from a sanitizer build either).
        with self.server(expect_exit=None, args=["--shutdown-grace", "500"], allow_leaks=True) as srv:
            marker = os.path.join(srv.tmp, "slow.marker")
            with srv.conn(timeout=20) as c:
                c.send(build_request("GET", "/scripts/slow.dll?ms=8000"))
                wait_for(lambda: read_lines(marker), 10, message="slow.dll to start")
                t0 = time.monotonic()
                srv.signal(signal.SIGTERM)
                rc = srv.wait_exit(6)
                self.assertLess(time.monotonic() - t0, 6)
                self.assertEqual(rc, 3, srv.stderr()[-3000:])
                self.assertIn("stopped with extension code still running (exit status 3)", srv.stderr())
                closed, _ = c.wait_closed(2)
                self.assertTrue(closed)

    def test_unload_calls_that_never_return(self):
        # TerminateExtension of one extension and DllMain(DLL_PROCESS_DETACH) of another never
        # return. Each extension's unload gets the grace period (at least 1 s): the server exits
        # after about 2 s, names both extensions and the call each hangs in, and exits with 3.
        env = {"ISAPID_TERMINATE_HANG": "1", "ISAPID_TERMINATE_MARKER": "{tmp}/terminate.marker",
               "ISAPID_DLLMAIN_HANG": "1", "ISAPID_DLLMAIN_MARKER": "{tmp}/dllmain.marker"}
        scripts = {"terminate.so": fixture("terminate"), "dllmain.so": fixture("dllmain")}
        with Server(scripts=scripts, env=env, expect_exit=None, args=["--shutdown-grace", "200"]) as srv:
            self.assertEqual(srv.get("/scripts/terminate.dll").status, 200)
            self.assertEqual(srv.get("/scripts/dllmain.dll").status, 200)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            rc = srv.wait_exit(10)
            elapsed = time.monotonic() - t0
            err = srv.stderr()
            self.assertEqual(rc, 3, err[-3000:])
            self.assertGreaterEqual(elapsed, 1.8, "the unload calls got less than their bound")
            self.assertLess(elapsed, 2.0 + 3.0, "exit took %.2fs" % elapsed)
            self.assertIn("extension %s: TerminateExtension(HSE_TERM_MUST_UNLOAD) did not return within 1000 ms"
                          % os.path.join(srv.scripts_dir, "terminate.so"), err)
            self.assertIn("extension %s: DllMain(DLL_PROCESS_DETACH) did not return within 1000 ms"
                          % os.path.join(srv.scripts_dir, "dllmain.so"), err)
            self.assertIn("stopped with extension code still running (exit status 3)", err)
            # Both calls were made (the hang comes after the markers are written).
            self.assertEqual(read_lines(os.path.join(srv.tmp, "terminate.marker")), ["terminate flags=2"])
            self.assertEqual(read_lines(os.path.join(srv.tmp, "dllmain.marker")),
                             ["attach", "version", "terminate 2", "detach"])

    def test_operator_signals_are_logged_and_ignored(self):
        # SIGHUP (reload: test_workers.py), SIGUSR1 (reopen logs), SIGUSR2 (no meaning) and
        # SIGPIPE (sent by hand) do not stop the server: one line each, and it goes on serving
        # (a connection to a worker retired by the reload is closed when idle).
        with self.server(expect_exit=0) as srv:
            with srv.conn() as c:
                self.assertEqual(c.request("GET", "/a.txt").status, 200)
                for sig, line in ((signal.SIGUSR1, "SIGUSR1: reopening the logs"),
                                  (signal.SIGUSR2, "SIGUSR2 received: ignored")):
                    srv.signal(sig)
                    wait_for(lambda: line in srv.stderr(), 5, message="the log line for %s" % sig)
                    self.assertTrue(srv.alive(), "%s killed the server" % sig)
                    self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
                srv.signal(signal.SIGPIPE)
                # SIGPIPE is not logged; a request served after it proves the server outlived it.
                self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
                self.assertTrue(srv.alive())
            srv.signal(signal.SIGHUP)
            wait_for(lambda: "reload: new worker process ready" in srv.stderr(), 5,
                     message="the reload's log line")
            self.assertTrue(srv.alive())
            self.assertEqual(srv.get("/a.txt").status, 200)

if __name__ == "__main__":
    main()
