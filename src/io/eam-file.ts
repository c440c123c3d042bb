import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ParameterError, ParseError } from '../util/errors.ts';

/**
 * EAM potential files in the three LAMMPS formats, read into plain tables (the potential built from them is
 * src/potentials/eam-table.ts, which splines them exactly as LAMMPS' pair_eam.cpp does):
 *
 *  - `funcfl` (pair_style eam, DYNAMO single element): line 1 comment; line 2 `Z mass [a lattice]`;
 *    line 3 `Nrho drho Nr dr cutoff`; then F(rho) (Nrho values), Z(r) (Nr values), rho(r) (Nr values).
 *  - `setfl` (eam/alloy): 3 comment lines; line 4 `Nelements El1 El2 ...`; line 5 `Nrho drho Nr dr cutoff`; per element
 *    a line `Z mass a lattice`, F (Nrho), rho (Nr); then r*phi (Nr) for each pair i >= j.
 *  - `fs` (eam/fs, Finnis-Sinclair): as setfl, but each element has Nelements density tables rho_ij (Nr each).
 *
 * Values may be several to a line; a block of N values must end at the end of a line (LAMMPS silently drops what
 * follows on that line; we refuse, since a shifted block means a misread file). Blank lines and `#` comments in the
 * value blocks are skipped, as LAMMPS' reader does. Every malformation is a ParseError naming the line.
 */
export type EamFormat = 'funcfl' | 'setfl' | 'fs';

export interface EamElement {
  /** Element symbol (setfl/fs); for funcfl, which names no element, `Z<atomic number>`. */
  name: string;
  atomicNumber: number;
  mass: number;
  latticeConstant: number | null;
  latticeType: string | null;
  /** Embedding energy F at rho = m * drho, m = 0 .. nrho - 1. */
  frho: Float64Array;
  /**
   * Density tables at r = m * dr: funcfl and setfl one; fs one per element j, rhor[j] being the density an atom of
   * this element contributes at an atom of element j (LAMMPS' fs->rhor[i][j]).
   */
  rhor: Float64Array[];
  /** funcfl only: the effective charge Z(r); LAMMPS forms r*phi = 27.2 * 0.529 * Z_i(r) Z_j(r). */
  zr?: Float64Array;
}

export interface EamFile {
  format: EamFormat;
  /** The comment lines (1 for funcfl, 3 for setfl/fs): they carry the authors and citation. */
  header: string[];
  nrho: number;
  drho: number;
  nr: number;
  dr: number;
  cutoff: number;
  elements: EamElement[];
  /** setfl/fs: r*phi tables (Nr values) for pairs (i, j), j <= i, in the order (0,0), (1,0), (1,1), (2,0), ... */
  z2r: Float64Array[];
}

/** Largest table length or element count accepted: real files have <= 10^5 knots; this bounds allocations. */
const MAX_COUNT = 10_000_000;

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$/;

/** Line-aware reader: hands out tokens and whole lines with their 1-based line numbers. */
class Cursor {
  private readonly lines: string[];
  private li = 0;
  private toks: string[] = [];
  private ti = 0;
  constructor(
    text: string,
    readonly file?: string,
  ) {
    this.lines = text.split(/\r?\n/);
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
  }
  fail(msg: string, line = this.li): never {
    throw new ParseError(msg, Math.max(1, line), this.file);
  }
  /** The next raw line (header lines: read verbatim, even when blank). */
  rawLine(what: string): { text: string; line: number } {
    if (this.li >= this.lines.length) this.fail(`unexpected end of file: expected ${what}`, this.lines.length + 1);
    return { text: this.lines[this.li], line: ++this.li };
  }
  /** Tokens of the next line that has any (comments and blank lines skipped). */
  tokenLine(what: string): { toks: string[]; line: number } {
    for (;;) {
      const { text, line } = this.rawLine(what);
      const toks = stripComment(text).trim().split(/\s+/).filter((t) => t.length > 0);
      if (toks.length > 0) return { toks, line };
    }
  }
  /** n numbers, several to a line; the last must end its line. */
  values(n: number, what: string): Float64Array {
    const out = new Float64Array(n);
    let i = 0;
    while (i < n) {
      const { toks, line } = this.tokenLine(`${n - i} more values of ${what}`);
      if (i + toks.length > n) {
        this.fail(`${what}: expected ${n} values but this line brings the count to ${i + toks.length} (a shifted or corrupt block)`, line);
      }
      for (const t of toks) out[i++] = num(t, what, line, this);
    }
    return out;
  }
  /** Fail if anything but blank lines and comments follows. */
  end(): void {
    while (this.li < this.lines.length) {
      const text = this.lines[this.li++];
      if (stripComment(text).trim().length > 0) this.fail('unexpected data after the last table', this.li);
    }
  }
}

function stripComment(s: string): string {
  const h = s.indexOf('#');
  return h >= 0 ? s.slice(0, h) : s;
}

function num(t: string, what: string, line: number, c: Cursor): number {
  if (!FLOAT.test(t)) c.fail(`${what}: '${t}' is not a number`, line);
  const x = Number(t.replace(/[dD]/, 'e'));
  if (!Number.isFinite(x)) c.fail(`${what}: '${t}' is not a finite number`, line);
  return x;
}

function int(t: string | undefined, what: string, line: number, c: Cursor, min: number): number {
  if (t === undefined) c.fail(`missing ${what}`, line);
  if (!/^[+-]?\d+$/.test(t)) c.fail(`${what} must be an integer, got '${t}'`, line);
  const v = Number(t);
  if (v < min) c.fail(`${what} must be >= ${min}, got ${v}`, line);
  if (v > MAX_COUNT) c.fail(`${what} = ${v} is beyond any real table (at most ${MAX_COUNT})`, line);
  return v;
}

/** `Nrho drho Nr dr cutoff`, with the checks the spline needs (at least 5 knots, positive spacings). */
function gridLine(c: Cursor): Pick<EamFile, 'nrho' | 'drho' | 'nr' | 'dr' | 'cutoff'> {
  const { toks, line } = c.tokenLine('the grid line (Nrho drho Nr dr cutoff)');
  if (toks.length < 5) c.fail(`grid line needs 5 fields (Nrho drho Nr dr cutoff), got ${toks.length}`, line);
  if (toks.length > 5) c.fail(`grid line has ${toks.length} fields, expected 5 (Nrho drho Nr dr cutoff)`, line);
  const nrho = int(toks[0], 'Nrho', line, c, 5);
  const drho = num(toks[1], 'drho', line, c);
  const nr = int(toks[2], 'Nr', line, c, 5);
  const dr = num(toks[3], 'dr', line, c);
  const cutoff = num(toks[4], 'cutoff', line, c);
  if (!(drho > 0)) c.fail(`drho must be > 0, got ${drho}`, line);
  if (!(dr > 0)) c.fail(`dr must be > 0, got ${dr}`, line);
  if (!(cutoff > 0)) c.fail(`cutoff must be > 0, got ${cutoff}`, line);
  return { nrho, drho, nr, dr, cutoff };
}

/** `Z mass [a lattice]` of an element block. */
function elementLine(c: Cursor, name: string | null, requireLattice: boolean): Omit<EamElement, 'frho' | 'rhor'> {
  const { toks, line } = c.tokenLine(`the element line of ${name ?? 'the element'} (Z mass a lattice)`);
  const atomicNumber = int(toks[0], 'atomic number', line, c, 0);
  if (toks[1] === undefined) c.fail('missing mass', line);
  const mass = num(toks[1], 'mass', line, c);
  if (!(mass > 0)) c.fail(`mass must be > 0, got ${mass}`, line);
  if (requireLattice && toks.length < 4) c.fail(`element line needs 4 fields (Z mass a lattice), got ${toks.length}`, line);
  if (toks.length > 4) c.fail(`element line has ${toks.length} fields, expected at most 4 (Z mass a lattice)`, line);
  const latticeConstant = toks[2] !== undefined ? num(toks[2], 'lattice constant', line, c) : null;
  return { name: name ?? `Z${atomicNumber}`, atomicNumber, mass, latticeConstant, latticeType: toks[3] ?? null };
}

/** Parse the text of an EAM file in the given format. `file` only labels error messages. */
export function parseEamFile(text: string, format: EamFormat, file?: string): EamFile {
  const c = new Cursor(text, file);
  if (format === 'funcfl') {
    const header = [c.rawLine('the comment line').text];
    const el = elementLine(c, null, false);
    const g = gridLine(c);
    const frho = c.values(g.nrho, 'F(rho)');
    const zr = c.values(g.nr, 'Z(r)');
    const rhor = c.values(g.nr, 'rho(r)');
    c.end();
    return { format, header, ...g, elements: [{ ...el, frho, rhor: [rhor], zr }], z2r: [] };
  }
  const header = [0, 1, 2].map((k) => c.rawLine(`comment line ${k + 1}`).text);
  const { toks, line } = c.tokenLine('the element line (Nelements El1 El2 ...)');
  const ne = int(toks[0], 'Nelements', line, c, 1);
  if (toks.length !== ne + 1) c.fail(`Nelements = ${ne} but ${toks.length - 1} element names follow`, line);
  const names = toks.slice(1);
  if (new Set(names).size !== names.length) c.fail(`duplicate element names: ${names.join(' ')}`, line);
  const g = gridLine(c);
  const elements: EamElement[] = [];
  for (const name of names) {
    const el = elementLine(c, name, false);
    const frho = c.values(g.nrho, `F(rho) of ${name}`);
    const rhor: Float64Array[] = [];
    if (format === 'fs') for (const other of names) rhor.push(c.values(g.nr, `rho(r) of ${name} at ${other}`));
    else rhor.push(c.values(g.nr, `rho(r) of ${name}`));
    elements.push({ ...el, frho, rhor });
  }
  const z2r: Float64Array[] = [];
  for (let i = 0; i < ne; i++) for (let j = 0; j <= i; j++) z2r.push(c.values(g.nr, `r*phi(r) of ${names[i]}-${names[j]}`));
  c.end();
  return { format, header, ...g, elements, z2r };
}

/** Format from the file name as LAMMPS users name them: *.eam.alloy / *.alloy, *.eam.fs / *.fs, else *.eam funcfl. */
export function eamFormatOf(path: string): EamFormat {
  const b = basename(path).toLowerCase();
  if (b.endsWith('.alloy') || b.endsWith('.setfl')) return 'setfl';
  if (b.endsWith('.fs')) return 'fs';
  if (b.endsWith('.eam') || b.endsWith('.funcfl')) return 'funcfl';
  throw new ParameterError(`cannot tell the EAM format of '${path}' from its name (.eam, .eam.alloy or .eam.fs); pass the format`, { path });
}

/** Read an EAM file from disk (format from the name unless given). */
export function readEamFile(path: string, format?: EamFormat): EamFile {
  return parseEamFile(readFileSync(path, 'utf8'), format ?? eamFormatOf(path), path);
}

/** 17 significant digits: every float64 survives a write/read round trip exactly. */
function fmt(x: number): string {
  return (Object.is(x, -0) ? '-' : '') + x.toExponential(16);
}

function block(v: Float64Array, perLine = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < v.length; i += perLine) out.push(Array.from(v.subarray(i, i + perLine), fmt).join(' '));
  return out;
}

/**
 * Write an EamFile in its format (the inverse of parseEamFile): used to generate test files from analytic functions,
 * and to hand LAMMPS exactly the tables we read.
 */
export function formatEamFile(f: EamFile): string {
  const lines: string[] = [];
  const el = (e: EamElement) => [String(e.atomicNumber), fmt(e.mass), ...(e.latticeConstant !== null ? [fmt(e.latticeConstant)] : []), ...(e.latticeType !== null ? [e.latticeType] : [])].join(' ');
  const grid = `${f.nrho} ${fmt(f.drho)} ${f.nr} ${fmt(f.dr)} ${fmt(f.cutoff)}`;
  if (f.format === 'funcfl') {
    const e = f.elements[0];
    if (f.elements.length !== 1 || !e.zr) throw new ParameterError('a funcfl file holds exactly one element with a Z(r) table');
    lines.push((f.header[0] ?? '').replace(/\n/g, ' '), el(e), grid, ...block(e.frho), ...block(e.zr), ...block(e.rhor[0]));
  } else {
    for (let k = 0; k < 3; k++) lines.push((f.header[k] ?? '').replace(/\n/g, ' '));
    lines.push(`${f.elements.length} ${f.elements.map((e) => e.name).join(' ')}`, grid);
    for (const e of f.elements) {
      lines.push(el(e), ...block(e.frho));
      for (const r of e.rhor) lines.push(...block(r));
    }
    for (const z of f.z2r) lines.push(...block(z));
  }
  return lines.join('\n') + '\n';
}
