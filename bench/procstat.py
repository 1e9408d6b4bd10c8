"""The server processes as bench/bench.py reads them from /proc: CPU time, RSS, threads and
their roles, per-thread run time, per-core time split, and each process's established TCP
connections on a port."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU time of the processes (all their threads, dead ones included)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLK_TCK


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def rss_kib(pids):
    return sum(status_field(pid, "VmRSS") for pid in pids)


def threads(pid):
    return status_field(pid, "Threads")


def thread_roles(pid):
    """'NAME×COUNT, ...' of the process's threads by name (isapid names them by role)."""
    counts = {}
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    name = f.read().strip()
            except OSError:
                continue
            counts[name] = counts.get(name, 0) + 1
    except OSError:
        return ""
    return ", ".join("%s×%d" % (n, c) for n, c in sorted(counts.items()))


def role_runtime(pid):
    """{thread name: [CPU ns, timeslices]} of the process's live threads
    (/proc/PID/task/TID/schedstat: nanoseconds, where /proc/.../stat has 10 ms ticks, and the
    number of times each ran: its wake-ups and preemptions); {} when unreadable."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns, _, slices = (int(x) for x in f.read().split()[:3])
        except (OSError, ValueError):
            continue
        v = out.setdefault(name, [0, 0])
        v[0] += ns
        v[1] += slices
    return out


def cpu_jiffies(cpus):
    """{cpu: (process time, interrupt time, total)} from /proc/stat, in clock ticks. Process
    time is user + nice + system + steal; interrupt time (irq + softirq) is mostly the loopback
    traffic itself, charged to no process."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            p = line.split()
            if p[0].startswith("cpu") and p[0][3:].isdigit() and int(p[0][3:]) in cpus:
                v = [int(x) for x in p[1:9]]  # user nice system idle iowait irq softirq steal
                out[int(p[0][3:])] = (v[0] + v[1] + v[2] + v[7], v[5] + v[6], sum(v))
    return out


def core_split(before, after, cpu):
    """(process fraction, interrupt fraction) of the core over the interval, or None."""
    if cpu not in before or cpu not in after:
        return None
    d = [y - x for x, y in zip(before[cpu], after[cpu])]
    return (d[0] / d[2], d[1] / d[2]) if d[2] else None


def established_per_pid(pids, port):
    """{pid: established TCP connections on local port `port` among the process's descriptors}
    (/proc/PID/fd against /proc/net/tcp{,6}); a process gone counts 0."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "01" and int(p[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(p[9])
        except OSError:
            pass
    out = {}
    for pid in pids:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    n += 1
        except OSError:
            pass
        out[pid] = n
    return out
