/*
 * phone.mjs -- the page on a phone-sized screen (390 x 844 CSS pixels, touch, 3x).
 *
 *   node tests/browser/phone.mjs PAGE_URL [--screenshot FILE]
 *
 * Waits for playback, then reports the layout: the viewport, the video stage's box,
 * whether anything overflows sideways, and whether the keyboard help is hidden.
 */
import { log, scenario, waitPlaying } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    log(`open ${url}`);
    await b.page.goto(url);
    const first = await waitPlaying(b.page, 30000);
    const layout = await b.page.evaluate(() => {
        const r = document.getElementById('stage').getBoundingClientRect();
        const keys = document.querySelector('.keys');
        return {
            viewport: { width: innerWidth, height: innerHeight },
            scrollWidth: document.documentElement.scrollWidth,
            stage: { x: r.x, y: r.y, width: r.width, height: r.height },
            keysShown: getComputedStyle(keys).display !== 'none',
        };
    });
    if (opts.screenshot) await b.page.screenshot({ path: opts.screenshot });
    return { startupMs: first.startupMs, ...layout };
}, { viewport: { width: 390, height: 844 }, mobile: true });
