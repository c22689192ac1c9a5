"""
upstreams.py -- upstreams and clients for the edge's scenario tests.

  Origin       a scripted HTTP/1.1 upstream (socketserver, a thread per
               connection, keep-alive) whose routes say what to answer and
               how to misbehave: slow head, slow body, 503, reset mid-body,
               wrong Content-Length, any header; it counts requests per path
               and can answer conditionals with 304.
  Nginx        Debian's nginx as a well-behaved origin, with its own config
               and directory, on a free port; stopped by PID.
  fetch_many   N concurrent GETs on N connections (asyncio): statuses,
               bodies' sha256 and headers, for the collapsing and load tests.

Every server registers itself with the test's CDN (cdn.servers), so it is
closed with the test's nodes whatever happens. Never a bare sleep in a
test: wait_for() from cdn.py.
"""

import asyncio
import hashlib
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from email.utils import formatdate
from pathlib import Path

from cdn import LOOPBACK, _die_with_parent, free_port, wait_for


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def http_date(t=None):
    return formatdate(time.time() if t is None else t, usegmt=True)


class Route:
    """
    What the Origin answers for one path. Every argument is optional:

      body          bytes (or a callable(request) -> bytes)
      status        int
      headers       dict or list of pairs, sent as given (after Date)
      head_delay    seconds before the status line
      gate          a threading.Event the head waits for (deterministic collapsing)
      chunk, chunk_delay   send the body in pieces of `chunk` bytes, pausing between
      chunked       use Transfer-Encoding: chunked instead of Content-Length
      reset_after   bytes of body after which the connection is reset (RST)
      close_after   bytes of body after which the connection is closed (FIN)
      length        Content-Length to declare (a wrong one, for the misbehaving case)
      etag, last_modified   validators; a matching If-None-Match / If-Modified-Since
                    gets 304 (with revalidate_headers, if given; without the validators
                    themselves when bare_304)
      handler       callable(request, conn) that writes the whole answer itself
    """

    def __init__(self, body=b"", status=200, headers=None, **kw):
        self.body = body
        self.status = status
        self.headers = headers or {}
        self.head_delay = kw.pop("head_delay", 0)
        self.gate = kw.pop("gate", None)
        self.chunk = kw.pop("chunk", None)
        self.chunk_delay = kw.pop("chunk_delay", 0)
        self.chunked = kw.pop("chunked", False)
        self.reset_after = kw.pop("reset_after", None)
        self.close_after = kw.pop("close_after", None)
        self.length = kw.pop("length", None)
        self.etag = kw.pop("etag", None)
        self.last_modified = kw.pop("last_modified", None)
        self.revalidate_headers = kw.pop("revalidate_headers", None)
        self.bare_304 = kw.pop("bare_304", False)
        self.handler = kw.pop("handler", None)
        if kw:
            raise TypeError(f"unknown Route arguments {sorted(kw)}")


class Request:
    """One request as the Origin saw it."""

    def __init__(self, method, target, headers):
        self.method = method
        self.target = target
        self.path = target.split("?", 1)[0]
        self.headers = headers  # lowercased names -> value (last one wins)

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return f"<Request {self.method} {self.target}>"


def _pairs(headers):
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        origin = self.server.origin
        conn = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        origin.connections += 1
        with origin._lock:
            origin._conns.append(conn)
        buf = b""
        while not origin.closing:
            while b"\r\n\r\n" not in buf:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            while len(buf) < n:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            body, buf = buf[:n], buf[n:]
            req = Request(method, target, headers)
            req.body = body
            origin._record(req)
            try:
                keep = origin._answer(req, conn)
            except OSError:
                return
            if not keep:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


class Origin:
    """
    A scripted upstream on a free loopback port. origin.route(path, Route(...))
    or origin.route(path, body=..., headers=...) says what to answer; paths
    without a route get 404. origin.count(path) is how many requests it took.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.counts = {}
        self.connections = 0
        self.closing = False
        self._conns = []
        self._lock = threading.Lock()
        self.server = _Server((LOOPBACK, 0), _Handler)
        self.server.origin = self
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def hostport(self):
        return f"{LOOPBACK}:{self.port}"

    def route(self, path, route=None, **kw):
        self.routes[path] = route if route is not None else Route(**kw)
        return self.routes[path]

    def count(self, path=None, method=None):
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path) and (method is None or r.method == method)
            )

    def last(self, path):
        with self._lock:
            for r in reversed(self.requests):
                if r.path == path:
                    return r
        return None

    def _record(self, req):
        with self._lock:
            self.requests.append(req)

    def _answer(self, req, conn):
        route = self.routes.get(req.path)
        if route is None:
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nCache-Control: no-store\r\n\r\n"
                b"not found\n"
            )
            return True
        if route.handler is not None:
            return route.handler(req, conn) is not False
        if route.gate is not None:
            route.gate.wait(30)
        if route.head_delay:
            time.sleep(route.head_delay)
        body = route.body(req) if callable(route.body) else route.body
        status = route.status
        extra = []
        if route.etag is not None:
            extra.append(("ETag", route.etag))
        if route.last_modified is not None:
            extra.append(("Last-Modified", route.last_modified))
        inm = req.header("if-none-match")
        ims = req.header("if-modified-since")
        if (route.etag is not None and inm is not None and route.etag in inm) or (
            inm is None and route.last_modified is not None and ims == route.last_modified
        ):
            lines = ["HTTP/1.1 304 Not Modified", f"Date: {http_date()}"]
            lines += [] if route.bare_304 else [f"{k}: {v}" for k, v in extra]
            lines += [f"{k}: {v}" for k, v in _pairs(route.revalidate_headers or route.headers)]
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            return True
        lines = [f"HTTP/1.1 {status} X", f"Date: {http_date()}"]
        lines += [f"{k}: {v}" for k, v in extra]
        lines += [f"{k}: {v}" for k, v in _pairs(route.headers)]
        send_body = req.method != "HEAD" and status not in (204, 304)
        if route.chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {route.length if route.length is not None else len(body)}")
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if not send_body:
            return True
        step = route.chunk or len(body) or 1
        sent = 0
        while sent < len(body):
            piece = body[sent : sent + step]
            if route.reset_after is not None and sent + len(piece) > route.reset_after:
                piece = piece[: route.reset_after - sent]
                self._send_piece(conn, piece, route.chunked)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
                return False
            if route.close_after is not None and sent + len(piece) > route.close_after:
                piece = piece[: route.close_after - sent]
                self._send_piece(conn, piece, route.chunked)
                conn.shutdown(socket.SHUT_RDWR)
                return False
            self._send_piece(conn, piece, route.chunked)
            sent += len(piece)
            if route.chunk_delay and sent < len(body):
                time.sleep(route.chunk_delay)
        if route.chunked:
            conn.sendall(b"0\r\n\r\n")
        if route.length is not None and route.length != len(body):
            conn.shutdown(socket.SHUT_RDWR)
            return False
        return True

    @staticmethod
    def _send_piece(conn, piece, chunked):
        if not piece:
            return
        if chunked:
            conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        else:
            conn.sendall(piece)

    def close(self):
        """Stops listening and closes every connection: the upstream is gone."""
        self.closing = True
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)


def origin(cdn):
    """A new Origin, closed with the test's nodes."""
    o = Origin()
    cdn.servers.append(o)
    return o


class Nginx:
    """
    Debian's nginx serving `root` on a free loopback port, with its own
    config, logs and temp dirs under `workdir`; `extra` is added to the
    server block (add_header lines, say). access_count(path) reads its log.
    """

    def __init__(self, workdir, root, extra=""):
        binary = "/usr/sbin/nginx"
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("nginx is missing: apt-get install -y nginx-light")
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root = Path(root)
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        conf = self.dir / "nginx.conf"
        tmp = self.dir / "tmp"
        tmp.mkdir(exist_ok=True)
        conf.write_text(
            f"""daemon off;
master_process off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    types {{ application/dash+xml mpd; video/mp4 m4s mp4; text/plain txt; }}
    default_type application/octet-stream;
    access_log {self.access_log};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000;
    server {{
        listen {LOOPBACK}:{self.port};
        root {self.root};
        {extra}
    }}
}}
"""
        )
        with open(self.dir / "nginx.out", "ab") as out:
            self.proc = subprocess.Popen(
                [binary, "-c", str(conf), "-p", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                preexec_fn=_die_with_parent,
            )

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited: {(self.dir / 'error.log').read_text()}")
            with socket.create_connection((LOOPBACK, self.port), timeout=1):
                return True

        wait_for(up, 10, what="nginx listening")

    @property
    def hostport(self):
        return f"{LOOPBACK}:{self.port}"

    def access_count(self, path):
        try:
            lines = self.access_log.read_text().splitlines()
        except FileNotFoundError:
            return 0
        return sum(1 for line in lines if f" {path} HTTP/" in line or f" {path}?" in line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def nginx(cdn, root, extra=""):
    """An Nginx in the test's directory, stopped with the test's nodes."""
    n = Nginx(cdn.tmp / f"nginx{len(cdn.servers)}", root, extra)
    cdn.servers.append(n)
    return n


# ---------------------------------------------------------------- clients


async def _fetch_one(host, port, target, headers, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: cascade.test\r\n{hdrs}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        rh = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                rh[k.strip().lower()] = v.strip()
        if "content-length" in rh:
            body = await asyncio.wait_for(reader.readexactly(int(rh["content-length"])), timeout)
        elif "chunked" in rh.get("transfer-encoding", ""):
            body = b""
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                body += await reader.readexactly(size)
                await reader.readline()
        else:
            body = await asyncio.wait_for(reader.read(), timeout)
        return status, rh, body
    finally:
        writer.close()


def fetch_many(addr, target, n, headers=None, timeout=60.0, on_started=None):
    """
    n GETs of target at once, each on its own connection. Returns a list of
    (status, headers, sha256) -- or (error text, {}, None) for a request that
    failed. on_started(), if given, runs in a thread once every connection is
    open and every request sent (to release a gated origin).
    """

    async def run():
        sem = asyncio.Semaphore(2000)

        async def one():
            async with sem:
                try:
                    status, rh, body = await _fetch_one(addr[0], addr[1], target, headers, timeout)
                    return status, rh, sha256(body)
                except Exception as exc:  # noqa: BLE001 -- reported in the results
                    return f"{type(exc).__name__}: {exc}", {}, None

        tasks = [asyncio.ensure_future(one()) for _ in range(n)]
        if on_started is not None:
            await asyncio.get_running_loop().run_in_executor(None, on_started)
        return await asyncio.gather(*tasks)

    return asyncio.run(run())
