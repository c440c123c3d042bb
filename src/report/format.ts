import type { PointAssumption, RateFit, StudyResult } from '../convergence/types.ts';

/** Number and table formatting shared by the Markdown, HTML and CI renderers, so they print the same digits. */

export function fmtNum(v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? 'n/a' : String(v);
  if (!Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v); // counts (atoms, sites) read better whole
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(4)));
  return v.toExponential(3);
}

export function fmtSlope(v: number | null): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(3);
}

export function fmtObserved(slope: number | null, stderr: number | null): string {
  if (slope === null || !Number.isFinite(slope)) return 'n/a';
  return stderr === null || !Number.isFinite(stderr) ? slope.toFixed(3) : `${slope.toFixed(3)} ± ${stderr.toFixed(3)}`;
}

export function fmtPredicted(f: Pick<RateFit, 'predicted' | 'kind' | 'tolerance'>): string {
  // NaN in a study result (null once it has been through JSON): no rate is predicted, e.g. the P6 hypothesis.
  // Its verdict then says whether the hypothesis was 'observed' or 'not observed'; the explanation says against what.
  if (f.predicted === null || !Number.isFinite(f.predicted)) return 'no rate (a hypothesis: see the explanation)';
  return f.kind === 'sharp' ? `${f.predicted} (sharp, ±${f.tolerance})` : `≤ ${f.predicted} + ${f.tolerance} (bound)`;
}

export function fmtBand(b: [number, number]): string {
  return b.every(Number.isFinite) ? `[${b[0].toFixed(3)}, ${b[1].toFixed(3)}]` : 'n/a';
}

export function fmtRange(r: [number, number]): string {
  return r.every(Number.isFinite) ? `${fmtNum(r[0])} – ${fmtNum(r[1])}` : 'n/a';
}

/** A key that holds a wall time or other elapsed time: kept out of the Markdown so it renders identically twice. */
export function isTimingKey(k: string): boolean {
  return /wallTime|Seconds$|elapsed|timestamp|createdAt/i.test(k);
}

/** A deep copy without timing keys (see isTimingKey). */
export function withoutTimings(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTimings);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !isTimingKey(k)).map(([k, x]) => [k, withoutTimings(x)]));
  }
  return v;
}

/** Measures of a result in a stable order: those fitted first (in fit order), then any other recorded errors. */
export function measuresOf(r: StudyResult): string[] {
  const out = r.fits.map((f) => f.measure).filter((m, i, a) => a.indexOf(m) === i);
  for (const p of r.points) for (const k of Object.keys(p.errors)) if (!out.includes(k)) out.push(k);
  return out;
}

/** Info columns of the points table: keys with scalar values, in first-seen order. */
export function infoColumns(r: StudyResult, includeTimings: boolean): string[] {
  const out: string[] = [];
  for (const p of r.points) {
    for (const [k, v] of Object.entries(p.info ?? {})) {
      if (out.includes(k) || (!includeTimings && isTimingKey(k))) continue;
      if (v === null || ['number', 'string', 'boolean'].includes(typeof v)) out.push(k);
    }
  }
  return out;
}

export function fmtCell(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return fmtNum(v);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) && /^[-+0-9.eE]+$/.test(v)) return fmtNum(Number(v));
  return String(v);
}

/** True when some point of the result records whether the theory's assumption holds there. */
export function hasAssumptions(r: StudyResult): boolean {
  return r.points.some((p) => p.assumption !== undefined);
}

/**
 * The points table's 'assumption' cell: 'holds' or 'fails', with the number that decided it (the model's lowest
 * curvature at the reference minimum against the reference's, or the jump out of its basin). The full evidence is
 * listed under the table (assumptionLines).
 */
export function assumptionCell(a: PointAssumption | undefined): string {
  if (!a) return '';
  const s = a.stability;
  const ratio = s && typeof s.ratio === 'number' && Number.isFinite(s.ratio) ? `gamma^H/gamma ${s.ratio.toFixed(2)}` : '';
  if (a.holds) return ratio ? `holds (${ratio})` : 'holds';
  if (a.basin?.jumped) return `fails: another basin (shift ${(a.basin.maxShift / a.basin.threshold).toFixed(1)} x threshold)`;
  if (s && s.verdict !== 'strongly stable') return `fails: ${s.verdict} at ū${ratio ? ` (${ratio})` : ''}`;
  return 'fails';
}

/** One line per point where the assumption fails: its abscissa and the whole evidence. */
export function assumptionLines(r: StudyResult): string[] {
  return r.points.filter((p) => p.assumption && !p.assumption.holds).map((p) => `${r.xLabel} ${fmtNum(p.x)}: ${p.assumption!.evidence}`);
}
