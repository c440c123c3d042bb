import type { BenchSuite, BenchTask } from '../src/bench/types.ts';
import { configRows, applyRowWeights } from '../src/fit/design.ts';
import { IncrementalQR, solveTriangle } from '../src/fit/lsq.ts';
import { observe } from '../src/fit/generate.ts';
import type { TrainingConfig } from '../src/fit/types.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { defaultBasisSpec, type BasisSpec } from '../src/mlip/basis.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { Rng } from '../src/util/rng.ts';

/**
 * A ~200-function 2D basis: the largest default level with more pair, density and angular functions. Widening the
 * level's integers keeps the benchmark's basis in the nested family.
 */
export function benchSpec(): BasisSpec {
  return { ...defaultBasisSpec(4, { dim: 2, cutoff: 2.5, rin: 1.9 }), pairFunctions: 14, densityFunctions: 7, angularFunctions: 6, angularDegree: 4 };
}

/** Rattled periodic triangular cell (r0 = 0.9, eam-2d's equilibrium is 0.8956) with about `atoms` atoms. */
export function rattledTriangular(atoms: number, seed: number): Structure {
  const side = Math.round(Math.sqrt(atoms));
  const l = makeLattice('triangular', 0.9);
  const dom = periodicDomain(l, 'none', 1, 2.5, [side, side]);
  const rng = new Rng(seed);
  const x = dom.structure.positions.slice();
  for (let i = 0; i < x.length; i++) x[i] += 0.03 * rng.normal();
  return { dim: 2, positions: x, cell: dom.structure.cell };
}

/** Training configurations totalling about `rows` force rows (E+F), in cells of `atomsPerCell` atoms. */
export function benchConfigs(rows: number, atomsPerCell = 2500): TrainingConfig[] {
  const ref = makePotential('eam-2d');
  const out: TrainingConfig[] = [];
  let total = 0;
  for (let q = 0; total < rows; q++) {
    const s = rattledTriangular(atomsPerCell, 100 + q);
    out.push({ role: 'rattled', structure: s, weight: 1, seed: 100 + q, ...observe(ref, s, { energy: true, forces: true }) });
    total += 1 + s.positions.length;
  }
  return out;
}

export function assembleAndSolve(ev: BasisEvaluator, configs: TrainingConfig[]): { rows: number; rank: number; condition: number } {
  const qr = new IncrementalQR(ev.size);
  for (const c of configs) {
    const r = configRows(ev, c, ['E', 'F']);
    applyRowWeights(r);
    qr.addBlock(r.block, r.rows);
  }
  const s = solveTriangle(qr);
  return { rows: qr.rows, rank: s.rank, condition: s.condition };
}

export const suite: BenchSuite = {
  name: 'fit',
  iterations: 1,
  setup({ quick }): BenchTask[] {
    const spec = benchSpec();
    const ev = new BasisEvaluator(spec);
    const rows = quick ? 1e4 : 1e5;
    const configs = benchConfigs(rows);
    const nRows = configs.reduce((a, c) => a + 1 + c.structure.positions.length, 0);
    const atoms = quick ? 2500 : 1e4;
    const s = rattledTriangular(atoms, 7);
    const nl = buildNeighbourList(s, spec.cutoff);
    const rng = new Rng(3);
    const model = new LinearMLIP(spec, Array.from({ length: ev.size }, () => 1e-3 * rng.normal()));
    const small = configs[0];
    let info: Record<string, unknown> = {};
    return [
      {
        name: `design rows, one ${small.structure.positions.length / 2}-atom cell x ${ev.size} functions`,
        fn: () => configRows(ev, small, ['E', 'F']),
        throughput: { unit: 'atoms', count: small.structure.positions.length / 2 },
      },
      {
        name: `assemble + QR solve, ${nRows} rows x ${ev.size} functions`,
        fn: () => {
          info = assembleAndSolve(ev, configs);
        },
        throughput: { unit: 'rows', count: nRows },
        info: () => info,
      },
      {
        name: `MLIP energy+forces, 2D ${s.positions.length / 2} atoms`,
        fn: () => model.evaluate(s, nl),
        throughput: { unit: 'atoms', count: s.positions.length / 2 },
      },
    ];
  },
};
