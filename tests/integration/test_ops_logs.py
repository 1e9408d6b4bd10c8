"""Operations, logs: --error-log, --log-level, and SIGUSR1 reopening both logs after
logrotate's rename (no line lost, none torn, the server keeps serving)."""

import os
import re
import signal
import subprocess
import threading
import unittest

import harness
from harness import Server, read_lines, wait_for


class Clients:
    """Threads that fetch /index.html on keep-alive connections until stopped; counts the
    responses that came back whole."""

    def __init__(self, srv, n=4):
        self.srv, self.ok, self.failed = srv, 0, []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(n)]

    def run(self):
        while not self.stop.is_set():
            try:
                with self.srv.conn() as c:
                    for _ in range(50):
                        r = c.request("GET", "/index.html")
                        if r.status != 200 or r.body != b"<p>i</p>\n":
                            raise AssertionError("bad response %r" % r)
                        with self.lock:
                            self.ok += 1
                        if self.stop.is_set():
                            return
            except Exception as e:   # noqa: BLE001 - reported by the test
                with self.lock:
                    self.failed.append(repr(e))
                return

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def count(self):
        with self.lock:
            return self.ok


class ErrorLogTest(unittest.TestCase):
    def test_error_log_file_and_level(self):
        with Server(files={"index.html": "<p>i</p>\n"}, args=["--error-log", "{tmp}/error.log"]) as srv:
            path = os.path.join(srv.tmp, "error.log")
            wait_for(lambda: any("listening on" in l for l in read_lines(path)), message="start line")
            srv.stop()
            lines = read_lines(path)
            self.assertTrue(any("[info] stopped" in l for l in lines), lines)
            self.assertNotIn("listening on", srv.stderr())
            for line in lines:
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(error|warn|info|debug)\] ")
        with Server(files={"index.html": "x"}, args=["--error-log", "{tmp}/error.log",
                                                      "--log-level", "warn"]) as srv:
            srv.stop()
            self.assertEqual([l for l in read_lines(os.path.join(srv.tmp, "error.log"))
                              if "[info]" in l], [])

    def test_bad_values(self):
        with Server(files={"index.html": "x"}, start=False) as srv:
            cmd = srv.command(harness.free_port())
            for extra, message in ((["--log-level", "loud"], "expected error, warn, info or debug"),
                                   (["--error-log="], "empty path"),
                                   (["--error-log", "/nonexistent-dir/x/error.log", "--test-config"],
                                    "cannot open the error log /nonexistent-dir/x/error.log")):
                p = subprocess.run(cmd + extra, capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(message, p.stderr)
            p = subprocess.run(cmd + ["--error-log", "/nonexistent-dir/x/error.log"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("cannot open the error log /nonexistent-dir/x/error.log: No such file", p.stderr)


class ReopenTest(unittest.TestCase):
    def test_usr1_after_rename_loses_no_line(self):
        with Server(files={"index.html": "<p>i</p>\n"}, threads=2,
                    args=["--error-log", "{tmp}/error.log"]) as srv:
            err, acc = os.path.join(srv.tmp, "error.log"), srv.access_log
            with Clients(srv) as clients:
                wait_for(lambda: clients.count() >= 200, 20, message="requests before the rename")
                os.rename(err, err + ".1")
                os.rename(acc, acc + ".1")
                before = clients.count()
                srv.signal(signal.SIGUSR1)
                wait_for(lambda: any("logs reopened" in l for l in read_lines(err)), 10,
                         message="the new error log")
                wait_for(lambda: len(read_lines(acc)) >= 100, 20, message="lines in the new access log")
                self.assertGreater(clients.count(), before)
            self.assertEqual(clients.failed, [])
            total = clients.count()
            srv.stop()
            old, new = read_lines(acc + ".1"), read_lines(acc)
            rx = r'^127\.0\.0\.1 - - \[[^]]+\] "GET /index\.html HTTP/1\.1" 200 9 "-" "-"$'
            for line in old + new:
                self.assertRegex(line, rx)           # whole lines only
            self.assertEqual(len(old) + len(new), total)
            self.assertGreater(len(old), 0)
            self.assertTrue(any("listening on" in l for l in read_lines(err + ".1")))
            self.assertTrue(any("[info] stopped" in l for l in read_lines(err)))
            # the master's own lines too (it reopens the error log as its workers do)
            self.assertTrue(any(re.search(r"worker \d+ stopped \(exited with status 0\)", l)
                                for l in read_lines(err)), read_lines(err))
            self.assertFalse(any("listening on" in l for l in read_lines(err)))

    def test_reopen_failure_keeps_the_old_file(self):
        with Server(files={"index.html": "<p>i</p>\n"}) as srv:
            acc = srv.access_log
            self.assertEqual(srv.get("/index.html").status, 200)
            os.rename(acc, acc + ".1")
            os.mkdir(acc)                            # the new file cannot be opened
            srv.signal(signal.SIGUSR1)
            srv.wait_stderr(r"cannot reopen the access log .*access\.log: Is a directory; "
                            r"still writing to the old file")
            self.assertEqual(srv.get("/index.html").status, 200)
            wait_for(lambda: len(read_lines(acc + ".1")) == 2, message="both lines in the old file")
            self.assertTrue(srv.alive())


if __name__ == "__main__":
    harness.main()
