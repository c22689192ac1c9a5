/*
 * social.mjs -- reactions and comments on the viewer page, through the edge: one page
 * reacts and comments, a second page (its own tab and session) sees both live, and a
 * reply made on the second page shows up under the comment on the first.
 *
 *   node tests/browser/social.mjs PAGE_URL [--likes N] [--fires N]
 *
 * Reports the counts and comment texts each page showed, and how long the second page
 * took to show them.
 */
import { log, scenario, sleep } from './lib.mjs';

const T = 20000;
const failed = []; /* responses >= 400: "STATUS PATH" */

function watch(page) {
    page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
}

async function open(b, url) {
    const page = await b.context.newPage();
    watch(page);
    page.on('pageerror', (e) => b.errors.push(`pageerror: ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.cascadeSocial && !document.querySelector('#reactions').hidden
        && !document.querySelector('#comments').hidden, null, { timeout: T });
    return page;
}

const count = (page, kind) => page.evaluate((k) => Number(
    document.querySelector(`#reactions button[data-kind="${k}"] .count`).textContent), kind);

await scenario(async (b, { url, opts }) => {
    const likes = opts.likes || 5;
    const fires = opts.fires || 3;
    log(`open ${url} twice`);
    const a = b.page;
    watch(a);
    await a.goto(url);
    await a.waitForFunction(() => window.cascadeSocial && !document.querySelector('#reactions').hidden, null, { timeout: T });
    const p2 = await open(b, url);
    await sleep(300); /* both event streams connected */

    log('page A reacts');
    for (let i = 0; i < likes; i++) await a.click('#reactions button[data-kind="like"]');
    for (let i = 0; i < fires; i++) await a.click('#reactions button[data-kind="fire"]');
    const t0 = Date.now();
    await p2.waitForFunction(([l, f]) => {
        const c = (k) => Number(document.querySelector(`#reactions button[data-kind="${k}"] .count`).textContent);
        return c('like') === l && c('fire') === f;
    }, [likes, fires], { timeout: T });
    const reactionsSeenMs = Date.now() - t0;

    log('page A comments');
    await a.fill('#comments form.comment-form textarea', 'hello from A <b>not bold</b>');
    await a.click('#comments form.comment-form button.send');
    const t1 = Date.now();
    await p2.waitForFunction(() => Array.from(document.querySelectorAll('#comments li.comment .text'))
        .some((e) => e.textContent.startsWith('hello from A')), null, { timeout: T });
    const commentSeenMs = Date.now() - t1;

    log('page B replies');
    await p2.click('#comments li.comment button.reply');
    await p2.fill('#comments li.comment form.comment-form textarea', 'reply from B');
    await p2.click('#comments li.comment form.comment-form button.send');
    await a.waitForFunction(() => {
        const li = document.querySelector('#comments li.comment');
        return li && li.dataset.replies === '1';
    }, null, { timeout: T });
    await a.click('#comments li.comment button.show-replies');
    await a.waitForFunction(() => Array.from(document.querySelectorAll('#comments .replies .text'))
        .some((e) => e.textContent === 'reply from B'), null, { timeout: T });

    const texts = (page) => page.evaluate(() => Array.from(document.querySelectorAll('#comments .comment-list > li.comment > .text'),
        (e) => e.textContent));
    const boldInjected = await p2.evaluate(() => document.querySelectorAll('#comments b').length);
    return {
        a: { like: await count(a, 'like'), fire: await count(a, 'fire'), texts: await texts(a) },
        b: { like: await count(p2, 'like'), fire: await count(p2, 'fire'), texts: await texts(p2) },
        reactionsSeenMs,
        commentSeenMs,
        boldInjected,
        failed: [...new Set(failed)],
        sessions: await Promise.all([a, p2].map((p) => p.evaluate(() => sessionStorage.getItem('cascade.token') !== null))),
    };
});
