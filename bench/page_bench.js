'use strict';
/* bench/page_bench.js: run by bench/page_bench.sh (which sets PAGE_BASE_URL, PAGE_FIXTURE,
 * CHROMIUM, NODE_PATH).  Baselines: the budgets, 150 KB gzipped before the video and
 * 2 s to the first frame; requests to any other origin are counted (the budget is none). */
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

const BASE = process.env.PAGE_BASE_URL;
const ORIGIN = new URL(BASE).origin;
const FIX = JSON.parse(fs.readFileSync(process.env.PAGE_FIXTURE, 'utf8'));
const RUNS = Number(process.env.RUNS || 5);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--mute-audio'];
/* Loads are first visits (the browser's cache disabled): the weight as gzipped bodies (level
 * 9, whatever the server sent) and as sent on the wire (vbill serve gzips its static files). */
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
const MEDIA = /\.(m3u8|ts|mp4|vtt)(\?|$)/;

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbill-bench-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, args: FLAGS, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  const tok = FIX.roles.senior;
  const link = FIX.links.find((l) => l.token === tok);
  await page.goto(BASE + FIX.base_url + tok);
  await page.fill('#digits', link.digits);
  await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
  const watch = page.url();
  console.log('page_bench: ' + BASE + ' (vbill serve), Chromium headless, phone viewport, ' + RUNS +
    ' loads per path (median); the ' + link.id + ' bill of the test store');
  for (const q of ['player=native', 'player=hlsjs', 'player=native&overlay=1']) {
    const weights = [], raws = [], ready = [], played = [], requests = [];
    let foreign = 0;
    for (let i = 0; i < RUNS; i++) {
      const p = await ctx.newPage();
      /* a first visit: nothing from the browser's cache */
      await (await ctx.newCDPSession(p)).send('Network.setCacheDisabled', { cacheDisabled: true });
      const seen = [], raw = [];
      let n = 0;
      p.on('request', (r) => {
        if (/^(data|blob):/.test(r.url())) return;
        n++;
        if (new URL(r.url()).origin !== ORIGIN) foreign++;
      });
      p.on('response', async (r) => {
        if (!/^https?:/.test(r.url()) || MEDIA.test(r.url()) || r.status() >= 300) return;
        try {
          seen.push(zlib.gzipSync(await r.body(), { level: 9 }).length);
          raw.push(Number((await r.allHeaders())['content-length'] || 0));  /* as sent */
        } catch (e) { /* */ }
      });
      await p.goto(watch + '?' + q);
      await p.waitForFunction(() => performance.getEntriesByName('vbill:first-frame').length > 0, null, { timeout: 60000 });
      ready.push(await p.evaluate(() => performance.getEntriesByName('vbill:first-frame')[0].startTime));
      const t0 = await p.evaluate(() => performance.now());
      await p.click('#play');
      await p.waitForFunction(() => performance.getEntriesByName('vbill:first-frame-played').length > 0, null, { timeout: 60000 });
      played.push(await p.evaluate((t0) => performance.getEntriesByName('vbill:first-frame-played')[0].startTime - t0, t0));
      await p.waitForTimeout(200);
      weights.push(seen.reduce((a, b) => a + b, 0));
      raws.push(raw.reduce((a, b) => a + b, 0));
      requests.push(n);
      await p.close();
    }
    console.log(q.replace('player=', '').replace('&overlay=1', ' overlay').padEnd(15) +
      ' page before the video: ' + (median(weights) / 1024).toFixed(1) + ' KB gzipped (budget 150 KB), ' +
      (median(raws) / 1024).toFixed(1) + ' KB on the wire' +
      '; first frame after navigation start: ' + median(ready).toFixed(0) + ' ms (budget 2000 ms)' +
      '; tap on play to the first frame played: ' + median(played).toFixed(0) + ' ms' +
      '; requests: ' + median(requests) + ', to another origin: ' + foreign);
  }
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((e) => { console.error(e); process.exit(1); });
