#!/usr/bin/env python3
"""Turns the records of a bench/run.sh run (results.jsonl) into bench/RESULTS.md.

    report.py meta --phase start|end             a record of the machine's load now
    report.py tag KEY=VALUE...                    copy stdin's JSON object, adding the tags
    report.py perf --file F --requests N          perf stat -x, output -> instructions/request
    report.py callgrind --file F --requests N
                                                  a callgrind dump -> instructions/request
    report.py write --results R --out O --build B write the report

Standard library only. Medians are over the rounds; a ratio is isapid's value over nginx's.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time


def parse_tags(tags):
    out = {}
    for t in tags or []:
        k, _, v = t.partition("=")
        out[k] = int(v) if v.isdigit() else v
    return out


def emit(rec):
    print(json.dumps(rec), flush=True)


# ---------------------------------------------------------------------------------------------
# Small record makers used by run.sh

def cmd_meta(a):
    with open("/proc/loadavg") as f:
        load = f.read().split()
    emit({"test": "meta", "phase": a.phase, "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
          "loadavg": [float(x) for x in load[:3]], "runnable": load[3]})


def cmd_tag(a):
    rec = json.loads(sys.stdin.read())
    rec.update(parse_tags(a.tags))
    emit(rec)


def cmd_perf(a):
    counts = {}
    with open(a.file) as f:
        for line in f:
            p = line.strip().split(",")
            if len(p) >= 3 and p[0].replace(".", "").isdigit():
                counts[p[2].split(":")[0]] = float(p[0])
    rec = parse_tags(a.tag)
    rec["requests"] = a.requests
    for k, v in counts.items():
        rec[k + "_per_req"] = v / a.requests
    emit(rec)


def callgrind_exclusive(path):
    """Exclusive Ir per (function, object) from an uncompressed callgrind dump
    (--compress-strings=no --compress-pos=no), and the dump's total."""
    total = None
    excl = {}
    ob = fn = ""
    skip_next = False
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")) and total is None:
                total = int(line.split()[1])
            elif line.startswith("ob="):
                ob = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2 and fn:
                    key = (fn, os.path.basename(ob))
                    excl[key] = excl.get(key, 0) + int(parts[1])
    return total or sum(excl.values()), excl


def cmd_callgrind(a):
    total, excl = callgrind_exclusive(a.file)
    top = [[fn, ir / a.requests, ob] for (fn, ob), ir in
           sorted(excl.items(), key=lambda kv: -kv[1])[:a.top]]
    rec = parse_tags(a.tag)
    rec.update(requests=a.requests, instr_per_req=total / a.requests, top=top)
    emit(rec)


# ---------------------------------------------------------------------------------------------
# The report

def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                recs.append(json.loads(line))
    return recs


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(a, b, digits=2):
    if a is None or b in (None, 0):
        return "–"
    return f"{a / b:.{digits}f}"


def pct(v):
    return "–" if v is None else f"{v * 100:.0f}%"


def sh(cmd):
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(build):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    virt = []
    m = re.search(r"Hypervisor vendor:\s*(\S+)", sh("lscpu"))
    if m:
        virt.append(f"{m.group(1)} guest")
    container = sh("systemd-detect-virt --container 2>/dev/null")
    if container and container != "none" and " " not in container:
        virt.append(f"{container} container")
    commit = sh("git describe --always --dirty --abbrev=12") or "unknown"
    dirty = sh("git status --porcelain --untracked-files=no | wc -l")
    untracked = sh("git status --porcelain | grep -c '^??'")
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    cflags = sh(f"grep -E '^CMAKE_BUILD_TYPE|^CMAKE_C_COMPILER:' {build}/CMakeCache.txt")
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores" + (f" ({', '.join(virt)})" if virt else "")),
        ("memory", mem),
        ("kernel", platform.release()),
        ("isapid", f"commit {commit}" + (f" ({dirty} tracked files modified, {untracked} "
                                         "untracked, in the tree measured)"
                                         if commit.endswith("dirty") else "")
         + f"; {build}/, " + ", ".join(l.split("=", 1)[1] for l in cflags.splitlines()
                                       if "BUILD_TYPE" in l) + " build"),
        ("compiler", sh("cc --version | head -1")),
        ("nginx", sh("nginx -v").replace("nginx version: ", "")),
        ("wrk", sh("wrk -v | head -1").split(" Copyright")[0]),
        ("python", platform.python_version()),
        ("strace / valgrind", sh("strace -V | head -1") + " / " + sh("valgrind --version")),
    ]


def by(recs, test):
    out = {}
    for r in recs:
        if r.get("test") == test:
            out.setdefault(r.get("server"), []).append(r)
    return out


def spread(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None]
    if len(vals) < 2:
        return None
    m = statistics.median(vals)
    return (max(vals) - min(vals)) / m if m else None


def procs_spread(recs, tests, P, title):
    """The procs tests' spread over the worker processes (bench.py wrk --workers), and the
    isapid / nginx ratio of each round with the next, which a drift of the machine between the
    first and the last round moves less than it moves the medians."""
    rows = []
    for t in tests:
        g = by(recs, t)
        for s in ("isapid", "nginx"):
            rs = [r for r in g.get(s, []) if r.get("worker_conns")]
            if not rs or len(rs[0]["worker_conns"]) < 2:
                continue  # one worker: nothing spreads
            conns = [r["worker_conns"][0] / max(1, sum(r["worker_conns"])) for r in rs]
            cpu = [r["worker_cpu_share"][0] for r in rs]
            alone = sum(1 for c in conns if c >= 0.9)
            rows.append(f"| {title(t)} | {s} | {len(rs)} | {pct(med(conns))} "
                        f"({pct(min(conns))}–{pct(max(conns))}) | {pct(med(cpu))} "
                        f"({pct(min(cpu))}–{pct(max(cpu))}) | {alone} |")
    paired = []
    for t in tests:
        g = by(recs, t)
        rounds = {}
        for s in ("isapid", "nginx"):
            for r in g.get(s, []):
                rounds.setdefault(r.get("round"), {})[s] = r
        for key, label in (("rps", "requests/s"), ("cpu_us_per_req", "server CPU µs/request")):
            rs = [x["isapid"][key] / x["nginx"][key] for x in rounds.values()
                  if "isapid" in x and "nginx" in x and x["nginx"][key]]
            if len(rs) >= 2:
                paired.append(f"| {title(t)} | {label} | {med(rs):.2f} | "
                              f"{min(rs):.2f}–{max(rs):.2f} |")
    if not rows and not paired:
        return
    P("")
    P("*How the work spread over two worker processes* (each round: wrk's connections per "
      "worker, counted a second into the round, and each worker's share of the workers' CPU "
      "time). Both servers accept from one shared listener (isapid: `EPOLLEXCLUSIVE` and a "
      "rotation of the loops' places in its wait queue; nginx 1.22: `EPOLLEXCLUSIVE`, "
      "`accept_mutex off`), so where wrk's 64 connections land is decided anew each round, by "
      "which worker the scheduler runs while wrk connects. A round where one worker holds "
      "(nearly) all of them is a one-worker round: on two cores shared with wrk it serves more "
      "requests/s than an even spread, where each worker's epoll batches are half as big and "
      "both workers and wrk contend for the cores. The requests/s of these rows therefore "
      "measure the spread and the scheduler as much as the server: read the control "
      "(1 worker), the paired ratios below and server CPU per request.")
    if rows:
        P("")
        P("| test | server | rounds | busiest worker's connections: median (range) "
          "| busiest worker's CPU share: median (range) | rounds with ≥ 90% on one worker |")
        P("|---|---|---:|---|---|---:|")
        for r in rows:
            P(r)
    if paired:
        P("")
        P("| test | isapid / nginx, round by round | median | range |")
        P("|---|---|---:|---|")
        for r in paired:
            P(r)


def write(a):
    recs = load(a.results)
    lines = []
    notes = []
    P = lines.append
    server_cpu = os.environ.get("SERVER_CPU", "1")
    client_cpu = os.environ.get("CLIENT_CPU", "0")
    meta = {r["phase"]: r for r in recs if r.get("test") == "meta"}

    P("# isapid and nginx, side by side")
    P("")
    P("Written by `make bench` (bench/run.sh; bench/README.md says how it measures). Both servers "
      f"ran at the same time, each pinned to CPU {server_cpu} (isapid `--threads 1`, nginx "
      f"`worker_processes 1`); every client (wrk, bench/bench.py) ran on CPU {client_cpu}. "
      "Rounds alternate isapid, nginx, isapid, nginx, ...; the numbers are medians over the "
      "rounds, ranges are min–max. A ratio is isapid / nginx: above 1 means isapid is faster "
      "for throughput, and bigger (worse) for latency, CPU, memory and counts.")
    P("")
    P("## Machine and versions")
    P("")
    P("| | |")
    P("|---|---|")
    for k, v in machine(a.build):
        P(f"| {k} | {v} |")
    if "start" in meta:
        s, e = meta["start"], meta.get("end", {})
        P(f"| run | {s['time']} to {e.get('time', '?')} |")
        P(f"| load average (1/5/15 min) | start {' '.join(map(str, s['loadavg']))}, "
          f"end {' '.join(map(str, e.get('loadavg', [])))} |")
    P(f"| settings | {os.environ.get('BENCH_SETTINGS', '')} |")
    P("")
    if "start" in meta and max(meta["start"]["loadavg"][0],
                               meta.get("end", {}).get("loadavg", [0])[0]) > 2.5:
        notes.append("The machine was busy with other work during the run (load average above "
                     "2.5 on 2 cores): throughput and latency numbers are noisy; the counts "
                     "(system calls, instructions, memory) are not affected.")

    headline = []

    # -- wrk tests ------------------------------------------------------------------------------
    def kind(t):
        m = re.match(r"procs(\d+)-", t)  # run.sh's procs test: N worker processes, unpinned
        if m:
            k, text = kind(t[m.end():])
            n = int(m.group(1))
            return 10 * (3 - n) + k, text + f", {n} worker process{'es' if n > 1 else ''}, unpinned"
        if t == "hello-keepalive-1":
            return 1, "hello, keep-alive, 1 connection"
        n = t.rsplit("-", 1)[-1]
        if t.startswith("hello-keepalive-"):
            return 0, f"hello, keep-alive, {n} connections"
        if t.startswith("hello-close-"):
            return 2, f"hello, `Connection: close`, {n} connections"
        if t.startswith("hello-pipeline16-"):
            return 4, f"hello, 16 pipelined per write, {n} connections"
        if t.startswith("static-4k-pipeline16-"):
            return 5, f"static 4 KiB file, 16 pipelined per write, {n} connections"
        if t.startswith("static-4k-"):
            return 3, f"static 4 KiB file, keep-alive, {n} connections"
        return 6, t

    def title(t):
        return kind(t)[1]

    wrk_tests = sorted({r["test"] for r in recs if "rps" in r}, key=lambda t: kind(t)[0])

    noisy, client_bound, idle_server, interfered, max_threads = [], [], [], [], [0, ""]
    watchdog = []
    if wrk_tests:
        P("## Small requests (wrk --latency, one thread)")
        P("")
        P("hello: examples/hello.c at `/examples/hello.dll` (synchronous: "
          "`HSE_REQ_SEND_RESPONSE_HEADER_EX` + `WriteClient`, run on the event loop's thread, "
          "`--run-extensions loop`) against "
          "nginx `return 200 \"Hello, world!\\n\"` on the same URL. static: a 4 KiB file from the "
          "same directory, sendfile in both.")
        P("")
        if any(t.startswith("procs") for t in wrk_tests):
            P("*N worker processes, unpinned*: separate servers, isapid `--processes N "
              "--threads 1` (a master and N workers sharing the listener) and nginx "
              "`worker_processes N`, servers and wrk unpinned: two workers need both cores, so "
              "the client shares them (no core columns). N = 1 is the control under the same "
              "conditions: what N = 2 adds over it is the cost of the process model. Server "
              "CPU is the master's and the workers'.")
            P("")
        P("| test | server | requests/s | range | p50 ms | p99 ms | server CPU µs/request "
          "| server core: server / net / others | client core: wrk / net / others | errors |")
        P("|---|---|---:|---|---:|---:|---:|---|---|---:|")
        for t in wrk_tests:
            g = by(recs, t)
            row = {}
            for s in ("isapid", "nginx"):
                rs = g.get(s, [])
                if not rs:
                    continue
                rps = [r["rps"] for r in rs]
                row[s] = dict(rps=med(rps), p50=med([r["p50_ms"] for r in rs]),
                              p99=med([r["p99_ms"] for r in rs]),
                              cpu=med([r["cpu_us_per_req"] for r in rs]),
                              util=med([r["cpu_util"] for r in rs]),
                              osrv=med([r.get("other_server_core") for r in rs]),
                              wrk=med([r.get("client_util") for r in rs]),
                              ocli=med([r.get("other_client_core") for r in rs]),
                              isrv=med([r.get("irq_server_core") for r in rs]),
                              icli=med([r.get("irq_client_core") for r in rs]),
                              err=sum(r["socket_errors"] + r["non2xx"] for r in rs))
                x = row[s]
                P(f"| {title(t)} | {s} | {fmt(x['rps'])} | {fmt(min(rps))}–{fmt(max(rps))} "
                  f"| {fmt(x['p50'], 3)} | {fmt(x['p99'], 3)} | {fmt(x['cpu'], 1)} "
                  f"| {pct(x['util'])} / {pct(x['isrv'])} / {pct(x['osrv'])} "
                  f"| {pct(x['wrk'])} / {pct(x['icli'])} / {pct(x['ocli'])} "
                  f"| {x['err']} |")
                for key, core in (("osrv", "server"), ("ocli", "client")):
                    if (x[key] or 0) > 0.10:
                        interfered.append(f"{title(t)} ({s}, {core} core {pct(x[key])})")
                sp = spread(rs, "rps")
                if sp is not None and sp > 0.15:
                    noisy.append(f"{title(t)} ({s}, {sp * 100:.0f}%)")
                if x["err"]:
                    notes.append(f"{title(t)}, {s}: {x['err']} socket errors or non-2xx "
                                 "answers (wrk's own output is in the work directory, "
                                 "BENCH_KEEP=1).")
                if s == "isapid":
                    wd = med([r.get("role_cpu_share", {}).get("isapid-watchdog") for r in rs])
                    runs = med([r.get("role_runs_per_s", {}).get("isapid-watchdog") for r in rs])
                    if wd is not None:
                        watchdog.append(f"{title(t)} {pct(wd)} ({fmt(runs)}/s)")
                    for r in rs:
                        if r.get("threads") and r["threads"] > max_threads[0]:
                            max_threads[0] = r["threads"]
                            max_threads[1] = r.get("thread_roles", "")
                client_full = sum(v or 0 for v in (x["wrk"], x["icli"], x["ocli"]))
                if t.startswith("procs"):
                    pass  # unpinned: no core of its own to be busy or idle
                elif x["util"] < 0.85 and client_full > 0.9:
                    client_bound.append(f"{title(t)} ({s}: server {pct(x['util'])}, "
                                        f"client core {pct(client_full)})")
                elif x["util"] < 0.85:
                    idle_server.append(f"{title(t)} ({s}, {pct(x['util'])})")
            if "isapid" in row and "nginx" in row:
                i, n = row["isapid"], row["nginx"]
                P(f"| | **isapid / nginx** | **{ratio(i['rps'], n['rps'])}** | | "
                  f"{ratio(i['p50'], n['p50'])} | {ratio(i['p99'], n['p99'])} | "
                  f"{ratio(i['cpu'], n['cpu'])} | | | |")
                headline.append((f"{title(t)}: requests/s", fmt(i["rps"]), fmt(n["rps"]),
                                 ratio(i["rps"], n["rps"])))
                headline.append((f"{title(t)}: server CPU µs/request", fmt(i["cpu"], 1),
                                 fmt(n["cpu"], 1), ratio(i["cpu"], n["cpu"])))
                if t.startswith("hello-keepalive-1"):
                    headline.append((f"{title(t)}: p50 latency ms", fmt(i["p50"], 3),
                                     fmt(n["p50"], 3), ratio(i["p50"], n["p50"])))
        if noisy:
            notes.append("Rounds that spread by more than 15% (max−min over median, "
                         "requests/s): " + "; ".join(noisy) + ".")
        if client_bound:
            notes.append("Client-bound rounds (the server's core under 85% busy while the "
                         "client's core was full): " + "; ".join(client_bound) + ". There wrk "
                         "(and the machine's other load on its core), not the server, set "
                         "requests/s; compare server CPU per request instead.")
        if idle_server:
            notes.append("The server's core was under 85% busy, with the client core not full, "
                         "in: " + "; ".join(idle_server) + ": round trips (one connection), "
                         "wake-ups, or a virtual machine whose CPUs the host throttles (idle "
                         "time that nothing in the guest accounts for) set the pace.")
        if interfered:
            notes.append("Other processes of the machine took more than 10% of a benchmark core "
                          "during: " + "; ".join(interfered) + ".")
        if watchdog:
            notes.append("The hand-off watchdog's share of isapid's CPU (its worker process; "
                         "median over rounds, with the times it ran per second: while extension "
                         "calls happen it looks every --handoff-after, or up to four times "
                         "less often while it finds no loop in a call; each look a wake-up "
                         "that nginx, with no such thread, does not pay): " +
                         "; ".join(watchdog) + ".")
        if max_threads[0]:
            roles = f" ({max_threads[1]})" if max_threads[1] else ""
            notes.append(f"isapid had up to {max_threads[0]} threads after a small-request "
                         f"round{roles}: the loop runs the extension calls; the worker pool "
                         "(default 4:64) grows only when work waits for a worker, and hand-off "
                         "helpers appear when a call held the loop past --handoff-after.")
        procs_spread(recs, [t for t in wrk_tests if t.startswith("procs")], P, title)
        P("")
        P("*Server CPU* is the user+system time of the server's processes (all threads; nginx: "
          "master and worker) during a round, over the requests wrk completed. The *core* "
          "columns split each core's time during the round (from /proc/stat): the server's (or "
          "wrk's) own CPU, interrupt and softirq time (*net*: mostly the loopback traffic "
          "itself, charged to no process) and what other processes of the machine took, steal "
          "included. A server share well under 100% with the client core full means wrk, not "
          "the server, set requests/s.")
        P("")

    # -- big files -------------------------------------------------------------------------------
    g = by(recs, "big-file")
    if g:
        P("## 64 MiB file, one keep-alive connection")
        P("")
        P("isapid-transmitfile: examples/transmit.c, `/examples/transmit.dll?file=big.bin&headers=1` "
          "(`HSE_REQ_TRANSMIT_FILE` with `HSE_IO_SEND_HEADERS`, asynchronous; sendfile from the "
          "loop, chunked framing, a 24-byte tail); isapid-static: the same file as a static "
          "file; nginx: static file with sendfile. The client (bench/bench.py fetch-alt) reads "
          "into a 1 MiB buffer and fetches from the three in turn, one fetch each, so that "
          "the machine's drift hits all three alike.")
        P("")
        P("| server | MB/s | range | best MB/s | server CPU ms per fetch |")
        P("|---|---:|---|---:|---:|")
        vals = {}
        for s in ("isapid-transmitfile", "isapid-static", "nginx"):
            rs = g.get(s, [])
            if not rs:
                continue
            mbs = [r["mb_per_s"] for r in rs]
            vals[s] = (med(mbs), med([r["cpu_ms_per_op"] for r in rs]))
            P(f"| {s} | {fmt(vals[s][0])} | {fmt(min(mbs))}–{fmt(max(mbs))} "
              f"| {fmt(max(r['best_mb_per_s'] for r in rs))} | {fmt(vals[s][1], 1)} |")
        if "nginx" in vals:
            for s in ("isapid-transmitfile", "isapid-static"):
                if s in vals:
                    P(f"| **{s} / nginx** | **{ratio(vals[s][0], vals['nginx'][0])}** | | "
                      f"| {ratio(vals[s][1], vals['nginx'][1])} |")
                    headline.append((f"64 MiB file, {s.split('-')[1]}: MB/s",
                                     fmt(vals[s][0]), fmt(vals["nginx"][0]),
                                     ratio(vals[s][0], vals["nginx"][0])))
        P("")
        P("Server CPU per fetch comes from /proc in clock ticks (10 ms): read it as a rough "
          "figure.")
        P("")

    # -- upload ----------------------------------------------------------------------------------
    g = by(recs, "upload")
    fnv = [r for r in recs if r.get("test") == "fnv1a"]
    if g:
        P("## 64 MiB upload, one keep-alive connection")
        P("")
        P("isapid: examples/upload.c, `POST /examples/upload.dll?checksum=none` (asynchronous: "
          "`HSE_REQ_ASYNC_READ_CLIENT` into a 64 KiB buffer, one read per completion, each "
          "completion only counting its bytes), so the row measures the server's cost; "
          "isapid-fnv1a: the same extension without `checksum=none`, each completion hashing "
          "its bytes with FNV-1a (the extension's own work on top). The client sends the body "
          "with one `sendall` from memory and times until the whole answer has arrived.")
        P("")
        P("Peer: **nginx reads the whole body into memory, then answers** "
          "(`client_body_buffer_size 128m`, `client_body_in_single_buffer on`, no temporary "
          "file). Stock nginx has no content handler that reads a body and answers 200 itself "
          "(that takes a third-party module such as echo); the proxy module is the stock way "
          "to make it read a body first, so the location proxies with "
          "`proxy_pass_request_body off` to a `return 200` server on a Unix socket: only the "
          "request head crosses, a few system calls per 64 MiB upload. A `proxy_pass` to "
          "nowhere would answer with an error path instead; `return 200` alone answers before "
          "the body has arrived. That last one is still shown as **nginx-discard**: nginx's "
          "discard path reads and drops the body in 4 KiB reads after answering; it is the "
          "floor of what receiving a body costs, with no buffer to fill.")
        P("")
        P("| server | MB/s | range | server CPU ms per upload |")
        P("|---|---:|---|---:|")
        vals = {}
        for s in ("isapid", "isapid-fnv1a", "nginx", "nginx-discard"):
            rs = g.get(s, [])
            if not rs:
                continue
            mbs = [r["mb_per_s"] for r in rs]
            vals[s] = (med(mbs), med([r["cpu_ms_per_op"] for r in rs]))
            P(f"| {s} | {fmt(vals[s][0])} | {fmt(min(mbs))}–{fmt(max(mbs))} "
              f"| {fmt(vals[s][1], 1)} |")
        if "isapid" in vals and "nginx" in vals:
            P(f"| **isapid / nginx** | **{ratio(vals['isapid'][0], vals['nginx'][0])}** | "
              f"| {ratio(vals['isapid'][1], vals['nginx'][1])} |")
            headline.append(("64 MiB upload: MB/s", fmt(vals["isapid"][0]),
                             fmt(vals["nginx"][0]), ratio(vals["isapid"][0], vals["nginx"][0])))
        P("")
        if fnv and "isapid-fnv1a" in vals:
            h = fnv[-1]["median_ms"]
            P(f"upload.c's checksum alone (bench/fnv1a_cost.c: the same byte-at-a-time FNV-1a "
              f"loop over {fnv[-1]['bytes'] >> 20} MiB, no I/O, on the server's core) takes "
              f"**{h:.1f} ms**: of isapid-fnv1a's {vals['isapid-fnv1a'][1]:.0f} ms CPU per "
              f"upload, about {vals['isapid-fnv1a'][1] - h:.0f} ms is the server's "
              + (f"(isapid, count only: {vals['isapid'][1]:.0f} ms)" if "isapid" in vals else "")
              + ".")
            P("")

    # -- idle connections ------------------------------------------------------------------------
    g = by(recs, "idle")
    if g:
        P("## Idle keep-alive connections")
        P("")
        P("bench/bench.py idle opens the connections one after another, sends one request on "
          "each (hello) and reads the answer, then leaves them open. Memory is the growth of "
          "the server's resident set (VmRSS; nginx: master + worker) over the connection "
          "count; kernel socket memory is not in it, for either server.")
        P("")
        P("| server | connections | RSS before KiB | RSS after KiB | bytes per connection "
          "| closed by the server |")
        P("|---|---:|---:|---:|---:|---:|")
        vals = {}
        for s in ("isapid", "nginx"):
            for r in g.get(s, []):
                vals[s] = r["bytes_per_conn"]
                P(f"| {s} | {fmt(r['conns'])} | {fmt(r['rss0_kib'])} | {fmt(r['rss1_kib'])} "
                  f"| {fmt(r['bytes_per_conn'])} | {r['closed']} |")
        if len(vals) == 2:
            P(f"| **isapid / nginx** | | | | **{ratio(vals['isapid'], vals['nginx'])}** | |")
            headline.append(("idle keep-alive connection: bytes of RSS each",
                             fmt(vals["isapid"]), fmt(vals["nginx"]),
                             ratio(vals["isapid"], vals["nginx"])))
        P("")

    # -- long-poll -------------------------------------------------------------------------------
    lp = [r for r in recs if r.get("test") == "longpoll"]
    if lp:
        r = lp[-1]
        P("## Parked long-poll sessions (isapid only)")
        P("")
        P("examples/longpoll.c: each connection sends `?wait=ID` (the extension returns "
          "`HSE_STATUS_PENDING`; no thread, no I/O outstanding). When `?count` reports them all "
          "parked, the server is measured; then one `?notify=ID&msg=released` answers them from "
          "the extension's own thread, and the client reads every answer.")
        P("")
        P("| | |")
        P("|---|---|")
        P(f"| sessions parked | {fmt(r['parked'])} of {fmt(r['conns'])} "
          f"(in {r['park_s']:.1f} s) |")
        P(f"| RSS idle → parked | {fmt(r['rss0_kib'])} KiB → {fmt(r['rss1_kib'])} KiB: "
          f"**{fmt(r['bytes_per_session'])} bytes per parked session** |")
        P(f"| threads idle → parked → after | {r['threads_idle']} → {r['threads_parked']} → "
          f"{r['threads_after']} |")
        P(f"| connections closed while parked | {r['closed_early']} |")
        P(f"| notified / answered correctly | {fmt(r['notified'])} / {fmt(r['answered_ok'])} |")
        P(f"| notify → every answer read | {r['release_s'] * 1000:.0f} ms |")
        P("")
        headline.append((f"{fmt(r['conns'])} parked long-polls: bytes/session, threads",
                         f"{fmt(r['bytes_per_session'])} B, {r['threads_parked']} threads",
                         "(no peer)", ""))
        if r["answered_ok"] != r["conns"] or r["parked"] != r["conns"]:
            notes.append(f"long-poll: {r['parked']} parked and {r['answered_ok']} answered "
                         f"correctly out of {r['conns']}.")

    # -- system calls ----------------------------------------------------------------------------
    g = by(recs, "syscalls")
    if g:
        P("## System calls per hello request (strace -c)")
        P("")
        n = next(iter(g.values()))[-1]["requests"]
        P(f"`strace -c -f` attached to the server (isapid: every thread; nginx: the worker) "
          f"while bench/bench.py requests sends exactly {n:,} keep-alive hello requests over "
          "the same number of connections as wrk. strace slows the server down, which changes "
          "how many events each `epoll_wait` returns; the per-request calls of the request "
          "path itself do not change.")
        P("")
        i = g.get("isapid", [{}])[-1]
        x = g.get("nginx", [{}])[-1]
        names = list(dict.fromkeys(list(i.get("by_name", {})) + list(x.get("by_name", {}))))
        P("| system call | isapid | nginx |")
        P("|---|---:|---:|")
        for name in names:
            a_, b_ = i.get("by_name", {}).get(name), x.get("by_name", {}).get(name)
            if (a_ or 0) < 0.005 and (b_ or 0) < 0.005:
                continue
            P(f"| {name} | {fmt(a_, 2)} | {fmt(b_, 2)} |")
        P(f"| **total** | **{fmt(i.get('per_request'), 2)}** | **{fmt(x.get('per_request'), 2)}** |")
        P(f"| isapid / nginx | **{ratio(i.get('per_request'), x.get('per_request'))}** | |")
        P("")
        headline.append(("hello: system calls per request", fmt(i.get("per_request"), 2),
                         fmt(x.get("per_request"), 2),
                         ratio(i.get("per_request"), x.get("per_request"))))

    # -- instructions ----------------------------------------------------------------------------
    perf = [r for r in recs if r.get("test") == "perf"]
    g = by(recs, "callgrind")
    P("## Instructions per hello request")
    P("")
    if perf and perf[0].get("supported") is False:
        P("`perf stat -e instructions` is not supported on this machine (no hardware counters "
          "in the guest), so perf's instructions/request is skipped; callgrind counts below.")
    elif perf:
        pi = next((r for r in perf if r.get("server") == "isapid"), {})
        pn = next((r for r in perf if r.get("server") == "nginx"), {})
        P("perf stat (user + kernel), hello, keep-alive:")
        P("")
        P("| | isapid | nginx | isapid / nginx |")
        P("|---|---:|---:|---:|")
        for k in ("instructions_per_req", "cycles_per_req"):
            P(f"| {k.split('_')[0]} per request | {fmt(pi.get(k))} | {fmt(pn.get(k))} "
              f"| {ratio(pi.get(k), pn.get(k))} |")
        headline.append(("hello: instructions per request (perf)",
                         fmt(pi.get("instructions_per_req")), fmt(pn.get("instructions_per_req")),
                         ratio(pi.get("instructions_per_req"), pn.get("instructions_per_req"))))
    P("")
    if g:
        i = g.get("isapid", [{}])[-1]
        x = g.get("nginx", [{}])[-1]
        P(f"callgrind (valgrind --tool=callgrind): user-space instructions only, the same for "
          f"the same binary and inputs whatever else the machine does. Each server ran under "
          f"valgrind on its own port; after 1,000 warm-up requests the counters were zeroed and "
          f"{i.get('requests', x.get('requests', 0)):,} hello requests counted.")
        P("")
        P(f"| | isapid | nginx | isapid / nginx |")
        P("|---|---:|---:|---:|")
        P(f"| instructions per request | **{fmt(i.get('instr_per_req'))}** "
          f"| **{fmt(x.get('instr_per_req'))}** "
          f"| **{ratio(i.get('instr_per_req'), x.get('instr_per_req'))}** |")
        P("")
        headline.append(("hello: user-space instructions per request (callgrind)",
                         fmt(i.get("instr_per_req")), fmt(x.get("instr_per_req")),
                         ratio(i.get("instr_per_req"), x.get("instr_per_req"))))
        gp = by(recs, "callgrind-pipeline16")
        if gp:
            pi, pn = gp.get("isapid", [{}])[-1], gp.get("nginx", [{}])[-1]
            P("The same requests 16 to a write (pipelined, `bench.py requests --pipeline 16`), "
              "counted apart on the same servers:")
            P("")
            P("| | isapid | nginx | isapid / nginx |")
            P("|---|---:|---:|---:|")
            P(f"| instructions per pipelined request | {fmt(pi.get('instr_per_req'))} "
              f"| {fmt(pn.get('instr_per_req'))} "
              f"| {ratio(pi.get('instr_per_req'), pn.get('instr_per_req'))} |")
            P("")
            headline.append(("hello, 16 pipelined per write: user-space instructions per request "
                             "(callgrind)", fmt(pi.get("instr_per_req")),
                             fmt(pn.get("instr_per_req")),
                             ratio(pi.get("instr_per_req"), pn.get("instr_per_req"))))
        P("Debian's nginx binary is stripped: its static functions show as addresses.")
        P("")
        for s, r in (("isapid", i), ("nginx", x)):
            if r.get("top"):
                P(f"Where {s}'s instructions go (exclusive, per request, top {len(r['top'])}):")
                P("")
                P("| function | object | instructions |")
                P("|---|---|---:|")
                for fn, v, obj in r["top"]:
                    P(f"| `{fn}` | {obj} | {fmt(v)} |")
                P("")

    # -- headline and notes, placed after the machine table --------------------------------------
    head = ["## Headline", "", "| measure | isapid | nginx | isapid / nginx |",
            "|---|---:|---:|---:|"]
    for m, i_, n_, r_ in headline:
        head.append(f"| {m} | {i_} | {n_} | **{r_}** |" if r_ else f"| {m} | {i_} | {n_} | |")
    head.append("")
    if notes:
        head += ["### Notes from this run", ""] + [f"- {n}" for n in notes] + [""]
    cut = lines.index("## Machine and versions")
    end = next(k for k in range(cut + 1, len(lines)) if lines[k].startswith("## ")) \
        if any(l.startswith("## ") for l in lines[cut + 1:]) else len(lines)
    lines[end:end] = head

    # bench/HISTORY.md (hand-written): what changed between runs, kept across regenerations.
    history = os.path.join(os.path.dirname(os.path.abspath(__file__)), "HISTORY.md")
    if os.path.exists(history):
        with open(history) as h:
            lines += ["", h.read().rstrip()]

    with open(a.out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("meta")
    p.add_argument("--phase", required=True)
    p.set_defaults(fn=cmd_meta)
    p = sub.add_parser("tag")
    p.add_argument("tags", nargs="*")
    p.set_defaults(fn=cmd_tag)
    p = sub.add_parser("perf")
    p.add_argument("--file", required=True)
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--tag", action="append")
    p.set_defaults(fn=cmd_perf)
    p = sub.add_parser("callgrind")
    p.add_argument("--file", required=True)
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--tag", action="append")
    p.set_defaults(fn=cmd_callgrind)
    p = sub.add_parser("write")
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--build", default="build-bench")
    p.set_defaults(fn=cmd_write)
    a = ap.parse_args()
    a.fn(a)


def cmd_write(a):
    write(a)


if __name__ == "__main__":
    main()
