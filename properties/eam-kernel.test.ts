/**
 * The fast kernels of the EAM (src/potentials/eam.ts, eam-table.ts) are the slow ones rearranged, not new physics:
 * the inlined LAMMPS-table pair pass and the half-list iteration must give energies, site energies, forces and
 * virials bit for bit equal to the generic per-call kernel, on rattled and strained cells, including cells narrow
 * enough that an atom sees its own periodic images; both must equal, to round-off, the straightforward evaluation
 * (every ordered pair of a brute-force neighbour search, the textbook formulas, no lists, ghosts or folding), on
 * lists from buildNeighbourList with a skin and on lists made by hand; and the cached Hessian data must not outlive
 * a move of the atoms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { bruteForceNeighbours, buildNeighbourList, type NeighbourList } from '../src/lattice/neighbours.ts';
import { periodicDomain as domainOf } from '../src/lattice/domain.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { readEamPotential, TabulatedEAM } from '../src/potentials/eam-table.ts';
import { EAMPotential } from '../src/potentials/eam.ts';
import { Rng } from '../src/util/rng.ts';

const FIXTURE = join(process.cwd(), 'fixtures', 'Cu_u3.eam');

describe('tabulated EAM kernel', () => {
  it('equals the generic kernel bit for bit (energy, site energies, forces, virial), narrow cells included', () => {
    const tab = readEamPotential(FIXTURE);
    expect(tab).toBeInstanceOf(TabulatedEAM);
    const gen = new EAMPotential('generic', tab.pair, tab.density, tab.embedding);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 ** 30 }), (reps, seed) => {
        // reps x reps x (reps + 1) conventional cells of side 3.615 A: from 1 cell (each atom sees its own images
        // within the 5 A cutoff) upwards, strained by up to 3% and rattled by up to 0.1 A.
        const rng = new Rng(seed);
        const a = 3.615;
        const n = [reps, reps, reps + 1];
        const basis = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]];
        const x: number[] = [];
        for (let i = 0; i < n[0]; i++)
          for (let j = 0; j < n[1]; j++)
            for (let k = 0; k < n[2]; k++) for (const b of basis) x.push((i + b[0]) * a, (j + b[1]) * a, (k + b[2]) * a);
        const e = [0, 1, 2].map(() => 1 + 0.03 * (2 * rng.uniform() - 1));
        const s = {
          dim: 3 as const,
          positions: Float64Array.from(x, (v, q) => e[q % 3] * v + 0.1 * (2 * rng.uniform() - 1)),
          cell: Float64Array.of(e[0] * n[0] * a, 0, 0, 0, e[1] * n[1] * a, 0, 0, 0, e[2] * n[2] * a),
        };
        const nl = buildNeighbourList(s, tab.cutoff + 0.5);
        const r1 = tab.evaluate(s, nl);
        const r2 = gen.evaluate(s, nl);
        expect(r1.energy).toBe(r2.energy);
        expect(Array.from(r1.siteEnergies!)).toEqual(Array.from(r2.siteEnergies!));
        expect(Array.from(r1.forces)).toEqual(Array.from(r2.forces));
        expect(Array.from(r1.virial!)).toEqual(Array.from(r2.virial!));
      }),
      { numRuns: 6, seed: 4242 },
    );
  });

  it('Hessian-vector products follow the atoms: data cached at one configuration are not reused at another', () => {
    const pot = readEamPotential(FIXTURE);
    const dom = periodicDomain(makeLattice('fcc', 3.615 / Math.SQRT2), 'vacancy', 1, 5, [3, 3, 3]);
    const rng = new Rng(9);
    const v = dom.structure.positions.map(() => rng.uniform() - 0.5);
    const s1 = dom.structure;
    const x2 = s1.positions.slice();
    x2[0] += 0.05; // same neighbour list, atom 0 moved
    const s2 = { ...s1, positions: x2 };
    const nl = buildNeighbourList(s1, pot.cutoff + 0.5);
    const h1 = pot.hessianVector(s1, nl, v);
    const h2 = pot.hessianVector(s2, nl, v);
    const fresh = readEamPotential(FIXTURE).hessianVector(s2, nl, v);
    expect(Array.from(h2)).toEqual(Array.from(fresh));
    expect(h1.some((u, i) => u !== h2[i])).toBe(true);
    // and the same configuration again gives the same product (cache hit)
    expect(Array.from(pot.hessianVector(s2, nl, v))).toEqual(Array.from(h2));
  });
});

/**
 * The textbook EAM on every ordered pair (i, j, image) within the cutoff of a brute-force search:
 * rho_i = sum_j psi(r_ij), E_i = F(rho_i) + 1/2 sum_j phi(r_ij); site i's share of dE/dr_ij is
 * g = (phi'/2 + F'(rho_i) psi') r_ij / r, which pushes atom i by +g and atom j by -g; W = -sum g (x) r_ij.
 */
function straightforward(pot: EAMPotential, s: Structure): { energy: number; site: number[]; forces: number[]; virial: number[] } {
  const { dim } = s;
  const n = s.positions.length / dim;
  const bf = bruteForceNeighbours(s, pot.cutoff);
  const t = new Float64Array(3);
  const within = bf.map((l) => l.filter((p) => Math.hypot(...p.r) < pot.cutoff));
  const site = new Array<number>(n).fill(0);
  const Fp = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let rho = 0;
    for (const { r } of within[i]) {
      pot.pair.eval(Math.hypot(...r), t);
      site[i] += 0.5 * t[0];
      if (pot.density) {
        pot.density.eval(Math.hypot(...r), t);
        rho += t[0];
      }
    }
    if (pot.embedding) {
      pot.embedding.eval(rho, t, i);
      site[i] += t[0];
      Fp[i] = t[1];
    }
  }
  const forces = new Array<number>(n * dim).fill(0);
  const virial = new Array<number>(dim * dim).fill(0);
  for (let i = 0; i < n; i++)
    for (const { j, r } of within[i]) {
      const d = Math.hypot(...r);
      pot.pair.eval(d, t);
      let c = 0.5 * t[1];
      if (pot.density) {
        pot.density.eval(d, t);
        c += Fp[i] * t[1];
      }
      for (let a = 0; a < dim; a++) {
        const g = (c * r[a]) / d;
        forces[i * dim + a] += g;
        forces[j * dim + a] -= g;
        for (let b = 0; b < dim; b++) virial[a * dim + b] -= g * r[b];
      }
    }
  return { energy: site.reduce((a, b) => a + b, 0), site, forces, virial };
}

/** The brute-force pairs as a full NeighbourList made by hand (no half list: EAMPotential derives its own). */
function handList(s: Structure, cutoff: number): NeighbourList {
  const bf = bruteForceNeighbours(s, cutoff);
  const { dim, positions: x } = s;
  const offsets = new Int32Array(bf.length + 1);
  bf.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
  const index = new Int32Array(offsets[bf.length]);
  const shift = new Float64Array(index.length * dim);
  let p = 0;
  bf.forEach((l, i) => {
    for (const { j, r } of l) {
      index[p] = j;
      for (let a = 0; a < dim; a++) shift[p * dim + a] = r[a] - (x[j * dim + a] - x[i * dim + a]);
      p++;
    }
  });
  return { n: bf.length, dim, cutoff, offsets, index, shift };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('EAM kernels against the straightforward evaluation', () => {
  it('energy, site energies, forces, virial to round-off: tabulated, generic, analytic and pair-only, 2D and 3D, periodic (narrow too) and open, skin lists and hand-made lists', () => {
    const tab = readEamPotential(FIXTURE);
    const cases: Array<{ pot: EAMPotential; lattice: 'fcc' | 'triangular'; r0: number }> = [
      { pot: tab, lattice: 'fcc', r0: 3.615 / Math.SQRT2 },
      { pot: new EAMPotential('generic', tab.pair, tab.density, tab.embedding), lattice: 'fcc', r0: 3.615 / Math.SQRT2 },
      { pot: new EAMPotential('pair only', tab.pair), lattice: 'fcc', r0: 3.615 / Math.SQRT2 },
      { pot: makePotential('eam-fcc'), lattice: 'fcc', r0: 1 },
      { pot: makePotential('eam-2d'), lattice: 'triangular', r0: 1 },
      { pot: makePotential('lj-2d'), lattice: 'triangular', r0: 1 },
    ];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: cases.length - 1 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.constantFrom('periodic', 'narrow', 'open'),
        fc.boolean(),
        (k, seed, boundary, vacancy) => {
          const { pot, lattice, r0 } = cases[k];
          const rng = new Rng(seed);
          const dim = lattice === 'fcc' ? 3 : 2;
          // narrow: a cell thinner than twice the cutoff along one axis (atoms see their own images)
          const reps = lattice === 'fcc' ? [2, 2, boundary === 'narrow' ? 1 : 3] : [4, boundary === 'narrow' ? 2 : 5];
          // (the domain's own check is for the potential's cutoff; these cells are evaluated below it on purpose)
          const dom = domainOf(makeLattice(lattice, r0), vacancy ? 'vacancy' : 'none', 1, 0.1 * r0, reps);
          const e = Array.from({ length: dim }, () => 1 + 0.03 * (2 * rng.uniform() - 1));
          const s: Structure = {
            dim,
            positions: dom.structure.positions.map((v, q) => e[q % dim] * v + 0.08 * r0 * (2 * rng.uniform() - 1)),
            cell: boundary === 'open' ? null : dom.structure.cell!.map((v, q) => e[q % dim] * v),
          };
          const want = straightforward(pot, s);
          const lists = [buildNeighbourList(s, pot.cutoff + 0.3 * r0, { inner: pot.cutoff }), handList(s, pot.cutoff)];
          for (const nl of lists) {
            const got = pot.evaluate(s, nl);
            const scale = 1 + want.site.reduce((a, v) => a + Math.abs(v), 0);
            expect(Math.abs(got.energy - want.energy), 'energy').toBeLessThan(1e-12 * scale);
            expect(maxDiff(got.siteEnergies!, want.site), 'site energies').toBeLessThan(1e-12 * (1 + maxAbs(want.site)));
            expect(maxDiff(got.forces, want.forces), 'forces').toBeLessThan(1e-11 * (1 + maxAbs(want.forces)));
            expect(maxDiff(got.virial!, want.virial), 'virial').toBeLessThan(1e-11 * (1 + maxAbs(want.virial)));
          }
        },
      ),
      { numRuns: 24, seed: 20261202 },
    );
  });
});
