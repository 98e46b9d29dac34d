// Browser test of the hub page: a vigild in hub role, a node pushing to it
// every second, and Debian's Chromium driven by playwright-core.
//
//   VIGILD=build/vigild node --test tests/browser/hub.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHOTS, VIGILD, freePort, launchChromium, sleep, waitFor } from './lib.mjs';

const ADMIN = 'hub-admin-token';
const HUBTOK = 'hub-node-token';
let tmp, browser;
const procs = [];

async function vigild(name, env) {
  const port = await freePort();
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_')));
  const log = fs.openSync(path.join(tmp, name + '.log'), 'a');
  const p = spawn(VIGILD, ['--listen', `127.0.0.1:${port}`, '--data', path.join(tmp, name)],
    { env: { ...clean, VIGIL_ADMIN_TOKEN: ADMIN, ...env }, stdio: ['ignore', log, log] });
  procs.push(p);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(base + '/healthz')).ok, name + ' /healthz');
  return { p, port, base };
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-hub-'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  if (tmp && !process.env.KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
});

async function signIn(page, base) {
  await page.goto(base + '/');
  await page.locator('#token-box').waitFor({ state: 'visible' });
  await page.fill('#token-input', ADMIN);
  await page.click('#token-submit');
  await page.locator('#token-box').waitFor({ state: 'hidden' });
}

test('hub page: nodes, their workers, staleness; no tab on a node', async () => {
  const hub = await vigild('hub', { VIGIL_HUB_ROLE: 'hub', VIGIL_HUB_ACCEPT_TOKEN: HUBTOK });
  const node = await vigild('node', {
    VIGIL_HUB_URL: hub.base, VIGIL_HUB_TOKEN: HUBTOK, VIGIL_HUB_INTERVAL_S: '1', VIGIL_NODE_ID: 'node-x',
  });
  for (const id of ['a', 'b', 'c']) {
    const r = await fetch(node.base + '/v1/heartbeat', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ worker_id: id, group: 'g' }),
    });
    assert.equal(r.status, 200);
  }
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) problems.push('csp: ' + m.text());
  });
  try {
    await signIn(page, hub.base);
    await page.locator('#tab-hub').waitFor({ state: 'visible' });
    await page.click('#tab-hub');
    const row = page.locator('#hub-nodes tr[data-node="node-x"]');
    await waitFor(async () => (await row.locator('.c-alive').textContent()) === '3', 'node-x with 3 alive', 20000);
    assert.equal(await row.getAttribute('data-stale'), '0');
    await page.screenshot({ path: path.join(SHOTS, 'hub.png') });
    // The node stops pushing: after 3 of its intervals the page says stale.
    node.p.kill('SIGKILL');
    await waitFor(async () => (await row.getAttribute('data-stale')) === '1', 'node-x stale', 20000);
    assert.match(await page.locator('#hub-meta').textContent(), /1 node · 1 stale/);

    // A plain node's dashboard has no hub tab.
    const plain = await vigild('plain', {});
    const p2 = await ctx.newPage();
    await signIn(p2, plain.base);
    await sleep(1000);
    assert.equal(await p2.locator('#tab-hub').isHidden(), true);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});
