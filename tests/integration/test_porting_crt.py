"""The porting corpus's secure CRT projects in the real server: tests/porting/securecrt (C,
with the classic wrong size arguments) and tests/porting/cppcrt (C++, the template overloads
for arrays). Each page's lines are documented at the top of its source."""

import re
import time
import unittest

from harness import Server, main, porting, wait_for


def page_lines(body):
    """The 'name: value' lines of a page, as a dict (and the list, for order)."""
    text = body.decode()
    lines = text.split("\r\n")
    assert lines[-1] == "", "page does not end with CRLF: %r" % text
    assert lines[-2] == "end", "page does not end with 'end': %r" % text
    values = {}
    for line in lines[:-2]:
        name, sep, value = line.partition(": ")
        assert sep, "not a 'name: value' line: %r" % line
        values[name] = value
    return values


class SecureCrtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"securecrt.so": porting("securecrt"),
                                  "cppcrt.so": porting("cppcrt")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def get_page(self, path):
        r = self.srv.get(path)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "text/plain")
        return page_lines(r.body)

    def test_wrong_sizes_bounded_by_the_arrays(self):
        v = self.get_page("/scripts/securecrt.dll?hello")
        self.assertEqual(v["sample"], "SecureCrt")
        self.assertEqual(v["method"], "GET")          # sizeof(pointer) as the size
        self.assertEqual(v["greeting"], "Hello, world")  # strlen(dst) as the size
        self.assertEqual(v["body"], "received 0 bytes")  # StringCchPrintf, sizeof(pointer)
        self.assertEqual(v["hex"], "ff")
        self.assertEqual(v["get"], "yes")
        self.assertEqual(v["query"], "hello")
        self.assertEqual(v["query-result"], "0")
        self.assertEqual(v["query-length"], "5")
        # A real overflow: truncated to the array (47 characters), ERANGE returned.
        self.assertEqual(v["banner"], "Hello from the SecureCrt sample, ported unchanged"[:47])
        self.assertEqual(v["banner-result"], "34")

    def test_too_long_query_is_truncated(self):
        v = self.get_page("/scripts/securecrt.dll?" + "q" * 300)
        self.assertEqual(v["query"], "q" * 127)
        self.assertEqual(v["query-result"], "34")
        self.assertEqual(v["query-length"], "127")

    def test_cpp_template_overloads(self):
        v = self.get_page("/scripts/cppcrt.dll?Ada")
        self.assertEqual(v["sample"], "CppCrt")
        self.assertEqual(v["name"], "Ada")
        self.assertEqual(v["name-result"], "0")
        self.assertEqual(v["title"], "Dear Ada")
        self.assertEqual(v["prefix"], "abc")
        self.assertEqual(v["decimal"], "-1234")
        self.assertEqual(v["elements"], "32")
        self.assertEqual(v["method-is-get"], "1")
        self.assertEqual(v["joined"], "abcxy")
        self.assertEqual(v["formatted"], "7 items")

    def test_cpp_overflow_bounded_by_the_template_size(self):
        name = "N" * 40
        v = self.get_page("/scripts/cppcrt.dll?" + name)
        self.assertEqual(v["name"], "N" * 31)
        self.assertEqual(v["name-result"], "34")
        self.assertEqual(v["title"], ("Dear " + "N" * 31)[:23])


class DiagnosticsTest(unittest.TestCase):
    """The bound policy's stderr lines, each test with a server of its own (the rate limit is
    per process)."""

    def test_violation_reported_with_function_and_module(self):
        with Server(scripts={"securecrt.so": porting("securecrt")}) as srv:
            self.assertEqual(srv.get("/scripts/securecrt.dll?" + "q" * 300).status, 200)
            wait_for(lambda: re.search(r"libisapi: strcpy_s called from securecrt\.so: 301 bytes do not fit "
                                       r"the destination's 128: truncated, returned ERANGE", srv.stderr()),
                     message="strcpy_s diagnostic on stderr")
            # A wrong size that the known array size made harmless is reported too.
            self.assertRegex(srv.stderr(), r"libisapi: strcat_s called from securecrt\.so: size argument 0 is wrong")

    def test_rate_limited_and_server_stays_healthy(self):
        pattern = r"libisapi: strcpy_s called from securecrt\.so"
        with Server(scripts={"securecrt.so": porting("securecrt")}) as srv, srv.conn() as c:
            # Violations in a tight loop until the limiter's next second prints a line that
            # counts the suppressed ones, and more than 20 were made (a test that starts just
            # before a second's end sees that line after two or three); bounded by a 10 s
            # deadline, a second is enough.
            deadline = time.monotonic() + 10
            requests = 0
            while requests <= 20 or not re.search(pattern + r".*\(\d+ similar lines suppressed\)",
                                                  srv.stderr()):
                self.assertLess(time.monotonic(), deadline, "no 'similar lines suppressed' line")
                r = c.request("GET", "/scripts/securecrt.dll?" + "x" * 200)
                self.assertEqual(r.status, 200)
                self.assertEqual(page_lines(r.body)["query-result"], "34")
                requests += 1
            lines = re.findall(pattern, srv.stderr())
            self.assertGreater(requests, 20)
            self.assertLessEqual(len(lines), 12, "%d lines for %d violations: not rate-limited" % (len(lines), requests))
            r = c.request("GET", "/scripts/securecrt.dll?again")
            self.assertEqual(page_lines(r.body)["query"], "again")


if __name__ == "__main__":
    main()
