"""The harness reports a file whose tests were all skipped as skipped: harness.main() exits with
SKIPPED_EXIT_CODE, and ctest (tests/CMakeLists.txt) takes that code as SKIP_RETURN_CODE, so a
skipped file does not show as passed."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from harness import BUILD, HERE, SKIPPED_EXIT_CODE, main

PRELUDE = "import sys, unittest\nsys.path.insert(0, %r)\nfrom harness import main\n" % HERE

FILES = {
    # every test skipped, by decorator or from inside the test
    "all_skipped": ("class A(unittest.TestCase):\n"
                    "    @unittest.skip('no tool')\n"
                    "    def test_a(self): pass\n"
                    "    def test_b(self): self.skipTest('low limit')\n", SKIPPED_EXIT_CODE),
    # the class skipped in setUpClass: none of its tests runs
    "class_skipped": ("class A(unittest.TestCase):\n"
                      "    @classmethod\n"
                      "    def setUpClass(cls): raise unittest.SkipTest('no IPv6')\n"
                      "    def test_a(self): pass\n", SKIPPED_EXIT_CODE),
    # one class skipped, another's test ran (a skipped subtest does not skip its test)
    "some_skipped": ("class A(unittest.TestCase):\n"
                     "    @classmethod\n"
                     "    def setUpClass(cls): raise unittest.SkipTest('no IPv6')\n"
                     "    def test_a(self): pass\n"
                     "class B(unittest.TestCase):\n"
                     "    def test_b(self):\n"
                     "        with self.subTest(i=1): self.skipTest('one case')\n", 0),
    "passed": ("class A(unittest.TestCase):\n    def test_a(self): pass\n", 0),
    # a failure wins over skips
    "failed": ("class A(unittest.TestCase):\n"
               "    @unittest.skip('no tool')\n"
               "    def test_a(self): pass\n"
               "    def test_b(self): self.fail('broken')\n", 1),
}


class HarnessSkipTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="isapid-harness-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_exit_codes(self):
        for name, (body, want) in FILES.items():
            with self.subTest(file=name):
                path = os.path.join(self.tmp, "t_%s.py" % name)
                with open(path, "w") as f:
                    f.write(PRELUDE + body + "if __name__ == '__main__':\n    main()\n")
                p = subprocess.run([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=60)
                self.assertEqual(p.returncode, want, p.stderr.decode()[-2000:])

    def test_ctest_takes_the_code_as_skipped(self):
        ctest = shutil.which("ctest")
        if ctest is None or not os.path.isfile(os.path.join(BUILD, "CTestTestfile.cmake")):
            self.skipTest("no ctest or no configured build directory at %s" % BUILD)
        p = subprocess.run([ctest, "--show-only=json-v1"], cwd=BUILD, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        tests = json.loads(p.stdout.decode())["tests"]
        integration = [t for t in tests if t["name"].startswith("integration.")]
        self.assertTrue(integration, "no integration tests known to ctest")
        for t in integration:
            props = {pr["name"]: pr["value"] for pr in t.get("properties", [])}
            self.assertEqual(props.get("SKIP_RETURN_CODE"), SKIPPED_EXIT_CODE, t["name"])


if __name__ == "__main__":
    main()
