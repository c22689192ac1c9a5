/*
 * cmcd.js -- Common Media Client Data (CTA-5004) for the viewer page: the dash.js
 * settings that turn it on, and the pause signal an edge reads.
 *
 * Every manifest and segment request carries CMCD in query mode (?CMCD=...), so any
 * edge, proxy or log reader sees it without header support. Keys (docs/player.md):
 * sid, cid, v, br, bl, bs, d, dl, mtp, nor, ot, pr, sf, st, su, tb, and sta (v2).
 *
 * The pause signal (the edge prefetches the next segments for paused viewers):
 * - every request made while the video is paused -- dash.js keeps filling its buffer
 *   and refreshing a live manifest -- carries pr=0 (CTA-5004: 0 when not playing)
 *   and sta=a (v2 player state "paused"); dash.js itself would send pr=1 there;
 * - when the player goes quiet while paused, the page sends a keep-alive beacon: a HEAD
 *   of the manifest with CMCD sid, cid, v, sta=a, pr=0, bl and nor (the next object the
 *   player will ask for, relative to the manifest), at once on pause and then every
 *   PAUSE_BEACON_MS while nothing else carried the signal, for at most
 *   PAUSE_BEACON_MAX_MS (an abandoned tab stops costing the edge anything);
 * - on resume the next request carries sta=p (and su / bs as dash.js sets them).
 *
 * dash.js 5.2.1 with CMCD on cannot abort a request in flight: its CMCD interceptor
 * returns a copy of the request with a new customData, the loader hangs abort() on the
 * copy, and HTTPLoader.abort() looks for it on the original. An abandoned segment (ABR's
 * abandon rule, the very thing that saves a viewer whose network collapses) then keeps
 * downloading and is appended late, after the init segment of another rendition: a
 * decode error. playerContext() registers a fix: the interceptor's changes are copied
 * back into the original request, so there is one object, as the loader expects.
 *
 * Not here: the rest of the player settings (player.js).
 */

export const CMCD_VERSION = 2;
export const CMCD_KEYS = ['br', 'bl', 'bs', 'cid', 'd', 'dl', 'mtp', 'nor', 'ot', 'pr', 'sf', 'sid',
    'st', 'su', 'sta', 'tb', 'v'];
export const PAUSE_BEACON_MS = 10000;
export const PAUSE_BEACON_MAX_MS = 30 * 60 * 1000;

/* An RFC 4122 version 4 UUID. crypto.randomUUID() exists only in secure contexts, and
 * an edge may serve the page over plain HTTP, so it is built from getRandomValues(). */
export function newSessionId() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/* Copies what an interceptor returned back into the request it was given. */
function keepRequestIdentity(req, out) {
    if (!out || out === req || typeof out.then === 'function') return out;
    const customData = Object.assign(req.customData || {}, out.customData);
    Object.assign(req, out);
    req.customData = customData;
    return req;
}

/* A dash.js context for dashjs.MediaPlayer(context).create(), with the abort fix above. */
export function playerContext() {
    const context = {};
    dashjs.FactoryMaker.extend('CmcdController', function cmcdKeepIdentity() {
        const original = this.parent.getCmcdRequestInterceptors;
        return {
            getCmcdRequestInterceptors() {
                return original().map((intercept) => (req) => keepRequestIdentity(req, intercept(req)));
            },
        };
    }, true, context);
    return context;
}

/* The streaming.cmcd block of the dash.js settings. */
export function cmcdSettings(sid, cid) {
    return {
        enabled: true,
        mode: 'query',
        version: CMCD_VERSION,
        sid,
        cid,
        enabledKeys: CMCD_KEYS,
        includeInRequests: ['segment', 'mpd'],
        /* The manifest may not switch CMCD off or rename our session. */
        applyParametersFromMpd: false,
    };
}

/*
 * Splits a CMCD payload into [key, value] pairs at commas outside quoted strings and
 * inner lists; value is null for a bare key (a true boolean).
 */
export function cmcdParse(payload) {
    const out = [];
    let depth = 0;
    let quoted = false;
    let start = 0;
    for (let i = 0; i <= payload.length; i++) {
        const c = payload[i];
        if (c === '"' && payload[i - 1] !== '\\') quoted = !quoted;
        else if (!quoted && c === '(') depth++;
        else if (!quoted && c === ')') depth--;
        if (i === payload.length || (c === ',' && !quoted && depth === 0)) {
            const item = payload.slice(start, i);
            const eq = item.indexOf('=');
            if (item) out.push(eq < 0 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)]);
            start = i + 1;
        }
    }
    return out;
}

/* Keys are sorted alphabetically on the wire (CTA-5004 recommends it). */
export function cmcdFormat(pairs) {
    return pairs.slice().sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([k, v]) => (v === null ? k : `${k}=${v}`)).join(',');
}

/* url with its CMCD parameter changed by edit(Map of key -> value). */
function cmcdEditUrl(url, edit) {
    const u = new URL(url, location.href);
    const map = new Map(cmcdParse(u.searchParams.get('CMCD') || ''));
    edit(map);
    u.searchParams.set('CMCD', cmcdFormat([...map]));
    return u.toString();
}

/* The path of target relative to the directory of base (both absolute URLs), or null
 * when they are on different origins. */
function relativeTo(base, target) {
    const b = new URL(base);
    const t = new URL(target);
    if (b.origin !== t.origin) return null;
    const from = b.pathname.split('/').slice(0, -1);
    const to = t.pathname.split('/');
    let i = 0;
    while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++;
    return '../'.repeat(from.length - i) + to.slice(i).join('/');
}

/*
 * Installs the pause signal on a dash.js player playing manifestUrl in video. Returns
 * { beacons() } for the stats overlay and tests (how many keep-alives were sent).
 */
export function installPauseSignal(player, video, manifestUrl, sid, cid) {
    let paused = false;     /* paused by the viewer (not: not started yet, or ended) */
    let ended = false;      /* the player reached the end (even if the element did not say so) */
    let lastSignal = 0;     /* when a request last carried the paused state */
    let pausedAt = 0;
    let timer = null;
    let beacons = 0;
    let nextObject = null;  /* absolute URL of the next segment, from the last video request */

    player.addRequestInterceptor((req) => {
        if (req.url && req.url.includes('CMCD=')) noteNext(req.url);
        if (paused && req.url && req.url.includes('CMCD=')) {
            req.url = cmcdEditUrl(req.url, (m) => {
                m.set('pr', '0');
                m.set('sta', 'a');
            });
            lastSignal = performance.now();
        }
        return Promise.resolve(req);
    });

    /* Remembers the next object of the last video segment request (its nor key). */
    function noteNext(url) {
        const cmcd = new Map(cmcdParse(new URL(url).searchParams.get('CMCD') || ''));
        if (cmcd.get('ot') !== 'v' || !cmcd.has('nor')) return;
        const m = /"((?:[^"\\]|\\.)*)"/.exec(cmcd.get('nor') || '');
        if (!m) return;
        try {
            nextObject = new URL(m[1].replace(/\\(.)/g, '$1'), url).toString();
        } catch (e) {
            nextObject = null;
        }
    }

    function beacon() {
        const pairs = [['sid', JSON.stringify(sid)], ['cid', JSON.stringify(cid)],
            ['v', String(CMCD_VERSION)], ['sta', 'a'], ['pr', '0'], ['ot', 'm']];
        /* bl: milliseconds, rounded to the nearest 100 (CTA-5004). */
        const bl = Math.round(Math.max(0, player.getBufferLength('video') || 0) * 10) * 100;
        pairs.push(['bl', String(Number.isFinite(bl) ? bl : 0)]);
        const nor = nextObject && relativeTo(new URL(manifestUrl, location.href).toString(), nextObject);
        if (nor) pairs.push(['nor', JSON.stringify(nor)]);
        const u = new URL(manifestUrl, location.href);
        u.searchParams.set('CMCD', cmcdFormat(pairs));
        beacons++;
        lastSignal = performance.now();
        fetch(u.toString(), { method: 'HEAD', cache: 'no-store', credentials: 'omit' })
            .catch(() => { /* a lost beacon costs nothing: the next one follows */ });
    }

    function tick() {
        timer = null;
        if (!paused) return;
        const now = performance.now();
        if (now - pausedAt > PAUSE_BEACON_MAX_MS) return;
        if (now - lastSignal >= PAUSE_BEACON_MS - 50) beacon();
        timer = setTimeout(tick, Math.max(250, PAUSE_BEACON_MS - (performance.now() - lastSignal)));
    }

    video.addEventListener('pause', () => {
        if (video.ended || ended) return;
        paused = true;
        pausedAt = performance.now();
        beacon();
        if (timer === null) timer = setTimeout(tick, PAUSE_BEACON_MS);
    });
    video.addEventListener('seeking', () => {
        ended = false;
    });
    video.addEventListener('play', () => {
        paused = false;
        ended = false;
        if (timer !== null) clearTimeout(timer);
        timer = null;
    });

    video.addEventListener('ended', () => {
        paused = false;
    });

    return {
        beacons: () => beacons,
        paused: () => paused,
        /* The end of a VOD as dash.js saw it: a pause that follows is not the viewer's. */
        markEnded: () => {
            ended = true;
            paused = false;
        },
    };
}
