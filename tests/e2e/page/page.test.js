'use strict';
/* page.test.js: the customer's page walked in Debian's Chromium (playwright-core), at phone
 * size (390x844) and desktop size (1280x800), against the real `vbill serve` over a store
 * made by the real `vbill batch`.  Run by browser.sh, which sets (tests/e2e/page/env.sh):
 *   PAGE_BASE_URL      the server
 *   PAGE_FIXTURE       fixture.json (make_store.py): the links, their digits, and what the
 *                      page must show, read from the store (bill.json, the template's slots)
 *   PAGE_HOOKS_LOG     JSON lines of the webhook receiver the server's hooks deliver to
 *                      (tests/servers/hookrecv.py: type, subject, data, the still checked)
 *   PAGE_OVERLAY_URL   a second server over the same store, overlay mode by default
 *   PAGE_STORE         the store the servers serve (on-demand files are looked for there)
 *   PAGE_SCREENSHOTS   where the screenshots of every step go
 *   CHROMIUM           the browser (default /usr/bin/chromium)
 * Every page is checked by axe-core (WCAG 2.2 AA tags), for Content-Security-Policy
 * violations and for requests to any other origin.  Prints one line per step and
 * "N passed, N failed"; exits 1 when a step failed.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

const BASE = process.env.PAGE_BASE_URL;
const FIX = JSON.parse(fs.readFileSync(process.env.PAGE_FIXTURE, 'utf8'));
const SHOTS = process.env.PAGE_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'shots-'));
const EXE = process.env.CHROMIUM || '/usr/bin/chromium';
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const ORIGIN = new URL(BASE).origin;
const LINKS = Object.fromEntries(FIX.links.map((l) => [l.token, l]));
const ROLE = (r) => LINKS[FIX.roles[r]];
const linkPath = (tok) => (FIX.base_url || '/v/') + tok;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--mute-audio'];
const CARRIER = 'https://carrier.example/';
const BUDGET = 150 * 1024;
const SLOW = Number(process.env.PAGE_SLOW || 1);  /* a loaded machine: wait longer */

let passed = 0;
let failed = 0;
let shotNo = 0;
const figures = [];

function assert(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, msg) {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(msg + ': got ' + JSON.stringify(a) + ', expected ' + JSON.stringify(b));
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, what, ms = 30000) {
  const end = Date.now() + ms * SLOW;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error('timed out waiting for ' + what);
}
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log('ok - ' + name);
  } catch (e) {
    failed++;
    console.log('not ok - ' + name + '\n    ' + String(e && e.stack || e).split('\n').slice(0, 4).join('\n    '));
  }
}
/* A screenshot of the step: the whole page, or (at) what the customer sees with that
 * element scrolled into view. */
async function shot(page, name, at) {
  shotNo++;
  const f = path.join(SHOTS, String(shotNo).padStart(2, '0') + '-' + name + '.png');
  if (at) {
    await page.locator(at).evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: f, fullPage: !at });
  return f;
}

/* ---- what the page sent, what the help desk received ------------------------------------ */
function jsonLines(file) {
  if (!file || !fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
/* The page's POSTs to B T/event and B T/chat with the server's answers: [{route, status,
 * body}], recorded per page by track(). */
function track(page) {
  const posts = [];
  page.on('response', (r) => {
    const q = r.request();
    if (q.method() !== 'POST') return;
    const m = /\/(event|chat)$/.exec(new URL(q.url()).pathname);
    if (!m) return;
    let body = null;
    try { body = JSON.parse(q.postData() || 'null'); } catch (e) { /* not JSON */ }
    posts.push({ route: m[1], status: r.status(), body });
  });
  return posts;
}
/* The events the webhook receiver got for a subscriber: [{type, id, data, sig_ok, ...}].
 * Every one must carry a valid signature and no problem the receiver found. */
function received(subject, type) {
  const all = jsonLines(process.env.PAGE_HOOKS_LOG).filter((e) => e.kind === 'webhook' && e.subject === subject);
  for (const e of all) {
    assert(e.sig_ok && !(e.problems || []).length, 'the receiver found problems: ' + JSON.stringify(e));
  }
  return type ? all.filter((e) => e.type === type) : all;
}
async function receivedSoon(subject, type, pred, what) {
  return until(() => received(subject, type).filter(pred).length ? received(subject, type).filter(pred) : null,
    what + ' at the webhook receiver', 30000);
}
const ids = (evs) => [...new Set(evs.map((e) => e.id))];
async function metric(name, base) {
  const r = await fetch((base || BASE) + '/metrics');
  const m = new RegExp('^' + name.replace(/[{}"]/g, '\\$&') + ' (\\d+)', 'm').exec(await r.text());
  return m ? Number(m[1]) : NaN;
}

/* ---- per-page guards: axe, CSP, foreign requests ------------------------------------- */
function guard(page, origin) {
  const g = { csp: [], foreign: [], errors: [] };
  const ours = origin || ORIGIN;
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) g.csp.push(m.text());
  });
  page.on('pageerror', (e) => g.errors.push(String(e && e.message || e)));
  page.on('request', (r) => {
    const u = r.url();
    if (/^(data|blob):/.test(u)) return;
    if (new URL(u).origin !== ours && !u.startsWith(CARRIER)) g.foreign.push(u);
  });
  return g;
}
async function checkGuards(page, g, label) {
  const seen = await page.evaluate(() => (window.__cspViolations || []).slice());
  eq(g.csp.concat(seen), [], label + ': Content-Security-Policy violations');
  eq(g.foreign, [], label + ': requests to another origin');
  eq(g.errors, [], label + ': uncaught script errors');
}
async function axe(page, label) {
  await page.evaluate(AXE);
  const r = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), AXE_TAGS);
  const v = r.violations.map((x) => x.id + ' (' + x.impact + '): ' + x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', '));
  eq(v, [], label + ': axe WCAG 2.2 AA violations');
}

async function newContext(kind, extra) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vbill-chromium-'));
  const opts = kind === 'phone'
    ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
    : { viewport: { width: 1280, height: 800 } };
  const ctx = await chromium.launchPersistentContext(dir, Object.assign({
    executablePath: EXE, headless: true, args: FLAGS,
    locale: 'ko-KR', timezoneId: 'Asia/Seoul',
  }, opts, extra || {}));
  ctx.__dir = dir;
  await ctx.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
    });
  });
  /* The carrier's pages (actions) are answered here: the machine has no network. */
  await ctx.route(CARRIER + '**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>carrier</title>ok' }));
  return ctx;
}
async function closeContext(ctx) {
  await ctx.close();
  fs.rmSync(ctx.__dir, { recursive: true, force: true });
}

/* ---- the player ------------------------------------------------------------------------ */
const V = '#video';
async function playerState(page) {
  return page.evaluate(() => {
    const v = document.getElementById('video');
    const c = [...v.textTracks].find((t) => t.kind === 'captions');
    return {
      mode: document.getElementById('stage').getAttribute('data-player'),
      t: v.currentTime, paused: v.paused, rate: v.playbackRate, pitch: v.preservesPitch,
      ready: v.readyState, src: v.currentSrc, err: v.error && v.error.code,
      captions: c ? c.mode : null, activeCue: c && c.activeCues && c.activeCues.length ? c.activeCues[0].text : null,
    };
  });
}
/* Draws the current frame to a canvas: the mean and spread of its luma. */
async function frameStats(page) {
  return page.evaluate(() => {
    const v = document.getElementById('video');
    const c = document.createElement('canvas');
    c.width = 160; c.height = 90;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sum2 = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
      sum += y; sum2 += y * y;
    }
    const mean = sum / n;
    return { mean, sd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
  });
}
async function playFor(page, seconds) {
  await page.click('#play');
  const t0 = (await playerState(page)).t;
  await until(async () => {
    const s = await playerState(page);
    return !s.paused && s.t > t0 + seconds ? s : null;
  }, 'the video to advance ' + seconds + ' s', 60000);
}
async function pause(page) { await page.evaluate(() => document.getElementById('video').pause()); }
async function seek(page, t) {
  await page.evaluate((t) => new Promise((res) => {
    const v = document.getElementById('video');
    const done = () => { v.removeEventListener('seeked', done); res(); };
    v.addEventListener('seeked', done);
    v.currentTime = t;
  }), t);
  /* until the frame there is decoded (no spinner in the screenshots) */
  await until(() => page.evaluate(() => document.getElementById('video').readyState >= 3), 'the frame after the seek', 30000);
  await page.waitForTimeout(200);
}
/* Decodes PNG screenshots in the page itself: the bounding box of the white text pixels
 * inside rect, and two images side by side (written to file). */
async function inkBox(page, png, rect) {
  return page.evaluate(async ({ b64, rect }) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(rect.x, rect.y, rect.w, rect.h).data;
    let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
    for (let y = 0; y < rect.h; y++) {
      for (let x = 0; x < rect.w; x++) {
        const i = (y * rect.w + x) * 4;
        if (d[i] > 190 && d[i + 1] > 190 && d[i + 2] > 190) {
          if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    }
    return x1 < 0 ? null : { x0, y0, x1, y1 };
  }, { b64: png.toString('base64'), rect });
}
async function sideBySide(page, left, right, labels, file) {
  const url = await page.evaluate(async ({ a, b, labels }) => {
    const load = async (b64) => { const i = new Image(); i.src = 'data:image/png;base64,' + b64; await i.decode(); return i; };
    const ia = await load(a), ib = await load(b);
    const c = document.createElement('canvas');
    const head = 36;
    c.width = ia.width + ib.width + 8; c.height = Math.max(ia.height, ib.height) + head;
    const g = c.getContext('2d');
    g.fillStyle = '#ffffff'; g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = '#000000'; g.font = '22px sans-serif'; g.textBaseline = 'middle';
    g.fillText(labels[0], 8, head / 2); g.fillText(labels[1], ia.width + 16, head / 2);
    g.drawImage(ia, 0, head); g.drawImage(ib, ia.width + 8, head);
    return c.toDataURL('image/png');
  }, { a: left.toString('base64'), b: right.toString('base64'), labels });
  fs.writeFileSync(file, Buffer.from(url.split(',')[1], 'base64'));
}

async function unlock(page, tok, digits) {
  await page.goto(BASE + linkPath(tok));
  await page.fill('#digits', digits);
  await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
  await page.waitForSelector('#controls:not([hidden])');
}

/* The written bill: every value bill.json has, where the page says it is; the amounts'
 * digits are bill.json's integers (minor units: won, yen, cents). */
const digitsOf = (t) => String(t || '').replace(/[^0-9]/g, '');
async function checkBill(page, link) {
  const bill = link.bill;
  const got = await page.evaluate(() => {
    const f = (root, name) => { const e = root.querySelector('[data-field="' + name + '"]'); return e ? e.textContent.trim() : null; };
    const s = document.getElementById('bill');
    const b = s.querySelector('[data-bundle]');
    return {
      name_masked: f(s, 'name_masked'), period_text: f(s, 'period_text'),
      this_month_text: f(s, 'this_month_text'), next_month_text: f(s, 'next_month_text'),
      payment_text: f(s, 'payment_text'),
      lines: [...s.querySelectorAll('[data-line]')].map((li) => ({
        id: li.getAttribute('data-line'), product: li.querySelector('.product').firstChild.textContent.trim(),
        prorated_text: f(li, 'prorated_text'), next_month_text: f(li, 'next_month_text') })),
      bundle: b ? { name: b.querySelector('.product').textContent.trim(), prorated_text: f(b, 'prorated_text'), discount_text: f(b, 'discount_text') } : null,
      other: [...s.querySelectorAll('[data-other] [data-field="amount_text"]')].map((e) => e.textContent.trim()),
    };
  });
  eq(got.period_text, bill.period_text, 'period');
  eq(got.this_month_text, bill.this_month_text, 'this month');
  eq(got.next_month_text, bill.next_month_text, 'next month');
  eq(got.payment_text, bill.payment_text, 'payment');
  eq(got.name_masked, bill.name_masked, 'masked name');
  eq(got.lines, bill.lines.map((l) => ({ id: l.id, product: l.product, prorated_text: l.prorated_text, next_month_text: l.next_month_text })), 'lines');
  eq(got.bundle, bill.bundle, 'bundle');
  eq(got.other, bill.other_charges.map((o) => o.amount_text), 'other charges');
  eq(digitsOf(got.this_month_text), String(link.amounts.this_month), 'this month = bill.json amounts.this_month');
  eq(digitsOf(got.next_month_text), String(link.amounts.next_month), 'next month = bill.json amounts.next_month');
}

/* Page weight before the video: every response but the media, gzipped (level 9), and as
 * the server sent it (Content-Length: vbill serve gzips its static files). */
function weigh(page) {
  const seen = [];
  page.on('response', async (r) => {
    const u = r.url();
    if (!/^https?:/.test(u) || /\.(m3u8|ts|mp4|vtt)(\?|$)/.test(u) || r.status() >= 300) return;
    try {
      seen.push({ u, gz: zlib.gzipSync(await r.body(), { level: 9 }).length,
        sent: Number((await r.allHeaders())['content-length']) });
    } catch (e) { /* redirects */ }
  });
  return () => ({ gz: seen.reduce((a, x) => a + x.gz, 0), sent: seen.reduce((a, x) => a + x.sent, 0) });
}

/* The slots of overlay mode: each drawn in its box, visible only inside its window. */
async function checkOverlaySlots(page, link, label, slots) {
  const W = link.template.width;
  for (const slot of slots) {
    await seek(page, slot.from + 1.5);
    const box = await page.evaluate((name) => {
      const v = document.getElementById('video').getBoundingClientRect();
      const el = document.querySelector('.slot[data-slot="' + name + '"]');
      const r = el.getBoundingClientRect();
      return { vis: getComputedStyle(el).visibility, text: el.textContent, x: r.left - v.left, y: r.top - v.top, w: r.width, h: r.height, vw: v.width,
        overflow: el.querySelector('.slot-text').scrollWidth > el.clientWidth + 1 };
    }, slot.name);
    eq(box.vis, 'visible', slot.name + ' visible at ' + (slot.from + 1.5));
    eq(box.text, slot.text, slot.name + ' text (the template\'s, over bill.json)');
    const k = box.vw / W;
    assert(Math.abs(box.x - slot.box[0] * k) < 2 && Math.abs(box.y - slot.box[1] * k) < 2 &&
           Math.abs(box.w - slot.box[2] * k) < 2 && Math.abs(box.h - slot.box[3] * k) < 2, slot.name + ' in its box: ' + JSON.stringify(box));
    assert(!box.overflow, slot.name + ' fits its box');
    await shot(page, label + '-overlay-' + slot.name, 'main');
    for (const t of [slot.from - 1, slot.to + 1]) {
      await seek(page, t);
      eq(await page.$eval('.slot[data-slot="' + slot.name + '"]', (e) => getComputedStyle(e).visibility), 'hidden', slot.name + ' hidden at ' + t);
    }
  }
}

/* ===================================================================================== */
async function phone() {
  const ctx = await newContext('phone');
  const page = await ctx.newPage();
  const g = guard(page);
  const posts = track(page);
  const senior = ROLE('senior');
  let watchUrl;

  await step('phone: the check page asks for the six digits in plain words (ko)', async () => {
    const r = await page.goto(BASE + linkPath(senior.token));
    eq(r.status(), 200, 'status');
    eq(await page.getAttribute('html', 'lang'), 'ko', 'lang');
    const input = await page.$('#digits');
    eq(await input.getAttribute('inputmode'), 'numeric', 'inputmode');
    eq(await input.getAttribute('autocomplete'), 'off', 'autocomplete');
    assert(await input.getAttribute('pattern'), 'pattern');
    const label = await page.textContent('label[for=digits]');
    assert(/생년월일 6자리/.test(label), 'label says 생년월일 6자리: ' + label);
    assert(/580314/.test(await page.textContent('#digits-hint')), 'hint has the example');
    const html = await page.content();
    for (const secret of [senior.bill.name_masked, senior.bill.this_month_text, senior.id]) {
      assert(!html.includes(secret), 'the check page carries ' + secret);
    }
    const fontPx = await page.$eval('#digits', (e) => parseFloat(getComputedStyle(e).fontSize));
    assert(fontPx >= 32, 'large type (' + fontPx + 'px)');
    await shot(page, 'phone-check');
    await axe(page, 'check page');
    await checkGuards(page, g, 'check page');
  });

  await step('phone: a paste with separators keeps the digits only', async () => {
    await page.focus('#digits');
    await page.fill('#digits', '');
    await page.keyboard.insertText('51-12-11');
    eq(await page.inputValue('#digits'), '511211', 'cleaned value');
    await page.fill('#digits', '');
  });

  await step('phone: five digits are refused on the page, said in the live region', async () => {
    await page.fill('#digits', '12345');
    await page.click('button[type=submit]');
    await until(() => page.textContent('#digits-live'), 'the live message');
    eq(new URL(page.url()).pathname, linkPath(senior.token), 'stayed on the check page');
    eq(await page.getAttribute('#digits', 'aria-invalid'), 'true', 'aria-invalid');
    await shot(page, 'phone-check-too-short');
  });

  await step('phone: wrong digits -> the tries left are shown', async () => {
    await page.fill('#digits', '111111');
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click('button[type=submit]'),
    ]);
    eq(resp.status(), 401, 'status');
    const left = resp.headers()['x-tries-left'];
    eq(left, '4', 'X-Tries-Left after one wrong entry');
    await page.waitForSelector('.tries-left');
    eq((await page.textContent('.tries-left')).trim(), left, 'tries left on the page = X-Tries-Left');
    assert(/맞지 않습니다/.test(await page.textContent('#digits-error')), 'kind wording');
    eq(await page.getAttribute('#digits', 'aria-invalid'), 'true', 'aria-invalid');
    assert((await page.getAttribute('#digits', 'aria-describedby')).includes('digits-error'), 'error described');
    await shot(page, 'phone-check-wrong');
    await axe(page, 'wrong-digits page');
    await checkGuards(page, g, 'wrong-digits page');
  });

  await step('phone: right digits -> the watch page', async () => {
    await page.fill('#digits', senior.digits);
    await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
    watchUrl = page.url();
    eq(await page.getAttribute('html', 'lang'), 'ko', 'lang');
    await page.waitForSelector('#controls:not([hidden])');
    await shot(page, 'phone-watch', 'main');
    await axe(page, 'watch page');
    await checkGuards(page, g, 'watch page');
  });

  await step('phone: the video plays (time advances, the frame is not black), a senior at 0.8 with the pitch kept', async () => {
    await until(async () => (await playerState(page)).ready >= 2, 'the first frame');
    await playFor(page, 1.5);
    const s = await playerState(page);
    eq(s.rate, 0.8, 'playbackRate');
    eq(s.pitch, true, 'preservesPitch');
    assert(s.mode === 'native' || s.mode === 'hlsjs', 'HLS playback (' + s.mode + ')');
    assert(s.src.includes(linkPath(senior.token)) || s.src.startsWith('blob:'), 'the bill\'s own stream: ' + s.src);
    eq(await page.$eval('input[name=speed]:checked', (e) => e.value), '0.8', 'the 0.8 button is on');
    const f = await frameStats(page);
    assert(f.mean > 20 && f.sd > 3, 'frame not black: mean ' + f.mean.toFixed(1) + ' sd ' + f.sd.toFixed(1));
    await page.locator('#stage').scrollIntoViewIfNeeded();
    await shot(page, 'phone-playing', 'main');
  });

  await step('phone: captions show (a cue is active) and chapters are listed', async () => {
    const first = await until(() => page.evaluate(() => {
      const t = document.getElementById('captions-track').track;
      return t.cues && t.cues.length ? t.cues[0].startTime : null;
    }), 'the captions\' cues');
    await seek(page, first + 0.5);
    await page.evaluate(() => document.getElementById('video').play());
    const s = await until(async () => { const x = await playerState(page); return x.activeCue ? x : null; }, 'an active caption cue');
    eq(s.captions, 'showing', 'captions mode');
    eq(await page.getAttribute('#captions', 'aria-pressed'), 'true', 'captions button');
    await until(() => page.$$eval('#chapters button', (b) => b.length), 'the chapter list');
    await pause(page);
    await page.locator('#stage').scrollIntoViewIfNeeded();
    await shot(page, 'phone-captions', 'main');
  });

  await step('phone: tapping a chapter seeks to it', async () => {
    const cues = await page.evaluate(() => [...document.getElementById('chapters-track').track.cues].map((c) => c.startTime));
    eq(await page.$$eval('#chapters button', (b) => b.length), cues.length, 'one button per chapter');
    await page.tap('#chapters li:nth-child(3) button');
    await until(async () => { const s = await playerState(page); return Math.abs(s.t - cues[2]) < 2 ? s : null; }, 'the seek to chapter 3');
    await until(() => page.$eval('#chapters li:nth-child(3) button', (b) => b.getAttribute('aria-current') === 'true'), 'chapter 3 marked current');
    await shot(page, 'phone-chapter', '#stage');
  });

  await step('phone: the written bill equals bill.json', async () => {
    await checkBill(page, senior);
    await shot(page, 'phone-bill', '#bill');
  });

  await step('phone: speed and captions changes are events at the receiver', async () => {
    await page.click('input[name=speed][value="1.25"]');
    eq((await playerState(page)).rate, 1.25, 'rate 1.25');
    await page.click('#captions');
    eq((await playerState(page)).captions, 'hidden', 'captions off');
    await page.click('#captions');
    await page.click('input[name=speed][value="0.8"]');
    await until(() => posts.filter((e) => e.body && e.body.type === 'captions').length >= 2, 'the captions POSTs');
    assert(posts.filter((e) => e.route === 'event').every((e) => e.status === 204), 'the server took every event: ' + JSON.stringify(posts));
    await receivedSoon(senior.id, 'bill.speed_changed', (e) => e.data.rate === 1.25, 'bill.speed_changed 1.25');
    await receivedSoon(senior.id, 'bill.captions_changed', (e) => e.data.captions === false, 'bill.captions_changed off');
  });

  await step('phone: a question about this moment is answered', async () => {
    await seek(page, 31);
    await page.evaluate(() => document.getElementById('video').play());
    await page.waitForTimeout(300);
    await page.locator('#ask-question').scrollIntoViewIfNeeded();
    await page.tap('#ask-question');
    const s = await playerState(page);
    assert(s.paused, 'the video pauses when asking');
    assert(/0:3\d/.test(await page.textContent('#ask-at')), 'the moment is named: ' + await page.textContent('#ask-at'));
    await page.fill('#ask-question', '다음 달 요금은 얼마예요?');
    await page.click('#ask-form button[type=submit]');
    await until(() => page.$eval('#ask-answer', (e) => e.getAttribute('data-kind') === 'answer'), 'the answer');
    const text = await page.textContent('#ask-answer');
    assert(text.includes(senior.bill.next_month_text), 'the answer has next month\'s amount: ' + text);
    const asked = posts.filter((e) => e.route === 'chat');
    const last = asked[asked.length - 1];
    assert(last && last.status === 200 && Math.abs(last.body.position - s.t) < 0.6, 'the position was sent: ' + JSON.stringify(last));
    await shot(page, 'phone-ask-answered', '#ask');
  });

  await step('phone: an escalation says what happens next and reaches the receiver with the still', async () => {
    const at = (await playerState(page)).t;
    await page.fill('#ask-question', '상담원 연결해 주세요');
    await page.click('#ask-form button[type=submit]');
    await until(() => page.$eval('#ask-answer', (e) => e.getAttribute('data-kind') === 'escalate'), 'the escalation reply');
    assert((await page.textContent('#ask-answer')).trim().length > 5, 'a reply is shown');
    assert(['chat', 'callback'].includes(await page.getAttribute('#ask-answer', 'data-mode')), 'chat now or a call-back');
    await shot(page, 'phone-ask-escalated', '#ask');
    const [ev] = await receivedSoon(senior.id, 'chat.requested', (e) => e.data.question === '상담원 연결해 주세요', 'chat.requested');
    assert(ev.data.still && ev.data.still.jpeg && ev.data.still.bytes > 2000, 'the still of the frame: ' + JSON.stringify(ev.data.still));
    assert(Math.abs(Number(ev.data.position) - at) < 0.6, 'the still\'s moment: ' + ev.data.position + ' vs ' + at);
  });

  await step('phone: an action button emits its event and opens the carrier\'s page in a new tab (noopener)', async () => {
    const a = page.locator('a[data-action="pay_now"]');
    await a.scrollIntoViewIfNeeded();
    eq(await a.getAttribute('target'), '_blank', 'target');
    assert((await a.getAttribute('rel')).split(' ').includes('noopener'), 'rel noopener');
    const [popup] = await Promise.all([ctx.waitForEvent('page'), a.click()]);
    await popup.waitForLoadState();
    assert(popup.url().startsWith(CARRIER + 'pay'), 'opened ' + popup.url());
    eq(await popup.evaluate(() => window.opener), null, 'no opener');
    await popup.close();
    await receivedSoon(senior.id, 'bill.action', (e) => e.data.action === 'pay_now' && e.data.url === CARRIER + 'pay', 'bill.action pay_now');
    await shot(page, 'phone-actions', '#actions');
  });

  await step('phone: progress quartiles, the end, replay and the survey, sent once', async () => {
    const d = await page.evaluate(() => document.getElementById('video').duration);
    await seek(page, d - 1.5);
    await page.evaluate(() => document.getElementById('video').play());
    await page.waitForSelector('#survey:not([hidden])', { timeout: 60000 });
    await page.locator('#survey').scrollIntoViewIfNeeded();
    await shot(page, 'phone-survey', '#survey');
    await axe(page, 'survey');
    await page.click('#survey-form button[type=submit]');
    assert(/골라/.test(await page.textContent('#survey-status')), 'asks for a score first');
    await page.click('#survey-form input[name=score][value="4"]');
    await page.fill('#survey-comment', '잘 봤습니다');
    await page.click('#survey-form button[type=submit]');
    await until(() => page.$eval('#survey-status', (e) => e.className === 'thanks' && e.textContent.length > 0), 'the thank-you');
    await shot(page, 'phone-survey-thanks', '#survey');
    const again = await page.evaluate(() => fetch('event', { method: 'POST', headers: { 'Content-Type': 'application/json',
      'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content }, body: '{"type":"survey","score":5}' }).then((r) => r.status));
    eq(again, 409, 'a second survey');
    await receivedSoon(senior.id, 'survey.answered', () => true, 'survey.answered');
    await page.waitForTimeout(1500);  /* a second delivery would have come by now */
    const surveys = received(senior.id, 'survey.answered');
    eq(surveys.map((e) => [e.data.score, e.data.comment]), [[4, '잘 봤습니다']], 'the survey arrived once');
    const views = await receivedSoon(senior.id, 'bill.viewed', (e) => e.data.quartile === 100, 'bill.viewed 100%');
    assert(views.length === 1, 'the end once');
    const q = received(senior.id, 'bill.viewed').map((e) => e.data.quartile);
    for (const want of [25, 50, 75, 100]) assert(q.includes(want), 'quartile ' + want + ' (got ' + q + ')');
    eq(q.length, new Set(q).size, 'each quartile once');
    await page.click('#replay');
    await until(async () => { const s = await playerState(page); return s.t < 5 && !s.paused; }, 'replay from the start');
    const bad = await page.evaluate(() => fetch('event', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: '{"type":"speed","rate":1}' }).then((r) => r.status));
    eq(bad, 403, 'an event without the CSRF token');
  });

  await step('phone: coming back later: the survey is not asked again', async () => {
    await page.goto(watchUrl);
    await page.waitForSelector('#controls:not([hidden])');
    const d = await page.evaluate(() => new Promise((res) => {
      const v = document.getElementById('video');
      if (v.readyState >= 1) res(v.duration); else v.addEventListener('loadedmetadata', () => res(v.duration));
    }));
    await seek(page, d - 1);
    await page.evaluate(() => document.getElementById('video').play());
    await page.waitForSelector('#survey:not([hidden])', { timeout: 60000 });
    assert(await page.$eval('#survey-form', (f) => f.hidden), 'no form the second time');
    assert((await page.textContent('#survey-status')).length > 0, 'thanks shown');
    eq(received(senior.id, 'survey.answered').length, 1, 'still one survey at the receiver');
  });

  await step('phone: overlay mode draws each slot in its box, only inside its window', async () => {
    await page.goto(watchUrl + '?overlay=1');
    await page.waitForSelector('#controls:not([hidden])');
    await until(async () => (await playerState(page)).ready >= 2, 'the overlay stream');
    const st = await playerState(page);
    const hash = senior.template.hash;
    assert(st.src.includes('/s/' + hash + '/overlay/') || st.src.startsWith('blob:'), 'plays the shared overlay rendition: ' + st.src);
    await page.locator('#stage').scrollIntoViewIfNeeded();
    await checkOverlaySlots(page, senior, 'phone', senior.overlay_slots.slice(0, 3));
    await checkGuards(page, g, 'overlay');
  });

  await step('phone: fullscreen of the video element switches to the burned-in stream at the same position', async () => {
    await seek(page, 40);
    await page.click('h1');  /* a user gesture, so that requestFullscreen is allowed */
    await page.evaluate(() => document.getElementById('video').requestFullscreen());
    await until(async () => { const s = await playerState(page); return !s.src.includes('/overlay/') && s.ready >= 1 ? s : null; }, 'the burned-in stream');
    const s = await until(async () => { const x = await playerState(page); return Math.abs(x.t - 40) < 1.5 ? x : null; }, 'the position kept');
    eq(await page.$eval('#overlay', (e) => e.hidden), true, 'the overlay is off');
    await page.evaluate(() => document.exitFullscreen());
    await until(async () => (await playerState(page)).src.includes('/overlay/') || (await page.$eval('#overlay', (e) => !e.hidden)), 'back to the overlay after fullscreen');
    assert(s.rate === 0.8, 'the rate is kept: ' + s.rate);
  });

  await step('phone: on demand, a bill watched in overlay mode (the carrier\'s default) is never rendered; the burned-in stream is', async () => {
    /* the second server: the same store, a page config with "overlay_default": true */
    const OB = process.env.PAGE_OVERLAY_URL;
    assert(OB, 'PAGE_OVERLAY_URL (a server with overlay mode by default)');
    const od = ROLE('ondemand');
    const p = await ctx.newPage();
    const g2 = guard(p, new URL(OB).origin);
    const asked = [];
    p.on('request', (r) => asked.push(new URL(r.url()).pathname));
    const dir = path.join(process.env.PAGE_STORE, od.cycle, od.dir);
    const personal = () => fs.readdirSync(dir).filter((f) => /^p\d{5}\.ts$/.test(f));
    const renders = async () => await metric('vbill_renders_total{result="ok"}', OB) + await metric('vbill_renders_total{result="failed"}', OB);
    const before = await renders();
    await p.goto(OB + linkPath(od.token));
    await p.fill('#digits', od.digits);
    await Promise.all([p.waitForURL(/\/watch$/), p.click('button[type=submit]')]);
    await p.waitForSelector('#controls:not([hidden])');
    await until(async () => (await playerState(p)).ready >= 2, 'the overlay stream');
    assert(await p.$eval('#overlay', (e) => !e.hidden), 'overlay mode without asking for it');
    await p.locator('#stage').scrollIntoViewIfNeeded();
    for (const slot of od.overlay_slots) {  /* through every window, playing */
      await seek(p, slot.from + 0.5);
      await p.evaluate(() => document.getElementById('video').play());
      await until(async () => (await playerState(p)).t > slot.from + 1.5, 'playing through ' + slot.name, 60000);
      await pause(p);
      eq(await p.$eval('.slot[data-slot="' + slot.name + '"]', (e) => e.textContent), slot.text, slot.name + ' text');
    }
    await shot(p, 'phone-ondemand-overlay', 'main');
    eq(asked.filter((u) => u.startsWith(linkPath(od.token) + '/') && /(index\.m3u8|p\d{5}\.ts)$/.test(u)), [], 'requests of the bill\'s own stream');
    eq(await renders() - before, 0, 'renders during the overlay viewing');
    eq(personal(), [], 'personal segments in the bill\'s folder');
    await checkGuards(p, g2, 'on-demand overlay');
    /* the control: the burned-in stream of the same bill is rendered at its first view */
    await p.goto(p.url().split('?')[0] + '?overlay=0');
    await p.waitForSelector('#controls:not([hidden])');
    const first = od.overlay_slots[0];
    await seek(p, first.from + 1);
    await p.evaluate(() => document.getElementById('video').play());
    await until(async () => (await playerState(p)).t > first.from + 2, 'the burned-in window playing', 90000);
    await pause(p);
    await shot(p, 'phone-ondemand-burned', 'main');
    assert(personal().length > 0, 'the first view of the burned-in stream rendered its segments');
    assert(await renders() - before > 0, 'renders counted');
    await p.close();
  });

  await step('phone: locked after too many wrong entries: a kind page with the help desk', async () => {
    const lock = LINKS[FIX.lock];
    const p2 = await ctx.newPage();
    const g2 = guard(p2);
    await p2.goto(BASE + linkPath(lock.token));
    const seen = [];
    let status = 0, retry = 0;
    for (let i = 0; i < 12 && status !== 429; i++) {
      await p2.fill('#digits', '000000');
      const [r] = await Promise.all([p2.waitForResponse((x) => x.request().method() === 'POST'), p2.click('button[type=submit]')]);
      status = r.status();
      seen.push([status, r.headers()['x-tries-left'] || null]);
      if (status === 401) eq((await p2.textContent('.tries-left')).trim(), r.headers()['x-tries-left'], 'tries left shown');
      if (status === 429) retry = Number(r.headers()['retry-after']);
    }
    eq(seen, [[401, '4'], [401, '3'], [401, '2'], [401, '1'], [429, null]], 'four tries left one by one, then the lock');
    assert(retry > 0 && retry <= 900, 'Retry-After the cooling period: ' + retry);
    assert((await p2.textContent('main')).includes(String(Math.ceil(retry / 60))), 'the minutes to wait are said');
    assert(await p2.$('a[href^="tel:"]'), 'help-desk phone link');
    eq(await p2.$('#digits'), null, 'no form when locked');
    await shot(p2, 'phone-locked');
    await axe(p2, 'locked page');
    await checkGuards(p2, g2, 'locked page');
    await p2.close();
  });

  await step('phone: an expired link and an unknown one: kind pages with the help desk', async () => {
    const p3 = await ctx.newPage();
    const g3 = guard(p3);
    let r = await p3.goto(BASE + linkPath(FIX.expired));
    eq(r.status(), 410, 'expired status');
    assert(await p3.$('a[href^="tel:"]'), 'help-desk phone link');
    await shot(p3, 'phone-expired');
    await axe(p3, 'expired page');
    r = await p3.goto(BASE + linkPath(FIX.not_found));
    eq(r.status(), 404, 'unknown status');
    assert(await p3.$('a[href^="tel:"]'), 'help-desk phone link');
    await shot(p3, 'phone-not-found');
    await axe(p3, 'not-found page');
    await checkGuards(p3, g3, 'expired and unknown pages');
    await p3.close();
  });

  await closeContext(ctx);
}

/* ===================================================================================== */
async function desktop() {
  const ctx = await newContext('desktop');
  const page = await ctx.newPage();
  const g = guard(page);
  const plain = ROLE('plain');
  const senior = ROLE('senior');

  await step('desktop: Japanese check page, wrong then right digits, plays at 1x', async () => {
    await page.goto(BASE + linkPath(plain.token));
    eq(await page.getAttribute('html', 'lang'), 'ja', 'lang');
    await shot(page, 'desktop-check-ja');
    await axe(page, 'ja check page');
    await page.fill('#digits', '999999');
    await page.click('button[type=submit]');
    await page.waitForSelector('.tries-left');
    assert(/残り/.test(await page.textContent('#digits-error')), 'Japanese tries-left wording');
    await shot(page, 'desktop-check-ja-wrong');
    await axe(page, 'ja wrong-digits page');
    await page.fill('#digits', plain.digits);
    await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
    await page.waitForSelector('#controls:not([hidden])');
    await playFor(page, 1);
    const s = await playerState(page);
    eq(s.rate, 1, 'playbackRate');
    const f = await frameStats(page);
    assert(f.mean > 20 && f.sd > 3, 'frame not black: ' + JSON.stringify(f));
    await checkBill(page, plain);
    await shot(page, 'desktop-watch-ja');
    await axe(page, 'ja watch page');
    await checkGuards(page, g, 'ja watch page');
  });

  await step('desktop: hls.js (vendored, loaded only when asked for) plays the stream', async () => {
    const scripts = [];
    page.on('request', (r) => { if (r.url().includes('hls.light')) scripts.push(r.url()); });
    await page.reload();
    await page.waitForSelector('#controls:not([hidden])');
    const native = (await playerState(page)).mode;
    eq(scripts.length, native === 'hlsjs' ? 1 : 0, 'hls.js fetched only for the hls.js path');
    await page.goto(page.url().split('?')[0] + '?player=hlsjs');
    await until(async () => (await playerState(page)).mode === 'hlsjs', 'the hls.js path');
    assert(scripts.some((u) => u.endsWith('/static/vendor/hls.light.min.js')), 'hls.js loaded from /static/vendor');
    await playFor(page, 1.5);
    const s = await playerState(page);
    assert(s.src.startsWith('blob:'), 'MSE source: ' + s.src);
    const f = await frameStats(page);
    assert(f.mean > 20 && f.sd > 3, 'frame not black: ' + JSON.stringify(f));
    await shot(page, 'desktop-hlsjs');
    await checkGuards(page, g, 'hls.js');
  });

  await step('desktop: the MP4 plays where HLS cannot', async () => {
    await unlock(page, senior.token, senior.digits);
    await page.goto(page.url() + '?player=mp4');
    await until(async () => (await playerState(page)).mode === 'mp4', 'the mp4 path');
    await playFor(page, 1);
    const s = await playerState(page);
    assert(s.src.endsWith('/bill.mp4'), 'mp4 source');
    eq(s.rate, 0.8, 'the senior\'s rate on the MP4 too');
    const f = await frameStats(page);
    assert(f.mean > 20 && f.sd > 3, 'frame not black: ' + JSON.stringify(f));
    await shot(page, 'desktop-mp4');
  });

  await step('desktop: overlay and burned-in frames side by side at each slot time: the text in the same place', async () => {
    const base = page.url().split('?')[0];
    const W = senior.template.width;
    for (const slot of senior.overlay_slots) {
      const t = (slot.from + slot.to) / 2;
      const ink = {}, png = {};
      for (const m of ['overlay', 'burned']) {
        await page.goto(base + '?overlay=' + (m === 'overlay' ? 1 : 0));
        await until(async () => (await playerState(page)).ready >= 2, 'ready');
        /* captions and the browser's controls off for the comparison (no event) */
        await page.evaluate(() => {
          document.getElementById('captions-track').track.mode = 'hidden';
          document.getElementById('video').controls = false;
        });
        await seek(page, t);
        png[m] = await page.locator('#stage').screenshot();
        const k = await page.evaluate(() => document.getElementById('video').getBoundingClientRect().width) / W;
        const b = slot.box;
        ink[m] = await inkBox(page, png[m], { x: Math.round(b[0] * k), y: Math.round(b[1] * k), w: Math.round(b[2] * k), h: Math.round(b[3] * k) });
        assert(ink[m], slot.name + ': no text in the box (' + m + ')');
      }
      shotNo++;
      await sideBySide(page, png.overlay, png.burned, ['overlay mode (the page draws "' + slot.name + '") at ' + t + ' s',
        'burned-in (rendered) at ' + t + ' s'], path.join(SHOTS, String(shotNo).padStart(2, '0') + '-desktop-' + slot.name + '-overlay-vs-burned.png'));
      const o = ink.overlay, r = ink.burned;
      const cy = (q) => (q.y0 + q.y1) / 2;
      assert(Math.abs(o.x0 - r.x0) <= 4, slot.name + ': left edges differ ' + JSON.stringify(ink));
      assert(Math.abs(cy(o) - cy(r)) <= 4, slot.name + ': vertical centres differ ' + JSON.stringify(ink));
      const wo = o.x1 - o.x0, wr = r.x1 - r.x0;
      assert(Math.abs(wo - wr) <= 0.1 * wr + 4, slot.name + ': widths differ ' + JSON.stringify(ink));
    }
  });

  await step('desktop: the page before the video weighs under 150 KB gzipped (native HLS and hls.js)', async () => {
    const base = page.url().split('?')[0];
    for (const q of ['player=native', 'player=hlsjs']) {
      const p = await ctx.newPage();
      const total = weigh(p);
      await p.goto(base + '?' + q);
      await until(async () => p.evaluate(() => performance.getEntriesByName('vbill:first-frame').length > 0), 'the first frame');
      const ms = await p.evaluate(() => performance.getEntriesByName('vbill:first-frame')[0].startTime);
      await p.waitForTimeout(300);
      const bytes = total();
      figures.push('page weight before the video, ' + q.split('=')[1] + ': ' + (bytes.gz / 1024).toFixed(1) +
        ' KB gzipped, ' + (bytes.sent / 1024).toFixed(1) + ' KB as the server sent it; first frame ' +
        ms.toFixed(0) + ' ms after navigation start');
      assert(bytes.gz < BUDGET, q + ': ' + bytes.gz + ' bytes gzipped');
      assert(bytes.sent < BUDGET, q + ': ' + bytes.sent + ' bytes sent');
      await p.close();
    }
  });

  await step('desktop: English pages', async () => {
    const en = ROLE('english');
    await page.goto(BASE + linkPath(en.token));
    eq(await page.getAttribute('html', 'lang'), 'en', 'lang');
    assert(/6 digits/.test(await page.textContent('label[for=digits]')), 'English label');
    await page.fill('#digits', en.digits);
    await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
    await page.waitForSelector('#controls:not([hidden])');
    await checkBill(page, en);
    await shot(page, 'desktop-watch-en');
    await axe(page, 'en watch page');
    await checkGuards(page, g, 'en watch page');
  });

  await closeContext(ctx);

  await step('desktop, no JavaScript: the check page is a plain form', async () => {
    const c2 = await newContext('desktop', { javaScriptEnabled: false });
    const p = await c2.newPage();
    const en = ROLE('english');
    await p.goto(BASE + linkPath(en.token));
    await p.fill('#digits', en.digits);
    await Promise.all([p.waitForURL(/\/watch$/), p.click('button[type=submit]')]);
    await checkBill(p, en);
    await shot(p, 'desktop-nojs-watch');
    await closeContext(c2);
  });
}

/* A hung browser must not hang make check. */
const WATCHDOG_MS = Number(process.env.PAGE_TIMEOUT_S || 1800) * 1000;
setTimeout(() => {
  console.log('not ok - the run took longer than ' + WATCHDOG_MS / 1000 + ' s');
  console.log(passed + ' passed, ' + (failed + 1) + ' failed');
  process.exit(1);
}, WATCHDOG_MS);

(async () => {
  console.log('page tests against ' + BASE + ' with ' + EXE + '; screenshots in ' + SHOTS);
  try {
    await phone();
    await desktop();
  } catch (e) {
    failed++;
    console.log('not ok - the run stopped: ' + (e && e.stack || e));
  }
  for (const f of figures) console.log('# ' + f);
  console.log('# screenshots of every step: ' + SHOTS);
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
})();
