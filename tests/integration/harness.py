"""Integration-test harness: runs the real isapid binary on a free loopback port.

Environment (set by tests/CMakeLists.txt; defaults for running a file by hand):
  ISAPID_BIN     the server binary               (default: $ISAPID_BUILD/isapid)
  ISAPID_BUILD   the build directory             (default: <repo>/build)
  ISAPID_SOURCE  the repository root             (default: two levels above this file)

Fixtures are $ISAPID_BUILD/tests/fixtures/NAME.so, examples $ISAPID_BUILD/examples/NAME.so.

Running: `cd build && ctest -R integration --output-on-failure`, or one file (or one test) by hand:
    ISAPID_BUILD=$PWD/build python3 tests/integration/test_http.py [HttpTest.test_pipelining] -v
ISAPID_KEEP_TMP=1 keeps each server's temp dir (web root, stderr.log, access.log) for a look.
A server whose stderr holds a sanitizer report fails the test, so the same files check the
ASan/UBSan and TSan builds.

What is here:
  Server        context manager: temp web root + scripts dir, starts the binary, waits for the
                port, captures stderr/stdout, SIGTERM + exit-code check on exit.
  RawConn       (clients.py, re-exported here with the other clients) a socket with a small
                HTTP/1.x response parser of our own (status line, headers, Content-Length /
                chunked / close-delimited bodies, 1xx) so tests can check the exact framing.
  request()     (clients.py) one request through http.client.
  wait_for()    poll a condition with a deadline (tests poll; they do not sleep).
  fd_count(), rss_kb()  from /proc/PID, for leak checks.
  Server.pid    the serving process: the master's one worker (--processes 1, the default), or
                the server itself with --processes 0; master_pid, worker_pids() for the rest.
                Start-up waits for the master's "listening on" line (every worker ready).
  EventFile     a file fixtures append `key=value ...` event lines to (polled with wait()).
  proc_limit(), raise_nofile(), sanitizer_of_binary()  for the scale tests.

Every loop here is bounded in count or time.
"""

import os
import re
import shutil
import signal as _signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# The clients live in clients.py; tests import them from here.
from clients import (DEFAULT_TIMEOUT, ProtocolError, RawConn, Response, Result,  # noqa: F401
                     build_request, chunked, connect_refused, curl, curl_available, parse_kv,
                     request)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("ISAPID_SOURCE") or os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("ISAPID_BUILD") or os.path.join(SOURCE, "build")
BIN = os.environ.get("ISAPID_BIN") or os.path.join(BUILD, "isapid")

START_DEADLINE = 10.0     # seconds for the port to accept connections
# Logged by the master once its first workers are ready (or by the server alone, --processes 0).
LISTENING_LINE = "[info] listening on http://"
STOP_DEADLINE = 15.0      # seconds after SIGTERM before SIGKILL

# The chunk of the read-ahead the server hands the extension in lpbData (IIS UploadReadAheadSize).
READ_AHEAD = 49152
UNKNOWN_LENGTH = 4294967295   # cbTotalBytes for a chunked request body

# Lines in the server's stderr that mean a sanitizer or the C runtime found a bug.
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                      "runtime error:", "ERROR: ThreadSanitizer", "UndefinedBehaviorSanitizer")


def fixture(name):
    """Path of a test fixture extension built from tests/fixtures/NAME.c."""
    return _built(os.path.join(BUILD, "tests", "fixtures", name + ".so"), "fixture tests/fixtures/%s.c" % name)


def example(name):
    """Path of an example extension built from examples/NAME.c."""
    return _built(os.path.join(BUILD, "examples", name + ".so"), "example examples/%s.c" % name)


def porting(name):
    """Path of a porting-corpus extension built from the project in tests/porting/NAME/."""
    return _built(os.path.join(BUILD, "tests", "porting", name + ".so"), "porting project tests/porting/%s/" % name)


def _built(path, what):
    if not os.path.isfile(path):
        raise AssertionError("%s is not built: %s missing (build the tree first)" % (what, path))
    return path


def binary():
    if not os.access(BIN, os.X_OK):
        raise AssertionError("isapid binary not found: %s (set ISAPID_BIN or build first)" % BIN)
    return BIN


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_for(cond, timeout=5.0, interval=0.01, message="condition"):
    """Poll cond() until it returns a true value; return that value. Fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last value %r)" % (timeout, message, last))
        time.sleep(interval)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_targets(pid):
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append((int(fd), os.readlink("/proc/%d/fd/%s" % (pid, fd))))
        except OSError:
            pass
    return sorted(out)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def write_file(path, data, mode=None):
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    return path


def read_text(path):
    """A file's text as it is now (invalid UTF-8 replaced), "" while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def read_lines(path):
    return read_text(path).splitlines()


def pattern_bytes(n, offset=0):
    """The bytes big.c writes: byte i is 'a' + (i % 26)."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz"
    start = offset % 26
    reps = (n + start) // 26 + 2
    return (alphabet * reps)[start:start + n]


class Server:
    """Runs isapid on a free 127.0.0.1 port.

    files:    {relative path: bytes|str} written into a fresh web root (or pass root=DIR).
    scripts:  {name in scripts dir: source .so path}, e.g. {"hello.so": example("hello")};
              the files are copied into a fresh scripts dir mounted at /scripts.
              scripts=None → no --scripts option.
    extra_files_in_scripts: {name: bytes} other files placed in the scripts dir.
    threads, workers, completion_workers: --threads, --workers, --completion-workers (the last
              small by default, so thread-count bounds hold; a test's args may override it).
    args:     extra command-line arguments (after the harness's own).
    base_args: False → only `args` are passed (plus --config when config is given).
    config:   INI text written to TMP/isapid.ini and passed first as --config FILE; "{port}",
              "{root}", "{tmp}" and "{scripts}" in it (and in args and env values) are replaced.
    expect_exit: exit code required at stop (None = do not check).
    allow_leaks: ignore LeakSanitizer reports (for a server that exits on purpose without
              freeing, e.g. after the shutdown grace period with an extension still running).
    env:      extra environment variables for the server.
    """

    def __init__(self, files=None, scripts=None, args=(), root=None, threads=1, workers="2:8",
                 completion_workers="1:4", access_log=True, expect_exit=0, env=None, base_args=True, extra_files_in_scripts=None,
                 scripts_dir=None, scripts_prefix="/scripts", start=True, config=None, allow_leaks=False):
        self.files = files or {}
        self.scripts = scripts
        self.extra_files_in_scripts = extra_files_in_scripts or {}
        self.args = list(args)
        self.root_arg = root
        self.threads = threads
        self.workers = workers
        self.completion_workers = completion_workers
        self.want_access_log = access_log
        self.expect_exit = expect_exit
        self.env = env or {}
        self.base_args = base_args
        self.scripts_dir_arg = scripts_dir
        self.scripts_prefix = scripts_prefix
        self.auto_start = start
        self.config_text = config
        self.allow_leaks = allow_leaks
        self.proc = None
        self.tmp = None
        self.port = None
        self.stopped = False

    # ---- set-up -------------------------------------------------------------------------
    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="isapid-it-")
        self.root = self.root_arg or os.path.join(self.tmp, "www")
        os.makedirs(self.root, exist_ok=True)
        for rel, data in self.files.items():
            write_file(os.path.join(self.root, rel), data)
        self.scripts_dir = None
        if self.scripts is not None:
            self.scripts_dir = self.scripts_dir_arg or os.path.join(self.tmp, "scripts")
            os.makedirs(self.scripts_dir, exist_ok=True)
            for name, src in self.scripts.items():
                shutil.copy(src, os.path.join(self.scripts_dir, name))
            for name, data in self.extra_files_in_scripts.items():
                write_file(os.path.join(self.scripts_dir, name), data)
        self.access_log = os.path.join(self.tmp, "access.log") if self.want_access_log else None
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_path = os.path.join(self.tmp, "stdout.log")
        if self.auto_start:
            try:
                self.start()
            except BaseException:
                self._cleanup_tmp()
                raise
        return self

    def command(self, port):
        cmd = [binary()]
        if self.config_text is not None:
            self.config_path = os.path.join(self.tmp, "isapid.ini")
            with open(self.config_path, "w") as f:
                f.write(self.subst(self.config_text, port))
            cmd += ["--config", self.config_path]
        if self.base_args:
            cmd += ["--listen", "127.0.0.1:%d" % port, "--root", self.root]
            if self.scripts_dir is not None:
                cmd += ["--scripts", "%s=%s" % (self.scripts_prefix, self.scripts_dir)]
            cmd += ["--threads", str(self.threads), "--workers", self.workers,
                    "--completion-workers", self.completion_workers]
            if self.access_log:
                cmd += ["--access-log", self.access_log]
        cmd += [self.subst(a, port) for a in self.args]
        return cmd

    def subst(self, text, port=None):
        text = text.replace("{root}", self.root).replace("{tmp}", self.tmp)
        text = text.replace("{scripts}", self.scripts_dir or "")
        if port is not None:
            text = text.replace("{port}", str(port))
        return text

    def start(self):
        last_err = None
        for _attempt in range(3):     # a port picked free may be taken by a parallel test
            self.port = free_port()
            self.cmd = self.command(self.port)
            env = dict(os.environ)
            env.update({k: self.subst(v, self.port) for k, v in self.env.items()})
            self._stderr = open(self.stderr_path, "wb")
            self._stdout = open(self.stdout_path, "wb")
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                         stderr=self._stderr, env=env, cwd=self.tmp)
            self.master_pid = self.proc.pid
            try:
                self._wait_listening()
                return
            except AssertionError as e:
                last_err = e
                if self.proc.poll() is not None and "in use" in self.stderr().lower():
                    continue
                self._kill()
                raise
        raise last_err

    def _wait_listening(self):
        deadline = time.monotonic() + START_DEADLINE
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("isapid exited with %d during start-up: %s\nstderr:\n%s"
                                     % (rc, " ".join(self.cmd), self.stderr()))
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                s.close()
                # The master listens before its workers run: started means the line it (or the
                # single process) logs once every worker is ready, wherever the log goes; only
                # when info lines are off, a serving process whose event loops run (a worker
                # may have its loops before it is ready: killed then, it is not replaced).
                if self._listening_logged():
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("isapid did not accept connections on port %d within %.0fs\nstderr:\n%s"
                                     % (self.port, START_DEADLINE, self.stderr()))
            time.sleep(0.01)

    def _listening_logged(self):
        """True once the "listening on" line is logged (standard error, or --error-log FILE);
        with --log-level warn or error, which drop it, once the event loops run."""
        cmd = self.cmd or []
        opt = lambda name: next((cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i] == name), None)
        if opt("--log-level") in ("warn", "error"):
            return self._loops_running()
        log = opt("--error-log")
        if log in (None, "-"):
            return LISTENING_LINE in self.stderr()
        try:
            with open(log, errors="replace") as f:
                return LISTENING_LINE in f.read()
        except OSError:
            return False

    # ---- tear-down ----------------------------------------------------------------------
    def __exit__(self, exc_type, exc, tb):
        try:
            if self.proc is not None and not self.stopped:
                rc = self.stop()
                if exc_type is None and self.expect_exit is not None and rc != self.expect_exit:
                    raise AssertionError("isapid exited with %r, expected %r\nstderr:\n%s"
                                         % (rc, self.expect_exit, self.stderr()[-8000:]))
            if exc_type is None:
                self.assert_no_sanitizer_reports()
            elif not issubclass(exc_type, unittest.SkipTest):
                # The test failed with the server up: its log says what the server saw (a
                # worker's exit, a sanitizer's report), which a flaky failure in CI needs.
                sys.stderr.write("\n---- isapid's standard error (the test failed) ----\n%s\n----\n"
                                 % self.stderr()[-8000:])
        finally:
            self._cleanup_tmp()
        return False

    def _cleanup_tmp(self):
        for f in ("_stderr", "_stdout"):
            h = getattr(self, f, None)
            if h is not None:
                h.close()
        if self.tmp and os.environ.get("ISAPID_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- processes --------------------------------------------------------------------
    def _loops_running(self):
        """True when the server or one of its worker processes has its event-loop threads."""
        return any(self._has_loops(pid) for pid in [self.master_pid] + self._children())

    @staticmethod
    def _has_loops(pid):
        try:
            for task in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/comm" % (pid, task)) as f:
                    if f.read().startswith("isapid-loop"):
                        return True
        except OSError:
            pass
        return False

    def _children(self):
        pids = set()
        try:
            for task in os.listdir("/proc/%d/task" % self.master_pid):
                with open("/proc/%d/task/%s/children" % (self.master_pid, task)) as f:
                    pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
        return sorted(pids)

    def single_process(self):
        """True when the server runs without master (--processes 0): the process started has
        event loops of its own (a master has none)."""
        return self._has_loops(self.master_pid)

    def worker_pids(self):
        """The master's worker processes now (sorted), from /proc/MASTER/task/*/children; with
        --processes 0, the server itself."""
        if self.single_process():
            return [self.master_pid]
        return self._children()

    @property
    def pid(self):
        """The process that serves: the one worker of the master (--processes 1, the default),
        or the server itself with --processes 0. The fd, thread and memory checks look at it."""
        pids = wait_for(self.worker_pids, 5, 0.01, "a worker process of master %d" % self.master_pid)
        if len(pids) != 1:
            raise AssertionError("srv.pid with %d worker processes %r: use worker_pids()" % (len(pids), pids))
        return pids[0]

    def signal(self, sig=_signal.SIGTERM):
        """Sends sig to the master (what an operator signals); SIGSTOP and SIGCONT, which freeze
        the serving, go to the workers."""
        if sig in (_signal.SIGSTOP, _signal.SIGCONT):
            for pid in self.worker_pids():
                os.kill(pid, sig)
            return
        self.proc.send_signal(sig)

    def stop(self, sig=_signal.SIGTERM, timeout=STOP_DEADLINE):
        """Send sig, wait for exit (SIGKILL after timeout, then fail). Returns the exit code."""
        if self.stopped:
            return self.proc.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("isapid did not exit within %.0fs of signal %d; killed\nstderr:\n%s"
                                 % (timeout, sig, self.stderr()[-8000:]))

    def wait_exit(self, timeout):
        self.stopped = True
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("isapid did not exit within %.1fs; killed\nstderr:\n%s"
                                 % (timeout, self.stderr()[-8000:]))

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.stopped = True

    # ---- observation --------------------------------------------------------------------
    def stderr(self):
        return read_text(self.stderr_path)

    def stdout(self):
        return read_text(self.stdout_path)

    def access_lines(self):
        return read_lines(self.access_log)

    def wait_access_line(self, pattern, timeout=5.0):
        """Poll the access log for a line matching the regex; return the line."""
        rx = re.compile(pattern)

        def find():
            for line in self.access_lines():
                if rx.search(line):
                    return line
            return None
        return wait_for(find, timeout, message="access log line matching %r (log: %r)"
                        % (pattern, self.access_lines()[-5:]))

    def wait_stderr(self, pattern, timeout=5.0):
        rx = re.compile(pattern, re.I | re.M)
        return wait_for(lambda: rx.search(self.stderr()), timeout,
                        message="stderr matching %r (stderr: %r)" % (pattern, self.stderr()[-2000:]))

    def assert_no_sanitizer_reports(self):
        err = self.stderr()
        for p in SANITIZER_PATTERNS:
            if self.allow_leaks and p == "ERROR: LeakSanitizer":
                continue
            if p in err:
                raise AssertionError("sanitizer report in isapid stderr:\n" + err[-8000:])

    def fds(self):
        return fd_count(self.pid)

    def rss_kb(self):
        return rss_kb(self.pid)

    def settled_fds(self, samples=6, timeout=10.0):
        """The fd count once it has stayed the same for `samples` polls 50 ms apart (connections
        from earlier requests, including the start-up probe, have gone)."""
        hist = []

        def stable():
            hist.append(self.fds())
            return hist[-1] if len(hist) >= samples and len(set(hist[-samples:])) == 1 else None
        return wait_for(stable, timeout, 0.05, "the server's fd count to settle")

    def alive(self):
        return self.proc.poll() is None

    # ---- clients ------------------------------------------------------------------------
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def conn(self, timeout=DEFAULT_TIMEOUT):
        return RawConn(self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=DEFAULT_TIMEOUT):
        return request(self.port, method, path, headers, body, timeout)

    def get(self, path, headers=None, timeout=DEFAULT_TIMEOUT):
        return request(self.port, "GET", path, headers, None, timeout)

    def raw(self, data, method="GET", timeout=DEFAULT_TIMEOUT):
        """Send raw bytes on a new connection; read one response; return (response, conn)."""
        c = self.conn(timeout)
        c.send(data)
        return c.read_response(method=method), c


# ---- event files, process limits, sanitizer builds ---------------------------------------
def parse_event_line(line):
    """One line of a fixture's event file: space-separated key=value pairs → dict."""
    out = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


class EventFile:
    """A file fixtures append event lines to (one `key=value ...` line per event), e.g. the path
    given to the async fixture in ASYNC_EVENTS. Tests poll it with wait()."""

    def __init__(self, path):
        self.path = path

    def all(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        # a line being appended right now has no newline yet: ignore it
        return [parse_event_line(l) for l in data.split("\n")[:-1] if l.strip()]

    def find(self, **match):
        """Events whose fields equal every given value (values compared as strings)."""
        want = {k: str(v) for k, v in match.items()}
        return [e for e in self.all() if all(e.get(k) == v for k, v in want.items())]

    def wait(self, timeout=10.0, count=1, **match):
        """Poll until at least `count` events match; return the matching events."""
        return wait_for(lambda: (lambda evs: evs if len(evs) >= count else None)(self.find(**match)),
                        timeout, 0.01, "%d event(s) matching %r in %s (last lines: %r)"
                        % (count, match, self.path, self.all()[-5:]))


def proc_limit(pid, name="Max open files"):
    """(soft, hard) of a limit in /proc/PID/limits; None for unlimited."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith(name):
                parts = line[len(name):].split()
                conv = [None if p == "unlimited" else int(p) for p in parts[:2]]
                return conv[0], conv[1]
    raise AssertionError("no %r in /proc/%d/limits" % (name, pid))


def raise_nofile(want=None):
    """Raise this process's RLIMIT_NOFILE soft limit to `want` (default: the hard limit);
    returns the new (soft, hard)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if want is None else (min(want, hard) if hard != resource.RLIM_INFINITY else want)
    if target != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft < target):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def sanitizer_env_no_segv_handler(abort=True):
    """Sanitizer options that leave SIGSEGV (and, with abort, SIGABRT) to the server's own
    handler, so a sanitizer build dies of the signal exactly as a plain build does (instead of
    printing a report and exiting with a code): for tests of crashing extensions and filters."""
    env = {}
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        old = os.environ.get(var, "").strip()
        env[var] = (old + ":" if old else "") + ("handle_segv=0:handle_abort=0" if abort else "handle_segv=0")
    return env


def sanitizer_of_binary(path=None):
    """'address', 'thread' or None: the sanitizer the server binary was built with."""
    try:
        with open(path or binary(), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"__tsan_init" in data:
        return "thread"
    if b"__asan_init" in data:
        return "address"
    return None


# Exit status of a test file none of whose tests ran: every one skipped (a missing tool, a low
# limit). tests/CMakeLists.txt gives it to ctest as SKIP_RETURN_CODE, so the file shows as
# skipped there instead of passed.
SKIPPED_EXIT_CODE = 77


def main():
    """unittest.main with a verbosity that shows each test. Exits 1 on a failure or error,
    SKIPPED_EXIT_CODE when every test was skipped (or a setUpClass skipped the class), else 0."""
    import sys
    program = unittest.main(verbosity=2, exit=False)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    # Whole tests skipped (a subtest's skip leaves its test run); a class skipped in setUpClass
    # is one skip entry that is no test, and its tests are not counted as run.
    skipped_tests = [t for t, _ in result.skipped
                     if isinstance(t, unittest.TestCase) and not isinstance(t, unittest.case._SubTest)]
    if result.skipped and len(skipped_tests) == result.testsRun:
        print("every test in this file was skipped", file=sys.stderr)
        sys.exit(SKIPPED_EXIT_CODE)
    sys.exit(0)
