import type { StudyMode } from '../convergence/registry.ts';
import type { RateFit, StudyResult, Verdict } from '../convergence/types.ts';
import type { ReportConfig } from './config.ts';
import type { Provenance } from './provenance.ts';
import { comparisonFigure, comparisonPlan, rateFigure, type VegaLiteSpec } from './figures.ts';

/**
 * The report as data (report.json, schemas/report.schema.json): the studies' results as they returned them, a summary
 * row per fitted rate, the overall status and exit code, the configuration and provenance. Markdown, HTML, SVG plots
 * and JUnit are all rendered from this one object, so they cannot disagree. Generic over StudyResult: any study,
 * any measures, with or without a floor, any verdict.
 */

export type RowVerdict = Verdict | 'error';

export interface SummaryRow {
  /** Index into `studies` and into that study's `results`, or null for a study that threw. */
  studyIndex: number;
  resultIndex: number | null;
  fitIndex: number | null;
  study: string;
  label: string;
  /** The measure of a rate, or 'study checks' for a failure outside the rates, or 'error'. */
  measure: string;
  kind: RateFit['kind'] | null;
  predicted: number | null;
  observed: number | null;
  stderr: number | null;
  verdict: RowVerdict;
  explanation: string;
}

export interface StudyRun {
  /** Index of the entry in the configuration's `studies`. */
  configIndex: number;
  study: string;
  predictions: string;
  comment?: string;
  options: Record<string, unknown>;
  results: StudyResult[];
  /** Set when the study threw instead of returning results (a typed error: no fake pass, no lost report). */
  error?: { name: string; message: string };
  wallTimeSeconds: number;
  /** One figure per fitted rate: the SVG file and its Vega-Lite spec beside it (`spec`). */
  plots: Array<{ resultIndex: number; fitIndex: number; measure: string; file: string; spec: string }>;
  /** The figure with every result of the study in one plot per measure, where the results are series of one kind
   * (observation sets: see figures.ts comparisonPlan). */
  comparison?: { file: string; spec: string; measures: string[]; series: string[] };
}

export interface Report {
  schemaVersion: 1;
  title: string;
  createdAt: string;
  mode: StudyMode;
  status: 'pass' | 'fail';
  exitCode: 0 | 1;
  counts: Record<RowVerdict, number>;
  summary: SummaryRow[];
  studies: StudyRun[];
  config: ReportConfig;
  provenance: Provenance & { totalWallTimeSeconds: number; argv: string[] };
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** File name of one plot, relative to the report directory: stable across runs so the Markdown is too. */
export function plotFile(studyIndex: number, resultIndex: number, fitIndex: number, measure: string): string {
  return `plots/s${studyIndex + 1}-r${resultIndex + 1}-f${fitIndex + 1}-${measure.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40)}.svg`;
}

/** The Vega-Lite spec saved beside a figure's SVG. */
export function specFile(svgFile: string): string {
  return svgFile.replace(/\.svg$/, '.vl.json');
}

/** Summary rows: one per fitted rate; one more when a result fails for a reason outside its rates (reference or
 * stability check), or when the study threw. */
export function summarise(studies: StudyRun[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  studies.forEach((s, si) => {
    if (s.error) {
      rows.push({
        studyIndex: si, resultIndex: null, fitIndex: null, study: s.study, label: s.comment ?? '', measure: 'error', kind: null,
        predicted: null, observed: null, stderr: null, verdict: 'error', explanation: `${s.error.name}: ${s.error.message}`,
      });
      return;
    }
    s.results.forEach((r, ri) => {
      r.fits.forEach((f, fi) => {
        rows.push({
          studyIndex: si, resultIndex: ri, fitIndex: fi, study: r.study, label: r.label, measure: f.measure, kind: f.kind,
          predicted: finite(f.predicted), observed: finite(f.slope), stderr: finite(f.stderr), verdict: f.verdict, explanation: f.explanation,
        });
      });
      if (r.verdict === 'fail' && !r.fits.some((f) => f.verdict === 'fail')) {
        rows.push({
          studyIndex: si, resultIndex: ri, fitIndex: null, study: r.study, label: r.label, measure: 'study checks', kind: null,
          predicted: null, observed: null, stderr: null, verdict: 'fail',
          explanation: `the study failed outside its rates: ${(r.notes ?? []).join('; ') || 'no note given'}`,
        });
      }
    });
  });
  return rows;
}

export interface BuildInput {
  title: string;
  mode: StudyMode;
  config: ReportConfig;
  provenance: Provenance;
  createdAt: string;
  argv: string[];
  totalWallTimeSeconds: number;
  studies: Array<Omit<StudyRun, 'plots'>>;
}

export function buildReport(input: BuildInput): Report {
  const studies: StudyRun[] = input.studies.map((s, si) => {
    const plan = s.error ? undefined : comparisonPlan(s.results);
    const compare = `plots/s${si + 1}-compare.svg`;
    return {
      ...s,
      plots: s.results.flatMap((r, ri) => r.fits.map((f, fi) => {
        const file = plotFile(si, ri, fi, f.measure);
        return { resultIndex: ri, fitIndex: fi, measure: f.measure, file, spec: specFile(file) };
      })),
      ...(plan ? { comparison: { file: compare, spec: specFile(compare), measures: plan.measures, series: plan.series } } : {}),
    };
  });
  const summary = summarise(studies);
  const counts: Record<RowVerdict, number> = { pass: 0, fail: 0, observed: 0, 'not observed': 0, 'at floor': 0, 'assumption fails': 0, error: 0 };
  for (const r of summary) counts[r.verdict]++;
  // Only 'fail' (and a study that could not run) fails the report: 'observed' and 'not observed' are for hypotheses,
  // 'at floor' means the rate cannot be resolved above the fit accuracy, and 'assumption fails' that the theory's
  // hypotheses do not hold where measured: none of them is a broken prediction.
  const failed = counts.fail + counts.error > 0 || studies.some((s) => s.results.some((r) => r.verdict === 'fail'));
  return {
    schemaVersion: 1,
    title: input.title,
    createdAt: input.createdAt,
    mode: input.mode,
    status: failed ? 'fail' : 'pass',
    exitCode: failed ? 1 : 0,
    counts,
    summary,
    studies,
    config: input.config,
    provenance: { ...input.provenance, totalWallTimeSeconds: input.totalWallTimeSeconds, argv: input.argv },
  };
}

/** The JSON text of report.json. Non-finite numbers (a slope that could not be fitted) become null, as JSON demands;
 * the schema allows null exactly where a number may be undefined. */
export function reportJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** One figure of the report: the SVG file, its Vega-Lite spec file and the spec. */
export interface ReportFigure {
  file: string;
  specFile: string;
  spec: VegaLiteSpec;
  studyIndex: number;
  /** The result and measure of a rate figure; null for a study's comparison figure. */
  resultIndex: number | null;
  measure: string | null;
}

/** The title of a study's comparison figure. */
export function comparisonTitle(s: StudyRun, si: number): string {
  return `${si + 1}. ${s.study} (${s.predictions}): ${s.comparison?.series.join(' vs ') ?? ''}`;
}

/** Every figure of the report: per study its comparison figure (if any), then one per fitted rate. */
export function reportFigures(report: Report): ReportFigure[] {
  return report.studies.flatMap((s, si) => [
    ...(s.comparison
      ? [{ file: s.comparison.file, specFile: s.comparison.spec, spec: comparisonFigure(s.results, s.comparison, comparisonTitle(s, si)), studyIndex: si, resultIndex: null, measure: null }]
      : []),
    ...s.plots.map((p) => ({
      file: p.file,
      specFile: p.spec,
      spec: rateFigure(s.results[p.resultIndex], s.results[p.resultIndex].fits[p.fitIndex]),
      studyIndex: si,
      resultIndex: p.resultIndex,
      measure: p.measure,
    })),
  ]);
}
