/**
 * Generated tests of the relaxation solvers (src/relax): what the theory and the solver contract say must hold for
 * every potential in a physical parameter range, every defect, both boundary conditions and every rattled start.
 * Cases are small 2D domains (a few hundred atoms) so each property runs in seconds. Seeds are fixed (recorded in
 * the fc.assert options), so a failure reproduces.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeDomain, type BoundaryKind, type DefectKind, type Domain } from '../src/lattice/domain.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { relax } from '../src/relax/relax.ts';
import type { SolverName } from '../src/relax/types.ts';
import { ConvergenceError } from '../src/util/errors.ts';
import { Rng } from '../src/util/rng.ts';

interface Case {
  pot: SitePotential;
  dom: Domain;
  start: Float64Array;
  label: string;
}

/** Potential parameters in a physical range around the defaults (stable triangular crystal, reduced units). For
 * eam-2d, alpha in [3.6, 4.4]: below about 3 the symmetric vacancy is a saddle, and up to about 3.4 it is soft (negative curvature proven by the Lanczos Rayleigh
 * quotient, properties/relax-stability.test.ts) and rattled starts fall into different reconstructed minima, which is
 * outside the theory's hypothesis of a strongly stable defect. */
const arbPotential = fc.oneof(
  fc.record({
    kind: fc.constant('eam-2d' as const),
    D: fc.double({ min: 0.4, max: 0.6, noNaN: true }),
    alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
    C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('morse-2d' as const),
    D: fc.double({ min: 0.7, max: 1.3, noNaN: true }),
    alpha: fc.double({ min: 3.5, max: 4.5, noNaN: true }),
  }),
);

const arbCase = fc.record({
  pot: arbPotential,
  defect: fc.constantFrom<DefectKind>('vacancy', 'divacancy', 'interstitial'),
  boundary: fc.constantFrom<BoundaryKind>('ball', 'periodic'),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

type CaseSpec = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

function buildCase(c: CaseSpec, rattle = 0.02): Case {
  const { kind, ...params } = c.pot;
  const pot = makePotential(kind, params);
  const pl = equilibriumLattice(pot, 'triangular');
  const dom = makeDomain(pl.lattice, c.defect, c.boundary, c.boundary === 'ball' ? 5 : 7, pot.cutoff);
  // Rattle the free atoms (seeded) so the start is generic, not the symmetric lattice configuration.
  const rng = new Rng(c.seed);
  const start = dom.structure.positions.slice();
  for (let i = 0; i < dom.keys.length; i++) {
    if (!dom.free[i]) continue;
    for (let a = 0; a < 2; a++) start[i * 2 + a] += rattle * rng.normal() * pl.lattice.r0;
  }
  return { pot, dom, start, label: `${kind} ${JSON.stringify(params)} ${c.defect} ${c.boundary} seed ${c.seed}` };
}

const SOLVERS: SolverName[] = ['auto', 'precon-lbfgs', 'lbfgs', 'newton-krylov', 'fire'];

/** max over free atoms of |x_a - x_b|, after removing the mean translation for periodic cells (whose minimiser is
 * unique only up to a rigid translation). */
function positionGap(dom: Domain, xa: Float64Array, xb: Float64Array): number {
  const d = 2;
  const n = dom.keys.length;
  const t = [0, 0];
  if (dom.boundary === 'periodic') {
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) t[a] += (xa[i * d + a] - xb[i * d + a]) / n;
  }
  let m = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < d; a++) s += (xa[i * d + a] - xb[i * d + a] - t[a]) ** 2;
    m = Math.max(m, Math.sqrt(s));
  }
  return m;
}

describe('relaxation solvers (generated cases)', () => {
  // Vacancy and interstitial only: a divacancy in these tiny periodic cells has several local minima within reach of
  // a 2% rattle (observed: eam-2d, 7x7 cell, seed 5: FIRE ends at E = -436.01481, L-BFGS and Newton at -436.04352,
  // both genuine minima — perturbed restarts stay there), so "the same minimum" is not what theory promises there.
  it('every solver reaches the same minimum from the same start, with max|F| <= tol checked independently', () => {
    const tol = 1e-10;
    fc.assert(
      fc.property(arbCase.filter((c) => c.defect !== 'divacancy'), (c) => {
        const k = buildCase(c);
        const s0 = { ...k.dom.structure, positions: k.start };
        const results = SOLVERS.map((solver) => relax(k.pot, s0, k.dom.free, { solver, tol }));
        for (const [i, r] of results.entries()) {
          // Independent check of the residual: a fresh neighbour list and evaluation at the returned positions.
          const ev = k.pot.evaluate(r.structure, buildNeighbourList(r.structure, k.pot.cutoff));
          let mf = 0;
          for (let a = 0; a < k.dom.keys.length; a++) {
            if (!k.dom.free[a]) continue;
            mf = Math.max(mf, Math.hypot(ev.forces[2 * a], ev.forces[2 * a + 1]));
          }
          expect(mf, `${SOLVERS[i]}: ${k.label}`).toBeLessThanOrEqual(tol);
          expect(r.maxForce).toBeLessThanOrEqual(tol);
          // Clamped atoms never move.
          for (let a = 0; a < k.dom.keys.length; a++) {
            if (k.dom.free[a]) continue;
            expect(r.structure.positions[2 * a]).toBe(k.start[2 * a]);
            expect(r.structure.positions[2 * a + 1]).toBe(k.start[2 * a + 1]);
          }
        }
        // Same minimum: at a strongly stable minimum with Hessian eigenvalues >= gamma, two states with residual
        // <= tol are within 2 tol / gamma of each other. These small domains have gamma >= 1e-3 (stiff clamped
        // boundary / small periodic cell), so 1e-6 is a bound with margin, not a fudge: a different local minimum
        // or a half-converged state is off by >= 1e-3.
        const ref = results[0].structure.positions;
        for (let i = 1; i < results.length; i++) {
          expect(positionGap(k.dom, results[i].structure.positions, ref), `${SOLVERS[i]} vs auto: ${k.label}`).toBeLessThan(1e-6);
          expect(Math.abs(results[i].energy - results[0].energy)).toBeLessThan(1e-9 * Math.abs(results[0].energy));
        }
      }),
      { numRuns: 4, seed: 20240601 },
    );
  });

  it('L-BFGS with its line search never lets the energy rise above its rounding noise', () => {
    fc.assert(
      fc.property(arbCase, fc.constantFrom<SolverName>('lbfgs', 'precon-lbfgs'), (c, solver) => {
        const k = buildCase(c, 0.05);
        const r = relax(k.pot, { ...k.dom.structure, positions: k.start }, k.dom.free, { solver, tol: 1e-10 });
        // The line search accepts a step whose energy is above the previous one only within the noise of E,
        // 4e-16 sum|V_l| (Objective.energyNoise): that is the documented contract, asserted exactly.
        let scale = 0;
        for (const v of r.siteEnergies!) scale += Math.abs(v);
        const noise = 4e-16 * scale * 1.01;
        const e = r.stages[0].energyHistory!;
        expect(e.length).toBe(r.stages[0].iterations + 1);
        for (let i = 1; i < e.length; i++) expect(e[i] - e[i - 1], `${solver} step ${i}: ${k.label}`).toBeLessThanOrEqual(noise);
        // And the energy fell overall: the rattled start is well above the minimum.
        expect(e[e.length - 1]).toBeLessThan(e[0]);
      }),
      { numRuns: 6, seed: 77 },
    );
  });

  it('too few iterations is a ConvergenceError carrying the history, never a half-relaxed result', () => {
    fc.assert(
      fc.property(arbCase, fc.constantFrom<SolverName>(...SOLVERS), (c, solver) => {
        const k = buildCase(c, 0.05);
        let err: unknown;
        try {
          relax(k.pot, { ...k.dom.structure, positions: k.start }, k.dom.free, { solver, tol: 1e-10, maxIterations: 2 });
        } catch (e) {
          err = e;
        }
        expect(err, `${solver}: ${k.label}`).toBeInstanceOf(ConvergenceError);
        const det = (err as ConvergenceError).details as { residualHistory: number[]; stages: unknown[]; maxForce: number };
        expect(det.stages.length).toBeGreaterThan(0);
        expect(det.residualHistory.length).toBeGreaterThanOrEqual(2);
        expect(det.maxForce).toBeGreaterThan(1e-10);
      }),
      { numRuns: 10, seed: 4242 },
    );
  });
});
