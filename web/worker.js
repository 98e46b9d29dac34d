// Worker page (#/worker/ID): live state, liveness figures, heartbeat charts
// (raw samples up to 24 h, hourly rollups beyond), sessions.
import { api, qs } from './api.js';
import { destroyCharts, lineChart, weekHeatmap } from './charts.js';
import { rangeBar, rangeOf } from './history.js';
import { live, onChange } from './store.js';
import {
  $, clear, el, fmtAge, fmtDur, fmtNum, fmtPct, fmtTime, ms, now, pill, setPill, setText,
} from './util.js';

const RAW_MAX_MS = 86400e3;
const RAW_PAGES = 6; // × 10,000 samples

let gen = 0;
let unsub = null;
let ticker = 0;
let poller = 0;

function kv(label, value, cls) {
  return el('div.kvi' + (cls ? '.' + cls : ''), el('span.kvi-l', { text: label }), el('span.kvi-v', value instanceof Node ? value : { text: value ?? '–' }));
}

function fillHeader(box, w) {
  const s = w.samples || {};
  const open = w.state === 'alive' || w.state === 'suspect';
  clear(box);
  box.append(
    kv('state', pill(w.state), 'state'),
    kv('group', w.group || '–'),
    kv('last heartbeat', w.last_heartbeat ? fmtAge(w.last_heartbeat) + ' ago' : '–', 'hb'),
    kv('session', open && w.session_opened ? fmtDur((now() - ms(w.session_opened)) / 1000) : '–', 'session'),
    kv('state since', fmtTime(w.state_since)),
    kv('instance', w.instance || '–'),
    kv('ttl', w.ttl_s != null ? w.ttl_s + 's' : '–'),
    kv('phi', w.phi != null ? String(w.phi) : '–'),
    kv('first seen', fmtTime(w.first_seen)),
    kv('cpu', fmtPct(s.cpu)),
    kv('mem', fmtPct(s.mem)),
    kv('thermal', s.thermal || '–'),
    kv('backlog / capacity', s.backlog != null || s.capacity != null ? `${s.backlog ?? '–'} / ${s.capacity ?? '–'}` : '–'),
    kv('in flight', s.in_flight != null ? String(s.in_flight) : '–'),
    kv('requests', fmtNum(s.requests)),
    kv('tokens', fmtNum(s.tokens)),
  );
  if (w.jobs && w.jobs.length) box.append(kv('jobs', w.jobs.join(', '), 'wide'));
}

async function rawHeartbeats(id, from, to) {
  const out = [];
  let cursor = null;
  for (let p = 0; p < RAW_PAGES; p++) {
    const r = await api(`/v1/workers/${encodeURIComponent(id)}/heartbeats` + qs({ from: Math.round(from), to: Math.round(to), limit: 10000, cursor, resolution: 'raw' }));
    out.push(...(r.heartbeats || []));
    cursor = r.next_cursor;
    if (!cursor) break;
  }
  return out;
}

async function hourlyHeartbeats(id, from, to) {
  const out = [];
  let cursor = null;
  for (let p = 0; p < 10; p++) {
    const r = await api(`/v1/workers/${encodeURIComponent(id)}/heartbeats` + qs({ from: Math.round(from), to: Math.round(to), limit: 10000, cursor, resolution: 'hour' }));
    out.push(...(r.heartbeats || []));
    cursor = r.next_cursor;
    if (!cursor) break;
  }
  return out;
}

// Mean of each field over ≤ n slices (raw samples can be tens of thousands).
function downsample(points, from, to, n) {
  if (points.length <= n) return points;
  const step = (to - from) / n, acc = new Map();
  for (const [t, v] of points) {
    if (v == null) continue;
    const k = Math.floor((t - from) / step);
    const a = acc.get(k) || [0, 0];
    a[0] += v;
    a[1]++;
    acc.set(k, a);
  }
  return [...acc.entries()].sort((a, b) => a[0] - b[0]).map(([k, [s, c]]) => [from + k * step, s / c]);
}

async function drawHeartbeats(id, from, to, my) {
  const raw = to - from <= RAW_MAX_MS;
  setText($('#wk-hb-res'), raw ? 'raw samples (ranges up to 24 h)' : 'hourly rollups (ranges over 24 h)');
  const cpuBox = $('#wk-hb'), cadBox = $('#wk-cadence');
  if (raw) {
    const hb = await rawHeartbeats(id, from, to);
    if (my !== gen) return;
    const t = hb.map((h) => ms(h.ts));
    const pts = (k) => hb.map((h, i) => [t[i], h[k] ?? null]).filter((p) => p[1] != null);
    lineChart(cpuBox, [
      { label: 'cpu', points: downsample(pts('cpu').map(([a, v]) => [a, v * 100]), from, to, 1000), color: '#58a6ff' },
      { label: 'mem', points: downsample(pts('mem').map(([a, v]) => [a, v * 100]), from, to, 1000), color: '#a371f7' },
    ], { x: [from, to], yFmt: (v) => (v == null ? '–' : v.toFixed(0) + '%'), yMin: 0, yMax: 100, empty: 'no heartbeat in this range' });
    const gaps = [];
    for (let i = 1; i < t.length; i++) gaps.push([t[i], (t[i] - t[i - 1]) / 1000]);
    lineChart(cadBox, [{ label: 'seconds since previous', points: downsample(gaps, from, to, 1000), color: '#3fb950' }],
      { x: [from, to], yFmt: (v) => (v == null ? '–' : fmtDur(v)), empty: 'fewer than two heartbeats in this range' });
    setText($('#wk-cadence-title'), 'Heartbeat interval');
    setText($('#wk-hb-n'), `${fmtNum(hb.length)} samples`);
  } else {
    const hb = await hourlyHeartbeats(id, from, to);
    if (my !== gen) return;
    const pts = (k, f = 1) => hb.filter((h) => h[k] != null).map((h) => [ms(h.hour), h[k] * f]);
    lineChart(cpuBox, [
      { label: 'cpu (avg)', points: pts('cpu', 100), color: '#58a6ff' },
      { label: 'mem (avg)', points: pts('mem', 100), color: '#a371f7' },
    ], { x: [from, to], yFmt: (v) => (v == null ? '–' : v.toFixed(0) + '%'), yMin: 0, yMax: 100, empty: 'no hourly rollup in this range (they trail by up to 5 min)' });
    lineChart(cadBox, [{ label: 'heartbeats', points: pts('count'), color: '#3fb950' }],
      { x: [from, to], bars: true, yFmt: (v) => (v == null ? '–' : fmtNum(v)), empty: 'no hourly rollup in this range' });
    setText($('#wk-cadence-title'), 'Heartbeats per hour');
    setText($('#wk-hb-n'), `${fmtNum(hb.length)} hours`);
  }
}

function figures(box, l) {
  clear(box);
  const reasons = l.disconnect_reasons || {};
  box.append(
    el('div.kvgrid',
      kv('liveness score', l.liveness_score != null ? l.liveness_score.toFixed(2) : '–', 'score'),
      kv('uptime', fmtPct(l.uptime_pct, 2)),
      kv('sessions', fmtNum(l.sessions_count)),
      kv('MTBF', fmtDur(l.mtbf_s)),
      kv('session p10 / p50 / p90', [l.p10_session_s, l.p50_session_s, l.p90_session_s].map(fmtDur).join(' / ')),
      kv('P(stays 4h)', fmtPct(l.p_stays_4h)),
      kv('P(stays 8h)', fmtPct(l.p_stays_8h)),
      kv('last disconnect', fmtTime(l.last_disconnect_at)),
      kv('last session', fmtDur(l.last_session_s)),
      kv('window', fmtDur(l.window_s))),
    el('div.reasons', ...Object.entries(reasons).map(([r, n]) =>
      el('span.reason' + (n ? '' : '.zero'), el('span.dot-c.dot-' + r), `${r.replace('_', ' ')} ${n}`))));
}

function sessionsTable(box, ss) {
  clear(box);
  if (!ss.length) {
    box.append(el('p.empty', { text: 'No sessions.' }));
    return;
  }
  const tb = el('tbody');
  for (const s of ss) {
    tb.append(el('tr', { dataset: { open: s.open ? '1' : '0' } },
      el('td', { text: fmtTime(s.opened) }),
      el('td', s.open ? el('span.tag.tag-good', { text: 'open' }) : fmtTime(s.closed)),
      el('td', { text: fmtDur(s.duration_s) }),
      el('td', s.reason ? el('span.reason', el('span.dot-c.dot-' + s.reason), s.reason.replace('_', ' ')) : '–'),
      el('td', { text: s.exit_code ?? '–' }),
      el('td.muted', { text: s.instance || '–' }),
      el('td.muted', { text: s.node_id || '–' }),
      el('td.num', { text: s.requests != null ? fmtNum(s.requests) : '–' })));
  }
  box.append(el('table.tbl', el('thead', el('tr', ...['opened', 'closed', 'length', 'reason', 'exit', 'instance', 'node', 'requests'].map((h) => el('th', { text: h })))), tb));
}

export function leaveWorker() {
  gen++;
  if (unsub) unsub();
  unsub = null;
  clearInterval(ticker);
  clearInterval(poller);
}

export async function renderWorker(root, id, state, onPick) {
  leaveWorker();
  const my = gen;
  delete root.dataset.drawn; // set again once every part has drawn
  destroyCharts(root);
  clear(root);
  const [from, to] = rangeOf(state);
  const title = el('h2.wk-title', { text: id });
  const headPill = pill(live.workers.get(id)?.state || 'unknown');
  const head = el('div.kvgrid#wk-head');
  const evictBtn = el('button.btn.btn-warn', {
    type: 'button', text: 'Evict',
    title: 'Close its session as evicted (it is admitted again if it keeps sending heartbeats)',
    onclick: async () => {
      if (!window.confirm(`Evict ${id}? Its open session closes as evicted.`)) return;
      try {
        await api(`/v1/workers/${encodeURIComponent(id)}/evict`, { method: 'POST' });
      } catch (e) {
        window.alert('Evict failed: ' + e.message);
      }
    },
  });
  root.append(
    el('div.section-head', el('a.back', { href: '#/', text: '← live' }), title, headPill, el('span.grow'), evictBtn),
    el('section.panel', el('div.panel-head', el('h2', { text: 'Now' })), head),
    el('div.hgrid',
      el('section.panel', el('div.panel-head', el('h2', { text: 'Liveness' }), el('span.muted', { text: 'computed now from its sessions' })), el('div#wk-fig'),
        el('h3.sub-title', { text: 'Availability by hour of week (UTC)' }), el('div.chart-box#wk-week')),
      el('section.panel', el('div.panel-head', el('h2', { text: 'Staying power (Kaplan–Meier)' }), el('span.muted', { text: 'P(a session lasts at least t)' })), el('div.chart-box#wk-surv'))),
    el('div.section-head', el('h2', { text: 'Heartbeats' }), rangeBar(state, onPick), el('span.muted#wk-hb-res')),
    el('div.hgrid',
      el('section.panel', el('div.panel-head', el('h2', { text: 'CPU and memory' }), el('span.muted#wk-hb-n')), el('div.chart-box#wk-hb')),
      el('section.panel', el('div.panel-head', el('h2#wk-cadence-title', { text: 'Heartbeats' })), el('div.chart-box#wk-cadence'))),
    el('section.panel.wide', el('div.panel-head', el('h2', { text: 'Sessions' }), el('span.muted#wk-sess-n')), el('div#wk-sessions')));

  let cur = live.workers.get(id) || null;
  const paint = () => {
    if (!cur) return;
    fillHeader(head, cur);
    setPill(headPill, cur.state);
  };
  try {
    cur = { ...(cur || {}), ...(await api(`/v1/workers/${encodeURIComponent(id)}`)) };
  } catch (e) {
    if (my !== gen) return;
    clear(head);
    head.append(el('p.nodata.err', { text: e.status === 404 ? 'vigild does not know this worker (or it was forgotten).' : 'could not load: ' + e.message }));
    root.dataset.drawn = '1';
    return;
  }
  if (my !== gen) return;
  paint();
  // The stream keeps the state current; the age and session length tick.
  unsub = onChange((kind, d) => {
    if ((kind === 'worker' && d?.id === id) || kind === 'snapshot' || kind === 'samples') {
      const w = live.workers.get(id);
      if (w) {
        cur = { ...cur, ...w };
        paint();
      }
    }
  });
  ticker = setInterval(() => {
    if (!cur) return;
    const hb = head.querySelector('.kvi.hb .kvi-v'), se = head.querySelector('.kvi.session .kvi-v');
    if (hb) setText(hb, cur.last_heartbeat ? fmtAge(cur.last_heartbeat) + ' ago' : '–');
    const open = cur.state === 'alive' || cur.state === 'suspect';
    if (se) setText(se, open && cur.session_opened ? fmtDur((now() - ms(cur.session_opened)) / 1000) : '–');
  }, 1000);
  // Its samples (the stream carries state changes only), every 5 s.
  poller = setInterval(async () => {
    if (document.visibilityState !== 'visible') return;
    try {
      const w = await api(`/v1/workers/${encodeURIComponent(id)}`);
      if (my !== gen) return;
      const keepState = (ms(w.state_since) || 0) < (ms(cur.state_since) || 0);
      cur = keepState ? { ...cur, samples: w.samples, last_heartbeat: w.last_heartbeat, jobs: w.jobs } : { ...cur, ...w };
      paint();
    } catch {
      /* the stream shows it if it went away */
    }
  }, 5000);

  const jobs = [];
  jobs.push(api(`/v1/workers/${encodeURIComponent(id)}/liveness`).then((l) => {
    if (my !== gen) return;
    figures($('#wk-fig'), l);
    const surv = (l.survival || []).map((p) => [p.t_s * 1000, p.p * 100]);
    lineChart($('#wk-surv'), [{ label: 'P(session ≥ t)', points: surv, color: '#3fb950' }], {
      time: false, stepped: true, height: 330, fill: true, xLabel: 'session length', xFmt: (v) => fmtDur(v), yMin: 0, yMax: 100,
      yFmt: (v) => (v == null ? '–' : v.toFixed(0) + '%'), empty: 'no session yet',
    });
    weekHeatmap($('#wk-week'), l.hourly_availability?.matrix, l.hourly_availability?.days);
  }).catch((e) => {
    clear($('#wk-fig')).append(el('p.nodata.err', { text: 'could not load: ' + e.message }));
  }));
  jobs.push(drawHeartbeats(id, from, to, my).catch((e) => {
    clear($('#wk-hb')).append(el('p.nodata.err', { text: 'could not load: ' + e.message }));
  }));
  jobs.push(api(`/v1/workers/${encodeURIComponent(id)}/sessions` + qs({ limit: 200 })).then((r) => {
    if (my !== gen) return;
    sessionsTable($('#wk-sessions'), r.sessions || []);
    setText($('#wk-sess-n'), `${r.sessions?.length || 0}${r.next_cursor ? '+' : ''} newest first`);
  }).catch((e) => {
    clear($('#wk-sessions')).append(el('p.nodata.err', { text: 'could not load: ' + e.message }));
  }));
  await Promise.all(jobs);
  if (my === gen) root.dataset.drawn = String(my);
}
