import { hessianByFiniteDifferences } from '../checks/types.ts';
import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';

/**
 * Potentials whose Hessian-vector products are finite differences of their forces: external engines (LAMMPS, ASE,
 * any i-PI client; the protocol carries no second derivatives), as their describe() declares. For them every
 * product costs 2-4 full engine evaluations and carries a differencing error (and, on a C1 spline table such as
 * LAMMPS eam/alloy, an inconsistency across the knots that no step removes), so the relaxation and the stability
 * test pick methods that need few or no products (src/relax/relax.ts 'auto', src/relax/stability.ts).
 */
export function finiteDifferenceHessian(pot: SitePotential): boolean {
  return hessianByFiniteDifferences(pot);
}

/** Engine calls a potential has made so far, when it counts them (describe().evaluations of the engines). */
export function engineEvaluations(pot: SitePotential): number | undefined {
  const n = pot.describe().evaluations;
  return typeof n === 'number' ? n : undefined;
}

/** The differencing step the potential declares (describe().hessianVector.step), else 1e-4 x cutoff. */
export function declaredStep(pot: SitePotential): number {
  const h = (pot.describe().hessianVector as { step?: unknown } | undefined)?.step;
  return typeof h === 'number' && h > 0 ? h : 1e-4 * pot.cutoff;
}

/**
 * One central difference of forces along v: H v = -(F(x + h v^) - F(x - h v^)) / 2h |v| + O(h^2), two evaluations
 * (an engine's own Richardson product takes four). Used where a product's sign and size matter but 1e-8 relative
 * accuracy is ample: the Lanczos stability test, whose instability threshold is raised to match (FD_ROUNDOFF).
 */
export function centralDifferenceHessianVector(
  pot: SitePotential,
  s: Structure,
  nl: NeighbourList,
  v: Float64Array,
  step: number,
): Float64Array {
  if (!(step > 0)) throw new ParameterError(`finite-difference step must be > 0, got ${step}`);
  let nv = 0;
  for (let i = 0; i < v.length; i++) nv += v[i] * v[i];
  nv = Math.sqrt(nv);
  const out = new Float64Array(v.length);
  if (nv === 0) return out;
  const xp = Float64Array.from(s.positions);
  const xm = Float64Array.from(s.positions);
  for (let i = 0; i < v.length; i++) {
    xp[i] += (step * v[i]) / nv;
    xm[i] -= (step * v[i]) / nv;
  }
  const fp = pot.evaluate({ dim: s.dim, positions: xp, cell: s.cell }, nl).forces;
  const fm = pot.evaluate({ dim: s.dim, positions: xm, cell: s.cell }, nl).forces;
  for (let i = 0; i < v.length; i++) out[i] = (-(fp[i] - fm[i]) / (2 * step)) * nv;
  return out;
}

/**
 * Relative size, against the largest Hessian eigenvalue, below which a negative Rayleigh quotient from central
 * differences (step 1e-5 x cutoff: truncation ~1e-9, rounding ~1e-11 relative; a C1 table's knots add their jump
 * in second derivatives) is not taken as proof of instability. Analytic products use 1e-12.
 */
export const FD_ROUNDOFF = 1e-6;

/**
 * `pot` seen as an engine: the same energies and forces, no site energies, and Hessian-vector products by
 * central or Richardson differences of forces, declared in describe() as the engines declare theirs. Lets tests and
 * benchmarks run the engine code paths (solver choice, stability test, total-energy formation energies) on a
 * built-in potential in process.
 */
export function asFiniteDifferenceEngine(
  pot: SitePotential,
  opts: { scheme?: 'central' | 'richardson'; step?: number; siteEnergies?: boolean } = {},
): SitePotential & { evaluations: number } {
  const scheme = opts.scheme ?? 'richardson';
  const step = opts.step ?? 1e-4 * pot.cutoff;
  if (!(step > 0)) throw new ParameterError(`finite-difference step must be > 0, got ${step}`);
  const self = {
    name: `${pot.name} (engine: ${scheme} FD Hessian)`,
    cutoff: pot.cutoff,
    units: pot.units,
    lengthScale: pot.lengthScale,
    evaluations: 0,
    describe: () => ({
      kind: 'fd-engine',
      base: pot.describe(),
      hessianVector: { method: `${scheme} finite differences of forces`, step },
      siteEnergies: opts.siteEnergies ?? false,
      evaluations: self.evaluations,
    }),
    evaluate(s: Structure, nl: NeighbourList): EvalResult {
      self.evaluations++;
      const r = pot.evaluate(s, nl);
      return opts.siteEnergies ? r : { energy: r.energy, forces: r.forces, virial: r.virial };
    },
    hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
      const d1 = centralDifferenceHessianVector(self, s, nl, v, step);
      if (scheme === 'central') return d1;
      const d2 = centralDifferenceHessianVector(self, s, nl, v, step / 2);
      for (let i = 0; i < d1.length; i++) d1[i] = (4 * d2[i] - d1[i]) / 3;
      return d1;
    },
  };
  return self;
}
