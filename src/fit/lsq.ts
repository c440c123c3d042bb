import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { FitError, ParameterError } from '../util/errors.ts';

/**
 * Incremental (row-blocked) Householder QR of the augmented weighted system [W B | W y].
 *
 * Only the (K+1) x (K+1) upper-triangular factor is kept: each block of rows is folded into it by Householder
 * reflections and then discarded, so fitting 10^5 rows x 200 columns needs the current block plus a 201^2 triangle,
 * never the full design matrix or the normal equations (whose condition number is the square of the problem's).
 * The last column carries Q^T y; its final diagonal entry is (up to sign) the least-squares residual norm.
 * Blocks are column-major (column c of a block with b rows is block[c*b .. c*b+b)), so the reflections run over
 * contiguous memory. Cost: about 2 K^2 flops per row.
 */
export class IncrementalQR {
  readonly K: number;
  /** (K+1) x (K+1) row-major upper triangle. */
  readonly R: Float64Array;
  rows = 0;
  constructor(K: number) {
    if (!Number.isInteger(K) || K < 1) throw new ParameterError(`least squares needs at least one column, got ${K}`);
    this.K = K;
    this.R = new Float64Array((K + 1) * (K + 1));
  }

  /** Folds b rows (column-major, K+1 columns: K design columns then the right-hand side) into R; block is clobbered. */
  addBlock(block: Float64Array, b: number): void {
    const K1 = this.K + 1;
    if (block.length < K1 * b) throw new ParameterError(`block has ${block.length} entries, expected ${K1 * b}`);
    const R = this.R;
    for (let j = 0; j < K1; j++) {
      const bj = j * b;
      let sigma = 0;
      for (let i = 0; i < b; i++) sigma += block[bj + i] * block[bj + i];
      if (sigma === 0) continue;
      const x0 = R[j * K1 + j];
      const norm = Math.sqrt(x0 * x0 + sigma);
      const alpha = x0 >= 0 ? -norm : norm;
      const v0 = x0 - alpha;
      const tau = 2 / (v0 * v0 + sigma);
      R[j * K1 + j] = alpha;
      for (let c = j + 1; c < K1; c++) {
        const bc = c * b;
        let s = v0 * R[j * K1 + c];
        for (let i = 0; i < b; i++) s += block[bj + i] * block[bc + i];
        s *= tau;
        if (s === 0) continue;
        R[j * K1 + c] -= s * v0;
        for (let i = 0; i < b; i++) block[bc + i] -= s * block[bj + i];
      }
    }
    this.rows += b;
  }

  /** Adds the rows sqrt(lambda) * gamma_k e_k (right-hand side 0): the Tikhonov / smoothness prior. */
  addDiagonalPrior(diag: Float64Array): void {
    const K = this.K;
    const block = new Float64Array((K + 1) * K);
    for (let k = 0; k < K; k++) block[k * K + k] = diag[k];
    this.addBlock(block, K);
    this.rows -= K;
  }

  clone(): IncrementalQR {
    const q = new IncrementalQR(this.K);
    q.R.set(this.R);
    q.rows = this.rows;
    return q;
  }

  /** Residual norm of the least-squares problem accumulated so far: |R[K][K]|. */
  residualNorm(): number {
    const K1 = this.K + 1;
    return Math.abs(this.R[K1 * K1 - 1]);
  }
}

export interface SolveOptions {
  /** Singular values below rcond * sigma_max (of the column-scaled triangle) count as zero. Default 1e-12. */
  rcond?: number;
  /** Throw FitError instead of returning a minimum-norm solution when the problem is rank deficient. */
  requireUnique?: boolean;
}

export interface SolveResult {
  coefficients: Float64Array;
  rank: number;
  /** sigma_max / sigma_min of the column-scaled triangle (Infinity when singular). */
  condition: number;
  singularValues: Float64Array;
  method: 'qr' | 'svd-minimum-norm';
  /** Columns whose weighted norm is zero (no observation constrains them). */
  zeroColumns: number[];
  columnNorms: Float64Array;
}

/**
 * Solves min |R c - Q^T y| from the triangle: column scaling (unit column norms, so the condition number measures the
 * basis, not its units), an SVD of the K x K scaled triangle for rank and condition, back substitution when the rank
 * is full, the minimum-norm solution (in scaled coordinates) otherwise, or a FitError if the caller required a unique
 * fit.
 */
export function solveTriangle(qr: IncrementalQR, opts: SolveOptions = {}): SolveResult {
  const K = qr.K;
  const K1 = K + 1;
  const R = qr.R;
  const rcond = opts.rcond ?? 1e-12;
  const colNorms = new Float64Array(K);
  const zeroColumns: number[] = [];
  for (let c = 0; c < K; c++) {
    let s = 0;
    for (let r = 0; r <= c; r++) s += R[r * K1 + c] ** 2;
    colNorms[c] = Math.sqrt(s);
    if (colNorms[c] === 0) zeroColumns.push(c);
  }
  const scale = colNorms.map((v) => (v > 0 ? 1 / v : 1));
  const M = new Matrix(K, K);
  for (let r = 0; r < K; r++) for (let c = r; c < K; c++) M.set(r, c, R[r * K1 + c] * scale[c]);
  const qty = new Float64Array(K);
  for (let r = 0; r < K; r++) qty[r] = R[r * K1 + K];
  const svd = new SingularValueDecomposition(M, { autoTranspose: false });
  const sv = Float64Array.from(svd.diagonal);
  const smax = sv.length ? Math.max(...sv) : 0;
  const smin = sv.length ? Math.min(...sv) : 0;
  const tol = rcond * smax;
  let rank = 0;
  for (const s of sv) if (s > tol) rank++;
  const condition = smin > 0 ? smax / smin : Infinity;
  const z = new Float64Array(K);
  let method: SolveResult['method'] = 'qr';
  if (rank === K) {
    for (let r = K - 1; r >= 0; r--) {
      let s = qty[r];
      for (let c = r + 1; c < K; c++) s -= M.get(r, c) * z[c];
      z[r] = s / M.get(r, r);
    }
  } else {
    if (opts.requireUnique) {
      throw new FitError(
        `least-squares problem is rank deficient: rank ${rank} of ${K} columns (condition ${condition.toExponential(3)}); ` +
          `add observations or configurations, regularise (lambda > 0), or allow a minimum-norm solution`,
        { rank, columns: K, condition, zeroColumns },
      );
    }
    method = 'svd-minimum-norm';
    const U = svd.leftSingularVectors;
    const V = svd.rightSingularVectors;
    for (let q = 0; q < K; q++) {
      if (!(sv[q] > tol)) continue;
      let t = 0;
      for (let r = 0; r < K; r++) t += U.get(r, q) * qty[r];
      t /= sv[q];
      for (let c = 0; c < K; c++) z[c] += V.get(c, q) * t;
    }
  }
  const coefficients = new Float64Array(K);
  for (let c = 0; c < K; c++) coefficients[c] = z[c] * scale[c];
  return { coefficients, rank, condition, singularValues: sv, method, zeroColumns, columnNorms: colNorms };
}
