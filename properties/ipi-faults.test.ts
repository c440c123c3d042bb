import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EngineError, type EngineFailure } from '../src/engines/errors.ts';
import { embed } from '../src/engines/ipi/geometry.ts';
import { decodeHeader } from '../src/engines/ipi/protocol.ts';
import { IpiServer } from '../src/engines/ipi/server.ts';
import { unitSystem } from '../src/engines/ipi/units.ts';
import { makePotential } from '../src/potentials/defaults.ts';
import { runFakeClient, type Fault } from './ipi-fake-client.ts';
import { socketDir, testStructure, within, type RefName } from './ipi-support.ts';

const SEED = 8_2024;
const sockets = socketDir();
afterAll(() => sockets.cleanup());

/** Network handles alive in this process (servers, sockets, pipes): must return to the baseline after each case. */
function netHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => /TCP|Pipe/.test(r)).length;
}

const VALID = ['STATUS', 'READY', 'HAVEDATA', 'NEEDINIT', 'INIT', 'POSDATA', 'GETFORCE', 'FORCEREADY', 'EXIT'];
/** The header the server expects as our n-th: READY, HAVEDATA, FORCEREADY. */
const EXPECTED = ['READY', 'HAVEDATA', 'FORCEREADY'];

/** Reply bytes of one evaluation of n atoms: 3 headers, energy, natoms, forces, virial, extra length + 13 bytes. */
function replyBytes(n: number): number {
  return 36 + 8 + 4 + 24 * n + 72 + 4 + 13;
}

const faultArb = (n: number): fc.Arbitrary<{ fault: Fault; expect: EngineFailure }> =>
  fc.oneof(
    fc.integer({ min: 0, max: replyBytes(n) - 1 }).map((byte) => ({ fault: { kind: 'disconnect', byte } as Fault, expect: 'disconnected' as const })),
    fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.uint8Array({ minLength: 12, maxLength: 12 }))
      .filter(([, b]) => decodeHeader(Buffer.from(b)) === null)
      .map(([header, b]) => ({ fault: { kind: 'garbage-header', header, bytes: Array.from(b) } as Fault, expect: 'malformed-header' as const })),
    fc
      .tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom(...VALID))
      .filter(([h, w]) => w !== EXPECTED[h] && !(h === 0 && w === 'NEEDINIT'))
      .map(([header, w]) => ({
        fault: { kind: 'garbage-header', header, bytes: Array.from(Buffer.from(w.padEnd(12, ' '))) } as Fault,
        expect: 'unexpected-message' as const,
      })),
    fc
      .integer({ min: -3, max: 3 })
      .filter((d) => d !== 0)
      .map((delta) => ({ fault: { kind: 'wrong-natoms', delta } as Fault, expect: 'bad-size' as const })),
    fc
      .record({ what: fc.constantFrom<'energy' | 'force' | 'virial'>('energy', 'force', 'virial'), index: fc.nat(10_000), value: fc.constantFrom<'nan' | 'inf'>('nan', 'inf') })
      .map((r) => ({ fault: { kind: 'nan', ...r } as Fault, expect: 'non-finite' as const })),
    fc.integer({ min: 0, max: 2 }).map((header) => ({ fault: { kind: 'stall', header } as Fault, expect: 'timeout' as const })),
    fc.constant({ fault: { kind: 'wrong-status' } as Fault, expect: 'unexpected-message' as const }),
    fc.constant({ fault: { kind: 'huge-extra' } as Fault, expect: 'bad-size' as const }),
  );

describe('i-PI protocol faults always end in a typed EngineError, never hang, never leak', () => {
  const baseline = netHandles();

  test('random faults at random points (fast-check)', async () => {
    const seen = new Map<string, number>();
    const name: RefName = 'morse-2d';
    const pot = makePotential(name);
    const s = testStructure(name, 'periodic', 1, 0.05);
    const n = s.positions.length / s.dim;
    const units = unitSystem('atomic');
    await fc.assert(
      fc.asyncProperty(faultArb(n), fc.boolean(), fc.integer({ min: 0, max: 2 }), async (f, unix, okBefore) => {
        const server = await IpiServer.listen(
          unix ? { unixPath: join(sockets.dir, `f${Math.random().toString(36).slice(2, 10)}`), responseTimeoutMs: 1000 } : { responseTimeoutMs: 1000 },
        );
        const a = server.address;
        const client = runFakeClient({
          address: a.kind === 'unix' ? { path: a.path } : { host: a.host, port: a.port },
          potential: name,
          bohr: 1,
          hartree: 1,
          dim: 2,
          fault: f.fault,
          faultAfter: okBefore,
        });
        let err: unknown = null;
        try {
          const conn = await within(server.accept(2000), 4000, 'accept');
          const e = embed(s, units, { cutoff: pot.cutoff });
          // okBefore clean evaluations, then the faulty one: faults strike mid-run as well as at the start.
          for (let k = 0; k < okBefore; k++) await within(conn.compute(e.frame), 8000, 'clean compute');
          await within(conn.compute(e.frame), 8000, 'compute under fault');
        } catch (e) {
          err = e;
        } finally {
          await within(server.close(), 4000, 'server close');
        }
        await within(client.done, 4000, 'fake client to finish');
        expect(err).toBeInstanceOf(EngineError);
        const ee = err as EngineError;
        expect(ee.code).toBe('ENGINE');
        expect(ee.kind).toBe(f.expect);
        expect(ee.message.length).toBeGreaterThan(10);
        seen.set(ee.kind, (seen.get(ee.kind) ?? 0) + 1);
        expect(server.openSocketCount).toBe(0);
      }),
      { seed: SEED, numRuns: 60 },
    );
    console.log(`ipi faults (seed ${SEED}, 60 cases): ${JSON.stringify(Object.fromEntries(seen))}`);
    // let the sockets' close callbacks run, then no network handle may remain
    await new Promise((r) => setTimeout(r, 100));
    expect(netHandles()).toBe(baseline);
  });

  test('a fault ends the connection: later computes throw EngineError(closed), no socket traffic', async () => {
    const server = await IpiServer.listen({ responseTimeoutMs: 2000 });
    const a = server.address as { host: string; port: number };
    const client = runFakeClient({ address: a, potential: 'morse-2d', bohr: 1, hartree: 1, dim: 2, fault: { kind: 'nan', what: 'energy', index: 0, value: 'nan' } });
    const s = testStructure('morse-2d', 'periodic', 2, 0);
    const e = embed(s, unitSystem('atomic'), { cutoff: 2.5 });
    try {
      const conn = await within(server.accept(2000), 4000, 'accept');
      await expect(conn.compute(e.frame)).rejects.toMatchObject({ kind: 'non-finite' });
      await expect(conn.compute(e.frame)).rejects.toMatchObject({ kind: 'closed' });
    } finally {
      await server.close();
    }
    await within(client.done, 4000, 'client');
  });

  test('no client: accept times out with EngineError(timeout) naming the address', async () => {
    const server = await IpiServer.listen({});
    try {
      const p = server.accept(100);
      await expect(p).rejects.toBeInstanceOf(EngineError);
      await expect(p).rejects.toMatchObject({ kind: 'timeout' });
      await expect(p).rejects.toThrow(/127\.0\.0\.1:\d+/);
    } finally {
      await server.close();
    }
  });

  test('loopback only unless told otherwise; existing UNIX path refused; second client refused', async () => {
    await expect(IpiServer.listen({ host: '0.0.0.0' })).rejects.toMatchObject({ kind: 'listen' });
    await expect(IpiServer.listen({ host: '192.0.2.1' })).rejects.toThrow(/non-loopback/);
    const open = await IpiServer.listen({ host: '0.0.0.0', allowRemote: true });
    await open.close();
    const p = join(sockets.dir, 'exists');
    writeFileSync(p, '');
    await expect(IpiServer.listen({ unixPath: p })).rejects.toMatchObject({ kind: 'listen' });

    const server = await IpiServer.listen({ responseTimeoutMs: 2000 });
    const a = server.address as { host: string; port: number };
    const c1 = runFakeClient({ address: a, potential: 'morse-2d', bohr: 1, hartree: 1, dim: 2 });
    try {
      await within(server.accept(2000), 4000, 'accept');
      const c2 = runFakeClient({ address: a, potential: 'morse-2d', bohr: 1, hartree: 1, dim: 2 });
      await within(c2.done, 4000, 'second client refused');
      expect(server.refused).toBe(1);
    } finally {
      await server.close();
    }
    await within(c1.done, 4000, 'first client');
    await new Promise((r) => setTimeout(r, 50));
    expect(netHandles()).toBe(baseline);
  });
});
