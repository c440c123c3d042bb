/**
 * Every report the tool can write validates against schemas/report.schema.json, whatever the studies returned
 * (synthetic StudyResults from report-arbitraries.ts: NaN slopes, floors, 'not observed', studies that threw), its
 * exit status is earned (1 exactly when a rate or a study failed or a study threw), and its Markdown, HTML, SVG and
 * JUnit are well-formed. The schema itself is shown to reject corrupted reports, so the first property can fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../src/io/schema.ts';
import { renderJunit } from '../src/report/junit.ts';
import { reportJson } from '../src/report/model.ts';
import { renderReportFiles } from '../src/report/write.ts';
import { reportArb } from './report-arbitraries.ts';
import { parseXml } from './report-xml.ts';

describe('report.json schema', () => {
  it('any generated report validates, and its status and counts follow from the verdicts', () => {
    fc.assert(
      fc.property(reportArb, (report) => {
        const files = renderReportFiles(report); // throws if report.json does not match the schema
        const json = JSON.parse(files.get('report.json')!);
        expect(schemaErrors('report', json)).toEqual([]);
        expect(schemaErrors('report-config', json.config)).toEqual([]);
        const failed =
          report.studies.some((s) => s.error !== undefined || s.results.some((r) => r.verdict === 'fail' || r.fits.some((f) => f.verdict === 'fail')));
        expect(report.exitCode).toBe(failed ? 1 : 0);
        expect(report.status).toBe(failed ? 'fail' : 'pass');
        const nFits = report.studies.reduce((s, st) => s + st.results.reduce((a, r) => a + r.fits.length, 0), 0);
        expect(report.summary.filter((r) => r.fitIndex !== null)).toHaveLength(nFits);
        expect(Object.values(report.counts).reduce((a, b) => a + b, 0)).toBe(report.summary.length);
        // one SVG per fitted rate, each well-formed; HTML and JUnit well-formed too
        const svgs = [...files.keys()].filter((f) => f.endsWith('.svg'));
        expect(svgs).toHaveLength(nFits);
        for (const f of svgs) expect(parseXml(files.get(f)!)[0].name).toBe('svg');
        expect(parseXml(files.get('report.html')!)[0].name).toBe('html');
        expect(parseXml(renderJunit(report))[0].name).toBe('testsuites');
        // Markdown keeps wall times out (they are in report.json)
        expect(files.get('report.md')!).not.toMatch(/wallTime/);
      }),
      { seed: 61, numRuns: 60 },
    );
  });

  it('the schema rejects corrupted reports (each corruption names its path)', () => {
    const corruptions: Array<[string, (j: any) => boolean]> = [
      ['/status', (j) => ((j.status = 'maybe'), true)],
      ['/', (j) => (delete j.summary, true)],
      ['/exitCode', (j) => ((j.exitCode = 3), true)],
      ['/summary/0/verdict', (j) => (j.summary.length ? ((j.summary[0].verdict = 'ok'), true) : false)],
      ['/studies/0/results/0/fits/0/slope', (j) => (j.studies[0].results[0]?.fits.length ? ((j.studies[0].results[0].fits[0].slope = 'steep'), true) : false)],
      ['/studies/0/results/0/points/0/x', (j) => (j.studies[0].results[0]?.points.length ? ((j.studies[0].results[0].points[0].x = null), true) : false)],
      ['/provenance/gitCommit', (j) => ((j.provenance.gitCommit = 'not a hash'), true)],
      ['/studies/0/plots/0/file', (j) => (j.studies[0].plots.length ? ((j.studies[0].plots[0].file = '../../etc/passwd'), true) : false)],
    ];
    fc.assert(
      fc.property(reportArb, fc.constantFrom(...corruptions), (report, [path, corrupt]) => {
        const j = JSON.parse(reportJson(report));
        fc.pre(corrupt(j));
        const errs = schemaErrors('report', j);
        expect(errs.some((e) => e.startsWith(`${path}:`) || (path === '/' && e.startsWith('/:')))).toBe(true);
      }),
      { seed: 62, numRuns: 60 },
    );
  });
});
