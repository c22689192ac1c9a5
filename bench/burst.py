#!/usr/bin/env python3
"""bench/burst.py -- the client side of the origin-fetch burst and the
stale test: N simultaneous GETs on N connections, each read to the end
and checked against the file the origin serves.

    burst.py --port P --path /burst/x/vod/bench/0/0.m4s --n 100 --expect FILE
    burst.py --port P --path /stale/x/vod/bench/3/0.m4s --n 5 --expect FILE

All N requests are written before any response is read, so a cache that
does not collapse them sends N fetches to the origin (bench/run counts
those in the origin's access log). Prints one JSON object: how many
answered 200 with exactly the expected bytes, the statuses seen, and
per-request latency (p50, max) in milliseconds. Loopback only; bounded by
--timeout for the whole burst.

Not here: counting origin fetches, starting servers (bench/run).
"""

import argparse
import json
import selectors
import socket
import sys
import time


def parse_response(raw):
    """(status, body) from a whole HTTP/1.1 response read to EOF."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return None, b""
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return None, b""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body, pos = bytearray(), 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return status, None
            size = int(rest[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                return status, bytes(body)
            body += rest[pos:pos + size]
            pos += size + 2
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        return status, rest[:n] if len(rest) >= n else None
    return status, rest


def burst(host, port, path, n, timeout):
    """Opens n connections, sends n GETs back to back, reads all to EOF."""
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
           "User-Agent: cascade-bench\r\n\r\n" % (path, host, port)).encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    sel = selectors.DefaultSelector()
    bufs, start, done = {}, {}, {}
    for s in socks:
        start[s] = time.monotonic()
        s.sendall(req)
    for s in socks:
        s.setblocking(False)
        bufs[s] = bytearray()
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while len(done) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                chunk = s.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if chunk:
                bufs[s] += chunk
            else:
                done[s] = time.monotonic()
                sel.unregister(s)
    results = []
    for s in socks:
        status, body = parse_response(bytes(bufs[s]))
        ms = (done.get(s, time.monotonic()) - start[s]) * 1000.0
        results.append((status, body, ms, s in done))
        s.close()
    return results


def summarize(results, expect):
    ok = sum(1 for st, body, _, fin in results if fin and st == 200 and body == expect)
    statuses = {}
    for st, _, _, fin in results:
        key = str(st) if fin else "timeout"
        statuses[key] = statuses.get(key, 0) + 1
    ms = sorted(r[2] for r in results)
    return {
        "n": len(results),
        "ok": ok,
        "statuses": statuses,
        "p50_ms": ms[len(ms) // 2] if ms else None,
        "max_ms": ms[-1] if ms else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--expect", required=True, help="file whose bytes each body must equal")
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    if not a.host.startswith("127.") and a.host not in ("localhost", "::1"):
        sys.exit("burst.py: loopback targets only")
    with open(a.expect, "rb") as f:
        expect = f.read()
    t0 = time.monotonic()
    try:
        out = summarize(burst(a.host, a.port, a.path, a.n, a.timeout), expect)
    except OSError as e:
        out = {"n": a.n, "ok": 0, "error": str(e)}
    out["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
