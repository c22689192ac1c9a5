/*
 * features/index.js -- where the page's later features plug in.
 *
 * Each feature is a small module exporting mount(ctx, el): el is its container in
 * index.html (data-feature="NAME", hidden until the feature has something to show) and
 * ctx is { player, video, kind, id, sid, cid, on(scheme, fn) }. A feature must not
 * break playback: a mount that throws is logged and skipped.
 *
 *   admarker    "Ad" while an ad Period plays (ids "ad-...", docs/manifest-model.md)
 *   ticker      news flashes: MPD events urn:cascade:flash:2025, payload {"text": ...}
 *   disclaimer  disclaimers: MPD events urn:cascade:disclaimer:2025, payload {"text": ...}
 *   reactions   reaction buttons and the live count (a later issue)
 *   comments    comments with replies (a later issue)
 */
import * as admarker from './admarker.js';
import * as ticker from './ticker.js';
import * as disclaimer from './disclaimer.js';
import * as reactions from './reactions.js';
import * as comments from './comments.js';

const FEATURES = { admarker, ticker, disclaimer, reactions, comments };

export function mountFeatures(ctx) {
    const events = dashjs.MediaPlayer.events;
    ctx.on = (scheme, fn) => ctx.player.on(scheme, fn, null, { mode: events.EVENT_MODE_ON_START });
    for (const [name, mod] of Object.entries(FEATURES)) {
        const el = document.querySelector(`[data-feature="${name}"]`);
        if (!el) continue;
        try {
            mod.mount(ctx, el);
        } catch (e) {
            console.warn(`feature ${name} did not mount`, e);
        }
    }
}

/* The JSON payload of a dash.js event (MPD Event body or emsg data), or null. */
export function eventPayload(e) {
    const data = e && e.event ? e.event.messageData : null;
    let text = data;
    if (data instanceof Uint8Array || data instanceof ArrayBuffer) text = new TextDecoder().decode(data);
    if (typeof text !== 'string') return null;
    try {
        const obj = JSON.parse(text);
        return obj && typeof obj === 'object' ? obj : null;
    } catch (err) {
        return null;
    }
}

/* Seconds an event stays up: its duration, or fallback when it has none. */
export function eventSeconds(e, fallback) {
    const d = e && e.event ? Number(e.event.duration) : NaN;
    return Number.isFinite(d) && d > 0 ? d : fallback;
}
