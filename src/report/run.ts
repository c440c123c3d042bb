import type { StudyResult } from '../convergence/types.ts';
import { MlipVerifyError } from '../util/errors.ts';
import type { ResolvedConfig } from './config.ts';
import { buildReport, type BuildInput, type Report } from './model.ts';
import { Progress } from './progress.ts';
import { collectProvenance } from './provenance.ts';

/**
 * Run every study of a resolved configuration, in order, and build the report. A study that throws a typed error is
 * recorded as an error (the report is still written and fails); anything else is a bug and propagates.
 */
export async function runReport(cfg: ResolvedConfig, opts: { argv?: string[]; progress?: Progress } = {}): Promise<Report> {
  const progress = opts.progress ?? new Progress(process.stderr, false);
  const start = new Date();
  const t0 = performance.now();
  const studies: BuildInput['studies'] = [];
  for (let i = 0; i < cfg.studies.length; i++) {
    const s = cfg.studies[i];
    progress.study(i + 1, cfg.studies.length, `${s.study}${s.comment ? ` (${s.comment})` : ''}`);
    const ts = performance.now();
    let results: StudyResult[] = [];
    let error: { name: string; message: string } | undefined;
    try {
      results = await s.definition.run(structuredClone(s.options), { mode: cfg.mode, progress: (m) => progress.message(m) });
    } catch (e) {
      if (!(e instanceof MlipVerifyError)) throw e;
      error = { name: e.name, message: e.message };
    }
    progress.finished(error ? `error: ${error.message}` : results.map((r) => r.verdict).join(', '));
    studies.push({
      configIndex: s.index,
      study: s.study,
      predictions: s.definition.predictions,
      ...(s.comment !== undefined ? { comment: s.comment } : {}),
      options: s.options,
      results,
      ...(error ? { error } : {}),
      wallTimeSeconds: (performance.now() - ts) / 1000,
    });
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
