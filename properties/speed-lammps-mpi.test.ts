/**
 * LAMMPS through `lammps:` with an MPI launcher (issue 12: beyond one machine the road is the engines): the lmp option
 * takes a command with arguments ('mpirun -np 2 lmp'), and a 2-rank LAMMPS gives the energy and forces of 1 rank on
 * a small cell (to round-off: the ranks sum in a different order). Skipped, with the reason, without lmp or mpirun.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { findLammps, lammpsCommand, LammpsPotential, splitCommand } from '../src/engines/lammps.ts';
import { EngineError } from '../src/engines/errors.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { Rng } from '../src/util/rng.ts';

const lmp = findLammps();
const mpirun = findLammps('mpirun');
const skipReason = !lmp ? 'no LAMMPS binary (scripts/install-lammps.sh)' : !mpirun ? 'no mpirun on PATH (openmpi-bin; scripts/install-lammps.sh)' : '';
if (skipReason) console.log(`speed-lammps-mpi: SKIPPED the 2-rank comparison: ${skipReason}`);

describe('LAMMPS command with arguments', () => {
  it('splits at whitespace, groups quoted words, rejects an unclosed quote', () => {
    expect(splitCommand('  mpirun  -np 2\tlmp ')).toEqual(['mpirun', '-np', '2', 'lmp']);
    expect(splitCommand(`mpirun -x 'A B' "/opt/my lmp/lmp" ''`)).toEqual(['mpirun', '-x', 'A B', '/opt/my lmp/lmp', '']);
    expect(() => splitCommand('mpirun "lmp')).toThrow(EngineError);
  });

  it('resolves the program on PATH and keeps its arguments; an unknown program is not found', () => {
    const sh = lammpsCommand('sh -c true');
    expect(sh?.[0]).toMatch(/\/sh$/);
    expect(sh?.slice(1)).toEqual(['-c', 'true']);
    expect(lammpsCommand('no-such-launcher-mlipv -np 2 lmp')).toBeNull();
    expect(() => new LammpsPotential({ pairStyle: 'eam/alloy', lmp: 'no-such-launcher-mlipv -np 2 lmp' })).toThrow(/LAMMPS not found/);
  });
});

describe.skipIf(!!skipReason)('LAMMPS on 2 MPI ranks', () => {
  const pots: LammpsPotential[] = [];
  afterAll(async () => {
    await Promise.all(pots.map((p) => p.dispose()));
  });

  it('gives the energy, forces and virial of 1 rank, also after atoms drift between subdomains (Cu_mishin1, rattled 4x4x4 fcc cell with a vacancy)', () => {
    const dom = periodicDomain(makeLattice('fcc', 3.615 / Math.SQRT2), 'vacancy', 1, 5.6, [4, 4, 4]);
    const rng = new Rng(12);
    const s = { ...dom.structure, positions: dom.structure.positions.map((v) => v + 0.1 * (rng.uniform() - 0.5)) };
    const make = (cmd?: string) => {
      const p = new LammpsPotential({ pairStyle: 'eam/alloy', pairCoeff: ['* * Cu_mishin1.eam.alloy Cu'], lmp: cmd });
      pots.push(p);
      return p;
    };
    const one = make();
    // --oversubscribe: 2 ranks even where the machine reports a single slot (CI runners)
    const two = make('mpirun -np 2 --oversubscribe lmp');
    expect(two.lmp).toMatch(/mpirun -np 2 --oversubscribe lmp$/);
    expect(two.cutoff).toBe(one.cutoff);
    const a = one.evaluate(s);
    const b = two.evaluate(s);
    expect(Math.abs(a.energy - b.energy)).toBeLessThan(1e-12 * Math.abs(a.energy));
    let df = 0;
    let fmax = 0;
    for (let i = 0; i < a.forces.length; i++) {
      df = Math.max(df, Math.abs(a.forces[i] - b.forces[i]));
      fmax = Math.max(fmax, Math.abs(a.forces[i]));
    }
    expect(fmax).toBeGreaterThan(0.01); // rattled: the comparison is not of zeros
    expect(df).toBeLessThan(1e-12 * Math.max(1, fmax));
    for (let k = 0; k < 9; k++) expect(Math.abs(a.virial![k] - b.virial![k])).toBeLessThan(1e-10 * (1 + Math.abs(a.virial![k])));
    // later steps too: atoms drift across the ranks' subdomains and fix ipi must still return forces in our order
    let x = s.positions;
    for (let step = 0; step < 3; step++) {
      x = x.map((v) => v + 0.3 * (rng.uniform() - 0.5));
      const c = one.evaluate({ ...s, positions: x });
      const d = two.evaluate({ ...s, positions: x });
      expect(Math.abs(c.energy - d.energy)).toBeLessThan(1e-12 * Math.abs(c.energy));
      for (let i = 0; i < c.forces.length; i++) expect(Math.abs(c.forces[i] - d.forces[i])).toBeLessThan(1e-12);
    }
  }, 120_000);
});
