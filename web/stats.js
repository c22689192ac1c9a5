/*
 * stats.js -- what the viewer (and the browser tests) can know about playback: start-up
 * time, stalls, the rendition, buffer, throughput and live latency; and the overlay
 * (key s) that shows them.
 *
 * A stall is a `waiting` event after playback has started that is not caused by a seek
 * or a pause and that lasts STALL_MIN_MS or more, until the next `playing`. Stalls are
 * counted from the video element itself, not from dash.js, so a player bug cannot hide
 * one. Shorter waits (Chromium fires a few of a millisecond or so even with seconds of
 * buffer ahead, e.g. around buffer pruning) are kept apart as hiccups: no viewer sees
 * a wait shorter than three frames.
 *
 * Not here: the player settings (player.js), keyboard handling (keys.js).
 */

const OVERLAY_REFRESH_MS = 500;
export const STALL_MIN_MS = 100;

export class Stats {
    constructor(player, video, el, info) {
        this.player = player;
        this.video = video;
        this.el = el;
        this.info = info;            /* { kind, id, sid, beacons() } */
        this.t0 = performance.now(); /* the page asked for the manifest */
        this.startupMs = null;
        this.started = false;
        this.stalls = [];            /* { at, ms, time, buffered }; at: ms since t0; ms null while on */
        this.switches = [];          /* { at, id, bitrate, height } rendered video qualities */
        this.errors = [];
        this.timer = null;
        this.seeking = false;
        this.ended = false;
        this.watch();
    }

    now() {
        return performance.now() - this.t0;
    }

    watch() {
        const v = this.video;
        v.addEventListener('playing', () => {
            if (!this.started) {
                this.started = true;
                this.startupMs = Math.round(this.now());
            }
            const s = this.stalls[this.stalls.length - 1];
            if (s && s.ms === null) s.ms = Math.round(this.now() - s.at);
        });
        v.addEventListener('waiting', () => {
            if (!this.started || v.seeking || this.seeking || v.paused || v.ended) return;
            const s = this.stalls[this.stalls.length - 1];
            if (s && s.ms === null) return;
            this.stalls.push({ at: Math.round(this.now()), ms: null, time: round(v.currentTime, 3),
                buffered: ranges(v.buffered) });
        });
        v.addEventListener('seeking', () => { this.seeking = true; });
        v.addEventListener('seeked', () => { this.seeking = false; });
        v.addEventListener('ended', () => {
            this.ended = true;
            this.endedBy = 'element';
        });
        v.addEventListener('seeking', () => { this.ended = false; });
        const events = dashjs.MediaPlayer.events;
        this.player.on(events.QUALITY_CHANGE_RENDERED, (e) => {
            if (e.mediaType !== 'video' || !e.newRepresentation) return;
            const r = e.newRepresentation;
            this.switches.push({ at: Math.round(this.now()), id: String(r.id),
                bitrate: r.bandwidth, height: r.height });
        });
        this.player.on(events.ERROR, (e) => {
            const err = e.error || {};
            this.errors.push({ at: Math.round(this.now()), code: err.code, message: err.message });
        });
    }

    /* The player saw the end where the element did not (player.js). */
    markEnded() {
        if (!this.video.ended) this.endedBy = 'player';
        this.ended = true;
    }

    /* Everything at once, as plain JSON (window.cascade.stats() returns this). */
    snapshot() {
        const p = this.player;
        const rep = safe(() => p.getCurrentRepresentationForType('video'));
        const live = safe(() => p.isDynamic()) === true;
        const latency = live ? safe(() => p.getCurrentLiveLatency()) : null;
        const q = safe(() => this.video.getVideoPlaybackQuality());
        const now = this.now();
        const waits = this.stalls.map((s) => ({ ...s, ms: s.ms === null ? Math.round(now - s.at) : s.ms,
            open: s.ms === null }));
        const stalls = waits.filter((s) => s.ms >= STALL_MIN_MS);
        return {
            kind: this.info.kind,
            id: this.info.id,
            sid: this.info.sid,
            live,
            t: Math.round(now),
            startupMs: this.startupMs,
            playing: this.started && !this.video.paused && !this.video.ended,
            paused: this.video.paused,
            ended: this.ended || this.video.ended,
            endedBy: this.endedBy || null,
            currentTime: round(this.video.currentTime, 3),
            duration: Number.isFinite(this.video.duration) ? round(this.video.duration, 3) : null,
            rendition: rep ? { id: String(rep.id), bitrate: rep.bandwidth, width: rep.width,
                height: rep.height } : null,
            renditions: (safe(() => p.getRepresentationsByType('video')) || []).map((r) => ({
                id: String(r.id), bitrate: r.bandwidth, height: r.height })),
            bufferS: round(safe(() => p.getBufferLength('video')), 2),
            throughputKbps: round(safe(() => p.getAverageThroughput('video')), 0),
            latencyS: round(latency, 2),
            targetLatencyS: live ? round(safe(() => p.getTargetLiveDelay()), 2) : null,
            stallCount: stalls.length,
            stallMs: stalls.reduce((a, s) => a + s.ms, 0),
            stalls,
            hiccups: waits.length - stalls.length,
            switches: this.switches.slice(),
            droppedFrames: q ? q.droppedVideoFrames : null,
            beacons: this.info.beacons ? this.info.beacons() : 0,
            errors: this.errors.slice(),
        };
    }

    visible() {
        return !this.el.hidden;
    }

    toggle(show = !this.visible()) {
        this.el.hidden = !show;
        if (show && this.timer === null) {
            this.render();
            this.timer = setInterval(() => this.render(), OVERLAY_REFRESH_MS);
        } else if (!show && this.timer !== null) {
            clearInterval(this.timer);
            this.timer = null;
        }
    }

    render() {
        const s = this.snapshot();
        const r = s.rendition;
        const lines = [
            `${s.live ? 'live' : 'vod'} ${s.id}`,
            `rendition  ${r ? `${r.id} ${r.height}p ${kbps(r.bitrate)}` : '-'}`,
            `buffer     ${fmt(s.bufferS, 's')}`,
            `throughput ${rate(s.throughputKbps)}`,
        ];
        if (s.live) lines.push(`latency    ${fmt(s.latencyS, 's')} (target ${fmt(s.targetLatencyS, 's')})`);
        lines.push(`stalls     ${s.stallCount}${s.stallCount ? ` (${(s.stallMs / 1000).toFixed(1)} s)` : ''}`);
        lines.push(`start-up   ${s.startupMs === null ? '-' : `${s.startupMs} ms`}`);
        lines.push(`dropped    ${s.droppedFrames === null ? '-' : s.droppedFrames}`);
        lines.push(`session    ${s.sid.slice(0, 8)}`);
        this.el.textContent = lines.join('\n');
    }
}

/* A TimeRanges as [[start, end], ...], rounded to ms. */
function ranges(tr) {
    const out = [];
    for (let i = 0; tr && i < tr.length; i++) out.push([round(tr.start(i), 3), round(tr.end(i), 3)]);
    return out;
}

function safe(fn) {
    try {
        const v = fn();
        return v === undefined ? null : v;
    } catch (e) {
        return null;
    }
}

function round(x, digits) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return null;
    const f = 10 ** digits;
    return Math.round(x * f) / f;
}

function fmt(x, unit) {
    return x === null ? '-' : `${x.toFixed(1)} ${unit}`;
}

function rate(kbit) {
    if (kbit === null) return '-';
    return kbit >= 10000 ? `${(kbit / 1000).toFixed(1)} Mbit/s` : `${kbit} kbit/s`;
}

function kbps(bps) {
    return typeof bps === 'number' ? `${Math.round(bps / 1000)} kbit/s` : '';
}
