import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { checkForceConstants, checkForces, checkHessianVector, checkVirial, type CheckFn } from '../src/checks/index.ts';
import { boundaryArb, lattice, PARAMS, potential, POTENTIAL_NAMES, r0Arb, runs, seedArb } from './core-arbitraries.ts';

/**
 * Exact derivatives of the reference potentials, over random parameters, random rattled and strained configurations
 * (periodic and open, 2D and 3D) and seeds: forces, virial and Hessian-vector products against Richardson-extrapolated
 * central differences, force constants symmetric and translation invariant. A failure prints the fast-check seed and
 * path, and the check's own message carries the configuration seed (replay: { seed, cases: 1 }).
 */
const CASES: Array<[string, CheckFn, boolean]> = [
  ['forces = -grad E', checkForces, true],
  ['virial = -dE/d(strain)', checkVirial, false],
  ['Hessian-vector product = directional derivative of the gradient', checkHessianVector, true],
  ['force constants symmetric with zero row and column sums', checkForceConstants, true],
];

describe.each(POTENTIAL_NAMES)('%s', (name) => {
  for (const [title, check, anyBoundary] of CASES) {
    test.prop([PARAMS[name], seedArb, r0Arb, boundaryArb], { numRuns: runs(name, 12, 3) })(title, (params, seed, r0, boundary) => {
      const r = check(potential(name, params), {
        seed,
        r0,
        lattice: lattice(name),
        cases: 1,
        boundary: anyBoundary ? boundary : 'periodic',
      });
      expect(r.status, JSON.stringify(r)).toBe('pass');
      expect(r.worst).toBeLessThanOrEqual(r.tolerance);
    });
  }
});
