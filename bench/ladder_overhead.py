#!/usr/bin/python3
"""
ladder_overhead.py -- what Cascade's live ladder costs beyond the encoding
itself: CPU seconds per minute of live input for the full ladder through
cascade-origin (its ffmpeg worker plus what the origin spends piping and
repackaging), against the same ffmpeg command run standalone writing files
(issue 5; target: overhead <= 5 %).

    bench/ladder_overhead.py [--size 1920x1080] [--seconds 60] [--streams N]
                             [--origin PATH] [--keep]

What it does:
1. encodes one S-second H.264 + AAC source of the given size at 30 fps
   (testsrc2 + noise, keyframe every 2 s) into an FLV file, once;
2. Cascade with `--ladder default`: publishes that file in real time
   (`ffmpeg -re -c copy`, no encoding at publish time) to N streams; the
   worker program is a wrapper that records its argv and execs ffmpeg, so
   the worker's CPU comes from the origin's reaped children and the exact
   command is known; measures the origin's own CPU (all threads) and its
   workers' (cutime + cstime once reaped), and checks the rungs were kept
   (no rung dropped for slowness: the machine sustained N streams in real time);
3. Cascade with `--ladder none`, same input: the origin's passthrough CPU,
   which the ladder does not add;
4. standalone: the recorded worker command with `-re -i SOURCE.flv` in place of the
   pipe and files in place of the output pipes.

overhead = (worker CPU + origin CPU with ladder - origin CPU without) / standalone CPU - 1

Prints one table and a JSON line. Stops everything it started, by PID.
Needs ffmpeg and a built cascade-origin (default: build-rel, build-gcc, build).
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat_cpu(pid):
    """(self utime+stime, reaped children cutime+cstime) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return ((int(fields[11]) + int(fields[12])) / CLK_TCK,
            (int(fields[13]) + int(fields[14])) / CLK_TCK)


def find_origin(arg):
    if arg:
        return Path(arg)
    for d in ("build-rel", "build-gcc", "build/release", "build"):
        p = SRC / d / "cascade-origin"
        if p.exists():
            return p
    sys.exit("no cascade-origin built (cmake --build build-rel)")


def make_source(path, size, seconds):
    if path.exists():
        return
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
                    "-f", "lavfi", "-i", "sine=frequency=440",
                    "-t", str(seconds), "-vf", "noise=alls=8:allf=t",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-keyint_min", "60",
                    "-sc_threshold", "0", "-b:v", "8M", "-c:a", "aac", "-f", "flv", str(path)],
                   check=True)


def http(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def metric(port, name):
    text = http(port, "GET", "/metrics")
    key = "cascade_" + name.replace(".", "_")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(key) and not line.startswith("#"):
            head = line.split()[0].split("{")[0]
            if head in (key, key + "_total"):
                total += float(line.split()[-1])
    return total


def run_origin(binary, work, ladder, source, streams, wrapper):
    """One origin run over the whole source; (origin self CPU, workers CPU, dropped, segments)."""
    data = work / f"data-{ladder}"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    port, rtmp = free_port(), free_port()
    conf = work / f"origin-{ladder}.conf"
    conf.write_text(f"ladder {ladder}\nladder.ffmpeg {wrapper}\nladder.max_workers {streams}\n"
                    "live.reconnect_grace 1s\nlog.level info\n")
    log = open(work / f"origin-{ladder}.log", "wb")
    origin = subprocess.Popen([str(binary), "-c", str(conf), "--http", f"127.0.0.1:{port}",
                               "--rtmp", f"127.0.0.1:{rtmp}", "--data-dir", str(data),
                               "--workers", "1"], stdout=log, stderr=log)
    pubs = []
    try:
        for _ in range(50):
            try:
                http(port, "GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        keys = [json.loads(http(port, "POST", "/api/streams", json.dumps({"name": f"s{i}"})))["key"]
                for i in range(streams)]
        base_self, base_children = stat_cpu(origin.pid)
        for key in keys:
            pubs.append(subprocess.Popen(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i",
                 str(source), "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{rtmp}/live/{key}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for p in pubs:
            p.wait()
        # Workers flush and exit after their publisher left; then they are reaped.
        deadline = time.time() + 60
        while time.time() < deadline and metric(port, "origin.ladder.workers") > 0:
            time.sleep(0.2)
        time.sleep(0.5)
        self_cpu, children = stat_cpu(origin.pid)
        dropped = metric(port, "origin.ladder.rungs_dropped")
        segments = metric(port, "origin.live.segments")
        return self_cpu - base_self, children - base_children, dropped, segments
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
                p.wait()
        origin.send_signal(signal.SIGTERM)
        try:
            origin.wait(20)
        except subprocess.TimeoutExpired:
            origin.kill()
            origin.wait()


def standalone(argv, source, out_dir):
    """The recorded worker argv on the file, outputs to files; its CPU seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "-progress":
            i += 2
            continue
        if a == "-i":
            args += ["-re", "-i", str(source)]
            i += 2
            continue
        if a == "-f" and i + 1 < len(argv) and argv[i + 1] == "flv":
            i += 2  # the input format: the file says it
            continue
        if a.startswith("pipe:") and argv[i - 1] != "-progress":
            args += ["-y", str(out_dir / f"out{a[5:]}.mp4")]
            i += 1
            continue
        args.append(a)
        i += 1
    before = os.times()
    subprocess.run(["ffmpeg", *args], check=True, stdin=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--origin")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    binary = find_origin(a.origin)
    work = Path(tempfile.mkdtemp(prefix="cascade-ladder-bench-"))
    try:
        cache = SRC / "build" / "bench"
        cache.mkdir(parents=True, exist_ok=True)
        source = cache / f"ladder-src-{a.size}-{a.seconds}s.flv"
        make_source(source, a.size, a.seconds)
        argv_file = work / "argv"
        wrapper = work / "ffmpeg-wrapper"
        wrapper.write_text(f"#!/bin/sh\nprintf '%s\\0' ffmpeg \"$@\" > {argv_file}\n"
                           "exec ffmpeg \"$@\"\n")
        wrapper.chmod(0o755)

        lad_self, lad_workers, dropped, segs = run_origin(binary, work, "default", source,
                                                          a.streams, wrapper)
        none_self, _, _, _ = run_origin(binary, work, "none", source, a.streams, wrapper)
        argv = argv_file.read_bytes().decode().split("\0")[:-1]
        alone = standalone(argv, source, work / "standalone") * a.streams

        per_min = 60.0 / a.seconds
        cascade = lad_workers + lad_self - none_self
        overhead = cascade / alone - 1 if alone > 0 else float("nan")
        rows = [
            ("standalone ffmpeg (files)", alone),
            ("Cascade worker(s)", lad_workers),
            ("Cascade origin, ladder default", lad_self),
            ("Cascade origin, ladder none", none_self),
            ("Cascade ladder total (worker + origin delta)", cascade),
        ]
        print(f"\nsource {a.size} 30 fps, {a.seconds} s, {a.streams} stream(s); "
              f"CPU seconds per minute of input")
        for name, v in rows:
            print(f"  {name:46s} {v * per_min:8.2f}")
        print(f"  {'overhead vs standalone':46s} {overhead * 100:7.2f} %  (target <= 5 %)")
        print(f"  rungs dropped for slowness: {int(dropped)} "
              f"({'sustained in real time' if dropped == 0 else 'NOT real time'}); "
              f"segments written: {int(segs)}")
        print(json.dumps({"size": a.size, "seconds": a.seconds, "streams": a.streams,
                          "standalone_cpu_s": alone, "worker_cpu_s": lad_workers,
                          "origin_ladder_cpu_s": lad_self, "origin_none_cpu_s": none_self,
                          "overhead": overhead, "rungs_dropped": dropped,
                          "worker_argv": argv}))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
