"""A parked session holds none of its connection's buffers (docs/design.md, "Ownership"): once a
handler has the request and no byte of the input can be read any more, the input buffer, the
head block and the response side go, and what comes next takes them again. These tests drive
the paths that follow: bytes that arrive while the session is parked, the answer written from
the extension's own thread (under a minimum send rate, whose account the write takes), and the
connection's next requests, static and parked again."""

import unittest

from harness import Server, build_request, example, main, wait_for


class ParkedBuffersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "static a\n"},
                         scripts={"longpoll.so": example("longpoll")},
                         args=["--min-send-rate", "100"], threads=1)
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def count(self):
        return int(self.srv.get("/scripts/longpoll.so?count").kv().get("parked", "-1"))

    def park(self, c, ident):
        c.send(build_request("GET", "/scripts/longpoll.so?wait=%s&timeout=60000" % ident))
        wait_for(lambda: self.count() == 1, message="the long-poll %s parked" % ident)

    def notify(self, ident, msg):
        r = self.srv.get("/scripts/longpoll.so?notify=%s&msg=%s" % (ident, msg))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.kv().get("notified"), "1")

    def test_request_sent_while_parked_then_more(self):
        with self.srv.conn() as c:
            self.park(c, "pb1")
            # The next request arrives while the session is parked: it waits in the socket.
            c.send(build_request("GET", "/a.txt"))
            self.notify("pb1", "one")
            r1 = c.read_response()
            self.assertEqual((r1.status, r1.body), (200, b"one\n"))
            r2 = c.read_response()
            self.assertEqual((r2.status, r2.body), (200, b"static a\n"))
            # The same connection parks again, and is answered again.
            self.park(c, "pb2")
            self.notify("pb2", "two")
            r3 = c.read_response()
            self.assertEqual((r3.status, r3.body), (200, b"two\n"))
            c.send(build_request("GET", "/a.txt"))
            self.assertEqual(c.read_response().body, b"static a\n")
        wait_for(lambda: self.count() == 0, message="no session left parked")

    def test_pipelined_behind_a_parked_request(self):
        # Bytes behind the request when it parks: the input buffer stays, the rest is served.
        with self.srv.conn() as c:
            c.send(build_request("GET", "/scripts/longpoll.so?wait=pb3&timeout=60000") +
                   build_request("GET", "/a.txt"))
            wait_for(lambda: self.count() == 1, message="the long-poll pb3 parked")
            self.notify("pb3", "three")
            self.assertEqual(c.read_response().body, b"three\n")
            self.assertEqual(c.read_response().body, b"static a\n")


if __name__ == "__main__":
    main()
