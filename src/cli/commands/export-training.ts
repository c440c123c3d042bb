import { parseArgs, flagString, flagBool } from '../args.ts';
import type { Command } from '../command.ts';
import { writeExtxyz } from '../../io/extxyz.ts';
import { ParameterError } from '../../util/errors.ts';
import { GENERATE_USAGE, generateFromFlags } from './fit-options.ts';

const command: Command = {
  name: 'export-training',
  summary: 'Generate a (defect, R_dom) training set with a reference potential and write it as extended XYZ',
  usage: `mlip-verify export-training --out FILE.extxyz [options]
${GENERATE_USAGE}
  --species SYM         chemical symbol in the species column (default X)

2D cells are padded to 3D (third lattice vector along z, pbc="T T F"); see src/io/extxyz.ts.`,
  async run(argv) {
    const p = parseArgs(argv);
    const out = flagString(p, 'out');
    if (!out) throw new ParameterError('--out FILE is required');
    const set = await generateFromFlags(p);
    writeExtxyz(out, set, { species: flagString(p, 'species', 'X') });
    if (!flagBool(p, 'quiet')) {
      console.log(`wrote ${set.configs.length} configurations (${set.observations.join('+')}) to ${out}`);
    }
    return 0;
  },
};
export default command;
