"""
test_browser_edge.py -- a viewer watches through cascade-edge: the page and dash.js
come from the edge (/player/), the media through it, in headless Chromium.

The edge's upstream here is a static site with media ffmpeg makes for the test (a live
DASH stream on a 900/350/120 kbit/s ladder and a 12 s VOD; browser.py), so what is
proven is the page, the edge's player files and its proxying, and the CMCD the edge
logs: live plays 30 s with no stall (start-up time and latency reported), VOD plays to
the end, 400 kbit/s keeps playing on a low rung, a 20 s pause resumes without a stall,
and the edge's JSON access log shows the page's CMCD keys and session.

Until the edge's router calls edge_player_serve() (browser.edge_serves_player()), the
page comes from a static site of its own and only the media goes through the edge
(?src=); the test of the edge's player files is then skipped, and everything else runs.
"""

import pytest

import browser
from browser import LADDER, access_log, cmcd_of, run_scenario

LIVE = "/live/test/manifest.mpd"
VOD = "/vod/clip/manifest.mpd"
VOD_SECONDS = 12
CMCD_REQUIRED = {"sid", "cid", "bl", "br", "mtp", "nor", "su", "st", "v"}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """The upstream the edges of this file proxy: live + VOD, made once."""
    api = {"/api/streams": (200, {"streams": [{"name": "test", "live": True}]})}
    # UTCTiming names the edge-relative /time: every Cascade node answers it.
    with browser.media_upstream(tmp_path_factory.mktemp("media"), VOD_SECONDS, time_url="/time",
                                api=api) as (site, _):
        yield site


@pytest.fixture(scope="module")
def serves_player():
    return browser.edge_serves_player()


@pytest.fixture
def edge(cdn, media, tmp_path, serves_player):
    """An edge in front of the media site; .access_log, .page(kind, name), .hosts, .cid()."""
    return browser.viewer_edge(cdn, f"127.0.0.1:{media.port}", tmp_path, serves_player)


def test_edge_serves_the_player_files(edge, serves_player):
    if not serves_player:
        pytest.skip("cascade-edge does not serve /player/ yet: its router must call "
                    "edge_player_serve() (docs/player.md)")
    page = edge.get("/player/?stream=test")
    assert page.status == 200
    assert page.header("content-type") == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.header("content-security-policy")
    assert b"vendor/dash.mediaplayer.min.js" in page.body
    lib = edge.get("/player/vendor/dash.mediaplayer.min.js")
    assert lib.status == 200 and len(lib.body) > 100_000
    assert lib.header("cache-control") == "public, max-age=86400"
    assert edge.get("/player/%2e%2e/%2e%2e/etc/passwd").status == 400
    again = edge.get("/player/player.js", headers={"If-None-Match": lib.header("etag")})
    assert again.status == 200
    same = edge.get("/player/vendor/dash.mediaplayer.min.js",
                    headers={"If-None-Match": lib.header("etag")})
    assert same.status == 304


def test_live_through_the_edge_plays_30s_with_no_stall(edge, tmp_path):
    r = run_scenario("live.mjs", edge.page("stream", "test"), "--seconds", 30,
                     "--screenshot", tmp_path / "player.png")

    assert r["ok"], r
    print(f"live via edge: start-up {r['startupMs']} ms, latency {r['latency']}, "
          f"rendition {r['rendition']}")
    assert r["live"] is True
    assert r["stallCount"] == 0, r["stalls"]
    assert r["played"] >= 28, r
    assert r["startupMs"] < 8000, r
    assert abs(r["latency"]["mean"] - r["targetLatencyS"]) <= 1.5, r
    assert r["targetLatencyS"] == pytest.approx(4 * browser.SEGMENT_SECONDS, abs=0.5)
    assert r["pageErrors"] == [] and r["playerErrors"] == [], r
    # The page, dash.js, the clock and the media: all from the edge, nothing else.
    assert r["requests"]["hosts"] == edge.hosts, r["requests"]["hosts"]

    # The edge's access log shows the page's CMCD: the session id, and the keys.
    entries = [e for e in access_log(edge, "/live/test/") if e.get("cmcd_sid") == r["sid"]]
    assert len(entries) > 20, entries[:3]
    seen = [cmcd_of(e["path"]) for e in entries]
    keys = set().union(*seen)
    assert CMCD_REQUIRED <= keys, sorted(keys)
    assert all(c["cid"] == edge.cid("stream", "test") for c in seen)
    assert all(e["status"] == 200 for e in entries), [e for e in entries if e["status"] != 200]


def test_vod_through_the_edge_plays_to_the_end(edge):
    r = run_scenario("vod.mjs", edge.page("video", "clip"), "--timeout", 90)

    assert r["ok"], r
    print(f"vod via edge: start-up {r['startupMs']} ms, {r['currentTime']} of "
          f"{r['duration']} s in {r['wallS']} s")
    assert r["ended"] is True, r
    assert abs(r["duration"] - VOD_SECONDS) < 0.5
    assert r["stallCount"] == 0, r["stalls"]
    assert r["requests"]["hosts"] == edge.hosts
    hits = [e["cache"] for e in access_log(edge, "/vod/clip/")]
    assert hits, "no VOD request in the access log"


def test_throttled_to_400kbps_through_the_edge_keeps_playing_on_a_low_rung(edge):
    r = run_scenario("throttle.mjs", edge.page("stream", "test"), "--kbps", 400,
                     "--before", 10, "--after", 40)

    assert r["ok"], r
    print(f"throttle via edge: {r['renditionBefore']} -> {r['renditionAfter']}, switched "
          f"down {r['switchDownAfterMs']} ms after, stalls {r['stalls']}")
    fits = [kbps * 1000 for _, _, kbps in LADDER if kbps * 1000 < 400_000]
    assert r["renditionAfter"]["bitrate"] in fits, r["renditionAfter"]
    assert r["switchDownAfterMs"] is not None, r["switches"]
    late = [s for s in r["stalls"] if s["rel"] > r["switchDownAfterMs"]]
    assert all(s["ms"] <= 2000 for s in late), late
    assert r["playing"] is True
    assert r["tailPlayedS"] >= 0.8 * r["tailWallS"], r


def test_pause_20s_through_the_edge_resumes_without_stall(edge):
    r = run_scenario("pause.mjs", edge.page("stream", "test"), "--before", 8,
                     "--pause", 20, "--after", 15)

    assert r["ok"], r
    print(f"pause via edge: beacons {r['beacons']}, latency after resume {r['latencyS']} s")
    assert r["stayedPaused"] is True
    assert r["stallsAfterResume"] == [], r["stallsAfterResume"]
    assert r["playedAfterResume"] >= 12, r
    # The edge saw the pause: requests of this session that carry sta=a and pr=0,
    # the keep-alive HEAD among them.
    sid = r["pauseRequests"][0]["cmcd"].split('sid="')[1].split('"')[0]
    entries = [e for e in access_log(edge, "/live/test/") if e.get("cmcd_sid") == sid]
    paused = [e for e in entries if cmcd_of(e["path"]).get("sta") == "a"]
    assert paused, entries[-5:]
    assert all(cmcd_of(e["path"]).get("pr") == "0" for e in paused)
    assert any(e["method"] == "HEAD" for e in paused), paused[:3]
