// Hub page (#/hub), shown only on a vigild in hub role ([hub] role = hub):
// every node that pushes summaries here, how long since the hub heard from
// it (stale after 3 of its intervals), its workers by state now, and what
// its last 24 hours of windows add up to (GET /v1/hub/nodes, and
// /v1/hub/nodes/ID/summaries for the totals).
import { api, qs } from './api.js';
import { clear, el, fmtAge, fmtDur, fmtNum, fmtTime } from './util.js';

const REFRESH_MS = 5000;
let timer = 0;
let gen = 0;

// Whether this vigild is a hub: the nav tab shows only then.
export async function isHub() {
  try {
    await api('/v1/hub/nodes');
    return true;
  } catch {
    return false; // 404: not a hub
  }
}

function sum(o) {
  return Object.values(o || {}).reduce((a, b) => a + (Number(b) || 0), 0);
}

async function totals(id) {
  try {
    const r = await api(`/v1/hub/nodes/${encodeURIComponent(id)}/summaries` + qs({ limit: 10000 }));
    return r.totals;
  } catch {
    return null;
  }
}

async function draw(box, my) {
  let nodes;
  try {
    nodes = (await api('/v1/hub/nodes')).nodes;
  } catch (e) {
    if (my !== gen) return;
    clear(box).append(el('p.empty', { text: 'cannot list the nodes: ' + e.message }));
    return;
  }
  const tot = await Promise.all(nodes.map((n) => totals(n.node_id)));
  if (my !== gen) return;
  const tb = el('tbody');
  nodes.forEach((n, i) => {
    const s = n.summary || {}, w = s.workers || {}, t = tot[i];
    const closed = t ? t.sessions_closed : {};
    tb.append(el('tr', { dataset: { node: n.node_id, stale: n.stale ? '1' : '0' } },
      el('td', el('span.pill.pill-' + (n.stale ? 'unknown' : 'alive'), { text: n.stale ? 'stale' : 'fresh' })),
      el('td.c-node', { text: n.node_id }),
      el('td', { text: fmtAge(n.received_at) + ' ago', title: fmtTime(n.received_at) }),
      el('td.num', { text: n.interval_s + 's' }),
      el('td.num.c-alive', { text: fmtNum(w.alive) }),
      el('td.num', { text: fmtNum(w.suspect) }),
      el('td.num', { text: fmtNum(w.dead) }),
      el('td.num', { text: fmtNum((s.groups || []).length) }),
      el('td.num.c-closed', { text: t ? fmtNum(sum(closed)) : '–' }),
      el('td.num', { text: t ? fmtNum(closed.failed || 0) : '–' }),
      el('td.num', { text: t ? fmtNum(t.tasks.count) : '–' }),
      el('td.num', { text: s.uptime_s != null ? fmtDur(s.uptime_s) : '–' })));
  });
  const head = ['', 'node', 'last heard', 'every', 'alive', 'suspect', 'dead', 'groups',
    'closed 24h', 'failed 24h', 'tasks 24h', 'up'];
  const stale = nodes.filter((n) => n.stale).length;
  clear(box).append(
    el('div.section-head', el('h2', { text: 'Nodes' }),
      el('span.muted#hub-meta', { text: `${nodes.length} node${nodes.length === 1 ? '' : 's'} · ${stale} stale` })),
    nodes.length
      ? el('section.panel', el('table.tbl#hub-nodes', el('thead', el('tr', ...head.map((h) => el('th', { text: h })))), tb))
      : el('p.empty', { text: 'No node has pushed a summary yet (a node needs [hub] url and token).' }));
}

export function renderHub(box) {
  const my = ++gen;
  clearInterval(timer);
  draw(box, my);
  timer = setInterval(() => draw(box, my), REFRESH_MS);
}

export function leaveHub() {
  gen++;
  clearInterval(timer);
  timer = 0;
}
