import { readEamFile, type EamFile, type EamFormat } from '../io/eam-file.ts';
import { GeometryError, ParameterError } from '../util/errors.ts';
import { EAMPotential, type HalfList } from './eam.ts';
import type { KnotGrid } from './knots.ts';
import type { EmbeddingFunction, RadialFunction } from './radial.ts';

/**
 * Tabulated EAM from LAMMPS potential files (src/io/eam-file.ts), interpolated exactly as LAMMPS' pair_eam.cpp does, so
 * that our energies and forces agree with LAMMPS to round-off rather than to interpolation error:
 *
 *  - funcfl tables are first resampled to the grid LAMMPS uses (file2array: 4-point Lagrange interpolation, which
 *    reproduces the knots; note LAMMPS' grid has Nr - 1 and Nrho - 1 points, it drops the last knot), and the pair
 *    term is r*phi = 27.2 * 0.529 * Z(r)^2;
 *  - every table becomes a cubic per interval with 7 coefficients per knot (array2spline/interpolate): knot values,
 *    slopes from a 5-point finite difference (one-sided / 3-point at the ends), Hermite cubics between knots;
 *  - evaluation clamps like LAMMPS: beyond the last knot the last cubic is evaluated at p = 1, and an embedding density
 *    above rhomax adds the linear term F'(rhomax) (rho - rhomax) to the energy.
 *
 * The spline is C1: the second derivatives (used by hessianVector) jump at the knots by O(dr^2 f'''') (the slopes are
 * 4th-order accurate), so finite-difference checks of the Hessian need steps small against the knot spacing.
 *
 * The physics kernel is EAMPotential (src/potentials/eam.ts) with these tables as its radial and embedding functions;
 * single species only (LAMMPS `pair_coeff * * file El` with one atom type). Multi-element files are read, and one
 * element is selected; alloys need per-species structures, which mlip-verify does not have yet.
 */
export class LammpsSpline {
  /** coef[7 * m + k], m = 1 .. n (1-based, as LAMMPS); k = 0..2 derivative cubic, 3..6 value cubic. */
  readonly coef: Float64Array;
  readonly rdelta: number;
  constructor(
    /** Knot values at x = m * delta, m = 0 .. n - 1. */
    readonly values: Float64Array,
    readonly delta: number,
  ) {
    const n = values.length;
    if (n < 4) throw new ParameterError(`a LAMMPS spline needs at least 4 knots, got ${n}`);
    this.rdelta = 1.0 / delta;
    const s = new Float64Array(7 * (n + 1));
    const S = (m: number, k: number) => 7 * m + k;
    for (let m = 1; m <= n; m++) s[S(m, 6)] = values[m - 1];
    s[S(1, 5)] = s[S(2, 6)] - s[S(1, 6)];
    s[S(2, 5)] = 0.5 * (s[S(3, 6)] - s[S(1, 6)]);
    s[S(n - 1, 5)] = 0.5 * (s[S(n, 6)] - s[S(n - 2, 6)]);
    s[S(n, 5)] = s[S(n, 6)] - s[S(n - 1, 6)];
    for (let m = 3; m <= n - 2; m++) {
      s[S(m, 5)] = (s[S(m - 2, 6)] - s[S(m + 2, 6)] + 8.0 * (s[S(m + 1, 6)] - s[S(m - 1, 6)])) / 12.0;
    }
    for (let m = 1; m <= n - 1; m++) {
      s[S(m, 4)] = 3.0 * (s[S(m + 1, 6)] - s[S(m, 6)]) - 2.0 * s[S(m, 5)] - s[S(m + 1, 5)];
      s[S(m, 3)] = s[S(m, 5)] + s[S(m + 1, 5)] - 2.0 * (s[S(m + 1, 6)] - s[S(m, 6)]);
    }
    s[S(n, 4)] = 0.0;
    s[S(n, 3)] = 0.0;
    for (let m = 1; m <= n; m++) {
      s[S(m, 2)] = s[S(m, 5)] / delta;
      s[S(m, 1)] = (2.0 * s[S(m, 4)]) / delta;
      s[S(m, 0)] = (3.0 * s[S(m, 3)]) / delta;
    }
    this.coef = s;
  }

  get knots(): number {
    return this.values.length;
  }

  /**
   * f, f', f'' at x into out[0..2], LAMMPS' index arithmetic: p = x / delta + 1, m = int(p) clamped to [1, n - 1],
   * p -= m, p = min(p, 1). Past the last interval f, f' stay at their end values and f'' is 0 (derivative of what is
   * returned as f'). `lowerClamp` is the embedding's MAX(1, ...) (densities can be negative); radii are >= 0.
   */
  eval(x: number, out: Float64Array): void {
    const n = this.values.length;
    let p = x * this.rdelta + 1.0;
    let m = Math.trunc(p);
    m = Math.max(1, Math.min(m, n - 1));
    p -= m;
    const clamped = p > 1.0;
    if (clamped) p = 1.0;
    const c = this.coef;
    const b = 7 * m;
    out[0] = ((c[b + 3] * p + c[b + 4]) * p + c[b + 5]) * p + c[b + 6];
    out[1] = (c[b] * p + c[b + 1]) * p + c[b + 2];
    out[2] = clamped ? 0 : (2.0 * c[b] * p + c[b + 1]) * this.rdelta;
  }
}

const sixth = 1.0 / 6.0;

/**
 * Knot indices the inlined kernel masks with (0xffffff as a literal in its loops, a no-op below it; see
 * TabulatedEAM.densityPass); larger tables (no LAMMPS file has 2^24 knots) take the generic kernel.
 */
const MAX_KNOTS = 0xffffff;

/** LAMMPS' funcfl file2array resampling of a 0-based table `f` (spacing fd) at x = (m-1) * d, m = 1 .. n. */
function resample(f: Float64Array, fd: number, n: number, d: number): Float64Array {
  const nf = f.length;
  const F = (k: number) => f[k - 1]; // LAMMPS' 1-based file arrays
  const out = new Float64Array(n);
  for (let m = 1; m <= n; m++) {
    const r = (m - 1) * d;
    let p = r / fd + 1.0;
    let k = Math.trunc(p);
    k = Math.min(k, nf - 2);
    k = Math.max(k, 2);
    p -= k;
    p = Math.min(p, 2.0);
    const cof1 = -sixth * p * (p - 1.0) * (p - 2.0);
    const cof2 = 0.5 * (p * p - 1.0) * (p - 2.0);
    const cof3 = -0.5 * p * (p + 1.0) * (p - 2.0);
    const cof4 = sixth * p * (p * p - 1.0);
    out[m - 1] = cof1 * F(k - 1) + cof2 * F(k) + cof3 * F(k + 1) + cof4 * F(k + 2);
  }
  return out;
}

/** phi(r) = z2(r) / r from the r*phi spline, with LAMMPS' phi' = z2'/r - phi/r. */
export class TabulatedPair implements RadialFunction {
  private readonly t = new Float64Array(3);
  constructor(
    readonly z2r: LammpsSpline,
    readonly cutoff: number,
  ) {}
  /** Where phi is only C1 (src/potentials/knots.ts): the spline's knots, its clamp, the cutoff. */
  get knots(): KnotGrid {
    return { step: this.z2r.delta, count: this.z2r.knots, end: this.cutoff, spline: this.z2r, over: 'r' };
  }
  eval(r: number, out: Float64Array): void {
    if (r >= this.cutoff) {
      out[0] = out[1] = out[2] = 0;
      return;
    }
    const t = this.t;
    this.z2r.eval(r, t);
    const recip = 1.0 / r;
    const phi = t[0] * recip;
    const phip = t[1] * recip - phi * recip;
    out[0] = phi;
    out[1] = phip;
    out[2] = (t[2] - 2 * phip) * recip;
  }
  describe(): Record<string, unknown> {
    return { kind: 'lammps-spline r*phi(r)', knots: this.z2r.knots, dr: this.z2r.delta, cutoff: this.cutoff };
  }
}

/** Density rho(r), the spline itself. */
export class TabulatedDensity implements RadialFunction {
  constructor(
    readonly rhor: LammpsSpline,
    readonly cutoff: number,
  ) {}
  /** Where rho is only C1 (src/potentials/knots.ts). */
  get knots(): KnotGrid {
    return { step: this.rhor.delta, count: this.rhor.knots, end: this.cutoff, spline: this.rhor, over: 'r' };
  }
  eval(r: number, out: Float64Array): void {
    if (r >= this.cutoff) {
      out[0] = out[1] = out[2] = 0;
      return;
    }
    this.rhor.eval(r, out);
  }
  describe(): Record<string, unknown> {
    return { kind: 'lammps-spline rho(r)', knots: this.rhor.knots, dr: this.rhor.delta, cutoff: this.cutoff };
  }
}

/** Embedding F(rho), with LAMMPS' linear energy extension above rhomax. */
export class TabulatedEmbedding implements EmbeddingFunction {
  constructor(
    readonly frho: LammpsSpline,
    readonly rhomax: number,
  ) {}
  /** Where F is only C1 (src/potentials/knots.ts): its knots; rhomax (the linear extension) is the last one. */
  get knots(): KnotGrid {
    return { step: this.frho.delta, count: this.frho.knots, end: Infinity, spline: this.frho, over: 'rho' };
  }
  eval(rho: number, out: Float64Array, site: number): void {
    if (!Number.isFinite(rho)) throw new GeometryError(`site ${site}: EAM density ${rho} is not finite`, { site, rho });
    this.frho.eval(rho, out);
    if (rho > this.rhomax) out[0] += out[1] * (rho - this.rhomax);
  }
  describe(): Record<string, unknown> {
    return { kind: 'lammps-spline F(rho)', knots: this.frho.knots, drho: this.frho.delta, rhomax: this.rhomax };
  }
}

export interface EamTableOptions {
  /** Element to use from a setfl/fs file (required when the file holds more than one). */
  element?: string;
  /** Name of the potential (default: file name or format). */
  name?: string;
}

/** The tables of one element as LAMMPS arrays them (after funcfl resampling), ready to spline. */
export interface LammpsArrays {
  nrho: number;
  drho: number;
  nr: number;
  dr: number;
  rhomax: number;
  cutoff: number;
  frho: Float64Array;
  rhor: Float64Array;
  z2r: Float64Array;
  element: string;
}

/** file2array for a single species: which tables LAMMPS builds from the file for `pair_coeff * * file [El]`. */
export function lammpsArrays(f: EamFile, element?: string): LammpsArrays {
  if (f.format === 'funcfl') {
    const e = f.elements[0];
    if (element !== undefined && element !== e.name) {
      throw new ParameterError(`funcfl file holds one element (${e.name}); '${element}' was asked for`);
    }
    const rmax = (f.nr - 1) * f.dr;
    const rhomax = (f.nrho - 1) * f.drho;
    const nr = Math.trunc(rmax / f.dr + 0.5);
    const nrho = Math.trunc(rhomax / f.drho + 0.5);
    const zr = resample(e.zr!, f.dr, nr, f.dr);
    const z2r = new Float64Array(nr);
    for (let m = 0; m < nr; m++) z2r[m] = 27.2 * 0.529 * zr[m] * zr[m];
    return {
      nrho,
      drho: f.drho,
      nr,
      dr: f.dr,
      rhomax,
      cutoff: f.cutoff,
      frho: resample(e.frho, f.drho, nrho, f.drho),
      rhor: resample(e.rhor[0], f.dr, nr, f.dr),
      z2r,
      element: e.name,
    };
  }
  const names = f.elements.map((e) => e.name);
  if (element === undefined && f.elements.length > 1) {
    throw new ParameterError(
      `${f.format} file holds ${f.elements.length} elements (${names.join(', ')}): mlip-verify structures are single-species, so choose one (element option); alloys are not supported yet`,
      { elements: names },
    );
  }
  const i = element === undefined ? 0 : names.indexOf(element);
  if (i < 0) throw new ParameterError(`element '${element}' is not in the file; it holds ${names.join(', ')}`, { elements: names });
  const e = f.elements[i];
  return {
    nrho: f.nrho,
    drho: f.drho,
    nr: f.nr,
    dr: f.dr,
    rhomax: (f.nrho - 1) * f.drho,
    cutoff: f.cutoff,
    frho: e.frho,
    rhor: f.format === 'fs' ? e.rhor[i] : e.rhor[0],
    z2r: f.z2r[(i * (i + 1)) / 2 + i],
    element: e.name,
  };
}

/**
 * EAMPotential with both pair passes inlined for LAMMPS tables: r*phi and rho share LAMMPS' r grid (nr, dr), so one
 * index computation serves both cubics, and the spline arithmetic runs in the loop instead of through calls writing
 * to scratch arrays per pair, as pair_eam.cpp does. The operations are those of TabulatedPair.eval and
 * LammpsSpline.eval in the same order, so each pair's values are bit-for-bit those of the generic kernel. The
 * coefficients are repacked in the order the passes read them: pass 1 only rho's value cubic (4 per knot, one
 * 32-byte block), pass 2 r*phi's value and derivative cubics and rho's derivative cubic (10 per knot, adjacent), so
 * that each pair touches one or two cache lines and the tables pass 2 reads stay in a core's cache.
 */
export class TabulatedEAM extends EAMPotential {
  private readonly inline: boolean;
  /** rho value cubic per knot m: rv[4m .. 4m + 3] = coef[7m + 3 .. 7m + 6]. */
  private readonly rv: Float64Array;
  /** per knot m: z2r value cubic (4), z2r derivative cubic (3), rho derivative cubic (3). */
  private readonly pv: Float64Array;
  /** 1 / dr of the r grid. */
  private readonly rdelta: Float64Array;
  constructor(
    name: string,
    readonly tabPair: TabulatedPair,
    readonly tabDensity: TabulatedDensity,
    readonly tabEmbedding: TabulatedEmbedding,
  ) {
    super(name, tabPair, tabDensity, tabEmbedding);
    const a = tabPair.z2r;
    const b = tabDensity.rhor;
    this.inline =
      a.knots === b.knots &&
      a.delta === b.delta &&
      tabPair.cutoff === this.cutoff &&
      tabDensity.cutoff === this.cutoff &&
      a.knots <= MAX_KNOTS;
    const nk = a.knots + 1;
    this.rdelta = Float64Array.of(a.rdelta);
    this.rv = new Float64Array(this.inline ? 4 * nk : 0);
    this.pv = new Float64Array(this.inline ? 10 * nk : 0);
    if (this.inline) {
      const zc = a.coef;
      const rc = b.coef;
      for (let m = 0; m < nk; m++) {
        for (let k = 0; k < 4; k++) this.rv[4 * m + k] = rc[7 * m + 3 + k];
        for (let k = 0; k < 4; k++) this.pv[10 * m + k] = zc[7 * m + 3 + k];
        for (let k = 0; k < 3; k++) this.pv[10 * m + 4 + k] = zc[7 * m + k];
        for (let k = 0; k < 3; k++) this.pv[10 * m + 7 + k] = rc[7 * m + k];
      }
    }
  }

  protected override densityPass(S: Float64Array, h: HalfList): void {
    if (!this.inline) return super.densityPass(S, h);
    const { rows, offsets, index } = h;
    const n = rows.length;
    const rc2 = this.cutoff * this.cutoff;
    const rv = this.rv;
    const rdelta = this.rdelta[0]; // from a Float64Array: an unboxed double in the loop, not a number re-checked per pair
    const nm1 = this.tabPair.z2r.knots - 1;
    const accRow = this.accRows(n);
    this.accStart(h);
    let { acc, accR } = this;
    let k = 0;
    for (let row = 0; row < n; row++) {
      // Site records of 8 doubles (SITE_SLOTS, src/potentials/eam.ts; slot 3 the density, then F'; 4 the energy; 5-7
      // the force). Site indices masked with MAX_SITES and knot indices with MAX_KNOTS: no-ops (evaluate and the
      // constructor check the sizes) that bound the offsets, so the JIT drops the int32 overflow checks from every
      // table index.
      const i8 = 8 * (rows[row] & 0x0fffffff);
      const x0 = S[i8];
      const x1 = S[i8 + 1];
      const x2 = S[i8 + 2];
      accRow[row] = k;
      // Row sum in a local, added to site i at the end of the row (the generic kernel's order).
      let ri = 0;
      const start = offsets[row];
      const end = offsets[row + 1];
      if (k + end - start > acc.length) {
        this.growAcc(k + end - start, k);
        ({ acc, accR } = this);
      }
      for (let p = start; p < end; p++) {
        const j8 = 8 * (index[p] & 0x0fffffff);
        const dx = S[j8] - x0;
        const dy = S[j8 + 1] - x1;
        const dz = S[j8 + 2] - x2;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 >= rc2) continue;
        // LammpsSpline.eval, value only. q >= 1 (r >= 0), so LammpsSpline's trunc and MAX(1, .) are an integer
        // conversion: the same m for every finite r (NaN still gives NaN), without the float round trip.
        const r = Math.sqrt(r2);
        let q = r * rdelta + 1.0;
        let m = q | 0;
        if (m > nm1) m = nm1;
        m &= 0xffffff;
        q -= m;
        if (q > 1.0) q = 1.0;
        const b = m << 2;
        const psi = ((rv[b] * q + rv[b + 1]) * q + rv[b + 2]) * q + rv[b + 3];
        ri += psi;
        S[j8 + 3] += psi;
        accR[k] = r;
        acc[k++] = j8;
      }
      S[i8 + 3] += ri;
    }
    accRow[n] = k;
    this.accFor = h;
  }

  protected override forcePass(S: Float64Array, h: HalfList): void {
    if (!this.inline) return super.forcePass(S, h);
    const { rows } = h;
    const n = rows.length;
    const pv = this.pv;
    const rdelta = this.rdelta[0]; // from a Float64Array: an unboxed double in the loop, not a number re-checked per pair
    const nm1 = this.tabPair.z2r.knots - 1;
    if (this.accFor !== h) this.acceptPass(S, h);
    this.accFor = null;
    const { acc, accR, accRow } = this;
    for (let row = 0; row < n; row++) {
      const i8 = 8 * (rows[row] & 0x0fffffff);
      const x0 = S[i8];
      const x1 = S[i8 + 1];
      const x2 = S[i8 + 2];
      const Fpi = S[i8 + 3];
      // Row sums in locals, added to site i at the end of the row (the generic kernel's order).
      let ei = 0;
      let f0 = 0;
      let f1 = 0;
      let f2 = 0;
      // only the sites pass 1 found within the cutoff (record offsets; the mask as in pass 1)
      const end = accRow[row + 1];
      for (let a = accRow[row]; a < end; a++) {
        const j8 = acc[a] & 0x7ffffff8;
        const dx = S[j8] - x0;
        const dy = S[j8 + 1] - x1;
        const dz = S[j8 + 2] - x2;
        const r = accR[a];
        // LammpsSpline.eval, one index for both tables (integer conversion as in pass 1)
        let q = r * rdelta + 1.0;
        let m = q | 0;
        if (m > nm1) m = nm1;
        m &= 0xffffff;
        q -= m;
        if (q > 1.0) q = 1.0;
        const b = 10 * m;
        const z2 = ((pv[b] * q + pv[b + 1]) * q + pv[b + 2]) * q + pv[b + 3];
        const z2p = (pv[b + 4] * q + pv[b + 5]) * q + pv[b + 6];
        const psip = (pv[b + 7] * q + pv[b + 8]) * q + pv[b + 9];
        // TabulatedPair.eval
        const recip = 1.0 / r;
        const phi = z2 * recip;
        const phip = z2p * recip - phi * recip;
        const half = 0.5 * phi;
        const c = (phip + (Fpi + S[j8 + 3]) * psip) * recip;
        const cx = c * dx;
        const cy = c * dy;
        const cz = c * dz;
        ei += half;
        f0 += cx;
        f1 += cy;
        f2 += cz;
        S[j8 + 4] += half;
        S[j8 + 5] -= cx;
        S[j8 + 6] -= cy;
        S[j8 + 7] -= cz;
      }
      S[i8 + 4] += ei;
      S[i8 + 5] += f0;
      S[i8 + 6] += f1;
      S[i8 + 7] += f2;
    }
  }
}

/** The single-species EAM of an EamFile (one element), splined as LAMMPS does. */
export function tabulatedEam(f: EamFile, opts: EamTableOptions = {}): EAMPotential {
  const a = lammpsArrays(f, opts.element);
  const pair = new TabulatedPair(new LammpsSpline(a.z2r, a.dr), a.cutoff);
  const dens = new TabulatedDensity(new LammpsSpline(a.rhor, a.dr), a.cutoff);
  const emb = new TabulatedEmbedding(new LammpsSpline(a.frho, a.drho), a.rhomax);
  return new TabulatedEAM(opts.name ?? `eam-${f.format}:${a.element}`, pair, dens, emb);
}

/** Read a LAMMPS EAM file (format from the name: .eam funcfl, .eam.alloy setfl, .eam.fs) as a SitePotential. */
export function readEamPotential(path: string, opts: EamTableOptions & { format?: EamFormat } = {}): EAMPotential {
  const f = readEamFile(path, opts.format);
  const base = path.split('/').pop() ?? path;
  return tabulatedEam(f, { ...opts, name: opts.name ?? `${base}${opts.element ? `:${opts.element}` : ''}` });
}
