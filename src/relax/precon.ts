import type { NeighbourList } from '../lattice/neighbours.ts';
import type { Structure } from '../lattice/structure.ts';
import { ParameterError } from '../util/errors.ts';
import { AmgHierarchy } from './amg.ts';
import { nestedDissection, SparseCholesky, symFromTriplets, symMatVec, type SymCsc } from './sparse.ts';

/**
 * The "universal" lattice-Laplacian preconditioner of Packwood et al., J. Chem. Phys. 144, 164109 (2016), as in ASE's
 * PreconLBFGS (Exp precon): P = mu (L + cStab I), with L the weighted graph Laplacian of the bonds shorter than
 * rCut, bond weights exp(-A (r / rNN - 1)), applied identically to every Cartesian component.
 *
 * Why it works: far from the defect core the Hessian of a crystal is a discrete elasticity operator, spectrally
 * equivalent to mu L; its condition number grows like R^2 with the domain size R, while P^{-1} H stays bounded, so
 * the iteration count of a preconditioned method barely grows with N.
 *
 * Clamped atoms (free = 0) are eliminated: their rows and columns are dropped and their bonds to free atoms stay on
 * the diagonal (a Dirichlet Laplacian, positive definite). In a periodic cell L has the constant vector in its null
 * space, which cStab removes; cStab is kept small (default 1e-4 of a bond weight) because a large one (ASE uses 0.1)
 * spoils the long-wavelength modes that make large cells slow in the first place.
 */
export interface PreconOptions {
  /** Nearest-neighbour distance; default: the median nearest-neighbour distance of the start configuration. */
  rNN?: number;
  /** Bonds shorter than rCut enter L; default 1.5 rNN (nearest neighbours of close-packed lattices). */
  rCut?: number;
  /** Weight decay A in exp(-A (r/rNN - 1)); default 3 (ASE). */
  A?: number;
  /** Diagonal stabilisation relative to a unit bond weight; default 1e-4. */
  cStab?: number;
  /** Energy scale of P; default estimated from a Hessian-vector product on a smooth displacement (see estimateMu). */
  mu?: number;
  /**
   * How P^{-1} is applied: 'cholesky' (exact sparse factor, nested dissection), 'amg' (one smoothed-aggregation
   * V-cycle, src/relax/amg.ts) or 'auto' (the default here): Cholesky in 2D and for small 3D problems, AMG for 3D
   * problems above AMG_MIN_FREE free atoms, chosen by measurement (see AMG_MIN_FREE). Relaxations default to
   * relaxationPreconDefaults (AMG at every size in 3D).
   */
  method?: 'auto' | 'cholesky' | 'amg';
  /** AMG only: coarsen down to this many unknowns, then factorise exactly (default 400, src/relax/amg.ts). */
  amgCoarseSize?: number;
}

/**
 * 3D problems with at least this many free atoms use AMG under method 'auto'. Measured on fcc Cu vacancies
 * (Cu_mishin1, all atoms free, relaxed to 1e-10): the exact 3D factor costs O(N^2) to build and O(N^{4/3}) per solve;
 * at 3,999 atoms its construction took 2 s and its solves more time than the force evaluations, while the V-cycle
 * costs a few matrix-vector products. Below ~1,000 atoms both are negligible next to the potential.
 */
export const AMG_MIN_FREE = 1000;

/**
 * What relaxations use unless told otherwise: in 3D, AMG at every size with a coarse level of at most 40 unknowns; in
 * 2D, method 'auto' (Cholesky, whose factor stays sparse in 2D). The exact factor of a small periodic 3D cell is nearly
 * dense, and a coarse level of 400 unknowns is such a factor too. Measured on fcc Cu vacancies (Cu_u3, rattled by
 * 0.02 A, medians of 7 relaxations, 3 December 2026; ms to 1e-4 / to 1e-8):
 *
 *   atoms | Cholesky (the old default) | AMG, coarse 400 | AMG, coarse 40 | plain L-BFGS
 *     255 |  17 / 30                    |  17 / 34         |   8 / 14        |  7 / 16
 *     499 |  47 / 77                    |  14 / 28         |  15 / 29        | 15 / 32
 *     863 | 124 / 221                   |  20 / 46         |  21 / 47        | 23 / 56
 *    2047 |  AMG already                |  55 / 116        |  52 / 113       | 61 / 171
 *
 * (same number of force evaluations with either coarse size; the 31,999-atom vacancy to 1e-10: 24 evaluations and
 * 3.2 s either way). The strong-stability test keeps method 'auto' and the default coarse size: its Lanczos
 * recurrence for the pencil (H, L) wants L^{-1} itself, as exact as it is affordable.
 */
export function relaxationPreconDefaults(dim: number): PreconOptions {
  return dim === 3 ? { method: 'amg', amgCoarseSize: 40 } : {};
}

export class LaplacianPrecon {
  /** Number of free atoms (unknowns per Cartesian component). */
  readonly nFree: number;
  /** Map atom -> free index (-1 for clamped). */
  readonly freeIndex: Int32Array;
  readonly matrix: SymCsc;
  /** Exact factor (method 'cholesky') or V-cycle hierarchy (method 'amg'); exactly one is set. */
  readonly factor: SparseCholesky | null;
  readonly amg: AmgHierarchy | null;
  readonly method: 'cholesky' | 'amg';
  mu: number;
  readonly rNN: number;
  readonly rCut: number;
  private readonly tmp: Float64Array;

  constructor(
    readonly dim: number,
    s: Structure,
    nl: NeighbourList,
    free: Uint8Array | null,
    opts: PreconOptions = {},
  ) {
    const n = nl.n;
    const x = s.positions;
    const rNN = opts.rNN ?? smallestPairDistance(s, nl);
    if (!(rNN > 0)) throw new ParameterError(`preconditioner: nearest-neighbour distance ${rNN} must be > 0`);
    const rCut = opts.rCut ?? 1.5 * rNN;
    if (rCut > nl.cutoff) {
      throw new ParameterError(`preconditioner cutoff ${rCut} exceeds the neighbour-list cutoff ${nl.cutoff}`);
    }
    const A = opts.A ?? 3;
    const cStab = opts.cStab ?? 1e-4;
    this.rNN = rNN;
    this.rCut = rCut;
    this.mu = opts.mu ?? 1;
    const fi = new Int32Array(n).fill(-1);
    let nf = 0;
    for (let i = 0; i < n; i++) if (!free || free[i]) fi[i] = nf++;
    this.nFree = nf;
    this.freeIndex = fi;
    // Triplets of the full (both-triangle) Laplacian over free atoms.
    const cap = nl.index.length + nf;
    const ti = new Int32Array(cap);
    const tj = new Int32Array(cap);
    const tv = new Float64Array(cap);
    const diag = new Float64Array(nf);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const a = fi[i];
      if (a < 0) continue;
      for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
        const j = nl.index[p];
        let r2 = 0;
        for (let c = 0; c < dim; c++) {
          const d = x[j * dim + c] + nl.shift[p * dim + c] - x[i * dim + c];
          r2 += d * d;
        }
        const r = Math.sqrt(r2);
        if (r >= rCut) continue;
        const wgt = Math.exp(-A * (r / rNN - 1));
        diag[a] += wgt;
        const b = fi[j];
        if (b >= 0 && b !== a) {
          ti[m] = a;
          tj[m] = b;
          tv[m++] = -wgt;
        }
      }
    }
    for (let a = 0; a < nf; a++) {
      ti[m] = a;
      tj[m] = a;
      tv[m++] = diag[a] + cStab;
    }
    this.matrix = symFromTriplets(nf, ti, tj, tv, m);
    const method = opts.method ?? 'auto';
    if (!['auto', 'cholesky', 'amg'].includes(method)) {
      throw new ParameterError(`preconditioner method '${method}' is not one of auto, cholesky, amg`);
    }
    this.method = method === 'auto' ? (dim === 3 && nf >= AMG_MIN_FREE ? 'amg' : 'cholesky') : method;
    if (this.method === 'amg') {
      this.factor = null;
      this.amg = new AmgHierarchy(this.matrix, dim, { coarseSize: opts.amgCoarseSize });
      this.tmp = new Float64Array(nf * dim);
    } else {
      const coords = new Float64Array(nf * dim);
      for (let i = 0; i < n; i++) if (fi[i] >= 0) for (let c = 0; c < dim; c++) coords[fi[i] * dim + c] = x[i * dim + c];
      const perm = nestedDissection(this.matrix, coords, dim);
      this.factor = SparseCholesky.factor(this.matrix, perm);
      this.amg = null;
      this.tmp = new Float64Array(nf);
    }
  }

  /** z = P^{-1} g on the flat atom vector (clamped components of z are set to zero). g and z may alias. */
  solve(g: Float64Array, z: Float64Array): void {
    const { dim, nFree, freeIndex, tmp } = this;
    const n = freeIndex.length;
    const inv = 1 / this.mu;
    if (this.amg) {
      this.solveAmg(g, z);
      return;
    }
    const factor = this.factor!;
    for (let c = 0; c < dim; c++) {
      for (let i = 0; i < n; i++) if (freeIndex[i] >= 0) tmp[freeIndex[i]] = g[i * dim + c];
      factor.solveStrided(tmp, tmp);
      // With every atom free the energy is translation invariant and P is nearly singular on the translations
      // (eigenvalue cStab): remove the mean so that rounding in the solve cannot feed a huge rigid translation into
      // the search direction (it stalled Newton-Krylov's CG in small periodic cells before this projection).
      let mean = 0;
      if (nFree === n) {
        for (let k = 0; k < nFree; k++) mean += tmp[k];
        mean /= nFree;
      }
      for (let i = 0; i < n; i++) z[i * dim + c] = freeIndex[i] >= 0 ? (tmp[freeIndex[i]] - mean) * inv : 0;
    }
  }

  /** solve() through the V-cycle: all components at once on the interleaved free-atom vector. */
  private solveAmg(g: Float64Array, z: Float64Array): void {
    const { dim, nFree, freeIndex, tmp } = this;
    const n = freeIndex.length;
    const all = nFree === n;
    const src = all ? g : tmp;
    if (!all) {
      for (let i = 0; i < n; i++) {
        const a = freeIndex[i];
        if (a >= 0) for (let c = 0; c < dim; c++) tmp[a * dim + c] = g[i * dim + c];
      }
    }
    const out = this.amgOut ?? (this.amgOut = new Float64Array(nFree * dim));
    this.amg!.apply(src, out);
    const inv = 1 / this.mu;
    const mean = new Float64Array(dim);
    if (all) {
      for (let k = 0; k < nFree; k++) for (let c = 0; c < dim; c++) mean[c] += out[k * dim + c];
      for (let c = 0; c < dim; c++) mean[c] /= nFree;
    }
    for (let i = 0; i < n; i++) {
      const a = freeIndex[i];
      for (let c = 0; c < dim; c++) z[i * dim + c] = a >= 0 ? (out[a * dim + c] - mean[c]) * inv : 0;
    }
  }
  private amgOut: Float64Array | null = null;

  /** y = P v on the flat atom vector (clamped components of y are zero). */
  apply(v: Float64Array, y: Float64Array): void {
    const { dim, freeIndex, nFree } = this;
    const n = freeIndex.length;
    const a = new Float64Array(nFree);
    const b = new Float64Array(nFree);
    for (let c = 0; c < dim; c++) {
      for (let i = 0; i < n; i++) if (freeIndex[i] >= 0) a[freeIndex[i]] = v[i * dim + c];
      symMatVec(this.matrix, a, b);
      for (let i = 0; i < n; i++) y[i * dim + c] = freeIndex[i] >= 0 ? b[freeIndex[i]] * this.mu : 0;
    }
  }
}

/**
 * Typical nearest-neighbour distance: the median over atoms of each atom's nearest-neighbour distance. Not the
 * global minimum: an interstitial sits ~0.58 r0 from its neighbours, and a cutoff of 1.5 x that would drop every
 * lattice bond from L (observed: 20x more iterations than plain L-BFGS before this was the median).
 */
export function smallestPairDistance(s: Structure, nl: NeighbourList): number {
  const { dim, positions: x } = s;
  const near = new Float64Array(nl.n);
  let m = 0;
  for (let i = 0; i < nl.n; i++) {
    let best = Infinity;
    for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
      const j = nl.index[p];
      let r2 = 0;
      for (let c = 0; c < dim; c++) {
        const d = x[j * dim + c] + nl.shift[p * dim + c] - x[i * dim + c];
        r2 += d * d;
      }
      if (r2 < best) best = r2;
    }
    if (best < Infinity) near[m++] = Math.sqrt(best);
  }
  const v = near.subarray(0, m).sort();
  return m ? v[m >> 1] : NaN;
}

/**
 * Estimate mu = <v, H v> / <v, L v> for a smooth displacement v (a product of half-sines over the free atoms'
 * bounding box, the same field in every component), as ASE does with a finite difference of forces. Only the
 * long-wavelength scale matters, because L-BFGS rescales its initial matrix after the first step; mu sets the size
 * of that first step and the Newton-Krylov preconditioner. Non-positive estimates (unstable start) fall back to 1.
 */
export function estimateMu(
  precon: LaplacianPrecon,
  s: Structure,
  hv: (v: Float64Array) => Float64Array,
): number {
  const { dim, freeIndex } = precon;
  const n = freeIndex.length;
  const x = s.positions;
  const lo = new Float64Array(dim).fill(Infinity);
  const hi = new Float64Array(dim).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    if (freeIndex[i] < 0) continue;
    for (let c = 0; c < dim; c++) {
      lo[c] = Math.min(lo[c], x[i * dim + c]);
      hi[c] = Math.max(hi[c], x[i * dim + c]);
    }
  }
  const v = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (freeIndex[i] < 0) continue;
    let w = 1;
    for (let c = 0; c < dim; c++) {
      const span = hi[c] - lo[c];
      w *= span > 0 ? Math.sin((Math.PI * (x[i * dim + c] - lo[c] + 0.5 * precon.rNN)) / (span + precon.rNN)) : 1;
    }
    for (let c = 0; c < dim; c++) v[i * dim + c] = w;
  }
  const Hv = hv(v);
  const mu0 = precon.mu;
  precon.mu = 1;
  const Lv = new Float64Array(n * dim);
  precon.apply(v, Lv);
  precon.mu = mu0;
  let num = 0;
  let den = 0;
  for (let k = 0; k < n * dim; k++) {
    num += v[k] * Hv[k];
    den += v[k] * Lv[k];
  }
  const mu = num / den;
  return Number.isFinite(mu) && mu > 0 ? mu : 1;
}
