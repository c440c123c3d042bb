import { join, resolve } from 'node:path';
import { compareRecords, DEFAULT_THRESHOLD, formatComparison } from '../../bench/compare.ts';
import { appendRecord, readHistory, selectBaseline, type BenchRecord } from '../../bench/history.ts';
import { writeBenchPage } from '../../bench/page.ts';
import { runBenchmarks } from '../../bench/runner.ts';
import { ParameterError } from '../../util/errors.ts';
import { flagBool, flagNumber, flagString, parseArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `mlip-verify bench`: run the benchmark suites, append a record to reports/bench/history.jsonl, compare with the
 * previous record of the same mode (or --baseline), and redraw reports/bench/README.md with its plots. Only --ci turns
 * a regression into a non-zero exit status: timings on a shared machine are evidence, not a verdict, unless asked.
 */
const USAGE = [
  'mlip-verify bench [--quick] [--filter <substring>] [--compare] [--baseline <index|commit>] [--threshold 0.1] [--ci]',
  '                  [--no-record] [--last] [--dir reports/bench] [--time ms]',
  '  --quick       small sizes (CI smoke run); compared only with earlier quick runs',
  '  --filter s    run only benchmarks whose "suite/task" contains s (case-insensitive; "kernels/..." skips other suites\' setup)',
  '  --compare     require a comparison (error when the history has no baseline); without it, compare when one exists',
  '  --baseline b  history record index (0 = first, -1 = latest before this run) or commit hash prefix',
  `  --threshold t regression when the median is slower by more than t (fraction, default ${DEFAULT_THRESHOLD}) AND above the baseline's max`,
  '  --ci          exit status 1 on a regression',
  '  --no-record   do not append to the history (and leave the page alone)',
  '  --last        do not run: compare the latest record with its baseline and redraw the page',
].join('\n');

export const command: Command = {
  name: 'bench',
  summary: 'run the benchmark suites, record history, flag regressions',
  usage: USAGE,
  async run(argv) {
    const a = parseArgs(argv);
    const known = new Set(['quick', 'filter', 'compare', 'baseline', 'threshold', 'ci', 'no-record', 'last', 'dir', 'time']);
    for (const k of a.flags.keys()) if (!known.has(k)) throw new ParameterError(`unknown option --${k}\n${USAGE}`);
    if (a.positional.length > 0) throw new ParameterError(`unexpected argument '${a.positional[0]}'\n${USAGE}`);
    const quick = flagBool(a, 'quick');
    const filter = flagString(a, 'filter');
    const threshold = flagNumber(a, 'threshold', DEFAULT_THRESHOLD)!;
    if (!(threshold >= 0)) throw new ParameterError(`--threshold must be >= 0, got ${threshold}`);
    const timeMs = flagNumber(a, 'time');
    const dir = resolve(flagString(a, 'dir', join(process.cwd(), 'reports', 'bench'))!);
    const historyPath = join(dir, 'history.jsonl');
    const ci = flagBool(a, 'ci');
    const record = !flagBool(a, 'no-record');
    const history = readHistory(historyPath);

    let cur: BenchRecord;
    let earlier: BenchRecord[];
    if (flagBool(a, 'last')) {
      if (history.length === 0) throw new ParameterError(`--last: ${historyPath} has no records`);
      cur = history[history.length - 1];
      earlier = history.slice(0, -1);
    } else {
      cur = await runBenchmarks({ quick, filter, timeMs });
      earlier = history;
      if (record) {
        appendRecord(historyPath, cur);
        console.log(`recorded in ${historyPath}`);
      }
    }
    const base = selectBaseline(earlier, cur.quick, flagString(a, 'baseline'));
    let status = 0;
    if (!base) {
      if (flagBool(a, 'compare')) throw new ParameterError(`--compare: no earlier ${cur.quick ? 'quick' : 'full'} record in ${historyPath} to compare with`);
      console.log(`no earlier ${cur.quick ? 'quick' : 'full'} record: nothing to compare with (this run is the first baseline)`);
    } else {
      const c = compareRecords(base, cur, threshold);
      console.log(formatComparison(c));
      if (ci && c.regressions > 0) status = 1;
    }
    if (flagBool(a, 'last')) console.log(`page: ${writeBenchPage(dir, history)}`);
    else if (record) console.log(`page: ${writeBenchPage(dir, [...earlier, cur])}`);
    return status;
  },
};
