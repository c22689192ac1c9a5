"""
cdn.py -- the scenario tests' fixture library: real Cascade binaries on loopback.

A test asks the `cdn` fixture (conftest.py) for nodes and talks to them over
real sockets:

    def test_edge_answers_healthz(cdn):
        origin = cdn.origin()
        edge = cdn.edge(upstream=origin)
        assert edge.get("/healthz").body == b"ok\\n"
        assert edge.metric("http.requests", path="/healthz") == 1

What this owns: starting cascade-origin and cascade-edge from the build tree
($CASCADE_BUILD_DIR, default build/release) on free loopback ports, each in
its own directory under the test's tmp_path with its output in NAME.log;
waiting for /healthz; reading /metrics with the naming rule of
shared/metrics.h; HTTP over hand-made sockets (so a test controls every
byte and sees every close); stopping every node it started, by PID, when the
test ends, whatever happened. Children also get SIGKILL from the kernel if
the pytest process itself dies (PR_SET_PDEATHSIG), so nothing outlives a run.

Not here: the tests (test_*.py), pytest wiring (conftest.py). Later issues
add, at the marked places below: an ffmpeg publisher and DASH client, and a
scripted misbehaving upstream (socketserver).

Never a bare sleep: wait with wait_for(condition, timeout).
"""

import concurrent.futures
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("CASCADE_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BUILD_DIR = Path(os.environ.get("CASCADE_BUILD_DIR") or SOURCE_DIR / "build" / "release")
LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------- waiting


class WaitTimeout(AssertionError):
    """wait_for() ran out of time; the message says what was awaited and what was last seen."""


def wait_for(fn, timeout=10.0, interval=0.02, what=None):
    """
    Calls fn() until it returns something truthy and returns that value.
    Exceptions from fn count as "not yet" (the last one is reported). Raises
    WaitTimeout after `timeout` seconds. NodeDied is never swallowed: a dead
    node will not come back.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except NodeDied:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure means "not yet"
            last = exc
        if time.monotonic() >= deadline:
            name = what or getattr(fn, "__name__", "condition")
            raise WaitTimeout(f"{name} not true after {timeout}s (last: {last!r})")
        time.sleep(interval)


# ---------------------------------------------------------------- sockets and HTTP


def free_port():
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection before a whole response arrived."""


class Response:
    """One parsed HTTP response: status, reason, headers (in order), body (bytes)."""

    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = version

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    @property
    def closes(self):
        """The server said this response ends the connection."""
        conn = (self.header("connection") or "").lower()
        return "close" in conn or (self.version == "HTTP/1.0" and "keep-alive" not in conn)

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} {len(self.body)} bytes>"


class RawConn:
    """
    One TCP connection to (host, port) that sends exactly the bytes it is
    given and parses responses strictly. Use it for malformed requests,
    keep-alive loops, slow senders, and to see when the server closes.
    """

    def __init__(self, addr, timeout=5.0):
        self.addr = addr
        self.timeout = timeout
        self.buf = b""
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def request(self, method, path, headers=None, body=None, host="cascade.test"):
        """Sends one HTTP/1.1 request (keep-alive) and returns its Response."""
        self.send(build_request(method, path, headers, body, host))
        return self.response(method=method)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("read timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as exc:
            raise ConnectionClosed("connection reset") from exc
        if not chunk:
            raise ConnectionClosed("connection closed")
        self.buf += chunk

    def _read_line(self, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2 :]
                return line
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill(deadline)

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, method="GET", timeout=None):
        """Reads one whole response (skipping 1xx). ConnectionClosed if the peer closed first."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            status_line = self._read_line(deadline).decode("latin-1")
            m = re.match(r"^(HTTP/1\.[01]) (\d{3}) ?(.*)$", status_line)
            if not m:
                raise ValueError(f"bad status line {status_line!r}")
            version, status, reason = m.group(1), int(m.group(2)), m.group(3)
            headers = []
            while True:
                line = self._read_line(deadline).decode("latin-1")
                if not line:
                    break
                name, sep, value = line.partition(":")
                if not sep:
                    raise ValueError(f"bad header line {line!r}")
                headers.append((name, value.strip()))
            if 100 <= status < 200:
                continue
            break
        resp = Response(status, reason, headers, b"", version)
        if method == "HEAD" or status in (204, 304):
            return resp
        te = (resp.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body = b""
            while True:
                size = int(self._read_line(deadline).split(b";")[0], 16)
                if size == 0:
                    while self._read_line(deadline):  # trailers
                        pass
                    break
                body += self._read_exact(size, deadline)
                self._read_line(deadline)
            resp.body = body
        elif resp.header("content-length") is not None:
            resp.body = self._read_exact(int(resp.header("content-length")), deadline)
        else:
            resp.body = self.read_until_close(deadline - time.monotonic())
        return resp

    def read_until_close(self, timeout=None):
        """Everything the peer sends until it closes; raises socket.timeout if it does not."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        try:
            while True:
                self._fill(deadline)
        except ConnectionClosed:
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_by_peer(self, timeout=None):
        """True when the server closes (or resets) within timeout; unread bytes are dropped."""
        try:
            self.read_until_close(timeout)
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, headers=None, body=None, host="cascade.test"):
    """The bytes of an HTTP/1.1 request; headers is a dict or a list of pairs."""
    if isinstance(body, str):
        body = body.encode()
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in pairs}
    if "host" not in names and host is not None:
        pairs.insert(0, ("Host", host))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        pairs.append(("Content-Length", str(len(body))))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def send_raw(addr, data, timeout=5.0):
    """
    Opens a connection, sends data as it is, and returns (responses, closed):
    every response parsed until the server closes or goes quiet for timeout.
    """
    responses = []
    with RawConn(addr, timeout) as c:
        c.send(data)
        try:
            while True:
                responses.append(c.response(timeout=timeout))
        except ConnectionClosed:
            return responses, True
        except socket.timeout:
            return responses, False


def http_get(url, headers=None, timeout=5.0):
    """GET url on a fresh connection (Connection: close) and return the Response."""
    u = urllib.parse.urlsplit(url)
    target = u.path or "/"
    if u.query:
        target += "?" + u.query
    hdrs = dict(headers or {})
    hdrs.setdefault("Connection", "close")
    with RawConn((u.hostname, u.port or 80), timeout) as c:
        return c.request("GET", target, hdrs, host=u.netloc)


def get_parallel(urls, workers=16, timeout=10.0):
    """GETs every url at once (each on its own connection); statuses in the order of urls.
    A request that failed outright shows as the text of its exception."""

    def one(url):
        try:
            return http_get(url, timeout=timeout).status
        except Exception as exc:  # noqa: BLE001 -- reported in the result list
            return f"{type(exc).__name__}: {exc}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(urls) or 1)) as ex:
        return list(ex.map(one, urls))


# ---------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_metrics(text):
    """Prometheus text -> (types {family: type}, samples [(name, {label: value}, float)])."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"bad metrics line {line!r}")
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(2) or "")}
        samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def prometheus_names(name):
    """
    The names a dotted metric may be rendered as (shared/metrics.h):
    "http.requests" -> cascade_http_requests_total (counter) or
    cascade_http_requests (gauge). A name already starting with "cascade_" is
    taken as rendered.
    """
    if name.startswith("cascade_"):
        return [name]
    base = "cascade_" + name.replace(".", "_")
    return [base + "_total", base]


_RAISE = object()


def metric_value(text, name, default=_RAISE, **labels):
    """Sum of the samples of `name` whose labels include `labels` (see Node.metric)."""
    _, samples = parse_metrics(text)
    want = {k: str(v) for k, v in labels.items()}
    names = prometheus_names(name)
    found = [
        v for n, lab, v in samples if n in names and all(lab.get(k) == x for k, x in want.items())
    ]
    if found:
        return sum(found)
    if default is not _RAISE:
        return default
    prefix = names[-1].split("_")[0] + "_" + names[-1].split("_")[1]
    near = sorted({n for n, _, _ in samples if n.startswith(prefix)})
    raise KeyError(f"no sample {' or '.join(names)} with labels {want}; similar: {near[:20]}")


# ---------------------------------------------------------------- processes

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover -- glibc is always there on Debian
    _libc = None


def _die_with_parent():
    """Runs in the child between fork and exec: SIGKILL when pytest's thread dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def binary(name):
    """Path of a built program; a clear failure when the build lacks it."""
    path = BUILD_DIR / name
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path} is missing: build it first (./cascade build)")
    return path


def run_binary(name, *args, timeout=30, cwd=None, env=None):
    """Runs a program of the build to completion (e.g. --check-config); CompletedProcess, text."""
    return subprocess.run(
        [str(binary(name)), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def write_conf(path, conf):
    """Writes a config file: one `key value` line per item of the dict, in order."""
    lines = []
    for key, value in conf.items():
        if isinstance(value, bool):
            value = "on" if value else "off"
        value = str(value)
        if value == "" or re.search(r'[\s#"]', value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} {value}\n")
    Path(path).write_text("".join(lines))


class NodeDied(AssertionError):
    """A node exited while a test was waiting on it; the message has its log tail."""


class Node:
    """
    One running cascade-origin or cascade-edge. Attributes: name ("edge1"),
    program, argv, dir (its own directory), log_path (stdout and stderr),
    conf_path (or None), port (HTTP), rtmp_port (origins), proc.
    """

    def __init__(self, name, program, argv, node_dir, port, conf_path=None, rtmp_port=None):
        self.name = name
        self.program = program
        self.argv = argv
        self.dir = node_dir
        self.port = port
        self.rtmp_port = rtmp_port
        self.conf_path = conf_path
        self.log_path = node_dir / f"{name}.log"
        self.proc = None
        self.expected_exit = False  # set by stop() and kill9(): the test ended it

    # -- life

    def start(self, timeout=15.0):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=15.0):
        def healthy():
            self.check_alive()
            r = http_get(self.url("/healthz"), timeout=1.0)
            return r.status == 200 and r.body == b"ok\n"

        wait_for(healthy, timeout, what=f"{self.name} /healthz")

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def check_alive(self):
        if not self.alive:
            self.expected_exit = True  # reported here: teardown need not repeat it
            raise NodeDied(
                f"{self.name} exited with {describe_exit(self.proc.returncode)}\n"
                f"{self.name}: {' '.join(self.argv)}\n--- last lines of {self.log_path}:\n"
                + self.log_tail()
            )

    def reload(self):
        """SIGHUP: the node rereads conf_path. Returns at once; wait for the effect."""
        self.check_alive()
        os.kill(self.proc.pid, signal.SIGHUP)

    def terminate(self):
        """SIGTERM without waiting (drain tests watch what happens meanwhile)."""
        self.expected_exit = True
        self.check_alive()
        os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code (negative: killed by that signal)."""
        self.expected_exit = True
        if self.alive:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running {timeout}s after SIGTERM") from None

    def kill9(self):
        """SIGKILL, as a crash would; returns once the process is gone."""
        self.expected_exit = True
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(10)

    def restart(self, timeout=15.0):
        """Starts the node again with the same argv (ports, data) after stop() or kill9()."""
        assert not self.alive, f"{self.name} is still running"
        self.expected_exit = False
        return self.start(timeout)

    def write_conf(self, conf):
        """Replaces the node's config file (it must have been started with conf=...)."""
        assert self.conf_path is not None, f"{self.name} was started without a config file"
        write_conf(self.conf_path, conf)

    # -- talking to it

    @property
    def addr(self):
        return (LOOPBACK, self.port)

    @property
    def hostport(self):
        return f"{LOOPBACK}:{self.port}"

    def url(self, path="/"):
        return f"http://{self.hostport}{path}"

    def rtmp_url(self, path):
        return f"rtmp://{LOOPBACK}:{self.rtmp_port}/{path.lstrip('/')}"

    def get(self, path, headers=None, timeout=5.0):
        return http_get(self.url(path), headers, timeout)

    def request(self, method, path, headers=None, body=None, timeout=5.0):
        """Any method on a fresh connection (Connection: close); the Response."""
        hdrs = dict(headers or {})
        hdrs.setdefault("Connection", "close")
        with RawConn(self.addr, timeout) as c:
            return c.request(method, path, hdrs, body, host=self.hostport)

    # -- live streams (origins)

    def create_stream(self, name=None):
        """POST /api/streams; the JSON answer: name, key, publish_url, manifest, master."""
        body = json.dumps({} if name is None else {"name": name})
        r = self.request("POST", "/api/streams", {"Content-Type": "application/json"}, body)
        assert r.status == 201, f"{self.name}: POST /api/streams answered {r.status} {r.text}"
        return r.json()

    def publish_url(self, stream):
        """rtmp://.../live/KEY for a stream dict from create_stream()."""
        return self.rtmp_url("live/" + stream["key"])

    def live_path(self, stream_name, file="manifest.mpd"):
        return f"/live/{stream_name}/{file}"

    def live_dir(self, stream_name):
        """The stream's files on disk (the origin's --data-dir is its dir/data)."""
        return Path(self.dir) / "data" / "live" / stream_name

    def segments(self, stream_name, rep):
        """Media times of the segment files of one representation, sorted."""
        d = self.live_dir(stream_name) / rep
        if not d.is_dir():
            return []
        return sorted(int(p.name[:-4]) for p in d.glob("*.m4s") if p.name[:-4].isdigit())

    def conn(self, timeout=5.0):
        """A RawConn to this node."""
        return RawConn(self.addr, timeout)

    def metrics_text(self):
        r = self.get("/metrics")
        assert r.status == 200, f"{self.name} /metrics answered {r.status}"
        return r.text

    def metric(self, name, default=_RAISE, **labels):
        """
        Current value of a metric, by its dotted name ("http.requests"), summed
        over the series whose labels include `labels`. Raises KeyError when no
        such series exists, unless a default is given.
        """
        return metric_value(self.metrics_text(), name, default, **labels)

    # -- its output

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "".join(self.log().splitlines(keepends=True)[-n:])

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Waits until `pattern` (a regex) matches at least `count` lines of the log."""
        rx = re.compile(pattern)

        def seen():
            return sum(1 for line in self.log().splitlines() if rx.search(line)) >= count

        return wait_for(seen, timeout, what=f"{count}x /{pattern}/ in {self.name}'s log")

    def __repr__(self):
        return f"<Node {self.name} pid={self.proc.pid if self.proc else None} port={self.port}>"


def describe_exit(code):
    if code is None:
        return "no exit yet"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _flags(flags):
    """{"cache_size": "64M", "workers": 2} -> ["--cache-size", "64M", "--workers", "2"]."""
    argv = []
    for key, value in flags.items():
        if value is None or value is False:
            continue
        argv.append("--" + key.replace("_", "-"))
        if value is not True:
            argv.append(str(value))
    return argv


def _upstream_arg(upstream):
    if isinstance(upstream, (list, tuple)):
        return ",".join(_upstream_arg(u) for u in upstream)
    if isinstance(upstream, (Node, ScriptedUpstream)):
        return upstream.hostport
    return str(upstream)


class CDN:
    """
    The nodes of one test. cdn.origin() and cdn.edge() start them; close()
    (run by the fixture) stops them all by PID and reports any that crashed.
    Keyword arguments are command-line flags (cache_size="64M" is
    --cache-size 64M); conf={"key": value} writes a config file and passes
    -c FILE (conf={} gives an empty file, so the node can be reloaded).
    """

    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.nodes = []
        self.servers = []
        self._count = {}

    def _new_dir(self, kind):
        self._count[kind] = self._count.get(kind, 0) + 1
        name = f"{kind}{self._count[kind]}"
        node_dir = self.tmp / name
        node_dir.mkdir(parents=True)
        return name, node_dir

    def _start(self, node, timeout):
        self.nodes.append(node)
        return node.start(timeout)

    def origin(self, conf=None, args=(), timeout=15.0, **flags):
        """Starts cascade-origin: --http and --rtmp on free ports, --data-dir in its directory."""
        name, node_dir = self._new_dir("origin")
        port, rtmp_port = free_port(), free_port()
        flags.setdefault("http", f"{LOOPBACK}:{port}")
        flags.setdefault("rtmp", f"{LOOPBACK}:{rtmp_port}")
        flags.setdefault("data_dir", node_dir / "data")
        argv, conf_path = self._argv("cascade-origin", node_dir, name, conf, flags, args)
        node = Node(name, argv[0], argv, node_dir, port, conf_path, rtmp_port)
        return self._start(node, timeout)

    def edge(self, upstream=None, role="edge", conf=None, args=(), timeout=15.0, **flags):
        """Starts cascade-edge: --listen on a free port, --cache-dir in its directory."""
        name, node_dir = self._new_dir("shield" if role == "shield" else "edge")
        port = free_port()
        flags.setdefault("listen", f"{LOOPBACK}:{port}")
        flags.setdefault("role", role)
        flags.setdefault("cache_dir", node_dir / "cache")
        if upstream is not None:
            flags.setdefault("upstream", _upstream_arg(upstream))
        argv, conf_path = self._argv("cascade-edge", node_dir, name, conf, flags, args)
        node = Node(name, argv[0], argv, node_dir, port, conf_path)
        return self._start(node, timeout)

    @staticmethod
    def _argv(program, node_dir, name, conf, flags, args):
        argv = [str(binary(program))]
        conf_path = None
        if conf is not None:
            conf_path = node_dir / f"{name}.conf"
            write_conf(conf_path, conf)
            argv += ["-c", str(conf_path)]
        for key in ("data_dir", "cache_dir"):
            if key in flags and flags[key] is not None:
                Path(flags[key]).mkdir(parents=True, exist_ok=True)
        return argv + _flags(flags) + [str(a) for a in args], conf_path

    def run(self, program, *args, timeout=30):
        """Runs a program to completion in the test's directory (--check-config, --dump-config)."""
        return run_binary(program, *args, timeout=timeout, cwd=self.tmp)

    def write_file(self, name, text):
        path = self.tmp / name
        path.write_text(text)
        return path

    get_parallel = staticmethod(get_parallel)

    def upstream(self, handler):
        """Starts a ScriptedUpstream (below); closed with the test's nodes."""
        server = ScriptedUpstream(handler)
        self.servers.append(server)
        return server

    def close(self):
        """
        Stops every node still running (SIGTERM, then SIGKILL after 10 s) and
        every helper server. Returns the problems to report: a node that died
        of a signal the test did not send, or that did not exit 0 on SIGTERM.
        """
        problems = []
        for node in reversed(self.nodes):
            if node.proc is None:
                continue
            if node.alive and node.expected_exit:
                # The test already stopped it and judges the outcome itself.
                node.proc.kill()
                node.proc.wait()
            elif node.alive:
                os.kill(node.proc.pid, signal.SIGTERM)
                try:
                    code = node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
                    problems.append(f"{node.name} ignored SIGTERM for 10 s; killed")
                    continue
                if code != 0:
                    problems.append(f"{node.name} exited with {describe_exit(code)} on SIGTERM")
            elif not node.expected_exit:
                problems.append(
                    f"{node.name} died during the test: {describe_exit(node.proc.returncode)}"
                )
        for server in self.servers:
            server.close()
        return problems

    # ------------------------------------------------------------ later fixtures
    #
    # The ffmpeg publisher and DASH/HLS client are the `ffmpeg` fixture
    # (class FFmpeg below, conftest.py); it stops its processes by PID.
    #
    # Misbehaving upstreams: cdn.upstream(handler) and ScriptedUpstream
    # below; add ready-made behaviours (slow, 503, reset mid-body, wrong
    # length) next to it.


# ---------------------------------------------------------------- ffmpeg: publisher and client

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"


class Publisher:
    """
    One running `ffmpeg -re ... -f flv rtmp://...`. published_seconds() is
    the media time ffmpeg has written so far (its -progress output, every
    100 ms).
    """

    def __init__(self, argv, log_path, progress_path):
        self.argv = argv
        self.log_path = log_path
        self.progress_path = progress_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self):
        return self.proc.pid

    @property
    def alive(self):
        return self.proc.poll() is None

    def published_seconds(self):
        """Last out_time ffmpeg reported, in seconds (0.0 before the first report)."""
        try:
            text = Path(self.progress_path).read_text(errors="replace")
        except FileNotFoundError:
            return 0.0
        times = re.findall(r"^out_time_us=(\d+)$", text, re.M)
        return int(times[-1]) / 1e6 if times else 0.0

    def wait(self, timeout=60.0):
        """Waits for ffmpeg to exit; its exit code."""
        return self.proc.wait(timeout)

    def stop(self, timeout=10.0):
        """SIGINT (ffmpeg ends its output cleanly: FCUnpublish, deleteStream), then SIGKILL."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self):
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(10)

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""


class DecodeResult:
    """What ffmpeg said while decoding: returncode, error lines (-v error), stderr."""

    def __init__(self, returncode, stderr):
        self.returncode = returncode
        self.stderr = stderr
        self.errors = [line for line in stderr.splitlines() if line.strip()]

    @property
    def ok(self):
        return self.returncode == 0 and not self.errors

    def __repr__(self):
        return f"<DecodeResult rc={self.returncode} errors={self.errors[:5]}>"


class FFmpeg:
    """
    The ffmpeg fixture: publish() starts a test-pattern publisher (H.264 +
    AAC, one keyframe every `gop` frames); decode() plays a URL (a live or
    static MPD, an HLS playlist) for a while and reports every error line;
    probe() is ffprobe's JSON. close() stops every publisher by PID.
    """

    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.publishers = []
        self._n = 0

    def publish_argv(self, url, seconds=20, size="640x360", rate=30, gop=60, realtime=True):
        argv = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning"]
        if realtime:
            argv.append("-re")
        argv += [
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
            "-f", "lavfi", "-i", "sine=frequency=1000",
        ]
        if seconds is not None:
            argv += ["-t", str(seconds)]
        argv += [
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-c:a", "aac", "-f", "flv", url,
        ]  # fmt: skip
        return argv

    def publish(self, url, seconds=20, **kw):
        """Starts publishing to url (rtmp://...) and returns the Publisher at once."""
        self._n += 1
        log_path = self.tmp / f"publisher{self._n}.log"
        progress = self.tmp / f"publisher{self._n}.progress"
        argv = self.publish_argv(url, seconds, **kw)
        argv[-1:-1] = ["-progress", str(progress), "-stats_period", "0.1"]
        pub = Publisher(argv, log_path, progress)
        self.publishers.append(pub)
        return pub

    def decode(self, url, seconds, timeout=90.0, extra=()):
        """Decodes `seconds` of url to nothing; a DecodeResult (ok: exit 0 and no error line)."""
        argv = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", *extra, "-i", url,
                "-t", str(seconds), "-f", "null", "-"]  # fmt: skip
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        except subprocess.TimeoutExpired as exc:
            return DecodeResult(-1, f"timed out after {timeout}s: {exc.stderr or ''}")
        return DecodeResult(p.returncode, p.stderr)

    def probe(self, url, timeout=60.0):
        """ffprobe -show_format -show_streams as a dict."""
        argv = [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", url]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        assert p.returncode == 0, f"ffprobe {url} failed: {p.stderr}"
        return json.loads(p.stdout)

    def close(self):
        for pub in self.publishers:
            if pub.alive:
                pub.kill()


class ScriptedUpstream:
    """
    A tiny HTTP upstream on a free loopback port that answers from a script:
    handler(request_line, headers, conn) writes whatever it wants to conn (a
    socket) -- slowly, wrongly, or not at all. One thread per connection.
    cdn.upstream(handler) starts one; it is closed with the test's nodes.
    Bytes that arrived behind the head (the start of a body) are the
    handler's through pending(conn); what it leaves there is read as the
    next request.
    """

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.create_server((LOOPBACK, 0))
        self.port = self.sock.getsockname()[1]
        self.requests = []  # request lines, in arrival order
        self._stop = threading.Event()
        self._conns = []
        self._pending = {}  # conn -> bytes read past the head, during its handler
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def hostport(self):
        return f"{LOOPBACK}:{self.port}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                self.requests.append(lines[0])
                self._pending[conn] = buf
                keep = self.handler(lines[0], headers, conn) is not False
                buf = self._pending.pop(conn)
                if not keep:
                    return
        except OSError:
            return
        finally:
            conn.close()

    def pending(self, conn):
        """Takes the bytes read past the current request's head on conn (b"" if none)."""
        data, self._pending[conn] = self._pending[conn], b""
        return data

    def close(self):
        self._stop.set()
        self.sock.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._thread.join(5)

