import { HP, type HPDecimal as Decimal } from '../util/decimal.ts';
import type { NeighbourList } from '../lattice/neighbours.ts';
import { atomCount, type Structure } from '../lattice/structure.ts';
import { GeometryError, ParameterError } from '../util/errors.ts';
import { NeumaierSum } from '../util/sum.ts';
import type { EmbeddingFunction, RadialFunction } from './radial.ts';
import type { EvalResult, SitePotential } from './types.ts';

/**
 * Embedded-atom model  V_l = 1/2 sum_j phi(r_lj) + F(sum_j psi(r_lj)).  A pair potential is the special case with no
 * density/embedding. One kernel serves the analytic models and the tabulated (LAMMPS file) ones.
 *
 * Kernels run over a full neighbour list on flat Float64Arrays; per-pair scratch is kept between calls (no per-atom
 * allocation). Derivation of the derivatives, with r_ij = x_j - x_i and e = r_ij / r:
 *   dE/dr_ij (site i's share) = g_ij = (phi'(r)/2 + F'(rho_i) psi'(r)) e,  grad_j += g_ij, grad_i -= g_ij;
 *   virial = -sum_ij g_ij (x) r_ij;
 *   Hessian: d rho_i = sum_j psi'(r) e . dr_ij, and the ordered pair contributes
 *     h_ij = H_phi dr / 2 + F''(rho_i) d rho_i psi'(r) e + F'(rho_i) H_psi dr,  H_f = f'' e e^T + (f'/r)(I - e e^T).
 */
export class EAMPotential implements SitePotential {
  readonly cutoff: number;
  private rBuf = new Float64Array(0);
  private aBuf = new Float64Array(0);
  private bBuf = new Float64Array(0);
  /** Compact per-unordered-pair scratch of evaluate(): atoms i < j (or i = j) and the pair vector (3 slots). */
  private pI = new Int32Array(0);
  private pJ = new Int32Array(0);
  private dBuf = new Float64Array(0);
  private readonly t = new Float64Array(3);

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

  private scratch(nnz: number): void {
    if (this.rBuf.length < nnz) {
      const cap = Math.max(nnz, Math.ceil(this.rBuf.length * 1.5));
      this.rBuf = new Float64Array(cap);
      this.aBuf = new Float64Array(cap);
      this.bBuf = new Float64Array(cap);
      this.pI = new Int32Array(cap);
      this.pJ = new Int32Array(cap);
      this.dBuf = new Float64Array(3 * cap);
    }
  }

  private checkList(s: Structure, nl: NeighbourList): void {
    if (nl.n !== atomCount(s)) {
      throw new GeometryError(`neighbour list is for ${nl.n} atoms but the structure has ${atomCount(s)}`);
    }
    if (nl.cutoff < this.cutoff) {
      throw new GeometryError(`neighbour list cutoff ${nl.cutoff} is below the potential cutoff ${this.cutoff}`);
    }
  }

  /** Pass 1: pair distances, phi'/2 into aBuf, psi' into bBuf, site pair energies and densities. */
  private pass1(s: Structure, nl: NeighbourList, siteE: Float64Array, rho: Float64Array): void {
    const { dim, positions: x } = s;
    const { offsets, index, shift } = nl;
    const n = nl.n;
    const rc = this.cutoff;
    const t = this.t;
    const pair = this.pair;
    const dens = this.density;
    this.scratch(index.length);
    const rB = this.rBuf;
    const aB = this.aBuf;
    const bB = this.bBuf;
    for (let i = 0; i < n; i++) {
      let e = 0;
      let rh = 0;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        const j = index[p];
        let r2 = 0;
        for (let a = 0; a < dim; a++) {
          const d = x[j * dim + a] + shift[p * dim + a] - x[i * dim + a];
          r2 += d * d;
        }
        const r = Math.sqrt(r2);
        rB[p] = r;
        if (r >= rc) {
          aB[p] = 0;
          bB[p] = 0;
          continue;
        }
        pair.eval(r, t);
        e += 0.5 * t[0];
        aB[p] = 0.5 * t[1];
        if (dens) {
          dens.eval(r, t);
          rh += t[0];
          bB[p] = t[1];
        } else bB[p] = 0;
      }
      siteE[i] = e;
      rho[i] = rh;
    }
  }

  /**
   * Energy, forces, virial. The full list holds every unordered pair twice, (i, j, s) and (j, i, -s), and phi, psi
   * are functions of r alone, so each pair is evaluated once (j > i) and credited to both sites: half the radial
   * function calls of a per-ordered-pair loop. Self-image pairs (j = i, narrow cells) stay one-sided. The accepted
   * pairs are stored compactly, so the force pass streams through them without re-reading the list. Same sums as a
   * per-ordered-pair loop up to the order of addition (round-off).
   */
  evaluate(s: Structure, nl: NeighbourList): EvalResult {
    this.checkList(s, nl);
    const { dim, positions: x } = s;
    const n = nl.n;
    const { offsets, index, shift } = nl;
    const rc = this.cutoff;
    const rc2 = rc * rc;
    const t = this.t;
    const pair = this.pair;
    const dens = this.density;
    this.scratch(index.length);
    const rB = this.rBuf;
    const aB = this.aBuf;
    const bB = this.bBuf;
    const siteE = new Float64Array(n);
    const rho = new Float64Array(n);
    const three = dim === 3;
    // Pass 1: each unordered pair once, stored compactly (k-th pair: atoms pI/pJ, vector dBuf, r, phi'/2, psi').
    const pI = this.pI;
    const pJ = this.pJ;
    const dB = this.dBuf;
    let np = 0;
    for (let i = 0; i < n; i++) {
      const xi = i * dim;
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        const j = index[p];
        if (j < i) continue;
        const xj = j * dim;
        const ps = p * dim;
        // Unrolled for dim 2 and 3 (dz = 0 in 2D): no inner loop in the hot path.
        const dx = x[xj] + shift[ps] - x[xi];
        const dy = x[xj + 1] + shift[ps + 1] - x[xi + 1];
        const dz = three ? x[xj + 2] + shift[ps + 2] - x[xi + 2] : 0;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 >= rc2) continue;
        const r = Math.sqrt(r2);
        pI[np] = i;
        pJ[np] = j;
        dB[3 * np] = dx;
        dB[3 * np + 1] = dy;
        dB[3 * np + 2] = dz;
        rB[np] = r;
        pair.eval(r, t);
        const half = 0.5 * t[0];
        aB[np] = 0.5 * t[1];
        siteE[i] += half;
        let psi = 0;
        if (dens) {
          dens.eval(r, t);
          psi = t[0];
          bB[np] = t[1];
          rho[i] += psi;
        } else bB[np] = 0;
        if (j !== i) {
          siteE[j] += half;
          rho[j] += psi;
        }
        np++;
      }
    }
    const Fp = new Float64Array(n);
    if (this.embedding) {
      for (let i = 0; i < n; i++) {
        this.embedding.eval(rho[i], t, i);
        siteE[i] += t[0];
        Fp[i] = t[1];
      }
    }
    const forces = new Float64Array(n * dim);
    let wxx = 0;
    let wxy = 0;
    let wxz = 0;
    let wyy = 0;
    let wyz = 0;
    let wzz = 0;
    for (let k = 0; k < np; k++) {
      const i = pI[k];
      const j = pJ[k];
      const r = rB[k];
      // dE/dr_ij summed over both sites' shares: (phi'/2 + F'_i psi') + (phi'/2 + F'_j psi'); one-sided for j = i.
      const c = j === i ? (aB[k] + Fp[i] * bB[k]) / r : (2 * aB[k] + (Fp[i] + Fp[j]) * bB[k]) / r;
      const xi = i * dim;
      const xj = j * dim;
      const dx = dB[3 * k];
      const dy = dB[3 * k + 1];
      forces[xi] += c * dx;
      forces[xj] -= c * dx;
      forces[xi + 1] += c * dy;
      forces[xj + 1] -= c * dy;
      wxx -= c * dx * dx;
      wxy -= c * dx * dy;
      wyy -= c * dy * dy;
      if (three) {
        const dz = dB[3 * k + 2];
        forces[xi + 2] += c * dz;
        forces[xj + 2] -= c * dz;
        wxz -= c * dx * dz;
        wyz -= c * dy * dz;
        wzz -= c * dz * dz;
      }
    }
    const virial = three
      ? Float64Array.of(wxx, wxy, wxz, wxy, wyy, wyz, wxz, wyz, wzz)
      : Float64Array.of(wxx, wxy, wxy, wyy);
    const acc = new NeumaierSum();
    for (let i = 0; i < n; i++) acc.add(siteE[i]);
    return { energy: acc.value, siteEnergies: siteE, forces, virial };
  }

  hessianVector(s: Structure, nl: NeighbourList, v: Float64Array): Float64Array {
    this.checkList(s, nl);
    const { dim, positions: x } = s;
    const n = nl.n;
    if (v.length !== n * dim) throw new GeometryError(`direction has length ${v.length}, expected ${n * dim}`);
    const siteE = new Float64Array(n);
    const rho = new Float64Array(n);
    this.pass1(s, nl, siteE, rho);
    const { offsets, index, shift } = nl;
    const rB = this.rBuf;
    const t = this.t;
    const Fp = new Float64Array(n);
    const Fpp = new Float64Array(n);
    const drho = new Float64Array(n);
    const d = new Float64Array(3);
    const dv = new Float64Array(3);
    const dens = this.density;
    if (this.embedding && dens) {
      for (let i = 0; i < n; i++) {
        this.embedding.eval(rho[i], t, i);
        Fp[i] = t[1];
        Fpp[i] = t[2];
      }
      for (let i = 0; i < n; i++) {
        let s1 = 0;
        for (let p = offsets[i]; p < offsets[i + 1]; p++) {
          const r = rB[p];
          if (r >= this.cutoff) continue;
          const j = index[p];
          let ed = 0;
          for (let a = 0; a < dim; a++) {
            const da = x[j * dim + a] + shift[p * dim + a] - x[i * dim + a];
            ed += da * (v[j * dim + a] - v[i * dim + a]);
          }
          s1 += this.bBuf[p] * (ed / r);
        }
        drho[i] = s1;
      }
    }
    const hv = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) {
      for (let p = offsets[i]; p < offsets[i + 1]; p++) {
        const r = rB[p];
        if (r >= this.cutoff) continue;
        const j = index[p];
        let ed = 0;
        for (let a = 0; a < dim; a++) {
          d[a] = (x[j * dim + a] + shift[p * dim + a] - x[i * dim + a]) / r;
          dv[a] = v[j * dim + a] - v[i * dim + a];
          ed += d[a] * dv[a];
        }
        // Coefficients of e (along the bond) and of dv (transverse part) in h_ij.
        this.pair.eval(r, t);
        let ce = 0.5 * (t[2] - t[1] / r) * ed;
        let cv = (0.5 * t[1]) / r;
        if (dens) {
          dens.eval(r, t);
          ce += Fpp[i] * drho[i] * t[1] + Fp[i] * (t[2] - t[1] / r) * ed;
          cv += (Fp[i] * t[1]) / r;
        }
        for (let a = 0; a < dim; a++) {
          const h = ce * d[a] + cv * dv[a];
          hv[j * dim + a] += h;
          hv[i * dim + a] -= h;
        }
      }
    }
    return hv;
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
