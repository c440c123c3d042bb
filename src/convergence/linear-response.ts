import type { Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { Objective, dot } from '../relax/objective.ts';
import { estimateMu, LaplacianPrecon } from '../relax/precon.ts';
import { ConvergenceError, requireParam } from '../util/errors.ts';

/**
 * Linear solves with the Hessian δ²E at a relaxed configuration, on the free atoms: the first-order response of the
 * P2 study, u1 = -(δ²E(ū))^{-1} δE_W(ū) = (δ²E(ū))^{-1} F_W(ū), and the a-posteriori size of a relaxation's own
 * error, H^{-1} F_residual (one Newton step from the returned state: how far the exact equilibrium is from it).
 *
 * Preconditioned CG on Hessian-vector products with the lattice-Laplacian preconditioner of src/relax (the same
 * pieces Newton-Krylov uses), run to a relative residual far below the Newton inner tolerance because the P2
 * remainder ||D(u_t - u_0 - t u1)|| / t is a difference of nearly equal fields.
 */

export interface HessianSolveOptions {
  /** Stop when ||H x - b||_2 <= relTol ||b||_2 (default 1e-12). */
  relTol?: number;
  /** CG iteration limit (default 5000). */
  maxIterations?: number;
}

export interface HessianSolve {
  /** Solution (flat, atom-major; zero on clamped atoms). */
  x: Float64Array;
  iterations: number;
  /** ||H x - b|| / ||b|| recomputed with one more Hessian-vector product (not the recursive CG residual). */
  relativeResidual: number;
}

/**
 * Solve H x = b for x on the free atoms of `s` (b's clamped components are ignored). Throws a ConvergenceError when
 * the Hessian is not positive on a CG direction (the configuration is not a stable minimum) or when the iteration
 * limit is reached before relTol: a response computed from an unconverged solve would be a silent error.
 */
export function solveHessian(
  pot: SitePotential,
  s: Structure,
  free: Uint8Array | null,
  b: Float64Array,
  o: HessianSolveOptions = {},
): HessianSolve {
  const relTol = o.relTol ?? 1e-12;
  requireParam('relTol', relTol, (v) => v > 0 && v < 1, 'in (0, 1)');
  const maxIt = o.maxIterations ?? 5000;
  const obj = new Objective(pot, s, free);
  const x0 = s.positions;
  const nl = obj.cache.get(s);
  const P = new LaplacianPrecon(obj.dim, s, nl, obj.free);
  P.mu = estimateMu(P, s, (v) => obj.hessianVector(x0, v));
  const N = x0.length;
  const rhs = b.slice();
  obj.project(rhs);
  const x = new Float64Array(N);
  const r = rhs.slice();
  const z = new Float64Array(N);
  P.solve(r, z);
  const d = z.slice();
  let rz = dot(r, z);
  const bn = Math.sqrt(dot(rhs, rhs));
  if (bn === 0) return { x, iterations: 0, relativeResidual: 0 };
  let it = 0;
  const trueResidual = (): number => {
    const hx = obj.hessianVector(x0, x);
    let s2 = 0;
    for (let k = 0; k < N; k++) s2 += (rhs[k] - hx[k]) ** 2;
    return Math.sqrt(s2) / bn;
  };
  for (; it < maxIt; it++) {
    const Hd = obj.hessianVector(x0, d);
    const kappa = dot(d, Hd);
    if (!(kappa > 0)) {
      throw new ConvergenceError(`Hessian solve: non-positive curvature ${kappa} on a CG direction (not a stable minimum)`, {
        iterations: it,
      });
    }
    const a = rz / kappa;
    for (let k = 0; k < N; k++) {
      x[k] += a * d[k];
      r[k] -= a * Hd[k];
    }
    // The recursive residual drifts from the true one in long runs; confirm with an explicit product before stopping.
    if (Math.sqrt(dot(r, r)) <= relTol * bn) {
      const tr = trueResidual();
      if (tr <= relTol * 10) return { x, iterations: it + 1, relativeResidual: tr };
      const hx = obj.hessianVector(x0, x);
      for (let k = 0; k < N; k++) r[k] = rhs[k] - hx[k];
    }
    P.solve(r, z);
    const rzNew = dot(r, z);
    const beta = rzNew / rz;
    rz = rzNew;
    for (let k = 0; k < N; k++) d[k] = z[k] + beta * d[k];
  }
  const tr = trueResidual();
  throw new ConvergenceError(`Hessian solve did not reach relative residual ${relTol} in ${maxIt} CG iterations (${tr})`, {
    iterations: it,
    relativeResidual: tr,
  });
}

/** Forces of `pot` on the free atoms of `s` (zero on clamped atoms): -δE(s) as a flat vector. */
export function freeForces(pot: SitePotential, s: Structure, free: Uint8Array | null): Float64Array {
  const obj = new Objective(pot, s, free);
  const g = new Float64Array(s.positions.length);
  obj.evaluate(s.positions, g);
  for (let k = 0; k < g.length; k++) g[k] = -g[k];
  return g;
}
