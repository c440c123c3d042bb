import { flagNumber, flagString, flagBool, type ParsedArgs } from '../args.ts';
import { DEFECT_KINDS, type DefectKind } from '../../lattice/domain.ts';
import { LATTICE_NAMES, type LatticeName } from '../../lattice/lattice.ts';
import { equilibriumLattice } from '../../potentials/equilibrium.ts';
import { resolvePotential } from '../../potentials/spec.ts';
import { engineConfigFlags, potentialFlag } from '../../engines/cli.ts';
import { engineSpecOptions } from '../../convergence/study-potential.ts';
import { generateTrainingSet } from '../../fit/generate.ts';
import { referenceRelax } from '../../fit/relaxed.ts';
import type { TrainingSet } from '../../fit/types.ts';
import { ParameterError } from '../../util/errors.ts';

/** Options shared by `fit` and `export-training` for generating a training set from a reference potential. */
export const GENERATE_USAGE = `  --potential SPEC      reference potential spec (default eam-2d; see \`mlip-verify study --help\`: a built-in,
                        eam:<file>[:<element>], lammps:..., ipi:..., ase:..., mlip:<model.json>; --engine is an alias)
  --lattice NAME        ${LATTICE_NAMES.join(', ')} (default: the potential's own, an EAM file header's, else fcc)
  --defect KIND         ${DEFECT_KINDS.join(', ')} (default vacancy)
  --rdom R              side of the periodic training cell, in the potential's length unit (default 10 for
                        built-ins; other potentials: 10 nearest-neighbour distances)
  --observations SET    E, E+F, E+F+V, E+F+FC, E+F+V+FC (default E+F+V)
  --rattled K           rattled copies of the relaxed defect (default 4)
  --amplitude A         rattle standard deviation in units of r0 (default 0.03)
  --strain S            strain amplitude of the perfect cells (default 0.01)
  --seed N              base seed of the rattles (default 1)
  --cutoff RC           largest MLIP cutoff the cells must carry (default the reference's)`;

export async function generateFromFlags(p: ParsedArgs): Promise<TrainingSet> {
  const spec = potentialFlag(p, 'eam-2d')!;
  const defect = flagString(p, 'defect', 'vacancy') as DefectKind;
  if (!DEFECT_KINDS.includes(defect)) throw new ParameterError(`--defect must be one of ${DEFECT_KINDS.join(', ')}`);
  const asked = flagString(p, 'lattice');
  if (asked !== undefined && !LATTICE_NAMES.includes(asked as LatticeName)) {
    throw new ParameterError(`--lattice '${asked}' is not one of: ${LATTICE_NAMES.join(', ')}`);
  }
  const r = resolvePotential(spec, { engine: engineSpecOptions(engineConfigFlags(p), (a) => console.error(`mlip-verify: waiting for an i-PI client on ${a}`)) });
  try {
    const latticeName = (asked as LatticeName | undefined) ?? r.lattice ?? 'fcc';
    const eq = equilibriumLattice(r.pot, latticeName);
    const set = await generateTrainingSet({
      reference: r.pot,
      lattice: eq.lattice,
      defect,
      rDom: flagNumber(p, 'rdom', r.kind === 'builtin' ? 10 : Number((10 * eq.lattice.r0).toPrecision(4)))!,
      observations: flagString(p, 'observations', 'E+F+V'),
      rattled: flagNumber(p, 'rattled', 4),
      rattleAmplitude: flagNumber(p, 'amplitude', 0.03),
      strain: flagNumber(p, 'strain', 0.01),
      seed: flagNumber(p, 'seed', 1),
      cutoff: flagNumber(p, 'cutoff'),
      relax: referenceRelax(),
    });
    set.meta.potential = spec;
    set.meta.units = { length: r.units.length, energy: r.units.energy };
    set.meta.equilibriumR0 = eq.lattice.r0;
    set.meta.relaxTol = 1e-10;
    if (flagBool(p, 'verbose')) console.error(`generated ${set.configs.length} configurations`);
    return set;
  } finally {
    await r.close();
  }
}
