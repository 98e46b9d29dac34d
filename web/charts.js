// Charts: uPlot line/step charts, and canvas heatmaps and a timeline.
/* global uPlot */
import { clear, colorOf, el, fmtTime } from './util.js';

const AXIS = { stroke: '#8b949e', grid: { stroke: '#262c36', width: 1 }, ticks: { stroke: '#30363d', width: 1 } };

// Series of [[ms, v], ...] (each may have gaps) onto one x axis (seconds, as uPlot wants).
export function align(seriesList) {
  const xs = new Set();
  for (const s of seriesList) for (const [t] of s.points) xs.add(t);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const ys = seriesList.map((s) => {
    const y = new Array(x.length).fill(null);
    for (const [t, v] of s.points) y[at.get(t)] = v;
    return y;
  });
  return [x.map((t) => t / 1000), ...ys];
}

const ro = typeof ResizeObserver === 'function'
  ? new ResizeObserver((entries) => {
    for (const en of entries) {
      const u = en.target.uplot;
      if (u && en.contentRect.width > 0) u.setSize({ width: Math.floor(en.contentRect.width), height: u.height });
    }
  })
  : null;

export function destroyCharts(root) {
  for (const box of root.querySelectorAll('.chart')) {
    if (box.uplot) {
      ro?.unobserve(box);
      box.uplot.destroy();
      box.uplot = null;
    }
  }
}

// A uPlot chart in `box`: series [{label, points, color?}], opts {height, yFmt,
// stepped, yMin, yMax, bars}. Shows "no data" when every series is empty.
export function lineChart(box, series, opts = {}) {
  if (box.uplot) {
    ro?.unobserve(box);
    box.uplot.destroy();
    box.uplot = null;
  }
  clear(box);
  box.classList.add('chart');
  const hasData = series.some((s) => s.points.length);
  const data = hasData ? align(series) : [[], ...series.map(() => [])];
  const yFmt = opts.yFmt || ((v) => (v == null ? '–' : +v.toFixed(3)));
  const paths = opts.stepped ? uPlot.paths.stepped({ align: 1 }) : opts.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
  const width = Math.max(200, Math.floor(box.clientWidth || box.parentElement?.clientWidth || 600));
  const u = new uPlot({
    width,
    height: opts.height || 220,
    cursor: { points: { size: 6 } },
    legend: { live: true },
    scales: {
      // A fixed x extent (the range asked for), so charts line up and a lone point is not stretched over years.
      x: opts.x ? { time: opts.time !== false, range: () => [opts.x[0] / 1000, opts.x[1] / 1000] } : { time: opts.time !== false },
      y: opts.yMin != null || opts.yMax != null
        ? { range: (u, lo, hi) => [opts.yMin ?? lo, Math.max(opts.yMax ?? hi, hi)] }
        : { range: (u, lo, hi) => [Math.min(0, lo ?? 0), hi > 0 ? hi * 1.1 : 1] },
    },
    axes: [
      { ...AXIS, values: opts.time === false ? (u, v) => v.map(opts.xFmt || String) : undefined },
      { ...AXIS, size: 66, values: (u, v) => v.map(yFmt) },
    ],
    series: [
      { label: opts.time === false ? (opts.xLabel || 'x') : 'time', value: opts.time === false ? (u, v) => (v == null ? '–' : (opts.xFmt || String)(v)) : (u, v) => (v == null ? '–' : fmtTime(v * 1000)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color || colorOf(s.label, i),
        fill: opts.fill ? (s.color || colorOf(s.label, i)) + '22' : undefined,
        width: 1.6,
        paths,
        spanGaps: false,
        value: (u, v) => yFmt(v),
      })),
    ],
  }, data, box);
  box.uplot = u;
  ro?.observe(box);
  if (!hasData) box.append(el('div.nodata', { text: opts.empty || 'no data in this range' }));
  return u;
}

// ---- canvas helpers -------------------------------------------------------------
function canvasIn(box, height) {
  clear(box);
  const c = el('canvas.heat');
  box.append(c);
  const w = Math.max(200, Math.floor(box.clientWidth || 600));
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(w * dpr);
  c.height = Math.round(height * dpr);
  c.style.width = w + 'px';
  c.style.height = height + 'px';
  const g = c.getContext('2d');
  g.scale(dpr, dpr);
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'middle';
  return { c, g, w, h: height };
}

// 0 → red, 0.5 → amber, 1 → green; null → empty cell.
export function heatColor(f) {
  if (f == null || !Number.isFinite(f)) return '#1c2129';
  const stops = [[0, [248, 81, 73]], [0.6, [210, 153, 34]], [0.9, [130, 190, 70]], [1, [63, 185, 80]]];
  let i = 1;
  while (i < stops.length - 1 && f > stops[i][0]) i++;
  const [a, ca] = stops[i - 1], [b, cb] = stops[i];
  const t = Math.max(0, Math.min(1, (f - a) / (b - a || 1)));
  const c = ca.map((v, k) => Math.round(v + (cb[k] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function legendBar(g, x, y, w) {
  for (let i = 0; i < w; i++) {
    g.fillStyle = heatColor(i / (w - 1));
    g.fillRect(x + i, y, 1, 8);
  }
  g.fillStyle = '#8b949e';
  g.textAlign = 'right';
  g.fillText('0%', x - 4, y + 4);
  g.textAlign = 'left';
  g.fillText('100% up', x + w + 4, y + 4);
}

// A 7×24 matrix (UTC, Monday first) of fractions up, null where unobserved.
export function weekHeatmap(box, matrix, days) {
  const labelW = 36, top = 18, bottom = 22;
  const rows = 7, cols = 24;
  const h = top + rows * 22 + bottom;
  const { c, g, w } = canvasIn(box, h);
  const cw = (w - labelW - 4) / cols, ch = 20;
  g.fillStyle = '#8b949e';
  g.textAlign = 'center';
  for (let hr = 0; hr < cols; hr += 3) g.fillText(String(hr).padStart(2, '0'), labelW + hr * cw + cw / 2, 8);
  for (let d = 0; d < rows; d++) {
    g.fillStyle = '#8b949e';
    g.textAlign = 'left';
    g.fillText((days?.[d] || ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'][d]), 2, top + d * 22 + ch / 2);
    for (let hr = 0; hr < cols; hr++) {
      g.fillStyle = heatColor(matrix?.[d]?.[hr]);
      g.fillRect(labelW + hr * cw + 1, top + d * 22, Math.max(1, cw - 2), ch);
    }
  }
  legendBar(g, Math.max(labelW + 40, w - 200), h - 12, 120);
  c.dataset.drawn = '1';
  c.title = 'UTC day of week × hour';
  return c;
}

// Rows of {label, cells: [fraction|null]} over [from, to].
export function rowsHeatmap(box, rows, from, to) {
  const labelW = Math.min(180, 12 + Math.max(40, ...rows.map((r) => r.label.length * 6.4)));
  const rh = 16, top = 6, bottom = 34;
  const h = top + Math.max(1, rows.length) * (rh + 2) + bottom;
  const { c, g, w } = canvasIn(box, h);
  const n = rows[0]?.cells.length || 1;
  const cw = (w - labelW - 6) / n;
  rows.forEach((r, i) => {
    const y = top + i * (rh + 2);
    g.fillStyle = '#c9d1d9';
    g.textAlign = 'left';
    g.fillText(r.label.length > 26 ? r.label.slice(0, 25) + '…' : r.label, 2, y + rh / 2);
    r.cells.forEach((f, k) => {
      g.fillStyle = heatColor(f);
      g.fillRect(labelW + k * cw, y, Math.max(1, cw - 0.5), rh);
    });
  });
  const axisY = top + rows.length * (rh + 2) + 8;
  g.fillStyle = '#8b949e';
  g.textAlign = 'left';
  g.fillText(fmtTime(from), labelW, axisY);
  g.textAlign = 'right';
  g.fillText(fmtTime(to), w - 2, axisY);
  legendBar(g, labelW + Math.max(130, (w - labelW) / 2 - 60), h - 10, 120);
  c.dataset.drawn = '1';
  return c;
}

// Lanes of marks over [from, to]: {label, marks: [{t, t2?, color, title}]}.
// A mark with t2 is a span (an incident), one without is a tick.
export function timeline(box, lanes, from, to) {
  const labelW = 96, lh = 26, top = 4, bottom = 24;
  const h = top + lanes.length * lh + bottom;
  const { c, g, w } = canvasIn(box, h);
  const x = (t) => labelW + ((t - from) / (to - from)) * (w - labelW - 6);
  const hits = [];
  lanes.forEach((lane, i) => {
    const y = top + i * lh;
    g.fillStyle = '#161b22';
    g.fillRect(labelW, y + 3, w - labelW - 6, lh - 6);
    g.fillStyle = '#8b949e';
    g.textAlign = 'left';
    g.fillText(lane.label, 2, y + lh / 2);
    for (const m of lane.marks) {
      const x1 = Math.max(labelW, x(m.t));
      g.fillStyle = m.color;
      if (m.t2 != null) {
        const x2 = Math.min(w - 6, x(m.t2));
        g.globalAlpha = 0.55;
        g.fillRect(x1, y + 6, Math.max(2, x2 - x1), lh - 12);
        g.globalAlpha = 1;
        g.fillRect(x1, y + 6, 2, lh - 12);
        hits.push({ x1, x2: Math.max(x1 + 3, x2), y, m });
      } else {
        g.fillRect(x1 - 1, y + 5, 2, lh - 10);
        hits.push({ x1: x1 - 3, x2: x1 + 3, y, m });
      }
    }
  });
  g.fillStyle = '#8b949e';
  const ticks = 6, span = to - from;
  // 'YYYY-MM-DD HH:MM:SS': seconds for short ranges, the date for long ones.
  const cut = span <= 2 * 3600e3 ? [11, 19] : span <= 2 * 86400e3 ? [11, 16] : [5, 16];
  for (let k = 0; k <= ticks; k++) {
    const t = from + (span * k) / ticks;
    g.textAlign = k === 0 ? 'left' : k === ticks ? 'right' : 'center';
    g.fillText(fmtTime(t).slice(cut[0], cut[1]), x(t), h - 10);
  }
  c.addEventListener('mousemove', (ev) => {
    const r = c.getBoundingClientRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    const hit = hits.find((q) => px >= q.x1 && px <= q.x2 && py >= q.y && py <= q.y + lh);
    c.title = hit ? hit.m.title : '';
  });
  c.dataset.drawn = '1';
  return c;
}
