import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform } from 'node:os';
import { appendLineAtomic } from '../io/atomic.ts';
import { assertValid } from '../io/schema.ts';
import { MlipVerifyError, ParameterError, ParseError } from '../util/errors.ts';

/**
 * The benchmark history: reports/bench/history.jsonl, one schema-validated record per `mlip-verify bench` run
 * (schemas/bench-history.schema.json). Records are validated on write and on read, so a hand-edited or truncated
 * history is reported with its line number instead of feeding a wrong baseline into the comparison.
 */
export interface BenchResult {
  suite: string;
  task: string;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  meanMs?: number;
  samples?: number;
  throughput?: { unit: 'atoms' | 'rows' | 'iterations' | 'pairs'; count: number; perSecond: number };
  info?: Record<string, unknown>;
  error?: string;
}

export interface BenchRecord {
  schemaVersion: 1;
  timestamp: string;
  commit: string | null;
  dirty: boolean | null;
  node: string;
  platform: string;
  cpu: { model: string; count: number };
  /** 1-minute load average when the run started (os.loadavg; absent in old records): a shared machine shows here. */
  loadAverage?: number;
  quick: boolean;
  filter: string | null;
  wallTimeSeconds: number;
  results: BenchResult[];
}

export const SCHEMA = 'bench-history';

/** `filter` of the records that benchmarks/lammps-crosscheck.ts appends (its own tasks, timed once each). */
export const CROSSCHECK_FILTER = 'lammps-crosscheck';

/** Key of a benchmark across records: renaming a task starts a new series. */
export function resultKey(r: Pick<BenchResult, 'suite' | 'task'>): string {
  return `${r.suite}/${r.task}`;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Where and on what this run happens: git HEAD (read-only git calls), Node, CPU. */
export function provenance(): Pick<BenchRecord, 'commit' | 'dirty' | 'node' | 'platform' | 'cpu' | 'loadAverage'> {
  const head = git(['rev-parse', 'HEAD']);
  const status = head === null ? null : git(['status', '--porcelain', '--untracked-files=no']);
  const c = cpus();
  return {
    commit: head && /^[0-9a-f]{40,64}$/.test(head) ? head : null,
    dirty: status === null ? null : status.length > 0,
    node: process.version,
    platform: `${platform()}-${process.arch}`,
    cpu: { model: (c[0]?.model ?? 'unknown').trim(), count: Math.max(1, c.length) },
    loadAverage: loadavg()[0],
  };
}

export function validateRecord(rec: unknown, what: string): BenchRecord {
  assertValid(SCHEMA, rec, what);
  return rec as BenchRecord;
}

/** Validate and append one record (atomically: the whole file is rewritten through a temp file + rename). */
export function appendRecord(path: string, rec: BenchRecord): void {
  validateRecord(rec, 'benchmark record');
  appendLineAtomic(path, JSON.stringify(rec));
}

/** One single-shot timing (a run measured once, not sampled by tinybench): median = min = max, samples 1. */
export function singleShot(suite: string, task: string, ms: number, info?: Record<string, unknown>): BenchResult {
  return { suite, task, medianMs: ms, minMs: ms, maxMs: ms, samples: 1, ...(info ? { info } : {}) };
}

/**
 * Append the record of a script-driven benchmark run (memory, MPI, LAMMPS cross-check) that started at `runStart`
 * with provenance `prov` taken then: its load average is the one at the start, its wall time runs until now.
 */
export function appendRun(
  path: string,
  run: { runStart: Date; prov: ReturnType<typeof provenance>; quick: boolean; filter: string; results: BenchResult[] },
): void {
  appendRecord(path, {
    schemaVersion: 1,
    timestamp: run.runStart.toISOString(),
    ...run.prov,
    quick: run.quick,
    filter: run.filter,
    wallTimeSeconds: (Date.now() - run.runStart.getTime()) / 1000,
    results: run.results,
  });
}

/** Every record of a history file; a missing file is an empty history. Bad lines: ParseError with the line number. */
export function readHistory(path: string): BenchRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseHistory(text, path);
}

export function parseHistory(text: string, file?: string): BenchRecord[] {
  const out: BenchRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new ParseError(`not JSON: ${(e as Error).message}`, i + 1, file);
    }
    try {
      out.push(validateRecord(obj, 'record'));
    } catch (e) {
      if (e instanceof MlipVerifyError) throw new ParseError(e.message, i + 1, file);
      throw e;
    }
  }
  return out;
}

/**
 * The baseline record for a new run: by default the latest record of the same mode (quick or full: the sizes
 * differ) that is not a LAMMPS cross-check record; `spec` an integer picks history[spec] (negative: from the end, -1 the latest), otherwise a commit prefix
 * (>= 4 hex digits) picks the latest record of that commit. Null when there is none (first run).
 */
export function selectBaseline(history: readonly BenchRecord[], quick: boolean, spec?: string): BenchRecord | null {
  if (spec === undefined) {
    // The LAMMPS cross-check's records (benchmarks/lammps-crosscheck.ts) share no task with the suites: skipping them
    // keeps the previous suite run as the baseline instead of a record with nothing to compare.
    for (let i = history.length - 1; i >= 0; i--) if (history[i].quick === quick && history[i].filter !== CROSSCHECK_FILTER) return history[i];
    return null;
  }
  if (/^-?\d+$/.test(spec)) {
    const k = Number(spec);
    const i = k < 0 ? history.length + k : k;
    if (i < 0 || i >= history.length) {
      throw new ParameterError(`--baseline ${spec}: the history has ${history.length} records (valid: 0..${history.length - 1} or -1..-${history.length})`);
    }
    return history[i];
  }
  if (/^[0-9a-f]{4,64}$/i.test(spec)) {
    for (let i = history.length - 1; i >= 0; i--) if (history[i].commit?.startsWith(spec.toLowerCase())) return history[i];
    throw new ParameterError(`--baseline ${spec}: no record of a commit starting with '${spec}' in the history`);
  }
  throw new ParameterError(`--baseline must be a record index or a commit hash prefix (>= 4 hex digits), got '${spec}'`);
}
