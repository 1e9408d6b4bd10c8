"""Extensions on the loop's thread, and the hand-off (docs/design.md, "Extensions on the loop's
thread"): a short HttpExtensionProc runs on the thread that read the request; one that blocks
has the event loop taken from under it and run by a helper thread, so other connections on that
loop go on being served; its extension then runs on the worker pool for a while; the home
thread takes its loop back when its call returns. --run-extensions pool keeps every call on the
pool. The where.dll fixture answers with the name of its thread."""

import os
import select
import threading
import time
import unittest

from harness import Server, RawConn, build_request, example, fixture, main, thread_count, wait_for

FILES = {"a.txt": "AAAA\n"}
HELLO_BODY = b"Hello, world!\n"
COPIES = ["where%d.so" % i for i in range(7)]   # separate extensions: one hand-off each


def scripts():
    s = {name: fixture("where") for name in COPIES}
    s["where.so"] = fixture("where")
    s["hello.so"] = example("hello")
    return s


class HandoffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files=FILES, scripts=scripts(), threads=1)
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def thread_of(self, path, conn=None):
        r = conn.request("GET", path) if conn else self.srv.get(path)
        self.assertEqual(r.status, 200, r)
        return r.body.decode().strip()

    def loop_back_home(self):
        # After a hand-off, the home thread takes its loop back as soon as its call returns,
        # which may be a moment after the client saw the responses.
        wait_for(lambda: self.thread_of("/scripts/where.dll") == "isapid-loop0", 10, 0.02,
                 "the loop back on its own thread")

    def loop_goes_on_without(self, held, what):
        # While the call of connection held keeps the loop's own thread, the loop goes on, run
        # by a helper: a static file and short extension calls are answered, the short calls on
        # the helper (whichever thread runs the loop runs them), and held has no answer yet.
        def served_by_helper():
            return self.thread_of("/scripts/where2.dll") == "isapid-helper"
        wait_for(served_by_helper, 10, 0.02, "a short call on the helper running the loop")
        self.assertEqual(self.srv.get("/a.txt").body, b"AAAA\n")
        self.assertEqual(self.srv.get("/scripts/hello.dll").body, HELLO_BODY)
        self.assertEqual(select.select([held.sock], [], [], 0)[0], [],
                         "the %s call finished before the others" % what)

    def test_short_call_runs_on_the_loop_thread(self):
        # (A call is only ever handed off when it is still running on two watchdog ticks; on a
        # loaded machine a short call may be descheduled that long, so one call on the loop's
        # thread is what this asserts, not every call.)
        self.loop_back_home()
        self.assertEqual(self.srv.get("/scripts/hello.dll").body, HELLO_BODY)

    def test_blocking_call_hands_the_loop_off(self):
        srv = self.srv
        self.thread_of("/scripts/where1.dll") # loaded: a loading call is not held against it
        with srv.conn(timeout=20) as blocked:
            blocked.send(build_request("GET", "/scripts/where1.dll?ms=1500"))
            self.loop_goes_on_without(blocked, "blocking")
            r = blocked.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"isapid-loop0\n")   # it had started on the loop's thread
            # The extension that blocked runs on the pool for a while.
            self.assertEqual(self.thread_of("/scripts/where1.dll", blocked), "isapid-worker")
        # Its call over, the home thread takes the loop back.
        self.loop_back_home()

    def test_busy_call_hands_the_loop_off(self):
        # A call that never sleeps (it spins on the CPU) is runnable at every look of the
        # watchdog, as a preempted one is; it loses its loop once it has used a tick of CPU
        # time more, and the loop goes on on a helper as for a blocking call.
        srv = self.srv
        self.thread_of("/scripts/where6.dll")
        with srv.conn(timeout=20) as busy:
            busy.send(build_request("GET", "/scripts/where6.dll?spin=2000"))
            self.loop_goes_on_without(busy, "busy")
            r = busy.read_response()
            self.assertEqual((r.status, r.body), (200, b"isapid-loop0\n"))
        self.loop_back_home()

    def test_pipelined_requests_behind_a_blocking_call(self):
        srv = self.srv
        with srv.conn(timeout=20) as c:
            c.send(build_request("GET", "/scripts/where3.dll?ms=300") +
                   build_request("GET", "/scripts/hello.dll") * 5 +
                   build_request("GET", "/a.txt"))
            with srv.conn() as other:
                self.assertEqual(other.request("GET", "/a.txt").body, b"AAAA\n")
            r = c.read_response()
            self.assertEqual((r.status, r.body), (200, b"isapid-loop0\n"))
            for _ in range(5):
                self.assertEqual(c.read_response().body, HELLO_BODY)
            self.assertEqual(c.read_response().body, b"AAAA\n")

    def test_hand_offs_under_load(self):
        # Clients keep short requests going on keep-alive connections while blocking calls of
        # several extensions each hand the loop off; every response is right and in order.
        srv = self.srv
        errors = []
        stop = threading.Event()

        def client(n):
            try:
                with srv.conn(timeout=20) as c:
                    i = 0
                    while not stop.is_set() and i < 5000:
                        path = "/a.txt" if i % 3 == 0 else "/scripts/hello.dll"
                        c.send(build_request("GET", path))
                        r = c.read_response()
                        want = b"AAAA\n" if path == "/a.txt" else HELLO_BODY
                        if r.status != 200 or r.body != want:
                            errors.append((n, i, r.status, r.body[:40]))
                            return
                        i += 1
            except Exception as e:  # reported below
                errors.append((n, repr(e)))

        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in clients:
            t.start()
        try:
            blockers = []
            for name in ("where4", "where5", "where0"):
                c = srv.conn(timeout=20)
                c.send(build_request("GET", "/scripts/%s.dll?ms=200" % name))
                blockers.append(c)
            for c in blockers:
                r = c.read_response()
                self.assertEqual(r.status, 200)
                c.close()
        finally:
            stop.set()
            for t in clients:
                t.join(30)
        self.assertEqual(errors, [])
        # main, loop, pool monitor, workers (2:8), the completion pool (1:4, the harness's
        # default) and its monitor, watchdog, a helper per blocked call and two more, the ECB
        # arena's fault handler, a sanitizer's own: bounded.
        self.assertLessEqual(thread_count(srv.pid), 1 + 1 + 1 + 8 + 4 + 1 + 1 + 3 + 2 + 1 + 1)


class PoolModeTest(unittest.TestCase):
    def test_pool_mode_runs_every_call_on_a_worker(self):
        with Server(scripts={"where.so": fixture("where")}, args=["--run-extensions", "pool"]) as srv:
            r = srv.get("/scripts/where.dll")
            self.assertEqual((r.status, r.body), (200, b"isapid-worker\n"))


if __name__ == "__main__":
    main()
