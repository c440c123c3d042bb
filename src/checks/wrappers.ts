import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';
import type { EvalResult, SitePotential } from '../potentials/types.ts';

/**
 * The same model seen as an engine that reports only totals (no site energies, no high-precision path): what an
 * external engine looks like to the checks. Used to test that checks needing site energies skip instead of passing.
 */
export function withoutSiteEnergies(pot: SitePotential): SitePotential {
  return {
    name: `${pot.name} (totals only)`,
    cutoff: pot.cutoff,
    describe: () => ({ kind: 'totals-only', base: pot.describe() }),
    evaluate(s: Structure, nl: NeighbourList): EvalResult {
      const r = pot.evaluate(s, nl);
      return { energy: r.energy, forces: r.forces, virial: r.virial };
    },
    hessianVector: (s: Structure, nl: NeighbourList, v: Float64Array) => pot.hessianVector(s, nl, v),
  };
}
