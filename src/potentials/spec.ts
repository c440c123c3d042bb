import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { EngineError } from '../engines/errors.ts';
import { resolveEngine, type EngineSpecOptions } from '../engines/resolve.ts';
import { readEamFile, type EamFile } from '../io/eam-file.ts';
import { LATTICE_NAMES, type LatticeName } from '../lattice/lattice.ts';
import { parseModel } from '../mlip/model.ts';
import { ParameterError } from '../util/errors.ts';
import { makePotential, POTENTIALS, potentialNames } from './defaults.ts';
import { tabulatedEam } from './eam-table.ts';
import { declareUnits, METAL_UNITS, REDUCED_UNITS, unitsOf, type PotentialUnits, type SitePotential } from './types.ts';

/**
 * One way to name a potential everywhere (`check`, every `study`, `fit`, `export-training`, report configurations):
 *
 *   <built-in name>            a reduced-unit reference potential of src/potentials/defaults.ts (`params` in configs)
 *   eam:<file>[:<element>]     a LAMMPS eam / eam/alloy / eam/fs file, read and splined in process exactly as LAMMPS
 *                              does (src/io/eam-file.ts, src/potentials/eam-table.ts); the element picks the pure
 *                              element of a multi-element file
 *   lammps:<file>              LAMMPS itself, with the pair_style/pair_coeff lines of <file>
 *   lammps:<style>;<coeff>[;..] LAMMPS with `pair_style <style>` and `pair_coeff <coeff>` (src/engines/lammps.ts)
 *   ipi:<host>:<port>, ipi:unix:<path>   an i-PI client (ASE SocketClient, i-PI drivers, LAMMPS fix ipi)
 *   ase:<...>                  an ASE calculator (src/engines/ase, through src/engines/resolve.ts)
 *   mlip:<model.json>          a linear MLIP written by `mlip-verify fit`
 *
 * Bare file names (no '/') that do not exist in the working directory resolve against $LAMMPS_POTENTIALS (default
 * /usr/share/lammps/potentials), as LAMMPS does. Every malformed spec is a PotentialSpecError listing these forms.
 */

/** The valid forms, one line each, as every error message lists them. */
export const POTENTIAL_SPEC_FORMS: readonly string[] = [
  `<built-in name> (${potentialNames().join(', ')})`,
  'eam:<file>[:<element>] (LAMMPS eam, eam/alloy or eam/fs file, read in process)',
  'lammps:<file> or lammps:<pair_style>;<pair_coeff>[;<pair_coeff>...] (LAMMPS engine)',
  'ipi:<host>:<port>, ipi:<port> or ipi:unix:<path> (i-PI client)',
  'ase:<calculator spec> (ASE calculator engine)',
  'mlip:<model.json> (a model written by mlip-verify fit)',
];

/**
 * The string forms as one regular expression (for JSON Schema `pattern`): it checks the form, not that files exist.
 * Kept equivalent to parsePotentialSpec (a property test generates specs against both).
 */
export const POTENTIAL_SPEC_PATTERN =
  '^(?:' +
  potentialNames().map((n) => n.replace(/[.]/g, '\\.')).join('|') +
  '|eam:[^:\\s][^:\\n]*(?::[A-Za-z][A-Za-z0-9_]*)?' +
  '|lammps:(?=[^\\n]*[^;\\s])[^\\n]+' +
  '|ipi:(?:unix:\\S+|(?:[A-Za-z0-9.\\-\\[\\]]+:)?(?:0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))' +
  '|ase:\\S.*' +
  '|mlip:\\S.*' +
  ')$';

/** A malformed or unresolvable potential spec: the message names the problem and lists the valid forms. */
export class PotentialSpecError extends ParameterError {
  constructor(
    readonly spec: unknown,
    reason: string,
  ) {
    super(`potential '${String(spec)}': ${reason}; valid forms: ${POTENTIAL_SPEC_FORMS.join(' | ')}`, {
      spec: String(spec),
      reason,
      validForms: POTENTIAL_SPEC_FORMS,
    });
  }
}

export type ParsedPotentialSpec =
  | { kind: 'builtin'; name: string }
  | { kind: 'eam'; file: string; element?: string }
  | { kind: 'lammps'; rest: string }
  | { kind: 'ipi'; rest: string }
  | { kind: 'ase'; rest: string }
  | { kind: 'mlip'; file: string };

const PREFIXES = ['eam', 'lammps', 'ipi', 'ase', 'mlip'] as const;

/** Check the form of a spec (no file is opened). */
export function parsePotentialSpec(spec: unknown): ParsedPotentialSpec {
  if (typeof spec !== 'string') throw new PotentialSpecError(spec, `a potential spec is a string, got ${typeof spec}`);
  if (spec.length === 0) throw new PotentialSpecError(spec, 'empty spec');
  if (/\n/.test(spec)) throw new PotentialSpecError(spec, 'a spec is one line');
  if (POTENTIALS[spec]) return { kind: 'builtin', name: spec };
  const colon = spec.indexOf(':');
  const prefix = colon > 0 ? spec.slice(0, colon) : '';
  const rest = spec.slice(colon + 1);
  if (!(PREFIXES as readonly string[]).includes(prefix)) {
    throw new PotentialSpecError(spec, colon > 0 ? `unknown prefix '${prefix}:'` : 'not a built-in potential and no prefix');
  }
  if (rest.trim().length === 0) throw new PotentialSpecError(spec, `nothing after '${prefix}:'`);
  switch (prefix) {
    case 'eam': {
      const parts = rest.split(':');
      if (parts.length > 2) throw new PotentialSpecError(spec, "eam: takes a file and at most one element (eam:<file>[:<element>])");
      const [file, element] = parts;
      if (!file || /^\s/.test(file)) throw new PotentialSpecError(spec, 'eam: needs a file name');
      if (element !== undefined && !/^[A-Za-z][A-Za-z0-9_]*$/.test(element)) {
        throw new PotentialSpecError(spec, `'${element}' is not an element name (letters, digits, _; e.g. Cu)`);
      }
      return element === undefined ? { kind: 'eam', file } : { kind: 'eam', file, element };
    }
    case 'lammps':
      if (rest.split(';').every((x) => x.trim() === '')) throw new PotentialSpecError(spec, 'lammps: needs a file or a pair_style');
      return { kind: 'lammps', rest };
    case 'ipi': {
      if (rest.startsWith('unix:')) {
        if (!/^\S+$/.test(rest.slice(5))) throw new PotentialSpecError(spec, 'ipi:unix: needs a socket path without spaces');
        return { kind: 'ipi', rest };
      }
      const i = rest.lastIndexOf(':');
      const host = i >= 0 ? rest.slice(0, i) : '';
      const port = i >= 0 ? rest.slice(i + 1) : rest;
      if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) throw new PotentialSpecError(spec, `bad port '${port}' (an integer 0..65535)`);
      if (i >= 0 && !/^[A-Za-z0-9.\-[\]]+$/.test(host)) throw new PotentialSpecError(spec, `bad host '${host}'`);
      return { kind: 'ipi', rest };
    }
    case 'ase':
      if (/^\s/.test(rest)) throw new PotentialSpecError(spec, 'ase: spec starts with a space');
      return { kind: 'ase', rest };
    default:
      if (/^\s/.test(rest)) throw new PotentialSpecError(spec, 'mlip: file name starts with a space');
      return { kind: 'mlip', file: rest };
  }
}

/** True when `spec` names a built-in (reduced-unit) potential. */
export function isBuiltinSpec(spec: string | undefined): boolean {
  return spec === undefined || !!POTENTIALS[spec];
}

/** Where LAMMPS looks for potential files: $LAMMPS_POTENTIALS, default the Debian package's directory. */
export function lammpsPotentialsDir(): string {
  return process.env.LAMMPS_POTENTIALS || '/usr/share/lammps/potentials';
}

/** A file as given if it exists; a bare name otherwise from $LAMMPS_POTENTIALS. Missing: a PotentialSpecError. */
export function resolvePotentialFile(spec: string, file: string): string {
  if (existsSync(file)) return file;
  if (!isAbsolute(file) && !file.includes('/')) {
    const p = join(lammpsPotentialsDir(), file);
    if (existsSync(p)) return p;
    throw new PotentialSpecError(spec, `file '${file}' not found here nor in ${lammpsPotentialsDir()} ($LAMMPS_POTENTIALS)`);
  }
  throw new PotentialSpecError(spec, `file '${file}' not found`);
}

/** nearest-neighbour distance of a cubic lattice constant a (the file headers give a). */
function r0FromLatticeConstant(lattice: LatticeName, a: number): number | undefined {
  if (lattice === 'fcc') return a / Math.SQRT2;
  if (lattice === 'bcc') return (a * Math.sqrt(3)) / 2;
  return undefined;
}

/** The lattice an EAM file's header names for the chosen element (setfl/fs element line, funcfl line 2). */
export function eamHeaderLattice(f: EamFile, element?: string): { lattice?: LatticeName; a?: number; latticeType?: string } {
  const e = element === undefined ? f.elements[0] : f.elements.find((x) => x.name === element);
  if (!e) return {};
  const t = e.latticeType?.toLowerCase();
  const lattice = t && (LATTICE_NAMES as readonly string[]).includes(t) ? (t as LatticeName) : undefined;
  return { lattice, a: e.latticeConstant ?? undefined, latticeType: e.latticeType ?? undefined };
}

export interface ResolvePotentialOptions {
  /** Parameters of a built-in (configs' `params`). */
  params?: Record<string, number>;
  /** Engine options (i-PI cutoff and units, LAMMPS binary and units, timeouts). */
  engine?: EngineSpecOptions;
}

export interface ResolvedPotential {
  readonly spec: string;
  readonly kind: ParsedPotentialSpec['kind'];
  readonly pot: SitePotential;
  readonly units: PotentialUnits;
  /** The potential's own lattice: a built-in's, or the one an EAM file's header names. */
  readonly lattice?: LatticeName;
  /** Where `lattice` and the length scale came from, for reports. */
  readonly latticeSource: string;
  /** Typical nearest-neighbour distance (start of stress-free solves); 1 for built-ins. */
  readonly lengthScale: number;
  readonly external: boolean;
  /** Release an engine (LAMMPS process, sockets); a no-op for in-process potentials. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Build the potential a spec names. In-process potentials (built-ins, eam:, mlip:) need no closing; engines do, and
 * the caller must close() them also on error (withPotential does).
 */
export function resolvePotential(spec: string, o: ResolvePotentialOptions = {}): ResolvedPotential {
  const parsed = parsePotentialSpec(spec);
  const noop = async () => {};
  if (o.params !== undefined && parsed.kind !== 'builtin') {
    throw new PotentialSpecError(spec, '`params` apply to built-in potentials only');
  }
  switch (parsed.kind) {
    case 'builtin': {
      const pot = declareUnits(makePotential(parsed.name, o.params), REDUCED_UNITS);
      return { spec, kind: 'builtin', pot, units: REDUCED_UNITS, lattice: POTENTIALS[parsed.name].lattice, latticeSource: `built-in ${parsed.name}`, lengthScale: 1, external: false, close: noop };
    }
    case 'eam': {
      const path = resolvePotentialFile(spec, parsed.file);
      const f = readEamFile(path);
      const pot = tabulatedEam(f, { element: parsed.element, name: spec });
      const h = eamHeaderLattice(f, parsed.element);
      const r0 = h.lattice && h.a ? r0FromLatticeConstant(h.lattice, h.a) : undefined;
      const lengthScale = r0 ?? pot.cutoff / 2.15;
      declareUnits(pot, METAL_UNITS, lengthScale);
      return {
        spec,
        kind: 'eam',
        pot,
        units: METAL_UNITS,
        lattice: h.lattice,
        latticeSource: h.lattice
          ? `file header: ${h.latticeType} a = ${h.a} Angstrom (the stress-free lattice is solved from there)`
          : `file header names no lattice${h.latticeType ? ` it knows ('${h.latticeType}')` : ''}`,
        lengthScale,
        external: false,
        close: noop,
      };
    }
    case 'mlip': {
      const path = resolvePotentialFile(spec, parsed.file);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw new PotentialSpecError(spec, `cannot read '${path}': ${(e as Error).message}`);
      }
      const pot = parseModel(text);
      const ts = (pot.provenance.trainingSet ?? {}) as Record<string, unknown>;
      const u = ts.units as PotentialUnits | undefined;
      const units = u && typeof u.length === 'string' && typeof u.energy === 'string' ? { length: u.length, energy: u.energy } : { length: 'unspecified (as its training data)', energy: 'unspecified (as its training data)' };
      const lat = ts.lattice as { name?: string; r0?: number } | undefined;
      const lattice = lat && (LATTICE_NAMES as readonly string[]).includes(lat.name ?? '') ? (lat.name as LatticeName) : undefined;
      const lengthScale = typeof lat?.r0 === 'number' && lat.r0 > 0 ? lat.r0 : pot.cutoff / 2.15;
      declareUnits(pot, units, lengthScale);
      return { spec, kind: 'mlip', pot, units, lattice, latticeSource: lattice ? 'the model\'s training set' : 'none recorded in the model', lengthScale, external: false, close: noop };
    }
    default: {
      // lammps:, ipi:, ase: are engines; src/engines/resolve.ts owns their details.
      let eng;
      try {
        eng = resolveEngine(spec, o.engine ?? {});
      } catch (e) {
        // "unknown engine": a prefix this build's resolveEngine does not serve (e.g. ase: before its engine exists).
        if (e instanceof EngineError && e.kind === 'config' && /^unknown engine/.test(e.message)) throw new PotentialSpecError(spec, e.message);
        throw e;
      }
      const lengthScale = eng.pot.cutoff / 2.15;
      declareUnits(eng.pot, METAL_UNITS, lengthScale);
      let closed = false;
      return {
        spec,
        kind: parsed.kind,
        pot: eng.pot,
        units: unitsOf(eng.pot),
        lattice: eng.lattice,
        latticeSource: 'none from the engine (--lattice, default fcc)',
        lengthScale,
        external: true,
        close: async () => {
          if (closed) return;
          closed = true;
          await eng.close();
        },
      };
    }
  }
}

/** Run `body` on the resolved potential and close it afterwards, also when body throws. */
export async function withPotential<T>(spec: string, o: ResolvePotentialOptions, body: (r: ResolvedPotential) => T | Promise<T>): Promise<T> {
  const r = resolvePotential(spec, o);
  try {
    return await body(r);
  } finally {
    await r.close();
  }
}
