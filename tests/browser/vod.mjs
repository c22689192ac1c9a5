/*
 * vod.mjs -- a viewer plays a VOD from start to end.
 *
 *   node tests/browser/vod.mjs PAGE_URL [--timeout 120]
 *
 * Reports start-up time, whether the video reached its end (the `ended` event), the
 * duration against where the playhead stopped, stalls and renditions.
 */
import { log, requestSummary, scenario, sleep, stats, waitPlaying } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    const timeoutMs = (opts.timeout ?? 120) * 1000;
    log(`open ${url}`);
    const t0 = Date.now();
    await b.page.goto(url);
    const first = await waitPlaying(b.page, 30000);
    log(`playing after ${first.startupMs} ms; duration ${first.duration} s`);
    let s = first;
    while (!s.ended && Date.now() - t0 < timeoutMs) {
        await sleep(500);
        s = await stats(b.page);
    }
    log(s.ended ? `ended at ${s.currentTime} s` : `not ended after ${timeoutMs} ms at ${s.currentTime} s`);
    return {
        startupMs: first.startupMs,
        ended: s.ended,
        endedBy: s.endedBy,
        live: s.live,
        duration: s.duration,
        currentTime: s.currentTime,
        wallS: Math.round((Date.now() - t0) / 100) / 10,
        stallCount: s.stallCount,
        hiccups: s.hiccups,
        stalls: s.stalls,
        switches: s.switches,
        playerErrors: s.errors,
        requests: requestSummary(b),
    };
});
