"""Porting corpus, modules: tests/porting/modulepath finds its own .so with
GetModuleFileName(hInstance from DllMain) and GetModuleHandleEx(FROM_ADDRESS), and writes
OutputDebugString lines, in the real server."""

import os
import re
import unittest

from harness import Server, main, porting, wait_for


class ModulePathTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"modulepath.so": porting("modulepath")})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def page(self):
        r = self.srv.get("/scripts/modulepath.dll")
        self.assertEqual(r.status, 200, r.body)
        lines = r.body.decode().split("\r\n")
        self.assertEqual(lines[-2:], ["end", ""], r.body)
        return dict(line.split(": ", 1) for line in lines[:-2])

    def test_module_path_is_the_served_shared_object(self):
        fields = self.page()
        served = os.path.realpath(os.path.join(self.srv.scripts_dir, "modulepath.so"))
        self.assertEqual(os.path.realpath(fields["instance-path"]), served, fields)
        self.assertEqual(fields["address-path"], fields["instance-path"])
        self.assertEqual(fields["same-module"], "yes")
        self.assertEqual(os.path.realpath(fields["directory"]), os.path.dirname(served))
        self.assertEqual(fields["config-name"], fields["directory"] + "/ModulePath.ini")
        # 8 bytes: truncated to 7 characters + NUL, nSize returned, ERROR_INSUFFICIENT_BUFFER.
        self.assertEqual(fields["truncated"], "8 122")

    def test_debug_line_names_the_module(self):
        self.page()
        line = wait_for(lambda: re.search(r"^\[debug\] modulepath\.so: ModulePath: answered a request$",
                                          self.srv.stderr(), re.M),
                        message="the OutputDebugString line in stderr")
        self.assertIsNotNone(line)
        self.assertRegex(self.srv.stderr(), r"(?m)^\[debug\] modulepath\.so: ModulePath: GetExtensionVersion$")


if __name__ == "__main__":
    main()
