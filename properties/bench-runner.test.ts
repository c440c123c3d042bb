import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { validateRecord } from '../src/bench/history.ts';
import { runBenchmarks } from '../src/bench/runner.ts';
import { ParameterError } from '../src/util/errors.ts';

/**
 * The runner on a tiny synthetic suite (no real benchmark runs inside npm test): every task ends up timed or recorded
 * with its error, the record passes the history schema, throughput is count / median, and the filter selects by
 * "suite/task". Nothing here asserts a time.
 */
const dir = mkdtempSync(join(tmpdir(), 'bench-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'tiny.bench.ts');
writeFileSync(
  file,
  [
    "export const suite = {",
    "  name: 'tiny',",
    "  iterations: 3,",
    "  setup: ({ quick }: { quick: boolean }) => [",
    "    { name: `sum ${quick ? 'quick' : 'full'}`, fn: () => { let s = 0; for (let i = 0; i < 1000; i++) s += i; return s; }, throughput: { unit: 'atoms', count: 1000 }, info: () => ({ n: 1000 }) },",
    "    { name: 'throws', fn: () => { throw new Error('kaput'); } },",
    "  ],",
    "};",
    '',
  ].join('\n'),
);

test('every task is timed or carries its error; the record is schema-valid', async () => {
  const rec = await runBenchmarks({ quick: true, suiteFiles: [file], log: () => undefined });
  validateRecord(rec, 'runner output');
  expect(rec.quick).toBe(true);
  expect(rec.results.map((r) => r.task)).toEqual(['sum quick', 'throws']);
  const [ok, bad] = rec.results;
  expect(ok.samples).toBe(3);
  expect(ok.minMs!).toBeLessThanOrEqual(ok.medianMs!);
  expect(ok.medianMs!).toBeLessThanOrEqual(ok.maxMs!);
  expect(ok.throughput!.perSecond).toBeCloseTo(1000 / (ok.medianMs! / 1000), 6);
  expect(ok.info).toEqual({ n: 1000 });
  expect(bad.error).toMatch(/kaput/);
  expect(bad.medianMs).toBeUndefined();
});

test('--filter selects by "suite/task" substring; a filter matching nothing is a ParameterError', async () => {
  const rec = await runBenchmarks({ quick: false, filter: 'TINY/SUM', suiteFiles: [file], log: () => undefined });
  expect(rec.results.map((r) => r.task)).toEqual(['sum full']);
  expect(rec.filter).toBe('TINY/SUM');
  await expect(runBenchmarks({ quick: true, filter: 'other/x', suiteFiles: [file], log: () => undefined })).rejects.toThrow(ParameterError);
});
