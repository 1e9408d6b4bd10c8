"""Operations, installing: `cmake --install` into a fresh prefix puts the binary, the systemd
units, the example configuration, www/, the examples and isapid(8) where isapid(8) says; the
installed server runs from the installed configuration; the man page renders without warnings
and names every option of `isapid --help`; systemd-analyze accepts the units (when installed).
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import wait_for

EXPECTED = ["bin/isapid", "etc/isapid/isapid.ini", "share/isapid/www/index.html",
            "lib/systemd/system/isapid.service", "lib/systemd/system/isapid.socket",
            "share/man/man8/isapid.8"]


def man_source():
    with open(os.path.join(harness.SOURCE, "docs", "isapid.8")) as f:
        return f.read()


@unittest.skipUnless(shutil.which("cmake"), "cmake is not installed")
class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="isapid-install-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        p = subprocess.run(["cmake", "--install", harness.BUILD, "--prefix", cls.prefix],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("cmake --install failed:\n" + p.stdout + p.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.prefix, rel)

    def test_files_are_there(self):
        for rel in EXPECTED:
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
        self.assertTrue(os.access(self.path("bin/isapid"), os.X_OK))
        examples = [d for d in ("lib", "lib64", "lib/x86_64-linux-gnu")
                    if os.path.isfile(self.path(d + "/isapid/examples/hello.so"))]
        self.assertTrue(examples, "no installed examples (hello.so)")
        with open(self.path("lib/systemd/system/isapid.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=%s --config %s " % (self.path("bin/isapid"),
                                                     self.path("etc/isapid/isapid.ini")), unit)
        self.assertIn("Type=notify\n", unit)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID\n", unit)

    def test_installed_server_runs_from_installed_config(self):
        ini = self.path("etc/isapid/isapid.ini")
        p = subprocess.run([self.path("bin/isapid"), "--config", ini, "--test-config"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, "isapid: configuration OK\n"), p.stderr)
        port = harness.free_port()
        proc = subprocess.Popen([self.path("bin/isapid"), "--config", ini, "--listen",
                                 "127.0.0.1:%d" % port, "--threads", "1", "--access-log="],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.tmp)
        try:
            def answer():
                try:
                    return harness.request(port, "GET", "/examples/hello.dll", timeout=2)
                except OSError:
                    return None
            r = wait_for(answer, 10, 0.02, "the installed server")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(harness.request(port, "GET", "/").status, 200)
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)

    def test_man_page_renders_without_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", self.path("share/man/man8/isapid.8")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stderr), (0, ""))

    def test_man_page_names_every_option(self):
        p = subprocess.run([harness.binary(), "--help"], capture_output=True, text=True, timeout=30)
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", p.stdout))
        self.assertGreater(len(options), 30)
        text = man_source().replace("\\-", "-")
        missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![a-z-])", text))
        self.assertEqual(missing, [], "options of --help missing from docs/isapid.8")

    def test_units_parse(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed: the units were not parsed")
        env = dict(os.environ, MANPATH=self.path("share/man"))  # Documentation=man:isapid(8)
        p = subprocess.run(["systemd-analyze", "verify", self.path("lib/systemd/system/isapid.service"),
                            self.path("lib/systemd/system/isapid.socket")],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual((p.returncode, p.stderr), (0, ""))


if __name__ == "__main__":
    harness.main()
