/*
 * browser_play.js -- opens a player page in headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core) and reports, as one JSON
 * line, whether the video played: the page must define
 * window.playerState() -> {time, paused, readyState, errors}.
 *
 *   node browser_play.js PAGE_URL SECONDS TIMEOUT_SECONDS
 *
 * Succeeds when currentTime advanced by SECONDS past the first time the
 * video had data; prints {ok, start, state, errors} either way.
 */
const { chromium } = require('playwright-core');

(async () => {
  const [pageUrl, wantS, timeoutS] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
  const errors = [];
  let ok = false;
  let start = null;
  let state = null;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pageUrl);
    const deadline = Date.now() + Number(timeoutS) * 1000;
    while (Date.now() < deadline) {
      state = await page.evaluate(() => (window.playerState ? window.playerState() : null));
      if (state && state.readyState >= 2 && start === null) start = state.time;
      if (state && state.errors.length > 0) break;
      if (start !== null && state.time - start >= Number(wantS)) {
        ok = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ ok, start, state, errors }));
})().catch((e) => {
  console.log(JSON.stringify({ ok: false, fatal: String(e) }));
  process.exit(2);
});
