/*
 * keys.mjs -- a viewer drives the player with the keyboard (web/keys.js).
 *
 *   node tests/browser/keys.mjs PAGE_URL
 *
 * On a playing VOD: s opens and closes the stats overlay, m mutes and unmutes, space
 * pauses and resumes, right and left seek 5 s, up and down change the volume, f enters
 * and leaves full screen. Reports what each key changed.
 */
import { log, scenario, sleep, waitPlaying } from './lib.mjs';

function state(page) {
    return page.evaluate(() => ({
        stats: !document.getElementById('stats').hidden,
        statsText: document.getElementById('stats').textContent,
        muted: window.cascade.video.muted,
        paused: window.cascade.video.paused,
        time: window.cascade.video.currentTime,
        volume: window.cascade.video.volume,
        fullscreen: document.fullscreenElement ? document.fullscreenElement.id : null,
        autoplayMuted: !document.getElementById('unmute').hidden,
    }));
}

await scenario(async (b, { url }) => {
    log(`open ${url}`);
    await b.page.goto(url);
    await waitPlaying(b.page, 30000);
    await sleep(1000);
    const k = b.page.keyboard;
    const out = { initial: await state(b.page) };
    const press = async (key, name, wait = 600) => {
        await k.press(key);
        await sleep(wait);
        out[name] = await state(b.page);
    };
    await press('s', 'statsOn');
    await press('s', 'statsOff');
    await press('m', 'mute1');
    await press('m', 'mute2');
    await press(' ', 'pause');
    await press(' ', 'resume');
    await press('ArrowRight', 'seekForward', 1500);
    await press('ArrowLeft', 'seekBack', 1500);
    await press('ArrowDown', 'volumeDown');
    await press('ArrowUp', 'volumeUp');
    await press('f', 'fullscreenOn', 1000);
    await press('f', 'fullscreenOff', 1000);
    return out;
});
