import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { compareRecords, compareSpread, formatComparison, type Spread } from '../src/bench/compare.ts';
import { appendRecord, appendRun, CROSSCHECK_FILTER, provenance, singleShot, parseHistory, readHistory, selectBaseline, type BenchRecord, type BenchResult } from '../src/bench/history.ts';
import { historySvg, writeBenchPage } from '../src/bench/page.ts';
import { main } from '../src/cli/main.ts';
import { ParameterError, ParseError } from '../src/util/errors.ts';

/**
 * The benchmark comparison is a pure function of recorded numbers, so it is tested on generated spreads, never on
 * timings: the regression rule (median slower than the threshold AND outside the old min-max spread), its mirror
 * image for improvements, scale invariance, and the history plumbing (schema-validated records, baselines, the page,
 * and `mlip-verify bench --last --ci` exit status).
 */
const FC = { seed: 7401, numRuns: 300 };
const time = fc.double({ min: 1e-3, max: 1e5, noNaN: true, noDefaultInfinity: true });
const spreadArb: fc.Arbitrary<Spread> = fc.tuple(time, time, time).map(([a, b, c]) => {
  const [min, median, max] = [a, b, c].sort((x, y) => x - y);
  return { min, median, max };
});
const thresholdArb = fc.double({ min: 0, max: 1, noNaN: true });

const inv = (s: Spread): Spread => ({ min: 1 / s.max, median: 1 / s.median, max: 1 / s.min });
const scale = (s: Spread, k: number): Spread => ({ min: k * s.min, median: k * s.median, max: k * s.max });

describe('compareSpread', () => {
  test('never flags a regression when the new median is inside the old min-max spread', () => {
    fc.assert(
      fc.property(spreadArb, fc.double({ min: 0, max: 1, noNaN: true }), thresholdArb, (b, u, t) => {
        const median = b.min + u * (b.max - b.min);
        const cur = { min: median, median, max: median };
        expect(compareSpread(b, cur, t)).not.toBe('regression');
        expect(compareSpread(b, cur, t)).not.toBe('improvement');
      }),
      FC,
    );
  });

  test('always flags when the new median is above the threshold and above the old max', () => {
    fc.assert(
      fc.property(spreadArb, thresholdArb, fc.double({ min: 1.0001, max: 100, noNaN: true }), (b, t, f) => {
        const median = f * Math.max(b.max, b.median * (1 + t));
        expect(compareSpread(b, { min: median, median, max: 2 * median }, t)).toBe('regression');
      }),
      FC,
    );
  });

  test('never flags when the new median is within the threshold, however narrow the old spread', () => {
    fc.assert(
      fc.property(spreadArb, thresholdArb, fc.double({ min: 0, max: 1, noNaN: true }), (b, t, u) => {
        const median = b.median * (1 + u * t);
        expect(compareSpread(b, { min: median / 2, median, max: median }, t)).not.toBe('regression');
      }),
      FC,
    );
  });

  test('exactly the documented rule, on arbitrary pairs of spreads', () => {
    fc.assert(
      fc.property(spreadArb, spreadArb, thresholdArb, (b, c, t) => {
        const v = compareSpread(b, c, t);
        expect(v === 'regression').toBe(c.median > b.median * (1 + t) && c.median > b.max);
        expect(v === 'improvement').toBe(c.median < b.median / (1 + t) && c.median < b.min);
      }),
      FC,
    );
  });

  test('symmetric: slower in time <=> faster in throughput (1/time), and unit-free (scale invariant)', () => {
    fc.assert(
      fc.property(spreadArb, spreadArb, thresholdArb, fc.constantFrom(1e-3, 0.5, 2, 1024, 1e3), (b, c, t, k) => {
        const v = compareSpread(b, c, t);
        const mirror = compareSpread(inv(b), inv(c), t);
        expect(mirror).toBe(v === 'regression' ? 'improvement' : v === 'improvement' ? 'regression' : 'unchanged');
        expect(compareSpread(scale(b, k), scale(c, k), t)).toBe(v);
      }),
      FC,
    );
  });

  test('identical runs are unchanged; bad spreads and thresholds are typed errors', () => {
    fc.assert(
      fc.property(spreadArb, thresholdArb, (b, t) => {
        expect(compareSpread(b, b, t)).toBe('unchanged');
      }),
      FC,
    );
    const ok = { min: 1, median: 2, max: 3 };
    expect(() => compareSpread({ min: 3, median: 2, max: 1 }, ok)).toThrow(ParameterError);
    expect(() => compareSpread(ok, { min: 0, median: 0, max: 0 })).toThrow(ParameterError);
    expect(() => compareSpread(ok, { min: 1, median: NaN, max: 3 })).toThrow(ParameterError);
    expect(() => compareSpread(ok, ok, -0.1)).toThrow(/threshold/);
  });
});

function record(results: BenchResult[], over: Partial<BenchRecord> = {}): BenchRecord {
  return {
    schemaVersion: 1,
    timestamp: '2026-11-25T12:00:00.000Z',
    commit: 'a'.repeat(40),
    dirty: false,
    node: 'v20.0.0',
    platform: 'linux-x64',
    cpu: { model: 'test cpu', count: 2 },
    quick: false,
    filter: null,
    wallTimeSeconds: 1,
    results,
    ...over,
  };
}
const timed = (task: string, s: Spread): BenchResult => ({ suite: 's', task, medianMs: s.median, minMs: s.min, maxMs: s.max, samples: 5 });

describe('compareRecords', () => {
  test('regressions counted per benchmark; new, missing and errored benchmarks are never regressions', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(spreadArb, spreadArb), { minLength: 1, maxLength: 8 }), thresholdArb, (pairs, t) => {
        const base = record([...pairs.map(([b], i) => timed(`t${i}`, b)), timed('gone', { min: 1, median: 1, max: 1 })]);
        const cur = record([...pairs.map(([, c], i) => timed(`t${i}`, c)), timed('fresh', { min: 1, median: 1, max: 1 }), { suite: 's', task: 'broken', error: 'boom' }]);
        const cmp = compareRecords(base, cur, t);
        const expected = pairs.filter(([b, c]) => compareSpread(b, c, t) === 'regression').length;
        expect(cmp.regressions).toBe(expected);
        const by = new Map(cmp.rows.map((r) => [r.key, r.verdict]));
        expect(by.get('s/gone')).toBe('missing');
        expect(by.get('s/fresh')).toBe('new');
        expect(by.get('s/broken')).toBe('error');
        expect(formatComparison(cmp).split('\n').filter((l) => l.includes('REGRESSION')).length).toBe(expected);
      }),
      { seed: 7402, numRuns: 100 },
    );
  });

  test('a filtered run does not report the benchmarks it left out as missing', () => {
    const base = record([timed('a', { min: 1, median: 1, max: 1 }), timed('b', { min: 1, median: 1, max: 1 })]);
    const cur = record([timed('a', { min: 1, median: 1, max: 1 })], { filter: 'a' });
    expect(compareRecords(base, cur).rows.map((r) => r.verdict)).toEqual(['unchanged']);
  });
});

describe('history, baselines and page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('records are schema-validated on append and read back unchanged; invalid ones are refused', () => {
    const path = join(dir, 'h1', 'history.jsonl');
    const r1 = record([timed('a', { min: 1, median: 2, max: 3 }), { suite: 's', task: 'x', error: 'failed' }]);
    const r2 = record([timed('a', { min: 1, median: 2.5, max: 3 })], { quick: true, commit: 'b'.repeat(40) });
    appendRecord(path, r1);
    appendRecord(path, r2);
    expect(readHistory(path)).toEqual([r1, r2]);
    expect(() => appendRecord(path, { ...r1, node: 'twenty' })).toThrow(ParameterError);
    expect(() => appendRecord(path, record([{ suite: 's', task: 'a', medianMs: 1 }]))).toThrow(/oneOf|must have required property/);
    expect(() => appendRecord(path, record([{ ...timed('a', { min: 1, median: 1, max: 1 }), error: 'both' }]))).toThrow(ParameterError);
    expect(readHistory(path)).toHaveLength(2);
    expect(readHistory(join(dir, 'nothing.jsonl'))).toEqual([]);
  });

  test('a script-driven run (appendRun + singleShot) is a valid record: start time, filter, load at the start, samples 1', () => {
    const path = join(dir, 'h-run', 'history.jsonl');
    const runStart = new Date(Date.now() - 1500);
    const prov = provenance();
    appendRun(path, { runStart, prov, quick: true, filter: 'memory', results: [singleShot('memory', 'relax 10 atoms peak RSS', 12.5, { peakRssBytes: 1 })] });
    const [rec] = readHistory(path);
    expect(rec.timestamp).toBe(runStart.toISOString());
    expect(rec.filter).toBe('memory');
    expect(rec.loadAverage).toBe(prov.loadAverage);
    expect(rec.wallTimeSeconds).toBeGreaterThanOrEqual(1.5);
    expect(rec.results).toEqual([{ suite: 'memory', task: 'relax 10 atoms peak RSS', medianMs: 12.5, minMs: 12.5, maxMs: 12.5, samples: 1, info: { peakRssBytes: 1 } }]);
    expect(() => appendRun(path, { runStart, prov, quick: true, filter: 'memory', results: [singleShot('memory', 'bad', Number.NaN)] })).toThrow(ParameterError);
  });

  test('a corrupt history line is a ParseError naming the line', () => {
    const good = JSON.stringify(record([]));
    expect(() => parseHistory(`${good}\n{"schemaVersion":1`, 'h.jsonl')).toThrow(ParseError);
    try {
      parseHistory(`${good}\n\n${JSON.stringify({ ...record([]), cpu: { model: 'x', count: 0 } })}\n`, 'h.jsonl');
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).line).toBe(3);
    }
  });

  test('baseline selection: same mode by default, index (negative from the end), commit prefix', () => {
    const h = [
      record([], { commit: '1'.repeat(40), quick: false }),
      record([], { commit: 'abcdef'.padEnd(40, '0'), quick: true }),
      record([], { commit: '2'.repeat(40), quick: false }),
    ];
    expect(selectBaseline(h, false)).toBe(h[2]);
    expect(selectBaseline(h, true)).toBe(h[1]);
    expect(selectBaseline([], true)).toBeNull();
    expect(selectBaseline(h, false, '0')).toBe(h[0]);
    expect(selectBaseline(h, false, '-2')).toBe(h[1]);
    expect(selectBaseline(h, false, 'ABCDEF')).toBe(h[1]);
    expect(() => selectBaseline(h, false, '3')).toThrow(ParameterError);
    expect(() => selectBaseline(h, false, 'fedcba')).toThrow(/no record/);
    expect(() => selectBaseline(h, false, 'HEAD~1')).toThrow(ParameterError);
    // a LAMMPS cross-check record (its own tasks) is never the default baseline of a suite run
    const x = [...h, record([], { commit: '3'.repeat(40), quick: false, filter: CROSSCHECK_FILTER })];
    expect(selectBaseline(x, false)).toBe(h[2]);
    expect(selectBaseline(x, false, '-1')).toBe(x[3]);
  });

  test('history plot: one marker and one spread bar per run, values escaped', () => {
    fc.assert(
      fc.property(fc.array(spreadArb, { minLength: 1, maxLength: 30 }), (pts) => {
        const svg = historySvg('a <b> & "c"', pts.map((p, i) => ({ label: `r${i}`, ...p })));
        expect(svg.startsWith('<svg')).toBe(true);
        expect(svg.match(/<circle /g)).toHaveLength(pts.length);
        expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
        expect(svg).not.toMatch(/NaN|Infinity/);
      }),
      { seed: 7403, numRuns: 50 },
    );
  });

  test('`mlip-verify bench --last`: compares the latest record, writes the page, exits 1 on a regression only with --ci', async () => {
    const d = join(dir, 'cli');
    const base = record([timed('kernel', { min: 9, median: 10, max: 11 })], { timestamp: '2026-11-25T10:00:00Z' });
    appendRecord(join(d, 'history.jsonl'), base);
    appendRecord(join(d, 'history.jsonl'), record([timed('kernel', { min: 13, median: 14, max: 15 })], { timestamp: '2026-11-25T11:00:00Z' }));
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    try {
      expect(await main(['bench', '--last', '--dir', d])).toBe(0);
      expect(await main(['bench', '--last', '--dir', d, '--ci'])).toBe(1);
      expect(await main(['bench', '--last', '--dir', d, '--ci', '--threshold', '0.5'])).toBe(0);
      expect(await main(['bench', '--last', '--dir', d, '--ci', '--threshold', 'x'])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('\n')).toMatch(/s\/kernel .* 1\.400 +REGRESSION/);
    expect(readFileSync(join(d, 'README.md'), 'utf8')).toContain('![s/kernel](svg/s-kernel.svg)');
    expect(readdirSync(join(d, 'svg'))).toEqual(['s-kernel.svg']);
    writeFileSync(join(d, 'history.jsonl'), 'not json\n');
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['bench', '--last', '--dir', d])).toBe(1);
      expect(String(err.mock.calls[0][0])).toMatch(/ParseError: .*history\.jsonl:line 1/);
    } finally {
      err.mockRestore();
    }
  });
});
