/**
 * The theory's assumption for a fitted model, checked before it is relaxed (src/convergence/model-stability.ts): the
 * lowest curvature gamma^H of the model's Hessian at the reference minimum ū against ||Dv||², beside the reference's
 * own. On small generated 2D cases (eam-2d reference in the strongly stable range, vacancy or interstitial, reference
 * ball 8, test ball 4: about 100 free coordinates) against the exact pencil eigenvalue computed densely:
 * - a model whose exact gamma is above the margin is never flagged (Lanczos bounds gamma from above, whatever the
 *   number of steps), and a model flagged 'unstable' has a genuinely negative exact gamma (the Rayleigh quotient of a
 *   vector is the proof);
 * - with as many Lanczos steps as free coordinates, a model with a negative exact gamma is flagged 'unstable';
 * - models built to be unstable (the reference's energy times -s) are flagged, models built to be stable (times s > 0)
 *   never are, and the evidence records gamma^H, the reference's gamma and their ratio (exactly s: the Krylov space of
 *   a scaled pencil is the same);
 * - through the training-size study (a Trainer plug-in returning a constructed model): the reference plus an external
 *   Gaussian well that pulls a first-shell atom toward the vacancy. A shallow well (depth <= 2) moves it < 0.1 r0: the
 *   assumption holds. A deep one (depth 4-8) keeps the Hessian at ū strongly stable, so the model is relaxed, but the
 *   atom falls into the vacancy (~0.8 r0), from the lattice and again from ū: the point records the jump, and the
 *   fit says 'assumption fails', never pass or fail.
 * - a mode that lives only far from the defect: the reference plus a narrow Gaussian bump (height 1-4, width 0.1 r0)
 *   centred on one atom at ~0.74 R_ref. The test in the relaxation's whole ball (the default) finds its descent
 *   direction and the point is not relaxed; a ball of R_ref/2 is blind to it (gamma^H there is the reference's), which
 *   is why R_ref is the default.
 */
import fc from 'fast-check';
import { CholeskyDecomposition, EigenvalueDecomposition, inverse, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { modelStabilityAt, referenceMinimumIn, stabilityEvidence } from '../src/convergence/model-stability.ts';
import { trainingSizeStudy } from '../src/convergence/training-size-study.ts';
import type { Trainer } from '../src/fit/types.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { clearPipelineCaches, referenceStep } from '../src/pipeline/index.ts';
import { perturb } from '../src/potentials/combine.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { forceConstants } from '../src/potentials/evaluate.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { LaplacianPrecon } from '../src/relax/precon.ts';
import { eam2dParams } from './training-size-support.ts';
import { runs, timeout } from './mode.ts';

const REF_SIZE = 8;
const RADIUS = 4;

/** Exact lowest eigenvalue of the pencil (H, L) on the free coordinates of ū in the test ball (dense). */
function exactGamma(ref: ReturnType<typeof referenceStep>, pot: SitePotential): { gamma: number; dof: number } {
  const cutoff = Math.max(pot.cutoff, ref.pot.cutoff);
  const at = referenceMinimumIn(ref, RADIUS, cutoff);
  const s = at.structure;
  const d = s.dim;
  const n = s.positions.length / d;
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (at.free[i]) for (let a = 0; a < d; a++) idx.push(i * d + a);
  const fcs = forceConstants(pot, s);
  const L = new LaplacianPrecon(d, s, buildNeighbourList(s, cutoff), at.free, { mu: 1 });
  const m = idx.length;
  const H = new Matrix(m, m);
  const Lm = new Matrix(m, m);
  const e = new Float64Array(n * d);
  const y = new Float64Array(n * d);
  for (let c = 0; c < m; c++) {
    for (let r = 0; r < m; r++) H.set(r, c, fcs.columns[idx[c]][idx[r]]);
    e.fill(0);
    e[idx[c]] = 1;
    y.fill(0);
    L.apply(e, y);
    for (let r = 0; r < m; r++) Lm.set(r, c, y[idx[r]]);
  }
  const sym = (A: Matrix) => A.add(A.transpose()).mul(0.5);
  const R = new CholeskyDecomposition(sym(Lm)).lowerTriangularMatrix; // L = R R'
  const Ri = inverse(R);
  const C = sym(Ri.mmul(sym(H)).mmul(Ri.transpose()));
  return { gamma: Math.min(...new EigenvalueDecomposition(C, { assumeSymmetric: true }).realEigenvalues), dof: m };
}

const defect = fc.constantFrom('vacancy' as const, 'interstitial' as const);

describe('model stability at the reference minimum (the training-size study\'s assumption check)', () => {
  it('never flags a model whose exact gamma clears the margin; "unstable" is always a true negative curvature; enough steps find every one', () => {
    fc.assert(
      fc.property(eam2dParams, defect, fc.double({ min: 1.6, max: 4.4, noNaN: true }), fc.double({ min: 0.01, max: 0.07, noNaN: true }), (p, def, alpha, C) => {
        clearPipelineCaches();
        const ref = referenceStep({ pot: makePotential('eam-2d', p), potential: 'eam-2d', defect: def, refSize: REF_SIZE, checkRefSize: 0 });
        // A "fitted model" of the same family with other parameters: softer ones lose stability at ū.
        const model = makePotential('eam-2d', { ...p, alpha, C });
        const exact = exactGamma(ref, model);
        const label = `${JSON.stringify(p)} ${def} model alpha ${alpha} C ${C}: exact gamma ${exact.gamma}`;
        const few = modelStabilityAt(ref, model, { radius: RADIUS, steps: 12 });
        const all = modelStabilityAt(ref, model, { radius: RADIUS, steps: exact.dof + 2 });
        for (const st of [few, all]) {
          // Ritz values bound gamma from above (round-off aside), so a stable model is never called unstable ...
          expect(st.gamma, label).toBeGreaterThanOrEqual(exact.gamma - 1e-8 * Math.abs(exact.gamma) - 1e-10);
          if (exact.gamma >= 2 * st.margin * st.mu) expect(st.verdict, label).toBe('strongly stable');
          // ... and 'unstable' is a proof.
          if (st.verdict === 'unstable') expect(exact.gamma, label).toBeLessThan(0);
        }
        // With the whole space, Lanczos is exact: every model with a descent direction at ū is flagged.
        expect(all.gamma, label).toBeCloseTo(exact.gamma, 6);
        if (exact.gamma < -1e-6) expect(all.verdict, label).toBe('unstable');
        // The evidence: the reference's gamma by the same test, and the ratio.
        expect(all.referenceVerdict, label).toBe('strongly stable');
        expect(all.ratio, label).toBeCloseTo(all.gamma / all.gammaReference, 12);
        expect(stabilityEvidence(all), label).toContain(all.gamma.toExponential(2));
      }),
      { numRuns: runs(10), seed: 3141, endOnFailure: true },
    );
  }, 120_000);

  it('a model built to be unstable (energy x -s) is flagged, one built stable (x s) never is; gamma^H/gamma = s exactly when stable', () => {
    fc.assert(
      fc.property(eam2dParams, defect, fc.double({ min: 0.05, max: 3, noNaN: true }), (p, def, s) => {
        clearPipelineCaches();
        const V = makePotential('eam-2d', p);
        const ref = referenceStep({ pot: V, potential: 'eam-2d', defect: def, refSize: REF_SIZE, checkRefSize: 0 });
        const stable = modelStabilityAt(ref, perturb(V, V, s - 1), { radius: RADIUS });
        const unstable = modelStabilityAt(ref, perturb(V, V, -s - 1), { radius: RADIUS });
        const label = `${JSON.stringify(p)} ${def} s ${s}: stable ${JSON.stringify(stable)} unstable ${JSON.stringify(unstable)}`;
        expect(stable.verdict, label).toBe('strongly stable');
        expect(stable.ratio, label).toBeCloseTo(s, 6);
        expect(stable.relative, label).toBeCloseTo(stable.referenceRelative, 6);
        expect(unstable.verdict, label).toBe('unstable');
        expect(unstable.gamma, label).toBeLessThan(0);
        expect(unstable.ratio, label).toBeLessThan(0);
        expect(stabilityEvidence(unstable), label).toMatch(/unstable \(a descent direction at ū\).*ratio -/);
        for (const st of [stable, unstable]) {
          expect(st.gammaReference, label).toBeGreaterThan(0);
          expect(st.ballRadius).toBe(RADIUS);
          expect(st.lanczosSteps).toBeGreaterThan(1);
        }
      }),
      { numRuns: runs(6), seed: 2024, endOnFailure: true },
    );
  }, 120_000);
});

/** An external Gaussian well -D exp(-|x - A|^2 / 2 sig^2) on every atom: a constructed model with a far minimum. */
function gaussianWell(A: number[], D: number, sig: number): SitePotential {
  const terms = (s: Structure, i: number) => {
    const d = s.dim;
    let q = 0;
    for (let a = 0; a < d; a++) q += (s.positions[i * d + a] - A[a]) ** 2;
    return { d, e: D * Math.exp(-q / (2 * sig * sig)) };
  };
  return {
    name: 'gaussian-well',
    cutoff: 0.1,
    describe: () => ({ kind: 'gaussian-well', A, D, sig }),
    evaluate(s) {
      const d = s.dim;
      const x = s.positions;
      const n = x.length / d;
      const forces = new Float64Array(x.length);
      const siteEnergies = new Float64Array(n);
      const virial = new Float64Array(d * d);
      let energy = 0;
      for (let i = 0; i < n; i++) {
        const { e } = terms(s, i);
        siteEnergies[i] = -e;
        energy -= e;
        for (let a = 0; a < d; a++) forces[i * d + a] = (-e * (x[i * d + a] - A[a])) / (sig * sig);
        for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) virial[a * d + b] += x[i * d + a] * forces[i * d + b];
      }
      return { energy, siteEnergies, forces, virial };
    },
    hessianVector(s, _nl, v) {
      const d = s.dim;
      const x = s.positions;
      const out = new Float64Array(x.length);
      for (let i = 0; i < x.length / d; i++) {
        const { e } = terms(s, i);
        let rv = 0;
        for (let a = 0; a < d; a++) rv += (x[i * d + a] - A[a]) * v[i * d + a];
        for (let a = 0; a < d; a++) out[i * d + a] = (e / (sig * sig)) * (v[i * d + a] - ((x[i * d + a] - A[a]) * rv) / (sig * sig));
      }
      return out;
    },
  };
}

describe('basin check of the training-size study (a constructed model whose minimum is far from ū)', () => {
  const V = makePotential('eam-2d', {});
  const run = async (D: number) => {
    const ref = referenceStep({ pot: V, potential: 'eam-2d', defect: 'vacancy', refSize: 10 });
    const r0 = ref.lattice.r0;
    // The first-shell atom on the +x axis, at ū; the well sits 0.6 of the way from it to the vacancy, width r0/2.
    const x = ref.relaxation.result.structure.positions;
    let best = 0;
    for (let i = 1; i < x.length / 2; i++) if ((x[2 * i] - r0) ** 2 + x[2 * i + 1] ** 2 < (x[2 * best] - r0) ** 2 + x[2 * best + 1] ** 2) best = i;
    const model = perturb(V, gaussianWell([0.4 * x[2 * best], 0.4 * x[2 * best + 1]], D, 0.5 * r0), 1);
    const trainer: Trainer = { name: 'constructed-well', train: async () => ({ potential: model, report: {} }) };
    const [r] = await trainingSizeStudy({ pot: V, potential: 'eam-2d', defect: 'vacancy', refSize: 10, sizes: [7], observationSets: ['E+F'], trainer, rattled: 0 });
    return { r, p: r.points[0], r0 };
  };

  it('a shallow well never trips it: the assumption holds, the atom moves < 0.25 r0', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 2, noNaN: true }), async (D) => {
        const { p, r0 } = await run(D);
        const a = p.assumption!;
        expect(a.holds, `depth ${D}: ${a.evidence}`).toBe(true);
        expect(a.basin!.jumped).toBe(false);
        expect(a.basin!.start).toBe('reference lattice');
        expect(a.basin!.maxShift).toBeLessThan(0.25 * r0);
        expect(a.basin!.maxShift).toBeCloseTo(p.errors.maxNorm, 12);
      }),
      { numRuns: runs(3), seed: 77, endOnFailure: true },
    );
  }, timeout(90_000));

  it('a deep well is caught: strongly stable at ū, relaxed twice, the jump recorded, the fit "assumption fails"', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 4, max: 8, noNaN: true }), async (D) => {
        const { r, p, r0 } = await run(D);
        const a = p.assumption!;
        const label = `depth ${D}: ${a.evidence}`;
        expect(a.stability!.verdict, label).toBe('strongly stable');
        expect(a.holds, label).toBe(false);
        expect(a.basin!.jumped, label).toBe(true);
        expect(a.basin!.maxShift, label).toBeGreaterThan(0.5 * r0);
        expect(a.basin!.start, label).toMatch(/^reference minimum \(from the lattice it ended/);
        expect(a.evidence, label).toContain(a.basin!.maxShift.toExponential(2));
        // the errors are kept for the record but no fit uses them
        expect(Number.isFinite(p.errors.energyNorm), label).toBe(true);
        for (const f of r.fits) {
          expect(f.verdict, label).toBe('assumption fails');
          expect(f.dropped.some((dp) => dp.index === 0 && dp.reason.startsWith('assumption fails')), label).toBe(true);
        }
        expect(r.verdict, label).toBe('assumption fails');
      }),
      { numRuns: runs(3), seed: 78, endOnFailure: true },
    );
  }, timeout(90_000));
});

describe('the default test: the whole ball, then half of it, the lower curvature kept', () => {
  it('gives the lower of the two balls\' Lanczos estimates, with that ball\'s radius and reference gamma; an unstable whole ball stops there', () => {
    fc.assert(
      fc.property(eam2dParams, defect, fc.double({ min: -2, max: 2, noNaN: true }).filter((s) => Math.abs(s) > 0.05), (p, def, s) => {
        clearPipelineCaches();
        const V = makePotential('eam-2d', p);
        const ref = referenceStep({ pot: V, potential: 'eam-2d', defect: def, refSize: REF_SIZE, checkRefSize: 0 });
        const model = perturb(V, V, s - 1); // energy x s: unstable for s < 0
        const dflt = modelStabilityAt(ref, model);
        const whole = modelStabilityAt(ref, model, { radius: REF_SIZE });
        const half = modelStabilityAt(ref, model, { radius: REF_SIZE / 2 });
        const label = `${JSON.stringify(p)} ${def} s ${s}: default ${dflt.gamma} (R ${dflt.ballRadius}), whole ${whole.gamma}, half ${half.gamma}`;
        if (whole.verdict !== 'strongly stable') {
          expect(dflt, label).toEqual(whole);
        } else {
          expect(dflt.gamma, label).toBe(Math.min(whole.gamma, half.gamma));
          expect(dflt, label).toEqual(half.gamma < whole.gamma ? half : whole);
        }
        expect(dflt.ratio, label).toBeCloseTo(dflt.gamma / dflt.gammaReference, 12);
        if (s < 0) expect(dflt.verdict, label).toBe('unstable');
      }),
      { numRuns: runs(6), seed: 2025, endOnFailure: true },
    );
  }, 120_000);
});

describe('a mode far from the defect (a narrow bump on one atom at ~0.74 R_ref)', () => {
  const V = makePotential('eam-2d', {});
  it('the default test, in the relaxation\'s whole ball, flags it; the half ball cannot see it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 1, max: 4, noNaN: true }), async (H) => {
        clearPipelineCaches();
        const ref = referenceStep({ pot: V, potential: 'eam-2d', defect: 'vacancy', refSize: 10 });
        const r0 = ref.lattice.r0;
        const x = ref.relaxation.result.structure.positions;
        let best = 0;
        const d2 = (i: number) => (x[2 * i] - 7.5 * r0) ** 2 + x[2 * i + 1] ** 2;
        for (let i = 1; i < x.length / 2; i++) if (d2(i) < d2(best)) best = i;
        // gaussianWell with a negative depth is a bump: zero force at its centre, curvature -H / sig^2 there.
        const model = perturb(V, gaussianWell([x[2 * best], x[2 * best + 1]], -H, 0.1 * r0), 1);
        const half = modelStabilityAt(ref, model, { radius: 5 });
        const label = `height ${H}: half ball ${stabilityEvidence(half)}`;
        expect(half.verdict, label).toBe('strongly stable');
        expect(half.ratio, label).toBeCloseTo(1, 6); // the bump is outside it: the reference's own gamma
        const trainer: Trainer = { name: 'constructed-bump', train: async () => ({ potential: model, report: {} }) };
        const [r] = await trainingSizeStudy({ pot: V, potential: 'eam-2d', defect: 'vacancy', refSize: 10, sizes: [7], observationSets: ['E+F'], trainer, rattled: 0 });
        const a = r.points[0].assumption!;
        expect(a.holds, `${label}; whole: ${a.evidence}`).toBe(false);
        expect(a.stability!.ballRadius).toBe(10);
        expect(a.stability!.verdict, a.evidence).toBe('unstable');
        expect(a.stability!.gamma, a.evidence).toBeLessThan(0);
        expect(r.points[0].info?.relaxSkipped, a.evidence).toMatch(/not strongly stable/);
        for (const f of r.fits) expect(f.verdict, a.evidence).toBe('assumption fails');
      }),
      { numRuns: runs(3), seed: 79, endOnFailure: true },
    );
  }, timeout(90_000));
});
