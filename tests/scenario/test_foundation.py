"""
test_foundation.py -- what every Cascade node does before it serves any video:
start on defaults or a config file, validate and dump its config, answer
/healthz and /metrics, reload on SIGHUP under load, drain on SIGTERM, resist
slow and malformed clients, and spread connections over its workers.

Each test runs for both binaries where the behaviour is shared (the `kind`
parameter), against real processes on loopback (cdn.py).
"""

import re
import select
import socket
import threading
import time

import pytest

from cdn import (
    SOURCE_DIR,
    ConnectionClosed,
    RawConn,
    build_request,
    run_binary,
    send_raw,
    wait_for,
)

# The config keys and metrics this file relies on. conf/*.conf lists every
# key; a renamed key or metric is changed here once.
KEY_LOG_LEVEL = "log.level"
KEY_MAX_HEAD = "http.max_head"
KEY_HEADER_TIMEOUT = "http.header_timeout"
METRIC_REQUESTS = "http.requests"  # counter
METRIC_ERRORS = "http.errors"  # counter, labelled code="timeout_header", ...
METRIC_RELOADS = "node.reloads"  # counter, labelled result="ok" or "failed"
METRIC_WORKER_REQUESTS = "node.worker.requests"  # counter, labelled worker="0", "1", ...
METRIC_WORKERS = "node.workers"  # gauge

PROGRAMS = {"origin": "cascade-origin", "edge": "cascade-edge"}
# A head of about 12 KiB in fields of 3 KiB: over a max_head of 8K, under
# the default max_field (8K) and max_line (8K, which max_head may not undercut).
BIG_HEAD = {f"X-Big-{i}": "b" * 3000 for i in range(4)}
SMALL_MAX_HEAD, LARGE_MAX_HEAD = "8K", "64K"
# conf/ ships every key with its default: `PROGRAM --dump-config` prints these files.
SHIPPED_CONF = {"origin": "origin.conf", "edge": "edge.conf"}


@pytest.fixture(params=["origin", "edge"])
def kind(request):
    return request.param


def start(cdn, kind, **kw):
    """A node of the given kind, on free ports in the test's directory (cdn.py)."""
    return cdn.origin(**kw) if kind == "origin" else cdn.edge(**kw)


def parse_conf(text):
    """Config text (as --dump-config prints it) -> {key: value}, quotes removed."""
    conf = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if value.startswith('"'):
            value = value[1 : value.index('"', 1)]
        else:
            value = value.split("#", 1)[0].strip()
        conf[key] = value
    return conf


# ---------------------------------------------------------------- command line


def test_help_and_version_exit_zero(kind):
    program = PROGRAMS[kind]

    helped = run_binary(program, "--help")
    version = run_binary(program, "--version")

    assert helped.returncode == 0, helped.stderr
    for flag in ("-c", "--check-config", "--dump-config", "--version", "--workers"):
        assert flag in helped.stdout, f"{program} --help does not mention {flag}"
    assert version.returncode == 0, version.stderr
    assert re.search(r"\d+\.\d+\.\d+", version.stdout), version.stdout


def test_unknown_flag_is_refused(kind):
    r = run_binary(PROGRAMS[kind], "--no-such-flag")

    assert r.returncode != 0
    assert "--no-such-flag" in r.stderr


def test_defaults_are_the_documented_addresses():
    edge = parse_conf(run_binary("cascade-edge", "--dump-config").stdout)
    origin = parse_conf(run_binary("cascade-origin", "--dump-config").stdout)

    assert edge["listen"] == "127.0.0.1:8081"
    assert edge["role"] == "edge"
    assert origin["http.listen"] == "127.0.0.1:8080"
    assert origin["rtmp.listen"] == "127.0.0.1:1935"


def test_starts_with_no_config_file(cdn, kind):
    node = start(cdn, kind)

    r = node.get("/healthz")

    assert (r.status, r.body) == (200, b"ok\n")
    assert "-c" not in node.argv


EDGE_OVERRIDES = {
    "--listen": ("listen", "127.0.0.1:9"),
    "--upstream": ("upstream", "127.0.0.1:7,127.0.0.1:8"),
    "--role": ("role", "shield"),
    "--cache-dir": ("cache.dir", "/var/tmp/c"),
    "--cache-size": ("cache.size", "512M"),
    "--workers": ("workers", "3"),
    "--log-level": ("log.level", "debug"),
}
ORIGIN_OVERRIDES = {
    "--http": ("http.listen", "127.0.0.1:9"),
    "--rtmp": ("rtmp.listen", "127.0.0.1:10"),
    "--data-dir": ("data.dir", "/var/tmp/d"),
    "--ladder": ("ladder", "none"),
    "--workers": ("workers", "3"),
    "--log-level": ("log.level", "debug"),
}


@pytest.mark.parametrize(
    "program,overrides",
    [("cascade-edge", EDGE_OVERRIDES), ("cascade-origin", ORIGIN_OVERRIDES)],
    ids=["edge", "origin"],
)
def test_command_line_overrides_reach_the_config(program, overrides):
    argv = [x for flag, (_, value) in overrides.items() for x in (flag, value)]

    r = run_binary(program, *argv, "--dump-config")

    assert r.returncode == 0, r.stderr
    conf = parse_conf(r.stdout)
    assert {key: conf[key] for key, _ in overrides.values()} == dict(overrides.values())


def test_starts_with_overrides_and_a_config_file(cdn, kind):
    node = start(cdn, kind, conf={KEY_MAX_HEAD: SMALL_MAX_HEAD, "workers": 3}, workers=2)

    assert node.get("/healthz").status == 200
    assert node.get("/healthz", headers=BIG_HEAD).status == 431
    assert node.metric(METRIC_WORKERS) == 2, "the command line must win over the file"


# ---------------------------------------------------------------- config files


def test_dump_config_matches_the_shipped_example(kind):
    shipped = SOURCE_DIR / "conf" / SHIPPED_CONF[kind]
    assert shipped.is_file(), f"{shipped} is missing: conf/ must ship every key with its default"

    dumped = run_binary(PROGRAMS[kind], "--dump-config")

    assert dumped.returncode == 0, dumped.stderr
    assert dumped.stdout == shipped.read_text()


def test_every_shipped_config_checks_and_dumps_unchanged():
    files = sorted((SOURCE_DIR / "conf").glob("*.conf"))
    assert {SHIPPED_CONF["origin"], SHIPPED_CONF["edge"]} <= {f.name for f in files}

    for path in files:
        program = PROGRAMS["origin" if path.name == SHIPPED_CONF["origin"] else "edge"]
        checked = run_binary(program, "-c", path, "--check-config")
        dumped = run_binary(program, "-c", path, "--dump-config")
        assert checked.returncode == 0, f"{program} --check-config {path.name}: {checked.stderr}"
        assert dumped.stdout == path.read_text(), f"{path.name} is not what it dumps to"


def test_check_config_accepts_a_good_file(cdn, kind):
    good = cdn.write_file("good.conf", f"# a comment\n\n{KEY_LOG_LEVEL} info   # trailing\n")

    r = cdn.run(PROGRAMS[kind], "-c", good, "--check-config")

    assert r.returncode == 0, r.stderr


BAD_CONFIGS = {
    "unknown key": ("no.such.key 1\n", 3),
    "bad value": (f"{KEY_LOG_LEVEL} loud\n", 3),
    "bad size": (f"{KEY_MAX_HEAD} 12Q\n", 3),
    "out of range": (f"{KEY_MAX_HEAD} 1T\n", 3),
    "duplicate key": (f"{KEY_LOG_LEVEL} info\n{KEY_LOG_LEVEL} warn\n", 4),
    "unterminated quote": (f'{KEY_LOG_LEVEL} "info\n', 3),
}


@pytest.mark.parametrize("what", sorted(BAD_CONFIGS))
def test_check_config_names_file_and_line_of_an_error(cdn, kind, what):
    body, line = BAD_CONFIGS[what]
    bad = cdn.write_file("bad.conf", "# line 1\n\n" + body)

    r = cdn.run(PROGRAMS[kind], "-c", bad, "--check-config")

    assert r.returncode != 0, f"{what}: accepted"
    assert f"{bad}:{line}:" in r.stderr, f"{what}: no {bad}:{line}: in {r.stderr!r}"


def test_bad_config_file_stops_start_up(cdn, kind):
    bad = cdn.write_file("bad.conf", "no.such.key 1\n")

    r = cdn.run(PROGRAMS[kind], "-c", bad, timeout=15)

    assert r.returncode != 0
    assert f"{bad}:1:" in r.stderr


# ---------------------------------------------------------------- /healthz, /metrics, /time


def test_healthz_metrics_and_time(cdn, kind):
    node = start(cdn, kind)
    before = node.metric(METRIC_REQUESTS, default=0)

    statuses = cdn.get_parallel([node.url("/healthz")] * 20)
    metrics = node.get("/metrics")
    clock = node.get("/time")

    assert statuses == [200] * 20
    assert metrics.status == 200
    assert metrics.header("content-type", "").startswith("text/plain")
    assert "# TYPE cascade_" in metrics.text
    assert node.metric(METRIC_REQUESTS) >= before + 20
    assert clock.status == 200
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s*$", clock.text), clock.text


def test_unknown_path_is_an_error_with_a_json_body(cdn, kind):
    """The origin has no such resource: 404. The edge forwards every path, and
    with no upstream running it answers 502 -- in JSON either way."""
    node = start(cdn, kind)

    r = node.get("/no/such/thing")

    assert r.status == (404 if kind == "origin" else 502)
    assert r.header("content-type", "").startswith("application/json")
    assert isinstance(r.json()["error"]["code"], str)


# ---------------------------------------------------------------- SIGHUP reload


def keepalive_load(node, conns, stop, results):
    """Keep-alive GET /healthz loops on `conns` connections until stop is set."""

    def loop(i):
        try:
            with RawConn(node.addr, timeout=5) as c:
                while not stop.is_set():
                    r = c.request("GET", "/healthz")
                    results[i]["ok" if r.status == 200 else "bad"] += 1
                    if r.closes:
                        results[i]["error"] = "server closed the keep-alive connection"
                        return
        except (ConnectionClosed, OSError, ValueError) as exc:
            results[i]["error"] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    return threads


def test_reload_under_load_drops_nothing_and_applies_the_change(cdn, kind):
    node = start(cdn, kind, conf={KEY_MAX_HEAD: LARGE_MAX_HEAD})
    stop = threading.Event()
    results = [{"ok": 0, "bad": 0, "error": None} for _ in range(8)]
    threads = keepalive_load(node, 8, stop, results)

    def big_request_status():
        return node.get("/healthz", headers=BIG_HEAD).status

    try:
        wait_for(lambda: all(r["ok"] > 10 for r in results), timeout=10, what="load running")
        assert big_request_status() == 200
        for i in range(6):
            small = i % 2 == 0
            node.write_conf({KEY_MAX_HEAD: SMALL_MAX_HEAD if small else LARGE_MAX_HEAD})
            node.reload()
            wait_for(lambda: node.metric(METRIC_RELOADS, result="ok", default=0) == i + 1,
                     timeout=10, what=f"reload {i + 1} counted")
            want = 431 if small else 200
            wait_for(lambda: big_request_status() == want, timeout=10, what=f"reload {i + 1} applied")
        served = [r["ok"] for r in results]
        wait_for(lambda: all(r["ok"] > s + 10 for r, s in zip(results, served)), timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(10)

    assert [r["error"] for r in results] == [None] * 8
    assert [r["bad"] for r in results] == [0] * 8
    assert node.alive


def test_reload_refuses_a_bad_file_and_keeps_serving(cdn, kind):
    node = start(cdn, kind, conf={KEY_MAX_HEAD: LARGE_MAX_HEAD})

    node.write_conf({"no.such.key": "1"})
    node.reload()

    wait_for(lambda: node.metric(METRIC_RELOADS, result="failed", default=0) == 1, timeout=10)
    node.wait_log(r"no\.such\.key", timeout=10)
    assert node.get("/healthz", headers=BIG_HEAD).status == 200
    assert node.metric(METRIC_RELOADS, result="ok", default=0) == 0


# ---------------------------------------------------------------- SIGTERM drain


def test_sigterm_drains_and_exits_zero(cdn, kind):
    node = start(cdn, kind)
    idle = node.conn()
    assert idle.request("GET", "/healthz").status == 200
    # In flight: an upload whose body is still arriving when SIGTERM comes.
    # (Neither binary has a slow response to wait on yet; when the edge
    # proxies, a slow cdn.upstream() gives one.)
    upload = node.conn(timeout=10)
    upload.send(build_request("POST", "/healthz", {"Content-Length": "10"}) + b"12345")
    assert upload.response().status in (200, 404, 405)

    node.terminate()

    assert idle.closed_by_peer(timeout=10), "an idle keep-alive connection was not closed"
    wait_for(lambda: refused(node.addr), timeout=10, what="new connections refused")
    assert not upload.closed_by_peer(timeout=0.5), "the upload in flight was cut off"
    upload.send(b"67890")
    assert upload.closed_by_peer(timeout=10), "the finished upload's connection stayed open"
    assert node.wait_exit(15) == 0


def refused(addr):
    try:
        socket.create_connection(addr, timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


# ---------------------------------------------------------------- slow and hostile clients


SLOW_CLIENTS = 1000
HEADER_TIMEOUT_S = 3


def trickle(socks, stop):
    """Every 0.5 s, one more header line on every slow socket still open, never the blank line."""
    while not stop.wait(0.5):
        for s in list(socks):
            try:
                s.send(b"X-Slow: 1\r\n")
            except OSError:
                socks.discard(s)


def test_slowloris_is_contained(cdn, kind):
    node = start(cdn, kind, conf={KEY_HEADER_TIMEOUT: f"{HEADER_TIMEOUT_S}s"})
    timeouts_before = node.metric(METRIC_ERRORS, code="timeout_header", default=0)
    socks, stop, trickler = set(), threading.Event(), None
    try:
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection(node.addr, timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
            socks.add(s)
        trickler = threading.Thread(target=trickle, args=(set(socks), stop))
        trickler.start()

        t0 = time.monotonic()
        r = node.get("/healthz", timeout=5)
        elapsed = time.monotonic() - t0

        assert r.status == 200
        assert elapsed < 1.0, f"a normal request took {elapsed:.2f}s beside {SLOW_CLIENTS} slow ones"

        # The header timeout closes every slow client (perhaps after a 408).
        poller = select.poll()
        by_fd = {s.fileno(): s for s in socks}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)

        def all_closed():
            for fd, _ in poller.poll(200):
                try:
                    data = by_fd[fd].recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data or data.startswith(b"HTTP/1.1 408"):
                    poller.unregister(fd)
                    del by_fd[fd]
            return not by_fd

        wait_for(all_closed, timeout=HEADER_TIMEOUT_S + 15, interval=0,
                 what=f"all {SLOW_CLIENTS} slow clients closed by the header timeout")
    finally:
        stop.set()
        if trickler is not None:
            trickler.join(5)
        for s in socks:
            s.close()

    assert node.metric(METRIC_ERRORS, code="timeout_header") >= timeouts_before + SLOW_CLIENTS
    assert node.get("/healthz").status == 200


def test_oversize_head_is_431_with_a_json_error(cdn, kind):
    node = start(cdn, kind, conf={KEY_MAX_HEAD: SMALL_MAX_HEAD})

    r = node.get("/healthz", headers=BIG_HEAD)
    many, closed = send_raw(
        node.addr,
        build_request("GET", "/healthz", [(f"X-{i}", "v") for i in range(500)]),
    )

    assert r.status == 431
    assert r.header("content-type", "").startswith("application/json")
    error = r.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str)
    assert [m.status for m in many] == [431]
    assert closed


MALFORMED = {
    "bad request line": b"GET /healthz\r\nHost: a\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "space before colon": b"GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n",
    "control byte in header": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
    "no host": b"GET /healthz HTTP/1.1\r\n\r\n",
    "two hosts": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "CL and TE": (
        b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "two content lengths": (
        b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    ),
}


@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_malformed_request_is_400_and_closes(cdn, kind, what):
    node = start(cdn, kind)

    responses, closed = send_raw(node.addr, MALFORMED[what])

    statuses = [r.status for r in responses]
    assert statuses and statuses[-1] == 400, f"{what}: answered {statuses}"
    assert closed, f"{what}: the connection stayed open"
    assert node.get("/healthz").status == 200


def test_bad_chunk_size_closes_and_serves_nothing_behind_it(cdn, kind):
    node = start(cdn, kind)
    bad_body = b"zz\r\nab\r\n0\r\n\r\n"
    smuggled = build_request("GET", "/metrics")

    responses, closed = send_raw(
        node.addr,
        build_request("POST", "/healthz", {"Transfer-Encoding": "chunked"}) + bad_body + smuggled,
    )

    # The handler may answer before it reads the body (then the framing
    # error is found while discarding it, too late for a 400); either way
    # the connection closes and the request behind the bad chunk is not served.
    statuses = [r.status for r in responses]
    assert statuses in ([400], [200]), f"answered {statuses}"
    assert closed
    assert node.metric(METRIC_ERRORS, code="bad_chunk", default=0) == 1


# ---------------------------------------------------------------- workers


def test_two_workers_share_one_port(cdn, kind):
    node = start(cdn, kind, workers=2)

    statuses = [node.get("/healthz").status for _ in range(64)]

    assert statuses == [200] * 64
    per_worker = [node.metric(METRIC_WORKER_REQUESTS, worker=str(w), default=0) for w in (0, 1)]
    assert all(n > 0 for n in per_worker), f"requests per worker: {per_worker}"
    assert node.metric(METRIC_WORKER_REQUESTS, worker="2", default=0) == 0
