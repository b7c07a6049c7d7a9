'use strict';
/* files.test.js: the customer's page's files, without a browser (run by files.sh).
 *  - the vendored hls.js equals the pinned npm package's dist/hls.light.min.js and LICENSE;
 *  - package.json pins exact versions, and package-lock.json the same ones;
 *  - texts.json has the same keys in every locale, and the templates use exactly its keys;
 *  - no inline script, no style attribute, no event-handler attribute, no third-party URL;
 *  - the check page uses no personal variable; every template variable is documented in
 *    examples/page/README.md.
 * Prints one line per check and "N passed, N failed". */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const SRC = path.resolve(process.env.VBILL_SRCDIR || path.join(__dirname, '../../..'));
const PAGE = path.join(SRC, 'examples/page');
const read = (f) => fs.readFileSync(path.join(PAGE, f), 'utf8');
const LOCALES = ['ko-KR', 'ja-JP', 'en-US'];
let passed = 0;
let failed = 0;

function check(name, fn) {
  try {
    fn();
    passed++;
    console.log('ok - ' + name);
  } catch (e) {
    failed++;
    console.log('not ok - ' + name + '\n    ' + e.message);
  }
}
function assert(c, m) { if (!c) throw new Error(m); }

/* Mustache tags of a template: [{sigil, name}] (comments and set-delimiters are not used). */
function tags(tpl) {
  const out = [];
  const re = /\{\{(\{?)([#^\/&!>]?)\s*([^}\s]+)\s*\}?\}\}/g;
  let m;
  while ((m = re.exec(tpl))) out.push({ sigil: m[1] ? '{' : m[2], name: m[3] });
  return out;
}

check('the vendored hls.js equals the pinned npm package\'s file', () => {
  const pkgDir = path.dirname(require.resolve('hls.js/package.json'));
  const lock = JSON.parse(fs.readFileSync(path.join(SRC, 'package-lock.json'), 'utf8'));
  const want = lock.packages['node_modules/hls.js'].version;
  const have = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  assert(want === have, 'installed hls.js ' + have + ' is not the locked ' + want);
  const a = fs.readFileSync(path.join(pkgDir, 'dist/hls.light.min.js'));
  const b = fs.readFileSync(path.join(PAGE, 'static/vendor/hls.light.min.js'));
  assert(a.equals(b), 'static/vendor/hls.light.min.js differs from hls.js ' + want +
         ' dist/hls.light.min.js (run scripts/vendor-page.sh)');
  const la = fs.readFileSync(path.join(pkgDir, 'LICENSE'));
  const lb = fs.readFileSync(path.join(PAGE, 'static/vendor/hls.js.LICENSE'));
  assert(la.equals(lb), 'static/vendor/hls.js.LICENSE differs from the package\'s LICENSE');
  assert(read('static/vendor/VERSION').includes('hls.js ' + want + ' '), 'VERSION does not name ' + want);
});

check('package.json pins exact versions, as package-lock.json does', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(SRC, 'package.json'), 'utf8'));
  const lock = JSON.parse(fs.readFileSync(path.join(SRC, 'package-lock.json'), 'utf8'));
  const deps = Object.assign({}, pkg.dependencies, pkg.devDependencies);
  for (const [name, v] of Object.entries(deps)) {
    assert(/^\d+\.\d+\.\d+$/.test(v), name + ' is not pinned exactly: ' + v);
    const l = lock.packages['node_modules/' + name];
    assert(l && l.version === v, name + ': package-lock.json has ' + (l && l.version));
  }
});

const texts = JSON.parse(read('texts.json'));
const templates = { 'check.html': read('check.html'), 'watch.html': read('watch.html') };

check('texts.json: the same keys in ko-KR, ja-JP and en-US, no stray locale', () => {
  assert(JSON.stringify(Object.keys(texts).sort()) === JSON.stringify(LOCALES.slice().sort()), 'locales: ' + Object.keys(texts));
  const ref = Object.keys(texts['ko-KR']).sort();
  for (const l of LOCALES) {
    const k = Object.keys(texts[l]).sort();
    const missing = ref.filter((x) => !k.includes(x));
    const extra = k.filter((x) => !ref.includes(x));
    assert(!missing.length && !extra.length, l + ': missing ' + missing + ', extra ' + extra);
    for (const [key, v] of Object.entries(texts[l])) {
      assert(typeof v === 'string', l + '.' + key + ' is not a string');
      assert(v.length > 0 || /_after$/.test(key), l + '.' + key + ' is empty');
      assert(!/[<>]/.test(v), l + '.' + key + ' contains markup');
    }
  }
});

check('the templates use every text, and only texts that exist', () => {
  const used = new Set();
  for (const [f, tpl] of Object.entries(templates)) {
    for (const t of tags(tpl)) {
      if (t.name.startsWith('t.')) {
        const k = t.name.slice(2);
        assert(k in texts['ko-KR'], f + ' uses t.' + k + ', which texts.json lacks');
        used.add(k);
      }
    }
  }
  const unused = Object.keys(texts['ko-KR']).filter((k) => !used.has(k));
  assert(!unused.length, 'texts never used: ' + unused.join(', '));
});

check('no inline script, style attribute, handler attribute or javascript: URL', () => {
  for (const [f, tpl] of Object.entries(templates)) {
    const scripts = tpl.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) || [];
    for (const s of scripts) {
      const open = s.slice(0, s.indexOf('>') + 1);
      const body = s.slice(open.length, -'</script>'.length);
      if (/type="application\/json"/.test(open)) {
        assert(/^\{\{\{\w+\}\}\}$/.test(body), f + ': the data block holds more than one variable');
      } else {
        assert(/\ssrc="/.test(open) && body === '', f + ': inline script ' + open);
      }
    }
    assert(!/<style\b/i.test(tpl), f + ': <style> element');
    assert(!/\sstyle\s*=/i.test(tpl), f + ': style attribute');
    assert(!/\son[a-z]+\s*=/i.test(tpl), f + ': event-handler attribute');
    assert(!/javascript:/i.test(tpl), f + ': javascript: URL');
  }
});

check('no third-party URL in the page\'s own files (no CDN, no web font)', () => {
  const files = ['check.html', 'watch.html', 'static/page.css', 'static/watch.js', 'static/check.js'];
  for (const f of files) {
    const s = read(f);
    assert(!/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i.test(s.replace(/\/\*[\s\S]*?\*\//g, '')), f + ' names another host');
    assert(!/@import|@font-face/.test(s), f + ' imports or downloads fonts');
  }
});

check('the page scripts parse (node --check)', () => {
  for (const f of ['static/watch.js', 'static/check.js']) execFileSync(process.execPath, ['--check', path.join(PAGE, f)]);
});

check('the check page uses no personal variable', () => {
  const allowed = new Set(['lang', 'locale', 'static', 'action', 'form', 'wrong', 'tries_left', 'locked',
    'retry_minutes', 'expired', 'not_found', 'helpdesk', 'phone', 'hours']);
  for (const t of tags(templates['check.html'])) {
    if (t.name.startsWith('t.')) continue;
    assert(allowed.has(t.name), 'check.html uses ' + t.name);
  }
});

check('every template variable is documented in examples/page/README.md', () => {
  const readme = read('README.md');
  const names = new Set();
  for (const tpl of Object.values(templates)) {
    for (const t of tags(tpl)) if (!t.name.startsWith('t.')) names.add(t.name);
  }
  const missing = [...names].filter((n) => !readme.includes('`' + n + '`'));
  assert(!missing.length, 'not in README.md: ' + missing.join(', '));
});

check('inputs of the check page: numeric keypad, no autocomplete, a pattern, paste allowed', () => {
  const tpl = templates['check.html'];
  const input = (tpl.match(/<input\b[^>]*>/) || [''])[0];
  for (const a of ['inputmode="numeric"', 'autocomplete="off"', 'pattern="[0-9]{6}"', 'name="digits"']) {
    assert(input.includes(a), 'the digits field lacks ' + a);
  }
  assert(!/onpaste|maxlength/.test(input), 'the field limits pasting');
});

console.log(passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
