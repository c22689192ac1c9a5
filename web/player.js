/*
 * player.js -- the viewer page's entry: reads what to play from the URL, builds the
 * dash.js player with Cascade's settings, and wires the stats overlay (stats.js), the
 * keyboard (keys.js), CMCD and the pause signal (cmcd.js) and the feature hooks
 * (features/). Without ?stream= or ?video= it shows the landing list (landing.js).
 *
 *   ?stream=NAME  /live/NAME/manifest.mpd
 *   ?video=ID     /vod/ID/manifest.mpd
 *   ?src=URL      any manifest (tests and debugging; CMCD cid is then the URL's path)
 *   &stats=1      open the stats overlay at once
 *   &debug=1      dash.js logs at debug level in the console
 *
 * Names and ids follow the manifest model's id rule, [A-Za-z0-9._-] and not "." or "..".
 * window.cascade exposes the player and stats() for the browser tests (tests/browser/).
 * docs/player.md explains every setting below.
 */
import { cmcdSettings, installPauseSignal, newSessionId, playerContext } from './cmcd.js';
import { Stats } from './stats.js';
import { installKeys } from './keys.js';
import { showLanding } from './landing.js';
import { mountFeatures } from './features/index.js';

const ID_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;

/* What the URL asks to play: { kind: 'live'|'vod', id, url, cid }, null for the
 * landing list, or { error } for a name that is not a valid id. */
export function sourceFromParams(params) {
    const stream = params.get('stream');
    const video = params.get('video');
    const src = params.get('src');
    if (stream !== null) {
        if (!ID_RE.test(stream)) return { error: 'That is not a stream name.' };
        return { kind: 'live', id: stream, url: `/live/${stream}/manifest.mpd`, cid: `live/${stream}` };
    }
    if (video !== null) {
        if (!ID_RE.test(video)) return { error: 'That is not a video id.' };
        return { kind: 'vod', id: video, url: `/vod/${video}/manifest.mpd`, cid: `vod/${video}` };
    }
    if (src !== null) {
        let u;
        try {
            u = new URL(src, location.href);
        } catch (e) {
            return { error: 'That is not a URL.' };
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: 'That is not an http(s) URL.' };
        return { kind: 'src', id: u.pathname, url: u.toString(), cid: u.pathname.slice(-64) };
    }
    return null;
}

/*
 * The dash.js settings. Why each one: docs/player.md, "Settings".
 * timeUrl: the UTCTiming fallback (our own /time, never a third-party clock).
 */
export function playerSettings({ sid, cid, timeUrl, debug = false }) {
    return {
        debug: { logLevel: debug ? dashjs.Debug.LOG_LEVEL_DEBUG : dashjs.Debug.LOG_LEVEL_WARNING },
        streaming: {
            delay: { liveDelayFragmentCount: 4, useSuggestedPresentationDelay: true },
            liveCatchup: {
                enabled: true,
                maxDrift: 0,
                playbackRate: { min: -0.05, max: 0.05 },
                playbackBufferMin: 2,
            },
            buffer: { fastSwitchEnabled: true },
            abr: {
                autoSwitchBitrate: { video: true, audio: true },
                minBitrate: { video: -1, audio: -1 },
                maxBitrate: { video: -1, audio: -1 },
                limitBitrateByPortal: true,
                usePixelRatioInLimitBitrateByPortal: true,
                rules: {
                    throughputRule: { active: true },
                    bolaRule: { active: true },
                    insufficientBufferRule: { active: true },
                    switchHistoryRule: { active: true },
                    droppedFramesRule: { active: true },
                    abandonRequestsRule: { active: true },
                },
            },
            utcSynchronization: {
                defaultTimingSource: { scheme: 'urn:mpeg:dash:utc:http-iso:2014', value: timeUrl },
            },
            cmcd: cmcdSettings(sid, cid),
        },
    };
}

function $(id) {
    return document.getElementById(id);
}

function notice(text) {
    const el = $('notice');
    el.textContent = text || '';
    el.hidden = !text;
}

function start(source, params) {
    $('watch').hidden = false;
    $('title').textContent = source.id;
    document.title = `${source.id} · Cascade`;
    const video = $('video');
    const sid = newSessionId();
    const manifestUrl = new URL(source.url, location.href).toString();
    const timeUrl = new URL('/time', manifestUrl).toString();

    const player = dashjs.MediaPlayer(playerContext()).create();
    player.updateSettings(playerSettings({ sid, cid: source.cid, timeUrl, debug: params.get('debug') === '1' }));
    const pause = installPauseSignal(player, video, manifestUrl, sid, source.cid);
    const stats = new Stats(player, video, $('stats'),
        { kind: source.kind, id: source.id, sid, beacons: pause.beacons });
    const events = dashjs.MediaPlayer.events;

    /* Browsers refuse autoplay with sound until the viewer interacts: play muted then,
     * and offer to unmute. */
    const unmute = $('unmute');
    player.on(events.PLAYBACK_NOT_ALLOWED, () => {
        video.muted = true;
        unmute.hidden = false;
        video.play().catch(() => notice('Press play to start.'));
    });
    unmute.addEventListener('click', () => {
        video.muted = false;
        unmute.hidden = true;
    });
    video.addEventListener('volumechange', () => {
        if (!video.muted) unmute.hidden = true;
    });

    /* A live stream that is not (yet) on air answers 404: say so and try again, backing off. */
    let retryMs = RETRY_MIN_MS;
    let retryTimer = null;
    player.on(events.ERROR, (e) => {
        const err = e.error || {};
        const manifestFailed = err.code === dashjs.MediaPlayer.errors.DOWNLOAD_ERROR_ID_MANIFEST_CODE
            || err.code === dashjs.MediaPlayer.errors.MANIFEST_LOADER_LOADING_FAILURE_ERROR_CODE;
        if (manifestFailed) {
            notice(source.kind === 'live' ? 'This stream is not live right now. Retrying…'
                : 'This video is not available. Retrying…');
            if (retryTimer === null) {
                retryTimer = setTimeout(() => {
                    retryTimer = null;
                    player.attachSource(manifestUrl);
                }, retryMs);
                retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
            }
        } else {
            notice(`Playback error${err.code ? ` ${err.code}` : ''}: ${err.message || 'unknown'}`);
        }
    });
    video.addEventListener('playing', () => {
        notice('');
        retryMs = RETRY_MIN_MS;
    });
    /* dash.js 5.2.1 can call endOfStream() before the last segment's append has finished;
     * the element then sits on the last frame and never fires `ended`, while dash.js
     * reports the end itself. Stop the element so the controls (and stats) say so. */
    player.on(events.PLAYBACK_ENDED, () => {
        stats.markEnded();
        pause.markEnded();
        if (!video.ended && !video.paused) video.pause();
    });
    player.on(events.STREAM_INITIALIZED, () => {
        $('live-badge').hidden = !player.isDynamic();
    });

    installKeys({ player, video, stage: $('stage'), stats });
    mountFeatures({ player, video, kind: source.kind, id: source.id, sid, cid: source.cid });
    if (params.get('stats') === '1') stats.toggle(true);

    player.initialize(video, manifestUrl, true);
    window.cascade = { player, video, source, sid, stats: () => stats.snapshot(), overlay: stats };
}

function main() {
    const params = new URLSearchParams(location.search);
    const source = sourceFromParams(params);
    if (source === null) {
        showLanding($('landing'));
        window.cascade = { landing: true };
        return;
    }
    if (source.error) {
        $('watch').hidden = false;
        notice(source.error);
        window.cascade = { error: source.error };
        return;
    }
    if (typeof dashjs === 'undefined') {
        $('watch').hidden = false;
        notice('The player library did not load.');
        window.cascade = { error: 'dashjs missing' };
        return;
    }
    start(source, params);
}

main();
