import { ballDomain, smallestPerfectCell, type Domain } from '../lattice/domain.ts';
import type { Lattice } from '../lattice/lattice.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { HP, type HPDecimal } from '../util/decimal.ts';
import { ConvergenceError } from '../util/errors.ts';
import { neumaierSum } from '../util/sum.ts';
import type { SiteField } from '../convergence/errors.ts';
import { relax } from './relax.ts';
import type { RelaxOptions, RelaxResult } from './types.ts';

export interface DefectRelaxOptions extends RelaxOptions {
  /** Energy per site of the perfect lattice; default computed with perfectLatticeEnergy (domain's lattice). */
  e0?: number;
}

/** A relaxed defect: the solver result, the displacement field keyed by site, and the formation energy. */
export interface DefectRelaxation {
  readonly domain: Domain;
  readonly result: RelaxResult;
  /** u = relaxed - reference positions (flat, atom order of the domain). */
  readonly displacement: Float64Array;
  /** The displacement keyed by stable site identity, ready for the error measures of src/convergence/errors.ts. */
  readonly field: SiteField;
  /** Perfect-lattice energy per site used for E_f. */
  readonly e0: number;
  /** E_f as a float (rounded from formationEnergyExact). */
  readonly formationEnergy: number;
  /** E_f in high precision (decimal string, 40 significant digits of the float64 site energies' exact sum). */
  readonly formationEnergyExact: string;
  /** Number of sites that entered the E_f sum. */
  readonly energySites: number;
}

/**
 * Energy per site of the perfect lattice `l` under `pot`: the smallest periodic cell of whole conventional cells
 * that carries the cutoff, total energy (compensated sum) / N. For the lattice of equilibriumLattice() this is its e0.
 */
export function perfectLatticeEnergy(pot: SitePotential, l: Lattice): number {
  const dom = smallestPerfectCell(l, pot.cutoff);
  const r = evaluate(pot, dom.structure);
  return r.energy / dom.keys.length;
}

/**
 * Relax the defect in `domain` (clamped ball or periodic cell) and measure it.
 *
 * Formation energy, in high precision (decimal.js, 40 digits; each float64 site energy enters exactly):
 * - ball: E_f = sum over energyMask sites of (V_l - e0). Sites outside the mask are unaffected by the free atoms
 *   (they are more than the cutoff from every free atom), so this is the energy difference to the perfect lattice
 *   with the same sites, i.e. E_total - N e0 of the infinite crystal restricted to the part that changes.
 * - periodic: E_f = E_total - N e0 with N the number of atoms in the cell (the mask covers every atom).
 * The two big terms nearly cancel, which is why they are subtracted in decimal rather than float64.
 */
export function relaxDefect(pot: SitePotential, domain: Domain, opts: DefectRelaxOptions = {}): DefectRelaxation {
  const e0 = opts.e0 ?? perfectLatticeEnergy(pot, domain.lattice);
  const result = relax(pot, domain.structure, domain.free, opts);
  const V = result.siteEnergies;
  const x0 = domain.structure.positions;
  const x = result.structure.positions;
  const u = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) u[k] = x[k] - x0[k];
  const field: SiteField = {
    dim: domain.lattice.dim,
    keys: domain.keys,
    u,
    extension: domain.boundary === 'ball' ? 'zero' : 'none',
  };
  if (!V) {
    const ef = formationEnergyFromTotals(pot, domain, result.energy, e0);
    return { domain, result, displacement: u, field, e0, formationEnergy: ef.toNumber(), formationEnergyExact: ef.toString(), energySites: domain.keys.length };
  }
  let sum = new HP(0);
  let count = 0;
  const mask = domain.energyMask;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    sum = sum.plus(V[i]);
    count++;
  }
  const ef = sum.minus(new HP(e0).mul(count));
  // Cheap cross-check: the float64 compensated sum must agree to rounding (a mismatch means a bookkeeping bug).
  const approx = neumaierSum(V, mask) - count * e0;
  if (!(Math.abs(approx - ef.toNumber()) <= 1e-9 * (1 + Math.abs(count * e0)))) {
    throw new ConvergenceError(`formation energy cross-check failed: decimal ${ef.toString()} vs float ${approx}`);
  }
  return {
    domain,
    result,
    displacement: u,
    field,
    e0,
    formationEnergy: ef.toNumber(),
    formationEnergyExact: ef.toString(),
    energySites: count,
  };
}

/**
 * E_f from total energies, for engines that report no site energies (LAMMPS, ASE, i-PI clients).
 * - periodic: E_total - N e0.
 * - ball: E_f = E_total(relaxed) - E_total(P) - (N - N_P) e0, where P is the perfect clamped ball of the same radius
 *   (every lattice site within R + 2 rc, no defect), one more evaluation. Why it equals the site-energy sum: a site
 *   outside the energy mask (|x| > R + rc) sees no free atom and no defect site within rc, so its site energy is the
 *   same in the relaxed domain and in P; a mask site of P has its whole neighbourhood in P, so its site energy is e0.
 *   Subtracting, the outer (surface) sites cancel and what remains is the mask sum minus its count times e0.
 * The subtraction is done in decimal; what cannot be undone is the engine's own rounding of two totals of size
 * N |e0| (about 1e-16 N |e0| each, e.g. 2e-11 eV for 50,000 Cu atoms, far below the E_f errors a study measures).
 */
export function formationEnergyFromTotals(pot: SitePotential, domain: Domain, energy: number, e0: number): HPDecimal {
  const n = domain.keys.length;
  if (domain.boundary !== 'ball') return new HP(energy).minus(new HP(e0).mul(n));
  const perfect = ballDomain(domain.lattice, 'none', domain.size, domain.cutoff);
  const eP = evaluate(pot, perfect.structure).energy;
  return new HP(energy).minus(new HP(eP)).minus(new HP(e0).mul(n - perfect.keys.length));
}
