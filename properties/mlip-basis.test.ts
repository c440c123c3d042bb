import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { BasisEvaluator, LinearMLIP, parseModel, serialiseModel } from '../src/mlip/model.ts';
import { buildBasis } from '../src/mlip/basis.ts';
import { Rng } from '../src/util/rng.ts';
import { maxAbs, rattledCell, smallSpec } from './mlip-helpers.ts';
import { clearDistances } from '../src/checks/configs.ts';

const dims = [2, 3] as const;

function linMap(s: Structure, M: number[]): Structure {
  const d = s.dim;
  const ap = (x: Float64Array) => {
    const o = new Float64Array(x.length);
    for (let i = 0; i < x.length; i += d)
      for (let a = 0; a < d; a++) {
        let t = 0;
        for (let b = 0; b < d; b++) t += M[a * d + b] * x[i + b];
        o[i + a] = t;
      }
    return o;
  };
  return { dim: d, positions: ap(s.positions), cell: s.cell ? ap(s.cell) : null };
}

function rotation(dim: 2 | 3, rng: Rng): number[] {
  if (dim === 2) {
    const t = 2 * Math.PI * rng.uniform();
    return [Math.cos(t), -Math.sin(t), Math.sin(t), Math.cos(t)];
  }
  // random unit quaternion
  let q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const n = Math.hypot(...q);
  q = q.map((v) => v / n);
  const [w, x, y, z] = q;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

function evalAll(ev: BasisEvaluator, s: Structure) {
  const n = s.positions.length / s.dim;
  const K = ev.size;
  const energy = new Float64Array(K);
  const siteEnergies = new Float64Array(K * n);
  const forces = new Float64Array(K * n * s.dim);
  const virial = new Float64Array(K * s.dim * s.dim);
  ev.evaluate(s, buildNeighbourList(s, ev.cutoff), { energy, siteEnergies, forces, virial });
  return { energy, siteEnergies, forces, virial };
}

describe('MLIP basis: exact derivatives against finite differences', () => {
  for (const dim of dims) {
    test(`${dim}D: per-basis forces, virial and Hessian-vector products match central differences`, () => {
      const ev = new BasisEvaluator(smallSpec(dim));
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
          // The C^3 envelope's fourth derivative jumps at rin and rc: a stencil (|t v| up to ~2e-3 here) straddling
          // them leaves Richardson an O(h^2) error (measured 1.6e-6 in 3D, seed 73459). Pairs are nudged 5e-3 clear.
          const s = rattledCell(dim, seed, 0.06);
          const spec = smallSpec(dim);
          clearDistances(s, [(spec.envelope as { rin: number }).rin, spec.cutoff], 5e-3);
          const rng = new Rng(seed + 7);
          const n = s.positions.length / dim;
          const K = ev.size;
          const base = evalAll(ev, s);
          // Directional derivative of every basis energy along a random v: -F_k . v, by Richardson-extrapolated
          // central differences (error O(h^4)).
          const v = Float64Array.from({ length: n * dim }, () => rng.normal());
          const h = 1e-4;
          const eAt = (t: number) => evalAll(ev, { ...s, positions: s.positions.map((x, i) => x + t * v[i]) }).energy;
          const [p1, m1, p2, m2] = [eAt(h), eAt(-h), eAt(2 * h), eAt(-2 * h)];
          for (let k = 0; k < K; k++) {
            const d1 = (p1[k] - m1[k]) / (2 * h);
            const d2 = (p2[k] - m2[k]) / (4 * h);
            const fd = (4 * d1 - d2) / 3;
            let an = 0;
            for (let i = 0; i < n * dim; i++) an -= base.forces[k * n * dim + i] * v[i];
            const scale = Math.abs(an) + maxAbs(base.forces.subarray(k * n * dim, (k + 1) * n * dim)) + 1e-300;
            expect(Math.abs(fd - an) / scale).toBeLessThan(1e-6);
          }
          // Virial: W = -dE/d(strain) along a random symmetric strain direction.
          const S = Array.from({ length: dim * dim }, () => 0);
          for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) S[a * dim + b] = S[b * dim + a] = rng.normal();
          const eS = (t: number) => evalAll(ev, linMap(s, S.map((x, q) => (q % (dim + 1) === 0 ? 1 : 0) + t * x))).energy;
          const [sp1, sm1, sp2, sm2] = [eS(h), eS(-h), eS(2 * h), eS(-2 * h)];
          for (let k = 0; k < K; k++) {
            const fd = (4 * ((sp1[k] - sm1[k]) / (2 * h)) - (sp2[k] - sm2[k]) / (4 * h)) / 3;
            let an = 0;
            for (let q = 0; q < dim * dim; q++) an -= base.virial[k * dim * dim + q] * S[q];
            const scale = Math.abs(an) + maxAbs(base.virial.subarray(k * dim * dim, (k + 1) * dim * dim)) + 1e-300;
            expect(Math.abs(fd - an) / scale).toBeLessThan(1e-6);
          }
          // HVP: d/dt grad E_k(x + t w) against differences of the analytic forces.
          const w = Float64Array.from({ length: n * dim }, () => rng.normal());
          const hv = new Float64Array(K * n * dim);
          ev.hessianVector(s, buildNeighbourList(s, ev.cutoff), w, hv);
          const fAt = (t: number) => evalAll(ev, { ...s, positions: s.positions.map((x, i) => x + t * w[i]) }).forces;
          const [fp1, fm1, fp2, fm2] = [fAt(h), fAt(-h), fAt(2 * h), fAt(-2 * h)];
          for (let k = 0; k < K; k++) {
            const o = k * n * dim;
            const sc = maxAbs(hv.subarray(o, o + n * dim)) + 1e-300;
            let err = 0;
            for (let i = 0; i < n * dim; i++) {
              const fd = -(4 * ((fp1[o + i] - fm1[o + i]) / (2 * h)) - (fp2[o + i] - fm2[o + i]) / (4 * h)) / 3;
              err = Math.max(err, Math.abs(fd - hv[o + i]));
            }
            expect(err / sc).toBeLessThan(1e-6);
          }
        }),
        { numRuns: dim === 2 ? 6 : 3 },
      );
    });
  }

  test('the model (merged polynomial) equals sum_k c_k B_k in energy and forces', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(2 as const, 3 as const), (seed, dim) => {
        const spec = smallSpec(dim);
        const K = buildBasis(spec).functions.length;
        const rng = new Rng(seed);
        const c = Array.from({ length: K }, () => rng.normal());
        const m = new LinearMLIP(spec, c);
        const s = rattledCell(dim, seed);
        const nl = buildNeighbourList(s, spec.cutoff);
        const r = m.evaluate(s, nl);
        const b = evalAll(m.basisEvaluator(), s);
        const n = s.positions.length / dim;
        let e = 0;
        let eScale = 0;
        for (let k = 0; k < K; k++) {
          e += c[k] * b.energy[k];
          eScale += Math.abs(c[k] * b.energy[k]);
        }
        expect(Math.abs(r.energy - e)).toBeLessThan(1e-12 * eScale);
        const f = new Float64Array(n * dim);
        let fScale = 0;
        for (let k = 0; k < K; k++)
          for (let i = 0; i < n * dim; i++) {
            f[i] += c[k] * b.forces[k * n * dim + i];
            fScale = Math.max(fScale, Math.abs(c[k] * b.forces[k * n * dim + i]));
          }
        for (let i = 0; i < n * dim; i++) expect(Math.abs(r.forces[i] - f[i])).toBeLessThan(1e-11 * fScale * K);
      }),
      { numRuns: 4 },
    );
  });
});

describe('MLIP basis: invariances', () => {
  for (const dim of dims) {
    test(`${dim}D: rotation, reflection, translation and permutation leave every basis function's energy unchanged`, () => {
      const ev = new BasisEvaluator(smallSpec(dim));
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
          const rng = new Rng(seed);
          const s = rattledCell(dim, seed, 0.08);
          const n = s.positions.length / dim;
          const base = evalAll(ev, s);
          const tol = (k: number) => 1e-11 * (maxAbs(base.siteEnergies.subarray(k * n, (k + 1) * n)) * n + 1);
          const check = (t: Structure, perm?: number[]) => {
            const r = evalAll(ev, t);
            for (let k = 0; k < ev.size; k++) {
              expect(Math.abs(r.energy[k] - base.energy[k])).toBeLessThan(tol(k));
              if (perm) {
                for (let i = 0; i < n; i++) {
                  expect(Math.abs(r.siteEnergies[k * n + i] - base.siteEnergies[k * n + perm[i]])).toBeLessThan(tol(k));
                }
              }
            }
          };
          check(linMap(s, rotation(dim, rng)));
          const refl: number[] = Array.from({ length: dim * dim }, (_, q) => (q % (dim + 1) === 0 ? 1 : 0));
          refl[0] = -1;
          check(linMap(s, refl));
          const shift = Array.from({ length: dim }, () => 3 * rng.normal());
          check({ ...s, positions: s.positions.map((x, i) => x + shift[i % dim]) });
          const perm = Array.from({ length: n }, (_, i) => i);
          for (let i = n - 1; i > 0; i--) {
            const j = Math.floor(rng.uniform() * (i + 1));
            [perm[i], perm[j]] = [perm[j], perm[i]];
          }
          const px = new Float64Array(n * dim);
          for (let i = 0; i < n; i++) for (let a = 0; a < dim; a++) px[i * dim + a] = s.positions[perm[i] * dim + a];
          check({ ...s, positions: px }, perm);
        }),
        { numRuns: 4 },
      );
    });
  }
});

describe('MLIP basis: smoothness at the cutoff', () => {
  for (const env of [{ kind: 'smooth', rin: 1.5 } as const, { kind: 'poly', power: 4 } as const]) {
    test(`${env.kind} envelope: a dimer's basis energies, forces and force constants vanish like (rc - r)^(4,3,2)`, () => {
      const spec = smallSpec(2, { envelope: env, oneBody: false });
      const ev = new BasisEvaluator(spec);
      const rc = spec.cutoff;
      fc.assert(
        fc.property(fc.double({ min: 1e-3, max: 1e-2, noNaN: true }), fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }), (delta, th) => {
          const at = (r: number) => {
            const s: Structure = { dim: 2, positions: Float64Array.of(0, 0, r * Math.cos(th), r * Math.sin(th)), cell: null };
            const out = evalAll(ev, s);
            const hv = new Float64Array(ev.size * 4);
            ev.hessianVector(s, buildNeighbourList(s, ev.cutoff), Float64Array.of(0, 0, Math.cos(th), Math.sin(th)), hv);
            return { ...out, hv };
          };
          const a = at(rc - delta);
          const b = at(rc - delta / 10);
          const beyond = at(rc * (1 + 1e-12));
          expect(maxAbs(beyond.energy)).toBe(0);
          expect(maxAbs(beyond.forces)).toBe(0);
          for (let k = 0; k < ev.size; k++) {
            // Ten times closer to the cutoff: energy falls by >= 10^4 (C^3 envelope), forces 10^3, Hessian 10^2,
            // up to the lower-order Taylor terms (factor 2 slack on the leading ratio).
            const ea = Math.abs(a.energy[k]);
            const eb = Math.abs(b.energy[k]);
            expect(eb).toBeLessThanOrEqual(2 * ea * 1e-4 + 1e-300);
            const fa = maxAbs(a.forces.subarray(k * 4, k * 4 + 4));
            expect(maxAbs(b.forces.subarray(k * 4, k * 4 + 4))).toBeLessThanOrEqual(2 * fa * 1e-3 + 1e-300);
            const ha = maxAbs(a.hv.subarray(k * 4, k * 4 + 4));
            expect(maxAbs(b.hv.subarray(k * 4, k * 4 + 4))).toBeLessThanOrEqual(2 * ha * 1e-2 + 1e-300);
          }
        }),
        { numRuns: 10 },
      );
    });
  }
});

describe('MLIP serialisation', () => {
  test('JSON round trip is bit-identical (coefficients, spec, evaluation), including -0 and subnormals', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2 as const, 3 as const),
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 200, maxLength: 200 }),
        (dim, pool) => {
          const spec = smallSpec(dim);
          const K = buildBasis(spec).functions.length;
          const c = pool.slice(0, K);
          const m = new LinearMLIP(spec, c, 'x', { seed: 3 });
          const m2 = parseModel(serialiseModel(m));
          expect(m2.coefficients.length).toBe(K);
          for (let k = 0; k < K; k++) expect(Object.is(m2.coefficients[k], m.coefficients[k])).toBe(true);
          expect(m2.spec).toEqual(m.spec);
          expect(serialiseModel(m2)).toBe(serialiseModel(m));
        },
      ),
      { numRuns: 20 },
    );
  });
});
