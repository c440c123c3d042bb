/**
 * The report as a reader sees it: report.html opened in a real headless Chromium (the system one, driven by
 * puppeteer-core; scripts/install-chromium.sh installs Debian's package). The report is the default one: the
 * committed reports/example/report.json (the studies' results of `npm run report`) rendered by the current code into
 * a temporary directory. Asserted in the browser: every figure renders with a non-zero size; within each figure no
 * two visible text boxes overlap (tick labels, axis titles, legends, titles: getBoundingClientRect of every <text>
 * with the fonts Chromium really uses, not Vega's estimate); every axis has at least two labels; the page logs no
 * console error and throws nothing; and the summary table's verdicts, counted in the page, match report.json's counts
 * (there, and in a generated report that carries more of the verdict words).
 * Skipped, with the reason in the test's name, where no Chromium is installed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport, reportFigures, type Report } from '../src/report/model.ts';
import { renderReportFiles, writeReportDir } from '../src/report/write.ts';
import { reportArb } from './report-arbitraries.ts';

const CANDIDATES = [process.env.MLIP_VERIFY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const chromium = CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
const FIXTURE = new URL('../reports/example/report.json', import.meta.url);
const why = chromium ? '' : ` (skipped: no Chromium at ${CANDIDATES.filter(Boolean).join(', ')}; run scripts/install-chromium.sh or set MLIP_VERIFY_CHROMIUM)`;

/** The committed default report rebuilt by the current code (figures, counts and summary are derived again). */
function defaultReport(): Report {
  const old = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  return buildReport({
    title: old.title,
    mode: old.mode,
    config: old.config,
    provenance: old.provenance,
    createdAt: old.createdAt,
    argv: old.provenance.argv,
    totalWallTimeSeconds: old.provenance.totalWallTimeSeconds,
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    studies: old.studies.map(({ plots, comparison, ...s }: Record<string, unknown>) => s),
  });
}

const dir = mkdtempSync(join(tmpdir(), 'mlip-verify-browser-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Box {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

describe('report.html in Chromium', () => {
  it.skipIf(!chromium)(`the default report's figures render, no labels overlap, no console errors, summary counts match report.json${why}`, async () => {
    const report = defaultReport();
    const files = await renderReportFiles(report);
    const out = join(dir, 'report');
    writeReportDir(out, files);
    const json = JSON.parse(files.get('report.json')!) as Report;
    const figures = reportFigures(report);
    expect(figures.some((f) => f.resultIndex === null), 'the default report has a comparison figure').toBe(true);

    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`page: ${(e as Error).message}`));
      page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });

      const measured = await page.evaluate(() => {
        const visible = (el: Element) => {
          for (let e: Element | null = el; e && e.tagName.toLowerCase() !== 'svg'; e = e.parentElement) {
            const cs = getComputedStyle(e);
            if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0 || Number(cs.fillOpacity) === 0) return false;
          }
          return (el.textContent ?? '').trim() !== '';
        };
        return [...document.querySelectorAll('.figure > svg')].map((svg) => {
          const r = svg.getBoundingClientRect();
          const texts = [...svg.querySelectorAll('text')].filter(visible).map((t) => {
            const b = t.getBoundingClientRect();
            return { text: t.textContent ?? '', x: b.x, y: b.y, w: b.width, h: b.height };
          });
          // Vega-Lite draws the grid as a separate axis without labels: count the labels of the axes that have them.
          const axes = [...svg.querySelectorAll('g.role-axis')]
            .filter((a) => a.querySelector('g.role-axis-label'))
            .map((a) => [...a.querySelectorAll('g.role-axis-label text')].filter(visible).length);
          return { width: r.width, height: r.height, texts, axes, title: svg.querySelector('g.role-title text')?.textContent ?? '' };
        });
      });
      const verdicts = await page.$$eval('#summary tbody tr td:last-child', (tds) => tds.map((td) => (td.textContent ?? '').trim()));
      const status = await page.$eval('p.status', (p) => p.textContent ?? '');

      expect(measured).toHaveLength(figures.length);
      measured.forEach((m, k) => {
        const name = `${figures[k].file} (${m.title})`;
        expect(m.width, name).toBeGreaterThan(100);
        expect(m.height, name).toBeGreaterThan(100);
        expect(m.texts.length, name).toBeGreaterThan(5);
        expect(m.axes.length, `${name}: labelled axes`).toBeGreaterThanOrEqual(2);
        for (const n of m.axes) expect(n, `${name}: labels on an axis`).toBeGreaterThanOrEqual(2);
        // No two visible text boxes of one figure intersect (by more than half a pixel, for antialiasing).
        const overlaps: string[] = [];
        const t: Box[] = m.texts.filter((b) => b.w > 0 && b.h > 0);
        for (let i = 0; i < t.length; i++) {
          for (let j = i + 1; j < t.length; j++) {
            const ox = Math.min(t[i].x + t[i].w, t[j].x + t[j].w) - Math.max(t[i].x, t[j].x);
            const oy = Math.min(t[i].y + t[i].h, t[j].y + t[j].h) - Math.max(t[i].y, t[j].y);
            if (ox > 0.5 && oy > 0.5) overlaps.push(`'${t[i].text}' and '${t[j].text}' (${ox.toFixed(1)} x ${oy.toFixed(1)} px)`);
          }
        }
        expect(overlaps, name).toEqual([]);
      });
      const counted: Record<string, number> = {};
      for (const v of verdicts) counted[v] = (counted[v] ?? 0) + 1;
      expect(verdicts).toHaveLength(json.summary.length);
      for (const [v, n] of Object.entries(json.counts)) expect(counted[v] ?? 0, `verdict '${v}'`).toBe(n);
      for (const [v, n] of Object.entries(json.counts)) if (v !== 'error' || n > 0) expect(status).toContain(`${n} ${v}`);
      expect(errors).toEqual([]);

      // A generated report with more verdict words (observed, not observed, assumption fails, errors, ...): the page
      // counts each under its own name, as report.json does. Its labels are random text, so only sizes are checked.
      const synthetic = fc.sample(reportArb, { seed: 68, numRuns: 40 }).find((r) => Object.values(r.counts).filter((n) => n > 0).length >= 4)!;
      expect(synthetic, 'a generated report with four verdict words').toBeDefined();
      const out2 = join(dir, 'synthetic');
      const files2 = await renderReportFiles(synthetic);
      writeReportDir(out2, files2);
      await page.goto(pathToFileURL(join(out2, 'report.html')).href, { waitUntil: 'load' });
      const sizes = await page.$$eval('.figure > svg', (svgs) => svgs.map((s) => s.getBoundingClientRect()).map((r) => [r.width, r.height]));
      expect(sizes).toHaveLength(reportFigures(synthetic).length);
      for (const [w, h] of sizes) expect(Math.min(w, h)).toBeGreaterThan(50);
      const verdicts2 = await page.$$eval('#summary tbody tr td:last-child', (tds) => tds.map((td) => (td.textContent ?? '').trim()));
      const json2 = JSON.parse(files2.get('report.json')!) as Report;
      for (const [v, n] of Object.entries(json2.counts)) expect(verdicts2.filter((x) => x === v), `verdict '${v}'`).toHaveLength(n);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
