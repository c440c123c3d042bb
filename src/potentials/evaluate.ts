import { buildNeighbourList, type NeighbourList } from '../lattice/neighbours.ts';
import { assertCellFitsCutoff, type Structure } from '../lattice/structure.ts';
import type { EvalResult, SitePotential } from './types.ts';

/**
 * A neighbour list for one evaluation of `pot` on `s`: a fresh one, or an empty one for an engine that finds its own
 * neighbours (SitePotential.ignoresNeighbourList).
 */
export function listFor(pot: SitePotential, s: Structure): NeighbourList {
  if (!pot.ignoresNeighbourList) return buildNeighbourList(s, pot.cutoff);
  const n = s.positions.length / s.dim;
  return { n, dim: s.dim, cutoff: pot.cutoff, offsets: new Int32Array(n + 1), index: new Int32Array(0), shift: new Float64Array(0) };
}

/** One-shot evaluation: validates the structure for the potential and builds a fresh neighbour list. */
export function evaluate(pot: SitePotential, s: Structure): EvalResult {
  assertCellFitsCutoff(s, pot.cutoff);
  return pot.evaluate(s, listFor(pot, s));
}

export function hessianVector(pot: SitePotential, s: Structure, v: Float64Array, nl?: NeighbourList): Float64Array {
  assertCellFitsCutoff(s, pot.cutoff);
  return pot.hessianVector(s, nl ?? listFor(pot, s), v);
}

/**
 * Force constants: the Hessian columns belonging to the given atoms (default: all), as d^2E/dx_i dx_j blocks.
 * Computed from dim Hessian-vector products per atom, so every potential that has an HVP has force constants, and
 * they are the same derivatives the Newton solver uses. For the perfect lattice one atom suffices (translation
 * symmetry). Block (i, j) is columns[jIdx * dim + beta][i * dim + alpha].
 */
export interface ForceConstants {
  readonly dim: number;
  readonly atoms: readonly number[];
  readonly columns: readonly Float64Array[];
}

export function forceConstants(pot: SitePotential, s: Structure, atoms?: readonly number[]): ForceConstants {
  assertCellFitsCutoff(s, pot.cutoff);
  const nl = listFor(pot, s);
  const n = s.positions.length / s.dim;
  const which = atoms ?? Array.from({ length: n }, (_, i) => i);
  const columns: Float64Array[] = [];
  const v = new Float64Array(n * s.dim);
  for (const j of which) {
    for (let b = 0; b < s.dim; b++) {
      v.fill(0);
      v[j * s.dim + b] = 1;
      columns.push(pot.hessianVector(s, nl, v));
    }
  }
  return { dim: s.dim, atoms: which, columns };
}

/** Block H_ij (dim x dim, row-major) from force constants computed for atom j. */
export function forceConstantBlock(fc: ForceConstants, i: number, j: number): Float64Array {
  const jIdx = fc.atoms.indexOf(j);
  if (jIdx < 0) throw new Error(`force constants were not computed for atom ${j}`);
  const d = fc.dim;
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) out[a * d + b] = fc.columns[jIdx * d + b][i * d + a];
  return out;
}
