"""
test_edge_freshness.py -- RFC 9111 at the edge (issue 3, point 4), one test
per rule: what is stored, for how long it is fresh, when it is revalidated
(and how a 304 refreshes it), what unsafe methods invalidate, which field
wins (CDN-Cache-Control and Cascade-Cache-Control over Cache-Control), and
when a stale object is served (stale-while-revalidate, stale-if-error, and
the default grace while the upstream is down -- never when the response
forbids it).

Who runs: one cascade-edge in front of the scripted Origin (upstreams.py),
whose routes set the fields under test. Time passes by waiting for the edge
to see it (wait_for), never by sleeping.
"""

import time

import pytest

from cdn import wait_for
from upstreams import Route, http_date, origin


def cs(resp):
    return resp.header("cache-status") or ""


def is_hit(resp):
    return cs(resp).startswith("cascade-edge; hit")


@pytest.fixture
def up(cdn):
    return origin(cdn)


@pytest.fixture
def edge(cdn, up):
    return cdn.edge(upstream=up.hostport)


def expire(edge, path, up, fetches, timeout=10):
    """Waits until the upstream has seen `fetches` requests for path (time passes, the edge refetches)."""

    def seen():
        edge.get(path)
        return up.count(path) >= fetches

    wait_for(seen, timeout, interval=0.2, what=f"{fetches} fetches of {path}")


def test_max_age_fresh_then_refetched(edge, up):
    up.route("/ma", body=b"v", headers={"Cache-Control": "max-age=1"})

    first, second = edge.get("/ma"), edge.get("/ma")
    expire(edge, "/ma", up, 2)

    assert first.status == second.status == 200
    assert is_hit(second) and up.count("/ma") == 2


def test_s_maxage_wins_over_max_age_in_a_shared_cache(edge, up):
    up.route("/sm", body=b"v", headers={"Cache-Control": "max-age=0, s-maxage=60"})

    edge.get("/sm")
    second = edge.get("/sm")

    assert is_hit(second) and up.count("/sm") == 1


def test_expires_gives_freshness_and_an_invalid_one_is_expired(edge, up):
    up.route("/ex", body=b"v", headers={"Expires": http_date(time.time() + 60)})
    up.route("/ex0", body=b"v", headers={"Expires": "0"})

    edge.get("/ex")
    edge.get("/ex0")
    hit, again = edge.get("/ex"), edge.get("/ex0")

    assert is_hit(hit) and up.count("/ex") == 1
    assert not is_hit(again) and up.count("/ex0") == 2


def test_upstream_age_counts(edge, up):
    up.route("/age", body=b"v", headers={"Cache-Control": "max-age=100", "Age": "95"})

    edge.get("/age")
    hit = edge.get("/age")

    assert is_hit(hit) and int(hit.header("age")) >= 95
    expire(edge, "/age", up, 2)  # about 5 s later it is stale


def test_no_store_is_never_stored(edge, up):
    up.route("/ns", body=b"v", headers={"Cache-Control": "no-store"})

    rs = [edge.get("/ns") for _ in range(3)]

    assert [r.status for r in rs] == [200] * 3
    assert up.count("/ns") == 3 and not any(is_hit(r) for r in rs)


def test_private_is_not_stored_and_does_not_serialize_waiters(cdn, edge, up):
    # Each answer takes 1 s; if the edge made them wait on each other, 8 would take 8 s.
    up.route("/priv", body=b"mine", headers={"Cache-Control": "private, max-age=60"}, head_delay=1.0)
    assert edge.get("/priv").status == 200  # leaves a hit-for-miss marker

    start = time.monotonic()
    statuses = cdn.get_parallel([edge.url("/priv")] * 8, workers=8)
    took = time.monotonic() - start

    assert statuses == [200] * 8
    assert up.count("/priv") == 9
    assert took < 4, f"uncacheable answers serialized the waiters: {took:.1f}s"
    assert edge.metric("edge.cache.hit_for_miss") >= 1


def test_set_cookie_is_not_shared(edge, up):
    up.route("/cookie", body=b"v", headers={"Cache-Control": "max-age=60", "Set-Cookie": "s=1"})

    a, b = edge.get("/cookie"), edge.get("/cookie")

    assert a.header("set-cookie") == "s=1" and b.header("set-cookie") == "s=1"
    assert up.count("/cookie") == 2


def test_no_cache_is_stored_but_revalidated_every_time(edge, up):
    up.route("/nc", body=b"body", etag='"e1"', headers={"Cache-Control": "no-cache"})
    rs = [edge.get("/nc")]
    wait_for(lambda: edge.metric("edge.cache.stored") >= 1, 5, what="stored")

    rs += [edge.get("/nc") for _ in range(2)]

    assert [r.body for r in rs] == [b"body"] * 3
    assert up.count("/nc") == 3
    assert up.last("/nc").header("if-none-match") == '"e1"'  # validated, not refetched
    assert "fwd-status=304" in cs(rs[2])


def test_304_refreshes_the_stored_headers(edge, up):
    up.route("/rv", Route(body=b"payload", etag='"r1"',
                          headers={"Cache-Control": "max-age=1", "X-Version": "1"},
                          revalidate_headers={"Cache-Control": "max-age=60", "X-Version": "2"}))
    assert edge.get("/rv").header("x-version") == "1"

    expire(edge, "/rv", up, 2)
    after = wait_for(lambda: (r := edge.get("/rv")).header("x-version") == "2" and r, 5,
                     interval=0.1, what="the refreshed headers")

    assert after.body == b"payload" and is_hit(after) and up.count("/rv") == 2
    assert up.requests[-1].header("if-none-match") == '"r1"'
    assert edge.metric("edge.cache.revalidations", result="304") >= 1


def test_a_304_without_validators_validates_but_does_not_update(edge, up):
    lm = http_date(time.time() - 5)
    up.route("/bare", Route(body=b"kept", last_modified=lm, bare_304=True,
                            headers={"Cache-Control": "max-age=1", "X-V": "1"},
                            revalidate_headers={"Cache-Control": "max-age=600", "X-V": "2"}))
    edge.get("/bare")
    expire(edge, "/bare", up, 3)  # validated twice: the 304 never refreshed it

    r = edge.get("/bare")
    assert r.body == b"kept" and r.header("x-v") == "1"
    assert all(req.header("if-modified-since") == lm for req in up.requests[1:])


def test_must_revalidate_is_never_served_stale(cdn, up):
    up.route("/mr", body=b"v", headers={"Cache-Control": "max-age=1, must-revalidate"})
    up.route("/pr", body=b"v", headers={"Cache-Control": "max-age=1, proxy-revalidate"})
    up.route("/ok", body=b"v", headers={"Cache-Control": "max-age=1"})
    edge = cdn.edge(upstream=up.hostport)
    for p in ("/mr", "/pr", "/ok"):
        assert edge.get(p).status == 200
    up.close()

    def stale_everywhere():
        return edge.get("/ok").status == 200 and "stale" in cs(edge.get("/ok"))

    wait_for(stale_everywhere, 10, interval=0.2, what="/ok served stale")
    mr, pr = edge.get("/mr"), edge.get("/pr")

    assert mr.status == 504 and pr.status == 504


def test_immutable_survives_a_reload(edge, up):
    up.route("/imm", body=b"seg", headers={"Cache-Control": "max-age=600, immutable"})
    up.route("/mut", body=b"mpd", headers={"Cache-Control": "max-age=600"}, etag='"m"')
    edge.get("/imm")
    edge.get("/mut")

    imm = edge.get("/imm", headers={"Cache-Control": "no-cache"})
    mut = edge.get("/mut", headers={"Cache-Control": "no-cache"})

    assert is_hit(imm) and up.count("/imm") == 1
    assert up.count("/mut") == 2 and mut.status == 200  # the reload validated it


def test_vary_keeps_one_variant_per_request_value(edge, up):
    up.route("/vary", body=lambda req: f"enc={req.header('accept-encoding')}".encode(),
             headers={"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"})

    gz = edge.get("/vary", headers={"Accept-Encoding": "gzip"})
    br = edge.get("/vary", headers={"Accept-Encoding": "br"})
    gz2 = edge.get("/vary", headers={"Accept-Encoding": "gzip"})
    br2 = edge.get("/vary", headers={"Accept-Encoding": "br"})

    assert gz.body == gz2.body == b"enc=gzip" and br.body == br2.body == b"enc=br"
    assert is_hit(gz2) and is_hit(br2)
    assert up.count("/vary") == 2


def test_cdn_cache_control_wins_over_cache_control(edge, up):
    up.route("/cdncc", body=b"v", headers={"Cache-Control": "no-store",
                                           "CDN-Cache-Control": "max-age=60"})

    edge.get("/cdncc")
    hit = edge.get("/cdncc")

    assert is_hit(hit) and up.count("/cdncc") == 1
    assert hit.header("cache-control") == "no-store"  # browsers still get the origin's word


def test_cascade_cache_control_wins_over_cdn_cache_control(edge, up):
    up.route("/cascc", body=b"v", headers={"Cache-Control": "max-age=60",
                                           "CDN-Cache-Control": "no-store",
                                           "Cascade-Cache-Control": "max-age=60"})
    up.route("/cdnonly", body=b"v", headers={"Cache-Control": "max-age=60",
                                             "CDN-Cache-Control": "no-store"})

    edge.get("/cascc")
    edge.get("/cdnonly")
    hit, miss = edge.get("/cascc"), edge.get("/cdnonly")

    assert is_hit(hit) and up.count("/cascc") == 1
    assert not is_hit(miss) and up.count("/cdnonly") == 2


def test_heuristic_freshness_only_where_allowed(edge, up):
    old = http_date(time.time() - 1000)  # 10 % of 1000 s: 100 s fresh
    up.route("/heur", body=b"v", last_modified=old)
    up.route("/heur302", body=b"", status=302, headers={"Location": "/x"}, last_modified=old)

    edge.get("/heur")
    edge.get("/heur302")
    hit, again = edge.get("/heur"), edge.get("/heur302")

    assert is_hit(hit) and up.count("/heur") == 1
    assert again.status == 302 and up.count("/heur302") == 2


def test_no_default_ttl_without_freshness_or_validator(cdn, up):
    up.route("/plain", body=b"v")
    edge = cdn.edge(upstream=up.hostport)

    rs = [edge.get("/plain") for _ in range(3)]

    assert [r.status for r in rs] == [200] * 3 and up.count("/plain") == 3

    configured = cdn.edge(upstream=up.hostport, conf={"cache.default_ttl": "60s"})
    configured.get("/plain")
    assert is_hit(configured.get("/plain")) and up.count("/plain") == 4


def test_negative_caching_of_404_is_short(cdn, up):
    up.route("/live/next.m4s", body=b"not yet", status=404)
    edge = cdn.edge(upstream=up.hostport, conf={"cache.negative_ttl": "1s"})

    first, second = edge.get("/live/next.m4s"), edge.get("/live/next.m4s")
    assert first.status == second.status == 404 and is_hit(second)
    up.route("/live/next.m4s", body=b"segment", headers={"Cache-Control": "max-age=60"})

    wait_for(lambda: edge.get("/live/next.m4s").status == 200, 5, interval=0.2,
             what="the segment replaces the 404")
    assert up.count("/live/next.m4s") == 2


def test_unsafe_methods_invalidate(edge, up):
    up.route("/doc", body=b"v1", headers={"Cache-Control": "max-age=600"})
    up.route("/other", body=b"o1", headers={"Cache-Control": "max-age=600"})
    edge.get("/doc")
    edge.get("/other")
    assert is_hit(edge.get("/doc")) and is_hit(edge.get("/other"))
    up.route("/doc", body=b"v2", headers={"Cache-Control": "max-age=600",
                                          "Content-Location": "/other"})

    post = edge.get("/doc")  # still v1, cached
    with edge.conn() as c:
        r = c.request("POST", "/doc", body="x")

    assert post.body == b"v1" and r.status == 200

    def refreshed():
        return edge.get("/doc").body == b"v2"

    wait_for(refreshed, 5, what="GET after POST refetches")
    assert not is_hit(edge.get("/other")) or up.count("/other") == 2


def test_stale_while_revalidate_answers_at_once(edge, up):
    up.route("/swr", body=b"old", headers={"Cache-Control": "max-age=1, stale-while-revalidate=60"},
             etag='"a"')
    edge.get("/swr")
    up.route("/swr", body=b"new", head_delay=1.5,
             headers={"Cache-Control": "max-age=60, stale-while-revalidate=60"}, etag='"b"')

    def stale_fast():
        t = time.monotonic()
        r = edge.get("/swr")
        return "stale-while-revalidate" in cs(r) and time.monotonic() - t < 1.0 and r

    r = wait_for(stale_fast, 10, interval=0.2, what="a stale answer without waiting")
    assert r.body == b"old"
    wait_for(lambda: edge.get("/swr").body == b"new", 10, interval=0.2, what="the new body")
    assert edge.metric("edge.cache.stale_served") >= 1


def test_stale_if_error_on_5xx(edge, up):
    up.route("/sie", body=b"good", headers={"Cache-Control": "max-age=1, stale-if-error=60"})
    edge.get("/sie")
    up.route("/sie", body=b"broken", status=503)

    def served_stale():
        r = edge.get("/sie")
        return r.status == 200 and "stale-if-error" in cs(r) and r

    r = wait_for(served_stale, 10, interval=0.2, what="stale on 503")
    assert r.body == b"good" and "fwd-status=503" in cs(r)


def test_grace_serves_stale_while_the_upstream_is_down(cdn, up):
    up.route("/g", body=b"keep playing", headers={"Cache-Control": "max-age=1"})
    edge = cdn.edge(upstream=up.hostport)
    strict = cdn.edge(upstream=up.hostport,
                      conf={"cache.grace": "0s", "cache.stale_while_revalidate": "0s"})
    assert edge.get("/g").status == strict.get("/g").status == 200
    up.close()

    def stale():
        r = edge.get("/g")
        return r.status == 200 and "stale" in cs(r) and r

    r = wait_for(stale, 10, interval=0.2, what="stale with the upstream gone")
    assert r.body == b"keep playing"
    wait_for(lambda: edge.metric("edge.upstream.errors", code="connect") >= 1, 5,
             what="the failed connections counted")
    # SPEC: RFC 9111 4.2.4 -- a stored response it may not reuse: 504
    assert strict.get("/g").status == 504


def test_request_directives_only_if_cached_and_max_stale(edge, up):
    up.route("/oic", body=b"v", headers={"Cache-Control": "max-age=1"})

    none = edge.get("/oic", headers={"Cache-Control": "only-if-cached"})
    edge.get("/oic")
    wait_for(lambda: edge.metric("edge.cache.stored") >= 1, 5, what="stored")
    cached = edge.get("/oic", headers={"Cache-Control": "only-if-cached"})

    assert none.status == 504 and cached.status == 200 and up.count("/oic") == 1

    def stale_allowed():
        r = edge.get("/oic", headers={"Cache-Control": "max-stale=60"})
        return int(r.header("age", "0")) >= 2 and r

    r = wait_for(stale_allowed, 10, interval=0.2, what="a stale answer the client allowed")
    assert r.status == 200 and up.count("/oic") == 1
