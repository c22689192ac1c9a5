/*
 * throttle.mjs -- a viewer's network drops to a trickle mid-stream.
 *
 *   node tests/browser/throttle.mjs PAGE_URL [--kbps 400] [--before 10] [--after 40]
 *
 * Plays --before seconds unthrottled, then throttles the page to --kbps both ways
 * (DevTools protocol Network.emulateNetworkConditions) for --after seconds. Reports the
 * renditions played, when the player switched down (the first rendered quality change
 * after the throttle to a rung whose bitrate fits the link), every stall with its time
 * relative to the throttle, and how far the playhead moved in the last 10 s.
 */
import { log, requestSummary, sample, scenario, stats, throttle, waitPlaying } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    const kbps = opts.kbps ?? 400;
    const before = opts.before ?? 10;
    const after = opts.after ?? 40;
    log(`open ${url}`);
    await b.page.goto(url);
    const first = await waitPlaying(b.page, 30000);
    log(`playing after ${first.startupMs} ms at ${first.rendition && first.rendition.id}`);
    await sample(b.page, before * 1000, 1000);
    const atThrottle = await stats(b.page);
    await throttle(b, kbps);
    log(`throttled to ${kbps} kbit/s at t=${atThrottle.t} ms on ${atThrottle.rendition && atThrottle.rendition.id}`);
    const samples = await sample(b.page, after * 1000, 1000);
    const last = samples[samples.length - 1];
    const tail = samples.filter((s) => s.t >= last.t - 10000);
    const down = last.switches.find((w) => w.at > atThrottle.t && w.bitrate < kbps * 1000);
    const rel = (at) => at - atThrottle.t;
    return {
        kbps,
        startupMs: first.startupMs,
        throttledAtMs: atThrottle.t,
        renditionBefore: atThrottle.rendition,
        renditionAfter: last.rendition,
        renditions: last.renditions,
        switchDownAfterMs: down ? rel(down.at) : null,
        switches: last.switches.map((w) => ({ ...w, rel: rel(w.at) })),
        stalls: last.stalls.map((s) => ({ ...s, rel: rel(s.at) })),
        stallCount: last.stallCount,
        hiccups: last.hiccups,
        tailPlayedS: Math.round((tail[tail.length - 1].currentTime - tail[0].currentTime) * 1000) / 1000,
        tailWallS: (tail[tail.length - 1].t - tail[0].t) / 1000,
        playing: last.playing,
        bufferS: last.bufferS,
        latencyS: last.latencyS,
        playerErrors: last.errors,
        requests: { ...requestSummary(b), cmcd: undefined },
    };
});
