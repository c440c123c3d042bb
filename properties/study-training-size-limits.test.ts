/**
 * A training-size point whose MLIP relaxation is stopped by the run's own budget (iteration or time limit) gives no
 * verdict: the study stops with a ConvergenceError that names the observation set, R_dom, the limit and how to raise
 * it, instead of recording a 'fail' that would blame the MLIP or the theory for the tool's limit.
 */
import { describe, expect, it } from 'vitest';
import { trainingSizeStudy } from '../src/convergence/training-size-study.ts';
import { clearPipelineCaches } from '../src/pipeline/index.ts';
import { ConvergenceError } from '../src/util/errors.ts';
import { deltaCase } from './training-size-support.ts';

describe('training-size: a relaxation stopped by its budget is an error, not a verdict', () => {
  it('an iteration cap of 2 stops the study with a clear ConvergenceError', async () => {
    clearPipelineCaches();
    const run = trainingSizeStudy({
      ...deltaCase({ D: 1, alpha: 4, C: 0.03 }, 'vacancy'),
      sizes: [7],
      observationSets: ['E+F'],
      basisLevel: 2,
      rattled: 0,
      relaxMaxIterations: 2,
    });
    await expect(run).rejects.toBeInstanceOf(ConvergenceError);
    await expect(run).rejects.toThrow(/training-size, E\+F, R_dom \S+: the MLIP relaxation stopped at its max iterations .*--relax-max-iterations/);
  }, 120_000);
});
