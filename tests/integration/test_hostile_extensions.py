"""Extension faults: an extension that crashes, and one that never ends its session.

Crash (tests/fixtures/crash.c stores through NULL in HttpExtensionProc). Under a master (the
default) the crash costs one worker process, which the master logs and replaces
(test_workers.py). In the single-process mode (--processes 0, for debugging), pinned by
test_crash_kills_the_whole_server_today, extensions run in the server's process and the crash
ends it:
  - the crashing request gets no response: its connection just closes (EOF, no byte);
  - every other client loses its connection the same way: idle keep-alive connections and
    requests in flight (their responses never arrive);
  - the listener is gone: new connections are refused until something restarts the server;
  - stderr has the crash report (src/core/crash.c: the signal, the extension, the request); the
    access log has no line for the crashing request nor for those cut with it.

Never-ending session (tests/fixtures/nevercomplete.c returns HSE_STATUS_PENDING and never calls
HSE_REQ_DONE_WITH_SESSION): it holds its own connection and nothing else (no worker thread, no
other client affected; the header and keep-alive timeouts do not apply to it; once the client
has gone the socket is released, while the ECB stays valid until DONE); SIGTERM
still ends the server after the grace period, exit status 0, with TerminateExtension called.
"""

import os
import resource
import signal
import time
import unittest

from harness import (EventFile, Server, build_request, connect_refused, example, fixture, main, sanitizer_env_no_segv_handler,
                     read_lines, sanitizer_of_binary, thread_count, wait_for)

GRACE_MS = 1000
WORKERS_MAX = 4
COMPLETION_WORKERS_MAX = 2
# main, the loop, the call pool's workers at most and its monitor, the completion pool's workers
# at most and its monitor, the hand-off watchdog, the ECB arena's fault handler, and one for a
# sanitizer's own thread
SERVER_THREADS_MAX = 1 + 1 + WORKERS_MAX + 1 + COMPLETION_WORKERS_MAX + 1 + 1 + 1 + 1


class CrashTest(unittest.TestCase):
    def setUp(self):
        # No core file from the crash (and no time spent writing one).
        self.core_limit = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, self.core_limit[1]))

    def tearDown(self):
        resource.setrlimit(resource.RLIMIT_CORE, self.core_limit)

    def test_crash_kills_the_whole_server_today(self):
        """--processes 0 (see the module docstring): a SIGSEGV in one extension request takes
        the whole server down (extensions run in the server's process). What the operator gets
        is one line on stderr naming the signal, the extension and the request."""
        env = {"CRASH_MARKER": "{tmp}/crash.marker", "ISAPID_SLOW_MARKER": "{tmp}/slow.marker"}
        env.update(sanitizer_env_no_segv_handler(abort=False))
        with Server(files={"a.txt": "AAAA\n"}, scripts={"crash.so": fixture("crash"), "slow.so": fixture("slow")},
                    env=env, expect_exit=None, args=["--processes", "0"]) as srv:
            crash_marker = os.path.join(srv.tmp, "crash.marker")
            # The extension works when it does not crash.
            r = srv.get("/scripts/crash.dll?op=ok")
            self.assertEqual((r.status, r.body), (200, b"crash fixture alive\n"))
            # Other clients: one idle on keep-alive, one whose request is running in slow.dll.
            idle = srv.conn()
            self.assertEqual(idle.request("GET", "/a.txt").body, b"AAAA\n")
            in_flight = srv.conn()
            in_flight.send(build_request("GET", "/scripts/slow.dll?ms=3000"))
            wait_for(lambda: read_lines(os.path.join(srv.tmp, "slow.marker")), 10, message="slow.dll to start")
            lines_before = srv.stderr().splitlines()
            access_before = srv.access_lines()

            crasher = srv.conn()
            crasher.send(build_request("GET", "/scripts/crash.dll?op=segv"))
            rc = srv.wait_exit(10)
            # Killed by the signal: no handler, no orderly exit, no 500.
            self.assertEqual(rc, -signal.SIGSEGV, "exit status %r\nstderr:\n%s" % (rc, srv.stderr()[-3000:]))
            self.assertEqual(read_lines(crash_marker), ["start ok", "start segv"])
            # The crashing request: the connection closes without a byte.
            self.assertEqual(crasher.wait_closed(5), (True, b""))
            # Everybody else is cut the same way.
            self.assertEqual(idle.wait_closed(5), (True, b""))
            self.assertEqual(in_flight.wait_closed(5), (True, b""))
            self.assertTrue(connect_refused(srv.port), "something still listens after the crash")
            # Logged: one line naming the signal, the extension and the request; the access log
            # is as it was (the crashing request never completed).
            new_lines = srv.stderr().splitlines()[len(lines_before):]
            crash_lines = [l for l in new_lines if "fatal signal" in l]
            self.assertEqual(len(crash_lines), 1, "stderr:\n%s" % "\n".join(new_lines))
            self.assertIn("(SEGV) in extension ", crash_lines[0])
            self.assertIn("crash.so while serving /scripts/crash.dll?op=segv", crash_lines[0])
            self.assertEqual(srv.access_lines(), access_before)
            self.assertEqual(len(access_before), 2)       # crash.dll?op=ok and /a.txt
            for c in (idle, in_flight, crasher):
                c.close()


class NeverCompleteTest(unittest.TestCase):
    def server(self, **kw):
        return Server(files={"a.txt": "AAAA\n"},
                      scripts={"nc.so": fixture("nevercomplete"), "hello.so": example("hello")},
                      env={"NEVERCOMPLETE_EVENTS": "{tmp}/events"}, workers="1:%d" % WORKERS_MAX,
                      **dict(kw, args=kw.get("args", []) + ["--completion-workers",
                                                             "1:%d" % COMPLETION_WORKERS_MAX]))

    def assert_others_fine(self, srv):
        t0 = time.monotonic()
        with srv.conn() as c:
            self.assertEqual(c.request("GET", "/a.txt").body, b"AAAA\n")
            self.assertEqual(c.request("GET", "/scripts/hello.dll").body, b"Hello, world!\n")
            self.assertEqual(c.request("GET", "/scripts/nc.dll?ok").body, b"nevercomplete alive\n")
        self.assertLess(time.monotonic() - t0, 2.0)

    def assert_exit_zero(self, srv, rc):
        """Exit status 0; from an AddressSanitizer build, the leak report's exit status (1 from
        ASan's LeakSanitizer, 23 from a standalone one) with that report is accepted too: the
        server skips freeing on purpose while a session is abandoned."""
        if sanitizer_of_binary() == "address" and rc in (1, 23):
            self.assertIn("ERROR: LeakSanitizer", srv.stderr())
        else:
            self.assertEqual(rc, 0, srv.stderr()[-3000:])

    def test_never_done_holds_only_its_own_connection(self):
        # Timeouts far shorter than the time the sessions are watched: they do not apply.
        with self.server(expect_exit=None, allow_leaks=True,
                         args=["--header-timeout", "300", "--keepalive-timeout", "300",
                               "--shutdown-grace", "0"]) as srv:
            events = EventFile(os.path.join(srv.tmp, "events"))
            self.assert_others_fine(srv)          # extensions loaded, workers started
            base = srv.settled_fds()
            threads0 = thread_count(srv.pid)
            silent = srv.conn()
            silent.send(build_request("GET", "/scripts/nc.dll?id=silent"))
            partial = srv.conn()
            partial.send(build_request("GET", "/scripts/nc.dll?id=partial&head=1"))
            # More abandoned sessions than worker threads: PENDING holds no thread.
            more = []
            for i in range(3 * WORKERS_MAX):
                c = srv.conn()
                c.send(build_request("GET", "/scripts/nc.dll?id=m%d" % i))
                more.append(c)
            n = 2 + len(more)
            events.wait(count=n, ev="pending")
            self.assert_others_fine(srv)
            # (More sessions than the pool's maximum were abandoned, and hello.dll still ran at once.)
            self.assertLessEqual(thread_count(srv.pid), SERVER_THREADS_MAX, "threads %d (%d before)"
                                 % (thread_count(srv.pid), threads0))
            # Exactly their own connections are held.
            self.assertEqual(srv.settled_fds(), base + n)
            # The partial response stays partial; the silent one gets nothing; neither is cut by
            # the header or keep-alive timeout (300 ms): the connection stays open.
            head = partial.read_head()
            self.assertEqual((head.status, head.get("Content-Length")), (200, "100"))
            self.assertEqual(partial.read_exact(7), b"partial")
            # Watched for 1 s, more than three times the timeouts: nothing arrives, nothing closes.
            self.assertEqual(silent.wait_closed(1.0), (False, b""))
            self.assertEqual(partial.wait_closed(0.2), (False, b""))
            # Clients that leave: the server releases their sockets at once (the ECB stays valid
            # until a DONE_WITH_SESSION that never comes); the two still connected keep theirs.
            for c in more:
                c.close()
            wait_for(lambda: srv.fds() == base + 2, 5, 0.01,
                     "the sockets of the sessions whose clients left released (fds %d, base %d)"
                     % (srv.fds(), base))
            self.assert_others_fine(srv)
            self.assertEqual(srv.settled_fds(), base + 2)
            silent.close()
            partial.close()
            self.assert_exit_zero(srv, srv.stop())

    def test_shutdown_completes_after_the_grace_period(self):
        # The server exits without freeing what an abandoned session may still use, so a
        # LeakSanitizer report (and its exit status) is expected from a sanitizer build.
        with self.server(expect_exit=None, allow_leaks=True, args=["--shutdown-grace", str(GRACE_MS)]) as srv:
            events = EventFile(os.path.join(srv.tmp, "events"))
            idle = srv.conn()
            self.assertEqual(idle.request("GET", "/a.txt").body, b"AAAA\n")
            silent = srv.conn()
            silent.send(build_request("GET", "/scripts/nc.dll?id=silent"))
            partial = srv.conn()
            partial.send(build_request("GET", "/scripts/nc.dll?id=partial&head=1"))
            events.wait(count=2, ev="pending")
            head = partial.read_head()
            self.assertEqual(head.status, 200)

            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            wait_for(lambda: connect_refused(srv.port), 2, 0.02, "the listener to close after SIGTERM")
            # The idle connection is closed at once, the sessions are not.
            self.assertEqual(idle.wait_closed(2), (True, b""))
            self.assertLess(time.monotonic() - t0, GRACE_MS / 1000 * 0.9)
            self.assertTrue(srv.alive())
            rc = srv.wait_exit(GRACE_MS / 1000 + 8)
            elapsed = time.monotonic() - t0
            # Grace period, then a second for sessions whose extension code still runs, then the
            # worker pool's stop: the exit comes within grace + 3 s.
            self.assertGreaterEqual(elapsed, GRACE_MS / 1000 * 0.9, "exited before the grace period")
            self.assertLess(elapsed, GRACE_MS / 1000 + 3.0, "exit took %.2fs" % elapsed)
            self.assert_exit_zero(srv, rc)
            err = srv.stderr()
            self.assertIn("shutdown: 2 connection(s) still busy after the %d ms grace period" % GRACE_MS, err)
            self.assertIn("extension work still running; exiting without waiting for it", err)
            # The clients of the abandoned sessions: cut, the partial response short of its length.
            closed, extra = silent.wait_closed(2)
            self.assertEqual((closed, extra), (True, b""))
            closed, extra = partial.wait_closed(2)
            self.assertEqual((closed, extra), (True, b"partial"))
            # TerminateExtension(HSE_TERM_MUST_UNLOAD) was still called.
            self.assertEqual(events.find(ev="terminate"), [{"ev": "terminate", "flags": "2", "abandoned": "2"}])
            for c in (idle, silent, partial):
                c.close()


if __name__ == "__main__":
    main()
