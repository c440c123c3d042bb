/**
 * P6 of the training-cell size study (src/convergence/training-size-study.ts): energies alone are never better than
 * energies and forces, in the energy norm, at every R_dom, on generated 2D cases (eam-2d in the P1 range, vacancy or
 * interstitial, a deliberately wrong prior alpha - 0.3 and C x 0.6 plus a level-2 correction, reference ball R = 12,
 * R_dom = 7 and 10). Every relaxation must converge: a failed one gives no answer, and the study then says 'not
 * observed' rather than counting it as worse.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trainingSizeStudy } from '../src/convergence/training-size-study.ts';
import { clearPipelineCaches } from '../src/pipeline/index.ts';
import { deltaCase, eam2dParams as params } from './training-size-support.ts';
import { runs, timeout } from './mode.ts';

describe('P6: energies alone (generated 2D cases)', () => {
  it('P6: energies alone are never better than energies and forces (energy norm, every R_dom)', async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.constantFrom('vacancy' as const, 'interstitial' as const), async (p, defect) => {
        clearPipelineCaches();
        const rs = await trainingSizeStudy({
          ...deltaCase(p, defect),
          sizes: [7, 10],
          observationSets: ['E', 'E+F'],
          basisLevel: 2,
          rattled: 0,
          // An E-only MLIP can be so wrong that its relaxation crawls (300-550 iterations at ball 16): no iteration cap,
          // and a time limit far above what it needs, so the comparison is made on converged relaxations.
          relaxTimeLimit: 600,
        });
        const by = Object.fromEntries(rs.map((r) => [r.label, r]));
        const en = (set: string) => by[set].points.map((pt) => pt.errors.energyNorm);
        const label = `${JSON.stringify(p)} ${defect}: E ${en('E').map((v) => v.toExponential(2))} E+F ${en('E+F').map((v) => v.toExponential(2))}`;
        // Every relaxation must finish (a failed one would leave P6 without an answer at that R_dom).
        en('E').forEach((v, i) => {
          expect(Number.isFinite(v), `${label}: ${String(by.E.points[i].info?.relaxFailed)}`).toBe(true);
          expect(v, label).toBeGreaterThanOrEqual(en('E+F')[i]);
        });
        en('E+F').forEach((v) => expect(Number.isFinite(v), label).toBe(true));
        // The study records P6 per measure; in the energy norm (what this property checks) it must say observed.
        expect(by.E.fits.find((f) => f.measure === 'energyNorm')!.verdict, label).toBe('observed');
        expect((by.E.notes ?? []).some((n) => n.startsWith('P6 energyNorm') && n.endsWith(': observed')), label).toBe(true);
      }),
      { numRuns: runs(2), seed: 1618, endOnFailure: true },
    );
  }, timeout(120_000));
});
