import fc from 'fast-check';
import { makePotential } from '../src/potentials/defaults.ts';

/** eam-2d parameters of the generated training-size cases: the strongly stable range of relax-p1.test.ts. */
export const eam2dParams = fc.record({
  D: fc.double({ min: 0.4, max: 0.6, noNaN: true }),
  alpha: fc.double({ min: 3.6, max: 4.4, noNaN: true }),
  C: fc.double({ min: 0.03, max: 0.07, noNaN: true }),
});

/** The deliberately wrong prior the DeltaTrainer fine-tunes: softer Morse, weaker embedding than the reference. */
export const wrongPrior = (p: { D: number; alpha: number; C: number }) => ({ ...p, alpha: p.alpha - 0.3, C: p.C * 0.6 });

/** What every generated training-size case shares: eam-2d with parameters p as the reference, the wrong prior, ball 12. */
export function deltaCase(p: { D: number; alpha: number; C: number }, defect: 'vacancy' | 'interstitial') {
  return {
    pot: makePotential('eam-2d', p),
    potential: 'eam-2d',
    priorPotential: 'eam-2d',
    priorParams: wrongPrior(p),
    defect,
    refSize: 12,
  };
}
