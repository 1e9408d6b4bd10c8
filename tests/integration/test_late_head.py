"""A response head sent outside HttpExtensionProc goes out at once (issue 12, item 4).

The latehead fixture sends its head from a thread it made, or from a completion callback, and
writes the body only when the test releases it (op=release, a second request). The client must
see the head before the release: IIS sends a head when the extension sends it. Inside
HttpExtensionProc the server may still merge a header-only head with the next write."""

import unittest

from harness import RawConn, Server, build_request, fixture, main

# The fixture gives up waiting after this long and writes "timeout" instead of "released";
# the client's socket waits longer, so a held-back head shows as a wrong body, not a hang.
FIXTURE_WAIT = 15
CLIENT_TIMEOUT = 40


class LateHeadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"latehead.so": fixture("latehead")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def release(self):
        r = self.srv.get("/scripts/latehead.dll?op=release")
        self.assertEqual(r.status, 200, r)

    def head_before_body(self, op):
        with RawConn(self.srv.port, timeout=CLIENT_TIMEOUT) as c:
            c.send(build_request("GET", "/scripts/latehead.dll?op=%s&wait=%d" % (op, FIXTURE_WAIT)))
            head = c.read_head()
            self.assertEqual(head.status, 200, head)
            self.assertEqual(head.get("X-Late"), "1", head)
            # Nothing of the body yet: the fixture writes it only after the release.
            self.assertEqual(c.buf, b"", "the head came with the body, not before it")
            self.release()
            c._read_body(head, "GET")
            self.assertEqual(head.body, b"released", head)
            # The connection carries the next request.
            self.assertEqual(c.request("GET", "/scripts/latehead.dll?op=inproc").body, b"body")

    def test_head_from_an_extension_thread_goes_out_at_once(self):
        self.head_before_body("thread")

    def test_head_from_a_completion_callback_goes_out_at_once(self):
        self.head_before_body("callback")

    def test_head_inside_extension_proc_still_merges(self):
        # The held-back head and the first write leave together; the response is the same.
        with RawConn(self.srv.port, timeout=CLIENT_TIMEOUT) as c:
            r = c.request("GET", "/scripts/latehead.dll?op=inproc")
            self.assertEqual((r.status, r.get("X-Late"), r.body), (200, "1", b"body"), r)


if __name__ == "__main__":
    main()
