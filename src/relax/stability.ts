import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { buildNeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, type Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';
import { Rng } from '../util/rng.ts';
import { centralDifferenceHessianVector, engineEvaluations, FD_ROUNDOFF, finiteDifferenceHessian } from './fd-hessian.ts';
import { estimateMu, LaplacianPrecon } from './precon.ts';

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
  /** How the products were computed (see StabilityOptions.products) and what they cost an engine. */
  products: ProductsRecord;
}

/** How a stability test computed its Hessian-vector products. */
export interface ProductsRecord {
  method: 'analytic' | 'central finite differences of forces';
  /** Differencing step (finite differences only). */
  step?: number;
  /** Relative round-off scale used for the instability proof (1e-12 analytic, FD_ROUNDOFF differenced). */
  roundoffScale: number;
  /** Engine evaluations the test made (engines that count them). */
  engineEvaluations?: number;
}

export interface StabilityOptions {
  /** Lanczos steps (default min(80, free coordinates)). */
  iterations?: number;
  /** Seed of the random start vector (default 1; recorded in the result). */
  seed?: number;
  /**
   * Hessian-vector products: 'auto' (default) uses the potential's own analytic products, and for a potential whose
   * products are finite differences of forces (engines, src/relax/fd-hessian.ts) one central difference of forces with
   * step 1e-5 x cutoff per product: 2 engine evaluations instead of the engine's 4-evaluation Richardson product.
   * Its error (~1e-9 relative) is far below what the verdicts read (γ/μ against a margin of 1e-3; a sign), and the
   * threshold below which a negative value counts as proof of instability is raised to FD_ROUNDOFF (1e-6) x ||H||.
   * 'potential': always pot.hessianVector.
   */
  products?: 'auto' | 'potential';
}

/**
 * What both stability measures share: the neighbour list, the free degrees of freedom (less the translations when
 * every atom is free), the projection onto that subspace and the projected Hessian-vector product, with its count.
 */
function freeHessian(pot: SitePotential, s: Structure, free: Uint8Array | null, opts: StabilityOptions) {
  assertCellFitsCutoff(s, pot.cutoff);
  const d = s.dim;
  const n = s.positions.length / d;
  const nl = buildNeighbourList(s, pot.cutoff);
  const allFree = !free || free.every((f) => f !== 0);
  let dof = 0;
  for (let i = 0; i < n; i++) if (!free || free[i]) dof += d;
  if (allFree) dof -= d;
  if (dof < 1) throw new ParameterError('stability check needs at least one free degree of freedom');
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
  const hvps = { count: 0 };
  const fd = (opts.products ?? 'auto') === 'auto' && finiteDifferenceHessian(pot);
  const step = 1e-5 * pot.cutoff;
  const H = (v: Float64Array): Float64Array => {
    hvps.count++;
    const w = fd ? centralDifferenceHessianVector(pot, s, nl, v, step) : pot.hessianVector(s, nl, v);
    project(w);
    return w;
  };
  const calls0 = engineEvaluations(pot);
  const products = (): ProductsRecord => {
    const calls1 = engineEvaluations(pot);
    return {
      method: fd ? 'central finite differences of forces' : 'analytic',
      ...(fd ? { step } : {}),
      roundoffScale: fd ? FD_ROUNDOFF : 1e-12,
      ...(calls0 !== undefined && calls1 !== undefined ? { engineEvaluations: calls1 - calls0 } : {}),
    };
  };
  return { d, n, nl, dof, k: Math.min(opts.iterations ?? 80, dof), seed: opts.seed ?? 1, project, H, hvps, fd, products };
}

export function lowestEigenvalue(
  pot: SitePotential,
  s: Structure,
  free: Uint8Array | null,
  opts: StabilityOptions = {},
): StabilityResult {
  const { d, n, k, seed, project, H, hvps, fd, products } = freeHessian(pot, s, free, opts);
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
  const roundoff = (fd ? FD_ROUNDOFF : 1e-12) * Math.max(Math.abs(largest), 1e-300);
  return {
    rayleigh,
    residual: Math.sqrt(r2 / yy),
    largest,
    roundoff,
    verdict: rayleigh < -roundoff ? 'unstable' : 'stable',
    iterations: m,
    hessianVectorProducts: hvps.count,
    seed,
    products: products(),
  };
}

/**
 * The strong-stability constant of THEORY.md section 1, γ = min_v δ²E[v,v] / ||Dv||², measured rather than assumed.
 *
 * Why not lowestEigenvalue: its Rayleigh quotient is per |v|², and in a clamped ball of radius R (or a periodic cell
 * of side R) the softest elastic mode has v'Hv / v'v ~ μ (π/R)², so a perfectly healthy defect's ℓ² curvature tends
 * to 0 with R and no fixed margin on it can tell "strongly stable" from "about to lose stability". Measured against
 * ||Dv||² (the lattice Laplacian L of src/relax/precon.ts, bonds up to 1.5 r_nn, unit energy scale) the same mode has
 * a ratio ~ μ independent of R; only a genuinely soft defect mode drives γ towards 0.
 *
 * Lanczos on the pencil (H, L) (L-inner products, full reorthogonalisation): the lowest Ritz value's vector y gives
 * γ_y = y'Hy / y'Ly, an upper bound of γ; γ_y < 0 (below the round-off scale) PROVES an unstable direction. The
 * elastic scale μ is the same ratio on a smooth (half-sine) displacement of the free region (estimateMu), so
 * `relative = γ / μ` is a dimensionless margin: about 0.2-0.4 for a perfect crystal, 0.01-0.3 for healthy point
 * defects (measured: eam-2d, morse-2d, lj-2d, Cu_mishin1 vacancies, interstitials, divacancies), small when a defect
 * mode is soft. 'strongly stable' iff relative >= margin (default STABILITY_MARGIN).
 */
export interface StrongStabilityResult {
  /** γ_y = y'Hy / y'Ly of the lowest Ritz vector (energy / length²). */
  gamma: number;
  /** Elastic scale μ = v'Hv / v'Lv of a smooth displacement. */
  mu: number;
  /** γ / μ. */
  relative: number;
  /** The margin relative was judged against. */
  margin: number;
  /** ||Hy - γ L y||_{L^-1} / ||y||_L: small when γ_y is close to an eigenvalue of the pencil. */
  residual: number;
  /** 'unstable': γ_y < -round-off (proof of a descent direction); 'weakly stable': 0 <= relative < margin. */
  verdict: 'strongly stable' | 'weakly stable' | 'unstable';
  iterations: number;
  hessianVectorProducts: number;
  seed: number;
  products: ProductsRecord;
}

/** Default margin on γ / μ for 'strongly stable' (see strongStability). */
export const STABILITY_MARGIN = 1e-3;

export function strongStability(
  pot: SitePotential,
  s: Structure,
  free: Uint8Array | null,
  opts: StabilityOptions & { margin?: number } = {},
): StrongStabilityResult {
  const { d, n, nl, k, seed, project, H, hvps, fd, products } = freeHessian(pot, s, free, opts);
  const margin = opts.margin ?? STABILITY_MARGIN;
  const L = new LaplacianPrecon(d, s, nl, free, { mu: 1 });
  const Lx = (v: Float64Array): Float64Array => {
    const y = new Float64Array(v.length);
    L.apply(v, y);
    project(y);
    return y;
  };
  const dot = (a: Float64Array, b: Float64Array): number => {
    let t = 0;
    for (let i = 0; i < a.length; i++) t += a[i] * b[i];
    return t;
  };
  const mu = estimateMu(L, s, (v) => {
    const w = new Float64Array(v.length);
    w.set(v);
    project(w);
    return H(w);
  });
  L.mu = 1;

  const rng = new Rng(seed);
  const q = new Float64Array(n * d);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  project(q);
  const Lq = Lx(q);
  const nrm = Math.sqrt(dot(q, Lq));
  for (let i = 0; i < q.length; i++) {
    q[i] /= nrm;
    Lq[i] /= nrm;
  }
  const Q: Float64Array[] = [q];
  const LQ: Float64Array[] = [Lq];
  const HQ: Float64Array[] = [];
  let normA = 0;
  for (let j = 0; j < k; j++) {
    const Hq = H(Q[j]);
    HQ.push(Hq);
    const aj = dot(Hq, Q[j]);
    if (Q.length === k) break;
    const w = new Float64Array(n * d);
    L.solve(Hq, w);
    project(w);
    const b0 = Math.sqrt(Math.max(dot(w, Lx(w)), 0));
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < Q.length; p++) {
        const c = dot(w, LQ[p]);
        const qp = Q[p];
        for (let i = 0; i < w.length; i++) w[i] -= c * qp[i];
      }
    }
    // Translations have zero L-norm here (Lx projects them out), so rounding in that direction would be invisible to
    // b and amplified by 1/b step after step: remove it every time.
    project(w);
    const Lw = Lx(w);
    const b = Math.sqrt(Math.max(dot(w, Lw), 0));
    normA = Math.max(normA, Math.abs(aj) + b);
    // The Krylov space is exhausted when reorthogonalisation leaves less than 1e-6 of the new vector: what is left is
    // rounding, and normalising it would feed garbage (with an unreliable L-norm) into the basis.
    if (b < 1e-6 * b0 || b < 1e-10 * normA) break;
    for (let i = 0; i < w.length; i++) {
      w[i] /= b;
      Lw[i] /= b;
    }
    Q.push(w);
    LQ.push(Lw);
  }
  // Rayleigh-Ritz on the Krylov basis with explicitly computed Gram matrices (Q'HQ, Q'LQ): immune to the slow loss of
  // L-orthogonality that the three-term tridiagonal would silently turn into a wrong Ritz value (seen in periodic
  // cells), and the basis directions the Gram matrix calls dependent are dropped.
  const m = Q.length;
  const LQf = Q.map(Lx);
  const A = Matrix.zeros(m, m);
  const B = Matrix.zeros(m, m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      const a = 0.5 * (dot(Q[i], HQ[j]) + dot(Q[j], HQ[i]));
      const g = 0.5 * (dot(Q[i], LQf[j]) + dot(Q[j], LQf[i]));
      A.set(i, j, a);
      A.set(j, i, a);
      B.set(i, j, g);
      B.set(j, i, g);
    }
  }
  const eb = new EigenvalueDecomposition(B, { assumeSymmetric: true });
  const sv = eb.realEigenvalues;
  const smax = Math.max(...sv);
  const keep = sv.map((x, i) => [x, i] as const).filter(([x]) => x > 1e-6 * smax);
  const Wm = Matrix.zeros(m, keep.length);
  keep.forEach(([x, i], c) => {
    for (let r = 0; r < m; r++) Wm.set(r, c, eb.eigenvectorMatrix.get(r, i) / Math.sqrt(x));
  });
  const C = Wm.transpose().mmul(A).mmul(Wm);
  const Cs = C.add(C.transpose()).mul(0.5);
  const ec = new EigenvalueDecomposition(Cs, { assumeSymmetric: true });
  const vals = ec.realEigenvalues;
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < vals.length; i++) {
    if (vals[i] < vals[lo]) lo = i;
    if (vals[i] > vals[hi]) hi = i;
  }
  const coef = Wm.mmul(ec.eigenvectorMatrix.getColumnVector(lo));
  const y = new Float64Array(n * d);
  for (let j = 0; j < m; j++) {
    const c = coef.get(j, 0);
    const qj = Q[j];
    for (let i = 0; i < y.length; i++) y[i] += c * qj[i];
  }
  project(y);
  const Hy = H(y);
  const Ly = Lx(y);
  const yLy = dot(y, Ly);
  const gamma = dot(y, Hy) / yLy;
  // Residual in the dual norm: ||L^{-1}(Hy - γ Ly)||_L / ||y||_L.
  const r = new Float64Array(y.length);
  for (let i = 0; i < r.length; i++) r[i] = Hy[i] - gamma * Ly[i];
  const z = new Float64Array(y.length);
  L.solve(r, z);
  project(z);
  const residual = Math.sqrt(Math.max(dot(z, r), 0) / yLy);
  const roundoff = (fd ? FD_ROUNDOFF : 1e-12) * Math.max(Math.abs(vals[hi]), 1e-300);
  const relative = gamma / mu;
  return {
    gamma,
    mu,
    relative,
    margin,
    residual,
    verdict: gamma < -roundoff ? 'unstable' : relative >= margin ? 'strongly stable' : 'weakly stable',
    iterations: m,
    hessianVectorProducts: hvps.count,
    seed,
    products: products(),
  };
}
