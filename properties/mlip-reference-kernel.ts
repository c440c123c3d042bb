import type { NeighbourList } from '../src/lattice/neighbours.ts';
import { atomCount, type Structure } from '../src/lattice/structure.ts';
import { ChebyshevRadial, type Basis } from '../src/mlip/basis.ts';
import type { CompiledFunctions, KernelOutputs } from '../src/mlip/kernel.ts';
import { GeometryError } from '../src/util/errors.ts';

/**
 * TEST-ONLY reference: the MLIP kernel as it was before the half-list rewrite of src/mlip/kernel.ts (commit 164e7e8),
 * kept verbatim apart from its name. It evaluates every ordered pair from the full neighbour list, materialises the
 * gradient (and Hessian-vector product) of every atom-base function per pair and contracts them per function; its
 * forces, virials and Hessian-vector products were checked against finite differences by properties/mlip-basis.test.ts
 * for as long as it was the production kernel. properties/mlip-kernel.test.ts asserts the new kernel agrees with it to
 * round-off; benchmarks/mlip-speed.ts times both in one run (before/after).
 */
/*
 * The evaluation kernel: per site, the atom-base functions phi_alpha(r_ij) = g_{n,l}(r) H_h(r_ij) with
 * g = R_n(r) r^{-l}, their gradients (and Hessian-vector products), the polynomial values and partial derivatives
 * dB_k/dA_alpha, then the chain rule back to the pairs. All scratch lives in Float64Arrays grown on demand and reused
 * across sites and calls (no per-atom allocation).
 */
export class ReferenceMLIPKernel {
  readonly dim: 2 | 3;
  readonly cutoff: number;
  readonly nA: number;
  private readonly radial: ChebyshevRadial;
  private readonly rad: Float64Array;
  private readonly env = new Float64Array(3);
  private readonly maxL: number;
  private readonly pw: Float64Array;
  private readonly hv: Float64Array; // harmonic values
  private readonly hg: Float64Array; // harmonic gradients (dim each)
  private readonly hh: Float64Array; // harmonic Hessian * w (dim each)
  private readonly A: Float64Array;
  private readonly dA: Float64Array;
  private readonly rlp: Float64Array;
  // per-site pair scratch
  private cap = 0;
  private pj = new Int32Array(0);
  private pd = new Float64Array(0);
  private phi = new Float64Array(0);
  private grad = new Float64Array(0);
  private hw = new Float64Array(0);
  private dLoc = new Float64Array(0);
  private sLoc = new Float64Array(0);
  private fval = new Float64Array(0);
  private readonly w = new Float64Array(3);
  private readonly e = new Float64Array(3);

  constructor(readonly basis: Basis) {
    this.dim = basis.spec.dim;
    this.cutoff = basis.spec.cutoff;
    this.nA = basis.atomBase.n.length;
    this.radial = new ChebyshevRadial(basis.spec, basis.nRadial);
    this.rad = new Float64Array(3 * Math.max(1, basis.nRadial));
    this.maxL = basis.harmonics.maxDegree;
    this.pw = new Float64Array(3 * (this.maxL + 1));
    const nh = basis.harmonics.degree.length;
    this.hv = new Float64Array(nh);
    this.hg = new Float64Array(nh * 3);
    this.hh = new Float64Array(nh * 3);
    this.A = new Float64Array(this.nA);
    this.rlp = new Float64Array(this.maxL + 1);
    this.dA = new Float64Array(this.nA);
  }

  private grow(np: number, fns: CompiledFunctions): void {
    if (np > this.cap) {
      const c = Math.max(np, Math.ceil(this.cap * 1.5), 16);
      this.cap = c;
      this.pj = new Int32Array(c);
      this.pd = new Float64Array(c * 4);
      this.phi = new Float64Array(c * this.nA);
      this.grad = new Float64Array(c * this.nA * this.dim);
      this.hw = new Float64Array(c * this.nA * this.dim);
    }
    const ns = fns.supAlpha.length;
    if (this.dLoc.length < ns) {
      this.dLoc = new Float64Array(ns);
      this.sLoc = new Float64Array(ns);
    }
    if (this.fval.length < fns.K) this.fval = new Float64Array(fns.K);
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

  /**
   * phi, grad phi (and Hessian(phi) w when w is given) of every alpha for the bond vector d (length r), written at
   * pair slot p.
   */
  private pairBase(p: number, r: number, withHess: boolean): void {
    const dim = this.dim;
    const nA = this.nA;
    const pd = this.pd;
    const e = this.e;
    for (let a = 0; a < dim; a++) e[a] = pd[p * 4 + a] / r;
    this.radial.eval(r, this.rad, this.env);
    const rad = this.rad;
    const hs = this.basis.harmonics;
    const L = this.maxL;
    const w = this.w;
    let ew = 0;
    if (withHess) for (let a = 0; a < dim; a++) ew += e[a] * w[a];
    if (L > 0) {
      const pw = this.pw;
      for (let a = 0; a < dim; a++) {
        pw[a * (L + 1)] = 1;
        for (let q = 1; q <= L; q++) pw[a * (L + 1) + q] = pw[a * (L + 1) + q - 1] * pd[p * 4 + a];
      }
      const nh = hs.degree.length;
      const hvA = this.hv;
      const hg = this.hg;
      const hh = this.hh;
      for (let h = 0; h < nh; h++) {
        let v = 0;
        let g0 = 0;
        let g1 = 0;
        let g2 = 0;
        let h0 = 0;
        let h1 = 0;
        let h2 = 0;
        for (let t = hs.termStart[h]; t < hs.termStart[h + 1]; t++) {
          const c = hs.coef[t];
          const ex = hs.exps[t * dim];
          const ey = hs.exps[t * dim + 1];
          const ez = dim === 3 ? hs.exps[t * dim + 2] : 0;
          const px = pw[ex];
          const py = pw[L + 1 + ey];
          const pz = dim === 3 ? pw[2 * (L + 1) + ez] : 1;
          v += c * px * py * pz;
          const dx = ex > 0 ? ex * pw[ex - 1] : 0;
          const dy = ey > 0 ? ey * pw[L + 1 + ey - 1] : 0;
          const dz = dim === 3 && ez > 0 ? ez * pw[2 * (L + 1) + ez - 1] : 0;
          g0 += c * dx * py * pz;
          g1 += c * px * dy * pz;
          if (dim === 3) g2 += c * px * py * dz;
          if (withHess) {
            const dxx = ex > 1 ? ex * (ex - 1) * pw[ex - 2] : 0;
            const dyy = ey > 1 ? ey * (ey - 1) * pw[L + 1 + ey - 2] : 0;
            const dzz = dim === 3 && ez > 1 ? ez * (ez - 1) * pw[2 * (L + 1) + ez - 2] : 0;
            // Hessian rows times w
            h0 += c * (dxx * py * pz * w[0] + dx * dy * pz * w[1] + (dim === 3 ? dx * py * dz * w[2] : 0));
            h1 += c * (dx * dy * pz * w[0] + px * dyy * pz * w[1] + (dim === 3 ? px * dy * dz * w[2] : 0));
            if (dim === 3) h2 += c * (dx * py * dz * w[0] + px * dy * dz * w[1] + px * py * dzz * w[2]);
          }
        }
        hvA[h] = v;
        hg[h * 3] = g0;
        hg[h * 3 + 1] = g1;
        hg[h * 3 + 2] = g2;
        hh[h * 3] = h0;
        hh[h * 3 + 1] = h1;
        hh[h * 3 + 2] = h2;
      }
    }
    const an = this.basis.atomBase.n;
    const ah = this.basis.atomBase.h;
    const al = this.basis.atomBase.l;
    const phi = this.phi;
    const grad = this.grad;
    const hw = this.hw;
    const po = p * nA;
    const ir = 1 / r;
    const rlp = this.rlp;
    rlp[0] = 1;
    for (let q = 1; q <= L; q++) rlp[q] = rlp[q - 1] * ir;
    const hvA = this.hv;
    const hgA = this.hg;
    const hhA = this.hh;
    for (let al0 = 0; al0 < nA; al0++) {
      const n = an[al0];
      const h = ah[al0];
      let g = rad[3 * n];
      let g1 = rad[3 * n + 1];
      let g2 = rad[3 * n + 2];
      const go = (po + al0) * dim;
      if (h < 0) {
        phi[po + al0] = g;
        for (let a = 0; a < dim; a++) grad[go + a] = g1 * e[a];
        if (withHess) {
          const ce = (g2 - g1 * ir) * ew;
          const cw = g1 * ir;
          for (let a = 0; a < dim; a++) hw[go + a] = ce * e[a] + cw * w[a];
        }
        continue;
      }
      const l = al[al0];
      const rl = rlp[l];
      // g = R r^-l, g' = (R' - l R / r) r^-l, g'' = (R'' - 2 l R'/r + l(l+1) R / r^2) r^-l
      const G = g * rl;
      const G1 = (g1 - (l * g) * ir) * rl;
      const G2 = (g2 - (2 * l * g1) * ir + (l * (l + 1) * g) * ir * ir) * rl;
      g = G;
      g1 = G1;
      g2 = G2;
      const H = hvA[h];
      phi[po + al0] = g * H;
      let gHw = 0;
      for (let a = 0; a < dim; a++) {
        grad[go + a] = g1 * e[a] * H + g * hgA[h * 3 + a];
        if (withHess) gHw += hgA[h * 3 + a] * w[a];
      }
      if (withHess) {
        const ce = (g2 - g1 * ir) * ew * H + g1 * gHw;
        const cw = g1 * ir * H;
        const cg = g1 * ew;
        for (let a = 0; a < dim; a++) hw[go + a] = ce * e[a] + cw * w[a] + cg * hgA[h * 3 + a] + g * hhA[h * 3 + a];
      }
    }
  }

  /** Gathers the in-cutoff neighbours of site i into the pair scratch; returns their count. */
  private gather(s: Structure, nl: NeighbourList, i: number, fns: CompiledFunctions): number {
    const dim = this.dim;
    const x = s.positions;
    const { offsets, index, shift } = nl;
    const rc = this.cutoff;
    this.grow(offsets[i + 1] - offsets[i], fns);
    let np = 0;
    for (let q = offsets[i]; q < offsets[i + 1]; q++) {
      const j = index[q];
      let r2 = 0;
      for (let a = 0; a < dim; a++) {
        const da = x[j * dim + a] + shift[q * dim + a] - x[i * dim + a];
        this.pd[np * 4 + a] = da;
        r2 += da * da;
      }
      const r = Math.sqrt(r2);
      if (r >= rc) continue;
      this.pd[np * 4 + 3] = r;
      this.pj[np] = j;
      np++;
    }
    return np;
  }

  /** Values f_k and partials D (over supports) of every function at the current site's A. */
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

  /** Energies, site energies, forces and virials of the K functions (outputs accumulated into zeroed arrays). */
  evaluate(s: Structure, nl: NeighbourList, fns: CompiledFunctions, out: KernelOutputs): void {
    this.checkList(s, nl);
    const dim = this.dim;
    const n = nl.n;
    const nA = this.nA;
    const K = fns.K;
    const N3 = n * dim;
    const { supStart, supAlpha } = fns;
    const needGrad = !!(out.forces || out.virial);
    for (let i = 0; i < n; i++) {
      const np = this.gather(s, nl, i, fns);
      const A = this.A;
      A.fill(0);
      for (let p = 0; p < np; p++) {
        this.pairBase(p, this.pd[p * 4 + 3], false);
        const po = p * nA;
        for (let a = 0; a < nA; a++) A[a] += this.phi[po + a];
      }
      this.polyDerivs(fns, false);
      if (out.energy) for (let k = 0; k < K; k++) out.energy[k] += this.fval[k];
      if (out.siteEnergies) for (let k = 0; k < K; k++) out.siteEnergies[k * n + i] = this.fval[k];
      if (!needGrad) continue;
      const D = this.dLoc;
      const grad = this.grad;
      const F = out.forces;
      const W = out.virial;
      for (let p = 0; p < np; p++) {
        const j = this.pj[p];
        const go = p * nA * dim;
        const d0 = this.pd[p * 4];
        const d1 = this.pd[p * 4 + 1];
        const d2 = this.pd[p * 4 + 2];
        for (let k = 0; k < K; k++) {
          let g0 = 0;
          let g1 = 0;
          let g2 = 0;
          if (dim === 2) {
            for (let q = supStart[k]; q < supStart[k + 1]; q++) {
              const c = D[q];
              const o = go + supAlpha[q] * 2;
              g0 += c * grad[o];
              g1 += c * grad[o + 1];
            }
          } else {
            for (let q = supStart[k]; q < supStart[k + 1]; q++) {
              const c = D[q];
              const o = go + supAlpha[q] * 3;
              g0 += c * grad[o];
              g1 += c * grad[o + 1];
              g2 += c * grad[o + 2];
            }
          }
          if (F) {
            const fo = k * N3;
            F[fo + i * dim] += g0;
            F[fo + j * dim] -= g0;
            F[fo + i * dim + 1] += g1;
            F[fo + j * dim + 1] -= g1;
            if (dim === 3) {
              F[fo + i * dim + 2] += g2;
              F[fo + j * dim + 2] -= g2;
            }
          }
          if (W) {
            const wo = k * dim * dim;
            if (dim === 2) {
              W[wo] -= g0 * d0;
              W[wo + 1] -= g0 * d1;
              W[wo + 2] -= g1 * d0;
              W[wo + 3] -= g1 * d1;
            } else {
              W[wo] -= g0 * d0;
              W[wo + 1] -= g0 * d1;
              W[wo + 2] -= g0 * d2;
              W[wo + 3] -= g1 * d0;
              W[wo + 4] -= g1 * d1;
              W[wo + 5] -= g1 * d2;
              W[wo + 6] -= g2 * d0;
              W[wo + 7] -= g2 * d1;
              W[wo + 8] -= g2 * d2;
            }
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
    const K = fns.K;
    const N3 = n * dim;
    const { supStart, supAlpha } = fns;
    const w = this.w;
    for (let i = 0; i < n; i++) {
      const np = this.gather(s, nl, i, fns);
      const A = this.A;
      const dA = this.dA;
      A.fill(0);
      dA.fill(0);
      for (let p = 0; p < np; p++) {
        const j = this.pj[p];
        for (let a = 0; a < dim; a++) w[a] = v[j * dim + a] - v[i * dim + a];
        this.pairBase(p, this.pd[p * 4 + 3], true);
        const po = p * nA;
        for (let a = 0; a < nA; a++) {
          A[a] += this.phi[po + a];
          let t = 0;
          for (let b = 0; b < dim; b++) t += this.grad[(po + a) * dim + b] * w[b];
          dA[a] += t;
        }
      }
      this.polyDerivs(fns, true);
      const D = this.dLoc;
      const S = this.sLoc;
      for (let p = 0; p < np; p++) {
        const j = this.pj[p];
        const go = p * nA * dim;
        for (let k = 0; k < K; k++) {
          const fo = k * N3;
          for (let b = 0; b < dim; b++) {
            let g = 0;
            for (let q = supStart[k]; q < supStart[k + 1]; q++) {
              const o = go + supAlpha[q] * dim + b;
              g += S[q] * this.grad[o] + D[q] * this.hw[o];
            }
            out[fo + j * dim + b] += g;
            out[fo + i * dim + b] -= g;
          }
        }
      }
    }
  }
}
