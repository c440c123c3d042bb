/**
 * The report's worker pool (src/report/pool.ts, src/report/run.ts --jobs): a pooled run of a small configuration gives
 * the same report as a serial one apart from its times (a whole study on a worker, and a study whose points run as
 * separate tasks on both workers); a point that fails in a worker surfaces as the same typed error with the same
 * message as in a serial run; typed errors keep their class, code, message and fields across the thread boundary;
 * and close() leaves no worker running.
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../src/engines/errors.ts';
import { resolveConfig } from '../src/report/config.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { reportJson, type Report } from '../src/report/model.ts';
import { deserialiseError, serialiseError, StudyPool } from '../src/report/pool.ts';
import { runReport } from '../src/report/run.ts';
import { ConvergenceError, GeometryError, MlipVerifyError, ParseError } from '../src/util/errors.ts';

// A P1 study that runs whole on a worker; a training-size study whose 3 points and floor are pool tasks (E+F: the
// E-only MLIPs take hundreds of iterations, too slow for a test of the runner); and the same study with a smallest
// R_dom whose periodic cell is narrower than twice the cutoff: that point throws in whichever thread runs it.
const SMALL = {
  title: 'pool',
  studies: [
    { study: 'domain', options: { sizes: [3, 4, 5], refSize: 10, checkRefSize: 5, preAsymptoticRadius: 0 } },
    { study: 'training-size', options: { sizes: [7, 8, 9], refSize: 10, observationSets: ['E+F'], basisLevel: 1 } },
    { study: 'training-size', options: { sizes: [6, 7, 8], refSize: 10, observationSets: ['E+F'], basisLevel: 1 } },
  ],
};

/** report.json without its times (and the creation time), as the determinism test of report-run does. */
const timeless = (r: Report) => JSON.parse(reportJson(r), (k, v) => (/wallTime|Seconds$|createdAt/.test(k) ? undefined : v));

describe('report worker pool', () => {
  it('pooled and serial runs give the same report apart from times; a failing point surfaces its typed error', async () => {
    const cfg = await resolveConfig(SMALL, 'pool', 'quick');
    const serial = await runReport(cfg, { jobs: 1 });
    const pooled = await runReport(cfg, { jobs: 2 });
    expect(serial.studies.map((s) => s.error?.name)).toEqual([undefined, undefined, 'GeometryError']);
    expect(serial.studies[2].error?.message).toMatch(/periodic cell too small/);
    expect(pooled.studies[1].results.map((r) => r.points.length)).toEqual([3]);
    expect(timeless(pooled)).toEqual(timeless(serial));
    expect(renderMarkdown(pooled)).toBe(renderMarkdown(serial));
    expect(pooled.status).toBe('fail');
  });

  it('a task that throws in a worker rejects with the same class and message; close() stops every worker', async () => {
    const pool = new StudyPool(2);
    const cfg = await resolveConfig(SMALL, 'pool', 'quick');
    const options = cfg.studies[2].options;
    const err = await pool.run<never>({ kind: 'task', study: 'training-size', mode: 'quick', options, task: { set: 'E+F', rDom: 6 } }).catch((e: unknown) => e as MlipVerifyError);
    expect(err).toBeInstanceOf(GeometryError);
    expect(err.code).toBe('GEOMETRY');
    expect(err.message).toMatch(/periodic cell too small: perpendicular width [0-9.]+ along cell vector 0 is below twice the cutoff/);
    // An unknown task shape is a bug (TypeError), not a typed error: it comes back as a plain Error, not recorded.
    const bug = await pool.run({ kind: 'task', study: 'training-size', mode: 'quick', options, task: null }).catch((e) => e);
    expect(bug).toBeInstanceOf(Error);
    expect(bug).not.toBeInstanceOf(MlipVerifyError);
    // The pool still serves after both.
    const ok = (await pool.run({ kind: 'task', study: 'training-size', mode: 'quick', options, task: { set: 'E+F', rDom: 7 } })) as { errors: Record<string, number> };
    expect(ok.errors.energyNorm).toBeGreaterThan(0);
    await pool.close();
    expect(pool.running()).toBe(0);
    await expect(pool.run({ kind: 'study', study: 'domain', mode: 'quick', options: {} })).rejects.toThrow(/closed/);
  });

  it('typed errors round-trip as data with their class, code, message and fields', () => {
    const cases: MlipVerifyError[] = [
      new ConvergenceError('auto relaxation did not converge', { maxForce: 1e-3, stages: [{ solver: 'fire', iterations: 3 }] }),
      new ParseError('bad number', 7, 'x.eam'),
      new EngineError('timeout', 'no client within 2 s', { addr: 'unix:/tmp/x' }),
      new GeometryError('overlap', { fn: () => 1 } as unknown as Record<string, unknown>),
    ];
    for (const e of cases) {
      const back = deserialiseError(structuredClone(serialiseError(e))) as MlipVerifyError;
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.name).toBe(e.name);
      expect(back.message).toBe(e.message);
      expect(back.code).toBe(e.code);
      expect(back.details).toEqual(JSON.parse(JSON.stringify(e.details)));
    }
    const p = deserialiseError(serialiseError(cases[1])) as ParseError;
    expect([p.line, p.file]).toEqual([7, 'x.eam']);
    expect((deserialiseError(serialiseError(cases[2])) as EngineError).kind).toBe('timeout');
  });
});
