import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';

/** What one evaluation of a potential returns. */
export interface EvalResult {
  /** Total energy: compensated sum of the site energies. */
  energy: number;
  /** Per-site energies V_l (absent for engines that only report totals). */
  siteEnergies?: Float64Array;
  /** Forces -dE/dx, flat like positions. */
  forces: Float64Array;
  /** Virial W = -dE/d(strain) (stress times volume, sign as ASE/extxyz), dim*dim row-major, symmetric. */
  virial: Float64Array;
}

/**
 * The one interface every model implements: reference potentials, the linear MLIP, combinations V + tW, and
 * external engines. A potential is a pure function of (structure, neighbour list); the caller owns neighbour-list
 * reuse (NeighbourCache), so a potential can be wrapped, perturbed and differentiated freely.
 */
export interface SitePotential {
  readonly name: string;
  /** Interaction cutoff: site energies depend only on neighbours closer than this. */
  readonly cutoff: number;
  /** Kind and parameters, JSON-serialisable, for provenance in reports. */
  describe(): Record<string, unknown>;
  /** Energy, site energies, forces and virial. The list must have been built with a cutoff >= this.cutoff. */
  evaluate(s: Structure, nl: NeighbourList): EvalResult;
  /** Hessian of the total energy applied to v (v flat like positions): d/dt grad E(x + t v) at t = 0. */
  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array;
  /**
   * Optional: the parameters t in (t0, t1) at which the energy along the straight path (positions + t path.positions,
   * cell + t path.cell) may fail to be infinitely differentiable (a table's knots, a cutoff crossed). Derivative
   * checks split their line integrals there, so a C1 spline is judged on its pieces, not across its kinks.
   */
  kinksAlong?(s: Structure, path: LinearPath, t0: number, t1: number): number[];
}

/** Direction of a straight path in configuration space: d positions/dt and d cell/dt (null: the cell is fixed). */
export interface LinearPath {
  readonly positions: Float64Array;
  readonly cell: Float64Array | null;
}
