import { SparseCholesky, type SymCsc } from './sparse.ts';

/**
 * Smoothed-aggregation algebraic multigrid (Vanek, Mandel & Brezina, Computing 56 (1996)) for the lattice-Laplacian
 * preconditioner, applied as one symmetric V-cycle: a fixed symmetric positive-definite approximation of L^{-1}.
 *
 * Why: in 3D the exact sparse Cholesky factor of L has O(N^{4/3}) entries and costs O(N^2) flops to build (a
 * 31,999-atom fcc cell: a factor far larger than the matrix, each solve several force evaluations). A V-cycle costs a
 * few sparse matrix-vector products, O(N), and keeps P^{-1} L spectrally close to I (condition number O(1),
 * independent of N), which is all a preconditioner of L-BFGS or of CG needs: what makes the preconditioned solvers
 * take few steps is the spectral equivalence of L and the Hessian, not exactness of the solve.
 *
 * Construction: aggregates of a node and its graph neighbours (the constant vector, L's near-null space, is kept
 * exactly on every level), tentative prolongator = aggregate indicator, smoothed by one damped Jacobi step
 * P = (I - omega D^{-1} A) T with omega = 4 / (3 rho), rho <= max_i sum_j |a_ij| / a_ii (Gershgorin), Galerkin
 * coarse operators P^T A P, down to <= `coarseSize` unknowns, which are factorised exactly (sparse Cholesky).
 * Smoothing: one forward Gauss-Seidel sweep before and one backward sweep after the coarse correction, so that the
 * V-cycle is a symmetric operator. All `k` right-hand sides (the Cartesian components, stored atom-major) are
 * processed in the same sweep.
 */

/** Square or rectangular sparse matrix by rows. */
interface Csr {
  readonly rows: number;
  readonly cols: number;
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly val: Float64Array;
}

interface Level {
  A: Csr;
  /** Prolongator (rows: this level, cols: next level) and its transpose. */
  P: Csr;
  R: Csr;
  invDiag: Float64Array;
  /** Scratch (rows * k): residual; next level's right-hand side and correction. */
  r: Float64Array;
  bc: Float64Array;
  xc: Float64Array;
}

export interface AmgOptions {
  /** Stop coarsening at this many unknowns (then factorise exactly); default 400. */
  coarseSize?: number;
  /** Number of V-cycles per application (a fixed SPD operator for any count); default 1. */
  cycles?: number;
}

function fromSym(A: SymCsc): Csr {
  return { rows: A.n, cols: A.n, ptr: A.colPtr, idx: A.rowIdx, val: A.values };
}

function transpose(M: Csr): Csr {
  const cnt = new Int32Array(M.cols + 1);
  for (let p = 0; p < M.ptr[M.rows]; p++) cnt[M.idx[p] + 1]++;
  for (let j = 0; j < M.cols; j++) cnt[j + 1] += cnt[j];
  const ptr = cnt.slice();
  const idx = new Int32Array(M.ptr[M.rows]);
  const val = new Float64Array(M.ptr[M.rows]);
  const next = cnt.slice(0, M.cols);
  for (let i = 0; i < M.rows; i++) {
    for (let p = M.ptr[i]; p < M.ptr[i + 1]; p++) {
      const q = next[M.idx[p]]++;
      idx[q] = i;
      val[q] = M.val[p];
    }
  }
  return { rows: M.cols, cols: M.rows, ptr, idx, val };
}

/** C = A B (Gustavson, dense accumulator with a marker). */
function multiply(A: Csr, B: Csr): Csr {
  const n = A.rows;
  const mark = new Int32Array(B.cols).fill(-1);
  const acc = new Float64Array(B.cols);
  let cap = Math.max(16, A.ptr[n] + B.ptr[B.rows]);
  let idx = new Int32Array(cap);
  let val = new Float64Array(cap);
  const ptr = new Int32Array(n + 1);
  let nz = 0;
  for (let i = 0; i < n; i++) {
    const start = nz;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) {
      const a = A.val[p];
      const k = A.idx[p];
      for (let q = B.ptr[k]; q < B.ptr[k + 1]; q++) {
        const j = B.idx[q];
        if (mark[j] < start) {
          mark[j] = nz;
          if (nz === cap) {
            cap *= 2;
            const i2 = new Int32Array(cap);
            i2.set(idx);
            idx = i2;
            const v2 = new Float64Array(cap);
            v2.set(val);
            val = v2;
          }
          idx[nz++] = j;
          acc[j] = a * B.val[q];
        } else acc[j] += a * B.val[q];
      }
    }
    for (let p = start; p < nz; p++) val[p] = acc[idx[p]];
    ptr[i + 1] = nz;
  }
  return { rows: n, cols: B.cols, ptr, idx: idx.slice(0, nz), val: val.slice(0, nz) };
}

/** Aggregates of the matrix graph (all off-diagonal entries count as connections). Returns agg[i] and the count. */
function aggregate(A: Csr): { agg: Int32Array; count: number } {
  const n = A.rows;
  const agg = new Int32Array(n).fill(-1);
  let count = 0;
  // Phase 1: a node whose neighbours are all unaggregated seeds an aggregate of itself and its neighbours.
  for (let i = 0; i < n; i++) {
    if (agg[i] >= 0) continue;
    let free = true;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) {
      if (agg[A.idx[p]] >= 0) {
        free = false;
        break;
      }
    }
    if (!free) continue;
    agg[i] = count;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) agg[A.idx[p]] = count;
    count++;
  }
  // Phase 2: leftover nodes join the aggregate they are most strongly connected to (phase-1 aggregates only).
  const phase1 = agg.slice();
  for (let i = 0; i < n; i++) {
    if (phase1[i] >= 0) continue;
    let best = -1;
    let bw = 0;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) {
      const j = A.idx[p];
      const w = -A.val[p];
      if (j !== i && phase1[j] >= 0 && w > bw) {
        bw = w;
        best = phase1[j];
      }
    }
    if (best >= 0) agg[i] = best;
  }
  // Phase 3: nodes without any aggregated neighbour (isolated pieces) form aggregates with their free neighbours.
  for (let i = 0; i < n; i++) {
    if (agg[i] >= 0) continue;
    agg[i] = count;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) if (agg[A.idx[p]] < 0) agg[A.idx[p]] = count;
    count++;
  }
  return { agg, count };
}

function diagonal(A: Csr): Float64Array {
  const d = new Float64Array(A.rows);
  for (let i = 0; i < A.rows; i++) {
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) if (A.idx[p] === i) d[i] += A.val[p];
  }
  return d;
}

/** Smoothed prolongator P = (I - omega D^{-1} A) T for the aggregate indicator T. */
function prolongator(A: Csr, agg: Int32Array, count: number, invDiag: Float64Array): Csr {
  const n = A.rows;
  let rho = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) s += Math.abs(A.val[p]);
    rho = Math.max(rho, s * invDiag[i]);
  }
  const omega = 4 / (3 * rho);
  const mark = new Int32Array(count).fill(-1);
  const acc = new Float64Array(count);
  const ptr = new Int32Array(n + 1);
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = idx.length;
    const add = (c: number, v: number): void => {
      if (mark[c] < start) {
        mark[c] = idx.length;
        idx.push(c);
        acc[c] = v;
      } else acc[c] += v;
    };
    add(agg[i], 1);
    const s = -omega * invDiag[i];
    for (let p = A.ptr[i]; p < A.ptr[i + 1]; p++) add(agg[A.idx[p]], s * A.val[p]);
    for (let p = start; p < idx.length; p++) val.push(acc[idx[p]]);
    ptr[i + 1] = idx.length;
  }
  return { rows: n, cols: count, ptr, idx: Int32Array.from(idx), val: Float64Array.from(val) };
}

export class AmgHierarchy {
  readonly levels: Level[] = [];
  readonly coarse: SparseCholesky;
  readonly coarseA: Csr;
  /** Sum of nonzeros over all levels / nonzeros of the finest matrix (work per V-cycle relative to a matvec). */
  readonly operatorComplexity: number;
  readonly cycles: number;
  private readonly k: number;
  private readonly xc0: Float64Array;
  private readonly bc0: Float64Array;
  private readonly r0: Float64Array;
  private readonly x1: Float64Array;

  /** Hierarchy for the SPD matrix A (both triangles stored), for k right-hand sides stored interleaved. */
  constructor(A0: SymCsc, k: number, opts: AmgOptions = {}) {
    const coarseSize = opts.coarseSize ?? 400;
    this.cycles = opts.cycles ?? 1;
    this.k = k;
    let A = fromSym(A0);
    let nnz = A.ptr[A.rows];
    const nnz0 = nnz;
    while (A.rows > coarseSize) {
      const { agg, count } = aggregate(A);
      if (count >= A.rows * 0.9) break; // no real coarsening (e.g. a graph without edges)
      const d = diagonal(A);
      const invDiag = new Float64Array(A.rows);
      for (let i = 0; i < A.rows; i++) invDiag[i] = 1 / d[i];
      const P = prolongator(A, agg, count, invDiag);
      const R = transpose(P);
      const Ac = multiply(R, multiply(A, P));
      this.levels.push({
        A,
        P,
        R,
        invDiag,
        r: new Float64Array(A.rows * k),
        bc: new Float64Array(count * k),
        xc: new Float64Array(count * k),
      });
      A = Ac;
      nnz += A.ptr[A.rows];
    }
    this.coarseA = A;
    const sym: SymCsc = { n: A.rows, colPtr: A.ptr, rowIdx: A.idx, values: A.val };
    this.coarse = SparseCholesky.factor(sym, Int32Array.from({ length: A.rows }, (_, i) => i));
    this.operatorComplexity = nnz / nnz0;
    const n0 = A0.n * k;
    this.xc0 = new Float64Array(A.rows);
    this.bc0 = new Float64Array(A.rows);
    this.r0 = new Float64Array(n0);
    this.x1 = new Float64Array(n0);
  }

  /** x = B b, B the (cycles-fold) V-cycle approximation of A^{-1}; b, x of length n * k, interleaved. */
  apply(b: Float64Array, x: Float64Array): void {
    this.vcycle(0, b, x);
    for (let c = 1; c < this.cycles; c++) {
      // x <- x + B (b - A x): the stationary iteration, still a fixed symmetric operator of b.
      const A = this.levels.length ? this.levels[0].A : this.coarseA;
      const r = this.r0;
      residual(A, this.k, b, x, r);
      this.vcycle(0, r, this.x1);
      for (let i = 0; i < x.length; i++) x[i] += this.x1[i];
    }
  }

  private vcycle(l: number, b: Float64Array, x: Float64Array): void {
    const k = this.k;
    if (l === this.levels.length) {
      const A = this.coarseA;
      const n = A.rows;
      for (let c = 0; c < k; c++) {
        for (let i = 0; i < n; i++) this.bc0[i] = b[i * k + c];
        this.coarse.solveStrided(this.bc0, this.xc0);
        for (let i = 0; i < n; i++) x[i * k + c] = this.xc0[i];
      }
      return;
    }
    const L = this.levels[l];
    const { A, P, R, invDiag } = L;
    x.fill(0);
    gaussSeidel(A, k, invDiag, b, x, true);
    residual(A, k, b, x, L.r);
    // bc = R r
    spmv(R, k, L.r, L.bc);
    this.vcycle(l + 1, L.bc, L.xc);
    // x += P xc
    spmvAdd(P, k, L.xc, x);
    gaussSeidel(A, k, invDiag, b, x, false);
  }
}

function gaussSeidel(A: Csr, k: number, invDiag: Float64Array, b: Float64Array, x: Float64Array, forward: boolean): void {
  const { ptr, idx, val } = A;
  const n = A.rows;
  if (k === 3) {
    for (let t = 0; t < n; t++) {
      const i = forward ? t : n - 1 - t;
      let s0 = b[3 * i];
      let s1 = b[3 * i + 1];
      let s2 = b[3 * i + 2];
      let dii = 0;
      for (let p = ptr[i]; p < ptr[i + 1]; p++) {
        const j = idx[p];
        const a = val[p];
        if (j === i) {
          dii += a;
          continue;
        }
        s0 -= a * x[3 * j];
        s1 -= a * x[3 * j + 1];
        s2 -= a * x[3 * j + 2];
      }
      const inv = dii !== 0 ? 1 / dii : invDiag[i];
      x[3 * i] = s0 * inv;
      x[3 * i + 1] = s1 * inv;
      x[3 * i + 2] = s2 * inv;
    }
    return;
  }
  const s = new Float64Array(k);
  for (let t = 0; t < n; t++) {
    const i = forward ? t : n - 1 - t;
    for (let c = 0; c < k; c++) s[c] = b[i * k + c];
    let dii = 0;
    for (let p = ptr[i]; p < ptr[i + 1]; p++) {
      const j = idx[p];
      const a = val[p];
      if (j === i) {
        dii += a;
        continue;
      }
      for (let c = 0; c < k; c++) s[c] -= a * x[j * k + c];
    }
    const inv = dii !== 0 ? 1 / dii : invDiag[i];
    for (let c = 0; c < k; c++) x[i * k + c] = s[c] * inv;
  }
}

function residual(A: Csr, k: number, b: Float64Array, x: Float64Array, r: Float64Array): void {
  const { ptr, idx, val } = A;
  for (let i = 0; i < A.rows; i++) {
    for (let c = 0; c < k; c++) {
      let s = b[i * k + c];
      for (let p = ptr[i]; p < ptr[i + 1]; p++) s -= val[p] * x[idx[p] * k + c];
      r[i * k + c] = s;
    }
  }
}

function spmv(M: Csr, k: number, x: Float64Array, y: Float64Array): void {
  const { ptr, idx, val } = M;
  for (let i = 0; i < M.rows; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let p = ptr[i]; p < ptr[i + 1]; p++) s += val[p] * x[idx[p] * k + c];
      y[i * k + c] = s;
    }
  }
}

function spmvAdd(M: Csr, k: number, x: Float64Array, y: Float64Array): void {
  const { ptr, idx, val } = M;
  for (let i = 0; i < M.rows; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let p = ptr[i]; p < ptr[i + 1]; p++) s += val[p] * x[idx[p] * k + c];
      y[i * k + c] += s;
    }
  }
}
