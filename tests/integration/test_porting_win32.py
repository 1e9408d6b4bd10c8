"""Porting corpus, threads and files: tests/porting/threadpool (CreateThread workers fed by a
semaphore and a CRITICAL_SECTION queue made in DllMain, answering pending sessions after Sleep)
and tests/porting/transmit (CreateFile of a mapped path, then HSE_REQ_TRANSMIT_FILE of its
handle) and tests/porting/asyncread (HSE_REQ_ASYNC_READ_CLIENT into VirtualAlloc'ed memory),
in the real server."""

import concurrent.futures
import re
import unittest

from harness import Server, fd_count, main, porting


class ThreadPoolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"threadpool.so": porting("threadpool")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def answer(self, query):
        r = self.srv.get("/scripts/threadpool.dll?" + query)
        self.assertEqual(r.status, 200, r.body)
        m = re.fullmatch(rb"served=(\d+) thread=(\d+) delay=(\d+)\r\n", r.body)
        self.assertIsNotNone(m, r.body)
        return int(m.group(1)), int(m.group(2)), int(m.group(3))

    def test_pending_sessions_answered_by_pool_threads(self):
        # Eight requests that each take 300 ms on a pool thread: they overlap, so more than one
        # worker serves them, and each is answered once with its own delay.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(self.answer, ["delay=300"] * 8))
        self.assertEqual({a[2] for a in answers}, {300})
        self.assertEqual(len({a[0] for a in answers}), 8)  # InterlockedIncrement: distinct
        self.assertGreater(len({a[1] for a in answers}), 1, answers)
        self.assertLessEqual(len({a[1] for a in answers}), 4)  # POOL_THREADS
        r = self.srv.get("/scripts/threadpool.dll?stats")
        self.assertEqual(r.status, 200)
        served = int(re.fullmatch(rb"served=(\d+)\r\n", r.body).group(1))
        self.assertGreaterEqual(served, 8)

    def test_keep_alive_after_pending(self):
        with self.srv.conn() as c:
            for _ in range(3):
                r = c.request("GET", "/scripts/threadpool.dll?delay=1")
                self.assertEqual(r.status, 200)
                self.assertRegex(r.body, rb"^served=\d+ thread=\d+ delay=1\r\n$")


class TransmitTest(unittest.TestCase):
    BODY = bytes(range(256)) * 300  # 76,800 bytes, every byte value

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"data.bin": cls.BODY, "sub/a.txt": "alpha\n"},
                         scripts={"transmit.so": porting("transmit")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_transmit_file_of_created_handle(self):
        r = self.srv.get("/scripts/transmit.dll?data.bin")
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.header("Content-Length"), str(len(self.BODY)))
        self.assertEqual(r.body, self.BODY)
        r = self.srv.get("/scripts/transmit.dll?sub/a.txt")
        self.assertEqual((r.status, r.body), (200, b"alpha\n"))

    def test_missing_file_reports_win32_error(self):
        r = self.srv.get("/scripts/transmit.dll?nothing.txt")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"CreateFile failed: error 2\r\n")  # ERROR_FILE_NOT_FOUND
        r = self.srv.get("/scripts/transmit.dll?nodir/x.txt")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"CreateFile failed: error 3\r\n")  # ERROR_PATH_NOT_FOUND
        r = self.srv.get("/scripts/transmit.dll?sub")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"CreateFile failed: error 5\r\n")  # a directory

    def test_handles_are_closed(self):
        # Many requests: a leaked descriptor per request would show in /proc/PID/fd.
        self.assertEqual(self.srv.get("/scripts/transmit.dll?sub/a.txt").status, 200)  # loaded
        before = fd_count(self.srv.pid)
        for _ in range(50):
            self.assertEqual(self.srv.get("/scripts/transmit.dll?sub/a.txt").status, 200)
        self.assertLess(fd_count(self.srv.pid) - before, 10)


class AsyncReadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"asyncread.so": porting("asyncread")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def post(self, body, headers=None):
        return self.srv.request("POST", "/scripts/asyncread.dll", headers=headers, body=body)

    def test_bodies_gathered_in_virtual_memory(self):
        for size in (0, 10, 70000, 256 * 1024):
            with self.subTest(size=size):
                body = bytes((i * 7) & 0xFF for i in range(size))
                r = self.post(body)
                self.assertEqual(r.status, 200, r.body)
                m = re.fullmatch(rb"bytes=(\d+) sum=(\d+) reads=(\d+)\r\n", r.body)
                self.assertIsNotNone(m, r.body)
                self.assertEqual(int(m.group(1)), size)
                self.assertEqual(int(m.group(2)), sum(body) & 0xFFFFFFFF)
                if size >= 70000:
                    self.assertGreater(int(m.group(3)), 0)  # past the read-ahead: async reads

    def test_limits(self):
        self.assertEqual(self.post(b"x" * (256 * 1024 + 1)).status, 413)
        r, c = self.srv.raw(b"POST /scripts/asyncread.dll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n", method="POST")
        c.close()
        self.assertEqual(r.status, 411)


if __name__ == "__main__":
    main()
