import { ParameterError } from '../util/errors.ts';
import { resultKey, type BenchRecord } from './history.ts';

/**
 * Regression detection between two benchmark runs, as pure functions (tested with generated cases, no timing).
 *
 * A benchmark regressed when its new median is slower than the old median by more than `threshold` (a fraction,
 * default 0.10) AND slower than the old run's slowest sample (outside its min-max spread): the first condition
 * ignores changes too small to matter, the second ignores changes the old run's own noise already covered (on a
 * shared machine a 10% swing between samples is common). Improvement is the mirror image in 1/time (throughput):
 * faster than old median / (1 + threshold) AND faster than the old fastest sample. So a comparison of times and the
 * comparison of the corresponding throughputs flag the same benchmarks, with the roles swapped.
 */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export type Verdict = 'regression' | 'improvement' | 'unchanged';

export const DEFAULT_THRESHOLD = 0.1;

function checkSpread(s: Spread, what: string): void {
  for (const k of ['median', 'min', 'max'] as const) {
    if (!Number.isFinite(s[k]) || s[k] <= 0) throw new ParameterError(`${what}: ${k} must be a finite time > 0, got ${s[k]}`);
  }
  if (!(s.min <= s.median && s.median <= s.max)) {
    throw new ParameterError(`${what}: needs min <= median <= max, got ${s.min}, ${s.median}, ${s.max}`);
  }
}

export function checkThreshold(t: number): void {
  if (!Number.isFinite(t) || t < 0) throw new ParameterError(`regression threshold must be a fraction >= 0 (0.1 = 10%), got ${t}`);
}

/** Verdict for one benchmark: old spread `base`, new spread `cur`, times (larger = slower). */
export function compareSpread(base: Spread, cur: Spread, threshold = DEFAULT_THRESHOLD): Verdict {
  checkThreshold(threshold);
  checkSpread(base, 'baseline');
  checkSpread(cur, 'new run');
  if (cur.median > base.median * (1 + threshold) && cur.median > base.max) return 'regression';
  if (cur.median < base.median / (1 + threshold) && cur.median < base.min) return 'improvement';
  return 'unchanged';
}

export interface ComparisonRow {
  key: string;
  verdict: Verdict | 'new' | 'missing' | 'error';
  /** new median / old median (> 1: slower). */
  ratio: number | null;
  base: Spread | null;
  cur: Spread | null;
  note?: string;
}

export interface Comparison {
  baseline: { timestamp: string; commit: string | null };
  /** 1-minute load averages at the start of both runs, when recorded: a regression under load may be the load. */
  load?: { baseline: number | null; current: number | null };
  threshold: number;
  rows: ComparisonRow[];
  regressions: number;
  improvements: number;
}

function spreadOf(r: { medianMs?: number; minMs?: number; maxMs?: number }): Spread | null {
  return r.medianMs !== undefined && r.minMs !== undefined && r.maxMs !== undefined ? { median: r.medianMs, min: r.minMs, max: r.maxMs } : null;
}

/**
 * Compare every benchmark of `cur` with the same key in `base`. Benchmarks only in `cur` are 'new', only in `base`
 * 'missing' (a filtered run leaves most out: they are not failures), and a task that threw in the new run is 'error'.
 */
export function compareRecords(base: BenchRecord, cur: BenchRecord, threshold = DEFAULT_THRESHOLD): Comparison {
  checkThreshold(threshold);
  const old = new Map(base.results.map((r) => [resultKey(r), r] as const));
  const seen = new Set<string>();
  const rows: ComparisonRow[] = [];
  for (const r of cur.results) {
    const key = resultKey(r);
    seen.add(key);
    const o = old.get(key);
    const c = spreadOf(r);
    const b = o ? spreadOf(o) : null;
    if (r.error !== undefined || !c) {
      rows.push({ key, verdict: 'error', ratio: null, base: b, cur: null, note: r.error });
    } else if (!b) {
      rows.push({ key, verdict: 'new', ratio: null, base: null, cur: c, note: o?.error ? `baseline errored: ${o.error}` : undefined });
    } else {
      rows.push({ key, verdict: compareSpread(b, c, threshold), ratio: c.median / b.median, base: b, cur: c });
    }
  }
  if (cur.filter === null) {
    for (const [key, o] of old) if (!seen.has(key)) rows.push({ key, verdict: 'missing', ratio: null, base: spreadOf(o), cur: null });
  }
  return {
    baseline: { timestamp: base.timestamp, commit: base.commit },
    load: { baseline: base.loadAverage ?? null, current: cur.loadAverage ?? null },
    threshold,
    rows,
    regressions: rows.filter((r) => r.verdict === 'regression').length,
    improvements: rows.filter((r) => r.verdict === 'improvement').length,
  };
}

function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/** Plain-text table of a comparison (one row per benchmark). */
export function formatComparison(c: Comparison): string {
  const head = ['benchmark', 'old median [min-max] ms', 'new median [min-max] ms', 'ratio', 'verdict'];
  const sp = (s: Spread | null) => (s ? `${ms(s.median)} [${ms(s.min)}-${ms(s.max)}]` : '-');
  const rows = c.rows.map((r) => [r.key, sp(r.base), sp(r.cur), r.ratio === null ? '-' : r.ratio.toFixed(3), r.verdict.toUpperCase() === 'REGRESSION' ? 'REGRESSION' : r.verdict]);
  const width = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => cells.map((x, k) => x.padEnd(width[k])).join('  ').trimEnd();
  const title = `compared with ${c.baseline.commit ? c.baseline.commit.slice(0, 10) : '(no commit)'} at ${c.baseline.timestamp}; regression = median slower by > ${(100 * c.threshold).toFixed(0)}% and above the old max`;
  const fmtLoad = (x: number | null | undefined) => (x === null || x === undefined ? 'not recorded' : x.toFixed(2));
  const busy = c.load?.current != null && c.load.current > 0.5 ? ' (a busy machine: timings are indicative)' : '';
  const load = c.load ? [`load average at start: baseline ${fmtLoad(c.load.baseline)}, this run ${fmtLoad(c.load.current)}${busy}`] : [];
  return [title, ...load, line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line), `${c.regressions} regression(s), ${c.improvements} improvement(s)`].join('\n');
}
