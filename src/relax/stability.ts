import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { buildNeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, type Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';

/**
 * Is a relaxed configuration a strongly stable minimum (THEORY.md section 1: δ²E(ū)[v,v] >= γ||Dv||²)? The theory
 * and every rate of P1-P6 assume it; a solver only certifies a zero force, which a saddle also has (e.g. a vacancy
 * relaxed from the symmetric lattice stays symmetric even where a symmetry-breaking reconstruction is lower).
 *
 * Lanczos with full reorthogonalisation on the Hessian restricted to the free coordinates (translations projected
 * out when every atom is free, as in a periodic cell). The lowest Ritz value θ is an upper bound of the lowest
 * eigenvalue, and it is recomputed as the Rayleigh quotient of its Ritz vector with one more Hessian-vector product,
 * so `rayleigh < 0` (beyond the round-off scale recorded alongside) PROVES the configuration is not a minimum, with
 * no assumption on the convergence of Lanczos. A positive value is evidence, not proof, of stability.
 */
export interface StabilityResult {
  /** Rayleigh quotient v'Hv / v'v of the lowest Ritz vector. */
  rayleigh: number;
  /** ||Hv - θv|| / ||v|| of that vector (small: θ is close to an eigenvalue). */
  residual: number;
  /** Largest Ritz value (a lower bound of ||H||), for the round-off scale. */
  largest: number;
  /** Round-off scale of the Rayleigh quotient: 1e-12 x largest. A rayleigh below -roundoff proves instability. */
  roundoff: number;
  /** 'unstable' iff rayleigh < -roundoff. */
  verdict: 'stable' | 'unstable';
  iterations: number;
  hessianVectorProducts: number;
  seed: number;
}

export interface StabilityOptions {
  /** Lanczos steps (default min(80, free coordinates)). */
  iterations?: number;
  /** Seed of the random start vector (default 1; recorded in the result). */
  seed?: number;
}

export function lowestEigenvalue(
  pot: SitePotential,
  s: Structure,
  free: Uint8Array | null,
  opts: StabilityOptions = {},
): StabilityResult {
  assertCellFitsCutoff(s, pot.cutoff);
  const d = s.dim;
  const n = s.positions.length / d;
  const nl = buildNeighbourList(s, pot.cutoff);
  const allFree = !free || free.every((f) => f !== 0);
  let dof = 0;
  for (let i = 0; i < n; i++) if (!free || free[i]) dof += d;
  if (allFree) dof -= d;
  if (dof < 1) throw new ParameterError('stability check needs at least one free degree of freedom');
  const k = Math.min(opts.iterations ?? 80, dof);
  const seed = opts.seed ?? 1;

  // Projection onto the free, translation-free subspace.
  const project = (v: Float64Array): void => {
    for (let i = 0; i < n; i++) if (free && !free[i]) for (let a = 0; a < d; a++) v[i * d + a] = 0;
    if (allFree) {
      for (let a = 0; a < d; a++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += v[i * d + a];
        m /= n;
        for (let i = 0; i < n; i++) v[i * d + a] -= m;
      }
    }
  };
  let hvps = 0;
  const H = (v: Float64Array): Float64Array => {
    hvps++;
    const w = pot.hessianVector(s, nl, v);
    project(w);
    return w;
  };
  const dot = (a: Float64Array, b: Float64Array): number => {
    let t = 0;
    for (let i = 0; i < a.length; i++) t += a[i] * b[i];
    return t;
  };
  const scale = (a: Float64Array, c: number): void => {
    for (let i = 0; i < a.length; i++) a[i] *= c;
  };

  const rng = new Rng(seed);
  const q0 = new Float64Array(n * d);
  for (let i = 0; i < q0.length; i++) q0[i] = rng.normal();
  project(q0);
  scale(q0, 1 / Math.sqrt(dot(q0, q0)));
  const Q: Float64Array[] = [q0];
  const alpha: number[] = [];
  const beta: number[] = [];
  let normH = 0;
  for (let j = 0; j < k; j++) {
    const w = H(Q[j]);
    const aj = dot(w, Q[j]);
    alpha.push(aj);
    // Full reorthogonalisation (twice) against every Lanczos vector: k is small, and it keeps ghosts out.
    for (let pass = 0; pass < 2; pass++) {
      for (const q of Q) {
        const c = dot(w, q);
        for (let i = 0; i < w.length; i++) w[i] -= c * q[i];
      }
    }
    project(w);
    const b = Math.sqrt(dot(w, w));
    normH = Math.max(normH, Math.abs(aj) + b);
    // An invariant subspace is exhausted (symmetric cells have few distinct eigenvalues): w is round-off, and
    // normalising it would bring in directions outside the projected space. Stop; the Ritz values are exact.
    if (j === k - 1 || b < 1e-10 * normH) break;
    beta.push(b);
    scale(w, 1 / b);
    Q.push(w);
  }
  const m = alpha.length;
  const T = Matrix.zeros(m, m);
  for (let i = 0; i < m; i++) {
    T.set(i, i, alpha[i]);
    if (i + 1 < m) {
      T.set(i, i + 1, beta[i]);
      T.set(i + 1, i, beta[i]);
    }
  }
  const evd = new EigenvalueDecomposition(T, { assumeSymmetric: true });
  const vals = evd.realEigenvalues;
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < m; i++) {
    if (vals[i] < vals[lo]) lo = i;
    if (vals[i] > vals[hi]) hi = i;
  }
  const V = evd.eigenvectorMatrix;
  const y = new Float64Array(n * d);
  for (let j = 0; j < m; j++) {
    const c = V.get(j, lo);
    const q = Q[j];
    for (let i = 0; i < y.length; i++) y[i] += c * q[i];
  }
  const yy = dot(y, y);
  const Hy = H(y);
  const rayleigh = dot(y, Hy) / yy;
  let r2 = 0;
  for (let i = 0; i < y.length; i++) r2 += (Hy[i] - rayleigh * y[i]) ** 2;
  const largest = vals[hi];
  const roundoff = 1e-12 * Math.max(Math.abs(largest), 1e-300);
  return {
    rayleigh,
    residual: Math.sqrt(r2 / yy),
    largest,
    roundoff,
    verdict: rayleigh < -roundoff ? 'unstable' : 'stable',
    iterations: m,
    hessianVectorProducts: hvps,
    seed,
  };
}
