/**
 * P3 (THEORY.md section 3, docs/theory.md P3): on one fixed training set, a nested family of linear MLIP bases
 * (FIT_FAMILY levels 2-4: 25, 58, 79 functions) is fitted and each model's defect relaxed in the reference ball; the
 * geometry errors (energy norm, max norm) fall like the training force RMSE, slope 1 within 0.25, for generated
 * cases: eam-2d parameters in the physical range of properties/relax-p1.test.ts, the rattle seed, and the per-kind fit
 * weights of E and V within a factor 10 (0.3-3). The study's own checks are part of the verdict: every fitted level in
 * the linear-response regime, the error insensitive to the ball (reference R = 12 against a check ball R = 8; the CLI
 * default compares R with R/2 at R = 16), and the MLIP relaxations' error estimates far below the errors.
 *
 * Only the vacancy is generated, and this is a measured limitation, not a choice of convenience: in a ball R = 12 the
 * divacancy's MLIP error is not yet a property of the model (it changes by 47% between R = 12 and R = 8 at 79
 * functions, eam-2d alpha 3.6; its fitted slope was 0.50, and the study fails itself with "use a larger refSize"),
 * and the interstitial's 58-function MLIP relaxes into another state (energy-norm error 0.93; the study drops it as
 * outside the linear regime). Larger balls for those defects cost minutes, which belongs to the CLI study
 * (docs/theory.md section 5 has the numbers). E_f against the force RMSE is a hypothesis (see the study): it may be
 * 'not observed' but never fails. Two generated cases keep the file well under a minute.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitAccuracyStudy } from '../src/convergence/fit-accuracy-study.ts';
import { runs, timeout } from './mode.ts';

describe('P3: fit-accuracy rate (generated 2D cases)', () => {
  it('energy-norm and max-norm errors have slope 1 against the training force RMSE', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          D: fc.double({ min: 0.4, max: 0.6, noNaN: true }),
          alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
          C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
        }),
        fc.integer({ min: 1, max: 1000 }),
        fc.record({ E: fc.double({ min: 0.3, max: 3, noNaN: true }), V: fc.double({ min: 0.3, max: 3, noNaN: true }) }),
        async (params, seed, w) => {
          const r = await fitAccuracyStudy({
            // By name and params (not a ready-made pot): the pipeline caches the training cell by potential name and
            // params, so a pot object would share cache entries across generated cases with equal r0.
            potential: 'eam-2d',
            params,
            defect: 'vacancy',
            refSize: 12,
            checkRefSize: 8,
            rDom: 10,
            observations: 'E+F+V',
            rattled: 4,
            seed,
            weights: { E: w.E, F: 1, V: w.V },
            levels: [2, 3, 4],
          });
          const label = `${JSON.stringify(params)} vacancy seed ${seed} w ${JSON.stringify(w)}: ` +
            r.fits.map((f) => `${f.measure} ${f.slope.toFixed(3)}`).join(', ') + `; ${(r.notes ?? []).join('; ')}`;
          // The force RMSE really falls along the nested family (a fit that stalls would make the slope meaningless).
          for (let i = 1; i < r.points.length; i++) expect(r.points[i].x, label).toBeLessThan(r.points[i - 1].x);
          for (const m of ['energyNorm', 'maxNorm']) {
            const f = r.fits.find((x) => x.measure === m)!;
            expect(f.pointsUsed, `${m}: ${label}`).toBe(3);
            expect(Math.abs(f.slope - 1), `${m}: ${label}`).toBeLessThanOrEqual(0.25);
          }
          expect(['observed', 'not observed'], label).toContain(r.fits.find((x) => x.measure === 'formationEnergy')!.verdict);
          expect(r.verdict, label).not.toBe('fail');
        },
      ),
      { numRuns: runs(2), seed: 2718, endOnFailure: true },
    );
  }, timeout(120_000));
});
