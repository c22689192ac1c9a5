"""
browser.py -- what the browser scenario tests (test_browser_*.py) share: test media made
with ffmpeg, a tiny static HTTP site that serves the viewer page and that media, and the
driver that runs one tests/browser/*.mjs scenario in headless Chromium and returns its
JSON result.

What this owns:
- make_vod(dir): a short DASH VOD (a three-rung H.264 ladder + AAC, 2 s segments);
- LiveEncoder(dir): `ffmpeg -re` writing a live DASH stream (dynamic MPD, same ladder),
  stopped by PID (and by the kernel if pytest dies, PR_SET_PDEATHSIG);
- StaticSite: a ThreadingHTTPServer on a free loopback port mounting directories under
  URL prefixes (the page at /player/, dash.js at /player/vendor/, media at /live/ and
  /vod/), /time in ISO 8601 (UTCTiming), optional JSON for /api/*, CORS on every answer
  (the media site is a different origin from the page site, as a real page would see a
  CDN), and a log of every request target (to read CMCD from);
- media_upstream(root, ...): the upstream test_browser_edge.py and test_browser_player.py
  play from, a StaticSite with a VOD at /vod/clip/ and a LiveEncoder at /live/test/;
- run_scenario(script, url, *args): `node tests/browser/SCRIPT URL ARGS` from the source
  tree (so node finds playwright-core in node_modules/), returning the object printed on
  its `RESULT {...}` line.

Not here: the scenarios themselves (tests/browser/*.mjs), the Cascade nodes (cdn.py).
"""

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cdn import LOOPBACK, SOURCE_DIR, _die_with_parent, wait_for

WEB_DIR = SOURCE_DIR / "web"
VENDOR_DIR = SOURCE_DIR / "node_modules" / "dashjs" / "dist" / "modern" / "umd"
BROWSER_DIR = SOURCE_DIR / "tests" / "browser"
CHROMIUM = "/usr/bin/chromium"

SEGMENT_SECONDS = 2
# The test ladder: (height, width, video kbit/s). The floor rung stays well under the
# 400 kbit/s of the throttling scenario, audio included.
LADDER = ((360, 640, 900), (240, 426, 350), (144, 256, 120))
AUDIO_KBPS = 48

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".png": "image/png",
}


def edge_serves_player():
    """
    Whether the built cascade-edge serves the viewer page itself (it has the player.root
    and player.vendor keys, i.e. its router calls edge_player_serve()). Until it does,
    the through-edge tests serve the page from a StaticSite and only the media through
    the edge.
    """
    from cdn import run_binary
    out = run_binary("cascade-edge", "--dump-config")
    return out.returncode == 0 and "\nplayer.root " in "\n" + out.stdout


def prerequisites():
    """What the browser tests need and lack, as a list of sentences (empty when all is there)."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if not (SOURCE_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("node_modules/playwright-core (npm ci)")
    if not (VENDOR_DIR / "dash.mediaplayer.min.js").is_file():
        missing.append("node_modules/dashjs (npm ci)")
    if shutil.which("ffmpeg") is None:
        missing.append("ffmpeg")
    if shutil.which("node") is None:
        missing.append("node")
    return missing


# ---------------------------------------------------------------- media


def _ffmpeg_ladder_args(live):
    """Encoder arguments for LADDER + AAC, keyframes every segment, into DASH."""
    fps = 25
    gop = fps * SEGMENT_SECONDS
    n = len(LADDER)
    split = f"[0:v]split={n}" + "".join(f"[s{i}]" for i in range(n))
    scales = ";".join(f"[s{i}]scale={w}:{h}[v{i}]" for i, (h, w, _) in enumerate(LADDER))
    args = [
        "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-filter_complex", f"{split};{scales}",
    ]
    for i in range(n):
        args += ["-map", f"[v{i}]"]
    args += ["-map", "1:a"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "main", "-pix_fmt", "yuv420p",
             "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if live:
        args += ["-tune", "zerolatency"]
    for i, (_, _, kbps) in enumerate(LADDER):
        args += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{kbps}k", f"-bufsize:v:{i}",
                 f"{kbps}k"]
    args += ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k", "-ac", "2"]
    args += ["-f", "dash", "-seg_duration", str(SEGMENT_SECONDS), "-use_template", "1",
             "-use_timeline", "1", "-adaptation_sets", "id=0,streams=v id=1,streams=a",
             "-init_seg_name", "init-$RepresentationID$.m4s",
             "-media_seg_name", "seg-$RepresentationID$-$Number%05d$.m4s"]
    return args


def make_vod(out_dir, seconds=12):
    """Encodes a `seconds`-long DASH VOD into out_dir/manifest.mpd; returns out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    argv += _ffmpeg_ladder_args(live=False)
    # -t after the inputs: both lavfi sources are endless.
    argv[argv.index("-filter_complex"):argv.index("-filter_complex")] = ["-t", str(seconds)]
    argv += [str(out_dir / "manifest.mpd")]
    subprocess.run(argv, check=True, timeout=180, stdin=subprocess.DEVNULL,
                   preexec_fn=_die_with_parent)
    return out_dir


class LiveEncoder:
    """
    `ffmpeg -re` publishing a live DASH stream into a directory: a dynamic MPD with a
    60 s window (30 segments), UTCTiming pointing at time_url. stop() ends it by PID.
    """

    def __init__(self, out_dir, time_url):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir.parent / (self.dir.name + ".ffmpeg.log")
        argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-re"]
        argv += _ffmpeg_ladder_args(live=True)
        argv += ["-window_size", "30", "-extra_window_size", "10", "-utc_timing_url", time_url,
                 str(self.dir / "manifest.mpd")]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def segments(self):
        """Media segments written so far for the floor rung (the last in the ladder)."""
        return sorted(self.dir.glob(f"seg-{len(LADDER) - 1}-*.m4s"))

    def wait_ready(self, segments=3, timeout=30.0):
        """Until the MPD exists and `segments` segments of each rung are out."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"ffmpeg exited {self.proc.returncode}: "
                                     + self.log_path.read_text(errors="replace")[-2000:])
            return (self.dir / "manifest.mpd").exists() and len(self.segments()) >= segments
        wait_for(ready, timeout=timeout, interval=0.2, what="live DASH segments")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---------------------------------------------------------------- the static site


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cascade-test-site"

    def log_message(self, fmt, *args):  # quiet: requests are kept in site.requests
        pass

    def _cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Date, ETag")

    def _send(self, status, body, ctype, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._cors()
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_OPTIONS(self):  # noqa: N802 -- http.server's naming
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        site = self.server.site
        site.record(self.command, self.path)
        path = urllib.parse.urlsplit(self.path).path
        if path == "/time":
            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            self._send(200, now.replace("+00:00", "Z").encode(), "text/plain",
                       [("Cache-Control", "no-store")])
            return
        if path in site.api:
            status, obj = site.api[path]
            self._json(status, obj)
            return
        if path == "/player":
            self.send_response(301)
            self.send_header("Location", "/player/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = site.resolve(path)
        if file is None:
            self._json(404, {"error": {"code": "not_found", "message": "no such file"}})
            return
        body = file.read_bytes()
        cache = "no-cache" if file.suffix in (".mpd", ".html") else "max-age=60"
        self._send(200, body, CONTENT_TYPES.get(file.suffix, "application/octet-stream"),
                   [("Cache-Control", cache)])


class StaticSite:
    """
    A static HTTP site on a free loopback port. mounts: {"/player/": dir, ...}; the
    longest matching prefix wins, and paths that leave their directory are not served.
    api: {"/api/streams": (200, [...])} answers JSON; other /api paths are 404 JSON.
    """

    def __init__(self, mounts, api=None):
        self.mounts = sorted(((p, Path(d).resolve()) for p, d in mounts.items()),
                             key=lambda m: -len(m[0]))
        self.api = dict(api or {})
        self.requests = []  # (monotonic time, method, target)
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.site = self
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def origin(self):
        return f"http://{LOOPBACK}:{self.port}"

    def url(self, path):
        return self.origin + path

    def record(self, method, target):
        with self._lock:
            self.requests.append((time.monotonic(), method, target))

    def targets(self, prefix=""):
        with self._lock:
            return [t for _, _, t in self.requests if t.startswith(prefix)]

    def resolve(self, path):
        path = urllib.parse.unquote(path)
        if "\0" in path:
            return None
        for prefix, root in self.mounts:
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix):] or "index.html"
            file = (root / rel).resolve()
            if root not in file.parents or not file.is_file():
                return None
            return file
        return None

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


# ---------------------------------------------------------------- an edge for viewers


@contextlib.contextmanager
def media_upstream(root, vod_seconds=12, time_url=None, api=None):
    """
    The media the viewer tests play, under root: a `vod_seconds` VOD at /vod/clip/ and a
    live stream at /live/test/ (ready with 4 segments of each rung), on a StaticSite with
    `api` (as StaticSite takes it). time_url is the live MPD's UTCTiming: None for the
    site's own /time; "/time" (relative) when a Cascade node fronts the site and answers
    it. Yields (site, encoder); stops the encoder and closes the site.
    """
    missing = prerequisites()
    assert not missing, "browser tests need: " + ", ".join(missing)
    root = Path(root)
    make_vod(root / "vod" / "clip", vod_seconds)
    site = StaticSite({"/live/": root / "live", "/vod/": root / "vod"}, api=api)
    try:
        encoder = LiveEncoder(root / "live" / "test", time_url or site.url("/time"))
        try:
            encoder.wait_ready(segments=4)
            yield site, encoder
        finally:
            encoder.stop()
    finally:
        site.close()


def viewer_edge(cdn, upstream, tmp_path, serves_player, **flags):
    """
    Starts an edge for a browser to watch through, with its JSON access log in
    tmp_path/access.log (.access_log). .page(kind, name) is the URL a viewer opens
    (kind "stream" or "video"), .hosts the hosts the page may talk to, .cid(kind, name)
    the CMCD content id it sends. When the edge does not serve the page yet
    (edge_serves_player()), the page comes from a StaticSite and plays the edge's
    manifest through ?src=.
    """
    log = Path(tmp_path) / "access.log"
    conf = {"log.access": log}
    if serves_player:
        conf.update({"player.root": WEB_DIR, "player.vendor": VENDOR_DIR})
    edge = cdn.edge(upstream=upstream, conf=conf, **flags)
    edge.access_log = log

    def manifest(kind, name):
        return f"/{'live' if kind == 'stream' else 'vod'}/{name}/manifest.mpd"

    if serves_player:
        edge.page = lambda kind, name: edge.url(f"/player/?{kind}={name}")
        edge.hosts = [edge.hostport]
        edge.cid = lambda kind, name: '"' + manifest(kind, name).split("/manifest")[0][1:] + '"'
    else:
        site = StaticSite({"/player/vendor/": VENDOR_DIR, "/player/": WEB_DIR})
        cdn.servers.append(site)
        edge.page = lambda kind, name: site.url(f"/player/?src={edge.url(manifest(kind, name))}")
        edge.hosts = sorted([edge.hostport, f"{LOOPBACK}:{site.port}"])
        edge.cid = lambda kind, name: f'"{manifest(kind, name)}"'
    return edge


def access_log(edge, prefix):
    """The edge's access log entries whose path starts with prefix (after its 250 ms flush)."""
    def lines():
        if not edge.access_log.exists():
            return []
        out = [json.loads(x) for x in edge.access_log.read_text().splitlines() if x.strip()]
        return [e for e in out if e["path"].startswith(prefix)]
    wait_for(lines, timeout=5, what=f"access log lines for {prefix}")
    return lines()


# ---------------------------------------------------------------- the browser


class ScenarioFailed(AssertionError):
    """A tests/browser script ended without a RESULT line."""


def run_scenario(script, url, *args, timeout=240):
    """
    Runs tests/browser/SCRIPT in node with URL and ARGS; returns the parsed object of
    its `RESULT {...}` line. The script's stderr (its progress log) is kept on the
    result as "_log" for failure messages.
    """
    argv = ["node", str(BROWSER_DIR / script), url, *map(str, args)]
    proc = subprocess.run(argv, cwd=SOURCE_DIR, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          preexec_fn=_die_with_parent)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["_log"] = proc.stderr[-4000:]
            return result
    raise ScenarioFailed(f"{script} exited {proc.returncode} without a RESULT line\n"
                         f"--- stdout:\n{proc.stdout[-3000:]}\n--- stderr:\n{proc.stderr[-4000:]}")


def cmcd_of(target):
    """The CMCD query parameter of a request target as a dict ({} when there is none)."""
    query = urllib.parse.urlsplit(target).query
    values = urllib.parse.parse_qs(query).get("CMCD")
    return cmcd_parse(values[0]) if values else {}


def cmcd_parse(payload):
    """A CMCD payload (decoded) as a dict: bare keys are True, values stay as sent."""
    out = {}
    for item in _split_top(payload):
        key, eq, value = item.partition("=")
        out[key.strip()] = value if eq else True
    return out


def _split_top(s):
    """Splits a CMCD payload at commas outside quotes and parentheses."""
    parts, depth, quoted, cur = [], 0, False, ""
    for ch in s:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts
