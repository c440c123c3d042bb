import type { Structure } from '../lattice/structure.ts';

/** Solver names users pick with --solver. */
export type SolverName = 'precon-lbfgs' | 'lbfgs' | 'newton-krylov' | 'fire' | 'auto';

export interface RelaxOptions {
  solver?: SolverName;
  /** Stop when max_i |F_i| (free atoms) <= tol. Default 1e-10 (studies). */
  tol?: number;
  maxIterations?: number;
  /** Record the residual every iteration (default true). */
  history?: boolean;
}

/** One solver stage's record ('auto' runs precon-lbfgs then newton-krylov). */
export interface SolverStage {
  solver: SolverName;
  iterations: number;
  forceEvaluations: number;
  energyEvaluations: number;
  /** max |F| after each iteration. */
  residualHistory: number[];
  wallTimeSeconds: number;
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
}
