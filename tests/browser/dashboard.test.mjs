// Browser test of the dashboard: a real vigild, workers fed over HTTP, and
// Debian's Chromium driven by playwright-core (from web/node_modules).
//
//   VIGILD=build/vigild node --test tests/browser/dashboard.test.mjs
//
// Env: VIGILD (the binary), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (default: a temp dir; CTest sets build/browser-screenshots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, SHOTS, VIGILD, freePort, launchChromium, sleep, waitFor } from './lib.mjs';

const FAST = ['fast-1', 'fast-2', 'fast-3'];
const GPU = ['gpu-1', 'gpu-2', 'gpu-3', 'gpu-4'];
const BATCH = ['batch-1', 'batch-2'];

let tmp, proc, port, base, token, browser, feeder, startedAt, cfgFile;
const beating = new Set([...FAST, ...GPU, ...BATCH]);
let seq = 0;

async function req(method, p, body, headers = {}) {
  const r = await fetch(base + p, { method, body, headers });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text, headers: r.headers };
}
const get = (p) => req('GET', p, undefined, { Authorization: 'Bearer ' + token });
const postJson = (p, o) => req('POST', p, JSON.stringify(o), { 'Content-Type': 'application/json' });

function beatLine(id) {
  seq++;
  const n = Number(id.split('-')[1]);
  const group = id.split('-')[0] === 'gpu' ? 'inference' : id.split('-')[0];
  const line = { worker_id: id, group, instance: id + '-i1', seq, status: 'ok',
    cpu: Math.min(1, 0.12 * n + 0.05 * Math.sin(seq / 7)), mem: 0.2 + 0.1 * n };
  if (group === 'inference') Object.assign(line, { ttl_s: 30, backlog: n + 1, capacity: 8, thermal: n === 4 ? 'fair' : 'nominal', in_flight: n });
  if (group === 'batch') Object.assign(line, { ttl_s: 60 });
  return JSON.stringify(line);
}

async function feed() {
  const ids = [...beating];
  if (!ids.length) return;
  const r = await req('POST', '/v1/heartbeats', ids.map(beatLine).join('\n'), { 'Content-Type': 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
}

// A config with a fast group TTL and a fleet sampler every second: [history]
// sample_s when this vigild takes it, else VIGIL_HISTORY_SAMPLE_S.
let sampleEnv = {};
function writeConfig(dir) {
  const parts = {
    alerts: '[alerts]\ngrace_s = 0\n',
    rules: '[rule "fast-lost"]\ntype = worker_lost\ngroup = fast\nseverity = warning\n\n' +
      '[rule "fast-down"]\ntype = group_down\ngroup = fast\nseverity = critical\n',
    group: '[group "fast"]\nttl_s = 2\n',
    history: '[history]\nsample_s = 1\n',
  };
  const file = path.join(dir, 'vigil.ini');
  const write = (names) => fs.writeFileSync(file, names.map((n) => parts[n]).join('\n'));
  write(['alerts', 'rules', 'group', 'history']);
  const check = spawnSync(VIGILD, ['--config', file, '--data', path.join(dir, 'var'), '--check-config'], { encoding: 'utf8' });
  if (check.status !== 0) {
    write(['alerts', 'rules', 'group']);
    sampleEnv = { VIGIL_HISTORY_SAMPLE_S: '1' };
    const again = spawnSync(VIGILD, ['--config', file, '--data', path.join(dir, 'var'), '--check-config'], { encoding: 'utf8' });
    assert.equal(again.status, 0, `config refused: ${again.stderr}`);
  }
  return file;
}

async function startVigild() {
  const log = fs.openSync(path.join(tmp, 'vigild.log'), 'a');
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_'))), ...sampleEnv };
  proc = spawn(VIGILD, ['--config', cfgFile, '--listen', `127.0.0.1:${port}`, '--data', path.join(tmp, 'var')],
    { stdio: ['ignore', log, log], env });
  await waitFor(async () => {
    assert.equal(proc.exitCode, null, 'vigild exited: ' + fs.readFileSync(path.join(tmp, 'vigild.log'), 'utf8'));
    return (await req('GET', '/healthz')).status === 200;
  }, 'vigild /healthz');
}

// SIGTERM, and vigild must stop cleanly (exit 0: under ASan, no leak either).
async function stopVigild() {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(15000)]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
  const log = fs.readFileSync(path.join(tmp, 'vigild.log'), 'utf8');
  assert.equal(proc.exitCode, 0, `vigild did not stop cleanly (${proc.exitCode ?? proc.signalCode}):\n${log.slice(-3000)}`);
}

before(async () => {
  assert.ok(fs.existsSync(VIGILD), `no vigild at ${VIGILD} (set VIGILD)`);
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: scripts/deps.sh test installs Debian's chromium`);
  fs.mkdirSync(SHOTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-browser-'));
  cfgFile = writeConfig(tmp);
  startedAt = Date.now();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await startVigild();
  token = fs.readFileSync(path.join(tmp, 'var', 'admin.token'), 'utf8').trim();

  await feed();
  await feed();
  feeder = setInterval(() => feed().catch(() => {}), 400);
  // batch-2 stops cleanly: a `left` pill; task durations for inference's latency.
  beating.delete('batch-2');
  assert.equal((await postJson('/v1/bye', { worker_id: 'batch-2', instance: 'batch-2-i1' })).status, 200);
  for (let i = 0; i < 3; i++) {
    const r = await postJson('/v1/tasks', { group: 'inference', durations_ms: Array.from({ length: 50 }, (_, k) => 80 + k * 9 + i * 5) });
    assert.equal(r.status, 200, r.text);
  }

  browser = await launchChromium();
});

after(async () => {
  clearInterval(feeder);
  await browser?.close().catch(() => {});
  await stopVigild();
  if (tmp && !process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

// A page that records what must never happen: a script error, a CSP
// violation, a request URL carrying the token.
async function openPage() {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 960 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push('console: ' + m.text());
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push('csp: ' + m.text());
  });
  page.on('request', (r) => {
    if (token && r.url().includes(token)) problems.push('token in URL: ' + r.url());
  });
  return { ctx, page, problems };
}

// Run action, then wait until the view at sel has drawn again (data-drawn
// holds the render's generation, so an earlier render's mark does not count).
async function redrawn(page, sel, action, timeout = 30000) {
  const before = await page.locator(sel).getAttribute('data-drawn');
  await action();
  await page.waitForFunction(([s, b]) => {
    const v = document.querySelector(s)?.dataset.drawn;
    return v && v !== b;
  }, [sel, before], { timeout });
}

const shot = (page, name, fullPage = false) => page.screenshot({ path: path.join(SHOTS, name), fullPage });
const pillOf = (page, id, state) => page.locator(`#wl .wrow[data-worker-id="${id}"] .pill[data-state="${state}"]`);

test('dashboard: live view, SSE updates, history, worker page', async () => {
  const { ctx, page, problems } = await openPage();
  try {
    // Static files: security headers, no token needed.
    const idx = await req('GET', '/');
    assert.equal(idx.status, 200);
    assert.match(idx.headers.get('content-security-policy'), /default-src 'self'/);
    assert.equal(idx.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(idx.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(idx.headers.get('cache-control'), 'no-cache');
    assert.match(idx.headers.get('content-type'), /^text\/html/);
    assert.equal((await req('GET', '/ui')).text, idx.text);
    const js = await req('GET', '/ui/app.js');
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    const etag = js.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    assert.equal((await req('GET', '/ui/app.js', undefined, { 'If-None-Match': etag })).status, 304);
    assert.ok((await req('GET', '/ui/uPlot.iife.min.js')).text.length > 20000, 'uPlot embedded');
    const nope = await req('GET', '/ui/nope.js');
    assert.equal(nope.status, 404);
    assert.equal(nope.json.error.field, 'path');
    const post = await req('POST', '/');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');

    await page.goto(base + '/');
    // The token form: a wrong token is refused, the right one opens the page.
    await page.locator('#token-box').waitFor({ state: 'visible' });
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-submit');
    await page.locator('#token-err', { hasText: 'refused' }).waitFor();
    await page.fill('#token-input', token);
    await page.click('#token-submit');
    await page.locator('#token-box').waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('vigil.admin_token')), token);
    assert.ok(!page.url().includes(token));

    // Cards per group, with state pills; the stream is live.
    await page.locator('#conn[data-state="live"]').waitFor();
    for (const g of ['fast', 'inference', 'batch']) {
      await page.locator(`#group-cards .card[data-group="${g}"] .pill[data-state="alive"]`).waitFor();
    }
    await waitFor(async () => (await page.locator('#group-cards .card').count()) === 3, '3 group cards');
    const inf = page.locator('#group-cards .card[data-group="inference"]');
    assert.match(await inf.locator('.card-big').innerText(), /4\s*of 4 alive/);
    // backlog ÷ capacity: 2+3+4+5 = 14 of 32 (arrives with the samples poll at the latest)
    await waitFor(async () => /14 \/ 32/.test(await inf.innerText()), 'inference backlog 14 / 32', 40000);
    await waitFor(async () => /p50 .*p95/.test(await inf.innerText()), 'inference task latency', 20000);

    // Worker rows with pills.
    for (const id of [...FAST, ...GPU, 'batch-1']) await pillOf(page, id, 'alive').waitFor();
    await pillOf(page, 'batch-2', 'left').waitFor();
    assert.equal(await page.locator('#wl .wrow:not([hidden])').count(), 9);
    await waitFor(async () => (await page.locator('#events .ev').count()) > 0, 'recent events');

    // Filter box.
    await page.fill('#filter', 'gpu');
    await waitFor(async () => (await page.locator('#wl .wrow:not([hidden])').count()) === 4, 'filter gpu → 4 rows');
    await page.fill('#filter', 'state:left');
    await waitFor(async () => (await page.locator('#wl .wrow:not([hidden])').count()) === 1, 'filter state:left → 1 row');
    await page.fill('#filter', '');
    await waitFor(async () => (await page.locator('#wl .wrow:not([hidden])').count()) === 9, 'filter cleared');
    await sleep(1200); // let the ages tick once for the picture
    await shot(page, '01-live.png');

    // Kill fast-2 (stop its heartbeats): its pill turns dead with no reload.
    const navs = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && navs.push(f.url()));
    beating.delete('fast-2');
    await pillOf(page, 'fast-2', 'dead').waitFor({ timeout: 15000 });
    assert.equal(navs.length, 0, 'the page reloaded');
    await page.locator('#events .ev', { hasText: 'fast-2' }).first().waitFor();
    // The rest of the fast group dies too: the card turns crashed.
    beating.delete('fast-1');
    beating.delete('fast-3');
    await page.locator('#group-cards .card[data-group="fast"] .pill[data-state="crashed"]').waitFor({ timeout: 15000 });
    await pillOf(page, 'fast-1', 'dead').waitFor();
    await shot(page, '02-live-after-kill.png');
    // fast comes back (a second incident row ends).
    beating.add('fast-1');
    await page.locator('#group-cards .card[data-group="fast"] .pill[data-state="alive"]').waitFor({ timeout: 15000 });

    // History: every chart drew (uPlot canvases with a size, heatmaps painted).
    await sleep(2500); // a few fleet samples at sample_s = 1 (when the key exists)
    await redrawn(page, '#view-history', () => page.click('nav.tabs a[data-view="history"]'));
    for (const id of ['fleet', 'states', 'ingest', 'reasons', 'latency']) {
      const c = page.locator(`#h-${id} .uplot canvas`);
      await c.first().waitFor({ timeout: 10000 });
      const box = await c.first().boundingBox();
      assert.ok(box && box.width > 100 && box.height > 50, `chart ${id} has a size: ${JSON.stringify(box)}`);
    }
    for (const id of ['week', 'wtime', 'timeline']) {
      const c = page.locator(`#h-${id} canvas[data-drawn="1"]`);
      await c.waitFor();
      const box = await c.boundingBox();
      assert.ok(box && box.width > 100 && box.height > 40, `canvas ${id} has a size`);
    }
    // The incidents table holds the fast group's crash (and its alerts).
    await page.locator('#h-incidents tr[data-kind="group"]', { hasText: 'fast' }).first().waitFor();
    await redrawn(page, '#view-history', () => page.click('.rangebar .rb[data-range="24h"]'));
    assert.ok(page.url().includes('range=24h'), 'range in the hash');
    assert.equal(await page.locator('.rangebar .rb.on').getAttribute('data-range'), '24h');
    // A custom range over the test's own minutes: the 1 s fleet samples draw as lines.
    const local = (t) => { const d = new Date(t - new Date(t).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 16); };
    await page.fill('.rb-custom input[aria-label="from"]', local(startedAt - 60000));
    await page.fill('.rb-custom input[aria-label="to"]', local(Date.now() + 60000));
    await redrawn(page, '#view-history', () => page.click('.rb-custom .rb[data-range="custom"]'));
    assert.ok(page.url().includes('range=custom'), 'custom range in the hash');
    for (const id of ['fleet', 'states', 'ingest']) {
      assert.equal(await page.locator(`#h-${id} .nodata`).count(), 0, `chart ${id} has samples`);
    }
    await sleep(300);
    await shot(page, '03-history.png', true);

    // A worker page, reached from the live list.
    await page.click('nav.tabs a[data-view="live"]');
    await redrawn(page, '#view-worker', () => page.click('#wl .wrow[data-worker-id="gpu-2"] a.c-id'));
    assert.equal(await page.locator('#view-worker .wk-title').innerText(), 'gpu-2');
    assert.equal(await page.locator('#view-worker .section-head .pill').getAttribute('data-state'), 'alive');
    assert.ok((await page.locator('#wk-sessions tbody tr').count()) >= 1, 'a session row');
    const hb = await page.locator('#wk-hb .uplot canvas').first().boundingBox();
    assert.ok(hb && hb.width > 100, 'the heartbeat chart drew');
    assert.ok((await page.locator('#wk-fig .kvi').count()) > 5, 'liveness figures');
    await shot(page, '04-worker.png', true);
    // ... and a dead one: its pill is dead there too.
    await page.goto(base + '/#/worker/fast-2');
    await page.reload(); // a hash change alone would not reload: check the token survives one
    await page.locator('#view-worker[data-drawn]').waitFor({ timeout: 20000 });
    assert.equal(await page.locator('#view-worker .section-head .pill').getAttribute('data-state'), 'dead');
    // The reload kept the token (session storage): no form.
    assert.ok(await page.locator('#token-box').isHidden());

    // vigild restarts: the page sees the stream drop, reconnects by itself
    // (Last-Event-ID from another run: a fresh snapshot) and is live again.
    await page.click('nav.tabs a[data-view="live"]');
    await stopVigild();
    await page.locator('#conn:not([data-state="live"])').waitFor({ timeout: 10000 });
    await startVigild();
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20000 });
    await pillOf(page, 'gpu-1', 'alive').waitFor();
    await pillOf(page, 'fast-2', 'dead').waitFor();
    beating.add('fast-2'); // and the stream after the reconnect carries changes
    await pillOf(page, 'fast-2', 'alive').waitFor({ timeout: 15000 });

    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failed-1.png', true).catch(() => {});
    e.message += `\npage problems: ${JSON.stringify(problems)}\nscreenshot: ${path.join(SHOTS, 'failed-1.png')}`;
    throw e;
  } finally {
    await ctx.close();
  }
});

test('dashboard: 10,000 workers stay a virtualized list', async () => {
  // 10,000 more workers in 5 NDJSON batches, with a long TTL.
  for (let b = 0; b < 5; b++) {
    const lines = [];
    for (let i = 0; i < 2000; i++) {
      const n = b * 2000 + i;
      lines.push(JSON.stringify({ worker_id: `scale-${String(n).padStart(5, '0')}`, group: `rack-${n % 20}`, ttl_s: 600, cpu: (n % 100) / 100, backlog: n % 7, capacity: 8 }));
    }
    const r = await req('POST', '/v1/heartbeats', lines.join('\n'), { 'Content-Type': 'application/x-ndjson' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 2000);
  }
  const { ctx, page, problems } = await openPage();
  try {
    await page.goto(base + '/');
    await page.locator('#token-box').waitFor({ state: 'visible' });
    await page.fill('#token-input', token);
    const t0 = Date.now();
    await page.click('#token-submit');
    await waitFor(async () => Number(await page.locator('#wl').getAttribute('data-rows')) >= 10000, '10,000 rows in the list', 30000);
    const loadMs = Date.now() - t0;
    const inDom = await page.locator('#wl .wrow').count();
    assert.ok(inDom < 120, `only the visible rows are in the DOM (${inDom})`);
    await waitFor(async () => (await page.locator('#group-cards .card').count()) === 23, '23 group cards');
    // Scroll to the end: the last worker is drawn, still without extra rows.
    // Scrolled again on each try: the last batch's workers may still be
    // arriving over the stream (a loaded machine), and each one lengthens
    // the list below a scroll made before it came.
    await page.locator('#sort').selectOption('id');
    const last = page.locator('#wl .wrow:not([hidden])[data-worker-id="scale-09999"]');
    await waitFor(async () => {
      await page.evaluate(() => { const v = document.querySelector('#wl'); v.scrollTop = v.scrollHeight; });
      return last.isVisible();
    }, 'scale-09999 drawn at the end of the list', 30000, 250);
    // A filter over 10,000 answers at once.
    const f0 = Date.now();
    await page.fill('#filter', 'scale-0999');
    await waitFor(async () => (await page.locator('#wl .wrow:not([hidden])').count()) === 10, 'filter → 10 rows');
    const filterMs = Date.now() - f0;
    // Frame budget while scrolling through the list.
    await page.fill('#filter', '');
    const frame = await page.evaluate(async () => {
      const v = document.querySelector('#wl');
      let worst = 0, last = performance.now();
      for (let i = 0; i < 60; i++) {
        v.scrollTop = (i * 4021) % v.scrollHeight;
        await new Promise((r) => requestAnimationFrame(r));
        const t = performance.now();
        worst = Math.max(worst, t - last);
        last = t;
      }
      return worst;
    });
    // Typically under 60 ms; the bound leaves room for a loaded CI machine. A
    // list drawing all 10,000 rows takes seconds a frame.
    assert.ok(frame < 500, `worst frame while scrolling ${frame.toFixed(0)} ms`);
    await page.evaluate(() => { document.querySelector('#wl').scrollTop = 0; window.scrollTo(0, 0); });
    await page.locator('#filter').blur();
    await sleep(500);
    await shot(page, '05-live-10k.png');
    console.log(`# 10k workers: list filled ${loadMs} ms after sign-in, filter ${filterMs} ms, worst scroll frame ${frame.toFixed(0)} ms, ${inDom} rows in the DOM`);
    assert.deepEqual(problems, []);
  } catch (e) {
    await shot(page, 'failed-2.png', true).catch(() => {});
    e.message += `\npage problems: ${JSON.stringify(problems)}\nscreenshot: ${path.join(SHOTS, 'failed-2.png')}`;
    throw e;
  } finally {
    await ctx.close();
  }
});
