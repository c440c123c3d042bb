/**
 * Stand-alone timing of the kernels suite with tinybench (until the shared runner exists): prints the mean time per
 * call and ns per atom per evaluation. Usage: npx tsx benchmarks/run-kernels.ts [--quick] [--time ms]
 */
import { Bench } from 'tinybench';
import { suite } from './kernels.bench.ts';

const quick = process.argv.includes('--quick');
const ti = process.argv.indexOf('--time');
const time = ti > 0 ? Number(process.argv[ti + 1]) : 2000;
const tasks = await suite.setup({ quick });
// Few iterations: one call on 1e5 atoms takes ~0.1-0.5 s, and the machine is shared.
const bench = new Bench({ time, iterations: 8, warmupTime: 200, warmupIterations: 2 });
for (const t of tasks) bench.add(t.name, t.fn);
await bench.run();
console.log(`suite ${suite.name} (${quick ? 'quick' : 'full'}), node ${process.version}, time budget ${time} ms per task`);
for (const t of tasks) {
  const r = bench.getTask(t.name)?.result;
  if (!r || !('latency' in r)) {
    console.log(`${t.name}: no result (${r ? JSON.stringify(r).slice(0, 200) : 'missing'})`);
    continue;
  }
  const ms = r.latency.mean;
  const n = t.throughput?.count ?? 1;
  console.log(
    `${t.name.padEnd(34)} ${ms.toFixed(3).padStart(9)} ms/call  ${((ms * 1e6) / n).toFixed(1).padStart(7)} ns/atom  ` +
      `(+-${r.latency.rme.toFixed(1)}%, ${r.latency.samplesCount ?? ''} samples) ${JSON.stringify(t.info?.() ?? {})}`,
  );
}
