#!/usr/bin/python3
"""
ingest_vs_nginx_rtmp.py -- how many 600 kbit/s publishers one core of
cascade-origin takes (passthrough CMAF packaging, journal on, DASH and HLS
manifests), next to Debian's nginx with libnginx-mod-rtmp doing DASH
packaging, on the same inputs in the same run.

    bench/ingest_vs_nginx_rtmp.py [--streams N] [--seconds S] [--origin PATH]
    bench/ingest_vs_nginx_rtmp.py --rounds 3 --origin-b OTHER [--origin-b-arg ARG]

With --rounds R the servers run in turn R times in the same run (A, B
when given, nginx; then again), so a loaded machine's drift hits every
side alike: it prints each round and the median of each side's cost and
of the per-round ratios. --origin-b (a second binary, e.g. the build
before a change) and --origin-b-arg (extra arguments for B, repeatable;
B defaults to A's binary) make it an A/B comparison.

What it does: encodes one 20 s H.264 + AAC source at ~600 kbit/s once;
starts each server on free loopback ports in its own temporary directory
(cascade-origin with one HTTP worker; nginx with one worker process);
starts N `ffmpeg -re -stream_loop -1 -c copy` publishers per server (no
encoding at publish time, so the publishers cost little); after a warm-up,
measures the server's CPU time (user + system, all threads and processes,
from /proc) over S seconds; checks every stream produced segments; stops
everything it started, by PID. It prints CPU per stream, the streams one
core would take at that cost, and the ratio (target: Cascade >= 2x nginx).

Needs: ffmpeg, nginx and libnginx-mod-rtmp (apt-get install -y
libnginx-mod-rtmp), a built cascade-origin (default: build-gcc, else
build/release, else build).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NGINX_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids):
    """User + system CPU of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def children_of(pid):
    """pid and its descendants (nginx workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except FileNotFoundError:
            kids = []
        todo += [int(k) for k in kids]
    return out


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def make_source(path):
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100", "-t", "20",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "500k", "-maxrate", "500k",
         "-bufsize", "1000k", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "96k", "-f", "flv", str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return path.stat().st_size * 8 / 20 / 1000  # kbit/s


class Procs:
    """Everything started here, stopped by PID whatever happens."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def publishers(procs, source, urls, logdir):
    pubs = []
    for i, url in enumerate(urls):
        log = open(logdir / f"pub{i}.log", "wb")
        pubs.append(procs.start(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                                 "-stream_loop", "-1", "-i", str(source), "-c", "copy",
                                 "-f", "flv", url], log))  # fmt: skip
    return pubs


def measure(pids_fn, warmup, seconds):
    time.sleep(warmup)
    c0, t0 = cpu_seconds(pids_fn()), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_seconds(pids_fn()), time.monotonic()
    return (c1 - c0) / (t1 - t0)  # cores busy


def count_files(root, suffix):
    return sum(1 for _ in Path(root).rglob(f"*{suffix}"))


def run_cascade(origin_bin, source, n, warmup, seconds, work, extra=()):
    procs = Procs()
    http, rtmp = free_port(), free_port()
    data = work / "cascade"
    data.mkdir()
    try:
        log = open(work / "cascade.log", "wb")
        srv = procs.start([str(origin_bin), "--http", f"127.0.0.1:{http}", "--rtmp",
                           f"127.0.0.1:{rtmp}", "--data-dir", str(data), "--workers", "1",
                           "--log-level", "warn", *extra], log)  # fmt: skip
        wait_port(http)
        wait_port(rtmp)
        urls = []
        for i in range(n):
            req = urllib.request.Request(f"http://127.0.0.1:{http}/api/streams", method="POST",
                                         data=json.dumps({"name": f"s{i}"}).encode())
            key = json.loads(urllib.request.urlopen(req, timeout=10).read())["key"]
            urls.append(f"rtmp://127.0.0.1:{rtmp}/live/{key}")
        publishers(procs, source, urls, work)
        busy = measure(lambda: [srv.pid], warmup, seconds)
        ok = [count_files(data / "live" / f"s{i}", ".m4s") > 2 for i in range(n)]
        return busy, all(ok), sum(ok)
    finally:
        procs.stop_all()


def run_nginx(source, n, warmup, seconds, work):
    procs = Procs()
    rtmp = free_port()
    root = work / "nginx"
    (root / "logs").mkdir(parents=True)
    dash = root / "dash"
    dash.mkdir()
    # nginx's worker drops root for nobody: it must reach and write dash/.
    for d in (work, root):
        d.chmod(0o755)
    dash.chmod(0o777)
    conf = root / "nginx.conf"
    conf.write_text(f"""
load_module {NGINX_MODULE};
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        chunk_size 4096;
        application live {{
            live on;
            dash on;
            dash_path {dash};
            dash_fragment 2s;
            dash_playlist_length 30s;
        }}
    }}
}}
""")
    try:
        log = open(work / "nginx.log", "wb")
        srv = procs.start(["nginx", "-p", str(root), "-c", str(conf), "-e",
                           str(root / "logs" / "error.log")], log)  # fmt: skip
        wait_port(rtmp)
        urls = [f"rtmp://127.0.0.1:{rtmp}/live/s{i}" for i in range(n)]
        publishers(procs, source, urls, work)
        busy = measure(lambda: children_of(srv.pid), warmup, seconds)
        ok = [len(list(dash.glob(f"s{i}-*.m4v"))) + count_files(dash / f"s{i}", ".m4v") > 2
              for i in range(n)]  # fmt: skip
        return busy, all(ok), sum(ok)
    finally:
        procs.stop_all()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--origin", type=Path, default=None)
    ap.add_argument("--origin-arg", action="append", default=[],
                    help="extra cascade-origin argument (repeat), e.g. --origin-arg=-c --origin-arg=f")
    ap.add_argument("--origin-b", type=Path, default=None, help="a second cascade-origin (A/B)")
    ap.add_argument("--origin-b-arg", action="append", default=None,
                    help="extra argument for B (repeat); B runs A's binary when no --origin-b")
    ap.add_argument("--only", choices=("cascade", "nginx"), default=None)
    args = ap.parse_args()
    origin = args.origin
    if origin is None:
        for cand in ("build-gcc", "build/release", "build"):
            if (SRC / cand / "cascade-origin").exists():
                origin = SRC / cand / "cascade-origin"
                break
    for need, why in ((origin and origin.exists(), "a built cascade-origin"),
                      (shutil.which("ffmpeg"), "ffmpeg"), (shutil.which("nginx"), "nginx"),
                      (Path(NGINX_MODULE).exists(), "libnginx-mod-rtmp")):  # fmt: skip
        if not need:
            sys.exit(f"missing {why}")
    sides = []
    if args.only in (None, "cascade"):
        sides.append(("cascade-origin", origin, args.origin_arg))
        if args.origin_b is not None or args.origin_b_arg is not None:
            sides.append(("cascade-B", args.origin_b or origin,
                          args.origin_b_arg if args.origin_b_arg is not None else args.origin_arg))
    if args.only in (None, "nginx"):
        sides.append(("nginx-rtmp", None, None))
    per = {name: [] for name, _, _ in sides}
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="cascade-ingest-bench-") as tmp:
        os.chmod(tmp, 0o755)  # nginx's worker (nobody) must reach each round's directory
        kbps = make_source(Path(tmp) / "src.flv")
        print(f"source: {kbps:.0f} kbit/s, {args.streams} publishers per server, "
              f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, "
              f"{args.rounds} round(s)", flush=True)
        for rnd in range(args.rounds):
            for name, binary, extra in sides:
                work = Path(tmp) / f"r{rnd}-{name}"
                work.mkdir()
                if binary is None:
                    busy, ok, nok = run_nginx(Path(tmp) / "src.flv", args.streams, args.warmup,
                                              args.seconds, work)
                else:
                    busy, ok, nok = run_cascade(binary, Path(tmp) / "src.flv", args.streams,
                                                args.warmup, args.seconds, work, extra)
                all_ok = all_ok and ok
                p = busy / args.streams
                per[name].append(p)
                print(f"round {rnd + 1} {name:15} cpu {busy * 100:6.1f}% of a core  "
                      f"{p * 100:5.3f}%/stream  "
                      f"~{1.0 / p if p > 0 else float('inf'):7.0f} streams/core  "
                      f"segments ok: {nok}/{args.streams}", flush=True)
    nginx = per.get("nginx-rtmp")
    for name, _, _ in sides:
        m = median(per[name])
        line = f"median {name:15} {m * 100:5.3f}%/stream ~{1.0 / m if m > 0 else 0:7.0f} streams/core"
        if nginx and name != "nginx-rtmp":
            ratios = [n / c for c, n in zip(per[name], nginx) if c > 0]
            line += (f"  ratio vs nginx per round: {', '.join(f'{r:.2f}' for r in ratios)}"
                     f"  median {median(ratios):.2f} (target >= 2)")
        print(line)
    if "cascade-B" in per:
        ab = [b / a for a, b in zip(per["cascade-origin"], per["cascade-B"]) if a > 0]
        print(f"B/A cost per round: {', '.join(f'{r:.2f}' for r in ab)}  median {median(ab):.2f}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
