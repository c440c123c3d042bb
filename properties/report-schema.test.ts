/**
 * Every report the tool can write validates against schemas/report.schema.json, whatever the studies returned
 * (synthetic StudyResults from report-arbitraries.ts: NaN slopes, floors, 'not observed', studies that threw, studies
 * whose results are observation sets), its exit status is earned (1 exactly when a rate or a study failed or a study
 * threw), each verdict word is counted on its own, and its Markdown, HTML, SVG, Vega-Lite specs and JUnit are
 * well-formed. The schema itself is shown to reject corrupted reports, so the first property can fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaErrors } from '../src/io/schema.ts';
import { renderJunit } from '../src/report/junit.ts';
import { countsLine, renderMarkdown, VERDICT_ORDER } from '../src/report/markdown.ts';
import { reportFigures, reportJson } from '../src/report/model.ts';
import { renderReportFiles } from '../src/report/write.ts';
import { reportArb } from './report-arbitraries.ts';
import { parseXml } from './report-xml.ts';

describe('report.json schema', () => {
  it('any generated report validates, and its status and counts follow from the verdicts', () => {
    fc.assert(
      fc.property(reportArb, (report) => {
        const json = JSON.parse(reportJson(report));
        expect(schemaErrors('report', json)).toEqual([]);
        expect(schemaErrors('report-config', json.config)).toEqual([]);
        const failed =
          report.studies.some((s) => s.error !== undefined || s.results.some((r) => r.verdict === 'fail' || r.fits.some((f) => f.verdict === 'fail')));
        expect(report.exitCode).toBe(failed ? 1 : 0);
        expect(report.status).toBe(failed ? 'fail' : 'pass');
        const nFits = report.studies.reduce((s, st) => s + st.results.reduce((a, r) => a + r.fits.length, 0), 0);
        expect(report.summary.filter((r) => r.fitIndex !== null)).toHaveLength(nFits);
        expect(Object.values(report.counts).reduce((a, b) => a + b, 0)).toBe(report.summary.length);
        // every verdict word is counted under its own name, and the counts line prints each
        for (const v of VERDICT_ORDER) expect(report.counts[v]).toBe(report.summary.filter((r) => r.verdict === v).length);
        const line = countsLine(report);
        for (const v of VERDICT_ORDER) if (v !== 'error' || report.counts.error) expect(line).toContain(`${report.counts[v]} ${v}`);
        // one figure per fitted rate, plus one comparison per study whose results are series of one kind
        const comparisons = report.studies.filter((s) => s.comparison).length;
        expect(reportFigures(report)).toHaveLength(nFits + comparisons);
        for (const s of report.studies) {
          const series = !s.error && s.results.length > 1 && s.results.every((r) => r.study === s.results[0].study && r.xLabel === s.results[0].xLabel);
          const common = series && s.results[0].fits.some((f) => s.results.every((r) => r.fits.some((g) => g.measure === f.measure)));
          expect(s.comparison !== undefined).toBe(Boolean(common));
        }
        // Markdown keeps wall times out (they are in report.json); JUnit is well-formed
        const md = renderMarkdown(report);
        expect(md).not.toMatch(/wallTime/);
        // Where a point records the theory's assumption, the points table has its column and every point where it
        // fails is listed with its evidence, so a reader sees why the point is not in the fits.
        for (const r of report.studies.flatMap((st) => st.results)) {
          if (!r.points.some((p) => p.assumption)) continue;
          expect(md).toContain(' assumption |');
          for (const p of r.points) if (p.assumption && !p.assumption.holds) expect(md).toContain(`: ${p.assumption.evidence}`);
        }
        // JUnit: failures are exactly 'fail' and 'error' rows, skipped exactly 'at floor' and 'assumption fails' rows
        const junit = parseXml(renderJunit(report));
        expect(junit[0].name).toBe('testsuites');
        expect(Number(junit[0].attrs.failures)).toBe(report.counts.fail + report.counts.error);
        expect(junit.filter((e) => e.name === 'failure')).toHaveLength(report.counts.fail + report.counts.error);
        expect(junit.filter((e) => e.name === 'skipped')).toHaveLength(report.counts['at floor'] + report.counts['assumption fails']);
      }),
      { seed: 61, numRuns: 60 },
    );
  });

  it('the written files: schema-checked JSON, one SVG and Vega-Lite spec per figure, well-formed HTML with them inline', async () => {
    // Rendering SVG takes ~0.1-0.2 s a figure: a few generated reports.
    const reports = fc.sample(reportArb, { seed: 66, numRuns: 4 });
    for (const report of reports) {
      const files = await renderReportFiles(report); // throws if report.json does not match the schema
      // Rendering is deterministic, figures included (Vega's per-process clip ids are renumbered per figure).
      if (report === reports[0]) expect(await renderReportFiles(report)).toEqual(files);
      expect(schemaErrors('report', JSON.parse(files.get('report.json')!))).toEqual([]);
      const figures = reportFigures(report);
      const svgs = [...files.keys()].filter((f) => f.endsWith('.svg'));
      expect(svgs.sort()).toEqual(figures.map((f) => f.file).sort());
      for (const f of figures) {
        expect(parseXml(files.get(f.file)!)[0].name).toBe('svg');
        expect(JSON.parse(files.get(f.specFile)!)).toEqual(JSON.parse(JSON.stringify(f.spec)));
        expect(files.get('report.html')!).toContain(files.get(f.file)!.trim());
        expect(files.get('report.md')!).toContain(`(${f.file})`);
      }
      expect(parseXml(files.get('report.html')!)[0].name).toBe('html');
    }
  }, 120_000);

  it('the schema rejects corrupted reports (each corruption names its path)', () => {
    const corruptions: Array<[string, (j: any) => boolean]> = [
      ['/studies/0/results/0/points/0/assumption', (j) => {
        const p = j.studies[0]?.results?.[0]?.points?.[0];
        if (!p) return false;
        p.assumption = { evidence: 'no verdict' }; // 'holds' is required
        return true;
      }],
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
