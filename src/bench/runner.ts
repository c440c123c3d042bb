import { readdirSync } from 'node:fs';
import { Bench } from 'tinybench';
import { ParameterError } from '../util/errors.ts';
import { provenance, type BenchRecord, type BenchResult } from './history.ts';
import type { BenchSuite, BenchTask } from './types.ts';

/**
 * Runs the benchmark suites (benchmarks/*.bench.ts, each exporting `suite: BenchSuite`) with tinybench and returns
 * one history record. Tasks are timed one after another (never concurrently: the machine is shared and timings
 * would interfere). Suites that declare `iterations` (heavy tasks: a solve, a relaxation, a pipeline) get exactly
 * that many samples and no warm-up; the rest get a time budget per task. A task that throws is recorded with its
 * error instead of timings, and the run goes on.
 */
export const BENCH_DIR = new URL('../../benchmarks/', import.meta.url);

export interface RunOptions {
  quick: boolean;
  /** Keep only tasks whose "suite/task" key contains this substring (case-insensitive); with a '/', suites whose name
   * does not contain the part before it are skipped before their setup. */
  filter?: string;
  /** Time budget per light task (ms); default 2000 (quick: 300). */
  timeMs?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Suite files to load (default: every benchmarks/*.bench.ts). */
  suiteFiles?: string[];
}

export async function loadSuites(files?: string[]): Promise<BenchSuite[]> {
  const names = files ?? readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.ts')).sort();
  const suites: BenchSuite[] = [];
  for (const f of names) {
    const mod = (await import(new URL(f, BENCH_DIR).href)) as { suite?: BenchSuite };
    if (!mod.suite || typeof mod.suite.setup !== 'function') throw new ParameterError(`benchmarks/${f} does not export a BenchSuite named 'suite'`);
    suites.push(mod.suite);
  }
  return suites;
}

function matches(filter: string | undefined, suite: string, task?: string): boolean {
  if (!filter) return true;
  const f = filter.toLowerCase();
  return task === undefined ? true : `${suite}/${task}`.toLowerCase().includes(f);
}

async function timeTask(suite: BenchSuite, t: BenchTask, opts: RunOptions): Promise<BenchResult> {
  const heavy = suite.iterations !== undefined;
  const bench = heavy
    ? new Bench({ iterations: suite.iterations, time: 0, warmup: false })
    : new Bench({ iterations: opts.quick ? 3 : 8, time: opts.timeMs ?? (opts.quick ? 300 : 2000), warmupIterations: opts.quick ? 1 : 2, warmupTime: opts.quick ? 50 : 200 });
  bench.add(t.name, t.fn);
  await bench.run();
  const r = bench.getTask(t.name)?.result;
  const base: BenchResult = { suite: suite.name, task: t.name };
  if (!r || r.state === 'errored' || !('latency' in r)) {
    const err = r && 'error' in r && r.error ? (r.error as Error).message : `no result (state ${r?.state ?? 'missing'})`;
    return { ...base, error: err };
  }
  const lat = r.latency;
  let info: Record<string, unknown> | undefined;
  try {
    info = t.info ? JSON.parse(JSON.stringify(t.info())) : undefined;
  } catch {
    info = undefined;
  }
  const median = lat.p50;
  return {
    ...base,
    medianMs: median,
    minMs: lat.min,
    maxMs: lat.max,
    meanMs: lat.mean,
    samples: lat.samplesCount,
    ...(t.throughput ? { throughput: { ...t.throughput, perSecond: t.throughput.count / (median / 1000) } } : {}),
    ...(info ? { info } : {}),
  };
}

export async function runBenchmarks(opts: RunOptions): Promise<BenchRecord> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const t0 = performance.now();
  const timestamp = new Date().toISOString();
  // HEAD and the tree state as the run starts: the code that is timed (HEAD may move during a long run)
  const prov = provenance();
  const results: BenchResult[] = [];
  for (const suite of await loadSuites(opts.suiteFiles)) {
    // A filter with a '/' names its suite: other suites are not even set up (their inputs can take seconds to build).
    if (opts.filter?.includes('/') && !suite.name.toLowerCase().includes(opts.filter.split('/')[0].toLowerCase())) continue;
    let tasks: BenchTask[];
    try {
      tasks = await suite.setup({ quick: opts.quick });
    } catch (e) {
      results.push({ suite: suite.name, task: '(setup)', error: (e as Error).message });
      log(`${suite.name}: setup failed: ${(e as Error).message}`);
      continue;
    }
    for (const t of tasks) {
      if (!matches(opts.filter, suite.name, t.name)) continue;
      const res = await timeTask(suite, t, opts);
      results.push(res);
      log(
        res.error
          ? `${suite.name}/${t.name}: ERROR ${res.error}`
          : `${suite.name}/${t.name}: median ${res.medianMs!.toPrecision(4)} ms [${res.minMs!.toPrecision(4)}, ${res.maxMs!.toPrecision(4)}], ${res.samples} samples`,
      );
    }
  }
  if (results.length === 0) throw new ParameterError(`no benchmark matches --filter '${opts.filter}'`);
  return {
    schemaVersion: 1,
    timestamp,
    ...prov,
    quick: opts.quick,
    filter: opts.filter ?? null,
    wallTimeSeconds: (performance.now() - t0) / 1000,
    results,
  };
}
