#!/usr/bin/env python3
"""Load clients and measurements for bench/run.sh (python3 standard library only).

Every measuring subcommand prints one JSON object on stdout: the --tag KEY=VALUE pairs it was
given plus what it measured. run.sh appends them to the run's results.jsonl, which
bench/report.py turns into bench/RESULTS.md.

    wrk       run a wrk command line, parse its output, add the server's CPU time (and, with
              --workers, the connections and CPU share of each worker process)
    fetch     GET a large response COUNT times over one keep-alive connection (MB/s)
    upload    POST a large body COUNT times over one keep-alive connection (MB/s)
    requests  exactly COUNT small GETs over CONNS keep-alive connections (for strace/callgrind)
    syscalls  turn an `strace -c` summary into system calls per request
    idle      open CONNS keep-alive connections, one request each; server RSS per connection
    longpoll  park CONNS long-poll requests, measure, notify them all, check every answer
    ports     print N free loopback TCP ports

Every network operation has a time-out and every loop a count: nothing here runs unbounded.
"""
import argparse
import json
import os
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time

from procstat import (core_split, cpu_jiffies, cpu_seconds, established_per_pid, role_runtime,
                      rss_kib, thread_roles, threads)

IO_TIMEOUT = 30.0  # seconds, any single socket operation


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client: Content-Length, chunked and close-delimited bodies.

class HttpError(Exception):
    pass


class Conn:
    def __init__(self, host, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = host
        self.port = port
        self.buf = bytearray()
        self.scratch = None  # large receive buffer for bodies that are only counted

    def close(self):
        self.sock.close()

    def send_request(self, method, path, body_len=None, extra=""):
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}"
        if body_len is not None:
            head += f"Content-Length: {body_len}\r\n"
        self.sock.sendall((head + "\r\n").encode())

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise HttpError("connection closed by the server")
        self.buf += data

    def read_head(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self.buf) > 65536:
                raise HttpError("response head too large")
            self._fill()
        lines = bytes(self.buf[:i]).decode("latin-1").split("\r\n")
        del self.buf[:i + 4]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HttpError(f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(parts[1]), headers

    def _read_exact(self, n, keep):
        """Consume exactly n body bytes; return them if keep, else only count them."""
        out = bytearray() if keep else None
        take = min(n, len(self.buf))
        if take:
            if keep:
                out += self.buf[:take]
            del self.buf[:take]
            n -= take
        if n and keep:
            while n:
                data = self.sock.recv(min(n, 1 << 20))
                if not data:
                    raise HttpError("connection closed inside a body")
                out += data
                n -= len(data)
        elif n:
            if self.scratch is None:
                self.scratch = memoryview(bytearray(1 << 20))
            while n:
                got = self.sock.recv_into(self.scratch, min(n, len(self.scratch)))
                if got == 0:
                    raise HttpError("connection closed inside a body")
                n -= got
        return out

    def _read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            self._fill()

    def read_response(self, keep_body=True):
        """Returns (status, headers, body or None, body length)."""
        status, headers = self.read_head()
        body = bytearray() if keep_body else None
        size = 0
        if status in (204, 304) or 100 <= status < 200:
            return status, headers, body, 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                n = int(self._read_line().split(b";")[0], 16)
                if n == 0:
                    while self._read_line():  # trailers, then the empty line
                        pass
                    break
                part = self._read_exact(n, keep_body)
                if keep_body:
                    body += part
                size += n
                if self._read_line() != b"":
                    raise HttpError("bad chunk end")
        elif "content-length" in headers:
            size = int(headers["content-length"])
            part = self._read_exact(size, keep_body)
            if keep_body:
                body = part
        else:  # delimited by the close
            while True:
                try:
                    self._fill()
                except HttpError:
                    break
            size = len(self.buf)
            if keep_body:
                body = bytearray(self.buf)
            self.buf.clear()
        return status, headers, body, size


def parse_tags(tags):
    out = {}
    for t in tags or []:
        k, _, v = t.partition("=")
        out[k] = int(v) if v.isdigit() else v
    return out


def emit(tags, **values):
    rec = dict(tags)
    rec.update(values)
    print(json.dumps(rec), flush=True)


def pid_list(text):
    return [int(p) for p in text.split(",") if p]


# ---------------------------------------------------------------------------------------------
# wrk

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNIT[m.group(2)]


def parse_wrk(out):
    rec = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rec["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rec["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        rec["p" + pct + "_ms"] = wrk_ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rec["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rec["non2xx"] = int(m.group(1)) if m else 0
    return rec


def run_sampling_workers(cmd, timeout, workers, port, after=1.0):
    """Runs cmd (wrk) and counts the workers' connections once, `after` seconds in: wrk opens
    its connections at the start and keeps them, so one look is the round's spread (one look
    only, to take nothing from the cores being measured)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    conns = {w: 0 for w in workers}
    try:
        p.wait(timeout=after)
    except subprocess.TimeoutExpired:
        conns = established_per_pid(workers, port)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return subprocess.CompletedProcess(cmd, p.returncode, out, err), conns


def cmd_wrk(a):
    pids = pid_list(a.pids)
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    cpus = {a.server_cpu, a.client_cpu} - {None}
    workers = pid_list(a.workers or "")
    w0 = [cpu_seconds([w]) for w in workers]
    r0 = role_runtime(a.thread_pid) if a.thread_pid else {}
    j0, u0 = cpu_jiffies(cpus), resource.getrusage(resource.RUSAGE_CHILDREN)
    c0, t0 = cpu_seconds(pids), time.monotonic()
    if workers:
        port = int(re.search(r"https?://[^/:]+:(\d+)", cmd[-1]).group(1))
        p, conns = run_sampling_workers(cmd, a.timeout, workers, port)
    else:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    c1, t1 = cpu_seconds(pids), time.monotonic()
    j1, u1 = cpu_jiffies(cpus), resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"wrk failed with status {p.returncode}")
    rec = parse_wrk(p.stdout)
    if rec["requests"] == 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("wrk completed no request")
    cpu = c1 - c0
    rec["cpu_us_per_req"] = cpu * 1e6 / rec["requests"]
    rec["cpu_util"] = cpu / (t1 - t0)
    # What else ran on the two cores during the round (other processes of the machine): the
    # core's busy fraction less the server's own CPU (server core) or wrk's (client core).
    split = core_split(j0, j1, a.server_cpu)
    if split is not None:
        rec["other_server_core"] = max(0.0, split[0] - rec["cpu_util"])
        rec["irq_server_core"] = split[1]
    split = core_split(j0, j1, a.client_cpu)
    if split is not None:
        wrk_cpu = (u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime)
        rec["client_util"] = wrk_cpu / (t1 - t0)
        rec["other_client_core"] = max(0.0, split[0] - rec["client_util"])
        rec["irq_client_core"] = split[1]
    if workers:
        # How the connections and the work spread over the worker processes: each worker's
        # connections (the middle sample) and share of the workers' CPU, busiest first.
        wcpu = [cpu_seconds([w]) - x for w, x in zip(workers, w0)]
        total = sum(wcpu)
        rec["worker_conns"] = sorted(conns.values(), reverse=True)
        rec["worker_cpu_share"] = sorted((c / total if total else 0.0 for c in wcpu),
                                         reverse=True)
    if a.thread_pid:
        rec["threads"] = threads(a.thread_pid)
        rec["thread_roles"] = thread_roles(a.thread_pid)
        # CPU time by thread role over the round (threads alive at both ends): what the
        # hand-off watchdog's ticks cost beside the loop, for instance.
        r1 = role_runtime(a.thread_pid)
        d = {k: (r1[k][0] - r0[k][0], r1[k][1] - r0[k][1]) for k in r1
             if k in r0 and r1[k][0] > r0[k][0]}
        total = sum(v[0] for v in d.values())
        if total:
            rec["role_cpu_share"] = {k: v[0] / total for k, v in sorted(d.items())}
            rec["role_runs_per_s"] = {k: v[1] / (t1 - t0) for k, v in sorted(d.items())}
    if a.raw:
        with open(a.raw, "a") as f:
            f.write(" ".join(cmd) + "\n" + p.stdout + p.stderr + "\n")
    emit(parse_tags(a.tag), **rec)


# ---------------------------------------------------------------------------------------------
# Large transfers

def transfer_record(times, sizes, cpu, count):
    med = statistics.median(times)
    mb = statistics.median(sizes) / 1e6
    return dict(count=count, bytes=int(statistics.median(sizes)), median_s=med,
                mb_per_s=mb / med, best_mb_per_s=mb / min(times), cpu_ms_per_op=cpu * 1e3 / count)


def cmd_fetch(a):
    pids = pid_list(a.pids)
    c = Conn(a.host, a.port)
    times, sizes = [], []
    c0 = cpu_seconds(pids)
    for _ in range(a.count):
        t = time.perf_counter()
        c.send_request("GET", a.path)
        status, _, _, size = c.read_response(keep_body=False)
        times.append(time.perf_counter() - t)
        if status != 200 or size < a.min_bytes:
            raise SystemExit(f"fetch {a.path}: status {status}, {size} bytes")
        sizes.append(size)
    cpu = cpu_seconds(pids) - c0
    c.close()
    emit(parse_tags(a.tag), **transfer_record(times, sizes, cpu, a.count))


def cmd_fetch_alt(a):
    """cmd_fetch against several servers at once, one fetch each in turn (the order rotating
    every round), so that the machine's drift from second to second hits all of them alike;
    one record per server, tagged server=NAME."""
    targets = []
    for t in a.target:
        name, port, pids, path = t.split(",", 3)
        targets.append(dict(name=name, conn=Conn(a.host, int(port)), pids=pid_list(pids.replace("+", ",")),
                            path=path, times=[], sizes=[], cpu=0.0))
    for i in range(a.count):
        for t in targets[i % len(targets):] + targets[:i % len(targets)]:
            c0 = cpu_seconds(t["pids"])
            start = time.perf_counter()
            t["conn"].send_request("GET", t["path"])
            status, _, _, size = t["conn"].read_response(keep_body=False)
            t["times"].append(time.perf_counter() - start)
            t["cpu"] += cpu_seconds(t["pids"]) - c0
            if status != 200 or size < a.min_bytes:
                raise SystemExit(f"fetch {t['path']}: status {status}, {size} bytes")
            t["sizes"].append(size)
    for t in targets:
        t["conn"].close()
        emit(dict(parse_tags(a.tag), server=t["name"]),
             **transfer_record(t["times"], t["sizes"], t["cpu"], a.count))


def cmd_upload(a):
    pids = pid_list(a.pids)
    body = memoryview(os.urandom(1 << 20) * (a.size >> 20))
    c = Conn(a.host, a.port)
    times = []
    c0 = cpu_seconds(pids)
    for _ in range(a.count):
        t = time.perf_counter()
        c.send_request("POST", a.path, body_len=len(body),
                       extra="Content-Type: application/octet-stream\r\n")
        c.sock.sendall(body)
        status, _, text, _ = c.read_response(keep_body=True)
        times.append(time.perf_counter() - t)
        if status != 200 or (a.expect and a.expect.encode() not in text):
            raise SystemExit(f"upload {a.path}: status {status}, answer {bytes(text[:200])!r}")
    cpu = cpu_seconds(pids) - c0
    c.close()
    emit(parse_tags(a.tag), **transfer_record(times, [len(body)] * a.count, cpu, a.count))


# ---------------------------------------------------------------------------------------------
# Exactly COUNT small requests over CONNS keep-alive connections (responses with Content-Length)

def cmd_requests(a):
    raise_nofile()
    deadline = time.monotonic() + a.timeout
    req = f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(min(a.conns, a.count)):
        s = socket.create_connection((a.host, a.port), timeout=IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        st = {"sock": s, "buf": bytearray(), "out": 0}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    sent = done = 0

    def send_more(st):
        # --pipeline N: N requests in one write, the next write once all N are answered.
        nonlocal sent
        k = min(a.pipeline, a.count - sent)
        if k > 0:
            st["sock"].sendall(req * k)
            st["out"] += k
            sent += k

    for st in conns:
        send_more(st)
    while done < a.count:
        if time.monotonic() > deadline:
            raise SystemExit(f"requests: {done} of {a.count} answered within {a.timeout}s")
        for key, _ in sel.select(timeout=1.0):
            st = key.data
            data = st["sock"].recv(65536)
            if not data:
                raise SystemExit("requests: connection closed by the server")
            buf = st["buf"]
            buf += data
            while True:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    break
                m = re.search(rb"\r\ncontent-length:\s*(\d+)", bytes(buf[:i]), re.I)
                if not m:
                    raise SystemExit("requests: response without Content-Length")
                end = i + 4 + int(m.group(1))
                if len(buf) < end:
                    break
                if not buf.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"requests: {bytes(buf[:40])!r}")
                del buf[:end]
                done += 1
                st["out"] -= 1
                if st["out"] == 0:
                    send_more(st)
    for st in conns:
        st["sock"].close()
    print(json.dumps({"requests": done}), flush=True)


# ---------------------------------------------------------------------------------------------
# Exactly COUNT `Connection: close` requests, CONNS at a time: each on a new connection that the
# server closes after its answer (the client reads to EOF).

def cmd_requests_close(a):
    raise_nofile()
    deadline = time.monotonic() + a.timeout
    req = f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\nConnection: close\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    started = done = 0

    def start():
        nonlocal started
        s = socket.create_connection((a.host, a.port), timeout=IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(req)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        started += 1

    for _ in range(min(a.conns, a.count)):
        start()
    while done < a.count:
        if time.monotonic() > deadline:
            raise SystemExit(f"requests-close: {done} of {a.count} answered within {a.timeout}s")
        for key, _ in sel.select(timeout=1.0):
            data = key.fileobj.recv(65536)
            if data:
                key.data.extend(data)
                continue
            if not key.data.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"requests-close: {bytes(key.data[:40])!r}")
            sel.unregister(key.fileobj)
            key.fileobj.close()
            done += 1
            if started < a.count:
                start()
    print(json.dumps({"requests": done}), flush=True)


def cmd_syscalls(a):
    """Parse `strace -c` output: system calls per request, total and by name."""
    rows = {}
    total = 0
    with open(a.file) as f:
        for line in f:
            p = line.split()
            if len(p) < 5 or not re.fullmatch(r"[\d.]+", p[0]) or not p[3].isdigit():
                continue
            name = p[-1]
            if name == "total":
                total = int(p[3])
            else:
                rows[name] = int(p[3])
    if not total:
        total = sum(rows.values())
    emit(parse_tags(a.tag), requests=a.requests, total=total,
         per_request=total / a.requests,
         by_name={k: v / a.requests for k, v in sorted(rows.items(), key=lambda kv: -kv[1])})


# ---------------------------------------------------------------------------------------------
# Idle keep-alive connections and parked long-poll requests

def open_with_request(host, port, path, n, deadline):
    """n connections, each with one request sent (not yet answered)."""
    conns = []
    for i in range(n):
        if time.monotonic() > deadline:
            raise SystemExit(f"opened only {i} of {n} connections in time")
        c = Conn(host, port)
        c.send_request("GET", path)
        conns.append(c)
    return conns


def count_closed(conns):
    """Connections the server has closed (readable with EOF); nothing else should be readable."""
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ, c)
    closed = 0
    for key, _ in sel.select(timeout=0.2):
        try:
            if key.data.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                closed += 1
        except OSError:
            closed += 1
    sel.close()
    return closed


def cmd_idle(a):
    raise_nofile()
    pids = pid_list(a.pids)
    deadline = time.monotonic() + a.timeout
    time.sleep(a.settle)
    rss0 = rss_kib(pids)
    conns = []
    for i in range(a.conns):
        if time.monotonic() > deadline:
            raise SystemExit(f"idle: opened only {i} of {a.conns} connections in time")
        c = Conn(a.host, a.port)
        c.send_request("GET", a.path)
        status, _, _, _ = c.read_response()
        if status != 200:
            raise SystemExit(f"idle: status {status}")
        conns.append(c)
    time.sleep(a.settle)
    rss1 = rss_kib(pids)
    rec = dict(conns=a.conns, rss0_kib=rss0, rss1_kib=rss1,
               bytes_per_conn=(rss1 - rss0) * 1024 / a.conns, closed=count_closed(conns))
    if a.thread_pid:
        rec["threads"] = threads(a.thread_pid)
    for c in conns:
        c.close()
    emit(parse_tags(a.tag), **rec)


def simple_get(host, port, path):
    c = Conn(host, port)
    c.send_request("GET", path)
    status, _, body, _ = c.read_response()
    c.close()
    return status, bytes(body).decode("latin-1")


def cmd_longpoll(a):
    raise_nofile()
    pid = a.pid
    deadline = time.monotonic() + a.timeout
    ident = f"bench{os.getpid()}"
    simple_get(a.host, a.port, f"{a.base}?count")  # the extension loaded before measuring
    time.sleep(a.settle)
    rss0, thr0 = rss_kib([pid]), threads(pid)
    t = time.monotonic()
    conns = open_with_request(a.host, a.port,
                              f"{a.base}?wait={ident}&timeout={a.wait_ms}", a.conns, deadline)
    parked = 0
    while parked < a.conns:
        if time.monotonic() > deadline:
            raise SystemExit(f"longpoll: only {parked} of {a.conns} parked in time")
        _, text = simple_get(a.host, a.port, f"{a.base}?count")
        m = re.search(r"parked=(\d+)", text)
        parked = int(m.group(1)) if m else 0
        if parked < a.conns:
            time.sleep(0.1)
    park_s = time.monotonic() - t
    time.sleep(a.settle)
    rss1, thr1 = rss_kib([pid]), threads(pid)
    closed_early = count_closed(conns)
    t = time.monotonic()
    _, text = simple_get(a.host, a.port, f"{a.base}?notify={ident}&msg=released")
    m = re.search(r"notified=(\d+)", text)
    notified = int(m.group(1)) if m else 0
    ok = 0
    for c in conns:
        if time.monotonic() > deadline:
            break
        try:
            status, _, body, _ = c.read_response()
        except (OSError, HttpError):
            continue
        if status == 200 and bytes(body) == b"released\n":
            ok += 1
    release_s = time.monotonic() - t
    rss2, thr2 = rss_kib([pid]), threads(pid)
    for c in conns:
        c.close()
    emit(parse_tags(a.tag), conns=a.conns, parked=parked, park_s=park_s,
         rss0_kib=rss0, rss1_kib=rss1, rss2_kib=rss2,
         bytes_per_session=(rss1 - rss0) * 1024 / a.conns,
         threads_idle=thr0, threads_parked=thr1, threads_after=thr2,
         closed_early=closed_early, notified=notified, answered_ok=ok, release_s=release_s)


def cmd_ports(a):
    socks, ports = [], []
    for _ in range(a.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(map(str, ports)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd_name", required=True)

    def add(name, fn, net=True):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--tag", action="append", help="KEY=VALUE copied into the record")
        if net:
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--pids", default="", help="server PIDs to measure, comma-separated")
        return p

    p = add("wrk", cmd_wrk, net=False)
    p.add_argument("--pids", required=True)
    p.add_argument("--thread-pid", type=int)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--raw", help="append wrk's own output to this file")
    p.add_argument("--server-cpu", type=int, help="the core the server is pinned to")
    p.add_argument("--client-cpu", type=int, help="the core wrk is pinned to")
    p.add_argument("--workers", help="worker PIDs, comma-separated: record how the connections "
                   "and the CPU spread over them")
    p.add_argument("cmd", nargs=argparse.REMAINDER)

    p = add("fetch", cmd_fetch)
    p.add_argument("--path", required=True)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--min-bytes", type=int, default=1)

    p = add("fetch-alt", cmd_fetch_alt, net=False)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--target", action="append", required=True,
                   help="NAME,PORT,PIDS,PATH (PIDS joined with +)")
    p.add_argument("--count", type=int, default=5, help="fetches per server")
    p.add_argument("--min-bytes", type=int, default=1)

    p = add("upload", cmd_upload)
    p.add_argument("--path", required=True)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--size", type=int, default=64 << 20)
    p.add_argument("--expect", default="")

    p = add("requests", cmd_requests)
    p.add_argument("--path", required=True)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--pipeline", type=int, default=1, help="requests per write")
    p.add_argument("--timeout", type=float, default=300)

    p = add("requests-close", cmd_requests_close)
    p.add_argument("--path", required=True)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--timeout", type=float, default=300)

    p = add("syscalls", cmd_syscalls, net=False)
    p.add_argument("--file", required=True)
    p.add_argument("--requests", type=int, required=True)

    p = add("idle", cmd_idle)
    p.add_argument("--path", required=True)
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--thread-pid", type=int)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=120)

    p = add("longpoll", cmd_longpoll)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--base", default="/examples/longpoll.dll")
    p.add_argument("--conns", type=int, default=10000)
    p.add_argument("--wait-ms", type=int, default=600000)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=180)

    p = sub.add_parser("ports")
    p.set_defaults(fn=cmd_ports)
    p.add_argument("n", type=int)

    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
