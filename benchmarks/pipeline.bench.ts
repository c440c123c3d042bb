import type { BenchSuite } from '../src/bench/types.ts';
import { runPipeline, type PipelineRecord } from '../src/pipeline/pipeline.ts';
import { clearPipelineCaches } from '../src/pipeline/steps.ts';

/**
 * One full fit-and-relax pipeline point (src/pipeline/pipeline.ts): reference relaxation of a 2D vacancy ball, a
 * training set at R_dom, the least-squares fit, the MLIP relaxation and its errors, with small settings so that one
 * run takes seconds. Caches are cleared before each call, so every sample does the whole pipeline. One sample per
 * run (`iterations: 1`); the step times and errors go into `info`.
 */
export const suite: BenchSuite = {
  name: 'pipeline',
  iterations: 1,
  setup({ quick }) {
    let last: PipelineRecord | null = null;
    const refSize = quick ? 8 : 14;
    const rDom = quick ? 8 : 10;
    return [
      {
        name: `fit-and-relax eam-2d vacancy, refSize ${refSize}, rDom ${rDom}`,
        fn: async () => {
          clearPipelineCaches();
          last = await runPipeline({
            reference: { potential: 'eam-2d', defect: 'vacancy', refSize, checkRefSize: 0 },
            training: { rDom, observations: 'E+F', rattled: 2, seed: 1 },
          });
        },
        throughput: { unit: 'iterations', count: 1 },
        info: () =>
          last
            ? {
                referenceAtoms: last.reference.relaxation.domain.keys.length,
                referenceSeconds: last.reference.wallTimeSeconds,
                trainingSeconds: last.training.wallTimeSeconds,
                fitSeconds: last.fit.wallTimeSeconds,
                mlipRelaxSeconds: last.mlipRelax.wallTimeSeconds,
                errors: last.errors,
              }
            : {},
      },
    ];
  },
};
