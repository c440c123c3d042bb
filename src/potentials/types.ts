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
  /**
   * The unit system of lengths and energies (positions, cutoff, energies, forces). Built-ins are reduced (nearest-
   * neighbour distance about 1, bond energy about 1); LAMMPS files and engines are Angstrom and eV. Declared by
   * whoever builds the potential (src/potentials/spec.ts declares it for every spec); read it with unitsOf().
   */
  readonly units?: PotentialUnits;
  /**
   * A typical nearest-neighbour distance in the potential's length unit (e.g. from an EAM file's lattice constant),
   * where stress-free lattice solves start; absent for reduced-unit built-ins (start 1).
   */
  readonly lengthScale?: number;
  /** Interaction cutoff: site energies depend only on neighbours closer than this. */
  readonly cutoff: number;
  /**
   * True for external engines (LAMMPS, i-PI, ASE), which find their own neighbours: one-shot callers (evaluate(),
   * hessianVector(), forceConstants()) then pass an empty list instead of building one they would throw away (on a
   * 432-atom cell with a 7.9 A cutoff the build cost 3x a native evaluation, per engine call).
   */
  readonly ignoresNeighbourList?: boolean;
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

/** Length and energy units of a potential, as words for reports ('Angstrom', 'eV', 'reduced'). */
export interface PotentialUnits {
  readonly length: string;
  readonly energy: string;
}

/** The built-ins' units: lengths in units of about one nearest-neighbour distance, energies of about one bond. */
export const REDUCED_UNITS: PotentialUnits = Object.freeze({ length: 'reduced', energy: 'reduced' });
/** LAMMPS `units metal`, ASE and the i-PI engines after conversion. */
export const METAL_UNITS: PotentialUnits = Object.freeze({ length: 'Angstrom', energy: 'eV' });

/** The declared units of a potential; a potential that declares none is taken as reduced (the built-ins' case). */
export function unitsOf(p: SitePotential): PotentialUnits {
  return p.units ?? REDUCED_UNITS;
}

/**
 * Declare units (and a length scale) on a potential built elsewhere, in place: the classes stay unaware of units and
 * their instances keep their identity (kernels may dispatch on the class). Units a potential already declares win
 * (the engines carry their own unit system, which their conversions use). Returns the same object.
 */
export function declareUnits<P extends SitePotential>(p: P, units: PotentialUnits, lengthScale?: number): P {
  if (p.units === undefined) Object.defineProperty(p, 'units', { value: units, enumerable: false, configurable: true });
  if (lengthScale !== undefined) Object.defineProperty(p, 'lengthScale', { value: lengthScale, enumerable: false, configurable: true });
  return p;
}
