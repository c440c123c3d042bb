import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runFakeClient } from './ipi-fake-client.ts';
import { within } from './ipi-support.ts';

/**
 * End to end: `mlip-verify check --engine ipi:127.0.0.1:0` waits for an i-PI client, prints where, and runs the
 * checks on whatever connects. The client here is the fake client computing eam-fcc, so the checks must pass the
 * way they pass on eam-fcc itself (the hessian-based ones at the accuracy of finite differences, see engine.ts).
 */
const CLI = fileURLToPath(new URL('../bin/mlip-verify.mjs', import.meta.url));

describe('mlip-verify check --engine ipi:...', () => {
  test('listens on loopback, reports each check with worst case and seed, exits with the verdict', async () => {
    const p = spawn(
      process.execPath,
      [CLI, 'check', '--engine', 'ipi:127.0.0.1:0', '--cutoff', '2.1', '--units', 'atomic', '--lattice', 'fcc', '--r0', '1',
        '--only', 'forces,virial,invariance,locality,cutoff-smoothness', '--cases', '1', '--seed', '7', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    const port = await within(
      new Promise<number>((resolve) => {
        p.stderr.on('data', (d) => {
          err += d;
          const m = /waiting for an i-PI client on 127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
      }),
      20_000,
      'the CLI to listen',
    );
    const client = runFakeClient({ address: { host: '127.0.0.1', port }, potential: 'eam-fcc', bohr: 1, hartree: 1, dim: 3 });
    const code = await within(new Promise<number | null>((r) => p.on('close', r)), 50_000, 'the CLI to finish');
    const end = await within(client.done, 5000, 'client');
    expect(end.gotExit).toBe(true);
    const report = JSON.parse(out) as { results: Array<{ name: string; status: string; worst: number; worstCase: { seed: number } }> };
    const by = Object.fromEntries(report.results.map((r) => [r.name, r]));
    console.log(report.results.map((r) => `${r.name}: ${r.status} worst ${r.worst} seed ${r.worstCase.seed}`).join('\n'));
    expect(by.forces.status).toBe('pass');
    expect(by.virial.status).toBe('pass');
    expect(by.invariance.status).toBe('pass');
    expect(by['cutoff-smoothness'].status).toBe('pass');
    expect(by.locality.status).toBe('skip'); // no site energies over i-PI
    expect(code).toBe(0);
  });

  test('--components must be a positive integer: 0, 2.5 and x are refused with the flag named, before any check runs', () => {
    for (const bad of ['0', '2.5', 'x']) {
      const r = spawnSync(process.execPath, [CLI, 'check', '--potential', 'lj-2d', '--only', 'forces', '--components', bad], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/ParameterError: --components must be a (positive integer|number)/);
      expect(r.stdout).toBe('');
    }
  });
});
