import { LATTICE_NAMES, type LatticeName } from '../lattice/lattice.ts';
import { equilibriumLattice } from '../potentials/equilibrium.ts';
import type { SitePotential } from '../potentials/types.ts';
import { flagBool, flagNumber, flagString, type ParsedArgs } from '../cli/args.ts';
import { EngineError } from './errors.ts';
import { resolveEngine } from './resolve.ts';

/** The `--engine` flags shared by commands (check, and later the studies), in one place. */
export const ENGINE_USAGE = [
  '  --engine <name | ipi:host:port | ipi:unix:/path | lammps:<file> | lammps:<pair_style>;<pair_coeff>>',
  '           run on an external engine (docs/external-engines.md); with it: --lattice (default fcc), --r0 (default:',
  '           the engine\'s stress-free lattice), --cutoff and --units (i-PI: default ase), --lmp, --allow-remote',
  '  --engine ase:<module>:<callable>  an ASE calculator, served by the shipped client; with it: --engine-args \'<JSON',
  '           keyword arguments>\', --python (default: python3 or /usr/bin/python3, whichever has ASE), --element',
  '           (default: the calculator\'s only element, else Cu), --cutoff (default: what the calculator says)',
].join('\n');

export interface EngineTarget {
  readonly pot: SitePotential;
  readonly lattice: LatticeName;
  readonly r0: number;
  close(): Promise<void>;
}

/**
 * Resolve `--engine` and the lattice the checks build their configurations on. The nearest-neighbour distance is the
 * engine's own stress-free lattice (a 1D pressure solve through the engine) unless --r0 is given; the solve starts
 * from --r0-guess, default cutoff / 2.15, which is where the reference potentials and typical metal EAMs sit (Cu:
 * cutoff 5.5 A, r0 2.56 A), so the bracket search needs few engine calls.
 */
export function engineTarget(a: ParsedArgs, log: (s: string) => void = (s) => console.error(s)): EngineTarget {
  const spec = flagString(a, 'engine')!;
  const units = flagString(a, 'units');
  const lu = flagString(a, 'lammps-units');
  const eng = resolveEngine(spec, {
    units,
    cutoff: flagNumber(a, 'cutoff'),
    allowRemote: flagBool(a, 'allow-remote'),
    lmp: flagString(a, 'lmp'),
    lammpsUnits: lu === undefined ? undefined : (lu as 'metal' | 'real'),
    engineArgs: flagString(a, 'engine-args'),
    python: flagString(a, 'python'),
    element: flagString(a, 'element'),
    acceptTimeoutMs: flagNumber(a, 'accept-timeout', 120)! * 1000,
    responseTimeoutMs: flagNumber(a, 'response-timeout', 120)! * 1000,
    onListening: (addr) => log(`mlip-verify: waiting for an i-PI client on ${addr}`),
  });
  try {
    const lattice = (flagString(a, 'lattice') ?? eng.lattice ?? 'fcc') as LatticeName;
    if (!LATTICE_NAMES.includes(lattice)) throw new EngineError('config', `--lattice ${lattice}: valid lattices ${LATTICE_NAMES.join(', ')}`);
    let r0 = flagNumber(a, 'r0');
    const noVirial = eng.pot.describe().virialUnavailable;
    if (r0 === undefined && typeof noVirial === 'string') {
      throw new EngineError('config', `${noVirial}, so its stress-free lattice cannot be solved for: give the nearest-neighbour distance with --r0`);
    }
    if (r0 === undefined) {
      const guess = flagNumber(a, 'r0-guess', eng.pot.cutoff / 2.15)!;
      r0 = equilibriumLattice(eng.pot, lattice, guess).lattice.r0;
      log(`mlip-verify: ${eng.pot.name}: stress-free ${lattice} lattice r0 = ${r0}`);
    }
    return { pot: eng.pot, lattice, r0, close: eng.close };
  } catch (e) {
    void eng.close();
    throw e;
  }
}
