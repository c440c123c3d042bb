import type { StudyResult } from '../convergence/types.ts';
import { parsePotentialSpec } from '../potentials/spec.ts';
import { MlipVerifyError, ParameterError } from '../util/errors.ts';
import type { ResolvedConfig, ResolvedStudy } from './config.ts';
import { buildReport, type BuildInput, type Report } from './model.ts';
import { StudyPool } from './pool.ts';
import { Progress, type ProgressSink } from './progress.ts';
import { collectProvenance } from './provenance.ts';

export interface RunReportOptions {
  argv?: string[];
  progress?: ProgressSink;
  /**
   * Worker threads (default 1: every study in this thread, one after the other). With 2 or more, the studies and the
   * independent tasks of a study that has them (StudyDefinition.runTask: the training-size points) run on a pool of
   * that many workers; the report is the same apart from its times.
   */
  jobs?: number;
}

/** A study whose potential is an external engine (a LAMMPS, i-PI or ASE process) stays in this thread: one engine at
 * a time, started and closed where the command can see it. Files and built-ins go to the workers. */
function poolable(s: ResolvedStudy): boolean {
  const spec = s.options.potential;
  if (spec === undefined) return true;
  try {
    const kind = parsePotentialSpec(spec).kind;
    return kind === 'builtin' || kind === 'eam' || kind === 'mlip';
  } catch {
    return false; // the study itself reports the bad spec, as in a serial run
  }
}

/**
 * Run every study of a resolved configuration and build the report, its studies in configuration order whatever
 * order they finish in. A study that throws a typed error is recorded as an error (the report is still written and
 * fails); anything else is a bug and propagates (after the workers are stopped).
 */
export async function runReport(cfg: ResolvedConfig, opts: RunReportOptions = {}): Promise<Report> {
  const progress = opts.progress ?? new Progress(process.stderr, false);
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new ParameterError(`jobs must be an integer >= 1, got ${jobs}`);
  const start = new Date();
  const t0 = performance.now();
  const n = cfg.studies.length;
  // Workers pay off only with two things to run side by side: several studies, or one study with tasks.
  const parallel = cfg.studies.filter(poolable).length > 1 || cfg.studies.some((s) => poolable(s) && s.definition.runTask);
  const pool = jobs > 1 && parallel ? new StudyPool(jobs) : null;
  // Studies that run in this thread run one at a time (they may hold an engine, and their time is their own).
  let here: Promise<unknown> = Promise.resolve();
  const inThisThread = <T>(f: () => Promise<T>): Promise<T> => {
    const p = here.then(f);
    here = p.catch(() => undefined);
    return p;
  };

  const runOne = async (s: ResolvedStudy, i: number): Promise<BuildInput['studies'][number]> => {
    const k = i + 1;
    const message = (m: string) => progress.message(m, k);
    const ctx = { mode: cfg.mode, progress: message };
    let ts = performance.now();
    const started = () => {
      ts = performance.now();
      progress.study(k, n, `${s.study}${s.comment ? ` (${shortComment(s.comment)})` : ''}`);
    };
    let results: StudyResult[] = [];
    let error: { name: string; message: string } | undefined;
    try {
      if (!pool || !poolable(s)) {
        results = await inThisThread(() => {
          started();
          return s.definition.run(structuredClone(s.options), ctx);
        });
      } else if (s.definition.runTask) {
        // Its orchestration here, its tasks on the workers.
        started();
        const runTasks = (tasks: unknown[]) =>
          Promise.all(tasks.map((task) => pool.run({ kind: 'task', study: s.study, mode: cfg.mode, options: s.options, task }, message)));
        results = await s.definition.run(structuredClone(s.options), { ...ctx, runTasks });
      } else {
        started();
        results = await pool.run<StudyResult[]>({ kind: 'study', study: s.study, mode: cfg.mode, options: s.options }, message);
      }
    } catch (e) {
      if (!(e instanceof MlipVerifyError)) throw e;
      error = { name: e.name, message: e.message };
    }
    progress.finished(error ? `error: ${error.message}` : results.map((r) => r.verdict).join(', '), k);
    return {
      configIndex: s.index,
      study: s.study,
      predictions: s.definition.predictions,
      ...(s.comment !== undefined ? { comment: s.comment } : {}),
      options: s.options,
      results,
      ...(error ? { error } : {}),
      wallTimeSeconds: (performance.now() - ts) / 1000,
    };
  };

  let studies: BuildInput['studies'];
  try {
    if (!pool) {
      studies = [];
      for (let i = 0; i < n; i++) studies.push(await runOne(cfg.studies[i], i));
    } else {
      studies = await Promise.all(cfg.studies.map((s, i) => runOne(s, i)));
    }
  } finally {
    await pool?.close();
  }
  progress.done();
  return buildReport({
    title: cfg.title,
    mode: cfg.mode,
    config: cfg.config,
    provenance: collectProvenance(),
    createdAt: start.toISOString(),
    argv: opts.argv ?? [],
    totalWallTimeSeconds: (performance.now() - t0) / 1000,
    studies,
  });
}

/** A study's comment as a progress label: its first 60 characters, cut at a word (the report keeps the whole text). */
export function shortComment(c: string, max = 60): string {
  const t = c.replace(/\s+/g, ' ').trim();
  if (t.length <= max) return t;
  const cut = t.slice(0, max + 1);
  const sp = cut.lastIndexOf(' ');
  return `${(sp > max / 2 ? cut.slice(0, sp) : t.slice(0, max)).replace(/[\s,;:(]+$/, '')}...`;
}
