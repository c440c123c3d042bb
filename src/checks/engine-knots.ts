import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { readEamPotential } from '../potentials/eam-table.ts';
import { withKnotsOf } from '../potentials/knots.ts';
import type { SitePotential } from '../potentials/types.ts';

/** Where LAMMPS resolves bare potential file names (as src/engines/resolve.ts documents). */
function potentialsDir(): string {
  return process.env.LAMMPS_POTENTIALS ?? '/usr/share/lammps/potentials';
}

/**
 * The native model of a LAMMPS EAM engine spec ('lammps:eam/fs;* * Fe_mm.eam.fs Fe', 'lammps:eam;1 1 Cu_u3.eam'),
 * read with readEamPotential, which splines the file on LAMMPS' grid: its knots are LAMMPS' knots. Null for any other
 * spec (not EAM, several pair_coeff lines, an unreadable file): such an engine declares no kinks.
 */
export function nativeTwinOfLammpsSpec(spec: string): SitePotential | null {
  if (!spec.startsWith('lammps:')) return null;
  const parts = spec.slice(7).split(';').map((x) => x.trim()).filter(Boolean);
  if (parts.length !== 2) return null;
  const style = parts[0].split(/\s+/)[0];
  const format = style === 'eam' ? 'funcfl' : style === 'eam/alloy' ? 'setfl' : style === 'eam/fs' ? 'fs' : null;
  if (!format) return null;
  const tok = parts[1].split(/\s+/);
  if (tok.length < 3 || !['*', '1'].includes(tok[0]) || !['*', '1'].includes(tok[1])) return null;
  const file = isAbsolute(tok[2]) ? tok[2] : join(potentialsDir(), tok[2]);
  if (!existsSync(file)) return null;
  const element = format === 'funcfl' ? undefined : tok[3];
  if (format !== 'funcfl' && (tok.length !== 4 || !element)) return null;
  return readEamPotential(file, { format, element });
}

/** The engine with its native twin's knots declared (withKnotsOf), or the engine itself when it has no twin. */
export function withLammpsKnots(engine: SitePotential, spec: string): SitePotential {
  const twin = nativeTwinOfLammpsSpec(spec);
  return twin ? withKnotsOf(engine, twin) : engine;
}
