"""
ladder_lib.py -- helpers for the live ladder's scenario tests (issue 5):
read the MPD's video representations, a segment's tfdt, the origin's
worker processes, and decode representations with ffmpeg.
"""

import os
import struct
import subprocess
import xml.etree.ElementTree as ET

MPD_NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def mpd(node, stream):
    r = node.get(f"/live/{stream}/manifest.mpd")
    assert r.status == 200, r.status
    return ET.fromstring(r.body)


def video_sets(root):
    return [s for s in root.iterfind(".//d:AdaptationSet", MPD_NS)
            if s.get("contentType") == "video"]


def video_reps(root):
    """{rep id: attributes} of every video Representation."""
    return {r.get("id"): dict(r.attrib)
            for s in video_sets(root) for r in s.iterfind("d:Representation", MPD_NS)}


def audio_sets(root):
    return [s for s in root.iterfind(".//d:AdaptationSet", MPD_NS)
            if s.get("contentType") == "audio"]


def audio_reps(root):
    """{rep id: attributes, plus "set": its AdaptationSet id} of every audio Representation."""
    return {r.get("id"): dict(r.attrib, set=s.get("id"))
            for s in audio_sets(root) for r in s.iterfind("d:Representation", MPD_NS)}


def timeline(root, set_id):
    """[(t, d)] of the SegmentTimeline of the AdaptationSet set_id (last Period)."""
    p = list(root.iterfind("d:Period", MPD_NS))[-1]
    for s in p.iterfind("d:AdaptationSet", MPD_NS):
        if s.get("id") != set_id:
            continue
        out, t = [], 0
        for e in s.iterfind(".//d:SegmentTimeline/d:S", MPD_NS):
            t = int(e.get("t", t))
            for _ in range(int(e.get("r", 0)) + 1):
                out.append((t, int(e.get("d"))))
                t += int(e.get("d"))
        return out
    return []


def decode_audio(paths, timeout=60):
    """Decodes init + segments of an audio representation; (returncode, stderr, seconds)."""
    data = b"".join(open(p, "rb").read() for p in paths)
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0",
                        "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
                       input=data, capture_output=True, timeout=timeout)
    return p.returncode, p.stderr.decode(errors="replace"), len(p.stdout) / 16000


def beeps(paths, first_t, rate, timeout=60):
    """
    Onset times (s, on the stream's timeline) of the publisher's beeps
    (sine beep_factor: a higher tone every second) in init + segments whose
    first segment starts at first_t: 1 ms windows whose zero crossings jump.
    """
    data = b"".join(open(p, "rb").read() for p in paths)
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0",
                        "-map", "0:a", "-f", "s16le", "-ac", "1", "-"],
                       input=data, capture_output=True, timeout=timeout)
    pcm = struct.unpack(f"<{len(p.stdout) // 2}h", p.stdout[:len(p.stdout) // 2 * 2])
    win = rate // 1000
    out, quiet_until = [], 0
    for w in range(len(pcm) // win):
        seg = pcm[w * win:(w + 1) * win]
        zc = sum(1 for a, b in zip(seg, seg[1:]) if (a < 0) != (b < 0))
        if zc >= 5 and w >= quiet_until:
            out.append(first_t / rate + w * win / rate)
            quiet_until = w + 500  # one onset per beep (they are a second apart)
    return out


def last_period_video(root):
    """({rep id: attributes}, [(t, d)]) of the video AdaptationSet of the last Period."""
    p = list(root.iterfind("d:Period", MPD_NS))[-1]
    for s in p.iterfind("d:AdaptationSet", MPD_NS):
        if s.get("contentType") == "video":
            reps = {r.get("id"): dict(r.attrib) for r in s.iterfind("d:Representation", MPD_NS)}
            return reps, timeline(root, s.get("id"))
    return {}, []


def periods(root):
    return [p.get("id") for p in root.iterfind("d:Period", MPD_NS)]


def tfdt(data):
    """baseMediaDecodeTime of the first traf of a media segment."""
    def walk(o, end):
        while o + 8 <= end:
            size, typ = struct.unpack(">I4s", data[o:o + 8])
            if typ in (b"moof", b"traf"):
                found = walk(o + 8, o + size)
                if found is not None:
                    return found
            if typ == b"tfdt":
                if data[o + 8] == 1:
                    return struct.unpack(">Q", data[o + 12:o + 20])[0]
                return struct.unpack(">I", data[o + 12:o + 16])[0]
            o += size
        return None
    return walk(0, len(data))


def worker_pids(origin):
    """Pids of the origin's ffmpeg children."""
    pids = []
    for task in os.listdir(f"/proc/{origin.pid}/task"):
        try:
            with open(f"/proc/{origin.pid}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            pass
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "ffmpeg":
                    out.append(pid)
        except FileNotFoundError:
            pass
    return out


def decode_files(paths, timeout=60):
    """Decodes init + segments concatenated; (returncode, stderr, frames)."""
    data = b"".join(open(p, "rb").read() for p in paths)
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0",
                        "-map", "0:v", "-f", "framemd5", "-"],
                       input=data, capture_output=True, timeout=timeout)
    frames = sum(1 for line in p.stdout.decode().splitlines() if line and line[0] != "#")
    return p.returncode, p.stderr.decode(errors="replace"), frames


def follow_live(url, seconds, log_path, maps=("0:v",)):
    """Starts ffmpeg following a live MPD in real time, decoding every representation in maps."""
    log = open(log_path, "wb")
    margs = [a for m in maps for a in ("-map", m)]
    return subprocess.Popen(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
                             "-i", url, *margs, "-t", str(seconds), "-f", "null", "-"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def run_player(script, url, log_path, *args):
    """Starts `node tests/browser/SCRIPT URL ARGS` from the source tree; (Popen, log path)."""
    from cdn import SOURCE_DIR
    log = open(log_path, "wb")
    proc = subprocess.Popen(["node", str(SOURCE_DIR / "tests" / "browser" / script), url,
                             *[str(a) for a in args]],
                            cwd=SOURCE_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=log)
    return proc


def player_result(proc, timeout=180):
    import json
    out, _ = proc.communicate(timeout=timeout)
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"ok": False, "error": "no RESULT line", "stdout": out.decode(errors="replace")[-2000:]}


def gray_frame(init, seg, width, height, timeout=60):
    """The first frame of init + seg as width x height 8-bit gray bytes."""
    data = open(init, "rb").read() + open(seg, "rb").read()
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0",
                        "-frames:v", "1", "-vf", f"scale={width}:{height},format=gray",
                        "-f", "rawvideo", "-"], input=data, capture_output=True, timeout=timeout)
    assert p.returncode == 0 and len(p.stdout) == width * height, p.stderr[-500:]
    return p.stdout


def band_diff(a, b, width, y0, y1):
    """Mean absolute difference of rows y0..y1 of two gray frames."""
    n = width * (y1 - y0)
    return sum(abs(a[i] - b[i]) for i in range(width * y0, width * y1)) / n
