"""The async fixture's server and test base for the operation tests (test_async_io.py,
test_async_transmit.py, test_async_sendurl.py): the files it serves, Win32 error codes, request
ids, CRC-32, and AsyncBase (one server per class, with tests/fixtures/async.c and its event file;
at the end of the class, every completion ran off the starting call, unnested, and every request
context was freed)."""

import os
import unittest
import zlib

from harness import EventFile, RawConn, Server, fixture, pattern_bytes, wait_for

ERROR_FILE_NOT_FOUND = 2
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_INVALID_PARAMETER = 87
WSAEINVAL = 10022

TF_SIZE = 2 * 1024 * 1024 + 123          # tf.bin: pattern bytes
BIG_SIZE = 8 * 1024 * 1024 + 5           # big.bin: pattern bytes
PAGE = b"<html><body>send-url page</body></html>\n"

FILES = {
    "index.html": "<p>index</p>\n",
    "page.html": PAGE,
    "tf.bin": pattern_bytes(TF_SIZE),
    "big.bin": pattern_bytes(BIG_SIZE),
    "small.txt": "0123456789" * 10,
}

_ids = iter(range(1, 10 ** 9))


def new_id(prefix="t"):
    return "%s%d" % (prefix, next(_ids))


def crc(data):
    return str(zlib.crc32(data) & 0xFFFFFFFF)


def async_server(**kw):
    args = list(kw.pop("args", []))
    return Server(files=FILES, scripts={"async.so": fixture("async")}, threads=2, workers="2:8",
                  env={"ASYNC_EVENTS": "{tmp}/events.log"}, args=args, **kw)


class AsyncBase(unittest.TestCase):
    server_args = []

    @classmethod
    def setUpClass(cls):
        cls.srv = async_server(args=cls.server_args)
        cls.srv.__enter__()
        cls.ev = EventFile(os.path.join(cls.srv.tmp, "events.log"))
        # load the fixture now (it opens its event file when loaded): fd baselines include it
        cls.srv.get("/scripts/async.dll?op=stats")

    @classmethod
    def tearDownClass(cls):
        try:
            # every completion of the class ran off the starting call and without nesting
            kv = cls.srv.get("/scripts/async.dll?op=stats").kv()
            strays = [e for e in cls.ev.all() if e.get("ev") == "stray"]
            if kv.get("inline") != "0" or kv.get("maxdepth") not in ("0", "1") or strays:
                raise AssertionError("completions inline/nested or stray: stats %r strays %r" % (kv, strays))
            wait_for(lambda: cls.srv.get("/scripts/async.dll?op=stats").kv().get("live") == "0", 10,
                     message="every fixture request context freed")
        finally:
            cls.srv.__exit__(None, None, None)

    # ---- helpers --------------------------------------------------------------------------
    def path(self, query):
        return "/scripts/async.dll?" + query

    def post(self, query, body, headers=None, conn=None):
        hdrs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        if conn is not None:
            return conn.request("POST", self.path(query), hdrs, body)
        with self.srv.conn(timeout=60) as c:
            return c.request("POST", self.path(query), hdrs, body)

    def get(self, query, conn=None, rcvbuf=None, version="HTTP/1.1"):
        if conn is not None:
            return conn.request("GET", self.path(query), version=version)
        with RawConn(self.srv.port, timeout=60, rcvbuf=rcvbuf) as c:
            return c.request("GET", self.path(query), version=version)

    def done(self, rid, timeout=20):
        return self.ev.wait(timeout, id=rid, ev="done")[0]

    def completions(self, rid):
        return self.ev.find(id=rid, ev="completion")

    def assert_clean_completions(self, rid, n=None):
        comps = self.completions(rid)
        if n is not None:
            self.assertEqual(len(comps), n, comps)
        for e in comps:
            self.assertEqual(e.get("inline"), "0", e)
            self.assertEqual(e.get("depth"), "1", e)
        return comps
