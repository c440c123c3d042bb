import { GeometryError } from '../util/errors.ts';
import { dot, type Objective } from './objective.ts';
import type { LaplacianPrecon } from './precon.ts';
import type { SolverName, SolverStage } from './types.ts';

/**
 * The iterative solvers. Each works on an Objective (positions -> energy, projected gradient), moves the position
 * buffer `x` in place and returns a stage record with a status. They never throw for non-convergence themselves:
 * relax() decides (an 'auto' run hands a stalled L-BFGS over to Newton-Krylov; anything else unconverged becomes a
 * ConvergenceError carrying the stage records). Non-finite energies or forces end a stage with status 'nan'.
 */

export interface StageState {
  x: Float64Array;
  g: Float64Array;
  energy: number;
}

export interface StageSettings {
  tol: number;
  maxIterations: number;
  maxStep: number;
  memory: number;
  deadline: number;
  history: boolean;
}

export interface StageOutcome {
  stage: SolverStage;
  converged: boolean;
}

class StageRecorder {
  readonly t0 = performance.now();
  readonly f0: number;
  readonly e0: number;
  readonly h0: number;
  iterations = 0;
  readonly residuals: number[] = [];
  readonly energies: number[] = [];
  constructor(
    readonly solver: SolverName,
    readonly obj: Objective,
    readonly keep: boolean,
  ) {
    this.f0 = obj.forceEvaluations;
    this.e0 = obj.energyEvaluations;
    this.h0 = obj.hessianVectorProducts;
  }
  record(res: number, e: number): void {
    if (this.keep || this.residuals.length === 0) {
      this.residuals.push(res);
      this.energies.push(e);
    } else {
      this.residuals[1] = res;
      this.energies[1] = e;
    }
  }
  done(status: string, converged: boolean): StageOutcome {
    const o = this.obj;
    return {
      converged,
      stage: {
        solver: this.solver,
        iterations: this.iterations,
        forceEvaluations: o.forceEvaluations - this.f0,
        energyEvaluations: o.energyEvaluations - this.e0,
        residualHistory: this.residuals,
        energyHistory: this.energies,
        hessianVectorProducts: o.hessianVectorProducts - this.h0,
        wallTimeSeconds: (performance.now() - this.t0) / 1000,
        status,
      },
    };
  }
}

function finiteVec(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return false;
  return true;
}

/** Evaluate at x, mapping overlapping atoms (a step far too long) to +Infinity so that line searches back off. */
function safeEval(obj: Objective, x: Float64Array, g: Float64Array): number {
  try {
    return obj.evaluate(x, g);
  } catch (e) {
    if (e instanceof GeometryError) {
      g.fill(NaN);
      return Infinity;
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Line search
// ---------------------------------------------------------------------------------------------------------------

/**
 * Line search for the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6, cubic interpolation in the
 * zoom), with c1 = 1e-4, c2 = 0.9. Near the minimum the energy decrease of a step, ~|g|^2, falls below the rounding
 * noise of E (Objective.energyNoise), and an Armijo test on energies then fails at random: that is where plain
 * energy-based L-BFGS stalls around max|F| ~ 1e-6. So, as in the CG_DESCENT line search of Hager & Zhang (2005), a
 * point is also accepted under the "approximate Wolfe" conditions -c2 |phi'(0)| <= phi'(a) <= (1 - 2 delta)|phi'(0)|
 * (delta = 0.1) provided phi(a) <= phi(0) + noise: the energy may rise by at most its own rounding noise.
 * On success the trial buffers hold the accepted point. Returns the step length, or NaN on failure.
 */
export function wolfeLineSearch(
  obj: Objective,
  x: Float64Array,
  e0: number,
  g0: Float64Array,
  p: Float64Array,
  alpha0: number,
  alphaMax: number,
  xt: Float64Array,
  gt: Float64Array,
  out: { energy: number },
): number {
  const c1 = 1e-4;
  const c2 = 0.9;
  const delta = 0.1;
  const d0 = dot(g0, p);
  if (!(d0 < 0)) return NaN;
  const noise = obj.energyNoise();
  let phi = 0;
  let dphi = 0;
  const at = (a: number): void => {
    for (let k = 0; k < x.length; k++) xt[k] = x[k] + a * p[k];
    phi = safeEval(obj, xt, gt);
    dphi = Number.isFinite(phi) ? dot(gt, p) : NaN;
    if (!Number.isFinite(dphi)) phi = Infinity;
  };
  const armijo = (a: number): boolean => phi <= e0 + c1 * a * d0;
  const approx = (): boolean => phi <= e0 + noise && dphi >= c2 * d0 && dphi <= (1 - 2 * delta) * -d0;
  const curvature = (): boolean => Math.abs(dphi) <= -c2 * d0;

  const zoom = (lo: number, flo: number, dlo: number, hi: number, fhi: number, dhi: number): number => {
    for (let it = 0; it < 40; it++) {
      // Cubic interpolation through (lo, flo, dlo), (hi, fhi, dhi), safeguarded to the middle 80% of the bracket.
      let a: number;
      const w = hi - lo;
      if (Number.isFinite(fhi) && Number.isFinite(dhi)) {
        const d1 = dlo + dhi - (3 * (flo - fhi)) / (lo - hi);
        const disc = d1 * d1 - dlo * dhi;
        if (disc >= 0) {
          const d2 = Math.sign(hi - lo) * Math.sqrt(disc);
          a = hi - (hi - lo) * ((dhi + d2 - d1) / (dhi - dlo + 2 * d2));
        } else a = lo + 0.5 * w;
      } else a = lo + 0.5 * w;
      const lb = Math.min(lo + 0.1 * w, lo + 0.9 * w);
      const ub = Math.max(lo + 0.1 * w, lo + 0.9 * w);
      if (!(a >= lb && a <= ub)) a = lo + 0.5 * w;
      at(a);
      if ((!armijo(a) || phi > flo + noise) && !approx()) {
        hi = a;
        fhi = phi;
        dhi = dphi;
      } else {
        if (curvature() || approx()) {
          out.energy = phi;
          return a;
        }
        if (dphi * (hi - lo) >= 0) {
          hi = lo;
          fhi = flo;
          dhi = dlo;
        }
        lo = a;
        flo = phi;
        dlo = dphi;
      }
      if (Math.abs(hi - lo) < 1e-14 * Math.max(1, Math.abs(lo))) break;
    }
    return NaN;
  };

  let aPrev = 0;
  let fPrev = e0;
  let dPrev = d0;
  let a = Math.min(alpha0, alphaMax);
  for (let it = 0; it < 30; it++) {
    at(a);
    if ((!armijo(a) && !approx()) || (it > 0 && phi >= fPrev + noise && !approx())) {
      return zoom(aPrev, fPrev, dPrev, a, phi, dphi);
    }
    if (curvature() || approx()) {
      out.energy = phi;
      return a;
    }
    if (dphi >= 0) return zoom(a, phi, dphi, aPrev, fPrev, dPrev);
    if (a >= alphaMax) {
      out.energy = phi; // sufficient decrease holds; the step is capped by maxStep
      return a;
    }
    aPrev = a;
    fPrev = phi;
    dPrev = dphi;
    a = Math.min(2 * a, alphaMax);
  }
  return NaN;
}

// ---------------------------------------------------------------------------------------------------------------
// L-BFGS (plain or preconditioned)
// ---------------------------------------------------------------------------------------------------------------

/**
 * L-BFGS with the two-loop recursion and initial inverse Hessian gamma P^{-1} (gamma = s.y / y.P^{-1}y, the usual
 * scaling, so mu of P only sizes the first step). P = I gives plain L-BFGS. Pairs with s.y <= 0 (possible in the
 * noise regime of the line search) are skipped; a non-descent direction resets the memory.
 */
export function runLbfgs(
  obj: Objective,
  st: StageState,
  set: StageSettings,
  precon: LaplacianPrecon | null,
): StageOutcome {
  const rec = new StageRecorder(precon ? 'precon-lbfgs' : 'lbfgs', obj, set.history);
  const N = st.x.length;
  const m = set.memory;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  /** Preconditioned: Z[i] = P^{-1} Y[i], so that P^{-1} q in the two-loop recursion is P^{-1} g - sum alpha_i Z[i]
   * (P^{-1} is linear): one preconditioner solve per iteration (of the new gradient) instead of two. */
  const Z: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const p = new Float64Array(N);
  const q = new Float64Array(N);
  const xt = new Float64Array(N);
  const gt = new Float64Array(N);
  const Pq = new Float64Array(N);
  /** P^{-1} g at the current point and at the trial point (preconditioned only). */
  let zg = precon ? new Float64Array(N) : q;
  let zt = precon ? new Float64Array(N) : q;
  if (precon) precon.solve(st.g, zg);
  const out = { energy: 0 };
  let res = obj.maxForce(st.g);
  rec.record(res, st.energy);
  if (!Number.isFinite(st.energy) || !Number.isFinite(res)) return rec.done('nan', false);
  let gamma = 1;
  let firstStep = true;
  while (true) {
    if (res <= set.tol) return rec.done('converged', true);
    if (rec.iterations >= set.maxIterations) return rec.done('max iterations', false);
    if (performance.now() > set.deadline) return rec.done('time limit', false);
    // Two-loop recursion: p = -H g.
    q.set(st.g);
    for (let i = S.length - 1; i >= 0; i--) {
      alpha[i] = rho[i] * dot(S[i], q);
      const y = Y[i];
      for (let k = 0; k < N; k++) q[k] -= alpha[i] * y[k];
    }
    if (precon) {
      Pq.set(zg);
      for (let i = S.length - 1; i >= 0; i--) {
        const z = Z[i];
        const a = alpha[i];
        for (let k = 0; k < N; k++) Pq[k] -= a * z[k];
      }
    } else Pq.set(q);
    for (let k = 0; k < N; k++) p[k] = gamma * Pq[k];
    for (let i = 0; i < S.length; i++) {
      const b = rho[i] * dot(Y[i], p);
      const s = S[i];
      for (let k = 0; k < N; k++) p[k] += s[k] * (alpha[i] - b);
    }
    for (let k = 0; k < N; k++) p[k] = -p[k];
    if (!(dot(p, st.g) < 0)) {
      // Not a descent direction (memory spoiled by noise): restart from the preconditioned gradient.
      S.length = 0;
      Y.length = 0;
      Z.length = 0;
      rho.length = 0;
      if (precon) p.set(zg);
      else p.set(st.g);
      for (let k = 0; k < N; k++) p[k] = -gamma * p[k];
    }
    const pmax = obj.maxDisplacement(p);
    const alphaMax = set.maxStep / pmax;
    // First step of plain L-BFGS: the gradient has no length scale, so start at the step-length cap.
    const a0 = firstStep && !precon ? Math.min(1, alphaMax) : 1;
    const a = wolfeLineSearch(obj, st.x, st.energy, st.g, p, a0, alphaMax, xt, gt, out);
    if (!Number.isFinite(a)) {
      return rec.done(Number.isFinite(res) ? 'line search failed' : 'nan', false);
    }
    firstStep = false;
    if (precon) precon.solve(gt, zt);
    // s = xt - x, y = gt - g
    let s: Float64Array;
    let y: Float64Array;
    let z: Float64Array | null = null;
    if (S.length === m) {
      s = S.shift()!;
      y = Y.shift()!;
      if (precon) z = Z.shift()!;
      rho.shift();
    } else {
      s = new Float64Array(N);
      y = new Float64Array(N);
      if (precon) z = new Float64Array(N);
    }
    for (let k = 0; k < N; k++) {
      s[k] = xt[k] - st.x[k];
      y[k] = gt[k] - st.g[k];
    }
    if (z) for (let k = 0; k < N; k++) z[k] = zt[k] - zg[k];
    const sy = dot(s, y);
    if (sy > 0) {
      S.push(s);
      Y.push(y);
      if (z) Z.push(z);
      rho.push(1 / sy);
      const yPy = dot(y, z ?? y);
      if (yPy > 0) gamma = sy / yPy;
    }
    st.x.set(xt);
    st.g.set(gt);
    if (precon) {
      const w = zg;
      zg = zt;
      zt = w;
    }
    st.energy = out.energy;
    rec.iterations++;
    res = obj.maxForce(st.g);
    rec.record(res, st.energy);
    if (!Number.isFinite(st.energy) || !finiteVec(st.g)) return rec.done('nan', false);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Newton-Krylov
// ---------------------------------------------------------------------------------------------------------------

/**
 * Inexact Newton: each step solves H p = -g by preconditioned CG on Hessian-vector products (forcing term
 * eta = min(0.1, max|F|^{1/2}), so convergence is superlinear), stopped early on negative curvature as in
 * Steihaug's method (then the CG iterate so far, or the preconditioned gradient if none, is the direction: both are
 * descent directions). The step is capped at maxStep (a max-norm trust region) and accepted by backtracking when
 * either the energy decreases sufficiently (Armijo) or, in the energy-noise regime, the energy stays within noise
 * and the force residual decreases. Residual-based acceptance is what lets it reach 1e-10 and below.
 */
export function runNewtonKrylov(
  obj: Objective,
  st: StageState,
  set: StageSettings,
  precon: LaplacianPrecon | null,
): StageOutcome {
  const rec = new StageRecorder('newton-krylov', obj, set.history);
  const N = st.x.length;
  const p = new Float64Array(N);
  const r = new Float64Array(N);
  const z = new Float64Array(N);
  const d = new Float64Array(N);
  const xt = new Float64Array(N);
  const gt = new Float64Array(N);
  const M = (v: Float64Array, o: Float64Array): void => {
    if (precon) precon.solve(v, o);
    else o.set(v);
  };
  let res = obj.maxForce(st.g);
  rec.record(res, st.energy);
  if (!Number.isFinite(st.energy) || !Number.isFinite(res)) return rec.done('nan', false);
  const maxCg = Math.max(50, Math.min(2000, N));
  while (true) {
    if (res <= set.tol) return rec.done('converged', true);
    if (rec.iterations >= set.maxIterations) return rec.done('max iterations', false);
    if (performance.now() > set.deadline) return rec.done('time limit', false);
    // PCG on H p = -g.
    p.fill(0);
    for (let k = 0; k < N; k++) r[k] = -st.g[k];
    M(r, z);
    d.set(z);
    let rz = dot(r, z);
    const r0 = Math.sqrt(dot(r, r));
    const eta = Math.min(0.1, Math.sqrt(res));
    // Solving the Newton system further than the stage's goal needs buys nothing: a linear residual with 2-norm
    // below tol / 4 already leaves max|F| below tol up to the (quadratic) remainder, which the real evaluation after
    // the step then checks. Without this floor the last step solved to eta ~ sqrt(res) ~ 1e-5, twice the CG work.
    const rStop = Math.max(eta * r0, 0.25 * set.tol);
    for (let j = 0; j < maxCg; j++) {
      const Hd = obj.hessianVector(st.x, d);
      const kappa = dot(d, Hd);
      if (!(kappa > 0)) {
        if (j === 0) p.set(d); // preconditioned steepest descent
        break;
      }
      const a = rz / kappa;
      for (let k = 0; k < N; k++) {
        p[k] += a * d[k];
        r[k] -= a * Hd[k];
      }
      if (Math.sqrt(dot(r, r)) <= rStop) break;
      M(r, z);
      const rzNew = dot(r, z);
      const b = rzNew / rz;
      rz = rzNew;
      for (let k = 0; k < N; k++) d[k] = z[k] + b * d[k];
    }
    const d0 = dot(st.g, p);
    if (!(d0 < 0)) return rec.done('no descent direction', false);
    const pmax = obj.maxDisplacement(p);
    let a = Math.min(1, set.maxStep / pmax);
    const noise = obj.energyNoise();
    let accepted = false;
    let et = 0;
    let rest = 0;
    for (let bt = 0; bt < 40; bt++) {
      for (let k = 0; k < N; k++) xt[k] = st.x[k] + a * p[k];
      et = safeEval(obj, xt, gt);
      rest = obj.maxForce(gt);
      if (Number.isFinite(et) && Number.isFinite(rest)) {
        if (et <= st.energy + 1e-4 * a * d0 || (et <= st.energy + noise && rest < res)) {
          accepted = true;
          break;
        }
      }
      a *= 0.5;
    }
    if (!accepted) return rec.done('line search failed', false);
    st.x.set(xt);
    st.g.set(gt);
    st.energy = et;
    rec.iterations++;
    res = rest;
    rec.record(res, st.energy);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// FIRE
// ---------------------------------------------------------------------------------------------------------------

/**
 * FIRE (Bitzek et al., PRL 97, 170201 (2006)) with ASE's parameters Nmin 5, finc 1.1, fdec 0.5, alpha 0.1,
 * falpha 0.99, unit masses, and a cap of maxStep on the norm of each step (as ASE). The time step is scaled to the
 * stiffest mode: dtMax = 1 / omega_max, dt0 = 0.1 / omega_max, omega_max^2 = largest Hessian eigenvalue (power
 * iteration, 20 Hessian-vector products, seeded). ASE's dt 0.1 / dtmax 1.0 are in ASE units (eV, A, amu), where
 * they amount to omega_max dtmax ~ 0.5 for a metal like Cu; in the reduced units here (mass 1, omega_max ~ 7) the
 * literal values are far beyond the stability limit 2 / omega_max, and FIRE then overshoots into other basins
 * (observed: a rattled divacancy ending in a different minimum). The baseline users know; no line search, hence no
 * energy comparisons, but its iteration count grows with the domain size.
 * The energy is evaluated with the forces (one call), so an energy rising by more than 100 (1 + |E0|) above its
 * start ends the stage as 'diverged'.
 */
export function runFire(
  obj: Objective,
  st: StageState,
  set: StageSettings,
  params: { dt?: number; dtMax?: number } = {},
): StageOutcome {
  const rec = new StageRecorder('fire', obj, set.history);
  const N = st.x.length;
  const v = new Float64Array(N);
  const omega = params.dt !== undefined && params.dtMax !== undefined ? 1 : Math.sqrt(largestEigenvalue(obj, st.x));
  let dt = params.dt ?? 0.1 / omega;
  const dtMax = params.dtMax ?? 1 / omega;
  const Nmin = 5;
  const finc = 1.1;
  const fdec = 0.5;
  const a0 = 0.1;
  const fa = 0.99;
  let a = a0;
  let nPos = 0;
  const eStart = st.energy;
  let res = obj.maxForce(st.g);
  rec.record(res, st.energy);
  if (!Number.isFinite(st.energy) || !Number.isFinite(res)) return rec.done('nan', false);
  let started = false;
  while (true) {
    if (res <= set.tol) return rec.done('converged', true);
    if (rec.iterations >= set.maxIterations) return rec.done('max iterations', false);
    if ((rec.iterations & 63) === 0 && performance.now() > set.deadline) return rec.done('time limit', false);
    const g = st.g; // f = -g
    if (started) {
      const vf = -dot(v, g);
      if (vf > 0) {
        const vn = Math.sqrt(dot(v, v));
        const fn = Math.sqrt(dot(g, g));
        const c = fn > 0 ? (a * vn) / fn : 0;
        for (let k = 0; k < N; k++) v[k] = (1 - a) * v[k] - c * g[k];
        if (nPos > Nmin) {
          dt = Math.min(dt * finc, dtMax);
          a *= fa;
        }
        nPos++;
      } else {
        v.fill(0);
        a = a0;
        dt *= fdec;
        nPos = 0;
      }
    }
    started = true;
    for (let k = 0; k < N; k++) v[k] -= dt * g[k];
    obj.project(v);
    let dn = 0;
    for (let k = 0; k < N; k++) dn += v[k] * v[k];
    dn = dt * Math.sqrt(dn);
    const scale = dn > set.maxStep ? set.maxStep / dn : 1;
    for (let k = 0; k < N; k++) st.x[k] += scale * dt * v[k];
    st.energy = safeEval(obj, st.x, st.g);
    rec.iterations++;
    res = obj.maxForce(st.g);
    rec.record(res, st.energy);
    if (!Number.isFinite(st.energy) || !Number.isFinite(res)) return rec.done('nan', false);
    if (st.energy - eStart > 100 * (1 + Math.abs(eStart))) return rec.done('diverged', false);
  }
}

/** Largest eigenvalue of the projected Hessian at x by power iteration (20 products, seeded start, Rayleigh quotient
 * with a 10% margin). Only its order of magnitude is used (FIRE's time step). */
export function largestEigenvalue(obj: Objective, x: Float64Array, iterations = 20): number {
  const N = x.length;
  let v: Float64Array = new Float64Array(N);
  let seed = 12345;
  for (let k = 0; k < N; k++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    v[k] = seed / 4294967296 - 0.5;
  }
  obj.project(v);
  let lambda = 1;
  for (let it = 0; it < iterations; it++) {
    const nv = Math.sqrt(dot(v, v));
    if (!(nv > 0)) return 1;
    for (let k = 0; k < N; k++) v[k] /= nv;
    const hv = obj.hessianVector(x, v);
    lambda = dot(v, hv);
    v = hv;
  }
  return Number.isFinite(lambda) && lambda > 0 ? 1.1 * lambda : 1;
}
