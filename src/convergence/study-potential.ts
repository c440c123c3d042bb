import type { EngineSpecOptions } from '../engines/resolve.ts';
import type { LatticeName } from '../lattice/lattice.ts';
import { LATTICE_NAMES } from '../lattice/lattice.ts';
import { clearPipelineCaches } from '../pipeline/steps.ts';
import { resolvePotential, type ResolvedPotential } from '../potentials/spec.ts';
import type { SitePotential } from '../potentials/types.ts';
import { ParameterError } from '../util/errors.ts';
import type { StudyResult } from './types.ts';

/**
 * The road from a potential spec (src/potentials/spec.ts) to a study: resolve it once, hand the study a ready
 * SitePotential with its lattice, close an engine when the study ends (also on error), and record the units in
 * every StudyResult. The studies themselves only ever see a SitePotential.
 */

/** The one size convention, stated in `--help`, in reports and in every result's settings. */
export const SIZE_CONVENTION =
  "sizes (R, R_dom, radii, reference sizes) are lengths in the potential's length unit: Angstrom for eam:, lammps:, " +
  'ipi: and ase: potentials (and mlip: models trained on them), the reduced unit (about one nearest-neighbour ' +
  'distance) for the built-ins';

/** Options every study takes to name its potential (configs and the CLI alike). */
export interface StudyPotentialOptions {
  potential?: string;
  params?: Record<string, number>;
  lattice?: LatticeName;
  /** Engine options (i-PI cutoff and units, LAMMPS binary and units, timeouts in seconds). */
  engine?: EngineConfig;
}

/** The JSON form of engine options in a configuration (timeouts in seconds). */
export interface EngineConfig {
  cutoff?: number;
  units?: string;
  lmp?: string;
  lammpsUnits?: 'metal' | 'real';
  acceptTimeout?: number;
  responseTimeout?: number;
  allowRemote?: boolean;
  /** ase: engines: the calculator's keyword arguments (JSON), the Python interpreter, the element. */
  engineArgs?: string;
  python?: string;
  element?: string;
}


export function engineSpecOptions(e: EngineConfig | undefined, onListening?: (addr: string) => void): EngineSpecOptions {
  return {
    cutoff: e?.cutoff,
    units: e?.units,
    lmp: e?.lmp,
    lammpsUnits: e?.lammpsUnits,
    allowRemote: e?.allowRemote,
    engineArgs: e?.engineArgs,
    python: e?.python,
    element: e?.element,
    acceptTimeoutMs: (e?.acceptTimeout ?? 120) * 1000,
    responseTimeoutMs: (e?.responseTimeout ?? 120) * 1000,
    onListening,
  };
}

/** What a study receives: spread it over the study's options. */
export interface StudySetup {
  pot: SitePotential;
  /** The label the study prints: the spec itself (a built-in keeps its name, so its defaults still apply). */
  potential: string;
  lattice: LatticeName;
}

/** The lattice a study runs on: the one asked for, else the potential's own (built-in or file header), else fcc. */
export function studyLattice(r: ResolvedPotential, asked?: LatticeName): { lattice: LatticeName; source: string } {
  if (asked !== undefined) {
    if (!(LATTICE_NAMES as readonly string[]).includes(asked)) throw new ParameterError(`lattice '${asked}' is not one of: ${LATTICE_NAMES.join(', ')}`);
    return { lattice: asked, source: 'given' };
  }
  if (r.lattice) return { lattice: r.lattice, source: r.latticeSource };
  return { lattice: 'fcc', source: `${r.latticeSource}; default fcc` };
}

/** Record the potential's units and the size convention in a result's settings (and say it in a note). */
export function stampUnits(res: StudyResult, r: ResolvedPotential, latticeSource: string): StudyResult {
  res.settings.units = { length: r.units.length, energy: r.units.energy };
  res.settings.sizeConvention = SIZE_CONVENTION;
  res.settings.potentialSpec = r.spec;
  res.settings.latticeSource = latticeSource;
  ;(res.notes ??= []).push(`units: lengths in ${r.units.length}, energies in ${r.units.energy}; ${SIZE_CONVENTION}`);
  return res;
}

/**
 * Resolve `o.potential` (default eam-2d), run the study on it, close the potential afterwards (also on error) and
 * stamp the units into every result.
 */
export async function runOnPotential<T extends StudyResult | StudyResult[]>(
  o: StudyPotentialOptions,
  body: (s: StudySetup, r: ResolvedPotential) => T | Promise<T>,
  onListening?: (addr: string) => void,
): Promise<T> {
  const spec = o.potential ?? 'eam-2d';
  const r = resolvePotential(spec, { params: o.params, engine: engineSpecOptions(o.engine, onListening) });
  try {
    const lat = studyLattice(r, o.lattice);
    const out = await body({ pot: r.pot, potential: spec, lattice: lat.lattice }, r);
    for (const res of Array.isArray(out) ? out : [out]) stampUnits(res, r, lat.source);
    return out;
  } finally {
    await r.close();
    // A cached reference relaxation holds its potential: an engine's must not outlive its close().
    if (r.external) clearPipelineCaches();
  }
}
