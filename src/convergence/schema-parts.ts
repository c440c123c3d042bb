import { DEFECT_KINDS } from '../lattice/domain.ts';
import { LATTICE_NAMES } from '../lattice/lattice.ts';
import { POTENTIALS } from '../potentials/defaults.ts';

/**
 * The option schemas every study shares (which potential, its parameters, lattice and defect), spread into each
 * study's optionsSchema so a configuration names them the same way everywhere.
 */
export const SETUP_OPTIONS_SCHEMA = {
  potential: { enum: Object.keys(POTENTIALS) },
  params: { type: 'object', additionalProperties: { type: 'number' } },
  lattice: { enum: [...LATTICE_NAMES] },
  defect: { enum: DEFECT_KINDS.filter((k) => k !== 'none') },
} as const;
