import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fitLinear } from '../src/fit/linear.ts';
import { observe } from '../src/fit/generate.ts';
import type { TrainingConfig, TrainingSet } from '../src/fit/types.ts';
import { buildBasis, type BasisSpec } from '../src/mlip/basis.ts';
import { LinearMLIP } from '../src/mlip/model.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { evaluate } from '../src/potentials/evaluate.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { FitError } from '../src/util/errors.ts';
import { Rng } from '../src/util/rng.ts';
import { rattledCell, smallSpec } from './mlip-helpers.ts';

const EPS = 2 ** -52;

function dataSet(ref: SitePotential, seeds: number[], kinds: TrainingSet['observations'], amp = 0.05): TrainingSet {
  const configs: TrainingConfig[] = seeds.map((sd) => {
    const s = rattledCell(2, sd, amp);
    return { role: 'rattled', structure: s, weight: 1, seed: sd, ...observe(ref, s, { energy: true, forces: true, virial: true }) };
  });
  return { configs, observations: kinds, meta: {} };
}

/**
 * The two fits solve the same problem up to rounding; a backward-stable solve perturbs the fitted values (not each
 * coefficient: small coefficients of an ill-conditioned basis may move relatively more) by about cond * eps relative
 * to the data. Compared on the training forces and energies, with C = 10^3 for the accumulated rounding.
 */
function expectSameFit(a: ReturnType<typeof fitLinear>, b: ReturnType<typeof fitLinear>, set: TrainingSet): void {
  const tol = Math.max(1e3 * a.report.conditionSolved * EPS, 1e-12);
  for (const c of set.configs) {
    const ra = evaluate(a.model, c.structure);
    const rb = evaluate(b.model, c.structure);
    let scale = 0;
    for (const f of c.forces!) scale = Math.max(scale, Math.abs(f));
    for (let i = 0; i < ra.forces.length; i++) expect(Math.abs(ra.forces[i] - rb.forces[i])).toBeLessThan(tol * scale);
    expect(Math.abs(ra.energy - rb.energy)).toBeLessThan(tol * Math.abs(c.energy!));
  }
}

describe('linear fit', () => {
  test('exact recovery: E+F data of a random linear combination of the basis give back its coefficients', () => {
    const spec = smallSpec(2);
    const K = buildBasis(spec).functions.length;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const rng = new Rng(seed);
        const c = Float64Array.from({ length: K }, () => rng.normal());
        const ref = new LinearMLIP(spec, c);
        const set = dataSet(ref, [seed + 1, seed + 2, seed + 3], ['E', 'F']);
        const { model, report } = fitLinear(set, { basis: spec, lambda: 0, requireUnique: true });
        expect(report.rank).toBe(K);
        // Forward error of a backward-stable least-squares solve of a consistent system: <= C cond * eps, in the
        // column-scaled coordinates the condition number refers to. C = 100 covers the accumulated rounding of the
        // per-row data and QR over ~10^3 rows.
        const bound = 100 * report.condition * EPS;
        let err = 0;
        let nrm = 0;
        for (let k = 0; k < K; k++) {
          err = Math.max(err, Math.abs(model.coefficients[k] - c[k]));
          nrm = Math.max(nrm, Math.abs(c[k]));
        }
        expect(err / nrm).toBeLessThan(Math.max(bound, 1e-12));
        expect(report.errors.F!.rmse).toBeLessThan(1e-9 * report.errors.F!.scale);
      }),
      { numRuns: 5 },
    );
  });

  test('scaling every weight by a constant leaves the fit unchanged (prior strength is relative to the data)', () => {
    const ref = makePotential('eam-2d', { rc: 2.0, rin: 1.5 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (seed, s) => {
        const set = dataSet(ref, [seed, seed + 1], ['E', 'F', 'V']);
        const spec = smallSpec(2, { angularDegree: 1 });
        const a = fitLinear(set, { basis: spec, lambda: 1e-8 });
        const scaled: TrainingSet = { ...set, configs: set.configs.map((c) => ({ ...c, weight: c.weight * s * s })) };
        const b = fitLinear(scaled, { basis: spec, lambda: 1e-8, weights: { E: s, F: s, V: s } });
        // Identical problem up to rounding: coefficient change bounded by cond * eps (scaled coordinates).
        expectSameFit(a, b, set);
      }),
      { numRuns: 5 },
    );
  });

  test('duplicating a configuration equals doubling its weight', () => {
    const ref = makePotential('eam-2d', { rc: 2.0, rin: 1.5 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 2 }), (seed, which) => {
        const set = dataSet(ref, [seed, seed + 1, seed + 2], ['E', 'F', 'V']);
        const spec = smallSpec(2, { angularDegree: 1 });
        const dup: TrainingSet = { ...set, configs: [...set.configs, set.configs[which]] };
        const dbl: TrainingSet = { ...set, configs: set.configs.map((c, q) => (q === which ? { ...c, weight: 2 * c.weight } : c)) };
        const a = fitLinear(dup, { basis: spec, lambda: 1e-8 });
        const b = fitLinear(dbl, { basis: spec, lambda: 1e-8 });
        expectSameFit(a, b, set);
      }),
      { numRuns: 5 },
    );
  });

  test('nested family: the weighted training residual decreases weakly with the basis size on a fixed set', () => {
    const ref = makePotential('eam-2d', { rc: 2.0, rin: 1.5 });
    const base: BasisSpec = smallSpec(2, { pairFunctions: 2, densityFunctions: 1, embeddingOrder: 1, angularFunctions: 0, angularDegree: 0 });
    const grow = ['pairFunctions', 'densityFunctions', 'embeddingOrder', 'angularFunctions', 'angularDegree'] as const;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.array(fc.constantFrom(...grow), { minLength: 3, maxLength: 5 }), (seed, steps) => {
        const set = dataSet(ref, [seed, seed + 1], ['E', 'F', 'V']);
        let spec = base;
        let prev = fitLinear(set, { basis: spec, lambda: 0 }).report.weightedResidual;
        for (const st of steps) {
          spec = { ...spec, [st]: spec[st] + 1 };
          if (st === 'angularFunctions' && spec.angularDegree === 0) spec = { ...spec, angularDegree: 1 };
          if (st === 'angularDegree' && spec.angularFunctions === 0) spec = { ...spec, angularFunctions: 1 };
          const r = fitLinear(set, { basis: spec, lambda: 0 }).report.weightedResidual;
          // A larger basis contains the smaller one, so the least-squares minimum cannot rise; slack for rounding
          // in the accumulated triangle (relative eps times the number of rows).
          expect(r).toBeLessThanOrEqual(prev * (1 + 1e-9) + 1e-14);
          prev = r;
        }
      }),
      { numRuns: 5 },
    );
  });

  test('rank deficiency (energies only, fewer configurations than functions) is reported, or refused on request', () => {
    const ref = makePotential('eam-2d', { rc: 2.0, rin: 1.5 });
    const set = dataSet(ref, [1, 2, 3], ['E']);
    const spec = smallSpec(2);
    const { report } = fitLinear(set, { basis: spec, lambda: 0 });
    expect(report.rankDeficient).toBe(true);
    expect(report.rank).toBeLessThanOrEqual(3);
    expect(report.solution).toBe('svd-minimum-norm');
    expect(() => fitLinear(set, { basis: spec, lambda: 0, requireUnique: true })).toThrow(FitError);
  });
});
