/**
 * A small log-log SVG plotter for convergence plots (no browser, no plotting package): data points (hollow when the
 * fit dropped them), the fitted line over the range it was fitted on, the predicted slope as a reference triangle,
 * and horizontal lines such as a fit-accuracy floor. The axis mapping is written on the root element
 * (data-box, data-log-x, data-log-y) so that a test, or any reader, can map the drawn marks back to data values.
 */

export interface PlotPoint {
  x: number;
  y: number;
  /** Index of the point in the study's `points` (kept on the mark as data-index). */
  index: number;
  dropped: boolean;
}

export interface PlotLine {
  /** Natural-log intercept and slope: y = exp(intercept) x^slope, drawn for x in [x0, x1]. */
  intercept: number;
  slope: number;
  x0: number;
  x1: number;
  label: string;
}

export interface LogLogPlot {
  title: string;
  xLabel: string;
  yLabel: string;
  points: PlotPoint[];
  fit?: PlotLine;
  /** Reference slope drawn as a right triangle next to the data. */
  triangle?: { slope: number; label: string };
  hlines?: Array<{ y: number; label: string }>;
  /** Extra lines of text under the legend (e.g. points that cannot be drawn on a log axis). */
  notes?: string[];
  width?: number;
  height?: number;
}

const MARGIN = { left: 64, right: 16, top: 34, bottom: 46 };

/** Escape text for XML/HTML. Characters XML 1.0 forbids (control characters, lone surrogates) become U+FFFD, visibly,
 * rather than making the whole document unreadable. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Coordinates with two decimals: enough for a screen, short, and stable across runs. */
function c(v: number): string {
  return (Math.round(v * 100) / 100).toString();
}

/** A short tick label: 0.05, 20, 3e-5. */
export function formatTick(v: number): string {
  const r = Number(v.toPrecision(2));
  if (r >= 1e-3 && r < 1e5) return String(r);
  const [m, e] = r.toExponential().split('e');
  return `${Number(m)}e${Number(e)}`;
}

function logRange(values: number[]): [number, number] {
  const l = values.filter((v) => Number.isFinite(v) && v > 0).map(Math.log10);
  if (l.length === 0) return [-1, 1];
  let lo = Math.min(...l);
  let hi = Math.max(...l);
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = 0.06 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** Tick values in [10^lo, 10^hi]: decades, and 2..9 x decade. Labelled: the sparsest of 1; 1, 3; 1, 2, 5; 1..9 (x
 * decade) that puts at least three labels on the axis, so a short axis is still readable. */
function ticks(lo: number, hi: number): Array<{ v: number; major: boolean; label: boolean }> {
  const all: Array<{ v: number; m: number }> = [];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (let m = 1; m <= 9; m++) {
      const lv = Math.log10(m * 10 ** k);
      if (lv >= lo - 1e-12 && lv <= hi + 1e-12) all.push({ v: m * 10 ** k, m });
    }
  }
  const choices = [[1], [1, 3], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
  const labelled = choices.find((c) => all.filter((t) => c.includes(t.m)).length >= 3) ?? choices[3];
  return all.map((t) => ({ v: t.v, major: t.m === 1, label: labelled.includes(t.m) }));
}

/** Split a title into at most two lines of about `width` characters at spaces; a longer rest is ended with an
 * ellipsis (the full title is the SVG's <title> and is in the report's text). */
export function wrapText(text: string, width: number): string[] {
  if (text.length <= width) return [text];
  const cut = (t: string) => {
    const i = t.lastIndexOf(' ', width);
    return i > width / 2 ? i : width;
  };
  const i = cut(text);
  const first = text.slice(0, i);
  const rest = text.slice(i).trimStart();
  return [first, rest.length <= width ? rest : `${rest.slice(0, width - 1)}…`];
}

/** Render the plot as a standalone SVG document (no external fonts, styles or scripts). */
export function renderLogLogPlot(p: LogLogPlot): string {
  const W = p.width ?? 440;
  const H = p.height ?? 320;
  const titleLines = wrapText(p.title, Math.floor(W / 7));
  const bx = MARGIN.left;
  const by = MARGIN.top + 14 * (titleLines.length - 1);
  const bw = W - MARGIN.left - MARGIN.right;
  const bh = H - by - MARGIN.bottom;
  const drawn = p.points.filter((q) => Number.isFinite(q.x) && q.x > 0 && Number.isFinite(q.y) && q.y > 0);
  const fitOk = p.fit && [p.fit.intercept, p.fit.slope, p.fit.x0, p.fit.x1].every(Number.isFinite) && p.fit.x0 > 0;
  // exp(a + p ln x), not exp(a) x^p: the latter underflows to 0 x Infinity for steep slopes over small x.
  const fitY = (x: number) => Math.exp(p.fit!.intercept + p.fit!.slope * Math.log(x));

  const xs = drawn.map((q) => q.x);
  const ys = drawn.map((q) => q.y);
  if (fitOk) ys.push(fitY(p.fit!.x0), fitY(p.fit!.x1));
  for (const h of p.hlines ?? []) if (Number.isFinite(h.y) && h.y > 0) ys.push(h.y);

  // The reference triangle: its horizontal leg spans 30% of the data's log-x range starting 15% in, and it sits below
  // the fitted line (or the data) by a quarter of the data's log-y span, so it reads as a slope, not as data.
  let tri: Array<[number, number]> | undefined;
  if (p.triangle && Number.isFinite(p.triangle.slope) && xs.length > 0) {
    const [dlx0, dlx1] = logRange(xs);
    const dspan = Math.max(dlx1 - dlx0, 0.2);
    const la = dlx0 + 0.15 * dspan;
    const lb = la + 0.3 * dspan;
    const [dly0, dly1] = logRange(ys);
    const yspan = Math.max(dly1 - dly0, 0.3);
    const xa = 10 ** la;
    const xb = 10 ** lb;
    const onLine = fitOk ? Math.log10(fitY(xa)) : Math.log10(Math.min(...drawn.map((q) => q.y)));
    const shift = (p.triangle.slope <= 0 ? -1 : 1) * 0.25 * yspan;
    const lya = onLine + shift;
    const lyb = lya + p.triangle.slope * (lb - la);
    tri = [
      [xa, 10 ** lya],
      [xb, 10 ** lyb],
      [xa, 10 ** lyb],
    ];
    ys.push(10 ** lya, 10 ** lyb);
  }

  const [lx0, lx1] = logRange(xs.length ? xs : [1, 10]);
  const [ly0, ly1] = logRange(ys.length ? ys : [1, 10]);
  const px = (x: number) => bx + ((Math.log10(x) - lx0) / (lx1 - lx0)) * bw;
  const py = (y: number) => by + bh - ((Math.log10(y) - ly0) / (ly1 - ly0)) * bh;

  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
      `font-family="sans-serif" font-size="11" data-box="${bx} ${by} ${bw} ${bh}" ` +
      `data-log-x="${lx0} ${lx1}" data-log-y="${ly0} ${ly1}">`,
  );
  o.push(`<title>${escapeXml(p.title)}</title>`);
  o.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  titleLines.forEach((t, i) => {
    o.push(`<text x="${c(W / 2)}" y="${18 + 14 * i}" text-anchor="middle" font-size="12" font-weight="bold">${escapeXml(t)}</text>`);
  });
  o.push(`<g class="grid" stroke-width="1">`);
  for (const t of ticks(lx0, lx1)) {
    const x = c(px(t.v));
    o.push(`<line x1="${x}" y1="${by}" x2="${x}" y2="${by + bh}" stroke="${t.major ? '#d0d0d0' : '#eeeeee'}"/>`);
  }
  for (const t of ticks(ly0, ly1)) {
    const y = c(py(t.v));
    o.push(`<line x1="${bx}" y1="${y}" x2="${bx + bw}" y2="${y}" stroke="${t.major ? '#d0d0d0' : '#eeeeee'}"/>`);
  }
  o.push('</g>');
  o.push(`<rect x="${bx}" y="${by}" width="${bw}" height="${bh}" fill="none" stroke="#333333"/>`);
  o.push('<g class="ticks">');
  for (const t of ticks(lx0, lx1).filter((t) => t.label)) {
    o.push(`<text x="${c(px(t.v))}" y="${by + bh + 14}" text-anchor="middle">${formatTick(t.v)}</text>`);
  }
  for (const t of ticks(ly0, ly1).filter((t) => t.label)) {
    o.push(`<text x="${bx - 4}" y="${c(py(t.v) + 4)}" text-anchor="end">${formatTick(t.v)}</text>`);
  }
  o.push('</g>');
  o.push(`<text x="${c(bx + bw / 2)}" y="${H - 10}" text-anchor="middle">${escapeXml(p.xLabel)}</text>`);
  o.push(`<text transform="translate(13 ${c(by + bh / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(p.yLabel)}</text>`);

  for (const h of p.hlines ?? []) {
    if (!(Number.isFinite(h.y) && h.y > 0)) continue;
    const y = c(py(h.y));
    o.push(
      `<g class="hline" data-y="${h.y}"><line x1="${bx}" y1="${y}" x2="${bx + bw}" y2="${y}" stroke="#b00020" stroke-dasharray="6 4"/>` +
        `<text x="${bx + bw - 4}" y="${c(py(h.y) - 4)}" text-anchor="end" fill="#b00020">${escapeXml(h.label)}</text></g>`,
    );
  }
  if (fitOk) {
    const f = p.fit!;
    o.push(
      `<line class="fit" x1="${c(px(f.x0))}" y1="${c(py(fitY(f.x0)))}" x2="${c(px(f.x1))}" y2="${c(py(fitY(f.x1)))}" ` +
        `stroke="#1f77b4" stroke-width="2" data-slope="${f.slope}" data-intercept="${f.intercept}"/>`,
    );
  }
  if (tri) {
    const pts = tri.map(([x, y]) => `${c(px(x))},${c(py(y))}`).join(' ');
    o.push(`<polygon class="triangle" points="${pts}" fill="#fff3e0" stroke="#e65100" data-slope="${p.triangle!.slope}"/>`);
    o.push(`<text x="${c(px(tri[0][0]) - 4)}" y="${c((py(tri[0][1]) + py(tri[2][1])) / 2 + 4)}" text-anchor="end" fill="#e65100">${escapeXml(p.triangle!.label)}</text>`);
  }
  o.push('<g class="points">');
  for (const q of drawn) {
    const fill = q.dropped ? '#ffffff' : '#1f77b4';
    o.push(`<circle class="pt${q.dropped ? ' dropped' : ''}" data-index="${q.index}" cx="${c(px(q.x))}" cy="${c(py(q.y))}" r="3.5" fill="${fill}" stroke="#1f77b4" stroke-width="1.5"/>`);
  }
  o.push('</g>');

  const legend: Array<{ text: string; color: string }> = [];
  if (fitOk) legend.push({ text: p.fit!.label, color: '#1f77b4' });
  if (tri) legend.push({ text: p.triangle!.label, color: '#e65100' });
  if (drawn.some((q) => q.dropped)) legend.push({ text: 'hollow: dropped from the fit', color: '#333333' });
  for (const n of p.notes ?? []) legend.push({ text: n, color: '#333333' });
  const skipped = p.points.length - drawn.length;
  if (skipped > 0) legend.push({ text: `${skipped} point(s) not positive: not drawn`, color: '#b00020' });
  // The legend goes in the corner of the box with the fewest marks (decaying data leave the top right empty, growing
  // data the bottom right).
  const marks = drawn.map((q) => [px(q.x), py(q.y)]);
  const corners = [
    { right: true, top: true },
    { right: true, top: false },
    { right: false, top: true },
    { right: false, top: false },
  ].map((k) => ({
    ...k,
    n: marks.filter(([x, y]) => (k.right ? x > bx + bw * 0.45 : x < bx + bw * 0.55) && (k.top ? y < by + bh * 0.35 : y > by + bh * 0.65)).length,
  }));
  const corner = corners.reduce((a, b) => (b.n < a.n ? b : a));
  legend.forEach((l, i) => {
    const x = corner.right ? bx + bw - 6 : bx + 6;
    const y = corner.top ? by + 14 + 13 * i : by + bh - 6 - 13 * (legend.length - 1 - i);
    o.push(`<text class="legend" x="${x}" y="${y}" text-anchor="${corner.right ? 'end' : 'start'}" fill="${l.color}">${escapeXml(l.text)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
