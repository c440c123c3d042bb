/**
 * The figures contain the data. Each rate figure's Vega-Lite spec is compared with report.json: one point per point
 * with a positive finite error, at that point's (x, error), marked 'used in the fit' exactly when the fit kept it (the
 * others carry the rule that dropped them); the fitted line's ends on exp(intercept) x^slope at the ends of the
 * fitted range; the predicted-slope line at the predicted slope through the log-centroid of the fitted points; the
 * floor rule at the floor. Comparison figures hold every series' points and fits. The log axes' ticks include every
 * decade of the domain and keep the labels apart; and the SVG Vega renders puts each point where the spec's log
 * scales say (rendering is slow, so that property runs on fewer reports).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateWidth, logTicks, tickLabel, type VegaLiteSpec } from '../src/report/figures.ts';
import { reportFigures, reportJson } from '../src/report/model.ts';
import { renderVegaLite } from '../src/report/svg.ts';
import { reportArb } from './report-arbitraries.ts';
import { parseXml, unescapeXml } from './report-xml.ts';

type Layer = { mark: { type: string }; data: { values: Array<Record<string, any>> }; encoding: Record<string, any> };
type Pt = { x: number; errors: Record<string, number | null> };
type Fit = { measure: string; slope: number | null; intercept: number | null; range: [number | null, number | null]; predicted: number | null; dropped: Array<{ index: number; reason: string }> };

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
const drawable = (pts: Pt[], m: string) =>
  pts.map((p, i) => ({ i, x: p.x, y: p.errors[m] })).filter((q): q is { i: number; x: number; y: number } => typeof q.y === 'number' && q.y > 0 && q.x > 0);
// The layer of data points (a figure without drawable points has only an invisible placeholder, without tooltips).
const pointLayer = (layers: Layer[]) => layers.find((l) => l.mark.type === 'point' && l.encoding.tooltip);

/** Check the spec's layers against one result's fit of measure m; `series` selects the series in a comparison. */
function checkLayers(layers: Layer[], r: { points: Pt[]; floor?: Record<string, number | null> }, f: Fit, series?: string): void {
  const dropped = new Map(f.dropped.map((d) => [d.index, d.reason]));
  const want = drawable(r.points, f.measure);
  const pts = (pointLayer(layers)?.data.values ?? []).filter((v) => series === undefined || v.series === series);
  expect(pts.map((v) => v.index)).toEqual(want.map((q) => q.i));
  pts.forEach((v, k) => {
    expect(v.x).toBe(want[k].x);
    expect(v.y).toBe(want[k].y);
    const used = series === undefined ? v.status === 'used in the fit' : v.used;
    expect(used).toBe(!dropped.has(v.index));
    // the rule that dropped a point is in its tooltip, and (rate figures) its legend entry names the rule
    if (dropped.has(v.index)) expect(v.tip).toContain(dropped.get(v.index));
  });
  const lines = layers.filter((l) => l.mark.type === 'line').flatMap((l) => l.data.values);
  const fitLine = series === undefined ? lines.filter((v) => String(v.line).startsWith('fit:')) : lines.filter((v) => v.series === series);
  if (f.slope === null || f.intercept === null || f.range[0] === null) {
    expect(fitLine).toHaveLength(0);
  } else {
    expect(fitLine.map((v) => v.x)).toEqual(f.range);
    for (const v of fitLine) expect(rel(v.y, Math.exp(f.intercept + f.slope * Math.log(v.x)))).toBeLessThan(1e-9);
  }
  if (series === undefined) {
    const pred = lines.filter((v) => /^(predicted|bound)/.test(String(v.line)));
    const used = want.filter((q) => !dropped.has(q.i));
    const anchor = used.length ? used : want;
    const spread = want.length > 0 && Math.max(...want.map((q) => q.x)) > Math.min(...want.map((q) => q.x));
    expect(pred).toHaveLength(f.predicted !== null && spread ? 2 : 0);
    if (pred.length === 2) {
      const slope = (Math.log10(pred[1].y) - Math.log10(pred[0].y)) / (Math.log10(pred[1].x) - Math.log10(pred[0].x));
      expect(Math.abs(slope - f.predicted!)).toBeLessThan(1e-9 * (1 + Math.abs(f.predicted!)));
      // through the log-centroid of the fitted points
      const cx = anchor.reduce((s, q) => s + Math.log10(q.x), 0) / anchor.length;
      const cy = anchor.reduce((s, q) => s + Math.log10(q.y), 0) / anchor.length;
      expect(Math.abs(Math.log10(pred[0].y) + f.predicted! * (cx - Math.log10(pred[0].x)) - cy)).toBeLessThan(1e-6 * (1 + Math.abs(cy)));
    }
    const floor = r.floor?.[f.measure];
    const rule = layers.filter((l) => l.mark.type === 'rule');
    expect(rule).toHaveLength(typeof floor === 'number' && floor > 0 ? 1 : 0);
    if (rule.length) expect(rule[0].data.values[0].y).toBe(floor);
  }
}

/** Every log axis of a spec: its domain and tick values. */
function axes(spec: VegaLiteSpec): Array<{ domain: [number, number]; values: number[] }> {
  const out: Array<{ domain: [number, number]; values: number[] }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, any>;
      if (o.scale?.type === 'log' && o.axis?.values) out.push({ domain: o.scale.domain, values: o.axis.values });
      Object.values(o).forEach(walk);
    }
  };
  walk(spec);
  return out;
}

describe('report figures', () => {
  it("every figure's spec holds report.json's points, fits, predicted slopes and floors", () => {
    fc.assert(
      fc.property(reportArb, (report) => {
        const json = JSON.parse(reportJson(report)); // compare with the file's numbers, not the in-memory ones
        for (const fig of reportFigures(report)) {
          const s = json.studies[fig.studyIndex];
          if (fig.resultIndex !== null) {
            const r = s.results[fig.resultIndex];
            checkLayers(fig.spec.layer as Layer[], r, r.fits.find((x: Fit) => x.measure === fig.measure));
          } else {
            // the comparison: one panel per common measure, every series in each
            const panels = fig.spec.hconcat as Array<{ layer: Layer[]; title: { text: string } }>;
            expect(panels.map((p) => p.title.text)).toEqual(s.comparison.measures);
            expect(s.comparison.series).toEqual(s.results.map((r: { label: string }) => r.label));
            panels.forEach((p, k) => {
              s.results.forEach((r: { points: Pt[]; fits: Fit[] }, ri: number) => {
                const f = r.fits.find((x) => x.measure === s.comparison.measures[k])!;
                // series names are the labels, made unique by their position where two coincide
                const name = s.comparison.series.indexOf(s.results[ri].label) === ri ? s.results[ri].label : `${s.results[ri].label} (${ri + 1})`;
                checkLayers(p.layer, r, f, name);
              });
            });
          }
          for (const a of axes(fig.spec)) {
            const [lo, hi] = a.domain.map(Math.log10);
            for (const v of a.values) expect(Math.log10(v)).toBeGreaterThanOrEqual(lo - 1e-9), expect(Math.log10(v)).toBeLessThanOrEqual(hi + 1e-9);
          }
        }
      }),
      { seed: 63, numRuns: 50 },
    );
  });

  it('log ticks: every decade of the domain (when decades fit), inside the domain, labels apart by the estimate', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -14, max: 6, noNaN: true }),
        fc.double({ min: 0.12, max: 16, noNaN: true }),
        fc.integer({ min: 200, max: 600 }),
        fc.boolean(),
        (lo, span, length, horizontal) => {
          const hi = lo + span;
          const t = logTicks(lo, hi, length, horizontal);
          expect(t.length).toBeGreaterThanOrEqual(span >= 0.5 ? 2 : 1);
          const px = (v: number) => ((Math.log10(v) - lo) / span) * length;
          for (let i = 1; i < t.length; i++) {
            expect(t[i]).toBeGreaterThan(t[i - 1]);
            const need = horizontal ? (estimateWidth(tickLabel(t[i - 1])) + estimateWidth(tickLabel(t[i]))) / 2 + 6 : 17;
            expect(px(t[i]) - px(t[i - 1])).toBeGreaterThanOrEqual(need - 1e-9);
          }
          for (const v of t) expect(Math.log10(v)).toBeGreaterThanOrEqual(lo - 1e-9), expect(Math.log10(v)).toBeLessThanOrEqual(hi + 1e-9);
          const decades: number[] = [];
          for (let k = Math.ceil(lo - 1e-9); k <= Math.floor(hi + 1e-9); k++) decades.push(k);
          const widest = Math.max(...decades.map((k) => estimateWidth(tickLabel(10 ** k))), 0);
          const room = horizontal ? widest + 6 : 17;
          if (decades.length >= 1 && length / span >= room) {
            for (const k of decades) expect(t.some((v) => Math.abs(Math.log10(v) - k) < 1e-9), `decade ${k} in ${t}`).toBe(true);
          }
        },
      ),
      { seed: 64, numRuns: 400 },
    );
  });

  it('the rendered SVG puts every point where the log scales of its spec say, hollow exactly when dropped', async () => {
    // Rendering takes ~0.1-0.2 s a figure: a few generated reports, but every figure of each.
    const reports = fc.sample(reportArb, { seed: 65, numRuns: 3 });
    let checked = 0;
    for (const report of reports) {
      for (const fig of reportFigures(report)) {
        if (fig.resultIndex === null) continue;
        const els = parseXml(await renderVegaLite(fig.spec, 't'));
        const spec = fig.spec as { width: number; height: number; layer: Layer[] };
        const pl = pointLayer(spec.layer);
        if (!pl) continue;
        const sx = pl.encoding.x.scale.domain.map(Math.log10);
        const sy = pl.encoding.y.scale.domain.map(Math.log10);
        const marks = els.filter((e) => e.name === 'path' && e.attrs['aria-roledescription'] === 'point');
        expect(marks).toHaveLength(pl.data.values.length);
        marks.forEach((m, k) => {
          const v = pl.data.values[k];
          const [px, py] = /translate\(([-\d.e]+),([-\d.e]+)\)/.exec(m.attrs.transform)!.slice(1).map(Number);
          expect(Math.abs(px - ((Math.log10(v.x) - sx[0]) / (sx[1] - sx[0])) * spec.width)).toBeLessThan(1e-6);
          expect(Math.abs(py - (1 - (Math.log10(v.y) - sy[0]) / (sy[1] - sy[0])) * spec.height)).toBeLessThan(1e-6);
          expect(m.attrs.fill === '#ffffff').toBe(v.status !== 'used in the fit');
          expect(unescapeXml(m.attrs['aria-label'])).toBe(v.tip);
          checked++;
        });
      }
    }
    expect(checked).toBeGreaterThan(10);
  }, 120_000);
});
