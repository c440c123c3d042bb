import { fmtObserved } from './format.ts';
import type { Report } from './model.ts';
import { escapeXml as esc } from './svg.ts';

/**
 * JUnit XML for CI dashboards: one test suite per study result, one test case per fitted rate (plus one for a study
 * that failed outside its rates, or threw). 'fail' and errors are failures. 'at floor' (no rate resolved) and
 * 'assumption fails' (the prediction does not apply where measured) are skipped: nothing was judged. 'pass',
 * 'observed' and 'not observed' pass (a hypothesis not observed is not a broken prediction). Each case's verdict and
 * explanation are in system-out or in the failure / skipped message.
 */
export function renderJunit(report: Report): string {
  const groups = new Map<string, typeof report.summary>();
  for (const row of report.summary) {
    const key = `${row.studyIndex + 1}. ${row.study}: ${row.label}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(row);
  }
  const failures = report.counts.fail + report.counts.error;
  const skipped = (v: string) => v === 'at floor' || v === 'assumption fails';
  const o: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  o.push(`<testsuites name="${esc(report.title)}" tests="${report.summary.length}" failures="${failures}" skipped="${report.summary.filter((r) => skipped(r.verdict)).length}" time="${report.provenance.totalWallTimeSeconds.toFixed(3)}">`);
  for (const [name, rows] of groups) {
    const s = report.studies[rows[0].studyIndex];
    const r = rows[0].resultIndex === null ? undefined : s.results[rows[0].resultIndex];
    const time = r ? r.wallTimeSeconds : s.wallTimeSeconds;
    const nf = rows.filter((x) => x.verdict === 'fail' || x.verdict === 'error').length;
    o.push(`  <testsuite name="${esc(name)}" tests="${rows.length}" failures="${nf}" skipped="${rows.filter((x) => skipped(x.verdict)).length}" time="${time.toFixed(3)}">`);
    for (const row of rows) {
      const head = `${row.measure}: predicted ${row.predicted ?? 'n/a'}, observed ${fmtObserved(row.observed, row.stderr)}`;
      o.push(`    <testcase classname="${esc(`${row.study}.${row.label}`)}" name="${esc(head)}">`);
      if (row.verdict === 'fail' || row.verdict === 'error') {
        o.push(`      <failure message="${esc(row.verdict)}" type="${esc(row.verdict)}">${esc(row.explanation)}</failure>`);
      } else if (skipped(row.verdict)) {
        o.push(`      <skipped message="${esc(`${row.verdict}: ${row.explanation}`)}"/>`);
      } else {
        o.push(`      <system-out>${esc(`${row.verdict}: ${row.explanation}`)}</system-out>`);
      }
      o.push('    </testcase>');
    }
    o.push('  </testsuite>');
  }
  o.push('</testsuites>', '');
  return o.join('\n');
}
