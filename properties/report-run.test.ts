/**
 * End to end on a known small configuration (a P1 vacancy study with sizes 3-5 and a reference ball of 24: seconds):
 * two runs render to the same Markdown (wall times, the creation time and the command line are kept out of report.md
 * and only those differ in report.json), the files written validate, and the CLI's exit status follows the verdicts
 * (0 pass, 1 fail, 2 invalid configuration with nothing run or written). Report directories are replaced atomically:
 * a failed write leaves the previous report byte for byte, an interrupted swap is undone by the next run, and a
 * directory that is not a report is never replaced.
 */
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { command } from '../src/cli/commands/report.ts';
import { schemaErrors } from '../src/io/schema.ts';
import { resolveConfig } from '../src/report/config.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { reportJson } from '../src/report/model.ts';
import { Progress } from '../src/report/progress.ts';
import { runReport, shortComment } from '../src/report/run.ts';
import { recoverReportDir, renderReportFiles, writeReportDir } from '../src/report/write.ts';
import { ParameterError } from '../src/util/errors.ts';
import { reportArb } from './report-arbitraries.ts';

const TINY = { title: 'tiny', studies: [{ study: 'domain', options: { sizes: [3, 4, 5], refSize: 24, checkRefSize: 12, preAsymptoticRadius: 0 } }] };
// Same study with a reference ball too small for its own truncation check: the study fails outside its rates.
const TINY_FAIL = { title: 'tiny, failing', studies: [{ study: 'domain', options: { sizes: [3, 4, 5], refSize: 10, preAsymptoticRadius: 0 } }] };

const dir = mkdtempSync(join(tmpdir(), 'mlip-verify-report-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    for (const f of readdirSync(p, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(p, f.name), `${rel}${f.name}/`);
      else out[`${rel}${f.name}`] = readFileSync(join(p, f.name), 'utf8');
    }
  };
  walk(d, '');
  return out;
}

/** The pid of a process that has exited (a run that was killed). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('report end to end', () => {
  it('a small configuration renders to the same Markdown twice; only timings differ in the JSON', async () => {
    const cfg = await resolveConfig(TINY, 'tiny');
    const a = await runReport(cfg);
    const b = await runReport(cfg);
    expect(renderMarkdown(a)).toBe(renderMarkdown(b));
    expect(a.status).toBe('pass');
    expect(schemaErrors('report', JSON.parse(reportJson(a)))).toEqual([]);
    const strip = (r: typeof a) =>
      JSON.parse(reportJson(r), (k, v) => (/wallTime|Seconds$|createdAt/.test(k) ? undefined : v));
    expect(strip(a)).toEqual(strip(b));
    // and the timings really are in the JSON (isolated, not dropped)
    expect(a.studies[0].results[0].wallTimeSeconds).toBeGreaterThan(0);
    expect(renderMarkdown(a)).not.toContain(a.createdAt);
  });

  it('the CLI writes schema-valid files and JUnit, with the exit status of the verdicts', async () => {
    const cfgFile = join(dir, 'fail.json');
    writeFileSync(cfgFile, JSON.stringify(TINY_FAIL));
    const out = join(dir, 'cli');
    const junit = join(dir, 'junit.xml');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const code = await command.run(['--config', cfgFile, '--out', out, '--junit', junit, '--ci', '--quiet']);
    const printed = log.mock.calls.map((c) => String(c[0])).join('\n').split('\n');
    log.mockRestore();
    expect(code).toBe(1);
    // --ci: one line per summary row (FAIL first for failures) and a final status line
    expect(printed).toHaveLength(5);
    expect(printed[3]).toMatch(/^FAIL domain \| .* \| study checks \| /);
    expect(printed[4]).toMatch(/^mlip-verify report: FAIL \(4 rows: 3 pass, 1 fail, 0 observed, 0 not observed, 0 at floor, 0 assumption fails\)/);
    const files = snapshot(out);
    expect(Object.keys(files).sort()).toEqual(
      ['report.html', 'report.json', 'report.md', ...['energyNorm', 'maxNorm', 'formationEnergy'].flatMap((m, i) => [`plots/s1-r1-f${i + 1}-${m}.svg`, `plots/s1-r1-f${i + 1}-${m}.vl.json`])].sort(),
    );
    const json = JSON.parse(files['report.json']);
    expect(schemaErrors('report', json)).toEqual([]);
    expect(json.exitCode).toBe(1);
    expect(json.summary.some((r: { measure: string; verdict: string }) => r.measure === 'study checks' && r.verdict === 'fail')).toBe(true);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<failure');
    for (const f of Object.keys(files).filter((f) => f.endsWith('.svg'))) expect(files['report.html']).toContain(files[f].trim());
  });

  it('an invalid configuration exits 2 before running anything and writes nothing', async () => {
    const cfgFile = join(dir, 'bad.json');
    writeFileSync(cfgFile, JSON.stringify({ studies: [{ study: 'domain', options: { sizes: [8, 11, -16] } }] }));
    const out = join(dir, 'never');
    expect(await command.run(['--config', cfgFile, '--out', out])).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(await command.run(['--quick', '--thorough', '--out', out])).toBe(2);
    expect(await command.run(['--outt', out])).toBe(2);
    expect(await command.run(['--id', '../escape'])).toBe(2);
    expect(await command.run(['--id', 'x', '--out', out])).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('a failed write keeps the previous report; an interrupted swap is undone; other directories are refused', async () => {
    // the directory handling does not depend on the study: a synthetic report keeps this test fast
    const [report] = fc.sample(reportArb, { seed: 67, numRuns: 1 });
    const files = await renderReportFiles(report);
    const out = join(dir, 'atomic', 'latest');
    writeReportDir(out, files);
    const before = snapshot(out);
    expect(before['report.md']).toBe(files.get('report.md'));

    // a write that fails half way (a file where a directory must go) leaves the old report and no staging dir
    const broken = new Map(files);
    broken.set('report.md', 'new text');
    broken.set('zz', 'a file ...');
    broken.set('zz/inner.svg', '... where a directory must go');
    expect(() => writeReportDir(out, broken)).toThrow();
    expect(snapshot(out)).toEqual(before);
    expect(readdirSync(join(dir, 'atomic'))).toEqual(['latest']);

    // a run killed between its two renames: the report is set aside under tmp-*-old; the next run restores it
    const aside = join(dir, 'atomic', `tmp-latest-${deadPid()}-1-old`);
    renameSync(out, aside);
    mkdirSync(join(dir, 'atomic', `tmp-latest-${deadPid()}-2-new`));
    const notes = recoverReportDir(out);
    expect(notes.some((n) => n.startsWith('restored'))).toBe(true);
    expect(snapshot(out)).toEqual(before);
    expect(readdirSync(join(dir, 'atomic'))).toEqual(['latest']);

    // a directory that is not a report is never moved aside
    const src = join(dir, 'atomic', 'not-a-report');
    mkdirSync(src);
    writeFileSync(join(src, 'keep.txt'), 'keep');
    expect(() => writeReportDir(src, files)).toThrow(ParameterError);
    expect(snapshot(src)).toEqual({ 'keep.txt': 'keep' });

    // and a successful replacement swaps in the new files completely
    const changed = new Map(files);
    changed.set('report.md', 'replaced\n');
    writeReportDir(out, changed);
    expect(snapshot(out)['report.md']).toBe('replaced\n');
    expect(readdirSync(join(dir, 'atomic')).sort()).toEqual(['latest', 'not-a-report']);
  });

  it('progress: a status line on a terminal; off it a line per finished study, and per point past a minute; --quiet silences it', () => {
    let written: string[] = [];
    const fake = (isTTY: boolean) => ({ isTTY, columns: 200, write: (t: string) => written.push(t) }) as unknown as NodeJS.WriteStream;
    let t = 0;
    const now = () => t;
    const quiet = new Progress(fake(false), false, { now });
    quiet.study(1, 2, 'domain');
    t = 120_000;
    quiet.message('ball R = 8: 720 atoms');
    quiet.finished('pass');
    quiet.done();
    expect(written).toEqual([]);

    const tty = new Progress(fake(true), undefined, { now });
    tty.study(2, 3, 'domain (vacancy)');
    tty.message('ball R = 8: 720 atoms');
    tty.finished('pass');
    expect(written.join('')).toMatch(/\[\d+\.\ds\] study 2\/3 domain \(vacancy\) \(\d+\.\ds\) ball R = 8: 720 atoms/);
    expect(written.at(-1)).toMatch(/study 2\/3 domain \(vacancy\): pass in \d+\.\ds\n$/);

    // off a terminal: no escape codes; a short study gives one line; a long one a line per point after its first minute
    written = [];
    t = 0;
    const log = new Progress(fake(false), undefined, { now });
    log.study(1, 2, 'domain');
    t = 5_000;
    log.message('ball R = 8');
    log.finished('pass');
    log.study(2, 2, 'training-size');
    t = 30_000;
    log.message('E: R_dom = 7');
    t = 70_000;
    log.message('E: R_dom = 8');
    t = 95_000;
    log.message('E+F: R_dom = 7');
    log.finished('observed, pass');
    log.done();
    expect(written.join('')).not.toContain('\x1b');
    expect(written).toEqual([
      'mlip-verify report: [5.0s] study 1/2 domain: pass in 5.0s\n',
      'mlip-verify report: [70.0s] study 2/2 training-size (65.0s): E: R_dom = 8\n',
      'mlip-verify report: [95.0s] study 2/2 training-size (90.0s): E+F: R_dom = 7\n',
      'mlip-verify report: [95.0s] study 2/2 training-size: observed, pass in 90.0s\n',
    ]);
  });
});

describe('progress label of a commented study', () => {
  it('is the comment when short, else a prefix of its normalised text cut at a word, at most 60 characters plus "..."', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-zA-Z0-9(),:;.-]{1,14}$/), { maxLength: 30 }), fc.constantFrom(' ', '  ', '\n'), (words, sep) => {
        const c = words.join(sep);
        const norm = c.replace(/\s+/g, ' ').trim();
        const s = shortComment(c);
        if (norm.length <= 60) expect(s).toBe(norm);
        else {
          expect(s.endsWith('...')).toBe(true);
          expect(s.length).toBeLessThanOrEqual(63);
          expect(norm.startsWith(s.slice(0, -3))).toBe(true);
        }
      }),
      { seed: 1202, numRuns: 200 },
    );
  });
});
