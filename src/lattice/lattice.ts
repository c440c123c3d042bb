import { ParameterError, requireParam } from '../util/errors.ts';
import type { Dim } from './structure.ts';

export type LatticeName = 'triangular' | 'square' | 'bcc' | 'fcc';
export const LATTICE_NAMES: readonly LatticeName[] = ['triangular', 'square', 'bcc', 'fcc'];

/**
 * A Bravais lattice with a basis, described by its conventional cell (rows are cell vectors) and the Cartesian
 * positions of the basis sites inside it. Sites are labelled by integer cell coordinates plus a basis index, which is
 * the stable site identity shared by every domain built on the same lattice.
 */
export interface Lattice {
  readonly name: LatticeName;
  readonly dim: Dim;
  /** Nearest-neighbour distance. */
  readonly r0: number;
  readonly cell: Float64Array;
  readonly basis: Float64Array;
  /** Cartesian position of the interstitial site used for the `interstitial` defect (a triangle centre in 2D, the
   * octahedral site in 3D). */
  readonly interstitial: Float64Array;
  /** Site (cell coordinates, basis index) of the nearest neighbour of the origin removed with it in a divacancy. */
  readonly divacancyPartner: { cell: number[]; basis: number };
}

export function makeLattice(name: LatticeName, r0 = 1): Lattice {
  requireParam('r0 (nearest-neighbour distance)', r0, (v) => v > 0, '> 0');
  const s3 = Math.sqrt(3);
  switch (name) {
    case 'triangular':
      return {
        name,
        dim: 2,
        r0,
        cell: Float64Array.of(r0, 0, r0 / 2, (r0 * s3) / 2),
        basis: Float64Array.of(0, 0),
        interstitial: Float64Array.of(r0 / 2, r0 / (2 * s3)),
        divacancyPartner: { cell: [1, 0], basis: 0 },
      };
    case 'square':
      return {
        name,
        dim: 2,
        r0,
        cell: Float64Array.of(r0, 0, 0, r0),
        basis: Float64Array.of(0, 0),
        interstitial: Float64Array.of(r0 / 2, r0 / 2),
        divacancyPartner: { cell: [1, 0], basis: 0 },
      };
    case 'fcc': {
      const a = r0 * Math.SQRT2;
      return {
        name,
        dim: 3,
        r0,
        cell: Float64Array.of(a, 0, 0, 0, a, 0, 0, 0, a),
        basis: Float64Array.of(0, 0, 0, 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0),
        interstitial: Float64Array.of(a / 2, 0, 0),
        divacancyPartner: { cell: [0, 0, 0], basis: 1 },
      };
    }
    case 'bcc': {
      const a = (2 * r0) / s3;
      return {
        name,
        dim: 3,
        r0,
        cell: Float64Array.of(a, 0, 0, 0, a, 0, 0, 0, a),
        basis: Float64Array.of(0, 0, 0, a / 2, a / 2, a / 2),
        interstitial: Float64Array.of(a / 2, 0, 0),
        divacancyPartner: { cell: [0, 0, 0], basis: 1 },
      };
    }
    default:
      throw new ParameterError(`unknown lattice '${name as string}'; valid lattices: ${LATTICE_NAMES.join(', ')}`);
  }
}

export function basisCount(l: Lattice): number {
  return l.basis.length / l.dim;
}

/** Cartesian position of site (cell coordinates m, basis index b). */
export function sitePosition(l: Lattice, m: ArrayLike<number>, b: number, out?: Float64Array): Float64Array {
  const d = l.dim;
  const x = out ?? new Float64Array(d);
  for (let a = 0; a < d; a++) {
    let t = l.basis[b * d + a];
    for (let k = 0; k < d; k++) t += m[k] * l.cell[k * d + a];
    x[a] = t;
  }
  return x;
}

/** The stable identity of a lattice site: the same string in every domain built on the same lattice. */
export function siteKey(m: ArrayLike<number>, b: number): string {
  return `${Array.from(m).join(',')}:${b}`;
}

/** Number of sites per unit volume (area in 2D). */
export function siteDensity(l: Lattice): number {
  const d = l.dim;
  const c = l.cell;
  const vol = d === 2 ? Math.abs(c[0] * c[3] - c[1] * c[2]) : Math.abs(
    c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) + c[2] * (c[3] * c[7] - c[4] * c[6]),
  );
  return basisCount(l) / vol;
}
