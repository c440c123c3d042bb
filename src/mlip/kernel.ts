import { keepsHalfEntry, type NeighbourList } from '../lattice/neighbours.ts';
import { atomCount, type Structure } from '../lattice/structure.ts';
import { GeometryError } from '../util/errors.ts';
import { ChebyshevRadial, type Basis, type BasisFunctionDef } from './basis.ts';

/**
 * A list of K polynomials in the atom-base functions A_alpha, flattened for the kernel. Used both for the K basis
 * functions (design-matrix rows) and for the fitted model (K = 1: sum_k c_k B_k merged into one polynomial), so the
 * model's forces and the design matrix come from the same code.
 */
export interface CompiledFunctions {
  readonly K: number;
  /** Terms of function k: tStart[k] .. tStart[k+1]. */
  readonly tStart: Int32Array;
  readonly tCoef: Float64Array;
  /** Factors of term t: fStart[t] .. fStart[t+1]; each is an index into the support arrays. */
  readonly fStart: Int32Array;
  readonly fSup: Int32Array;
  /** Support of function k (distinct alphas): supStart[k] .. supStart[k+1]. */
  readonly supStart: Int32Array;
  readonly supAlpha: Int32Array;
  readonly maxFactors: number;
}

export function compileFunctions(defs: ReadonlyArray<Pick<BasisFunctionDef, 'terms'>>): CompiledFunctions {
  const K = defs.length;
  const tStart = new Int32Array(K + 1);
  const supStart = new Int32Array(K + 1);
  const tCoef: number[] = [];
  const fStart: number[] = [0];
  const fSup: number[] = [];
  const supAlpha: number[] = [];
  let maxFactors = 0;
  defs.forEach((d, k) => {
    const local = new Map<number, number>();
    for (const t of d.terms) {
      tCoef.push(t.coef);
      maxFactors = Math.max(maxFactors, t.factors.length);
      for (const a of t.factors) {
        let s = local.get(a);
        if (s === undefined) {
          s = supAlpha.length;
          supAlpha.push(a);
          local.set(a, s);
        }
        fSup.push(s);
      }
      fStart.push(fSup.length);
    }
    tStart[k + 1] = tCoef.length;
    supStart[k + 1] = supAlpha.length;
  });
  return {
    K,
    tStart,
    tCoef: Float64Array.from(tCoef),
    fStart: Int32Array.from(fStart),
    fSup: Int32Array.from(fSup),
    supStart,
    supAlpha: Int32Array.from(supAlpha),
    maxFactors,
  };
}

/** Outputs of MLIPKernel.evaluate; each is optional and laid out function-major ([k][...]). */
export interface KernelOutputs {
  /** K totals. */
  energy?: Float64Array;
  /** K * N site energies. */
  siteEnergies?: Float64Array;
  /** K * N * dim forces (-grad). */
  forces?: Float64Array;
  /** K * dim * dim virials W = -sum_ij dE/dr_ij (x) r_ij. */
  virial?: Float64Array;
}

/**
 * Each unordered pair once, atoms indexed directly and images by translation (`image[p]` indexes `translations`).
 * The EAM's own half list (HalfNeighbourList) now stores periodic images as ghost sites in bin order, a layout made for
 * its two-pass kernel; the MLIP keeps this simpler one, derived from the full list once per list object.
 */
export interface MlipHalfList {
  rows: Int32Array;
  offsets: Int32Array;
  index: Int32Array;
  image: Int32Array;
  translations: Float64Array;
}

/** Half lists derived from neighbour lists, once per list object (a NeighbourCache reuses it until it rebuilds). */
const derivedHalf = new WeakMap<NeighbourList, MlipHalfList>();

/**
 * Each unordered pair of a neighbour list once: the entries j > i and, of an atom's own image pair {t, -t}, the one
 * with t lexicographically positive (the rule of EAMPotential.halfList).
 */
export function halfListOf(nl: NeighbourList): MlipHalfList {
  const old = derivedHalf.get(nl);
  if (old) return old;
  const { offsets, index, shift } = nl;
  const n = nl.n;
  const d = nl.dim;
  const keep = (i: number, p: number): boolean => keepsHalfEntry(nl, i, p);
  let m = 0;
  for (let i = 0; i < n; i++) for (let p = offsets[i]; p < offsets[i + 1]; p++) if (keep(i, p)) m++;
  const off = new Int32Array(n + 1);
  const idx = new Int32Array(m);
  const img = new Int32Array(m);
  const tr = new Float64Array(m * d);
  let q = 0;
  for (let i = 0; i < n; i++) {
    off[i] = q;
    for (let p = offsets[i]; p < offsets[i + 1]; p++) {
      if (!keep(i, p)) continue;
      idx[q] = index[p];
      img[q] = q;
      for (let a = 0; a < d; a++) tr[q * d + a] = shift[p * d + a];
      q++;
    }
  }
  off[n] = q;
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  const h: MlipHalfList = { rows, offsets: off, index: idx, image: img, translations: tr };
  derivedHalf.set(nl, h);
  return h;
}

/** See MLIPKernel.hvpData. */
interface HvpData {
  nl: NeighbourList;
  fns: CompiledFunctions;
  x: Float64Array;
  cell: Float64Array | null;
  np: number;
  stride: number;
  pI: Int32Array;
  pJ: Int32Array;
  pD: Float64Array;
  pair: Float64Array;
  A: Float64Array;
}

function sameArray(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The evaluation kernel. Atom-base functions phi_alpha(r_ij) = R_n(r) Y_h(e), e = r_ij / r, Y_h(e) = H_h(e) the
 * harmonic polynomial at the unit vector (= H_h(r_ij) / r^l: the same functions as before, in a form whose values stay
 * bounded), summed per site: A_{i,alpha} = sum_j phi_alpha(r_ij).
 *
 * Each unordered pair is visited once (half list): phi_alpha(-r) = (-1)^l phi_alpha(r), so the pair adds phi to A_i and
 * (-1)^l phi to A_j, and the derivative of the total energy through the pair is
 *   G_ij = dE/dr_ij = sum_alpha c_alpha grad phi_alpha(r_ij),   c_alpha = dF_i/dA_alpha + (-1)^l dF_j/dA_alpha,
 *   grad phi_alpha = (R_n' - l R_n / r) Y_h e + (R_n / r) grad H_h(e)          (Euler: e . grad H_h(e) = l Y_h),
 * with F_i += G, F_j -= G, W -= G (x) r_ij. Three passes: pair values into per-site A (pass 1), the polynomial and its
 * partials per site (pass 2), pair gradients contracted with c (pass 3). The Hessian-vector product is the same with
 * the directional derivatives dA (pass 1), S = d2F/dA2 dA (pass 2) and
 *   d G_ij / dt = sum_alpha (S_i + (-1)^l S_j)_alpha grad phi_alpha + c_alpha Hess(phi_alpha) w_ij,  w_ij = v_j - v_i.
 * For a single polynomial (a fitted model, K = 1) the sums over alpha are folded per harmonic before the gradient
 * polynomials are touched (sum_h s_h grad H_h): no per-alpha gradient is formed. For K functions (design-matrix
 * columns) the per-alpha gradients are formed once per pair and contracted per function over its support.
 * Every array is a Float64Array/Int32Array grown on demand and reused across calls (no per-pair or per-site objects).
 */
export class MLIPKernel {
  readonly dim: 2 | 3;
  readonly cutoff: number;
  readonly nA: number;
  private readonly nR: number;
  private readonly nAng: number;
  private readonly nh: number;
  private readonly radial: ChebyshevRadial;
  /** R_n, R_n', R_n'' by order (nR each). */
  private readonly Rb: Float64Array;
  private readonly env = new Float64Array(3);
  /**
   * Harmonic tables. Every monomial e_x^a e_y^b e_z^c with a + b + c <= maxDegree has a slot in `mono` (slot 0 = 1, built
   * per pair by one multiplication from its parent slot), plus a last slot holding 0. Terms of harmonic h are
   * hStart[h] .. hStart[h+1]; term t is tC[t] times monomial tM[t], and its first and second partials are coefficient
   * multiples (c a, c a (a-1), c a b, ...) of the lowered monomials (the 0 slot where an exponent runs out): values,
   * gradients and Hessian-vector products are then one multiply-add per term and component, with no powers.
   */
  private readonly hStart: Int32Array;
  private readonly hl: Float64Array;
  private readonly monoParent: Int32Array;
  private readonly monoVar: Int32Array;
  private readonly mono: Float64Array;
  private readonly tM: Int32Array;
  private readonly tMx: Int32Array;
  private readonly tMy: Int32Array;
  private readonly tMz: Int32Array;
  private readonly tMxx: Int32Array;
  private readonly tMyy: Int32Array;
  private readonly tMzz: Int32Array;
  private readonly tMxy: Int32Array;
  private readonly tMxz: Int32Array;
  private readonly tMyz: Int32Array;
  private readonly tC: Float64Array;
  private readonly tCa: Float64Array;
  private readonly tCb: Float64Array;
  private readonly tCz: Float64Array;
  private readonly tCaa: Float64Array;
  private readonly tCbb: Float64Array;
  private readonly tCzz: Float64Array;
  private readonly tCab: Float64Array;
  private readonly tCaz: Float64Array;
  private readonly tCbz: Float64Array;
  /** The unit vector of the current pair (read by the monomial build). */
  private readonly eu = new Float64Array(3);
  private readonly Yv: Float64Array;
  private readonly gY: Float64Array;
  private readonly hY: Float64Array;
  private readonly gYw: Float64Array;
  /** Full Hessians of the harmonics at e (6 per harmonic: xx, yy, zz, xy, xz, yz). */
  private readonly hY6: Float64Array;
  /**
   * Largest per-configuration HVP data (see hvpData), in doubles (2^25: 256 MB, about 8 KB per pair at level 2: the
   * 10,472-atom reference ball of the Cu_u3 training-size study needs 172 MB); larger configurations recompute
   * everything per product. Writable so a test can force either path.
   */
  static HVP_CACHE_LIMIT = 1 << 25;
  private readonly sgnH: Float64Array;
  private readonly sgnA: Float64Array;
  /** Per-harmonic folded coefficients (K = 1 path). */
  private readonly sh: Float64Array;
  private readonly bh: Float64Array;
  /** Per-alpha gradients and Hessian-vector products of one pair (K-function path). */
  private readonly gA: Float64Array;
  private readonly hA: Float64Array;
  private readonly A: Float64Array;
  private readonly dA: Float64Array;
  /** Row-local sums of pass 1 (site i of the current half-list row). */
  private readonly accA: Float64Array;
  private readonly accDA: Float64Array;
  private dLoc = new Float64Array(0);
  private sLoc = new Float64Array(0);
  private fval = new Float64Array(0);
  // per-site and per-pair storage, grown on demand
  private siteA = new Float64Array(0);
  private siteD = new Float64Array(0);
  private siteS = new Float64Array(0);
  private pI = new Int32Array(0);
  private pJ = new Int32Array(0);
  private pD = new Float64Array(0);

  constructor(readonly basis: Basis) {
    const spec = basis.spec;
    this.dim = spec.dim;
    this.cutoff = spec.cutoff;
    this.nA = basis.atomBase.n.length;
    this.nR = basis.nRadial;
    this.nAng = spec.angularFunctions;
    const hs = basis.harmonics;
    this.nh = hs.degree.length;
    const { n: an, h: ah } = basis.atomBase;
    // The passes address alpha by (n, h): the radial ones first, then n-major blocks of harmonics (buildBasis' order).
    let ok = this.nA === this.nR + this.nAng * this.nh;
    for (let a = 0; ok && a < this.nA; a++) {
      ok = a < this.nR ? an[a] === a && ah[a] === -1 : an[a] === Math.floor((a - this.nR) / this.nh) && ah[a] === (a - this.nR) % this.nh;
    }
    if (!ok) throw new Error('MLIPKernel: atom-base functions are not in buildBasis order'); // a bug, not a user error
    this.radial = new ChebyshevRadial(spec, this.nR);
    this.Rb = new Float64Array(3 * Math.max(1, this.nR));
    const nt = hs.coef.length;
    const d = hs.dim;
    this.hStart = hs.termStart;
    this.hl = Float64Array.from(hs.degree);
    // Monomials of degree <= L, in degree order; parent = the monomial with the last positive exponent lowered by one.
    const L = hs.maxDegree;
    const key = (a: number, b: number, c: number) => `${a},${b},${c}`;
    const slot = new Map<string, number>();
    const parent: number[] = [];
    const variable: number[] = [];
    const exps: number[][] = [];
    for (let deg = 0; deg <= L; deg++) {
      for (let a = deg; a >= 0; a--) {
        for (let b = deg - a; b >= 0; b--) {
          const c = deg - a - b;
          slot.set(key(a, b, c), exps.length);
          exps.push([a, b, c]);
          if (deg === 0) {
            parent.push(0);
            variable.push(0);
          } else if (c > 0) {
            parent.push(slot.get(key(a, b, c - 1))!);
            variable.push(2);
          } else if (b > 0) {
            parent.push(slot.get(key(a, b - 1, c))!);
            variable.push(1);
          } else {
            parent.push(slot.get(key(a - 1, b, c))!);
            variable.push(0);
          }
        }
      }
    }
    const zero = exps.length;
    this.monoParent = Int32Array.from(parent);
    this.monoVar = Int32Array.from(variable);
    this.mono = new Float64Array(zero + 1);
    this.mono[0] = 1;
    const at = (a: number, b: number, c: number) => (a < 0 || b < 0 || c < 0 ? zero : slot.get(key(a, b, c))!);
    this.tM = new Int32Array(nt);
    this.tMx = new Int32Array(nt);
    this.tMy = new Int32Array(nt);
    this.tMz = new Int32Array(nt);
    this.tMxx = new Int32Array(nt);
    this.tMyy = new Int32Array(nt);
    this.tMzz = new Int32Array(nt);
    this.tMxy = new Int32Array(nt);
    this.tMxz = new Int32Array(nt);
    this.tMyz = new Int32Array(nt);
    this.tC = new Float64Array(nt);
    this.tCa = new Float64Array(nt);
    this.tCb = new Float64Array(nt);
    this.tCz = new Float64Array(nt);
    this.tCaa = new Float64Array(nt);
    this.tCbb = new Float64Array(nt);
    this.tCzz = new Float64Array(nt);
    this.tCab = new Float64Array(nt);
    this.tCaz = new Float64Array(nt);
    this.tCbz = new Float64Array(nt);
    for (let t = 0; t < nt; t++) {
      const c = hs.coef[t];
      const a = hs.exps[t * d];
      const b = hs.exps[t * d + 1];
      const z = d === 3 ? hs.exps[t * d + 2] : 0;
      this.tM[t] = at(a, b, z);
      this.tMx[t] = at(a - 1, b, z);
      this.tMy[t] = at(a, b - 1, z);
      this.tMz[t] = at(a, b, z - 1);
      this.tMxx[t] = at(a - 2, b, z);
      this.tMyy[t] = at(a, b - 2, z);
      this.tMzz[t] = at(a, b, z - 2);
      this.tMxy[t] = at(a - 1, b - 1, z);
      this.tMxz[t] = at(a - 1, b, z - 1);
      this.tMyz[t] = at(a, b - 1, z - 1);
      this.tC[t] = c;
      this.tCa[t] = c * a;
      this.tCb[t] = c * b;
      this.tCz[t] = c * z;
      this.tCaa[t] = c * a * (a - 1);
      this.tCbb[t] = c * b * (b - 1);
      this.tCzz[t] = c * z * (z - 1);
      this.tCab[t] = c * a * b;
      this.tCaz[t] = c * a * z;
      this.tCbz[t] = c * b * z;
    }
    const nh = this.nh;
    this.Yv = new Float64Array(nh);
    this.gY = new Float64Array(3 * nh);
    this.hY = new Float64Array(3 * nh);
    this.gYw = new Float64Array(nh);
    this.hY6 = new Float64Array(6 * nh);
    this.sh = new Float64Array(nh);
    this.bh = new Float64Array(nh);
    this.sgnH = Float64Array.from(hs.degree, (l) => (l % 2 === 0 ? 1 : -1));
    this.sgnA = Float64Array.from(basis.atomBase.l, (l) => (l % 2 === 0 ? 1 : -1));
    this.gA = new Float64Array(3 * this.nA);
    this.hA = new Float64Array(3 * this.nA);
    this.A = new Float64Array(this.nA);
    this.dA = new Float64Array(this.nA);
    this.accA = new Float64Array(this.nA);
    this.accDA = new Float64Array(this.nA);
  }

  checkList(s: Structure, nl: NeighbourList): void {
    if (s.dim !== this.dim) throw new GeometryError(`MLIP basis is ${this.dim}D but the structure is ${s.dim}D`);
    if (nl.n !== atomCount(s)) {
      throw new GeometryError(`neighbour list is for ${nl.n} atoms but the structure has ${atomCount(s)}`);
    }
    if (nl.cutoff < this.cutoff) {
      throw new GeometryError(`neighbour list cutoff ${nl.cutoff} is below the MLIP cutoff ${this.cutoff}`);
    }
  }

  private growScratch(fns: CompiledFunctions): void {
    const ns = fns.supAlpha.length;
    if (this.dLoc.length < ns) {
      this.dLoc = new Float64Array(ns);
      this.sLoc = new Float64Array(ns);
    }
    if (this.fval.length < fns.K) this.fval = new Float64Array(fns.K);
  }

  /** Zeroed per-site arrays of `len` entries (reused when large enough). */
  private site(which: 'siteA' | 'siteD' | 'siteS', len: number): Float64Array {
    let a = this[which];
    if (a.length < len) {
      a = new Float64Array(len);
      this[which] = a;
    } else {
      a.fill(0, 0, len);
    }
    return a;
  }

  /**
   * The unordered pairs closer than the cutoff, into pI, pJ and pD (dx, dy, dz, r per pair; dz = 0 in 2D), so passes 1
   * and 3 read them without the list's skin or its translation table. Returns their count.
   */
  private collect(s: Structure, nl: NeighbourList): number {
    const h = halfListOf(nl);
    const { rows, offsets, index, image, translations: tr } = h;
    const x = s.positions;
    const dim = this.dim;
    const three = dim === 3;
    const rc2 = this.cutoff * this.cutoff;
    const n = nl.n;
    let cap = this.pI.length;
    if (cap === 0) {
      // At uniform density the pairs within the cutoff are the list's share (cutoff / list cutoff)^dim.
      cap = Math.ceil(index.length * Math.min(1, (this.cutoff / nl.cutoff) ** dim) * 1.15) + 64;
      this.pI = new Int32Array(cap);
      this.pJ = new Int32Array(cap);
      this.pD = new Float64Array(4 * cap);
    }
    let pI = this.pI;
    let pJ = this.pJ;
    let pD = this.pD;
    let np = 0;
    for (let row = 0; row < n; row++) {
      const i = rows[row];
      const xi = i * dim;
      for (let p = offsets[row]; p < offsets[row + 1]; p++) {
        const j = index[p];
        const xj = j * dim;
        const ps = image[p] * dim;
        const dx = x[xj] + tr[ps] - x[xi];
        const dy = x[xj + 1] + tr[ps + 1] - x[xi + 1];
        const dz = three ? x[xj + 2] + tr[ps + 2] - x[xi + 2] : 0;
        const rr = dx * dx + dy * dy + dz * dz;
        if (rr >= rc2) continue;
        if (np === cap) {
          cap = 2 * cap;
          const nI = new Int32Array(cap);
          nI.set(pI);
          const nJ = new Int32Array(cap);
          nJ.set(pJ);
          const nD = new Float64Array(4 * cap);
          nD.set(pD);
          this.pI = pI = nI;
          this.pJ = pJ = nJ;
          this.pD = pD = nD;
        }
        pI[np] = i;
        pJ[np] = j;
        pD[4 * np] = dx;
        pD[4 * np + 1] = dy;
        pD[4 * np + 2] = dz;
        pD[4 * np + 3] = Math.sqrt(rr);
        np++;
      }
    }
    return np;
  }

  /** Every monomial of the unit vector's components up to the largest degree into `mono` (see hStart). */
  private monomials(ex: number, ey: number, ez: number): void {
    const { mono, monoParent, monoVar, eu } = this;
    eu[0] = ex;
    eu[1] = ey;
    eu[2] = ez;
    const m = mono.length - 1;
    for (let u = 1; u < m; u++) mono[u] = mono[monoParent[u]] * eu[monoVar[u]];
  }

  /** Y_h(e) for every harmonic. */
  private harmValues(ex: number, ey: number, ez: number): void {
    this.monomials(ex, ey, ez);
    const { hStart, tM, tC, Yv, mono } = this;
    const nh = this.nh;
    for (let h = 0; h < nh; h++) {
      let v = 0;
      for (let t = hStart[h]; t < hStart[h + 1]; t++) v += tC[t] * mono[tM[t]];
      Yv[h] = v;
    }
  }

  /** Y_h(e) and grad H_h(e) (3 per harmonic). */
  private harmGrad(ex: number, ey: number, ez: number): void {
    this.monomials(ex, ey, ez);
    const { hStart, tM, tMx, tMy, tMz, tC, tCa, tCb, tCz, Yv, gY, mono } = this;
    const nh = this.nh;
    for (let h = 0; h < nh; h++) {
      let v = 0;
      let gx = 0;
      let gy = 0;
      let gz = 0;
      for (let t = hStart[h]; t < hStart[h + 1]; t++) {
        v += tC[t] * mono[tM[t]];
        gx += tCa[t] * mono[tMx[t]];
        gy += tCb[t] * mono[tMy[t]];
        gz += tCz[t] * mono[tMz[t]];
      }
      Yv[h] = v;
      gY[3 * h] = gx;
      gY[3 * h + 1] = gy;
      gY[3 * h + 2] = gz;
    }
  }

  /** Y_h(e), grad H_h(e), Hess H_h(e) w and grad H_h(e) . w. */
  private harmHess(ex: number, ey: number, ez: number, wx: number, wy: number, wz: number): void {
    this.monomials(ex, ey, ez);
    const { hStart, tM, tMx, tMy, tMz, tMxx, tMyy, tMzz, tMxy, tMxz, tMyz, mono } = this;
    const { tC, tCa, tCb, tCz, tCaa, tCbb, tCzz, tCab, tCaz, tCbz, Yv, gY, hY, gYw } = this;
    const nh = this.nh;
    for (let h = 0; h < nh; h++) {
      let v = 0;
      let gx = 0;
      let gy = 0;
      let gz = 0;
      let hx = 0;
      let hy = 0;
      let hz = 0;
      for (let t = hStart[h]; t < hStart[h + 1]; t++) {
        v += tC[t] * mono[tM[t]];
        gx += tCa[t] * mono[tMx[t]];
        gy += tCb[t] * mono[tMy[t]];
        gz += tCz[t] * mono[tMz[t]];
        const hxy = tCab[t] * mono[tMxy[t]];
        const hxz = tCaz[t] * mono[tMxz[t]];
        const hyz = tCbz[t] * mono[tMyz[t]];
        hx += tCaa[t] * mono[tMxx[t]] * wx + hxy * wy + hxz * wz;
        hy += hxy * wx + tCbb[t] * mono[tMyy[t]] * wy + hyz * wz;
        hz += hxz * wx + hyz * wy + tCzz[t] * mono[tMzz[t]] * wz;
      }
      Yv[h] = v;
      gY[3 * h] = gx;
      gY[3 * h + 1] = gy;
      gY[3 * h + 2] = gz;
      hY[3 * h] = hx;
      hY[3 * h + 1] = hy;
      hY[3 * h + 2] = hz;
      gYw[h] = gx * wx + gy * wy + gz * wz;
    }
  }

  /**
   * Pass 1 (A of every site, from each unordered pair once), values only, into a zeroed N * nA array. The pairs of one half-list row share their first atom i (collect keeps the rows in order),
   * so site i's sums are kept in a small local array and added to A once per row; only site j's are scattered.
   */
  private pass1Values(np: number, A: Float64Array): void {
    const { pI, pJ, pD, nA, nR, nAng, nh, Rb, env, radial, sgnH, Yv } = this;
    const acc = this.accA;
    let ci = -1;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      if (i !== ci) {
        if (ci >= 0) for (let a = 0, o = ci * nA; a < nA; a++) A[o + a] += acc[a];
        acc.fill(0);
        ci = i;
      }
      const aj = pJ[p] * nA;
      const r = pD[4 * p + 3];
      radial.evalOrder(r, 0, Rb, env);
      for (let n = 0; n < nR; n++) {
        const val = Rb[n];
        acc[n] += val;
        A[aj + n] += val;
      }
      if (nAng === 0) continue;
      const ir = 1 / r;
      this.harmValues(pD[4 * p] * ir, pD[4 * p + 1] * ir, pD[4 * p + 2] * ir);
      let a = nR;
      for (let n = 0; n < nAng; n++) {
        const Rn = Rb[n];
        for (let h = 0; h < nh; h++, a++) {
          const val = Rn * Yv[h];
          acc[a] += val;
          A[aj + a] += sgnH[h] * val;
        }
      }
    }
    if (ci >= 0) for (let a = 0, o = ci * nA; a < nA; a++) A[o + a] += acc[a];
  }

  /** Pass 1 with the directional derivative dA along v, into AD (site i: A at 2 nA i, dA after it; row-local sums). */
  private pass1Dir(np: number, AD: Float64Array, v: Float64Array): void {
    const { pI, pJ, pD, nA, nR, nAng, nh, Rb, env, radial, sgnH, hl, Yv, gY, gYw } = this;
    const dim = this.dim;
    const three = dim === 3;
    const acc = this.accA;
    const dacc = this.accDA;
    const nA2 = 2 * nA;
    let ci = -1;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      if (i !== ci) {
        if (ci >= 0) {
          for (let a = 0, o = ci * nA2; a < nA; a++) {
            AD[o + a] += acc[a];
            AD[o + nA + a] += dacc[a];
          }
        }
        acc.fill(0);
        dacc.fill(0);
        ci = i;
      }
      const j = pJ[p];
      const aj = j * nA2;
      const dj = aj + nA;
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      const ex = pD[4 * p] * ir;
      const ey = pD[4 * p + 1] * ir;
      const ez = pD[4 * p + 2] * ir;
      radial.evalOrder(r, 1, Rb, env);
      const wx = v[j * dim] - v[i * dim];
      const wy = v[j * dim + 1] - v[i * dim + 1];
      const wz = three ? v[j * dim + 2] - v[i * dim + 2] : 0;
      const ew = ex * wx + ey * wy + ez * wz;
      for (let n = 0; n < nR; n++) {
        const val = Rb[n];
        const dv = Rb[nR + n] * ew;
        acc[n] += val;
        AD[aj + n] += val;
        dacc[n] += dv;
        AD[dj + n] += dv;
      }
      if (nAng === 0) continue;
      this.harmGrad(ex, ey, ez);
      for (let h = 0; h < nh; h++) gYw[h] = gY[3 * h] * wx + gY[3 * h + 1] * wy + gY[3 * h + 2] * wz;
      let a = nR;
      for (let n = 0; n < nAng; n++) {
        const Rn = Rb[n];
        const R1n = Rb[nR + n];
        const Rir = Rn * ir;
        for (let h = 0; h < nh; h++, a++) {
          const y = Yv[h];
          const val = Rn * y;
          const dv = ew * (R1n - hl[h] * Rir) * y + Rir * gYw[h];
          const sg = sgnH[h];
          acc[a] += val;
          AD[aj + a] += sg * val;
          dacc[a] += dv;
          AD[dj + a] += sg * dv;
        }
      }
    }
    if (ci >= 0) {
      for (let a = 0, o = ci * nA2; a < nA; a++) {
        AD[o + a] += acc[a];
        AD[o + nA + a] += dacc[a];
      }
    }
  }

  /** Values f_k and partials D (over supports) of every function at the site's A (and S along dA when withDir). */
  private polyDerivs(fns: CompiledFunctions, withDir: boolean): void {
    const A = this.A;
    const dA = this.dA;
    const D = this.dLoc;
    const S = this.sLoc;
    const { tStart, tCoef, fStart, fSup, supAlpha } = fns;
    D.fill(0, 0, supAlpha.length);
    if (withDir) S.fill(0, 0, supAlpha.length);
    for (let k = 0; k < fns.K; k++) {
      let val = 0;
      for (let t = tStart[k]; t < tStart[k + 1]; t++) {
        const c = tCoef[t];
        const f0 = fStart[t];
        const m = fStart[t + 1] - f0;
        if (m === 1) {
          // linear term: value c A, partial c, no curvature
          val += c * A[supAlpha[fSup[f0]]];
          D[fSup[f0]] += c;
          continue;
        }
        if (m === 2) {
          const q0 = fSup[f0];
          const q1 = fSup[f0 + 1];
          const a0 = A[supAlpha[q0]];
          const a1 = A[supAlpha[q1]];
          val += c * a0 * a1;
          D[q0] += c * a1;
          D[q1] += c * a0;
          if (withDir) {
            S[q0] += c * dA[supAlpha[q1]];
            S[q1] += c * dA[supAlpha[q0]];
          }
          continue;
        }
        let prod = c;
        for (let q = 0; q < m; q++) prod *= A[supAlpha[fSup[f0 + q]]];
        val += prod;
        for (let p = 0; p < m; p++) {
          let part = c;
          for (let q = 0; q < m; q++) if (q !== p) part *= A[supAlpha[fSup[f0 + q]]];
          D[fSup[f0 + p]] += part;
          if (withDir) {
            let sd = 0;
            for (let q = 0; q < m; q++) {
              if (q === p) continue;
              let pr = c * dA[supAlpha[fSup[f0 + q]]];
              for (let u = 0; u < m; u++) if (u !== p && u !== q) pr *= A[supAlpha[fSup[f0 + u]]];
              sd += pr;
            }
            S[fSup[f0 + p]] += sd;
          }
        }
      }
      this.fval[k] = val;
    }
  }

  /**
   * Pass 2 over the sites: energies, and the partials of the polynomials. K = 1 (dense): D overwrites A in siteA (and S
   * overwrites dA, with a direction) alpha by alpha; otherwise D (and S) go to siteD (siteS), indexed by support entry.
   */
  private pass2(n: number, fns: CompiledFunctions, withDir: boolean, out: KernelOutputs | null): void {
    const nA = this.nA;
    const K = fns.K;
    const ns = fns.supAlpha.length;
    const dense = K === 1;
    const sA = this.siteA;
    // With a direction, site i's A and dA (then D and S) are adjacent: stride 2 nA (see hessianVector).
    const stride = withDir ? 2 * nA : nA;
    const A = this.A;
    const dA = this.dA;
    const D = this.dLoc;
    const S = this.sLoc;
    const supAlpha = fns.supAlpha;
    const energy = out?.energy;
    const siteE = out?.siteEnergies;
    for (let i = 0; i < n; i++) {
      const o = i * stride;
      for (let a = 0; a < nA; a++) A[a] = sA[o + a];
      if (withDir) for (let a = 0; a < nA; a++) dA[a] = sA[o + nA + a];
      this.polyDerivs(fns, withDir);
      if (energy) for (let k = 0; k < K; k++) energy[k] += this.fval[k];
      if (siteE) for (let k = 0; k < K; k++) siteE[k * n + i] = this.fval[k];
      if (dense) {
        sA.fill(0, o, o + nA);
        for (let q = 0; q < ns; q++) sA[o + supAlpha[q]] += D[q];
        if (withDir) {
          sA.fill(0, o + nA, o + 2 * nA);
          for (let q = 0; q < ns; q++) sA[o + nA + supAlpha[q]] += S[q];
        }
      } else {
        const so = i * ns;
        for (let q = 0; q < ns; q++) this.siteD[so + q] = D[q];
        if (withDir) for (let q = 0; q < ns; q++) this.siteS[so + q] = S[q];
      }
    }
  }

  /** Energies, site energies, forces and virials of the K functions (outputs accumulated into zeroed arrays). */
  evaluate(s: Structure, nl: NeighbourList, fns: CompiledFunctions, out: KernelOutputs): void {
    this.checkList(s, nl);
    const n = nl.n;
    const nA = this.nA;
    this.growScratch(fns);
    const np = this.collect(s, nl);
    const A = this.site('siteA', n * nA);
    const needGrad = !!(out.forces || out.virial);
    this.pass1Values(np, A);
    if (fns.K !== 1 && needGrad) this.site('siteD', n * fns.supAlpha.length);
    this.pass2(n, fns, false, out);
    if (!needGrad) return;
    if (fns.K === 1) this.forcesDense(np, out.forces ?? null, out.virial ?? null);
    else this.forcesGeneral(np, n, fns, out.forces ?? null, out.virial ?? null);
  }

  /** Pass 3, one polynomial: G = (sum_alpha c_alpha (R' - l R / r) Y) e + sum_h (sum_n c_nh R_n / r) grad H_h(e). */
  private forcesDense(np: number, F: Float64Array | null, W: Float64Array | null): void {
    const { pI, pJ, pD, nA, nR, nAng, nh, Rb, env, radial, sgnH, hl, Yv, gY, sh } = this;
    const D = this.siteA;
    const dim = this.dim;
    const three = dim === 3;
    let w00 = 0;
    let w01 = 0;
    let w02 = 0;
    let w10 = 0;
    let w11 = 0;
    let w12 = 0;
    let w20 = 0;
    let w21 = 0;
    let w22 = 0;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const dx = pD[4 * p];
      const dy = pD[4 * p + 1];
      const dz = pD[4 * p + 2];
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      const ex = dx * ir;
      const ey = dy * ir;
      const ez = dz * ir;
      radial.evalOrder(r, 1, Rb, env);
      const di = i * nA;
      const dj = j * nA;
      let ce = 0;
      for (let n = 0; n < nR; n++) ce += (D[di + n] + D[dj + n]) * Rb[nR + n];
      let gx = 0;
      let gy = 0;
      let gz = 0;
      if (nAng > 0) {
        this.harmGrad(ex, ey, ez);
        sh.fill(0);
        let a = nR;
        for (let n = 0; n < nAng; n++) {
          const Rir = Rb[n] * ir;
          const R1n = Rb[nR + n];
          for (let h = 0; h < nh; h++, a++) {
            const c = D[di + a] + sgnH[h] * D[dj + a];
            ce += c * (R1n - hl[h] * Rir) * Yv[h];
            sh[h] += c * Rir;
          }
        }
        for (let h = 0; h < nh; h++) {
          const c = sh[h];
          gx += c * gY[3 * h];
          gy += c * gY[3 * h + 1];
          gz += c * gY[3 * h + 2];
        }
      }
      gx += ce * ex;
      gy += ce * ey;
      gz += ce * ez;
      if (F) {
        F[i * dim] += gx;
        F[j * dim] -= gx;
        F[i * dim + 1] += gy;
        F[j * dim + 1] -= gy;
        if (three) {
          F[i * dim + 2] += gz;
          F[j * dim + 2] -= gz;
        }
      }
      w00 -= gx * dx;
      w01 -= gx * dy;
      w02 -= gx * dz;
      w10 -= gy * dx;
      w11 -= gy * dy;
      w12 -= gy * dz;
      w20 -= gz * dx;
      w21 -= gz * dy;
      w22 -= gz * dz;
    }
    if (W) {
      if (three) {
        W[0] += w00;
        W[1] += w01;
        W[2] += w02;
        W[3] += w10;
        W[4] += w11;
        W[5] += w12;
        W[6] += w20;
        W[7] += w21;
        W[8] += w22;
      } else {
        W[0] += w00;
        W[1] += w01;
        W[2] += w10;
        W[3] += w11;
      }
    }
  }

  /** Per-alpha gradients of one pair into gA (3 per alpha); the unit vector and 1/r given. Rb holds order >= 1. */
  private alphaGrads(ex: number, ey: number, ez: number, ir: number): void {
    const { nR, nAng, nh, Rb, hl, Yv, gY, gA } = this;
    for (let n = 0; n < nR; n++) {
      const g = Rb[nR + n];
      gA[3 * n] = g * ex;
      gA[3 * n + 1] = g * ey;
      gA[3 * n + 2] = g * ez;
    }
    if (nAng === 0) return;
    this.harmGrad(ex, ey, ez);
    let a = nR;
    for (let n = 0; n < nAng; n++) {
      const Rir = Rb[n] * ir;
      const R1n = Rb[nR + n];
      for (let h = 0; h < nh; h++, a++) {
        const ce = (R1n - hl[h] * Rir) * Yv[h];
        gA[3 * a] = ce * ex + Rir * gY[3 * h];
        gA[3 * a + 1] = ce * ey + Rir * gY[3 * h + 1];
        gA[3 * a + 2] = ce * ez + Rir * gY[3 * h + 2];
      }
    }
  }

  /** Pass 3, K functions: per-alpha gradients once per pair, contracted per function over its support. */
  private forcesGeneral(np: number, n: number, fns: CompiledFunctions, F: Float64Array | null, W: Float64Array | null): void {
    const { pI, pJ, pD, Rb, env, radial, sgnA, gA } = this;
    const D = this.siteD;
    const dim = this.dim;
    const three = dim === 3;
    const K = fns.K;
    const N3 = n * dim;
    const ns = fns.supAlpha.length;
    const { supStart, supAlpha } = fns;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const dx = pD[4 * p];
      const dy = pD[4 * p + 1];
      const dz = pD[4 * p + 2];
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      radial.evalOrder(r, 1, Rb, env);
      this.alphaGrads(dx * ir, dy * ir, dz * ir, ir);
      const di = i * ns;
      const dj = j * ns;
      for (let k = 0; k < K; k++) {
        let gx = 0;
        let gy = 0;
        let gz = 0;
        for (let q = supStart[k]; q < supStart[k + 1]; q++) {
          const al = supAlpha[q];
          const c = D[di + q] + sgnA[al] * D[dj + q];
          gx += c * gA[3 * al];
          gy += c * gA[3 * al + 1];
          gz += c * gA[3 * al + 2];
        }
        if (F) {
          const fo = k * N3;
          F[fo + i * dim] += gx;
          F[fo + j * dim] -= gx;
          F[fo + i * dim + 1] += gy;
          F[fo + j * dim + 1] -= gy;
          if (three) {
            F[fo + i * dim + 2] += gz;
            F[fo + j * dim + 2] -= gz;
          }
        }
        if (W) {
          const wo = k * dim * dim;
          if (three) {
            W[wo] -= gx * dx;
            W[wo + 1] -= gx * dy;
            W[wo + 2] -= gx * dz;
            W[wo + 3] -= gy * dx;
            W[wo + 4] -= gy * dy;
            W[wo + 5] -= gy * dz;
            W[wo + 6] -= gz * dx;
            W[wo + 7] -= gz * dy;
            W[wo + 8] -= gz * dz;
          } else {
            W[wo] -= gx * dx;
            W[wo + 1] -= gx * dy;
            W[wo + 2] -= gy * dx;
            W[wo + 3] -= gy * dy;
          }
        }
      }
    }
  }

  /**
   * Hessian of each function's total energy applied to v: out[k*N*dim ..] += H_k v. With A = A(x), per site
   *   d/dt grad f(A(x + t v)) = sum_alpha [sum_beta d2f/dA_alpha dA_beta dA_beta[v]] grad A_alpha + df/dA_alpha H(A_alpha) v.
   */
  hessianVector(s: Structure, nl: NeighbourList, fns: CompiledFunctions, v: Float64Array, out: Float64Array): void {
    this.checkList(s, nl);
    const dim = this.dim;
    const n = nl.n;
    if (v.length !== n * dim) throw new GeometryError(`direction has length ${v.length}, expected ${n * dim}`);
    const nA = this.nA;
    this.growScratch(fns);
    if (fns.K === 1) {
      const hc = this.hvpData(s, nl, fns);
      if (hc) {
        this.hvpCached(hc, v, out);
        return;
      }
    }
    const np = this.collect(s, nl);
    // Site i's A and dA side by side (stride 2 nA), then its D and S: pass 3 reads both for i and j, and one array
    // with them adjacent halves the cache lines touched per site (measured: HVP 2x the energy+forces at 2,048 atoms
    // with two arrays).
    const AD = this.site('siteA', 2 * n * nA);
    this.pass1Dir(np, AD, v);
    if (fns.K !== 1) {
      this.site('siteD', n * fns.supAlpha.length);
      this.site('siteS', n * fns.supAlpha.length);
    }
    this.pass2(n, fns, true, null);
    if (fns.K === 1) this.hvpDense(np, v, out);
    else this.hvpGeneral(np, n, fns, v, out);
  }

  /**
   * Per-configuration data of the model's Hessian-vector products: the pairs, per pair R, R', R'' of every radial
   * function and Y, grad H, Hess H (6 components) of every harmonic at the unit vector, and A of every site. They depend
   * on the positions only, so they are computed once and kept while the positions, the cell, the list and the
   * polynomial stay the same: Newton-Krylov's CG, Lanczos and the FIRE time-step estimate apply H to many vectors at
   * one x, and each product is then two passes of multiply-adds without a radial or harmonic evaluation (as
   * EAMPotential.hessianData does). Skipped (recomputed per product) above HVP_CACHE_LIMIT doubles.
   */
  private hc: HvpData | null = null;

  private hvpData(s: Structure, nl: NeighbourList, fns: CompiledFunctions): HvpData | null {
    const x = s.positions;
    const n = nl.n;
    const old = this.hc;
    const limit = MLIPKernel.HVP_CACHE_LIMIT;
    if (old && old.nl === nl && old.fns === fns && sameArray(old.x, x) && sameArray(old.cell, s.cell)) {
      if (old.np * old.stride + 2 * n * this.nA <= limit) return old;
    }
    this.hc = null;
    const np = this.collect(s, nl);
    const { nA, nR, nAng, nh, radial, env, sgnH } = this;
    const stride = 3 * nR + 10 * nh * (nAng > 0 ? 1 : 0);
    if (np * stride + 2 * n * nA > limit) return null;
    const reuse = old && old.pair.length >= np * stride && old.pair.length <= 2 * np * stride + 64 && old.A.length === n * nA;
    const hc: HvpData = {
      nl,
      fns,
      x: Float64Array.from(x),
      cell: s.cell ? Float64Array.from(s.cell) : null,
      np,
      stride,
      pI: this.pI.slice(0, np),
      pJ: this.pJ.slice(0, np),
      pD: this.pD.slice(0, 4 * np),
      pair: reuse ? old.pair : new Float64Array(np * stride),
      A: reuse ? old.A : new Float64Array(n * nA),
    };
    const { pI, pJ, pD, pair, A } = hc;
    A.fill(0);
    const Rb = this.Rb;
    const { Yv, gY } = this;
    const HH = this.hY6;
    for (let p = 0; p < np; p++) {
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      radial.evalOrder(r, 2, Rb, env);
      const o = p * stride;
      for (let q = 0; q < 3 * nR; q++) pair[o + q] = Rb[q];
      const ai = pI[p] * nA;
      const aj = pJ[p] * nA;
      for (let k = 0; k < nR; k++) {
        A[ai + k] += Rb[k];
        A[aj + k] += Rb[k];
      }
      if (nAng === 0) continue;
      this.harmHessFull(pD[4 * p] * ir, pD[4 * p + 1] * ir, pD[4 * p + 2] * ir);
      const oh = o + 3 * nR;
      for (let h = 0; h < nh; h++) {
        pair[oh + h] = Yv[h];
        pair[oh + nh + 3 * h] = gY[3 * h];
        pair[oh + nh + 3 * h + 1] = gY[3 * h + 1];
        pair[oh + nh + 3 * h + 2] = gY[3 * h + 2];
        for (let c = 0; c < 6; c++) pair[oh + 4 * nh + 6 * h + c] = HH[6 * h + c];
      }
      let a = nR;
      for (let k = 0; k < nAng; k++) {
        const Rn = Rb[k];
        for (let h = 0; h < nh; h++, a++) {
          const val = Rn * Yv[h];
          A[ai + a] += val;
          A[aj + a] += sgnH[h] * val;
        }
      }
    }
    this.hc = hc;
    return hc;
  }

  /** Y_h(e), grad H_h(e) and the Hessian of H_h at e (xx, yy, zz, xy, xz, yz) into hY6. */
  private harmHessFull(ex: number, ey: number, ez: number): void {
    this.monomials(ex, ey, ez);
    const { hStart, tM, tMx, tMy, tMz, tMxx, tMyy, tMzz, tMxy, tMxz, tMyz, mono } = this;
    const { tC, tCa, tCb, tCz, tCaa, tCbb, tCzz, tCab, tCaz, tCbz, Yv, gY, hY6 } = this;
    const nh = this.nh;
    for (let h = 0; h < nh; h++) {
      let v = 0;
      let gx = 0;
      let gy = 0;
      let gz = 0;
      let xx = 0;
      let yy = 0;
      let zz = 0;
      let xy = 0;
      let xz = 0;
      let yz = 0;
      for (let t = hStart[h]; t < hStart[h + 1]; t++) {
        v += tC[t] * mono[tM[t]];
        gx += tCa[t] * mono[tMx[t]];
        gy += tCb[t] * mono[tMy[t]];
        gz += tCz[t] * mono[tMz[t]];
        xx += tCaa[t] * mono[tMxx[t]];
        yy += tCbb[t] * mono[tMyy[t]];
        zz += tCzz[t] * mono[tMzz[t]];
        xy += tCab[t] * mono[tMxy[t]];
        xz += tCaz[t] * mono[tMxz[t]];
        yz += tCbz[t] * mono[tMyz[t]];
      }
      Yv[h] = v;
      gY[3 * h] = gx;
      gY[3 * h + 1] = gy;
      gY[3 * h + 2] = gz;
      hY6[6 * h] = xx;
      hY6[6 * h + 1] = yy;
      hY6[6 * h + 2] = zz;
      hY6[6 * h + 3] = xy;
      hY6[6 * h + 4] = xz;
      hY6[6 * h + 5] = yz;
    }
  }

  /** The model's HVP from the cached per-configuration data: the passes of hessianVector with hvpDense's contraction. */
  private hvpCached(hc: HvpData, v: Float64Array, out: Float64Array): void {
    const { np, stride, pI, pJ, pD, pair, fns } = hc;
    const { nA, nR, nAng, nh, sgnH, hl, sh, bh } = this;
    const dim = this.dim;
    const three = dim === 3;
    const n = hc.nl.n;
    const nR2 = 2 * nR;
    const oY = 3 * nR;
    const oG = oY + nh;
    const oH = oY + 4 * nh;
    // pass 1': dA (siteA is free here: A itself is cached)
    const dA = this.site('siteA', n * nA);
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const ir = 1 / pD[4 * p + 3];
      const ex = pD[4 * p] * ir;
      const ey = pD[4 * p + 1] * ir;
      const ez = pD[4 * p + 2] * ir;
      const wx = v[j * dim] - v[i * dim];
      const wy = v[j * dim + 1] - v[i * dim + 1];
      const wz = three ? v[j * dim + 2] - v[i * dim + 2] : 0;
      const ew = ex * wx + ey * wy + ez * wz;
      const o = p * stride;
      const ai = i * nA;
      const aj = j * nA;
      for (let k = 0; k < nR; k++) {
        const dv = pair[o + nR + k] * ew;
        dA[ai + k] += dv;
        dA[aj + k] += dv;
      }
      if (nAng === 0) continue;
      const gYw = this.gYw;
      for (let h = 0; h < nh; h++) {
        const g = o + oG + 3 * h;
        gYw[h] = pair[g] * wx + pair[g + 1] * wy + pair[g + 2] * wz;
      }
      let a = nR;
      for (let k = 0; k < nAng; k++) {
        const Rir = pair[o + k] * ir;
        const R1n = pair[o + nR + k];
        for (let h = 0; h < nh; h++, a++) {
          const dv = ew * (R1n - hl[h] * Rir) * pair[o + oY + h] + Rir * gYw[h];
          dA[ai + a] += dv;
          dA[aj + a] += sgnH[h] * dv;
        }
      }
    }
    // pass 2': D and S per site (dense), from the cached A
    const D = this.site('siteD', n * nA);
    const S = this.site('siteS', n * nA);
    const Aloc = this.A;
    const dAloc = this.dA;
    const supAlpha = fns.supAlpha;
    const ns = supAlpha.length;
    for (let i = 0; i < n; i++) {
      const o = i * nA;
      for (let a = 0; a < nA; a++) {
        Aloc[a] = hc.A[o + a];
        dAloc[a] = dA[o + a];
      }
      this.polyDerivs(fns, true);
      for (let q = 0; q < ns; q++) {
        D[o + supAlpha[q]] += this.dLoc[q];
        S[o + supAlpha[q]] += this.sLoc[q];
      }
    }
    // pass 3'
    const { gYw, hY, Yv } = this;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const ir = 1 / pD[4 * p + 3];
      const ex = pD[4 * p] * ir;
      const ey = pD[4 * p + 1] * ir;
      const ez = pD[4 * p + 2] * ir;
      const wx = v[j * dim] - v[i * dim];
      const wy = v[j * dim + 1] - v[i * dim + 1];
      const wz = three ? v[j * dim + 2] - v[i * dim + 2] : 0;
      const ew = ex * wx + ey * wy + ez * wz;
      const o = p * stride;
      const di = i * nA;
      const dj = j * nA;
      let ce = 0;
      let cw = 0;
      for (let k = 0; k < nR; k++) {
        const c = D[di + k] + D[dj + k];
        const cd = S[di + k] + S[dj + k];
        const R1 = pair[o + nR + k];
        ce += cd * R1 + c * ew * (pair[o + nR2 + k] - R1 * ir);
        cw += c * R1 * ir;
      }
      let gx = 0;
      let gy = 0;
      let gz = 0;
      if (nAng > 0) {
        for (let h = 0; h < nh; h++) {
          const g = o + oG + 3 * h;
          const q = o + oH + 6 * h;
          Yv[h] = pair[o + oY + h];
          gYw[h] = pair[g] * wx + pair[g + 1] * wy + pair[g + 2] * wz;
          hY[3 * h] = pair[q] * wx + pair[q + 3] * wy + pair[q + 4] * wz;
          hY[3 * h + 1] = pair[q + 3] * wx + pair[q + 1] * wy + pair[q + 5] * wz;
          hY[3 * h + 2] = pair[q + 4] * wx + pair[q + 5] * wy + pair[q + 2] * wz;
        }
        sh.fill(0);
        bh.fill(0);
        let a = nR;
        for (let k = 0; k < nAng; k++) {
          const Rn = pair[o + k];
          const R1n = pair[o + nR + k];
          const R2n = pair[o + nR2 + k];
          const Rir = Rn * ir;
          for (let h = 0; h < nh; h++, a++) {
            const sg = sgnH[h];
            const c = D[di + a] + sg * D[dj + a];
            const cd = S[di + a] + sg * S[dj + a];
            const l = hl[h];
            const G1 = R1n - l * Rir;
            const G2 = R2n - 2 * l * R1n * ir + l * (l + 1) * Rir * ir;
            const y = Yv[h];
            const G1ir = G1 * ir;
            ce += cd * G1 * y + c * (ew * (G2 - G1ir) * y + G1ir * gYw[h]);
            cw += c * G1ir * y;
            sh[h] += cd * Rir + ew * c * G1ir;
            bh[h] += c * Rir * ir;
          }
        }
        for (let h = 0; h < nh; h++) {
          const c = sh[h];
          const b = bh[h];
          const g = o + oG + 3 * h;
          gx += c * pair[g] + b * hY[3 * h];
          gy += c * pair[g + 1] + b * hY[3 * h + 1];
          gz += c * pair[g + 2] + b * hY[3 * h + 2];
        }
      }
      gx += ce * ex + cw * wx;
      gy += ce * ey + cw * wy;
      gz += ce * ez + cw * wz;
      out[j * dim] += gx;
      out[i * dim] -= gx;
      out[j * dim + 1] += gy;
      out[i * dim + 1] -= gy;
      if (three) {
        out[j * dim + 2] += gz;
        out[i * dim + 2] -= gz;
      }
    }
  }

  /**
   * Pass 3 of the HVP, one polynomial (c = D_i + (-1)^l D_j, cd = S_i + (-1)^l S_j, G1 = R' - l R / r,
   * G2 = R'' - 2 l R' / r + l (l + 1) R / r^2, ew = e . w):
   *   dG = e sum_alpha [cd G1 Y + c (ew (G2 - G1 / r) Y + (G1 / r) grad H . w)] + w sum_alpha c (G1 / r) Y
   *        + sum_h grad H_h sum_n [cd R / r + ew c G1 / r] + sum_h (Hess H_h w) sum_n c R / r^2.
   */
  private hvpDense(np: number, v: Float64Array, out: Float64Array): void {
    const { pI, pJ, pD, nA, nR, nAng, nh, Rb, env, radial, sgnH, hl, Yv, gY, hY, gYw, sh, bh } = this;
    // D and S of site i at 2 nA i and 2 nA i + nA (see hessianVector)
    const D = this.siteA;
    const S = this.siteA;
    const nA2 = 2 * nA;
    const dim = this.dim;
    const three = dim === 3;
    const nR2 = 2 * nR;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      const ex = pD[4 * p] * ir;
      const ey = pD[4 * p + 1] * ir;
      const ez = pD[4 * p + 2] * ir;
      const wx = v[j * dim] - v[i * dim];
      const wy = v[j * dim + 1] - v[i * dim + 1];
      const wz = three ? v[j * dim + 2] - v[i * dim + 2] : 0;
      const ew = ex * wx + ey * wy + ez * wz;
      radial.evalOrder(r, 2, Rb, env);
      const di = i * nA2;
      const dj = j * nA2;
      const si = di + nA;
      const sj = dj + nA;
      let ce = 0;
      let cw = 0;
      for (let n = 0; n < nR; n++) {
        const c = D[di + n] + D[dj + n];
        const cd = S[si + n] + S[sj + n];
        const R1 = Rb[nR + n];
        ce += cd * R1 + c * ew * (Rb[nR2 + n] - R1 * ir);
        cw += c * R1 * ir;
      }
      let gx = 0;
      let gy = 0;
      let gz = 0;
      if (nAng > 0) {
        this.harmHess(ex, ey, ez, wx, wy, wz);
        sh.fill(0);
        bh.fill(0);
        let a = nR;
        for (let n = 0; n < nAng; n++) {
          const Rn = Rb[n];
          const R1n = Rb[nR + n];
          const R2n = Rb[nR2 + n];
          const Rir = Rn * ir;
          for (let h = 0; h < nh; h++, a++) {
            const sg = sgnH[h];
            const c = D[di + a] + sg * D[dj + a];
            const cd = S[si + a] + sg * S[sj + a];
            const l = hl[h];
            const G1 = R1n - l * Rir;
            const G2 = R2n - 2 * l * R1n * ir + l * (l + 1) * Rir * ir;
            const y = Yv[h];
            const G1ir = G1 * ir;
            ce += cd * G1 * y + c * (ew * (G2 - G1ir) * y + G1ir * gYw[h]);
            cw += c * G1ir * y;
            sh[h] += cd * Rir + ew * c * G1ir;
            bh[h] += c * Rir * ir;
          }
        }
        for (let h = 0; h < nh; h++) {
          const c = sh[h];
          const b = bh[h];
          gx += c * gY[3 * h] + b * hY[3 * h];
          gy += c * gY[3 * h + 1] + b * hY[3 * h + 1];
          gz += c * gY[3 * h + 2] + b * hY[3 * h + 2];
        }
      }
      gx += ce * ex + cw * wx;
      gy += ce * ey + cw * wy;
      gz += ce * ez + cw * wz;
      out[j * dim] += gx;
      out[i * dim] -= gx;
      out[j * dim + 1] += gy;
      out[i * dim + 1] -= gy;
      if (three) {
        out[j * dim + 2] += gz;
        out[i * dim + 2] -= gz;
      }
    }
  }

  /** Pass 3 of the HVP, K functions: per-alpha gradients and Hessian-vector products, contracted per function. */
  private hvpGeneral(np: number, n: number, fns: CompiledFunctions, v: Float64Array, out: Float64Array): void {
    const { pI, pJ, pD, nR, nAng, nh, Rb, env, radial, sgnA, hl, Yv, gY, hY, gYw, gA, hA } = this;
    const D = this.siteD;
    const S = this.siteS;
    const dim = this.dim;
    const three = dim === 3;
    const K = fns.K;
    const N3 = n * dim;
    const ns = fns.supAlpha.length;
    const { supStart, supAlpha } = fns;
    const nR2 = 2 * nR;
    for (let p = 0; p < np; p++) {
      const i = pI[p];
      const j = pJ[p];
      const r = pD[4 * p + 3];
      const ir = 1 / r;
      const ex = pD[4 * p] * ir;
      const ey = pD[4 * p + 1] * ir;
      const ez = pD[4 * p + 2] * ir;
      const wx = v[j * dim] - v[i * dim];
      const wy = v[j * dim + 1] - v[i * dim + 1];
      const wz = three ? v[j * dim + 2] - v[i * dim + 2] : 0;
      const ew = ex * wx + ey * wy + ez * wz;
      radial.evalOrder(r, 2, Rb, env);
      for (let n2 = 0; n2 < nR; n2++) {
        const R1 = Rb[nR + n2];
        gA[3 * n2] = R1 * ex;
        gA[3 * n2 + 1] = R1 * ey;
        gA[3 * n2 + 2] = R1 * ez;
        const ce = ew * (Rb[nR2 + n2] - R1 * ir);
        const cw = R1 * ir;
        hA[3 * n2] = ce * ex + cw * wx;
        hA[3 * n2 + 1] = ce * ey + cw * wy;
        hA[3 * n2 + 2] = ce * ez + cw * wz;
      }
      if (nAng > 0) {
        this.harmHess(ex, ey, ez, wx, wy, wz);
        let a = nR;
        for (let n2 = 0; n2 < nAng; n2++) {
          const Rn = Rb[n2];
          const R1n = Rb[nR + n2];
          const R2n = Rb[nR2 + n2];
          const Rir = Rn * ir;
          for (let h = 0; h < nh; h++, a++) {
            const l = hl[h];
            const G1 = R1n - l * Rir;
            const G2 = R2n - 2 * l * R1n * ir + l * (l + 1) * Rir * ir;
            const y = Yv[h];
            const G1ir = G1 * ir;
            const cg = G1 * y;
            gA[3 * a] = cg * ex + Rir * gY[3 * h];
            gA[3 * a + 1] = cg * ey + Rir * gY[3 * h + 1];
            gA[3 * a + 2] = cg * ez + Rir * gY[3 * h + 2];
            const ce = ew * (G2 - G1ir) * y + G1ir * gYw[h];
            const cw = G1ir * y;
            const cgr = ew * G1ir;
            const ch = Rir * ir;
            hA[3 * a] = ce * ex + cw * wx + cgr * gY[3 * h] + ch * hY[3 * h];
            hA[3 * a + 1] = ce * ey + cw * wy + cgr * gY[3 * h + 1] + ch * hY[3 * h + 1];
            hA[3 * a + 2] = ce * ez + cw * wz + cgr * gY[3 * h + 2] + ch * hY[3 * h + 2];
          }
        }
      }
      const di = i * ns;
      const dj = j * ns;
      for (let k = 0; k < K; k++) {
        let gx = 0;
        let gy = 0;
        let gz = 0;
        for (let q = supStart[k]; q < supStart[k + 1]; q++) {
          const al = supAlpha[q];
          const sg = sgnA[al];
          const c = D[di + q] + sg * D[dj + q];
          const cd = S[di + q] + sg * S[dj + q];
          gx += cd * gA[3 * al] + c * hA[3 * al];
          gy += cd * gA[3 * al + 1] + c * hA[3 * al + 1];
          gz += cd * gA[3 * al + 2] + c * hA[3 * al + 2];
        }
        const fo = k * N3;
        out[fo + j * dim] += gx;
        out[fo + i * dim] -= gx;
        out[fo + j * dim + 1] += gy;
        out[fo + i * dim + 1] -= gy;
        if (three) {
          out[fo + j * dim + 2] += gz;
          out[fo + i * dim + 2] -= gz;
        }
      }
    }
  }
}
