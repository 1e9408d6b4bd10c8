"""Calls after the session ended (docs/isapi.md "Calls after the end"): an extension's thread
that keeps a ConnID past HSE_REQ_DONE_WITH_SESSION gets FALSE + ERROR_INVALID_PARAMETER from
every callback, always, and none of its bytes reach any client — while other clients' requests
come and go on the same server. Through tests/fixtures/late.c (event file in LATE_EVENTS)."""

import os
import select
import threading
import time
import unittest

from harness import EventFile, RawConn, Server, build_request, fixture, main, pattern_bytes, wait_for

ERROR_INVALID_PARAMETER = 87

SESSIONS = 125          # late sessions, each with...
ROUNDS = 2              # ...rounds of 4 late calls: 1,000 late calls
LATE_CLIENTS = 2        # connections the late sessions are asked on
OTHER_CLIENTS = 4       # connections of other clients, asking all the while
DEADLINE = 120.0        # seconds for the whole run (a sanitizer build on a loaded machine)


class LateCallsTest(unittest.TestCase):
    def test_late_calls_fail_and_reach_no_client(self):
        with Server(files={"index.html": "<p>index</p>\n"}, scripts={"late.so": fixture("late")},
                    threads=2, workers="2:8", env={"LATE_EVENTS": "{tmp}/events.log"}) as srv:
            ev = EventFile(os.path.join(srv.tmp, "events.log"))
            start = time.monotonic()
            stop = threading.Event()
            failures = []
            received = []          # every byte any client got, to look for foreign ones
            counts = {"late": 0, "other": 0}
            lock = threading.Lock()

            def fail(msg):
                with lock:
                    failures.append(msg)
                stop.set()

            def check_clean(c, who):
                # nothing may follow the last response on a connection
                extra = c.buf
                readable, _, _ = select.select([c.sock], [], [], 0.05)
                if readable:
                    try:
                        extra += c.sock.recv(65536)
                    except OSError:
                        pass
                if extra:
                    fail("%s: bytes after the last response: %r" % (who, extra[:200]))

            def late_client(k):
                try:
                    with RawConn(srv.port, timeout=30) as c:
                        for i in range(k, SESSIONS, LATE_CLIENTS):
                            if stop.is_set() or time.monotonic() - start > DEADLINE:
                                return
                            rid = "L%d" % i
                            r = c.request("GET", "/scripts/late.dll?op=late&rounds=%d&id=%s" % (ROUNDS, rid))
                            with lock:
                                received.append(r.raw_head + r.body)
                                counts["late"] += 1
                            if (r.status, r.body, r.get("X-Foreign")) != (200, ("late=%s\n" % rid).encode(), None):
                                fail("late session %s answered %r" % (rid, r))
                                return
                        check_clean(c, "late client %d" % k)
                except Exception as e:     # reported, not lost in the thread
                    fail("late client %d: %r" % (k, e))

            def other_client(k):
                try:
                    with RawConn(srv.port, timeout=30) as c:
                        for i in range(10 ** 6):
                            if stop.is_set() or time.monotonic() - start > DEADLINE:
                                break
                            if i % 3 == 2:
                                r = c.request("GET", "/index.html")
                                want = b"<p>index</p>\n"
                            else:
                                rid = "O%d-%d" % (k, i)
                                r = c.request("GET", "/scripts/late.dll?op=hello&id=" + rid)
                                want = ("hello=%s\n" % rid).encode()
                            with lock:
                                received.append(r.raw_head + r.body)
                                counts["other"] += 1
                            if (r.status, r.body, r.get("X-Foreign")) != (200, want, None):
                                fail("other client %d request %d answered %r" % (k, i, r))
                                return
                        check_clean(c, "other client %d" % k)
                except Exception as e:
                    fail("other client %d: %r" % (k, e))

            others = [threading.Thread(target=other_client, args=(k,)) for k in range(OTHER_CLIENTS)]
            lates = [threading.Thread(target=late_client, args=(k,)) for k in range(LATE_CLIENTS)]
            for t in others + lates:
                t.start()
            try:
                for t in lates:
                    t.join(DEADLINE + 30)
                if not failures:
                    # the broadcaster's last rounds run after the last session's answer
                    want = SESSIONS * ROUNDS * 4
                    wait_for(lambda: len([e for e in ev.all() if "call" in e]) >= want, 60, 0.05,
                             "%d late calls recorded" % want)
            finally:
                stop.set()
                for t in others + lates:
                    t.join(60)
            self.assertEqual(failures, [])
            self.assertFalse(any(t.is_alive() for t in others + lates), "a client thread hung")

            calls = [e for e in ev.all() if "call" in e]
            self.assertEqual(len(calls), SESSIONS * ROUNDS * 4)
            bad = [e for e in calls if (e["ok"], e["err"]) != ("0", str(ERROR_INVALID_PARAMETER))]
            self.assertEqual(bad, [], "late calls that did not fail with 87: %d of %d, first %r"
                             % (len(bad), len(calls), bad[:5]))
            self.assertEqual(sorted({e["call"] for e in calls}), ["done", "gsv", "ssf", "wc"])
            self.assertEqual(counts["late"], SESSIONS)
            self.assertGreater(counts["other"], 0)
            blob = b"".join(received)
            self.assertNotIn(b"FOREIGN", blob)
            self.assertNotIn(b"X-Foreign", blob)
            self.assertTrue(srv.alive(), srv.stderr()[-4000:])
            kv = srv.get("/scripts/late.dll?op=stats").kv()
            self.assertEqual((kv.get("pending"), kv.get("stale")), ("0", "0"), kv)
            print("\n  [late] %d late calls, all FALSE + 87; %d late sessions, %d other responses"
                  % (len(calls), counts["late"], counts["other"]))

    def test_call_in_flight_when_the_session_ends(self):
        # A synchronous WriteClient blocked on a client that does not read, and DONE from
        # another thread meanwhile: the request ends only when the write has returned, so the
        # write is whole and the connection carries the next request; a call after it is late.
        n = 8 * 1024 * 1024
        with Server(files={"index.html": "<p>index</p>\n"}, scripts={"late.so": fixture("late")},
                    threads=2, env={"LATE_EVENTS": "{tmp}/events.log"}) as srv:
            ev = EventFile(os.path.join(srv.tmp, "events.log"))
            with RawConn(srv.port, timeout=30, rcvbuf=4096) as c:
                c.send(build_request("GET", "/scripts/late.dll?op=inflight&id=F1&n=%d" % n))
                done = ev.wait(20, id="F1", call="inflight_done")[0]
                self.assertEqual((done["ok"], done["err"]), ("1", "0"), done)
                self.assertEqual(ev.find(id="F1", call="inflight_wc"), [],
                                 "the write returned before the client read: nothing was in flight")
                r = c.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(len(r.body), n)
                self.assertEqual(r.body, pattern_bytes(n))
                wc = ev.wait(20, id="F1", call="inflight_wc")[0]
                self.assertEqual((wc["ok"], wc["err"]), ("1", "0"), wc)
                late = ev.wait(20, id="F1", call="wc")[0]
                self.assertEqual((late["ok"], late["err"]), ("0", str(ERROR_INVALID_PARAMETER)), late)
                self.assertEqual(c.request("GET", "/index.html").body, b"<p>index</p>\n")
            self.assertTrue(srv.alive())

    def test_calls_through_stale_ecbs(self):
        # An extension's thread that kept the ECB pointers of ended sessions calls through them
        # (pECB->WriteClient(pECB->ConnID, ...)) after 9,000 other requests, when the memory of
        # those ECBs has been given back, and their 2 MiB chunk (8,160 ECBs: one loop fills it
        # alone) replaced: every call fails with 87, the ECBs read as ended ones, the server
        # lives on.
        held, hellos = 20, 9000
        with Server(files={"index.html": "<p>index</p>\n"}, scripts={"late.so": fixture("late")},
                    threads=1, env={"LATE_EVENTS": "{tmp}/events.log"}) as srv:
            ev = EventFile(os.path.join(srv.tmp, "events.log"))
            # the arena's mode, logged at start-up (maybe just after the first connection)
            mode = srv.wait_stderr(r"ECB cells: .*userfaultfd.*", 20).group(0)
            userfaultfd = "is not used" not in mode
            received = []
            with RawConn(srv.port, timeout=30) as c:
                for i in range(held):
                    r = c.request("GET", "/scripts/late.dll?op=held&id=H%d" % i)
                    self.assertEqual((r.status, r.body), (200, ("late=H%d\n" % i).encode()))
                    received.append(r.raw_head + r.body)
                ecbs = [int(e["ecb"], 16) for e in ev.wait(20, count=held, call="held")]
                wait_for(lambda: srv.get("/scripts/late.dll?op=stats").kv().get("pending") == "0",
                         20, 0.05, "the held sessions to end")
                for i in range(hellos):
                    r = c.request("GET", "/scripts/late.dll?op=hello&id=O%d" % i)
                    self.assertEqual(r.body, ("hello=O%d\n" % i).encode())
                    received.append(r.raw_head + r.body)
            if userfaultfd:
                # the blocks holding those ECBs have been given back: no page there
                present = [hex(a) for a in ecbs if page_present(srv.pid, a)]
                self.assertEqual(present, [], "ECB pages still resident after %d requests" % hellos)
            kv = srv.get("/scripts/late.dll?op=fire").kv()
            self.assertEqual(kv.get("fired"), str(held), kv)
            names = ["ecb_wc", "ecb_done", "ecb_gsv", "ecb_rc", "ecb_fields"]
            wait_for(lambda: len([e for e in ev.all() if e.get("call") in names]) >= held * len(names)
                     or not srv.alive(), 30, 0.05, "the calls through the held ECBs")
            self.assertTrue(srv.alive(), srv.stderr()[-4000:])
            calls = [e for e in ev.all() if e.get("call") in names]
            self.assertEqual(len(calls), held * len(names))
            bad = [e for e in calls if e["call"] != "ecb_fields" and
                   (e["ok"], e["err"]) != ("0", str(ERROR_INVALID_PARAMETER))]
            self.assertEqual(bad, [], "calls through stale ECBs that did not fail with 87")
            self.assertEqual([e for e in calls if e["call"] == "ecb_fields" and e["ok"] != "1"], [],
                             "held ECBs that do not read as ended ones")
            self.assertEqual(srv.get("/scripts/late.dll?op=hello&id=after").body, b"hello=after\n")
            self.assertNotIn(b"FOREIGN", b"".join(received))
            print("\n  [late] %d calls through stale ECBs after %d requests, all FALSE + 87 (%s)"
                  % (len(calls) - held, hellos, "userfaultfd" if userfaultfd else "kept memory"))


def page_present(pid, addr):
    """Whether the page at addr is in memory in process pid (/proc/PID/pagemap, bit 63)."""
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(addr // 4096 * 8)
        return bool(int.from_bytes(f.read(8), "little") >> 63 & 1)


if __name__ == "__main__":
    main()
