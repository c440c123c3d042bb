import type { Trainer } from '../fit/types.ts';
import {
  errorStep,
  fitStep,
  mlipRelaxStep,
  referenceStep,
  trainingStep,
  type ErrorRecord,
  type FitRecord,
  type MlipRelaxRecord,
  type ReferenceOptions,
  type ReferenceRecord,
  type RelaxSettings,
  type TrainingOptions,
  type TrainingRecord,
} from './steps.ts';

export interface PipelineConfig {
  reference: ReferenceOptions;
  training: TrainingOptions;
  /** Default: LinearTrainer with its defaults. */
  trainer?: Trainer;
  /** Settings of the MLIP relaxation (default: the reference's solver and tolerance). */
  mlipRelax?: RelaxSettings;
}

export interface PipelineRecord {
  reference: ReferenceRecord;
  training: TrainingRecord;
  fit: FitRecord;
  mlipRelax: MlipRelaxRecord;
  errors: ErrorRecord;
  wallTimeSeconds: number;
}

/** reference -> training set at R_dom -> fit -> MLIP relaxation in the reference domain -> errors. */
export async function runPipeline(config: PipelineConfig): Promise<PipelineRecord> {
  const t0 = performance.now();
  const reference = referenceStep(config.reference);
  const training = await trainingStep(reference, config.training);
  const fit = await fitStep(training, { trainer: config.trainer });
  const mlipRelax = mlipRelaxStep(reference, fit, config.mlipRelax);
  const errors = errorStep(reference, mlipRelax);
  return { reference, training, fit, mlipRelax, errors, wallTimeSeconds: (performance.now() - t0) / 1000 };
}

/** The JSON-friendly part of a pipeline record (no structures, potentials or fields). */
export function summarisePipeline(r: PipelineRecord): Record<string, unknown> {
  return {
    reference: {
      ...r.reference.inputs,
      atoms: r.reference.relaxation.domain.keys.length,
      formationEnergy: r.reference.relaxation.formationEnergyExact,
      maxForce: r.reference.relaxation.result.maxForce,
      iterations: r.reference.relaxation.result.iterations,
      truncation: r.reference.truncation,
      cached: r.reference.cached,
      wallTimeSeconds: r.reference.wallTimeSeconds,
    },
    training: {
      inputs: r.training.inputs,
      composition: r.training.composition,
      seeds: r.training.seeds,
      cellRelaxation: r.training.cellRelaxation,
      wallTimeSeconds: r.training.wallTimeSeconds,
    },
    fit: { inputs: r.fit.inputs, report: r.fit.model.report, wallTimeSeconds: r.fit.wallTimeSeconds },
    mlipRelax: {
      inputs: r.mlipRelax.inputs,
      e0: r.mlipRelax.e0,
      latticeStress: r.mlipRelax.latticeStress,
      iterations: r.mlipRelax.relaxation.result.iterations,
      maxForce: r.mlipRelax.relaxation.result.maxForce,
      formationEnergy: r.mlipRelax.relaxation.formationEnergyExact,
      wallTimeSeconds: r.mlipRelax.wallTimeSeconds,
    },
    errors: { ...r.errors },
    wallTimeSeconds: r.wallTimeSeconds,
  };
}
