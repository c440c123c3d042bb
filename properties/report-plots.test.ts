/**
 * The plots contain the data: each SVG is parsed, its marks are mapped back through the axis mapping the plot
 * records on its root (data-box, data-log-x, data-log-y), and compared with report.json: one circle per point with
 * a positive finite error, at that point's (x, error), hollow exactly when the fit dropped it; the fitted line's ends
 * on exp(intercept) x^slope at the ends of the fitted range; the triangle's hypotenuse at the predicted slope; the
 * floor line at the floor. Tolerances come from the two-decimal pixel rounding only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reportJson, reportPlots } from '../src/report/model.ts';
import { renderLogLogPlot } from '../src/report/svg.ts';
import { reportArb } from './report-arbitraries.ts';
import { parseXml } from './report-xml.ts';

interface Axis {
  toLogX: (px: number) => number;
  toLogY: (py: number) => number;
  /** log units per 0.005 px (half the rounding step) on each axis */
  ex: number;
  ey: number;
}

function axis(root: Record<string, string>): Axis {
  const [bx, by, bw, bh] = root['data-box'].split(' ').map(Number);
  const [lx0, lx1] = root['data-log-x'].split(' ').map(Number);
  const [ly0, ly1] = root['data-log-y'].split(' ').map(Number);
  return {
    toLogX: (px) => lx0 + ((px - bx) / bw) * (lx1 - lx0),
    toLogY: (py) => ly0 + ((by + bh - py) / bh) * (ly1 - ly0),
    ex: (0.005 / bw) * (lx1 - lx0) * 1.01 + 1e-12,
    ey: (0.005 / bh) * (ly1 - ly0) * 1.01 + 1e-12,
  };
}

describe('report plots', () => {
  it("every SVG's marks map back to report.json's points, fit, predicted slope and floor", () => {
    fc.assert(
      fc.property(reportArb, (report) => {
        const json = JSON.parse(reportJson(report)); // compare with the file's numbers, not the in-memory ones
        for (const p of reportPlots(report)) {
          const els = parseXml(renderLogLogPlot(p.plot));
          const ax = axis(els[0].attrs);
          const r = json.studies[p.studyIndex].results[p.resultIndex];
          const f = r.fits.find((x: { measure: string }) => x.measure === p.measure);
          const dropped = new Set(f.dropped.map((d: { index: number }) => d.index));

          const circles = els.filter((e) => e.name === 'circle' && e.attrs.class.startsWith('pt'));
          const drawable = r.points
            .map((pt: { x: number; errors: Record<string, number | null> }, i: number) => ({ i, x: pt.x, y: pt.errors[p.measure] }))
            .filter((q: { y: number | null }) => typeof q.y === 'number' && q.y > 0);
          expect(circles.map((c) => Number(c.attrs['data-index']))).toEqual(drawable.map((q: { i: number }) => q.i));
          circles.forEach((c, k) => {
            const q = drawable[k];
            expect(Math.abs(ax.toLogX(Number(c.attrs.cx)) - Math.log10(q.x))).toBeLessThanOrEqual(ax.ex);
            expect(Math.abs(ax.toLogY(Number(c.attrs.cy)) - Math.log10(q.y))).toBeLessThanOrEqual(ax.ey);
            expect(c.attrs.class.includes('dropped')).toBe(dropped.has(q.i));
          });

          const fit = els.filter((e) => e.name === 'line' && e.attrs.class === 'fit');
          expect(fit).toHaveLength(f.slope === null ? 0 : 1);
          if (f.slope !== null) {
            const a = fit[0].attrs;
            for (const [px, py, x] of [[a.x1, a.y1, f.range[0]], [a.x2, a.y2, f.range[1]]] as Array<[string, string, number]>) {
              expect(Math.abs(ax.toLogX(Number(px)) - Math.log10(x))).toBeLessThanOrEqual(ax.ex);
              const ly = (f.intercept + f.slope * Math.log(x)) / Math.LN10;
              expect(Math.abs(ax.toLogY(Number(py)) - ly)).toBeLessThanOrEqual(ax.ey);
            }
          }

          const tri = els.filter((e) => e.name === 'polygon' && e.attrs.class === 'triangle');
          // No triangle where no rate is predicted (predicted null in report.json, e.g. the P6 hypothesis).
          expect(tri).toHaveLength(drawable.length > 0 && f.predicted !== null ? 1 : 0);
          if (tri.length) {
            const v = tri[0].attrs.points.split(' ').map((s) => s.split(',').map(Number));
            const dlx = ax.toLogX(v[1][0]) - ax.toLogX(v[0][0]);
            const dly = ax.toLogY(v[1][1]) - ax.toLogY(v[0][1]);
            const tol = (2 * ax.ey + 2 * Math.abs(f.predicted) * ax.ex) / Math.abs(dlx) + 1e-9;
            expect(Math.abs(dly / dlx - f.predicted)).toBeLessThanOrEqual(tol);
          }

          const floor = r.floor?.[p.measure];
          const hl = els.filter((e) => e.name === 'g' && e.attrs.class === 'hline');
          expect(hl).toHaveLength(typeof floor === 'number' && floor > 0 ? 1 : 0);
          if (hl.length) {
            const line = els.find((e) => e.name === 'line' && e.parent === hl[0])!;
            expect(Math.abs(ax.toLogY(Number(line.attrs.y1)) - Math.log10(floor))).toBeLessThanOrEqual(ax.ey);
          }
        }
      }),
      { seed: 63, numRuns: 80 },
    );
  });

  it('a known plot: three points on y = x^-1 give circles on a straight line of slope -1 in pixel space', () => {
    const svg = renderLogLogPlot({
      title: 't',
      xLabel: 'R',
      yLabel: 'e',
      points: [1, 2, 4].map((x, i) => ({ x, y: 1 / x, index: i, dropped: false })),
      fit: { intercept: 0, slope: -1, x0: 1, x1: 4, label: 'fit' },
      triangle: { slope: -1, label: 'predicted -1' },
    });
    const els = parseXml(svg);
    const ax = axis(els[0].attrs);
    const c = els.filter((e) => e.name === 'circle').map((e) => [ax.toLogX(Number(e.attrs.cx)), ax.toLogY(Number(e.attrs.cy))]);
    expect(c).toHaveLength(3);
    for (const [lx, ly] of c) expect(lx + ly).toBeCloseTo(0, 3);
    expect(c[2][0] - c[0][0]).toBeCloseTo(Math.log10(4), 3);
  });
});
