import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { assertValid } from '../io/schema.ts';
import { ParameterError } from '../util/errors.ts';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import { reportFigures, reportJson, type Report } from './model.ts';
import { renderVegaLite } from './svg.ts';

/**
 * Rendering a report into its files, and replacing a report directory so that an interrupted run never leaves a half
 * report: every file is written (atomically, fsynced) into a staging directory beside the target, then the old
 * directory is renamed aside, the staging one renamed into place, and the old one removed. Between the two renames the
 * target is briefly absent but the previous report is whole under `tmp-<name>-<pid>-<time>-old`; the next run (or
 * recoverReportDir) renames it back before doing anything else. Staging names start with `tmp-` so that
 * `.gitignore`'s `reports/tmp-*` keeps them out of git.
 */

/** Every file of the report, path relative to the report directory -> content: report.json, report.md, report.html,
 * and per figure its SVG and Vega-Lite spec (plots/). report.json is schema-checked first: a report that does not
 * match schemas/report.schema.json is a bug and is never written. */
export async function renderReportFiles(report: Report): Promise<Map<string, string>> {
  const json = reportJson(report);
  assertValid('report', JSON.parse(json), 'the report (report.json)');
  assertValid('report-config', report.config, 'the report\'s configuration');
  const files = new Map<string, string>();
  const svgs = new Map<string, string>();
  const specs = new Map<string, string>();
  for (const f of reportFigures(report)) {
    svgs.set(f.file, await renderVegaLite(f.spec, f.file.replace(/^plots\//, '').replace(/\.svg$/, '')));
    specs.set(f.specFile, `${JSON.stringify(f.spec, null, 2)}\n`);
  }
  files.set('report.json', json);
  files.set('report.md', renderMarkdown(report));
  files.set('report.html', renderHtml(report, (f) => svgs.get(f)!));
  for (const [f, s] of svgs) files.set(f, s);
  for (const [f, s] of specs) files.set(f, s);
  return files;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Directories cannot be fsynced on every platform; the renames are still atomic.
  }
}

const STAGE = /^tmp-(.+)-(\d+)-(\d+)-(new|old)$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Undo what an interrupted writeReportDir left behind for `out`: if the report directory is missing and a set-aside
 * old one exists, rename the newest back; remove staging and set-aside directories of processes that are gone.
 * Returns what it did, for the caller to mention.
 */
export function recoverReportDir(out: string): string[] {
  const target = resolve(out);
  const parent = dirname(target);
  const name = basename(target);
  if (!existsSync(parent)) return [];
  const mine = readdirSync(parent)
    .map((f) => ({ f, m: STAGE.exec(f) }))
    .filter((x) => x.m && x.m[1] === name && !alive(Number(x.m[2])))
    .map((x) => ({ path: join(parent, x.f), time: Number(x.m![3]), kind: x.m![4] }));
  const done: string[] = [];
  if (!existsSync(target)) {
    const old = mine.filter((x) => x.kind === 'old').sort((a, b) => b.time - a.time)[0];
    if (old) {
      renameSync(old.path, target);
      done.push(`restored the previous report from ${old.path} (an earlier run was interrupted while replacing it)`);
    }
  }
  for (const x of mine) {
    if (existsSync(x.path)) {
      rmSync(x.path, { recursive: true, force: true });
      done.push(`removed ${x.path} left by an interrupted run`);
    }
  }
  return done;
}

/** A directory we may replace: absent, empty, or holding a report (report.json). Anything else is refused, so a
 * mistyped --out cannot move a source tree aside and delete it. */
function replaceable(target: string): boolean {
  if (!existsSync(target)) return true;
  const entries = readdirSync(target);
  return entries.length === 0 || entries.includes('report.json');
}

/** Write `files` as the report directory `out`, replacing any previous report there as described above. */
export function writeReportDir(out: string, files: Map<string, string>): string[] {
  const target = resolve(out);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const notes = recoverReportDir(target);
  if (!replaceable(target)) {
    throw new ParameterError(`refusing to replace ${target}: it exists and is not a report directory (no report.json)`);
  }
  const stamp = `${process.pid}-${Date.now()}`;
  const stage = join(parent, `tmp-${basename(target)}-${stamp}-new`);
  const old = join(parent, `tmp-${basename(target)}-${stamp}-old`);
  try {
    for (const [rel, text] of files) writeFileAtomic(join(stage, rel), text);
    for (const d of new Set([...files.keys()].map((rel) => dirname(join(stage, rel))))) fsyncDir(d);
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  const hadOld = existsSync(target);
  if (hadOld) renameSync(target, old);
  try {
    renameSync(stage, target);
  } catch (e) {
    if (hadOld) renameSync(old, target);
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return notes;
}
