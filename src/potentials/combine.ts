import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';
import { requireParam } from '../util/errors.ts';
import type { EvalResult, SitePotential } from './types.ts';

/**
 * V + t W: the perturbed potential of the P2 study. Every quantity (site energies, forces, virial, Hessian) is linear
 * in the pair (V, W), so the combination is exact, and it is itself a SitePotential that can be wrapped again.
 */
export class PerturbedPotential implements SitePotential {
  readonly name: string;
  readonly cutoff: number;
  constructor(
    readonly base: SitePotential,
    readonly perturbation: SitePotential,
    readonly t: number,
  ) {
    requireParam('t (perturbation size)', t, () => true, 'finite');
    this.name = `${base.name} + ${t} * ${perturbation.name}`;
    this.cutoff = Math.max(base.cutoff, perturbation.cutoff);
  }
  describe(): Record<string, unknown> {
    return { kind: 'perturbed', t: this.t, base: this.base.describe(), perturbation: this.perturbation.describe() };
  }
  evaluate(s: Structure, nl: NeighbourList): EvalResult {
    const a = this.base.evaluate(s, nl);
    const b = this.perturbation.evaluate(s, nl);
    const t = this.t;
    const forces = a.forces.map((f, i) => f + t * b.forces[i]);
    const virial = a.virial.map((w, i) => w + t * b.virial[i]);
    const siteEnergies =
      a.siteEnergies && b.siteEnergies ? a.siteEnergies.map((e, i) => e + t * b.siteEnergies![i]) : undefined;
    return { energy: a.energy + t * b.energy, siteEnergies, forces, virial };
  }
  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    const a = this.base.hessianVector(s, nl, v);
    const b = this.perturbation.hessianVector(s, nl, v);
    for (let i = 0; i < a.length; i++) a[i] += this.t * b[i];
    return a;
  }
}

export function perturb(base: SitePotential, w: SitePotential, t: number): PerturbedPotential {
  return new PerturbedPotential(base, w, t);
}
