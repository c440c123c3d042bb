/**
 * The linear MLIP's cost per atom against the EAM it is fitted to, in one run (issue 12: "the MLIP's energy+forces per
 * atom recorded"). Rattled fcc Cu (a = 3.615 A, 0.05 A Gaussian rattle, seeded), periodic, 8^3 conventional cells
 * (2,048 atoms; --quick: 6^3, 864), neighbour list at the cutoff prebuilt (as a relaxation reuses it). The EAM is
 * fixtures/Cu_u3.eam (tabulated, rc = 4.95 A); the MLIPs are the default basis levels 1-3 with that cutoff and the
 * study's envelope (studyBasis), random coefficients. Timed with tinybench, per level:
 *   - model energy+forces and Hessian-vector product (what a relaxation calls): the HVP repeated at one x (a CG loop,
 *     served from the kernel's per-configuration data) and the first product at a new x (that data bypassed);
 *   - the basis rows: every basis function's energy, forces and virial (what the fit evaluates per configuration)
 *     and every function's HVP along one direction (one force-constant column);
 *   - the same three with the pre-rewrite kernel (properties/mlip-reference-kernel.ts, unless --no-reference): the
 *     before/after ratio measured in the same process, so the machine's load divides out.
 * The EAM's energy+forces is timed first and last; ratios are against the mean of the two, and the 1-minute load
 * average before and after is recorded (the machine is shared). Times are CPU time per call (see ROUNDS below).
 *
 * Writes reports/bench/mlip-speed.json and .md (atomically) and appends a record to reports/bench/history.jsonl
 * (suite 'mlip-speed'). Usage: npx tsx benchmarks/mlip-speed.ts [--quick] [--no-reference] [--time ms] [--rounds 2] [--out dir]
 */
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Bench } from 'tinybench';
import { ReferenceMLIPKernel } from '../properties/mlip-reference-kernel.ts';
import { appendRecord, provenance, type BenchResult } from '../src/bench/history.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { periodicDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import type { Structure } from '../src/lattice/structure.ts';
import { defaultBasisSpec, envelopeFromDescription } from '../src/mlip/basis.ts';
import { MLIPKernel } from '../src/mlip/kernel.ts';
import { BasisEvaluator, LinearMLIP } from '../src/mlip/model.ts';
import { readEamPotential } from '../src/potentials/eam-table.ts';
import { Rng } from '../src/util/rng.ts';

const runStart = new Date();
const load0 = loadavg()[0];
const prov = provenance();
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const withReference = !argv.includes('--no-reference');
const ti = argv.indexOf('--time');
const time = ti >= 0 ? Number(argv[ti + 1]) : 500;
const ri = argv.indexOf('--rounds');
const ROUNDS = ri >= 0 ? Number(argv[ri + 1]) : 2;
const oi = argv.indexOf('--out');
const outDir = resolve(oi >= 0 ? argv[oi + 1] : join(process.cwd(), 'reports', 'bench'));
const LEVELS = [1, 2, 3];

const eam = readEamPotential(new URL('../fixtures/Cu_u3.eam', import.meta.url).pathname);
const reps = quick ? 6 : 8;
const dom = periodicDomain(makeLattice('fcc', 3.615 / Math.SQRT2), 'none', 1, eam.cutoff, [reps, reps, reps]);
const rng = new Rng(2026);
const s: Structure = { ...dom.structure, positions: dom.structure.positions.map((x) => x + 0.05 * rng.normal()) };
const n = s.positions.length / 3;
const nl = buildNeighbourList(s, eam.cutoff);
const v = Float64Array.from({ length: 3 * n }, () => rng.normal());
const env = envelopeFromDescription(eam.describe());

interface Row {
  task: string;
  level: number | null;
  kernel: 'eam' | 'new' | 'reference';
  what: 'energy+forces' | 'hessian-vector' | 'basis rows E+F+V' | 'basis HVP column';
  basisSize?: number;
}
const rows: Row[] = [];
const fns = new Map<string, () => unknown>();
/** CPU milliseconds (process.cpuUsage, user + system) of every timed call, per round and task. */
const cpu: Array<Map<string, number[]>> = [];
/** Untimed call made before each timed one (the repeated HVP: its data must already be there, as in a CG loop). */
const primes = new Map<string, () => unknown>();
const add = (row: Row, fn: () => unknown, prime?: () => unknown) => {
  rows.push(row);
  fns.set(row.task, fn);
  if (prime) primes.set(row.task, prime);
};
add({ task: 'EAM Cu_u3 energy+forces', level: null, kernel: 'eam', what: 'energy+forces' }, () => eam.evaluate(s, nl));
for (const level of LEVELS) {
  const spec = defaultBasisSpec(level, { dim: 3, cutoff: env?.cutoff ?? eam.cutoff, rin: env?.rin });
  const ev = new BasisEvaluator(spec);
  const K = ev.size;
  const crng = new Rng(100 + level);
  const model = new LinearMLIP(spec, Array.from({ length: K }, () => 1e-3 * crng.normal()));
  const ref = new ReferenceMLIPKernel(ev.basis);
  const kernels: Array<['new' | 'reference', (o: Parameters<ReferenceMLIPKernel['evaluate']>[3], f: typeof ev.functions) => void, (f: typeof ev.functions, out: Float64Array) => void]> = [
    ['new', (o, f) => ev.kernel.evaluate(s, nl, f, o), (f, out) => ev.kernel.hessianVector(s, nl, f, v, out)],
  ];
  if (withReference) kernels.push(['reference', (o, f) => ref.evaluate(s, nl, f, o), (f, out) => ref.hessianVector(s, nl, f, v, out)]);
  for (const [kernel, evaluate, hvp] of kernels) {
    const tag = kernel === 'new' ? '' : ' (reference kernel)';
    // The model's own path (LinearMLIP.evaluate / hessianVector, what a relaxation calls) for the new kernel; the
    // reference kernel on the same merged polynomial.
    add({ task: `MLIP level ${level} energy+forces${tag}`, level, kernel, what: 'energy+forces', basisSize: K }, () => {
      if (kernel === 'new') return model.evaluate(s, nl);
      const out = { siteEnergies: new Float64Array(n), forces: new Float64Array(3 * n), virial: new Float64Array(9) };
      evaluate(out, model.merged);
      return out;
    });
    add(
      { task: `MLIP level ${level} hessian-vector${tag}`, level, kernel, what: 'hessian-vector', basisSize: K },
      () => {
        if (kernel === 'new') return model.hessianVector(s, nl, v);
        const out = new Float64Array(3 * n);
        hvp(model.merged, out);
        return out;
      },
      // Steady state of a CG loop: the per-configuration data is built by an untimed product first (building it
      // costs about 5 recomputed products; a Newton-Krylov step applies H tens of times at one x).
      kernel === 'new' ? () => model.hessianVector(s, nl, v) : undefined,
    );
    if (kernel === 'new') {
      // The first product at a new x (per-configuration data bypassed), as opposed to the repeated products at one x
      // of a CG or Lanczos loop (the task above, served from that data after its first call).
      add({ task: `MLIP level ${level} hessian-vector, first at x`, level, kernel, what: 'hessian-vector', basisSize: K }, () => {
        const limit = MLIPKernel.HVP_CACHE_LIMIT;
        MLIPKernel.HVP_CACHE_LIMIT = 0;
        try {
          return model.hessianVector(s, nl, v);
        } finally {
          MLIPKernel.HVP_CACHE_LIMIT = limit;
        }
      });
    }
    add({ task: `MLIP level ${level} basis rows E+F+V${tag}`, level, kernel, what: 'basis rows E+F+V', basisSize: K }, () => {
      const out = { energy: new Float64Array(K), forces: new Float64Array(K * 3 * n), virial: new Float64Array(K * 9) };
      evaluate(out, ev.functions);
      return out;
    });
    add({ task: `MLIP level ${level} basis HVP column${tag}`, level, kernel, what: 'basis HVP column', basisSize: K }, () => {
      const out = new Float64Array(K * 3 * n);
      hvp(ev.functions, out);
      return out;
    });
  }
}
add({ task: 'EAM Cu_u3 energy+forces (again)', level: null, kernel: 'eam', what: 'energy+forces' }, () => eam.evaluate(s, nl));

// Rounds: every task timed once per round (tinybench: time budget, at least 3 samples), the whole list repeated, so a
// burst of load hits one round of a task, not all of them. Figures are per-round medians of the CPU time per call
// (wall time counts the time other jobs hold the core: at load 10 on 2 cores it varied 2x within a run), the smaller
// of the rounds' medians kept. The wall medians recorded in info include the untimed priming calls.
const benches: Bench[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const bench = new Bench({ time, iterations: 3, warmupTime: 100, warmupIterations: 1 });
  const times = new Map<string, number[]>();
  cpu.push(times);
  for (const [name, fn] of fns) {
    const list: number[] = [];
    times.set(name, list);
    const prime = primes.get(name);
    bench.add(name, () => {
      prime?.();
      const c = process.cpuUsage();
      const r = fn();
      const d = process.cpuUsage(c);
      list.push((d.user + d.system) / 1000);
      return r;
    });
  }
  await bench.run();
  benches.push(bench);
}
const load1 = loadavg()[0];
const median = (a: number[]): number => {
  const b = [...a].sort((x, y) => x - y);
  return b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
};
/** min over rounds of the median CPU ms per call (warm-up calls dropped: tinybench's first warmupIterations). */
const med = (name: string): number => Math.min(...cpu.map((m) => median(m.get(name)!.slice(1))));
const wall = (name: string): number =>
  Math.min(
    ...benches.map((b) => {
      const r = b.getTask(name)?.result;
      if (!r || !('latency' in r)) throw new Error(`${name}: no result`);
      return r.latency.p50;
    }),
  );
const eamMs = (med('EAM Cu_u3 energy+forces') + med('EAM Cu_u3 energy+forces (again)')) / 2;
const results: BenchResult[] = [];
const table: string[] = [];
for (const row of rows) {
  const ms = med(row.task);
  const samples = cpu.reduce((t, m) => t + m.get(row.task)!.length - 1, 0);
  const all = cpu.flatMap((m) => m.get(row.task)!.slice(1));
  const refTask = row.task.replace(', first at x', '');
  const ref = row.kernel === 'new' && withReference && row.level !== null ? med(`${refTask} (reference kernel)`) : null;
  const ratioEam = ms / eamMs;
  results.push({
    suite: 'mlip-speed',
    task: row.task,
    medianMs: ms,
    minMs: Math.min(...all),
    maxMs: Math.max(...all),
    samples,
    throughput: { unit: 'atoms', count: n, perSecond: (1000 * n) / ms },
    info: { clock: 'cpu', wallMedianMs: wall(row.task), atoms: n, nsPerAtom: (1e6 * ms) / n, ratioToEam: ratioEam, ...(row.basisSize ? { basisSize: row.basisSize } : {}), ...(ref !== null ? { speedupOverReference: ref / ms } : {}) },
  });
  table.push(`| ${row.task} | ${row.basisSize ?? ''} | ${ms.toFixed(2)} | ${((1e6 * ms) / n).toFixed(0)} | ${ratioEam.toFixed(2)} | ${ref !== null ? `${(ref / ms).toFixed(1)}x` : ''} |`);
}
const md = [
  '# MLIP speed against the EAM it is fitted to',
  '',
  `Run ${runStart.toISOString()}, commit ${prov.commit ?? 'unknown'}${prov.dirty ? ' (dirty)' : ''}, node ${prov.node}, ${prov.cpu.model} x${prov.cpu.count}; 1-minute load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after (shared machine: compare the ratios, not the times). Command: \`npx tsx benchmarks/mlip-speed.ts${quick ? ' --quick' : ''}${withReference ? '' : ' --no-reference'}\`.`,
  '',
  `Rattled fcc Cu, ${n} atoms, periodic; Cu_u3.eam (rc ${eam.cutoff.toFixed(2)} A); MLIP default levels 1-3 at that cutoff, random coefficients; neighbour list prebuilt. CPU time per call (process.cpuUsage around each tinybench sample; time budget ${time} ms per task, at least 3 samples), median per round, the smaller of ${ROUNDS} rounds. Ratio: against the mean of the EAM's two figures (${eamMs.toFixed(2)} ms, first and last task). "Basis rows": every basis function's energy, forces and virial at once (one training configuration of the fit); "basis HVP column": every function's Hessian along one direction (one force-constant column).`,
  '',
  '| task | basis functions | CPU per call (ms) | ns / atom | / EAM energy+forces | speed-up over the reference kernel |',
  '|---|---:|---:|---:|---:|---:|',
  ...table,
  '',
];
writeFileAtomic(join(outDir, 'mlip-speed.md'), md.join('\n'));
writeFileAtomic(join(outDir, 'mlip-speed.json'), JSON.stringify({ timestamp: runStart.toISOString(), ...prov, loadBefore: load0, loadAfter: load1, atoms: n, eamMs, results }, null, 1) + '\n');
appendRecord(join(outDir, 'history.jsonl'), {
  schemaVersion: 1,
  timestamp: runStart.toISOString(),
  ...prov,
  loadAverage: load0,
  quick,
  filter: 'mlip-speed',
  wallTimeSeconds: (Date.now() - runStart.getTime()) / 1000,
  results,
});
console.log(md.join('\n'));
console.log(`wrote ${join(outDir, 'mlip-speed.md')} and .json; appended a record to history.jsonl`);
