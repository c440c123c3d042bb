import { flagNumber, flagString, flagBool, type ParsedArgs } from '../args.ts';
import { DEFECT_KINDS, type DefectKind } from '../../lattice/domain.ts';
import { makePotential, POTENTIALS } from '../../potentials/defaults.ts';
import { equilibriumLattice } from '../../potentials/equilibrium.ts';
import { generateTrainingSet } from '../../fit/generate.ts';
import { referenceRelax } from '../../fit/relaxed.ts';
import type { TrainingSet } from '../../fit/types.ts';
import { ParameterError } from '../../util/errors.ts';

/** Options shared by `fit` and `export-training` for generating a training set from a reference potential. */
export const GENERATE_USAGE = `  --potential NAME      reference potential (default eam-2d; ${Object.keys(POTENTIALS).join(', ')})
  --defect KIND         ${DEFECT_KINDS.join(', ')} (default vacancy)
  --rdom R              side of the periodic training cell (default 10)
  --observations SET    E, E+F, E+F+V, E+F+FC, E+F+V+FC (default E+F+V)
  --rattled K           rattled copies of the relaxed defect (default 4)
  --amplitude A         rattle standard deviation in units of r0 (default 0.03)
  --strain S            strain amplitude of the perfect cells (default 0.01)
  --seed N              base seed of the rattles (default 1)
  --cutoff RC           largest MLIP cutoff the cells must carry (default the reference's)`;

export async function generateFromFlags(p: ParsedArgs): Promise<TrainingSet> {
  const name = flagString(p, 'potential', 'eam-2d')!;
  const ref = makePotential(name);
  const defect = flagString(p, 'defect', 'vacancy') as DefectKind;
  if (!DEFECT_KINDS.includes(defect)) throw new ParameterError(`--defect must be one of ${DEFECT_KINDS.join(', ')}`);
  const eq = equilibriumLattice(ref, POTENTIALS[name].lattice);
  const set = await generateTrainingSet({
    reference: ref,
    lattice: eq.lattice,
    defect,
    rDom: flagNumber(p, 'rdom', 10)!,
    observations: flagString(p, 'observations', 'E+F+V'),
    rattled: flagNumber(p, 'rattled', 4),
    rattleAmplitude: flagNumber(p, 'amplitude', 0.03),
    strain: flagNumber(p, 'strain', 0.01),
    seed: flagNumber(p, 'seed', 1),
    cutoff: flagNumber(p, 'cutoff'),
    relax: referenceRelax(),
  });
  set.meta.potential = name;
  set.meta.equilibriumR0 = eq.lattice.r0;
  set.meta.relaxTol = 1e-10;
  if (flagBool(p, 'verbose')) console.error(`generated ${set.configs.length} configurations`);
  return set;
}
