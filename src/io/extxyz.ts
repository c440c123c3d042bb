import { readFileSync, writeFileSync } from 'node:fs';
import type { Dim, Structure } from '../lattice/structure.ts';
import { cellVolume } from '../lattice/structure.ts';
import type { ObservationKind, TrainingConfig, TrainingSet } from '../fit/types.ts';
import { ParseError } from '../util/errors.ts';

/**
 * Extended XYZ (the ASE convention) for training sets, so external fitting codes can use our data and we can read
 * theirs. One frame per configuration:
 *
 *   N
 *   Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3:forces:R:3 energy=E virial="9 numbers"
 *     pbc="T T T" config_type=<role> weight=<w> [seed=<s>] [fc_atom=<i>] [observations=E+F+V]
 *   X x y z fx fy fz
 *
 * Conventions:
 * - virial is W = -dE/dstrain (stress times volume with ASE's sign flipped: stress = -W / volume), row-major 3x3.
 *   On reading, a frame without `virial` but with `stress` gets W = -stress * volume.
 * - 2D structures are padded to 3D: z components 0, third lattice vector (0, 0, Z2D_PAD) and pbc="T T F"; a frame
 *   whose pbc is "T T F" is read back as 2D (its z coordinates, z forces and z virial entries must be 0).
 *   Open (non-periodic) structures have no Lattice and pbc="F F F" (3D) or "F F F" with `dim=2`.
 * - Force constants (an mlip-verify extension; ASE reads it as an ordinary per-atom array): per-atom property
 *   force_constants:R:9, column beta of the Hessian for atom fc_atom is entries 3 beta .. 3 beta + 2 of each row.
 * - Every number is written in the shortest form that round-trips (String(x), with -0 kept), so reading a written
 *   file reproduces every float bit for bit.
 */
export const Z2D_PAD = 10;

/**
 * Cutoff geometry of the reference (rc and the smooth cutoff's inner radius), carried in the frames as `cutoff=` and
 * `cutoff_rin=` so that a fit from the file can build a basis with the same cutoff envelope.
 */
function cutoffGeometry(meta: Record<string, unknown>): { cutoff: number; rin?: number } | undefined {
  const pair = (meta.reference as Record<string, unknown> | undefined)?.pair as Record<string, unknown> | undefined;
  if (pair && typeof pair.rc === 'number' && typeof pair.rin === 'number') return { cutoff: pair.rc, rin: pair.rin };
  if (typeof meta.cutoff === 'number') return { cutoff: meta.cutoff, rin: typeof meta.rin === 'number' ? meta.rin : undefined };
  return undefined;
}

function fmt(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

export interface WriteOptions {
  /** Chemical symbol written in the species column (default 'X', ASE's dummy element). */
  species?: string;
}

export function formatExtxyz(set: TrainingSet, opts: WriteOptions = {}): string {
  const species = opts.species ?? 'X';
  const out: string[] = [];
  const obs = set.observations.join('+');
  const geo = cutoffGeometry(set.meta);
  for (const c of set.configs) {
    const s = c.structure;
    const dim = s.dim;
    const n = s.positions.length / dim;
    const pad3 = (v: ArrayLike<number>, i: number): number[] => [v[i * dim], v[i * dim + 1], dim === 3 ? v[i * dim + 2] : 0];
    const hdr: string[] = [];
    if (s.cell) {
      const L: number[] = [];
      for (let k = 0; k < 3; k++) {
        if (k < dim) L.push(...pad3(s.cell, k));
        else L.push(0, 0, Z2D_PAD);
      }
      hdr.push(`Lattice="${L.map(fmt).join(' ')}"`);
    }
    let props = 'species:S:1:pos:R:3';
    if (c.forces) props += ':forces:R:3';
    if (c.forceConstants) props += ':force_constants:R:9';
    hdr.push(`Properties=${props}`);
    if (c.energy !== undefined) hdr.push(`energy=${fmt(c.energy)}`);
    if (c.virial) {
      const W: number[] = [];
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) W.push(a < dim && b < dim ? c.virial[a * dim + b] : 0);
      hdr.push(`virial="${W.map(fmt).join(' ')}"`);
    }
    const pbc = s.cell ? (dim === 3 ? 'T T T' : 'T T F') : 'F F F';
    hdr.push(`pbc="${pbc}"`);
    if (!s.cell && dim === 2) hdr.push('dim=2');
    hdr.push(`config_type=${c.role.replace(/\s+/g, '_') || 'unknown'}`);
    hdr.push(`weight=${fmt(c.weight)}`);
    if (c.seed !== undefined) hdr.push(`seed=${fmt(c.seed)}`);
    if (c.forceConstants) hdr.push(`fc_atom=${c.forceConstants.atom}`);
    hdr.push(`observations=${obs}`);
    if (geo) hdr.push(`cutoff=${fmt(geo.cutoff)}`, ...(geo.rin !== undefined ? [`cutoff_rin=${fmt(geo.rin)}`] : []));
    out.push(String(n), hdr.join(' '));
    for (let i = 0; i < n; i++) {
      const row: string[] = [species, ...pad3(s.positions, i).map(fmt)];
      if (c.forces) row.push(...pad3(c.forces, i).map(fmt));
      if (c.forceConstants) {
        for (let b = 0; b < 3; b++) {
          const col = b < dim ? c.forceConstants.columns[b] : null;
          row.push(...(col ? pad3(col, i) : [0, 0, 0]).map(fmt));
        }
      }
      out.push(row.join(' '));
    }
  }
  return out.join('\n') + '\n';
}

export function writeExtxyz(path: string, set: TrainingSet, opts: WriteOptions = {}): void {
  writeFileSync(path, formatExtxyz(set, opts));
}

const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function num(tok: string | undefined, what: string, line: number, file?: string): number {
  if (tok === undefined || !NUM.test(tok)) throw new ParseError(`${what}: '${tok ?? ''}' is not a finite number`, line, file);
  const x = Number(tok);
  if (!Number.isFinite(x)) throw new ParseError(`${what}: '${tok}' is not a finite number`, line, file);
  return x;
}

/** key=value pairs of an extxyz comment line; values may be "double quoted". Bare keys are 'T'. */
export function parseHeader(text: string, line: number, file?: string): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) break;
    let k = '';
    while (i < n && text[i] !== '=' && !/\s/.test(text[i])) k += text[i++];
    if (!k) throw new ParseError(`header: empty key at column ${i + 1}`, line, file);
    if (text[i] !== '=') {
      m.set(k, 'T');
      continue;
    }
    i++;
    let v = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') v += text[i++];
      if (i >= n) throw new ParseError(`header: unterminated quote in value of '${k}'`, line, file);
      i++;
    } else {
      while (i < n && !/\s/.test(text[i])) v += text[i++];
    }
    if (m.has(k)) throw new ParseError(`header: key '${k}' given twice`, line, file);
    m.set(k, v);
  }
  return m;
}

interface Prop {
  name: string;
  type: string;
  count: number;
}

function parseProperties(v: string, line: number, file?: string): Prop[] {
  const parts = v.split(':');
  if (parts.length % 3 !== 0 || parts.length === 0) throw new ParseError(`Properties '${v}' is not name:type:count triples`, line, file);
  const out: Prop[] = [];
  for (let q = 0; q < parts.length; q += 3) {
    const [name, type, c] = parts.slice(q, q + 3);
    if (!name || !['S', 'R', 'I', 'L'].includes(type) || !/^[1-9]\d*$/.test(c)) {
      throw new ParseError(`Properties entry '${name}:${type}:${c}' is invalid (type S/R/I/L, count >= 1)`, line, file);
    }
    out.push({ name, type, count: Number(c) });
  }
  return out;
}

export interface ReadOptions {
  file?: string;
  /** Observation kinds of the set; default: the frames' `observations` key, else the kinds present in every frame. */
  observations?: ObservationKind[];
}

/** Reads an extxyz training set; malformed input throws ParseError with the 1-based line number. */
export function parseExtxyz(text: string, opts: ReadOptions = {}): TrainingSet {
  const file = opts.file;
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const configs: TrainingConfig[] = [];
  let obsKey: string | undefined;
  let cutoff: number | undefined;
  let rin: number | undefined;
  let li = 0;
  while (li < lines.length) {
    const countLine = li + 1;
    const ct = lines[li].trim();
    if (ct === '' && lines.slice(li).every((l) => l.trim() === '')) break;
    if (!/^\d+$/.test(ct)) throw new ParseError(`expected the atom count, got '${lines[li].slice(0, 40)}'`, countLine, file);
    const n = Number(ct);
    if (n < 1 || !Number.isSafeInteger(n)) throw new ParseError(`atom count must be >= 1, got ${ct}`, countLine, file);
    if (li + 1 >= lines.length) throw new ParseError('missing comment (header) line', countLine + 1, file);
    const hl = li + 2;
    const h = parseHeader(lines[li + 1], hl, file);
    const propsText = h.get('Properties') ?? 'species:S:1:pos:R:3';
    const props = parseProperties(propsText, hl, file);
    const pbcTok = (h.get('pbc') ?? (h.has('Lattice') ? 'T T T' : 'F F F')).trim().split(/\s+/);
    if (pbcTok.length !== 3 || pbcTok.some((t) => !['T', 'F', 'True', 'False'].includes(t))) {
      throw new ParseError(`pbc must be three of T/F, got '${h.get('pbc')}'`, hl, file);
    }
    const pbc = pbcTok.map((t) => t.startsWith('T'));
    let dim: Dim = 3;
    let cell: Float64Array | null = null;
    if (pbc[0] && pbc[1] && !pbc[2]) dim = 2;
    else if (!pbc[0] && !pbc[1] && !pbc[2]) {
      if (h.get('dim') === '2') dim = 2;
      else if (h.has('dim') && h.get('dim') !== '3') throw new ParseError(`dim must be 2 or 3, got '${h.get('dim')}'`, hl, file);
    } else if (!(pbc[0] && pbc[1] && pbc[2])) throw new ParseError(`unsupported pbc '${h.get('pbc')}' (use T T T, T T F for 2D, or F F F)`, hl, file);
    if (pbc[0]) {
      const lt = h.get('Lattice');
      if (lt === undefined) throw new ParseError('periodic frame without Lattice', hl, file);
      const toks = lt.trim().split(/\s+/);
      if (toks.length !== 9) throw new ParseError(`Lattice needs 9 numbers, got ${toks.length}`, hl, file);
      const L = toks.map((t, q) => num(t, `Lattice entry ${q + 1}`, hl, file));
      if (dim === 2) {
        if (L[2] !== 0 || L[5] !== 0 || L[6] !== 0 || L[7] !== 0) {
          throw new ParseError('2D frame (pbc T T F): the first two lattice vectors must lie in the xy plane and the third along z', hl, file);
        }
        cell = Float64Array.of(L[0], L[1], L[3], L[4]);
      } else cell = Float64Array.from(L);
    }
    const fields: Record<string, { off: number; count: number; type: string }> = {};
    let ncol = 0;
    for (const p of props) {
      fields[p.name] = { off: ncol, count: p.count, type: p.type };
      ncol += p.count;
    }
    const pos = fields.pos;
    if (!pos || pos.type !== 'R' || pos.count !== 3) throw new ParseError('Properties must contain pos:R:3', hl, file);
    const fo = fields.forces;
    if (fo && (fo.type !== 'R' || fo.count !== 3)) throw new ParseError('forces must be R:3', hl, file);
    const fcp = fields.force_constants;
    if (fcp && (fcp.type !== 'R' || fcp.count !== 9)) throw new ParseError('force_constants must be R:9', hl, file);
    if (li + 2 + n > lines.length) throw new ParseError(`frame declares ${n} atoms but the file ends after ${lines.length - li - 2}`, lines.length + 1, file);
    const x = new Float64Array(n * dim);
    const f = fo ? new Float64Array(n * dim) : undefined;
    const fcCols = fcp ? Array.from({ length: dim }, () => new Float64Array(n * dim)) : undefined;
    for (let i = 0; i < n; i++) {
      const ln = li + 3 + i;
      const tok = lines[li + 2 + i].trim().split(/\s+/);
      if (tok.length !== ncol) throw new ParseError(`atom line has ${tok.length} columns, Properties declare ${ncol}`, ln, file);
      for (const p of props) {
        if (p.type === 'R') for (let q = 0; q < p.count; q++) num(tok[fields[p.name].off + q], `${p.name}`, ln, file);
        if (p.type === 'I' && !tok.slice(fields[p.name].off, fields[p.name].off + p.count).every((t) => /^[+-]?\d+$/.test(t))) {
          throw new ParseError(`${p.name}: integer expected`, ln, file);
        }
      }
      const rd = (fld: { off: number }, comp: number, what: string): number => num(tok[fld.off + comp], what, ln, file);
      for (let a = 0; a < 3; a++) {
        const v = rd(pos, a, 'position');
        if (a < dim) x[i * dim + a] = v;
        else if (v !== 0) throw new ParseError(`2D frame: z coordinate must be 0, got ${v}`, ln, file);
        if (f && fo) {
          const fv = rd(fo, a, 'force');
          if (a < dim) f[i * dim + a] = fv;
          else if (fv !== 0) throw new ParseError(`2D frame: z force must be 0, got ${fv}`, ln, file);
        }
        if (fcCols && fcp) {
          for (let b = 0; b < 3; b++) {
            const v2 = rd(fcp, 3 * b + a, 'force_constants');
            if (a < dim && b < dim) fcCols[b][i * dim + a] = v2;
            else if (v2 !== 0) throw new ParseError('2D frame: force constants out of plane must be 0', ln, file);
          }
        }
      }
    }
    const structure: Structure = { dim, positions: x, cell };
    const cfg: TrainingConfig = { role: h.get('config_type') ?? 'external', structure, weight: 1 };
    if (h.has('energy')) cfg.energy = num(h.get('energy'), 'energy', hl, file);
    if (h.has('weight')) {
      cfg.weight = num(h.get('weight'), 'weight', hl, file);
      if (cfg.weight < 0) throw new ParseError(`weight must be >= 0, got ${cfg.weight}`, hl, file);
    }
    if (h.has('seed')) cfg.seed = num(h.get('seed'), 'seed', hl, file);
    if (f) cfg.forces = f;
    const vt = h.get('virial') ?? h.get('stress');
    if (vt !== undefined) {
      const isStress = !h.has('virial');
      const toks = vt.trim().split(/\s+/);
      if (toks.length !== 9) throw new ParseError(`${isStress ? 'stress' : 'virial'} needs 9 numbers, got ${toks.length}`, hl, file);
      const W = toks.map((t) => num(t, isStress ? 'stress' : 'virial', hl, file));
      if (isStress && !cell) throw new ParseError('stress given for a non-periodic frame', hl, file);
      const vol = isStress && cell ? cellVolume(cell, dim) : 1;
      const v = new Float64Array(dim * dim);
      for (let a = 0; a < 3; a++)
        for (let b = 0; b < 3; b++) {
          const w = W[a * 3 + b];
          if (a < dim && b < dim) v[a * dim + b] = isStress ? -w * vol : w;
          else if (w !== 0) throw new ParseError(`2D frame: out-of-plane ${isStress ? 'stress' : 'virial'} entries must be 0`, hl, file);
        }
      cfg.virial = v;
    }
    if (fcCols) {
      const at = h.get('fc_atom');
      const a = at === undefined ? NaN : num(at, 'fc_atom', hl, file);
      if (!Number.isInteger(a) || a < 0 || a >= n) throw new ParseError(`force_constants need fc_atom in 0..${n - 1}, got '${at}'`, hl, file);
      cfg.forceConstants = { atom: a, columns: fcCols };
    }
    const ok = h.get('observations');
    if (ok !== undefined) {
      if (!/^(E|F|V|FC)(\+(E|F|V|FC))*$/.test(ok)) throw new ParseError(`observations '${ok}' is not like E+F+V`, hl, file);
      if (obsKey !== undefined && obsKey !== ok) throw new ParseError(`frames disagree on observations (${obsKey} vs ${ok})`, hl, file);
      obsKey = ok;
    }
    if (h.has('cutoff')) cutoff = Math.max(cutoff ?? 0, num(h.get('cutoff'), 'cutoff', hl, file));
    if (h.has('cutoff_rin')) rin = num(h.get('cutoff_rin'), 'cutoff_rin', hl, file);
    configs.push(cfg);
    li += 2 + n;
  }
  if (configs.length === 0) throw new ParseError('no frames', 1, file);
  let observations = opts.observations;
  if (!observations) {
    if (obsKey) observations = obsKey.split('+') as ObservationKind[];
    else {
      observations = [];
      if (configs.every((c) => c.energy !== undefined)) observations.push('E');
      if (configs.every((c) => c.forces !== undefined)) observations.push('F');
      if (configs.some((c) => c.virial !== undefined)) observations.push('V');
      if (configs.some((c) => c.forceConstants !== undefined)) observations.push('FC');
    }
  }
  const meta: Record<string, unknown> = { source: file ?? 'extxyz', frames: configs.length };
  if (cutoff !== undefined) meta.cutoff = cutoff;
  if (rin !== undefined) meta.rin = rin;
  return { configs, observations, meta };
}

export function readExtxyz(path: string, opts: Omit<ReadOptions, 'file'> = {}): TrainingSet {
  return parseExtxyz(readFileSync(path, 'utf8'), { ...opts, file: path });
}
