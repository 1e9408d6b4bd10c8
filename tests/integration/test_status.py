"""The status page (--status /PATH, --status-allow CIDR; docs/operations.md "Status page").

- Plain text like nginx's stub_status, JSON with ?json: workers (pid, age, requests, RSS),
  connections (active, idle, reading, writing), parked sessions and the oldest one's age,
  extensions (loaded, requests, in flight, crashes, disabled), pool threads busy/max.
- The numbers move: requests served grow by what a client sent; a parked long-poll shows in
  parked sessions with its age and as an extension request in flight, and leaves when it ends.
- Only loopback peers by default; --status-allow replaces that: a peer outside gets 403.
- Without --status the path is an ordinary URL (404); bad values are refused at start-up and by
  --test-config."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import DEFAULT_TIMEOUT, Server, binary, example, main, rss_kb, wait_for, write_file

PATH = "/server-status"


def get(port, path, source=None, method="GET", conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEFAULT_TIMEOUT,
                                          source_address=(source, 0) if source else None)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        if own:
            conn.close()


def status_json(srv):
    status, headers, body = get(srv.port, PATH + "?json")
    assert status == 200, (status, body)
    assert headers.get("Content-Type") == "application/json", headers
    return json.loads(body)


def server_pids(srv):
    """The server's process and its children: the worker processes, when a master runs them."""
    pids = {srv.proc.pid}
    for task in os.listdir("/proc/%d/task" % srv.proc.pid):
        try:
            with open("/proc/%d/task/%s/children" % (srv.proc.pid, task)) as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def can_bind(addr):
    s = socket.socket()
    try:
        s.bind((addr, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def recv_until(sock, needle):
    """What the socket sends until needle is in it (or it ends; bounded by its timeout): a
    response's head may come in a segment of its own (an extension's thread sends it at once)."""
    got = b""
    while needle not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got

class StatusPageTest(unittest.TestCase):
    def test_text_page(self):
        with Server(files={"a.txt": "a"}, args=["--status", PATH]) as srv:
            status, headers, body = get(srv.port, PATH)
            self.assertEqual(status, 200, body)
            self.assertTrue(headers["Content-Type"].startswith("text/plain"), headers)
            self.assertEqual(headers.get("Cache-Control"), "no-store")
            text = body.decode()
            lines = text.splitlines()
            self.assertRegex(lines[0], r"^Active connections: \d+$")
            self.assertRegex(lines[1], r"^Reading: \d+ Writing: \d+ Waiting: \d+$")
            self.assertRegex(text, r"\nRequests: \d+\n")
            self.assertRegex(text, r"\nParked sessions: 0 oldest: 0 s\n")
            self.assertRegex(text, r"\nCall pool: busy \d+ threads \d+ max 8\n")
            self.assertRegex(text, r"\nCompletion pool: busy \d+ threads \d+ max 4\n")
            self.assertIn("\nWorkers: 1\n", text)
            m = re.search(r"\nworker (\d+) age \d+ s requests \d+ rss \d+ KiB\n", text)
            self.assertIsNotNone(m, text)
            self.assertIn(int(m.group(1)), server_pids(srv))
            self.assertIn("\nExtensions: 0\n", text)
            srv.wait_stderr(r"status page at /server-status \(JSON: /server-status\?json\), "
                            r"for loopback peers only")
            # HEAD has the head only; other methods are refused
            status, headers, body = get(srv.port, PATH, method="HEAD")
            self.assertEqual((status, body), (200, b""))
            status, headers, body = get(srv.port, PATH, method="POST")
            self.assertEqual(status, 405)
            self.assertEqual(headers.get("Allow"), "GET, HEAD")
            # the path only: a neighbour is an ordinary URL
            self.assertEqual(get(srv.port, PATH + "x")[0], 404)
            self.assertEqual(get(srv.port, "/a.txt")[0], 200)

    def test_json_page(self):
        started = time.monotonic()
        with Server(args=["--status", PATH]) as srv:
            doc = status_json(srv)
            for key in ("requests", "connections", "parked", "pools", "workers", "extensions"):
                self.assertIn(key, doc)
            self.assertEqual(sorted(doc["connections"]), ["active", "idle", "reading", "writing"])
            self.assertGreaterEqual(doc["connections"]["active"], 1)   # this request's
            self.assertGreaterEqual(doc["connections"]["writing"], 1)
            self.assertEqual(doc["parked"], {"sessions": 0, "oldest_age_s": 0})
            self.assertEqual(doc["pools"]["calls"]["max"], 8)
            self.assertEqual(doc["pools"]["completions"]["max"], 4)
            self.assertEqual(len(doc["workers"]), 1)
            w = doc["workers"][0]
            self.assertIn(w["pid"], server_pids(srv))
            self.assertGreaterEqual(w["age_s"], 0)
            # an unsigned age is never negative: it is the worker's, not more than the test's
            self.assertLessEqual(w["age_s"], time.monotonic() - started + 1)
            # RSS as the kernel says, within what a second's growth can explain
            wait_for(lambda: status_json(srv)["workers"][0]["rss_bytes"] > 0,
                     message="RSS sampled")
            rss = status_json(srv)["workers"][0]["rss_bytes"] // 1024
            kernel = rss_kb(w["pid"])
            self.assertLess(abs(rss - kernel), max(rss, kernel) // 2 + 1024)
            self.assertEqual(doc["extensions"], [])
            # ?json among other parameters too
            self.assertEqual(get(srv.port, PATH + "?x=1&json")[1]["Content-Type"],
                             "application/json")

    def test_requests_served_grow_by_what_was_sent(self):
        # One loop: every response is published before the next request is read.
        with Server(files={"a.txt": "a"}, args=["--status", PATH], threads=1) as srv:
            before = status_json(srv)
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=DEFAULT_TIMEOUT)
            try:
                for _ in range(7):
                    self.assertEqual(get(srv.port, "/a.txt", conn=conn)[0], 200)
                self.assertEqual(get(srv.port, "/missing", conn=conn)[0], 404)
                # the idle keep-alive connection is counted as waiting
                after = status_json(srv)
                self.assertGreaterEqual(after["connections"]["idle"], 1)
            finally:
                conn.close()
            # 8 sent, and the first page itself
            self.assertEqual(after["requests"], before["requests"] + 9)
            self.assertEqual(after["workers"][0]["requests"], after["requests"])

    def test_requests_on_several_loops(self):
        # Another loop's count reaches the page after that loop's next iteration: poll, and
        # count the pages polled (each is a response too, once it is over).
        with Server(files={"a.txt": "a"}, args=["--status", PATH], threads=3) as srv:
            before = status_json(srv)["requests"]
            for _ in range(12):     # new connections: spread over the loops
                self.assertEqual(get(srv.port, "/a.txt")[0], 200)
            polls = 0

            def counted():
                nonlocal polls
                shown = status_json(srv)["requests"]
                polls += 1
                # the first page, the 12 requests and the pages before this one
                return shown == before + 1 + 12 + (polls - 1)
            wait_for(counted, message="every loop's requests counted")

    def test_parked_long_poll_and_extension(self):
        with Server(scripts={"longpoll.so": example("longpoll")},
                    args=["--status", PATH], threads=1) as srv:
            waiter = socket.create_connection(("127.0.0.1", srv.port), timeout=DEFAULT_TIMEOUT)
            try:
                waiter.sendall(b"GET /scripts/longpoll.so?wait=st1&timeout=60000 HTTP/1.1\r\n"
                               b"Host: x\r\n\r\n")
                wait_for(lambda: status_json(srv)["parked"]["sessions"] == 1,
                         message="the long-poll parked")
                doc = status_json(srv)
                ext = [e for e in doc["extensions"] if e["path"].endswith("/longpoll.so")]
                self.assertEqual(len(ext), 1, doc["extensions"])
                self.assertTrue(ext[0]["loaded"])
                self.assertEqual(ext[0]["workers_loaded"], 1)
                self.assertEqual(ext[0]["requests"], 1)
                self.assertEqual(ext[0]["in_flight"], 1)
                self.assertEqual(ext[0]["crashes"], 0)
                self.assertFalse(ext[0]["disabled"])
                self.assertGreaterEqual(doc["connections"]["writing"], 2)  # the waiter's, ours
                # its age grows
                wait_for(lambda: status_json(srv)["parked"]["oldest_age_s"] >= 2, timeout=10,
                         message="the parked session's age")
                text = get(srv.port, PATH)[2].decode()
                self.assertRegex(text, r"\nParked sessions: 1 oldest: [1-9]\d* s\n")
                self.assertRegex(text, r"\nextension \S+/longpoll\.so loaded 1 requests 1 "
                                       r"in-flight 1 crashes 0 disabled no\n")
                # notify: both end, the session leaves
                status, _, body = get(srv.port, "/scripts/longpoll.so?notify=st1&msg=hi")
                self.assertEqual(status, 200, body)
                self.assertIn(b"hi", recv_until(waiter, b"hi"))
            finally:
                waiter.close()

            def settled():
                d = status_json(srv)
                e = [e for e in d["extensions"] if e["path"].endswith("/longpoll.so")][0]
                return d["parked"]["sessions"] == 0 and e["in_flight"] == 0 and e["requests"] == 2
            wait_for(settled, message="the session ended and counted")
            self.assertEqual(status_json(srv)["parked"]["oldest_age_s"], 0)

    def test_reading_and_busy_pool_threads(self):
        with Server(scripts={"longpoll.so": example("longpoll")},
                    args=["--status", PATH, "--run-extensions", "pool"], threads=1) as srv:
            slow = socket.create_connection(("127.0.0.1", srv.port), timeout=DEFAULT_TIMEOUT)
            blocked = socket.create_connection(("127.0.0.1", srv.port), timeout=DEFAULT_TIMEOUT)
            try:
                slow.sendall(b"GET /a HTTP/1.1\r\nHost:")          # a head not finished
                wait_for(lambda: status_json(srv)["connections"]["reading"] == 1,
                         message="the unfinished head counted as reading")
                # a synchronous wait holds a call-pool thread
                blocked.sendall(b"GET /scripts/longpoll.so?wait=st2&mode=sync&timeout=60000 "
                                b"HTTP/1.1\r\nHost: x\r\n\r\n")
                wait_for(lambda: status_json(srv)["pools"]["calls"]["busy"] == 1,
                         message="a call-pool thread busy")
                # busy from the call's start; the notify below finds the waiter only once it
                # is in the extension's list
                wait_for(lambda: b"blocked=1" in get(srv.port, "/scripts/longpoll.so?count")[2],
                         message="the synchronous waiter listed")
                doc = status_json(srv)
                self.assertGreaterEqual(doc["pools"]["calls"]["threads"], 1)
                self.assertEqual(doc["parked"]["sessions"], 0)     # blocked, not parked
                status, _, body = get(srv.port, "/scripts/longpoll.so?notify=st2&msg=go")
                self.assertEqual(status, 200, body)
                self.assertIn(b"notified=1", body)
                self.assertIn(b"go", recv_until(blocked, b"go"))
                wait_for(lambda: status_json(srv)["pools"]["calls"]["busy"] == 0,
                         message="the pool thread free again")
            finally:
                slow.close()
                blocked.close()


@unittest.skipUnless(can_bind("127.0.0.2"), "no 127.0.0.2 to bind the client to")
class StatusAllowTest(unittest.TestCase):
    def test_default_is_loopback(self):
        with Server(args=["--status", PATH]) as srv:
            self.assertEqual(get(srv.port, PATH, source="127.0.0.2")[0], 200)

    def test_peer_outside_the_allowed_ranges_gets_403(self):
        with Server(args=["--status", PATH, "--status-allow", "127.0.0.1/32",
                          "--status-allow", "10.0.0.0/8"]) as srv:
            status, _, body = get(srv.port, PATH, source="127.0.0.2")
            self.assertEqual(status, 403, body)
            self.assertEqual(get(srv.port, PATH + "?json", source="127.0.0.2")[0], 403)
            self.assertEqual(get(srv.port, PATH, source="127.0.0.1")[0], 200)
            srv.wait_stderr(r"127\.0\.0\.2: status page /server-status refused \(403\)")
            # other URLs are not concerned
            self.assertEqual(get(srv.port, "/nothing", source="127.0.0.2")[0], 404)

    def test_allowed_peer_gets_the_page(self):
        with Server(args=["--status", PATH, "--status-allow", "127.0.0.2"]) as srv:
            status, _, body = get(srv.port, PATH + "?json", source="127.0.0.2")
            self.assertEqual(status, 200, body)
            self.assertIn(json.loads(body)["workers"][0]["pid"], server_pids(srv))
            self.assertEqual(get(srv.port, PATH, source="127.0.0.1")[0], 403)


    def test_command_line_list_replaces_the_file_list(self):
        with Server(config="[server]\nstatus = " + PATH + "\nstatus_allow = 127.0.0.2\n",
                    args=["--status-allow", "127.0.0.1"]) as srv:
            self.assertEqual(get(srv.port, PATH, source="127.0.0.2")[0], 403)
            self.assertEqual(get(srv.port, PATH, source="127.0.0.1")[0], 200)


class StatusOffAndConfigTest(unittest.TestCase):
    def test_off_by_default(self):
        with Server() as srv:
            self.assertEqual(get(srv.port, PATH)[0], 404)
            self.assertEqual(get(srv.port, PATH + "?json")[0], 404)

    def test_bad_values_are_refused(self):
        tmp = tempfile.mkdtemp(prefix="isapid-status-")
        try:
            os.makedirs(os.path.join(tmp, "www"))
            base = ["--test-config", "--listen", "127.0.0.1:1", "--root", os.path.join(tmp, "www")]
            cases = [
                (["--status", "status"], "must start with '/'"),
                (["--status", "/a/../b"], "'..'"),
                (["--status", "/s", "--status-allow", "300.0.0.1"], "not a numeric"),
                (["--status", "/s", "--status-allow", "10.0.0.0/33"], "0-32"),
                (["--status", "/s", "--status-allow", "::1/129"], "0-128"),
                (["--status-allow", "127.0.0.1"], "without --status"),
            ]
            for args, why in cases:
                with self.subTest(args=args):
                    p = subprocess.run([binary()] + base + args, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, timeout=10)
                    self.assertNotEqual(p.returncode, 0)
                    self.assertIn(why, p.stderr.decode())
            ini = write_file(os.path.join(tmp, "s.ini"),
                             "[server]\nlisten = 127.0.0.1:1\nroot = www\nstatus = /st\n"
                             "status_allow = 127.0.0.1\nstatus_allow = ::1/128\n")
            p = subprocess.run([binary(), "--test-config", "--config", ini],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_ini_file(self):
        with Server(config="[server]\nstatus = /st\nstatus_allow = 127.0.0.0/8\n") as srv:
            self.assertEqual(get(srv.port, "/st?json")[0], 200)


if __name__ == "__main__":
    main()
