import { fmtObserved } from './format.ts';
import { countsLine } from './markdown.ts';
import type { Report } from './model.ts';

/** What `mlip-verify report` prints on stdout: a summary table, or with --ci one line per row for a CI log. */

export function consoleSummary(report: Report, outDir: string): string {
  const lines = [`${report.title}: ${report.status.toUpperCase()} (${countsLine(report)}), mode ${report.mode}, ` +
    `${report.provenance.totalWallTimeSeconds.toFixed(1)} s`];
  const w = Math.max(5, ...report.summary.map((r) => `${r.study}: ${r.label}`.length));
  for (const r of report.summary) {
    lines.push(`  ${`${r.study}: ${r.label}`.padEnd(w)}  ${r.measure.padEnd(16)} predicted ${String(r.predicted ?? '–').padStart(5)}  ` +
      `observed ${fmtObserved(r.observed, r.stderr).padEnd(16)} ${r.verdict}`);
  }
  lines.push(`written: ${outDir}/report.json, report.md, report.html`);
  return lines.join('\n');
}

export function ciSummary(report: Report, outDir: string): string {
  const lines = report.summary.map((r) => {
    // Only a failed rate or bound (or a study that could not run) is a failure; a hypothesis observed is as good as a
    // pass; the other words are notes a reader should see but not failures.
    const tag = r.verdict === 'fail' || r.verdict === 'error' ? 'FAIL' : r.verdict === 'pass' || r.verdict === 'observed' ? 'ok  ' : 'note';
    const head = `${tag} ${r.study} | ${r.label} | ${r.measure}`;
    return r.kind === null ? `${head} | ${r.explanation}` : `${head} | predicted ${r.predicted} observed ${fmtObserved(r.observed, r.stderr)} | ${r.verdict}`;
  });
  lines.push(`mlip-verify report: ${report.status.toUpperCase()} (${countsLine(report)}) in ${report.provenance.totalWallTimeSeconds.toFixed(1)} s -> ${outDir}`);
  return lines.join('\n');
}
