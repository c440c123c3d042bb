/**
 * Basin-change detection (src/convergence/branch.ts): it catches a jump and never flags a smooth branch.
 * - Constructed: a smooth branch u0 + t u1 + t^2 u2 (per-atom |u1|, |u2| <= r0, t <= 0.1, plus a rigid translation
 *   when translations are removed) is never flagged against the prediction u0 + t u1; the same branch with one atom
 *   hopped by 0.3-1.5 r0 is flagged, at that atom.
 * - Real: a 2D vacancy relaxed from a start where a neighbour has hopped into the vacant site lands in another
 *   minimum (the vacancy moved), and the check flags it; relaxed from the reference field it stays (shift ~ 0).
 * - Real, in a study: P2 on a small eam-2d ball follows its branch at every t (continuation) and passes.
 */
import fc from 'fast-check';
import { test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { basinChange, BASIN_JUMP_FRACTION, relaxFrom } from '../src/convergence/branch.ts';
import { perturbationStudy } from '../src/convergence/perturbation-study.ts';
import { makeDomain } from '../src/lattice/domain.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { relaxDefect } from '../src/relax/defect.ts';

const vec = (n: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n });

describe('basin-change detection (constructed)', () => {
  test.prop(
    [
      fc.constantFrom(2, 3),
      fc.integer({ min: 1, max: 40 }),
      fc.double({ min: 1e-6, max: 0.1, noNaN: true }),
      fc.double({ min: 0.5, max: 3, noNaN: true }),
      fc.boolean(),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    ],
    { numRuns: 100 },
  )('a smooth branch is never flagged; one hopped atom always is, at that atom', (d, n, t, r0, periodic, seed) => {
    // Deterministic per-case fields from the seed (fast-check reports it with the failing case).
    const rnd = fc.sample(fc.tuple(vec(n * d), vec(n * d), vec(n * d), vec(d)), { seed, numRuns: 1 })[0];
    const [a0, a1, a2, tr] = rnd;
    const clampAtom = (v: number[]) => {
      // Scale each atom's vector to length <= r0.
      const out = new Float64Array(v.length);
      for (let i = 0; i < n; i++) {
        const len = Math.hypot(...v.slice(i * d, i * d + d));
        const s = len > 1 ? r0 / len : r0;
        for (let a = 0; a < d; a++) out[i * d + a] = v[i * d + a] * s;
      }
      return out;
    };
    const u0 = clampAtom(a0);
    const u1 = clampAtom(a1);
    const u2 = clampAtom(a2);
    const keys = Array.from({ length: n }, (_, i) => `${i},0:0`);
    const pred = u0.map((x, k) => x + t * u1[k]);
    const u = u0.map((x, k) => x + t * u1[k] + t * t * u2[k] + (periodic ? r0 * tr[k % d] : 0));
    const smooth = basinChange(u, pred, keys, d, r0, { removeTranslation: periodic });
    expect(smooth.jumped).toBe(false);
    expect(smooth.maxShift).toBeLessThanOrEqual(2 * t * t * r0 + 1e-12 * r0);
    // One atom hops by 0.35-1.5 r0 (a direction from the seed). In a periodic cell removing the mean translation takes
    // size / n of the hop, so with n >= 6 at least 5/6 of it remains: 0.29 r0 > BASIN_JUMP_FRACTION r0 = 0.25 r0. (A
    // 0.3 r0 hop keeps exactly 0.25 r0 at n = 6, on the threshold: fast-check found it, seed 0, [2,6,1e-6,0.5,true,0].)
    const hop = seed % n;
    const dir = tr.map((x, a) => x + (a === 0 ? 1.5 : 0));
    const len = Math.hypot(...dir);
    const size = (0.35 + 1.15 * ((seed % 997) / 996)) * r0;
    const v = u.slice();
    for (let a = 0; a < d; a++) v[hop * d + a] += (size * dir[a]) / len;
    const j = basinChange(v, pred, keys, d, r0, { removeTranslation: periodic });
    // Removing the mean moves the hop by at most size / n; a jump must still stand out when n >= 2 (n = 1: the
    // translation takes the whole hop, which is right: one free atom in a periodic cell has no other basin).
    if (!periodic || n >= 6) {
      expect(j.jumped).toBe(true);
      expect(j.atom).toBe(keys[hop]);
      expect(j.maxShift).toBeGreaterThan(BASIN_JUMP_FRACTION * r0);
    }
  });
});

describe('basin-change detection (relaxations)', () => {
  it('a vacancy relaxed after a neighbour hopped into it lands elsewhere and is flagged; the branch start is not', () => {
    const pot = makePotential('eam-2d');
    const pl = equilibriumLattice(pot, 'triangular');
    const dom = makeDomain(pl.lattice, 'vacancy', 'ball', 5, pot.cutoff);
    const ref = relaxDefect(pot, dom, { tol: 1e-9, e0: pl.e0 });
    const again = relaxFrom(pot, dom, ref.displacement, { tol: 1e-9, e0: pl.e0 });
    const same = basinChange(again.displacement, ref.displacement, dom.keys, 2, pl.lattice.r0);
    expect(same.jumped).toBe(false);
    expect(same.maxShift).toBeLessThan(1e-6);
    // The neighbour at (1, 0) hops into the vacant origin: the relaxation finds the vacancy at (1, 0) instead.
    const k = dom.keys.indexOf('1,0:0');
    const start = ref.displacement.slice();
    start[2 * k] -= pl.lattice.r0;
    const hopped = relaxFrom(pot, dom, start, { tol: 1e-9, e0: pl.e0 });
    const jump = basinChange(hopped.displacement, ref.displacement, dom.keys, 2, pl.lattice.r0);
    expect(jump.jumped).toBe(true);
    expect(jump.atom).toBe('1,0:0');
    expect(jump.maxShift).toBeGreaterThan(0.8 * pl.lattice.r0);
  }, 120_000);

  it('P2 on eam-2d follows its branch at every t and passes', () => {
    const r = perturbationStudy({ defect: 'interstitial', radius: 6, ts: [1e-3, 1e-2, 1e-1], tol: 1e-12 });
    const branch = r.settings.branch as Array<{ t: number; maxShift: number; leftBranch: boolean }>;
    expect(branch.length).toBe(3);
    for (const b of branch) {
      expect(b.leftBranch).toBe(false);
      expect(b.maxShift).toBeLessThan(0.05);
    }
    expect((r.settings.stability as { verdict: string }).verdict).toBe('strongly stable');
    expect(r.verdict).toBe('pass');
  }, 180_000);
});
