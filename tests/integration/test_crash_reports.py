"""Crash reports: every fatal signal, on every thread, gives one line on stderr naming the signal,
the module that holds the faulting instruction and, when known, the extension and request; a
stack overflow too (the handler runs on an alternate stack every thread has). The crash itself
ends the process it happens in: here the single process of --processes 0, so the server (the
workers of a master are replaced: test_workers.py); test_hostile_extensions.py covers what
happens to the other clients then.

Fixture: tests/fixtures/crash.c (?op=segv NULL store, ?op=overflow unbounded recursion,
?op=thread NULL store on a thread the extension started, ?op=abort)."""

import os
import resource
import re
import signal
import unittest

from harness import Server, build_request, fixture, main, sanitizer_of_binary, sanitizer_env_no_segv_handler



class CrashReportTest(unittest.TestCase):
    def setUp(self):
        self.core_limit = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, self.core_limit[1]))

    def tearDown(self):
        resource.setrlimit(resource.RLIMIT_CORE, self.core_limit)

    def crash(self, op, sig=signal.SIGSEGV):
        """Runs ?op=OP in the crash fixture; returns (the one report line, the module path)."""
        with Server(scripts={"crash.so": fixture("crash")}, env=sanitizer_env_no_segv_handler(),
                    expect_exit=None, allow_leaks=True, args=["--processes", "0"]) as srv:
            module = os.path.realpath(os.path.join(srv.scripts_dir, "crash.so"))
            r = srv.get("/scripts/crash.dll?op=ok")
            self.assertEqual(r.status, 200)
            with srv.conn() as c:
                c.send(build_request("GET", "/scripts/crash.dll?op=" + op))
                rc = srv.wait_exit(20)
            err = srv.stderr()
            lines = [l for l in err.splitlines() if "fatal signal" in l]
            if not lines and sanitizer_of_binary() and "Sanitizer" in err:
                self.skipTest("the %s sanitizer's runtime took the signal:\n%s"
                              % (sanitizer_of_binary(), err[-2000:]))
            self.assertEqual(rc, -sig, "exit status %r\nstderr:\n%s" % (rc, err[-3000:]))
            self.assertEqual(len(lines), 1, err[-3000:])
            self.assertIn("fatal signal %d (%s)" % (sig, signal.Signals(sig).name[3:]), lines[0])
            self.assertTrue(lines[0].endswith("; the server stops"), lines[0])
            return lines[0], module

    def test_null_store_in_httpextensionproc(self):
        line, module = self.crash("segv")
        self.assertIn(" in extension %s while serving /scripts/crash.dll?op=segv:" % module, line)
        self.assertIn(": instruction 0x", line)
        self.assertIn(" in %s" % module, line.split(": instruction", 1)[1])
        self.assertIn(", address 0x0", line)

    def test_stack_overflow_in_httpextensionproc(self):
        line, module = self.crash("overflow")
        self.assertIn(" in extension %s while serving /scripts/crash.dll?op=overflow:" % module, line)
        where = line.split(": instruction", 1)[1]
        # Under TSan every store of the recursion calls the runtime (__tsan_write1), and the
        # store that meets the guard page may be the runtime's own: that is the instruction.
        if not (sanitizer_of_binary() and re.match(r" 0x[0-9a-f]+ in \S*/lib[a-z]*san\.so", where)):
            self.assertIn(" in %s" % module, where)
        self.assertIn("(stack overflow)", line)

    def test_crash_on_a_thread_the_extension_started(self):
        line, module = self.crash("thread")
        self.assertNotIn("in the server", line)
        self.assertNotIn("while serving", line)
        self.assertIn("(SEGV) in %s (no request known):" % module, line)
        self.assertIn(", on a thread started by %s;" % module, line)

    def test_abort_in_httpextensionproc(self):
        line, module = self.crash("abort", signal.SIGABRT)
        self.assertIn(" in extension %s while serving /scripts/crash.dll?op=abort:" % module, line)


if __name__ == "__main__":
    main()
