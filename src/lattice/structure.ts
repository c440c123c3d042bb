import { GeometryError } from '../util/errors.ts';

export type Dim = 2 | 3;

/**
 * A configuration of atoms: flat positions (atom-major, `dim` components each) and, for a periodic structure, the
 * cell (row i = cell vector i, row-major dim*dim). A null cell means open boundaries. Single species.
 */
export interface Structure {
  readonly dim: Dim;
  readonly positions: Float64Array;
  readonly cell: Float64Array | null;
}

export function atomCount(s: Structure): number {
  return s.positions.length / s.dim;
}

export function withPositions(s: Structure, positions: Float64Array): Structure {
  return { dim: s.dim, positions, cell: s.cell };
}

/** Determinant of a dim*dim row-major matrix. */
export function det(m: Float64Array | number[], dim: Dim): number {
  if (dim === 2) return m[0] * m[3] - m[1] * m[2];
  return (
    m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
  );
}

/** Inverse of a dim*dim row-major matrix. */
export function inverse(m: Float64Array, dim: Dim): Float64Array {
  const D = det(m, dim);
  if (!(Math.abs(D) > 0)) throw new GeometryError('cell matrix is singular (zero volume)');
  if (dim === 2) return Float64Array.of(m[3] / D, -m[1] / D, -m[2] / D, m[0] / D);
  const r = new Float64Array(9);
  r[0] = (m[4] * m[8] - m[5] * m[7]) / D;
  r[1] = (m[2] * m[7] - m[1] * m[8]) / D;
  r[2] = (m[1] * m[5] - m[2] * m[4]) / D;
  r[3] = (m[5] * m[6] - m[3] * m[8]) / D;
  r[4] = (m[0] * m[8] - m[2] * m[6]) / D;
  r[5] = (m[2] * m[3] - m[0] * m[5]) / D;
  r[6] = (m[3] * m[7] - m[4] * m[6]) / D;
  r[7] = (m[1] * m[6] - m[0] * m[7]) / D;
  r[8] = (m[0] * m[4] - m[1] * m[3]) / D;
  return r;
}

/** Volume (area in 2D) of a cell. */
export function cellVolume(cell: Float64Array, dim: Dim): number {
  return Math.abs(det(cell, dim));
}

/**
 * Perpendicular widths of a cell: the distance between the pair of faces opposite cell vector k. A periodic image is
 * at least min(width) away, so these decide how large a cutoff the cell can carry.
 */
export function perpendicularWidths(cell: Float64Array, dim: Dim): number[] {
  const inv = inverse(cell, dim);
  // Face normal of vector k is column k of inv; width_k = 1 / |column k|.
  const w: number[] = [];
  for (let k = 0; k < dim; k++) {
    let s = 0;
    for (let a = 0; a < dim; a++) s += inv[a * dim + k] ** 2;
    w.push(1 / Math.sqrt(s));
  }
  return w;
}

/** Throw a GeometryError naming the first atom whose coordinate is NaN or infinite. */
export function assertFinitePositions(s: Structure): void {
  const { positions, dim } = s;
  if (positions.length % dim !== 0) {
    throw new GeometryError(`positions array has length ${positions.length}, not a multiple of dim = ${dim}`);
  }
  for (let i = 0; i < positions.length; i++) {
    if (!Number.isFinite(positions[i])) {
      const atom = Math.floor(i / dim);
      throw new GeometryError(`atom ${atom} has a non-finite coordinate (${positions[i]}) in component ${i % dim}`, {
        atom,
      });
    }
  }
  if (s.cell) {
    if (s.cell.length !== dim * dim) throw new GeometryError(`cell must have ${dim * dim} entries`);
    for (let i = 0; i < s.cell.length; i++) {
      if (!Number.isFinite(s.cell[i])) throw new GeometryError(`cell entry ${i} is not finite (${s.cell[i]})`);
    }
  }
}

/**
 * A periodic cell carries a potential with cutoff rc only if every perpendicular width is at least 2 rc: then no
 * atom sees two images of the same neighbour within the cutoff, which site-energy fitting and the theory's periodic
 * domains assume.
 */
export function assertCellFitsCutoff(s: Structure, cutoff: number): void {
  if (!s.cell) return;
  const widths = perpendicularWidths(s.cell, s.dim);
  widths.forEach((w, k) => {
    if (w < 2 * cutoff * (1 - 1e-12)) {
      throw new GeometryError(
        `periodic cell too small: perpendicular width ${w.toFixed(6)} along cell vector ${k} is below twice the cutoff (2 x ${cutoff})`,
        { width: w, axis: k, cutoff },
      );
    }
  });
}
