"""
test_origin_players.py -- web players play what the origin publishes: dash.js
and Shaka Player the live and the ended MPD, hls.js the HLS playlists, in
headless Chromium (Debian's chromium driven by playwright-core), from a page
on another origin, so CORS is part of what is tested.

The player libraries come from node_modules (package.json; ./cascade
installs them): dashjs, hls.js, shaka-player. A player whose library is
missing is skipped; so is everything when chromium, node or playwright-core
is. CASCADE_NODE_MODULES may name more node_modules directories
(colon-separated) to look in.
"""

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from cdn import LOOPBACK, SOURCE_DIR, wait_for

HERE = Path(__file__).resolve().parent

PLAYERS = {
    # name: (library path under node_modules, kind of URL it plays)
    "dashjs": ("dashjs/dist/modern/umd/dash.all.min.js", "dash"),
    "shaka": ("shaka-player/dist/shaka-player.compiled.js", "dash"),
    "hlsjs": ("hls.js/dist/hls.min.js", "hls"),
}

PAGE = {
    "dashjs": """
const p = dashjs.MediaPlayer().create();
p.on(dashjs.MediaPlayer.events.ERROR, e => errs.push(JSON.stringify(e.error || e)));
p.initialize(v, src, true);
""",
    "shaka": """
shaka.polyfill.installAll();
const p = new shaka.Player();
p.addEventListener('error', e => errs.push('shaka:' + (e.detail && e.detail.code)));
p.attach(v).then(() => p.load(src)).then(() => v.play()).catch(e => errs.push('load:' + (e.code || e)));
""",
    "hlsjs": """
const h = new Hls();
h.on(Hls.Events.ERROR, (ev, d) => { if (d.fatal) errs.push(d.type + ':' + d.details); });
h.loadSource(src);
h.attachMedia(v);
h.on(Hls.Events.MANIFEST_PARSED, () => v.play());
""",
}


def node_modules_dirs():
    dirs = [SOURCE_DIR / "node_modules"]
    dirs += [Path(p) for p in os.environ.get("CASCADE_NODE_MODULES", "").split(":") if p]
    return [d for d in dirs if d.is_dir()]


def find_module_file(rel):
    for d in node_modules_dirs():
        if (d / rel).is_file():
            return d / rel
    return None


def browser_ready():
    return (
        shutil.which("node") is not None
        and Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists()
        and find_module_file("playwright-core/package.json") is not None
    )


pytestmark = pytest.mark.skipif(not browser_ready(), reason="chromium, node or playwright-core missing")


@pytest.fixture
def pages(tmp_path):
    """A static web server on its own port (another origin than the CDN's) serving the pages."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://{LOOPBACK}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def write_page(root, player):
    lib = find_module_file(PLAYERS[player][0])
    if lib is None:
        pytest.skip(f"{PLAYERS[player][0]} is not installed")
    shutil.copy(lib, root / lib.name)
    (root / f"{player}.html").write_text(f"""<!doctype html><html><head>
<link rel="icon" href="data:,"></head><body>
<video id="v" muted autoplay playsinline></video>
<script src="{lib.name}"></script>
<script>
const v = document.getElementById('v');
const errs = [];
const src = new URLSearchParams(location.search).get('src');
{PAGE[player]}
window.playerState = () => ({{time: v.currentTime, paused: v.paused,
                              readyState: v.readyState, errors: errs}});
</script></body></html>
""")
    return f"{player}.html"


def play(page_url, seconds, timeout):
    """Runs browser_play.js; its JSON verdict."""
    env = dict(os.environ)
    env["NODE_PATH"] = ":".join(str(d) for d in node_modules_dirs())
    p = subprocess.run(
        ["node", str(HERE / "browser_play.js"), page_url, str(seconds), str(timeout)],
        capture_output=True, text=True, timeout=timeout + 60, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, f"browser_play.js said nothing: {p.stdout} {p.stderr}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("player", sorted(PLAYERS))
def test_web_player_plays_the_live_stream_then_the_recording(cdn, ffmpeg, pages, player):
    root, base = pages
    page = write_page(root, player)
    origin = cdn.origin(conf={"live.reconnect_grace": "2s"}, workers=2)
    stream = origin.create_stream("web")
    pub = ffmpeg.publish(origin.publish_url(stream), seconds=30)
    wait_for(lambda: origin.get("/live/web/model.json").status == 200, 20)
    src = "manifest.mpd" if PLAYERS[player][1] == "dash" else "master.m3u8"
    url = f"{base}/{page}?src={origin.url('/live/web/' + src)}"

    live = play(url, seconds=6, timeout=40)

    assert live["ok"], live
    assert not [e for e in live["errors"] if "favicon" not in e], live
    assert pub.wait(60) == 0
    wait_for(lambda: b'type="static"' in origin.get("/live/web/manifest.mpd").body, 20)
    ended = play(url, seconds=4, timeout=40)
    assert ended["ok"], ended
