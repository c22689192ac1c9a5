"""
vod_lib.py -- helpers of the VOD scenario tests (test_vod.py) and of
bench/vod_bench.py: test sources made by ffmpeg, streamed uploads, waiting
for a video's status, decoding every rendition, reading tfdt boxes, and
sampling a process's RSS.

Sources are made in the test's directory and are small unless a slow test
asks otherwise; an upload streams from a file or a generator, so a 1 GB body
is never in memory or on disk on the client side.
"""

import http.client
import json
import os
import struct
import subprocess
import threading
import time
import urllib.request

from cdn import wait_for

SMALL_LADDER = """# two small rungs and one audio rung: CI transcodes in seconds
video 240p 240 300
video 144p 144 150
audio aac64 64
preset ultrafast
"""


def ffmpeg_run(args, timeout=600):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    assert r.returncode == 0, f"ffmpeg {' '.join(args)}: {r.stderr.decode(errors='replace')}"


def make_static(path, seconds=16, size="320x240", rate=25, preset="ultrafast"):
    """A calm test pattern (keyframes every 2 s, no scene cuts) with a tone."""
    ffmpeg_run(["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}",
                "-f", "lavfi", "-i", f"sine=f=440:d={seconds}",
                "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p",
                "-g", str(2 * rate), "-sc_threshold", "0", "-c:a", "aac", "-shortest", str(path)])
    return path


ENGAGING_SOURCES = [
    "testsrc2=s={size}:r={rate}",
    "smptebars=s={size}:r={rate}",
    "testsrc=s={size}:r={rate}",
    "rgbtestsrc=s={size}:r={rate}",
    "color=c=red:s={size}:r={rate}",
    "cellauto=s={size}:r={rate}",
    "yuvtestsrc=s={size}:r={rate}",
    "color=c=blue:s={size}:r={rate}",
]


def make_engaging(path, scene_lengths=(3, 4, 5, 4, 5, 3), size="320x240", rate=25,
                  preset="ultrafast"):
    """
    Hard cuts between unrelated patterns after the given scene lengths
    (seconds). Keyframes every 2 s and at every cut, as an encoder with
    scene-cut detection would place them. Returns the cut times (s).
    """
    args, chains, cuts, t = [], [], [], 0
    for i, length in enumerate(scene_lengths):
        src = ENGAGING_SOURCES[i % len(ENGAGING_SOURCES)].format(size=size, rate=rate)
        args += ["-t", str(length), "-f", "lavfi", "-i", src]
        chains.append(f"[{i}:v]format=yuv420p,setsar=1[v{i}]")
        t += length
        cuts.append(t)
    cuts = cuts[:-1]
    total = t
    concat = "".join(f"[v{i}]" for i in range(len(scene_lengths)))
    graph = ";".join(chains) + f";{concat}concat=n={len(scene_lengths)}:v=1:a=0[v]"
    keys = sorted(set([float(x) for x in range(0, total, 2)] + [float(c) for c in cuts]))
    args += ["-f", "lavfi", "-i", f"sine=f=660:d={total}",
             "-filter_complex", graph, "-map", "[v]", "-map", f"{len(scene_lengths)}:a",
             "-c:v", "libx264", "-preset", preset, "-sc_threshold", "0", "-g", "1000",
             "-force_key_frames", ",".join(f"{k:g}" for k in keys),
             "-c:a", "aac", "-shortest", str(path)]
    ffmpeg_run(args)
    return cuts


def upload(node, body_iter, content_type="application/octet-stream", length=None, timeout=600):
    """POST /api/videos from an iterable of bytes (chunked unless length is given)."""
    conn = http.client.HTTPConnection(node.addr[0], node.port, timeout=timeout)
    try:
        conn.putrequest("POST", "/api/videos")
        conn.putheader("Content-Type", content_type)
        if length is None:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(length))
        conn.endheaders()
        try:
            for block in body_iter:
                if length is None:
                    conn.send(b"%x\r\n" % len(block) + block + b"\r\n")
                else:
                    conn.send(block)
            if length is None:
                conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the origin answered early (413) and closed
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def file_blocks(path, size=1 << 16):
    with open(path, "rb") as f:
        while True:
            b = f.read(size)
            if not b:
                return
            yield b


def upload_file(node, path):
    status, body = upload(node, file_blocks(path), length=os.path.getsize(path))
    assert status == 201, f"upload answered {status} {body!r}"
    return json.loads(body)["id"]


def upload_multipart(node, path, boundary="cascade-vod-7f3a"):
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nmy video\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{os.path.basename(path)}\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def blocks():
        yield head
        yield from file_blocks(path)
        yield tail

    status, body = upload(node, blocks(), f"multipart/form-data; boundary={boundary}")
    assert status == 201, f"multipart upload answered {status} {body!r}"
    return json.loads(body)["id"]


def status(node, vid):
    r = node.get(f"/api/videos/{vid}")
    assert r.status == 200, f"status answered {r.status} {r.text}"
    return r.json()


def wait_status(node, vid, want=("ready",), timeout=120):
    def done():
        s = status(node, vid)
        return s if s["status"] in want or s["status"] == "failed" else None

    s = wait_for(done, timeout, interval=0.2, what=f"video {vid} {want}")
    assert s["status"] in want, f"video {vid} failed: {s.get('reason')}"
    return s


def decode(url, timeout=300):
    """ffmpeg decodes url to the end; returns (stderr text, seconds decoded)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-f", "null", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                        "csv=p=0", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stderr.decode(errors="replace"), float(p.stdout.decode().strip() or "nan")


def probe_duration(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                        "-show_entries", "stream=nb_read_packets,r_frame_rate", "-of",
                        "json", str(path)], stdout=subprocess.PIPE, check=True)
    st = json.loads(p.stdout)["streams"][0]
    num, den = (int(x) for x in st["r_frame_rate"].split("/"))
    return int(st["nb_read_packets"]) * den / num, den / num


def tfdt(segment_bytes):
    """baseMediaDecodeTime of the first traf of a CMAF segment."""
    def boxes(b, off, end):
        while off + 8 <= end:
            size, kind = struct.unpack(">I4s", b[off:off + 8])
            hdr = 8
            if size == 1:
                size = struct.unpack(">Q", b[off + 8:off + 16])[0]
                hdr = 16
            if size < hdr or off + size > end:
                return
            yield kind, off + hdr, off + size
            off += size

    for kind, s, e in boxes(segment_bytes, 0, len(segment_bytes)):
        if kind != b"moof":
            continue
        for k2, s2, e2 in boxes(segment_bytes, s, e):
            if k2 != b"traf":
                continue
            for k3, s3, _ in boxes(segment_bytes, s2, e2):
                if k3 == b"tfdt":
                    version = segment_bytes[s3]
                    if version == 1:
                        return struct.unpack(">Q", segment_bytes[s3 + 4:s3 + 12])[0]
                    return struct.unpack(">I", segment_bytes[s3 + 4:s3 + 8])[0]
    raise AssertionError("no tfdt in segment")


def timeline(model, content):
    """[(t, d)] of the first adaptation set of that content type in model.json."""
    for period in model["periods"]:
        for s in period["sets"]:
            if s["content"] == content:
                out = []
                for t, d, r in s["timeline"]:  # runs: [t, d, repeat]
                    for _ in range(r + 1):
                        out.append((t, d))
                        t += d
                return s, out
    raise AssertionError(f"no {content} set in model.json")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's RSS every 50 ms in a thread; .peak in kB."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, rss_kb(pid), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kb(self.pid))

    def stop(self):
        self._stop.set()
        self._t.join()
        return self.peak


def fetch(node, path):
    with urllib.request.urlopen(node.url(path), timeout=30) as r:
        return r.read()
