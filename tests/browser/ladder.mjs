/*
 * ladder.mjs -- a player sits on one encoded rung of a live ladder while the
 * transcoder is killed under it (issue 5, docs/ladder.md).
 *
 *   node tests/browser/ladder.mjs MPD_URL --player dashjs|shaka --rep v0-360p
 *        [--seconds 30] [--page URL]
 *
 * Opens PAGE (any page of the origin: it only gives the document an http
 * origin), loads dash.js or Shaka Player from node_modules into it, plays
 * MPD_URL with ABR off on Representation REP, and prints `PLAYING` on
 * stderr once the video moves (the pytest side kills the worker then). For
 * --seconds it samples every 250 ms: the playhead, the representation
 * played, and every stall (video `waiting` until `playing`/time moving).
 * Reports player errors, stalls and their longest duration, how far the
 * playhead moved, and the representations seen.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, scenario, sleep } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIBS = {
    dashjs: path.join(ROOT, 'node_modules', 'dashjs', 'dist', 'modern', 'umd', 'dash.all.min.js'),
    shaka: path.join(ROOT, 'node_modules', 'shaka-player', 'dist', 'shaka-player.compiled.js'),
};

await scenario(async (b, { url, opts }) => {
    const kind = opts.player || 'dashjs';
    const rep = String(opts.rep || 'v0-360p');
    const seconds = opts.seconds ?? 30;
    const page = b.page;
    const failed = [];
    page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(opts.page || new URL('/healthz', url).href);
    await page.setContent('<!doctype html><video id="v" muted autoplay playsinline width="640"></video>');
    await page.addScriptTag({ path: LIBS[kind] });
    await page.evaluate(async ({ kind, url, rep }) => {
        const v = document.getElementById('v');
        const st = { errors: [], stalls: [], waitingSince: null, reps: {}, kind };
        window.lad = st;
        v.addEventListener('waiting', () => {
            if (st.waitingSince === null) st.waitingSince = performance.now();
        });
        const unstall = () => {
            if (st.waitingSince !== null) {
                st.stalls.push(Math.round(performance.now() - st.waitingSince));
                st.waitingSince = null;
            }
        };
        v.addEventListener('playing', unstall);
        v.addEventListener('timeupdate', () => {
            if (st.waitingSince !== null && !v.paused && v.readyState >= 3) unstall();
        });
        if (kind === 'dashjs') {
            const p = dashjs.MediaPlayer().create();
            window.player = p;
            p.updateSettings({
                debug: { logLevel: 1 },
                streaming: { abr: { autoSwitchBitrate: { video: false } } },
            });
            p.on(dashjs.MediaPlayer.events.ERROR, (e) => st.errors.push(JSON.stringify(e.error || e).slice(0, 300)));
            p.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
                p.setRepresentationForTypeById('video', rep, true);
            });
            st.current = () => {
                const r = p.getCurrentRepresentationForType('video');
                return r ? r.id : null;
            };
            st.audio = () => {
                const r = p.getCurrentRepresentationForType('audio');
                return r ? r.id : null;
            };
            p.initialize(v, url, true);
        } else {
            shaka.polyfill.installAll();
            const p = new shaka.Player();
            window.player = p;
            await p.attach(v);
            p.configure({ abr: { enabled: false } });
            p.addEventListener('error', (e) => st.errors.push(JSON.stringify(e.detail).slice(0, 300)));
            await p.load(url);
            const t = p.getVariantTracks().find((x) => x.originalVideoId === rep);
            if (t) p.selectVariantTrack(t, true);
            else st.errors.push(`no variant with video ${rep}`);
            st.current = () => {
                const a = p.getVariantTracks().find((x) => x.active);
                return a ? a.originalVideoId : null;
            };
            st.audio = () => {
                const a = p.getVariantTracks().find((x) => x.active);
                return a ? a.originalAudioId : null;
            };
        }
    }, { kind, url, rep });

    /* Playing on the wanted representation. */
    const deadline = Date.now() + 40000;
    let snap = null;
    for (;;) {
        snap = await page.evaluate(() => ({
            t: document.getElementById('v').currentTime,
            rep: window.lad.current(),
            errors: window.lad.errors,
        }));
        if (snap.errors.length > 0) throw new Error(`player error: ${snap.errors.join('; ')}`);
        if (snap.t > 1 && snap.rep === rep) break;
        if (Date.now() > deadline) throw new Error(`not playing ${rep}: ${JSON.stringify(snap)}`);
        await sleep(200);
    }
    const t0 = snap.t;
    await page.evaluate(() => {
        window.lad.stalls = [];
    });
    log('PLAYING');
    const reps = {};
    const end = Date.now() + seconds * 1000;
    let last = snap;
    while (Date.now() < end) {
        await sleep(250);
        last = await page.evaluate(() => ({
            t: document.getElementById('v').currentTime,
            rep: window.lad.current(),
            audio: window.lad.audio(),
            errors: window.lad.errors,
            stalls: window.lad.stalls,
            waiting: window.lad.waitingSince === null ? 0 : Math.round(performance.now() - window.lad.waitingSince),
        }));
        reps[last.rep] = (reps[last.rep] || 0) + 1;
        reps[`audio ${last.audio}`] = (reps[`audio ${last.audio}`] || 0) + 1;
    }
    const stalls = [...last.stalls];
    if (last.waiting > 0) stalls.push(last.waiting);
    return {
        player: kind,
        rep,
        played: Math.round((last.t - t0) * 1000) / 1000,
        watchedS: seconds,
        playerErrors: last.errors,
        stalls,
        longestStallMs: stalls.length ? Math.max(...stalls) : 0,
        reps,
        failedRequests: failed,
    };
});
