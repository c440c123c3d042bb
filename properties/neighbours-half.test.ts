/**
 * The half neighbour list that the pair kernels read (src/lattice/neighbours.ts) and the Verlet-skin reuse of lists
 * (NeighbourCache):
 *  - the half list holds every unordered pair within the cutoff exactly once (an atom's own image pair {t, -t} once),
 *    with the right pair vector (the difference of its two sites' coordinates, ghost sites included), against brute
 *    force, on open and periodic, skewed and narrow, dense and very sparse cells (the sparse ones exercise the capped
 *    bin grid), atoms outside the cell included;
 *  - the full list expanded from it is the half list's pairs both ways round;
 *  - with an inner (interaction) cutoff, the same pairs, each row listing those within it first;
 *  - NeighbourCache rebuilds exactly when some atom has moved more than skin / 2 since the last build (or the cell
 *    changed), and whatever it returns holds every pair within the interaction cutoff;
 *  - a relaxation that moves atoms by less than skin / 2 builds one list.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { bruteForceNeighbours, buildNeighbourList, NeighbourCache, siteCoordinates, type NeighbourList } from '../src/lattice/neighbours.ts';
import { perpendicularWidths, type Dim, type Structure } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import { relax } from '../src/relax/relax.ts';
import { Rng } from '../src/util/rng.ts';

function randomStructure(seed: number, dim: Dim, n: number, periodic: boolean, spread: number): Structure {
  const rng = new Rng(seed);
  const L = 2 + 4 * rng.uniform();
  let cell: Float64Array | null = null;
  if (periodic) {
    cell = new Float64Array(dim * dim);
    for (let k = 0; k < dim; k++) for (let a = 0; a < dim; a++) cell[k * dim + a] = (k === a ? L * spread : 0) + 0.4 * L * (rng.uniform() - 0.5);
  }
  const pos = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (cell) {
      // fractional coordinates in [-0.5, 1.5): atoms outside the cell
      const f = Array.from({ length: dim }, () => 2 * rng.uniform() - 0.5);
      for (let a = 0; a < dim; a++) for (let k = 0; k < dim; k++) pos[i * dim + a] += f[k] * cell[k * dim + a];
    } else for (let a = 0; a < dim; a++) pos[i * dim + a] = L * spread * (rng.uniform() - 0.5) * 2;
  }
  return { dim, positions: pos, cell };
}

/** Pairs of the half list as strings 'min,max:rounded vector from min to max' (vector sign fixed by the order). */
function halfPairs(s: Structure, nl: NeighbourList): string[] {
  const h = nl.half!;
  const { dim, positions: x } = s;
  const out: string[] = [];
  for (let r = 0; r < nl.n; r++) {
    const a = h.rows[r];
    const i = h.atom[a];
    expect(h.home[a], 'a row is an atom\'s own site').toBe(a);
    for (let p = h.offsets[r]; p < h.offsets[r + 1]; p++) {
      const b = h.index[p];
      const j = h.atom[b];
      // a site's home is its atom's own site (a row)
      expect(h.atom[h.home[b]]).toBe(j);
      expect(h.home[h.home[b]]).toBe(h.home[b]);
      // the pair vector the kernels see: difference of the two sites' coordinates (atom + its site translation)
      const v: number[] = [];
      for (let c = 0; c < dim; c++) {
        const xb = x[j * dim + c] + h.translations[h.code[b] * dim + c];
        const xa = x[i * dim + c] + h.translations[h.code[a] * dim + c];
        v.push(xb - xa);
      }
      out.push(key(i, j, v));
    }
  }
  return out.sort();
}

function key(i: number, j: number, v: number[]): string {
  let w = v;
  if (j < i || (i === j && lexNegative(v))) {
    [i, j] = [j, i];
    w = v.map((c) => -c);
  }
  return `${i},${j}:${w.map((c) => (Math.abs(c) < 5e-9 ? 0 : c).toFixed(7)).join(',')}`;
}

function lexNegative(v: number[]): boolean {
  for (const c of v) if (Math.abs(c) > 1e-9) return c < 0;
  return false;
}

function brutePairs(s: Structure, cutoff: number): string[] {
  const bf = bruteForceNeighbours(s, cutoff);
  const out: string[] = [];
  bf.forEach((list, i) => {
    for (const { j, r } of list) if (j > i || (j === i && !lexNegative(r))) out.push(key(i, j, r));
  });
  return out.sort();
}

/** Each row lists the pairs within `inner` (at build time) before the others. */
function expectInnerFirst(s: Structure, nl: NeighbourList, inner: number): void {
  const h = nl.half!;
  const X = siteCoordinates(h, s.positions, s.dim);
  for (let r = 0; r < nl.n; r++) {
    const a = h.rows[r];
    let outside = false;
    for (let p = h.offsets[r]; p < h.offsets[r + 1]; p++) {
      const b = h.index[p];
      const d = Math.hypot(X[3 * b] - X[3 * a], X[3 * b + 1] - X[3 * a + 1], X[3 * b + 2] - X[3 * a + 2]);
      if (d >= inner * (1 + 1e-12)) outside = true;
      else if (d < inner * (1 - 1e-12)) expect(outside, `row ${r}: a pair within the inner cutoff after one beyond it`).toBe(false);
    }
  }
}

describe('half neighbour list', () => {
  test.prop(
    [
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.constantFrom<Dim>(2, 3),
      fc.integer({ min: 1, max: 40 }),
      fc.boolean(),
      fc.double({ min: 0.1, max: 1.3, noNaN: true }),
      fc.constantFrom(1, 1, 40),
    ],
    { numRuns: 30 },
  )('every unordered pair within the cutoff once, as brute force; the full list is it both ways', (seed, dim, n, periodic, cutFrac, spread) => {
    const s = randomStructure(seed, dim, n, periodic, spread);
    const ref = s.cell ? Math.min(...perpendicularWidths(s.cell, dim)) / spread : 4;
    const cutoff = cutFrac * ref;
    const nl = buildNeighbourList(s, cutoff);
    expect(nl.half, 'buildNeighbourList returns a half list').toBeDefined();
    // rows are the atoms' own sites, one per atom
    expect(Array.from(nl.half!.rows, (e) => nl.half!.atom[e]).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const got = halfPairs(s, nl);
    const exp = brutePairs(s, cutoff);
    expect(got).toEqual(exp);
    // full list: 2 entries per half entry, each one's reverse present
    expect(nl.offsets[n]).toBe(2 * nl.half!.index.length);
    const full: string[] = [];
    for (let i = 0; i < n; i++)
      for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
        const j = nl.index[p];
        const v = Array.from({ length: dim }, (_, a) => s.positions[j * dim + a] + nl.shift[p * dim + a] - s.positions[i * dim + a]);
        full.push(key(i, j, v));
      }
    expect(full.sort()).toEqual([...exp, ...exp].sort());
    // with an inner (interaction) cutoff: the same pairs, each row's pairs within it first
    const inner = 0.7 * cutoff;
    const nli = buildNeighbourList(s, cutoff, { inner });
    expect(halfPairs(s, nli)).toEqual(exp);
    expectInnerFirst(s, nli, inner);
  });

  test.prop(
    [
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.constantFrom('fcc', 'bcc', 'triangular'),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.double({ min: 1.05, max: 2.6, noNaN: true }),
    ],
    { numRuns: 12 },
  )('rattled crystals (columns of many sites: the search takes them two at a time): every pair once, rows inner-first', (seed, name, rattle, cutoff) => {
    const l = makeLattice(name, 1);
    const dom = periodicDomain(l, 'vacancy', 1, 1.2, l.dim === 3 ? [3, 3, 3] : [9, 9]);
    const rng = new Rng(seed);
    const s: Structure = { ...dom.structure, positions: dom.structure.positions.map((v) => v + rattle * (2 * rng.uniform() - 1)) };
    const exp = brutePairs(s, cutoff);
    const inner = 0.8 * cutoff;
    const nl = buildNeighbourList(s, cutoff, { inner });
    expect(halfPairs(s, nl)).toEqual(exp);
    expectInnerFirst(s, nl, inner);
  });

  it('an fcc cell: 12 nearest neighbours per atom, 6 per atom in the half list', () => {
    const dom = periodicDomain(makeLattice('fcc', 1), 'none', 1, 1.2, [4, 4, 4]);
    const nl = buildNeighbourList(dom.structure, 1.1);
    const n = dom.keys.length;
    expect(nl.half!.index.length).toBe(6 * n);
    for (let i = 0; i < n; i++) expect(nl.offsets[i + 1] - nl.offsets[i]).toBe(12);
  });
});

describe('NeighbourCache (Verlet skin)', () => {
  test.prop([fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(fc.double({ min: 0, max: 0.3, noNaN: true }), { minLength: 1, maxLength: 5 })], {
    numRuns: 10,
  })('rebuilds exactly when an atom moved more than skin/2 since the last build, and always holds every pair within the cutoff', (seed, steps) => {
    const rng = new Rng(seed);
    const dom = periodicDomain(makeLattice('fcc', 1), 'vacancy', 1, 1.6, [3, 3, 3]);
    const cutoff = 1.5;
    const skin = 0.3;
    const cache = new NeighbourCache(cutoff, skin);
    let x = dom.structure.positions.slice();
    const s0 = { ...dom.structure, positions: x };
    cache.get(s0);
    let ref = x.slice();
    let builds = 1;
    for (const size of steps) {
      // move one random atom by `size` in a random direction, and every atom a little
      x = x.map((v) => v + 0.01 * (rng.uniform() - 0.5));
      const a = Math.floor(rng.uniform() * (x.length / 3));
      const dir = [rng.uniform() - 0.5, rng.uniform() - 0.5, rng.uniform() - 0.5];
      const len = Math.hypot(...dir) || 1;
      for (let c = 0; c < 3; c++) x[3 * a + c] += (size * dir[c]) / len;
      let maxMove = 0;
      for (let i = 0; i < x.length; i += 3) maxMove = Math.max(maxMove, Math.hypot(x[i] - ref[i], x[i + 1] - ref[i + 1], x[i + 2] - ref[i + 2]));
      const s = { ...dom.structure, positions: x };
      const nl = cache.get(s);
      if (maxMove > skin / 2) {
        builds++;
        ref = x.slice();
      }
      expect(cache.builds, `max move ${maxMove} vs skin/2 ${skin / 2}`).toBe(builds);
      // every pair within the interaction cutoff is in the (possibly old) list
      const have = new Set<string>();
      for (let i = 0; i < nl.n; i++)
        for (let p = nl.offsets[i]; p < nl.offsets[i + 1]; p++) {
          const j = nl.index[p];
          const v = [0, 1, 2].map((c) => x[j * 3 + c] + nl.shift[p * 3 + c] - x[i * 3 + c]);
          if (Math.hypot(...v) <= cutoff) have.add(key(i, j, v));
        }
      // (a fresh list at exactly the cutoff is the reference: the property above checks it against brute force)
      const fresh = buildNeighbourList(s, cutoff);
      let want = 0;
      for (let i = 0; i < fresh.n; i++)
        for (let p = fresh.offsets[i]; p < fresh.offsets[i + 1]; p++) {
          const j = fresh.index[p];
          const v = [0, 1, 2].map((c) => x[j * 3 + c] + fresh.shift[p * 3 + c] - x[i * 3 + c]);
          if (Math.hypot(...v) > cutoff) continue;
          want++;
          const k = key(i, j, v);
          if (!have.has(k)) expect.fail(`pair ${k} within the cutoff is missing from the cached list`);
        }
      expect(have.size).toBe(want / 2);
    }
  });

  it('a changed cell forces a rebuild', () => {
    const dom = periodicDomain(makeLattice('fcc', 1), 'none', 1, 1.6, [3, 3, 3]);
    const cache = new NeighbourCache(1.5, 0.3);
    cache.get(dom.structure);
    cache.get(dom.structure);
    expect(cache.builds).toBe(1);
    cache.get({ ...dom.structure, cell: dom.structure.cell!.map((v) => v * 1.001) });
    expect(cache.builds).toBe(2);
  });

  it('a relaxation whose atoms move less than skin/2 builds one list', () => {
    const pot = makePotential('eam-fcc');
    const dom = periodicDomain(equilibriumLattice(pot, 'fcc').lattice, 'vacancy', 1, pot.cutoff, [4, 4, 4]);
    const r = relax(pot, dom.structure, null, { solver: 'lbfgs', tol: 1e-6, history: false });
    let maxMove = 0;
    const x0 = dom.structure.positions;
    for (let i = 0; i < x0.length; i += 3) maxMove = Math.max(maxMove, Math.hypot(r.structure.positions[i] - x0[i], r.structure.positions[i + 1] - x0[i + 1], r.structure.positions[i + 2] - x0[i + 2]));
    expect(maxMove).toBeGreaterThan(0);
    expect(maxMove).toBeLessThan((0.3 * pot.cutoff) / 2);
    expect(r.neighbourBuilds).toBe(1);
  });
});
