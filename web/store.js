// The live state: groups and workers in maps, fed by the stream (snapshot,
// then changes) and refreshed by polling for the samples the stream does not
// carry. Views subscribe with onChange(kind => ...).
import { api, qs } from './api.js';
import { ms, now, pool, syncClock } from './util.js';

export const live = {
  groups: new Map(), // name -> group object as in GET /v1/groups
  workers: new Map(), // id -> worker object as in GET /v1/workers
  events: [], // newest first, as in GET /v1/events
  latency: new Map(), // group -> newest task latency bucket
  summary: null, // the stream's last `summary`
  snapshotAt: 0,
  total: 0, // workers_total of the snapshot
  status: 'connecting',
  statusDetail: '',
};

const EVENTS_KEPT = 200;
let snapshotSeen;
// Resolves with the first snapshot (views that need the worker list wait for it).
export const firstSnapshot = new Promise((r) => { snapshotSeen = r; });
const listeners = new Set();
export function onChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}
function changed(kind, detail) {
  for (const f of listeners) f(kind, detail);
}

// A polled answer may be older than a change the stream already delivered:
// take its state only when it is not older than what we hold, and its
// samples in any case.
function merge(w) {
  const old = live.workers.get(w.worker_id);
  if (!old) {
    live.workers.set(w.worker_id, w);
    return true;
  }
  const oldSince = ms(old.state_since) || 0, newSince = ms(w.state_since) || 0;
  if (newSince >= oldSince) {
    live.workers.set(w.worker_id, w);
    return old.state !== w.state || old.group !== w.group;
  }
  if ((ms(w.last_heartbeat) || 0) > (ms(old.last_heartbeat) || 0)) {
    old.last_heartbeat = w.last_heartbeat;
    old.samples = w.samples;
  }
  return false;
}

export function handleStream(type, d) {
  switch (type) {
    case 'snapshot':
      syncClock(d.at);
      live.snapshotAt = d.at;
      live.groups = new Map((d.groups || []).map((g) => [g.group, g]));
      live.workers = new Map((d.workers || []).map((w) => [w.worker_id, w]));
      live.events = (d.events || []).slice(0, EVENTS_KEPT);
      live.total = d.workers_total ?? live.workers.size;
      changed('snapshot');
      snapshotSeen();
      if (d.workers_truncated) pageAllWorkers();
      break;
    case 'worker': {
      const old = live.workers.get(d.worker_id);
      live.workers.set(d.worker_id, d);
      changed('worker', { id: d.worker_id, structural: !old || old.state !== d.state || old.group !== d.group });
      break;
    }
    case 'group':
      live.groups.set(d.group, d);
      changed('group', d.group);
      break;
    case 'event':
      live.events.unshift(d);
      if (live.events.length > EVENTS_KEPT) live.events.length = EVENTS_KEPT;
      changed('event', d);
      break;
    case 'forget':
      live.workers.delete(d.worker_id);
      changed('worker', { id: d.worker_id, structural: true });
      break;
    case 'summary':
      syncClock(d.at);
      live.summary = d;
      changed('summary');
      break;
    default:
      break;
  }
}

export function setStatus(s, detail) {
  live.status = s;
  live.statusDetail = detail ?? '';
  changed('status');
}

// ---- polling ------------------------------------------------------------------

let paging = false;
// Every worker, 1000 a page: after a truncated snapshot, and now and then so
// the group cards' backlog and utilization stay current.
export async function pageAllWorkers() {
  if (paging) return;
  paging = true;
  try {
    let cursor = null, structural = false;
    const seen = new Set();
    do {
      const r = await api('/v1/workers' + qs({ limit: 1000, cursor }));
      for (const w of r.workers) {
        seen.add(w.worker_id);
        structural = merge(w) || structural;
      }
      cursor = r.next_cursor;
    } while (cursor);
    changed('samples', { structural });
  } finally {
    paging = false;
  }
}

// The latest samples of a few workers (the rows on screen).
export async function refreshWorkers(ids) {
  let structural = false;
  await pool(ids, 6, async (id) => {
    try {
      structural = merge(await api('/v1/workers/' + encodeURIComponent(id))) || structural;
    } catch (e) {
      if (e.status === 404 && live.workers.delete(id)) structural = true;
    }
  });
  changed('samples', { structural });
}

// The newest task latency bucket of each group (last 5 minutes).
export async function refreshLatency() {
  const r = await api('/v1/tasks/latency' + qs({ from: Math.round(now() - 300000), limit: 20000 }));
  const m = new Map();
  for (const b of r.buckets || []) {
    if (!b.count) continue;
    const cur = m.get(b.group);
    const t = ms(b.bucket);
    // Prefer the newest closed bucket; an open one only while nothing closed.
    if (!cur || (b.open ? cur.open && t > ms(cur.bucket) : cur.open || t > ms(cur.bucket))) m.set(b.group, b);
  }
  live.latency = m;
  changed('latency');
}

export function counts() {
  const c = { alive: 0, suspect: 0, dead: 0, left: 0, evicted: 0 };
  for (const w of live.workers.values()) if (w.state in c) c[w.state]++;
  return c;
}
