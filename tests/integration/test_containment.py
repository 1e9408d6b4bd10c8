"""Containment for extensions: HSE_REQ_MAP_URL_TO_PATH(_EX) applies the static-file rules (no
symlink out of the root, no dotfile, nothing inside a script directory) and fails with
ERROR_ACCESS_DENIED otherwise (docs/isapi.md); the examples that open a mapped path (transmit,
vector) therefore never send a file outside the root. An extension file in a --scripts
directory that is a symlink leading out of it is not loaded (403 and a rate-limited log line)
unless --follow-script-symlinks allows it."""

import contextlib
import os
import unittest

from harness import Server, example, fixture, main

ERROR_ACCESS_DENIED = 5
HSE_URL_FLAGS_READ = 0x1
HSE_URL_FLAGS_EXECUTE = 0x4
HSE_URL_FLAGS_SCRIPT = 0x200

SECRET = "secret-outside-the-root\n"


class MappedPathTest(unittest.TestCase):
    """Symlinks below the root, planted before the server starts."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(files={"index.html": "<p>i</p>\n", "a.txt": "AAAA\n"},
                         scripts={"ssf.so": fixture("ssf"), "transmit.so": example("transmit"),
                                  "vector.so": example("vector")},
                         start=False)
        srv = cls.srv
        srv.__enter__()
        outside = os.path.join(srv.tmp, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret.txt"), "w") as f:
            f.write(SECRET)
        root = srv.root
        os.symlink("/etc/passwd", os.path.join(root, "pw"))
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "secret"))
        os.symlink(outside, os.path.join(root, "outdir"))
        os.symlink("a.txt", os.path.join(root, "alias.txt"))          # stays in the root
        os.symlink(os.path.join(outside, "not-there"), os.path.join(root, "dangling"))
        with open(os.path.join(root, ".hidden"), "w") as f:
            f.write("hidden\n")
        os.symlink(".hidden", os.path.join(root, "tohidden"))
        # the script directory, reached from the root by a symlink: its files are never mapped
        os.symlink(srv.scripts_dir, os.path.join(root, "bin"))
        os.symlink(outside, os.path.join(srv.scripts_dir, "escape"))
        try:
            srv.start()
        except BaseException:
            srv._cleanup_tmp()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def map(self, url, ex=False):
        op = "mapex" if ex else "map"
        with self.srv.conn() as c:
            r = c.request("GET", "/scripts/ssf.dll?op=%s&url=%s" % (op, url.replace("%", "%25")))
        self.assertEqual(r.status, 200, r)
        return r.kv()

    def test_static_refuses_the_same_urls(self):
        for url in ("/pw", "/secret", "/outdir/secret.txt", "/dangling", "/tohidden", "/bin/ssf.so"):
            with self.subTest(url=url):
                self.assertIn(self.srv.get(url).status, (403, 404))

    def test_map_refuses_symlinks_out_of_the_root(self):
        for url in ("/pw", "/secret", "/outdir/secret.txt", "/outdir/does-not-exist",
                    "/outdir/", "/dangling", "/tohidden", "/.hidden", "/bin/ssf.so", "/bin/"):
            for ex in (False, True):
                with self.subTest(url=url, ex=ex):
                    kv = self.map(url, ex)
                    self.assertEqual(kv.get("ok"), "0", kv)
                    self.assertEqual(kv.get("error"), str(ERROR_ACCESS_DENIED), kv)

    def test_map_still_maps_what_does_not_exist(self):
        # IIS maps without looking: a file not there yet maps below the root.
        root = os.path.realpath(self.srv.root)
        kv = self.map("/new/dir/file.txt")
        self.assertEqual((kv.get("ok"), kv.get("path")), ("1", root + "/new/dir/file.txt"), kv)
        kv = self.map("/newdir/")
        self.assertEqual((kv.get("ok"), kv.get("path")), ("1", root + "/newdir/"), kv)

    def test_map_resolves_symlinks_inside_the_root(self):
        root = os.path.realpath(self.srv.root)
        kv = self.map("/alias.txt")
        self.assertEqual((kv.get("ok"), kv.get("path")), ("1", root + "/a.txt"), kv)
        kv = self.map("/alias.txt", ex=True)
        self.assertEqual(kv.get("path"), root + "/a.txt", kv)
        self.assertEqual(int(kv.get("cchMatchingPath")), len(root), kv)
        self.assertEqual(int(kv.get("flags")), HSE_URL_FLAGS_READ, kv)

    def test_map_under_a_script_prefix(self):
        scripts = os.path.realpath(self.srv.scripts_dir)
        kv = self.map("/scripts/ssf.so", ex=True)
        self.assertEqual(kv.get("ok"), "1", kv)
        self.assertEqual(kv.get("path"), scripts + "/ssf.so")
        self.assertEqual(int(kv.get("flags")),
                         HSE_URL_FLAGS_READ | HSE_URL_FLAGS_EXECUTE | HSE_URL_FLAGS_SCRIPT, kv)
        self.assertEqual(int(kv.get("cchMatchingPath")), len(scripts), kv)
        self.assertEqual(int(kv.get("cchMatchingURL")), len("/scripts"), kv)
        # the same no-escape rule in the script directory
        for url in ("/scripts/escape/secret.txt", "/scripts/escape/", "/scripts/.x"):
            with self.subTest(url=url):
                kv = self.map(url)
                self.assertEqual((kv.get("ok"), kv.get("error")), ("0", str(ERROR_ACCESS_DENIED)), kv)

    def test_transmit_does_not_serve_files_outside_the_root(self):
        for mode in ("async", "sync"):
            for name in ("pw", "secret", "dangling", "tohidden"):
                with self.subTest(mode=mode, name=name):
                    r = self.srv.get("/scripts/transmit.dll?file=%s&mode=%s" % (name, mode))
                    self.assertEqual(r.status, 403, r)
                    self.assertNotIn(b"root:", r.body)
                    self.assertNotIn(SECRET.encode(), r.body)
        r = self.srv.get("/scripts/transmit.dll?file=alias.txt")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"AAAA\n", r.body)

    def test_vector_does_not_serve_files_outside_the_root(self):
        for name in ("pw", "secret", "dangling"):
            with self.subTest(name=name):
                r = self.srv.get("/scripts/vector.dll?file=%s" % name)
                self.assertEqual(r.status, 403, r)
                self.assertNotIn(b"root:", r.body)
                self.assertNotIn(SECRET.encode(), r.body)
        r = self.srv.get("/scripts/vector.dll?file=a.txt")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"AAAA\n", r.body)


class ScriptSymlinkTest(unittest.TestCase):
    """An extension file that is a symlink leading out of its script directory."""

    @contextlib.contextmanager
    def server(self, **kw):
        srv = Server(scripts={"hello.so": example("hello")}, start=False, **kw)
        srv.__enter__()
        outside = os.path.join(srv.tmp, "elsewhere")
        os.makedirs(outside)
        os.symlink(example("hello"), os.path.join(outside, "hello.so"))
        os.symlink(os.path.join(outside, "hello.so"), os.path.join(srv.scripts_dir, "evil.so"))
        os.symlink(outside, os.path.join(srv.scripts_dir, "sub"))
        os.symlink("hello.so", os.path.join(srv.scripts_dir, "alias.so"))  # stays in the directory
        try:
            srv.start()
            yield srv
        except BaseException as e:
            srv.__exit__(type(e), e, None)
            raise
        srv.__exit__(None, None, None)

    def test_symlink_out_of_the_script_directory_is_refused(self):
        with self.server() as srv:
            for _ in range(20):
                for url in ("/scripts/evil.dll", "/scripts/sub/hello.dll"):
                    self.assertEqual(srv.get(url).status, 403, url)
            srv.wait_stderr(r"refusing to load /scripts/evil\.dll: .*outside the script directory")
            lines = [l for l in srv.stderr().splitlines() if "refusing to load" in l]
            # rate-limited: far fewer lines than the 40 refusals
            self.assertLess(len(lines), 10, "\n".join(lines))
            # a symlink that stays in the directory is the administrator's business
            r = srv.get("/scripts/alias.dll")
            self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"))
            self.assertEqual(srv.get("/scripts/hello.dll").status, 200)

    def test_follow_script_symlinks_loads_it(self):
        with self.server(args=["--follow-script-symlinks"]) as srv:
            for url in ("/scripts/evil.dll", "/scripts/sub/hello.dll"):
                r = srv.get(url)
                self.assertEqual((r.status, r.body), (200, b"Hello, world!\n"), url)
            self.assertNotIn("refusing to load", srv.stderr())

    def test_follow_script_symlinks_in_the_config_file(self):
        for value, status in (("yes", 200), ("no", 403)):
            with self.subTest(value=value):
                with self.server(config="[server]\nfollow_script_symlinks = %s\n" % value) as srv:
                    self.assertEqual(srv.get("/scripts/evil.dll").status, status)


if __name__ == "__main__":
    main()
