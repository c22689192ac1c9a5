"""
test_browser_spine.py -- the whole spine with a real browser at the end: ffmpeg publishes
over RTMP to cascade-origin, which packages the stream; a shield and an edge (both
cascade-edge) carry it; headless Chromium opens the edge's /player/?stream=NAME and
watches. Reports the player's start-up time and live latency through the edge, and
checks the edge's access log for the page's CMCD.

CASCADE_UPDATE_SCREENSHOT=1 copies the page as it played into docs/player.png.

The throttling, pause and VOD scenarios run in test_browser_edge.py on a ladder ffmpeg
makes for the test (they need a floor rung under 400 kbit/s whatever the origin's ladder
is); this file is about the real path.
"""

import os
import shutil

import pytest

import browser
from browser import access_log, cmcd_of, run_scenario
from cdn import SOURCE_DIR, wait_for

CMCD_REQUIRED = {"sid", "cid", "bl", "br", "mtp", "su", "st", "v"}


def spine(cdn, ffmpeg, tmp_path, seconds=120):
    """Origin, shield and edge, with the stream "spine" published and a few segments out."""
    missing = browser.prerequisites()
    assert not missing, "browser tests need: " + ", ".join(missing)
    origin = cdn.origin(workers=2)
    shield = cdn.edge(upstream=origin, role="shield")
    edge = browser.viewer_edge(cdn, shield, tmp_path, browser.edge_serves_player())
    stream = origin.create_stream("spine")
    ffmpeg.publish(origin.publish_url(stream), seconds=seconds)
    manifest = "/live/spine/manifest.mpd"
    wait_for(lambda: edge.get(manifest).status == 200, timeout=30, what="the live MPD at the edge")
    # A few segments into the window, so the player starts where it means to.
    wait_for(lambda: len(origin.segments("spine", first_video_rep(origin))) >= 3, timeout=30,
             what="three video segments at the origin")
    return origin, edge


def test_live_from_origin_through_shield_and_edge_plays_30s_with_no_stall(cdn, ffmpeg, tmp_path):
    origin, edge = spine(cdn, ffmpeg, tmp_path)

    shot = tmp_path / "player.png"
    r = run_scenario("live.mjs", edge.page("stream", "spine"), "--seconds", 30,
                     "--screenshot", shot)

    assert r["ok"], r
    print(f"spine: start-up {r['startupMs']} ms, latency {r['latency']}, "
          f"target {r['targetLatencyS']} s, rendition {r['rendition']}")
    assert r["live"] is True
    assert r["stallCount"] == 0, r["stalls"]
    assert r["played"] >= 28, r
    assert r["startupMs"] < 10000, r
    assert abs(r["latency"]["mean"] - r["targetLatencyS"]) <= 1.5, r
    assert r["pageErrors"] == [] and r["playerErrors"] == [], r
    assert r["requests"]["hosts"] == edge.hosts, r["requests"]["hosts"]
    if os.environ.get("CASCADE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SOURCE_DIR / "docs" / "player.png")

    entries = access_log(edge, "/live/spine/")
    mine = [e for e in entries if e.get("cmcd_sid") == r["sid"]]
    assert len(mine) > 20, entries[-3:]
    keys = set().union(*(cmcd_of(e["path"]) for e in mine))
    assert CMCD_REQUIRED <= keys, sorted(keys)


def first_video_rep(origin):
    model = origin.get("/live/spine/model.json").json()
    for period in model["periods"]:
        for s in period["sets"]:
            if s["content"] == "video":
                return s["reps"][0]["id"]
    raise AssertionError("no video set in the model")


def test_landing_on_the_edge_lists_the_live_stream(cdn, ffmpeg, tmp_path):
    if not browser.edge_serves_player():
        pytest.skip("cascade-edge does not serve /player/ yet: its router must call "
                    "edge_player_serve() (docs/player.md)")
    _, edge = spine(cdn, ffmpeg, tmp_path, seconds=30)

    r = run_scenario("landing.mjs", edge.url("/player/"))

    assert r["ok"], r
    assert {"text": "spine", "href": "?stream=spine"} in r["live"], r["live"]
    # GET /api/videos may not exist yet: the list then says so, and nothing breaks.
    assert r["videos"], r
    assert r["pageErrors"] == [] or all("404" in e for e in r["pageErrors"]), r["pageErrors"]
