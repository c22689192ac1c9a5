"""
test_edge_collapse.py -- request collapsing (issue 3, point 3): one upstream
fetch per object however many clients ask, on whichever worker they land;
waiters get the bytes as they arrive; the waiting list is bounded and has a
timeout; a fetch that fails before its head answers every waiter 502 at
once; a fetch that dies midway is never stored; one slow client neither
holds the fetch nor pins unbounded memory.

Who runs: a cascade-edge (two workers, so waiters sit on both) in front of
the scripted Origin, whose `gate` holds the head until every client is
waiting -- no timing luck involved.
"""

import socket
import threading
import time

from cdn import ConnectionClosed, RawConn, build_request, wait_for
from upstreams import Route, fetch_many, origin, sha256

MB = 1 << 20


def payload(n, seed=7):
    """n deterministic bytes that differ at every offset a bug could confuse."""
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def release_when(edge, gate, metric, value, timeout=60):
    """Opens the gate once the edge's metric reaches value (every client is waiting)."""

    def run():
        wait_for(lambda: edge.metric(metric, default=0) >= value, timeout, interval=0.05,
                 what=f"{metric} >= {value}")
        gate.set()

    return run


def test_1000_concurrent_first_requests_make_one_fetch(cdn):
    body = payload(MB)
    gate = threading.Event()
    up = origin(cdn)
    # slow: the head waits for every client, then the body trickles in 64 KiB pieces
    up.route("/vod/big.m4s", Route(body=body, gate=gate, chunk=64 * 1024, chunk_delay=0.02,
                                   headers={"Cache-Control": "max-age=600"}))
    edge = cdn.edge(upstream=up.hostport, workers=2)

    results = fetch_many(edge.addr, "/vod/big.m4s", 1000,
                         on_started=release_when(edge, gate, "edge.collapse.waiters", 999))

    bad = [r for r in results if r[0] != 200 or r[2] != sha256(body)]
    assert not bad, f"{len(bad)} wrong answers, e.g. {bad[:3]}"
    assert up.count("/vod/big.m4s") == 1
    assert edge.metric("edge.collapse.waiters") == 999
    assert edge.metric("edge.upstream.requests") == 1
    # and the object is now a hit
    r = edge.get("/vod/big.m4s")
    assert r.header("cache-status").startswith("cascade-edge; hit") and sha256(r.body) == sha256(body)


def test_waiters_get_bytes_as_they_arrive(cdn):
    body = payload(MB)
    gate = threading.Event()
    up = origin(cdn)
    # 10 pieces 0.4 s apart: the whole body takes about 4 s to arrive
    up.route("/live/slow.m4s", Route(body=body, gate=gate, chunk=len(body) // 10 + 1,
                                     chunk_delay=0.4, headers={"Cache-Control": "max-age=60"}))
    edge = cdn.edge(upstream=up.hostport, workers=2)
    conns = [RawConn(edge.addr, timeout=10) for _ in range(3)]
    for c in conns:
        c.send(build_request("GET", "/live/slow.m4s"))
    wait_for(lambda: edge.metric("edge.collapse.waiters", default=0) >= 2, 5, what="2 waiters")
    start = time.monotonic()
    gate.set()

    firsts = []
    for c in conns:
        c.sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) == 0:
            data += c.sock.recv(65536)
        firsts.append(time.monotonic() - start)
    for c in conns:
        c.close()

    assert max(firsts) < 2.0, f"first body bytes only after {max(firsts):.1f}s"
    assert up.count("/live/slow.m4s") == 1


def test_waiting_list_is_bounded(cdn):
    gate = threading.Event()
    up = origin(cdn)
    up.route("/hot", Route(body=b"h" * 1000, gate=gate, headers={"Cache-Control": "max-age=60"}))
    edge = cdn.edge(upstream=up.hostport, conf={"collapse.max_waiters": 5})

    results = fetch_many(edge.addr, "/hot", 20,
                         on_started=release_when(edge, gate, "edge.collapse.rejected", 15))

    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 5 + [503] * 15  # 5 clients on the fetch (its leader too)
    assert all(r[1].get("retry-after") == "1" for r in results if r[0] == 503)
    assert up.count("/hot") == 1


def test_waiters_time_out_with_504(cdn):
    up = origin(cdn)
    up.route("/late", Route(body=b"late", head_delay=3, headers={"Cache-Control": "max-age=60"}))
    edge = cdn.edge(upstream=up.hostport, conf={"collapse.wait_timeout": "1s"})

    start = time.monotonic()
    results = fetch_many(edge.addr, "/late", 5)
    took = time.monotonic() - start

    assert [r[0] for r in results] == [504] * 5
    assert took < 2.5
    assert edge.metric("edge.collapse.timeouts") == 5
    # the fetch went on: the object arrives and is kept
    wait_for(lambda: edge.get("/late").header("cache-status", "").startswith("cascade-edge; hit"),
             10, interval=0.2, what="the late object cached")
    assert up.count("/late") == 1


def test_fetch_failing_before_the_head_answers_502_at_once(cdn):
    gate = threading.Event()
    up = origin(cdn)

    def close_without_answer(req, conn):
        gate.wait(30)
        conn.shutdown(socket.SHUT_RDWR)
        return False

    up.route("/dies", Route(handler=close_without_answer))
    edge = cdn.edge(upstream=up.hostport, conf={"collapse.wait_timeout": "30s"})

    start = time.monotonic()
    results = fetch_many(edge.addr, "/dies", 50,
                         on_started=release_when(edge, gate, "edge.collapse.waiters", 49))
    took = time.monotonic() - start

    assert [r[0] for r in results] == [502] * 50
    assert took < 10, "waiters sat until their timeout"
    assert edge.metric("edge.upstream.errors", code="bad_response") >= 1


def test_reset_mid_body_is_never_stored(cdn):
    body = payload(400 * 1024)
    gate = threading.Event()
    up = origin(cdn)
    up.route("/reset", Route(body=body, gate=gate, chunk=64 * 1024, chunk_delay=0.05,
                             reset_after=200 * 1024, headers={"Cache-Control": "max-age=60"}))
    edge = cdn.edge(upstream=up.hostport)

    results = fetch_many(edge.addr, "/reset", 10,
                         on_started=release_when(edge, gate, "edge.collapse.waiters", 9))

    assert all(r[0] != 200 or r[2] != sha256(body) for r in results)  # nobody got a "complete" body
    assert up.count("/reset") == 1
    up.route("/reset", body=body, headers={"Cache-Control": "max-age=60"})
    again = edge.get("/reset")
    assert again.status == 200 and sha256(again.body) == sha256(body)
    assert "fwd=uri-miss" in again.header("cache-status")
    assert up.count("/reset") == 2
    assert edge.metric("edge.upstream.errors", code="truncated") >= 1


def test_wrong_content_length_is_never_stored(cdn):
    up = origin(cdn)
    up.route("/short", body=b"x" * 1000, length=2000, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    with edge.conn() as c:
        c.send(build_request("GET", "/short"))
        try:
            r = c.response()
            truncated = len(r.body) != 2000
        except ConnectionClosed:
            truncated = True

    assert truncated
    up.route("/short", body=b"y" * 1000, headers={"Cache-Control": "max-age=60"})
    assert edge.get("/short").body == b"y" * 1000
    assert up.count("/short") == 2


def test_chunked_upstream_body_is_streamed_and_stored(cdn):
    body = payload(300 * 1024)
    up = origin(cdn)
    up.route("/chunked", body=body, chunked=True, chunk=10000,
             headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    first = edge.get("/chunked")
    wait_for(lambda: edge.metric("edge.cache.stored") >= 1, 5, what="stored")
    second = edge.get("/chunked")

    assert sha256(first.body) == sha256(second.body) == sha256(body)
    assert first.header("transfer-encoding") == "chunked"
    assert second.header("content-length") == str(len(body))
    assert up.count("/chunked") == 1


def test_a_slow_client_is_cut_off_not_the_fetch(cdn):
    body = payload(24 * MB)
    gate = threading.Event()
    up = origin(cdn)
    up.route("/huge", Route(body=body, gate=gate, chunk=256 * 1024,
                            headers={"Cache-Control": "max-age=60"}))
    # not stored (over cache.max_object): the body is shared through a 1 MiB window
    edge = cdn.edge(upstream=up.hostport, workers=1,
                    conf={"cache.max_object": "1M", "collapse.max_lag": "1M",
                          "http.out_high_watermark": "64K", "http.out_low_watermark": "16K"})
    slow = socket.create_connection(edge.addr)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.sendall(build_request("GET", "/huge"))
    wait_for(lambda: edge.metric("edge.collapse.inflight", default=0) >= 1, 5, what="fetch")

    results = fetch_many(edge.addr, "/huge", 1,
                         on_started=release_when(edge, gate, "edge.collapse.waiters", 1))

    assert results[0][0] == 200 and results[0][2] == sha256(body)
    wait_for(lambda: edge.metric("edge.collapse.cut_off") >= 1, 10, what="the slow client cut off")
    slow.close()
    assert up.count("/huge") == 1


def test_fetch_pauses_when_every_waiter_is_slow(cdn):
    body = payload(32 * MB)
    up = origin(cdn)
    up.route("/paused", body=body, chunk=256 * 1024, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport, workers=1,
                    conf={"cache.max_object": "1M", "http.out_high_watermark": "64K",
                          "http.out_low_watermark": "16K"})
    slow = socket.create_connection(edge.addr)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    slow.sendall(build_request("GET", "/paused"))

    wait_for(lambda: edge.metric("edge.bytes.in", default=0) > 0, 5, what="bytes flowing")
    # Not a wait for a condition: a second in which nobody reads, and nothing may happen.
    time.sleep(1)
    got = edge.metric("edge.bytes.in")

    assert got < 12 * MB, f"the edge read {got / MB:.0f} MiB for a client that reads nothing"
    slow.close()
