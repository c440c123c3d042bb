import type { PredictionKind, RateFit, StudyResult, Verdict } from './types.ts';

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (then the normal 1.96 is within 2%). */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
export function tQuantile975(df: number): number {
  if (df < 1) return NaN;
  return df <= 30 ? T975[df - 1] : 1.96;
}

/** Ordinary least squares y = a + p x with the standard error of p. */
export function linearFit(x: number[], y: number[]): { slope: number; intercept: number; stderr: number } {
  const n = x.length;
  if (n < 2) return { slope: NaN, intercept: NaN, stderr: NaN };
  const mx = x.reduce((s, v) => s + v, 0) / n;
  const my = y.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (y[i] - intercept - slope * x[i]) ** 2;
  const stderr = n > 2 ? Math.sqrt(rss / (n - 2) / sxx) : NaN;
  return { slope, intercept, stderr };
}

export interface RateOptions {
  measure: string;
  predicted: number;
  kind: PredictionKind;
  /** Default 0.25 (THEORY.md section 4). */
  tolerance?: number;
  /** Drop this many leading points as pre-asymptotic (default 0). */
  dropFirst?: number;
  /** Fit-accuracy floor: points with error <= floorFactor * floor are dropped (default factor 3). */
  floor?: number;
  floorFactor?: number;
  /** Minimum points to fit (default 3). With fewer left, the verdict is 'at floor' if the floor took them, else
   * 'fail'. */
  minPoints?: number;
}

/**
 * Fit the log-log slope of error against x with explicit, recorded drop rules, and judge it against the prediction.
 * Non-positive or non-finite errors cannot enter a log-log fit and are dropped with that reason (never clipped).
 */
export function fitRate(xs: number[], errs: number[], o: RateOptions): RateFit {
  const tol = o.tolerance ?? 0.25;
  const ff = o.floorFactor ?? 3;
  const minPts = o.minPoints ?? 3;
  const dropped: Array<{ index: number; reason: string }> = [];
  const lx: number[] = [];
  const ly: number[] = [];
  const used: number[] = [];
  let floorDrops = 0;
  for (let i = 0; i < xs.length; i++) {
    const e = errs[i];
    if (!(Number.isFinite(e) && e > 0 && xs[i] > 0)) {
      dropped.push({ index: i, reason: `error ${e} is not a positive finite number` });
    } else if (i < (o.dropFirst ?? 0)) {
      dropped.push({ index: i, reason: `pre-asymptotic: among the first ${o.dropFirst} points` });
    } else if (o.floor !== undefined && e <= ff * o.floor) {
      dropped.push({ index: i, reason: `at floor: error ${e.toExponential(3)} <= ${ff} x floor ${o.floor.toExponential(3)}` });
      floorDrops++;
    } else {
      lx.push(Math.log(xs[i]));
      ly.push(Math.log(e));
      used.push(i);
    }
  }
  const base = { measure: o.measure, predicted: o.predicted, kind: o.kind, tolerance: tol, dropped, pointsUsed: used.length };
  if (used.length < minPts) {
    const atFloor = floorDrops > 0 && used.length + floorDrops >= minPts;
    return {
      ...base,
      slope: NaN,
      stderr: NaN,
      intercept: NaN,
      ci95: [NaN, NaN],
      range: used.length ? [xs[used[0]], xs[used[used.length - 1]]] : [NaN, NaN],
      verdict: atFloor ? 'at floor' : 'fail',
      explanation: atFloor
        ? `only ${used.length} point(s) above the floor; the bound must be checked directly`
        : `only ${used.length} usable point(s), need ${minPts} to fit a slope`,
    };
  }
  const f = linearFit(lx, ly);
  const t = tQuantile975(used.length - 2);
  const ci95: [number, number] = [f.slope - t * f.stderr, f.slope + t * f.stderr];
  const ok = o.kind === 'sharp' ? Math.abs(f.slope - o.predicted) <= tol : f.slope <= o.predicted + tol;
  const verdict: Verdict = ok ? 'pass' : 'fail';
  const rule = o.kind === 'sharp' ? `|p - (${o.predicted})| <= ${tol}` : `p <= ${o.predicted} + ${tol}`;
  return {
    ...base,
    slope: f.slope,
    stderr: f.stderr,
    intercept: f.intercept,
    ci95,
    range: [Math.min(...used.map((i) => xs[i])), Math.max(...used.map((i) => xs[i]))],
    verdict,
    explanation: `observed slope ${f.slope.toFixed(3)} +- ${Number.isFinite(f.stderr) ? f.stderr.toFixed(3) : 'n/a'} vs predicted ${o.predicted} (${o.kind}, ${rule}): ${verdict}`,
  };
}

/** A study fails if any fit fails; 'not observed' is reserved for hypotheses and never turns into a pass. */
export function combineVerdicts(vs: Verdict[]): Verdict {
  if (vs.includes('fail')) return 'fail';
  if (vs.includes('assumption fails')) return 'assumption fails';
  if (vs.includes('not observed')) return 'not observed';
  if (vs.length > 0 && vs.every((v) => v === 'observed')) return 'observed';
  if (vs.length > 0 && vs.every((v) => v === 'at floor')) return 'at floor';
  return 'pass';
}

export type { StudyResult };
