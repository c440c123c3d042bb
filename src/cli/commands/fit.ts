import { writeFileSync } from 'node:fs';
import { flagBool, flagNumber, flagString, parseArgs, type ParsedArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { readExtxyz } from '../../io/extxyz.ts';
import { fitLinear, type LinearFitOptions } from '../../fit/linear.ts';
import type { KindWeights, ObservationKind } from '../../fit/types.ts';
import { defaultBasisSpec, DEFAULT_LEVELS, envelopeFromDescription, MAX_DEFAULT_LEVEL, type BasisSpec } from '../../mlip/basis.ts';
import { serialiseModel } from '../../mlip/model.ts';
import { ParameterError } from '../../util/errors.ts';
import { GENERATE_USAGE, generateFromFlags } from './fit-options.ts';

function weightsFlag(p: ParsedArgs): KindWeights | undefined {
  const v = flagString(p, 'weights');
  if (v === undefined) return undefined;
  const w: KindWeights = {};
  for (const part of v.split(',')) {
    const [k, x] = part.split('=');
    if (!['E', 'F', 'V', 'FC'].includes(k) || !Number.isFinite(Number(x)) || Number(x) < 0) {
      throw new ParameterError(`--weights: '${part}' is not KIND=w with KIND in E,F,V,FC and w >= 0`);
    }
    w[k as ObservationKind] = Number(x);
  }
  return w;
}

function basisFlag(p: ParsedArgs, dim: 2 | 3, meta: Record<string, unknown>): BasisSpec {
  const level = flagNumber(p, 'level', MAX_DEFAULT_LEVEL)!;
  const ref = meta.reference as Record<string, unknown> | undefined;
  const env = ref ? envelopeFromDescription(ref) : undefined;
  const cutoff = flagNumber(p, 'basis-cutoff', env?.cutoff ?? (meta.cutoff as number | undefined));
  if (cutoff === undefined) throw new ParameterError('--basis-cutoff is required (the training set records no reference cutoff)');
  const metaRin = env && env.cutoff === cutoff ? env.rin : meta.cutoff === cutoff && typeof meta.rin === 'number' ? meta.rin : undefined;
  const rin = flagNumber(p, 'rin', metaRin);
  const base = defaultBasisSpec(level, { dim, cutoff, rin, rmin: flagNumber(p, 'rmin') });
  const ov = (flag: string, key: keyof (typeof DEFAULT_LEVELS)[number]) => {
    const x = flagNumber(p, flag);
    return x === undefined ? {} : { [key]: x };
  };
  const poly = flagNumber(p, 'envelope-power');
  return {
    ...base,
    ...(poly !== undefined ? { envelope: { kind: 'poly', power: poly } } : {}),
    ...ov('pair', 'pairFunctions'),
    ...ov('density', 'densityFunctions'),
    ...ov('order', 'embeddingOrder'),
    ...ov('angular', 'angularFunctions'),
    ...ov('angular-degree', 'angularDegree'),
  };
}

const command: Command = {
  name: 'fit',
  summary: 'Fit the linear MLIP to a training set (extxyz file or generated) by weighted least squares; write model JSON',
  usage: `mlip-verify fit --out MODEL.json [--train FILE.extxyz | generation options] [basis and fit options]

training data (default: generated):
  --train FILE          extended XYZ training set (e.g. from export-training or another tool)
${GENERATE_USAGE}

basis (nested family; a larger level contains every function of a smaller one):
  --level L             default basis level 1..${MAX_DEFAULT_LEVEL} (default ${MAX_DEFAULT_LEVEL}, the largest)
  --pair N --density Q --order P --angular M --angular-degree L   override the level's integers
  --basis-cutoff RC --rin RIN --rmin RMIN   cutoff, envelope inner radius, polynomial range start
  --envelope-power p    use the envelope (1 - r/rc)^p instead of the smooth cutoff

fit:
  --observations SET    kinds entering the fit (default: the set's own)
  --weights E=1,F=1,V=1,FC=1   per-kind weights
  --normalisation per-config|per-row   (default per-config: weights independent of the cell size)
  --lambda X            smoothness prior strength, relative to the data (default 1e-10)
  --prior-power p       Gamma_kk = (1 + degree)^p (default 2)
  --unique              fail (FitError) instead of returning a minimum-norm solution when rank deficient
  --report FILE         write the fit report as JSON`,
  async run(argv) {
    const p = parseArgs(argv);
    const out = flagString(p, 'out');
    if (!out) throw new ParameterError('--out MODEL.json is required');
    const train = flagString(p, 'train');
    const set = train ? readExtxyz(train) : await generateFromFlags(p);
    if (train && flagString(p, 'observations')) set.observations = flagString(p, 'observations')!.split('+') as ObservationKind[];
    const dim = set.configs[0].structure.dim;
    const norm = flagString(p, 'normalisation', 'per-config');
    if (norm !== 'per-config' && norm !== 'per-row') throw new ParameterError('--normalisation must be per-config or per-row');
    const opts: LinearFitOptions = {
      basis: basisFlag(p, dim, set.meta),
      weights: weightsFlag(p),
      normalisation: norm,
      lambda: flagNumber(p, 'lambda'),
      priorPower: flagNumber(p, 'prior-power'),
      requireUnique: flagBool(p, 'unique'),
      name: flagString(p, 'name', 'linear-mlip'),
    };
    const { model, report } = fitLinear(set, opts);
    writeFileSync(out, serialiseModel(model));
    const rp = flagString(p, 'report');
    if (rp) writeFileSync(rp, JSON.stringify(report, null, 1));
    console.log(
      `fitted ${report.basisSize} basis functions to ${report.rows} rows from ${report.configurations} configurations ` +
        `(${report.observations.join('+')}): rank ${report.rank}, condition ${report.condition.toExponential(2)}, ` +
        `solution ${report.solution}${report.rankDeficient ? ' (RANK DEFICIENT: minimum-norm solution)' : ''}`,
    );
    for (const [k, e] of Object.entries(report.errors)) {
      console.log(`  ${k.padEnd(2)} RMSE ${e.rmse.toExponential(3)}  max ${e.maxError.toExponential(3)}  data RMS ${e.scale.toExponential(3)}`);
    }
    console.log(`wrote ${out}`);
    return 0;
  },
};
export default command;
