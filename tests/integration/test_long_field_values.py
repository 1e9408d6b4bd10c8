"""Control characters inside long field values: each control character at every position of
a 27-byte value (every offset within a word of eight, in the first, middle and last words, and
in the tail after them) is a 400 and a close, but HTAB (allowed inside a value: RFC 9110 5.5);
bytes of 0x80 and up (obs-text) and the printable ones around DEL stay allowed. (llhttp refuses
most of these itself; the transport checks values again, eight bytes at a time: value_valid in
src/http/conn_parse.c.)"""

import unittest

from harness import Server, main

VALUE_LEN = 27  # three whole words and a tail of three bytes
CONTROLS = list(range(0x00, 0x20)) + [0x7f]


def request(value):
    return b"GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Long: " + value + b"\r\n\r\n"


class LongFieldValuesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"a.txt": "AAAA\n"})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def status_of(self, data):
        with self.srv.conn(timeout=5) as c:
            try:
                c.send(data)
            except OSError:
                pass
            r = c.read_response()
            closed = "close" in r.connection_tokens() and c.wait_closed(3)[0]
            return r.status, closed

    def test_control_characters_at_every_position(self):
        fails = []
        # The value's first and last bytes are not blanks (those llhttp trims or refuses itself).
        for pos in range(1, VALUE_LEN - 1):
            for ch in CONTROLS:
                if ch in (0x0a, 0x0d):
                    continue  # line ends: another header line, not a value byte
                value = bytearray(b"v" * VALUE_LEN)
                value[pos] = ch
                want = (200, False) if ch == 0x09 else (400, True)
                got = self.status_of(request(bytes(value)))
                if got != want:
                    fails.append("0x%02x at %d: got %r, want %r" % (ch, pos, got, want))
        self.assertEqual(fails, [])

    def test_allowed_bytes(self):
        for b in (0x20, 0x21, 0x7e, 0x80, 0xff):
            for pos in (1, 8, 15, 25):
                value = bytearray(b"v" * VALUE_LEN)
                value[pos] = b
                self.assertEqual(self.status_of(request(bytes(value))), (200, False),
                                 "0x%02x at %d" % (b, pos))


if __name__ == "__main__":
    main()
