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
 *   a scaled pencil is the same).
 */
import fc from 'fast-check';
import { CholeskyDecomposition, EigenvalueDecomposition, inverse, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { modelStabilityAt, referenceMinimumIn, stabilityEvidence } from '../src/convergence/model-stability.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { clearPipelineCaches, referenceStep } from '../src/pipeline/index.ts';
import { perturb } from '../src/potentials/combine.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { forceConstants } from '../src/potentials/evaluate.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { LaplacianPrecon } from '../src/relax/precon.ts';
import { eam2dParams } from './training-size-support.ts';
import { runs } from './mode.ts';

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
