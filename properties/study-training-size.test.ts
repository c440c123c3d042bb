/**
 * P4-P6, the training-cell size study (src/convergence/training-size-study.ts), on cheap generated 2D cases: eam-2d
 * parameters in the range of relax-p1.test.ts, vacancy or interstitial, seeds of rattled copies, per-kind weights
 * within a factor 10. Regime: a DeltaTrainer (a deliberately wrong prior, alpha - 0.3 and C x 0.6 of the reference,
 * plus a level-2 linear correction), reference ball R = 12, training cells R_dom = 7, 8.5, 10 (three points: small,
 * so each property runs in well under a minute; `mlip-verify study training-size` runs the long sequences).
 *
 * - P4 (an upper bound): every geometry measure of E+F either decays at least as fast as R_dom^{-d/2} (slope
 *   <= -d/2 + 0.25 over >= 3 points above the measured floor) or sits at the floor, and then the bound itself is
 *   checked and must hold: error(R) <= C R^{-d/2} + 3 floor with C from the smallest R_dom (it fails for errors that
 *   grow with R_dom, so it is not vacuous).
 * - P6 is in study-p6.test.ts (its E-only relaxations are the slow part; a file of its own runs in parallel).
 * - Ordering: E+F+V+FC is not worse than E+F at the largest R_dom (with a correction that can fit FC and V: level 3,
 *   FC and V weighted 0.01 and 0.1; why level 2 is not enough is stated at the test).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trainingSizeStudy } from '../src/convergence/training-size-study.ts';
import { clearPipelineCaches } from '../src/pipeline/index.ts';
import { deltaCase, eam2dParams as params } from './training-size-support.ts';
import { LinearTrainer } from '../src/fit/linear.ts';
import type { Trainer } from '../src/fit/types.ts';
import { runs, timeout } from './mode.ts';


describe('P4-P6: training-cell size (generated 2D cases)', () => {
  it('P4: E+F geometry errors decay at least like R_dom^{-d/2} above the floor, or obey the bound at the floor', async () => {
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.constantFrom('vacancy' as const, 'interstitial' as const),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.record({ E: fc.double({ min: 0.3, max: 3, noNaN: true }), F: fc.double({ min: 0.3, max: 3, noNaN: true }) }),
        async (p, defect, rattled, seed, kindWeights) => {
          clearPipelineCaches();
          const [r] = await trainingSizeStudy({
            ...deltaCase(p, defect),
            sizes: [7, 8.5, 10],
            observationSets: ['E+F'],
            basisLevel: 2,
            rattled,
            seed,
            kindWeights,
          });
          const label = `${JSON.stringify(p)} ${defect} rattled ${rattled} seed ${seed} w ${JSON.stringify(kindWeights)}: ` +
            r.fits.map((f) => `${f.measure} ${f.verdict} (${f.explanation})`).join('; ');
          for (const m of ['energyNorm', 'maxNorm']) {
            const f = r.fits.find((x) => x.measure === m)!;
            expect(Number.isFinite(r.floor![m]) && r.floor![m] > 0, label).toBe(true);
            expect(['pass', 'at floor'], `${m}: ${label}`).toContain(f.verdict);
            if (f.verdict === 'pass') {
              expect(f.pointsUsed, label).toBeGreaterThanOrEqual(3);
              expect(f.slope, label).toBeLessThanOrEqual(-1 + 0.25);
            } else {
              const bc = (r.settings.boundChecks as Record<string, { margins: number[] }>)[m];
              expect(bc, label).toBeDefined();
              expect(bc.margins.length, label).toBe(3);
              for (const v of bc.margins) expect(v, label).toBeGreaterThanOrEqual(1);
            }
          }
          for (const pt of r.points) expect(pt.info!.maxForce as number, label).toBeLessThanOrEqual(1e-10);
        },
      ),
      { numRuns: runs(2), seed: 2718, endOnFailure: true },
    );
  }, timeout(120_000));

  it('accepts any Trainer (plug-ins): it trains once per R_dom and once for the floor, and the result says so', async () => {
    clearPipelineCaches();
    const inner = new LinearTrainer({ basis: { level: 2 } });
    const seen: unknown[] = [];
    const trainer: Trainer = {
      name: 'counting-trainer',
      async train(set) {
        seen.push(set.meta.rDom);
        return inner.train(set);
      },
    };
    const [r] = await trainingSizeStudy({ potential: 'eam-2d', defect: 'vacancy', sizes: [7, 8.5], refSize: 10, observationSets: ['E+F'], trainer, rattled: 0 });
    expect(seen).toEqual([7, 8.5, 'in-domain floor (reference ball)']);
    expect(r.settings.regime).toBe('custom trainer');
    expect(r.points.map((p) => p.info!.trainer)).toEqual(['counting-trainer', 'counting-trainer']);
    // Every point checked the theory's assumption first: a plug-in's model that is not strongly stable at the reference
    // minimum (this bare level-2 linear MLIP at R_dom 7: gamma^H = -3.1 against the reference's 3.3) is not relaxed and
    // says why; every other point relaxed to a finite error.
    for (const p of r.points) {
      const a = p.assumption!;
      expect(a.stability!.gammaReference).toBeGreaterThan(0);
      expect(Number.isFinite(p.errors.energyNorm), a.evidence).toBe(a.holds);
      if (!a.holds) expect(a.stability!.verdict === 'strongly stable' ? a.basin!.jumped : a.stability!.gamma < a.stability!.margin * a.stability!.mu).toBe(true);
    }
  }, timeout(60_000));

  /**
   * The ordering needs a correction able to fit the perfect lattice's force constants and stress without spoiling
   * the defect core: with a level-2 correction (19 functions) the FC rows are fitted only to RMSE ~0.2 and the
   * compromise raises the core force residual tenfold, so E+F+V+FC is worse than E+F (measured, docs/theory.md); with
   * level 3 (58 functions) and FC, V weighted 0.01, 0.1 (the study's defaults) the far-field data help at every R_dom.
   */
  it('ordering: E+F+V+FC is not worse than E+F at the largest R_dom (level-3 correction, default weights)', async () => {
    await fc.assert(
      fc.asyncProperty(params, async (p) => {
        clearPipelineCaches();
        const rs = await trainingSizeStudy({
          ...deltaCase(p, 'vacancy'),
          sizes: [10],
          observationSets: ['E+F', 'E+F+V+FC'],
          basisLevel: 3,
          kindWeights: { V: 0.1, FC: 0.01 },
          rattled: 0,
        });
        const [ef, all] = rs.map((r) => r.points[r.points.length - 1].errors.energyNorm);
        expect(all, `${JSON.stringify(p)}: E+F+V+FC ${all.toExponential(3)} vs E+F ${ef.toExponential(3)}`).toBeLessThanOrEqual(ef);
      }),
      { numRuns: runs(2), seed: 1414, endOnFailure: true },
    );
  }, timeout(120_000));
});
