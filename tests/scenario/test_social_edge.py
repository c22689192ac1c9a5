"""
test_social_edge.py -- interactions through a real edge in front of a real
origin (docs/social.md "At the edge"): /api/ proxied with its own pool and
never cached, rate limits per address and per token (429 + Retry-After +
a JSON code), body limits, an unreachable origin as 502 JSON; reactions
from many clients reaching the origin as a few batches with the totals
right; the origin's events fanned out as SSE at /events/{stream} with
Last-Event-ID resume; a viewer that stops reading dropped while edge
memory stays bounded.
"""

import concurrent.futures
import hashlib
import json
import os
import socket
import threading
import time

import cdn as cdnlib
from cdn import wait_for
from social_lib import (
    SSE,
    Api,
    BodySink,
    edge_conf,
    error_code,
    origin_conf,
    reaction_counts,
    rss_kib,
    sanitized,
)


def pair(cdn, oconf=None, **econf):
    origin = cdn.origin(conf=origin_conf(**(oconf or {})))
    edge = cdn.edge(upstream=origin, conf=edge_conf(**econf))
    return origin, edge


def test_api_is_proxied_and_never_cached(cdn):
    origin, edge = pair(cdn)
    api = Api(edge)
    tok = api.session("ann")

    top = api.ok("POST", "/api/streams/live1/comments", {"text": "first!"}, tok, want=201)
    reply = api.ok(
        "POST", "/api/streams/live1/comments", {"text": "re", "parent": top["id"]}, tok, want=201
    )
    assert reply["parent"] == top["id"] and reply["depth"] == 1
    page = api.ok("GET", "/api/streams/live1/comments")
    assert [c["id"] for c in page["comments"]] == [top["id"]]
    replies = api.ok("GET", f"/api/streams/live1/comments/{top['id']}/replies")
    assert [c["id"] for c in replies["comments"]] == [reply["id"]]
    assert api.ok("PUT", "/api/videos/film/like", token=tok) == {"count": 1, "liked": True}
    assert api.ok("GET", "/api/videos/film/likes", token=tok) == {"count": 1, "liked": True}
    assert api.ok("DELETE", f"/api/streams/live1/comments/{reply['id']}", token=tok)["deleted"]

    # the origin's errors pass through unchanged
    r = api.call("POST", "/api/streams/live1/comments", {"text": "x"})
    assert r.status == 401 and error_code(r) == "unauthorized"

    # never cached: the same GET twice reaches the origin twice
    before = origin.metric("http.requests")
    for _ in range(2):
        r = api.call("GET", "/api/streams/live1/comments")
        assert r.status == 200
        assert r.header("cache-control") == "no-store"
        assert "cascade-edge" in (r.header("via") or "")
    assert origin.metric("http.requests") - before >= 2
    assert edge.metric("edge.cache.stored", default=0) == 0
    # no viewer on /events/ yet: the edge does not follow the origin's log
    assert edge.metric("edge.sse.polls") == 0


def test_rate_limit_per_address_answers_429_with_retry_after(cdn):
    _, edge = pair(cdn, **{"ratelimit.addr_rate": 1, "ratelimit.addr_burst": 3})
    api = Api(edge)
    statuses = [api.call("GET", "/api/streams/s/comments") for _ in range(6)]
    assert [r.status for r in statuses[:3]] == [200, 200, 200]
    limited = [r for r in statuses if r.status == 429]
    assert limited, [r.status for r in statuses]
    r = limited[0]
    assert error_code(r) == "rate_limited"
    assert int(r.header("retry-after")) >= 1
    assert edge.metric("edge.api.limited", by="addr") == len(limited)


def test_rate_limit_per_token(cdn):
    _, edge = pair(cdn, **{"ratelimit.token_rate": 1, "ratelimit.token_burst": 2})
    api = Api(edge)
    a, b = api.session("a"), api.session("b")
    got = [api.call("GET", "/api/videos/v/likes", token=a).status for _ in range(4)]
    assert got[:2] == [200, 200] and 429 in got
    r = api.call("GET", "/api/videos/v/likes", token=a)
    assert r.status == 429 and error_code(r) == "rate_limited"
    assert int(r.header("retry-after")) >= 1
    # another token from the same address is still served
    assert api.call("GET", "/api/videos/v/likes", token=b).status == 200
    assert edge.metric("edge.api.limited", by="token") >= 2


def test_body_limits(cdn):
    origin, edge = pair(cdn, **{"api.max_body": "1K"})
    api = Api(edge)
    tok = api.session()
    before = origin.metric("origin.social.comments")
    r = api.call("POST", "/api/streams/s/comments", {"text": "x" * 1500}, tok)
    assert r.status == 413 and error_code(r) == "too_large"
    # chunked: the size is unknown until the body has been read
    with cdnlib.RawConn(edge.addr) as c:
        body = json.dumps({"text": "y" * 3000}).encode()
        head = (
            "POST /api/streams/s/comments HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {tok}\r\n\r\n"
        )
        c.send(head.encode() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        r = c.response()
        assert r.status == 413 and error_code(r) == "too_large"
    # a reaction body over 1 KiB
    r = api.call("POST", "/api/streams/s/reactions", raw=b'{"kind":"like","t":1,"x":"' + b"z" * 2000 + b'"}', token=tok)
    assert r.status == 413
    # and a body under the limit still goes through
    assert api.call("POST", "/api/streams/s/comments", {"text": "ok"}, tok).status == 201
    assert origin.metric("origin.social.comments") == before + 1
    assert edge.metric("edge.api.too_large") >= 3
    assert edge.metric("edge.api.memory") == 0


def body_edge(cdn, **more):
    """An edge whose /api/ goes to a BodySink that records bodies as they arrive."""
    sink = BodySink()
    cdn.servers.append(sink)
    conf = {"api.upstream": sink.hostport, "ratelimit.addr_rate": 0}
    conf.update(more)
    edge = cdn.edge(upstream=sink.hostport, conf=edge_conf(**conf))
    return sink, edge


def test_large_body_is_streamed_with_bounded_memory(cdn):
    # 48 MiB through an edge whose whole /api/ body budget is 256 KiB: only
    # streaming can carry it (a buffered body would be 503 busy, or 48 MiB
    # of RSS)
    size = 48 << 20
    sink, edge = body_edge(
        cdn, **{"api.max_body": "48M", "http.max_body": "64M", "api.max_memory": "256K"}
    )
    piece = bytes(range(256)) * 1024
    digest = hashlib.sha256()
    for off in range(0, size, len(piece)):
        digest.update(piece[: min(len(piece), size - off)])
    rss0 = rss_kib(edge)
    peak = {"mem": 0}
    result = {}

    def upload():
        with cdnlib.RawConn(edge.addr, timeout=60) as c:
            c.send(
                "POST /api/uploads HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream"
                f"\r\nContent-Length: {size}\r\n\r\n"
            )
            for off in range(0, size, len(piece)):
                c.send(piece[: min(len(piece), size - off)])
            result["r"] = c.response(timeout=60)

    t = threading.Thread(target=upload)
    t.start()
    while t.is_alive():
        peak["mem"] = max(peak["mem"], edge.metric("edge.api.memory"))
        t.join(0.02)
    r = result["r"]
    assert r.status == 200, r.text
    assert r.json() == {"bytes": size, "sha256": digest.hexdigest()}
    up = sink.of("/api/uploads")
    assert len(up) == 1 and up[0]["done"] and up[0]["received"] == size
    # held at once: one streaming charge (128 KiB), never the body
    assert 0 < peak["mem"] <= 128 << 10, peak
    assert edge.metric("edge.api.memory") == 0
    if not sanitized():
        assert rss_kib(edge) - rss0 < 16 * 1024, (rss0, rss_kib(edge))
    # over api.max_body: refused before a byte goes upstream
    with cdnlib.RawConn(edge.addr) as c:
        c.send(
            "POST /api/uploads HTTP/1.1\r\nHost: t\r\n"
            f"Content-Length: {size + 1}\r\n\r\n"
        )
        r = c.response()
        assert r.status == 413 and error_code(r) == "too_large"
    assert len(sink.of("/api/uploads")) == 1


def test_slow_body_is_forwarded_as_it_arrives(cdn):
    sink, edge = body_edge(cdn, **{"api.max_body": "1M"})
    body = b"a" * 3000 + b"b" * 3000
    with cdnlib.RawConn(edge.addr, timeout=20) as c:
        c.send(
            "POST /api/slow HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        c.send(body[:3000])
        # the origin side sees the first half while the client still holds
        # the rest
        wait_for(lambda: sink.of("/api/slow") and sink.of("/api/slow")[0]["received"] == 3000,
                 timeout=10, what="the first half at the origin")
        first_at = time.monotonic()
        assert not sink.of("/api/slow")[0]["done"]
        c.send(body[3000:])
        r = c.response()
    assert r.status == 200
    assert r.json() == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert sink.of("/api/slow")[0]["first_at"] < first_at

    # a client that goes away mid-body: the origin's connection is closed
    # too (never reused with half a body on it)
    with cdnlib.RawConn(edge.addr, timeout=20) as c:
        c.send("POST /api/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 6000\r\n\r\n")
        c.send(body[:1000])
        wait_for(lambda: len(sink.of("/api/slow")) == 2 and sink.of("/api/slow")[1]["received"]
                 == 1000, timeout=10, what="the first bytes at the origin")
    second = sink.of("/api/slow")[1]
    wait_for(lambda: second["aborted"], timeout=10, what="the origin connection closed")
    assert not second["done"]
    wait_for(lambda: edge.metric("edge.api.memory") == 0, timeout=5, what="memory released")


def test_api_upstream_by_name_through_the_origin_group(cdn, tmp_path, request):
    from shield_lib import DNSMASQ, Dnsmasq, free_port_on

    if not os.path.exists(DNSMASQ):
        import pytest

        pytest.skip("needs dnsmasq-base")
    dns = Dnsmasq(tmp_path, {"origin-api.test": ["127.0.0.1"], "dead-api.test": ["127.0.0.1"]})
    request.addfinalizer(dns.close)
    origin = cdn.origin(conf=origin_conf())
    oport = origin.hostport.rsplit(":", 1)[1]
    dead = free_port_on("127.0.0.1")
    # the cache's upstream is a dead literal: /api/ can only work by name
    edge = cdn.edge(
        upstream=f"127.0.0.1:{cdnlib.free_port()}",
        conf=edge_conf(
            **{
                "api.upstream": f"dead-api.test:{dead},origin-api.test:{oport}",
                "dns.servers": dns.servers,
                "upstream.health_interval": "60s",
                "workers": 1,
            }
        ),
    )
    api = Api(edge)
    # the first member of the group refuses connections: an idempotent GET
    # goes on to the next, resolved through dnsmasq
    wait_for(lambda: api.call("GET", "/api/streams/s/comments").status == 200, timeout=10,
             what="a GET through origin-api.test")
    assert edge.metric("edge.upstream.member_failures", upstream=f"dead-api.test:{dead}") >= 1
    # a POST is not sent again elsewhere: it either failed on the dead member
    # (502) or the dead member is down by now and it went to the origin
    statuses = set()
    for _ in range(4):
        r = api.call("POST", "/api/sessions", {"name": "n"})
        assert r.status in (201, 502), r.status
        if r.status == 502:
            assert error_code(r) == "upstream_unavailable"
        statuses.add(r.status)
    # the dead member was still up for the first POST (under 3 failures):
    # that one is 502, never resent; once it is down, POSTs reach the origin
    assert statuses == {201, 502}, statuses
    tok = api.session("ann")
    api.ok("POST", "/api/streams/s/comments", {"text": "by name"}, tok, want=201)
    assert origin.metric("origin.social.comments") >= 1


def test_origin_down_is_502_json(cdn):
    dead = f"127.0.0.1:{cdnlib.free_port()}"
    edge = cdn.edge(upstream=dead, conf=edge_conf())
    r = Api(edge).call("GET", "/api/streams/s/comments")
    assert r.status == 502
    assert error_code(r) == "upstream_unavailable"
    assert r.header("content-type") == "application/json"
    r = Api(edge).call("POST", "/api/sessions", {"name": "x"})
    assert r.status == 502 and error_code(r) == "upstream_unavailable"


def test_reactions_from_many_clients_arrive_as_batches(cdn):
    origin, edge = pair(cdn, **{"ratelimit.token_rate": 0, "ratelimit.addr_rate": 0})
    api = Api(edge)
    tokens = [api.session(f"v{i}") for i in range(20)]
    kinds = ["like", "love", "fire"]

    def client(i):
        sent = {}
        with cdnlib.RawConn(edge.addr, timeout=30) as c:
            for n in range(50):
                kind = kinds[(i + n) % 3]
                t = 1000 * (n % 5) + 17 * i  # media ms: buckets 0..4 s
                body = json.dumps({"kind": kind, "t": t}).encode()
                r = c.request(
                    "POST",
                    "/api/streams/show/reactions",
                    {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"},
                    body,
                )
                assert r.status == 202, r.text
                key = (t // 1000 * 1000, kind)
                sent[key] = sent.get(key, 0) + 1
        return sent

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        results = list(ex.map(client, range(20)))
    want = {}
    for s in results:
        for k, v in s.items():
            want[k] = want.get(k, 0) + v

    def totals():
        j = Api(origin).ok("GET", "/api/streams/show/reactions?from=0&to=10000")
        return {(b["t"], k): n for b in j["buckets"] for k, n in b["counts"].items()}

    wait_for(lambda: totals() == want, timeout=10, what="the origin's totals")
    assert sum(want.values()) == 1000
    assert origin.metric("origin.social.reactions") == 1000
    batches = origin.metric("origin.social.batches")
    # 1000 POSTs at the edge, a handful of batches at the origin
    assert 1 <= batches <= 40, batches
    assert edge.metric("edge.reactions.received") == 1000
    # bad input is refused at the edge with the origin's codes
    r = api.call("POST", "/api/streams/show/reactions", {"kind": "nope", "t": 1}, tokens[0])
    assert r.status == 400 and error_code(r) == "unknown_kind"
    r = api.call("POST", "/api/streams/show/reactions", {"kind": "like", "t": "1"}, tokens[0])
    assert r.status == 400 and error_code(r) == "wrong_type"
    r = api.call("POST", "/api/streams/show/reactions", {"kind": "like", "t": 1})
    assert r.status == 401


def test_sse_delivers_comments_and_reaction_totals_and_resumes(cdn):
    origin, edge = pair(cdn, **{"sse.ring": 8})
    api = Api(edge)
    tok = api.session("ann")
    v = SSE(edge, "/events/live1")
    v.wait(lambda e: e["event"] == "ready", what="ready")
    assert v.status == 200

    c1 = api.ok("POST", "/api/streams/live1/comments", {"text": "hi"}, tok, want=201)
    ev = v.wait(lambda e: e["event"] == "comment", what="the comment")
    assert ev["data"]["comment"]["id"] == c1["id"] and ev["data"]["comment"]["text"] == "hi"
    assert int(ev["id"]) == ev["data"]["id"]

    for _ in range(7):
        assert api.call("POST", "/api/streams/live1/reactions", {"kind": "fire", "t": 61500}, tok).status == 202
    v.wait(lambda e: reaction_counts([e], "fire").get(61000) == 7, what="fire = 7")
    # another stream's events do not reach this viewer
    api.ok("POST", "/api/streams/other/comments", {"text": "elsewhere"}, tok, want=201)
    wait_for(lambda: edge.metric("edge.sse.events") >= 3, timeout=10, what="events at the edge")
    last_id = [e for e in v.events if e["id"]][-1]["id"]
    v.close()

    # missed while away: three comments; resume replays exactly those
    base = edge.metric("edge.sse.events")
    for i in range(3):
        api.ok("POST", "/api/streams/live1/comments", {"text": f"m{i}"}, tok, want=201)
    wait_for(lambda: edge.metric("edge.sse.events") >= base + 3, timeout=10, what="events at the edge")
    again = SSE(edge, "/events/live1", last_event_id=last_id)
    again.wait(lambda e: e["event"] == "comment" and e["data"]["comment"]["text"] == "m2", what="replay")
    got = [e["data"]["comment"]["text"] for e in again.of("comment")]
    assert got == ["m0", "m1", "m2"], got
    assert not again.of("reset")
    assert all(e["data"]["target"]["id"] == "live1" for e in again.events if e["id"])
    again.close()

    # a Last-Event-ID older than the ring: reset first, then what is kept
    base = edge.metric("edge.sse.events")
    for i in range(10):
        api.ok("POST", "/api/streams/live1/comments", {"text": f"n{i}"}, tok, want=201)
    wait_for(lambda: edge.metric("edge.sse.events") >= base + 10, timeout=10, what="events at the edge")
    old = SSE(edge, "/events/live1", last_event_id=last_id)
    old.wait(lambda e: e["event"] == "comment" and e["data"]["comment"]["text"] == "n9", what="n9")
    assert old.of("reset"), old.events[:3]
    assert len(old.of("comment")) == 8  # the ring's size
    old.close()
    r = Api(edge).call("GET", "/events/live1", headers={"Last-Event-ID": "x1"})
    assert r.status == 400 and error_code(r) == "bad_last_event_id"
    assert origin.metric("origin.social.comments") == 15


def test_slow_viewer_is_dropped_and_memory_stays_bounded(cdn):
    origin, edge = pair(
        cdn,
        **{
            "http.out_high_watermark": "64K",
            "http.out_low_watermark": "16K",
            "ratelimit.token_rate": 0,
            "ratelimit.addr_rate": 0,
        },
    )
    api = Api(edge)
    tok = api.session("spammer")
    slow = SSE(edge, "/events/busy", rcvbuf=4096)
    slow.wait(lambda e: e["event"] == "ready", what="ready")
    fast = SSE(edge, "/events/busy")
    fast.wait(lambda e: e["event"] == "ready", what="ready")
    rss0 = rss_kib(edge)
    text = "z" * 1900

    def post(i):
        with cdnlib.RawConn(edge.addr, timeout=30) as c:
            for n in range(25):
                r = c.request(
                    "POST",
                    "/api/streams/busy/comments",
                    {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"},
                    json.dumps({"text": f"{i}-{n} {text}"}).encode(),
                )
                assert r.status == 201

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        # 2600 comments, ~5.5 MB of events: more than the kernel's socket
        # buffers take (tcp_wmem's 4 MiB), so the edge's own output fills
        fut = [ex.submit(post, i) for i in range(104)]
        while not all(f.done() for f in fut):
            fast.pump(0.01)
        for f in fut:
            f.result()
    try:
        wait_for(lambda: fast.pump(0.02) and len(fast.of("comment")) >= 2600, timeout=30)
    except AssertionError as exc:
        raise AssertionError(
            f"fast viewer: {len(fast.of('comment'))} comments, closed={fast.closed}, "
            f"dropped={edge.metric('edge.sse.dropped')} events={edge.metric('edge.sse.events')} "
            f"msgs={edge.metric('edge.sse.messages')} polls={edge.metric('edge.sse.polls')} "
            f"errs={edge.metric('edge.sse.poll_errors')} {edge.log_tail(5)}"
        ) from exc
    assert len(fast.of("comment")) == 2600
    assert not fast.of("reset")
    wait_for(lambda: edge.metric("edge.sse.dropped") >= 1, timeout=10, what="the slow viewer dropped")
    # the slow viewer's connection ends (after what the kernel buffered)
    deadline_ok = wait_for(lambda: not slow.pump(0.05) or slow.closed, timeout=20, what="closed")
    assert deadline_ok is not None
    assert edge.metric("edge.sse.viewers") == 1
    # memory: no per-viewer backlog kept (2600 x 2 KB went by)
    if not sanitized():  # ASan keeps freed memory in quarantine
        assert rss_kib(edge) - rss0 < 32 * 1024, (rss0, rss_kib(edge))
    fast.close()
    slow.close()


def test_edge_behind_a_shield_reaches_the_origin(cdn):
    origin = cdn.origin(conf=origin_conf())
    shield = cdn.edge(upstream=origin, role="shield", conf=edge_conf(**{"ratelimit.addr_rate": 1}))
    edge = cdn.edge(upstream=shield, conf=edge_conf())
    api = Api(edge)
    tok = api.session("via-shield")
    v = SSE(edge, "/events/s")
    v.wait(lambda e: e["event"] == "ready", what="ready")
    # more than the shield's own address limit: a shield does not rate-limit edges
    for i in range(5):
        api.ok("POST", "/api/streams/s/comments", {"text": f"c{i}"}, tok, want=201)
    v.wait(lambda e: e["event"] == "comment" and e["data"]["comment"]["text"] == "c4", what="c4")
    assert shield.metric("edge.api.limited", by="addr") == 0
    # a shield has no event stream of its own
    r = Api(shield).call("GET", "/events/s")
    assert r.status == 404
    v.close()
