/*
 * lib.mjs -- what every browser scenario shares: Debian's Chromium started headless by
 * playwright-core with a new empty profile (never a downloaded browser), the page's
 * window.cascade.stats() read in a loop, network throttling through the DevTools
 * protocol, and the one `RESULT {...}` line the pytest side parses
 * (tests/scenario/browser.py). Progress goes to stderr.
 *
 * A scenario is `node tests/browser/NAME.mjs URL [--key value ...]`, run from the
 * source tree so node finds playwright-core in node_modules/. It reports what it
 * measured; the pytest test decides what passes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CASCADE_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

export function log(...args) {
    process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${args.join(' ')}\n`);
}

export function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

/* argv after the URL: --name value pairs (numbers parsed), --flag alone is true. */
export function parseArgs(argv = process.argv.slice(2)) {
    const [url, ...rest] = argv;
    const opts = {};
    for (let i = 0; i < rest.length; i++) {
        const m = /^--(.+)$/.exec(rest[i]);
        if (!m) continue;
        const next = rest[i + 1];
        if (next === undefined || next.startsWith('--')) {
            opts[m[1]] = true;
        } else {
            opts[m[1]] = Number.isFinite(Number(next)) ? Number(next) : next;
            i++;
        }
    }
    if (!url) throw new Error('usage: node SCENARIO.mjs URL [--key value ...]');
    return { url, opts };
}

/*
 * Starts Chromium with a fresh profile and opens one page. viewport: {width, height};
 * mobile: a phone (touch, device scale 3). Every request the page makes is recorded
 * (url, method, time since launch), as are console errors and uncaught exceptions.
 */
export async function launch({ viewport = { width: 1280, height: 800 }, mobile = false, flags = [] } = {}) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cascade-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [...CHROMIUM_FLAGS, ...flags],
        viewport,
        deviceScaleFactor: mobile ? 3 : 1,
        isMobile: mobile,
        hasTouch: mobile,
    });
    const page = context.pages()[0] || (await context.newPage());
    const t0 = Date.now();
    const b = { context, page, profile, t0, requests: [], errors: [], console: [], cdp: null };
    page.on('request', (r) => b.requests.push({ t: Date.now() - t0, method: r.method(), url: r.url() }));
    page.on('console', (m) => {
        // Chrome logs every failed fetch. Against an upstream with no interactions
        // backend (a static site), the page's comments and reactions calls get 404
        // and the page shows them as unavailable: that is not a player error. Any
        // other failed load (a segment, a manifest, the player) still counts.
        const url = (m.location() && m.location().url) || '';
        if (m.type() === 'error' && /Failed to load resource: .*404/.test(m.text()) &&
            /\/(api|events)\//.test(new URL(url, 'http://x/').pathname)) {
            b.apiMissing = (b.apiMissing || 0) + 1;
        } else if (m.type() === 'error') {
            b.errors.push(`console: ${m.text()} ${url}`);
        }
        if (process.env.CASCADE_BROWSER_CONSOLE) b.console.push(`${Date.now() - t0} ${m.type()} ${m.text()}`);
    });
    page.on('pageerror', (e) => b.errors.push(`pageerror: ${e.message}`));
    b.close = async () => {
        if (process.env.CASCADE_BROWSER_CONSOLE) fs.writeFileSync(process.env.CASCADE_BROWSER_CONSOLE, b.console.join('\n'));
        await context.close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
    };
    return b;
}

export async function stats(page) {
    return page.evaluate(() => (window.cascade && window.cascade.stats ? window.cascade.stats() : null));
}

/* Until the video plays (currentTime moving), or throws after timeoutMs. */
export async function waitPlaying(page, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    let last = null;
    while (Date.now() < deadline) {
        last = await stats(page);
        if (last && last.playing && last.startupMs !== null) return last;
        if (last && last.errors && last.errors.length > 0 && last.errors.some((e) => e.code !== 25 && e.code !== 11)) {
            throw new Error(`player error: ${JSON.stringify(last.errors)}`);
        }
        await sleep(100);
    }
    throw new Error(`not playing after ${timeoutMs} ms; last stats: ${JSON.stringify(last)}`);
}

/* Samples stats every everyMs for ms; returns the samples. */
export async function sample(page, ms, everyMs = 1000) {
    const out = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
        out.push(await stats(page));
        await sleep(Math.min(everyMs, Math.max(0, end - Date.now())));
    }
    out.push(await stats(page));
    return out;
}

/* Throttles the page's network to kbps (both ways), with latencyMs added; kbps 0 lifts it. */
export async function throttle(b, kbps, latencyMs = 40) {
    if (!b.cdp) {
        b.cdp = await b.context.newCDPSession(b.page);
        await b.cdp.send('Network.enable');
    }
    const bytesPerS = kbps > 0 ? (kbps * 1000) / 8 : -1;
    await b.cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: kbps > 0 ? latencyMs : 0,
        downloadThroughput: bytesPerS,
        uploadThroughput: bytesPerS,
    });
}

export function summarize(values) {
    const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
    if (v.length === 0) return null;
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    return { n: v.length, min: Math.min(...v), max: Math.max(...v), mean: Math.round(mean * 100) / 100,
        last: v[v.length - 1] };
}

/* The hosts (host:port) the page talked to, and the CMCD payloads it sent. */
export function requestSummary(b) {
    const hosts = new Set();
    let withCmcd = 0;
    const cmcd = [];
    for (const r of b.requests) {
        let u;
        try {
            u = new URL(r.url);
        } catch (e) {
            continue;
        }
        if (u.protocol === 'http:' || u.protocol === 'https:') hosts.add(u.host);
        const c = u.searchParams.get('CMCD');
        if (c !== null) {
            withCmcd++;
            cmcd.push({ t: r.t, method: r.method, path: u.pathname, cmcd: c });
        }
    }
    return { total: b.requests.length, withCmcd, hosts: [...hosts].sort(), cmcd };
}

export function result(obj) {
    process.stdout.write(`RESULT ${JSON.stringify(obj)}\n`);
}

/* Runs body(b, args) with a browser, always printing a RESULT line and closing it. */
export async function scenario(body, launchOpts = {}) {
    let b = null;
    try {
        const args = parseArgs();
        b = await launch(typeof launchOpts === 'function' ? launchOpts(args) : launchOpts);
        const out = await body(b, args);
        result({ ok: true, ...out, pageErrors: b.errors });
    } catch (e) {
        log(`failed: ${e && e.stack ? e.stack : e}`);
        result({ ok: false, error: String(e && e.message ? e.message : e), pageErrors: b ? b.errors : [] });
        process.exitCode = 1;
    } finally {
        if (b) await b.close();
    }
}
