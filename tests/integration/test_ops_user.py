"""Operations, privileges: --user drops root after the listeners are bound and the logs are
open, before any extension loads (an extension cannot read a 0600 root file; /proc shows the
new IDs; a port below 1024 is still served), with clear errors for unknown users and a warning
when extensions run as root without it. Needs root (CI runs as root); skipped otherwise."""

import grp
import os
import pwd
import socket
import subprocess
import unittest

import harness
from harness import Server, fixture, wait_for


def ids_of(pid, tid=None):
    """Uid, Gid (real, effective, saved, filesystem) and Groups of a process or one thread."""
    out = {}
    path = "/proc/%d/status" % pid if tid is None else "/proc/%d/task/%s/status" % (pid, tid)
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in value.split()]
    return out


def free_privileged_port():
    for port in range(1023, 900, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


@unittest.skipUnless(os.geteuid() == 0, "needs root: --user switches users only from root")
class UserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.nobody = pwd.getpwnam("nobody")
        except KeyError:
            raise unittest.SkipTest("no user 'nobody' on this machine")

    def open_up(self, srv):
        """The harness's temporary directories are root's 0700: let 'nobody' in, as a real
        deployment's web root and script directory would."""
        for d in (srv.tmp, srv.root, srv.scripts_dir):
            if d:
                os.chmod(d, 0o755)

    def test_dropped_user_cannot_read_root_files(self):
        low = free_privileged_port()
        self.assertIsNotNone(low, "no free port below 1024 on 127.0.0.1")
        with Server(files={"index.html": "<p>i</p>\n"}, scripts={"openfile.so": fixture("openfile")},
                    args=["--user", "nobody", "--listen", "127.0.0.1:%d" % low,
                          "--error-log", "{tmp}/error.log"], start=False) as srv:
            self.open_up(srv)
            secret = harness.write_file(os.path.join(srv.tmp, "secret"), "root only\n", 0o600)
            public = harness.write_file(os.path.join(srv.tmp, "public"), "anyone\n", 0o644)
            srv.start()
            # The port accepts (into its backlog) from the bind on; a response means the
            # server started, which it does only after the drop.
            self.assertEqual(srv.get("/index.html").status, 200)
            ids = ids_of(srv.pid)
            self.assertEqual(ids["Uid"], [self.nobody.pw_uid] * 4)
            self.assertEqual(ids["Gid"], [self.nobody.pw_gid] * 4)
            self.assertNotIn(0, ids["Groups"])
            for tid in os.listdir("/proc/%d/task" % srv.pid):   # every thread, not just main's
                self.assertEqual(ids_of(srv.pid, tid)["Uid"], [self.nobody.pw_uid] * 4, tid)
            r = srv.get("/scripts/openfile.dll?path=" + secret)
            self.assertEqual(r.status, 200, r)
            kv = r.kv()
            self.assertEqual(kv["open"], "EACCES")
            self.assertEqual((int(kv["uid"]), int(kv["euid"])), (self.nobody.pw_uid,) * 2)
            self.assertEqual(srv.get("/scripts/openfile.dll?path=" + public).kv()["open"], "ok")
            r = harness.request(low, "GET", "/index.html")         # bound as root, served as nobody
            self.assertEqual((r.status, r.body), (200, b"<p>i</p>\n"))
            with open(os.path.join(srv.tmp, "error.log")) as f:
                log = f.read()
            self.assertIn("running as user nobody (uid %d)" % self.nobody.pw_uid, log)
            self.assertNotIn("running as root with extensions", log)

    def test_user_and_group(self):
        group = grp.getgrgid(self.nobody.pw_gid).gr_name
        other = next((g for g in ("daemon", "adm", "users") if g != group and self._group(g)), None)
        if other is None:
            self.skipTest("no second group to switch to")
        with Server(files={"index.html": "x"}, args=["--user", "nobody:" + other], start=False) as srv:
            self.open_up(srv)
            srv.start()
            self.assertEqual(srv.get("/index.html").status, 200)
            self.assertEqual(ids_of(srv.pid)["Gid"], [grp.getgrnam(other).gr_gid] * 4)

    @staticmethod
    def _group(name):
        try:
            return grp.getgrnam(name)
        except KeyError:
            return None

    def test_unknown_user_or_group(self):
        with Server(files={"index.html": "x"}, start=False) as srv:
            cmd = srv.command(harness.free_port())
            for spec, message in (("no-such-user-xyz", "no such user 'no-such-user-xyz'"),
                                  ("nobody:no-such-group-xyz", "no such group 'no-such-group-xyz'")):
                p = subprocess.run(cmd + ["--user", spec], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("--user %s: %s" % (spec, message), p.stderr)
                p = subprocess.run(cmd + ["--user", spec, "--test-config"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(message, p.stderr)
            p = subprocess.run(cmd + ["--user", "nobody:"], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("expected USER or USER:GROUP", p.stderr)

    def test_warns_when_extensions_run_as_root(self):
        with Server(files={"index.html": "x"}, scripts={"openfile.so": fixture("openfile")}) as srv:
            srv.wait_stderr(r"\[warn\] running as root with extensions configured")
            self.assertEqual(srv.get("/scripts/openfile.dll?path=/").kv()["uid"], "0")


if __name__ == "__main__":
    harness.main()
