import { spawn } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { AsePotential } from '../src/engines/ase/engine.ts';
import { EngineError, type EngineFailure } from '../src/engines/errors.ts';
import { resolveEngine } from '../src/engines/resolve.ts';
import { CALCS, fccCell, gone, PY, WHY_SKIP } from './engine-ase-support.ts';
import { socketDir } from './ipi-support.ts';

/**
 * Every way an ASE engine can fail ends in a typed EngineError naming the problem, and the Python process is gone
 * afterwards: at startup (no Python, no ASE, no module, no callable, a factory that raises) and mid-run (the
 * calculator raises, returns NaN or the wrong shape, hangs, or its process dies), and when our own process exits
 * without closing the engine or is killed. The faulty calculators are in engine-ase-calcs.py.
 */
if (WHY_SKIP) console.warn(`[engine-ase-faults] SKIPPED: ${WHY_SKIP}`);
const req = createRequire(import.meta.url);
const TSX = pathToFileURL(req.resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/index.mjs')).href;
const tmp = socketDir();
afterAll(() => tmp.cleanup());

function startupError(f: () => unknown): EngineError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected an EngineError');
}

describe('startup faults: typed errors before any socket', () => {
  test('Python missing: python-missing, naming the interpreter', () => {
    const e = startupError(() => new AsePotential({ calc: 'ase.calculators.emt:EMT', python: '/nonexistent/bin/python3' }));
    expect(e.kind).toBe('python-missing');
    expect(e.message).toContain('/nonexistent/bin/python3');
  });

  test.skipIf(!!WHY_SKIP)('ASE missing: ase-missing, naming the interpreter and how to install ASE', () => {
    // A real interpreter in which `import ase` fails (sys.modules['ase'] = None is Python's own way to block it).
    const py = join(tmp.dir, 'python-without-ase');
    writeFileSync(
      py,
      `#!/bin/sh\nexec ${PY} -c 'import sys, runpy; sys.modules["ase"] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' "$@"\n`,
    );
    chmodSync(py, 0o755);
    const e = startupError(() => new AsePotential({ calc: 'ase.calculators.emt:EMT', python: py }));
    expect(e.kind).toBe('ase-missing');
    expect(e.message).toMatch(/ASE cannot be imported/);
    expect(e.message).toMatch(/install-ase\.sh/);
  });

  const cases: [string, string, EngineFailure, RegExp][] = [
    ['module not found', 'ase.calculators.no_such_module:EMT', 'calculator-not-found', /module 'ase\.calculators\.no_such_module' not found/],
    ['callable not found', 'ase.calculators.emt:NoSuchCalculator', 'calculator-not-found', /has no attribute 'NoSuchCalculator'/],
    ['not an ASE calculator', 'math:sqrt', 'calculator-error', /sqrt/],
    ['factory raises', `${CALCS}:broken_factory`, 'calculator-error', /simulated: model file missing/],
  ];
  for (const [what, calc, kind, msg] of cases) {
    test.skipIf(!!WHY_SKIP)(`${what}: ${kind}`, () => {
      const e = startupError(() => new AsePotential({ calc, python: PY! }));
      expect(e.kind).toBe(kind);
      expect(e.message).toMatch(msg);
    });
  }

  test.skipIf(!!WHY_SKIP)('bad --engine specs and arguments: config errors', () => {
    expect(startupError(() => resolveEngine('ase:EMT')).kind).toBe('config');
    expect(startupError(() => resolveEngine('ase:ase.calculators.emt:EMT', { engineArgs: '{not json' })).kind).toBe('config');
    expect(startupError(() => resolveEngine('ase:ase.calculators.emt:EMT', { engineArgs: '[1, 2]' })).kind).toBe('config');
    // a calculator that does not say its cutoff needs --cutoff
    const e = startupError(() => new AsePotential({ calc: `${CALCS}:boundary`, python: PY! }));
    expect(e.kind).toBe('config');
    expect(e.message).toMatch(/--cutoff/);
  });
});

describe.skipIf(!!WHY_SKIP)('mid-run faults: typed errors, and the Python process is gone after each', () => {
  const s = fccCell(2.55, 2, 1, 0.05); // 32 atoms: the faults strike above two atoms (the probe's dimer passes)
  const cases: [string, EngineFailure, RegExp][] = [
    ['raise', 'calculator-error', /ValueError.*simulated failure: model exploded at step 42/],
    ['nan', 'non-finite', /non-finite force on atom 16/],
    ['shape', 'bad-size', /forces of shape \(31, 3\) for 32 atoms/],
    ['hang', 'timeout', /within 1500 ms/],
    ['die', 'client-exited', /exit code 7/],
  ];
  for (const [mode, kind, msg] of cases) {
    test(`calculator mode '${mode}': ${kind}`, async () => {
      const pot = new AsePotential({ calc: `${CALCS}:fault`, args: { mode }, python: PY!, cutoff: 3, responseTimeoutMs: 1500 });
      const pid = pot.pid;
      expect(pid).toBeGreaterThan(0);
      let err: unknown;
      try {
        pot.evaluate(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind).toBe(kind);
      expect((err as EngineError).message).toMatch(msg);
      // later calls name the first fault
      expect(() => pot.evaluate(s)).toThrow(/stopped after an earlier fault/);
      await pot.dispose();
      expect(await gone(pid, 6000)).toBe(true);
    });
  }
});

describe.skipIf(!!WHY_SKIP)('the Python process never outlives us', () => {
  const script = (exit: string) => `
    import { AsePotential } from ${JSON.stringify(fileURLToPath(new URL('../src/engines/ase/engine.ts', import.meta.url)))};
    const pot = new AsePotential({ calc: 'ase.calculators.lj:LennardJones', python: ${JSON.stringify(PY)} });
    pot.evaluate({ dim: 3, positions: Float64Array.of(0, 0, 0, 1.1, 0, 0), cell: null });
    console.log('PID ' + pot.pid + ' DIR ' + (pot as unknown as { dir: string }).dir);
    ${exit}
  `;
  async function run(exit: string, killAfterPid: boolean): Promise<{ pid: number; dir: string }> {
    const file = join(tmp.dir, `exit-${Math.random().toString(36).slice(2)}.mts`);
    writeFileSync(file, script(exit));
    // node itself (not the tsx wrapper, which would leave its own node child behind when killed)
    const child = spawn(process.execPath, ['--import', TSX, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const got = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /PID (\d+) DIR (\S+)/.exec(out);
        if (m) resolve({ pid: Number(m[1]), dir: m[2] });
      });
      child.on('exit', () => setTimeout(() => reject(new Error(`child ended without a PID: ${out}`)), 100));
    });
    if (killAfterPid) child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
    return got;
  }

  test('process.exit() without close(): the exit hooks kill Python and remove the work directory', async () => {
    const { pid, dir } = await run('process.exit(0);', false);
    expect(await gone(pid, 3000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  test('our process SIGKILLed (no hook runs): Python sees its parent gone, removes the work directory and exits', async () => {
    const { pid, dir } = await run('setInterval(() => {}, 1000);', true);
    expect(await gone(pid, 5000)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });
});
