import { makeLattice } from '../src/lattice/lattice.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import type { Structure } from '../src/lattice/structure.ts';
import type { BasisSpec } from '../src/mlip/basis.ts';
import { Rng } from '../src/util/rng.ts';

/** Small bases for fast properties: every kind of basis function is present (one-body, pair, embedding, 3-body). */
export function smallSpec(dim: 2 | 3, over: Partial<BasisSpec> = {}): BasisSpec {
  return {
    dim,
    cutoff: dim === 2 ? 2.0 : 1.6,
    rmin: 0.6,
    envelope: { kind: 'smooth', rin: dim === 2 ? 1.5 : 1.2 },
    oneBody: true,
    pairFunctions: 4,
    densityFunctions: 2,
    embeddingOrder: 3,
    angularFunctions: 2,
    angularDegree: 3,
    ...over,
  };
}

/** A rattled periodic cell (triangular 2D or fcc 3D, r0 = 1) that carries the cutoff. */
export function rattledCell(dim: 2 | 3, seed: number, amp = 0.05, size?: number, defect: 'none' | 'vacancy' = 'none'): Structure {
  const l = makeLattice(dim === 2 ? 'triangular' : 'fcc', 1);
  const dom = periodicDomain(l, defect, size ?? (dim === 2 ? 5 : 4.5), dim === 2 ? 2.0 : 1.6);
  const rng = new Rng(seed);
  const x = dom.structure.positions.slice();
  for (let i = 0; i < x.length; i++) x[i] += amp * rng.normal();
  return { dim, positions: x, cell: dom.structure.cell };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
