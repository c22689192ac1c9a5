"""
shield_lib.py -- helpers for the shield-tier scenarios (test_shield.py): a
real DNS server (Debian's dnsmasq on a loopback port), a small origin that
serves numbered segments and counts what it is asked, a burst of concurrent
requests on raw sockets, a steady load loop, and a Python rendering of the
shield ring (docs/upstreams.md) to predict which shield owns a key.

Everything started here is stopped by PID (or closed) by its own close().
"""

import asyncio
import getpass
import grp
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from cdn import _die_with_parent

DNSMASQ = "/usr/sbin/dnsmasq"


def free_port_on(*hosts):
    """A TCP port free on every one of hosts (and for UDP on the first: dnsmasq)."""
    for _ in range(200):
        s = socket.socket()
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for h in hosts:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                t = socket.socket(socket.AF_INET, kind)
                try:
                    t.bind((h, port))
                except OSError:
                    ok = False
                finally:
                    t.close()
        if ok:
            return port
    raise RuntimeError("no port free on all of " + ",".join(hosts))


class Dnsmasq:
    """dnsmasq serving `records` ({name: [ip, ...]}) from a hosts file with TTL 1 s."""

    def __init__(self, tmp, records, ttl=1):
        self.dir = Path(tmp) / "dnsmasq"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hosts = self.dir / "hosts"
        self.port = free_port_on("127.0.0.1")
        self.ttl = ttl
        self._write(records)
        user = getpass.getuser()
        group = grp.getgrgid(os.getgid()).gr_name
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", f"--addn-hosts={self.hosts}", "--listen-address=127.0.0.1",
                "--bind-interfaces", f"--port={self.port}", f"--local-ttl={ttl}",
                f"--pid-file={self.dir}/pid", f"--log-facility={self.dir}/log",
                f"--user={user}", f"--group={group}", "--log-queries"]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    @property
    def servers(self):
        """The value of dns.servers that points c-ares here."""
        return f"127.0.0.1:{self.port}"

    def _write(self, records):
        lines = [f"{ip} {name}" for name, ips in records.items() for ip in ips]
        tmp = self.hosts.with_suffix(".new")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.hosts)

    def set(self, records):
        """New records; dnsmasq re-reads its hosts file on SIGHUP. Returns the time it was sent."""
        self._write(records)
        os.kill(self.proc.pid, signal.SIGHUP)
        return time.monotonic()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    close = stop


class SegmentOrigin:
    """
    A threaded HTTP/1.1 origin on (host, port): GET /healthz is 200; GET of
    any other path answers `body_size` deterministic bytes after `delay`
    seconds, immutable for an hour unless the path has "nostore" in it, with
    X-Origin: tag. `hits` counts requests per path (health probes apart).
    """

    def __init__(self, host, port, tag, delay=0.0, body_size=64 * 1024):
        self.host, self.port, self.tag = host, port, tag
        self.delay, self.body_size = delay, body_size
        self.hits = {}
        self.lock = threading.Lock()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/healthz":
                    self._send(200, b"ok\n", "no-store")
                    return
                with origin.lock:
                    origin.hits[self.path] = origin.hits.get(self.path, 0) + 1
                if origin.delay:
                    time.sleep(origin.delay)
                seed = (self.path.encode() * (origin.body_size // max(1, len(self.path)) + 1))
                cc = ("no-store" if "nostore" in self.path
                      else "max-age=1" if "short" in self.path else "max-age=3600, immutable")
                self._send(200, seed[: origin.body_size], cc)

            def _send(self, status, body, cc):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", cc)
                self.send_header("X-Origin", origin.tag)
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass  # a shield killed mid-response: its socket is gone, nothing to report

        self.server = Server((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def hostport(self):
        return f"{self.host}:{self.port}"

    def total(self, prefix=""):
        with self.lock:
            return sum(n for p, n in self.hits.items() if p.startswith(prefix))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- the ring, in Python

M64 = (1 << 64) - 1


def _mix(x):
    x ^= x >> 30
    x = x * 0xBF58476D1CE4E5B9 & M64
    x ^= x >> 27
    x = x * 0x94D049BB133111EB & M64
    return x ^ (x >> 31)


def shield_hash(b):
    """shield_pick_hash() as docs/upstreams.md defines it."""
    h, i = 0x9E3779B97F4A7C15 ^ (len(b) * 0xC2B2AE3D27D4EB4F & M64), 0
    while len(b) - i >= 8:
        h = _mix(h ^ int.from_bytes(b[i:i + 8], "little"))
        i += 8
    return _mix(h ^ ((len(b) - i) << 56 | int.from_bytes(b[i:], "little")))


def ring_home(names, key, vnodes=160):
    """The member of `names` (all up, weight 100) that owns `key`."""
    points = sorted((shield_hash(f"{n}#{j}".encode()), n, j) for n in names
                    for j in range(vnodes))
    h = shield_hash(key.encode())
    for pos, name, _ in points:
        if pos >= h:
            return name
    return points[0][1]


# ---------------------------------------------------------------- load

async def _one(host, port, path, timeout):
    t0 = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        w.write(f"GET {path} HTTP/1.1\r\nHost: cascade.test\r\nConnection: close\r\n\r\n"
                .encode())
        await w.drain()
        data = await asyncio.wait_for(r.read(), timeout)
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        if length is not None and len(body) != length:
            return ("short", time.monotonic() - t0)
        return (status, time.monotonic() - t0)
    except Exception as exc:  # noqa: BLE001 -- every failure is a result here
        return (type(exc).__name__, time.monotonic() - t0)


def burst(targets, timeout=30.0):
    """targets: [(host, port, path)]; all connect and send at once. [(status, seconds)]."""

    async def run():
        return await asyncio.gather(*(_one(h, p, path, timeout) for h, p, path in targets))

    return asyncio.run(run())


class LoadLoop:
    """
    Threads that each request a new segment in turn, through the given edges
    in rotation, until stop(); every result is kept as (t, edge, path, status,
    seconds) with t on the monotonic clock.
    """

    def __init__(self, edges, prefix, threads=6, timeout=10.0):
        self.edges, self.prefix, self.timeout = edges, prefix, timeout
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.n = 0
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _next(self):
        with self.lock:
            self.n += 1
            return self.n

    def _run(self, i):
        while not self.stopping.is_set():
            n = self._next()
            edge = self.edges[n % len(self.edges)]
            path = f"{self.prefix}{n}.m4s"
            t = time.monotonic()
            status, secs = asyncio.run(_one(edge.addr[0], edge.addr[1], path, self.timeout))
            with self.lock:
                self.results.append((t, edge.name, path, status, secs))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        return self.results


# ---------------------------------------------------------------- nodes on other loopback addresses

from cdn import Node  # noqa: E402


class HostNode(Node):
    """A Node listening on another loopback address than 127.0.0.1."""

    host = "127.0.0.1"

    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def hostport(self):
        return f"{self.host}:{self.port}"


def start_node(cdn, program, kind, host, port, conf=None, timeout=15.0, **flags):
    """cdn.edge()/cdn.origin() with the HTTP listener on host:port (127.0.0.x)."""
    name, node_dir = cdn._new_dir(kind)
    rtmp_port = None
    if program == "cascade-edge":
        flags.setdefault("listen", f"{host}:{port}")
        flags.setdefault("cache_dir", node_dir / "cache")
    else:
        rtmp_port = free_port_on(host)
        flags.setdefault("http", f"{host}:{port}")
        flags.setdefault("rtmp", f"{host}:{rtmp_port}")
        flags.setdefault("data_dir", node_dir / "data")
    argv, conf_path = cdn._argv(program, node_dir, name, conf, flags, ())
    node = HostNode(name, argv[0], argv, node_dir, port, conf_path, rtmp_port)
    node.host = host
    return cdn._start(node, timeout)


# ---------------------------------------------------------------- one encoder, two origins

def publish_tee(ffmpeg, urls, seconds=60):
    """
    One ffmpeg encoding the test pattern once and pushing the same FLV to every
    url (the tee muxer): two origins fed the same encoder, as an operator runs
    a primary and a backup ingest. A cdn.Publisher, stopped with the fixture.
    """
    from cdn import Publisher

    argv = ffmpeg.publish_argv("TEE", seconds)
    assert argv[-3:] == ["-f", "flv", "TEE"], argv[-3:]
    ffmpeg._n += 1
    log = ffmpeg.tmp / f"publisher{ffmpeg._n}.log"
    progress = ffmpeg.tmp / f"publisher{ffmpeg._n}.progress"
    tee = "|".join(f"[f=flv:onfail=ignore]{u}" for u in urls)
    # the tee muxer does not ask the encoders for global headers; FLV needs them
    argv = argv[:-3] + ["-flags", "+global_header", "-map", "0:v", "-map", "1:a",
                        "-progress", str(progress),
                        "-stats_period", "0.1", "-f", "tee", tee]
    pub = Publisher(argv, log, progress)
    ffmpeg.publishers.append(pub)
    return pub
