import { LATTICE_NAMES, type LatticeName } from '../lattice/lattice.ts';
import { equilibriumLattice } from '../potentials/equilibrium.ts';
import { POTENTIAL_SPEC_FORMS, resolvePotential } from '../potentials/spec.ts';
import { ParameterError } from '../util/errors.ts';
import type { SitePotential } from '../potentials/types.ts';
import type { EngineConfig } from '../convergence/study-potential.ts';
import { flagBool, flagNumber, flagString, type ParsedArgs } from '../cli/args.ts';
import { EngineError } from './errors.ts';

/** The `--potential` / `--engine` flags shared by every command, in one place. */
export const ENGINE_USAGE = [
  '  --potential <spec>  (--engine is an alias) one of:',
  ...POTENTIAL_SPEC_FORMS.map((f) => `           ${f}`),
  '           bare file names resolve against $LAMMPS_POTENTIALS (default /usr/share/lammps/potentials); built-ins',
  '           are in reduced units, every other spec in Angstrom and eV (docs/external-engines.md). Engine options:',
  '           --lattice (default: the file header\'s, else fcc), --r0 (default: the stress-free lattice), --cutoff and',
  '           --units (i-PI: default ase), --lmp, --lammps-units metal|real, --allow-remote, --accept-timeout s, --response-timeout s',
  '           ase:<module>:<callable> (an ASE calculator served by the shipped client): --engine-args \'<JSON keyword',
  '           arguments>\', --python (default: python3 or /usr/bin/python3, whichever has ASE), --element (default: the',
  '           calculator\'s only element, else Cu), --cutoff (default: what the calculator says)',
].join('\n');

/** The spec given by --potential or its alias --engine (both: they must agree). */
export function potentialFlag(a: ParsedArgs, dflt?: string): string | undefined {
  const p = flagString(a, 'potential');
  const e = flagString(a, 'engine');
  if (p !== undefined && e !== undefined && p !== e) {
    throw new ParameterError(`--potential '${p}' and its alias --engine '${e}' name different potentials; give one`);
  }
  return p ?? e ?? dflt;
}

/** Engine options from the command line (timeouts in seconds). */
export function engineConfigFlags(a: ParsedArgs): EngineConfig {
  const lu = flagString(a, 'lammps-units');
  if (lu !== undefined && lu !== 'metal' && lu !== 'real') throw new EngineError('config', `--lammps-units '${lu}': metal or real`);
  return {
    cutoff: flagNumber(a, 'cutoff'),
    units: flagString(a, 'units'),
    lmp: flagString(a, 'lmp'),
    lammpsUnits: lu as 'metal' | 'real' | undefined,
    allowRemote: flagBool(a, 'allow-remote'),
    acceptTimeout: flagNumber(a, 'accept-timeout', 120),
    responseTimeout: flagNumber(a, 'response-timeout', 120),
    engineArgs: flagString(a, 'engine-args'),
    python: flagString(a, 'python'),
    element: flagString(a, 'element'),
  };
}

export interface EngineTarget {
  readonly pot: SitePotential;
  readonly lattice: LatticeName;
  readonly r0: number;
  close(): Promise<void>;
}

/**
 * Resolve `--potential`/`--engine` and the lattice the checks build their configurations on. The nearest-neighbour
 * distance is the potential's own stress-free lattice (a 1D pressure solve) unless --r0 is given; the solve starts
 * from --r0-guess, default the spec's length scale (an EAM file's lattice constant, else cutoff / 2.15, which is where
 * the reference potentials and typical metal EAMs sit: Cu cutoff 5.5 A, r0 2.56 A), so the bracket search needs few
 * engine calls.
 */
export function engineTarget(a: ParsedArgs, log: (s: string) => void = (s) => console.error(s)): EngineTarget {
  const spec = potentialFlag(a)!;
  const e = engineConfigFlags(a);
  const r = resolvePotential(spec, {
    engine: {
      units: e.units,
      cutoff: e.cutoff,
      allowRemote: e.allowRemote,
      lmp: e.lmp,
      lammpsUnits: e.lammpsUnits,
      acceptTimeoutMs: e.acceptTimeout! * 1000,
      responseTimeoutMs: e.responseTimeout! * 1000,
      engineArgs: e.engineArgs,
      python: e.python,
      element: e.element,
      onListening: (addr) => log(`mlip-verify: waiting for an i-PI client on ${addr}`),
    },
  });
  try {
    const lattice = (flagString(a, 'lattice') ?? r.lattice ?? 'fcc') as LatticeName;
    if (!LATTICE_NAMES.includes(lattice)) throw new EngineError('config', `--lattice ${lattice}: valid lattices ${LATTICE_NAMES.join(', ')}`);
    let r0 = flagNumber(a, 'r0');
    const noVirial = r.pot.describe().virialUnavailable;
    if (r0 === undefined && typeof noVirial === 'string') {
      throw new EngineError('config', `${noVirial}, so its stress-free lattice cannot be solved for: give the nearest-neighbour distance with --r0`);
    }
    if (r0 === undefined) {
      const guess = flagNumber(a, 'r0-guess', r.lengthScale)!;
      r0 = equilibriumLattice(r.pot, lattice, guess).lattice.r0;
      log(`mlip-verify: ${r.pot.name}: stress-free ${lattice} lattice r0 = ${r0} ${r.units.length}`);
    }
    return { pot: r.pot, lattice, r0, close: r.close };
  } catch (err) {
    void r.close();
    throw err;
  }
}
