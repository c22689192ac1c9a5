"""bench/procstat.py -- what the benchmark reads about a server from /proc.

A server under test is a process tree (nginx master + worker, varnishd
manager + child, traffic_server + traffic_crashlog, cascade-edge): every
number here is summed over the tree that hangs from the PID bench/run
started. CPU is utime+stime from /proc/PID/stat (all threads, in clock
ticks); memory is VmRSS, RssAnon and VmHWM from /proc/PID/status and Pss
from /proc/PID/smaps_rollup, in KiB.

Not here: starting or stopping processes (bench/run), load (wrk).
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path):
    try:
        with open(path, "r") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name, or None."""
    s = _read("/proc/%d/stat" % pid)
    if s is None:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return s[s.rindex(")") + 2:].split()


def tree(root):
    """root and every live descendant of it, root first."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = _stat_fields(int(name))
        if f is None:
            continue
        children.setdefault(int(f[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if _read("/proc/%d/stat" % pid) is None:
            continue
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def start_time(pid):
    """The process's start time in clock ticks since boot, or None."""
    f = _stat_fields(pid)
    return int(f[19]) if f is not None else None


def cpu_seconds(pids):
    """utime+stime of the processes, in seconds."""
    ticks = 0
    for pid in pids:
        f = _stat_fields(pid)
        if f is not None:
            # Fields 14 and 15 of stat; index 11 and 12 once pid and comm are gone.
            ticks += int(f[11]) + int(f[12])
    return ticks / CLK_TCK


def status_kib(pid, key):
    s = _read("/proc/%d/status" % pid)
    if s is None:
        return 0
    for line in s.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pss_kib(pid):
    s = _read("/proc/%d/smaps_rollup" % pid)
    if s is None:
        return 0
    for line in s.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def memory(pids):
    """Summed memory of the processes, KiB: rss, anon, hwm, pss."""
    m = {"rss": 0, "anon": 0, "hwm": 0, "pss": 0}
    for pid in pids:
        m["rss"] += status_kib(pid, "VmRSS")
        m["anon"] += status_kib(pid, "RssAnon")
        m["hwm"] += status_kib(pid, "VmHWM")
        m["pss"] += pss_kib(pid)
    return m


def reset_hwm(pids):
    """Resets VmHWM to the current RSS (clear_refs 5; needs root or owner)."""
    for pid in pids:
        try:
            with open("/proc/%d/clear_refs" % pid, "w") as f:
                f.write("5")
        except OSError:
            pass


def pin(pids, core):
    """Pins every thread of the processes to one core; returns how many
    threads had been allowed elsewhere (some servers set their own thread
    affinity after start: Traffic Server binds ET_NET threads to the
    machine, undoing taskset)."""
    moved = 0
    want = {core}
    for pid in pids:
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for t in tids:
            tid = int(t)
            try:
                if os.sched_getaffinity(tid) != want:
                    os.sched_setaffinity(tid, want)
                    moved += 1
            except OSError:
                pass
    return moved


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None
