/*
 * disclaimer.js -- legal disclaimers: MPD EventStream urn:cascade:disclaimer:2025, each
 * event a JSON object {"text": ...}, shown above the video for the event's duration
 * (until replaced when it has none). A disclaimer burned into the picture by the encoder
 * needs nothing here.
 */
import { eventPayload, eventSeconds } from './index.js';

export const DISCLAIMER_SCHEME = 'urn:cascade:disclaimer:2025';

export function mount(ctx, el) {
    let timer = null;
    ctx.on(DISCLAIMER_SCHEME, (e) => {
        const p = eventPayload(e);
        if (!p || typeof p.text !== 'string') return;
        el.textContent = p.text;
        el.hidden = p.text === '';
        clearTimeout(timer);
        const s = eventSeconds(e, 0);
        if (s > 0) timer = setTimeout(() => { el.hidden = true; }, s * 1000);
    });
}
