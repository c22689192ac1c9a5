"""
test_browser_social.py -- the viewer page's reactions and comments in headless
Chromium, through a real edge in front of a real origin: one page reacts and
comments, a second page sees the counts and the comment live (SSE from the edge),
replies, and the first page sees the reply (tests/browser/social.mjs).
"""

import pytest

from browser import VENDOR_DIR, WEB_DIR, edge_serves_player, prerequisites, run_scenario
from social_lib import EDGE_KEY, SECRET


@pytest.fixture(scope="module")
def ready():
    missing = [m for m in prerequisites() if not m.startswith("ffmpeg")]
    if missing:
        pytest.skip("missing: " + ", ".join(missing))
    if not edge_serves_player():
        pytest.skip("this cascade-edge does not serve /player/")


def test_react_and_comment_then_a_second_page_sees_them(cdn, ready):
    origin = cdn.origin(conf={"social.token_secret": SECRET, "social.edge_key": EDGE_KEY})
    edge = cdn.edge(
        upstream=origin,
        conf={"social.edge_key": EDGE_KEY, "player.root": WEB_DIR, "player.vendor": VENDOR_DIR},
    )

    r = run_scenario("social.mjs", edge.url("/player/?stream=show"), "--likes", 5, "--fires", 3)

    assert r["ok"], r
    assert r["a"]["like"] == 5 and r["b"]["like"] == 5, r
    assert r["a"]["fire"] == 3 and r["b"]["fire"] == 3, r
    assert r["b"]["texts"] == ["hello from A <b>not bold</b>"], r
    assert r["boldInjected"] == 0
    assert all(r["sessions"])
    # live through the edge: well under the page's own timeouts
    assert r["reactionsSeenMs"] < 5000 and r["commentSeenMs"] < 5000, r
    # nothing is published: the manifest's 404 (retried by the page) is the only failure
    assert r["failed"] == ["404 /live/show/manifest.mpd"], r["failed"]
    assert r["pageErrors"] == [] or all("status of 404" in e for e in r["pageErrors"]), r
    # the origin saw batches from the edge, not one request per click
    assert origin.metric("origin.social.reactions") == 8
    assert origin.metric("origin.social.batches") <= 8
