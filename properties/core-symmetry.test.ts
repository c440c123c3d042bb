import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { checkCutoffSmoothness, checkExtensivity, checkInvariance, checkLocality, type CheckFn } from '../src/checks/index.ts';
import { boundaryArb, lattice, PARAMS, potential, POTENTIAL_NAMES, r0Arb, runs, seedArb } from './core-arbitraries.ts';

/**
 * What the theory says must not matter (THEORY.md section 1): E is invariant under translation, rotation, reflection
 * and permutation, forces and virial rotate with the frame; site energies are local; energy, forces and force constants
 * are continuous as a neighbour crosses the cutoff; the perfect lattice at its stress-free constant is extensive with
 * zero forces and stress.
 */
const CASES: Array<[string, CheckFn]> = [
  ['energy invariant under translation, rotation, reflection, permutation; forces and virial covariant', checkInvariance],
  ['locality: moving an atom outside the cutoff of a site leaves its site energy unchanged', checkLocality],
  ['smoothness: energy, forces and Hessian continuous as a neighbour crosses the cutoff', checkCutoffSmoothness],
];

describe.each(POTENTIAL_NAMES)('%s', (name) => {
  for (const [title, check] of CASES) {
    test.prop([PARAMS[name], seedArb, r0Arb, boundaryArb], { numRuns: runs(name, 10, 3) })(title, (params, seed, r0, boundary) => {
      const r = check(potential(name, params), { seed, r0, lattice: lattice(name), cases: 1, boundary });
      expect(r.status, JSON.stringify(r)).toBe('pass');
    });
  }
  // The stress-free lattice is solved per draw (a 1D root find), so fewer runs.
  test.prop([PARAMS[name], seedArb], { numRuns: runs(name, 5, 2) })(
    'extensivity: perfect periodic cells of several sizes have E = N e0, zero forces, zero virial',
    (params, seed) => {
      const r = checkExtensivity(potential(name, params), { seed, lattice: lattice(name), cases: 2 });
      expect(r.status, JSON.stringify(r)).toBe('pass');
    },
  );
});
