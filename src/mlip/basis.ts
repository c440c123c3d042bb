import { ParameterError, requireParam } from '../util/errors.ts';
import { SmoothCutoff } from '../potentials/cutoff.ts';
import { harmonicSet, type HarmonicSet } from './harmonics.ts';

/**
 * The basis of the linear MLIP, fixed by a few integers and a cutoff.
 *
 * Radial functions R_n(r) = T_n(x(r)) fc(r): Chebyshev polynomials in the linearly transformed distance
 * x = 2 (r - rmin) / (rc - rmin) - 1 times a smooth cutoff envelope. Atom-base functions at a site are sums over
 * its neighbours, A_{n,h} = sum_j R_n(r_ij) H_h(r_ij) / r_ij^{l(h)} (H a harmonic polynomial of degree l, H = 1 for
 * l = 0), and every basis function is a polynomial in the A's of one site:
 *   - one-body: 1 (a constant site energy);
 *   - 2-body:   rho_n = A_{n,0},                       n < pairFunctions;
 *   - embedding: monomials rho_{n1} ... rho_{nk},        2 <= k <= embeddingOrder, n_i < densityFunctions, so
 *                any EAM energy F(sum_j psi(r_ij)) with smooth F, psi is approximated (Taylor F, expand psi);
 *   - 3-body:   sum_m A_{n,lm} A_{n',lm} = sum_{j,j'} R_n R_n' cos(l theta) (2D) / P_l(cos theta) (3D),
 *               n <= n' < angularFunctions, 1 <= l <= angularDegree (the power spectrum).
 * Nothing of a reference potential's functional form (Morse, exponential density) is built in: the envelope is a
 * generic smooth cutoff and the radial dependence is polynomial. Raising any integer only adds basis functions, so the
 * family is nested (a larger spec contains every function of a smaller one, with the same values).
 */
export interface BasisSpec {
  readonly dim: 2 | 3;
  /** Cutoff rc: every basis function depends only on neighbours closer than this. */
  readonly cutoff: number;
  /** Lower end of the polynomial variable: x(rmin) = -1. Distances below it extrapolate the polynomials. */
  readonly rmin: number;
  /**
   * Envelope: 'smooth' is the C^3 SmoothCutoff(rin, rc) of src/potentials/cutoff.ts (1 below rin); 'poly' is
   * (1 - r/rc)^power (C^{power-1}, never flat). A smooth cutoff with the reference's (rin, rc) is a choice of
   * geometry, not of functional form: it is what lets a polynomial basis reach a very low fit floor (THEORY.md 5).
   */
  readonly envelope: { readonly kind: 'smooth'; readonly rin: number } | { readonly kind: 'poly'; readonly power: number };
  readonly oneBody: boolean;
  readonly pairFunctions: number;
  readonly densityFunctions: number;
  readonly embeddingOrder: number;
  readonly angularFunctions: number;
  readonly angularDegree: number;
}

/** One basis function: sum_t coef_t prod_{alpha in factors_t} A_alpha. */
export interface BasisFunctionDef {
  readonly label: string;
  /** Polynomial degree used by the smoothness prior: sum over factors of (n + l), plus (factors - 1). */
  readonly degree: number;
  readonly terms: ReadonlyArray<{ coef: number; factors: number[] }>;
}

/** Atom-base function alpha = (radial n, harmonic h); h = -1 for the purely radial one. */
export interface AtomBase {
  readonly n: Int32Array;
  readonly h: Int32Array;
  readonly l: Int32Array;
}

export interface Basis {
  readonly spec: BasisSpec;
  readonly nRadial: number;
  readonly harmonics: HarmonicSet;
  readonly atomBase: AtomBase;
  readonly functions: readonly BasisFunctionDef[];
}

export function validateSpec(spec: BasisSpec): void {
  if (spec.dim !== 2 && spec.dim !== 3) throw new ParameterError(`basis dim must be 2 or 3, got ${spec.dim as number}`);
  requireParam('basis cutoff', spec.cutoff, (v) => v > 0, '> 0');
  requireParam('basis rmin', spec.rmin, (v) => v >= 0 && v < spec.cutoff, `>= 0 and < cutoff ${spec.cutoff}`);
  const int = (name: string, v: number, lo: number) =>
    requireParam(name, v, (x) => Number.isInteger(x) && x >= lo && x <= 64, `an integer in [${lo}, 64]`);
  int('pairFunctions', spec.pairFunctions, 0);
  int('densityFunctions', spec.densityFunctions, 0);
  int('embeddingOrder', spec.embeddingOrder, 1);
  int('angularFunctions', spec.angularFunctions, 0);
  int('angularDegree', spec.angularDegree, 0);
  if (spec.envelope?.kind === 'smooth') {
    requireParam('envelope rin', spec.envelope.rin, (v) => v >= 0 && v < spec.cutoff, `>= 0 and < cutoff ${spec.cutoff}`);
  } else if (spec.envelope?.kind === 'poly') {
    requireParam('envelope power', spec.envelope.power, (v) => Number.isInteger(v) && v >= 2 && v <= 16, 'an integer in [2, 16]');
  } else {
    throw new ParameterError(`basis envelope must be {kind:'smooth', rin} or {kind:'poly', power}`);
  }
}

/** Multisets of size k from 0..m-1, in lexicographic order (n1 <= n2 <= ... <= nk). */
function multisets(m: number, k: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const rec = (start: number): void => {
    if (cur.length === k) {
      out.push(cur.slice());
      return;
    }
    for (let i = start; i < m; i++) {
      cur.push(i);
      rec(i);
      cur.pop();
    }
  };
  rec(0);
  return out;
}

export function buildBasis(spec: BasisSpec): Basis {
  validateSpec(spec);
  const nRadial = Math.max(spec.pairFunctions, spec.densityFunctions, spec.angularFunctions);
  const harmonics = harmonicSet(spec.dim, spec.angularDegree);
  const an: number[] = [];
  const ah: number[] = [];
  const al: number[] = [];
  const radialAlpha = new Map<number, number>();
  for (let n = 0; n < nRadial; n++) {
    radialAlpha.set(n, an.length);
    an.push(n);
    ah.push(-1);
    al.push(0);
  }
  // harmAlpha[n][h]
  const harmAlpha: number[][] = [];
  for (let n = 0; n < spec.angularFunctions; n++) {
    const row: number[] = [];
    for (let h = 0; h < harmonics.degree.length; h++) {
      row.push(an.length);
      an.push(n);
      ah.push(h);
      al.push(harmonics.degree[h]);
    }
    harmAlpha.push(row);
  }
  const functions: BasisFunctionDef[] = [];
  if (spec.oneBody) functions.push({ label: '1', degree: 0, terms: [{ coef: 1, factors: [] }] });
  for (let n = 0; n < spec.pairFunctions; n++) {
    functions.push({ label: `rho${n}`, degree: n, terms: [{ coef: 1, factors: [radialAlpha.get(n)!] }] });
  }
  for (let k = 2; k <= spec.embeddingOrder; k++) {
    for (const ms of multisets(spec.densityFunctions, k)) {
      functions.push({
        label: ms.map((n) => `rho${n}`).join('*'),
        degree: ms.reduce((a, b) => a + b, 0) + k - 1,
        terms: [{ coef: 1, factors: ms.map((n) => radialAlpha.get(n)!) }],
      });
    }
  }
  for (let l = 1; l <= spec.angularDegree; l++) {
    for (let n = 0; n < spec.angularFunctions; n++) {
      for (let n2 = n; n2 < spec.angularFunctions; n2++) {
        const terms: { coef: number; factors: number[] }[] = [];
        for (let h = 0; h < harmonics.degree.length; h++) {
          if (harmonics.degree[h] !== l) continue;
          const a = harmAlpha[n][h];
          const b = harmAlpha[n2][h];
          terms.push({ coef: 1, factors: a <= b ? [a, b] : [b, a] });
        }
        functions.push({ label: `ang(l=${l};${n},${n2})`, degree: n + n2 + 2 * l + 1, terms });
      }
    }
  }
  return {
    spec,
    nRadial,
    harmonics,
    atomBase: { n: Int32Array.from(an), h: Int32Array.from(ah), l: Int32Array.from(al) },
    functions,
  };
}

/**
 * Radial functions R_n = T_n(x(r)) fc(r), n < count, with first and second r-derivatives. Chebyshev polynomials are
 * bounded by 1 on [rmin, rc], which keeps the design matrix columns of comparable size.
 */
export class ChebyshevRadial {
  private readonly fc: SmoothCutoff | null;
  private readonly power: number;
  private readonly s: number;
  constructor(
    readonly spec: BasisSpec,
    readonly count: number,
  ) {
    this.fc = spec.envelope.kind === 'smooth' ? new SmoothCutoff(spec.envelope.rin, spec.cutoff) : null;
    this.power = spec.envelope.kind === 'poly' ? spec.envelope.power : 0;
    this.s = 2 / (spec.cutoff - spec.rmin);
  }
  /** Envelope value and derivatives into env[0..2]. */
  envelope(r: number, env: Float64Array): void {
    if (this.fc) {
      this.fc.eval(r, env);
      return;
    }
    const rc = this.spec.cutoff;
    if (r >= rc) {
      env[0] = env[1] = env[2] = 0;
      return;
    }
    const p = this.power;
    const u = 1 - r / rc;
    const up2 = u ** (p - 2);
    env[0] = up2 * u * u;
    env[1] = (-p * up2 * u) / rc;
    env[2] = (p * (p - 1) * up2) / (rc * rc);
  }
  /**
   * R_n (order 0), R_n and R_n' (order 1) or R_n, R_n', R_n'' (order 2) into out[n], out[m + n], out[2m + n] (m = count):
   * the same recurrences as eval(), laid out by order so the kernel's loops over n read contiguous values, and
   * derivatives computed only where a pass needs them. r must be below the cutoff.
   */
  evalOrder(r: number, order: 0 | 1 | 2, out: Float64Array, env: Float64Array): void {
    const m = this.count;
    this.envelope(r, env);
    const s = this.s;
    const x = s * (r - this.spec.rmin) - 1;
    const e0 = env[0];
    if (order === 0) {
      let t0 = 1;
      let t1 = x;
      if (m > 0) out[0] = e0;
      if (m > 1) out[1] = x * e0;
      for (let n = 2; n < m; n++) {
        const t = 2 * x * t1 - t0;
        t0 = t1;
        t1 = t;
        out[n] = t * e0;
      }
      return;
    }
    const e1 = env[1];
    const e2 = env[2];
    // T_0 = 1, T_1 = x (derivatives 0 and 1), then the three-term recurrences.
    if (m > 0) {
      out[0] = e0;
      out[m] = e1;
      if (order === 2) out[2 * m] = e2;
    }
    if (m > 1) {
      out[1] = x * e0;
      out[m + 1] = s * e0 + x * e1;
      if (order === 2) out[2 * m + 1] = 2 * s * e1 + x * e2;
    }
    let t0 = 1;
    let d0 = 0;
    let dd0 = 0;
    let t1 = x;
    let d1 = 1;
    let dd1 = 0;
    const ss = s * s;
    for (let n = 2; n < m; n++) {
      const t = 2 * x * t1 - t0;
      const d = 2 * t1 + 2 * x * d1 - d0;
      const dd = 4 * d1 + 2 * x * dd1 - dd0;
      t0 = t1;
      d0 = d1;
      dd0 = dd1;
      t1 = t;
      d1 = d;
      dd1 = dd;
      out[n] = t * e0;
      out[m + n] = d * s * e0 + t * e1;
      if (order === 2) out[2 * m + n] = dd * ss * e0 + 2 * d * s * e1 + t * e2;
    }
  }
  /** Writes R_n, R_n', R_n'' at out[3n .. 3n+2]; env is 3-long scratch. */
  eval(r: number, out: Float64Array, env: Float64Array): void {
    const m = this.count;
    if (r >= this.spec.cutoff) {
      out.fill(0, 0, 3 * m);
      return;
    }
    this.envelope(r, env);
    const x = this.s * (r - this.spec.rmin) - 1;
    const s = this.s;
    const e0 = env[0];
    const e1 = env[1];
    const e2 = env[2];
    let t0 = 1;
    let d0 = 0;
    let dd0 = 0;
    let t1 = x;
    let d1 = 1;
    let dd1 = 0;
    for (let n = 0; n < m; n++) {
      let t: number;
      let d: number;
      let dd: number;
      if (n === 0) {
        t = 1;
        d = 0;
        dd = 0;
      } else if (n === 1) {
        t = x;
        d = 1;
        dd = 0;
      } else {
        t = 2 * x * t1 - t0;
        d = 2 * t1 + 2 * x * d1 - d0;
        dd = 4 * d1 + 2 * x * dd1 - dd0;
        t0 = t1;
        d0 = d1;
        dd0 = dd1;
        t1 = t;
        d1 = d;
        dd1 = dd;
      }
      out[3 * n] = t * e0;
      out[3 * n + 1] = d * s * e0 + t * e1;
      out[3 * n + 2] = dd * s * s * e0 + 2 * d * s * e1 + t * e2;
    }
  }
}

/**
 * Default nested family, levels 1..4 (4 = the largest default basis). Every integer is non-decreasing in the level and
 * cutoff, rmin and envelope are shared, so level k's functions are a subset of level k+1's.
 */
export const DEFAULT_LEVELS: ReadonlyArray<
  Pick<BasisSpec, 'pairFunctions' | 'densityFunctions' | 'embeddingOrder' | 'angularFunctions' | 'angularDegree'>
> = [
  { pairFunctions: 4, densityFunctions: 2, embeddingOrder: 2, angularFunctions: 0, angularDegree: 0 },
  { pairFunctions: 6, densityFunctions: 3, embeddingOrder: 2, angularFunctions: 2, angularDegree: 2 },
  { pairFunctions: 9, densityFunctions: 4, embeddingOrder: 3, angularFunctions: 3, angularDegree: 3 },
  { pairFunctions: 12, densityFunctions: 6, embeddingOrder: 3, angularFunctions: 4, angularDegree: 4 },
];
export const MAX_DEFAULT_LEVEL = DEFAULT_LEVELS.length;

export interface DefaultBasisOptions {
  dim: 2 | 3;
  cutoff: number;
  /** Envelope inner radius (default 0.76 cutoff, the eam-2d ratio 1.9/2.5); ignored when envelope is given. */
  rin?: number;
  envelope?: BasisSpec['envelope'];
  /** Default 0.6 (reduced units: nearest-neighbour distance about 1). */
  rmin?: number;
}

export function defaultBasisSpec(level: number, o: DefaultBasisOptions): BasisSpec {
  if (!Number.isInteger(level) || level < 1 || level > MAX_DEFAULT_LEVEL) {
    throw new ParameterError(`basis level must be an integer in 1..${MAX_DEFAULT_LEVEL}, got ${level}`);
  }
  const spec: BasisSpec = {
    dim: o.dim,
    cutoff: o.cutoff,
    rmin: o.rmin ?? 0.6,
    envelope: o.envelope ?? { kind: 'smooth', rin: o.rin ?? 0.76 * o.cutoff },
    oneBody: true,
    ...DEFAULT_LEVELS[level - 1],
  };
  validateSpec(spec);
  return spec;
}

/**
 * Envelope matched to a reference potential's smooth cutoff, read from its describe() (pair.rin / pair.rc), so that
 * the basis has the same cutoff geometry. Returns undefined when the description has none.
 */
export function envelopeFromDescription(d: Record<string, unknown>): { cutoff: number; rin: number } | undefined {
  const pair = d.pair as Record<string, unknown> | undefined;
  if (pair && typeof pair.rin === 'number' && typeof pair.rc === 'number') return { cutoff: pair.rc, rin: pair.rin };
  return undefined;
}
