#!/usr/bin/env python3
"""bench/sse_load.py -- interactions at the edge under load (issue 9).

    bench/sse_load.py [--viewers 500,5000] [--rate 2000] [--duration 60] [--build DIR]

Starts a cascade-origin and one cascade-edge on loopback (from DIR, default
build-rel, else build/release), then for each viewer count: V viewers hold
/events/load open on the edge while one sender POSTs RATE reactions per
second for DURATION seconds to the edge (3 kinds, stamped with a media time
that advances with the wall clock, so a new 1 s bucket starts every second).
It measures:

  - origin requests per second (its http.requests counter) and reaction
    batches per second over the run: with edges batching and following one
    event stream each, both must not grow with V;
  - per viewer and per (bucket, kind): the time from the last reaction of
    that bucket being sent to the viewer's socket receiving the bucket's
    final count (p50/p99/max, and how many never saw it) -- "every viewer
    sees totals within 1 s". Arrival is the kernel's receive timestamp
    (SO_TIMESTAMPNS), so the client processes' own scheduling delays on a
    busy machine do not count against the edge;
  - the edge's RSS (peak and at the end) and viewers dropped;
  - where the time goes, from the edge's histograms: how long the origin
    took to accept each batch (edge.reactions.batch_seconds) and how long
    a worker took from an origin answer to its viewers written
    (edge.sse.fanout_seconds).

Prints one JSON object per run and a summary. Not part of CI. Loopback
only; bounded: every phase ends at DURATION + a grace period, and every
process started here is stopped by PID. Needs root for RLIMIT_NOFILE.
"""

import argparse
import json
import multiprocessing as mp
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import struct
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
EDGE_KEY = "bench-edge-key-0123456789abcdef"
SECRET = "bench-token-secret-0123456789abcdef"
KINDS = ("like", "love", "fire")
STREAM = "load"
HIST_MS = 10  # latency histogram bin
HIST_BINS = 3000  # up to 30 s


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    prom = "cascade_" + name.replace(".", "_")
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key = line.split(" ")[0].split("{")[0]
        if key in (prom, prom + "_total"):
            total += float(line.split(" ")[-1])
    return total


def histogram(port, name):
    """{le: cumulative count} of a histogram (summed over labels)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    prom = "cascade_" + name.replace(".", "_") + "_bucket{"
    out = {}
    for line in text.splitlines():
        if line.startswith(prom):
            le = line.split('le="')[1].split('"')[0]
            out[le] = out.get(le, 0) + float(line.split(" ")[-1])
    return out


def hist_share(h0, h1, le):
    """Share of the observations between two snapshots that were <= le."""
    total = h1.get("+Inf", 0) - h0.get("+Inf", 0)
    if total <= 0:
        return None
    return round((h1.get(le, 0) - h0.get(le, 0)) / total, 4)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_json(port, path, body, token=None):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    return json.load(urllib.request.urlopen(req, timeout=10))


# ---------------------------------------------------------------- viewers


class Viewer:
    __slots__ = ("sock", "raw", "text", "head", "seen", "closed")

    def __init__(self, sock):
        self.sock = sock
        self.raw = b""
        self.text = b""
        self.head = False
        self.seen = {}  # (bucket_ms, kind) -> (count, monotonic time first seen)
        self.closed = False

    def feed(self, data, now):
        self.raw += data
        if not self.head:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.raw = self.raw[i + 4 :]
            self.head = True
        raw = self.raw
        pos = 0
        out = []
        while True:
            i = raw.find(b"\r\n", pos)
            if i < 0:
                break
            size = int(raw[pos:i].split(b";")[0], 16)
            if size == 0:
                self.closed = True
                break
            if len(raw) < i + 2 + size + 2:
                break
            out.append(raw[i + 2 : i + 2 + size])
            pos = i + 2 + size + 2
        self.raw = raw[pos:]
        if not out:
            return
        self.text += b"".join(out)
        blocks = self.text.split(b"\n\n")
        self.text = blocks.pop()
        for block in blocks:
            if b"event: reactions" not in block:
                continue
            for line in block.split(b"\n"):
                if line.startswith(b"data: "):
                    d = json.loads(line[6:])
                    for b in d["buckets"]:
                        key = (b["bucket_ms"], b["kind"])
                        old = self.seen.get(key)
                        if old is None or b["count"] > old[0]:
                            self.seen[key] = (b["count"], now)


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
TS_SPACE = socket.CMSG_SPACE(16)


def recv_stamped(sock):
    """(bytes, wall time the kernel queued the last of them): the arrival, not when this
    process got round to reading (so a busy client does not count against the edge)."""
    data, anc, _, _ = sock.recvmsg(262144, TS_SPACE)
    for level, kind, blob in anc:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(blob) >= 16:
            sec, nsec = struct.unpack("qq", blob[:16])
            return data, sec + nsec / 1e9
    return data, time.time()


def viewers_main(port, n, ready_q, ctl, result_q):
    """One process holding n viewers; reports readiness, then latencies when told the truth."""
    sel = selectors.DefaultSelector()
    req = (f"GET /events/{STREAM} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n").encode()
    viewers = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(10)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.connect(("127.0.0.1", port))
        s.sendall(req)
        s.setblocking(False)
        v = Viewer(s)
        viewers.append(v)
        sel.register(s, selectors.EVENT_READ, v)
    ready_q.put(n)
    truth = None
    while truth is None:
        for key, _ in sel.select(timeout=0.05):
            v = key.data
            try:
                data, when = recv_stamped(v.sock)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                v.closed = True
                sel.unregister(v.sock)
                continue
            v.feed(data, when)
        if ctl.poll():
            truth = ctl.recv()
    # truth: {(bucket, kind): (final count, wall time the last one was sent)}
    hist = [0] * HIST_BINS
    missing = 0
    late_keys = 0
    worst = 0.0
    for v in viewers:
        for key, (final, sent_t) in truth.items():
            got = v.seen.get(key)
            if got is None or got[0] < final:
                missing += 1
                continue
            lat = max(0.0, got[1] - sent_t)
            worst = max(worst, lat)
            hist[min(HIST_BINS - 1, int(lat * 1000 / HIST_MS))] += 1
            if lat > 1.0:
                late_keys += 1
    closed = sum(1 for v in viewers if v.closed)
    for v in viewers:
        v.sock.close()
    result_q.put({"hist": hist, "missing": missing, "late": late_keys, "worst": worst, "closed": closed})


# ---------------------------------------------------------------- the sender


def sender_main(port, tokens, rate, duration, conns, result_q, start_at):
    """POSTs rate reactions/s over conns keep-alive connections; reports what it sent when."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, {"i": i, "buf": b"", "busy": False})
    while time.monotonic() < start_at:
        time.sleep(0.005)
    t0 = time.monotonic()
    sent = 0
    answered = 0
    errors = 0
    truth = {}
    idle = list(socks)
    keys = {s: sel.get_key(s).data for s in socks}
    socks = list(socks)
    closed = 0
    while True:
        now = time.monotonic()
        if now - t0 >= duration and all(not keys[s]["busy"] for s in socks):
            break
        if now - t0 >= duration + 10:
            break  # bounded: answers still missing are counted below
        allowed = int((now - t0) * rate) - sent if now - t0 < duration else 0
        while allowed > 0 and idle:
            s = idle.pop()
            kind = KINDS[sent % len(KINDS)]
            t = int((now - t0) * 1000)  # media time advances with the wall clock
            body = b'{"kind":"%s","t":%d}' % (kind.encode(), t)
            tok = tokens[sent % len(tokens)]
            msg = (
                b"POST /api/streams/" + STREAM.encode() + b"/reactions HTTP/1.1\r\nHost: bench\r\n"
                b"Content-Type: application/json\r\nAuthorization: Bearer " + tok.encode() +
                b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
            s.sendall(msg)
            keys[s]["busy"] = True
            key = (t // 1000 * 1000, kind)
            c, _ = truth.get(key, (0, 0.0))
            truth[key] = (c + 1, time.time())  # wall clock: compared with kernel arrival stamps
            sent += 1
            allowed -= 1
        for key, _ in sel.select(timeout=0.001):
            st = key.data
            try:
                data = key.fileobj.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                # the edge closes a connection that sent nothing for http.header_timeout
                closed += 1
                old = key.fileobj
                if old in idle:
                    idle.remove(old)
                sel.unregister(old)
                socks.remove(old)
                old.close()
                n = socket.create_connection(("127.0.0.1", port))
                n.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                n.setblocking(False)
                sel.register(n, selectors.EVENT_READ, {"i": st["i"], "buf": b"", "busy": False})
                keys[n] = sel.get_key(n).data
                socks.append(n)
                idle.append(n)
                if st["busy"]:
                    errors += 1  # its answer is lost
                continue
            st["buf"] += data
            while True:
                i = st["buf"].find(b"\r\n\r\n")
                if i < 0:
                    break
                head = st["buf"][:i].decode("latin-1")
                cl = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        cl = int(line.split(":")[1])
                if len(st["buf"]) < i + 4 + cl:
                    break
                if not head.startswith("HTTP/1.1 202"):
                    errors += 1
                st["buf"] = st["buf"][i + 4 + cl :]
                st["busy"] = False
                answered += 1
                idle.append(key.fileobj)
    elapsed = time.monotonic() - t0
    for s in socks:
        s.close()
    result_q.put({"sent": sent, "answered": answered, "errors": errors, "elapsed": elapsed,
                  "closed": closed, "cpu": cpu_s(os.getpid()),
                  "truth": truth})


# ---------------------------------------------------------------- a run


def start_nodes(build, tmp, workers):
    oport, rport, eport = free_port(), free_port(), free_port()
    (tmp / "origin.conf").write_text(
        f"social.token_secret {SECRET}\nsocial.edge_key {EDGE_KEY}\n"
        f"social.reactions {','.join(KINDS)}\nlog.level warn\n")
    (tmp / "edge.conf").write_text(
        f"social.edge_key {EDGE_KEY}\nsocial.reactions {','.join(KINDS)}\nlog.level warn\n"
        "ratelimit.addr_rate 0\nratelimit.token_rate 0\n"
        f"workers {workers}\n")
    procs = []
    for name, argv in (
        ("origin", [build / "cascade-origin", "-c", tmp / "origin.conf", "--http", f"127.0.0.1:{oport}",
                    "--rtmp", f"127.0.0.1:{rport}", "--data-dir", tmp / "odata"]),
        ("edge", [build / "cascade-edge", "-c", tmp / "edge.conf", "--listen", f"127.0.0.1:{eport}",
                  "--upstream", f"127.0.0.1:{oport}", "--cache-dir", tmp / "ecache"]),
    ):
        log = open(tmp / f"{name}.log", "w")
        procs.append(subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                      cwd=tmp))
    for port in (oport, eport):
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return procs, oport, eport


def percentile(hist, q):
    total = sum(hist)
    if total == 0:
        return None
    want = q * total
    acc = 0
    for i, n in enumerate(hist):
        acc += n
        if acc >= want:
            return (i + 1) * HIST_MS / 1000.0
    return HIST_BINS * HIST_MS / 1000.0


def run_phase(args, oport, eport, edge_pid, origin_pid, tokens, nviewers):
    ctx = mp.get_context("fork")
    nproc = max(1, min(args.viewer_procs, nviewers // 100 or 1))
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    pipes, procs = [], []
    per = [nviewers // nproc + (1 if i < nviewers % nproc else 0) for i in range(nproc)]
    dropped0 = metric(eport, "edge.sse.dropped")
    for n in per:
        a, b = ctx.Pipe()
        p = ctx.Process(target=viewers_main, args=(eport, n, ready_q, b, result_q), daemon=True)
        p.start()
        pipes.append(a)
        procs.append(p)
    got = 0
    deadline = time.monotonic() + 120
    while got < nviewers:
        got += ready_q.get(timeout=max(1, deadline - time.monotonic()))
    # every viewer has its head and "ready" before the clock starts
    deadline = time.monotonic() + 60
    while metric(eport, "edge.sse.viewers") < nviewers and time.monotonic() < deadline:
        time.sleep(0.2)
    viewers_on_edge = metric(eport, "edge.sse.viewers")
    rss_idle = rss_kib(edge_pid)
    o_req0, o_batch0 = metric(oport, "http.requests"), metric(oport, "origin.social.batches")
    o_react0, polls0 = metric(oport, "origin.social.reactions"), metric(eport, "edge.sse.polls")
    sq = ctx.Queue()
    start_at = time.monotonic() + 1.0
    sender = ctx.Process(target=sender_main,
                         args=(eport, tokens, args.rate, args.duration, args.conns, sq, start_at),
                         daemon=True)
    sender.start()
    hb0 = histogram(eport, "edge.reactions.batch_seconds")
    hf0 = histogram(eport, "edge.sse.fanout_seconds")
    cpu0 = {"edge": cpu_s(edge_pid), "origin": cpu_s(origin_pid), "sender": cpu_s(sender.pid),
            "viewers": sum(cpu_s(p.pid) for p in procs)}
    rss_peak = 0
    t_end = start_at + args.duration + 5
    while time.monotonic() < t_end and sender.is_alive():
        rss_peak = max(rss_peak, rss_kib(edge_pid))
        time.sleep(0.5)
    cpu1 = {"edge": cpu_s(edge_pid), "origin": cpu_s(origin_pid), "viewers": sum(cpu_s(p.pid) for p in procs)}
    sres = sq.get(timeout=120)
    cpu1["sender"] = sres["cpu"]
    sender.join(10)
    o_req1, o_batch1 = metric(oport, "http.requests"), metric(oport, "origin.social.batches")
    elapsed = sres["elapsed"]
    time.sleep(args.grace)  # the last window's batch, poll and fan-out
    o_react1 = metric(oport, "origin.social.reactions")
    hb1 = histogram(eport, "edge.reactions.batch_seconds")
    hf1 = histogram(eport, "edge.sse.fanout_seconds")
    polls1 = metric(eport, "edge.sse.polls")
    rss_peak = max(rss_peak, rss_kib(edge_pid))
    truth = sres.pop("truth")
    for a in pipes:
        a.send(truth)
    hist = [0] * HIST_BINS
    missing = late = closed = 0
    worst = 0.0
    for _ in procs:
        r = result_q.get(timeout=300)
        hist = [x + y for x, y in zip(hist, r["hist"])]
        missing += r["missing"]
        late += r["late"]
        closed += r["closed"]
        worst = max(worst, r["worst"])
    for p in procs:
        p.join(30)
    keys = len(truth)
    return {
        "viewers": nviewers,
        "viewers_on_edge": viewers_on_edge,
        "viewer_procs": nproc,
        "rate_target": args.rate,
        "reactions_sent": sres["sent"],
        "reactions_per_s": round(sres["sent"] / elapsed, 1),
        "sender_errors": sres["errors"],
        "sender_unanswered": sres["sent"] - sres["answered"],
        "sender_conns_closed": sres["closed"],
        "origin_reactions": o_react1 - o_react0,
        "origin_requests_per_s": round((o_req1 - o_req0) / elapsed, 2),
        "origin_batches_per_s": round((o_batch1 - o_batch0) / elapsed, 2),
        "edge_event_polls_per_s": round((polls1 - polls0) / elapsed, 2),
        "buckets_x_kinds": keys,
        "viewer_checks": keys * nviewers,
        "seen_final_p50_s": percentile(hist, 0.5),
        "seen_final_p99_s": percentile(hist, 0.99),
        "seen_final_max_s": round(worst, 3),
        "seen_later_than_1s": late,
        "never_saw_final": missing,
        "viewers_closed": closed,
        "viewers_dropped": metric(eport, "edge.sse.dropped") - dropped0,
        "batch_rtt_le_0.1s": hist_share(hb0, hb1, "0.1"),
        "batch_rtt_le_0.5s": hist_share(hb0, hb1, "0.5"),
        "batch_rtt_le_1s": hist_share(hb0, hb1, "1"),
        "fanout_le_0.05s": hist_share(hf0, hf1, "0.05"),
        "fanout_le_0.25s": hist_share(hf0, hf1, "0.25"),
        "cpu_pct_of_one_core": {k: round(100 * (cpu1[k] - cpu0[k]) / elapsed) for k in cpu0},
        "cores": os.cpu_count(),
        "edge_rss_idle_kib": rss_idle,
        "edge_rss_peak_kib": rss_peak,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", default="500,5000")
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--grace", type=float, default=3)
    ap.add_argument("--conns", type=int, default=64, help="sender connections")
    ap.add_argument("--viewer-procs", type=int, default=4)
    ap.add_argument("--workers", type=int, default=0, help="edge workers (0: one per core)")
    ap.add_argument("--build", default=None)
    args = ap.parse_args()
    build = Path(args.build) if args.build else None
    for cand in ([build] if build else [SRC / "build-rel", SRC / "build" / "release"]):
        if cand and (cand / "cascade-edge").exists():
            build = cand
            break
    else:
        sys.exit("no cascade-edge built (--build DIR)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200000, 200000))  # the nodes inherit it
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = Path(tempfile.mkdtemp(prefix="cascade-sse-load-"))
    procs = []
    try:
        procs, oport, eport = start_nodes(build, tmp, args.workers)
        tokens = [post_json(eport, "/api/sessions", {"name": f"bench{i}"})["token"] for i in range(32)]
        results = []
        for v in [int(x) for x in args.viewers.split(",")]:
            r = run_phase(args, oport, eport, procs[1].pid, procs[0].pid, tokens, v)
            print(json.dumps(r), flush=True)
            results.append(r)
        print("\nviewers  reactions/s  origin req/s  batches/s  polls/s  p50 s  p99 s  max s  >1s  missed  dropped  edge RSS peak")
        for r in results:
            print(f"{r['viewers']:>7}  {r['reactions_per_s']:>11}  {r['origin_requests_per_s']:>12}  "
                  f"{r['origin_batches_per_s']:>9}  {r['edge_event_polls_per_s']:>7}  "
                  f"{r['seen_final_p50_s']!s:>5}  {r['seen_final_p99_s']!s:>5}  {r['seen_final_max_s']:>5}  "
                  f"{r['seen_later_than_1s']:>3}  {r['never_saw_final']:>6}  {r['viewers_dropped']:>7}  "
                  f"{r['edge_rss_peak_kib'] // 1024} MiB")
        print("\nCPU, % of one core over the run:")
        for r in results:
            print(f"{r['viewers']:>7}  {r['cpu_pct_of_one_core']}  (cores: {r['cores']})")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
