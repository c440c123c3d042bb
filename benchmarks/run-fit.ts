/**
 * Stand-alone measurement of the fit benchmarks (until the shared runner exists): wall time and peak memory (maxRSS)
 * of design-matrix assembly + incremental-QR solve for ~1e5 rows x ~200 functions, the linear scaling of assembly in
 * the number of atoms, and MLIP energy+forces on 1e4 atoms. Usage: npx tsx benchmarks/run-fit.ts [--quick]
 */
import { resourceUsage } from 'node:process';
import { configRows } from '../src/fit/design.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { Rng } from '../src/util/rng.ts';
import { assembleAndSolve, benchConfigs, benchSpec, rattledTriangular } from './fit.bench.ts';

const quick = process.argv.includes('--quick');
const mb = (kb: number) => (kb / 1024).toFixed(0);
const spec = benchSpec();
const ev = new BasisEvaluator(spec);
console.log(`basis: ${ev.size} functions (${JSON.stringify(spec)})`);

// Linear scaling of assembly in atoms.
for (const atoms of quick ? [625, 2500] : [625, 2500, 10000]) {
  const [cfg] = benchConfigs(1, atoms);
  configRows(ev, cfg, ['E', 'F']);
  const t = performance.now();
  configRows(ev, cfg, ['E', 'F']);
  const dt = (performance.now() - t) / 1e3;
  const n = cfg.structure.positions.length / 2;
  console.log(`assembly ${n} atoms: ${dt.toFixed(3)} s, ${((dt / n) * 1e6).toFixed(1)} us/atom`);
}

const rows = quick ? 1e4 : 1e5;
const configs = benchConfigs(rows);
const rss0 = resourceUsage().maxRSS;
const t0 = performance.now();
const r = assembleAndSolve(ev, configs);
const t1 = performance.now();
console.log(
  `assemble+solve: ${r.rows} rows x ${ev.size} functions in ${((t1 - t0) / 1e3).toFixed(2)} s; rank ${r.rank}, ` +
    `condition ${r.condition.toExponential(2)}; maxRSS ${mb(resourceUsage().maxRSS)} MB (before: ${mb(rss0)} MB); ` +
    `a dense design matrix would be ${((r.rows * ev.size * 8) / 2 ** 20).toFixed(0)} MB`,
);

const s = rattledTriangular(1e4, 7);
const nl = buildNeighbourList(s, spec.cutoff);
const rng = new Rng(3);
const model = new LinearMLIP(spec, Array.from({ length: ev.size }, () => 1e-3 * rng.normal()));
model.evaluate(s, nl);
const reps = 5;
const t2 = performance.now();
for (let q = 0; q < reps; q++) model.evaluate(s, nl);
const t3 = performance.now();
console.log(`MLIP energy+forces, ${s.positions.length / 2} atoms: ${((t3 - t2) / reps / 1e3).toFixed(4)} s per call; maxRSS ${mb(resourceUsage().maxRSS)} MB`);
