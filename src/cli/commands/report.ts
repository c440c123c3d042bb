import { relative, resolve } from 'node:path';
import type { StudyMode } from '../../convergence/registry.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { readConfig, resolveConfig } from '../../report/config.ts';
import { ciSummary, consoleSummary } from '../../report/console.ts';
import { renderJunit } from '../../report/junit.ts';
import { Progress } from '../../report/progress.ts';
import { defaultJobs } from '../../report/pool.ts';
import { runReport } from '../../report/run.ts';
import { renderReportFiles, writeReportDir } from '../../report/write.ts';
import { MlipVerifyError, ParameterError } from '../../util/errors.ts';
import { flagBool, flagString, parseArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `mlip-verify report`: the main job. Validates the configuration completely, runs its studies, and writes
 * report.json / report.md / report.html (+ plots/) into the report directory, replacing the previous report only once
 * the new one is complete. Exit status: 0 when no prediction failed, 1 when one did (or a study could not run),
 * 2 for a usage or configuration error (nothing is run then).
 */
const FLAGS = new Set(['config', 'out', 'id', 'quick', 'thorough', 'ci', 'junit', 'quiet', 'jobs']);

export const command: Command = {
  name: 'report',
  summary: 'Run the convergence studies of a configuration and write report.json, report.md and report.html',
  usage: [
    'mlip-verify report [--config file.json] [--out dir | --id name] [--quick | --thorough] [--jobs n] [--ci] [--junit path] [--quiet]',
    '  --config   report configuration (schemas/report-config.schema.json); default src/report/default-config.json',
    '  --out      report directory (default reports/latest); replaced only when the new report is complete',
    '  --id       shorthand for --out reports/<name>',
    '  --quick    CI-sized study presets; --thorough: larger ones (default: the configuration\'s mode, else default)',
    '  --jobs     worker threads for the studies and their independent points (default: min(2, cores)); 1 runs',
    '             everything in one thread. The report is the same apart from its times',
    '  --ci       print one line per rate and a final status line (for CI logs)',
    '  --junit    also write JUnit XML to this path',
    '  --quiet    no progress on stderr (default: a status line on a terminal; elsewhere a line per finished study,',
    '             and per point once a study has run for a minute)',
    'Exit status: 0 all predictions hold (observed / not observed / at floor / assumption fails are not failures),',
    '1 a prediction failed or a study could not run, 2 invalid arguments or configuration (nothing is run).',
  ].join('\n'),
  async run(argv: string[]): Promise<number> {
    let mode: StudyMode | undefined;
    let outDir: string;
    let junit: string | undefined;
    let ci: boolean;
    let quiet: boolean;
    let jobs: number;
    let cfg;
    try {
      const p = parseArgs(argv);
      const unknown = [...p.flags.keys()].filter((k) => !FLAGS.has(k));
      if (unknown.length || p.positional.length) {
        throw new ParameterError(`unknown argument(s): ${[...unknown.map((k) => `--${k}`), ...p.positional].join(' ')}; valid: ${[...FLAGS].map((f) => `--${f}`).join(' ')}`);
      }
      for (const b of ['quick', 'thorough', 'ci', 'quiet']) {
        const v = p.flags.get(b);
        if (v !== undefined && v !== true && v !== 'true') throw new ParameterError(`--${b} takes no value (got '${v}')`);
      }
      if (flagBool(p, 'quick') && flagBool(p, 'thorough')) throw new ParameterError('--quick and --thorough exclude each other');
      mode = flagBool(p, 'quick') ? 'quick' : flagBool(p, 'thorough') ? 'thorough' : undefined;
      ci = flagBool(p, 'ci');
      quiet = flagBool(p, 'quiet');
      const id = flagString(p, 'id');
      if (id !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new ParameterError(`--id '${id}' must be a plain name (letters, digits, . _ -)`);
      if (id !== undefined && p.flags.has('out')) throw new ParameterError('--out and --id exclude each other');
      outDir = flagString(p, 'out', `reports/${id ?? 'latest'}`)!;
      junit = flagString(p, 'junit');
      const j = flagString(p, 'jobs');
      jobs = j === undefined ? defaultJobs() : Number(j);
      if (j !== undefined && !(/^[0-9]+$/.test(j) && jobs >= 1 && jobs <= 64)) throw new ParameterError(`--jobs '${j}' must be an integer from 1 to 64`);
      const configPath = flagString(p, 'config');
      const { data, file } = readConfig(configPath);
      cfg = await resolveConfig(data, file, mode);
    } catch (e) {
      if (!(e instanceof MlipVerifyError)) throw e;
      console.error(`mlip-verify report: ${e.name}: ${e.message}`);
      return 2;
    }
    const progress = new Progress(process.stderr, quiet ? false : undefined);
    const report = await runReport(cfg, { argv: ['report', ...argv], progress, jobs });
    const rel = relative(process.cwd(), resolve(outDir));
    const shown = rel === '' ? '.' : rel.startsWith('..') ? resolve(outDir) : rel;
    for (const note of writeReportDir(outDir, await renderReportFiles(report))) console.error(`mlip-verify report: ${note}`);
    if (junit) writeFileAtomic(junit, renderJunit(report));
    console.log(ci ? ciSummary(report, shown) : consoleSummary(report, shown));
    return report.exitCode;
  },
};

export default command;
