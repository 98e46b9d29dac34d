// History view: a range bar driving the charts. Series come from
// GET /v1/history/metrics (≤ 200 points each), latency from /v1/tasks/latency,
// incidents and the timeline from /v1/events, heatmaps from sessions and
// liveness of the first workers of the live list.
import { api, qs } from './api.js';
import { lineChart, rowsHeatmap, timeline, weekHeatmap, destroyCharts } from './charts.js';
import { live } from './store.js';
import { topIds } from './live.js';
import {
  $, clear, colorOf, el, fmtDur, fmtMs, fmtNum, fmtPct, fmtTime, ms, now, pool, toLocalInput, COLORS,
} from './util.js';

export const RANGES = { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const HEAT_WORKERS = 24;
const HEAT_COLS = 96;

// ---- range bar (shared with the worker page) -------------------------------------
// state: {range: '6h'} or {range: 'custom', from, to}; onPick(state).
export function rangeBar(state, onPick) {
  const bar = el('div.rangebar', { role: 'toolbar' });
  for (const k of Object.keys(RANGES)) {
    bar.append(el('button.rb' + (state.range === k ? '.on' : ''), {
      type: 'button', dataset: { range: k }, text: k, onclick: () => onPick({ range: k }),
    }));
  }
  const t1 = state.to || now(), t0 = state.from || t1 - RANGES['6h'];
  const from = el('input.rb-in', { type: 'datetime-local', value: toLocalInput(t0), 'aria-label': 'from' });
  const to = el('input.rb-in', { type: 'datetime-local', value: toLocalInput(t1), 'aria-label': 'to' });
  const custom = el('span.rb-custom' + (state.range === 'custom' ? '.on' : ''),
    el('span.muted', { text: 'custom' }), from, el('span.muted', { text: '→' }), to,
    el('button.rb', {
      type: 'button', dataset: { range: 'custom' }, text: 'apply',
      onclick: () => {
        const f = Date.parse(from.value), t = Date.parse(to.value);
        if (Number.isFinite(f) && Number.isFinite(t) && f < t) onPick({ range: 'custom', from: f, to: t });
      },
    }));
  bar.append(custom);
  return bar;
}

export function rangeOf(state) {
  if (state.range === 'custom' && state.from && state.to) return [state.from, state.to];
  const t = now();
  return [t - (RANGES[state.range] || RANGES['6h']), t];
}

export function parseRangeQuery(q) {
  const r = q.get('range') || '6h';
  if (r === 'custom') {
    const f = Number(q.get('from')), t = Number(q.get('to'));
    if (f > 0 && t > f) return { range: 'custom', from: f, to: t };
  }
  return { range: RANGES[r] ? r : '6h' };
}

export function rangeQuery(state) {
  return state.range === 'custom' ? `range=custom&from=${state.from}&to=${state.to}` : `range=${state.range}`;
}

// ---- data --------------------------------------------------------------------
async function metrics(names, from, to) {
  const r = await api('/v1/history/metrics' + qs({ names, from: Math.round(from), to: Math.round(to), points: 200 }));
  return (r.series || []).map((s) => ({ label: s.name, points: s.points || [] }));
}

function stripPrefix(series, prefix) {
  return series.map((s, i) => ({ ...s, label: s.label.slice(prefix.length), color: colorOf(s.label.slice(prefix.length), i) }));
}

// Task latency buckets (30 s each) of one group, folded into ≤ 200 slices:
// each slice's percentiles are the count-weighted mean of its buckets'.
async function latencySeries(group, from, to) {
  const buckets = [];
  let t0 = from;
  // The endpoint has no downsampling of its own: read in pages of ≤ 20,000
  // buckets (≈ 7 days of one group), at most 5 pages.
  for (let page = 0; page < 5 && t0 < to; page++) {
    const r = await api('/v1/tasks/latency' + qs({ group, from: Math.round(t0), to: Math.round(to), limit: 20000 }));
    const bs = r.buckets || [];
    buckets.push(...bs);
    const closed = bs.filter((b) => !b.open);
    if (closed.length < 20000) break;
    t0 = ms(closed[closed.length - 1].bucket) + 1;
  }
  const slices = 200, step = (to - from) / slices;
  const acc = new Map();
  for (const b of buckets) {
    if (!b.count) continue;
    const k = Math.floor((ms(b.bucket) - from) / step);
    if (k < 0 || k >= slices) continue;
    let a = acc.get(k);
    if (!a) acc.set(k, (a = { n: 0, p50: 0, p90: 0, p95: 0, p99: 0 }));
    a.n += b.count;
    for (const p of ['p50', 'p90', 'p95', 'p99']) a[p] += (b[p + '_ms'] || 0) * b.count;
  }
  const keys = [...acc.keys()].sort((a, b) => a - b);
  return ['p50', 'p90', 'p95', 'p99'].map((p, i) => ({
    label: p,
    color: ['#58a6ff', '#3fb950', '#d29922', '#f85149'][i],
    points: keys.map((k) => [from + k * step, acc.get(k)[p] / acc.get(k).n]),
  }));
}

async function eventsOf(type, from, to, pages = 3) {
  const out = [];
  let before = null;
  for (let p = 0; p < pages; p++) {
    const r = await api('/v1/events' + qs({ type, from: Math.round(from), to: Math.round(to), limit: 1000, before_id: before }));
    out.push(...(r.events || []));
    before = r.next_before_id;
    if (!before || (r.events || []).length < 1000) break;
  }
  return out;
}

// Incidents: alerts (firing → resolved, matched by rule, group and worker) and
// groups down (crashed or scaled down → alive again).
function incidents(ev, to) {
  const key = (e) => `${e.rule}|${e.group || ''}|${e.worker_id || ''}|${e.since_ms || ''}`;
  const resolved = new Map(ev.alert_resolved.map((e) => [key(e), e]));
  const list = [];
  const used = new Set();
  for (const f of ev.alert_firing) {
    const r = resolved.get(key(f));
    if (r) used.add(key(f));
    list.push({ kind: 'alert', start: ms(f.ts), end: r ? ms(r.ts) : null, what: f.rule, detail: f.alert_type,
      severity: f.severity, group: f.group, worker: f.worker_id });
  }
  for (const r of ev.alert_resolved) {
    if (used.has(key(r))) continue; // began before the range
    list.push({ kind: 'alert', start: r.since_ms || ms(r.ts), end: ms(r.ts), what: r.rule, detail: r.alert_type,
      severity: r.severity, group: r.group, worker: r.worker_id });
  }
  const ups = ev.group_alive.map((e) => ({ g: e.group, t: ms(e.ts) })).sort((a, b) => a.t - b.t);
  for (const d of [...ev.group_crashed, ...ev.group_scaled_down]) {
    const t = ms(d.ts);
    const up = ups.find((u) => u.g === d.group && u.t > t);
    const still = !up && ['crashed', 'scaled_down'].includes(live.groups.get(d.group)?.state);
    list.push({ kind: 'group', start: t, end: up ? up.t : still ? null : to, what: d.type === 'group_crashed' ? 'group crashed' : 'group scaled down',
      detail: d.type.slice(6), severity: d.type === 'group_crashed' ? 'critical' : 'info', group: d.group, worker: null, open: still });
  }
  return list.sort((a, b) => b.start - a.start);
}

// Fraction of [a, b) covered by the sessions (intervals in ms).
function coverage(ivs, a, b) {
  let up = 0;
  for (const [s, e] of ivs) up += Math.max(0, Math.min(e, b) - Math.max(s, a));
  return up / (b - a);
}

// ---- rendering ----------------------------------------------------------------
function panel(title, id, extra) {
  return el('section.panel.hpanel', { dataset: { chart: id } },
    el('div.panel-head', el('h2', { text: title }), extra || null),
    el('div.chart-box', { id: 'h-' + id }));
}

function note(id, text) {
  const box = $('#h-' + id);
  if (box) box.parentElement.append(el('p.note', { text }));
}

function failed(id, e) {
  const box = $('#h-' + id);
  if (!box) return;
  clear(box);
  box.append(el('div.nodata.err', { text: 'could not load: ' + (e.status === 404 ? 'this vigild has no such endpoint yet' : e.message) }));
}

let gen = 0; // a newer render makes an older one's late answers moot

export async function renderHistory(root, state, onPick) {
  const my = ++gen;
  delete root.dataset.drawn; // set again once every part has drawn
  destroyCharts(root);
  clear(root);
  const [from, to] = rangeOf(state);
  const latSel = el('select#lat-group', { 'aria-label': 'group' });
  root.append(
    el('div.section-head', el('h2', { text: 'History' }), rangeBar(state, onPick),
      el('span.muted.range-text', { text: `${fmtTime(from)} → ${fmtTime(to)}` })),
    el('div.hgrid',
      panel('Fleet size per group (alive)', 'fleet'),
      panel('Workers by state', 'states'),
      panel('Ingest (per second)', 'ingest'),
      panel('Session ends by reason', 'reasons'),
      panel('Task latency', 'latency', latSel),
      panel('Availability by hour of week (UTC)', 'week'),
      panel('Workers × time (sessions)', 'wtime'),
      panel('Uptime across the fleet', 'dist')),
    el('section.panel.wide', el('div.panel-head', el('h2', { text: 'Events timeline' })), el('div.chart-box', { id: 'h-timeline' })),
    el('section.panel.wide', el('div.panel-head', el('h2', { text: 'Incidents' }), el('span.muted#inc-count')), el('div#h-incidents')));
  const stale = () => my !== gen;
  const tasks = [];

  tasks.push(metrics('alive:*', from, to).then((s) => {
    if (stale()) return;
    lineChart($('#h-fleet'), stripPrefix(s, 'alive:'), { x: [from, to], yFmt: (v) => (v == null ? '–' : fmtNum(v, v % 1 ? 1 : 0)), empty: 'no fleet samples in this range' });
  }).catch((e) => failed('fleet', e)));

  tasks.push(metrics('workers:*', from, to).then((s) => {
    if (stale()) return;
    const order = ['alive', 'suspect', 'dead', 'left', 'evicted'];
    const series = stripPrefix(s, 'workers:').map((x) => ({ ...x, color: COLORS[x.label] || x.color }))
      .sort((a, b) => order.indexOf(a.label) - order.indexOf(b.label));
    lineChart($('#h-states'), series, { x: [from, to], yFmt: (v) => (v == null ? '–' : fmtNum(v, v % 1 ? 1 : 0)), empty: 'no fleet samples in this range' });
  }).catch((e) => failed('states', e)));

  tasks.push(metrics('ingest_rate,dropped_rate,rejected_rate', from, to).then((s) => {
    if (stale()) return;
    const order = ['ingest_rate', 'dropped_rate', 'rejected_rate'];
    const named = order.map((n, i) => s.find((x) => x.label === n) || { label: n, points: [] })
      .map((x, i) => ({ ...x, label: x.label.replace('_rate', ''), color: ['#58a6ff', '#f85149', '#d29922'][i] }));
    lineChart($('#h-ingest'), named, { x: [from, to], yFmt: (v) => (v == null ? '–' : fmtNum(v, v % 1 && Math.abs(v) < 10 ? 1 : 0)) });
  }).catch((e) => failed('ingest', e)));

  tasks.push(metrics('sessions_closed:*', from, to).then((s) => {
    if (stale()) return;
    const series = stripPrefix(s, 'sessions_closed:').map((x) => ({ ...x, color: COLORS[x.label] || x.color }));
    lineChart($('#h-reasons'), series, { x: [from, to], stepped: true, yFmt: (v) => (v == null ? '–' : fmtNum(v, v % 1 ? 1 : 0)), empty: 'no session ended in this range' });
  }).catch((e) => failed('reasons', e)));

  // Latency: one group at a time (the select), the first that reports by default.
  const groupsWithLat = [...live.latency.keys()].sort();
  const allGroups = [...new Set([...groupsWithLat, ...[...live.groups.keys()].sort()])];
  for (const g of allGroups) latSel.append(el('option', { value: g, text: g }));
  const drawLat = async () => {
    const g = latSel.value;
    if (!g) {
      lineChart($('#h-latency'), [{ label: 'p50', points: [] }], { x: [from, to], empty: 'no group reports task latency' });
      return;
    }
    try {
      const s = await latencySeries(g, from, to);
      if (!stale()) lineChart($('#h-latency'), s, { x: [from, to], yFmt: (v) => (v == null ? '–' : fmtMs(v)), empty: `no task durations from ${g} in this range` });
    } catch (e) {
      failed('latency', e);
    }
  };
  latSel.addEventListener('change', drawLat);
  tasks.push(drawLat());

  // Heatmaps over the first workers of the live list (its filter and order apply).
  const ids = topIds(HEAT_WORKERS);
  tasks.push((async () => {
    const wbox = $('#h-week'), tbox = $('#h-wtime');
    if (!ids.length) {
      weekHeatmap(wbox, null);
      rowsHeatmap(tbox, [], from, to);
      note('week', 'No workers yet.');
      return;
    }
    const [livs, sess] = await Promise.all([
      pool(ids, 6, (id) => api(`/v1/workers/${encodeURIComponent(id)}/liveness`)),
      pool(ids, 6, (id) => api(`/v1/workers/${encodeURIComponent(id)}/sessions` + qs({ limit: 500 }))),
    ]);
    if (stale()) return;
    // 7×24: mean over the workers of their own fraction up (null cells skipped).
    const sum = Array.from({ length: 7 }, () => new Array(24).fill(0));
    const cnt = Array.from({ length: 7 }, () => new Array(24).fill(0));
    let days = null, used = 0;
    for (const l of livs) {
      const m = l?.hourly_availability?.matrix;
      if (!m) continue;
      used++;
      days = l.hourly_availability.days;
      m.forEach((row, d) => row.forEach((f, h) => {
        if (f != null) {
          sum[d][h] += f;
          cnt[d][h]++;
        }
      }));
    }
    weekHeatmap(wbox, sum.map((row, d) => row.map((s, h) => (cnt[d][h] ? s / cnt[d][h] : null))), days);
    note('week', `Mean of ${used} worker${used === 1 ? '' : 's'} (the first of the live list), over the reliability window.`);
    // Workers × time: fraction of each slice covered by the worker's sessions.
    const step = (to - from) / HEAT_COLS, t = now();
    const rows = ids.map((id, i) => {
      const ss = sess[i]?.sessions || [];
      const ivs = ss.map((s) => [ms(s.opened), s.open ? t : ms(s.closed) || ms(s.last_heartbeat) || t]);
      const first = live.workers.get(id)?.first_seen ? ms(live.workers.get(id).first_seen) : Math.min(...ivs.map((v) => v[0]));
      const cells = [];
      for (let k = 0; k < HEAT_COLS; k++) {
        const a = from + k * step, b = a + step;
        cells.push(b <= first || a >= t ? null : coverage(ivs, Math.max(a, first), Math.min(b, t)));
      }
      return { label: id, cells };
    });
    rowsHeatmap(tbox, rows, from, to);
    note('wtime', `The first ${ids.length} workers of the live list (filter and order apply); empty cells: not yet seen.`);
  })().catch((e) => {
    failed('week', e);
    failed('wtime', e);
  }));

  tasks.push(api('/v1/fleet/availability').then((d) => {
    if (stale()) return;
    const box = $('#h-dist');
    clear(box);
    const u = d.uptime_pct || {};
    const hist = u.histogram || [];
    if (!d.workers) {
      box.append(el('p.nodata', { text: d.computed_at ? 'No worker ranked at the last rollup.' : 'No rollup yet: the ranking is computed every 5 minutes.' }));
      return;
    }
    const max = Math.max(1, ...hist.map((b) => b.count));
    const bars = el('div.hist');
    for (const b of hist) {
      const bar = el('div.hist-bar', { title: `${fmtPct(b.from)}–${fmtPct(b.to)}: ${b.count}` }, el('div.hist-fill'), el('span.hist-x', { text: fmtPct(b.from) }));
      bar.firstChild.style.height = ((b.count / max) * 100).toFixed(1) + '%';
      bars.append(bar);
    }
    box.append(
      el('div.kv',
        el('span', el('b', { text: fmtNum(d.workers) }), ' workers ranked'),
        el('span', 'mean uptime ', el('b', { text: fmtPct(u.mean, 1) })),
        el('span', 'p10 ', el('b', { text: fmtPct(u.p10, 1) })),
        el('span', 'median ', el('b', { text: fmtPct(u.p50, 1) })),
        el('span', 'mean score ', el('b', { text: d.liveness_score?.mean != null ? d.liveness_score.mean.toFixed(2) : '–' }))),
      bars,
      el('p.note', { text: d.computed_at ? `At the last rollup, ${fmtTime(d.computed_at)}.` : 'No rollup yet (every 5 min).' }));
  }).catch((e) => failed('dist', e)));

  tasks.push((async () => {
    const types = ['alert_firing', 'alert_resolved', 'group_crashed', 'group_scaled_down', 'group_alive', 'session_closed'];
    const got = await Promise.all(types.map((t) => eventsOf(t, from, to, t === 'session_closed' ? 2 : 3)));
    if (stale()) return;
    const ev = Object.fromEntries(types.map((t, i) => [t, got[i]]));
    const inc = incidents(ev, to);
    const sev = { critical: '#f85149', warning: '#d29922', info: '#58a6ff' };
    timeline($('#h-timeline'), [
      { label: 'alerts', marks: inc.filter((i) => i.kind === 'alert').map((i) => ({ t: i.start, t2: i.end ?? Math.min(now(), to), color: sev[i.severity] || '#d29922', title: `${i.what} ${i.group || ''} ${i.worker || ''}` })) },
      { label: 'groups down', marks: inc.filter((i) => i.kind === 'group').map((i) => ({ t: i.start, t2: i.end ?? Math.min(now(), to), color: i.detail === 'crashed' ? COLORS.crashed : COLORS.scaled_down, title: `${i.group} ${i.what}` })) },
      ...['timeout', 'failed', 'restarted', 'evicted', 'clean_shutdown', 'monitor_gap'].map((r) => ({
        label: r.replace('_', ' '),
        marks: ev.session_closed.filter((e) => e.reason === r).map((e) => ({ t: ms(e.ts), color: COLORS[r], title: `${e.worker_id} ${r} ${fmtTime(e.ts)}` })),
      })),
    ], from, to);
    const box = $('#h-incidents');
    clear(box);
    $('#inc-count').textContent = `${inc.length} in this range`;
    if (!inc.length) {
      box.append(el('p.empty', { text: 'No incident in this range: no alert fired and no group went down.' }));
      return;
    }
    const tbl = el('table.tbl',
      el('thead', el('tr', ...['started', 'ended', 'lasted', 'what', 'type', 'severity', 'group', 'worker'].map((h) => el('th', { text: h })))));
    const tb = el('tbody');
    for (const i of inc.slice(0, 300)) {
      tb.append(el('tr', { dataset: { kind: i.kind } },
        el('td', { text: fmtTime(i.start) }),
        el('td', i.end ? fmtTime(i.end) : el('span.tag.tag-bad', { text: 'ongoing' })),
        el('td', { text: fmtDur(((i.end ?? now()) - i.start) / 1000) }),
        el('td', { text: i.what || '' }),
        el('td.muted', { text: i.detail || '' }),
        el('td', el('span.sev.sev-' + (i.severity || 'info'), { text: i.severity || '' })),
        el('td', { text: i.group || '–' }),
        el('td', i.worker ? el('a', { href: '#/worker/' + encodeURIComponent(i.worker), text: i.worker }) : '–')));
    }
    tbl.append(tb);
    box.append(tbl);
  })().catch((e) => {
    failed('timeline', e);
    const box = $('#h-incidents');
    clear(box);
    box.append(el('p.nodata.err', { text: 'could not load events: ' + e.message }));
  }));

  await Promise.all(tasks);
  if (!stale()) root.dataset.drawn = String(my);
}
