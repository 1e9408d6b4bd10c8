"""An extension's URL name matches its file without regard to letter case, as on IIS's file
system: a form written for IIS posts to readcli.dll for ReadCli.so (docs/isapi.md, "Loading";
docs/porting.md, "URLs")."""

import os
import unittest

from harness import Server, example, main


class UrlCaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(scripts={"ReadCli.so": example("hello")})
        cls.srv.__enter__()
        os.makedirs(os.path.join(cls.srv.scripts_dir, "Forms"))
        with open(example("hello"), "rb") as src, open(os.path.join(cls.srv.scripts_dir, "Forms", "PostIt.so"), "wb") as dst:
            dst.write(src.read())

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_name_in_any_case(self):
        for url in ("/scripts/readcli.dll", "/scripts/READCLI.DLL", "/scripts/ReadCli.dll",
                    "/scripts/rEaDcLi.Dll/path/info?x=1", "/scripts/readcli.so"):
            with self.subTest(url=url):
                r = self.srv.get(url)
                self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"))

    def test_name_in_a_subdirectory(self):
        for url in ("/scripts/Forms/postit.dll", "/scripts/Forms/POSTIT.DLL"):
            with self.subTest(url=url):
                r = self.srv.get(url)
                self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"))

    def test_subdirectory_in_any_case(self):
        """The sub-directories below the script prefix match without regard to case, too."""
        os.makedirs(os.path.join(self.srv.scripts_dir, "Forms", "Admin", "Tools"), exist_ok=True)
        with open(example("hello"), "rb") as src, open(os.path.join(self.srv.scripts_dir, "Forms", "Admin", "Tools", "Run.so"), "wb") as dst:
            dst.write(src.read())
        for url in ("/scripts/forms/postit.dll", "/scripts/FORMS/PostIt.dll", "/scripts/forms/admin/tools/run.dll",
                    "/scripts/Forms/ADMIN/tools/RUN.DLL/more?x", "/scripts//forms//Admin/Tools/run.dll"):
            with self.subTest(url=url):
                r = self.srv.get(url)
                self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"))
        for url in ("/scripts/form/postit.dll", "/scripts/forms/admin/postit.dll", "/scripts/forms/postit.dll/../readcli.dll"):
            with self.subTest(url=url):
                self.assertIn(self.srv.get(url).status, (403, 404))

    def test_subdirectory_ties_pick_one_name(self):
        """Two directories that differ only in case: the one spelled as the URL wins, else the
        smallest name, whatever the directory order."""
        for d in ("Dup", "dUP"):
            os.makedirs(os.path.join(self.srv.scripts_dir, d), exist_ok=True)
        with open(example("hello"), "rb") as src:
            data = src.read()
        with open(os.path.join(self.srv.scripts_dir, "Dup", "One.so"), "wb") as dst:
            dst.write(data)
        self.assertEqual(self.srv.get("/scripts/Dup/one.dll").status, 200)
        self.assertEqual(self.srv.get("/scripts/dup/one.dll").status, 200)  # "Dup" < "dUP"
        self.assertEqual(self.srv.get("/scripts/dUP/one.dll").status, 404)  # as written: no One.so there

    def test_other_names_are_not_found(self):
        for url in ("/scripts/readcl.dll", "/scripts/readclix.dll", "/scripts/readcli.dllx"):
            with self.subTest(url=url):
                self.assertEqual(self.srv.get(url).status, 404)


if __name__ == "__main__":
    main()
