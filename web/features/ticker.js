/*
 * ticker.js -- news flashes: MPD EventStream urn:cascade:flash:2025, each event a JSON
 * object {"text": ...}, shown for the event's duration (FLASH_DEFAULT_S when it has none).
 * The edge has already filtered flashes by region when it wrote this viewer's MPD.
 */
import { eventPayload, eventSeconds } from './index.js';

export const FLASH_SCHEME = 'urn:cascade:flash:2025';
export const FLASH_DEFAULT_S = 10;

export function mount(ctx, el) {
    let timer = null;
    ctx.on(FLASH_SCHEME, (e) => {
        const p = eventPayload(e);
        if (!p || typeof p.text !== 'string' || p.text === '') return;
        el.textContent = p.text;
        el.hidden = false;
        clearTimeout(timer);
        timer = setTimeout(() => { el.hidden = true; }, eventSeconds(e, FLASH_DEFAULT_S) * 1000);
    });
}
