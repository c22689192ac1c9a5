#!/usr/bin/env python3
"""bench/idle_conns.py -- memory per idle keep-alive connection.

    idle_conns.py --port P --path /vod/bench/manifest.mpd --count 10000 --pid PID

Measures the server's process tree (from PID, see procstat.py), then opens
COUNT connections in batches; on each it sends one keep-alive GET and reads
the whole response, so every connection has served a request and sits idle
in keep-alive. After --settle seconds it measures again and prints one JSON
object: the Pss, RSS and RssAnon deltas of the tree divided by the
connections still open, in bytes per connection. Kernel socket buffers are
not process memory and are not counted.

Bounded: connects and reads time out, the whole run stops at --deadline.
Loopback only. Needs to read /proc/PID/smaps_rollup of the server (root).
Not here: starting the server (bench/run).
"""

import argparse
import json
import os
import resource
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procstat  # noqa: E402


def response_complete(buf):
    """True once buf holds one whole response (Content-Length or chunked)."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return rest.endswith(b"0\r\n\r\n")
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return True


def open_batch(host, port, req, n, timeout):
    """n connections that each served one request; the failures counted."""
    sel = selectors.DefaultSelector()
    pending, ready, failed = {}, [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        pending[s] = bytearray()
        sel.register(s, selectors.EVENT_WRITE)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.2):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    failed += 1
                    sel.unregister(s)
                    del pending[s]
                    s.close()
                    continue
                s.send(req)
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                chunk = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                failed += 1
                sel.unregister(s)
                del pending[s]
                s.close()
                continue
            pending[s] += chunk
            if response_complete(bytes(pending[s])):
                sel.unregister(s)
                del pending[s]
                ready.append(s)
    for s in pending:
        failed += 1
        s.close()
    sel.close()
    return ready, failed


def still_open(socks):
    """How many of socks the server has not closed (a read would see EOF)."""
    n = 0
    for s in socks:
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                continue
        except BlockingIOError:
            pass
        except OSError:
            continue
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--pid", type=int, required=True, help="root of the server's process tree")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--deadline", type=float, default=120.0)
    a = ap.parse_args()
    if not a.host.startswith("127."):
        sys.exit("idle_conns.py: loopback targets only")

    want = a.count + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
        except (ValueError, OSError):
            sys.exit("idle_conns.py: cannot raise the open-file limit to %d (run as root)" % want)

    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: cascade-bench\r\n\r\n"
           % (a.path, a.host, a.port)).encode()
    t0 = time.monotonic()
    before = procstat.memory(procstat.tree(a.pid))
    socks, failed = [], 0
    while len(socks) + failed < a.count and time.monotonic() - t0 < a.deadline:
        n = min(a.batch, a.count - len(socks) - failed)
        ready, bad = open_batch(a.host, a.port, req, n, timeout=10.0)
        socks.extend(ready)
        failed += bad
        if bad > n // 2:
            break
    time.sleep(a.settle)
    after = procstat.memory(procstat.tree(a.pid))
    alive = still_open(socks)
    out = {
        "count": a.count,
        "opened": len(socks),
        "failed": failed,
        "alive": alive,
        "before_kib": before,
        "after_kib": after,
        "seconds": round(time.monotonic() - t0, 2),
    }
    if alive > 0:
        for k in ("pss", "rss", "anon"):
            out["per_conn_%s_bytes" % k] = round((after[k] - before[k]) * 1024.0 / alive, 1)
    for s in socks:
        s.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
