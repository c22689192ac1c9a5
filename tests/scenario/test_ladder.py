"""
test_ladder.py -- the live transcode ladder (issue 5, docs/ladder.md): a real
ffmpeg publisher pushes RTMP into cascade-origin with a ladder; one ffmpeg
worker per stream encodes the rungs; the MPD lists them in the one video
AdaptationSet; every rendition's segment N starts at the same tfdt; ffmpeg
decodes each one; a worker killed with SIGKILL or stopped with SIGSTOP is
restarted while a client follows the live edge, with the same Period and
the same numbering.

Sources are 640x360 so the ladder stays small (360p + 240p) on a 2-core box.
"""

import os
import re
import signal
import time
import pytest

import browser
from cdn import wait_for
from ladder_lib import (audio_reps, audio_sets, band_diff, beeps, decode_audio, decode_files, follow_live,
                        gray_frame, last_period_video, mpd, periods, player_result, run_player, tfdt, timeline,
                        video_reps, video_sets, worker_pids)

SEG_S = 2.0


def ladder_origin(cdn, ladder="default", **conf):
    c = {"live.reconnect_grace": "3s", "ladder": ladder, "ladder.backoff_min": "250ms"}
    c.update(conf)
    return cdn.origin(conf=c, workers=2)


def wait_rungs(origin, name, want, segments=3, timeout=40):
    def ready():
        try:
            reps = video_reps(mpd(origin, name))
        except Exception:
            return None
        if set(want) <= set(reps) and all(len(origin.segments(name, r)) >= segments for r in want):
            return reps
        return None
    return wait_for(ready, timeout=timeout, what=f"rungs {want}")


def test_ladder_lists_aligned_decodable_renditions(cdn, ffmpeg):
    origin = ladder_origin(cdn)
    st = origin.create_stream("lad")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=14)
    want = ["v0", "v0-360p", "v0-240p"]
    reps = wait_rungs(origin, "lad", want, segments=4)
    pub.wait(60)
    wait_for(lambda: not worker_pids(origin), timeout=20, what="worker exit")

    root = mpd(origin, "lad")
    assert len(video_sets(root)) == 1
    assert set(reps) == set(want), reps
    assert reps["v0-240p"]["height"] == "240" and reps["v0-240p"]["width"] == "426"
    assert reps["v0-360p"]["height"] == "360"
    for r in want:
        assert reps[r]["codecs"].startswith("avc1."), reps[r]
        assert reps[r]["frameRate"] == "30", reps[r]
        assert int(reps[r]["bandwidth"]) > 0
    assert int(reps["v0-240p"]["bandwidth"]) < int(reps["v0-360p"]["bandwidth"])

    # Segment N has the same name and tfdt in every rendition, passthrough included.
    d = origin.live_dir("lad")
    names = origin.segments("lad", "v0")
    assert len(names) >= 5
    for r in want:
        assert origin.segments("lad", r) == names, r
        for t in names:
            assert tfdt((d / r / f"{t}.m4s").read_bytes()) == t, (r, t)
    # Every rendition decodes, all of it.
    for r in want:
        files = [d / r / "init.mp4"] + [d / r / f"{t}.m4s" for t in names]
        rc, err, frames = decode_files(files)
        assert rc == 0 and not err.strip(), (r, err[:500])
        assert frames >= 30 * SEG_S * (len(names) - 1), (r, frames)
    assert origin.metric("origin.ladder.worker_crashes") == 0


def check_audio_rungs(origin, name, decode=True):
    """The AAC rungs: listed in their own audio set, every listed segment on disk, decodable."""
    root = mpd(origin, name)
    reps = audio_reps(root)
    assert {"a0", "a0-aac128", "a0-aac64"} <= set(reps), reps
    enc = reps["a0-aac128"]["set"]
    assert reps["a0-aac64"]["set"] == enc != reps["a0"]["set"]
    # players start on the passthrough audio, which never waits for a worker
    prio = {s.get("id"): s.get("selectionPriority") for s in audio_sets(root)}
    assert prio[reps["a0"]["set"]] == "2" and prio[enc] is None, prio
    for r in ("a0-aac128", "a0-aac64"):
        assert reps[r]["codecs"] == "mp4a.40.2", reps[r]
        assert reps[r]["audioSamplingRate"] == reps["a0"]["audioSamplingRate"], reps[r]
    assert 128000 <= int(reps["a0-aac128"]["bandwidth"]) < 200000, reps
    assert 64000 <= int(reps["a0-aac64"]["bandwidth"]) < 128000, reps
    # HLS: renditions of the one audio group, each with its media playlist.
    master = origin.get(f"/live/{name}/master.m3u8").body.decode()
    for r in ("a0", "a0-aac128", "a0-aac64"):
        assert re.search(rf'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="{r}".*URI="{r}/', master), master
        assert origin.get(f"/live/{name}/{r}/media.m3u8").status == 200
    tl = timeline(root, enc)
    assert len(tl) >= 2, tl
    # Contiguous: no gap a player would stall at (under a frame is allowed).
    rate = int(reps["a0"]["audioSamplingRate"])
    for (t0, d0), (t1, _) in zip(tl, tl[1:]):
        assert 0 <= t1 - (t0 + d0) < rate // 50, (t0, d0, t1)
    d = origin.live_dir(name)
    for r in ("a0-aac128", "a0-aac64"):
        have = set(origin.segments(name, r))
        assert all(t in have for t, _ in tl), (r, [t for t, _ in tl if t not in have])
        if decode:
            files = [d / r / "init.mp4"] + [d / r / f"{t}.m4s" for t, _ in tl]
            rc, err, secs = decode_audio(files)
            assert rc == 0 and not err.strip(), (r, err[:500])
            span = (tl[-1][0] + tl[-1][1] - tl[0][0]) / rate
            assert secs >= span - 0.1, (r, secs, span)
    return tl


def test_ladder_audio_rungs(cdn, ffmpeg):
    # A beep every second marks the time, to check the encoded audio sits where a0 does.
    plain = ffmpeg.publish_argv
    ffmpeg.publish_argv = lambda *a, **k: [x.replace("sine=frequency=1000", "sine=f=1000:b=4")
                                           for x in plain(*a, **k)]  # fmt: skip
    origin = ladder_origin(cdn)
    st = origin.create_stream("aud")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=12)
    wait_rungs(origin, "aud", ["v0", "v0-360p"], segments=3)
    wait_for(lambda: len(origin.segments("aud", "a0-aac64")) >= 3, timeout=20,
             what="encoded audio segments")
    pub.wait(60)
    wait_for(lambda: not worker_pids(origin), timeout=20, what="worker exit")
    tl = check_audio_rungs(origin, "aud")
    # (no failover copy in the audio rungs: the beeps below are all real)
    assert origin.metric("origin.ladder.audio_fillers") == 0
    # In sync with the passthrough audio (and so with the video): same beeps, same times.
    d = origin.live_dir("aud")
    rate = int(audio_reps(mpd(origin, "aud"))["a0"]["audioSamplingRate"])
    a0 = origin.segments("aud", "a0")
    ref = beeps([d / "a0" / "init.mp4"] + [d / "a0" / f"{t}.m4s" for t in a0], a0[0], rate)
    for r in ("a0-aac128", "a0-aac64"):
        got = beeps([d / r / "init.mp4"] + [d / r / f"{t}.m4s" for t, _ in tl], tl[0][0], rate)
        # (a beep cut by the start of either is not a marker)
        start = max(tl[0][0], a0[0]) / rate + 0.1
        pairs = [(x, min(ref, key=lambda y: abs(y - x))) for x in got if x > start]
        assert len(pairs) >= 4, (got, ref)
        assert all(abs(x - y) <= 0.003 for x, y in pairs), (r, pairs)
    print(f"audio rungs: {len(tl)} segments, d={[d for _, d in tl]}")


def test_ladder_file_never_upscales(cdn, ffmpeg):
    lf = cdn.write_file("tall.ladder", "video 1080p 1080 5000\nvideo 720p 720 3000\n"
                        "video 360p 360 700\nvideo 180p 180 200\n")
    origin = ladder_origin(cdn, ladder=str(lf))
    st = origin.create_stream("tall")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=8)
    reps = wait_rungs(origin, "tall", ["v0", "v0-360p", "v0-180p"], segments=2)
    assert "v0-1080p" not in reps and "v0-720p" not in reps
    assert (reps["v0-180p"]["width"], reps["v0-180p"]["height"]) == ("320", "180")
    pub.kill()


def test_ladder_survives_worker_kill_and_hang(cdn, ffmpeg, tmp_path, request):
    # The restart's latency is measured here, not the scheduler's: at ladder.nice 10 on a
    # shared 2-core box at load 20, a worker gets so little CPU that no bound holds.
    origin = ladder_origin(cdn, **{"ladder.nice": "0"})
    st = origin.create_stream("k")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=60)
    want = ["v0", "v0-360p", "v0-240p"]
    wait_rungs(origin, "k", want, segments=3)
    wait_for(lambda: len(origin.segments("k", "a0-aac64")) >= 2, timeout=10,
             what="encoded audio segments")
    client = follow_live(origin.url("/live/k/manifest.mpd"), 26, tmp_path / "client.log",
                         maps=("0:v", "0:a"))
    request.addfinalizer(client.kill)  # it retries forever once the origin is gone
    time.sleep(3)  # the client is playing

    # kill -9: a crash, restarted at the next keyframe.
    [pid] = worker_pids(origin)
    fillers0 = origin.metric("origin.ladder.fillers")
    encoded0 = origin.metric("origin.ladder.segments")
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: origin.metric("origin.ladder.worker_crashes") == 1, timeout=5)
    new = wait_for(lambda: [p for p in worker_pids(origin) if p != pid] or None, timeout=10)
    # Back: both rungs of the new worker produce real segments again...
    # (SPEC issue 5: "the ladder is back within 2 segment durations", same Period, same
    # numbering -- checked below.) The new worker starts at the keyframe of the GOP in
    # progress and catches up faster than real time, so even that segment is usually real.
    wait_for(lambda: origin.metric("origin.ladder.segments") >= encoded0 + 2, timeout=6 * SEG_S)
    back_s = time.monotonic() - killed_at
    assert back_s <= 2 * SEG_S, back_s
    time.sleep(SEG_S)
    # Failover copies: none when the new worker catches up within ladder.wait (a quiet
    # box); on a loaded one the GOP in progress and the next can miss it: 2 per rung.
    fillers = origin.metric("origin.ladder.fillers") - fillers0
    assert fillers <= 2 * 2, fillers
    assert origin.metric("origin.ladder.worker_restarts") >= 1

    # SIGSTOP: no progress for two segment durations is a hang: SIGTERM, SIGKILL, restart.
    time.sleep(2)
    os.kill(new[0], signal.SIGSTOP)
    wait_for(lambda: origin.metric("origin.ladder.worker_hangs") == 1, timeout=2 * SEG_S + 4)
    wait_for(lambda: [p for p in worker_pids(origin) if p != new[0]] or None, timeout=10)

    assert client.wait(90) == 0, (tmp_path / "client.log").read_text()[-2000:]
    # ffmpeg's null muxer warns about its own DASH demuxer's dts on the
    # passthrough stream (stream 0) after a delayed MPD update; no decode error may appear.
    errors = [line for line in (tmp_path / "client.log").read_text().splitlines()
              if line.strip() and "non monotonically increasing dts" not in line]
    assert not errors, errors[-20:]

    root = mpd(origin, "k")
    assert periods(root) == ["p0"]
    reps = video_reps(root)
    assert set(want) <= set(reps)
    # Numbering unchanged: one timeline, every rendition has every listed segment.
    d = origin.live_dir("k")
    names = origin.segments("k", "v0")
    for r in want[1:]:
        have = set(origin.segments("k", r))
        listed = [t for t in names if t >= names[0]]
        assert all(t in have for t in listed[:-2]), r
        for t in listed[:-2]:
            assert tfdt((d / r / f"{t}.m4s").read_bytes()) == t
    # The audio rungs stayed listed, on one gap-free timeline, and decode end to end.
    check_audio_rungs(origin, "k")
    print(f"ladder back {back_s:.1f}s after kill -9, {fillers} failover copies (2 rungs)")
    pub.kill()


@pytest.mark.parametrize("player", ["dashjs", "shaka"])
def test_players_on_top_encoded_rung_survive_worker_kill(cdn, ffmpeg, tmp_path, player, request):
    missing = browser.prerequisites()
    if missing:
        pytest.skip("; ".join(missing))
    origin = ladder_origin(cdn)
    st = origin.create_stream("b")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=90)
    wait_rungs(origin, "b", ["v0", "v0-360p", "v0-240p"], segments=3)
    log_path = tmp_path / f"{player}.log"
    proc = run_player("ladder.mjs", origin.url("/live/b/manifest.mpd"), log_path,
                      "--player", player, "--rep", "v0-360p", "--seconds", 24)
    request.addfinalizer(proc.kill)
    wait_for(lambda: "PLAYING" in log_path.read_text(errors="replace") or proc.poll() is not None,
             timeout=60, what="player playing")
    assert proc.poll() is None, log_path.read_text()[-3000:]
    time.sleep(4)
    [pid] = worker_pids(origin)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: origin.metric("origin.ladder.worker_crashes") == 1, timeout=5)
    res = player_result(proc)
    print(player, res)
    assert res["ok"], (res, log_path.read_text()[-3000:])
    assert res["playerErrors"] == [], res
    # Every segment the player asked for existed (a 404 would be a vanished rendition).
    assert [f for f in res["failedRequests"] if "/live/" in f] == [], res
    # No stall longer than one segment; the playhead kept moving.
    assert res["longestStallMs"] <= SEG_S * 1000, res
    assert res["played"] >= 24 - 2 * SEG_S, res
    assert origin.metric("origin.ladder.worker_restarts") >= 1
    assert periods(mpd(origin, "b")) == ["p0"]
    pub.kill()


def test_slow_worker_drops_top_rung_then_restores_it(cdn, ffmpeg, tmp_path):
    # The worker's second run reads its input at half speed: slower than real time.
    wrapper = tmp_path / "slow-ffmpeg"
    wrapper.write_text(f"""#!/bin/sh
n=$(cat {tmp_path}/runs 2>/dev/null || echo 0); echo $((n + 1)) > {tmp_path}/runs
if [ "$n" = 1 ]; then exec ffmpeg -readrate 0.5 "$@"; fi
exec ffmpeg "$@"
""")
    wrapper.chmod(0o755)
    origin = ladder_origin(cdn, **{"ladder.ffmpeg": str(wrapper), "ladder.restore": "4s"})
    st = origin.create_stream("slow")
    pub = ffmpeg.publish(origin.publish_url(st), seconds=70)
    wait_rungs(origin, "slow", ["v0", "v0-360p", "v0-240p"], segments=2)
    [pid] = worker_pids(origin)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: origin.metric("origin.ladder.rungs_dropped", 0) == 1, timeout=40,
             what="top rung dropped")
    assert "ev=rung_dropped stream=slow rung=360p" in origin.log()
    assert origin.metric("origin.ladder.worker_hangs") == 0
    # Dropped, not vanished: the MPD still lists it (failover copies stand in).
    fillers = origin.metric("origin.ladder.fillers")
    wait_for(lambda: origin.metric("origin.ladder.fillers") > fillers, timeout=10)
    assert "v0-360p" in video_reps(mpd(origin, "slow"))
    wait_for(lambda: origin.metric("origin.ladder.rungs_restored", 0) == 1, timeout=30,
             what="top rung restored")
    restored_at = origin.segments("slow", "v0")[-1]
    fillers = origin.metric("origin.ladder.fillers")
    # Real 360p segments again: new segments, at most the restart's failover copies.
    wait_for(lambda: len([t for t in origin.segments("slow", "v0") if t > restored_at]) >= 4,
             timeout=30)
    assert origin.metric("origin.ladder.fillers") <= fillers + 2 * 2
    root = mpd(origin, "slow")
    assert periods(root) == ["p0"]
    assert {"v0", "v0-360p", "v0-240p"} <= set(video_reps(root))
    assert origin.log().count("ev=started stream=slow rungs=2") >= 2
    pub.kill()


def test_disclaimer_burned_into_encoded_renditions(cdn, ffmpeg):
    origin = ladder_origin(cdn)
    r = origin.request("POST", "/api/streams", {"Content-Type": "application/json"},
                       '{"name": "disc", "disclaimer": "Simulated content - not real"}')
    assert r.status == 201, r.text
    st = r.json()
    assert origin.get("/api/streams/disc").json()["disclaimer"] == "Simulated content - not real"
    bad = origin.request("PUT", "/api/streams/disc", {"Content-Type": "application/json"},
                         '{"disclaimer": "quote \' and colon : break drawtext"}')
    assert bad.status == 400 and bad.json()["error"]["code"] == "bad_disclaimer"
    pub = ffmpeg.publish(origin.publish_url(st), seconds=60)
    wait_rungs(origin, "disc", ["v0", "v0-360p"], segments=2)
    d = origin.live_dir("disc")

    def diffs(t):
        a = gray_frame(d / "v0" / "init.mp4", d / "v0" / f"{t}.m4s", 640, 360)
        b = gray_frame(d / "v0-360p" / "init.mp4", d / "v0-360p" / f"{t}.m4s", 640, 360)
        # the text box sits on the bottom rows; the top is the same picture
        return band_diff(a, b, 640, 326, 350), band_diff(a, b, 640, 20, 300)
    t = origin.segments("disc", "v0-360p")[1]
    bottom, top = diffs(t)
    assert bottom > 3 * top + 5, (bottom, top)

    # The passthrough cannot carry the text: a new Period offers the encoded rungs only.
    def no_v0():
        reps, tl = last_period_video(mpd(origin, "disc"))
        return (reps, tl) if reps and "v0" not in reps and len(tl) >= 2 else None
    reps, tl = wait_for(no_v0, timeout=20, what="a period without the passthrough")
    assert set(reps) == {"v0-360p", "v0-240p"}, reps
    assert len(periods(mpd(origin, "disc"))) == 2

    def overlaid(rep, t):
        # every listed rendition has the text where the source (v0, on disk) has none
        w, h = 640, 360
        a = gray_frame(d / "v0" / "init.mp4", d / "v0" / f"{t}.m4s", w, h)
        b = gray_frame(d / rep / "init.mp4", d / rep / f"{t}.m4s", w, h)
        bottom, top = band_diff(a, b, w, 326, 350), band_diff(a, b, w, 20, 300)
        return bottom > 3 * top + 5, (rep, t, bottom, top)
    for rep in reps:
        ok, why = overlaid(rep, tl[0][0])
        assert ok, why
    # A worker crash: still no passthrough; what is listed meanwhile (real segments of the
    # restarted worker, or failover copies of the last ones) still carries the text.
    [pid] = worker_pids(origin)
    os.kill(pid, signal.SIGKILL)
    killed_t = tl[-1][0]
    wait_for(lambda: origin.metric("origin.ladder.worker_crashes") == 1, timeout=5)
    after = wait_for(lambda: [t for t, _ in last_period_video(mpd(origin, "disc"))[1]
                              if t > killed_t][2:] and
                     [t for t, _ in last_period_video(mpd(origin, "disc"))[1] if t > killed_t],
                     timeout=20, what="segments after the crash")  # fmt: skip
    reps, _ = last_period_video(mpd(origin, "disc"))
    assert "v0" not in reps, reps
    for t in after:
        for rep in reps:
            ok, why = overlaid(rep, t)
            assert ok, why

    # Cleared through the API: the worker restarts without the overlay.
    r = origin.request("PUT", "/api/streams/disc", {"Content-Type": "application/json"},
                       '{"disclaimer": null}')
    assert r.status == 200 and "disclaimer" not in r.json(), r.text
    origin.wait_log("mod=ladder ev=disclaimer stream=disc set=0", timeout=10)
    # The new worker's first keyframe: its segments start there (before it, failover copies).
    # (started: at publish, after the crash, after the clear)
    origin.wait_log("ev=started stream=disc", count=3, timeout=10)
    key_ms = int(re.findall(r"ev=started stream=disc .*key_ms=(\d+)", origin.log())[-1])
    fresh = wait_for(lambda: [x for x in origin.segments("disc", "v0-360p")
                              if x >= key_ms * 90 and x in origin.segments("disc", "v0")]
                     or None, timeout=20)
    bottom, top = diffs(fresh[0])
    assert bottom < top + 5, (bottom, top)
    # ...and the passthrough is offered again, in a third Period.
    wait_for(lambda: "v0" in last_period_video(mpd(origin, "disc"))[0], timeout=20,
             what="the passthrough back")  # fmt: skip
    assert len(periods(mpd(origin, "disc"))) == 3
    pub.kill()


def test_limits_bound_the_workers_and_renice_them(cdn, ffmpeg):
    # ladder.max_workers=1: the second stream stays passthrough-only, with a
    # logged reason and a count; the one worker runs at ladder.nice with
    # ladder.threads encoder threads.
    origin = ladder_origin(cdn, **{"ladder.max_workers": "1", "ladder.nice": "7",
                                   "ladder.threads": "1"})  # fmt: skip
    a = origin.create_stream("first")
    b = origin.create_stream("second")
    pub_a = ffmpeg.publish(origin.publish_url(a), seconds=16)
    wait_rungs(origin, "first", ["v0", "v0-360p", "v0-240p"], segments=1)
    pub_b = ffmpeg.publish(origin.publish_url(b), seconds=10)
    wait_for(lambda: len(origin.segments("second", "v0")) >= 2, timeout=30,
             what="the second stream's passthrough segments")  # fmt: skip

    assert video_reps(mpd(origin, "second")).keys() == {"v0"}
    assert origin.metric("origin.ladder.refused") == 1
    assert re.search(r"ev=refused stream=second reason=max_workers", origin.log())
    pids = worker_pids(origin)
    assert len(pids) == 1, pids
    with open(f"/proc/{pids[0]}/stat") as f:
        nice = int(f.read().rsplit(")", 1)[1].split()[16])  # field 19: nice
    with open(f"/proc/{pids[0]}/cmdline") as f:
        argv = f.read().split("\0")
    assert nice == 7
    assert "-threads" in argv and argv[argv.index("-threads") + 1] == "1"
    pub_a.kill()
    pub_b.kill()
