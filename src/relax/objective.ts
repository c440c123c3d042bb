import { NeighbourCache } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, withPositions, type Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { plainEnergySummation } from '../checks/types.ts';
import { GeometryError } from '../util/errors.ts';

/**
 * The energy landscape a solver sees: positions x (flat, atom-major) of one structure, E(x) and its gradient with the
 * components of clamped atoms projected out (set to zero), so every solver moves free atoms only. Counts evaluations
 * and reuses neighbour lists through a NeighbourCache (rebuilt only when an atom has moved more than skin / 2).
 */
export class Objective {
  readonly n: number;
  readonly dim: number;
  readonly size: number;
  readonly cache: NeighbourCache;
  forceEvaluations = 0;
  energyEvaluations = 0;
  hessianVectorProducts = 0;
  /** Sum |V_l| of the last evaluation: the scale of the floating-point noise in E (see energyNoise). */
  private energyScale = 0;
  /** The potential sums its energy in plain float64 (engines), see energyNoise. */
  private readonly plainSum: boolean;
  /** Atoms + neighbour pairs of the last evaluation: the number of terms of a plain sum. */
  private terms = 0;
  /** A measured lower bound of the energy noise (relax.ts raises it when a line search fails; see measureEnergyNoise). */
  noiseFloor = 0;
  lastSiteEnergies: Float64Array | undefined;

  constructor(
    readonly pot: SitePotential,
    readonly start: Structure,
    readonly free: Uint8Array | null,
    cache?: NeighbourCache,
  ) {
    assertCellFitsCutoff(start, pot.cutoff);
    this.dim = start.dim;
    this.size = start.positions.length;
    this.n = this.size / this.dim;
    if (free && free.length !== this.n) {
      throw new GeometryError(`free mask has ${free.length} entries but the structure has ${this.n} atoms`);
    }
    this.cache = cache ?? new NeighbourCache(pot.cutoff);
    this.plainSum = plainEnergySummation(pot);
  }

  structure(x: Float64Array): Structure {
    return withPositions(this.start, x);
  }

  /** E(x); writes the projected gradient (-forces on free atoms, 0 on clamped) into g. */
  evaluate(x: Float64Array, g: Float64Array): number {
    const s = this.structure(x);
    const nl = this.cache.get(s);
    const r = this.pot.evaluate(s, nl);
    this.terms = this.n + nl.index.length / 2;
    this.forceEvaluations++;
    this.energyEvaluations++;
    const f = r.forces;
    const free = this.free;
    const d = this.dim;
    for (let i = 0; i < this.n; i++) {
      const on = !free || free[i] !== 0;
      for (let a = 0; a < d; a++) g[i * d + a] = on ? -f[i * d + a] : 0;
    }
    this.lastSiteEnergies = r.siteEnergies;
    if (r.siteEnergies) {
      let sc = 0;
      for (let i = 0; i < r.siteEnergies.length; i++) sc += Math.abs(r.siteEnergies[i]);
      this.energyScale = sc;
    } else this.energyScale = Math.abs(r.energy);
    return r.energy;
  }

  /** Projected Hessian-vector product at x (v's clamped components are treated as zero). */
  hessianVector(x: Float64Array, v: Float64Array): Float64Array {
    const s = this.structure(x);
    const nl = this.cache.get(s);
    let w = v;
    if (this.free) {
      w = v.slice();
      this.project(w);
    }
    const hv = this.pot.hessianVector(s, nl, w);
    this.hessianVectorProducts++;
    this.project(hv);
    return hv;
  }

  project(v: Float64Array): void {
    const free = this.free;
    if (!free) return;
    const d = this.dim;
    for (let i = 0; i < this.n; i++) if (!free[i]) for (let a = 0; a < d; a++) v[i * d + a] = 0;
  }

  /**
   * Size of the rounding noise in E: site energies are summed with compensation, but each V_l carries a relative
   * error of a few ulps, so differences of E below ~ 1e-15 sum|V_l| are not resolvable. Line searches stop trusting
   * energy comparisons below this (and fall back to gradient conditions), which is why an energy-only criterion
   * stalls near max|F| ~ 1e-6 on large cells.
   * A potential that declares a plain float64 sum (engines: energySummation 'plain') has rounding that grows with the
   * number of terms: 1e-15 |E| sqrt(atoms + pairs). Measured through LAMMPS (eam/alloy, Cu vacancy balls of 2,490,
   * 5,472 and 10,640 atoms): the largest deviation of E from a smooth quadratic along a line was 1e-10, 1e-9 and
   * 2.2e-9 eV, 30-150 x 4e-16 |E|, and 1/20-1/3 of this bound; with the compensated bound the L-BFGS line search
   * failed at max|F| 2.4e-6 on a 20 A ball.
   */
  energyNoise(): number {
    const model = this.plainSum ? 1e-15 * this.energyScale * Math.sqrt(this.terms) : 4e-16 * this.energyScale;
    return Math.max(model, this.noiseFloor) + 1e-300;
  }

  /** max_i |F_i| over free atoms (Euclidean norm of each atom's force). */
  maxForce(g: Float64Array): number {
    const d = this.dim;
    let m = 0;
    for (let i = 0; i < this.n; i++) {
      let s = 0;
      for (let a = 0; a < d; a++) s += g[i * d + a] * g[i * d + a];
      if (!(s <= m)) m = s; // NaN propagates
    }
    return Math.sqrt(m);
  }

  /** max_i |v_i| over atoms (the largest atomic displacement of a step). */
  maxDisplacement(v: Float64Array): number {
    return this.maxForce(v);
  }
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
