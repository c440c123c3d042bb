import { periodicDomain } from '../lattice/domain.ts';
import { perpendicularWidths } from '../lattice/structure.ts';
import { evaluate } from '../potentials/evaluate.ts';
import type { SitePotential } from '../potentials/types.ts';
import { cachedEquilibrium, deriveSeed, maxAbs } from './configs.ts';
import { FLOOR, makeResult, plainEnergySummation, skipResult, Worst, type CheckOptions, type CheckResult } from './types.ts';
import { buildNeighbourList } from '../lattice/neighbours.ts';

/** Unit round-off u of float64. */
const UNIT_ROUNDOFF = 2 ** -53;

/**
 * Extensivity of the perfect lattice at the potential's stress-free lattice constant (src/potentials/equilibrium.ts):
 * periodic cells of several sizes (smallest legal, +1 and +2 repetitions per axis, anisotropic ones by seed) have
 * E = N e0, zero forces and zero virial, and, when site energies are reported, V_l = e0 at every site. e0 comes from
 * the equilibrium solve on its own cell, so agreement across sizes is a real test of extensivity and of the cell
 * list's image handling. All are exact up to round-off, with separate tolerances:
 *   energy  |E - N e0| / (N max(|e0|, floor)) and max|V_l - e0| / max(|e0|, floor): 1e-12 (sums of O(100) terms);
 *   forces  max|F| <= 1e-12 absolute: the lattice positions themselves carry round-off eps |x| ~ 1e-15, and forces
 *           respond with the stiffness (up to ~1e2-1e3 for LJ), so the force floor is ~1e-13 (measured 1.8e-13);
 *   virial  max|W| / N <= 1e-12, which also bounds the equilibrium solve's residual (bracket 1e-15 r0).
 * `worst` is the largest part divided by its own tolerance (so the check's tolerance is 1).
 * A potential that declares a plain float64 energy sum (external engines) gets the round-off bound of such sums as
 * its energy tolerance when that exceeds 1e-12: |E/N - e0| <= (m + m0) u kappa <= 4 m u, with m terms in this cell's
 * sum (N site terms plus one per pair within the cutoff), m0 <= m in the cell that gave e0, u = 2^-53 (Wilkinson), and
 * kappa = sum|terms| / |sum terms| assumed <= 2 (EAM Cu: about 1.3). Measured, LAMMPS eam/alloy Cu, 320 atoms,
 * 8960 terms: 1.11e-12 against 4 m u = 4.0e-12 (the compensated-sum tolerance 1e-12 would call LAMMPS wrong).
 */
export function checkExtensivity(pot: SitePotential, opts: CheckOptions): CheckResult {
  // The stress-free lattice is found from the virial: an engine without stress cannot be judged here.
  const noVirial = pot.describe().virialUnavailable;
  if (typeof noVirial === 'string') return skipResult('extensivity', pot, `${noVirial} (the stress-free lattice needs it)`, opts.seed);
  const tol = 1;
  const TOL = { energy: 1e-12, force: 1e-12, virialPerAtom: 1e-12 };
  const nCases = opts.cases ?? 2;
  const lattice = opts.lattice ?? 'triangular';
  const eq = cachedEquilibrium(pot, lattice, opts.r0);
  const l = eq.lattice;
  const e0 = eq.e0;
  const eScale = Math.max(Math.abs(e0), FLOOR.energyPerAtom);
  const plain = plainEnergySummation(pot);
  const w = new Worst();
  const base = perpendicularWidths(l.cell, l.dim).map((wk) => Math.ceil((2 * pot.cutoff) / wk - 1e-12));
  for (let c = 0; c < nCases; c++) {
    const seed = deriveSeed(opts.seed, c);
    // Case c adds (seed-chosen) 0..2 repetitions per axis.
    let z = seed;
    const reps = base.map((b) => {
      const extra = z % 3;
      z = Math.floor(z / 3);
      return b + extra;
    });
    const dom = periodicDomain(l, 'none', 1, pot.cutoff, reps);
    const n = dom.keys.length;
    const r = evaluate(pot, dom.structure);
    const eErr = Math.abs(r.energy - n * e0) / (n * eScale);
    // Terms of a plain sum: one per site and one per pair within the cutoff (a full list counts each pair twice).
    const terms = plain ? n + buildNeighbourList(dom.structure, pot.cutoff).index.length / 2 : 0;
    const eTol = plain ? Math.max(TOL.energy, 4 * terms * UNIT_ROUNDOFF) : TOL.energy;
    let siteErr = 0;
    if (r.siteEnergies) for (const v of r.siteEnergies) siteErr = Math.max(siteErr, Math.abs(v - e0) / eScale);
    const fErr = maxAbs(r.forces);
    const wErr = maxAbs(r.virial) / n;
    const parts = [eErr / eTol, siteErr / TOL.energy, fErr / TOL.force, wErr / TOL.virialPerAtom];
    const e = parts.some(Number.isNaN) ? NaN : Math.max(...parts);
    w.update(e, {
      seed,
      boundary: 'periodic',
      repetitions: reps,
      atoms: n,
      r0: l.r0,
      e0,
      energyPerAtom: r.energy / n,
      energyError: eErr,
      siteEnergyError: r.siteEnergies ? siteErr : 'skipped: engine reports no site energies',
      maxForce: fErr,
      maxVirialPerAtom: wErr,
      tolerances: { ...TOL, energy: eTol },
      energySummation: plain ? `plain float64 sum of ${terms} terms (engine): energy tolerance max(1e-12, 4 x terms x 2^-53)` : 'compensated',
    });
  }
  return makeResult('extensivity', pot, w.value, tol, w.detail, nCases);
}
