"""Clients for the integration tests (re-exported by harness.py, which tests import from):
http.client's request() with a Result, RawConn (a raw socket client that reads responses
byte-exactly, pipelined or not), build_request, chunked, and curl.
"""

import errno
import http.client
import re
import select
import shutil
import socket
import subprocess
import time

DEFAULT_TIMEOUT = 10.0    # socket timeout for clients


# ---- http.client helper -------------------------------------------------------------------
class Result:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers      # http.client.HTTPMessage (case-insensitive get)
        self.body = body
        self.version = version

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def text(self):
        return self.body.decode("utf-8", "replace")

    def kv(self):
        return parse_kv(self.body)

    def __repr__(self):
        return "<Result %d %r %r>" % (self.status, dict(self.headers), self.body[:200])


def request(port, method, path, headers=None, body=None, timeout=DEFAULT_TIMEOUT, host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return Result(r.status, r.reason, r.headers, data, r.version)
    finally:
        c.close()


def parse_kv(body):
    """Fixture output: key=value lines (values escaped with \\r \\n \\\\)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    out = {}
    for line in body.split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v.replace("\\r", "\r").replace("\\n", "\n").replace("\\\\", "\\")
    return out


# ---- raw socket client --------------------------------------------------------------------
class Response:
    def __init__(self):
        self.version = None       # "HTTP/1.1"
        self.status = None
        self.reason = None
        self.headers = []         # [(name, value)] in order
        self.body = b""
        self.framing = None       # "length", "chunked", "close", "none"
        self.chunks = []          # chunk sizes as received (chunked framing)
        self.trailers = []
        self.raw_head = b""
        self.interim = []         # 1xx responses that preceded this one (read_response skips them)

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.get(name) is not None

    def connection_tokens(self):
        toks = []
        for v in self.get_all("Connection"):
            toks += [t.strip().lower() for t in v.split(",") if t.strip()]
        return toks

    def text(self):
        return self.body.decode("utf-8", "replace")

    def kv(self):
        return parse_kv(self.body)

    def __repr__(self):
        return "<Response %s %s %r framing=%s body=%r>" % (self.version, self.status, self.headers,
                                                            self.framing, self.body[:200])


class ProtocolError(AssertionError):
    pass


class RawConn:
    """A client socket with our own response parser. Reads are bounded by the socket timeout."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, host="127.0.0.1", family=socket.AF_INET, rcvbuf=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self):
        """Close with RST (SO_LINGER 0): an aborted client."""
        import struct
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def _fill(self):
        """Read more bytes into the buffer; False on EOF."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_line(self, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ProtocolError("line longer than %d bytes: %r" % (limit, self.buf[:200]))
            if not self._fill():
                raise ProtocolError("connection closed in the middle of a line: %r" % self.buf[:200])
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed after %d of %d body bytes" % (len(self.buf), n))
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_to_close(self, limit=512 * 1024 * 1024):
        while self._fill():
            if len(self.buf) > limit:
                raise ProtocolError("more than %d bytes before close" % limit)
        data, self.buf = self.buf, b""
        return data

    def read_head(self):
        """Read one status line + headers. Returns a Response without a body."""
        r = Response()
        raw = []
        # Tolerate nothing before the status line: a stray CRLF would be a framing bug.
        line = self.read_line()
        raw.append(line)
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", line)
        if not m:
            raise ProtocolError("bad status line %r (buffer %r)" % (line, self.buf[:200]))
        r.version = m.group(1).decode()
        r.status = int(m.group(2))
        r.reason = (m.group(3) or b"").decode("latin-1")
        for _ in range(1000):
            line = self.read_line()
            raw.append(line)
            if line == b"":
                break
            if line[:1] in (b" ", b"\t"):
                raise ProtocolError("obsolete line folding in response header: %r" % line)
            if b":" not in line:
                raise ProtocolError("response header line without colon: %r" % line)
            k, v = line.split(b":", 1)
            if k != k.strip() or not k:
                raise ProtocolError("bad response header name %r" % k)
            r.headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        else:
            raise ProtocolError("too many response header lines")
        r.raw_head = b"\r\n".join(raw) + b"\r\n"
        return r

    def read_response(self, method="GET", keep_interim=False):
        """Read the next final response (1xx responses are collected in .interim)."""
        interim = []
        for _ in range(10):
            r = self.read_head()
            if 100 <= r.status < 200 and r.status != 101:
                r.framing = "none"
                if keep_interim:
                    return r
                interim.append(r)
                continue
            break
        else:
            raise ProtocolError("too many 1xx responses")
        r.interim = interim
        self._read_body(r, method)
        return r

    def _read_body(self, r, method):
        te = [t.strip().lower() for v in r.get_all("Transfer-Encoding") for t in v.split(",") if t.strip()]
        cls = r.get_all("Content-Length")
        if method == "HEAD" or r.status in (204, 304) or 100 <= r.status < 200:
            r.framing = "none"
            return
        if te:
            if te[-1] != "chunked":
                raise ProtocolError("response Transfer-Encoding %r without final chunked" % te)
            if cls:
                raise ProtocolError("response has both Transfer-Encoding and Content-Length")
            r.framing = "chunked"
            body = []
            for _ in range(10 ** 7):
                line = self.read_line()
                size_txt = line.split(b";", 1)[0].strip()
                if not re.match(rb"^[0-9a-fA-F]+$", size_txt):
                    raise ProtocolError("bad chunk size line %r" % line)
                size = int(size_txt, 16)
                if size == 0:
                    break
                r.chunks.append(size)
                body.append(self.read_exact(size))
                if self.read_exact(2) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            for _ in range(1000):
                line = self.read_line()
                if line == b"":
                    break
                r.trailers.append(line)
            r.body = b"".join(body)
            return
        if cls:
            if len(set(cls)) != 1:
                raise ProtocolError("differing Content-Length headers %r" % cls)
            if not re.match(r"^\d+$", cls[0]):
                raise ProtocolError("bad Content-Length %r" % cls[0])
            r.framing = "length"
            r.body = self.read_exact(int(cls[0]))
            return
        r.framing = "close"
        r.body = self.read_to_close()

    def request(self, method, path, headers=None, body=None, version="HTTP/1.1", host=True):
        """Send one request (headers: list of (k, v) or dict) and read the response."""
        self.send(build_request(method, path, headers, body, version, host))
        return self.read_response(method=method)

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection (EOF or RST) within timeout, reading and
        returning nothing else; returns (closed, extra_bytes)."""
        deadline = time.monotonic() + timeout
        extra = b""
        if self.eof:
            return True, self.buf
        extra, self.buf = self.buf, b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, extra
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                return True, extra
            except socket.timeout:
                continue
            if not data:
                self.eof = True
                return True, extra
            extra += data
            if len(extra) > 64 * 1024 * 1024:
                return False, extra

    def is_open(self, wait=0.05):
        """True if the server has not closed the connection (no EOF within `wait` seconds)."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return True
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except (ConnectionResetError, BrokenPipeError):
            return False
        return bool(data)


def build_request(method, path, headers=None, body=None, version="HTTP/1.1", host=True):
    if headers is None:
        headers = []
    if isinstance(headers, dict):
        headers = list(headers.items())
    names = {k.lower() for k, _ in headers}
    lines = ["%s %s %s" % (method, path, version)]
    if host and "host" not in names:
        lines.append("Host: 127.0.0.1")
    if isinstance(body, str):
        body = body.encode()
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        headers = list(headers) + [("Content-Length", str(len(body)))]
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def chunked(parts, extensions=None, trailers=None):
    """Encode parts as a chunked body (optional per-chunk extensions and trailer lines)."""
    out = b""
    for i, p in enumerate(parts):
        if isinstance(p, str):
            p = p.encode()
        ext = (extensions[i] if extensions and i < len(extensions) else "") or ""
        out += ("%x%s\r\n" % (len(p), ext)).encode() + p + b"\r\n"
    out += b"0\r\n"
    for t in trailers or []:
        out += t.encode() + b"\r\n"
    return out + b"\r\n"


def curl_available():
    return shutil.which("curl") is not None


def curl(args, timeout=30):
    """Run curl; returns CompletedProcess (stdout bytes)."""
    return subprocess.run(["curl", "-sS", "--max-time", str(int(timeout))] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 5)


def connect_refused(port, timeout=1.0):
    """True if a TCP connect to 127.0.0.1:port is refused."""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError as e:
        return e.errno == errno.ECONNREFUSED
    finally:
        s.close()
