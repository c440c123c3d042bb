import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { EngineError } from '../src/engines/errors.ts';
import { IpiPotential } from '../src/engines/ipi/engine.ts';
import { buildNeighbourList } from '../src/lattice/neighbours.ts';
import { evaluate, hessianVector } from '../src/potentials/evaluate.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { relax } from '../src/relax/relax.ts';
import { ballDomain } from '../src/lattice/domain.ts';
import { makeLattice } from '../src/lattice/lattice.ts';
import { Rng } from '../src/util/rng.ts';
import type { Fault, FakeClientOptions } from './ipi-fake-client.ts';
import { relDiff, socketDir, testStructure, type RefName } from './ipi-support.ts';

/**
 * The synchronous engine (IpiPotential) with the fake client launched as a separate process, the way LAMMPS is
 * launched: evaluate() blocks this thread while the worker talks to the client, so the client cannot live here.
 */
const SEED = 88;
const sockets = socketDir();
afterAll(() => sockets.cleanup());

const req = createRequire(import.meta.url);
const tsxPkg = req.resolve('tsx/package.json');
const TSX = pathToFileURL(tsxPkg.replace(/package\.json$/, 'dist/esm/index.mjs')).href;
const CLIENT = fileURLToPath(new URL('./ipi-fake-client.ts', import.meta.url));

function engine(o: {
  name: RefName;
  units: { bohr: number; hartree: number };
  unix?: boolean;
  fault?: Fault;
  faultAfter?: number;
  responseTimeoutMs?: number;
  acceptTimeoutMs?: number;
  command?: string;
  args?: string[];
}): IpiPotential {
  const pot = makePotential(o.name);
  const opts: Omit<FakeClientOptions, 'address'> = {
    potential: o.name,
    bohr: o.units.bohr,
    hartree: o.units.hartree,
    dim: o.name === 'morse-2d' ? 2 : 3,
    fault: o.fault,
    faultAfter: o.faultAfter,
  };
  // {port} / {unix} are substituted by the worker once it listens.
  const address = o.unix ? '{"path":"{unix}"}' : '{"host":"127.0.0.1","port":{port}}';
  const json = JSON.stringify(opts).replace(/^\{/, `{"address":${address},`);
  return new IpiPotential({
    units: o.units,
    cutoff: pot.cutoff,
    server: {
      ...(o.unix ? { unixPath: join(sockets.dir, `e${Math.random().toString(36).slice(2, 10)}`) } : {}),
      acceptTimeoutMs: o.acceptTimeoutMs ?? 20_000,
      responseTimeoutMs: o.responseTimeoutMs ?? 20_000,
    },
    launch: { command: o.command ?? process.execPath, args: o.args ?? ['--import', TSX, CLIENT, json] },
  });
}

describe('IpiPotential: a synchronous SitePotential over the socket', () => {
  test('evaluate and hessianVector agree with the reference potential; close() sends EXIT and cleans up', async () => {
    for (const [name, unix] of [['morse-2d', true], ['eam-fcc', false]] as const) {
      const ref = makePotential(name);
      const units = { bohr: 0.37, hartree: 3.1 };
      const eng = engine({ name, units, unix });
      try {
        for (const boundary of ['periodic', 'ball'] as const) {
          const s = testStructure(name, boundary, SEED, 0.08);
          const nl = buildNeighbourList(s, ref.cutoff);
          const got = eng.evaluate(s, nl);
          const want = evaluate(ref, s);
          expect(Math.abs(got.energy - want.energy) / Math.abs(want.energy)).toBeLessThan(1e-12);
          expect(relDiff(got.forces, want.forces)).toBeLessThan(1e-12);
          expect(relDiff(got.virial, want.virial)).toBeLessThan(1e-12);
          expect(got.siteEnergies).toBeUndefined();
          const rng = new Rng(SEED);
          const v = Float64Array.from({ length: s.positions.length }, () => rng.normal());
          const hv = eng.hessianVector(s, nl, v);
          const hvRef = hessianVector(ref, s, v);
          const err = relDiff(hv, hvRef);
          console.log(`${name} ${boundary}: HVP finite-difference (Richardson) relative error ${err.toExponential(2)}`);
          expect(err).toBeLessThan(1e-6);
        }
        expect(eng.describe()).toMatchObject({ kind: 'ipi', siteEnergies: false });
      } finally {
        await eng.dispose();
      }
      expect(eng.clientExit).toEqual({ code: 0, signal: null }); // the client got EXIT and left cleanly
      if (eng.address.kind === 'unix') expect(existsSync(eng.address.path)).toBe(false);
      expect(() => eng.evaluate(testStructure(name, 'periodic', 1, 0), undefined as never)).toThrow(EngineError);
    }
  });

  test('relax() from src/relax runs on the engine (2D vacancy, clamped ball) and matches the direct relaxation', async () => {
    const ref = makePotential('morse-2d');
    const dom = ballDomain(makeLattice('triangular', 1), 'vacancy', 2.5, ref.cutoff);
    const eng = engine({ name: 'morse-2d', units: { bohr: 1, hartree: 1 } });
    try {
      const a = relax(eng, dom.structure, dom.free, { tol: 1e-8 });
      const b = relax(ref, dom.structure, dom.free, { tol: 1e-8 });
      const dx = relDiff(a.structure.positions, b.structure.positions);
      console.log(`relax through i-PI: ${eng.evaluations} socket evaluations, energy ${a.energy} vs ${b.energy}, max position difference ${dx.toExponential(2)}`);
      expect(a.maxForce).toBeLessThanOrEqual(1e-8);
      expect(Math.abs(a.energy - b.energy)).toBeLessThan(1e-9 * Math.abs(b.energy));
      expect(dx).toBeLessThan(1e-7);
    } finally {
      await eng.dispose();
    }
  });

  test('faults through the sync engine: typed error, bounded time, engine closed afterwards', async () => {
    const s = testStructure('morse-2d', 'periodic', 3, 0.05);
    const cases: { fault?: Fault; faultAfter?: number; expect: string; command?: string; args?: string[]; responseTimeoutMs?: number }[] = [
      { fault: { kind: 'disconnect', byte: 30 }, faultAfter: 1, expect: 'client-exited' },
      { fault: { kind: 'stall', header: 1 }, expect: 'timeout', responseTimeoutMs: 1000 },
      { fault: { kind: 'nan', what: 'force', index: 5, value: 'nan' }, expect: 'non-finite' },
      { fault: { kind: 'wrong-natoms', delta: 1 }, expect: 'bad-size' },
      { command: process.execPath, args: ['-e', 'process.exit(7)'], expect: 'client-exited' },
      { command: '/nonexistent/engine-binary', args: [], expect: 'client-exited' },
    ];
    for (const c of cases) {
      const eng = engine({ name: 'morse-2d', units: { bohr: 1, hartree: 1 }, ...c });
      let err: unknown = null;
      try {
        for (let k = 0; k < 3; k++) eng.evaluate({ ...s, positions: s.positions.map((x) => x + k * 1e-3) }, undefined as never);
      } catch (e) {
        err = e;
      }
      // A hang (a fault not surfaced) ends at the test's own timeout; no wall-clock assertion here (speed is benchmarks').
      expect(err, JSON.stringify(c)).toBeInstanceOf(EngineError);
      expect((err as EngineError).kind, `${JSON.stringify(c)}: ${(err as Error).message}`).toBe(c.expect);
      expect(() => eng.evaluate(s, undefined as never)).toThrow(/stopped after an earlier fault/);
      await eng.dispose();
    }
  });

  test('listen failures surface synchronously as EngineError', () => {
    expect(() => new IpiPotential({ units: 'atomic', cutoff: 1, server: { host: '0.0.0.0' } })).toThrow(/non-loopback/);
    expect(() => new IpiPotential({ units: 'nope', cutoff: 1 })).toThrow(EngineError);
  });
});
