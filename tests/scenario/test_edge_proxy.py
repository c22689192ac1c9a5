"""
test_edge_proxy.py -- cascade-edge as a reverse proxy (issue 3, points 1 and 5):
misses go to the upstream over a keep-alive pool, paths unchanged; every
method is forwarded; hop-by-hop fields stay on their hop; Cache-Status, Age
and Via are set; clients get conditionals, ranges, HEAD, keep-alive and
pipelining answered from the cache.

Who runs: one cascade-edge in front of Debian's nginx (a well-behaved
origin) or of the scripted Origin of upstreams.py.
"""

import json

from cdn import RawConn, build_request, wait_for
from upstreams import nginx, origin, sha256

METRIC_HITS = "edge.cache.hits"
METRIC_MISSES = "edge.cache.misses"


def cache_status(resp):
    return resp.header("cache-status") or ""


def test_miss_then_hit_from_nginx(cdn, tmp_path):
    root = tmp_path / "www"
    (root / "vod").mkdir(parents=True)
    seg = bytes(range(256)) * 700  # ~175 KB, like a segment
    (root / "vod" / "seg-1.m4s").write_bytes(seg)
    up = nginx(cdn, root, 'add_header Cache-Control "max-age=3600";')
    edge = cdn.edge(upstream=up.hostport)

    first = edge.get("/vod/seg-1.m4s")
    second = edge.get("/vod/seg-1.m4s")

    assert first.status == 200 and second.status == 200
    assert sha256(first.body) == sha256(second.body) == sha256(seg)
    assert "fwd=uri-miss" in cache_status(first) and "stored" in cache_status(first)
    assert cache_status(second).startswith("cascade-edge; hit")
    assert second.header("age") is not None and int(second.header("age")) >= 0
    assert "1.1 cascade-edge" in second.header("via")
    assert up.access_count("/vod/seg-1.m4s") == 1
    assert edge.metric(METRIC_HITS) == 1 and edge.metric(METRIC_MISSES) == 1


def test_upstream_connections_are_kept_alive(cdn):
    up = origin(cdn)
    for i in range(20):
        up.route(f"/o/{i}", body=b"x" * 100, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport, workers=1)

    for i in range(20):
        assert edge.get(f"/o/{i}").status == 200

    assert up.count() == 20
    assert up.connections <= 2  # one pooled connection carried them all
    assert edge.metric("httpc.connections.reused") >= 18


def test_path_and_query_forwarded_unchanged(cdn):
    up = origin(cdn)
    up.route("/a%20b/c", body=b"ok", headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    r = edge.get("/a%20b/c?z=1&a=2")

    assert r.status == 200
    assert up.last("/a%20b/c").target == "/a%20b/c?z=1&a=2"


def test_cmcd_removed_and_query_sorted_in_the_key(cdn):
    up = origin(cdn)
    up.route("/live/seg.m4s", body=b"segment", headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    a = edge.get("/live/seg.m4s?b=2&a=1&CMCD=bl%3D200%2Csid%3D%22s1%22")
    b = edge.get("/live/seg.m4s?a=1&b=2&CMCD=bl%3D900%2Csid%3D%22s2%22")
    c = edge.get("/live/seg.m4s?a=1&b=2")

    assert [a.status, b.status, c.status] == [200, 200, 200]
    assert up.count("/live/seg.m4s") == 1
    assert cache_status(b).startswith("cascade-edge; hit")
    assert cache_status(c).startswith("cascade-edge; hit")


def test_every_method_is_forwarded_uncached(cdn):
    up = origin(cdn)
    up.route("/api/x", body=lambda req: req.method.encode() + b":" + req.body, status=200,
             headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    with edge.conn() as c:
        results = {}
        for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FROB"):
            r = c.request(m, "/api/x", body="payload" if m in ("POST", "PUT", "PATCH") else None)
            results[m] = (r.status, r.body)

    assert results["POST"] == (200, b"POST:payload")
    assert results["PUT"] == (200, b"PUT:payload")
    assert results["DELETE"] == (200, b"DELETE:")
    assert results["FROB"] == (200, b"FROB:")
    assert [r.method for r in up.requests] == ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "FROB"]


def test_hop_by_hop_fields_stay_on_their_hop(cdn):
    up = origin(cdn)
    up.route("/h", body=b"h", headers={
        "Cache-Control": "max-age=60",
        "Connection": "X-Up-Private",
        "X-Up-Private": "secret",
        "Keep-Alive": "timeout=5",
        "X-End-To-End": "kept",
    })
    edge = cdn.edge(upstream=up.hostport)

    r = edge.get("/h", headers={"Connection": "X-Client-Hop", "X-Client-Hop": "1", "TE": "trailers",
                                "X-Kept": "yes"})

    assert r.status == 200
    assert r.header("x-up-private") is None and r.header("keep-alive") is None
    assert r.header("x-end-to-end") == "kept"
    seen = up.last("/h")
    assert seen.header("x-client-hop") is None and seen.header("te") is None
    assert seen.header("x-kept") == "yes"
    assert "1.1 cascade-edge" in seen.header("via")
    assert seen.header("x-forwarded-for") == "127.0.0.1"


def test_head_is_answered_from_the_stored_get(cdn):
    up = origin(cdn)
    up.route("/v/init.mp4", body=b"i" * 5000, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)

    with edge.conn() as c:
        head_miss = c.request("HEAD", "/v/init.mp4")
        # The store commits on its writer thread: until then a request joins
        # the fetch (collapsed) instead of hitting.
        wait_for(lambda: edge.metric("edge.cache.stored") >= 1, 10, what="the GET stored")
        head_hit = c.request("HEAD", "/v/init.mp4")
        get = c.request("GET", "/v/init.mp4")

    assert head_miss.status == 200 and head_miss.header("content-length") == "5000"
    assert head_hit.status == 200 and cache_status(head_hit).startswith("cascade-edge; hit")
    assert get.body == b"i" * 5000
    assert [r.method for r in up.requests] == ["GET"]


def test_conditional_requests_answered_304(cdn):
    up = origin(cdn)
    lm = "Tue, 01 Jan 2030 00:00:00 GMT"
    up.route("/c", body=b"content", etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
             headers={"Cache-Control": "max-age=600"})
    edge = cdn.edge(upstream=up.hostport)
    assert edge.get("/c").status == 200

    inm = edge.get("/c", headers={"If-None-Match": '"v0", "v1"'})
    inm_miss = edge.get("/c", headers={"If-None-Match": '"v2"'})
    ims = edge.get("/c", headers={"If-Modified-Since": lm})
    ims_old = edge.get("/c", headers={"If-Modified-Since": "Sun, 01 Jan 2023 00:00:00 GMT"})

    assert inm.status == 304 and inm.body == b"" and inm.header("etag") == '"v1"'
    assert inm_miss.status == 200 and inm_miss.body == b"content"
    assert ims.status == 304
    assert ims_old.status == 200
    assert up.count("/c") == 1


def test_single_ranges_206_and_416(cdn):
    body = bytes(range(256)) * 4000
    up = origin(cdn)
    up.route("/r", body=body, headers={"Cache-Control": "max-age=600"}, etag='"r1"')
    edge = cdn.edge(upstream=up.hostport)

    miss_range = edge.get("/r", headers={"Range": "bytes=10-19"})
    hit_range = edge.get("/r", headers={"Range": "bytes=1000-"})
    suffix = edge.get("/r", headers={"Range": "bytes=-5"})
    bad = edge.get("/r", headers={"Range": "bytes=9999999-"})
    if_range_no = edge.get("/r", headers={"Range": "bytes=0-0", "If-Range": '"other"'})

    assert miss_range.status == 206 and miss_range.body == body[10:20]
    assert miss_range.header("content-range") == f"bytes 10-19/{len(body)}"
    assert hit_range.status == 206 and hit_range.body == body[1000:]
    assert suffix.status == 206 and suffix.body == body[-5:]
    assert bad.status == 416 and bad.header("content-range") == f"bytes */{len(body)}"
    assert if_range_no.status == 200 and len(if_range_no.body) == len(body)
    assert up.count("/r") == 1
    assert up.last("/r").header("range") is None  # the edge fetched the whole object


def test_keep_alive_and_pipelining(cdn):
    up = origin(cdn)
    for p in ("/p1", "/p2", "/p3"):
        up.route(p, body=p.encode() * 1000, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)
    assert edge.get("/p2").status == 200  # one hit among misses

    with edge.conn() as c:
        c.send(b"".join(build_request("GET", p) for p in ("/p1", "/p2", "/p3", "/p1")))
        rs = [c.response() for _ in range(4)]

    assert [r.status for r in rs] == [200] * 4
    assert [r.body for r in rs] == [p.encode() * 1000 for p in ("/p1", "/p2", "/p3", "/p1")]
    assert not any(r.closes for r in rs)


def test_access_log_is_json_with_cmcd_session(cdn, tmp_path):
    up = origin(cdn)
    up.route("/l", body=b"log me", headers={"Cache-Control": "max-age=60"})
    log = tmp_path / "access.log"
    edge = cdn.edge(upstream=up.hostport, conf={"log.access": str(log)})

    edge.get("/l?CMCD=sid%3D%22abc-123%22%2Cbl%3D300")
    edge.get("/l", headers={"CMCD-Session": 'sid="def-456"'})

    def lines():
        if not log.exists():
            return None
        got = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        return got if len(got) >= 2 else None

    got = wait_for(lines, 5, what="two access-log lines")
    # each worker buffers its own lines: the file's order is not the requests' order
    by_sid = {line.get("cmcd_sid"): line for line in got}
    first, second = by_sid["abc-123"], by_sid["def-456"]
    for line in got:
        assert set(line) >= {"time", "client", "method", "path", "status", "bytes", "cache",
                             "upstream_ms", "total_ms"}
    assert first["method"] == "GET" and first["status"] == 200 and first["bytes"] == 6
    assert first["cache"] == "miss" and first["upstream_ms"] is not None
    assert first["cmcd_sid"] == "abc-123"
    assert second["cache"] == "hit" and second["upstream_ms"] is None
    assert second["cmcd_sid"] == "def-456"
    assert first["client"].startswith("127.0.0.1:")


def test_metrics_cover_the_cache(cdn):
    up = origin(cdn)
    up.route("/m", body=b"m" * 1000, headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=up.hostport)
    edge.get("/m")
    edge.get("/m")

    text = edge.metrics_text()

    for name in ("edge.cache.hits", "edge.cache.misses", "edge.collapse.waiters",
                 "edge.cache.stale_served", "edge.cache.revalidations", "store.evictions",
                 "edge.bytes.in", "edge.bytes.out", "edge.upstream.errors",
                 "store.map.used_bytes", "store.map.size_bytes"):
        assert edge.metric(name) is not None, name
    assert edge.metric("edge.bytes.out") >= 2000
    assert edge.metric("edge.bytes.in") == 1000
    assert "cascade_store_map_used_bytes" in text


def test_a_dead_upstream_is_skipped(cdn):
    dead = origin(cdn)
    dead.close()  # nothing listens there any more
    up = origin(cdn)
    up.route("/f", body=b"from the live one", headers={"Cache-Control": "max-age=60"})
    edge = cdn.edge(upstream=[dead.hostport, up.hostport])

    # an edge spreads keys over its upstreams by hashing (docs/upstreams.md): with
    # 16 keys, some are the dead one's (all but certainly: 1 - 2**-16)
    rs = [edge.get(f"/f?{i}") for i in range(16)]

    assert [r.body for r in rs] == [b"from the live one"] * 16
    assert edge.metric("edge.upstream.retries") >= 1
    assert edge.metric("edge.upstream.errors", code="connect") >= 1


def test_reload_changes_the_upstream_and_the_admin_token(cdn):
    a, b = origin(cdn), origin(cdn)
    a.route("/which", body=b"a", headers={"Cache-Control": "no-store"})
    b.route("/which", body=b"b", headers={"Cache-Control": "no-store"})
    edge = cdn.edge(conf={"upstream": a.hostport, "admin.token": "token-one-0123456789"})
    assert edge.get("/which").body == b"a"

    edge.write_conf({"upstream": b.hostport, "admin.token": "token-two-0123456789"})
    edge.reload()
    wait_for(lambda: edge.metric("node.reloads", result="ok", default=0) == 1, 10, what="reload")

    assert edge.get("/which").body == b"b"
    with edge.conn() as c:
        old = c.request("PURGE", "/which", headers={"Authorization": "Bearer token-one-0123456789"})
        new = c.request("PURGE", "/which", headers={"Authorization": "Bearer token-two-0123456789"})
    assert old.status == 403 and new.status == 200
