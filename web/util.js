// Small helpers shared by the views: DOM building, formatting, time.
// The page runs under a strict CSP (no inline styles or scripts), so every
// element is built with the DOM API and styled through classes; sizes and
// positions set from code go through element.style (CSSOM), which CSP allows.

// el('div#id.card.big', {dataset: {group: 'x'}, onclick: f}, child, 'text', ...)
export function el(spec, attrs, ...kids) {
  const tag = /^[^.#]*/.exec(spec)[0];
  const e = document.createElement(tag || 'div');
  const classes = [];
  for (const [, kind, name] of spec.slice(tag.length).matchAll(/([.#])([^.#]+)/g)) {
    if (kind === '#') e.id = name;
    else classes.push(name);
  }
  if (classes.length) e.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    kids.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k == null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// Set textContent only when it changed (keeps the live list cheap to refresh).
export function setText(node, s) {
  s = s == null ? '' : String(s);
  if (node.textContent !== s) node.textContent = s;
}

export function pill(state, kind = 'w') {
  const s = state || 'unknown';
  return el('span.pill.pill-' + s, { dataset: { state: s, kind }, text: s.replace('_', ' ') });
}

export function setPill(node, state) {
  const s = state || 'unknown';
  if (node.dataset.state === s) return;
  node.dataset.state = s;
  node.className = 'pill pill-' + s;
  node.textContent = s.replace('_', ' ');
}

// ---- server clock -----------------------------------------------------------
// Ages are computed against vigild's clock (the stream's `at`), not the
// browser's, so a skewed laptop clock does not make workers look late.
let offsetMs = 0;
export function syncClock(serverMs) {
  if (Number.isFinite(serverMs)) offsetMs = serverMs - Date.now();
}
export const now = () => Date.now() + offsetMs;

export function ms(iso) {
  if (iso == null) return null;
  if (typeof iso === 'number') return iso;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

// ---- formatting ---------------------------------------------------------------
export function fmtDur(s) {
  if (s == null || !Number.isFinite(s)) return '–';
  if (s < 0) s = 0;
  if (s < 10) return s.toFixed(1) + 's';
  if (s < 90) return Math.round(s) + 's';
  const m = s / 60;
  if (m < 90) return Math.round(m) + 'm';
  const h = m / 60;
  if (h < 48) return (h < 10 ? h.toFixed(1) : Math.round(h)) + 'h';
  const d = h / 24;
  return (d < 10 ? d.toFixed(1) : Math.round(d)) + 'd';
}

export function fmtAge(iso) {
  const t = ms(iso);
  return t == null ? '–' : fmtDur((now() - t) / 1000);
}

export function fmtPct(f, digits = 0) {
  return f == null || !Number.isFinite(f) ? '–' : (f * 100).toFixed(digits) + '%';
}

export function fmtNum(x, digits = 0) {
  if (x == null || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(1) + 'M';
  if (Math.abs(x) >= 1e4) return (x / 1e3).toFixed(1) + 'k';
  return x.toFixed(digits);
}

export function fmtMs(x) {
  if (x == null || !Number.isFinite(x)) return '–';
  if (x < 1) return x.toFixed(2) + ' ms';
  if (x < 1000) return Math.round(x) + ' ms';
  return (x / 1000).toFixed(x < 10000 ? 2 : 1) + ' s';
}

const pad = (n) => String(n).padStart(2, '0');
export function fmtTime(iso, withDate = true) {
  const t = ms(iso);
  if (t == null) return '–';
  const d = new Date(t);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!withDate) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

// For <input type=datetime-local> (local time, minutes).
export function toLocalInput(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// Run f at most once per frame, however often it is asked for.
export function perFrame(f) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      f();
    });
  };
}

// Run f on the next frame, then at most once per `ms` however often asked.
export function throttled(f, ms) {
  let last = 0, timer = 0;
  const run = () => {
    timer = 0;
    last = performance.now();
    requestAnimationFrame(f);
  };
  return () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - performance.now()));
  };
}

export const sleep = (t) => new Promise((r) => setTimeout(r, t));

// Map over items with at most `n` promises in flight.
export async function pool(items, n, f) {
  const out = new Array(items.length);
  let i = 0;
  const run = async () => {
    while (i < items.length) {
      const k = i++;
      try {
        out[k] = await f(items[k], k);
      } catch (e) {
        out[k] = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
  return out;
}

// Colours shared by pills, charts and heatmaps (kept in step with style.css).
export const COLORS = {
  alive: '#3fb950', suspect: '#d29922', dead: '#f85149', left: '#8b949e', evicted: '#a371f7',
  scaled_down: '#6e7f96', crashed: '#f85149', unknown: '#6e7681',
  clean_shutdown: '#58a6ff', failed: '#f0883e', timeout: '#f85149', restarted: '#d29922',
  monitor_gap: '#8b949e',
};
export const PALETTE = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#39c5cf',
  '#f0883e', '#e3b341', '#8ddb8c', '#ff9492', '#b083f0', '#79c0ff'];
export function colorOf(name, i) {
  return COLORS[name] || PALETTE[i % PALETTE.length];
}
