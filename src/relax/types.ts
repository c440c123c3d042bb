import type { Structure } from '../lattice/structure.ts';
import type { NeighbourCache } from '../lattice/neighbours.ts';

/** Solver names users pick with --solver. */
export type SolverName = 'precon-lbfgs' | 'lbfgs' | 'newton-krylov' | 'fire' | 'auto';
export const SOLVER_NAMES: readonly SolverName[] = ['auto', 'precon-lbfgs', 'lbfgs', 'newton-krylov', 'fire'];

export interface RelaxOptions {
  solver?: SolverName;
  /** Stop when max_i |F_i| (free atoms) <= tol. Default 1e-10 (studies). */
  tol?: number;
  /** Iteration limit of each solver stage (default: 10000; FIRE 100000; Newton-Krylov 500 outer iterations). */
  maxIterations?: number;
  /** Record the residual every iteration (default true). */
  history?: boolean;
  /** 'auto': hand over from preconditioned L-BFGS to Newton-Krylov at this max |F| (default 1e-6). */
  switchTol?: number;
  /** Largest displacement of any atom in one step (default 0.2, reduced units, r0 ~ 1). */
  maxStep?: number;
  /** L-BFGS memory (default 20). */
  memory?: number;
  /** Preconditioner settings (precon-lbfgs, newton-krylov, auto); see src/relax/precon.ts. */
  precon?: import('./precon.ts').PreconOptions;
  /** Stop with a ConvergenceError after this many seconds of one relax() call (default: no limit). */
  timeLimitSeconds?: number;
  /** Neighbour-list cache to reuse (default: a fresh one with skin 0.3 * cutoff). */
  neighbourCache?: NeighbourCache;
  /** FIRE time steps (default: dt 0.1 / omega_max, dtMax 1 / omega_max; see runFire). */
  fire?: { dt?: number; dtMax?: number };
}

/** One solver stage's record ('auto' runs precon-lbfgs then newton-krylov). */
export interface SolverStage {
  solver: SolverName;
  iterations: number;
  forceEvaluations: number;
  energyEvaluations: number;
  /** max |F| at the start of the stage (entry 0) and after each iteration. */
  residualHistory: number[];
  wallTimeSeconds: number;
  /** Energy at the start (entry 0) and after each iteration (aligned with residualHistory). */
  energyHistory?: number[];
  /** Hessian-vector products (Newton-Krylov). */
  hessianVectorProducts?: number;
  /** How the stage ended: 'converged', or why it handed over / stopped. */
  status?: string;
}

export interface RelaxResult {
  /** Relaxed configuration (same atom order as the start). */
  structure: Structure;
  energy: number;
  siteEnergies?: Float64Array;
  /** max |F| over free atoms at the returned configuration. */
  maxForce: number;
  converged: true;
  stages: SolverStage[];
  iterations: number;
  forceEvaluations: number;
  wallTimeSeconds: number;
  /** Tolerance the result was converged to. */
  tol?: number;
  /** Neighbour-list builds during the relaxation. */
  neighbourBuilds?: number;
}
