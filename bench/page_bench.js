'use strict';
/* bench/page_bench.js: run by bench/page_bench.sh (which sets PAGE_BASE_URL, PAGE_FIXTURE,
 * CHROMIUM, NODE_PATH).  Baseline for the time to first frame: the 2 s the issue allows. */
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

const BASE = process.env.PAGE_BASE_URL;
const FIX = JSON.parse(fs.readFileSync(process.env.PAGE_FIXTURE, 'utf8'));
const RUNS = Number(process.env.RUNS || 5);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--mute-audio'];
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

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
  console.log('page_bench: ' + BASE + ', Chromium headless, phone viewport, ' + RUNS + ' loads per path (median)');
  for (const mode of ['native', 'hlsjs']) {
    const weights = [], ready = [], played = [];
    for (let i = 0; i < RUNS; i++) {
      const p = await ctx.newPage();
      const seen = [];
      p.on('response', async (r) => {
        if (!/^https?:/.test(r.url()) || /\.(m3u8|ts|mp4|vtt)(\?|$)/.test(r.url()) || r.status() >= 300) return;
        try { seen.push(zlib.gzipSync(await r.body(), { level: 9 }).length); } catch (e) { /* */ }
      });
      await p.goto(watch + '?player=' + mode);
      await p.waitForFunction(() => performance.getEntriesByName('vbill:first-frame').length > 0, null, { timeout: 20000 });
      ready.push(await p.evaluate(() => performance.getEntriesByName('vbill:first-frame')[0].startTime));
      const t0 = await p.evaluate(() => performance.now());
      await p.click('#play');
      await p.waitForFunction(() => performance.getEntriesByName('vbill:first-frame-played').length > 0, null, { timeout: 20000 });
      played.push(await p.evaluate((t0) => performance.getEntriesByName('vbill:first-frame-played')[0].startTime - t0, t0));
      await p.waitForTimeout(200);
      weights.push(seen.reduce((a, b) => a + b, 0));
      await p.close();
    }
    console.log(mode.padEnd(7) + ' page before the video: ' + (median(weights) / 1024).toFixed(1) + ' KB gzipped (budget 150 KB)' +
      '; first frame after navigation start: ' + median(ready).toFixed(0) + ' ms (baseline 2000 ms)' +
      '; tap on play to the first frame played: ' + median(played).toFixed(0) + ' ms');
  }
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((e) => { console.error(e); process.exit(1); });
