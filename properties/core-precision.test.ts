import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { checkCompensatedSum, checkHighPrecision, exactDecimal } from '../src/checks/index.ts';
import { HP } from '../src/util/decimal.ts';
import { neumaierSum } from '../src/util/sum.ts';
import { boundaryArb, lattice, PARAMS, potential, POTENTIAL_NAMES, r0Arb, runs, seedArb } from './core-arbitraries.ts';

/** The float64 kernels against decimal.js, and compensated summation of large, nearly cancelling sums. */
describe.each(POTENTIAL_NAMES)('%s', (name) => {
  test.prop([PARAMS[name], seedArb, r0Arb, boundaryArb], { numRuns: runs(name, 4, 2) })(
    'float64 energy agrees with the decimal.js evaluation to 1e-12 relative',
    (params, seed, r0, boundary) => {
      const r = checkHighPrecision(potential(name, params), { seed, r0, lattice: lattice(name), cases: 1, boundary });
      expect(r.status, JSON.stringify(r)).toBe('pass');
    },
  );
  test.prop([PARAMS[name], seedArb], { numRuns: 2 })(
    'compensated sum of ~2e4 site energies minus N e0 agrees with decimal.js to 4 eps',
    (params, seed) => {
      const r = checkCompensatedSum(potential(name, params), { seed, lattice: lattice(name), cases: 1 });
      expect(r.status, JSON.stringify(r)).toBe('pass');
    },
  );
});

/** Values spanning many magnitudes with both signs: the sums where plain accumulation loses most. */
const terms = fc.array(
  fc.tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: -30, max: 30 })).map(([m, e]) => m * 2 ** e),
  { minLength: 1, maxLength: 3000 },
);

test.prop([terms], { numRuns: 60 })('neumaierSum obeys its error bound eps|S| + 2n eps^2 sum|x| against decimal.js', (xs) => {
  let exact = new HP(0);
  let abs = 0;
  for (const x of xs) {
    exact = exact.plus(exactDecimal(x));
    abs += Math.abs(x);
  }
  const got = neumaierSum(xs);
  const err = exactDecimal(got).minus(exact).abs().toNumber();
  const eps = Number.EPSILON / 2;
  const bound = eps * Math.abs(exact.toNumber()) + 2 * xs.length * eps * eps * abs + Number.MIN_VALUE;
  expect(err).toBeLessThanOrEqual(bound);
});

test.prop([fc.double({ noNaN: true, noDefaultInfinity: true })])('exactDecimal converts back to the same float64', (x) => {
  expect(exactDecimal(x).toNumber() === x).toBe(true);
});

test('exactDecimal keeps the binary value, not the shortest decimal string (0.1 is not 1/10 in float64)', () => {
  expect(exactDecimal(0.1).toString()).toBe('0.1000000000000000055511151231257827021182');
  expect(exactDecimal(2 ** -60).toString()).toBe(new HP(2).pow(-60).toString());
});
