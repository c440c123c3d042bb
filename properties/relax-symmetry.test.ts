/**
 * A vacancy relaxes to a configuration with the lattice's point symmetry (C6v for the triangular lattice, Oh for
 * fcc), in clamped balls and periodic cells, even from a rattled (asymmetric) start: the relaxed vacancy is a
 * strongly stable, hence locally unique, minimiser, and the symmetry images of a minimiser are minimisers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeDomain, type BoundaryKind, type Domain } from '../src/lattice/domain.ts';
import { inverse } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { relax } from '../src/relax/relax.ts';
import { Rng } from '../src/util/rng.ts';

/** Point-group matrices (row-major) of the triangular lattice about a site: rotations by k 60 deg and reflections. */
function c6v(): Float64Array[] {
  const ops: Float64Array[] = [];
  for (let k = 0; k < 6; k++) {
    const c = Math.cos((k * Math.PI) / 3);
    const s = Math.sin((k * Math.PI) / 3);
    ops.push(Float64Array.of(c, -s, s, c));
    ops.push(Float64Array.of(c, s, s, -c)); // rotation composed with the reflection y -> -y
  }
  return ops;
}

/** The 48 signed permutation matrices (cubic group Oh). */
function oh(): Float64Array[] {
  const perms = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ];
  const ops: Float64Array[] = [];
  for (const p of perms)
    for (let sgn = 0; sgn < 8; sgn++) {
      const m = new Float64Array(9);
      for (let r = 0; r < 3; r++) m[r * 3 + p[r]] = sgn & (1 << r) ? -1 : 1;
      ops.push(m);
    }
  return ops;
}

/** Key of a position for matching sites; periodic positions are first wrapped into the supercell. */
function positionKey(x: ArrayLike<number>, d: number, cell: Float64Array | null, inv: Float64Array | null): string {
  const y = Array.from({ length: d }, (_, a) => x[a]);
  if (cell && inv) {
    const f = Array.from({ length: d }, (_, k) => {
      let t = 0;
      for (let a = 0; a < d; a++) t += y[a] * inv[a * d + k];
      return t - Math.floor(t + 1e-7);
    });
    for (let a = 0; a < d; a++) {
      let t = 0;
      for (let k = 0; k < d; k++) t += f[k] * cell[k * d + a];
      y[a] = t;
    }
  }
  return y.map((v) => Math.round(v * 1e5) / 1e5 + 0).join(',');
}

function symmetryDefect(dom: Domain, x: Float64Array, ops: Float64Array[]): number {
  const d = dom.lattice.dim;
  const x0 = dom.structure.positions;
  const cell = dom.structure.cell;
  const inv = cell ? inverse(cell, d) : null;
  const where = new Map<string, number>();
  const n = dom.keys.length;
  for (let i = 0; i < n; i++) where.set(positionKey(x0.subarray(i * d, i * d + d), d, cell, inv), i);
  let worst = 0;
  const y = new Float64Array(d);
  for (const Q of ops) {
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) {
        let t = 0;
        for (let b = 0; b < d; b++) t += Q[a * d + b] * x0[i * d + b];
        y[a] = t;
      }
      const j = where.get(positionKey(y, d, cell, inv));
      if (j === undefined) {
        if (dom.boundary === 'ball' && !dom.free[i]) continue; // the clamped buffer's outer rim need not be symmetric
        throw new Error(`site ${dom.keys[i]} has no symmetry image: the domain itself is not symmetric`);
      }
      let s = 0;
      for (let a = 0; a < d; a++) {
        let qu = 0;
        for (let b = 0; b < d; b++) qu += Q[a * d + b] * (x[i * d + b] - x0[i * d + b]);
        s += (x[j * d + a] - x0[j * d + a] - qu) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(s));
    }
  }
  return worst;
}

describe('vacancy keeps the point symmetry of the lattice', () => {
  it('2D triangular (C6v) and fcc (Oh), ball and periodic, rattled starts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('eam-2d', 'morse-2d', 'eam-fcc'),
        fc.double({ min: 0.9, max: 1.1, noNaN: true }),
        fc.constantFrom<BoundaryKind>('ball', 'periodic'),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (name, scale, boundary, seed) => {
          const pot = makePotential(name, { D: (name === 'morse-2d' ? 1 : name === 'eam-2d' ? 0.5 : 0.3) * scale });
          const pl = equilibriumLattice(pot, name === 'eam-fcc' ? 'fcc' : 'triangular');
          const d = pl.lattice.dim;
          const R = d === 2 ? (boundary === 'ball' ? 6 : 8) : boundary === 'ball' ? 2.5 : 5;
          const dom = makeDomain(pl.lattice, 'vacancy', boundary, R, pot.cutoff);
          const rng = new Rng(seed);
          const start = dom.structure.positions.slice();
          for (let i = 0; i < dom.keys.length; i++) if (dom.free[i]) for (let a = 0; a < d; a++) start[i * d + a] += 0.02 * rng.normal();
          const r = relax(pot, { ...dom.structure, positions: start }, dom.free, { tol: 1e-10 });
          // Periodic: the rattle adds a rigid translation the forces cannot remove; take it out first.
          const x = r.structure.positions.slice();
          if (boundary === 'periodic') {
            const n = dom.keys.length;
            for (let a = 0; a < d; a++) {
              let t = 0;
              for (let i = 0; i < n; i++) t += x[i * d + a] - dom.structure.positions[i * d + a];
              for (let i = 0; i < n; i++) x[i * d + a] -= t / n;
            }
          }
          // A state with residual <= 1e-10 is within ~1e-10 / gamma of the symmetric minimiser (gamma >= 1e-3 here).
          expect(symmetryDefect(dom, x, d === 2 ? c6v() : oh()), `${name} D x ${scale} ${boundary} seed ${seed}`).toBeLessThan(1e-6);
          // And the relaxation actually moved the neighbours of the vacancy (the check is not vacuous).
          let moved = 0;
          for (let k = 0; k < x.length; k++) moved = Math.max(moved, Math.abs(x[k] - dom.structure.positions[k]));
          expect(moved).toBeGreaterThan(1e-3);
        },
      ),
      { numRuns: 5, seed: 1234 },
    );
  });
});
