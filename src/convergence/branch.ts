import type { Domain } from '../lattice/domain.ts';
import { withPositions } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { relaxDefect, type DefectRelaxOptions, type DefectRelaxation } from '../relax/defect.ts';
import type { StrongStabilityResult } from '../relax/stability.ts';
import { ParameterError } from '../util/errors.ts';
import type { RateFit } from './types.ts';

/**
 * Branch following and basin-change detection (THEORY.md section 3: every prediction is about the branch of ONE
 * strongly stable minimum ū, continued in t or R by the implicit function theorem).
 *
 * A relaxation started from the unrelaxed geometry can land in any minimum: a symmetric interstitial start breaks its
 * symmetry one way under V and another way under V + tW (the lj-2d interstitial of issue 11: energy-norm error 3.25
 * at every t >= 1e-4, a symmetry image of ū with the same formation energy). So the studies start every relaxation
 * from the reference minimum or the previous point of the branch (relaxFrom), and check that the result is still on
 * it (basinChange): if an atom ends farther than a sizeable fraction of the nearest-neighbour distance from where
 * the branch predicts it, the relaxation crossed into another basin, and the prediction's assumption does not hold
 * for that point.
 */

/** Default threshold of basinChange, as a fraction of the nearest-neighbour distance r0. */
export const BASIN_JUMP_FRACTION = 0.25;

export interface BasinCheck {
  /** max over atoms of |u(l) - u_pred(l)| (Euclidean per atom). */
  maxShift: number;
  /** Key of the atom where it is attained. */
  atom: string | null;
  /** fraction x r0. */
  threshold: number;
  fraction: number;
  jumped: boolean;
}

/**
 * Compare a relaxed displacement field with the branch's prediction, atom by atom (same keys, same order). `shift`
 * values of a smooth branch are O(t^2) (perturbation) or the truncation error (domain), far below r0/4; leaving the
 * basin moves at least one atom by a bond-length fraction (a hop, a rotation of a dumbbell, a symmetry image).
 * `removeTranslation`: subtract the mean difference first (periodic cells are defined up to a rigid translation).
 */
export function basinChange(
  u: Float64Array,
  predicted: Float64Array,
  keys: readonly string[],
  dim: number,
  r0: number,
  opts: { fraction?: number; removeTranslation?: boolean } = {},
): BasinCheck {
  if (u.length !== predicted.length || u.length !== keys.length * dim) {
    throw new ParameterError(`basinChange: fields of length ${u.length} and ${predicted.length} for ${keys.length} atoms in ${dim}D`);
  }
  const fraction = opts.fraction ?? BASIN_JUMP_FRACTION;
  if (!(fraction > 0) || !(r0 > 0)) throw new ParameterError(`basinChange: fraction ${fraction} and r0 ${r0} must be > 0`);
  const n = keys.length;
  const mean = new Float64Array(dim);
  if (opts.removeTranslation && n > 0) {
    for (let i = 0; i < n; i++) for (let a = 0; a < dim; a++) mean[a] += (u[i * dim + a] - predicted[i * dim + a]) / n;
  }
  let best = 0;
  let atom: string | null = null;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let a = 0; a < dim; a++) q += (u[i * dim + a] - predicted[i * dim + a] - mean[a]) ** 2;
    if (!(q <= best)) {
      best = q;
      atom = keys[i];
    }
  }
  const maxShift = Math.sqrt(best);
  const threshold = fraction * r0;
  return { maxShift, atom, threshold, fraction, jumped: !(maxShift <= threshold) };
}

/**
 * Relax the defect of `domain` starting from the displacement `start` (flat, the domain's atom order; clamped atoms
 * must be 0 there) instead of from the unrelaxed geometry. The returned displacement and field are measured from the
 * domain's reference positions, as relaxDefect's are, so the result is interchangeable with relaxDefect's.
 */
export function relaxFrom(
  pot: SitePotential,
  domain: Domain,
  start: Float64Array,
  opts: DefectRelaxOptions = {},
): DefectRelaxation {
  const x0 = domain.structure.positions;
  if (start.length !== x0.length) {
    throw new ParameterError(`relaxFrom: start displacement has ${start.length} components, the domain ${x0.length}`);
  }
  const d = domain.lattice.dim;
  const xs = new Float64Array(x0.length);
  for (let i = 0; i < x0.length; i++) {
    const atom = Math.floor(i / d);
    xs[i] = x0[i] + (domain.free[atom] ? start[i] : 0);
  }
  const r = relaxDefect(pot, { ...domain, structure: withPositions(domain.structure, xs) }, opts);
  const x = r.result.structure.positions;
  const u = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) u[k] = x[k] - x0[k];
  return { ...r, domain, displacement: u, field: { ...r.field, u } };
}

/** The displacement of `from` (a relaxed field keyed by site) on the sites of `domain`: 0 where `from` has no value
 * or the atom is clamped. Used to start a domain's relaxation on the reference branch. */
export function transferField(from: { keys: readonly string[]; u: Float64Array }, domain: Domain): Float64Array {
  const d = domain.lattice.dim;
  const idx = new Map<string, number>();
  from.keys.forEach((k, i) => idx.set(k, i));
  const out = new Float64Array(domain.keys.length * d);
  domain.keys.forEach((k, i) => {
    const j = idx.get(k);
    if (j === undefined || !domain.free[i]) return;
    for (let a = 0; a < d; a++) out[i * d + a] = from.u[j * d + a];
  });
  return out;
}

/** One phrase of evidence for a basin change. */
export function branchEvidence(b: { t?: number; maxShift: number; atom: string | null; threshold: number }, r0: number): string {
  return (
    `${b.t !== undefined ? `t = ${b.t.toExponential(1)}: ` : ''}${b.atom === null ? 'an atom' : `atom ${b.atom}`} ends ${b.maxShift.toExponential(2)} ` +
    `(${(b.maxShift / r0).toFixed(2)} r0) from the branch's prediction, threshold ${b.threshold.toExponential(2)}`
  );
}

/** The stability record every study stores in its settings. */
export function stabilityRecord(st: StrongStabilityResult): Record<string, unknown> {
  return {
    gamma: st.gamma,
    mu: st.mu,
    relative: st.relative,
    margin: st.margin,
    verdict: st.verdict,
    residual: st.residual,
    lanczosSteps: st.iterations,
    seed: st.seed,
  };
}

export function stabilityNote(st: StrongStabilityResult, defect: string, what: string): string {
  const head =
    `strong stability of the ${what}: lowest curvature against ||Dv||^2 gamma = ${st.gamma.toExponential(3)}, ` +
    `elastic scale mu = ${st.mu.toExponential(3)}, gamma/mu = ${st.relative.toExponential(2)} (margin ${st.margin}; Lanczos on ` +
    `(H, L), ${st.iterations} steps)`;
  if (st.verdict === 'strongly stable') return `${head}: a strongly stable minimum`;
  if (st.verdict === 'unstable') {
    return `${head}: NOT a minimum (a descent direction exists), so the ${defect}'s predictions do not apply; the solver stopped on a saddle`;
  }
  return `${head}: stable only within the margin, so the ${defect} is not shown to be strongly stable and the predictions' assumption is not met`;
}

/**
 * A fit judged under the theory's assumptions: if the reference minimum is not strongly stable, or some point of
 * the study left its branch, the fit's verdict becomes 'assumption fails' and its explanation carries the evidence.
 */
export function applyAssumptions(
  f: RateFit,
  jumped: ReadonlyArray<{ t?: number; maxShift: number; atom: string | null; threshold: number }>,
  st: StrongStabilityResult | null,
  defect: string,
  r0: number,
): RateFit {
  const why: string[] = [];
  if (st && st.verdict !== 'strongly stable') {
    why.push(`the reference ${defect} is ${st.verdict === 'unstable' ? 'not a minimum' : 'not strongly stable'} (gamma/mu = ${st.relative.toExponential(2)}, margin ${st.margin})`);
  }
  if (jumped.length) {
    why.push(`${jumped.length} point(s) left the reference branch (${jumped.map((b) => branchEvidence(b, r0)).join('; ')})`);
  }
  if (!why.length) return f;
  return {
    ...f,
    verdict: 'assumption fails',
    explanation: `${f.explanation}; assumption fails: ${why.join('; ')}, so the prediction does not apply there`,
  };
}

