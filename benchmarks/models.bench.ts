import type { BenchSuite, BenchTask } from '../src/bench/types.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { defaultBasisSpec } from '../src/mlip/basis.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import type { SitePotential } from '../src/potentials/types.ts';
import { Rng } from '../src/util/rng.ts';
import { benchSpec, rattledTriangular } from './fit.bench.ts';

/**
 * Energy+forces of the models the kernels suite does not cover, at the sizes of issue 7: the linear MLIP on 2D 1e5
 * atoms and on fcc 32,000 atoms (a 3D basis of the default family, level 3), and the tabulated EAM read from the
 * LAMMPS file fixtures/Cu_u3.eam on fcc Cu, 32,000 atoms (the cell the LAMMPS cross-check times). Inputs are seeded
 * rattled cells; the neighbour list is prebuilt (as a relaxation reuses it). `quick`: 1e4 / 4000 atoms. Five samples
 * per task (the first includes JIT warm-up, which shows in the max).
 */
function rattledFcc(r0: number, reps: number, cutoff: number, seed: number, amp: number): Structure {
  const dom = periodicDomain(makeLattice('fcc', r0), 'none', 1, cutoff, [reps, reps, reps]);
  const rng = new Rng(seed);
  return { ...dom.structure, positions: dom.structure.positions.map((x) => x + amp * rng.normal()) };
}

function task(label: string, pot: SitePotential, s: Structure): BenchTask {
  const nl = buildNeighbourList(s, pot.cutoff);
  const n = s.positions.length / s.dim;
  return {
    name: `${label} energy+forces`,
    fn: () => pot.evaluate(s, nl),
    throughput: { unit: 'atoms', count: n },
    info: () => ({ atoms: n, pairs: nl.index.length, cutoff: pot.cutoff }),
  };
}

export const suite: BenchSuite = {
  name: 'models',
  // one call on 1e5 atoms takes seconds: a fixed 5 samples, not a time budget
  iterations: 5,
  setup({ quick }) {
    const rng = new Rng(11);
    const spec2 = benchSpec();
    const mlip2 = new LinearMLIP(spec2, Array.from({ length: new BasisEvaluator(spec2).size }, () => 1e-3 * rng.normal()));
    const spec3 = defaultBasisSpec(3, { dim: 3, cutoff: 2.1, rin: 1.6 });
    const mlip3 = new LinearMLIP(spec3, Array.from({ length: new BasisEvaluator(spec3).size }, () => 1e-3 * rng.normal()));
    const cu = readEamPotential(new URL('../fixtures/Cu_u3.eam', import.meta.url).pathname);
    const reps = quick ? 10 : 20;
    const n2 = quick ? 1e4 : 1e5;
    return [
      task(`MLIP 2D ${quick ? '1e4' : '1e5'}`, mlip2, rattledTriangular(n2, 5)),
      task(`MLIP fcc ${4 * reps ** 3}`, mlip3, rattledFcc(1, reps, spec3.cutoff, 6, 0.02)),
      task(`EAM Cu_u3.eam fcc ${4 * reps ** 3}`, cu, rattledFcc(3.615 / Math.SQRT2, reps, cu.cutoff, 7, 0.05)),
    ];
  },
};
