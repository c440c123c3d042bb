/**
 * The fit-and-relax pipeline (src/pipeline) end to end on tiny 2D cases: reference ball R_ref = 12, training cell
 * R_dom = 7, a small basis. What must hold whatever the potential parameters and seeds: every step records its inputs,
 * seeds and wall time; the reference and the MLIP relaxation converge to the requested residual; the errors are finite
 * and non-negative; the reference's own truncation estimate is reported; caches return the same numbers; and an MLIP
 * that is exactly the reference (a DeltaTrainer whose prior is the reference: the fitted correction is zero) reproduces
 * the reference solution, so the comparison itself adds no error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinearTrainer } from '../src/fit/linear.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { clearPipelineCaches, DeltaTrainer, errorStep, mlipRelaxStep, referenceStep, runPipeline, trainingStep } from '../src/pipeline/index.ts';
import { ParameterError } from '../src/util/errors.ts';
import { runs, timeout } from './mode.ts';

const TOL = 1e-10;

describe('fit-and-relax pipeline (tiny 2D cases)', () => {
  it('runs, records inputs/seeds/timings, converges, reports finite errors and the reference truncation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          D: fc.double({ min: 0.4, max: 0.6, noNaN: true }),
          alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
          C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
        }),
        fc.constantFrom('vacancy' as const, 'interstitial' as const),
        fc.integer({ min: 1, max: 1000 }),
        async (params, defect, seed) => {
          clearPipelineCaches();
          const pot = makePotential('eam-2d', params);
          const r = await runPipeline({
            reference: { pot, defect, refSize: 12, tol: TOL },
            training: { rDom: 7, observations: 'E+F', rattled: 2, seed },
            trainer: new DeltaTrainer(makePotential('eam-2d', { ...params, alpha: params.alpha - 0.3 }), new LinearTrainer({ basis: { level: 1 } })),
          });
          const label = `${JSON.stringify(params)} ${defect} seed ${seed}`;
          // inputs, seeds, timings
          expect(r.reference.inputs.refSize, label).toBe(12);
          expect(r.reference.inputs.defect, label).toBe(defect);
          expect(r.training.inputs.rDom, label).toBe(7);
          expect(r.training.inputs.observations, label).toBe('E+F');
          expect(r.training.seeds, label).toEqual([seed, seed + 1]);
          expect(r.training.composition['defect-relaxed'].configs, label).toBe(1);
          expect(r.training.composition['defect-rattled'].configs, label).toBe(2);
          expect(r.fit.inputs.trainer, label).toContain('prior');
          for (const t of [r.reference.wallTimeSeconds, r.training.wallTimeSeconds, r.fit.wallTimeSeconds, r.mlipRelax.wallTimeSeconds, r.errors.wallTimeSeconds, r.wallTimeSeconds]) {
            expect(Number.isFinite(t) && t >= 0, label).toBe(true);
          }
          // convergence
          expect(r.reference.relaxation.result.maxForce, label).toBeLessThanOrEqual(TOL);
          expect(r.training.cellRelaxation.maxForce, label).toBeLessThanOrEqual(TOL);
          expect(r.mlipRelax.relaxation.result.maxForce, label).toBeLessThanOrEqual(TOL);
          expect(r.mlipRelax.inputs.start, label).toBe('reference lattice');
          // errors finite, non-negative; the comparison covers the whole reference ball
          for (const v of [r.errors.energyNorm, r.errors.maxNorm, r.errors.formationEnergy]) expect(Number.isFinite(v) && v >= 0, label).toBe(true);
          expect(r.errors.comparison.sites, label).toBe(r.reference.relaxation.domain.keys.length);
          // the wrong prior was corrected only partly: the MLIP is not the reference (a non-trivial comparison)
          expect(r.errors.energyNorm, label).toBeGreaterThan(1e-8);
          // reference truncation reported, positive, and smaller than the half-ball difference it comes from
          const tr = r.reference.truncation!;
          expect(tr.checkRefSize, label).toBe(6);
          for (const m of ['energyNorm', 'maxNorm', 'formationEnergy'] as const) {
            expect(tr.estimate[m] > 0 && tr.estimate[m] < tr.difference[m], `${m} ${label}`).toBe(true);
          }
          expect(r.errors.referenceTruncation, label).toEqual(tr.estimate);
          expect(typeof r.errors.referenceAdequate, label).toBe('boolean');
        },
      ),
      { numRuns: runs(2), seed: 4242, endOnFailure: true },
    );
  }, timeout(120_000));

  it('an MLIP equal to the reference (prior = reference, zero correction) reproduces the reference solution', async () => {
    clearPipelineCaches();
    const ref = referenceStep({ potential: 'eam-2d', defect: 'vacancy', refSize: 12, tol: TOL });
    const tr = await trainingStep(ref, { rDom: 7, observations: 'E+F', rattled: 1 });
    const trainer = new DeltaTrainer(makePotential('eam-2d'), new LinearTrainer({ basis: { level: 1 } }));
    const model = await trainer.train(tr.set);
    const m = mlipRelaxStep(ref, model.potential);
    const e = errorStep(ref, m);
    expect(m.relaxation.result.maxForce).toBeLessThanOrEqual(TOL);
    // Both relaxations stop at max|F| <= 1e-10 with curvature O(1): the fields agree to about the residual.
    expect(e.energyNorm).toBeLessThan(1e-8);
    expect(e.maxNorm).toBeLessThan(1e-8);
    expect(e.formationEnergy).toBeLessThan(1e-9);
  }, timeout(60_000));

  it('caches: the second run reuses the reference and the training cell and gives identical errors', async () => {
    clearPipelineCaches();
    const cfg = {
      reference: { potential: 'eam-2d', defect: 'vacancy' as const, refSize: 12, tol: TOL },
      training: { rDom: 7, observations: 'E+F+V+FC', rattled: 1 },
      trainer: new LinearTrainer({ basis: { level: 1 } }),
    };
    const a = await runPipeline(cfg);
    const b = await runPipeline(cfg);
    expect(a.reference.cached).toBe(false);
    expect(b.reference.cached).toBe(true);
    expect(a.training.cellRelaxation.cached).toBe(false);
    expect(b.training.cellRelaxation.cached).toBe(true);
    expect(b.errors.energyNorm).toBe(a.errors.energyNorm);
    expect(b.errors.formationEnergy).toBe(a.errors.formationEnergy);
    expect(Object.keys(a.training.composition).sort()).toEqual(['defect-rattled', 'defect-relaxed', 'perfect', 'strained-perfect']);
  }, timeout(60_000));

  // Regression guard for the cache key (it used the name 'eam-2d' and the lattice constant, not the parameters). It
  // does not fail on the old key, because these two potentials also differ in r0; the old key collided only for
  // same-name references with equal r0.
  it('the training-cell cache is keyed by the reference potential itself, not only its name', async () => {
    clearPipelineCaches();
    const r1 = referenceStep({ pot: makePotential('eam-2d', { alpha: 3.8 }), defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: TOL });
    const r2 = referenceStep({ pot: makePotential('eam-2d', { alpha: 4.2 }), defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: TOL });
    const t1 = await trainingStep(r1, { rDom: 7, observations: 'E+F', rattled: 0 });
    const t2 = await trainingStep(r2, { rDom: 7, observations: 'E+F', rattled: 0 });
    expect(t2.cellRelaxation.cached).toBe(false);
    const f1 = t1.set.configs[0].structure.positions;
    const f2 = t2.set.configs[0].structure.positions;
    expect(f1.some((v, i) => v !== f2[i])).toBe(true);
  }, timeout(60_000));

  it('forceMask: masked atoms do not enter the fit or its errors (a corrupted masked force changes nothing)', async () => {
    clearPipelineCaches();
    const ref = referenceStep({ defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: TOL });
    const tr = await trainingStep(ref, { rDom: 7, observations: 'E+F', rattled: 2, seed: 5 });
    const n = tr.set.configs[1].structure.positions.length / 2;
    const mask = new Uint8Array(n).fill(1);
    mask[3] = 0;
    const corrupt = tr.set.configs[1].forces!.slice();
    corrupt[6] += 100;
    corrupt[7] -= 50;
    const with_ = (forces: Float64Array, m?: Uint8Array) => ({
      ...tr.set,
      configs: tr.set.configs.map((c, i) => (i === 1 ? { ...c, forces, forceMask: m } : c)),
    });
    const trainer = new LinearTrainer({ basis: { level: 1 } });
    const clean = await trainer.train(with_(tr.set.configs[1].forces!, mask));
    const dirty = await trainer.train(with_(corrupt, mask));
    const unmasked = await trainer.train(with_(corrupt));
    const c = (m: { potential: unknown }) => (m.potential as { coefficients: Float64Array }).coefficients;
    expect(Array.from(c(dirty))).toEqual(Array.from(c(clean)));
    expect(c(unmasked).some((v, i) => Math.abs(v - c(clean)[i]) > 1e-6 * (1 + Math.abs(v)))).toBe(true);
    const fr = (m: { report: Record<string, unknown> }) => (m.report.errors as { F: { rmse: number; count: number } }).F;
    expect(fr(dirty).rmse).toBe(fr(clean).rmse);
    expect(fr(dirty).count).toBe(fr(unmasked).count - 2);
    const bad = with_(corrupt, new Uint8Array(n - 1).fill(1));
    await expect(trainer.train(bad)).rejects.toThrow(ParameterError);
  }, timeout(60_000));

  it("perfectCells 'always' gives every observation set the same configurations", async () => {
    clearPipelineCaches();
    const ref = referenceStep({ defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: TOL });
    const roles = async (observations: string, perfectCells?: 'always' | 'by-kind') =>
      Object.keys((await trainingStep(ref, { rDom: 7, observations, rattled: 1, perfectCells })).composition).sort();
    expect(await roles('E+F')).toEqual(['defect-rattled', 'defect-relaxed']);
    expect(await roles('E+F', 'always')).toEqual(['defect-rattled', 'defect-relaxed', 'perfect', 'strained-perfect']);
    expect(await roles('E', 'always')).toEqual(await roles('E+F+V+FC', 'always'));
  }, timeout(60_000));

  it('bad input is a typed error', async () => {
    expect(() => referenceStep({ defect: 'vacancy', refSize: -1 })).toThrow(ParameterError);
    expect(() => referenceStep({ defect: 'vacancy', refSize: 10, checkRefSize: 10 })).toThrow(ParameterError);
    const ref = referenceStep({ defect: 'vacancy', refSize: 8, checkRefSize: 0, tol: TOL });
    await expect(trainingStep(ref, { rDom: 0 })).rejects.toThrow(ParameterError);
    await expect(trainingStep(ref, { rDom: 7, observations: 'E+X' })).rejects.toThrow(ParameterError);
    const other = referenceStep({ defect: 'vacancy', refSize: 9, checkRefSize: 0, tol: TOL });
    const m = mlipRelaxStep(other, ref.pot);
    expect(() => errorStep(ref, m)).toThrow(ParameterError);
  }, timeout(60_000));
});
