/**
 * Example trainer plug-in module (used by engine-trainer.test.ts and docs/external-engines.md): a "third-party"
 * trainer exported through the Trainer interface of src/fit/types.ts. This one delegates to the default linear
 * least-squares trainer with a chosen basis level, and records what it did in the report.
 */
import { LinearTrainer } from '../src/fit/linear.ts';
import type { Trainer, TrainingSet } from '../src/fit/types.ts';
import { defaultBasisSpec } from '../src/mlip/basis.ts';

export function createTrainer(options: { level?: number } = {}): Trainer {
  const level = options.level ?? 1;
  return {
    name: `example-plugin(level ${level})`,
    async train(set: TrainingSet) {
      const dim = set.configs[0].structure.dim;
      const cutoff = set.meta.cutoff as number;
      const inner = new LinearTrainer({ basis: defaultBasisSpec(level, { dim, cutoff, rin: set.meta.rin as number }) });
      const m = await inner.train(set);
      return { potential: m.potential, report: { ...m.report, plugin: 'example', level } };
    },
  };
}
