import { HP, type HPDecimal as Decimal } from '../util/decimal.ts';
import { keepsHalfEntry, siteCoordinates, type HalfNeighbourList, type NeighbourList } from '../lattice/neighbours.ts';
import { atomCount, type Structure } from '../lattice/structure.ts';
import { GeometryError, ParameterError } from '../util/errors.ts';
import { NeumaierSum } from '../util/sum.ts';
import type { EmbeddingFunction, RadialFunction } from './radial.ts';
import type { EvalResult, SitePotential } from './types.ts';

/**
 * Site records of evaluate(): SITE_SLOTS doubles per site (atom or periodic image, in the half list's site order):
 * coordinates (0..2), density and then F' (SITE_RHO = SITE_FP: the embedding replaces the density by its derivative),
 * energy (SITE_E), force (SITE_F .. SITE_F + 2). Eight doubles, 64 bytes: the pair passes read and update one block per
 * neighbour. acc (the sites pass 1 found within the cutoff) holds record offsets, SITE_SLOTS * site. The kernels'
 * loops write these numbers as literals (8, 3, 4, 5): V8 does not fold imported or module constants, and a literal
 * lets it type the index arithmetic as small integers (no float multiplication, no overflow checks).
 */
export const SITE_SLOTS = 8;
export const SITE_RHO = 3;
export const SITE_FP = 3;
export const SITE_E = 4;
export const SITE_F = 5;
/**
 * Most sites a list may have (2^28 - 1): record offsets, SITE_SLOTS * site + slot, then stay below 2^31, so kernels
 * may mask a site index with it (0x0fffffff, a no-op) and an offset with 0x7ffffff8, and the JIT drops the int32
 * overflow checks from the offset arithmetic.
 */
export const MAX_SITES = 0x0fffffff;

/** Fills the site records S: coordinates X_e = x_atom[e] + t_code[e] (z = 0 in 2D), zero sums. */
function siteRecords(h: HalfNeighbourList, x: Float64Array, dim: number, S: Float64Array): void {
  const { atom, code, translations: tr } = h;
  const ns = atom.length;
  for (let e = 0; e < ns; e++) {
    const a = dim * atom[e];
    const c = dim * code[e];
    const e8 = 8 * e;
    if (dim === 3) {
      S[e8] = x[a] + tr[c];
      S[e8 + 1] = x[a + 1] + tr[c + 1];
      S[e8 + 2] = x[a + 2] + tr[c + 2];
    } else {
      S[e8] = x[a] + tr[c];
      S[e8 + 1] = x[a + 1] + tr[c + 1];
      S[e8 + 2] = 0;
    }
    S[e8 + 3] = 0;
    S[e8 + 4] = 0;
    S[e8 + 5] = 0;
    S[e8 + 6] = 0;
    S[e8 + 7] = 0;
  }
}

/** Each unordered pair of a neighbour list once (see EAMPotential.halfList). */
export type HalfList = HalfNeighbourList;

/** Per-unordered-pair second-derivative data of one configuration (see EAMPotential.hessianVector). */
interface HessianData {
  nl: NeighbourList;
  dim: number;
  x: Float64Array;
  np: number;
  pI: Int32Array;
  pJ: Int32Array;
  /** Unit bond vectors (3 slots per pair). */
  e: Float64Array;
  /** Coefficient of e (e.dv) and of dv in h, and psi' (density terms). */
  ce: Float64Array;
  cv: Float64Array;
  b: Float64Array;
  Fpp: Float64Array;
  /** Build scratch: psi'/r and psi'' - psi'/r per pair. */
  c1: Float64Array;
  c2: Float64Array;
  /** Scratch: e.dv per pair; F''_i d rho_i per atom. */
  ed: Float64Array;
  drho: Float64Array;
}

/**
 * Embedded-atom model  V_l = 1/2 sum_j phi(r_lj) + F(sum_j psi(r_lj)).  A pair potential is the special case with no
 * density/embedding. One kernel serves the analytic models and the tabulated (LAMMPS file) ones.
 *
 * Kernels run over the half neighbour list (each unordered pair once) on flat Float64Arrays, with no per-pair scratch
 * (memory stays a few arrays per atom; the list is the only per-pair storage). Derivation of the derivatives, with r_ij = x_j - x_i and e = r_ij / r:
 *   dE/dr_ij (site i's share) = g_ij = (phi'(r)/2 + F'(rho_i) psi'(r)) e,  grad_j += g_ij, grad_i -= g_ij;
 *   virial = -sum_ij g_ij (x) r_ij;
 *   Hessian: d rho_i = sum_j psi'(r) e . dr_ij, and the ordered pair contributes
 *     h_ij = H_phi dr / 2 + F''(rho_i) d rho_i psi'(r) e + F'(rho_i) H_psi dr,  H_f = f'' e e^T + (f'/r)(I - e e^T).
 */
export class EAMPotential implements SitePotential {
  readonly cutoff: number;
  protected readonly t = new Float64Array(3);

  constructor(
    readonly name: string,
    readonly pair: RadialFunction,
    readonly density: RadialFunction | null = null,
    readonly embedding: EmbeddingFunction | null = null,
  ) {
    if ((density === null) !== (embedding === null)) {
      throw new ParameterError('EAM needs both a density and an embedding function, or neither (pair potential)');
    }
    this.cutoff = Math.max(pair.cutoff, density ? density.cutoff : 0);
  }

  describe(): Record<string, unknown> {
    return {
      kind: this.density ? 'eam' : 'pair',
      name: this.name,
      cutoff: this.cutoff,
      pair: this.pair.describe(),
      ...(this.density ? { density: this.density.describe(), embedding: this.embedding!.describe() } : {}),
    };
  }

  private checkList(s: Structure, nl: NeighbourList): void {
    if (nl.n !== atomCount(s)) {
      throw new GeometryError(`neighbour list is for ${nl.n} atoms but the structure has ${atomCount(s)}`);
    }
    if (nl.cutoff < this.cutoff) {
      throw new GeometryError(`neighbour list cutoff ${nl.cutoff} is below the potential cutoff ${this.cutoff}`);
    }
  }

  /**
   * Each unordered pair once: the list's own half list (buildNeighbourList makes one), or, for a list made by hand,
   * the entries j > i and, of an atom's own image pair {t, -t}, the one with t lexicographically positive, over sites:
   * the atoms themselves (translation 0) and one ghost site per kept entry with a nonzero shift (the translation table
   * is the zero vector and those shifts). Derived once per list.
   */
  protected halfList(nl: NeighbourList): HalfList {
    if (nl.half) return nl.half;
    const old = this.half;
    if (old && old.nl === nl) return old.h;
    const { offsets, index, shift } = nl;
    const n = nl.n;
    const d = nl.dim;
    const moved = (p: number): boolean => {
      for (let a = 0; a < d; a++) if (shift[p * d + a] !== 0) return true;
      return false;
    };
    const keep = (i: number, p: number): boolean => keepsHalfEntry(nl, i, p);
    let m = 0;
    let g = 0;
    for (let i = 0; i < n; i++)
      for (let p = offsets[i]; p < offsets[i + 1]; p++)
        if (keep(i, p)) {
          m++;
          if (moved(p)) g++;
        }
    const atom = new Int32Array(n + g);
    const code = new Int32Array(n + g);
    const home = new Int32Array(n + g);
    const tr = new Float64Array((1 + g) * d);
    for (let i = 0; i < n; i++) {
      atom[i] = i;
      home[i] = i;
    }
    const off = new Int32Array(n + 1);
    const idx = new Int32Array(m);
    let q = 0;
    let e = n;
    for (let i = 0; i < n; i++) {
      off[i] = q;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        if (!keep(i, p)) continue;
        const j = index[p];
        if (moved(p)) {
          atom[e] = j;
          home[e] = j;
          code[e] = e - n + 1;
          for (let a = 0; a < d; a++) tr[(e - n + 1) * d + a] = shift[p * d + a];
          idx[q++] = e++;
        } else idx[q++] = j;
      }
    }
    off[n] = q;
    const rows = new Int32Array(n);
    for (let i = 0; i < n; i++) rows[i] = i;
    const h: HalfList = { atom, code, home, rows, offsets: off, index: idx, translations: tr };
    this.half = { nl, h };
    return h;
  }
  private half: { nl: NeighbourList; h: HalfList } | null = null;

  /**
   * phi, phi', psi' of each accepted pair of the last densityPass (3 slots per pair, in list order), so that the
   * generic forcePass does not call the radial functions again: analytic ones (exp, powers) cost more than the 24
   * bytes per pair. The inlined tabulated kernel recomputes its splines instead and never fills it.
   */
  private radial = new Float64Array(0);
  private radialFor: HalfList | null = null;

  /**
   * The neighbour sites within the cutoff, found by pass 1 (row r's are acc[accRow[r] .. accRow[r+1]), as record
   * offsets 8 * site), and their distances (accR), so that pass 2 skips the skin without testing it again (with a relaxation's skin the list holds
   * ~2.5x the pairs within the cutoff) and takes r without a square root. Grown a row at a time, so memory follows
   * the pairs within the cutoff (12 bytes each) and the inner loops carry no capacity check.
   */
  protected acc: Int32Array = new Int32Array(0);
  protected accR: Float64Array = new Float64Array(0);
  protected accRow: Int32Array = new Int32Array(0);
  protected accFor: HalfList | null = null;

  protected accRows(n: number): Int32Array {
    if (this.accRow.length !== n + 1) this.accRow = new Int32Array(n + 1);
    return this.accRow;
  }

  /** Room in acc and accR for `need` entries, the first k kept. */
  protected growAcc(need: number, k: number): void {
    const cap = Math.max(need, Math.ceil(this.acc.length * 1.5), 4096);
    const a = new Int32Array(cap);
    a.set(this.acc.subarray(0, k));
    this.acc = a;
    const r = new Float64Array(cap);
    r.set(this.accR.subarray(0, k));
    this.accR = r;
  }

  /** Before pass 1: room for about half the list (the pairs within the cutoff of a list with a skin). */
  protected accStart(h: HalfList): void {
    if (this.acc.length < h.index.length >> 1) this.growAcc(h.index.length >> 1, 0);
  }

  /**
   * Per-site scratch of evaluate(), kept between calls (no garbage per evaluation): one record of SITE_SLOTS doubles
   * per site (see SITE_SLOTS), so that a pair's other site is one 64-byte block (coordinates, F', energy and force
   * together) rather than four arrays' worth of cache lines, and the passes index one array.
   */
  private S = new Float64Array(0);

  /** Pass 1 of a pair potential (no densities): only the sites within the cutoff (acc). */
  protected acceptPass(S: Float64Array, h: HalfList): void {
    const { rows, offsets, index } = h;
    const n = rows.length;
    const rc2 = this.cutoff * this.cutoff;
    const accRow = this.accRows(n);
    this.accStart(h);
    let { acc, accR } = this;
    let k = 0;
    for (let row = 0; row < n; row++) {
      const i8 = 8 * rows[row];
      const x0 = S[i8];
      const x1 = S[i8 + 1];
      const x2 = S[i8 + 2];
      accRow[row] = k;
      const start = offsets[row];
      const end = offsets[row + 1];
      if (k + end - start > acc.length) {
        this.growAcc(k + end - start, k);
        ({ acc, accR } = this);
      }
      for (let p = start; p < end; p++) {
        const j8 = 8 * index[p];
        const dx = S[j8] - x0;
        const dy = S[j8 + 1] - x1;
        const dz = S[j8 + 2] - x2;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 >= rc2) continue;
        accR[k] = Math.sqrt(r2);
        acc[k++] = j8;
      }
    }
    accRow[n] = k;
    this.accFor = h;
  }

  /**
   * Pass 1 of evaluate(): the densities per site, rho_a = sum_b psi(r_ab), each unordered pair once and credited to
   * both sites (into slot SITE_RHO of the site records S; ghost sites' sums go to their atoms afterwards, in
   * evaluate). The tabulated EAM overrides it with an inlined spline (src/potentials/eam-table.ts).
   */
  protected densityPass(S: Float64Array, h: HalfList): void {
    const dens = this.density!;
    const { rows, offsets, index } = h;
    const n = rows.length;
    const rc2 = this.cutoff * this.cutoff;
    const t = this.t;
    const pair = this.pair;
    const accRow = this.accRows(n);
    this.accStart(h);
    let { acc, accR } = this;
    let rad = this.radial;
    let k = 0;
    for (let row = 0; row < n; row++) {
      const i8 = 8 * rows[row];
      const x0 = S[i8];
      const x1 = S[i8 + 1];
      const x2 = S[i8 + 2];
      accRow[row] = k;
      let ri = 0;
      const start = offsets[row];
      const end = offsets[row + 1];
      if (k + end - start > acc.length) {
        this.growAcc(k + end - start, k);
        ({ acc, accR } = this);
      }
      for (let p = start; p < end; p++) {
        const j8 = 8 * index[p];
        const dx = S[j8] - x0;
        const dy = S[j8 + 1] - x1;
        const dz = S[j8 + 2] - x2;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 >= rc2) continue;
        const r = Math.sqrt(r2);
        // grown as needed (pairs within the cutoff only: the list's skin would make it ~2.5x larger)
        if (3 * k + 3 > rad.length) {
          const grown = new Float64Array(Math.max(3 * k + 3, Math.ceil(rad.length * 1.5), 3 * 1024));
          grown.set(rad);
          rad = grown;
        }
        pair.eval(r, t);
        rad[3 * k] = t[0];
        rad[3 * k + 1] = t[1];
        dens.eval(r, t);
        rad[3 * k + 2] = t[1];
        accR[k] = r;
        acc[k++] = j8;
        ri += t[0];
        S[j8 + 3] += t[0];
      }
      S[i8 + 3] += ri;
    }
    accRow[n] = k;
    this.radial = rad;
    this.radialFor = h;
    this.accFor = h;
  }

  /**
   * Pass 2 of evaluate(), after the embedding put F' into slot SITE_FP of each site record (zeros for a pair
   * potential): per unordered pair the pair energy (half to each site) and the force along the bond, into the site
   * records' energy and force slots (the virial follows from the forces, in evaluate). Walks only the sites pass 1
   * found within the cutoff (acc, with their distances accR); pair vectors (and, in the tabulated kernel, the splines)
   * are recomputed rather than stored, as in LAMMPS' pair_eam: memory stays 12 bytes per pair within the cutoff (24
   * more in this generic kernel, for phi, phi', psi' of analytic functions).
   */
  protected forcePass(S: Float64Array, h: HalfList): void {
    const { rows } = h;
    const n = rows.length;
    const t = this.t;
    const pair = this.pair;
    const dens = this.density;
    // Radial values from densityPass when it just ran on this list (EAM), else computed here (pair potentials).
    const rad = this.radialFor === h ? this.radial : null;
    this.radialFor = null;
    if (this.accFor !== h) this.acceptPass(S, h);
    this.accFor = null;
    const { acc, accR, accRow } = this;
    for (let row = 0; row < n; row++) {
      const i8 = 8 * rows[row];
      const x0 = S[i8];
      const x1 = S[i8 + 1];
      const x2 = S[i8 + 2];
      const Fpi = S[i8 + 3];
      // Row sums in locals, added at the end of the row; the other site's share goes to memory.
      let ei = 0;
      let f0 = 0;
      let f1 = 0;
      let f2 = 0;
      for (let a = accRow[row]; a < accRow[row + 1]; a++) {
        const j8 = acc[a];
        const dx = S[j8] - x0;
        const dy = S[j8 + 1] - x1;
        const dz = S[j8 + 2] - x2;
        const r = accR[a];
        let half: number;
        let phip: number;
        let psip = 0;
        if (rad) {
          half = 0.5 * rad[3 * a];
          phip = rad[3 * a + 1];
          psip = rad[3 * a + 2];
        } else {
          pair.eval(r, t);
          half = 0.5 * t[0];
          phip = t[1];
          if (dens) {
            dens.eval(r, t);
            psip = t[1];
          }
        }
        ei += half;
        S[j8 + 4] += half;
        // dE/dr_ij summed over both sites' shares: (phi'/2 + F'_i psi') + (phi'/2 + F'_j psi'), over r (as 1/r,
        // LAMMPS' recip, the tabulated kernel's operations)
        const c = (phip + (Fpi + S[j8 + 3]) * psip) * (1.0 / r);
        const cx = c * dx;
        const cy = c * dy;
        const cz = c * dz;
        f0 += cx;
        f1 += cy;
        f2 += cz;
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

  /**
   * Energy, forces, virial, in two passes over the half list (each unordered pair once, credited to both sites: half
   * the radial-function calls of a per-ordered-pair loop), on the list's sites (atoms and periodic images, in bin
   * order; src/lattice/neighbours.ts): site records gathered (coordinates, zeroed sums), densities, their ghost
   * shares folded into the atoms, the embedding per atom (F' copied to its ghosts), pair energies and forces, their
   * ghost shares folded, and the atoms' sums written out in atom order. Same sums as a per-ordered-pair loop up to
   * the order of addition.
   */
  evaluate(s: Structure, nl: NeighbourList): EvalResult {
    this.checkList(s, nl);
    const { dim } = s;
    const n = nl.n;
    const h = this.halfList(nl);
    const { atom, home, rows } = h;
    const ns = atom.length;
    if (ns > MAX_SITES) {
      throw new GeometryError(`neighbour list has ${ns} sites (atoms and periodic images); the EAM kernels index at most ${MAX_SITES}`);
    }
    if (this.S.length < 8 * ns) this.S = new Float64Array(8 * (Math.ceil(ns * 1.1) + 16));
    const S = this.S;
    siteRecords(h, s.positions, dim, S);
    if (this.density && this.embedding) {
      this.densityPass(S, h);
      for (let e = 0; e < ns; e++) {
        const g = home[e];
        if (g !== e) S[8 * g + 3] += S[8 * e + 3];
      }
      const t = this.t;
      for (let r = 0; r < n; r++) {
        const e8 = 8 * rows[r];
        this.embedding.eval(S[e8 + 3], t, atom[rows[r]]);
        S[e8 + 4] = t[0];
        S[e8 + 3] = t[1]; // the density's slot: it is not needed again
      }
      for (let e = 0; e < ns; e++) S[8 * e + 3] = S[8 * home[e] + 3];
    }
    this.forcePass(S, h);
    // Virial from the site forces before the ghosts fold (LAMMPS' fdotr): W = sum_e (X_e - c) (x) F_e equals the sum
    // over pairs of -r (x) f, since each pair puts +f on one site and -f on the other (sum_e F_e = 0, so any centre c
    // gives the same; the middle of the sites keeps the terms, and their round-off, small). O(sites) instead of six
    // products per pair.
    let c0 = Infinity;
    let c1 = Infinity;
    let c2 = Infinity;
    let C0 = -Infinity;
    let C1 = -Infinity;
    let C2 = -Infinity;
    for (let e = 0; e < ns; e++) {
      const x0 = S[8 * e];
      const x1 = S[8 * e + 1];
      const x2 = S[8 * e + 2];
      if (x0 < c0) c0 = x0;
      if (x0 > C0) C0 = x0;
      if (x1 < c1) c1 = x1;
      if (x1 > C1) C1 = x1;
      if (x2 < c2) c2 = x2;
      if (x2 > C2) C2 = x2;
    }
    c0 = 0.5 * (c0 + C0);
    c1 = 0.5 * (c1 + C1);
    c2 = 0.5 * (c2 + C2);
    let wxx = 0;
    let wxy = 0;
    let wxz = 0;
    let wyy = 0;
    let wyz = 0;
    let wzz = 0;
    for (let e = 0; e < ns; e++) {
      const e8 = 8 * e;
      const x0 = S[e8] - c0;
      const x1 = S[e8 + 1] - c1;
      const x2 = S[e8 + 2] - c2;
      const f0 = S[e8 + 5];
      const f1 = S[e8 + 6];
      const f2 = S[e8 + 7];
      wxx += x0 * f0;
      wxy += x0 * f1;
      wxz += x0 * f2;
      wyy += x1 * f1;
      wyz += x1 * f2;
      wzz += x2 * f2;
    }
    for (let e = 0; e < ns; e++) {
      const g = home[e];
      if (g === e) continue;
      const e8 = 8 * e;
      const g8 = 8 * g;
      S[g8 + 4] += S[e8 + 4];
      S[g8 + 5] += S[e8 + 5];
      S[g8 + 6] += S[e8 + 6];
      S[g8 + 7] += S[e8 + 7];
    }
    const siteE = new Float64Array(n);
    const forces = new Float64Array(n * dim);
    for (let r = 0; r < n; r++) {
      const e = rows[r];
      const e8 = 8 * e;
      const i = atom[e];
      siteE[i] = S[e8 + 4];
      for (let a = 0; a < dim; a++) forces[i * dim + a] = S[e8 + 5 + a];
    }
    const virial = dim === 3 ? Float64Array.of(wxx, wxy, wxz, wxy, wyy, wyz, wxz, wyz, wzz) : Float64Array.of(wxx, wxy, wxy, wyy);
    const acc = new NeumaierSum();
    for (let i = 0; i < n; i++) acc.add(siteE[i]);
    return { energy: acc.value, siteEnergies: siteE, forces, virial };
  }

  /**
   * H v. The per-pair second-derivative data depend on positions only, so they are computed once per configuration
   * and kept (HessianData) while the positions and the list stay the same: Newton-Krylov's CG, the FIRE time-step
   * estimate and estimateMu apply H to many vectors at one x, and each product is then two streaming passes over the
   * unordered pairs without a spline evaluation. Derivation (both ordered pairs of an unordered pair combined, with
   * e = r_ij / r, dv = v_j - v_i):  d rho_i = d rho_j += psi' e.dv;
   *   h = [(phi'' - phi'/r + (F'_i + F'_j)(psi'' - psi'/r)) e.dv + (F''_i d rho_i + F''_j d rho_j) psi'] e
   *       + (phi' + (F'_i + F'_j) psi') / r dv,   hv_j += h, hv_i -= h.
   * Self-image pairs (j = i) have dv = 0 and contribute nothing.
   */
  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    this.checkList(s, nl);
    const { dim } = s;
    const n = nl.n;
    if (v.length !== n * dim) throw new GeometryError(`direction has length ${v.length}, expected ${n * dim}`);
    const H = this.hessianData(s, nl);
    const hv = new Float64Array(n * dim);
    if (dim === 3 && this.density !== null) hessian3(H, n, v, hv);
    else hessianGeneric(H, n, dim, this.density !== null, v, hv);
    return hv;
  }

  private hess: HessianData | null = null;

  /** Per-pair Hessian data at this configuration (cached while positions and list are unchanged). */
  private hessianData(s: Structure, nl: NeighbourList): HessianData {
    const old = this.hess;
    if (old && old.nl === nl && old.x.length === s.positions.length && old.dim === s.dim) {
      const x = s.positions;
      const ox = old.x;
      let same = true;
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== ox[i]) {
          same = false;
          break;
        }
      }
      if (same) return old;
    }
    const { dim, positions: x } = s;
    const n = nl.n;
    const h = this.halfList(nl);
    const { atom, rows, offsets, index } = h;
    const X = siteCoordinates(h, x, dim);
    const rc = this.cutoff;
    const rc2 = rc * rc;
    const pair = this.pair;
    const dens = this.density;
    const t = this.t;
    // Count the pairs j > i within the cutoff first: the list holds the skin too (about twice as many entries), and
    // sizing the per-pair arrays by the list would allocate and zero far more than is used.
    let count = 0;
    for (let row = 0; row < n; row++) {
      const sa = rows[row];
      const i = atom[sa];
      for (let p = offsets[row]; p < offsets[row + 1]; p++) {
        const sb = index[p];
        if (atom[sb] === i) continue;
        const dx = X[3 * sb] - X[3 * sa];
        const dy = X[3 * sb + 1] - X[3 * sa + 1];
        const dz = X[3 * sb + 2] - X[3 * sa + 2];
        if (dx * dx + dy * dy + dz * dz < rc2) count++;
      }
    }
    // Reuse the previous configuration's arrays when they are large enough (Newton steps rebuild at every x).
    const fits = (a: { length: number } | undefined, m: number) => a !== undefined && a.length >= m && a.length <= 2 * m + 64;
    const ok = old !== null && fits(old.pI, count) && old.b.length === (dens ? old.pI.length : 0) && old.drho.length === n;
    const cap = ok ? old!.pI.length : Math.max(1, count);
    const pI = ok ? old!.pI : new Int32Array(cap);
    const pJ = ok ? old!.pJ : new Int32Array(cap);
    const e = ok ? old!.e : new Float64Array(3 * cap);
    const ce = ok ? old!.ce : new Float64Array(cap); // phi'' - phi'/r, then the whole e-e coefficient
    const cv = ok ? old!.cv : new Float64Array(cap); // phi'/r, then the whole transverse coefficient
    const b = ok ? old!.b : new Float64Array(dens ? cap : 0); // psi'
    const c2 = ok ? old!.c2 : new Float64Array(dens ? cap : 0); // psi'' - psi'/r
    const c1 = ok ? old!.c1 : new Float64Array(dens ? cap : 0); // psi'/r
    const ed = ok ? old!.ed : new Float64Array(cap);
    const drho = ok ? old!.drho : new Float64Array(n);
    const Fpp = ok && old!.Fpp.length === (dens ? n : 0) ? old!.Fpp : new Float64Array(dens ? n : 0);
    this.hess = null;
    const rho = new Float64Array(n);
    let np = 0;
    for (let row = 0; row < n; row++) {
      const sa = rows[row];
      const i = atom[sa];
      for (let p = offsets[row]; p < offsets[row + 1]; p++) {
        const sb = index[p];
        const j = atom[sb];
        const dx = X[3 * sb] - X[3 * sa];
        const dy = X[3 * sb + 1] - X[3 * sa + 1];
        const dz = X[3 * sb + 2] - X[3 * sa + 2];
        const rr = dx * dx + dy * dy + dz * dz;
        if (rr >= rc2) continue;
        const r = Math.sqrt(rr);
        const ir = 1 / r;
        if (j === i) {
          // Own image pair {t, -t} (narrow cell), one entry: enters the density only, twice.
          if (dens) {
            dens.eval(r, t);
            rho[i] += t[0];
            rho[i] += t[0];
          }
          continue;
        }
        pI[np] = i;
        pJ[np] = j;
        e[3 * np] = dx * ir;
        e[3 * np + 1] = dy * ir;
        e[3 * np + 2] = dz * ir;
        pair.eval(r, t);
        ce[np] = t[2] - t[1] * ir;
        cv[np] = t[1] * ir;
        if (dens) {
          dens.eval(r, t);
          rho[i] += t[0];
          rho[j] += t[0];
          b[np] = t[1];
          c2[np] = t[2] - t[1] * ir;
          c1[np] = t[1] * ir;
        }
        np++;
      }
    }
    if (dens && this.embedding) {
      const Fp = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        this.embedding.eval(rho[i], t, i);
        Fp[i] = t[1];
        Fpp[i] = t[2];
      }
      for (let k = 0; k < np; k++) {
        const f = Fp[pI[k]] + Fp[pJ[k]];
        ce[k] += f * c2[k];
        cv[k] += f * c1[k];
      }
    }
    const H: HessianData = {
      nl,
      dim,
      x: ok && old!.x.length === x.length ? (old!.x.set(x), old!.x) : x.slice(),
      np,
      pI,
      pJ,
      e,
      ce,
      cv,
      b,
      Fpp,
      c1,
      c2,
      ed,
      drho,
    };
    this.hess = H;
    return H;
  }

  /** Total energy in high precision (decimal.js, 40 digits): the reference the float64 kernel is checked against. */
  energyDecimal(s: Structure, nl: NeighbourList): Decimal {
    this.checkList(s, nl);
    const D = HP;
    const { dim, positions: x } = s;
    const { offsets, index, shift } = nl;
    const pd = this.pair.evalDecimal;
    if (!pd || (this.density && !this.density.evalDecimal) || (this.embedding && !this.embedding.evalDecimal)) {
      throw new ParameterError(`potential ${this.name} has no high-precision evaluation`);
    }
    let total = new D(0);
    for (let i = 0; i < nl.n; i++) {
      let e = new D(0);
      let rh = new D(0);
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        const j = index[p];
        let r2 = new D(0);
        for (let a = 0; a < dim; a++) {
          const da = new D(x[j * dim + a]).plus(shift[p * dim + a]).minus(x[i * dim + a]);
          r2 = r2.plus(da.mul(da));
        }
        const r = r2.sqrt();
        if (r.gte(this.cutoff)) continue;
        e = e.plus(this.pair.evalDecimal!(r).div(2));
        if (this.density) rh = rh.plus(this.density.evalDecimal!(r));
      }
      if (this.embedding) e = e.plus(this.embedding.evalDecimal!(rh));
      total = total.plus(e);
    }
    return total;
  }
}

/** H v for 3D EAM from the cached pair data (the common case, written out without dimension or pair-only branches). */
function hessian3(H: HessianData, n: number, v: Float64Array, hv: Float64Array): void {
  const { np, pI, pJ, e, ce, cv, b, Fpp, ed, drho } = H;
  drho.fill(0);
  for (let k = 0; k < np; k++) {
    const a = pI[k];
    const c = pJ[k];
    const i = 3 * a;
    const j = 3 * c;
    const k3 = 3 * k;
    const t = e[k3] * (v[j] - v[i]) + e[k3 + 1] * (v[j + 1] - v[i + 1]) + e[k3 + 2] * (v[j + 2] - v[i + 2]);
    ed[k] = t;
    const q = b[k] * t;
    drho[a] += q;
    drho[c] += q;
  }
  for (let i = 0; i < n; i++) drho[i] *= Fpp[i];
  for (let k = 0; k < np; k++) {
    const a = pI[k];
    const c = pJ[k];
    const i = 3 * a;
    const j = 3 * c;
    const k3 = 3 * k;
    const along = ce[k] * ed[k] + (drho[a] + drho[c]) * b[k];
    const w = cv[k];
    const h0 = along * e[k3] + w * (v[j] - v[i]);
    const h1 = along * e[k3 + 1] + w * (v[j + 1] - v[i + 1]);
    const h2 = along * e[k3 + 2] + w * (v[j + 2] - v[i + 2]);
    hv[j] += h0;
    hv[i] -= h0;
    hv[j + 1] += h1;
    hv[i + 1] -= h1;
    hv[j + 2] += h2;
    hv[i + 2] -= h2;
  }
}

/** H v from the cached pair data, any dimension, with or without the density terms. */
function hessianGeneric(H: HessianData, n: number, dim: number, dens: boolean, v: Float64Array, hv: Float64Array): void {
  const { np, pI, pJ, e, ce, cv, b, Fpp, ed, drho } = H;
  const three = dim === 3;
  if (dens) drho.fill(0);
  for (let k = 0; k < np; k++) {
    const i = pI[k] * dim;
    const j = pJ[k] * dim;
    let t = e[3 * k] * (v[j] - v[i]) + e[3 * k + 1] * (v[j + 1] - v[i + 1]);
    if (three) t += e[3 * k + 2] * (v[j + 2] - v[i + 2]);
    ed[k] = t;
    if (dens) {
      const q = b[k] * t;
      drho[pI[k]] += q;
      drho[pJ[k]] += q;
    }
  }
  if (dens) for (let i = 0; i < n; i++) drho[i] *= Fpp[i];
  for (let k = 0; k < np; k++) {
    const a = pI[k];
    const c = pJ[k];
    const i = a * dim;
    const j = c * dim;
    const along = ce[k] * ed[k] + (dens ? (drho[a] + drho[c]) * b[k] : 0);
    const w = cv[k];
    const h0 = along * e[3 * k] + w * (v[j] - v[i]);
    const h1 = along * e[3 * k + 1] + w * (v[j + 1] - v[i + 1]);
    hv[j] += h0;
    hv[i] -= h0;
    hv[j + 1] += h1;
    hv[i + 1] -= h1;
    if (three) {
      const h2 = along * e[3 * k + 2] + w * (v[j + 2] - v[i + 2]);
      hv[j + 2] += h2;
      hv[i + 2] -= h2;
    }
  }
}
