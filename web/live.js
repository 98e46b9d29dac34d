// Live view: group cards, the worker list (virtualized: only the rows on
// screen exist in the DOM, so 10,000 workers scroll as smoothly as 10), the
// filter box and the recent events.
import { live, onChange, refreshWorkers, pageAllWorkers, refreshLatency, counts } from './store.js';
import {
  $, clear, el, fmtAge, fmtDur, fmtMs, fmtNum, fmtPct, fmtTime, ms, now, perFrame, pill, setPill, setText, throttled,
} from './util.js';

const ROW_H = 36;
const OVERSCAN = 6;
const CARDS_MAX = 120;
const STATE_RANK = { dead: 0, suspect: 1, evicted: 2, left: 3, alive: 4 };
const GROUP_RANK = { crashed: 0, unknown: 1, scaled_down: 2, alive: 3 };

let order = []; // worker ids matching the filter, in display order
let orderDirty = true;
let filterTerms = [];
let sortBy = 'problems';
let rows = []; // pooled row elements
let active = false;

// ---- filter -------------------------------------------------------------------
// Words separated by spaces, all must match. "group:NAME" and "state:NAME"
// match exactly; any other word is a substring of the id, group or state.
function parseFilter(s) {
  return s.trim().toLowerCase().split(/\s+/).filter(Boolean).map((w) => {
    const m = /^(group|state|id):(.*)$/.exec(w);
    return m ? { key: m[1], exact: m[2] } : { sub: w };
  });
}

function matches(w) {
  for (const t of filterTerms) {
    if (t.key) {
      const v = (t.key === 'id' ? w.worker_id : w[t.key] || '').toLowerCase();
      if (v !== t.exact) return false;
    } else if (
      !w.worker_id.toLowerCase().includes(t.sub) &&
      !(w.group || '').toLowerCase().includes(t.sub) &&
      !w.state.includes(t.sub)
    ) {
      return false;
    }
  }
  return true;
}

function rebuildOrder() {
  const list = [];
  for (const w of live.workers.values()) if (matches(w)) list.push(w);
  const byId = (a, b) => (a.worker_id < b.worker_id ? -1 : a.worker_id > b.worker_id ? 1 : 0);
  if (sortBy === 'problems') list.sort((a, b) => (STATE_RANK[a.state] ?? 9) - (STATE_RANK[b.state] ?? 9) || byId(a, b));
  else if (sortBy === 'group') list.sort((a, b) => (a.group || '').localeCompare(b.group || '') || byId(a, b));
  else if (sortBy === 'age') list.sort((a, b) => (ms(b.last_heartbeat) || 0) - (ms(a.last_heartbeat) || 0) || byId(a, b));
  else list.sort(byId);
  order = list.map((w) => w.worker_id);
  orderDirty = false;
}

// ---- summary bar ----------------------------------------------------------------
function renderSummary() {
  // Counted from the maps (exact at every change); the stream's summary only
  // while the maps do not hold the whole fleet yet (a truncated snapshot).
  const mine = counts(), theirs = live.summary?.counts;
  const held = Object.values(mine).reduce((a, b) => a + b, 0);
  const c = theirs && Object.values(theirs).reduce((a, b) => a + b, 0) > held ? theirs : mine;
  const box = $('#summary');
  clear(box);
  for (const s of ['alive', 'suspect', 'dead', 'left', 'evicted']) {
    box.append(el('span.sum-item', { dataset: { state: s } }, el('span.sum-n', { text: fmtNum(c[s] || 0) }), pill(s)));
  }
  const sm = live.summary;
  if (sm) {
    box.append(
      el('span.sum-item.sum-rate', { title: 'heartbeats accepted per second' }, el('span.sum-n', { text: fmtNum(sm.ingest_rate, 1) }), ' hb/s'),
      el('span.sum-item.sum-rate' + (sm.dropped_rate > 0 ? '.bad' : ''), { title: 'raw samples dropped per second' },
        el('span.sum-n', { text: fmtNum(sm.dropped_rate, 1) }), ' dropped/s'),
      el('span.sum-item.sum-rate', { title: 'items waiting for the writer' }, el('span.sum-n', { text: fmtNum(sm.queue_depth) }), ' queued'),
    );
  }
}

function renderStatus() {
  const c = $('#conn');
  c.dataset.state = live.status;
  const text = { connecting: 'connecting…', live: 'live', down: 'disconnected', retry: 'reconnecting' }[live.status] || live.status;
  setText($('#conn-text'), live.status === 'retry' ? `reconnecting in ${live.statusDetail}s` : text);
  c.title = live.statusDetail ? String(live.statusDetail) : '';
}

// ---- group cards ----------------------------------------------------------------
function groupAggregates() {
  const agg = new Map();
  for (const w of live.workers.values()) {
    const s = w.samples;
    if (!s || !w.group) continue;
    if (w.state !== 'alive' && w.state !== 'suspect') continue;
    let a = agg.get(w.group);
    if (!a) agg.set(w.group, (a = { backlog: 0, capacity: 0, reporting: 0 }));
    if (s.capacity != null || s.backlog != null) {
      a.backlog += s.backlog || 0;
      a.capacity += s.capacity || 0;
      a.reporting++;
    }
  }
  return agg;
}

function groupCard(g, agg, selected) {
  const alive = g.workers?.alive ?? 0, total = g.total ?? 0;
  const w = g.workers || {};
  const card = el('article.card' + (selected ? '.selected' : ''), {
    dataset: { group: g.group, state: g.state },
    title: 'Show only this group’s workers',
    onclick: () => {
      const f = $('#filter');
      f.value = selected ? '' : 'group:' + g.group;
      f.dispatchEvent(new Event('input'));
    },
  });
  card.append(
    el('header.card-head', el('h3.card-title', { text: g.group }), pill(g.state, 'g')),
    el('div.card-big', el('span.big-n', { text: fmtNum(alive) }), el('span.muted', { text: ` of ${fmtNum(total)} alive` })),
    el('div.card-counts',
      ...['suspect', 'dead', 'left', 'evicted'].filter((s) => w[s]).map((s) => el('span.count.count-' + s, { text: `${w[s]} ${s}` })),
      w.suspect || w.dead || w.left || w.evicted ? null : el('span.muted', { text: total ? 'all alive' : 'no workers' })),
  );
  const a = agg.get(g.group);
  if (a && a.reporting) {
    const util = a.capacity > 0 ? a.backlog / a.capacity : null;
    const bar = el('div.bar', el('div.bar-fill' + (util > 0.9 ? '.hot' : util > 0.7 ? '.warm' : '')));
    bar.firstChild.style.width = Math.min(100, (util ?? 0) * 100).toFixed(1) + '%';
    card.append(el('div.card-util',
      el('div.card-row', el('span.muted', { text: 'backlog ÷ capacity', title: 'summed over its alive workers' }),
        el('span', { text: `${fmtNum(a.backlog)} / ${fmtNum(a.capacity)} · ${util == null ? '–' : fmtPct(util)}` })),
      bar));
  }
  const lat = live.latency.get(g.group);
  if (lat) {
    card.append(el('div.card-row.card-lat', el('span.muted', { text: 'task latency' }),
      el('span', { text: `p50 ${fmtMs(lat.p50_ms)} · p95 ${fmtMs(lat.p95_ms)}` })));
  }
  card.append(el('div.card-row.card-since', el('span.muted', { text: `${g.state.replace('_', ' ')} for` }),
    el('span.since', { dataset: { since: g.state_since || '' }, text: fmtAge(g.state_since) })));
  return card;
}

function renderCards() {
  const box = $('#group-cards');
  const sel = /^group:(\S+)$/.exec($('#filter').value.trim().toLowerCase())?.[1];
  const groups = [...live.groups.values()].sort(
    (a, b) => (GROUP_RANK[a.state] ?? 9) - (GROUP_RANK[b.state] ?? 9) || a.group.localeCompare(b.group, undefined, { numeric: true }));
  const agg = groupAggregates();
  // Many groups: denser cards in a box of its own height, so the workers stay in view.
  box.classList.toggle('compact', groups.length > 10);
  clear(box);
  for (const g of groups.slice(0, CARDS_MAX)) box.append(groupCard(g, agg, sel === g.group.toLowerCase()));
  if (!groups.length) box.append(el('p.empty', { text: 'No groups yet: workers appear here with their first heartbeat.' }));
  setText($('#groups-meta'), groups.length > CARDS_MAX
    ? `${groups.length} groups; the ${CARDS_MAX} most in need of attention shown`
    : `${groups.length} group${groups.length === 1 ? '' : 's'}`);
}

function tickCards() {
  for (const s of document.querySelectorAll('#group-cards .since')) setText(s, fmtAge(s.dataset.since));
}

// ---- worker list (virtualized) ----------------------------------------------------
const COLS = ['state', 'id', 'group', 'hb', 'session', 'cpu', 'mem', 'thermal', 'backlog'];

function makeRow() {
  const r = el('div.wrow', { role: 'row' });
  r.cells = {};
  for (const c of COLS) {
    const cell = c === 'id' ? el('a.c.c-id') : el('span.c.c-' + c);
    if (c === 'state') cell.append(pill('unknown'));
    r.cells[c] = cell;
    r.append(cell);
  }
  return r;
}

function fillRow(r, w) {
  const c = r.cells, s = w.samples || {};
  r.dataset.workerId = w.worker_id;
  r.dataset.state = w.state;
  setPill(c.state.firstChild, w.state);
  setText(c.id, w.worker_id);
  const href = '#/worker/' + encodeURIComponent(w.worker_id);
  if (c.id.getAttribute('href') !== href) c.id.setAttribute('href', href);
  setText(c.group, w.group || '–');
  setText(c.hb, w.last_heartbeat ? fmtAge(w.last_heartbeat) + ' ago' : '–');
  const open = w.state === 'alive' || w.state === 'suspect';
  setText(c.session, open && w.session_opened ? fmtDur((now() - ms(w.session_opened)) / 1000) : '–');
  setText(c.cpu, fmtPct(s.cpu));
  setText(c.mem, fmtPct(s.mem));
  setText(c.thermal, s.thermal || '–');
  c.thermal.dataset.thermal = s.thermal || '';
  setText(c.backlog, s.backlog != null || s.capacity != null ? `${s.backlog ?? '–'} / ${s.capacity ?? '–'}` : '–');
}

function visibleRange() {
  const vp = $('#wl');
  const first = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - OVERSCAN);
  const last = Math.min(order.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW_H) + OVERSCAN);
  return [first, last];
}

function renderList() {
  if (orderDirty) rebuildOrder();
  const vp = $('#wl'), spacer = $('#wl-spacer');
  spacer.style.height = order.length * ROW_H + 'px';
  // As tall as its rows, up to what the window leaves (at least 10 rows).
  const h = Math.min(Math.max(ROW_H * 10, window.innerHeight - 400), Math.max(ROW_H * 3, order.length * ROW_H)) + 'px';
  if (vp.style.height !== h) vp.style.height = h;
  const [first, last] = visibleRange();
  const need = Math.max(0, last - first);
  while (rows.length < need) {
    const r = makeRow();
    rows.push(r);
    spacer.append(r);
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const w = i < need ? live.workers.get(order[first + i]) : null;
    if (!w) {
      // A spare row keeps its cells for reuse but no longer names a worker:
      // a lookup by id must find the one drawn row, not a hidden leftover.
      if (!r.hidden) {
        r.hidden = true;
        delete r.dataset.workerId;
      }
      continue;
    }
    r.hidden = false;
    r.style.transform = `translateY(${(first + i) * ROW_H}px)`;
    fillRow(r, w);
  }
  const total = live.workers.size;
  setText($('#workers-count'), order.length === total ? `${fmtNum(total)} workers` : `${fmtNum(order.length)} of ${fmtNum(total)} workers`);
  $('#wl-empty').hidden = order.length > 0;
  setText($('#wl-empty'), total ? 'No worker matches the filter.' : 'No workers yet.');
  vp.dataset.rows = String(order.length);
}

export function visibleIds() {
  if (orderDirty) rebuildOrder();
  const vp = $('#wl');
  const first = Math.floor(vp.scrollTop / ROW_H);
  const last = Math.min(order.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW_H));
  return order.slice(first, last);
}

// The first n workers of the current filter and order (history heatmaps use them).
export function topIds(n) {
  if (orderDirty) rebuildOrder();
  return order.slice(0, n);
}

// ---- events --------------------------------------------------------------------
export function describeEvent(e) {
  const bits = [];
  if (e.reason) bits.push(e.reason.replace('_', ' '));
  if (e.exit_code != null) bits.push('exit ' + e.exit_code);
  if (e.rule) bits.push(`${e.rule}${e.severity ? ' (' + e.severity + ')' : ''}`);
  return bits.join(' · ');
}

export function eventTone(t) {
  if (/crashed|dead|firing/.test(t)) return 'bad';
  if (/suspect|evicted|forgotten/.test(t)) return 'warn';
  if (/alive|opened|resolved/.test(t)) return 'good';
  return 'neutral';
}

function renderEvents() {
  const box = $('#events');
  clear(box);
  for (const e of live.events.slice(0, 100)) {
    const who = e.worker_id
      ? el('a.ev-who', { href: '#/worker/' + encodeURIComponent(e.worker_id), text: e.worker_id })
      : el('span.ev-who', { text: e.group || '' });
    box.append(el('li.ev',
      el('time.ev-time', { text: fmtTime(e.ts, false), title: fmtTime(e.ts) }),
      el('span.tag.tag-' + eventTone(e.type), { text: e.type.replace(/_/g, ' ') }),
      who,
      el('span.ev-detail', { text: [e.worker_id ? e.group : null, describeEvent(e)].filter(Boolean).join(' · ') })));
  }
  if (!live.events.length) box.append(el('li.empty', { text: 'No events yet.' }));
}

// ---- wiring ---------------------------------------------------------------------
const schedule = {
  list: perFrame(() => active && renderList()),
  // Cards are rebuilt whole (and sum backlog over every worker): 4 times a second at most.
  cards: throttled(() => active && renderCards(), 250),
  events: perFrame(() => active && renderEvents()),
  summary: perFrame(() => renderSummary()),
};

// Many worker changes in a burst (a rack dying) re-sort at most 4 times a second.
let reorderTimer = 0;
function reorderSoon() {
  if (reorderTimer) return;
  reorderTimer = setTimeout(() => {
    reorderTimer = 0;
    orderDirty = true;
    schedule.list();
  }, 250);
}

export function initLive() {
  const filter = $('#filter');
  filter.addEventListener('input', () => {
    filterTerms = parseFilter(filter.value);
    orderDirty = true;
    $('#wl').scrollTop = 0;
    schedule.list();
    schedule.cards();
  });
  $('#sort').addEventListener('change', (e) => {
    sortBy = e.target.value;
    orderDirty = true;
    schedule.list();
  });
  $('#wl').addEventListener('scroll', schedule.list, { passive: true });
  window.addEventListener('resize', schedule.list);

  onChange((kind, d) => {
    if (kind === 'status') renderStatus();
    if (kind === 'snapshot') {
      orderDirty = true;
      schedule.list();
      schedule.cards();
      schedule.events();
      schedule.summary();
    } else if (kind === 'worker' || kind === 'samples') {
      if (d?.structural || sortBy === 'age') reorderSoon();
      else schedule.list();
      schedule.summary();
      if (kind === 'samples') schedule.cards();
    } else if (kind === 'group' || kind === 'latency') {
      schedule.cards();
    } else if (kind === 'event') {
      schedule.events();
    } else if (kind === 'summary') {
      schedule.summary();
    }
  });

  // Ages and session lengths tick every second.
  setInterval(() => {
    if (!active) return;
    schedule.list();
    tickCards();
  }, 1000);
  // The stream carries state changes only: samples of the rows on screen are
  // fetched every 5 s, the whole fleet's (for the cards) every 30-60 s.
  setInterval(() => {
    if (active && live.status === 'live' && document.visibilityState === 'visible') {
      const ids = visibleIds().slice(0, 60);
      if (ids.length) refreshWorkers(ids).catch(() => {});
    }
  }, 5000);
  let lastFull = Date.now();
  setInterval(() => {
    const every = live.workers.size > 2000 ? 60000 : 30000;
    if (live.status === 'live' && Date.now() - lastFull >= every && document.visibilityState === 'visible') {
      lastFull = Date.now();
      pageAllWorkers().catch(() => {});
    }
  }, 5000);
  const lat = () => refreshLatency().catch(() => {});
  setTimeout(lat, 1500);
  setInterval(() => document.visibilityState === 'visible' && lat(), 15000);
}

export function showLive(on) {
  active = on;
  if (on) {
    orderDirty = true;
    renderCards();
    renderList();
    renderEvents();
  }
}
