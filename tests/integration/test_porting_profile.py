"""Porting corpus, configuration: tests/porting/inifile (GetPrivateProfileString/Int of an INI
file beside the DLL, found through SCRIPT_TRANSLATED or by its bare name, after a registry
lookup that finds nothing) in the real server; and the names isapid deliberately does not
provide (SEH, COM, access tokens), each a compile error that says why (docs/porting.md,
"Configuration files and the registry" and "What is not provided")."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, Server, main, porting

ISAPI_CC = os.path.join(BUILD, "isapi-cc")

INI = b"""; IniFile settings
[Server]
Greeting = "  Hello, IIS  "
Port=8080
Path=C:\\inetpub\\data;backup
[server]
Port=1
[Limits]
MaxUsers=0x20
"""


class IniFileProjectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"IniFile.so": porting("inifile")}, extra_files_in_scripts={"inifile.ini": INI})
        cls.srv.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def answer(self, query):
        r = self.srv.get("/scripts/IniFile.dll?" + query)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def test_values_from_the_ini_beside_the_dll(self):
        self.assertEqual(self.answer("server,greeting"), b"  Hello, IIS  ")
        self.assertEqual(self.answer("Server,Path"), b"C:\\inetpub\\data;backup")
        self.assertEqual(self.answer("Server,Missing"), b"<none>")
        self.assertEqual(self.answer("Nowhere,Port"), b"<none>")

    def test_integers_first_section_wins(self):
        self.assertEqual(self.answer("int:SERVER,PORT"), b"8080")
        self.assertEqual(self.answer("int:Limits,MaxUsers"), b"32")
        self.assertEqual(self.answer("int:Limits,Missing"), b"-1")

    def test_bare_name_is_beside_the_calling_module(self):
        self.assertEqual(self.answer("bare:Server,Port"), b"8080")

    def test_section_list(self):
        self.assertEqual(self.answer("sections"), b"Server\nserver\nLimits\n")

    def test_registry_has_no_keys(self):
        self.assertEqual(self.answer("registry"), b"registry-absent")


C_ENTRY = """
#include <windows.h>
#include <httpext.h>
DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB) { (void)pECB; %s return HSE_STATUS_SUCCESS; }
"""


class NotProvidedTest(unittest.TestCase):
    """Each snippet must fail to build with the header's message, in C and in C++."""

    def build(self, name, body):
        d = tempfile.mkdtemp(prefix="isapi-notprovided-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, name), "w") as f:
            f.write(C_ENTRY % body)
        return subprocess.run(["sh", ISAPI_CC, "-o", "x.so", name], cwd=d, capture_output=True, text=True,
                              timeout=120)

    def assert_fails(self, name, body, message):
        r = self.build(name, body)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn(message, r.stderr)

    def test_control_builds(self):
        # The same file without the forbidden name builds, so the failures below are theirs.
        for name in ("ok.c", "ok.cpp"):
            r = self.build(name, "")
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_seh(self):
        self.assert_fails("seh.c", "__try { } __except (1) { }", "structured exception handling")
        self.assert_fails("seh.c", "__try { __leave; } __finally { }", "structured exception handling")
        self.assert_fails("seh.cpp", "try { } catch (...) { } __finally { }", "structured exception handling")
        self.assert_fails("seh.cpp", "if (0) { } __except (1) { }", "structured exception handling")

    def test_com(self):
        for name in ("com.c", "com.cpp"):
            self.assert_fails(name, "CoInitialize(NULL);", "COM is not provided by isapid")
            self.assert_fails(name, "IUnknown *p = NULL; (void)p;", "COM is not provided by isapid")
            self.assert_fails(name, "CoCreateInstance(NULL, NULL, 0, NULL, NULL);", "COM is not provided")

    def test_tokens(self):
        for name in ("tok.c", "tok.cpp"):
            self.assert_fails(name, "HANDLE h; OpenThreadToken(NULL, 0, TRUE, &h);", "access tokens")
            self.assert_fails(name, "ImpersonateLoggedOnUser(NULL);", "access tokens")
            self.assert_fails(name, "RevertToSelf();", "access tokens")


if __name__ == "__main__":
    main()
