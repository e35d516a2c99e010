/**
 * A small SVG line-chart writer for the study's figures (no plotting dependency): panels with
 * linear or log axes, tick labels, one polyline per series, and point markers. A point whose y is
 * not finite is drawn as an 'x' on the panel's top edge (a diverged run).
 */

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
}

export interface Panel {
  title: string;
  x: { label: string; log?: boolean };
  y: { label: string; log?: boolean; min?: number; max?: number };
  series: readonly Series[];
  /** Corner of the plot area for the legend (default top right): pick one the data leaves empty. */
  legend?: 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
}

const W = 420, H = 300;
const M = { left: 62, right: 14, top: 30, bottom: 46 };

/** 10^e exactly as written (10 ** -4 is 0.00009999999999999999 in floating point). */
const pow10 = (e: number) => Number(`1e${e}`);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Short tick text: 1e-4, 0.003, 2.5, 120 (exponents below 1e-3 and from 1e4). */
export function tickText(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e4) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** Tick values covering [lo, hi]: powers of ten on a log axis, 1-2-5 steps on a linear one. */
export function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(pow10(e));
    return out.filter((t) => t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9));
  }
  const span = hi - lo || 1;
  const raw = span / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function extent(values: number[], log: boolean, min?: number, max?: number): [number, number] {
  const v = values.filter((x) => Number.isFinite(x) && (!log || x > 0));
  let lo = min ?? (v.length ? Math.min(...v) : 0);
  let hi = max ?? (v.length ? Math.max(...v) : 1);
  if (lo === hi) [lo, hi] = log ? [lo / 2, hi * 2] : [lo - 1, hi + 1];
  if (log) return [pow10(Math.floor(Math.log10(lo))), pow10(Math.ceil(Math.log10(hi)))];
  const pad = (hi - lo) * 0.05;
  return [min ?? lo - pad, max ?? hi + pad];
}

function panel(p: Panel, ox: number, oy: number): string {
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0]));
  const ys = p.series.flatMap((s) => s.points.map((q) => q[1]));
  const [x0, x1] = extent(xs, !!p.x.log);
  const [y0, y1] = extent(ys, !!p.y.log, p.y.min, p.y.max);
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const f = (v: number, lo: number, hi: number, log?: boolean) => (log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo));
  const X = (v: number) => ox + M.left + pw * f(v, x0, x1, p.x.log);
  const Y = (v: number) => oy + M.top + ph * (1 - Math.min(1, Math.max(0, f(v, y0, y1, p.y.log))));
  const out: string[] = [];
  out.push(`<text x="${ox + W / 2}" y="${oy + 18}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${ox + M.left}" y="${oy + M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (const t of ticks(x0, x1, !!p.x.log)) {
    out.push(`<line x1="${X(t)}" y1="${oy + M.top + ph}" x2="${X(t)}" y2="${oy + M.top + ph + 4}" stroke="#888"/>`);
    out.push(`<text x="${X(t)}" y="${oy + M.top + ph + 16}" text-anchor="middle" font-size="11">${tickText(t)}</text>`);
  }
  for (const t of ticks(y0, y1, !!p.y.log)) {
    out.push(`<line x1="${ox + M.left - 4}" y1="${Y(t)}" x2="${ox + M.left + pw}" y2="${Y(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${ox + M.left - 7}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${tickText(t)}</text>`);
  }
  out.push(`<text x="${ox + M.left + pw / 2}" y="${oy + H - 8}" text-anchor="middle" font-size="12">${esc(p.x.label)}</text>`);
  out.push(`<text transform="translate(${ox + 14},${oy + M.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.y.label)}</text>`);
  for (const s of p.series) {
    const finite = s.points.filter((q) => Number.isFinite(q[1]) && (!p.y.log || q[1] > 0));
    if (finite.length > 1) {
      const d = finite.map((q) => `${X(q[0]).toFixed(1)},${Y(q[1]).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    }
    for (const q of s.points) {
      if (Number.isFinite(q[1])) {
        out.push(`<circle cx="${X(q[0]).toFixed(1)}" cy="${Y(q[1]).toFixed(1)}" r="2.6" fill="${s.color}"/>`);
      } else {
        const cx = X(q[0]), cy = oy + M.top + 6;
        out.push(`<path d="M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}" stroke="${s.color}" stroke-width="2"/>`);
      }
    }
  }
  // Legend, in a corner inside the plot.
  const corner = p.legend ?? 'top-right';
  const legendHeight = 14 * p.series.length;
  p.series.forEach((s, i) => {
    const lx = ox + M.left + (corner.endsWith('left') ? 10 : pw - 120);
    const ly = oy + M.top + (corner.startsWith('top') ? 12 : ph - legendHeight + 6) + 14 * i;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 16}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${lx + 20}" y="${ly}" font-size="10">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Panels in a grid of `columns`, in one SVG document, with an optional caption below. */
export function svgFigure(panels: readonly Panel[], options: { caption?: string; columns?: number } = {}): string {
  const columns = Math.max(1, Math.min(options.columns ?? panels.length, panels.length));
  const rows = Math.ceil(panels.length / columns);
  const height = rows * H + (options.caption ? 22 : 0);
  const body = panels.map((p, i) => panel(p, (i % columns) * W, Math.floor(i / columns) * H)).join('\n');
  const cap = options.caption ? `<text x="8" y="${rows * H + 15}" font-size="11" fill="#444">${esc(options.caption)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * columns}" height="${height}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n${cap}\n</svg>\n`;
}

/** Colors for a sweep, from cool (small) to warm (large). */
export function sweepColors(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `hsl(${Math.round(240 - (240 * i) / Math.max(1, n - 1))}, 70%, 45%)`);
}
