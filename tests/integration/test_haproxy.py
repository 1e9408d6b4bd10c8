"""Behind a load balancer: PROXY protocol v1/v2 listeners, --trust-proxy with X-Forwarded-For /
X-Forwarded-Proto, and the real HAProxy (Debian's haproxy, started here with a config written
into the test's temp dir, loopback ports only) in front of two isapid instances.

What an extension sees is read from the vars fixture (tests/fixtures/vars.c): REMOTE_ADDR,
REMOTE_PORT, HTTPS, SERVER_PORT_SECURE, LOCAL_ADDR, SERVER_PORT.
"""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest

import harness
from harness import RawConn, Server, fixture, free_port, wait_for

VARS = "/scripts/vars.so?names=REMOTE_ADDR,REMOTE_HOST,REMOTE_PORT,HTTPS,SERVER_PORT_SECURE,LOCAL_ADDR,SERVER_PORT"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def parse_vars(body):
    out = {}
    for line in body.decode("latin-1").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def v2_header(cmd=1, fam=0x11, block=b"", tlvs=b""):
    body = block + tlvs
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body


def v2_tcp4(src, dst, sport, dport, tlvs=b""):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">HH", sport, dport)
    return v2_header(1, 0x11, block, tlvs)


def get_vars(conn, headers=None):
    r = conn.request("GET", VARS, headers=headers or [])
    assert r.status == 200, (r.status, r.body)
    return parse_vars(r.body)


class ProxyProtocolRawTest(unittest.TestCase):
    """The PROXY protocol listener, driven by a raw socket."""

    @classmethod
    def setUpClass(cls):
        cls.pport, cls.pport2 = free_port(), free_port()
        # 10.0.0.0/8 is trusted, the loopback peer is not.
        cls.srv = Server(scripts={"vars.so": fixture("vars")},
                         args=["--listen", "127.0.0.1:%d,proxy-protocol" % cls.pport,
                               "--trust-proxy", "10.0.0.0/8", "--header-timeout", "500ms"])
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_v1(self):
        with RawConn(self.pport) as c:
            c.send(b"PROXY TCP4 192.0.2.9 198.51.100.1 40001 443\r\n")
            kv = get_vars(c)
            self.assertEqual(kv["REMOTE_ADDR"], "192.0.2.9")
            self.assertEqual(kv["REMOTE_HOST"], "192.0.2.9")
            self.assertEqual(kv["REMOTE_PORT"], "40001")
            self.assertEqual(kv["LOCAL_ADDR"], "198.51.100.1")
            self.assertEqual(kv["SERVER_PORT"], "443")
            self.assertEqual(kv["HTTPS"], "off")
            # The next request on the connection: the same client, no second header.
            kv = get_vars(c)
            self.assertEqual(kv["REMOTE_ADDR"], "192.0.2.9")
        self.srv.wait_access_line(r"^192\.0\.2\.9 .*vars\.so")

    def test_v1_tcp6_byte_by_byte(self):
        with RawConn(self.pport) as c:
            for b in b"PROXY TCP6 2001:db8::7 2001:db8::1 5 80\r\n":
                c.send(bytes([b]))
            kv = get_vars(c)
            self.assertEqual(kv["REMOTE_ADDR"], "2001:db8::7")
            self.assertEqual(kv["REMOTE_PORT"], "5")

    def test_v2_with_ssl_tlv(self):
        ssl = b"\x20\x00\x05\x01\x00\x00\x00\x00"  # PP2_TYPE_SSL, client SSL, verified
        with RawConn(self.pport) as c:
            # The header and the request in one segment.
            c.send(v2_tcp4("203.0.113.4", "198.51.100.2", 50123, 443, ssl) +
                   harness.build_request("GET", VARS))
            kv = parse_vars(c.read_response().body)
            self.assertEqual(kv["REMOTE_ADDR"], "203.0.113.4")
            self.assertEqual(kv["REMOTE_PORT"], "50123")
            self.assertEqual(kv["HTTPS"], "on")
            self.assertEqual(kv["SERVER_PORT_SECURE"], "1")
            self.assertEqual(kv["SERVER_PORT"], "443")

    def test_v2_local_keeps_socket_addresses(self):
        with RawConn(self.pport) as c:
            c.send(v2_header(cmd=0, fam=0))
            kv = get_vars(c)
            self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")
            self.assertEqual(kv["REMOTE_PORT"], str(c.sock.getsockname()[1]))
            self.assertEqual(kv["SERVER_PORT"], str(self.pport))
            self.assertEqual(kv["HTTPS"], "off")

    def test_bad_header_closed_and_logged(self):
        with RawConn(self.pport) as c:
            c.send(harness.build_request("GET", VARS))
            closed, extra = c.wait_closed()
            self.assertTrue(closed)
            self.assertEqual(extra, b"")  # no HTTP answer: the peer is no HTTP client
        self.srv.wait_stderr(r"PROXY protocol header refused: not a PROXY protocol header")
        # More of them (their log lines are rate-limited: at most one a second).
        for bad in (v2_header(cmd=1, fam=0x12, block=b"\x00" * 12), b"PROXY TCP4 1.2.3.4\n",
                    V2_SIG + b"\x21\x11\x00\x04" + b"\x00" * 4, b"\x16\x03\x01\x00"):
            with RawConn(self.pport) as c:
                c.send(bad)
                self.assertEqual(c.wait_closed(), (True, b""))

    def test_missing_header_times_out(self):
        with RawConn(self.pport) as c:
            c.send(b"PROXY TCP4 192.0.2.1")  # and then nothing
            closed, extra = c.wait_closed(timeout=5)
            self.assertTrue(closed)
            self.assertEqual(extra, b"")
        self.srv.wait_stderr(r"no complete PROXY protocol header within 500 ms \(part of one came\)")

    def test_plain_listener_needs_no_header(self):
        with RawConn(self.srv.port) as c:
            kv = get_vars(c)
            self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")

    def test_send_url_redirect_keeps_https(self):
        # Behind a proxy that terminated TLS, IIS 6's 302 of HSE_REQ_SEND_URL points to https.
        with Server(scripts={"ssf.so": fixture("ssf")}, args=["--send-url-redirect",
                    "--listen", "127.0.0.1:%d,proxy-protocol" % self.pport2]) as srv:
            for tlvs, scheme in ((b"\x20\x00\x05\x01\x00\x00\x00\x00", "https"), (b"", "http")):
                with RawConn(self.pport2) as c:
                    c.send(v2_tcp4("192.0.2.5", "198.51.100.3", 1111, 443, tlvs))
                    r = c.request("GET", "/scripts/ssf.so?op=sendurl&url=/x.html",
                                  headers=[("Host", "www.example")])
                    self.assertEqual(r.status, 302)
                    self.assertEqual(r.get("Location"), "%s://www.example/x.html" % scheme)
            self.assertTrue(srv.alive())

    def test_untrusted_peer_forwarded_headers_ignored(self):
        with RawConn(self.srv.port) as c:
            kv = get_vars(c, [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https")])
            self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")
            self.assertEqual(kv["REMOTE_PORT"], str(c.sock.getsockname()[1]))
            self.assertEqual(kv["HTTPS"], "off")

    def test_proxy_then_trusted_forwarded_for(self):
        # The PROXY header names a trusted proxy (10.1.2.3): its X-Forwarded-For is believed.
        with RawConn(self.pport) as c:
            c.send(b"PROXY TCP4 10.1.2.3 10.0.0.1 1000 80\r\n")
            kv = get_vars(c, [("X-Forwarded-For", "6.6.6.6, 198.51.100.77:4321, 10.9.9.9"),
                              ("X-Forwarded-Proto", "https")])
            self.assertEqual(kv["REMOTE_ADDR"], "198.51.100.77")
            self.assertEqual(kv["REMOTE_PORT"], "4321")
            self.assertEqual(kv["HTTPS"], "on")
        self.srv.wait_access_line(r"^198\.51\.100\.77 ")


class TrustedForwardedForTest(unittest.TestCase):
    def test_trusted_loopback(self):
        with Server(scripts={"vars.so": fixture("vars")}, files={"a.txt": "a"},
                    args=["--trust-proxy", "127.0.0.0/8"]) as srv:
            with RawConn(srv.port) as c:
                kv = get_vars(c, [("X-Forwarded-For", "203.0.113.8")])
                self.assertEqual(kv["REMOTE_ADDR"], "203.0.113.8")
                self.assertEqual(kv["REMOTE_PORT"], "0")  # a forwarded address without a port
                self.assertEqual(kv["HTTPS"], "off")
                # A loop-served response logs the forwarded client too.
                r = c.request("GET", "/a.txt", headers=[("X-Forwarded-For", "203.0.113.9")])
                self.assertEqual(r.status, 200)
                # A malformed entry: logged, the entries to its right are used.
                kv = get_vars(c, [("X-Forwarded-For", "bogus")])
                self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")
            srv.wait_access_line(r"^203\.0\.113\.8 .*vars\.so")
            srv.wait_access_line(r"^203\.0\.113\.9 .*a\.txt")
            srv.wait_stderr(r"trusted proxy has an X-Forwarded-For entry that is not an address")


def haproxy_binary():
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


class HAProxy:
    """The real HAProxy in the foreground (-db), with a config written into a temp dir."""

    def __init__(self, config):
        self.tmp = tempfile.mkdtemp(prefix="isapid-haproxy-")
        self.sock_path = os.path.join(self.tmp, "stats.sock")
        self.cfg_path = os.path.join(self.tmp, "haproxy.cfg")
        with open(self.cfg_path, "w") as f:
            f.write(config.replace("{stats}", self.sock_path))
        self.log_path = os.path.join(self.tmp, "haproxy.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([haproxy_binary(), "-db", "-f", self.cfg_path],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def server_states(self):
        """{server name: status} of backend be, from the stats socket (None until it answers)."""
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited with %d:\n%s" % (self.proc.returncode, self.output()))
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(self.sock_path)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
        except OSError:
            return None
        lines = data.decode().splitlines()
        if not lines or not lines[0].startswith("# "):
            return None
        cols = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(cols, line.split(",")))
            if row.get("pxname") == "be" and row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = row.get("status", "")
        return out

    def wait_states(self, want, timeout=10):
        return wait_for(lambda: (lambda st: st if st and all(st.get(k, "").startswith(v) for k, v in want.items()) else None)(self.server_states()),
                        timeout, message="haproxy servers %r (haproxy output: %s)" % (want, self.output()[-2000:]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        if os.environ.get("ISAPID_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


HAPROXY_CONFIG = """
global
    stats socket {stats} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout check 2s
frontend fe
    bind 127.0.0.1:%(fport)d
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /who.txt
%(extra)s
    server a 127.0.0.1:%(pa)d %(opts)s check inter 100ms fall 1 rise 1
    server b 127.0.0.1:%(pb)d %(opts)s check inter 100ms fall 1 rise 1
"""


@unittest.skipUnless(haproxy_binary(), "haproxy is not installed (Debian package haproxy; scripts/deps.sh installs it)")
class HAProxyTest(unittest.TestCase):
    """HAProxy in front of two isapid instances, once with PROXY protocol v2 and once with
    X-Forwarded-For from a trusted peer."""

    def run_pair(self, proxy_protocol):
        pa, pb, fport = free_port(), free_port(), free_port()
        common = dict(scripts={"vars.so": fixture("vars")})
        if proxy_protocol:
            args_a = ["--listen", "127.0.0.1:%d,proxy-protocol" % pa]
            args_b = ["--listen", "127.0.0.1:%d,proxy-protocol" % pb]
            opts, extra = "send-proxy-v2", ""
        else:
            # HAProxy connects from 127.0.0.2, the one trusted address; the client is 127.0.0.1.
            args_a = ["--listen", "127.0.0.1:%d" % pa, "--trust-proxy", "127.0.0.2"]
            args_b = ["--listen", "127.0.0.1:%d" % pb, "--trust-proxy", "127.0.0.2"]
            # The client's address and port, appended to whatever the client sent.
            opts = "source 127.0.0.2"
            extra = "    http-request add-header X-Forwarded-For [%[src]]:%[src_port]"
        with Server(files={"who.txt": "a"}, args=args_a, **common) as a, \
                Server(files={"who.txt": "b"}, args=args_b, **common) as b:
            hp = HAProxy(HAPROXY_CONFIG % dict(fport=fport, pa=pa, pb=pb, opts=opts, extra=extra))
            try:
                hp.wait_states({"a": "UP", "b": "UP"})
                # Requests spread over both.
                seen = []
                for _ in range(10):
                    with RawConn(fport) as c:
                        r = c.request("GET", "/who.txt", headers=[("Connection", "close")])
                        self.assertEqual(r.status, 200)
                        seen.append(r.body)
                self.assertEqual(set(seen), {b"a", b"b"}, seen)
                # The extension sees the client: 127.0.0.1 and the client's own port, even when
                # the client forges an X-Forwarded-For of its own.
                for _ in range(4):
                    with RawConn(fport) as c:
                        kv = get_vars(c, [("Connection", "close"), ("X-Forwarded-For", "6.6.6.6")])
                        self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")
                        self.assertEqual(kv["REMOTE_PORT"], str(c.sock.getsockname()[1]))
                # The access logs name the client too (its port is not in the log).
                a.wait_access_line(r"^127\.0\.0\.1 .*vars\.so")
                b.wait_access_line(r"^127\.0\.0\.1 .*vars\.so")
                if proxy_protocol:
                    # HAProxy's health checks came as PROXY v2 LOCAL: nothing refused.
                    self.assertNotIn("PROXY protocol header refused", a.stderr() + b.stderr())
                # One instance stopped: once HAProxy's check sees it down, no request fails.
                b.stop()
                hp.wait_states({"a": "UP", "b": "DOWN"})
                for _ in range(30):
                    with RawConn(fport) as c:
                        r = c.request("GET", "/who.txt", headers=[("Connection", "close")])
                        self.assertEqual(r.status, 200)
                        self.assertEqual(r.body, b"a")
            finally:
                hp.close()

    def test_tls_terminated_at_haproxy(self):
        """HTTPS=on behind HAProxy's TLS: by the PROXY v2 SSL TLV, and by X-Forwarded-Proto."""
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed (Debian package openssl)")
        tmp = tempfile.mkdtemp(prefix="isapid-tls-")
        try:
            key, crt, pem = (os.path.join(tmp, n) for n in ("key.pem", "crt.pem", "haproxy.pem"))
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            with open(pem, "wb") as out:
                for part in (crt, key):
                    with open(part, "rb") as f:
                        out.write(f.read())
            pp, px, fport = free_port(), free_port(), free_port()
            config = """
global
    stats socket {stats} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%(fport)d ssl crt %(pem)s
    default_backend be
backend be
    balance roundrobin
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    server a 127.0.0.1:%(pp)d send-proxy-v2 proxy-v2-options ssl check inter 100ms rise 1
    server b 127.0.0.1:%(px)d source 127.0.0.2 check inter 100ms rise 1
""" % dict(fport=fport, pem=pem, pp=pp, px=px)
            args = ["--listen", "127.0.0.1:%d,proxy-protocol" % pp, "--listen", "127.0.0.1:%d" % px,
                    "--trust-proxy", "127.0.0.2"]
            with Server(scripts={"vars.so": fixture("vars")}, args=args):
                hp = HAProxy(config)
                try:
                    hp.wait_states({"a": "UP", "b": "UP"})
                    import ssl
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    ports = set()
                    for _ in range(4):  # round robin: both servers, two each
                        with RawConn(fport) as c:
                            client_port = c.sock.getsockname()[1]
                            c.sock = ctx.wrap_socket(c.sock)
                            kv = get_vars(c, [("Connection", "close")])
                            self.assertEqual(kv["HTTPS"], "on")
                            self.assertEqual(kv["SERVER_PORT_SECURE"], "1")
                            self.assertEqual(kv["REMOTE_ADDR"], "127.0.0.1")
                            ports.add(kv["SERVER_PORT"])
                            if kv["SERVER_PORT"] == str(fport):  # the PROXY header's
                                self.assertEqual(kv["REMOTE_PORT"], str(client_port))
                            else:  # option forwardfor: an address without a port
                                self.assertEqual(kv["REMOTE_PORT"], "0")
                    self.assertEqual(ports, {str(fport), str(px)})
                finally:
                    hp.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_send_proxy_v2(self):
        self.run_pair(proxy_protocol=True)

    def test_x_forwarded_for(self):
        self.run_pair(proxy_protocol=False)


class ReusePortTest(unittest.TestCase):
    def test_two_instances_share_a_port(self):
        port = free_port()
        args = ["--reuse-port", "--listen", "127.0.0.1:%d" % port]
        with Server(files={"who.txt": "a"}, args=args), Server(files={"who.txt": "b"}, args=args):
            seen = set()

            def both():
                with RawConn(port) as c:
                    seen.add(c.request("GET", "/who.txt", headers=[("Connection", "close")]).body)
                return seen == {b"a", b"b"}
            wait_for(both, timeout=10, interval=0, message="both instances answering on port %d" % port)
        # Without --reuse-port the second instance is refused the port.
        with Server(files={"who.txt": "a"}, args=["--listen", "127.0.0.1:%d" % port]):
            other = Server(files={"who.txt": "b"}, args=["--listen", "127.0.0.1:%d" % port],
                           start=False)
            with other:
                proc = subprocess.run(other.command(free_port()), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, timeout=15)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(b"already in use", proc.stderr)


if __name__ == "__main__":
    harness.main()
