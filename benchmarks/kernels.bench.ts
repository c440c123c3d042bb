import type { BenchSuite, BenchTask } from '../src/bench/types.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { equilibriumLattice } from '../src/potentials/equilibrium.ts';
import type { SitePotential } from '../src/potentials/types.ts';

/**
 * Atomistic-core kernels: EAM energy+forces (with a prebuilt neighbour list, as a relaxation reuses it) and the
 * cell-list neighbour build, on perfect periodic cells at each potential's stress-free lattice constant:
 * 2D triangular (eam-2d) with 1e4 and 1e5 atoms, fcc (eam-fcc) with 32,000 atoms (20^3 conventional cells).
 * `quick` shrinks the cells ~10x for smoke runs. Throughput is in atoms, so the runner reports time per atom.
 */
interface Cell {
  readonly label: string;
  readonly pot: SitePotential;
  readonly s: Structure;
  readonly n: number;
}

function cell(label: string, potName: string, lattice: 'triangular' | 'fcc', reps: number[]): Cell {
  const pot = makePotential(potName);
  const eq = equilibriumLattice(pot, lattice);
  const dom = periodicDomain(eq.lattice, 'none', 1, pot.cutoff, reps);
  return { label, pot, s: dom.structure, n: dom.keys.length };
}

export const suite: BenchSuite = {
  name: 'kernels',
  setup({ quick }) {
    const cells = quick
      ? [cell('eam-2d 1e3', 'eam-2d', 'triangular', [32, 32]), cell('eam-2d 1e4', 'eam-2d', 'triangular', [100, 100]), cell('eam-fcc 4000', 'eam-fcc', 'fcc', [10, 10, 10])]
      : [cell('eam-2d 1e4', 'eam-2d', 'triangular', [100, 100]), cell('eam-2d 1e5', 'eam-2d', 'triangular', [316, 316]), cell('eam-fcc 32000', 'eam-fcc', 'fcc', [20, 20, 20])];
    const tasks: BenchTask[] = [];
    for (const c of cells) {
      const nl = buildNeighbourList(c.s, c.pot.cutoff);
      const info = () => ({ atoms: c.n, pairs: nl.index.length, cutoff: c.pot.cutoff });
      tasks.push({
        name: `${c.label} energy+forces`,
        fn: () => c.pot.evaluate(c.s, nl),
        throughput: { unit: 'atoms', count: c.n },
        info,
      });
      tasks.push({
        name: `${c.label} neighbour list`,
        fn: () => buildNeighbourList(c.s, c.pot.cutoff),
        throughput: { unit: 'atoms', count: c.n },
        info,
      });
    }
    return tasks;
  },
};
