import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { ballDomain, DEFECT_KINDS, INTERSTITIAL_KEY, periodicDomain, type DefectKind } from '../src/lattice/domain.ts';
import { LATTICE_NAMES, makeLattice } from '../src/lattice/lattice.ts';
import { bruteForceNeighbours, buildNeighbourList } from '../src/lattice/neighbours.ts';
import { perpendicularWidths, type Dim, type Structure } from '../src/lattice/structure.ts';
import { Rng } from '../src/util/rng.ts';

/**
 * Cell-list neighbour lists against brute force on random configurations: open and periodic, 2D and 3D, skewed cells
 * (triangular-like angles down to 45 degrees), cutoffs from a fraction of the cell width to more than the width (many
 * images of one atom). Pairs are compared as sorted (j, r_ij) lists; r_ij agree to round-off.
 */
function randomStructure(seed: number, dim: Dim, n: number, periodic: boolean): Structure {
  const rng = new Rng(seed);
  const L = 2 + 4 * rng.uniform();
  let cell: Float64Array | null = null;
  if (periodic) {
    if (dim === 2) {
      const th = (Math.PI / 4) * (1 + 2 * rng.uniform()); // 45..135 degrees
      const b = L * (0.7 + 0.6 * rng.uniform());
      cell = Float64Array.of(L, 0, b * Math.cos(th), b * Math.sin(th));
    } else {
      cell = new Float64Array(9);
      for (let k = 0; k < 3; k++) for (let a = 0; a < 3; a++) cell[k * 3 + a] = (k === a ? L : 0) + 0.4 * L * (rng.uniform() - 0.5);
    }
  }
  const pos = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (cell) {
      // Fractional coordinates in [-0.5, 1.5): atoms outside the cell exercise the wrapping.
      const f = Array.from({ length: dim }, () => 2 * rng.uniform() - 0.5);
      for (let a = 0; a < dim; a++) for (let k = 0; k < dim; k++) pos[i * dim + a] += f[k] * cell[k * dim + a];
    } else for (let a = 0; a < dim; a++) pos[i * dim + a] = L * (rng.uniform() - 0.5) * 2;
  }
  return { dim, positions: pos, cell };
}

describe('neighbour list = brute force', () => {
  test.prop(
    [fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom<Dim>(2, 3), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.double({ min: 0.1, max: 1.3, noNaN: true })],
    { numRuns: 100 },
  )('same pairs and pair vectors', (seed, dim, n, periodic, cutFrac) => {
    const s = randomStructure(seed, dim, n, periodic);
    // Cutoff relative to the smallest cell width (periodic) or the box (open).
    const ref = s.cell ? Math.min(...perpendicularWidths(s.cell, dim)) : 4;
    const cutoff = cutFrac * ref;
    const nl = buildNeighbourList(s, cutoff);
    const bf = bruteForceNeighbours(s, cutoff);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const got: Array<{ j: number; r: number[] }> = [];
      for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
        const j = nl.index[p];
        const r: number[] = [];
        for (let a = 0; a < dim; a++) r.push(s.positions[j * dim + a] + nl.shift[p * dim + a] - s.positions[i * dim + a]);
        got.push({ j, r });
      }
      const exp = bf[i];
      expect(got.length, `atom ${i}: ${got.length} neighbours vs ${exp.length} brute force`).toBe(exp.length);
      // Match every found pair to an unused brute-force pair with the same j and the same vector (to round-off).
      const used = new Uint8Array(exp.length);
      for (const g of got) {
        let hit = -1;
        for (let k = 0; k < exp.length && hit < 0; k++) {
          if (used[k] || exp[k].j !== g.j) continue;
          let dmax = 0;
          for (let a = 0; a < dim; a++) dmax = Math.max(dmax, Math.abs(exp[k].r[a] - g.r[a]));
          if (dmax < 1e-10) hit = k;
        }
        expect(hit, `atom ${i}: pair (${g.j}, [${g.r}]) not in the brute-force list`).toBeGreaterThanOrEqual(0);
        used[hit] = 1;
      }
      total += got.length;
    }
    expect(nl.offsets[n]).toBe(total);
  });
});

describe('stable site keys', () => {
  test.prop(
    [
      fc.constantFrom(...LATTICE_NAMES),
      fc.constantFrom<DefectKind>(...DEFECT_KINDS),
      fc.double({ min: 1.5, max: 3, noNaN: true }),
      fc.double({ min: 0.5, max: 3, noNaN: true }),
      fc.double({ min: 0.8, max: 1.2, noNaN: true }),
    ],
    { numRuns: 40 },
  )('the same site has the same key and position in ball and periodic domains of different sizes', (name, defect, R, extra, r0) => {
    const l = makeLattice(name, r0);
    fc.pre(defect !== 'interstitial-octahedral' || l.dim === 3);
    const cutoff = 1.2 * r0;
    const doms = [
      ballDomain(l, defect, R * r0, cutoff),
      ballDomain(l, defect, (R + extra) * r0, cutoff),
      periodicDomain(l, defect, (2 * R + 2) * r0, cutoff),
      periodicDomain(l, defect, (2 * R + 2 + 2 * extra) * r0, cutoff),
    ];
    const maps = doms.map((dm) => {
      const m = new Map<string, number[]>();
      dm.keys.forEach((k, i) => {
        expect(m.has(k), `duplicate key ${k}`).toBe(false);
        m.set(k, Array.from(dm.structure.positions.subarray(i * l.dim, (i + 1) * l.dim)));
      });
      return m;
    });
    // A smaller ball is a subset of a larger one, key by key.
    for (const k of maps[0].keys()) expect(maps[1].has(k), `key ${k} missing from the larger ball`).toBe(true);
    // Wherever two domains share a key, the reference positions are identical.
    let shared = 0;
    for (let a = 0; a < maps.length; a++)
      for (let b = a + 1; b < maps.length; b++)
        for (const [k, x] of maps[a]) {
          const y = maps[b].get(k);
          if (y) {
            expect(y, `site ${k}`).toEqual(x);
            shared++;
          }
        }
    expect(shared).toBeGreaterThan(0);
    // The defect is at the origin in every domain.
    for (const m of maps) {
      const origin = `${new Array(l.dim).fill(0).join(',')}:0`;
      // A 3D 'interstitial' is the split dumbbell: the origin's atom is replaced by the pair (defects-3d tests).
      const dumbbell = defect === 'interstitial' && l.dim === 3;
      expect(m.has(origin)).toBe(defect !== 'vacancy' && defect !== 'divacancy' && !dumbbell);
      expect(m.has(INTERSTITIAL_KEY)).toBe(defect === 'interstitial' || defect === 'interstitial-octahedral');
      if ((defect === 'interstitial' && !dumbbell) || defect === 'interstitial-octahedral') {
        expect(m.get(INTERSTITIAL_KEY)).toEqual(Array.from(l.interstitial));
      }
    }
  });
});
