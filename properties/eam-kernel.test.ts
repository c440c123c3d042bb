/**
 * The fast kernels of the EAM (src/potentials/eam.ts, eam-table.ts) are the slow ones rearranged, not new physics:
 * the inlined LAMMPS-table pair pass and the half-list iteration must give energies, site energies, forces and
 * virials bit for bit equal to the generic per-call kernel, on rattled and strained cells, including cells narrow
 * enough that an atom sees its own periodic images; and the cached Hessian data must not outlive a move of the atoms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
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
