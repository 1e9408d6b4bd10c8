"""Running out of descriptors, and parked sessions whose client left (docs/design.md "Out of
descriptors" and "Parked sessions whose client left").

With RLIMIT_NOFILE at 64 (soft and hard: the server raises its soft limit to the hard one at
start, so the limit is set on the running process with prlimit) and 100 clients holding their
connections for 3 s, the server pauses accepting instead of spinning on the listener: few log
lines, little CPU, an already-open keep-alive connection served all along (a static file it
cannot open meanwhile is a 503), and a new connection served again within a second of the
clients leaving. The same when the descriptors are held by parked sessions (HSE_STATUS_PENDING,
tests/fixtures/async.c op=hold) whose clients then leave: the server releases their sockets at
once, and their DONE_WITH_SESSION, much later, is handled cleanly (the answer's WriteClient
fails with ERROR_NETNAME_DELETED).

The numbers measured are printed ("[fds] ...")."""

import os
import resource
import socket
import time
import unittest

from harness import (EventFile, RawConn, Server, build_request, example, fixture, main,
                     parse_kv, request, rss_kb, sanitizer_of_binary, wait_for)

NOFILE = 64
CLIENTS = 100
HOLD_S = 3.0
MAX_LOG_LINES = 100
MAX_CPU_S = 0.5
SERVE_AGAIN_S = 1.0
MARGIN_S = 1.5            # for a loaded 2-core machine (and sanitizer builds)
PARKED = 250
ERROR_NETNAME_DELETED = 64
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of the whole process, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def report(msg):
    print("\n  [fds] " + msg, flush=True)


def connect(port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def served(port, path="/scripts/hello.dll", timeout=0.5):
    """A new connection gets a 200 for path within timeout."""
    try:
        return request(port, "GET", path, timeout=timeout).status == 200
    except OSError:
        return False


class FdExhaustionTest(unittest.TestCase):
    """Item: 100 connections against a limit of 64 descriptors, held for 3 s."""

    def server(self, **kw):
        return Server(files={"a.txt": "AAAA\n"},
                      scripts={"hello.so": example("hello"), "async.so": fixture("async")},
                      threads=2, workers="2:8",
                      # the scenario, not a timeout, decides when clients go
                      args=["--header-timeout", "60000", "--keepalive-timeout", "60000"], **kw)

    def limit(self, srv):
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        self.assertEqual(resource.prlimit(srv.pid, resource.RLIMIT_NOFILE), (NOFILE, NOFILE))

    def exhaust(self, srv, keepalive, head):
        """Opens CLIENTS connections (each sends head, if any), waits until the server has used
        up its descriptors, holds them HOLD_S s while the keep-alive connection is used, and
        returns (clients, cpu seconds, log lines, statuses seen on the keep-alive connection)."""
        lines0 = len(srv.stderr().splitlines())
        cpu0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        clients = []
        for _ in range(CLIENTS):
            s = connect(srv.port)       # completes in the listen queue even when not accepted
            if head:
                s.sendall(head)
            clients.append(s)
        wait_for(lambda: srv.fds() >= NOFILE - 1, 10, 0.02,
                 "the server to use up its %d descriptors (has %d)" % (NOFILE, srv.fds()))
        seen = []
        while time.monotonic() - t0 < HOLD_S:
            # The loops still serve what they accepted: an extension (no descriptor needed) and a
            # static file, which cannot be opened now: 503, not 500, and the connection stays.
            seen.append(keepalive.request("GET", "/scripts/hello.dll").status)
            seen.append(keepalive.request("GET", "/a.txt").status)
            time.sleep(0.2)     # the scenario's pace, not a wait for a condition
        cpu = cpu_seconds(srv.pid) - cpu0
        lines = len(srv.stderr().splitlines()) - lines0
        return clients, cpu, lines, seen

    def check_scenario(self, srv, clients, cpu, lines, seen, what):
        report("%s: %d clients held %.0f s at RLIMIT_NOFILE %d: server CPU %.3f s, %d log lines, "
               "keep-alive statuses %s" % (what, CLIENTS, HOLD_S, NOFILE, cpu, lines, sorted(set(seen))))
        self.assertLess(lines, MAX_LOG_LINES, srv.stderr()[-3000:])
        self.assertLess(cpu, MAX_CPU_S)
        self.assertIn(200, seen)
        self.assertIn(503, seen)
        self.assertEqual(set(seen) - {200, 503}, set(), seen)
        self.assertRegex(srv.stderr(), r"accept: Too many open files")
        self.assertRegex(srv.stderr(), r"cannot open .*a\.txt: Too many open files.*503")
        t0 = time.monotonic()
        for s in clients:
            s.close()
        wait_for(lambda: served(srv.port), SERVE_AGAIN_S + MARGIN_S, 0.02,
                 "a new connection served after the clients closed")
        took = time.monotonic() - t0
        report("%s: served a new connection %.3f s after the clients closed" % (what, took))
        self.assertEqual(request(srv.port, "GET", "/a.txt").status, 200)

    def test_held_connections_pause_accepting(self):
        with self.server() as srv:
            self.limit(srv)
            with srv.conn() as ka:
                self.assertEqual(ka.request("GET", "/scripts/hello.dll").status, 200)
                self.assertEqual(ka.request("GET", "/a.txt").body, b"AAAA\n")
                clients, cpu, lines, seen = self.exhaust(srv, ka, None)
                self.check_scenario(srv, clients, cpu, lines, seen, "idle clients")
                self.assertEqual(ka.request("GET", "/a.txt").status, 200)


if __name__ == "__main__":
    main()
