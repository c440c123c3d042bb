import type { StudyResult } from '../convergence/types.ts';
import { assumptionCell, assumptionLines, fmtBand, fmtCell, fmtNum, fmtObserved, fmtPredicted, fmtRange, hasAssumptions, infoColumns, measuresOf } from './format.ts';
import { countsLine, predictedCell } from './markdown.ts';
import type { Report } from './model.ts';
import { escapeXml as esc } from './svg.ts';

/**
 * report.html: one self-contained file (inline CSS and SVG, no scripts, no network) with everything report.md has
 * plus the wall times, creation time and command line, for reading in a browser or attaching to a CI run.
 */

const CSS = `body{font-family:system-ui,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#1b5e20}.fail,.error{color:#b00020;font-weight:bold}
.observed{color:#1b5e20;font-style:italic}.not-observed,.at-floor{color:#8d6e00;font-style:italic}.assumption-fails{color:#6a1b9a;font-style:italic}
.scroll{overflow-x:auto}.plots{display:flex;flex-wrap:wrap;gap:8px}.figure{border:1px solid #ddd;max-width:100%;overflow-x:auto}.figure svg{display:block}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}.status{font-size:18px}`;

function v(verdict: string): string {
  return `<span class="${verdict.replace(/ /g, '-')}">${esc(verdict)}</span>`;
}

function table(head: string[], rows: string[][], numeric: boolean[] = [], id?: string): string {
  return `<table${id ? ` id="${id}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function resultHtml(r: StudyResult, svgs: string[], heading: string): string {
  const o: string[] = [];
  o.push(`<h3>${esc(heading)}</h3>`);
  o.push(`<p>Dimension ${r.dimension}; abscissa: ${esc(r.xLabel)}. Verdict: ${v(r.verdict)}. Wall time ${r.wallTimeSeconds.toFixed(1)} s.</p>`);
  const measures = measuresOf(r);
  const info = infoColumns(r, true);
  const withA = hasAssumptions(r);
  o.push('<div class="scroll">' + table([r.xLabel, ...measures.map((m) => `${m} error`), ...(withA ? ['assumption'] : []), ...info], r.points.map((p) => [fmtNum(p.x), ...measures.map((m) => fmtNum(p.errors[m])), ...(withA ? [esc(assumptionCell(p.assumption))] : []), ...info.map((k) => esc(fmtCell(p.info?.[k])))].map(String)),
    [true, ...measures.map(() => true)]) + '</div>');
  const fails = assumptionLines(r);
  if (fails.length) o.push(`<p>Where the theory's assumption fails (left out of every fit; not evidence for or against the prediction):</p><ul>${fails.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`);
  o.push(table(
    ['measure', 'predicted', 'observed slope', '95% band', 'fitted x range', 'points used', 'dropped', 'verdict', 'explanation'],
    r.fits.map((f) => [
      esc(f.measure), esc(fmtPredicted(f)), fmtObserved(f.slope, f.stderr), fmtBand(f.ci95), esc(fmtRange(f.range)), String(f.pointsUsed),
      esc(f.dropped.map((d) => `#${d.index}: ${d.reason}`).join('; ') || '–'), v(f.verdict), esc(f.explanation),
    ]),
  ));
  o.push(`<div class="plots">${svgs.map((s) => `<div class="figure">${s}</div>`).join('\n')}</div>`);
  if (r.floor && Object.keys(r.floor).length) {
    o.push(`<p>Fit-accuracy floor: ${esc(Object.entries(r.floor).map(([m, x]) => `${m} ${fmtNum(x)}`).join(', '))} (red dotted line and band in the figures).</p>`);
  }
  o.push(`<p>Drop rule: ${esc(r.dropRule)}</p>`);
  if (r.notes?.length) o.push(`<ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  o.push(`<p>Seeds: ${esc(r.seeds.join(', ') || 'none')}.</p>`);
  o.push(`<details><summary>Settings</summary><pre>${esc(JSON.stringify(r.settings, null, 2))}</pre></details>`);
  return o.join('\n');
}

/** `svgOf(file)` returns the SVG text of a plot file named in the report (they are inlined). */
export function renderHtml(report: Report, svgOf: (file: string) => string): string {
  const p = report.provenance;
  const o: string[] = [];
  o.push('<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8"/>', `<title>${esc(report.title)}</title>`, `<style>${CSS}</style></head><body>`);
  o.push(`<h1>${esc(report.title)}</h1>`);
  o.push(`<p class="status">Status: ${v(report.status)} (exit status ${report.exitCode}): ${esc(countsLine(report))}. Mode ${esc(report.mode)}.</p>`);
  o.push(`<p>Created ${esc(report.createdAt)}; total wall time ${p.totalWallTimeSeconds.toFixed(1)} s.</p>`);
  o.push('<h2>Summary</h2>');
  o.push(table(
    ['#', 'study', 'label', 'measure', 'predicted slope', 'observed slope', 'verdict'],
    report.summary.map((row) => [
      String(row.studyIndex + 1), esc(row.study), esc(row.label), esc(row.measure), esc(predictedCell(row, report)), fmtObserved(row.observed, row.stderr), v(row.verdict),
    ]),
    [], 'summary',
  ));
  report.studies.forEach((s, si) => {
    o.push(`<h2>${si + 1}. ${esc(s.study)} (${esc(s.predictions)})${s.comment ? `: ${esc(s.comment)}` : ''}</h2>`);
    o.push(`<p>Configuration entry /studies/${s.configIndex}; wall time ${s.wallTimeSeconds.toFixed(1)} s; options:</p><pre>${esc(JSON.stringify(s.options))}</pre>`);
    if (s.error) {
      o.push(`<p class="error">ERROR: the study did not finish: ${esc(s.error.name)}: ${esc(s.error.message)}</p>`);
      return;
    }
    if (s.comparison) {
      o.push(`<p>Every result of this study in one figure (${esc(s.comparison.series.join(', '))}); Vega-Lite spec beside it: ${esc(s.comparison.spec)}.</p>`);
      o.push(`<div class="plots comparison"><div class="figure">${svgOf(s.comparison.file)}</div></div>`);
    }
    s.results.forEach((r, ri) => {
      const svgs = s.plots.filter((x) => x.resultIndex === ri).map((x) => svgOf(x.file));
      o.push(resultHtml(r, svgs, `${si + 1}.${ri + 1} ${r.label}`));
    });
  });
  o.push('<h2>Provenance</h2><ul>');
  o.push(`<li>${esc(p.packageName)} ${esc(p.packageVersion)}, git commit ${esc(p.gitCommit ?? 'none')}${p.gitDirty ? ' (with uncommitted changes)' : ''}</li>`);
  o.push(`<li>Node ${esc(p.node)} on ${esc(p.platform)} ${esc(p.arch)}; ${esc(p.cpuModel)}, ${p.cpuCores} cores, ${p.memoryGiB} GiB</li>`);
  o.push(`<li>command: mlip-verify ${esc(p.argv.join(' '))}</li></ul>`);
  o.push(`<details open=""><summary>Configuration (mode ${esc(report.mode)})</summary><pre>${esc(JSON.stringify(report.config, null, 2))}</pre></details>`);
  o.push('</body></html>', '');
  return o.join('\n');
}
