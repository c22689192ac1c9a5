"""
test_demo.py -- the new user's path: `./cascade demo`, open what it prints, `./cascade stop`.

Runs the real script (its own run directory and ports, through CASCADE_RUN_DIR and
CASCADE_DEMO_BASE_PORT, so it never meets a demo a developer has running) and
checks what a new user would: every URL it prints answers, the stream plays
through edge -> shield -> origin, and `stop` leaves no process behind.
"""

import os
import re
import signal
import socket
import subprocess
import urllib.request

import pytest

import cdn as cdnlib

SCRIPT = cdnlib.SOURCE_DIR / "cascade"


def _free_base():
    """A base port with the three above it free too (origin, edge, shield, RTMP)."""
    for _ in range(200):
        base = cdnlib.free_port()
        if base > 65000:
            continue
        socks = []
        try:
            for p in range(base, base + 4):
                s = socket.socket()
                s.bind((cdnlib.LOOPBACK, p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no four consecutive free ports")


def _pids(run_dir):
    out = {}
    for f in run_dir.glob("*.pid"):
        first = f.read_text().split("\n", 1)[0].strip()
        if first.isdigit():
            out[f.stem] = int(first)
    return out


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def demo(tmp_path):
    run_dir = tmp_path / "run"
    env = dict(os.environ, CASCADE_RUN_DIR=str(run_dir), CASCADE_DEMO_BASE_PORT=str(_free_base()))
    started = {}
    try:
        yield run_dir, env, started
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
        for pid in list(started.values()) + list(_pids(run_dir).values()):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_prints_urls_that_play_through_shield_and_edge_and_stop_stops_it(demo, ffmpeg):
    run_dir, env, started = demo
    p = subprocess.run([str(SCRIPT), "demo"], env=env, capture_output=True, text=True,
                       timeout=900)  # fmt: skip
    started.update(_pids(run_dir))
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert set(started) >= {"origin", "shield", "edge", "publisher"}, started

    player = re.search(r"player:\s+(http://\S+/player/\?stream=(\S+))", out)
    dash = re.search(r"watch:\s+(http://\S+/manifest\.mpd)", out)
    hls = re.search(r"(http://\S+/master\.m3u8)", out)
    shield = re.search(r"shield\s+(http://[^/\s]+)/healthz", out)
    assert player and dash and hls and shield, out
    stream = player.group(2)

    # The page and the player library come from the edge itself.
    page = urllib.request.urlopen(player.group(1), timeout=10)
    assert page.status == 200
    html = page.read().decode()
    assert "<video" in html

    # The stream's manifest through the edge, once the publisher has a few segments out.
    def mpd():
        r = cdnlib.http_get(dash.group(1))
        return r if r.status == 200 and b"<S " in r.body else None

    r = cdnlib.wait_for(mpd, timeout=60, what="the demo stream's MPD through the edge")
    assert b'type="dynamic"' in r.body

    # The origin encodes the ladder: the passthrough and its encoded rungs in
    # one video AdaptationSet (docs/ladder.md), the 240p floor rung among them.
    def laddered():
        r = cdnlib.http_get(dash.group(1))
        return r if r.status == 200 and b'height="240"' in r.body else None

    r = cdnlib.wait_for(laddered, timeout=90, what="the ladder's 240p rung in the demo MPD")
    assert r.body.count(b"<Representation") >= 3, r.text
    assert cdnlib.http_get(hls.group(1)).status == 200

    # ffmpeg plays it through the edge, and the edge filled from the shield.
    res = ffmpeg.decode(dash.group(1), 4)
    assert res.ok, res.stderr
    m = cdnlib.http_get(shield.group(1) + "/metrics").text
    assert cdnlib.metric_value(m, "edge.cache.misses") >= 1

    # The demo video: uploaded, transcoded, ready, listed, and playing through the edge.
    video = re.search(r"video\s+player:\s+http://\S+/player/\?video=(\w+)", out)
    vdash = re.search(r"(http://\S+/vod/\w+/manifest\.mpd)", out)
    assert video and vdash, out
    base = player.group(1).split("/player/")[0]
    listed = cdnlib.http_get(base + "/api/videos").json()["videos"]
    assert {"id": video.group(1), "status": "ready"}.items() <= next(
        v for v in listed if v["id"] == video.group(1)).items()
    vmpd = cdnlib.http_get(vdash.group(1))
    assert vmpd.status == 200 and b'type="static"' in vmpd.body
    assert vmpd.body.count(b"<Representation") >= 3  # a ladder and audio
    res = ffmpeg.decode(vdash.group(1), 30)
    assert res.ok, res.stderr

    # stop stops exactly what demo started.
    s = subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert s.returncode == 0, s.stdout + s.stderr
    cdnlib.wait_for(lambda: not any(_alive(p) for p in started.values()), timeout=20,
                    what="every demo process gone")  # fmt: skip
    assert not list(run_dir.glob("*.pid"))
