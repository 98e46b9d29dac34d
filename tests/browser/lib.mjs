// What the browser tests share: paths, bounded waits, free loopback ports,
// and Debian's Chromium launched the same way (playwright-core from
// web/node_modules, installed by scripts/deps.sh; no browser is downloaded).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VIGILD = path.resolve(process.env.VIGILD || path.join(ROOT, 'build/vigild'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-shots-'));
const { chromium } = createRequire(path.join(ROOT, 'web/package.json'))('playwright-core');

export const sleep = (t) => new Promise((r) => setTimeout(r, t));

// Poll fn until it returns something truthy; throw after timeout ms.
export async function waitFor(fn, what, timeout = 15000, every = 100) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(every);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${last}`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No outside network here: without these Chromium waits on refused connections.
    // (launch() gives every run a fresh user-data-dir of its own.)
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
