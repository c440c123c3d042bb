import { existsSync } from 'node:fs';
import type { LatticeName } from '../lattice/lattice.ts';
import { makePotential, POTENTIALS, potentialNames } from '../potentials/defaults.ts';
import type { SitePotential } from '../potentials/types.ts';
import { AsePotential } from './ase/engine.ts';
import { EngineError } from './errors.ts';
import { IpiPotential } from './ipi/engine.ts';
import { LammpsPotential } from './lammps.ts';

/**
 * `--engine <spec>`: how the CLI names a potential that lives elsewhere.
 *   <name>                      a built-in reference potential (src/potentials/defaults.ts)
 *   ipi:<host>:<port>           listen there (TCP) and wait for an i-PI client (ASE SocketClient, i-PI driver, LAMMPS)
 *   ipi:unix:<path>             the same on a UNIX socket
 *   lammps:<file>               LAMMPS with the pair_style/pair_coeff lines of <file> (e.g. a lammps-data .snap file)
 *   lammps:<style>;<coeff>[;..] LAMMPS with `pair_style <style>` and `pair_coeff <coeff>` (e.g.
 *                               'lammps:eam/alloy;* * Cu_mishin1.eam.alloy Cu'; bare file names resolve against
 *                               $LAMMPS_POTENTIALS, default /usr/share/lammps/potentials)
 *   ase:<module>:<callable>     an ASE calculator: Python (`python`) runs the shipped client (src/engines/ase/client.py),
 *                               which calls <callable>(**engineArgs) and serves it over i-PI (e.g.
 *                               'ase:ase.calculators.emt:EMT'; <module> may be a path to a .py file)
 * An external engine reports no site energies, so checks that need them are skipped (never passed).
 */
export interface EngineSpecOptions {
  /** i-PI engines: the client's unit system (default 'ase': Angstrom/eV with ASE's CODATA 2014 constants). */
  units?: string;
  /** i-PI engines: the client's interaction cutoff (required: the protocol does not carry it). */
  cutoff?: number;
  /** Allow a non-loopback listening address. */
  allowRemote?: boolean;
  acceptTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** LAMMPS: binary and units style. */
  lmp?: string;
  lammpsUnits?: 'metal' | 'real';
  /** LAMMPS: atom types to declare (default 1; all atoms are type 1): see LammpsEngineOptions.atomTypes. */
  lammpsAtomTypes?: number;
  /** Called with the address to tell the user where to connect their client. */
  onListening?: (address: string) => void;
  /** ASE: keyword arguments of the calculator's callable, a JSON object or its text (CLI: --engine-args). */
  engineArgs?: string | Record<string, unknown>;
  /** ASE: the Python interpreter (default: $MLIP_VERIFY_PYTHON, else python3 or /usr/bin/python3, whichever has ASE). */
  python?: string;
  /** ASE: chemical symbol of the atoms (default: the calculator's only element, else Cu). */
  element?: string;
}

export interface ResolvedEngine {
  readonly pot: SitePotential;
  /** Default lattice of a built-in potential (external engines: none; the caller must say). */
  readonly lattice?: LatticeName;
  readonly external: boolean;
  close(): Promise<void>;
}

export function isEngineSpec(spec: string): boolean {
  return spec.startsWith('ipi:') || spec.startsWith('lammps:') || spec.startsWith('ase:') || !!POTENTIALS[spec];
}

export function resolveEngine(spec: string, o: EngineSpecOptions = {}): ResolvedEngine {
  if (spec.startsWith('ipi:')) {
    const rest = spec.slice(4);
    if (o.cutoff === undefined) {
      throw new EngineError('config', `--engine ${spec}: give the engine's interaction cutoff with --cutoff (the i-PI protocol does not carry it)`);
    }
    let server;
    if (rest.startsWith('unix:')) server = { unixPath: rest.slice(5) };
    else {
      const i = rest.lastIndexOf(':');
      const host = i > 0 ? rest.slice(0, i) : '127.0.0.1';
      const port = Number(i >= 0 ? rest.slice(i + 1) : rest);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EngineError('config', `--engine ${spec}: bad port '${rest.slice(i + 1)}'`);
      server = { host, port, allowRemote: o.allowRemote };
    }
    const pot = new IpiPotential({
      units: o.units ?? 'ase',
      cutoff: o.cutoff,
      server: { ...server, acceptTimeoutMs: o.acceptTimeoutMs, responseTimeoutMs: o.responseTimeoutMs },
    });
    o.onListening?.(pot.describeAddress());
    return { pot, external: true, close: () => pot.dispose() };
  }
  if (spec.startsWith('lammps:')) {
    const rest = spec.slice(7);
    const parts = rest.split(';').map((x) => x.trim()).filter(Boolean);
    if (parts.length === 0) throw new EngineError('config', `--engine ${spec}: empty LAMMPS potential`);
    const common = {
      cutoff: o.cutoff,
      lmp: o.lmp,
      lammpsUnits: o.lammpsUnits,
      atomTypes: o.lammpsAtomTypes,
      acceptTimeoutMs: o.acceptTimeoutMs,
      responseTimeoutMs: o.responseTimeoutMs,
      name: spec,
    };
    const pot =
      parts.length === 1 && existsSync(parts[0])
        ? new LammpsPotential({ ...common, include: parts[0] })
        : new LammpsPotential({ ...common, pairStyle: parts[0], pairCoeff: parts.slice(1) });
    return { pot, external: true, close: () => pot.dispose() };
  }
  if (spec.startsWith('ase:')) {
    const calc = spec.slice(4);
    const i = calc.lastIndexOf(':');
    if (i <= 0 || i === calc.length - 1) throw new EngineError('config', `--engine ${spec}: expected ase:<module>:<callable>, e.g. ase:ase.calculators.emt:EMT`);
    const pot = new AsePotential({
      calc,
      args: engineArgs(spec, o.engineArgs),
      python: o.python,
      element: o.element,
      cutoff: o.cutoff,
      startupTimeoutMs: o.acceptTimeoutMs,
      responseTimeoutMs: o.responseTimeoutMs,
    });
    return { pot, external: true, close: () => pot.dispose() };
  }
  if (POTENTIALS[spec]) return { pot: makePotential(spec), lattice: POTENTIALS[spec].lattice, external: false, close: async () => {} };
  throw new EngineError(
    'config',
    `unknown engine '${spec}': use a built-in potential (${potentialNames().join(', ')}), ipi:<host>:<port>, ipi:unix:<path>, lammps:<file>, lammps:<pair_style>;<pair_coeff> or ase:<module>:<callable>`,
  );
}

/** --engine-args: a JSON object of keyword arguments (text from the CLI, or an object from the API). */
function engineArgs(spec: string, a: EngineSpecOptions['engineArgs']): Record<string, unknown> {
  if (a === undefined) return {};
  let v: unknown = a;
  if (typeof a === 'string') {
    try {
      v = JSON.parse(a);
    } catch (e) {
      throw new EngineError('config', `--engine-args for ${spec} is not valid JSON (${(e as Error).message}): ${a}`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EngineError('config', `--engine-args for ${spec} must be a JSON object of keyword arguments, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}
