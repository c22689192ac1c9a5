/*
 * pause.mjs -- a viewer pauses for a while, then resumes.
 *
 *   node tests/browser/pause.mjs PAGE_URL [--before 8] [--pause 20] [--after 15]
 *
 * Plays --before seconds, pauses (space key, as a viewer would), waits --pause seconds,
 * resumes (space again) and watches --after seconds. Reports stalls after the resume,
 * how far the playhead moved, and the pause signal the page sent: the requests made
 * while paused with their CMCD (pr=0, sta=a expected) and the keep-alive beacons.
 */
import { log, requestSummary, sample, scenario, sleep, stats, waitPlaying } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    const before = opts.before ?? 8;
    const pause = opts.pause ?? 20;
    const after = opts.after ?? 15;
    log(`open ${url}`);
    await b.page.goto(url);
    const first = await waitPlaying(b.page, 30000);
    log(`playing after ${first.startupMs} ms`);
    await sleep(before * 1000);
    const pausedReq = b.requests.length;
    const pressedAt = Date.now() - b.t0;
    await b.page.keyboard.press(' ');
    const pausedStats = await stats(b.page);
    log(`paused at ${pausedStats.currentTime} s (t=${pausedStats.t} ms)`);
    await sleep(pause * 1000);
    const beforeResume = await stats(b.page);
    /* A request the player had already prepared when the key went down may leave just
     * after it, unmarked: the first half second belongs to neither state. */
    const duringPause = b.requests.slice(pausedReq).filter((r) => r.method === 'HEAD' || r.t > pressedAt + 500);
    await b.page.keyboard.press(' ');
    log('resumed');
    const samples = await sample(b.page, after * 1000, 1000);
    const last = samples[samples.length - 1];
    const resumedAt = beforeResume.t;
    const reqSummary = requestSummary({ requests: duringPause });
    return {
        startupMs: first.startupMs,
        pausedS: pause,
        stayedPaused: beforeResume.paused && Math.abs(beforeResume.currentTime - pausedStats.currentTime) < 0.5,
        playedAfterResume: Math.round((last.currentTime - beforeResume.currentTime) * 1000) / 1000,
        playing: last.playing,
        stallsAfterResume: last.stalls.filter((s) => s.at >= resumedAt),
        stallCount: last.stallCount,
        hiccups: last.hiccups,
        beacons: beforeResume.beacons,
        pauseRequests: reqSummary.cmcd,
        latencyS: last.latencyS,
        playerErrors: last.errors,
        requests: { ...requestSummary(b), cmcd: undefined },
    };
});
