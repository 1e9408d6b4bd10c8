"""Static files changing under the server between two requests, within the second for which
route resolutions are cached: a file replaced by a symlink leading out of the root, deleted,
replaced by a directory; a cached resolution (a URL reached through a symlink) whose file or
directory changes; protected files (script directory, --map extension, handler) reached through
symlinks. Each check is made on one keep-alive connection, so it meets the same event loop,
and with it the same per-thread cache, as the request before it."""

import os
import shutil
import unittest

from harness import Server, fixture, main, wait_for

SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"
MAPPED_SOURCE = b"MAPPED-SOURCE-MUST-NOT-LEAK"
SCRIPT_FILE = b"SCRIPT-DIR-FILE-MUST-NOT-LEAK"


class StaticSwapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "root\n", "page.isa": MAPPED_SOURCE,
                                "cgi-bin/notes.txt": SCRIPT_FILE},
                         threads=2, start=False)
        cls.srv.__enter__()
        root = cls.srv.root
        cls.outside = os.path.join(cls.srv.tmp, "outside")
        os.makedirs(os.path.join(cls.outside, "d"))
        for rel in ("secret.txt", "d/inner.txt"):
            with open(os.path.join(cls.outside, rel), "wb") as f:
                f.write(SECRET)
        os.makedirs(os.path.join(root, "handlers"))
        shutil.copy(fixture("vars"), os.path.join(root, "handlers", "vars.so"))
        cls.srv.args = ["--scripts", "/cgi=" + os.path.join(root, "cgi-bin"),
                        "--map", ".isa=" + os.path.join(root, "handlers", "vars.so")]
        cls.srv.start()
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def setUp(self):
        self.c = self.srv.conn()

    def tearDown(self):
        self.c.close()

    # ---- helpers ------------------------------------------------------------------------
    def p(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, data):
        with open(self.p(rel), "wb") as f:
            f.write(data)

    def swap_to_symlink(self, target, rel):
        """rel becomes a symlink to target in one step (rename over it)."""
        tmp = self.p(rel + ".new")
        os.symlink(target, tmp)
        os.replace(tmp, self.p(rel))

    def get(self, path):
        r = self.c.request("GET", path)
        for leak in (SECRET, MAPPED_SOURCE, SCRIPT_FILE, b"\x7fELF"):
            self.assertNotIn(leak, r.body, path)
        return r

    def expect(self, path, status, body=None):
        r = self.get(path)
        self.assertEqual(r.status, status, (path, r))
        if body is not None:
            self.assertEqual(r.body, body, path)
        return r

    # ---- tests --------------------------------------------------------------------------
    def test_file_replaced_by_symlink_out(self):
        self.write("swap.txt", b"inside\n")
        for i in range(5):
            self.expect("/swap.txt", 200, b"inside\n")
            self.swap_to_symlink(os.path.join(self.outside, "secret.txt"), "swap.txt")
            self.expect("/swap.txt", 403)
            self.expect("/swap.txt", 403)
            os.unlink(self.p("swap.txt"))
            self.write("swap.txt", b"inside\n")

    def test_file_deleted_or_replaced_by_directory(self):
        self.write("thing", b"a file\n")
        self.expect("/thing", 200, b"a file\n")
        os.unlink(self.p("thing"))
        self.expect("/thing", 404)
        os.mkdir(self.p("thing"))
        r = self.expect("/thing", 301)
        self.assertEqual(r.get("Location"), "/thing/")
        self.expect("/thing/", 403)           # no index.html, no listing
        self.write("thing/index.html", b"index\n")
        self.expect("/thing/", 200, b"index\n")
        shutil.rmtree(self.p("thing"))
        self.write("thing", b"a file again\n")
        self.expect("/thing", 200, b"a file again\n")
        self.expect("/thing/", 404)

    def test_cached_symlink_target_changes(self):
        # /alias.txt needs realpath (a symlink): its canonical path is cached for a second.
        self.write("target.txt", b"target\n")
        os.symlink("target.txt", self.p("alias.txt"))
        self.expect("/alias.txt", 200, b"target\n")
        self.expect("/alias.txt", 200, b"target\n")
        self.swap_to_symlink(os.path.join(self.outside, "secret.txt"), "target.txt")
        self.expect("/alias.txt", 403)
        os.unlink(self.p("target.txt"))
        self.write("target.txt", b"target 2\n")
        self.expect("/alias.txt", 200, b"target 2\n")
        os.unlink(self.p("target.txt"))
        self.expect("/alias.txt", 404)
        self.write("target.txt", b"target 3\n")
        self.expect("/alias.txt", 200, b"target 3\n")
        os.unlink(self.p("target.txt"))
        os.mkdir(self.p("target.txt"))
        r = self.expect("/alias.txt", 301)
        self.assertEqual(r.get("Location"), "/alias.txt/")

    def test_cached_directory_replaced_by_symlink_out(self):
        os.mkdir(self.p("d"))
        self.write("d/inner.txt", b"inner\n")
        os.symlink("d/inner.txt", self.p("alias2.txt"))
        self.expect("/alias2.txt", 200, b"inner\n")
        self.expect("/alias2.txt", 200, b"inner\n")
        os.rename(self.p("d"), self.p("d.old"))
        os.symlink(os.path.join(self.outside, "d"), self.p("d"))   # outside/d/inner.txt: SECRET
        self.expect("/alias2.txt", 403)
        self.expect("/d/inner.txt", 403)

    def test_symlink_repointed_out(self):
        # The symlink itself re-pointed: the cached target (inside, checked) may still be served
        # for the rest of the second; the new one never. Polled, bounded.
        self.write("t3.txt", b"t3\n")
        os.symlink("t3.txt", self.p("alias3.txt"))
        self.expect("/alias3.txt", 200, b"t3\n")
        self.swap_to_symlink(os.path.join(self.outside, "secret.txt"), "alias3.txt")

        def refused():
            r = self.get("/alias3.txt")
            self.assertIn(r.status, (200, 403), r)
            if r.status == 200:
                self.assertEqual(r.body, b"t3\n")
            return r.status == 403
        wait_for(refused, timeout=10, interval=0.05, message="/alias3.txt to be refused")

    def test_protected_files(self):
        self.expect("/cgi-bin/notes.txt", 403)          # inside the script directory
        self.expect("/handlers/vars.so", 403)           # the --map handler
        r = self.expect("/page.isa", 200)               # run, not sent
        self.assertIn(b"ecb.method=GET", r.body)
        os.symlink("cgi-bin", self.p("cgi-link"))
        self.expect("/cgi-link/notes.txt", 403)
        os.symlink("page.isa", self.p("isa-link.txt"))
        self.expect("/isa-link.txt", 403)               # a mapped extension through a symlink
        self.write("plain.txt", b"plain\n")
        self.expect("/plain.txt", 200, b"plain\n")
        for target in ("page.isa", "cgi-bin/notes.txt", "handlers/vars.so"):
            with self.subTest(target=target):
                self.swap_to_symlink(target, "plain.txt")
                self.expect("/plain.txt", 403)
        # the same behind a cached resolution
        self.write("inner.txt", b"inner\n")
        os.symlink("inner.txt", self.p("alias4.txt"))
        self.expect("/alias4.txt", 200, b"inner\n")
        self.swap_to_symlink("page.isa", "inner.txt")
        self.expect("/alias4.txt", 403)

    def test_head_and_conditionals_from_open_file(self):
        self.write("cond.txt", b"0123456789")
        r = self.expect("/cond.txt", 200, b"0123456789")
        etag = r.get("ETag")
        r = self.c.request("HEAD", "/cond.txt")
        self.assertEqual((r.status, r.get("Content-Length"), r.get("ETag")), (200, "10", etag))
        r = self.c.request("GET", "/cond.txt", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        r = self.c.request("GET", "/cond.txt", headers={"Range": "bytes=2-4"})
        self.assertEqual((r.status, r.body), (206, b"234"))
        r = self.c.request("POST", "/cond.txt", headers={"Content-Length": "0"})
        self.assertEqual(r.status, 405)
        self.expect("/cond.txt", 200, b"0123456789")

    def test_no_descriptor_leak(self):
        self.write("fd.txt", b"fd\n")
        os.symlink("fd.txt", self.p("fd-link.txt"))
        before = self.srv.settled_fds()
        for _ in range(50):
            for path, status in (("/fd.txt", 200), ("/fd-link.txt", 200), ("/", 200), ("/nope", 404),
                                 ("/cgi-bin/notes.txt", 403), ("/handlers", 301)):
                self.expect(path, status)
            self.c.request("HEAD", "/fd.txt")
            self.c.request("POST", "/fd.txt", headers={"Content-Length": "0"})
        self.c.close()
        self.assertLessEqual(self.srv.settled_fds(), before + 1)


if __name__ == "__main__":
    main()
