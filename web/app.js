// Entry point: the token, the stream, and a hash router.
//   #/                      live view
//   #/history?range=6h      history (range=1h|6h|24h|7d|30d|custom&from=ms&to=ms)
//   #/worker/ID?range=6h    one worker
//   #/hub                   nodes pushing here (a vigild in hub role only)
// The hash never holds the token (it stays in sessionStorage).
import { askToken, ensureToken, forgetToken, runStream } from './api.js';
import { firstSnapshot, handleStream, live, setStatus } from './store.js';
import { initLive, showLive } from './live.js';
import { parseRangeQuery, rangeQuery, renderHistory } from './history.js';
import { leaveWorker, renderWorker } from './worker.js';
import { isHub, leaveHub, renderHub } from './hub.js';
import { $, $$, sleep } from './util.js';

function route() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = h.split('?');
  const q = new URLSearchParams(query);
  if (path.startsWith('/worker/')) return { view: 'worker', id: decodeURIComponent(path.slice(8)), range: parseRangeQuery(q) };
  if (path === '/history') return { view: 'history', range: parseRangeQuery(q) };
  if (path === '/hub') return { view: 'hub' };
  return { view: 'live' };
}

function show(view) {
  for (const v of ['live', 'history', 'worker', 'hub']) $('#view-' + v).hidden = v !== view;
  for (const a of $$('nav.tabs a')) a.classList.toggle('on', a.dataset.view === view);
  document.body.dataset.view = view;
}

let renders = 0;
async function render() {
  const r = route();
  const my = ++renders;
  for (const v of ['history', 'worker']) delete $('#view-' + v).dataset.drawn;
  show(r.view);
  showLive(r.view === 'live');
  if (r.view !== 'worker') leaveWorker();
  if (r.view !== 'hub') leaveHub();
  if (r.view === 'history') {
    document.title = 'vigil · history';
    // Its heatmaps take the first workers of the live list: wait for it a little.
    await Promise.race([firstSnapshot, sleep(3000)]);
    if (my !== renders) return;
    renderHistory($('#view-history'), r.range, (st) => { location.hash = '#/history?' + rangeQuery(st); });
  } else if (r.view === 'worker') {
    document.title = `vigil · ${r.id}`;
    renderWorker($('#view-worker'), r.id, r.range,
      (st) => { location.hash = `#/worker/${encodeURIComponent(r.id)}?` + rangeQuery(st); });
  } else if (r.view === 'hub') {
    document.title = 'vigil · hub';
    renderHub($('#view-hub'));
  } else {
    document.title = 'vigil';
  }
}

async function main() {
  initLive();
  $('#signout').addEventListener('click', () => {
    forgetToken();
    location.reload();
  });
  $('#refresh').addEventListener('click', () => render());
  window.addEventListener('hashchange', render);
  await ensureToken();
  render();
  isHub().then((yes) => { $('#tab-hub').hidden = !yes; });
  runStream({
    message: handleStream,
    status: setStatus,
  });
  window.vigil = { live, askToken }; // for the console and the browser test
}

main();
