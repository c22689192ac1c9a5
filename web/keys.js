/*
 * keys.js -- keyboard controls of the viewer page:
 *   space play/pause, f full screen, m mute, left/right seek 5 s (within the DVR window
 *   on live), up/down volume, s the stats overlay.
 *
 * Keys are taken on window in the capture phase and their default is prevented, so a
 * focused <video controls> does not act on the same key a second time. Keys typed into
 * a text field (comments, later) and keys with Ctrl, Alt or Meta are left alone.
 *
 * Not here: what the stats overlay shows (stats.js).
 */

export const SEEK_STEP_S = 5;
export const VOLUME_STEP = 0.1;

export function installKeys({ player, video, stage, stats }) {
    const actions = {
        ' ': () => (video.paused || video.ended ? video.play().catch(() => {}) : video.pause()),
        k: () => actions[' '](),
        f: () => toggleFullscreen(stage, video),
        m: () => { video.muted = !video.muted; },
        ArrowLeft: () => seekBy(player, -SEEK_STEP_S),
        ArrowRight: () => seekBy(player, SEEK_STEP_S),
        ArrowUp: () => setVolume(video, video.volume + VOLUME_STEP),
        ArrowDown: () => setVolume(video, video.volume - VOLUME_STEP),
        s: () => stats.toggle(),
    };
    window.addEventListener('keydown', (e) => {
        if (e.ctrlKey || e.altKey || e.metaKey) return;
        const t = e.target;
        if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
        const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
        const act = actions[key];
        if (!act) return;
        e.preventDefault();
        e.stopPropagation();
        act();
    }, { capture: true });
}

function setVolume(video, v) {
    video.volume = Math.min(1, Math.max(0, Math.round(v * 10) / 10));
    if (video.volume > 0) video.muted = false;
}

/* dash.js counts live time from the start of the DVR window, VOD time from 0. */
function seekBy(player, delta) {
    const now = player.time();
    if (!Number.isFinite(now)) return;
    let to = Math.max(0, now + delta);
    const end = player.duration();
    if (Number.isFinite(end)) {
        const margin = player.isDynamic() ? player.getTargetLiveDelay() || 0 : 0.1;
        to = Math.min(to, Math.max(0, end - margin));
    }
    player.seek(to);
}

function toggleFullscreen(stage, video) {
    if (document.fullscreenElement) {
        document.exitFullscreen().catch(() => {});
    } else if (stage.requestFullscreen) {
        stage.requestFullscreen().catch(() => {});
    } else if (video.webkitEnterFullscreen) {
        video.webkitEnterFullscreen(); /* iOS Safari: only the video element goes full screen */
    }
}
