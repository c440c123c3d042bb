/**
 * Studies on engines whose Hessian is finite differences of forces (LAMMPS, ASE, i-PI clients), run in process:
 * a built-in potential wrapped as such an engine (asFiniteDifferenceEngine: totals only, products by differences of
 * forces, declared in describe() as the engines declare theirs) must take the engine code paths and still give what
 * the analytic potential gives: the 'auto' relaxation reaches the required residual (by preconditioned L-BFGS alone,
 * no Hessian-vector products beyond the preconditioner's scale), formation energies from totals equal the site-energy
 * sums, and the stability tests (central-difference products) reach the analytic verdicts and values. The i-PI
 * engine's response timeout scales with the atom count and a timeout still names itself.
 * Small 2D domains: the file runs in seconds.
 */
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineError } from '../src/engines/errors.ts';
import { IpiPotential, RESPONSE_TIMEOUT_FACTOR } from '../src/engines/ipi/engine.ts';
import { ballAtoms, engineP1AtomEvaluations, fitDomainPresetToBudget, realMetalDomainPreset } from '../src/convergence/domain-study.ts';
import { makeDomain, type BoundaryKind, type DefectKind } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { withPositions } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { relaxDefect } from '../src/relax/defect.ts';
import { asFiniteDifferenceEngine, finiteDifferenceHessian } from '../src/relax/fd-hessian.ts';
import { relax } from '../src/relax/relax.ts';
import { lowestEigenvalue, strongStability } from '../src/relax/stability.ts';
import { Rng } from '../src/util/rng.ts';
import type { FakeClientOptions, Fault } from './ipi-fake-client.ts';
import { socketDir, testStructure } from './ipi-support.ts';

const arbPotential = fc.oneof(
  fc.record({
    kind: fc.constant('eam-2d' as const),
    alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
    C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
  }),
  fc.record({ kind: fc.constant('morse-2d' as const), alpha: fc.double({ min: 3.5, max: 4.5, noNaN: true }) }),
);
const arbCase = fc.record({
  pot: arbPotential,
  defect: fc.constantFrom<DefectKind>('vacancy', 'divacancy', 'interstitial'),
  boundary: fc.constantFrom<BoundaryKind>('ball', 'periodic'),
  scheme: fc.constantFrom<'central' | 'richardson'>('central', 'richardson'),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

type CaseSpec = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;

function build(c: CaseSpec) {
  const { kind, ...params } = c.pot;
  const pot = makePotential(kind, params);
  const eng = asFiniteDifferenceEngine(pot, { scheme: c.scheme });
  const pl = equilibriumLattice(pot, 'triangular');
  const dom = makeDomain(pl.lattice, c.defect, c.boundary, c.boundary === 'ball' ? 5 : 7, pot.cutoff);
  const rng = new Rng(c.seed);
  const start = dom.structure.positions.slice();
  for (let i = 0; i < dom.keys.length; i++) if (dom.free[i]) for (let a = 0; a < 2; a++) start[i * 2 + a] += 0.02 * rng.normal() * pl.lattice.r0;
  return { pot, eng, pl, dom, start, label: `${kind} ${JSON.stringify(params)} ${c.defect} ${c.boundary} ${c.scheme} seed ${c.seed}` };
}

describe('relaxation on a finite-difference-Hessian engine', () => {
  it("'auto' reaches max|F| <= 1e-10 by preconditioned L-BFGS alone and lands where the analytic relaxation does", () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { pot, eng, dom, start, label } = build(c);
        expect(finiteDifferenceHessian(eng)).toBe(true);
        expect(finiteDifferenceHessian(pot)).toBe(false);
        const s0 = withPositions(dom.structure, start);
        const a = relax(eng, s0, dom.free, { solver: 'auto', tol: 1e-10 });
        const b = relax(pot, s0, dom.free, { solver: 'auto', tol: 1e-10 });
        expect(a.maxForce, label).toBeLessThanOrEqual(1e-10);
        // No Newton-Krylov stage (its products would be differenced forces), and no products inside the stages.
        expect(a.stages.every((s) => s.solver === 'precon-lbfgs'), label).toBe(true);
        expect(a.stages.reduce((t, s) => t + (s.hessianVectorProducts ?? 0), 0), label).toBe(0);
        expect(b.stages.some((s) => s.solver === 'newton-krylov') || b.stages.length === 1, label).toBe(true);
        // Same minimum: positions agree far below r0 (periodic cells up to a rigid translation).
        const n = dom.keys.length;
        const t = [0, 0];
        if (dom.boundary === 'periodic') for (let i = 0; i < n; i++) for (let k = 0; k < 2; k++) t[k] += (a.structure.positions[2 * i + k] - b.structure.positions[2 * i + k]) / n;
        let gap = 0;
        for (let i = 0; i < 2 * n; i++) gap = Math.max(gap, Math.abs(a.structure.positions[i] - b.structure.positions[i] - t[i % 2]));
        expect(gap, label).toBeLessThan(1e-7);
      }),
      { numRuns: 8, seed: 1311, endOnFailure: true },
    );
  });

  it("'auto' still reaches 1e-10 when the engine's energy is far noisier than its rounding model (EMT-like): the noise is measured where the line search fails", () => {
    fc.assert(
      fc.property(arbCase, fc.double({ min: 1e-9, max: 1e-6, noNaN: true }), (c, amp) => {
        const { eng, dom, start, label } = build(c);
        // Deterministic noise of size amp on the energy only (forces exact), a function of the positions' bits.
        const noisy = {
          ...eng,
          describe: () => ({ ...eng.describe(), energySummation: 'plain' }),
          evaluate: (s: Parameters<typeof eng.evaluate>[0], nl: Parameters<typeof eng.evaluate>[1]) => {
            const r = eng.evaluate(s, nl);
            let h = 0;
            for (let i = 0; i < s.positions.length; i++) h = (h * 31 + Math.floor(s.positions[i] * 1e13)) % 1000003;
            return { ...r, energy: r.energy + amp * (h / 1000003 - 0.5) };
          },
        };
        const a = relax(noisy, withPositions(dom.structure, start), dom.free, { solver: 'auto', tol: 1e-10 });
        expect(a.maxForce, `${label} noise ${amp}`).toBeLessThanOrEqual(1e-10);
      }),
      { numRuns: 6, seed: 1316, endOnFailure: true },
    );
  });

  it('formation energies from totals (engines report no site energies) equal the site-energy sums', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const { pot, eng, pl, dom, label } = build(c);
        const a = relaxDefect(eng, dom, { e0: pl.e0, solver: 'precon-lbfgs' });
        const b = relaxDefect(pot, dom, { e0: pl.e0, solver: 'precon-lbfgs' });
        expect(a.result.siteEnergies, label).toBeUndefined();
        // Same relaxation path (same forces), so the two E_f differ only by the rounding of the totals.
        expect(Math.abs(a.formationEnergy - b.formationEnergy), `${label}: ${a.formationEnergyExact} vs ${b.formationEnergyExact}`).toBeLessThan(1e-10 * (1 + Math.abs(pl.e0) * dom.keys.length));
        // And the bookkeeping is not vacuous: E_f of a defect is far from zero.
        expect(Math.abs(b.formationEnergy), label).toBeGreaterThan(1e-3);
      }),
      { numRuns: 8, seed: 1312, endOnFailure: true },
    );
  });
});

describe('stability tests on a finite-difference-Hessian engine', () => {
  it('central-difference products: the same gamma/mu and Lanczos value as the analytic Hessian, 2 evaluations each, verdicts alike (saddles included)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 2.6, max: 4.2, noNaN: true }),
        fc.constantFrom<DefectKind>('vacancy', 'interstitial', 'divacancy'),
        fc.constantFrom<BoundaryKind>('ball', 'periodic'),
        (alpha, defect, boundary) => {
          const pot = makePotential('eam-2d', { alpha });
          const eng = asFiniteDifferenceEngine(pot);
          const pl = equilibriumLattice(pot, 'triangular');
          const dom = makeDomain(pl.lattice, defect, boundary, boundary === 'ball' ? 3.5 : 6, pot.cutoff);
          const r = relax(pot, dom.structure, dom.free, { tol: 1e-9 });
          const label = `alpha ${alpha} ${defect} ${boundary}`;
          const sa = strongStability(pot, r.structure, dom.free, { seed: 3, iterations: 30 });
          const e0 = eng.evaluations;
          const sf = strongStability(eng, r.structure, dom.free, { seed: 3, iterations: 30 });
          expect(sf.products.method, label).toBe('central finite differences of forces');
          expect(sa.products.method, label).toBe('analytic');
          expect(eng.evaluations - e0, label).toBe(2 * sf.hessianVectorProducts);
          expect(sf.products.engineEvaluations, label).toBe(2 * sf.hessianVectorProducts);
          expect(Math.abs(sf.gamma - sa.gamma), `${label}: ${sf.gamma} vs ${sa.gamma}`).toBeLessThan(1e-5 * sa.mu);
          expect(Math.abs(sf.mu - sa.mu), label).toBeLessThan(1e-6 * sa.mu);
          expect(sf.verdict, label).toBe(sa.verdict);
          const la = lowestEigenvalue(pot, r.structure, dom.free, { seed: 3, iterations: 60 });
          const lf = lowestEigenvalue(eng, r.structure, dom.free, { seed: 3, iterations: 60 });
          expect(Math.abs(lf.rayleigh - la.rayleigh), `${label}: ${lf.rayleigh} vs ${la.rayleigh}`).toBeLessThan(1e-5 * Math.abs(la.largest));
          // A proof of instability under either product is a proof under the other (the FD threshold is larger).
          if (lf.verdict === 'unstable') expect(la.verdict, label).toBe('unstable');
          if (la.rayleigh < -1e-4 * Math.abs(la.largest)) expect(lf.verdict, label).toBe('unstable');
        },
      ),
      { numRuns: 6, seed: 1313, endOnFailure: true },
    );
  });

  it('a saddle (eam-2d alpha 2.6: the symmetric vacancy) is proven unstable through differenced products too', () => {
    const pot = makePotential('eam-2d', { alpha: 2.6 });
    const eng = asFiniteDifferenceEngine(pot);
    const pl = equilibriumLattice(pot, 'triangular');
    const dom = makeDomain(pl.lattice, 'vacancy', 'ball', 3.5, pot.cutoff);
    const r = relax(pot, dom.structure, dom.free, { tol: 1e-9 });
    const lf = lowestEigenvalue(eng, r.structure, dom.free, { seed: 1, iterations: 60 });
    const sf = strongStability(eng, r.structure, dom.free, { seed: 1, iterations: 20 });
    expect(lf.verdict, `${lf.rayleigh}`).toBe('unstable');
    expect(sf.verdict, `${sf.gamma}`).toBe('unstable');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Response timeout of the i-PI engine: scaled with the atom count, and a timeout still names itself.
// ---------------------------------------------------------------------------------------------------------------
const sockets = socketDir();
afterAll(() => sockets.cleanup());
const req = createRequire(import.meta.url);
const TSX = pathToFileURL(req.resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/index.mjs')).href;
const CLIENT = fileURLToPath(new URL('./ipi-fake-client.ts', import.meta.url));

function fakeEngine(o: { fault?: Fault; faultAfter?: number; responseTimeoutMs: number; scaleTimeout?: boolean }): IpiPotential {
  const pot = makePotential('morse-2d');
  const opts: Omit<FakeClientOptions, 'address'> = { potential: 'morse-2d', bohr: 1, hartree: 1, dim: 2, fault: o.fault, faultAfter: o.faultAfter };
  const json = JSON.stringify(opts).replace(/^\{/, '{"address":{"path":"{unix}"},');
  return new IpiPotential({
    units: { bohr: 1, hartree: 1 },
    cutoff: pot.cutoff,
    scaleTimeout: o.scaleTimeout,
    server: { unixPath: join(sockets.dir, `t${Math.random().toString(36).slice(2, 10)}`), acceptTimeoutMs: 20_000, responseTimeoutMs: o.responseTimeoutMs },
    launch: { command: process.execPath, args: ['--import', TSX, CLIENT, json] },
  });
}

describe('i-PI response timeout', () => {
  it('grows in proportion to the atom count beyond the configured base, never below it; a stall is still caught and named', async () => {
    const s = testStructure('morse-2d', 'periodic', 5, 0.05);
    const eng = fakeEngine({ fault: { kind: 'stall', header: 1 }, faultAfter: 3, responseTimeoutMs: 1000 });
    const fixed = fakeEngine({ responseTimeoutMs: 1000, scaleTimeout: false });
    try {
      for (const e of [eng, fixed]) for (let k = 0; k < 3; k++) e.evaluate({ ...s, positions: s.positions.map((x) => x + k * 1e-3) }, undefined as never);
      expect(eng.responseTimeoutFor(1)).toBe(1000);
      const big = eng.responseTimeoutFor(1e12);
      expect(big).toBeGreaterThan(1000);
      // RESPONSE_TIMEOUT_FACTOR x (measured ms per atom) x n: linear in n.
      expect(eng.responseTimeoutFor(2e12) / big).toBeCloseTo(2, 6);
      expect(big / 1e12 / RESPONSE_TIMEOUT_FACTOR).toBeGreaterThan(0);
      expect(fixed.responseTimeoutFor(1e12)).toBe(1000);
      // The stalled call's timeout is whatever the measured speed makes it (load-dependent), never below the base:
      // the error must name exactly that value.
      const n = s.positions.length / s.dim;
      const expected = eng.responseTimeoutFor(n);
      expect(expected).toBeGreaterThanOrEqual(1000);
      let err: unknown = null;
      try {
        eng.evaluate({ ...s, positions: s.positions.map((x) => x + 0.01) }, undefined as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind).toBe('timeout');
      expect((err as EngineError).details?.timeoutMs).toBe(expected);
      expect((err as Error).message).toContain(`within ${expected} ms`);
      expect((err as Error).message).toMatch(new RegExp(`response timeout of this ${n}-atom evaluation: ${expected} ms .*--response-timeout`));
    } finally {
      await eng.dispose();
      await fixed.dispose();
    }
  }, 60_000);
});

describe('engine P1 preset within a wall-time budget', () => {
  it('ballAtoms counts the clamped ball (free ball + 2 rc shell) of a real domain to within a few percent', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('fcc' as const, 'bcc' as const, 'triangular' as const),
        fc.double({ min: 2, max: 9, noNaN: true }),
        fc.double({ min: 1.2, max: 2.2, noNaN: true }),
        (name, R, rc) => {
          const l = makeLattice(name, 1);
          const dom = makeDomain(l, 'none', 'ball', R, rc);
          const est = ballAtoms(l, R, rc);
          expect(Math.abs(est - dom.keys.length) / dom.keys.length, `${name} R ${R} rc ${rc}: ${est} vs ${dom.keys.length}`).toBeLessThan(0.06);
        },
      ),
      { numRuns: 25, seed: 1314 },
    );
  });

  it('the scaled preset fits the budget, keeps the preset when it fits, is monotone in the budget, and flags pre-asymptotic sizes', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 3, max: 7, noNaN: true }),
        fc.double({ min: 1e-4, max: 10, noNaN: true }),
        fc.double({ min: 60, max: 36_000, noNaN: true }),
        (rc, msPerAtom, budget) => {
          const l = makeLattice('fcc', 2.55);
          const preset = realMetalDomainPreset(rc);
          const full = (engineP1AtomEvaluations(l, preset.sizes, preset.refSize, rc) * msPerAtom) / 1000;
          const b = fitDomainPresetToBudget(l, preset, rc, msPerAtom, budget);
          const b2 = fitDomainPresetToBudget(l, preset, rc, msPerAtom, 2 * budget);
          const label = `rc ${rc} ms/atom ${msPerAtom} budget ${budget}: ${JSON.stringify(b)}`;
          expect(b.presetSeconds / full, label).toBeCloseTo(1, 9);
          if (full <= budget) {
            expect(b.scale, label).toBe(1);
            expect(b.sizes, label).toEqual(preset.sizes);
            expect(b.refSize, label).toBe(preset.refSize);
          } else {
            expect(b.scale, label).toBeLessThan(1);
            // Within the budget unless even sizes of one r0 exceed it (then the smallest scale is used).
            const floor = l.r0 / Math.min(...preset.sizes);
            if (b.scale > floor * (1 + 1e-9)) expect(b.estimatedSeconds, label).toBeLessThanOrEqual(budget * 1.0001);
            expect(b.sizes.every((x, i) => Math.abs(x - b.scale * preset.sizes[i]) <= 5e-3 * x), label).toBe(true);
          }
          expect(b2.scale, label).toBeGreaterThanOrEqual(b.scale);
          expect(b.refSize / Math.max(...b.sizes), label).toBeCloseTo(preset.refSize / Math.max(...preset.sizes), 1);
          expect(b.preAsymptotic, label).toBe(b.sizes.some((x) => x < 2 * rc));
        },
      ),
      { numRuns: 40, seed: 1315 },
    );
  });
});
