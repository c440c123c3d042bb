import type { RateFit, StudyResult } from '../convergence/types.ts';

/**
 * The report's figures as Vega-Lite specifications (https://vega.github.io/vega-lite/), built from the study results
 * alone: one figure per fitted rate, and one comparison figure per study whose results are series of one kind (the
 * observation sets of the training-size and worst-case studies: same abscissa, same measures). The specs carry their
 * data inline and are saved beside each SVG, so a reader can restyle or re-plot a figure without running anything.
 *
 * Choices that make the figures readable at a glance: log-log axes whose tick values are chosen here (every decade,
 * plus intermediate ticks that leave room between labels at the figure's size, estimated with Vega's own no-canvas
 * text width, which is wider than real fonts: see logTicks); the fitted line over the range it was fitted on; the
 * predicted slope as a line through the data's log-centroid spanning the data (not a triangle off to the side); the
 * floor as a band up to the level below which points are dropped; dropped points hollow, with the rule that dropped
 * them in the legend and the full reason in the point's tooltip. Legends sit outside the plot area, so they cannot
 * cover data or each other.
 */

export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT_SIZE = 11;
/** Vega's text width estimate without a canvas (vega-scenegraph estimateWidth): 0.8 em per character. */
export const estimateWidth = (s: string, fontSize = FONT_SIZE): number => Math.floor(0.8 * s.length * fontSize);
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const FIT_COLOR = '#1f77b4';
const PRED_COLOR = '#e65100';
const FLOOR_COLOR = '#b00020';

const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const pos = (v: unknown): v is number => fin(v) && v > 0;

/** A tick label as the axis prints it (the labelExpr below does the same in Vega): 0.05, 20, 1.5e-5, 2e5. */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  const [m, e] = v.toExponential().split('e');
  return `${Number(Number(m).toPrecision(2))}e${Number(e)}`;
}
/** Vega expression equal to tickLabel (d3-format's '~r' and '~e' trim zeros; we drop the '+' of the exponent). */
const LABEL_EXPR =
  "abs(datum.value) >= 0.001 && abs(datum.value) < 10000 ? format(datum.value, '.3~r') : replace(replace(format(datum.value, '.2~e'), 'e+', 'e'), '−', '-')";

/** A log domain [lo, hi] in decades around positive values, padded by 8% of the span (at least 0.06 decades). */
export function logDomain(values: number[]): [number, number] {
  const l = values.filter(pos).map(Math.log10);
  if (l.length === 0) return [0, 1];
  const lo = Math.min(...l);
  const hi = Math.max(...l);
  const pad = Math.max(0.08 * (hi - lo), 0.06);
  return [lo - pad, hi + pad];
}

const MANTISSAS = [[1], [1, 3], [1, 2, 5], [1, 1.5, 2, 3, 5, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]];

/**
 * Tick values for a log axis over [10^lo, 10^hi] drawn `length` px long: every decade inside, plus intermediate
 * mantissas tried from sparse to dense (1-3, 1-2-5, 1-1.5-2-3-5-7, 1..9, 1..9 with 1.2, 1.5, 2.5): the first set that
 * gives two labels and about one per 60 px, or else the densest whose labels keep a 6 px gap (horizontal: Vega's
 * estimated label widths; vertical: the font height). If even the decades crowd, every k-th decade is labelled. A
 * domain of at least 0.12 decades (logDomain pads to that) always holds a tick.
 */
export function logTicks(lo: number, hi: number, length: number, horizontal: boolean): number[] {
  const px = (v: number) => ((Math.log10(v) - lo) / (hi - lo)) * length;
  const fits = (vals: number[]) =>
    vals.every((v, i) => {
      if (i === 0) return true;
      const need = horizontal ? (estimateWidth(tickLabel(vals[i - 1])) + estimateWidth(tickLabel(v))) / 2 + 6 : FONT_SIZE + 6;
      return px(v) - px(vals[i - 1]) >= need;
    });
  const candidates = (ms: number[]) => {
    const out: number[] = [];
    for (let k = Math.floor(lo) - 1; k <= Math.ceil(hi); k++) {
      for (const m of ms) {
        const v = Number((m * 10 ** k).toPrecision(3));
        const lv = Math.log10(v);
        if (lv >= lo - 1e-9 && lv <= hi + 1e-9) out.push(v);
      }
    }
    return out;
  };
  let best: number[] | undefined;
  for (const ms of MANTISSAS) {
    const vals = candidates(ms);
    if (!fits(vals)) break;
    best = vals;
    if (vals.length >= 2 && ms.length > 1 && vals.length >= length / 60) break; // dense enough: do not clutter
  }
  if (best) return best;
  // Decades crowd: label every k-th one.
  for (let step = 2; step < 400; step++) {
    const vals = candidates([1]).filter((v) => Math.round(Math.log10(v)) % step === 0);
    if (fits(vals)) return vals;
  }
  return [];
}

function logAxisScale(domain: [number, number]): Record<string, unknown> {
  return { type: 'log', domain: [10 ** domain[0], 10 ** domain[1]], nice: false };
}

function logAxis(domain: [number, number], length: number, horizontal: boolean, title: string): Record<string, unknown> {
  return {
    title,
    values: logTicks(domain[0], domain[1], length, horizontal),
    labelExpr: LABEL_EXPR,
    labelOverlap: false,
    labelFlush: false,
    labelBound: false,
    grid: true,
    gridColor: '#e4e4e4',
  };
}

/** Split text into lines of at most `width` characters at spaces (words longer than a line are cut). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const w = word.length > width ? `${word.slice(0, width - 1)}…` : word;
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.length ? lines : [''];
}

const fmt3 = (v: number) => (fin(v) ? v.toFixed(3) : 'n/a');
/** Four significant digits for tooltips. */
const tickText = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? String(Number(v.toPrecision(4))) : v.toExponential(3));

/** The legend text of a dropped point: the rule that dropped it (the reason up to its first ':'). */
export function dropRuleOf(reason: string): string {
  const i = reason.indexOf(':');
  return `dropped: ${(i > 0 ? reason.slice(0, i) : reason).trim().slice(0, 40)}`;
}

function predictedText(f: Pick<RateFit, 'predicted' | 'kind' | 'tolerance'>): string {
  return f.kind === 'sharp' ? `predicted slope ${f.predicted} (sharp, ±${f.tolerance})` : `bound: slope ≤ ${f.predicted} + ${f.tolerance}`;
}

/** Two points of the line of slope `p` (log-log) through the log-centroid (cx, cy), over [x0, x1]. */
function lineThrough(p: number, cx: number, cy: number, x0: number, x1: number): Array<{ x: number; y: number }> {
  const y = (x: number) => 10 ** (cy + p * (Math.log10(x) - cx));
  return [{ x: x0, y: y(x0) }, { x: x1, y: y(x1) }];
}

function centroid(pts: Array<{ x: number; y: number }>): [number, number] {
  const n = pts.length;
  return [pts.reduce((s, q) => s + Math.log10(q.x), 0) / n, pts.reduce((s, q) => s + Math.log10(q.y), 0) / n];
}

const fitY = (f: RateFit, x: number) => Math.exp(f.intercept + f.slope * Math.log(x));

/** Floor multiple below which a study drops points (settings.floorFactor where the study records it, else 1). */
function floorFactorOf(r: StudyResult): number {
  const ff = (r.settings as Record<string, unknown> | undefined)?.floorFactor;
  return fin(ff) && ff >= 1 ? ff : 1;
}

const W = 340;
const H = 230;

/** The figure of one fitted rate: points, fit, predicted slope, floor band. */
export function rateFigure(r: StudyResult, f: RateFit): VegaLiteSpec {
  const droppedBy = new Map(f.dropped.map((d) => [d.index, d.reason]));
  const points = r.points
    .map((p, i) => ({ i, x: p.x, y: p.errors[f.measure] }))
    .filter((q) => pos(q.x) && pos(q.y))
    .map((q) => ({
      index: q.i,
      x: q.x,
      error: q.y,
      status: droppedBy.has(q.i) ? dropRuleOf(droppedBy.get(q.i)!) : 'used in the fit',
      reason: droppedBy.get(q.i) ?? 'used in the fit',
    }));
  const notDrawn = r.points.length - points.length;
  const hasFit = fin(f.slope) && fin(f.intercept) && pos(f.range?.[0]) && pos(f.range?.[1]);
  const floor = r.floor?.[f.measure];
  const hasFloor = pos(floor);
  const ff = floorFactorOf(r);

  const lines: Array<{ x: number; y: number; line: string }> = [];
  const lineNames: string[] = [];
  const lineColors: string[] = [];
  const lineDash: number[][] = [];
  if (hasFit) {
    const name = `fit: slope ${fmt3(f.slope)}${fin(f.stderr) ? ` ± ${fmt3(f.stderr)}` : ''}`;
    lines.push(...[f.range[0], f.range[1]].map((x) => ({ x, y: fitY(f, x), line: name })));
    lineNames.push(name);
    lineColors.push(FIT_COLOR);
    lineDash.push([1, 0]);
  }
  const used = points.filter((q) => !droppedBy.has(q.index));
  const anchor = used.length ? used : points;
  if (fin(f.predicted) && anchor.length > 0) {
    const [cx, cy] = centroid(anchor.map((q) => ({ x: q.x, y: q.error })));
    const xs = points.map((q) => q.x);
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs);
    const name = `${predictedText(f)}, through the ${used.length ? 'fitted ' : ''}points`;
    if (x1 > x0) {
      lines.push(...lineThrough(f.predicted, cx, cy, x0, x1).map((q) => ({ ...q, line: name })));
      lineNames.push(name);
      lineColors.push(PRED_COLOR);
      lineDash.push([7, 4]);
    }
  }
  if (hasFloor) {
    const name = ff > 1 ? `floor ${tickLabel(floor)} (band: up to ${ff} × floor, dropped)` : `floor ${tickLabel(floor)} (band: at or below it)`;
    lineNames.push(name);
    lineColors.push(FLOOR_COLOR);
    lineDash.push([2, 2]);
  }

  const yVals = [...points.map((q) => q.error), ...lines.map((q) => q.y), ...(hasFloor ? [floor, floor * ff] : [])];
  const xDom = logDomain(points.length ? points.map((q) => q.x) : r.points.map((p) => p.x));
  const yDom = logDomain(yVals);
  const x = { field: 'x', type: 'quantitative', scale: logAxisScale(xDom), axis: logAxis(xDom, W, true, r.xLabel) };
  const y = { field: 'y', type: 'quantitative', scale: logAxisScale(yDom), axis: logAxis(yDom, H, false, `${f.measure} error`) };
  const lineLegend = { title: null, orient: 'bottom', direction: 'vertical', symbolType: 'stroke', labelLimit: 0, symbolStrokeWidth: 2 };

  const layer: Array<Record<string, unknown>> = [];
  if (hasFloor) {
    layer.push({
      data: { values: [{ y: 10 ** yDom[0], y2: Math.min(floor * ff, 10 ** yDom[1]) }] },
      mark: { type: 'rect', color: FLOOR_COLOR, opacity: 0.09 },
      encoding: { y: { ...y, field: 'y2' }, y2: { field: 'y' } },
    });
    layer.push({
      data: { values: [{ y: floor, line: lineNames[lineNames.length - 1] }] },
      mark: { type: 'rule', strokeWidth: 1.5 },
      encoding: {
        y,
        color: { field: 'line', type: 'nominal', scale: { domain: lineNames, range: lineColors }, legend: lineLegend },
        strokeDash: { field: 'line', type: 'nominal', scale: { domain: lineNames, range: lineDash }, legend: lineLegend },
      },
    });
  }
  if (lines.length) {
    layer.push({
      data: { values: lines },
      mark: { type: 'line', strokeWidth: 2, clip: true },
      encoding: {
        x,
        y,
        detail: { field: 'line' },
        color: { field: 'line', type: 'nominal', scale: { domain: lineNames, range: lineColors }, legend: lineLegend },
        strokeDash: { field: 'line', type: 'nominal', scale: { domain: lineNames, range: lineDash }, legend: lineLegend },
      },
    });
  }
  const statuses = ['used in the fit', ...new Set(points.map((q) => q.status).filter((s) => s !== 'used in the fit'))];
  const shapes = ['circle', 'circle', 'square', 'triangle-up', 'diamond', 'cross'];
  if (points.length) {
    const pointLegend = { title: null, orient: 'right', direction: 'vertical', labelLimit: 0 };
    layer.push({
      data: {
        values: points.map((q) => ({
          index: q.index, x: q.x, y: q.error, status: q.status,
          tip: `point ${q.index}: ${r.xLabel} ${tickText(q.x)}, ${f.measure} error ${tickText(q.error)}; ${q.reason}`,
        })),
      },
      mark: { type: 'point', size: 50, strokeWidth: 1.6, opacity: 1, color: FIT_COLOR },
      encoding: {
        x,
        y,
        fill: { field: 'status', type: 'nominal', scale: { domain: statuses, range: statuses.map((s, i) => (i === 0 ? FIT_COLOR : '#ffffff')) }, legend: pointLegend },
        shape: { field: 'status', type: 'nominal', scale: { domain: statuses, range: statuses.map((_, i) => shapes[Math.min(i, shapes.length - 1)]) }, legend: pointLegend },
        tooltip: { field: 'tip', type: 'nominal' },
        description: { field: 'tip', type: 'nominal' },
      },
    });
  } else {
    layer.push({ data: { values: [{ x: 10 ** ((xDom[0] + xDom[1]) / 2), y: 10 ** ((yDom[0] + yDom[1]) / 2) }] }, mark: { type: 'point', opacity: 0 }, encoding: { x, y } });
  }
  const sub = [
    `verdict: ${f.verdict}`,
    `${fin(f.predicted) ? `${predictedText(f)}` : 'no rate predicted (a hypothesis)'}; observed slope ${fin(f.slope) ? `${fmt3(f.slope)}${fin(f.stderr) ? ` ± ${fmt3(f.stderr)}` : ''}` : 'n/a'}`,
    ...(notDrawn > 0 ? [`${notDrawn} point(s) with a zero, negative or non-finite error are not drawn`] : []),
  ];
  // Wrapped for real fonts (about 0.6 em a character); Vega lays titles out with its wider estimate, so the wrapped
  // lines only make the figure wider, never overlap.
  const chars = Math.floor((W + 60) / (0.62 * 12));
  const subChars = Math.floor((W + 60) / (0.6 * 10));
  return {
    $schema: SCHEMA,
    description: `${r.label}: ${f.measure} against ${r.xLabel} (log-log)`,
    width: W,
    height: H,
    background: 'white',
    padding: 8,
    title: { text: wrap(`${r.label}: ${f.measure}`, chars), subtitle: sub.flatMap((s) => wrap(s, subChars)), anchor: 'start', fontSize: 12, subtitleFontSize: 10, limit: 0 },
    config: { font: 'sans-serif', axis: { labelFontSize: FONT_SIZE, titleFontSize: FONT_SIZE }, legend: { labelFontSize: 10, rowPadding: 3 } },
    layer,
  };
}

/** A study run whose results compare series (e.g. observation sets): what its comparison figure shows. */
export interface ComparisonPlan {
  measures: string[];
  series: string[];
}

/**
 * Whether a study's results form one comparison (two or more results of one study with one abscissa and at least
 * one fitted measure in common, like the observation sets of the training-size and worst-case studies), and which
 * measures it shows: those fitted in every result, in the first result's order.
 */
export function comparisonPlan(results: StudyResult[]): ComparisonPlan | undefined {
  if (results.length < 2) return undefined;
  const [a] = results;
  if (!results.every((r) => r.study === a.study && r.xLabel === a.xLabel)) return undefined;
  const measures = a.fits.map((f) => f.measure).filter((m, i, all) => all.indexOf(m) === i && results.every((r) => r.fits.some((f) => f.measure === m)));
  if (measures.length === 0) return undefined;
  return { measures, series: results.map((r) => r.label) };
}

/** One panel per measure, every result (series) in each: points (hollow where dropped), fitted lines, floors, and
 * the predicted slopes (every distinct one among the series' fits of that measure, or of `measure:...` variants such
 * as the P5 bound) as lines through the fitted points of the series that carry them. */
export function comparisonFigure(results: StudyResult[], plan: ComparisonPlan, title: string): VegaLiteSpec {
  const PW = 270;
  const PH = 220;
  const seriesTitle = results.every((r) => typeof (r.settings as Record<string, unknown> | undefined)?.observationSet === 'string') ? 'observation set' : 'result';
  const seriesNames = plan.series.map((s, i) => (plan.series.indexOf(s) === i ? s : `${s} (${i + 1})`));
  const colors = seriesNames.map((_, i) => COLORS[i % COLORS.length]);
  const panels = plan.measures.map((m) => {
    const pts: Array<Record<string, unknown>> = [];
    const fitLines: Array<Record<string, unknown>> = [];
    const floors: Array<Record<string, unknown>> = [];
    const refGroups = new Map<string, { p: number; anchor: Array<{ x: number; y: number }>; xs: number[] }>();
    results.forEach((r, si) => {
      const series = seriesNames[si];
      const f = r.fits.find((x) => x.measure === m)!;
      const droppedBy = new Map(f.dropped.map((d) => [d.index, d.reason]));
      const drawn = r.points.map((p, i) => ({ i, x: p.x, y: p.errors[m] })).filter((q) => pos(q.x) && pos(q.y));
      for (const q of drawn) {
        const tip = `${series}, point ${q.i}: ${r.xLabel} ${tickText(q.x)}, ${m} error ${tickText(q.y)}; ${droppedBy.get(q.i) ?? 'used in the fit'} (${m} verdict: ${f.verdict})`;
        pts.push({ series, index: q.i, x: q.x, y: q.y, used: !droppedBy.has(q.i), tip });
      }
      if (fin(f.slope) && fin(f.intercept) && pos(f.range?.[0]) && pos(f.range?.[1])) {
        for (const x of f.range) fitLines.push({ series, x, y: fitY(f, x), slope: f.slope });
      }
      const fl = r.floor?.[m];
      if (pos(fl)) floors.push({ series, y: fl });
      const used = drawn.filter((q) => !droppedBy.has(q.i));
      for (const g of r.fits.filter((x) => (x.measure === m || x.measure.startsWith(`${m}:`)) && fin(x.predicted))) {
        const key = `${g.measure === m ? '' : `${g.measure.slice(m.length + 1)} `}${g.kind === 'sharp' ? `slope ${g.predicted} (sharp)` : `bound ${g.predicted}`}`;
        const grp = refGroups.get(key) ?? { p: g.predicted, anchor: [], xs: [] };
        const gDropped = new Set(g.dropped.map((d) => d.index));
        const gUsed = drawn.filter((q) => !gDropped.has(q.i));
        grp.anchor.push(...(gUsed.length ? gUsed : used.length ? used : drawn));
        grp.xs.push(...drawn.map((q) => q.x));
        refGroups.set(key, grp);
      }
    });
    const refs: Array<Record<string, unknown>> = [];
    const refNames: string[] = [];
    for (const [key, g] of refGroups) {
      if (g.anchor.length === 0) continue;
      const x0 = Math.min(...g.xs);
      const x1 = Math.max(...g.xs);
      if (!(x1 > x0)) continue;
      const [cx, cy] = centroid(g.anchor);
      const name = `predicted: ${key}`;
      refNames.push(name);
      for (const q of lineThrough(g.p, cx, cy, x0, x1)) refs.push({ ref: name, ...q });
    }
    const xDom = logDomain(pts.map((q) => q.x as number));
    const yDom = logDomain([...pts.map((q) => q.y as number), ...fitLines.map((q) => q.y as number), ...floors.map((q) => q.y as number), ...refs.map((q) => q.y as number)]);
    const x = { field: 'x', type: 'quantitative', scale: logAxisScale(xDom), axis: logAxis(xDom, PW, true, r0xLabel(results)) };
    const y = { field: 'y', type: 'quantitative', scale: logAxisScale(yDom), axis: logAxis(yDom, PH, false, `${m} error`) };
    const color = { field: 'series', type: 'nominal', title: seriesTitle, scale: { domain: seriesNames, range: colors }, legend: { orient: 'bottom', direction: 'horizontal', labelLimit: 0, columns: Math.min(seriesNames.length, 5) } };
    const layer: Array<Record<string, unknown>> = [];
    if (floors.length) {
      layer.push({ data: { values: floors }, mark: { type: 'rule', strokeDash: [2, 3], strokeWidth: 1.2, opacity: 0.8 }, encoding: { y, color } });
    }
    if (refs.length) {
      layer.push({
        data: { values: refs },
        mark: { type: 'line', color: '#333333', strokeWidth: 1.5, clip: true },
        encoding: {
          x,
          y,
          detail: { field: 'ref' },
          strokeDash: { field: 'ref', type: 'nominal', title: null, scale: { domain: refNames, range: refNames.map((_, i) => [[7, 4], [3, 3], [10, 3, 2, 3]][i % 3]) }, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 0, symbolType: 'stroke' } },
        },
      });
    }
    if (fitLines.length) {
      layer.push({ data: { values: fitLines }, mark: { type: 'line', strokeWidth: 1.8, clip: true }, encoding: { x, y, color, detail: { field: 'series' } } });
    }
    if (pts.length === 0) {
      // Nothing drawable in this panel: an invisible mark keeps the axes.
      layer.push({ data: { values: [{ x: 10 ** ((xDom[0] + xDom[1]) / 2), y: 10 ** ((yDom[0] + yDom[1]) / 2) }] }, mark: { type: 'point', opacity: 0 }, encoding: { x, y } });
    } else {
      layer.push({
        data: { values: pts },
        mark: { type: 'point', size: 42, strokeWidth: 1.5, opacity: 1 },
        encoding: {
          x,
          y,
          color,
          // Filled in the series' colour when the fit used the point; the legend is the colour legend (same field).
          fill: { condition: { test: 'datum.used', field: 'series', type: 'nominal', title: seriesTitle, scale: { domain: seriesNames, range: colors }, legend: color.legend }, value: '#ffffff' },
          tooltip: { field: 'tip', type: 'nominal' },
          description: { field: 'tip', type: 'nominal' },
        },
      });
    }
    return { width: PW, height: PH, title: { text: m, fontSize: 12 }, layer };
  });
  const chars = Math.floor((plan.measures.length * (PW + 70)) / (0.8 * 13));
  return {
    $schema: SCHEMA,
    description: `${title}: every ${seriesTitle} in one figure per measure (log-log)`,
    background: 'white',
    padding: 8,
    title: {
      text: wrap(title, chars),
      subtitle: wrap(`filled: used in the fit; hollow: dropped (the tooltip gives the rule); solid lines: fits; dotted: each ${seriesTitle}'s floor; dark dashed: predicted slopes through the fitted points`, Math.floor((plan.measures.length * (PW + 70)) / 8)),
      anchor: 'start',
      fontSize: 13,
      subtitleFontSize: 10,
      limit: 0,
    },
    config: { font: 'sans-serif', axis: { labelFontSize: FONT_SIZE, titleFontSize: FONT_SIZE }, legend: { labelFontSize: 10, rowPadding: 3 } },
    hconcat: panels,
    resolve: { scale: { x: 'independent', y: 'independent', strokeDash: 'independent' }, legend: { strokeDash: 'independent' } },
  };
}

function r0xLabel(results: StudyResult[]): string {
  return results[0].xLabel;
}
