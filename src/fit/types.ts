import type { Structure } from '../lattice/structure.ts';
import type { SitePotential } from '../potentials/types.ts';

/** The four kinds of observations of the theory. */
export type ObservationKind = 'E' | 'F' | 'V' | 'FC';
export const OBSERVATION_SETS = ['E', 'E+F', 'E+F+V', 'E+F+FC', 'E+F+V+FC'] as const;
export type ObservationSet = (typeof OBSERVATION_SETS)[number];

export function observationKinds(set: string): ObservationKind[] {
  return set.split('+') as ObservationKind[];
}

/** One training configuration with the observations computed by the reference potential. */
export interface TrainingConfig {
  /** What this configuration is: 'defect-relaxed', 'defect-rattled', 'strained-perfect', 'perfect', ... */
  role: string;
  structure: Structure;
  energy?: number;
  forces?: Float64Array;
  virial?: Float64Array;
  /** Force constants of atom `fcAtom`: dim columns of the Hessian (each N*dim long), see potentials/evaluate.ts. */
  forceConstants?: { atom: number; columns: Float64Array[] };
  /** Per-configuration weight: multiplies this configuration's squared residuals (a multiplicity; row weights are
   * sqrt(weight) times the per-kind weights, so duplicating a configuration equals doubling its weight). */
  weight: number;
  /** Seed of the random draw that made this configuration, if any. */
  seed?: number;
  /**
   * Atoms whose forces are fitted (1) or ignored (0); default all. For non-periodic configurations (a clamped ball)
   * whose outer atoms have incomplete environments: their forces are surface forces that no bulk MLIP should learn.
   */
  forceMask?: Uint8Array;
}

export interface TrainingSet {
  configs: TrainingConfig[];
  /** Which kinds enter the fit (e.g. E+F). */
  observations: ObservationKind[];
  /** Provenance: defect, R_dom, rattle amplitude, counts per role, seeds. */
  meta: Record<string, unknown>;
}

/** Per-kind weights w_E (per atom), w_F, w_V (per atom), w_FC. */
export type KindWeights = Partial<Record<ObservationKind, number>>;

/**
 * What the pipeline needs from a fitting code: a training set in, a site potential out. The default is the linear
 * least-squares fitter; a user's trainer (a module exporting one, or an external command) can replace it.
 */
export interface Trainer {
  readonly name: string;
  train(set: TrainingSet): Promise<TrainedModel>;
}

export interface TrainedModel {
  potential: SitePotential;
  /** Training errors per kind (RMSE, max) and anything the trainer wants recorded (rank, condition number). */
  report: Record<string, unknown>;
}
