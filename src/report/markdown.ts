import type { StudyResult } from '../convergence/types.ts';
import { assumptionCell, assumptionLines, fmtBand, fmtCell, fmtNum, fmtObserved, fmtPredicted, fmtRange, hasAssumptions, infoColumns, measuresOf, withoutTimings } from './format.ts';
import type { Report, SummaryRow } from './model.ts';

/**
 * report.md: the whole report as GitHub-flavoured Markdown with the plots as SVG files beside it (plots/). It holds
 * no wall time, creation time or command line (those are in report.json and report.html): the same configuration on
 * the same commit and machine renders to the same bytes, so a diff of two reports shows changed results only.
 */

function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function verdictText(v: string): string {
  return v === 'pass' ? 'pass' : v === 'fail' ? '**FAIL**' : v === 'error' ? '**ERROR**' : `*${v}*`;
}

/** Every verdict word in the order the counts are printed: the judged rates and bounds, then the hypotheses, then
 * what could not be judged. Only 'fail' and 'error' fail a report. */
export const VERDICT_ORDER = ['pass', 'fail', 'observed', 'not observed', 'at floor', 'assumption fails', 'error'] as const;

/** "31 rows: 20 pass, 0 fail, 3 observed, 0 not observed, 8 at floor, 0 assumption fails" (+ errors when any). */
export function countsLine(r: Report): string {
  const c = r.counts;
  const parts = VERDICT_ORDER.filter((v) => v !== 'error' || c.error > 0).map((v) => `${c[v] ?? 0} ${v}`);
  return `${r.summary.length} rows: ${parts.join(', ')}`;
}

export function predictedCell(row: SummaryRow, report: Report): string {
  if (row.resultIndex === null || row.fitIndex === null) return '–';
  const f = report.studies[row.studyIndex].results[row.resultIndex].fits[row.fitIndex];
  return fmtPredicted(f);
}

function resultSection(r: StudyResult, plots: Array<{ file: string; spec: string; measure: string }>, heading: string): string[] {
  const o: string[] = [];
  o.push(`### ${heading}`, '');
  o.push(`Dimension ${r.dimension}; abscissa: ${r.xLabel}. Verdict: ${verdictText(r.verdict)}.`, '');
  const measures = measuresOf(r);
  const info = infoColumns(r, false);
  const withA = hasAssumptions(r);
  o.push(`Points (errors, ${withA ? "whether the theory's assumption holds there, " : ''}then per-point details):`, '');
  o.push(
    ...table(
      [r.xLabel, ...measures.map((m) => `${m} error`), ...(withA ? ['assumption'] : []), ...info],
      r.points.map((p) => [fmtNum(p.x), ...measures.map((m) => fmtNum(p.errors[m])), ...(withA ? [assumptionCell(p.assumption)] : []), ...info.map((k) => fmtCell(p.info?.[k]))]),
    ),
  );
  o.push('');
  const fails = assumptionLines(r);
  if (fails.length) {
    o.push("Where the theory's assumption fails (left out of every fit; not evidence for or against the prediction):", '');
    for (const l of fails) o.push(`- ${l}`);
    o.push('');
  }
  o.push('Rates (log-log least squares; slope ± standard error):', '');
  o.push(
    ...table(
      ['measure', 'predicted', 'observed slope', '95% band', 'fitted x range', 'points used', 'dropped', 'verdict'],
      r.fits.map((f) => [
        f.measure, fmtPredicted(f), fmtObserved(f.slope, f.stderr), fmtBand(f.ci95), fmtRange(f.range), String(f.pointsUsed),
        f.dropped.length ? f.dropped.map((d) => `#${d.index}: ${d.reason}`).join('; ') : '–', verdictText(f.verdict),
      ]),
    ),
  );
  o.push('');
  for (const f of r.fits) o.push(`- ${f.measure}: ${f.explanation}`);
  o.push('');
  for (const p of plots) o.push(`![${r.label}: ${p.measure}](${p.file})`);
  if (plots.length) o.push('', `Vega-Lite specs of these figures (data inline, to restyle or re-plot): ${plots.map((p) => `[${p.measure}](${p.spec})`).join(', ')}.`);
  o.push('');
  if (r.floor && Object.keys(r.floor).length) {
    o.push(`Fit-accuracy floor: ${Object.entries(r.floor).map(([m, v]) => `${m} ${fmtNum(v)}`).join(', ')} (red dotted line and band in the figures).`, '');
  }
  o.push(`Drop rule: ${r.dropRule}`, '');
  if (r.notes?.length) {
    o.push('Notes:', '');
    for (const n of r.notes) o.push(`- ${n}`);
    o.push('');
  }
  o.push(`Seeds: ${r.seeds.length ? r.seeds.join(', ') : 'none'}.`, '');
  o.push('<details><summary>Settings (lattice, potential, solver, reference, ...)</summary>', '', '```json');
  o.push(JSON.stringify(withoutTimings(r.settings), null, 2), '```', '', '</details>', '');
  return o;
}

export function renderMarkdown(report: Report): string {
  const o: string[] = [];
  const p = report.provenance;
  o.push(`# ${report.title}`, '');
  o.push(`**Status: ${report.status === 'pass' ? 'PASS' : 'FAIL'}** (exit status ${report.exitCode}) — ${countsLine(report)}. Mode: ${report.mode}.`, '');
  o.push(
    'Sharp rates and bounds are judged *pass* or **FAIL**; hypotheses are *observed* or *not observed*; *at floor*: the ' +
      'error is at the fit accuracy, so no rate is claimed; *assumption fails*: the theory\'s hypotheses do not hold ' +
      'where measured, so its prediction does not apply there. Only a failed prediction (or a study that could not run) ' +
      'fails the report. Wall times and the creation time are in report.json and report.html, not here, so that this ' +
      'file is reproducible.',
    '',
  );
  o.push('## Summary', '');
  o.push(
    ...table(
      ['#', 'study', 'label', 'measure', 'predicted slope', 'observed slope', 'verdict'],
      report.summary.map((row) => [
        String(row.studyIndex + 1), row.study, row.label, row.measure, predictedCell(row, report), fmtObserved(row.observed, row.stderr), verdictText(row.verdict),
      ]),
    ),
  );
  o.push('');
  report.studies.forEach((s, si) => {
    o.push(`## ${si + 1}. ${s.study} (${s.predictions})${s.comment ? `: ${s.comment}` : ''}`, '');
    o.push(`Configuration entry /studies/${s.configIndex}; options after merging the '${report.mode}' mode defaults:`, '');
    o.push('```json', JSON.stringify(s.options), '```', '');
    if (s.error) {
      o.push(`**ERROR**: the study did not finish: ${s.error.name}: ${s.error.message}`, '');
      return;
    }
    if (s.comparison) {
      o.push(`Every result of this study in one figure (${s.comparison.series.join(', ')}; ` +
        `measures ${s.comparison.measures.join(', ')}; Vega-Lite spec: [${s.comparison.spec}](${s.comparison.spec})):`, '');
      o.push(`![${s.study}: ${s.comparison.series.join(' vs ')}](${s.comparison.file})`, '');
    }
    s.results.forEach((r, ri) => {
      o.push(...resultSection(r, s.plots.filter((x) => x.resultIndex === ri), `${si + 1}.${ri + 1} ${r.label}`));
    });
  });
  o.push('## Provenance', '');
  o.push(`- ${p.packageName} ${p.packageVersion}, git commit ${p.gitCommit ?? 'none'}${p.gitDirty ? ' (with uncommitted changes)' : ''}`);
  o.push(`- Node ${p.node} on ${p.platform} ${p.arch}; ${p.cpuModel}, ${p.cpuCores} cores, ${p.memoryGiB} GiB`);
  o.push(`- mode ${report.mode}; configuration:`, '');
  o.push('```json', JSON.stringify(report.config, null, 2), '```', '');
  return o.join('\n');
}
