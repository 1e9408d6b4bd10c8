"""Operations, systemd: sd_notify (READY=1 once the listeners accept, STOPPING=1 on SIGTERM)
through a fake NOTIFY_SOCKET this test reads, and socket activation (LISTEN_FDS/LISTEN_PID with
an inherited listening socket on descriptor 3, which isapid uses instead of binding; a passed
socket that no --listen names is refused). The unit files are checked by test_ops_install."""

import os
import signal
import socket
import subprocess
import unittest

import harness
from harness import Server, wait_for


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notification socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(10)

    def next(self):
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()


class NotifyTest(unittest.TestCase):
    def test_ready_then_stopping(self):
        with Server(files={"index.html": "<p>i</p>\n"}, start=False) as srv:
            note = NotifySocket(srv.tmp)
            try:
                srv.env["NOTIFY_SOCKET"] = note.path
                srv.start()
                ready = note.next()
                self.assertIn("READY=1", ready.split("\n"))
                self.assertIn("STATUS=serving", ready.split("\n"))
                # READY=1 is sent once the listeners accept: a request right after it is served.
                self.assertEqual(srv.get("/index.html").status, 200)
                srv.signal(signal.SIGUSR1)            # reopening logs is no state change
                srv.wait_stderr("logs reopened")
                srv.signal(signal.SIGTERM)
                self.assertEqual(note.next(), "STOPPING=1")
                self.assertEqual(srv.wait_exit(15), 0)
            finally:
                note.close()

    def test_no_notify_socket_no_noise(self):
        with Server(files={"index.html": "x"}) as srv:
            srv.stop()
            self.assertNotIn("notify", srv.stderr())


class ActivatedServer(Server):
    """Started as systemd starts a socket-activated service: the listening socket on descriptor
    3, LISTEN_FDS=1 and LISTEN_PID = the server's own pid (set by the shell it execs from)."""

    def __init__(self, sock, **kw):
        super().__init__(**kw)
        self.sock = sock

    def start(self):
        self.port = self.sock.getsockname()[1]
        fd = self.sock.fileno()
        self.cmd = activation_wrapper(fd) + self.command(self.port)
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, cwd=self.tmp, pass_fds=(fd,))
        self.master_pid = self.proc.pid
        self._wait_listening()


def activation_wrapper(fd):
    """sh -c that puts descriptor fd on 3 and execs its arguments with LISTEN_PID/LISTEN_FDS."""
    move = "" if fd == 3 else " 3<&%d %d<&-" % (fd, fd)
    return ["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"' + move]


def listening_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


class ActivationTest(unittest.TestCase):
    def test_inherited_socket_is_used(self):
        sock = listening_socket()
        try:
            with ActivatedServer(sock, files={"index.html": "<p>i</p>\n"}) as srv:
                self.assertEqual(srv.get("/index.html").body, b"<p>i</p>\n")
                # The server's descriptor 3 is the very socket this test made (binding the same
                # port again would have failed: address in use).
                self.assertEqual(os.stat("/proc/%d/fd/3" % srv.pid).st_ino, os.fstat(sock.fileno()).st_ino)
                srv.wait_stderr(r"listening on 127\.0\.0\.1:%d: the socket systemd passed "
                                r"\(descriptor 3\)" % srv.port)
                srv.stop()
            # Stopped: the socket is still open here (systemd keeps it), and still listening.
            c = socket.create_connection(sock.getsockname(), timeout=5)
            c.close()
        finally:
            sock.close()

    def test_socket_no_listen_names_is_refused(self):
        sock = listening_socket()
        try:
            with ActivatedServer(sock, files={"index.html": "x"}, start=False) as srv:
                other = harness.free_port()
                srv.base_args = False
                srv.args = ["--listen", "127.0.0.1:%d" % other, "--root", srv.root]
                fd = sock.fileno()
                p = subprocess.run(activation_wrapper(fd) + srv.command(other), pass_fds=(fd,),
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("socket activation: systemd passed a socket on 127.0.0.1:%d "
                              "(descriptor 3) that no --listen address names: add --listen "
                              "127.0.0.1:%d" % (sock.getsockname()[1], sock.getsockname()[1]), p.stderr)
        finally:
            sock.close()

    def test_other_pid_is_ignored(self):
        # LISTEN_PID names another process: the variables are not for isapid, which binds.
        with Server(files={"index.html": "x"}, env={"LISTEN_PID": "1", "LISTEN_FDS": "1"}) as srv:
            self.assertEqual(srv.get("/index.html").status, 200)
            self.assertNotIn("systemd passed", srv.stderr())


if __name__ == "__main__":
    harness.main()
