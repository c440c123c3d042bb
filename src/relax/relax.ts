import type { Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ConvergenceError, ParameterError, requireParam } from '../util/errors.ts';
import { dot, Objective } from './objective.ts';
import { finiteDifferenceHessian } from './fd-hessian.ts';
import { estimateMu, LaplacianPrecon, relaxationPreconDefaults } from './precon.ts';
import { runFire, runLbfgs, runNewtonKrylov, type StageOutcome, type StageSettings, type StageState } from './solvers.ts';
import { SOLVER_NAMES, type RelaxOptions, type RelaxResult, type SolverName, type SolverStage } from './types.ts';

export const DEFAULT_TOL = 1e-10;
export const DEFAULT_SWITCH_TOL = 1e-6;

/**
 * Preconditioners already built, per start structure (object identity, checked against its positions, free mask and
 * options): the studies relax the same domain many times (different potentials, perturbations of the same reference,
 * E-only and E+F runs), and P depends only on the start geometry, so its matrix, factor or AMG hierarchy is built
 * once. mu depends on the potential as well and is estimated again on every call (one Hessian-vector product).
 */
interface PreconEntry {
  positions: Float64Array;
  free: Uint8Array | null;
  key: string;
  precon: LaplacianPrecon;
}
const preconCache = new WeakMap<Structure, PreconEntry>();

function sameArray(a: ArrayLike<number> | null, b: ArrayLike<number> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cachedPrecon(
  s: Structure,
  free: Uint8Array | null,
  opts: RelaxOptions['precon'],
  build: () => LaplacianPrecon,
): LaplacianPrecon {
  const { mu: _mu, ...rest } = opts ?? {};
  const key = JSON.stringify(rest);
  const e = preconCache.get(s);
  if (e && e.key === key && sameArray(e.positions, s.positions) && sameArray(e.free, free)) return e.precon;
  const precon = build();
  const entry: PreconEntry = { positions: s.positions.slice(), free: free ? free.slice() : null, key, precon };
  preconCache.set(s, entry);
  return precon;
}

/**
 * Relax `structure` under `pot` with the atoms where free[i] === 0 held fixed (null: all free) until
 * max_i |F_i| <= tol over free atoms. Returns only converged results: failure to converge, a NaN, or a diverging
 * energy throws a ConvergenceError whose details carry the stage records (residual and energy histories).
 *
 * Solvers: 'precon-lbfgs' (L-BFGS + Wolfe line search + lattice-Laplacian preconditioner), 'lbfgs' (the same without
 * preconditioner), 'newton-krylov' (inexact Newton with preconditioned CG on Hessian-vector products), 'fire', and
 * 'auto' (default): precon-lbfgs down to switchTol (1e-6), then newton-krylov to tol. The hand-over is there because
 * line searches lose the energy signal below ~1e-6 on large cells (the energy decrease of a step falls below the
 * rounding noise of E), whereas Newton's quadratic convergence needs only a few steps from there.
 *
 * 'auto' on a potential whose Hessian-vector products are finite differences of forces (external engines, see
 * src/relax/fd-hessian.ts) runs precon-lbfgs alone down to tol: each product there costs 2-4 engine evaluations
 * (a Newton step needs tens of them), and on a C1 spline table (LAMMPS eam/alloy) the differenced Hessian is
 * inconsistent across the knots, so Newton-Krylov stalls (measured: 500 iterations at max|F| 1.4e-6 on
 * Cu_mishin1 through LAMMPS). L-BFGS needs forces only, and its line search accepts points by gradient conditions in
 * the energy-noise regime (wolfeLineSearch), so it reaches the same tol. Should its line search still fail above tol,
 * it is restarted from the point reached (fresh memory) while that keeps lowering the residual.
 */
export function relax(
  pot: SitePotential,
  structure: Structure,
  free: Uint8Array | null | undefined,
  opts: RelaxOptions = {},
): RelaxResult {
  const t0 = performance.now();
  const solver: SolverName = opts.solver ?? 'auto';
  if (!SOLVER_NAMES.includes(solver)) {
    throw new ParameterError(`unknown solver '${solver as string}'; valid solvers: ${SOLVER_NAMES.join(', ')}`);
  }
  const tol = opts.tol ?? DEFAULT_TOL;
  requireParam('tol (max force tolerance)', tol, (v) => v > 0, '> 0');
  const maxStep = opts.maxStep ?? 0.2;
  requireParam('maxStep', maxStep, (v) => v > 0, '> 0');
  const memory = opts.memory ?? 20;
  requireParam('memory (L-BFGS)', memory, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  if (opts.maxIterations !== undefined) {
    requireParam('maxIterations', opts.maxIterations, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  }
  const obj = new Objective(pot, structure, free ?? null, opts.neighbourCache);
  const buildsBefore = obj.cache.builds;
  const st: StageState = {
    x: structure.positions.slice(),
    g: new Float64Array(structure.positions.length),
    energy: 0,
  };
  st.energy = obj.evaluate(st.x, st.g);
  const deadline = opts.timeLimitSeconds !== undefined ? t0 + 1000 * opts.timeLimitSeconds : Infinity;
  const settings = (defaultIter: number, stageTol: number): StageSettings => ({
    tol: stageTol,
    maxIterations: opts.maxIterations ?? defaultIter,
    maxStep,
    memory,
    deadline,
    history: opts.history ?? true,
  });
  const stages: SolverStage[] = [];
  let precon: LaplacianPrecon | null = null;
  const getPrecon = (): LaplacianPrecon | null => {
    if (precon) return precon;
    const s0 = obj.structure(st.x);
    const nl = obj.cache.get(s0);
    const popts = { ...relaxationPreconDefaults(obj.dim), ...opts.precon };
    const build = () => new LaplacianPrecon(obj.dim, s0, nl, obj.free, popts);
    let P = cachedPrecon(structure, obj.free, popts, build);
    if (P.rCut > nl.cutoff) P = build(); // throws the cutoff error a fresh build would
    if (P.nFree === 0) return null;
    P.mu = opts.precon?.mu ?? 1;
    if (opts.precon?.mu === undefined) P.mu = estimateMu(P, s0, (v) => obj.hessianVector(st.x, v));
    precon = P;
    return P;
  };
  const fail = (last: StageOutcome): never => {
    const res = last.stage.residualHistory[last.stage.residualHistory.length - 1];
    throw new ConvergenceError(
      `${solver} relaxation did not converge: stage ${last.stage.solver} ended with '${last.stage.status}' after ` +
        `${last.stage.iterations} iterations at max|F| = ${res} (tol ${tol})`,
      {
        solver,
        tol,
        status: last.stage.status,
        maxForce: res,
        stages,
        residualHistory: stages.flatMap((s) => s.residualHistory),
        energyHistory: stages.flatMap((s) => s.energyHistory ?? []),
      },
    );
  };
  let out: StageOutcome;
  switch (solver) {
    case 'fire':
      out = runFire(obj, st, settings(100000, tol), opts.fire);
      break;
    case 'lbfgs':
      out = runLbfgs(obj, st, settings(10000, tol), null);
      break;
    case 'precon-lbfgs':
      out = runLbfgs(obj, st, settings(10000, tol), getPrecon());
      break;
    case 'newton-krylov':
      out = runNewtonKrylov(obj, st, settings(500, tol), getPrecon());
      break;
    case 'auto': {
      if (finiteDifferenceHessian(pot)) {
        out = lbfgsWithRestarts(obj, st, () => settings(10000, tol), getPrecon(), stages);
        break;
      }
      const sw = Math.max(tol, opts.switchTol ?? DEFAULT_SWITCH_TOL);
      out = runLbfgs(obj, st, settings(10000, sw), getPrecon());
      stages.push(out.stage);
      // A stalled line search in the noise regime is expected and harmless: Newton takes over from there. A NaN, a
      // time limit or the iteration limit is not.
      const handover = out.converged || out.stage.status === 'line search failed';
      if (!handover) fail(out);
      if (out.converged && obj.maxForce(st.g) <= tol) break;
      out = runNewtonKrylov(obj, st, settings(500, tol), getPrecon());
      break;
    }
  }
  if (stages[stages.length - 1] !== out.stage) stages.push(out.stage);
  if (!out.converged) fail(out);
  // Re-evaluate at the returned positions so energy, site energies and residual belong to exactly this state.
  const energy = obj.evaluate(st.x, st.g);
  const maxForce = obj.maxForce(st.g);
  if (!(maxForce <= tol)) fail(out);
  return {
    structure: obj.structure(st.x),
    energy,
    siteEnergies: obj.lastSiteEnergies,
    maxForce,
    converged: true,
    stages,
    iterations: stages.reduce((s, x) => s + x.iterations, 0),
    forceEvaluations: obj.forceEvaluations,
    wallTimeSeconds: (performance.now() - t0) / 1000,
    tol,
    neighbourBuilds: obj.cache.builds - buildsBefore,
  };
}

/** Restarts after a failed line search before 'auto' gives up on a finite-difference-Hessian potential. */
export const FD_LBFGS_RESTARTS = 5;

/**
 * Preconditioned L-BFGS to tol; a stage that ends in 'line search failed' above tol (the memory spoiled by noise) is
 * followed by a fresh stage from the point reached, up to FD_LBFGS_RESTARTS times and only while each stage lowers the
 * residual. Every stage is recorded; the last outcome is returned (not yet pushed).
 */
function lbfgsWithRestarts(
  obj: Objective,
  st: StageState,
  set: () => StageSettings,
  precon: LaplacianPrecon | null,
  stages: SolverStage[],
): StageOutcome {
  let out = runLbfgs(obj, st, set(), precon);
  for (let k = 0; k < FD_LBFGS_RESTARTS && !out.converged && out.stage.status === 'line search failed'; k++) {
    const h = out.stage.residualHistory;
    const progressed = h[h.length - 1] < h[0];
    // The energy may be noisier than the model says (engines' plain sums of terms that cancel, e.g. EMT's site
    // energies of ~0 built from eV-sized parts): measure it where the search failed, and raise the floor if so.
    const raised = raiseNoiseFloor(obj, st);
    if (!progressed && !raised) break;
    stages.push(out.stage);
    if (raised) out.stage.status = `line search failed; measured energy noise ${obj.noiseFloor.toExponential(2)}`;
    out = runLbfgs(obj, st, set(), precon);
  }
  return out;
}

/**
 * Measure the energy's noise at st.x along the steepest-descent direction: at x +- t d (largest atomic step 1e-4 x
 * cutoff), the trapezoid rule on the forces predicts E to O(t^3) (~1e-12 relative here), so what it misses is the
 * energy's rounding noise (or an inconsistency between energy and forces, equally invisible to a line search). Two
 * evaluations. The floor becomes 10 x the larger miss; returns whether it rose above what energyNoise() said.
 */
function raiseNoiseFloor(obj: Objective, st: StageState): boolean {
  const n = st.x.length;
  const d = st.g.map((v) => -v);
  const dmax = obj.maxDisplacement(d);
  if (!(dmax > 0)) return false;
  const t = (1e-4 * obj.pot.cutoff) / dmax;
  const g0d = dot(st.g, d);
  let miss = 0;
  for (const sgn of [1, -1]) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = st.x[i] + sgn * t * d[i];
    const g = new Float64Array(n);
    const e = obj.evaluate(x, g);
    // E(x + s t d) - E(x) = s t (g(x) + g(x + s t d)) . d / 2 + O(t^3)
    miss = Math.max(miss, Math.abs(e - st.energy - (sgn * t * (g0d + dot(g, d))) / 2));
  }
  const before = obj.energyNoise();
  // Restore the objective's state at st.x (energy scale, site energies) for the next stage.
  obj.evaluate(st.x, st.g);
  if (!(10 * miss > before)) return false;
  obj.noiseFloor = 10 * miss;
  return true;
}
