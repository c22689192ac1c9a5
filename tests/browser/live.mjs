/*
 * live.mjs -- a viewer opens a live stream and watches it.
 *
 *   node tests/browser/live.mjs PAGE_URL [--seconds 30] [--screenshot FILE]
 *
 * Reports start-up time (page asked for the manifest -> first frame playing), live
 * latency over the watch (sampled each second), stalls, renditions played, how far
 * the playhead moved, every host the page talked to and the CMCD it sent. With
 * --screenshot, the page is captured at the end with the stats overlay open.
 */
import { log, requestSummary, sample, scenario, stats, summarize, waitPlaying } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    const seconds = opts.seconds ?? 30;
    log(`open ${url}`);
    await b.page.goto(url);
    const first = await waitPlaying(b.page, (opts.timeout ?? 30) * 1000);
    log(`playing after ${first.startupMs} ms at ${first.rendition && first.rendition.id}`);
    const samples = await sample(b.page, seconds * 1000, 1000);
    const last = samples[samples.length - 1];
    if (opts.screenshot) {
        await b.page.keyboard.press('s');
        await b.page.waitForTimeout(1200);
        await b.page.screenshot({ path: opts.screenshot });
        log(`screenshot ${opts.screenshot}`);
    }
    const final = await stats(b.page);
    return {
        startupMs: first.startupMs,
        watchedS: seconds,
        played: Math.round((last.currentTime - first.currentTime) * 1000) / 1000,
        live: last.live,
        latency: summarize(samples.map((s) => s.latencyS)),
        targetLatencyS: last.targetLatencyS,
        buffer: summarize(samples.map((s) => s.bufferS)),
        stallCount: last.stallCount,
        hiccups: last.hiccups,
        stalls: last.stalls,
        renditions: last.renditions,
        switches: last.switches,
        rendition: last.rendition,
        throughputKbps: last.throughputKbps,
        sid: final.sid,
        playerErrors: final.errors,
        requests: requestSummary(b),
    };
});
