/**
 * A benchmark suite: each file benchmarks/<name>.bench.ts exports `suite: BenchSuite`. The runner (src/bench/)
 * loads every suite, times the tasks with tinybench, and appends one history record per run.
 * Suites must be deterministic (seeded inputs) and build their inputs in setup(), outside the timed function.
 */
export interface BenchTask {
  /** Stable name: history is keyed by suite/task, so renaming a task starts a new series. */
  name: string;
  fn: () => unknown | Promise<unknown>;
  /** Work per call for a throughput figure, e.g. { unit: 'atoms', count: 1e5 }. */
  throughput?: { unit: 'atoms' | 'rows' | 'iterations' | 'pairs'; count: number };
  /** Extra facts to record with the result (iterations of a solver, atom counts). */
  info?: () => Record<string, unknown>;
}

export interface BenchSuite {
  name: string;
  /** Build inputs; `quick` asks for smaller sizes (CI smoke runs). Returns the tasks to time. */
  setup(opts: { quick: boolean }): Promise<BenchTask[]> | BenchTask[];
  /** Minimum time per task in ms for tinybench (default the runner's). Heavy tasks set a few iterations. */
  iterations?: number;
}
