import { DEFECT_KINDS } from '../lattice/domain.ts';
import { LATTICE_NAMES } from '../lattice/lattice.ts';
import { POTENTIAL_SPEC_FORMS, POTENTIAL_SPEC_PATTERN } from '../potentials/spec.ts';

/** Engine options of a configuration (src/convergence/study-potential.ts EngineConfig; timeouts in seconds). */
export const ENGINE_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cutoff: { type: 'number', exclusiveMinimum: 0 },
    units: { type: 'string', minLength: 1 },
    lmp: { type: 'string', minLength: 1 },
    lammpsUnits: { enum: ['metal', 'real'] },
    acceptTimeout: { type: 'number', exclusiveMinimum: 0 },
    responseTimeout: { type: 'number', exclusiveMinimum: 0 },
    allowRemote: { type: 'boolean' },
  },
} as const;

/**
 * The option schemas every study shares (which potential, its parameters, lattice and defect), spread into each
 * study's optionsSchema so a configuration names them the same way everywhere. `potential` is a potential spec
 * (src/potentials/spec.ts): the pattern checks its form; report configs rewrite a mismatch into a message that
 * lists the valid forms (src/report/config.ts).
 */
export const SETUP_OPTIONS_SCHEMA = {
  potential: { type: 'string', pattern: POTENTIAL_SPEC_PATTERN, description: `a potential spec: ${POTENTIAL_SPEC_FORMS.join(' | ')}` },
  params: { type: 'object', additionalProperties: { type: 'number' } },
  lattice: { enum: [...LATTICE_NAMES] },
  defect: { enum: DEFECT_KINDS.filter((k) => k !== 'none') },
  engine: ENGINE_CONFIG_SCHEMA,
} as const;
