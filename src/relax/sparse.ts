import { ConvergenceError } from '../util/errors.ts';

/**
 * Sparse symmetric positive-definite matrices and their Cholesky factorisation, hand-written on typed arrays.
 *
 * Why a direct solver: the preconditioner of L-BFGS and Newton-Krylov is applied once or more per iteration, and an
 * iterative inner solve (CG on a lattice Laplacian) needs O(R) iterations in a domain of radius R, which would cost
 * more than the force evaluation it is meant to save. With a nested-dissection ordering computed from the atom
 * positions, the factor of a 2D lattice Laplacian has O(N log N) entries and costs O(N^1.5) flops once; each solve
 * is then two triangular sweeps over the factor (a few force-evaluation equivalents at most).
 *
 * The factorisation is the up-looking algorithm of T. Davis, "Direct Methods for Sparse Linear Systems" (SIAM 2006):
 * elimination tree, row patterns by tree reach, column counts by one symbolic pass, then the numeric pass.
 */

/** Symmetric matrix in CSC form storing BOTH triangles (row indices sorted per column not required). */
export interface SymCsc {
  readonly n: number;
  readonly colPtr: Int32Array;
  readonly rowIdx: Int32Array;
  readonly values: Float64Array;
}

/** Build a symmetric CSC matrix from (i, j, v) triplets of the full matrix (duplicates are summed). */
export function symFromTriplets(n: number, ti: Int32Array, tj: Int32Array, tv: Float64Array, nnz: number): SymCsc {
  const count = new Int32Array(n + 1);
  for (let k = 0; k < nnz; k++) count[tj[k] + 1]++;
  for (let j = 0; j < n; j++) count[j + 1] += count[j];
  const colPtr = count.slice();
  const rowIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  const next = count.slice(0, n);
  for (let k = 0; k < nnz; k++) {
    const p = next[tj[k]]++;
    rowIdx[p] = ti[k];
    values[p] = tv[k];
  }
  // Sum duplicates in place (column by column) with a marker array.
  const mark = new Int32Array(n).fill(-1);
  const outPtr = new Int32Array(n + 1);
  let w = 0;
  for (let j = 0; j < n; j++) {
    const start = w;
    for (let p = colPtr[j]; p < colPtr[j + 1]; p++) {
      const i = rowIdx[p];
      if (mark[i] >= start) values[mark[i]] += values[p];
      else {
        mark[i] = w;
        rowIdx[w] = i;
        values[w] = values[p];
        w++;
      }
    }
    outPtr[j + 1] = w;
  }
  return { n, colPtr: outPtr, rowIdx: rowIdx.slice(0, w), values: values.slice(0, w) };
}

/** y = A x. */
export function symMatVec(A: SymCsc, x: Float64Array, y: Float64Array): void {
  y.fill(0);
  for (let j = 0; j < A.n; j++) {
    const xj = x[j];
    for (let p = A.colPtr[j]; p < A.colPtr[j + 1]; p++) y[A.rowIdx[p]] += A.values[p] * xj;
  }
}

/** C = P A P^T (symmetric permutation; perm[k] = old index of new index k), keeping both triangles. */
function permute(A: SymCsc, perm: Int32Array): SymCsc {
  const n = A.n;
  const inv = new Int32Array(n);
  for (let k = 0; k < n; k++) inv[perm[k]] = k;
  const colPtr = new Int32Array(n + 1);
  for (let k = 0; k < n; k++) colPtr[k + 1] = colPtr[k] + (A.colPtr[perm[k] + 1] - A.colPtr[perm[k]]);
  const rowIdx = new Int32Array(A.rowIdx.length);
  const values = new Float64Array(A.values.length);
  for (let k = 0; k < n; k++) {
    const j = perm[k];
    let q = colPtr[k];
    for (let p = A.colPtr[j]; p < A.colPtr[j + 1]; p++) {
      rowIdx[q] = inv[A.rowIdx[p]];
      values[q++] = A.values[p];
    }
  }
  return { n, colPtr, rowIdx, values };
}

/**
 * Nested-dissection ordering from coordinates (recursive coordinate bisection): split the vertices at the median of
 * the widest coordinate, take as separator the vertices of the lower half with a neighbour in the upper half, order
 * both halves recursively and the separator last. Separators of a d-dimensional lattice graph have O(n^{(d-1)/d})
 * vertices, which is what keeps the Cholesky fill near-linear in 2D.
 */
export function nestedDissection(A: SymCsc, coords: Float64Array, dim: number, leaf = 64): Int32Array {
  const n = A.n;
  const perm = new Int32Array(n);
  let out = 0;
  const side = new Int8Array(n); // scratch: 0 = unset, 1 = lower, 2 = upper, 3 = separator
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  // Explicit stack of [start, end, phase]; phase 0: split, phase 1: emit separator stored at [sepStart, end).
  type Task = { s: number; e: number; sep: number };
  const stack: Task[] = [{ s: 0, e: n, sep: -1 }];
  const key = new Float64Array(n);
  while (stack.length) {
    const t = stack.pop()!;
    if (t.sep >= 0) {
      for (let k = t.sep; k < t.e; k++) perm[out++] = idx[k];
      continue;
    }
    const m = t.e - t.s;
    if (m <= leaf) {
      for (let k = t.s; k < t.e; k++) perm[out++] = idx[k];
      continue;
    }
    // Widest axis over this subset.
    let best = 0;
    let bestW = -1;
    for (let a = 0; a < dim; a++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let k = t.s; k < t.e; k++) {
        const v = coords[idx[k] * dim + a];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > bestW) {
        bestW = hi - lo;
        best = a;
      }
    }
    const sub = idx.subarray(t.s, t.e);
    for (let k = 0; k < m; k++) key[k] = coords[sub[k] * dim + best] + 1e-9 * (sub[k] / n); // tie-break: stable
    const order = Array.from({ length: m }, (_, k) => k).sort((p, q) => key[p] - key[q]);
    const sorted = Int32Array.from(order, (k) => sub[k]);
    const half = m >> 1;
    for (let k = 0; k < m; k++) side[sorted[k]] = k < half ? 1 : 2;
    for (let k = 0; k < half; k++) {
      const v = sorted[k];
      for (let p = A.colPtr[v]; p < A.colPtr[v + 1]; p++) {
        if (side[A.rowIdx[p]] === 2) {
          side[v] = 3;
          break;
        }
      }
    }
    let w = t.s;
    for (let k = 0; k < m; k++) if (side[sorted[k]] === 1) idx[w++] = sorted[k];
    const midA = w;
    for (let k = 0; k < m; k++) if (side[sorted[k]] === 2) idx[w++] = sorted[k];
    const midB = w;
    for (let k = 0; k < m; k++) if (side[sorted[k]] === 3) idx[w++] = sorted[k];
    for (let k = 0; k < m; k++) side[sorted[k]] = 0;
    if (midA === t.s || midB === midA) {
      // Degenerate split (no progress): emit as a leaf.
      for (let k = t.s; k < t.e; k++) perm[out++] = idx[k];
      continue;
    }
    stack.push({ s: t.s, e: t.e, sep: midB });
    stack.push({ s: midA, e: midB, sep: -1 });
    stack.push({ s: t.s, e: midA, sep: -1 });
  }
  return perm;
}

/** A sparse Cholesky factor P A P^T = L L^T with L stored by columns, diagonal entry first in each column. */
export class SparseCholesky {
  readonly n: number;
  readonly perm: Int32Array;
  readonly Lp: Int32Array;
  readonly Li: Int32Array;
  readonly Lx: Float64Array;
  private readonly work: Float64Array;

  private constructor(n: number, perm: Int32Array, Lp: Int32Array, Li: Int32Array, Lx: Float64Array) {
    this.n = n;
    this.perm = perm;
    this.Lp = Lp;
    this.Li = Li;
    this.Lx = Lx;
    this.work = new Float64Array(n);
  }

  get nnz(): number {
    return this.Lp[this.n];
  }

  /** Symbolic size of the factor (entries of L) for an ordering, without the numeric work. */
  static factorSize(A: SymCsc, perm: Int32Array): number {
    const C = permute(A, perm);
    const parent = etree(C);
    const counts = columnCounts(C, parent);
    let s = 0;
    for (let i = 0; i < C.n; i++) s += counts[i];
    return s;
  }

  /** Factor A (SPD). Throws ConvergenceError if A is not numerically positive definite. */
  static factor(A: SymCsc, perm: Int32Array): SparseCholesky {
    const n = A.n;
    const C = permute(A, perm);
    const parent = etree(C);
    const counts = columnCounts(C, parent);
    const Lp = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) Lp[i + 1] = Lp[i] + counts[i];
    const Li = new Int32Array(Lp[n]);
    const Lx = new Float64Array(Lp[n]);
    const c = Lp.slice(0, n);
    const s = new Int32Array(n);
    const w = new Int32Array(n).fill(-1);
    const x = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const top = ereach(C, k, parent, s, w);
      x[k] = 0;
      for (let p = C.colPtr[k]; p < C.colPtr[k + 1]; p++) {
        const i = C.rowIdx[p];
        if (i <= k) x[i] += C.values[p];
      }
      let d = x[k];
      x[k] = 0;
      for (let t = top; t < n; t++) {
        const i = s[t];
        const lki = x[i] / Lx[Lp[i]];
        x[i] = 0;
        for (let p = Lp[i] + 1; p < c[i]; p++) x[Li[p]] -= Lx[p] * lki;
        d -= lki * lki;
        const p = c[i]++;
        Li[p] = k;
        Lx[p] = lki;
      }
      if (!(d > 0)) {
        throw new ConvergenceError(`sparse Cholesky: matrix is not positive definite (pivot ${d} at row ${k})`, {
          row: k,
          pivot: d,
        });
      }
      const p = c[k]++;
      Li[p] = k;
      Lx[p] = Math.sqrt(d);
    }
    return new SparseCholesky(n, perm, Lp, Li, Lx);
  }

  /** Solve A z = b (b and z may alias). Stride/offset let the caller solve one Cartesian component of a flat
   * atom-major vector in place: entries b[off + i * stride]. */
  solveStrided(b: Float64Array, z: Float64Array, stride = 1, off = 0): void {
    const { n, perm, Lp, Li, Lx } = this;
    const y = this.work;
    for (let k = 0; k < n; k++) y[k] = b[off + perm[k] * stride];
    // L y = b
    for (let j = 0; j < n; j++) {
      const yj = (y[j] /= Lx[Lp[j]]);
      for (let p = Lp[j] + 1; p < Lp[j + 1]; p++) y[Li[p]] -= Lx[p] * yj;
    }
    // L^T z = y
    for (let j = n - 1; j >= 0; j--) {
      let t = y[j];
      for (let p = Lp[j] + 1; p < Lp[j + 1]; p++) t -= Lx[p] * y[Li[p]];
      y[j] = t / Lx[Lp[j]];
    }
    for (let k = 0; k < n; k++) z[off + perm[k] * stride] = y[k];
  }
}

/** Elimination tree of a symmetric matrix (uses the upper triangle of each column). */
function etree(A: SymCsc): Int32Array {
  const n = A.n;
  const parent = new Int32Array(n).fill(-1);
  const ancestor = new Int32Array(n).fill(-1);
  for (let k = 0; k < n; k++) {
    for (let p = A.colPtr[k]; p < A.colPtr[k + 1]; p++) {
      let i = A.rowIdx[p];
      while (i !== -1 && i < k) {
        const inext = ancestor[i];
        ancestor[i] = k;
        if (inext === -1) parent[i] = k;
        i = inext;
      }
    }
  }
  return parent;
}

/** Pattern of row k of L (excluding the diagonal) in s[top..n), by reach in the elimination tree. w is a marker
 * array (all -1 on entry and on exit). */
function ereach(A: SymCsc, k: number, parent: Int32Array, s: Int32Array, w: Int32Array): number {
  const n = A.n;
  let top = n;
  w[k] = k;
  for (let p = A.colPtr[k]; p < A.colPtr[k + 1]; p++) {
    let i = A.rowIdx[p];
    if (i > k) continue;
    let len = 0;
    while (w[i] !== k) {
      s[len++] = i; // temporarily at the front; top > len always since the path nodes are distinct and < k
      w[i] = k;
      i = parent[i];
    }
    // Move the path to the top of the stack (reverse order keeps a topological order).
    while (len > 0) s[--top] = s[--len];
  }
  for (let t = top; t < n; t++) w[s[t]] = -1;
  w[k] = -1;
  return top;
}

/** Column counts of L (including the diagonal) by one symbolic pass over the row patterns. */
function columnCounts(A: SymCsc, parent: Int32Array): Int32Array {
  const n = A.n;
  const counts = new Int32Array(n).fill(1);
  const s = new Int32Array(n);
  const w = new Int32Array(n).fill(-1);
  for (let k = 0; k < n; k++) {
    const top = ereach(A, k, parent, s, w);
    for (let t = top; t < n; t++) counts[s[t]]++;
  }
  return counts;
}
