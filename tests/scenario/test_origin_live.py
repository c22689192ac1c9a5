"""
test_origin_live.py -- the origin's live path, end to end: real publishers
(ffmpeg, GStreamer's rtmp2sink, a replayed OBS session) push RTMP into
cascade-origin; ffmpeg plays the live DASH and HLS it publishes; the
origin is killed with SIGKILL mid-publish and must come back from its
journal; misbehaving publishers are refused and counted while another
stream goes on (issue 4, docs/origin.md).

Every test is bounded: publishers run for a fixed media time, waits have
timeouts, and every process is stopped by PID by the fixtures.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import rtmp_raw
from cdn import LOOPBACK, RawConn, wait_for

# Names this file relies on (docs/origin.md); a renamed metric changes here once.
M_REFUSED = "origin.rtmp.refused"  # counter, reason="bad_key" | "busy" | "bad_app" | ...
M_ERRORS = "origin.rtmp.errors"  # counter, reason="handshake" | "protocol" | "limit" | ...
M_SEGMENTS = "origin.live.segments"
M_RECOVERED = "origin.live.recovered"

GOP_S = 2.0  # the publishers' keyframe interval: -g 60 at 30 fps
VIDEO_TS = 90000
MPD_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}

CC_MANIFEST = "public, max-age=1, stale-while-revalidate=2"
CC_MEDIA = "public, max-age=31536000, immutable"
CC_MISSING = "public, max-age=1"


# ---------------------------------------------------------------- helpers


def fast_origin(cdn, **kw):
    """An origin whose runs end 2 s after their publisher leaves (the default is 15 s)."""
    conf = {"live.reconnect_grace": "2s", "journal.sync_interval": "100ms"}
    conf.update(kw.pop("conf", {}))
    return cdn.origin(conf=conf, workers=2, **kw)


def get_json(node, path):
    r = node.get(path)
    assert r.status == 200, f"{path}: {r.status} {r.text[:200]}"
    return r.json()


def model_of(node, stream):
    return get_json(node, f"/live/{stream}/model.json")


def sets_of(model, content):
    """Every adaptation set of that content ("video", "audio"), period by period."""
    return [s for p in model["periods"] for s in p["sets"] if s["content"] == content]


def timeline(aset):
    """[(t, d), ...] of a set's SegmentTimeline."""
    out = []
    for t, d, r in aset["timeline"]:
        for i in range(r + 1):
            out.append((t + i * d, d))
    return out


def has_av(node, stream):
    """The model lists a video and an audio representation with segments."""
    r = node.get(f"/live/{stream}/model.json")
    if r.status != 200:
        return False
    m = r.json()
    return all(any(timeline(s) for s in sets_of(m, c)) for c in ("video", "audio"))


def wait_av(node, stream, timeout=20.0):
    return wait_for(lambda: has_av(node, stream), timeout, what=f"{stream}: video+audio in model")


def mpd_of(node, stream):
    r = node.get(f"/live/{stream}/manifest.mpd")
    assert r.status == 200, r.status
    return ET.fromstring(r.body)


def mpd_duration_s(mpd):
    """mediaPresentationDuration of an MPD's text, in seconds."""
    m = re.search(r'mediaPresentationDuration="PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?"', mpd)
    assert m, mpd[:300]
    h, mi, sec = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(sec or 0)


def static_mpd(node, stream):
    r = node.get(f"/live/{stream}/manifest.mpd")
    return r.status == 200 and b'type="static"' in r.body


def video_segment_count(node, stream):
    r = node.get(f"/live/{stream}/model.json")
    if r.status != 200:
        return 0
    return sum(len(timeline(s)) for s in sets_of(r.json(), "video"))


def check_gop_durations(m, skip_first=False):
    """
    Every video segment but each session's last lasts one GOP; audio within
    one AAC frame. skip_first: the publisher moved its first frames in time.
    """
    for s in sets_of(m, "video"):
        segs = timeline(s)
        assert s["timescale"] == VIDEO_TS
        # A session's last segment is cut by the publisher leaving: it ends a run of
        # contiguous segments (a gap follows) or the timeline.
        for i, (t, d) in enumerate(segs):
            last_of_session = i + 1 == len(segs) or segs[i + 1][0] != t + d
            if not last_of_session and not (skip_first and i == 0):
                assert d == int(GOP_S * VIDEO_TS), f"video segment {t} lasts {d}"
    for s in sets_of(m, "audio"):
        ts = s["timescale"]
        segs = timeline(s)
        for i, (t, d) in enumerate(segs):
            last_of_session = i + 1 == len(segs) or segs[i + 1][0] != t + d
            if not last_of_session and not (skip_first and i == 0):
                assert abs(d / ts - GOP_S) <= 1024 / ts + 1e-9, f"audio segment {t} lasts {d}"


# ---------------------------------------------------------------- publish and play


def test_publish_gives_live_dash_and_hls_that_ffmpeg_plays(cdn, ffmpeg):
    origin = fast_origin(cdn)
    stream = origin.create_stream("cam1")
    pub = ffmpeg.publish(origin.publish_url(stream), seconds=26)

    wait_av(origin, "cam1")
    # ffmpeg 5.1's DASH demuxer, when it refreshes a live SegmentTimeline MPD,
    # rounds its position down to a whole second and replays a segment that
    # does not start on one (dashdec.c refresh_manifest): let it find the 8 s
    # it decodes in the first MPD it reads. dash.js and Shaka follow the live
    # edge in test_origin_players.py; ffmpeg's HLS demuxer does here.
    wait_for(lambda: video_segment_count(origin, "cam1") >= 6, 30, what="12 s listed")
    mpd = mpd_of(origin, "cam1")
    dash = ffmpeg.decode(origin.url("/live/cam1/manifest.mpd"), seconds=8)
    hls = ffmpeg.decode(origin.url("/live/cam1/master.m3u8"), seconds=8)

    assert dash.ok, dash
    assert hls.ok, hls
    assert mpd.get("type") == "dynamic"
    for attr in ("availabilityStartTime", "publishTime", "minimumUpdatePeriod",
                 "timeShiftBufferDepth", "suggestedPresentationDelay"):  # fmt: skip
        assert mpd.get(attr), f"MPD lacks {attr}"
    utc = mpd.find("d:UTCTiming", MPD_NS)
    assert utc is not None and utc.get("value") == "/time"
    periods = mpd.findall("d:Period", MPD_NS)
    assert len(periods) == 1
    sets = periods[0].findall("d:AdaptationSet", MPD_NS)
    assert sorted(s.get("contentType") for s in sets) == ["audio", "video"]
    for s in sets:
        assert s.find("d:SegmentTemplate/d:SegmentTimeline", MPD_NS) is not None
    assert origin.get("/time").status == 200

    assert pub.wait(60) == 0, pub.log()
    wait_for(lambda: static_mpd(origin, "cam1"), 15, what="static MPD after the end")
    check_gop_durations(model_of(origin, "cam1"))
    vod = ffmpeg.decode(origin.url("/live/cam1/manifest.mpd"), seconds=30)
    assert vod.ok, vod
    assert origin.metric(M_SEGMENTS) > 0


def test_ffmpeg_plays_the_live_stream_through_an_edge(cdn, ffmpeg):
    origin = fast_origin(cdn)
    edge = cdn.edge(upstream=origin)
    stream = origin.create_stream("via-edge")
    ffmpeg.publish(origin.publish_url(stream), seconds=16)
    wait_av(origin, "via-edge")
    wait_for(lambda: video_segment_count(origin, "via-edge") >= 5, 30)  # see test_publish_...
    assert edge.get("/live/via-edge/manifest.mpd").status == 200

    dash = ffmpeg.decode(edge.url("/live/via-edge/manifest.mpd"), seconds=6)
    hls = ffmpeg.decode(edge.url("/live/via-edge/master.m3u8"), seconds=6)

    assert dash.ok, dash
    assert hls.ok, hls


def test_live_files_have_the_caching_and_cors_headers_players_need(cdn, ffmpeg):
    origin = fast_origin(cdn)
    stream = origin.create_stream("hdr")
    ffmpeg.publish(origin.publish_url(stream), seconds=12)
    wait_av(origin, "hdr")
    m = model_of(origin, "hdr")
    vset = sets_of(m, "video")[0]
    rep = vset["reps"][0]["id"]
    t0, d0 = timeline(vset)[0]
    seg_path = f"/live/hdr/{rep}/{t0}.m4s"

    mpd = origin.get("/live/hdr/manifest.mpd")
    m3u8 = origin.get("/live/hdr/master.m3u8")
    media = origin.get(f"/live/hdr/{rep}/media.m3u8")
    init = origin.get(f"/live/hdr/{rep}/init.mp4")
    seg = origin.get(seg_path)
    future = origin.get(f"/live/hdr/{rep}/{t0 + 1000 * d0}.m4s")

    for r in (mpd, m3u8, media):
        assert r.status == 200
        assert r.header("Cache-Control") == CC_MANIFEST
        assert r.header("Access-Control-Allow-Origin") == "*"
    assert mpd.header("Content-Type") == "application/dash+xml"
    assert m3u8.header("Content-Type") == "application/vnd.apple.mpegurl"
    for r in (init, seg):
        assert r.status == 200
        assert r.header("Cache-Control") == CC_MEDIA
        assert r.header("Access-Control-Allow-Origin") == "*"
        assert r.header("ETag") and r.header("Last-Modified")
    assert future.status == 404
    assert future.header("Cache-Control") == CC_MISSING
    assert future.header("Access-Control-Allow-Origin") == "*"

    # Validators, HEAD, ranges, preflight.
    again = origin.get(seg_path, {"If-None-Match": seg.header("ETag")})
    assert again.status == 304 and again.body == b""
    head = origin.request("HEAD", seg_path)
    assert head.status == 200 and head.header("Content-Length") == str(len(seg.body))
    part = origin.get(seg_path, {"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == seg.body[10:20]
    assert part.header("Content-Range") == f"bytes 10-19/{len(seg.body)}"
    assert origin.get(seg_path, {"Range": f"bytes={len(seg.body)}-"}).status == 416
    pre = origin.request("OPTIONS", seg_path, {"Origin": "https://player.example",
                                               "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "range"})
    assert pre.status == 204
    assert "GET" in pre.header("Access-Control-Allow-Methods")
    assert "Range" in pre.header("Access-Control-Allow-Headers")

    # Nothing outside data.dir/live, whatever the spelling.
    for path in ("/live/../meta/data.mdb", "/live/hdr/../../meta/data.mdb",
                 "/live/%2e%2e/meta/data.mdb", "/live/hdr/.manifest.mpd.tmp",
                 "/live/hdr/v0/00.m4s", "/live/hdr/stream.meta"):  # fmt: skip
        with RawConn(origin.addr) as c:
            r = c.request("GET", path, {"Connection": "close"})
        assert r.status in (400, 404), (path, r.status)
    assert origin.request("POST", "/live/hdr/manifest.mpd", body="x").status == 405


def test_same_input_published_twice_gives_the_same_segment_names(cdn, ffmpeg):
    origin = fast_origin(cdn)
    a, b = origin.create_stream("twin-a"), origin.create_stream("twin-b")

    # Not real time: the names depend on media time only, not on the clock.
    pa = ffmpeg.publish(origin.publish_url(a), seconds=9, realtime=False)
    pb = ffmpeg.publish(origin.publish_url(b), seconds=9, realtime=False)
    assert pa.wait(60) == 0 and pb.wait(60) == 0
    wait_for(lambda: static_mpd(origin, "twin-a") and static_mpd(origin, "twin-b"), 20)

    for rep in ("v0", "a0"):
        names_a = origin.segments("twin-a", rep)
        names_b = origin.segments("twin-b", rep)
        assert names_a and names_a == names_b, rep
        for t in names_a:
            fa = origin.live_dir("twin-a") / rep / f"{t}.m4s"
            fb = origin.live_dir("twin-b") / rep / f"{t}.m4s"
            assert fa.read_bytes() == fb.read_bytes(), f"{rep}/{t}.m4s differs"
    ma, mb = model_of(origin, "twin-a"), model_of(origin, "twin-b")
    assert [s["timeline"] for s in sets_of(ma, "video")] == [
        s["timeline"] for s in sets_of(mb, "video")
    ]


@pytest.mark.parametrize("first_ends", ["cleanly", "cut"])
def test_reconnect_continues_the_timeline_in_one_period(cdn, ffmpeg, first_ends):
    origin = fast_origin(cdn, conf={"live.reconnect_grace": "20s"})
    stream = origin.create_stream("recon")

    if first_ends == "cleanly":  # FCUnpublish, deleteStream
        first = ffmpeg.publish(origin.publish_url(stream), seconds=6)
        assert first.wait(60) == 0
    else:  # the encoder dies: the connection just drops
        first = ffmpeg.publish(origin.publish_url(stream), seconds=60)
        wait_for(lambda: first.published_seconds() >= 6.0, 30, what="6 s published")
        first.kill()
        wait_for(lambda: origin.metric(M_ERRORS, reason="cut") == 1, 10, what="cut counted")
    wait_av(origin, "recon")
    before = model_of(origin, "recon")
    second = ffmpeg.publish(origin.publish_url(stream), seconds=6)
    assert second.wait(60) == 0
    wait_for(lambda: video_segment_count(origin, "recon") >= 6, 20, what="both sessions listed")
    after = model_of(origin, "recon")

    assert len(after["periods"]) == 1
    assert after["periods"][0]["id"] == before["periods"][0]["id"]
    assert after["type"] == "dynamic"
    v_before = timeline(sets_of(before, "video")[0])
    v_after = timeline(sets_of(after, "video")[0])
    assert v_after[: len(v_before)] == v_before  # nothing renumbered or renamed
    gaps = [i for i in range(1, len(v_after)) if v_after[i][0] != sum(v_after[i - 1])]
    assert len(gaps) == 1, v_after  # the time the publisher was away
    assert v_after[gaps[0]][0] > sum(v_after[gaps[0] - 1])
    assert sets_of(after, "video")[0]["start_number"] == sets_of(before, "video")[0]["start_number"]
    check_gop_durations(after)
    played = ffmpeg.decode(origin.url("/live/recon/master.m3u8"), seconds=4)
    assert played.ok, played


def xsd_validate(tmp_path, text):
    """xmllint --schema $CASCADE_DASH_XSD on text; (ok, output)."""
    path = tmp_path / "check.mpd"
    path.write_bytes(text)
    p = subprocess.run(["xmllint", "--noout", "--schema", os.environ["CASCADE_DASH_XSD"],
                        str(path)], capture_output=True, text=True, timeout=60)  # fmt: skip
    return p.returncode == 0, p.stderr


def test_a_publisher_that_reconnects_at_once_is_not_refused_as_busy(cdn, ffmpeg):
    # The old connection is read in batches, so its end is only seen at the
    # next batch; a publish that comes in before that reads it first. (A
    # publisher faster than real time may still have bytes in flight when
    # it exits: that one is still publishing, and is refused.)
    origin = fast_origin(cdn, conf={"live.reconnect_grace": "20s", "rtmp.read_batch": "400ms"})
    stream = origin.create_stream("again")
    for _ in range(3):
        run = ffmpeg.publish(origin.publish_url(stream), seconds=2)
        assert run.wait(60) == 0, origin.log_tail(30)
    assert origin.metric(M_REFUSED, default=0, reason="busy") == 0
    wait_for(lambda: video_segment_count(origin, "again") >= 3, 20, what="segments listed")


@pytest.mark.skipif(
    not os.environ.get("CASCADE_DASH_XSD") or shutil.which("xmllint") is None,
    reason="set CASCADE_DASH_XSD to MPEG's DASH-MPD.xsd (not shipped: not ours) and install xmllint",
)
def test_live_and_ended_mpds_validate_against_the_dash_schema(cdn, ffmpeg, tmp_path):
    origin = fast_origin(cdn, conf={"live.reconnect_grace": "20s"})
    stream = origin.create_stream("xsd")
    first = ffmpeg.publish(origin.publish_url(stream), seconds=6, realtime=False)
    assert first.wait(60) == 0
    wait_for(lambda: origin.metric("origin.live.publishing") == 0, 20, what="first one ended")
    second = ffmpeg.publish(origin.publish_url(stream), seconds=6, realtime=False)
    assert second.wait(60) == 0
    wait_for(lambda: video_segment_count(origin, "xsd") >= 6, 20)

    live_ok, live_out = xsd_validate(tmp_path, origin.get("/live/xsd/manifest.mpd").body)
    origin.stop()
    origin.write_conf({"live.reconnect_grace": "1s"})
    origin.restart()
    wait_for(lambda: static_mpd(origin, "xsd"), 20)
    ended_ok, ended_out = xsd_validate(tmp_path, origin.get("/live/xsd/manifest.mpd").body)

    assert live_ok, live_out
    assert ended_ok, ended_out


# ---------------------------------------------------------------- crash and journal


def test_kill9_mid_publish_then_restart_recovers_everything_from_the_journal(cdn, ffmpeg):
    origin = fast_origin(cdn)
    stream = origin.create_stream("crash")
    pub = ffmpeg.publish(origin.publish_url(stream), seconds=60)
    wait_av(origin, "crash")
    wait_for(lambda: pub.published_seconds() >= 9.0, 30, what="9 s published")

    origin.kill9()
    published = pub.published_seconds()
    pub.wait(30)  # the connection died with the origin
    origin.restart()

    # While the journal is replayed the live manifest is not known yet: the
    # origin answers 503 "recovering" (not cacheable), never a 404 an edge
    # would cache as "no such stream".
    early = []

    def manifest_served():
        r = origin.get("/live/crash/manifest.mpd")
        if r.status != 200:
            early.append((r.status, r.header("cache-control"), r.json()["error"]["code"]))
        return r.status == 200

    wait_for(manifest_served, 20, interval=0.005, what="the recovered manifest")
    print(f"answers before the recovered manifest: {early}")
    assert all(e == (503, "no-store", "recovering") for e in early), early
    assert origin.metric("origin.http.recovering") == len(early)
    wait_for(lambda: static_mpd(origin, "crash"), 20, what="the recovered run ends")
    assert origin.metric(M_RECOVERED) == 1
    # ffmpeg 5.1's DASH reader drops the fraction of mediaPresentationDuration
    # (PT8.989S probes as 8.0): read it from the MPD.
    mpd = origin.get("/live/crash/manifest.mpd").text
    duration = mpd_duration_s(mpd)
    assert duration >= published - 0.5, (duration, published)
    assert duration <= published + 0.5, (duration, published)
    check_gop_durations(model_of(origin, "crash"))
    played = ffmpeg.decode(origin.url("/live/crash/manifest.mpd"), seconds=60)
    assert played.ok, played


# ---------------------------------------------------------------- refusals


def rtmp_handshake_then(origin, payload):
    """Connects, does the handshake, sends payload; True when the origin closes on us."""
    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port) as p:
        p.handshake()
        p.send(payload)
        return p.closed_by_peer(5)


def test_bad_publishers_are_refused_and_counted_while_a_stream_goes_on(cdn, ffmpeg):
    origin = fast_origin(cdn)
    good = origin.create_stream("good")
    pub = ffmpeg.publish(origin.publish_url(good), seconds=30)
    wait_av(origin, "good")
    segs_before = video_segment_count(origin, "good")

    # A key nobody created.
    bad = ffmpeg.publish(origin.rtmp_url("live/not-a-key"), seconds=5)
    assert bad.wait(30) != 0
    # A second publisher on a stream that has one.
    busy = ffmpeg.publish(origin.publish_url(good), seconds=5)
    assert busy.wait(30) != 0
    # A handshake cut short: C0 and half of C1, then close.
    with socket.create_connection(origin.addr[:1] + (origin.rtmp_port,)) as s:
        s.sendall(b"\x03" + b"\x00" * 700)
    # Garbage where chunks should be; chunk sizes of 0 and 2^31.
    w = rtmp_raw.ChunkWriter()
    # A type-3 chunk on a chunk stream that never had a header: nothing to continue.
    garbage = b"\xc3" + bytes((i * 37 + 11) & 0xFF for i in range(4096))
    assert rtmp_handshake_then(origin, garbage)
    assert rtmp_handshake_then(origin, w.set_chunk_size(128, announce_as=0))
    assert rtmp_handshake_then(origin, rtmp_raw.ChunkWriter().set_chunk_size(128, 1 << 31))
    # A client that speaks RTMPE (C0 = 6).
    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port) as p:
        p.send(b"\x06" + b"\x00" * 1536)
        assert p.closed_by_peer(5)

    wait_for(lambda: origin.metric(M_ERRORS, reason="handshake") >= 2, 10, what="handshakes")
    assert origin.metric(M_REFUSED, reason="bad_key") == 1
    assert origin.metric(M_REFUSED, reason="busy") == 1
    assert origin.metric(M_ERRORS, reason="protocol") == 3
    assert origin.metric(M_ERRORS, reason="handshake") == 2
    # The good stream never noticed.
    wait_for(lambda: video_segment_count(origin, "good") >= segs_before + 2, 15,
             what="good stream keeps growing")
    assert pub.alive
    played = ffmpeg.decode(origin.url("/live/good/master.m3u8"), seconds=4)
    assert played.ok, played
    assert origin.get("/healthz").status == 200


# ---------------------------------------------------------------- other publishers


@pytest.fixture(scope="module")
def sample_flv(tmp_path_factory):
    """8 s of H.264 + AAC as ffmpeg writes FLV (the media an OBS replay sends)."""
    path = tmp_path_factory.mktemp("media") / "sample.flv"
    argv = ffmpeg_argv_to_file(path)
    subprocess.run(argv, check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    return path


def ffmpeg_argv_to_file(path):
    from cdn import FFmpeg

    argv = FFmpeg(path.parent).publish_argv(str(path), seconds=8, realtime=False)
    return argv


def test_obs_style_amf0_session_publishes(cdn, ffmpeg, sample_flv):
    origin = fast_origin(cdn)
    stream = origin.create_stream("obs")
    tc_url = f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live"
    tags = rtmp_raw.flv_tags(sample_flv)

    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port, timeout=10) as p:
        p.handshake()
        received = rtmp_raw.obs_publish(p, "live", stream["key"], tc_url, tags)
        assert b"NetStream.Publish.Start" in received
    wait_for(lambda: static_mpd(origin, "obs"), 20, what="OBS session's run ends")

    m = model_of(origin, "obs")
    assert sets_of(m, "video") and sets_of(m, "audio")
    check_gop_durations(m)
    played = ffmpeg.decode(origin.url("/live/obs/manifest.mpd"), seconds=10)
    assert played.ok, played


def test_a_silent_publisher_is_closed_after_rtmp_timeout_while_read_in_batches(cdn, sample_flv):
    # A publishing connection is read by the ingest's batch tick, not by its
    # own read events: silence must still be noticed there, and what the
    # publisher sent before is kept.
    origin = fast_origin(cdn, conf={"rtmp.timeout": "1s", "rtmp.read_batch": "50ms"})
    stream = origin.create_stream("quiet")
    tc_url = f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live"
    tags = rtmp_raw.flv_tags(sample_flv)

    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port, timeout=10) as p:
        p.handshake()
        received = rtmp_raw.obs_publish(p, "live", stream["key"], tc_url, tags)
        assert b"NetStream.Publish.Start" in received
        t0 = time.monotonic()
        assert p.closed_by_peer(timeout=6), "a silent publisher was never closed"
        assert time.monotonic() - t0 < 4
    assert origin.metric("origin.rtmp.errors", reason="timeout") == 1
    wait_for(lambda: static_mpd(origin, "quiet"), 20, what="the quiet run ends")
    check_gop_durations(model_of(origin, "quiet"))


def test_timestamps_across_the_32_bit_wrap_with_extended_timestamps(cdn, ffmpeg, sample_flv):
    origin = fast_origin(cdn)
    stream = origin.create_stream("wrap")
    tc_url = f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live"
    tags = rtmp_raw.flv_tags(sample_flv)

    # The encoder's clock starts 3 s before 2^32 ms: every timestamp is an
    # extended one (type-0 headers, repeated on continuation chunks) and it
    # wraps to small values 3 s in.
    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port, timeout=10) as p:
        p.handshake()
        received = rtmp_raw.obs_publish(p, "live", stream["key"], tc_url, tags,
                                        ts_offset=(1 << 32) - 3000, compress=False)
        assert b"NetStream.Publish.Start" in received
    wait_for(lambda: static_mpd(origin, "wrap"), 20, what="the wrapped run ends")

    m = model_of(origin, "wrap")
    check_gop_durations(m)
    video = timeline(sets_of(m, "video")[0])
    assert video[0][0] < VIDEO_TS  # the timeline starts at 0, not near 2^32 ms
    assert sum(d for _, d in video) / VIDEO_TS >= 7.5
    played = ffmpeg.decode(origin.url("/live/wrap/manifest.mpd"), seconds=10)
    assert played.ok, played


def test_irregular_first_timestamps_are_not_passed_on(cdn, ffmpeg, sample_flv):
    origin = fast_origin(cdn)
    stream = origin.create_stream("jitter")
    tc_url = f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live"
    # What real encoders do at the start: a clock that starts at some wall
    # time, audio a little before the first video frame, the first video
    # frames all stamped alike.
    tags, videos = [], 0
    for ttype, ts, body in rtmp_raw.flv_tags(sample_flv):
        if ttype == rtmp_raw.MSG_VIDEO:
            videos += 1
            if 2 <= videos <= 4:
                ts = 0  # frames 2..4 repeat the first one's time (sequence header is 1)
        elif ttype == rtmp_raw.MSG_AUDIO and ts > 0:
            ts = max(0, ts - 40)
        tags.append((ttype, ts, body))

    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port, timeout=10) as p:
        p.handshake()
        received = rtmp_raw.obs_publish(p, "live", stream["key"], tc_url, tags,
                                        ts_offset=734_000_000)
        assert b"NetStream.Publish.Start" in received
    wait_for(lambda: static_mpd(origin, "jitter"), 20, what="the jittery run ends")

    m = model_of(origin, "jitter")
    video = timeline(sets_of(m, "video")[0])
    audio = timeline(sets_of(m, "audio")[0])
    assert video[0][0] < VIDEO_TS // 10 and audio[0][0] < sets_of(m, "audio")[0]["timescale"] // 10
    # Strictly increasing sample times are the packager's own check (it refuses
    # anything else); the first segment is as long as the moved frames make it.
    check_gop_durations(m, skip_first=True)
    assert abs(video[0][1] - GOP_S * VIDEO_TS) <= VIDEO_TS // 10
    played = ffmpeg.decode(origin.url("/live/jitter/manifest.mpd"), seconds=10)
    assert played.ok, played


def test_dvr_window_trims_the_manifest_and_expires_old_files(cdn, ffmpeg):
    origin = fast_origin(cdn, conf={"live.dvr_window": "6s", "live.keep_recording": False,
                                    "live.reconnect_grace": "30s"})
    stream = origin.create_stream("dvr")

    pub = ffmpeg.publish(origin.publish_url(stream), seconds=40, realtime=False)
    assert pub.wait(90) == 0
    wait_for(lambda: video_segment_count(origin, "dvr") > 0, 20)

    # The last segment's file is written before the manifests list it (they are
    # rewritten once both tracks are level, or within a second): wait for that.
    def settled():
        m = model_of(origin, "dvr")
        video = timeline(sets_of(m, "video")[0])
        files = origin.segments("dvr", "v0")
        return (m, video, files) if files and files[-1] == video[-1][0] else None

    m, video, files = wait_for(settled, 10, what="the manifests list the newest segment file")
    end = sum(video[-1])
    assert m["type"] == "dynamic" and m["dvr_window_ms"] == 6000
    assert end - video[0][0] <= (6 + 2 * GOP_S) * VIDEO_TS  # only the window is listed
    assert sets_of(m, "video")[0]["start_number"] > 0  # numbers survive the trimming
    # Files stay for another window and two segments after they leave it (RFC 8216 6.2.2).
    assert files[0] > 0 and files[0] >= end - (2 * 6 + 2 * 2 + GOP_S) * VIDEO_TS
    media = origin.get("/live/dvr/v0/media.m3u8").text
    assert "#EXT-X-MEDIA-SEQUENCE:0" not in media
    played = ffmpeg.decode(origin.url("/live/dvr/master.m3u8"), seconds=4)
    assert played.ok, played


def test_obs_style_session_with_a_wrong_key_gets_an_error_status(cdn):
    origin = fast_origin(cdn)
    tc_url = f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live"

    with rtmp_raw.RawPublisher(LOOPBACK, origin.rtmp_port) as p:
        p.handshake()
        received = rtmp_raw.obs_publish(p, "live", "wrong", tc_url, [])
        assert b"NetStream.Publish.BadName" in received
        assert p.closed_by_peer(5)
    assert origin.metric(M_REFUSED, reason="bad_key") == 1


def gst_available():
    if shutil.which("gst-launch-1.0") is None or shutil.which("gst-inspect-1.0") is None:
        return False
    for element in ("rtmp2sink", "x264enc", "flvmux", "voaacenc"):
        r = subprocess.run(["gst-inspect-1.0", element], capture_output=True, timeout=30)
        if r.returncode != 0:
            return False
    return True


@pytest.mark.skipif(not gst_available(), reason="GStreamer rtmp2sink/x264enc/voaacenc missing")
def test_gstreamer_rtmp2sink_publishes(cdn, ffmpeg, tmp_path):
    origin = fast_origin(cdn)
    stream = origin.create_stream("gst")
    argv = [
        "gst-launch-1.0", "-q",
        "videotestsrc", "is-live=false", "num-buffers=240", "!",
        "video/x-raw,width=640,height=360,framerate=30/1", "!",
        "x264enc", "tune=zerolatency", "key-int-max=60", "speed-preset=veryfast", "!",
        "h264parse", "!", "flvmux", "name=m", "streamable=true", "!",
        "rtmp2sink", f"location={origin.publish_url(stream)}",
        "audiotestsrc", "is-live=false", "num-buffers=350", "!", "audioconvert", "!",
        "voaacenc", "!", "aacparse", "!", "m.",
    ]  # fmt: skip
    with open(tmp_path / "gst.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            assert proc.wait(60) == 0, (tmp_path / "gst.log").read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    wait_for(lambda: static_mpd(origin, "gst"), 20, what="GStreamer run ends")
    m = model_of(origin, "gst")
    assert sets_of(m, "video") and sets_of(m, "audio")
    played = ffmpeg.decode(origin.url("/live/gst/manifest.mpd"), seconds=6)
    assert played.ok, played


# ---------------------------------------------------------------- the API


def test_streams_api_creates_lists_and_refuses_duplicates(cdn):
    origin = cdn.origin()

    made = origin.create_stream("news")
    anon = origin.create_stream()
    dup = origin.request("POST", "/api/streams", body=json.dumps({"name": "news"}))
    bad = origin.request("POST", "/api/streams", body=json.dumps({"name": "../x"}))
    junk = origin.request("POST", "/api/streams", body="{not json")
    listed = get_json(origin, "/api/streams")
    one = get_json(origin, "/api/streams/news")

    assert made["name"] == "news" and len(made["key"]) == 32
    assert made["publish_url"] == f"rtmp://{LOOPBACK}:{origin.rtmp_port}/live/{made['key']}"
    assert made["manifest"] == "/live/news/manifest.mpd"
    assert anon["name"] and anon["key"] != made["key"]
    assert dup.status == 409 and dup.json()["error"]["code"] == "exists"
    assert bad.status == 400 and junk.status == 400
    assert sorted(s["name"] for s in listed["streams"]) == sorted(["news", anon["name"]])
    assert all("key" not in s for s in listed["streams"])
    assert one["name"] == "news" and one["live"] is False
    assert origin.get("/api/streams/nope").status == 404


def test_stream_keys_survive_a_restart(cdn, ffmpeg):
    origin = fast_origin(cdn)
    stream = origin.create_stream("keep")
    assert origin.stop() == 0
    origin.restart()

    pub = ffmpeg.publish(origin.publish_url(stream), seconds=4, realtime=False)

    assert pub.wait(60) == 0
    wait_av(origin, "keep")



def test_manifests_read_while_rewritten_are_always_whole(cdn, ffmpeg):
    # Manifests are rewritten through a temporary file and RENAME_EXCHANGE
    # (live.c). Hammer them while cuts come five times a second: every answer
    # must be one complete document that agrees with its length.
    origin = fast_origin(cdn, conf={"live.segment_duration": "200ms"})
    stream = origin.create_stream("busy")
    pub = ffmpeg.publish(origin.publish_url(stream), seconds=12, gop=6)
    wait_av(origin, "busy")
    deadline = time.monotonic() + 6
    bad, reads = [], [0]

    def hammer(path, check):
        with origin.conn() as c:
            while time.monotonic() < deadline:
                r = c.request("GET", path)
                reads[0] += 1
                try:
                    assert r.status == 200 and len(r.body) == int(r.header("content-length"))
                    check(r.body)
                except Exception as exc:  # noqa: BLE001 -- collected and reported below
                    bad.append((path, repr(exc), r.body[-80:]))

    checks = [("/live/busy/manifest.mpd", ET.fromstring),
              ("/live/busy/model.json", json.loads),
              ("/live/busy/v0/media.m3u8", lambda b: b.rstrip().splitlines()[-1].endswith(b".m4s"))]
    threads = [threading.Thread(target=hammer, args=c) for c in checks * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    pub.kill()
    assert not bad, bad[:3]
    assert reads[0] > 300, reads
    assert origin.metric("origin.http.served", kind="manifest") >= reads[0]
