'use strict';
/* page.test.js: the customer's page walked in Debian's Chromium (playwright-core), at phone
 * size (390x844) and desktop size (1280x800).  Run by browser.sh, which sets:
 *   PAGE_BASE_URL      the server (the development server, or a real `vbill serve`)
 *   PAGE_FIXTURE       fixture.json: the links, their digits and the bills' expected values
 *   PAGE_EVENTS_LOG    JSON lines of the events/chat POSTs the server received
 *   PAGE_HELPDESK_LOG  JSON lines of the fake help desk (tests/servers/hookrecv.py)
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
async function until(fn, what, ms = 15000) {
  const end = Date.now() + ms;
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
async function shot(page, name) {
  shotNo++;
  const f = path.join(SHOTS, String(shotNo).padStart(2, '0') + '-' + name + '.png');
  await page.screenshot({ path: f, fullPage: true });
  return f;
}

/* ---- what the server received ------------------------------------------------------- */
function jsonLines(file) {
  if (!file || !fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
/* The page's POSTs as the development server logged them ({route, link, status, body}).
 * Against a real server, PAGE_EVENTS_LOG is whatever log gives the same shape. */
function received(linkId, route) {
  return jsonLines(process.env.PAGE_EVENTS_LOG).filter((e) => e.link === linkId && e.route === route);
}

/* ---- per-page guards: axe, CSP, foreign requests ------------------------------------- */
function guard(page) {
  const g = { csp: [], foreign: [], errors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) g.csp.push(m.text());
  });
  page.on('pageerror', (e) => g.errors.push(String(e && e.message || e)));
  page.on('request', (r) => {
    const u = r.url();
    if (/^(data|blob):/.test(u)) return;
    if (new URL(u).origin !== ORIGIN && !u.startsWith(CARRIER)) g.foreign.push(u);
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
  }, 'the video to advance ' + seconds + ' s', 30000);
}
async function seek(page, t) {
  await page.evaluate((t) => new Promise((res) => {
    const v = document.getElementById('video');
    const done = () => { v.removeEventListener('seeked', done); res(); };
    v.addEventListener('seeked', done);
    v.currentTime = t;
  }), t);
  /* until the frame there is decoded (no spinner in the screenshots) */
  await until(() => page.evaluate(() => document.getElementById('video').readyState >= 3), 'the frame after the seek', 10000);
  await page.waitForTimeout(150);
}
/* The bounding box of the white text pixels inside rect of a PNG screenshot (decoded by the
 * browser itself). */
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
async function pause(page) { await page.evaluate(() => document.getElementById('video').pause()); }

async function unlock(page, tok, digits) {
  await page.goto(BASE + linkPath(tok));
  await page.fill('#digits', digits);
  await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
}

/* The written bill: every value the bill has, where the page says it is. */
async function checkBill(page, bill) {
  const got = await page.evaluate(() => {
    const f = (root, name) => { const e = root.querySelector('[data-field="' + name + '"]'); return e ? e.textContent.trim() : null; };
    const s = document.getElementById('bill');
    const b = s.querySelector('[data-bundle]');
    return {
      name_masked: f(s, 'name_masked'), period_text: f(s, 'period_text'),
      this_month_text: f(s, 'this_month_text'), next_month_text: f(s, 'next_month_text'),
      payment_text: f(s, 'payment_text'),
      lines: [...s.querySelectorAll('[data-line]')].map((li) => ({
        id: li.getAttribute('data-line'), prorated_text: f(li, 'prorated_text'), next_month_text: f(li, 'next_month_text') })),
      bundle: b ? { prorated_text: f(b, 'prorated_text'), discount_text: f(b, 'discount_text') } : null,
      other: [...s.querySelectorAll('[data-other] [data-field="amount_text"]')].map((e) => e.textContent.trim()),
    };
  });
  eq(got.period_text, bill.period_text, 'period');
  eq(got.this_month_text, bill.this_month_text, 'this month');
  eq(got.next_month_text, bill.next_month_text, 'next month');
  eq(got.payment_text, bill.payment_text, 'payment');
  eq(got.name_masked, bill.name_masked, 'masked name');
  eq(got.lines, bill.lines.map((l) => ({ id: l.id, prorated_text: l.prorated_text, next_month_text: l.next_month_text })), 'lines');
  eq(got.bundle, bill.bundle ? { prorated_text: bill.bundle.prorated_text, discount_text: bill.bundle.discount_text } : null, 'bundle');
  eq(got.other, bill.other_charges.map((o) => o.amount_text), 'other charges');
}

/* Page weight before the video: every response but the media, gzipped (level 9). */
function weigh(page) {
  const seen = [];
  page.on('response', async (r) => {
    const u = r.url();
    if (!/^https?:/.test(u) || /\.(m3u8|ts|mp4|vtt)(\?|$)/.test(u) || r.status() >= 300) return;
    try { seen.push({ u, gz: zlib.gzipSync(await r.body(), { level: 9 }).length }); } catch (e) { /* redirects */ }
  });
  return () => seen.reduce((a, x) => a + x.gz, 0);
}

/* ===================================================================================== */
async function phone() {
  const ctx = await newContext('phone');
  const page = await ctx.newPage();
  const g = guard(page);
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
    await page.waitForSelector('.tries-left');
    eq((await page.textContent('.tries-left')).trim(), left, 'tries left on the page = X-Tries-Left');
    assert(/맞지 않습니다/.test(await page.textContent('#digits-error')), 'kind wording');
    eq(await page.getAttribute('#digits', 'aria-invalid'), 'true', 'aria-invalid');
    assert((await page.getAttribute('#digits', 'aria-describedby')).includes('digits-error'), 'error described');
    await shot(page, 'phone-check-wrong');
    await axe(page, 'wrong-digits page');
  });

  await step('phone: right digits -> the watch page', async () => {
    await page.fill('#digits', senior.digits);
    await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
    watchUrl = page.url();
    eq(await page.getAttribute('html', 'lang'), 'ko', 'lang');
    await page.waitForSelector('#controls:not([hidden])');
    await shot(page, 'phone-watch');
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
    eq(await page.$eval('input[name=speed]:checked', (e) => e.value), '0.8', 'the 0.8 button is on');
    const f = await frameStats(page);
    assert(f.mean > 20 && f.sd > 3, 'frame not black: mean ' + f.mean.toFixed(1) + ' sd ' + f.sd.toFixed(1));
    await shot(page, 'phone-playing');
  });

  await step('phone: captions show (a cue is active) and chapters are listed', async () => {
    const s = await until(async () => { const x = await playerState(page); return x.activeCue ? x : null; }, 'an active caption cue');
    eq(s.captions, 'showing', 'captions mode');
    eq(await page.getAttribute('#captions', 'aria-pressed'), 'true', 'captions button');
    await until(() => page.$$eval('#chapters button', (b) => b.length), 'the chapter list');
    await shot(page, 'phone-captions');
  });

  await step('phone: tapping a chapter seeks to it', async () => {
    const cues = await page.evaluate(() => [...document.getElementById('chapters-track').track.cues].map((c) => c.startTime));
    eq(await page.$$eval('#chapters button', (b) => b.length), cues.length, 'one button per chapter');
    await page.tap('#chapters li:nth-child(3) button');
    await until(async () => { const s = await playerState(page); return Math.abs(s.t - cues[2]) < 2 ? s : null; }, 'the seek to chapter 3');
    await until(() => page.$eval('#chapters li:nth-child(3) button', (b) => b.getAttribute('aria-current') === 'true'), 'chapter 3 marked current');
    await shot(page, 'phone-chapter');
  });

  await step('phone: the written bill equals the bill', async () => {
    await checkBill(page, senior.bill);
    await page.locator('#bill').scrollIntoViewIfNeeded();
    await shot(page, 'phone-bill');
  });

  await step('phone: speed and captions changes are events', async () => {
    await page.click('input[name=speed][value="1.25"]');
    eq((await playerState(page)).rate, 1.25, 'rate 1.25');
    await page.click('#captions');
    eq((await playerState(page)).captions, 'hidden', 'captions off');
    await page.click('#captions');
    await page.click('input[name=speed][value="0.8"]');
    await until(() => received(senior.id, 'event').filter((e) => e.body.type === 'captions').length >= 2, 'captions events');
    const ev = received(senior.id, 'event');
    assert(ev.some((e) => e.body.type === 'speed' && e.body.rate === 1.25 && e.status === 204), 'speed 1.25 event');
    assert(ev.some((e) => e.body.type === 'captions' && e.body.on === false && e.status === 204), 'captions off event');
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
    const posts = received(senior.id, 'chat');
    const last = posts[posts.length - 1];
    assert(last && Math.abs(last.body.position - s.t) < 0.6, 'the position was sent: ' + JSON.stringify(last && last.body));
    await shot(page, 'phone-ask-answered');
  });

  await step('phone: an escalation says what happens next and reaches the help desk with the still', async () => {
    await page.fill('#ask-question', '상담원 연결해 주세요');
    await page.click('#ask-form button[type=submit]');
    await until(() => page.$eval('#ask-answer', (e) => e.getAttribute('data-kind') === 'escalate'), 'the escalation reply');
    assert((await page.textContent('#ask-answer')).trim().length > 5, 'a reply is shown');
    await shot(page, 'phone-ask-escalated');
    await until(() => {
      const log = jsonLines(process.env.PAGE_HELPDESK_LOG);
      return log.some((e) => e.kind === 'upload' && e.status === 201 && e.bytes > 1000) &&
        log.some((e) => e.kind === 'ticket' && e.status === 201 && e.upload === true && !(e.problems || []).length);
    }, 'a help-desk ticket with the still', 20000);
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
    await until(() => received(senior.id, 'event').some((e) => e.body.type === 'action' && e.body.id === 'pay_now' && e.status === 204), 'the action event');
    await shot(page, 'phone-actions');
  });

  await step('phone: progress quartiles, the end, replay and the survey, sent once', async () => {
    const d = await page.evaluate(() => document.getElementById('video').duration);
    await seek(page, d - 1.5);
    await page.evaluate(() => document.getElementById('video').play());
    await page.waitForSelector('#survey:not([hidden])', { timeout: 20000 });
    await page.locator('#survey').scrollIntoViewIfNeeded();
    await shot(page, 'phone-survey');
    await axe(page, 'survey');
    await page.click('#survey-form button[type=submit]');
    assert(/골라/.test(await page.textContent('#survey-status')), 'asks for a score first');
    await page.click('#survey-form input[name=score][value="4"]');
    await page.fill('#survey-comment', '잘 봤습니다');
    await page.click('#survey-form button[type=submit]');
    await until(() => page.$eval('#survey-status', (e) => e.className === 'thanks' && e.textContent.length > 0), 'the thank-you');
    await shot(page, 'phone-survey-thanks');
    const again = await page.evaluate(() => fetch('event', { method: 'POST', headers: { 'Content-Type': 'application/json',
      'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content }, body: '{"type":"survey","score":5}' }).then((r) => r.status));
    eq(again, 409, 'a second survey');
    const surveys = received(senior.id, 'event').filter((e) => e.body.type === 'survey' && e.status === 204);
    eq(surveys.map((e) => [e.body.score, e.body.comment]), [[4, '잘 봤습니다']], 'the survey arrived once');
    const q = received(senior.id, 'event').filter((e) => e.body.type === 'progress').map((e) => e.body.quartile);
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
    await page.waitForSelector('#survey:not([hidden])', { timeout: 20000 });
    assert(await page.$eval('#survey-form', (f) => f.hidden), 'no form the second time');
    assert((await page.textContent('#survey-status')).length > 0, 'thanks shown');
  });

  await step('phone: overlay mode draws each slot in its box, only inside its window', async () => {
    await page.goto(watchUrl + '?overlay=1');
    await page.waitForSelector('#controls:not([hidden])');
    await until(async () => (await playerState(page)).ready >= 2, 'the overlay stream');
    const st = await playerState(page);
    assert(st.src.includes('/overlay/'), 'plays the shared overlay stream: ' + st.src);
    await page.locator('#stage').scrollIntoViewIfNeeded();
    for (const slot of senior.overlay_slots.slice(0, 3)) {
      await seek(page, slot.from + 1.5);
      const box = await page.evaluate((name) => {
        const v = document.getElementById('video').getBoundingClientRect();
        const el = document.querySelector('.slot[data-slot="' + name + '"]');
        const r = el.getBoundingClientRect();
        return { vis: getComputedStyle(el).visibility, text: el.textContent, x: r.left - v.left, y: r.top - v.top, w: r.width, h: r.height, vw: v.width,
          overflow: el.querySelector('.slot-text').scrollWidth > el.clientWidth + 1 };
      }, slot.name);
      eq(box.vis, 'visible', slot.name + ' visible at ' + (slot.from + 1.5));
      eq(box.text, slot.text, slot.name + ' text');
      const k = box.vw / 1280;
      assert(Math.abs(box.x - slot.box[0] * k) < 2 && Math.abs(box.y - slot.box[1] * k) < 2 &&
             Math.abs(box.w - slot.box[2] * k) < 2 && Math.abs(box.h - slot.box[3] * k) < 2, slot.name + ' in its box: ' + JSON.stringify(box));
      assert(!box.overflow, slot.name + ' fits its box');
      await shot(page, 'phone-overlay-' + slot.name);
      for (const t of [slot.from - 1, slot.to + 1]) {
        await seek(page, t);
        eq(await page.$eval('.slot[data-slot="' + slot.name + '"]', (e) => getComputedStyle(e).visibility), 'hidden', slot.name + ' hidden at ' + t);
      }
    }
    await checkGuards(page, g, 'overlay');
  });

  await step('phone: fullscreen of the video element switches to the burned-in stream at the same position', async () => {
    await seek(page, 40);
    await page.click('h1');  /* a user gesture, so that requestFullscreen is allowed */
    await page.evaluate(() => document.getElementById('video').requestFullscreen());
    await until(async () => { const s = await playerState(page); return s.src.includes('/index.m3u8') && !s.src.includes('/overlay/') && s.ready >= 1 ? s : null; }, 'the burned-in stream');
    const s = await until(async () => { const x = await playerState(page); return Math.abs(x.t - 40) < 1.5 ? x : null; }, 'the position kept');
    eq(await page.$eval('#overlay', (e) => e.hidden), true, 'the overlay is off');
    await page.evaluate(() => document.exitFullscreen());
    await until(async () => (await playerState(page)).src.includes('/overlay/'), 'back to the overlay after fullscreen');
    assert(s.rate === 0.8, 'the rate is kept: ' + s.rate);
  });

  await step('phone: locked after too many wrong entries: a kind page with the help desk', async () => {
    const lock = LINKS[FIX.lock];
    const p2 = await ctx.newPage();
    const g2 = guard(p2);
    await p2.goto(BASE + linkPath(lock.token));
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i++) {
      await p2.fill('#digits', '000000');
      const [r] = await Promise.all([p2.waitForResponse((x) => x.request().method() === 'POST'), p2.click('button[type=submit]')]);
      status = r.status();
      if (status === 429) assert(Number(r.headers()['retry-after']) > 0, 'Retry-After');
    }
    eq(status, 429, 'locked');
    assert(await p2.$('a[href^="tel:"]'), 'help-desk phone link');
    eq(await p2.$('#digits'), null, 'no form when locked');
    await shot(p2, 'phone-locked');
    await axe(p2, 'locked page');
    await checkGuards(p2, g2, 'locked page');
    await p2.close();
  });

  await step('phone: an expired link and an unknown one: kind pages with the help desk', async () => {
    const p3 = await ctx.newPage();
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
    await page.fill('#digits', plain.digits);
    await Promise.all([page.waitForURL(/\/watch$/), page.click('button[type=submit]')]);
    await page.waitForSelector('#controls:not([hidden])');
    await playFor(page, 1);
    const s = await playerState(page);
    eq(s.rate, 1, 'playbackRate');
    await checkBill(page, plain.bill);
    await shot(page, 'desktop-watch-ja');
    await axe(page, 'ja watch page');
    await checkGuards(page, g, 'ja watch page');
  });

  await step('desktop: hls.js (vendored, loaded only when asked for) plays the stream', async () => {
    const scripts = [];
    page.on('pageerror', (e) => g.errors.push(String(e && e.message || e)));
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
    for (const slot of senior.overlay_slots) {
      const t = (slot.from + slot.to) / 2;
      const ink = {};
      for (const m of ['overlay', 'burned']) {
        await page.goto(base + '?overlay=' + (m === 'overlay' ? 1 : 0));
        await until(async () => (await playerState(page)).ready >= 2, 'ready');
        /* captions off for the comparison (no event: the track itself) */
        await page.evaluate(() => { document.getElementById('captions-track').track.mode = 'hidden'; });
        await seek(page, t);
        shotNo++;
        const png = await page.locator('#stage').screenshot({ path: path.join(SHOTS, String(shotNo).padStart(2, '0') + '-desktop-' + slot.name + '-' + m + '.png') });
        const k = await page.evaluate(() => document.getElementById('video').getBoundingClientRect().width / 1280);
        const b = slot.box;
        ink[m] = await inkBox(page, png, { x: Math.round(b[0] * k), y: Math.round(b[1] * k), w: Math.round(b[2] * k), h: Math.round(b[3] * k) });
        assert(ink[m], slot.name + ': no text in the box (' + m + ')');
      }
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
      await p.waitForTimeout(300);
      const bytes = total();
      figures.push('page weight before the video, ' + q.split('=')[1] + ': ' + (bytes / 1024).toFixed(1) + ' KB gzipped');
      assert(bytes < BUDGET, q + ': ' + bytes + ' bytes gzipped');
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
    await checkBill(page, en.bill);
    await shot(page, 'desktop-watch-en');
    await axe(page, 'en watch page');
  });

  await closeContext(ctx);

  await step('desktop, no JavaScript: the check page is a plain form', async () => {
    const c2 = await newContext('desktop', { javaScriptEnabled: false });
    const p = await c2.newPage();
    const en = ROLE('english');
    await p.goto(BASE + linkPath(en.token));
    await p.fill('#digits', en.digits);
    await Promise.all([p.waitForURL(/\/watch$/), p.click('button[type=submit]')]);
    await checkBill(p, en.bill);
    await shot(p, 'desktop-nojs-watch');
    await closeContext(c2);
  });
}

/* A hung browser must not hang make check. */
const WATCHDOG_MS = Number(process.env.PAGE_TIMEOUT_S || 900) * 1000;
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
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed ? 1 : 0);
})();
