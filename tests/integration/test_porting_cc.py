"""isapi-cc, the driver that builds IIS projects: the mixedcase corpus project behind the real
server, its .def's exports, and small projects built here to check the driver's errors, .def
handling, languages and #include lookup (docs/porting.md, "What isapi-cc does")."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, Server, main, porting

ISAPI_CC = os.path.join(BUILD, "isapi-cc")


def defined_dynamic_symbols(path):
    """The names a shared library exports (defined dynamic symbols)."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def symbol_addresses(path):
    """All symbols of a library's symbol table, local ones included: {name: address}."""
    out = subprocess.run(["nm", path], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = parts[0]
    return syms


ENTRY_POINTS = r"""
BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)
{
    pVer->dwExtensionVersion = HSE_VERSION;
    lstrcpynA(pVer->lpszExtensionDesc, "test", HSE_MAX_EXT_DLL_NAME_LEN);
    return TRUE;
}
"""


class Project:
    """A scratch project directory: write files, run isapi-cc in it."""

    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="isapi-cc-test-")
        test.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def cc(self, *args):
        return subprocess.run(["sh", ISAPI_CC] + list(args), cwd=self.dir, capture_output=True, text=True,
                              timeout=120)


class MixedCaseProjectTest(unittest.TestCase):
    """tests/porting/mixedcase: includes in other letter cases, a backslash, globals defined in a
    header included by two sources, a .def with HEAPSIZE/STACKSIZE."""

    def test_served_by_the_server(self):
        with Server(scripts={"mixedcase.so": porting("mixedcase")}) as srv:
            for url in ("/scripts/mixedcase.dll", "/scripts/MixedCase.DLL"):
                with self.subTest(url=url):
                    r = srv.get(url)
                    self.assertEqual(r.status, 200, r.body)
                    self.assertEqual(r.body, b"attached=1\r\n"
                                             b"description=MixedCase ISAPI Sample 1.0\r\n"
                                             b"pool=workers=4 owner=MixedCase ISAPI Sample 1.0\r\n"
                                             b"workers=4\r\n")

    def test_def_restricts_the_exports(self):
        # The .def lists the three entry points; DllMain is exported because a source defines it
        # (the library's entry point on Windows); PoolInitialize and the globals stay inside.
        self.assertEqual(defined_dynamic_symbols(porting("mixedcase")),
                         {"GetExtensionVersion", "HttpExtensionProc", "TerminateExtension", "DllMain"})


class IsapiCcErrorsTest(unittest.TestCase):
    def test_unresolved_name_fails_naming_it(self):
        p = Project(self)
        p.write("ext.c", "#include <windows.h>\n#include <httpext.h>\n"
                         "BOOL FooBarNotProvided(DWORD dw);\n" + ENTRY_POINTS +
                "DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)\n"
                "{ return FooBarNotProvided(1) ? HSE_STATUS_SUCCESS : HSE_STATUS_ERROR; }\n")
        r = p.cc("-o", "ext.so", "ext.c")
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("undefined reference to `FooBarNotProvided'", r.stderr)
        last = r.stderr.strip().splitlines()[-1]
        self.assertTrue(last.startswith("isapi-cc: error: FooBarNotProvided is defined nowhere"), last)
        self.assertFalse(os.path.exists(p.path("ext.so")))

    def test_implicit_declaration_fails_naming_it(self):
        p = Project(self)
        p.write("ext.c", "#include <windows.h>\nDWORD Work(void) { return FooBarUndeclared(3); }\n")
        p.write("more.cpp", "#include <windows.h>\nDWORD More() { return CxxUndeclared(3); }\n")
        r = p.cc("-o", "ext.so", "ext.c", "more.cpp")
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("implicit declaration of function", r.stderr)
        # Both sources are compiled, so both names are reported.
        self.assertIn("isapi-cc: error: FooBarUndeclared is declared nowhere", r.stderr)
        self.assertIn("isapi-cc: error: CxxUndeclared is declared nowhere", r.stderr)

    def test_exit_status_is_the_compilers(self):
        p = Project(self)
        p.write("ext.c", "int broken( {\n")
        r = p.cc("ext.c")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error:", r.stderr)

    def test_usage_errors(self):
        p = Project(self)
        p.write("a.c", "int a;\n")
        p.write("x.def", "EXPORTS\n a\n")
        p.write("y.def", "EXPORTS\n a\n")
        cases = [((), "no source files"),
                 (("notes.txt",), "notes.txt: not a source"),
                 (("missing.c",), "missing.c: no such file"),
                 (("a.c", "x.def", "y.def"), "two .def files"),
                 (("-c", "a.c"), "-c is not supported"),
                 (("a.c", "-o"), "-o needs a value")]
        for args, message in cases:
            with self.subTest(args=args):
                r = p.cc(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("isapi-cc: error: " + message, r.stderr)
                self.assertIn("--help", r.stderr)
        r = p.cc("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: isapi-cc", r.stdout)


class IsapiCcDefTest(unittest.TestCase):
    SOURCE = ("#include <windows.h>\n#include <httpext.h>\n"
              "DWORD g_dwShared;\n"
              "int Helper(void) { return 1; }\n"
              "int RealName(void) { return 2; }\n"
              "int ByOrdinalOnly(void) { return 3; }\n"
              "BOOL WINAPI DllMain(HINSTANCE h, DWORD dwReason, LPVOID p) { return TRUE; }\n" + ENTRY_POINTS +
              "DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB) { return HSE_STATUS_SUCCESS; }\n"
              "BOOL WINAPI TerminateExtension(DWORD dwFlags) { return TRUE; }\n")

    def test_directives_ignored_and_exports_exact(self):
        p = Project(self)
        p.write("ext.c", self.SOURCE)
        p.write("Ext.DEF", "; a module-definition file\r\n"
                           "LIBRARY \"Ext\"\r\nNAME Ext\r\nDESCRIPTION 'test'\r\nVERSION 1.2\r\n"
                           "HEAPSIZE 1048576\r\nSTACKSIZE 1048576,4096\r\n"
                           "SECTIONS\r\n  .shared READ WRITE SHARED\r\n"
                           "EXPORTS\r\n"
                           "  GetExtensionVersion   @1\r\n"
                           "  HttpExtensionProc @ 2   ; the requests\r\n"
                           "  TerminateExtension @3 PRIVATE\r\n"
                           "  g_dwShared DATA\r\n"
                           "  ByOrdinalOnly @7 NONAME\r\n"
                           "  PublicName = RealName\r\n")
        r = p.cc("-o", "ext.so", "ext.c", "Ext.DEF")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(defined_dynamic_symbols(p.path("ext.so")),
                         {"GetExtensionVersion", "HttpExtensionProc", "TerminateExtension", "g_dwShared",
                          "ByOrdinalOnly", "PublicName", "DllMain"})
        syms = symbol_addresses(p.path("ext.so"))
        self.assertEqual(syms["PublicName"], syms["RealName"])

    def test_exported_name_nobody_defines(self):
        p = Project(self)
        p.write("ext.c", self.SOURCE)
        p.write("ext.def", "EXPORTS\n  GetExtensionVersion\n  NotDefinedAnywhere @4\n")
        r = p.cc("-o", "ext.so", "ext.c", "ext.def")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("isapi-cc: error: ext.def:3: NotDefinedAnywhere is exported but no source defines it", r.stderr)

    def test_forwarders_and_junk_are_errors(self):
        p = Project(self)
        p.write("ext.c", self.SOURCE)
        p.write("ext.def", "EXPORTS\n  Nap = KERNEL32.Sleep\n  Helper BOGUS\n")
        r = p.cc("-o", "ext.so", "ext.c", "ext.def")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("ext.def:2: Nap forwards to another library (KERNEL32.Sleep)", r.stderr)
        self.assertIn("ext.def:3: unexpected \"BOGUS\" after Helper", r.stderr)

    def test_without_def_exports_what_sources_mark(self):
        # No .def: what Visual C++ would export, the entry points and __declspec(dllexport).
        # DllMain and TerminateExtension are defined in a file that includes windows.h alone.
        p = Project(self)
        p.write("ext.c", "#include <windows.h>\n#include <httpext.h>\n"
                         "extern BOOL g_fAttached;\n"
                         "int Helper(void) { return 1; }\n"
                         "__declspec(dllexport) int Marked(void) { return Helper(); }\n" + ENTRY_POINTS +
                "DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)\n{\n"
                "    char szBody[] = \"attached=0\\n\";\n    DWORD cb = sizeof(szBody) - 1;\n"
                "    szBody[9] += (char) g_fAttached;\n"
                "    pECB->WriteClient(pECB->ConnID, szBody, &cb, HSE_IO_SYNC);\n"
                "    return HSE_STATUS_SUCCESS;\n}\n")
        p.write("dllmain.c", "#include <windows.h>\nBOOL g_fAttached;\n"
                             "BOOL WINAPI DllMain(HINSTANCE h, DWORD dwReason, LPVOID p)\n"
                             "{ if (dwReason == DLL_PROCESS_ATTACH) g_fAttached = TRUE; return TRUE; }\n"
                             "BOOL WINAPI TerminateExtension(DWORD dwFlags) { return TRUE; }\n")
        r = p.cc("-o", "ext.so", "ext.c", "dllmain.c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(defined_dynamic_symbols(p.path("ext.so")),
                         {"GetExtensionVersion", "HttpExtensionProc", "TerminateExtension", "DllMain", "Marked"})
        with Server(scripts={"ext.so": p.path("ext.so")}) as srv:
            r = srv.get("/scripts/ext.dll")
            self.assertEqual((r.status, r.body), (200, b"attached=1\n"))


class IsapiCcLanguagesTest(unittest.TestCase):
    def test_c_and_cxx_in_one_project(self):
        p = Project(self)
        # C as gnu11 (with a C++ keyword as a name, so a C++ compile would fail), .C as C too.
        p.write("a.c", "#if __STDC_VERSION__ != 201112L\n#error not C11\n#endif\n"
                       "int class_count(void) { int class = 2; return class; }\n")
        p.write("B.C", "int new_count(void) { int new = 3; return new; }\n")
        p.write("ext.cpp", "#include <windows.h>\n#include <httpext.h>\n#include <string>\n"
                           "#if __cplusplus != 201703L\n#error not C++17\n#endif\n"
                           "extern \"C\" int class_count(void);\nextern \"C\" int new_count(void);\n"
                           "BOOL WINAPI GetExtensionVersion(HSE_VERSION_INFO *pVer)\n"
                           "{ pVer->dwExtensionVersion = HSE_VERSION; pVer->lpszExtensionDesc[0] = 0; return TRUE; }\n"
                           "DWORD WINAPI HttpExtensionProc(EXTENSION_CONTROL_BLOCK *pECB)\n{\n"
                           "    std::string s = \"sum=\" + std::to_string(class_count() + new_count()) + \"\\n\";\n"
                           "    DWORD cb = (DWORD) s.size();\n"
                           "    pECB->WriteClient(pECB->ConnID, (LPVOID) s.data(), &cb, HSE_IO_SYNC);\n"
                           "    return HSE_STATUS_SUCCESS;\n}\n")
        r = p.cc("-O2", "a.c", "B.C", "ext.cpp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(p.path("a.so")), "default output: the first source's name")
        with Server(scripts={"ext.so": p.path("a.so")}) as srv:
            r = srv.get("/scripts/ext.dll")
            self.assertEqual((r.status, r.body), (200, b"sum=5\n"))


class IsapiCcIncludesTest(unittest.TestCase):
    def test_global_defined_in_a_header_of_two_sources(self):
        p = Project(self)
        p.write("Globals.h", "#ifndef GLOBALS_H\n#define GLOBALS_H\nint g_nShared;\n#endif\n")
        p.write("a.c", "#include \"globals.h\"\nint *a(void) { return &g_nShared; }\n")
        p.write("b.c", "#include \"GLOBALS.H\"\nint *b(void) { return &g_nShared; }\n")
        r = p.cc("-o", "x.so", "a.c", "b.c")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_parent_directory_and_angle_brackets_in_any_case(self):
        p = Project(self)
        p.write("Common/Shared.h", "#define SHARED_VALUE 7\n")
        p.write("Inc/Api.h", "#define API_VALUE 5\n")
        p.write("src/ext.c", "#include <WINDOWS.H>\n#include \"../common/shared.h\"\n"
                             "#include \"..\\COMMON\\SHARED.H\"\n#include <api.h>\n"
                             "int value(void) { return SHARED_VALUE + API_VALUE; }\n")
        r = p.cc("-I", "Inc", "-o", "ext.so", "src/ext.c")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_name_beside_an_including_file(self):
        # src/ext.c includes "inc/api.h", whose "Config.h" is src/config.h: Visual C++ searches
        # the directories of the files that included the current one; gcc does not.
        p = Project(self)
        p.write("src/config.h", "#define CONFIG_VALUE 9\n")
        p.write("src/inc/api.h", "#include \"Config.h\"\n#define API_VALUE CONFIG_VALUE\n")
        p.write("src/ext.c", "#include \"inc/api.h\"\nint value(void) { return API_VALUE; }\n")
        r = p.cc("-o", "ext.so", "src/ext.c")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_one_name_for_two_files_is_an_error(self):
        p = Project(self)
        p.write("a/Util.h", "#define A 1\n")
        p.write("b/UTIL.H", "#define B 1\n")
        p.write("a/a.c", "#include \"util.h\"\nint a = A;\n")
        p.write("b/b.c", "#include \"util.h\"\nint b = B;\n")
        r = p.cc("-o", "x.so", "a/a.c", "b/b.c")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("#include name \"util.h\" means", r.stderr)
        self.assertIn("a/Util.h", r.stderr)
        self.assertIn("b/UTIL.H", r.stderr)


if __name__ == "__main__":
    main()
