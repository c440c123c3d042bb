/**
 * The AMG preconditioner (src/relax/amg.ts) that 3D relaxations use at every size (relaxationPreconDefaults): what a
 * preconditioner of L-BFGS and CG must be (a fixed symmetric positive-definite operator), that it is a good one (CG on
 * the lattice Laplacian needs few iterations, not O(R)), and that relaxations with it reach the same minimum as with
 * the exact Cholesky factor. Small fcc cells (a few hundred atoms) keep every case to a second or so.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ballDomain, periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { AmgHierarchy } from '../src/relax/amg.ts';
import { LaplacianPrecon, relaxationPreconDefaults } from '../src/relax/precon.ts';
import { relax } from '../src/relax/relax.ts';
import { symMatVec } from '../src/relax/sparse.ts';
import { Rng } from '../src/util/rng.ts';

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

function fccLaplacian(reps: number, ball: boolean) {
  const l = makeLattice('fcc', 1);
  const dom = ball ? ballDomain(l, 'vacancy', reps, 1.6) : periodicDomain(l, 'vacancy', 1, 1.6, [reps, reps, reps]);
  const nl = buildNeighbourList(dom.structure, 1.6);
  return { dom, P: new LaplacianPrecon(3, dom.structure, nl, ball ? dom.free : null, { method: 'amg' }) };
}

/** Preconditioned CG iterations to reduce the residual of A x = b by 1e-8 (apply: z = M^{-1} r per component). */
function pcgIterations(P: LaplacianPrecon, amg: AmgHierarchy, b: Float64Array): number {
  const n = P.nFree;
  const A = P.matrix;
  const x = new Float64Array(n);
  const r = b.slice();
  const z = new Float64Array(n);
  const zz = new Float64Array(n);
  amg.apply(r, z);
  const d = z.slice();
  let rz = dot(r, z);
  const r0 = Math.sqrt(dot(r, r));
  const Ad = new Float64Array(n);
  for (let it = 1; it <= 500; it++) {
    symMatVec(A, d, Ad);
    const a = rz / dot(d, Ad);
    for (let i = 0; i < n; i++) {
      x[i] += a * d[i];
      r[i] -= a * Ad[i];
    }
    if (Math.sqrt(dot(r, r)) <= 1e-8 * r0) return it;
    amg.apply(r, zz);
    const rzNew = dot(r, zz);
    for (let i = 0; i < n; i++) d[i] = zz[i] + (rzNew / rz) * d[i];
    rz = rzNew;
  }
  return Infinity;
}

describe('AMG V-cycle as a preconditioner of the lattice Laplacian', () => {
  it('is symmetric and positive definite (u.Bv = v.Bu, v.Bv > 0) on periodic and clamped fcc domains', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 5 }), fc.boolean(), fc.integer({ min: 1, max: 2 ** 30 }), (reps, ball, seed) => {
        const { P } = fccLaplacian(reps, ball);
        const amg = new AmgHierarchy(P.matrix, 1, { coarseSize: 50 });
        expect(amg.levels.length).toBeGreaterThan(0); // the multigrid path, not only the coarse solve
        const rng = new Rng(seed);
        const u = Float64Array.from({ length: P.nFree }, () => rng.uniform() - 0.5);
        const v = Float64Array.from({ length: P.nFree }, () => rng.uniform() - 0.5);
        const Bu = new Float64Array(P.nFree);
        const Bv = new Float64Array(P.nFree);
        amg.apply(u, Bu);
        amg.apply(v, Bv);
        expect(Math.abs(dot(u, Bv) - dot(v, Bu))).toBeLessThan(1e-10 * Math.sqrt(dot(u, Bu) * dot(v, Bv)));
        expect(dot(u, Bu)).toBeGreaterThan(0);
        expect(dot(v, Bv)).toBeGreaterThan(0);
      }),
      { numRuns: 6, seed: 1212 },
    );
  });

  it('interleaved right-hand sides (k = 3) give the same result as one component at a time', () => {
    const { P } = fccLaplacian(5, false);
    const one = new AmgHierarchy(P.matrix, 1, { coarseSize: 50 });
    const three = new AmgHierarchy(P.matrix, 3, { coarseSize: 50 });
    const rng = new Rng(7);
    const b = Float64Array.from({ length: 3 * P.nFree }, () => rng.uniform() - 0.5);
    const x3 = new Float64Array(b.length);
    three.apply(b, x3);
    for (let c = 0; c < 3; c++) {
      const bc = Float64Array.from({ length: P.nFree }, (_, i) => b[3 * i + c]);
      const xc = new Float64Array(P.nFree);
      one.apply(bc, xc);
      for (let i = 0; i < P.nFree; i++) expect(Math.abs(x3[3 * i + c] - xc[i])).toBeLessThan(1e-12 * (1 + Math.abs(xc[i])));
    }
  });

  it('CG preconditioned by it needs few iterations, and not more on a domain twice as wide', () => {
    const its = [4, 8].map((reps) => {
      const { P } = fccLaplacian(reps, true);
      const amg = new AmgHierarchy(P.matrix, 1, { coarseSize: 50 });
      const rng = new Rng(3);
      return pcgIterations(P, amg, Float64Array.from({ length: P.nFree }, () => rng.uniform() - 0.5));
    });
    // Unpreconditioned CG on these Laplacians needs O(R) iterations (more than 40 for the wider domain).
    expect(its[0]).toBeLessThanOrEqual(25);
    expect(its[1]).toBeLessThanOrEqual(its[0] + 6);
  });
});

describe('relaxations with the AMG preconditioner', () => {
  it('reach the minimum the exact factor reaches (fcc vacancy, periodic and clamped ball), as does the 3D default (AMG, coarse level of 40)', () => {
    const pot = makePotential('eam-fcc');
    const { lattice } = equilibriumLattice(pot, 'fcc');
    for (const ball of [false, true]) {
      const dom = ball ? ballDomain(lattice, 'vacancy', 2, pot.cutoff) : periodicDomain(lattice, 'vacancy', 1, pot.cutoff, [4, 4, 4]);
      const rng = new Rng(11);
      const start = { ...dom.structure, positions: dom.structure.positions.map((x, i) => (dom.free[Math.floor(i / 3)] ? x + 0.02 * (rng.uniform() - 0.5) : x)) };
      const free = ball ? dom.free : null;
      const a = relax(pot, start, free, { solver: 'auto', precon: { method: 'amg' } });
      const c = relax(pot, start, free, { solver: 'auto', precon: { method: 'cholesky' } });
      const d = relax(pot, start, free, { solver: 'auto' });
      expect(relaxationPreconDefaults(3)).toEqual({ method: 'amg', amgCoarseSize: 40 });
      expect(d.maxForce).toBeLessThanOrEqual(1e-10);
      expect(Math.abs(d.energy - c.energy)).toBeLessThan(1e-9 * (1 + Math.abs(c.energy)));
      expect(a.maxForce).toBeLessThanOrEqual(1e-10);
      expect(Math.abs(a.energy - c.energy)).toBeLessThan(1e-9 * (1 + Math.abs(c.energy)));
      let dx = 0;
      for (let i = 0; i < a.structure.positions.length; i++) dx = Math.max(dx, Math.abs(a.structure.positions[i] - c.structure.positions[i]));
      expect(dx).toBeLessThan(1e-6);
    }
  });

  it('an unknown preconditioner method is a ParameterError naming it', () => {
    const { dom } = fccLaplacian(3, false);
    const nl = buildNeighbourList(dom.structure, 1.6);
    expect(() => new LaplacianPrecon(3, dom.structure, nl, null, { method: 'jacobi' as never })).toThrow(/jacobi/);
  });
});
