/*
 * landing.mjs -- the page without a stream or video: the lists of what is live and
 * what is ready (web/landing.js).
 *
 *   node tests/browser/landing.mjs PAGE_URL [--notice]
 *
 * Reports the text and link of every item in both lists once they have loaded. With
 * --notice the URL names something the page must refuse: it reports the notice shown
 * instead, and how many media requests were made (none expected).
 */
import { log, scenario } from './lib.mjs';

await scenario(async (b, { url, opts }) => {
    log(`open ${url}`);
    await b.page.goto(url);
    if (opts.notice) {
        await b.page.waitForFunction(() => !document.querySelector('#notice').hidden, null, { timeout: 15000 });
        const notice = await b.page.evaluate(() => document.querySelector('#notice').textContent);
        const watchShown = await b.page.evaluate(() => !document.querySelector('#watch').hidden);
        const mediaRequests = b.requests.filter((r) => /\.(mpd|m4s|mp4)(\?|$)/.test(r.url)).length;
        return { notice, watchShown, mediaRequests };
    }
    await b.page.waitForFunction(() => !document.querySelector('#landing').hidden
        && !document.querySelector('#live-list').textContent.includes('Loading')
        && !document.querySelector('#video-list').textContent.includes('Loading'), null, { timeout: 15000 });
    return b.page.evaluate(() => {
        const items = (id) => Array.from(document.querySelectorAll(`#${id} li`), (li) => {
            const a = li.querySelector('a');
            return { text: li.textContent, href: a ? a.getAttribute('href') : null };
        });
        return { live: items('live-list'), videos: items('video-list'), watchShown: !document.querySelector('#watch').hidden };
    });
});
