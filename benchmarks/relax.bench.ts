/**
 * Relaxation benchmark: a vacancy in a clamped 2D ball (eam-2d, triangular lattice) with ~1e4 free atoms (quick) and
 * ~1e5 (full), relaxed to max|F| <= 1e-10 by the preconditioned solver ('auto': precon L-BFGS + Newton-Krylov
 * finish, and precon L-BFGS alone), plain L-BFGS and FIRE. Iterations and evaluations go into `info`, so the history
 * shows whether the preconditioned iteration count stays flat as N grows (the point of the preconditioner).
 * Unpreconditioned solvers get a time limit (a multiple of the preconditioned run's time, at least 60 s); a run that
 * hits it is recorded as not converged with its residual, which is itself the comparison (it lost on wall time).
 */
import type { BenchSuite, BenchTask } from '../src/bench/types.ts';
import { ballDomain, type Domain } from '../src/lattice/domain.ts';
import { siteDensity } from '../src/lattice/lattice.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { relax } from '../src/relax/relax.ts';
import type { SolverName } from '../src/relax/types.ts';
import { ConvergenceError } from '../src/util/errors.ts';

export const BENCH_SOLVERS: SolverName[] = ['auto', 'precon-lbfgs', 'lbfgs', 'fire'];

/** A 2D vacancy ball with about `freeAtoms` free atoms. */
export function vacancyBall(freeAtoms: number): { pot: SitePotential; dom: Domain } {
  const pot = makePotential('eam-2d');
  const pl = equilibriumLattice(pot, 'triangular');
  const R = Math.sqrt(freeAtoms / (Math.PI * siteDensity(pl.lattice)));
  return { pot, dom: ballDomain(pl.lattice, 'vacancy', R, pot.cutoff) };
}

export interface RelaxRun {
  solver: SolverName;
  freeAtoms: number;
  converged: boolean;
  wallTimeSeconds: number;
  iterations: number;
  forceEvaluations: number;
  hessianVectorProducts: number;
  maxForce: number;
  stages: string;
}

/** One timed relaxation; a ConvergenceError (time limit) is recorded, not thrown. */
export function runRelax(pot: SitePotential, dom: Domain, solver: SolverName, timeLimitSeconds?: number): RelaxRun {
  const t0 = performance.now();
  const freeAtoms = dom.free.reduce((s, f) => s + f, 0);
  try {
    const r = relax(pot, dom.structure, dom.free, { solver, tol: 1e-10, timeLimitSeconds, history: false });
    return {
      solver,
      freeAtoms,
      converged: true,
      wallTimeSeconds: r.wallTimeSeconds,
      iterations: r.iterations,
      forceEvaluations: r.forceEvaluations,
      hessianVectorProducts: r.stages.reduce((s, x) => s + (x.hessianVectorProducts ?? 0), 0),
      maxForce: r.maxForce,
      stages: r.stages.map((s) => `${s.solver}:${s.iterations}`).join('+'),
    };
  } catch (e) {
    if (!(e instanceof ConvergenceError)) throw e;
    const st = (e.details.stages ?? []) as Array<{ solver: string; iterations: number; forceEvaluations: number; hessianVectorProducts?: number }>;
    return {
      solver,
      freeAtoms,
      converged: false,
      wallTimeSeconds: (performance.now() - t0) / 1000,
      iterations: st.reduce((s, x) => s + x.iterations, 0),
      forceEvaluations: st.reduce((s, x) => s + x.forceEvaluations, 0),
      hessianVectorProducts: st.reduce((s, x) => s + (x.hessianVectorProducts ?? 0), 0),
      maxForce: Number(e.details.maxForce),
      stages: `${String(e.details.status)}: ${st.map((s) => `${s.solver}:${s.iterations}`).join('+')}`,
    };
  }
}

export const suite: BenchSuite = {
  name: 'relax',
  iterations: 1,
  setup({ quick }) {
    const sizes = quick ? [1e4] : [1e4, 1e5];
    const tasks: BenchTask[] = [];
    for (const n of sizes) {
      const { pot, dom } = vacancyBall(n);
      let preconSeconds = 60;
      for (const solver of BENCH_SOLVERS) {
        let last: RelaxRun | null = null;
        tasks.push({
          name: `vacancy-2d-${n === 1e4 ? '1e4' : '1e5'}/${solver}`,
          throughput: { unit: 'atoms', count: dom.free.reduce((s, f) => s + f, 0) },
          fn: () => {
            const limit = solver === 'auto' || solver === 'precon-lbfgs' ? undefined : Math.max(60, 10 * preconSeconds);
            last = runRelax(pot, dom, solver, limit);
            if (solver === 'auto' && last.converged) preconSeconds = last.wallTimeSeconds;
            return last;
          },
          info: () => ({ ...(last ?? {}) }),
        });
      }
    }
    return tasks;
  },
};
