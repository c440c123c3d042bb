/**
 * P2 (THEORY.md section 3, docs/theory.md P2): V + tW relaxed in one clamped ball. The errors ||D(u_t - u_0)||,
 * max |u_t - u_0|, |E_f(t) - E_f(0)| and the linearisation remainders ||D(u_t - u_0 - t u1)|| / t and
 * |E_f(t) - E_f(0) - t E_f'(0)| / t all have slope 1 in t (sharp, |p - 1| <= 0.25), for generated cases: the base
 * eam-2d in the physical range of properties/relax-p1.test.ts (alpha 3.6-4.4, where every defect is strongly stable),
 * the perturbation W's shape within about a factor 2 of its default, and the defect. t spans 1e-4..1e-1 (three
 * decades), with every relaxation at max|F| <= 1e-12 so that the remainder at t = 1e-4 (a difference of fields
 * ~ 1e-9 in the energy norm) is resolved; the study itself checks that resolution, and the second test shows the
 * check fails a study whose relaxations are too loose for it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultPerturbation, perturbationStudy } from '../src/convergence/perturbation-study.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { runs, timeout } from './mode.ts';

describe('P2: perturbation rates (generated 2D cases)', () => {
  it('errors and linearisation remainders have slope 1 in t', () => {
    fc.assert(
      fc.property(
        fc.record({
          D: fc.double({ min: 0.4, max: 0.6, noNaN: true }),
          alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
          C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
        }),
        fc.record({
          D: fc.double({ min: 0.15, max: 0.6, noNaN: true }),
          alpha: fc.double({ min: 2, max: 3, noNaN: true }),
          r0: fc.double({ min: 1.1, max: 1.3, noNaN: true }),
          beta: fc.double({ min: 1, max: 2, noNaN: true }),
          C: fc.double({ min: 0.015, max: 0.06, noNaN: true }),
        }),
        fc.constantFrom('vacancy' as const, 'interstitial' as const, 'divacancy' as const),
        (vp, wp, defect) => {
          const V = makePotential('eam-2d', vp);
          const r = perturbationStudy({
            pot: V,
            potential: 'eam-2d',
            perturbation: defaultPerturbation(V, wp),
            defect,
            radius: 8,
            ts: [1e-4, 1e-3, 1e-2, 1e-1],
            tol: 1e-12,
          });
          const label = `V ${JSON.stringify(vp)} W ${JSON.stringify(wp)} ${defect}: ` +
            r.fits.map((f) => `${f.measure} ${f.slope.toFixed(3)}`).join(', ') + `; ${(r.notes ?? []).join('; ')}`;
          expect(r.fits.map((f) => f.measure)).toEqual(['energyNorm', 'maxNorm', 'formationEnergy', 'remainder', 'formationEnergyRemainder']);
          for (const f of r.fits) {
            expect(f.pointsUsed, label).toBe(4);
            expect(Math.abs(f.slope - 1), `${f.measure}: ${label}`).toBeLessThanOrEqual(0.25);
          }
          // The remainder is genuinely second order: at t = 1e-4 it is far below the first-order error.
          const p0 = r.points[0];
          expect(p0.errors.remainder * p0.x, label).toBeLessThan(1e-2 * p0.errors.energyNorm);
          expect(r.verdict, label).toBe('pass');
        },
      ),
      { numRuns: runs(3), seed: 4242, endOnFailure: true },
    );
  }, timeout(120_000));

  it('relaxations too loose to resolve the remainder fail the study with the reason', () => {
    const r = perturbationStudy({ defect: 'vacancy', radius: 8, ts: [1e-4, 1e-3, 1e-2], tol: 1e-7 });
    expect(r.verdict).toBe('fail');
    expect((r.notes ?? []).some((n) => n.includes('remainder is not resolved'))).toBe(true);
    const res = r.settings.resolution as Array<{ t: number; ok: boolean }>;
    expect(res.find((x) => x.t === 1e-4)?.ok).toBe(false);
  });

  it('re-equilibrating the lattice of V + tW keeps slope 1 for the errors', () => {
    const r = perturbationStudy({ defect: 'vacancy', radius: 8, ts: [1e-3, 1e-2, 1e-1], latticeMode: 'perturbed' });
    expect(r.fits.map((f) => f.measure)).toEqual(['energyNorm', 'maxNorm', 'formationEnergy']);
    for (const f of r.fits) expect(Math.abs(f.slope - 1), f.measure).toBeLessThanOrEqual(0.25);
    expect(r.verdict).toBe('pass');
  });
});
